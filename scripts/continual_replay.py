#!/usr/bin/env python3
"""The continual-training replay experiment of docs/CORPUS.md.

Train a small model on corpus A (the bundled Shakespeare), then let copies of it follow an inbox
holding corpus B (the licence texts in /usr/share/common-licenses: legal English, a strong shift)
with replay 0, 0.05 and 0.25. Reports the validation loss on A before and after (forgetting) and
the loss on B's held-out text (learning), from each run's metrics.jsonl.

Usage: python3 scripts/continual_replay.py [--cllm .build/release/cllm] [--work DIR] [--json docs/corpus-replay.json]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time

MODEL = ["--n-layer", "4", "--n-head", "4", "--n-embd", "128", "--block-size", "128", "--batch-size", "16", "--dropout", "0",
         "--eval-iters", "40", "--sample-tokens", "0", "--seed", "7", "-q",
         "--precision", "fp32"]  # as measured for docs/CORPUS.md (before bf16 became the default)


def metrics(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cllm", default=".build/release/cllm")
    ap.add_argument("--work", default=None)
    ap.add_argument("--base-steps", type=int, default=1500)
    ap.add_argument("--round-steps", type=int, default=600)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="cllm-replay-")
    os.makedirs(work, exist_ok=True)
    inbox = os.path.join(work, "inbox")
    os.makedirs(inbox, exist_ok=True)
    licences = sorted(p for p in glob.glob("/usr/share/common-licenses/*") if os.path.isfile(p))
    for p in licences:
        shutil.copy(p, os.path.join(inbox, os.path.basename(p) + ".txt"))
    b_bytes = sum(os.path.getsize(p) for p in licences)
    base = os.path.join(work, "base")
    t0 = time.time()
    if not os.path.exists(os.path.join(base, "model.safetensors")):
        subprocess.run([args.cllm, "train", "data/tinyshakespeare.txt", "--out", base, "--max-steps", str(args.base_steps),
                        "--eval-interval", "250", *MODEL], check=True)
    base_val = [m["val_loss"] for m in metrics(base) if "val_loss" in m][-1]
    print(f"corpus A: data/tinyshakespeare.txt; corpus B: {len(licences)} licence texts, {b_bytes} bytes")
    print(f"base model: {args.base_steps} steps on A, val loss on A {base_val:.4f} ({time.time() - t0:.0f} s)")
    rows = []
    for replay in [0.0, 0.05, 0.25]:
        run = os.path.join(work, f"replay-{replay}")
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run)
        t = time.time()
        subprocess.run([args.cllm, "train", "--resume", "--out", run, "--follow", inbox, "--replay", str(replay),
                        "--round-steps", str(args.round_steps), "--until-idle", "--eval-interval", "100", "-q"], check=True)
        evals = [m for m in metrics(run) if "val_loss" in m and m["step"] > args.base_steps]
        a_vals = [m["val_loss"] for m in evals]
        b_vals = [m["new_val_loss"] for m in evals if "new_val_loss" in m]
        row = {"replay": replay, "a_val_before": base_val, "a_val_after": a_vals[-1], "a_val_max": max(a_vals),
               "a_forgetting": a_vals[-1] - base_val, "b_val_first": b_vals[0], "b_val_after": b_vals[-1],
               "seconds": round(time.time() - t, 1),
               "curve": [{"step": m["step"], "a_val": m["val_loss"], "b_val": m.get("new_val_loss")} for m in evals]}
        rows.append(row)
        print(f"replay {replay:4}: A val {base_val:.4f} -> {row['a_val_after']:.4f} (+{row['a_forgetting']:.4f}, peak {row['a_val_max']:.4f}); "
              f"B val {row['b_val_first']:.4f} at the first evaluation -> {row['b_val_after']:.4f} ({row['seconds']} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
                       "base_steps": args.base_steps, "round_steps": args.round_steps, "corpus_b_bytes": b_bytes,
                       "model": " ".join(MODEL), "runs": rows}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
