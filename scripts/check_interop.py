#!/usr/bin/env python3
"""Cross-checks a model made by `cllm train` against the Python ecosystem.

1. transformers: GPT2LMHeadModel.from_pretrained(DIR) gives the same logits as `cllm logits`
   on the same ids (max abs diff <= 1e-4).
2. tokenizers: Tokenizer.from_file(DIR/tokenizer.json) encodes a text with odd Unicode to
   exactly the ids of `cllm tokenize`.
3. import: a GPT-2 saved by transformers' save_pretrained loads and runs in cllm (same logits).
4. gguf: `cllm export --gguf` (f32 and f16) reads back with the gguf package: architecture,
   tensor names, shapes and values; llama-cpp-python, if installed, loads it, and its logits
   and tokenizer ids are compared with cllm's. The q8_0 export holds exactly the blocks of
   gguf-py's Q8_0 quantizer, and llama.cpp's logits on it match `cllm logits --precision q8_0`
   (closer than either is to the float32 model).
5. end of text: a character model (whose "\n" is id 0) generates past the first newline in
   transformers' `generate` and in llama.cpp: both stop only at its real <|endoftext|>, which
   config.json and the GGUF declare.

Needs: pip install torch transformers tokenizers safetensors gguf  (each missing one is skipped
with a message). Usage: swift build -c release && python3 scripts/check_interop.py [--model DIR]
Without --model it trains a small byte-level BPE model first (about half a minute).
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLLM = os.path.join(ROOT, ".build", "release", "cllm")
TEXT = "ROMEO: naïve café — “quotes”, 東京 123\ttabs\n\n  spaces! Ünïcödé 🙂 ok"
failures = []

def cllm(*args):
    return subprocess.run([CLLM, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

def check(name, ok, detail=""):
    print(f"[{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)

def skip(name, why):
    print(f"[SKIP] {name}: {why}")

def hf_logits_diff(model_dir, hf):
    """cllm's logits for TEXT from model_dir against a transformers model's on the same ids:
    (max abs difference, number of positions)."""
    import torch
    ours = json.loads(cllm("logits", "--model", model_dir, "--text", TEXT))
    with torch.no_grad():
        theirs = hf(torch.tensor([ours["ids"]])).logits[0]
    return (theirs - torch.tensor(ours["logits"])).abs().max().item(), len(ours["ids"])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    a = ap.parse_args()
    if not os.path.exists(CLLM):
        sys.exit("build first: swift build -c release")
    work = tempfile.mkdtemp(prefix="cllm-interop-")
    model = a.model
    if not model:
        model = os.path.join(work, "model")
        print("training a small BPE model ...", flush=True)
        cllm("train", "--tokenizer", "bpe", "--vocab-size", "400", "--n-layer", "2", "--n-head", "2", "--n-embd", "64",
             "--block-size", "64", "--max-steps", "60", "--eval-interval", "30", "--eval-iters", "2", "--sample-tokens", "0",
             "--out", model)
    text_file = os.path.join(work, "text.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write(TEXT)

    # 1. transformers logits
    try:
        import torch
        from transformers import GPT2LMHeadModel
        diff, positions = hf_logits_diff(model, GPT2LMHeadModel.from_pretrained(model).eval())
        check("transformers GPT2LMHeadModel logits", diff <= 1e-4, f"max abs diff {diff:.2e} over {positions} positions")
    except ImportError as e:
        skip("transformers logits", f"{e.name} not installed")

    # Tiny char and word models (the char one trained long enough to write newlines, for check 5).
    for kind, steps, block in (("char", "300", "96"), ("word", "2", "32")):
        cllm("train", "--tokenizer", kind, "--vocab-size", "3000", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
             "--block-size", block, "--max-steps", steps, "--eval-interval", steps, "--eval-iters", "1", "--sample-tokens", "0",
             "--out", os.path.join(work, kind))

    # 2. tokenizers ids
    try:
        from tokenizers import Tokenizer
        ours = json.loads(cllm("tokenize", "--model", model, text_file))
        theirs = Tokenizer.from_file(os.path.join(model, "tokenizer.json")).encode(TEXT).ids
        check("tokenizers tokenizer.json ids", ours == theirs, f"{len(ours)} ids" + ("" if ours == theirs else f"; ours {ours[:12]} theirs {theirs[:12]}"))
        # The char and word tokenizers export too (WordLevel models), unknown text included.
        plain = "First Citizen:\nBefore we proceed any further, HEAR me speak.\n\nAll:\n  Speak, speak. Ünknown café"
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(plain)
        for kind in ("char", "word"):
            out = os.path.join(work, kind)
            ours = json.loads(cllm("tokenize", "--model", out, text_file))
            theirs = Tokenizer.from_file(os.path.join(out, "tokenizer.json")).encode(plain).ids
            check(f"tokenizers tokenizer.json ids ({kind})", ours == theirs, f"{len(ours)} ids")
    except ImportError as e:
        skip("tokenizers ids", f"{e.name} not installed")

    # 3. The other way: a GPT-2 saved by transformers (random weights, our tokenizer.json) loads in cllm.
    try:
        import shutil, torch
        from transformers import GPT2Config, GPT2LMHeadModel
        cfg = json.load(open(os.path.join(model, "config.json")))
        foreign = os.path.join(work, "hf-made")
        torch.manual_seed(0)
        hf = GPT2LMHeadModel(GPT2Config(vocab_size=cfg["vocab_size"], n_positions=cfg["n_positions"], n_embd=48,
                                        n_layer=2, n_head=3, activation_function="gelu_new",
                                        bos_token_id=0, eos_token_id=0)).eval()
        hf.save_pretrained(foreign, safe_serialization=True)
        shutil.copy(os.path.join(model, "tokenizer.json"), foreign)
        diff, _ = hf_logits_diff(foreign, hf)
        check("import: transformers-saved GPT-2 runs in cllm", diff <= 1e-4, f"max abs diff {diff:.2e}")
    except ImportError as e:
        skip("import from transformers", f"{e.name} not installed")

    # 4. GGUF
    try:
        import numpy as np
        from gguf import GGUFReader
        from safetensors.numpy import load_file
        st = load_file(os.path.join(model, "model.safetensors"))
        cfg = json.load(open(os.path.join(model, "config.json")))
        for kind in ("f32", "f16"):
            path = os.path.join(work, f"model-{kind}.gguf")
            cllm("export", "--model", model, "--gguf", path, "--type", kind)
            r = GGUFReader(path)
            arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
            tensors = {t.name: t for t in r.tensors}
            expect = {"token_embd.weight": st["wte.weight"], "position_embd.weight": st["wpe.weight"],
                      "blk.0.attn_qkv.weight": st["h.0.attn.c_attn.weight"].T, "blk.0.ffn_down.weight": st["h.0.mlp.c_proj.weight"].T,
                      "blk.0.attn_norm.weight": st["h.0.ln_1.weight"], "output_norm.bias": st["ln_f.bias"]}
            n_expected = 2 + 12 * cfg["n_layer"] + 3
            worst = 0.0
            for name, want in expect.items():
                got = np.asarray(tensors[name].data, dtype=np.float32).reshape(want.shape)
                worst = max(worst, float(np.abs(got - want).max()))
            tol = 0 if kind == "f32" else 2e-3
            check(f"gguf {kind}: architecture, {len(tensors)} tensors, values", arch == "gpt2" and len(tensors) == n_expected and worst <= tol,
                  f"arch {arch}, max abs diff {worst:.2e}")
        try:
            from llama_cpp import Llama
            llm = Llama(model_path=os.path.join(work, "model-f32.gguf"), logits_all=True, verbose=False, n_ctx=cfg["n_positions"])
            ours = json.loads(cllm("logits", "--model", model, "--text", TEXT))
            llm.eval(ours["ids"])
            diff = float(np.abs(np.array(llm.scores[: len(ours["ids"])]) - np.array(ours["logits"])).max())
            check("llama-cpp-python logits", diff <= 1e-3, f"max abs diff {diff:.2e}")
            ids = llm.tokenize(TEXT.encode("utf-8"), add_bos=False, special=False)
            check("llama-cpp-python tokenizer ids", ids[: len(ours["ids"])] == ours["ids"], f"{len(ids)} ids")
            # Q8_0: the blocks are GGML's reference quantizer's (gguf-py's numpy copy of it), and
            # llama.cpp's logits on them agree with `cllm logits --precision q8_0` (the session
            # on the same blocks) better than either agrees with the float32 model.
            from gguf.quants import quantize
            from gguf.constants import GGMLQuantizationType
            q8_path = os.path.join(work, "model-q8_0.gguf")
            cllm("export", "--model", model, "--gguf", q8_path, "--type", "q8_0")
            f32 = {t.name: t for t in GGUFReader(os.path.join(work, "model-f32.gguf")).tensors}
            q8 = [t for t in GGUFReader(q8_path).tensors if t.tensor_type == GGMLQuantizationType.Q8_0]
            same = sum(np.array_equal(np.asarray(t.data).view(np.uint8).reshape(-1),
                                      quantize(np.asarray(f32[t.name].data, dtype=np.float32), GGMLQuantizationType.Q8_0).view(np.uint8).reshape(-1))
                       for t in q8)
            check("gguf q8_0 blocks equal gguf-py's quantizer", len(q8) == 2 + 4 * cfg["n_layer"] and same == len(q8),
                  f"{same} of {len(q8)} Q8_0 tensors bit-identical")
            ours_q8 = json.loads(cllm("logits", "--model", model, "--text", TEXT, "--precision", "q8_0"))
            llm8 = Llama(model_path=q8_path, logits_all=True, verbose=False, n_ctx=cfg["n_positions"])
            llm8.eval(ours_q8["ids"])
            theirs_q8 = np.array(llm8.scores[: len(ours_q8["ids"])])
            fp32 = np.array(ours["logits"])
            agree = float(np.abs(theirs_q8 - np.array(ours_q8["logits"])).max())
            quant_error = float(np.abs(theirs_q8 - fp32).max())
            check("llama-cpp-python q8_0 logits", agree <= quant_error,
                  f"max abs diff {agree:.2e} from cllm q8_0, against {quant_error:.2e} from the float32 model")
        except ImportError:
            skip("llama-cpp-python", "not installed (pip install llama-cpp-python builds llama.cpp from source)")
    except ImportError as e:
        skip("gguf", f"{e.name} not installed")

    # 5. A char model generates past a newline in transformers and llama.cpp.
    char_model = os.path.join(work, "char")
    cfg = json.load(open(os.path.join(char_model, "config.json")))
    tok = json.load(open(os.path.join(char_model, "cllm_tokenizer.json")))
    eos = cfg["eos_token_id"]
    check("config.json end of text outside the alphabet", eos == len(tok["characters"]) and tok["characters"][0] == "\n",
          f"eos_token_id {eos}, {len(tok['characters'])} characters, id 0 is {tok['characters'][0]!r}")
    prompt = "First Citizen:\n"
    try:
        import torch
        from transformers import GPT2LMHeadModel
        hf = GPT2LMHeadModel.from_pretrained(char_model).eval()
        chars = tok["characters"]
        ids = [chars.index(c) for c in prompt]
        with torch.no_grad():
            out = hf.generate(torch.tensor([ids]), max_new_tokens=60, do_sample=False, pad_token_id=eos)[0].tolist()[len(ids):]
        text = "".join(chars[i] for i in out if i < len(chars))
        check("transformers generate runs past a newline", len(out) == 60 and "\n" in text and text.strip() != "",
              f"{len(out)} new tokens, {text.count(chr(10))} newlines")
    except ImportError as e:
        skip("transformers generate", f"{e.name} not installed")
    try:
        from llama_cpp import Llama
        path = os.path.join(work, "char-f16.gguf")
        cllm("export", "--model", char_model, "--gguf", path, "--type", "f16")
        llm = Llama(model_path=path, verbose=False, n_ctx=cfg["n_positions"])
        r = llm(prompt, max_tokens=60, temperature=0)
        text = r["choices"][0]["text"]
        check("llama-cpp-python generates past a newline", r["usage"]["completion_tokens"] == 60 and "\n" in text and text.strip() != "",
              f"{r['usage']['completion_tokens']} new tokens, {text.count(chr(10))} newlines, finish {r['choices'][0]['finish_reason']}")
    except ImportError:
        skip("llama-cpp-python generate", "not installed")

    print(f"\n{'all checks passed' if not failures else 'FAILED: ' + ', '.join(failures)}")
    sys.exit(1 if failures else 0)

if __name__ == "__main__":
    main()
