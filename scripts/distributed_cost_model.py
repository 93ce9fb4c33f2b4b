#!/usr/bin/env python3
"""A cost model of data-parallel training, fitted to this machine's measurements
(docs/distributed-measurements.json) and used to predict step time and scaling efficiency for
N = 2..64 machines on 1/10/25/100 Gb/s links (docs/DISTRIBUTED.md).

Ring all-reduce of S bytes over N ranks:  t(N, S) = 2(N-1)·α + 2(N-1)/N · S / β
A step on each rank: k micro-batches of compute (k = gradient accumulation), then the sum.
Without overlap the whole sum follows the backward pass. With overlap, gradients go out in
25 MiB buckets in the order our backward pass finishes them (the final LayerNorm after the
LM head, then the blocks from last to first, the embeddings last, since the tied token
embedding also receives the input gradient at the very end); a bucket's sum starts when it is
ready and the previous one is done, and only what is left when the backward ends is exposed.

    python3 scripts/distributed_cost_model.py [--measurements docs/distributed-measurements.json]
"""
import argparse, json, math, os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    # name: (layers, width, vocab, block, tokens per micro-batch)
    "shakespeare": (6, 384, 65, 256, 8 * 256),
    "gpt2": (12, 768, 50257, 1024, 4 * 1024),
}
LINKS_GBPS = [1, 10, 25, 100]
MACHINES = [2, 4, 8, 16, 32, 64]
BUCKET = 25 << 20


def parameters(L, C, V, T):
    per_layer = 12 * C * C + 13 * C
    return V * C + T * C + L * per_layer + 2 * C


def layout(L, C, V, T):
    """(name, elements) in the order the backward pass finishes them."""
    per_layer = 12 * C * C + 13 * C
    return [("ln_f", 2 * C)] + [(f"h.{l}", per_layer) for l in reversed(range(L))] + [("embeddings", V * C + T * C)]


def backward_ready_fractions(L, C, V, T):
    """When each range of `layout` is final, as a fraction of the backward pass (by FLOPs)."""
    head = 2 * C * V
    block = 24 * C * C + 4 * T * C  # the four matrix products and attention, per token
    total = head + L * block
    ready, done = [head / total], head
    for _ in range(L):
        done += block
        ready.append(done / total)
    ready.append(1.0)
    return ready


def allreduce(N, nbytes, alpha, beta):
    return 2 * (N - 1) * alpha + 2 * (N - 1) / N * nbytes / beta


def exposed_comm(N, model, alpha, beta, backward_s, overlap, wire_bytes=4):
    L, C, V, T, _ = MODELS[model] if isinstance(model, str) else model
    ranges = layout(L, C, V, T)
    if not overlap:
        return allreduce(N, sum(n for _, n in ranges) * wire_bytes, alpha, beta)
    ready = backward_ready_fractions(L, C, V, T)
    buckets, size = [], 0
    for (name, n), r in zip(ranges, ready):
        size += n * wire_bytes
        if size >= BUCKET or name == "embeddings":
            buckets.append((r * backward_s, size))
            size = 0
    end = 0.0
    for t_ready, nbytes in buckets:
        end = max(end, t_ready) + allreduce(N, nbytes, alpha, beta)
    return max(0.0, end - backward_s)


def fit_transport(points):
    """α from the smallest all-reduce of 2 ranks (2(N-1) = 2 messages), β by least squares
    of t − 2α = S/β over the sums of 1 MiB and more (2(N-1)/N = 1 at N = 2)."""
    smallest = min(points, key=lambda p: p["bytes"])
    alpha = smallest["seconds"] / 2
    large = [p for p in points if p["bytes"] >= 1 << 20]
    inverse = sum(p["bytes"] * (p["seconds"] - 2 * alpha) for p in large) / sum(p["bytes"] ** 2 for p in large)
    return alpha, 1 / inverse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measurements", default=os.path.join(ROOT, "docs/distributed-measurements.json"))
    ap.add_argument("--efficiency", type=float, default=0.9, help="fraction of a link's rate an all-reduce achieves")
    ap.add_argument("--latency-us", type=float, default=25.0, help="per-message latency of a network hop")
    args = ap.parse_args()
    m = json.load(open(args.measurements))

    print("## Fitted transports (2 ranks on this machine)\n")
    print("| transport | α (µs per message) | β (GB/s) | measured vs model, shakespeare gradients |")
    print("| --- | ---: | ---: | --- |")
    fitted = {}
    for name, points in m["allreduce"].items():
        alpha, beta = fit_transport(points)
        fitted[name] = (alpha, beta)
        s = next(p for p in points if p["name"] == "shakespeare")
        print(f"| {name} | {alpha * 1e6:.1f} | {beta / 1e9:.2f} | {s['seconds'] * 1e3:.1f} ms vs {allreduce(2, s['bytes'], alpha, beta) * 1e3:.1f} ms |")

    t_micro = m["micro_batch_seconds"]
    print("\n## The model against the measured 2-rank steps (shakespeare, 1 micro-batch per rank)\n")
    print("| run | measured s/step | model s/step |")
    print("| --- | ---: | ---: |")
    one_thread = m["step_seconds"]["1 process × 1 thread"] / 2  # one micro-batch on one core
    for label, measured in m["step_seconds"].items():
        if not label.startswith("2 ranks"):
            continue
        transport = ("shared memory" if "shared memory" in label else "TCP loopback" if "loopback" in label
                     else "veth at 1 Gb/s" if "veth at 1gbit" in label and "bf16" not in label else None)
        if transport is None:
            continue
        alpha, beta = fitted[transport]
        overlap = "overlapped" in label
        predicted = one_thread + exposed_comm(2, "shakespeare", alpha, beta, 2 / 3 * one_thread, overlap)
        print(f"| {label} | {measured:.3f} | {predicted:.3f} |")

    for model in MODELS:
        L, C, V, T, tokens = MODELS[model]
        P = parameters(L, C, V, T)
        tc = t_micro[model]
        print(f"\n## {model}: {P / 1e6:.1f}M parameters, {P * 4 / 1e6:.0f} MB of fp32 gradients; one machine "
              f"(this one, 2 threads) computes a micro-batch of {tokens} tokens in {tc:.2f} s\n")
        print("Scaling efficiency (single-machine step time ÷ step time); `k` micro-batches per machine per step.\n")
        header = "| link | mode | " + " | ".join(f"N={n}" for n in MACHINES) + " |"
        print(header)
        print("|" + " --- |" * (2 + len(MACHINES)))
        for gbps in LINKS_GBPS:
            beta = gbps * 1e9 / 8 * args.efficiency
            alpha = args.latency_us * 1e-6
            for overlap, k in [(False, 1), (True, 1), (True, 4)]:
                cells = []
                for N in MACHINES:
                    compute = k * tc
                    step = compute + exposed_comm(N, model, alpha, beta, 2 / 3 * tc, overlap)
                    cells.append(f"{compute / step:.2f} ({step:.2f} s)")
                mode = ("overlap" if overlap else "after backward") + f", k={k}"
                print(f"| {gbps} Gb/s | {mode} | " + " | ".join(cells) + " |")

    # GPT-2 small on 9B tokens (one pass over OpenWebText) in a week.
    L, C, V, T, tokens = MODELS["gpt2"]
    tc = t_micro["gpt2"]
    week = 7 * 24 * 3600
    print("\n## GPT-2 small on 9B tokens in a week\n")
    print(f"One machine like this one: {tokens / tc:,.0f} tokens/s, {9e9 / (tokens / tc) / 86400:,.0f} days alone.\n")
    print("| link | mode | machines needed | efficiency there | global batch (tokens) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for gbps in LINKS_GBPS:
        beta = gbps * 1e9 / 8 * args.efficiency
        alpha = args.latency_us * 1e-6
        for overlap, k in [(False, 1), (True, 1), (True, 4)]:
            N = 1
            while True:
                step = k * tc + (exposed_comm(N, "gpt2", alpha, beta, 2 / 3 * tc, overlap) if N > 1 else 0)
                if N * k * tokens / step * week >= 9e9 or N > 1_000_000:
                    break
                N += 1
            eff = k * tc / step
            mode = ("overlap" if overlap else "after backward") + f", k={k}"
            print(f"| {gbps} Gb/s | {mode} | {N:,} | {eff:.2f} | {N * k * tokens:,} |")


if __name__ == "__main__":
    main()
