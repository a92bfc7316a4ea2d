#!/usr/bin/env bash
# Plots BackSlash training curves from train_gpt2's CSV logs with gnuplot:
#   OUTDIR/backslash_loss.png   training loss (points) and val loss (lines) per step
#   OUTDIR/backslash_rate.png   the DGGR rate R per step
#   OUTDIR/backslash_nu.png     the estimated shape nu per step
#   OUTDIR/backslash_zeros.png  the fraction of constrained weights that quantize to zero
# One curve per log; a log's label is its directory's name (out/lambda1000/log.csv ->
# "lambda1000").
# Usage: scripts/plot_backslash.sh OUTDIR LOG.csv [LOG.csv ...]
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 OUTDIR LOG.csv [LOG.csv ...]" >&2; exit 2; fi
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
out=$1; shift
mkdir -p "$out"
for f in "$@"; do
  [ -r "$f" ] || { echo "$f: cannot read" >&2; exit 1; }
  for col in step loss val_loss rate nu zero_frac; do
    head -n 1 "$f" | tr ',' '\n' | grep -qx "$col" || { echo "$f: no column $col (a log of train_gpt2?)" >&2; exit 1; }
  done
done

# gnuplot's plot clauses, one per log, for a column
clauses() { # column style
  local col=$1 style=$2 sep=""
  for f in "${logs[@]}"; do
    label=$(basename "$(dirname "$f")")
    printf '%s"%s" using "step":"%s" with %s title "%s"' "$sep" "$f" "$col" "$style" "$label"
    sep=", "
  done
}
logs=("$@")

gnuplot <<GP
set datafile separator ","
set datafile missing ""
set terminal pngcairo size 900,540 font ",11" noenhanced
set grid
set key top right
set xlabel "step"

set output "$out/backslash_loss.png"
set title "loss (points: training batches, lines: validation)"
set ylabel "cross-entropy (nats)"
plot $(clauses loss "points pt 7 ps 0.3"), $(clauses val_loss "linespoints lw 2")

set output "$out/backslash_rate.png"
set title "DGGR rate R = (1/N) sum (|w| + eps)^nu"
set ylabel "R"
plot $(clauses rate "lines lw 2")

set output "$out/backslash_nu.png"
set title "shape nu of the constrained weights (estimated every step)"
set ylabel "nu"
plot $(clauses nu "lines lw 2")

set output "$out/backslash_zeros.png"
set title "fraction of constrained weights that quantize to zero"
set ylabel "zero fraction"
set key bottom right
plot $(clauses zero_frac "lines lw 2")
GP
echo "wrote $out/backslash_loss.png, backslash_rate.png, backslash_nu.png, backslash_zeros.png"
