#!/usr/bin/env python3
"""Paired comparison of two models' val losses on the same batches.

Usage: scripts/paired_se.py A.txt B.txt [more.txt ...]
Each file holds one mean loss per val batch (eval_gpt2 -pb), the same batches in the same
order. Prints each file's mean with its standard error (batch-to-batch spread / sqrt(n)),
and each later file's difference from the first, mean and paired standard error (the
spread of the per-batch differences / sqrt(n)), which is far smaller than the unpaired one
because the batches' difficulty cancels. Batches are consecutive windows of the val file,
treated as independent samples; that is an approximation (neighbouring text is related).
With --csv, one line per file: file,n,mean,se,diff,diff_se.
"""
import math
import sys


def read(path):
    try:
        vals = [float(line) for line in open(path) if line.strip()]
    except (OSError, ValueError) as e:
        sys.exit("error: %s: %s" % (path, e))
    if len(vals) < 2:
        sys.exit("error: %s: needs at least 2 batch losses, has %d" % (path, len(vals)))
    if any(math.isnan(v) or math.isinf(v) for v in vals):
        sys.exit("error: %s: holds a non-finite loss" % path)
    return vals


def mean_se(v):
    n = len(v)
    m = sum(v) / n
    var = sum((x - m) ** 2 for x in v) / (n - 1)
    return m, math.sqrt(var / n)


def main(argv):
    csv = "--csv" in argv
    files = [a for a in argv if a != "--csv"]
    if len(files) < 2:
        sys.exit(__doc__)
    base = read(files[0])
    if csv:
        print("file,n,mean,se,diff,diff_se")
    for i, f in enumerate(files):
        v = base if i == 0 else read(f)
        if len(v) != len(base):
            sys.exit("error: %s has %d batches, %s has %d: not the same batches" % (f, len(v), files[0], len(base)))
        m, se = mean_se(v)
        d, dse = mean_se([x - y for x, y in zip(v, base)]) if i else (0.0, 0.0)
        if csv:
            print("%s,%d,%.6f,%.6f,%.6f,%.6f" % (f, len(v), m, se, d, dse))
        elif i == 0:
            print("%s: %.4f +- %.4f (%d batches)" % (f, m, se, len(v)))
        else:
            print("%s: %.4f +- %.4f, minus the first: %+.4f +- %.4f (paired)" % (f, m, se, d, dse))


if __name__ == "__main__":
    main(sys.argv[1:])
