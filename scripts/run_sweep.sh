#!/usr/bin/env bash
# Trains the language-model runs of doc/results.md: the same 6-layer GPT-2, from the same
# initialisation, on the same batches, for the same number of tokens, once without BackSlash
# and at several lambda, plus the ablation runs. Runs one after another, resumable: a run
# whose final model_*.bsz exists is skipped, so rerunning the script finishes what is left.
# Each run's log.csv and `./bsz info --json` of its final model are copied to doc/results/
# (small, committed) so that scripts/make_results.sh can rebuild the doc without the models.
#
# Usage: scripts/run_sweep.sh [OUT=out/sweep] [RUN...]
#   RUN is a name from the table below, run in the order given; none: every run, in the
#   table's order. Two
#   sweeps may run side by side on disjoint sets of runs (a run is redone from scratch
#   unless its final model exists, so never give two sweeps the same run).
# Environment: MODEL (d6), B (8), T (64), STEPS (300), THREADS (1), VAL_EVERY (100),
#   VAL_BATCHES (20), NICE (10), TRAINER (./train_gpt2; a copy keeps a long sweep on one
#   build while the tree is rebuilt), RUNSET (d6; small: the ablation runs on a small model,
#   RUNSET=small MODEL=d2w64h4t128)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/sweep}; shift || true
MODEL=${MODEL:-d6}; B=${B:-8}; T=${T:-64}; STEPS=${STEPS:-300}; THREADS=${THREADS:-1}
VAL_EVERY=${VAL_EVERY:-100}; VAL_BATCHES=${VAL_BATCHES:-20}; NICE=${NICE:-10}
TRAINER=${TRAINER:-./train_gpt2}

# name | BackSlash flags (everything else is the same for every run). The variant is always
# given: these runs were made when decoupled was the default, which it no longer is.
if [ "${RUNSET:-d6}" = small ]; then
  # the ablation on a small model (MODEL=d2w64h4t128), names prefixed s_: its own lambda
  # sweep (so the variants can be compared at a matched rate) and the variants at lambda 300
  RUNS=(
    "s_lambda0|-l 0"
    "s_lambda300|-l 300 -lv decoupled"
    "s_coupled_l300|-l 300 -lv coupled"
    "s_fixed1_l300|-l 300 -ls fixed:1 -lv decoupled"
    "s_tensor_l300|-l 300 -ls tensor -lv decoupled"
    "s_fixed2_l300|-l 300 -ls fixed:2 -lv decoupled"
    "s_fixed0.5_l300|-l 300 -ls fixed:0.5 -lv decoupled"
    "s_lambda100|-l 100 -lv decoupled"
    "s_lambda1000|-l 1000 -lv decoupled"
    "s_lambda600|-l 600 -lv decoupled"
    "s_lambda30|-l 30 -lv decoupled"
  )
else
RUNS=(
  "lambda0|-l 0"
  "lambda1000|-l 1000 -lv decoupled"
  "lambda3000|-l 3000 -lv decoupled"
  "lambda10000|-l 10000 -lv decoupled"
  "lambda300|-l 300 -lv decoupled"
  "coupled_l3000|-l 3000 -lv coupled"
  "tensor_l3000|-l 3000 -ls tensor -lv decoupled"
  "fixed1_l3000|-l 3000 -ls fixed:1 -lv decoupled"
  "fixed2_l3000|-l 3000 -ls fixed:2 -lv decoupled"
  "fixed0.5_l3000|-l 3000 -ls fixed:0.5 -lv decoupled"
)
fi

make -s train_gpt2 bsz
mkdir -p "$OUT" doc/results
# the runs asked for, in the order given (default: the table's)
order=()
if [ $# -eq 0 ]; then order=("${RUNS[@]}"); else
  for want in "$@"; do
    found=""
    for entry in "${RUNS[@]}"; do [ "${entry%%|*} -lv decoupled" = "$want" ] && found=$entry; done
    [ -n "$found" ] || { echo  -lv decoupled"unknown run $want" >&2; exit 2; }
    order+=("$found")
  done
fi
for entry in "${order[@]}"; do
  name=${entry%%|*}; flags=${entry#*|}
  run= -lv decoupled"$OUT/$name"
  final=$(printf '%s/model_%08d.bsz' "$run" "$STEPS")
  if [ -f "$final" ]; then echo "== $name: done ($final)"; else
    rm -rf "$run"; mkdir -p "$run"
    cmd="$TRAINER -e $MODEL -b $B -t $T -x $STEPS -v $VAL_EVERY -m $VAL_BATCHES -g 0 -pe 10 $flags -o $run"
    echo "== $name: $cmd   ($(date -u +%H:%M:%S), load $(uptime | sed 's/.*load average: //')) -lv decoupled"
    echo "$cmd" > "$run/command.txt"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$THREADS nice -n "$NICE" $cmd > "$run/stdout.txt" 2>&1
    rm -f "$run"/state_*.bin   # optimizer state: not needed for the results, 365 MB per run
    grep -E "^final val" "$run/stdout.txt"
  fi
  cp "$run/log.csv" "doc/results/$name.log.csv"
  cp "$run/command.txt" "doc/results/$name.command.txt"
  ./bsz info --json "$final" > "doc/results/$name.bsz.json"
done
echo "sweep finished $(date -u +%H:%M:%S)"
