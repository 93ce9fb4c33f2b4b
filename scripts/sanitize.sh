#!/usr/bin/env bash
# The sanitizer runs: scripts/sanitize.sh  (CI runs it; ~10 minutes on 2 cores, most of it the build)
#
# 1. AddressSanitizer over the whole test suite (heap and stack overflows, use after free,
#    double free). Leak detection is off here: XCTest keeps its test objects to the end of the
#    process, which LeakSanitizer reports by the hundred.
# 2. LeakSanitizer over the commands as a user runs them: train (with a checkpoint interval and a
#    resume), generate, eval, export, models list, ingest, train --follow, and cllm-fuzz replaying every saved hostile
#    input, each built with --sanitize=address. scripts/lsan.supp lists the toolchain's own
#    false positives and says why each is one.
# (The thread sanitizer runs in .ci/run over the concurrent tests.)
# Any report fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-asan
log=$(mktemp)
ASAN_OPTIONS=detect_leaks=0 swift test -c release -Xswiftc -enable-testing --sanitize=address --scratch-path "$scratch" 2>&1 | tee "$log" \
    | grep -E "Executed [0-9]+ tests|error:|AddressSanitizer" || true
if grep -q "AddressSanitizer" "$log" || ! grep -qE "Executed [0-9]+ tests, with [0-9]+ tests? skipped and 0 failures|Executed [0-9]+ tests, with 0 failures" "$log"; then
    echo "address sanitizer: the test suite reported a problem (full log: $log)"; exit 1
fi
echo "address sanitizer: test suite clean"

bin=$scratch/release
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { echo "+ $*"; "$@" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; echo "leak check: '$*' failed"; exit 1; }; }
run "$bin/cllm" train --max-steps 12 --eval-interval 6 --eval-iters 2 --checkpoint-interval 4 --sample-tokens 20 -o "$work/m" -q
run "$bin/cllm" train --resume -o "$work/m" --max-steps 16 -q
run "$bin/cllm" generate -m "$work/m" -p "ROMEO:" -n 20 --stats
run "$bin/cllm" eval -m "$work/m" data/tinyshakespeare.txt -q
run "$bin/cllm" export -m "$work/m" -o "$work/m.gguf" --precision f16
run "$bin/cllm" models list --models-dir "$work"
run "$bin/cllm" models info -m "$work/m"
mkdir -p "$work/inbox-src" && cp Tests/CorpusTests/Pages/news.html Tests/CorpusTests/Pages/docs.txt "$work/inbox-src/"
run "$bin/cllm" ingest "$work/inbox-src" --out "$work/inbox"
run "$bin/cllm" train --resume -o "$work/m" --follow "$work/inbox" --round-steps 4 --eval-interval 2 --eval-iters 1 --until-idle -q
for dir in Tests/FuzzRegressions/*/; do
    run "$bin/cllm-fuzz" replay "$(basename "$dir")" "$dir"*
done
echo "leak sanitizer: every command clean"
