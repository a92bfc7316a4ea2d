#!/usr/bin/python3
"""
An independent PyTorch computation of BackSlash's update (BACKSLASH.md section 3), to check
llmc/dggr.h: reads a trajectory written by `test_dggr --trajectory` (the problem, its
settings and the C weights after each step), recomputes the same steps with autograd
through D + lambda * R and torch.optim.AdamW, and compares.

  D(W) = sum_i a_i (w_i - b_i)^2 / 2           (a quadratic stand-in for the cross-entropy)
  R(W) = (1/N) sum_{i in S} (|w_i| + eps)^nu_i  (S: the constrained tensors, N = |S|)
  coupled:   loss = D + lambda R, one AdamW step
  decoupled: loss = D, one AdamW step, then w -= lambda dR/dw at the new w (no lr)
  nu: from the current weights every step, solving Gamma(2/nu)^2 / (Gamma(1/nu) Gamma(3/nu))
      = mean|w|^2 / mean w^2 with scipy-free bisection on torch.lgamma in float64
      (global: over S; per tensor: each tensor of S; fixed: the given value).

Usage: dggr_reference.py TRAJECTORY   (exit 0 when within tolerance, 1 otherwise)
"""
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float32)


def log_rho(nu):
    nu = torch.as_tensor(nu, dtype=torch.float64)
    return 2 * torch.lgamma(2 / nu) - torch.lgamma(1 / nu) - torch.lgamma(3 / nu)


def shape_estimate(w):
    w = w.detach().to(torch.float64)
    m1 = w.abs().mean()
    m2 = (w * w).mean()
    if m1 <= 0 or m2 <= 0:
        return 2.0
    target = 2 * torch.log(m1) - torch.log(m2)
    lo, hi = 0.1, 3.0
    if target <= log_rho(lo):
        return lo
    if target >= log_rho(hi):
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if log_rho(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main():
    path = sys.argv[1]
    raw = open(path, "rb").read()
    hdr = np.frombuffer(raw, dtype=np.int32, count=8)
    n, nseg, steps, variant, shape = (int(x) for x in hdr[:5])
    lam, eps, fixed_nu, lr, beta1, beta2, adam_eps, wd = (float(x) for x in np.frombuffer(raw, np.float32, 8, 32))
    off = 64
    segs = np.frombuffer(raw, np.int32, 3 * nseg, off).reshape(nseg, 3)
    off += 12 * nseg
    a = torch.tensor(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
    b = torch.tensor(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
    w0 = np.frombuffer(raw, np.float32, n, off).copy(); off += 4 * n
    c_w, c_nu, c_rate = [], [], []
    for _ in range(steps):
        c_w.append(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
        c_nu.append(np.frombuffer(raw, np.float64, 1, off)[0]); off += 8
        c_rate.append(np.frombuffer(raw, np.float64, 1, off)[0]); off += 8
    assert off == len(raw), "trajectory file size"

    constrained = [(int(o), int(k)) for o, k, c in segs if c]
    N = sum(k for _, k in constrained)
    w = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.AdamW([w], lr=lr, betas=(beta1, beta2), eps=adam_eps, weight_decay=wd)
    names = ["coupled", "decoupled"][variant] + "/" + ["global", "tensor", "fixed"][shape]
    ok = True
    worst = 0.0
    for t in range(steps):
        # the shapes of this step, from the current weights
        if shape == 0:
            S = torch.cat([w.detach()[o:o + k] for o, k in constrained])
            nus = [shape_estimate(S)] * len(constrained)
        elif shape == 1:
            nus = [shape_estimate(w.detach()[o:o + k]) for o, k in constrained]
        else:
            nus = [fixed_nu] * len(constrained)
        opt.zero_grad()
        D = 0.5 * (a * (w - b) ** 2).sum()
        if variant == 0:
            R = sum(((w[o:o + k].abs() + eps) ** nu).sum() for (o, k), nu in zip(constrained, nus)) / N
            (D + lam * R).backward()
            rate = R.item()
            opt.step()
        else:
            D.backward()
            opt.step()
            with torch.no_grad():
                R = 0.0
                for (o, k), nu in zip(constrained, nus):
                    x = w[o:o + k]
                    R += ((x.abs() + eps) ** nu).sum().item()
                    x -= lam * nu / N * torch.sign(x) * (x.abs() + eps) ** (nu - 1)
                rate = R / N
        ref = w.detach().numpy()
        # tolerance: float32 rounding of both computations and the C code's fast power
        # (relative error < 5e-6) pass through Adam's normalisation and grow over the
        # steps; 1e-5 absolute (lr = 1e-2: 1e-3 of one step's move) plus 1e-5 relative
        err = np.abs(c_w[t] - ref)
        tol = 1e-5 + 1e-5 * np.abs(ref)
        worst = max(worst, float(err.max()))
        if not np.all(err <= tol):
            i = int(np.argmax(err - tol))
            print(f"{names} step {t + 1}: w[{i}] C {c_w[t][i]:.9g} torch {ref[i]:.9g} (|diff| {err[i]:.3g})")
            ok = False
        # nu of the same weights agrees to 1e-12; the weights themselves differ by rounding
        if shape == 0 and abs(c_nu[t] - nus[0]) > 1e-6:
            print(f"{names} step {t + 1}: nu C {c_nu[t]:.12f} torch {nus[0]:.12f}")
            ok = False
        if abs(c_rate[t] - rate) > 1e-5 * abs(rate):
            print(f"{names} step {t + 1}: rate C {c_rate[t]:.9g} torch {rate:.9g}")
            ok = False
    print(f"{names}: {steps} steps, {n} weights ({N} constrained), max |w_C - w_torch| = {worst:.2e}, "
          f"final nu {c_nu[-1]:.4f}, rate C {c_rate[-1]:.6g} -> {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
