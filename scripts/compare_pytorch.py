#!/usr/bin/env python3
"""Runs `cllm bench --json` and scripts/bench_pytorch.py alternately (A B A B …) on the same
machine and prints the medians and the ratios. PyTorch (and optionally transformers) from pip.

Usage: python3 scripts/compare_pytorch.py [--config baby|shakespeare] [--rounds 3] [--compile]
Build first: swift build -c release
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def run_json(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="baby")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="cllm's --precision")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="native: each side uses the widest SIMD this CPU has (AVX-512 where present); "
                         "avx2: hold both to AVX2 + FMA, as on an AVX2-only machine (PyTorch through "
                         "ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS; cllm through "
                         "CLLM_GEMM_KERNEL=simd8)")
    a = ap.parse_args()
    torch_env, cllm_env = dict(os.environ), dict(os.environ)
    if a.isa == "avx2":
        torch_env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2")
        cllm_env.update(CLLM_GEMM_KERNEL="simd8")
    cllm = os.path.join(ROOT, ".build", "release", "cllm")
    if not os.path.exists(cllm):
        sys.exit("build first: swift build -c release")
    ours, eager, compiled = [], [], []
    for r in range(a.rounds):
        ours += run_json([cllm, "bench", "--config", a.config, "--steps", str(a.steps), "--json", "--precision", a.precision], env=cllm_env)
        cmd = [sys.executable, "scripts/bench_pytorch.py", "--config", a.config, "--steps", str(a.steps)]
        for row in run_json(cmd + (["--compile"] if a.compile else []), env=torch_env):
            (compiled if row.get("mode") == "torch.compile" else eager).append(row)
        print(f"round {r + 1}/{a.rounds}: cllm {ours[-1]['tokens_per_s']:.0f} tok/s, "
              f"pytorch eager {eager[-1]['tokens_per_s']:.0f} tok/s"
              + (f", compiled {compiled[-1].get('tokens_per_s', float('nan')):.0f} tok/s" if compiled else ""), flush=True)
    med = lambda rows, k: statistics.median([x[k] for x in rows if x.get(k) is not None]) if any(x.get(k) is not None for x in rows) else None
    print(f"\nconfig {a.config}, {a.rounds} rounds, medians; ISA: {a.isa} (cllm kernel: {ours[-1].get('simd')})")
    print(f"{'':24}{'ms/step':>10}{'tokens/s':>12}{'GFLOP/s':>10}{'gen tok/s':>12}")
    rows = [("cllm", ours), ("pytorch eager", eager)] + ([("pytorch torch.compile", compiled)] if compiled else [])
    for name, data in rows:
        if not data or med(data, "tokens_per_s") is None:
            print(f"{name:24}(failed: {data[-1].get('error') if data else 'no data'})"); continue
        g = med(data, "generate_tokens_per_s")
        print(f"{name:24}{med(data, 'ms_per_step'):10.2f}{med(data, 'tokens_per_s'):12.0f}{med(data, 'gflops'):10.1f}{(g or float('nan')):12.0f}")
    t_ours = med(ours, "tokens_per_s")
    print(f"\ntraining speed ratio cllm / pytorch eager: {t_ours / med(eager, 'tokens_per_s'):.2f}x")
    if compiled and med(compiled, "tokens_per_s"):
        print(f"training speed ratio cllm / torch.compile: {t_ours / med(compiled, 'tokens_per_s'):.2f}x")
    g_ours, g_hf = med(ours, "generate_tokens_per_s"), med(eager, "generate_tokens_per_s")
    if g_hf:
        print(f"generation ratio cllm / transformers generate: {g_ours / g_hf:.2f}x")

if __name__ == "__main__":
    main()
