#!/usr/bin/env python3
"""Measures `cllm serve` (a benchmark, not a test): time from start to the first answered
request; p50/p99 latency of a 16-token /v1/completions and time to its first streamed token,
idle and while a training run uses both cores; and how much that training run slows while
someone chats.

    swift build -c release && python3 scripts/bench_serve.py [--requests 40]
"""
import argparse
import json
import pathlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

root = pathlib.Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser()
parser.add_argument("--cllm", default=str(root / ".build/release/cllm"))
parser.add_argument("--requests", type=int, default=40)
parser.add_argument("--model", default=str(root / "models/default"), help="a model directory to serve (trained if missing)")
args = parser.parse_args()

work = pathlib.Path(tempfile.mkdtemp(prefix="cllm-bench-serve-"))
models = work / "models"
models.mkdir()
if not (pathlib.Path(args.model) / "model.safetensors").exists():
    subprocess.run([args.cllm, "train", "--out", args.model, "--sample-tokens", "0"], check=True, cwd=root, stdout=subprocess.DEVNULL)
shutil.copytree(args.model, models / "default")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
base = f"http://127.0.0.1:{port}"

def post(path, body, stream=False):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request)

started = time.perf_counter()
server = subprocess.Popen([args.cllm, "serve", "--port", str(port), "--models", str(models)], cwd=root,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        urllib.request.urlopen(base + "/health").read()
        break
    except OSError:
        time.sleep(0.002)
ready_ms = 1000 * (time.perf_counter() - started)

def measure(n):
    latency, first_token = [], []
    for i in range(n):
        t0 = time.perf_counter()
        post("/v1/completions", {"model": "default", "prompt": "ROMEO:", "max_tokens": 16, "seed": i}).read()
        latency.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        with post("/v1/completions", {"model": "default", "prompt": "ROMEO:", "max_tokens": 16, "seed": i, "stream": True}) as r:
            for line in r:
                if line.startswith(b"data: {"):
                    first_token.append(1000 * (time.perf_counter() - t0))
                    break
            r.read()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
    return {"p50_ms": statistics.median(latency), "p99_ms": q(latency, 0.99), "ttft_p50_ms": statistics.median(first_token),
            "ttft_p99_ms": q(first_token, 0.99)}

def steps_per_second(name, seconds):
    rows = [json.loads(l) for l in (models / name / "metrics.jsonl").read_text().splitlines() if l.strip()]
    recent = [r for r in rows if r["elapsed_s"] >= rows[-1]["elapsed_s"] - seconds]
    return statistics.median(r["tokens_per_s"] for r in recent)

try:
    post("/v1/completions", {"model": "default", "prompt": "ROMEO:", "max_tokens": 4}).read()  # load the model
    idle = measure(args.requests)
    post("/api/runs", {"name": "bench-run", "settings": {"max_steps": 1000000, "eval_interval": 1000, "n_layer": 4, "n_embd": 128}}).read()
    time.sleep(5)
    training_alone = steps_per_second("bench-run", 4)
    busy = measure(args.requests)
    time.sleep(0.5)
    chat_window = 4
    t_end = time.time() + chat_window
    while time.time() < t_end:
        post("/v1/chat/completions", {"model": "default", "messages": [{"role": "user", "content": "How now?"}], "max_tokens": 64}).read()
    training_with_chat = steps_per_second("bench-run", chat_window)
    post("/api/runs/bench-run/stop", {}).read()
finally:
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)

print(f"ready (first /health answered) {ready_ms:.0f} ms after start")
print(f"/v1/completions, 16 tokens, {args.requests} requests each:")
print(f"  idle:            p50 {idle['p50_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms; first token p50 {idle['ttft_p50_ms']:.1f} ms, p99 {idle['ttft_p99_ms']:.1f} ms")
print(f"  during training: p50 {busy['p50_ms']:.1f} ms, p99 {busy['p99_ms']:.1f} ms; first token p50 {busy['ttft_p50_ms']:.1f} ms, p99 {busy['ttft_p99_ms']:.1f} ms")
print(f"training tokens/s (median of its steps): alone {training_alone:,.0f}, while chatting without pause {training_with_chat:,.0f} "
      f"({100 * (1 - training_with_chat / training_alone):.0f}% slower)")
