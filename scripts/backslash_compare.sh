#!/usr/bin/env bash
# Trains the same 6-layer GPT-2 on the corpus with lambda = 0 and two values of lambda
# (same start, same batches, same steps) and prints the table doc/backslash.md quotes:
# final val loss, nu, zero fraction at Delta, bits/param estimate, ms/step; then plots the
# curves (scripts/plot_backslash.sh) into OUT/plots.
#
# Usage: scripts/backslash_compare.sh [OUT=out/compare] [STEPS=150] [LAMBDAS="1000 4000"]
# Environment: B (4), T (64), MODEL (d6), EXTRA (more train_gpt2 flags, e.g. "-lv coupled")
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/compare}; STEPS=${2:-150}; LAMBDAS=${3:-"1000 4000"}
B=${B:-4}; T=${T:-64}; MODEL=${MODEL:-d6}; EXTRA=${EXTRA:-}
make -s train_gpt2
mkdir -p "$OUT"
logs=()
for lambda in 0 $LAMBDAS; do
  run="$OUT/lambda$lambda"
  rm -rf "$run"; mkdir -p "$run"
  echo "== lambda $lambda: ./train_gpt2 -e $MODEL -b $B -t $T -x $STEPS -v 50 -m 20 -g 0 -l $lambda $EXTRA -o $run"
  # shellcheck disable=SC2086
  nice ./train_gpt2 -e "$MODEL" -b "$B" -t "$T" -x "$STEPS" -v 50 -m 20 -g 0 -l "$lambda" $EXTRA -o "$run" > "$run/stdout.txt"
  grep -E "^BackSlash|^final val" "$run/stdout.txt"
  logs+=("$run/log.csv")
done
echo
echo "load: $(uptime | sed 's/.*load average: //')"
printf '| %-8s | %-8s | %-6s | %-9s | %-9s | %-9s |\n' lambda val_loss nu zero_frac bits/param ms/step
printf '|%s|%s|%s|%s|%s|%s|\n' ---------- ---------- -------- ----------- ----------- -----------
for lambda in 0 $LAMBDAS; do
  f="$OUT/lambda$lambda/log.csv"
  med=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ms_per_step") c = i; next } $c != "" { print $c }' "$f" |
        sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  awk -F, -v lambda="$lambda" -v med="$med" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["val_loss"] != "" { val = $c["val_loss"] }
    $c["nu"] != "" { nu = $c["nu"]; z = $c["zero_frac"]; bits = $c["bits_per_param"] }
    END { printf "| %-8s | %-8.4f | %-6.3f | %-9.4f | %-9.3f | %-9.0f |\n", lambda, val, nu, z, bits, med }' "$f"
done
scripts/plot_backslash.sh "$OUT/plots" "${logs[@]}"
