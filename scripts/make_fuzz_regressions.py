#!/usr/bin/env python3
"""Writes Tests/FuzzRegressions/<target>/<case>: one hostile input per class the reliability
issue reported, made from the valid seeds in Tests/FuzzSeeds. `swift test` (FuzzTests) replays
every file there and fails if one crashes; inputs that fuzzing finds later are copied in by hand
next to these. Standard library only; run from anywhere: python3 scripts/make_fuzz_regressions.py
"""
import json
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "Tests" / "FuzzSeeds"
out = root / "Tests" / "FuzzRegressions"


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(header, body=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + body


def split_safetensors(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


# safetensors: sizes that overflow, headers that lie
write("safetensors", "shape-2pow62-empty-data", safetensors({"t": {"dtype": "F32", "shape": [2**62], "data_offsets": [0, 0]}}))
write("safetensors", "shape-product-overflows", safetensors({"t": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}))
write("safetensors", "offsets-past-the-end", safetensors({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 2**62]}}, b"\0" * 16))
write("safetensors", "metadata-not-strings", safetensors({"__metadata__": {"a": 1}, "t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
write("safetensors", "header-length-2pow63", struct.pack("<Q", 2**63) + b"{}")

# checkpoint: moments longer and shorter than the parameters (the heap overflow), absurd state
ckpt = (seeds / "checkpoint" / "checkpoint.safetensors").read_bytes()
header, body = split_safetensors(ckpt)
meta = {k: v for k, v in header.pop("__metadata__").items() if not k.startswith("cllm.crc32.")}
tensors = {name: body[e["data_offsets"][0]:e["data_offsets"][1]] for name, e in header.items()}


def checkpoint(tensors, meta):
    hdr, data = {"__metadata__": meta}, b""
    for name, raw in tensors.items():
        hdr[name] = {"dtype": "F32", "shape": [len(raw) // 4], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return safetensors(hdr, data)


longer = dict(tensors, **{"optimizer.m": tensors["optimizer.m"] + b"\0" * 4000})
write("checkpoint", "moments-longer-than-parameters", checkpoint(longer, meta))
shorter = dict(tensors, **{"optimizer.v": tensors["optimizer.v"][:-8]})
write("checkpoint", "moments-shorter-than-parameters", checkpoint(shorter, meta))
for name, old, new in [("batch-size-1e12", '"batch_size":2', '"batch_size":1000000000000'),
                       ("negative-step", '"step":2', '"step":-5'),
                       ("n-layer-4e9", '"n_layer":1', '"n_layer":4000000000')]:
    state = meta["trainer_state"]
    assert old in state, (name, old)
    write("checkpoint", name, checkpoint(tensors, dict(meta, trainer_state=state.replace(old, new, 1))))
nan = bytearray(tensors["parameters"])
nan[40:44] = struct.pack("<f", float("nan"))
write("checkpoint", "nan-parameter", checkpoint(dict(tensors, parameters=bytes(nan)), meta))

# model-weights: a NaN weight (checksums recomputed away), a flipped byte (checksum kept)
model = (seeds / "model-weights" / "model.safetensors").read_bytes()
mh, mb = split_safetensors(model)
mmeta = mh.pop("__metadata__")
start = mh["h.0.mlp.c_fc.weight"]["data_offsets"][0]
poisoned = bytearray(mb)
poisoned[start:start + 4] = struct.pack("<f", float("inf"))
write("model-weights", "infinite-weight", safetensors(dict(mh, __metadata__={k: v for k, v in mmeta.items() if not k.startswith("cllm.crc32.")}), bytes(poisoned)))
flipped = bytearray(model)
flipped[-5] ^= 0x40
write("model-weights", "flipped-byte-fails-checksum", bytes(flipped))

# model-config: the sizes that made `models list` grow to 11 GB, and wrong types
config = json.loads((seeds / "model-config" / "config.json").read_text())
for name, key, value in [("n-layer-minus-1", "n_layer", -1), ("n-layer-4e9", "n_layer", 4000000000),
                         ("vocab-size-4e9", "vocab_size", 4000000000), ("n-positions-4e9", "n_positions", 4000000000),
                         ("n-layer-fractional", "n_layer", 2.5), ("n-embd-string", "n_embd", "wide")]:
    c = dict(config)
    c.pop("cllm", None)
    c[key] = value
    write("model-config", name, json.dumps(c))
c = dict(config)
c["cllm"] = dict(c["cllm"], architecture=387904)
write("model-config", "architecture-not-an-object.json", json.dumps(c))

# hf-tokenizer: ids that would size an array of 2^62
for name, i in [("id-2pow62", 2**62), ("id-2pow63-1", 2**63 - 1), ("id-negative", -1)]:
    write("hf-tokenizer", name, json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": i}, "merges": []}}))

# tokenizer-file
write("tokenizer-file", "char-entry-two-scalars", json.dumps({"kind": "char", "characters": ["ab", "c"]}))
write("tokenizer-file", "bpe-merge-of-unknown-tokens", json.dumps({"kind": "bpe", "merges": ["zz qq"]}))
write("tokenizer-file", "unknown-special", json.dumps({"kind": "char", "characters": ["a"], "specials": ["<mask>"]}))

# training-config
for name, body in [("n-layer-100000", {"n_layer": 100000}), ("batch-size-4e9", {"batch_size": 4000000000}),
                   ("epochs-1e300", {"epochs": 1e300}), ("n-layer-fractional", {"n_layer": 2.5}),
                   ("section-not-object", {"model": [1, 2]})]:
    write("training-config", name, json.dumps(body))

# token-shard: counts that lie
shard = (seeds / "token-shard" / "train.bin").read_bytes()
write("token-shard", "negative-count", shard[:8] + struct.pack("<i", -1) + shard[12:])
write("token-shard", "count-past-the-end", shard[:8] + struct.pack("<i", 2**31 - 1) + shard[12:])

# gguf: nesting deep enough to overflow the stack, zero alignment, counts beyond Int
def gguf(kv):
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + b"".join(kv)


def key(s):
    return struct.pack("<Q", len(s)) + s.encode()


# Build an array of arrays nested 20000 deep: type 9 (array), inner type 9, length 1, ...
deep = b""
for _ in range(20000):
    deep += struct.pack("<IQ", 9, 1)
deep += struct.pack("<IQ", 4, 0)
write("gguf", "arrays-nested-20000-deep", gguf([key("x") + struct.pack("<I", 9) + deep]))
write("gguf", "alignment-zero", gguf([key("general.alignment") + struct.pack("<II", 4, 0)]))
write("gguf", "tensor-count-2pow63", b"GGUF" + struct.pack("<IQQ", 3, 2**63, 0))
write("gguf", "string-length-2pow62", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62))

# corpus-text: one chunk that quadratic BPE merging would take hours over
write("corpus-text", "one-long-word", "ab" * 50000)
write("corpus-text", "invalid-utf8-everywhere", bytes(range(128, 256)) * 20)
print(f"wrote {sum(1 for _ in out.rglob('*') if _.is_file())} regression inputs under {out.relative_to(root)}")
