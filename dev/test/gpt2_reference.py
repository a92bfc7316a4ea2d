#!/usr/bin/python3
"""
PyTorch reference for the CPU trainer's GPT-2 (llmc/gpt2_cpu.h), run with Debian's
python3-torch: /usr/bin/python3 dev/test/gpt2_reference.py OUTDIR

Writes, for a small config, in float64 (the "truth" our float32 code is compared to):
  OUTDIR/model.bin  the initial weights as an llm.c fp32 checkpoint (version 3), which
                    test_gpt2 loads through the same reader as the trainer
  OUTDIR/debug.bin  inputs, targets, logits, loss, every parameter gradient, and the
                    losses of 10 AdamW steps (with gradient clipping) on that batch

debug.bin layout (little-endian):
  header 256 int32: [0] 20241123 magic, [1] 1 version, [2] B, [3] T, [4] steps,
                    [5] V, [6] Vp, [7] num_params; then float32 [8..15]: lr, beta1,
                    beta2, eps, weight_decay, grad_clip (bit patterns in the int32 slots)
  int32   inputs[B*T], targets[B*T]
  float32 logits[B*T*V]     (the V real entries of each position)
  float32 loss
  float32 grads[num_params] (llm.c's order, padded wte rows included: zero)
  float32 step_losses[steps]
The model is GPT-2 exactly as llm.c defines it: token + position embedding, pre-LN blocks
(LayerNorm eps 1e-5, causal attention with q/k/v in that order in qkvw's rows, heads
contiguous within each, GELU tanh MLP), final LayerNorm, logits = lnf @ wte^T over the
first V rows. Weights are drawn larger than GPT-2's init (std 0.1, LayerNorm weights
around 1) so that attention is far from uniform and every path carries signal.
AdamW as adamw.h: weight decay on wte, wpe, qkvw, attprojw, fcw, fcprojw only.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# the config: small, but with padding (V 1000 -> Vp 1024), T < maxT, several heads
L, C, NH, V, MAXT = 2, 64, 4, 1000, 32
VP = (V + 63) // 64 * 64
B, T = 4, 24
STEPS = 10
LR, BETA1, BETA2, EPS, WD, CLIP = 1e-3, 0.9, 0.95, 1e-8, 0.1, 1.0

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
SHAPES = {"wte": (VP, C), "wpe": (MAXT, C), "ln1w": (L, C), "ln1b": (L, C),
          "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C), "attprojb": (L, C),
          "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
          "fcprojw": (L, C, 4 * C), "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,)}
MATRICES = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def init_params(rng):
    p = {}
    for n in NAMES:
        shape = SHAPES[n]
        if n in ("ln1w", "ln2w", "lnfw"):
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif n in MATRICES:
            a = 0.1 * rng.standard_normal(shape)
        else:
            a = 0.1 * rng.standard_normal(shape)
        if n == "wte":
            a[V:] = 0.0  # padded rows, as llm.c
        # round to float32: the checkpoint holds float32, and both sides start from it
        p[n] = torch.tensor(a.astype(np.float32).astype(np.float64), requires_grad=True)
    return p


def forward(p, idx, targets):
    x = p["wte"][idx] + p["wpe"][:T]
    hs = C // NH
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / (hs ** 0.5)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(h @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = (x @ p["wte"].T)[..., :V]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    return logits, loss


def flat(tensors):
    return np.concatenate([t.detach().numpy().reshape(-1) for t in tensors]).astype(np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 dev/test/gpt2_reference.py OUTDIR")
    out = sys.argv[1]
    rng = np.random.default_rng(20241123)
    p = init_params(rng)
    tokens = rng.integers(0, V, size=(B, T + 1))
    idx = torch.tensor(tokens[:, :T])
    targets = torch.tensor(tokens[:, 1:])
    num_params = sum(int(np.prod(SHAPES[n])) for n in NAMES)

    # llm.c checkpoint of the initial weights
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 3, MAXT, V, L, NH, C, VP]
    with open(f"{out}/model.bin", "wb") as f:
        f.write(header.tobytes())
        f.write(flat(p[n] for n in NAMES).tobytes())

    logits, loss = forward(p, idx, targets)
    loss.backward()
    grads = flat(p[n].grad for n in NAMES)
    logits0 = logits.detach().numpy().astype(np.float32)
    loss0 = float(loss)

    # 10 AdamW steps on the same batch
    for n in NAMES:
        p[n].grad = None
    groups = [{"params": [p[n] for n in NAMES if n in MATRICES], "weight_decay": WD},
              {"params": [p[n] for n in NAMES if n not in MATRICES], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS)
    step_losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, loss = forward(p, idx, targets)
        loss.backward()
        # clip as the trainer does: scale by CLIP / norm when norm > CLIP
        norm = torch.sqrt(sum((p[n].grad ** 2).sum() for n in NAMES))
        if norm > CLIP:
            for n in NAMES:
                p[n].grad *= CLIP / norm
        opt.step()
        step_losses.append(float(loss))

    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20241123, 1, B, T, STEPS, V, VP, num_params]
    header[8:14] = np.array([LR, BETA1, BETA2, EPS, WD, CLIP], dtype=np.float32).view(np.int32)
    with open(f"{out}/debug.bin", "wb") as f:
        f.write(header.tobytes())
        f.write(tokens[:, :T].astype(np.int32).tobytes())
        f.write(tokens[:, 1:].astype(np.int32).tobytes())
        f.write(logits0.tobytes())
        f.write(struct.pack("<f", loss0))
        f.write(grads.tobytes())
        f.write(np.array(step_losses, dtype=np.float32).tobytes())
    print(f"reference: L={L} C={C} NH={NH} V={V} (Vp {VP}) maxT={MAXT} B={B} T={T}, {num_params} parameters")
    print(f"loss {loss0:.6f}; step losses " + " ".join(f"{x:.6f}" for x in step_losses))


if __name__ == "__main__":
    main()
