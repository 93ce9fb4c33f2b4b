#!/usr/bin/env python3
"""Generation speed, cllm against llama.cpp, on the same model file and the same threads.

For each model: build it (random weights; speed does not depend on their values), export it
with `cllm export --gguf` as f32, f16 and q8_0, then alternate (A B A B ...) `cllm generate
--json` with each precision and llama.cpp (llama-cpp-python) on each GGUF file: batch 1, a
64-token prompt, 128 new tokens, greedy. Both sides report decoding speed only: tokens after the
first one divided by the time they took (the prompt and model loading are not counted).

Models:
  shakespeare  6 layers, 6 heads, 384 wide, block 256, character vocabulary (cllm train, 1 step)
  gpt2         GPT-2 small: 12 layers, 12 heads, 768 wide, block 1024, vocabulary 50257
               (transformers' GPT2LMHeadModel with random weights and a synthetic byte-level
               BPE tokenizer.json of 50,000 merges, imported by cllm as any Hugging Face GPT-2)

Needs: pip install llama-cpp-python (builds llama.cpp, ~10 min on 2 cores); transformers,
torch and tokenizers for the gpt2 model.
Usage: python3 scripts/bench_generation.py [--model shakespeare|gpt2] [--rounds 3] [--threads 2]
Build first: swift build -c release
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLLM = os.path.join(ROOT, ".build", "release", "cllm")
CORPUS = os.path.join(ROOT, "data", "tinyshakespeare.txt")


def cllm(*args, env=None):
    return subprocess.run([CLLM, *args], cwd=ROOT, capture_output=True, text=True, check=True, env=env).stdout


def make_shakespeare(work):
    out = os.path.join(work, "shakespeare")
    cllm("train", "--n-layer", "6", "--n-head", "6", "--n-embd", "384", "--block-size", "256", "--max-steps", "1",
         "--eval-interval", "1", "--eval-iters", "1", "--sample-tokens", "0", "--out", out)
    return out


def make_gpt2(work):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel
    out = os.path.join(work, "gpt2")
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    # Letters and space first, so that ordinary text really merges.
    common = [c for c in alphabet if c.isalpha() or c == "Ġ"]
    order = common + [c for c in alphabet if c not in common]
    merges = [(a, b) for a in order for b in order][:50000]
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) == 50257
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                                    activation_function="gelu_new", bos_token_id=50256, eos_token_id=50256)).eval()
    hf.save_pretrained(out, safe_serialization=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    return out


def prompt_of(model, n):
    """A prefix of the corpus that cllm's tokenizer reads as exactly n tokens."""
    text = open(CORPUS, encoding="utf-8").read()[:4000]
    lo, hi = 1, len(text)
    while lo < hi:  # shortest prefix with at least n tokens
        mid = (lo + hi) // 2
        path = os.path.join(tempfile.gettempdir(), "cllm-bench-prompt.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text[:mid])
        count = len(json.loads(cllm("tokenize", "--model", model, path)))
        lo, hi = (mid + 1, hi) if count < n else (lo, mid)
    return text[:lo]


def ours(model, prompt, new, precision, threads):
    env = dict(os.environ, CLLM_THREADS=str(threads))
    r = json.loads(cllm("generate", "--model", model, "--prompt", prompt, "--max-tokens", str(new), "--temperature", "0",
                        "--precision", precision, "--json", env=env))
    return r["tokens_per_s"], r["prompt_tokens"], r["completion_tokens"]


def llama(path, prompt, new, threads, n_ctx):
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=n_ctx, n_batch=512, verbose=False)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=False)
    stamps = []
    for i, _ in enumerate(llm.generate(tokens, temp=0.0, top_k=1, reset=True)):
        stamps.append(time.perf_counter())
        if len(stamps) == new:
            break
    del llm
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(tokens), len(stamps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["shakespeare", "gpt2"], default="shakespeare")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--types", default="f32,f16,q8_0", help="GGUF types for llama.cpp")
    ap.add_argument("--precisions", default="fp32,bf16,q8_0", help="cllm --precision values")
    a = ap.parse_args()
    if not os.path.exists(CLLM):
        sys.exit("build first: swift build -c release")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        sys.exit("llama-cpp-python is not installed (pip install llama-cpp-python)")
    work = tempfile.mkdtemp(prefix="cllm-genbench-")
    model = make_shakespeare(work) if a.model == "shakespeare" else make_gpt2(work)
    n_ctx = json.load(open(os.path.join(model, "config.json")))["n_positions"]
    prompt = prompt_of(model, a.prompt_tokens)
    files = {}
    for t in a.types.split(","):
        files[t] = os.path.join(work, f"model-{t}.gguf")
        cllm("export", "--model", model, "--gguf", files[t], "--type", t)
    results = {}
    for r in range(a.rounds):
        for p in a.precisions.split(","):
            rate, np_, nc = ours(model, prompt, a.new_tokens, p, a.threads)
            results.setdefault(f"cllm {p}", []).append(rate)
        for t, path in files.items():
            rate, np_, nc = llama(path, prompt, a.new_tokens, a.threads, n_ctx)
            results.setdefault(f"llama.cpp {t}", []).append(rate)
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmodel {a.model}, {a.threads} threads, {a.prompt_tokens}-token prompt, {a.new_tokens} new tokens, greedy; "
          f"medians of {a.rounds} interleaved rounds (tokens/s, decoding only)")
    for k, v in med.items():
        print(f"  {k:20}{v:10.0f}")
    pairs = [("fp32", "f32"), ("bf16", "f16"), ("q8_0", "q8_0")]
    for ours_p, theirs_t in pairs:
        if f"cllm {ours_p}" in med and f"llama.cpp {theirs_t}" in med:
            print(f"ratio cllm {ours_p} / llama.cpp {theirs_t}: {med[f'cllm {ours_p}'] / med[f'llama.cpp {theirs_t}']:.2f}x")
    best_ours = max((v, k) for k, v in med.items() if k.startswith("cllm") and not k.endswith("q8_0"))
    best_theirs = max((v, k) for k, v in med.items() if k.startswith("llama.cpp") and not k.endswith("q8_0"))
    print(f"ratio best 16/32-bit: {best_ours[1]} / {best_theirs[1]}: {best_ours[0] / best_theirs[0]:.2f}x")
    print(json.dumps(dict(model=a.model, threads=a.threads, medians=med)))


if __name__ == "__main__":
    main()
