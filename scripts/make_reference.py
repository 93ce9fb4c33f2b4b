#!/usr/bin/env python3
"""Writes Tests/Fixtures/gpt_reference.json: a PyTorch reference for Crystalline's GPT.

The model is GPT-2 (pre-LN, fused QKV with bias, GELU tanh, tied LM head) in Hugging Face
Conv1D layout (weights stored [in, out]). Weights are drawn with a fixed seed at a larger
scale than GPT-2's init so that every gradient is well away from zero. The fixture holds the
config, inputs, targets, every parameter, the logits, the loss, every parameter's gradient,
and the losses of 10 AdamW steps (decay on 2-D weights except the position table).

Run: pip install torch && python3 scripts/make_reference.py
"""
import json, math, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)  # the reference itself should carry no float32 noise

V, T, L, NH, C, B = 29, 8, 2, 2, 16, 3
cfg = dict(vocab_size=V, block_size=T, n_layer=L, n_head=NH, n_embd=C, batch=B)

def names():
    out = [("wte.weight", (V, C)), ("wpe.weight", (T, C))]
    for l in range(L):
        p = f"h.{l}."
        out += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
                (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
                (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
                (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
                (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
                (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    return out + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]

params = {}
for name, shape in names():
    if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
        t = 1.0 + 0.1 * torch.randn(shape)
    elif len(shape) == 1:
        t = 0.1 * torch.randn(shape)
    else:
        t = 0.3 * torch.randn(shape)
    # Round to float32 so both sides start from identical values.
    params[name] = t.float().double().requires_grad_(True)

def forward(idx, tgt):
    x = params["wte.weight"][idx] + params["wpe.weight"][: idx.shape[1]]
    hs = C // NH
    for l in range(L):
        p = lambda n: params[f"h.{l}.{n}"]
        h = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), 1e-5)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=2)
        q, k, v = [t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), 1e-5)
        h = F.gelu(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), params["ln_f.weight"], params["ln_f.bias"], 1e-5)
    logits = x @ params["wte.weight"].T
    return logits, F.cross_entropy(logits.view(-1, V), tgt.view(-1))

idx = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
initial = {n: t.detach().clone() for n, t in params.items()}
logits, loss = forward(idx, tgt)
loss.backward()
grads = {n: t.grad.detach().clone() for n, t in params.items()}

# 10 AdamW steps on the same batch.
adam = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
decay = [t for n, t in params.items() if t.dim() == 2 and n != "wpe.weight"]
other = [t for n, t in params.items() if not (t.dim() == 2 and n != "wpe.weight")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": adam["weight_decay"]},
                         {"params": other, "weight_decay": 0.0}], lr=adam["lr"], betas=adam["betas"], eps=adam["eps"])
losses = []
for _ in range(10):
    opt.zero_grad()
    _, l = forward(idx, tgt)
    losses.append(l.item())
    l.backward()
    opt.step()

flat = lambda t: [float(v) for v in t.detach().reshape(-1).tolist()]
fixture = dict(config=cfg, adamw=dict(lr=adam["lr"], beta1=adam["betas"][0], beta2=adam["betas"][1], eps=adam["eps"], weight_decay=adam["weight_decay"]),
               tokens=idx.reshape(-1).tolist(), targets=tgt.reshape(-1).tolist(),
               parameters={n: flat(t) for n, t in initial.items()},
               logits=flat(logits), loss=loss.item(),
               gradients={n: flat(t) for n, t in grads.items()},
               adamw_losses=losses)
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "gpt_reference.json")
with open(path, "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes); loss {loss.item():.6f}; "
      f"AdamW losses {losses[0]:.4f} -> {losses[-1]:.4f}")
