#!/usr/bin/python3
"""
An independent PyTorch computation of BackSlash's update (doc/method.md section 3), to check
llmc/dggr.h: reads a trajectory written by `test_dggr --trajectory` (the problem, its
settings and the C weights after each step), recomputes the same steps with autograd
through D + lambda * R and torch.optim.AdamW, and compares.

  D(W) = sum_i a_i (w_i - b_i)^2 / 2           (a quadratic stand-in for the cross-entropy)
  R(W) = (1/N) sum_{i in S} (|w_i| + eps)^nu_i  (S: the constrained tensors, N = |S|)
  coupled:   loss = s D + lambda R, one AdamW step (s: the clipping factor, which scales
             the data gradient only; weight decay per tensor as the C segments say)
  decoupled: loss = s D, one AdamW step, then w -= lambda dR/dw at the new w (no lr)
  proximal:  as decoupled, but w = sign(w) max(|w| - lambda |dR/dw|, 0)
  nu: from the current weights every step, solving Gamma(2/nu)^2 / (Gamma(1/nu) Gamma(3/nu))
      = mean|w|^2 / mean w^2 with scipy-free bisection on torch.lgamma in float64
      (global: over S; per tensor: each tensor of S; fixed: the given value).

Usage: dggr_reference.py TRAJECTORY...   (exit 0 when all are within tolerance, 1 otherwise)
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


def check(path):
    raw = open(path, "rb").read()
    hdr = np.frombuffer(raw, dtype=np.int32, count=8)
    n, nseg, steps, variant, shape = (int(x) for x in hdr[:5])
    hyper = np.frombuffer(raw, np.float32, 10, 32)
    lam, eps, fixed_nu, lr, beta1, beta2, adam_eps, wd, grad_scale = (float(x) for x in hyper[:9])
    off = 72
    segs = np.frombuffer(raw, np.int32, 4 * nseg, off).reshape(nseg, 4)
    off += 16 * nseg
    a = torch.tensor(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
    b = torch.tensor(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
    w0 = np.frombuffer(raw, np.float32, n, off).copy(); off += 4 * n
    c_w, c_nu, c_rate = [], [], []
    for _ in range(steps):
        c_w.append(np.frombuffer(raw, np.float32, n, off).copy()); off += 4 * n
        c_nu.append(np.frombuffer(raw, np.float64, 1, off)[0]); off += 8
        c_rate.append(np.frombuffer(raw, np.float64, 1, off)[0]); off += 8
    assert off == len(raw), "trajectory file size"

    # one tensor per segment, so that weight decay can be set per tensor (param groups)
    ws = [torch.tensor(w0[o:o + k], requires_grad=True) for o, k, _, _ in segs]
    opt = torch.optim.AdamW([{"params": [x], "weight_decay": wd if dec else 0.0} for x, (_, _, _, dec) in zip(ws, segs)],
                            lr=lr, betas=(beta1, beta2), eps=adam_eps)
    cons = [x for x, (_, _, c, _) in zip(ws, segs) if c]
    N = sum(x.numel() for x in cons)
    a_s = [a[o:o + k] for o, k, _, _ in segs]
    b_s = [b[o:o + k] for o, k, _, _ in segs]
    names = ["coupled", "decoupled", "proximal"][variant] + "/" + ["global", "tensor", "fixed"][shape]
    ok = True
    worst = 0.0
    split = np.zeros(n, dtype=bool)
    prev_ref = w0

    def nu_of_segment(nus):  # nus lists the constrained segments' shapes: one per segment
        it = iter(nus)
        return [float(next(it)) if c else 0.0 for _, _, c, _ in segs]

    for t in range(steps):
        # the shapes of this step, from the current weights
        if shape == 0:
            nus = [shape_estimate(torch.cat([x.detach() for x in cons]))] * len(cons)
        elif shape == 1:
            nus = [shape_estimate(x) for x in cons]
        else:
            nus = [fixed_nu] * len(cons)
        opt.zero_grad()
        # the data term's gradient is scaled by the clipping factor, the rate's is not
        D = sum(0.5 * (ak * (x - bk) ** 2).sum() for x, ak, bk in zip(ws, a_s, b_s))
        if variant == 0:
            R = sum(((x.abs() + eps) ** nu).sum() for x, nu in zip(cons, nus)) / N
            (grad_scale * D + lam * R).backward()
            rate = R.item()
            opt.step()
        else:
            (grad_scale * D).backward()
            opt.step()
            with torch.no_grad():
                R = 0.0
                for x, nu in zip(cons, nus):
                    R += ((x.abs() + eps) ** nu).sum().item()
                    shrink = lam * nu / N * (x.abs() + eps) ** (nu - 1)
                    if variant == 1:
                        x -= torch.sign(x) * shrink
                    else:  # proximal: stop at zero
                        x.copy_(torch.sign(x) * torch.clamp(x.abs() - shrink, min=0.0))
                rate = R / N
        w = torch.cat([x.detach() for x in ws])
        ref = w.detach().numpy()
        # tolerance: float32 rounding of both computations and the C code's fast power
        # (llmc/fastpow.h: relative error < 3e-6) pass through Adam's normalisation and grow over the
        # steps; 1e-5 absolute (lr = 1e-2: 1e-3 of one step's move) plus 1e-5 relative
        err = np.abs(c_w[t] - ref)
        tol = 1e-5 + 1e-5 * np.abs(ref)
        # a weight that C and torch put on opposite sides of zero, within the tolerance, gets
        # rate gradients of opposite sign from then on (sign(w) times a large power near 0
        # for nu < 1), so its later values are rounding's coin flip, not the code's error:
        # it is left out from the next step on, counted, and there must be few of them
        err[split] = 0.0
        split |= (np.sign(c_w[t]) != np.sign(ref)) & (err <= tol)
        worst = max(worst, float(err.max()))
        if not np.all(err <= tol):
            i = int(np.argmax(err - tol))
            print(f"{names} step {t + 1}: w[{i}] C {c_w[t][i]:.9g} torch {ref[i]:.9g} (|diff| {err[i]:.3g})")
            ok = False
        # nu of the same weights agrees to 1e-12; the weights themselves differ by rounding
        if shape == 0 and abs(c_nu[t] - nus[0]) > 1e-6:
            print(f"{names} step {t + 1}: nu C {c_nu[t]:.12f} torch {nus[0]:.12f}")
            ok = False
        # the rate, allowing for what the split weights (above) contribute: their (|w|+eps)^nu
        # at C's and torch's values, before and after this step
        split_rate = 0.0
        for x_nu, (o, k, c, _) in zip(nu_of_segment(nus), segs):
            if c and split[o:o + k].any():
                m = split[o:o + k]
                for cw, rw in ((c_w[t - 1] if t > 0 else w0, prev_ref), (c_w[t], ref)):
                    split_rate += float(np.abs((np.abs(cw[o:o + k][m]) + eps) ** x_nu -
                                               (np.abs(rw[o:o + k][m]) + eps) ** x_nu).sum())
        prev_ref = ref
        if abs(c_rate[t] - rate) > 1e-5 * abs(rate) + split_rate / N:
            print(f"{names} step {t + 1}: rate C {c_rate[t]:.9g} torch {rate:.9g}")
            ok = False
    if split.sum() > n // 1000:
        print(f"{names}: {split.sum()} weights ended on opposite sides of zero (more than 0.1%)")
        ok = False
    print(f"{names}: {steps} steps, {n} weights ({N} constrained), max |w_C - w_torch| = {worst:.2e} "
          f"({split.sum()} left out after a sign split at zero), "
          f"final nu {c_nu[-1]:.4f}, rate C {c_rate[-1]:.6g} -> {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def main():
    if len(sys.argv) < 2:
        print("usage: dggr_reference.py TRAJECTORY...", file=sys.stderr)
        return 2
    results = [check(p) for p in sys.argv[1:]]  # every file, even after a failure
    return 1 if any(results) else 0


if __name__ == "__main__":
    sys.exit(main())
