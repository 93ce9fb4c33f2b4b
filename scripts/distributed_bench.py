#!/usr/bin/env python3
"""Step time of data-parallel training on this machine (docs/DISTRIBUTED.md).

Runs the shakespeare-size model (6 layers, 6 heads, 384 wide, block 256, batch 8, char
tokenizer on the bundled corpus) for a few steps of the same global batch (grad_accum 2) as:
one process with 2 threads, one with 1 thread, and two MPI ranks of 1 thread each over shared
memory and over TCP on loopback, with the gradient sums overlapped with the backward pass or
after it; with --netns, also two ranks in two network namespaces joined by a tc-limited veth
pair (scripts/netns_pair.sh; needs root). Prints a Markdown table of median step times.

    python3 scripts/distributed_bench.py [--steps 8] [--netns 1gbit] [--cllm .build/release/cllm]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile

MODEL = ["--n-layer", "6", "--n-head", "6", "--n-embd", "384", "--block-size", "256", "--batch-size", "8",
         "--grad-accum", "2", "--warmup-steps", "2", "--eval-interval", "1000", "--eval-iters", "1",
         "--sample-tokens", "0", "--log-interval", "1", "-q"]
SHM = ["--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none"]
TCP = ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def step_times(out_dir, skip):
    """Seconds per step (tokens per step / logged tokens per second), past the first `skip` steps."""
    times = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            times.append(2 * 8 * 256 / o["tokens_per_s"])
    return times[skip:]


def run(label, command, out_dir, skip, env):
    shutil.rmtree(out_dir, ignore_errors=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{label}: failed\n{done.stdout}\n{done.stderr}", file=sys.stderr)
        return None
    times = step_times(out_dir, skip)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cllm", default=os.path.join(ROOT, ".build/release/cllm"))
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--netns", help="also run two ranks in network namespaces over a veth limited to this rate (e.g. 1gbit)")
    args = ap.parse_args()
    cllm = os.path.abspath(args.cllm)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    work = tempfile.mkdtemp(prefix="cllm-dist-bench-")
    out = os.path.join(work, "run")
    train = [cllm, "train"] + MODEL + ["--max-steps", str(args.steps), "--out", out]
    mpirun = ["mpirun", "--allow-run-as-root", "-np", "2", "--oversubscribe"]
    skip = 2
    rows = [("1 process × 2 threads", train + ["--threads", "2"]),
            ("1 process × 1 thread", train + ["--threads", "1"])]
    for name, transport in [("shared memory", SHM), ("TCP loopback", TCP)]:
        rows.append((f"2 ranks × 1 thread, {name}, overlapped", mpirun + transport + train))
        rows.append((f"2 ranks × 1 thread, {name}, after backward", mpirun + transport + train + ["--no-overlap"]))
        rows.append((f"2 ranks × 1 thread, {name}, sharded optimizer (ZeRO-1)", mpirun + transport + train + ["--shard-optimizer"]))
    if args.netns:
        subprocess.run([os.path.join(ROOT, "scripts/netns_pair.sh"), "up", args.netns], check=True)
        agent = os.path.join(work, "agent.sh")
        with open(agent, "w") as f:
            f.write('#!/bin/sh\nhost="$1"; shift\ncase "$host" in 10.77.0.1) ns=cllm-ns0;; *) ns=cllm-ns1;; esac\n'
                    'exec ip netns exec "$ns" /bin/sh -c "$*"\n')
        os.chmod(agent, 0o755)
        hosts = os.path.join(work, "hosts")
        with open(hosts, "w") as f:
            f.write("10.77.0.1 slots=1\n10.77.0.2 slots=1\n")
        netns = ["ip", "netns", "exec", "cllm-ns0", "mpirun", "--allow-run-as-root", "--hostfile", hosts, "-np", "2",
                 "--mca", "plm_rsh_agent", agent, "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "10.77.0.0/24",
                 "--mca", "oob_tcp_if_include", "10.77.0.0/24", "-x", "OMPI_ALLOW_RUN_AS_ROOT", "-x", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"]
        # Each namespace looks like a machine of its own to mpirun, so each rank would take both
        # cores: one thread each, as the other rows.
        one = train + ["--threads", "1"]
        rows.append((f"2 ranks × 1 thread, veth at {args.netns}, overlapped", netns + one))
        rows.append((f"2 ranks × 1 thread, veth at {args.netns}, after backward", netns + one + ["--no-overlap"]))
        rows.append((f"2 ranks × 1 thread, veth at {args.netns}, overlapped, bf16 wire", netns + one + ["--gradient-wire", "bf16"]))
        rows.append((f"2 ranks × 1 thread, veth at {args.netns}, after backward, bf16 wire", netns + one + ["--no-overlap", "--gradient-wire", "bf16"]))
    results = []
    for label, command in rows:
        t = run(label, command, out, skip, env)
        results.append((label, t))
        print(f"{label}: {t:.3f} s/step" if t else f"{label}: failed", file=sys.stderr)
    if args.netns:
        subprocess.run([os.path.join(ROOT, "scripts/netns_pair.sh"), "down"])
    base = results[0][1]
    print(f"| configuration (global batch 2 × 8 × 256 = 4096 tokens) | median s/step | tokens/s | vs 1 × 2 threads |")
    print("| --- | ---: | ---: | ---: |")
    for label, t in results:
        if t:
            print(f"| {label} | {t:.3f} | {4096 / t:,.0f} | {base / t:.2f}× |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
