#!/usr/bin/env python3
"""Memory of each rank with and without the sharded optimizer (ZeRO-1), docs/DISTRIBUTED.md.

Trains the shakespeare-size model for a few steps on 2 ranks (1 thread each) and samples every
rank's resident memory (VmRSS in /proc) every 20 ms during the steps between the second and
the last (start-up and the final checkpoint's copies excluded): the median and the largest.

    python3 scripts/zero_memory.py [--cllm .build/release/cllm] [--steps 12]
"""
import argparse, os, shutil, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = ["--n-layer", "6", "--n-head", "6", "--n-embd", "384", "--block-size", "256", "--batch-size", "8",
         "--warmup-steps", "2", "--eval-interval", "1000", "--eval-iters", "1", "--sample-tokens", "0", "--log-interval", "1",
         "--threads", "1", "-q"]


def ranks(out):
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"/cllm") and out.encode() in args:
            rank = next((e.split(b"=")[1] for e in env if e.startswith(b"OMPI_COMM_WORLD_RANK=")), None)
            if rank is not None:
                found[int(rank)] = pid
    return found


def status(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None


def measure(cllm, steps, extra):
    work = tempfile.mkdtemp(prefix="cllm-zero-")
    out = os.path.join(work, "run")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    p = subprocess.Popen(["mpirun", "--allow-run-as-root", "-np", "2", "--oversubscribe", "--mca", "btl", "self,vader",
                          "--mca", "btl_vader_single_copy_mechanism", "none", cllm, "train"] + MODEL
                         + ["--max-steps", str(steps), "--out", out] + extra, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = {}
    metrics = os.path.join(out, "metrics.jsonl")
    while p.poll() is None:
        done = sum(1 for _ in open(metrics)) if os.path.exists(metrics) else 0
        if 2 <= done < steps - 1:
            for rank, pid in ranks(out).items():
                r = status(pid, "VmRSS")
                if r:
                    samples.setdefault(rank, []).append(r)
        time.sleep(0.02)
    shutil.rmtree(work, ignore_errors=True)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cllm", default=os.path.join(ROOT, ".build/release/cllm"))
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    print("| optimizer | rank | median VmRSS during the steps | largest |")
    print("| --- | ---: | ---: | ---: |")
    for label, extra in [("replicated", []), ("sharded (ZeRO-1)", ["--shard-optimizer"])]:
        samples = measure(os.path.abspath(args.cllm), args.steps, extra)
        for rank in sorted(samples):
            s = samples[rank]
            print(f"| {label} | {rank} | {statistics.median(s) / 2**20:.0f} MiB | {max(s) / 2**20:.0f} MiB |")

if __name__ == "__main__":
    main()
