#!/usr/bin/env python3
"""Training speed and memory, cllm against PyTorch, measured side by side on this machine.

Each round runs, one after the other (A B C D A B C D ...): `cllm bench --json` with
--precision fp32 and bf16, and scripts/bench_pytorch.py in float32 eager and in bf16 autocast
(PyTorch's fastest CPU training mode where the CPU has bf16 instructions). Every run is a
process of its own under /usr/bin/time -v, whose "Maximum resident set size" is the peak
memory of the training steps (the model, optimizer state, activations, gradients).
Prints medians and the ratios the speed issue asks for.

Usage: python3 scripts/compare_pytorch.py [--config baby|shakespeare|gpt2] [--batch B]
                                          [--rounds 3] [--steps 20] [--compile] [--isa native|avx2]
Build first: swift build -c release
"""
import argparse, json, os, re, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns its JSON lines, each with peak_rss_mib added."""
    timed = ["/usr/bin/time", "-v"] + cmd if os.path.exists("/usr/bin/time") else cmd
    p = subprocess.run(timed, cwd=ROOT, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        r["peak_rss_mib"] = int(m.group(1)) / 1024 if m else None
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="baby", choices=["baby", "shakespeare", "gpt2"])
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (default: the config's)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (fp32)")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="native: each side uses the widest SIMD this CPU has (AVX-512, AVX512_BF16 where present); "
                         "avx2: hold both to AVX2 + FMA, as on an AVX2-only machine (PyTorch through "
                         "ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS; cllm through "
                         "CLLM_GEMM_KERNEL=simd8 and CLLM_BF16_KERNEL=none)")
    a = ap.parse_args()
    torch_env, cllm_env = dict(os.environ), dict(os.environ)
    if a.isa == "avx2":
        torch_env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2")
        cllm_env.update(CLLM_GEMM_KERNEL="simd8", CLLM_BF16_KERNEL="none")
    cllm = os.path.join(ROOT, ".build", "release", "cllm")
    if not os.path.exists(cllm):
        sys.exit("build first: swift build -c release")
    batch = ["--batch", str(a.batch)] if a.batch else []
    warm = ["--warmup", "1"] if a.config == "gpt2" else []
    runs = {
        "cllm fp32": ([cllm, "bench", "--config", a.config, "--steps", str(a.steps), "--json", "--precision", "fp32"] + batch, cllm_env),
        "cllm bf16": ([cllm, "bench", "--config", a.config, "--steps", str(a.steps), "--json", "--precision", "bf16"] + batch, cllm_env),
        "pytorch fp32": ([sys.executable, "scripts/bench_pytorch.py", "--config", a.config, "--steps", str(a.steps)] + batch + warm
                         + (["--compile"] if a.compile else []), torch_env),
        "pytorch bf16 autocast": ([sys.executable, "scripts/bench_pytorch.py", "--config", a.config, "--steps", str(a.steps),
                                   "--autocast", "bf16", "--no-generate"] + batch + warm, torch_env),
    }
    data = {}
    for r in range(a.rounds):
        for name, (cmd, env) in runs.items():
            for row in run_json(cmd, env):
                key = "pytorch torch.compile fp32" if row.get("mode", "").startswith("torch.compile") else name
                data.setdefault(key, []).append(row)
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{k} {v[-1].get('tokens_per_s', float('nan')):.0f} tok/s"
                                                        for k, v in data.items()), flush=True)

    def med(rows, k):
        vals = [x[k] for x in rows if x.get(k) is not None]
        return statistics.median(vals) if vals else None

    ours = data["cllm fp32"][-1]
    print(f"\nconfig {a.config}, batch {ours.get('batch')}, {a.rounds} interleaved rounds, medians; ISA: {a.isa}; "
          f"cllm kernels: fp32 {ours.get('simd')}, bf16 {data['cllm bf16'][-1].get('simd')}; "
          f"torch {data['pytorch fp32'][-1].get('torch')} ({data['pytorch fp32'][-1].get('isa')})")
    print(f"{'':28}{'ms/step':>10}{'tokens/s':>11}{'GFLOP/s':>10}{'peak RSS MiB':>14}{'gen tok/s':>11}")
    for name, rows in data.items():
        if med(rows, "tokens_per_s") is None:
            print(f"{name:28}(failed: {rows[-1].get('error')})")
            continue
        g = med(rows, "generate_tokens_per_s")
        print(f"{name:28}{med(rows, 'ms_per_step'):10.1f}{med(rows, 'tokens_per_s'):11.0f}{med(rows, 'gflops'):10.1f}"
              f"{(med(rows, 'peak_rss_mib') or float('nan')):14.0f}{(g or float('nan')):11.0f}")
    tps = {k: med(v, "tokens_per_s") for k, v in data.items()}
    best_ours = max(tps["cllm fp32"], tps["cllm bf16"])
    torch_modes = {k: v for k, v in tps.items() if k.startswith("pytorch") and v}
    fastest = max(torch_modes, key=torch_modes.get)
    print(f"\ncllm best / PyTorch fastest ({fastest}): {best_ours / torch_modes[fastest]:.2f}x")
    print(f"cllm best / PyTorch fp32 eager: {best_ours / tps['pytorch fp32']:.2f}x")
    print(f"cllm fp32 / PyTorch fp32 eager: {tps['cllm fp32'] / tps['pytorch fp32']:.2f}x")
    print(f"cllm bf16 / PyTorch bf16 autocast: {tps['cllm bf16'] / tps['pytorch bf16 autocast']:.2f}x")
    g_ours, g_hf = med(data["cllm fp32"], "generate_tokens_per_s"), med(data["pytorch fp32"], "generate_tokens_per_s")
    if g_ours and g_hf:
        print(f"generation cllm fp32 / transformers generate: {g_ours / g_hf:.2f}x")
    print(json.dumps({k: {"tokens_per_s": tps[k], "ms_per_step": med(v, "ms_per_step"), "peak_rss_mib": med(v, "peak_rss_mib")}
                      for k, v in data.items()}))


if __name__ == "__main__":
    main()
