#!/usr/bin/python3
"""The polynomial coefficients of llmc/fastpow.h: near-minimax fits by Lawson's iteration
(iteratively reweighted least squares) on 4000 Chebyshev points, printed as floats.

  P: log2(1 + f) = f P(f), f in [sqrt(1/2) - 1, sqrt(2) - 1], weight |f| (the absolute
     error of log2, which is what the power's relative error sees), degree 7
  Q: 2^r = 1 + r Q'(r), r in [-1/2, 1/2], weight |r| / 2^r (the relative error of 2^r,
     with 2^0 = 1 exact), degree 5

Usage: /usr/bin/python3 dev/bench/fastpow_fit.py   (needs numpy)
"""
import numpy as np


def lawson(g, a, b, deg, weight, iters=200):
    x = (a + b) / 2 + (b - a) / 2 * np.cos(np.linspace(0, np.pi, 4000))
    y, w = g(x), weight(x)
    A = np.vander(x, deg + 1, increasing=True)
    lw = np.ones_like(x) / len(x)
    for _ in range(iters):
        s = np.sqrt(lw)
        c, *_ = np.linalg.lstsq(A * (s * w)[:, None], y * s * w, rcond=None)
        e = np.abs((A @ c - y) * w)
        lw = lw * e
        lw /= lw.sum()
    return c, e.max()


def main():
    lo = float(np.frombuffer(np.uint32(0x3F3504F3).tobytes(), np.float32)[0]) - 1.0
    hi = 2.0 * (lo + 1.0) - 1.0
    safe = lambda t: np.where(t == 0, 1.0, t)
    c, e = lawson(lambda f: np.log2(1 + f) / safe(f) + (f == 0) / np.log(2), lo, hi, 7, np.abs)
    print(f"P (degree 7, f in [{lo:.4f}, {hi:.4f}]): max |error of log2| {e:.3g}")
    for k, v in enumerate(c):
        print(f"#define FASTPOW_P{k} {float(np.float32(v))!r}f")
    c, e = lawson(lambda r: (2.0**r - 1) / safe(r) + (r == 0) * np.log(2), -0.5, 0.5, 4,
                  lambda r: np.abs(r) / 2.0**r)
    print(f"Q (degree 5, r in [-0.5, 0.5], Q0 = 1): max relative error {e:.3g}")
    print("#define FASTPOW_Q0 1.0f")
    for k, v in enumerate(c):
        print(f"#define FASTPOW_Q{k + 1} {float(np.float32(v))!r}f")


if __name__ == "__main__":
    main()
