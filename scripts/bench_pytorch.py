#!/usr/bin/env python3
"""PyTorch side of the speed comparison: the same GPT-2 models and training step as `cllm bench`.

Model: pre-LN GPT-2 (fused QKV with bias, GELU tanh, tied LM head, causal attention through
scaled_dot_product_attention), dropout 0. One step = forward + cross-entropy + backward +
clip_grad_norm_(1.0) + AdamW (fused=False, foreach=True: PyTorch's fastest CPU path).
Precision: float32 eager, or --autocast bf16: `torch.autocast("cpu", dtype=torch.bfloat16)`
around forward and loss (matrix products in bfloat16 through oneDNN, master weights, optimizer
and reductions in float32), PyTorch's fastest CPU training mode.
Generation: Hugging Face transformers' GPT2LMHeadModel.generate (its own KV cache) on a model
built from a config with random weights, batch 1, if transformers is installed.

Prints one JSON object per configuration and mode, with the same keys as `cllm bench --json`.
Usage: python3 scripts/bench_pytorch.py [--config baby|shakespeare|gpt2] [--batch B] [--autocast bf16]
                                       [--compile] [--steps N] [--threads N] [--no-generate]
"""
import argparse, json, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "baby": dict(vocab=65, block=64, n_layer=4, n_head=4, n_embd=128, batch=12),
    "shakespeare": dict(vocab=65, block=256, n_layer=6, n_head=6, n_embd=384, batch=8),
    "gpt2": dict(vocab=50257, block=1024, n_layer=12, n_head=12, n_embd=768, batch=1),
}

class Block(nn.Module):
    def __init__(s, c, nh):
        super().__init__()
        s.nh = nh
        s.ln_1, s.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        s.c_attn, s.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        s.c_fc, s.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.c_attn(s.ln_1(x)).split(C, dim=2)
        q, k, v = [t.view(B, T, s.nh, C // s.nh).transpose(1, 2) for t in (q, k, v)]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + s.mlp_proj(F.gelu(s.c_fc(s.ln_2(x)), approximate="tanh"))

class GPT(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.wte = nn.Embedding(cfg["vocab"], cfg["n_embd"])
        s.wpe = nn.Embedding(cfg["block"], cfg["n_embd"])
        s.h = nn.ModuleList([Block(cfg["n_embd"], cfg["n_head"]) for _ in range(cfg["n_layer"])])
        s.ln_f = nn.LayerNorm(cfg["n_embd"])

    def forward(s, idx, targets):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.h:
            x = b(x)
        logits = s.ln_f(x) @ s.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

def flops_per_token(cfg, n_params):
    # nanoGPT's estimate_mfu: 6N + 12·L·C·T, N without the position table (same as cllm bench).
    n = n_params - cfg["block"] * cfg["n_embd"]
    return 6 * n + 12 * cfg["n_layer"] * cfg["n_embd"] * cfg["block"]

def bench(name, compile_model, steps, warmup, batch=None, autocast=None, generate=True):
    cfg = dict(CONFIGS[name])
    if batch:
        cfg["batch"] = batch
    torch.manual_seed(0)
    model = GPT(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1, foreach=True)
    fwd = torch.compile(model) if compile_model else model
    B, T = cfg["batch"], cfg["block"]
    x = torch.randint(0, cfg["vocab"], (B, T))
    y = torch.randint(0, cfg["vocab"], (B, T))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = fwd(x, y)
        else:
            loss = fwd(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    tps = B * T / (ms / 1000)
    mode = ("torch.compile" if compile_model else "eager") + (" bf16 autocast" if autocast else " fp32")
    out = dict(config=name, mode=mode, precision="bf16" if autocast else "fp32", batch=B, threads=torch.get_num_threads(),
               ms_per_step=ms, tokens_per_s=tps, gflops=flops_per_token(cfg, n_params) * tps / 1e9,
               torch=torch.__version__, isa=torch.backends.cpu.get_cpu_capability())
    out["generate_tokens_per_s"] = generate_speed(cfg) if generate and not compile_model and not autocast else None
    return out

def generate_speed(cfg, new_tokens=128):
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    conf = GPT2Config(vocab_size=cfg["vocab"], n_positions=cfg["block"], n_embd=cfg["n_embd"], n_layer=cfg["n_layer"],
                      n_head=cfg["n_head"], activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    model = GPT2LMHeadModel(conf).eval()
    n = min(new_tokens, cfg["block"] - 1)
    prompt = torch.zeros((1, 1), dtype=torch.long)
    rates = []
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=8, min_new_tokens=8, do_sample=True, pad_token_id=0)  # warm-up
        for _ in range(5):  # median of 5, as cllm bench does
            t0 = time.perf_counter()
            model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=True, top_k=0, pad_token_id=0, use_cache=True)
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="baby", choices=sorted(CONFIGS))
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (default: the config's)")
    ap.add_argument("--autocast", choices=["bf16"], default=None, help="bf16: torch.autocast(\"cpu\", torch.bfloat16)")
    ap.add_argument("--no-generate", action="store_true", help="skip the transformers generation timing")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(json.dumps(bench(a.config, False, a.steps, a.warmup, a.batch, a.autocast, not a.no_generate)), flush=True)
    if a.compile:
        try:
            print(json.dumps(bench(a.config, True, a.steps, max(a.warmup, 3), a.batch, a.autocast, False)))
        except Exception as e:  # torch.compile needs a C compiler; report rather than fail
            print(json.dumps(dict(config=a.config, mode="torch.compile", error=str(e)[:200])))
