#!/usr/bin/env bash
# BackSlash's cost per training step, printed as tables (doc/backslash.md quotes them).
#
#  1. the optimizer step alone (dev/bench/bench_dggr.c): plain AdamW against the fused
#     AdamW + DGGR pass in its modes, on the parameter layouts of GPT-2 124M and of the
#     6-layer, 384-wide model; median of REPS repetitions each
#  2. whole training steps of train_gpt2 with -l 0 against -l LAMBDA (coupled and
#     decoupled), same model, batch and data: median ms/step over STEPS steps (the first
#     2 steps dropped), ROUNDS alternating rounds; with BINS="a b" several builds of the
#     trainer (e.g. an older one) take turns within each round, each against its own -l 0
#
# Usage: scripts/bench_backslash.sh [REPS=11] [STEPS=12] [ROUNDS=3] [LAMBDA=1000]
# Environment: MODEL (default d6), B (4), T (64), BINS (./train_gpt2), SKIP_MICRO=1,
# SKIP_TRAIN=1, THREADS (OMP_NUM_THREADS for the training steps; default: OpenMP's).
# The machine's load is printed with each table: figures taken while other jobs run are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-11}; STEPS=${2:-12}; ROUNDS=${3:-3}; LAMBDA=${4:-1000}
MODEL=${MODEL:-d6}; B=${B:-4}; T=${T:-64}; BINS=${BINS:-./train_gpt2}
CC=${CC:-gcc}
mkdir -p build

if [ "${SKIP_MICRO:-0}" != 1 ]; then
  $CC -O3 -march=native -std=gnu11 -fopenmp -fno-math-errno -Wall -Wextra -o build/bench_dggr dev/bench/bench_dggr.c -lm
  echo "== optimizer step alone (ms per step, median of $REPS) =="
  echo "load: $(uptime | sed 's/.*load average: //')"
  nice build/bench_dggr 6 384 "$REPS"
  echo
  nice build/bench_dggr 12 768 "$(( (REPS + 1) / 2 ))"
  echo "load: $(uptime | sed 's/.*load average: //')"
  echo
fi

if [ "${SKIP_TRAIN:-0}" != 1 ]; then
  make -s train_gpt2
  for bin in $BINS; do
    if ! "$bin" -h 2>&1 | grep -q -- '^  -l '; then
      echo "$bin has no -l flag: skipping the training-step table"; exit 0
    fi
  done
  [ -n "${THREADS:-}" ] && export OMP_NUM_THREADS=$THREADS
  dir=$(mktemp -d build/tmp.bench.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  # median ms_per_step of a log.csv, dropping the first 2 steps
  median_ms() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ms_per_step") c = i; next }
             $c != "" && $1 >= 2 { print $c }' "$1" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
  }
  declare -A all
  configs=("plain:-l 0" "coupled:-l $LAMBDA -lv coupled" "decoupled:-l $LAMBDA -lv decoupled")
  echo "== training steps: train_gpt2 -e $MODEL -b $B -t $T, $STEPS steps, $ROUNDS rounds (ms/step, median) =="
  echo "threads: ${OMP_NUM_THREADS:-OpenMP default}; load before: $(uptime | sed 's/.*load average: //')"
  for r in $(seq "$ROUNDS"); do
    for bin in $BINS; do
      for c in "${configs[@]}"; do
        name=${c%%:*}; flags=${c#*:}
        rm -rf "$dir/run"; mkdir -p "$dir/run"
        # shellcheck disable=SC2086
        nice "$bin" -e "$MODEL" -b "$B" -t "$T" -x "$STEPS" -v 0 -m 1 -g 0 -o "$dir/run" $flags > "$dir/out.txt"
        all[$bin:$name]="${all[$bin:$name]:-} $(median_ms "$dir/run/log.csv")"
      done
    done
    echo "load after round $r: $(uptime | sed 's/.*load average: //')"
  done
  printf '%-24s %-10s %12s %10s   %s\n' binary mode median_ms vs_plain "per-round medians"
  for bin in $BINS; do
    base=""
    for c in "${configs[@]}"; do
      name=${c%%:*}
      med=$(echo ${all[$bin:$name]} | tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
      [ -z "$base" ] && base=$med
      printf '%-24s %-10s %12.1f %9.1f%%   %s\n' "$bin" "$name" "$med" "$(echo "100 * ($med / $base - 1)" | bc -l)" "${all[$bin:$name]}"
    done
  done
fi
