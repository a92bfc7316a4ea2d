#!/usr/bin/python3
"""Writes an llm.c fp32 checkpoint of a GPT-2 shape filled with generalized-Gaussian
weights, a stand-in for a trained model in codec benchmarks (scripts/bench_codec.sh).

  scripts/gg_model.py OUT.bin [--layers 12] [--channels 768] [--heads 12] [--vocab 50257]
                      [--seq 1024] [--nu 1.4] [--sigma 0.02] [--seed 0]

Weight matrices and embeddings: GG with shape nu and standard deviation sigma (trained
GPT-2 fits nu ~ 1.5, doc/method.md section 1); biases: GG with sigma / 4; LayerNorm gains:
1 + GG with sigma; the padded rows of wte: zero. Needs numpy (Debian's python3-numpy).
"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=12)
ap.add_argument("--channels", type=int, default=768)
ap.add_argument("--heads", type=int, default=12)
ap.add_argument("--vocab", type=int, default=50257)
ap.add_argument("--seq", type=int, default=1024)
ap.add_argument("--nu", type=float, default=1.4)
ap.add_argument("--sigma", type=float, default=0.02)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
L, C, V, T = a.layers, a.channels, a.vocab, a.seq
Vp = (V + 63) // 64 * 64
from math import lgamma, exp, sqrt

def gg(n, sigma):
    alpha = sigma * sqrt(exp(lgamma(1 / a.nu) - lgamma(3 / a.nu)))
    x = alpha * rng.standard_gamma(1 / a.nu, n).astype(np.float32) ** np.float32(1 / a.nu)
    return np.where(rng.integers(0, 2, n, dtype=np.int8) == 1, x, -x).astype(np.float32)

# llm.c's 16 tensors: (numel, kind) with kind m = matrix, b = bias, g = LayerNorm gain
parts = [(Vp * C, "wte"), (T * C, "m"), (L * C, "g"), (L * C, "b"), (L * 3 * C * C, "m"), (L * 3 * C, "b"),
         (L * C * C, "m"), (L * C, "b"), (L * C, "g"), (L * C, "b"), (L * 4 * C * C, "m"), (L * 4 * C, "b"),
         (L * 4 * C * C, "m"), (L * C, "b"), (C, "g"), (C, "b")]
header = np.zeros(256, np.int32)
header[:8] = [20240326, 3, T, V, L, a.heads, C, Vp]
with open(a.out, "wb") as f:
    f.write(header.tobytes())
    for n, kind in parts:
        if kind == "wte":
            w = gg(n, a.sigma)
            w[V * C:] = 0
        elif kind == "m":
            w = gg(n, a.sigma)
        elif kind == "b":
            w = gg(n, a.sigma / 4)
        else:
            w = 1 + gg(n, a.sigma)
        f.write(w.astype(np.float32).tobytes())
print("%s: GPT-2 L=%d C=%d V=%d maxT=%d, GG nu=%.2f sigma=%.3f, %d params" % (a.out, L, C, V, T, a.nu, a.sigma, sum(n for n, _ in parts)))
