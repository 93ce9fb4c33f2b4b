#!/usr/bin/env python3
"""The official `openai` client against `cllm serve`, unchanged but for base_url: lists the
models, streams a chat completion, and makes a plain completion.

    cllm serve --port 8080 &
    python3 scripts/openai_client.py [--base-url http://127.0.0.1:8080/v1] [--api-key KEY]

Exits 0 when every call worked and the streamed text equals the non-streamed one."""
import argparse
import sys
import time

try:
    from openai import OpenAI
except ImportError:
    print("skipped: the openai package is not installed (pip install openai)")
    sys.exit(0)

parser = argparse.ArgumentParser()
parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
parser.add_argument("--api-key", default="none")
args = parser.parse_args()

client = OpenAI(base_url=args.base_url, api_key=args.api_key)
models = client.models.list()
model = models.data[0].id
print(f"models: {[m.id for m in models.data]}")

messages = [{"role": "user", "content": "How fares the king?"}]
start = time.perf_counter()
first = None
pieces = []
stream = client.chat.completions.create(model=model, messages=messages, stream=True, max_tokens=60, temperature=0.8,
                                        seed=42, stream_options={"include_usage": True})
usage = None
finish = None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            if first is None:
                first = time.perf_counter() - start
            pieces.append(choice.delta.content)
            print(choice.delta.content, end="", flush=True)
        if choice.finish_reason:
            finish = choice.finish_reason
print()
streamed = "".join(pieces)
print(f"streamed {len(pieces)} pieces, first after {1000 * (first or 0):.1f} ms, finish_reason={finish}, usage={usage}")

whole = client.chat.completions.create(model=model, messages=messages, max_tokens=60, temperature=0.8, seed=42)
print(f"non-streamed: finish_reason={whole.choices[0].finish_reason}, usage={whole.usage}")
same = whole.choices[0].message.content == streamed
print(f"same text streamed and not: {same}")

completion = client.completions.create(model=model, prompt="ROMEO:", max_tokens=24, temperature=0, stop=["\n\n"])
print(f"completion: {completion.choices[0].text!r} ({completion.choices[0].finish_reason})")
sys.exit(0 if same and usage and finish else 1)
