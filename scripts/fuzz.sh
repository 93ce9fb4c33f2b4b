#!/usr/bin/env bash
# Fuzz every parser for a given time each: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Uses libFuzzer (coverage-guided) when the toolchain can build it: `cllm-fuzz` is built with
# `--sanitize fuzzer -DLIBFUZZER` into .build-fuzz. Otherwise it uses cllm-fuzz's own seeded
# mutation runner (no coverage feedback). Each target starts from Tests/FuzzSeeds/<target> and
# keeps its growing corpus in fuzz-work/corpus/<target>; a crashing, hanging or memory-hungry
# input is written to fuzz-work/artifacts/ and stops that target. A summary line per target goes
# to stdout and to fuzz-work/summary.txt. Exit status: 0 when every target ran clean.
#
# A crash found once becomes a regression test: copy the input to
# Tests/FuzzRegressions/<target>/<what-it-is>, fix the bug, and `swift test` replays it forever.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
work=fuzz-work
mkdir -p "$work/artifacts" "$work/corpus"
# Summary lines are appended: a run of some targets adds to an earlier run of the others.

# The Swift runtime's own crash reporter would take the fatal signals before libFuzzer's, and
# the crashing input would not be saved.
export SWIFT_BACKTRACE=enable=no
libfuzzer=""
if swift build -c release --sanitize fuzzer -Xswiftc -DLIBFUZZER --product cllm-fuzz --scratch-path .build-fuzz >"$work/build.log" 2>&1; then
    libfuzzer=.build-fuzz/release/cllm-fuzz
    echo "libFuzzer build: $libfuzzer"
else
    echo "note: this toolchain cannot build a libFuzzer binary (see $work/build.log); using cllm-fuzz's own mutation runner"
    swift build -c release --product cllm-fuzz --scratch-path .build-fuzz-plain >/dev/null || exit 1
fi
runner=.build-fuzz-plain/release/cllm-fuzz
[ -n "$libfuzzer" ] && runner=$libfuzzer
if [ ${#targets[@]} -eq 0 ]; then
    # Both builds list their targets (the libFuzzer one when CLLM_FUZZ_TARGET=list).
    mapfile -t targets < <(CLLM_FUZZ_TARGET=list "$runner" list 2>/dev/null | awk '{print $1}')
fi

status=0
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    mkdir -p "$corpus"
    cp -n Tests/FuzzSeeds/"$t"/* "$corpus"/ 2>/dev/null
    log="$work/$t.log"
    start=$(date +%s)
    if [ -n "$libfuzzer" ]; then
        # -rss_limit_mb also caps single allocations (malloc_limit_mb defaults to it): a size
        # check that lets 4e9 through shows up as an out-of-memory crash.
        CLLM_FUZZ_TARGET=$t "$libfuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
            -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "$corpus" >"$log" 2>&1
        rc=$?
        runs=$(grep -Eo '^Done [0-9]+ runs' "$log" | awk '{print $2}')
        cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -Eo 'cov: [0-9]+ ft: [0-9]+' )
        corp=$(ls "$corpus" | wc -l)
        line="$t: ${runs:-?} executions in $(( $(date +%s) - start )) s, $cov, corpus $corp inputs, exit $rc"
    else
        "$runner" run "$t" --seconds "$seconds" --seeds Tests/FuzzSeeds --artifacts "$work/artifacts" >"$log" 2>&1
        rc=$?
        line="$(tail -1 "$log"), exit $rc"
    fi
    if [ $rc -ne 0 ]; then
        status=1
        line="$line  <-- FAILED: see $log and $work/artifacts/"
    fi
    echo "$line" | tee -a "$work/summary.txt"
done
exit $status
