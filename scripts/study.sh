#!/usr/bin/env bash
# Issue 13's study: BackSlash fine-tunes of one pretrained lambda-0 base (scripts/study_base.sh),
# a lambda-0 continuation of the same length as the control, and post-training baselines on
# the control, every model evaluated on the whole val file with per-batch losses (paired
# standard errors: scripts/paired_se.py) and parameter groups (llmc/param_groups.h).
#
# Usage: scripts/study.sh JOB...   (JOB: a run name from the table below, quant[:RUN], prune[:RUN])
#   a run: fine-tune from BASE with the run's flags (out/study/<run>), then evaluate its
#          final model quantized at Delta 1e-3 (what its .bsz holds)
#   quant: the control (or RUN, trained already) quantized after training at each of DELTAS
#          (for a BackSlash run: the like-for-like test against the control's curve)
#   prune: the control (or RUN) magnitude-pruned at each of PRUNE (then quantized at PRUNE_DELTA)
# Resumable: a run whose final model exists is not retrained, an evaluation whose per-batch
# file exists is not redone. Two invocations may run side by side on disjoint jobs.
# Everything small goes to doc/results/study/: <run>.command.txt, <run>.log.csv,
# <run>.stdout.txt, <tag>.pb.txt (per-batch losses), eval.csv, groups.csv.
# Environment: BASE (out/study/base/model_00003600.bin), STEPS (150), THREADS (1), NICE (5),
#   BIN (.: where train_gpt2, eval_gpt2 and bsz are; a copy keeps a long study on one build
#   while the tree is rebuilt; with the default they are made first), STUDY_ROOT (the
#   checkout, for a copy of this script run from elsewhere: bash reads a script as it runs,
#   so a long study should run a copy while the tree changes)
set -euo pipefail
cd "${STUDY_ROOT:-$(dirname "$0")/..}"   # STUDY_ROOT: the checkout, when running a copy of this script
BASE=${BASE:-out/study/base/model_00003600.bin}
STEPS=${STEPS:-150}; THREADS=${THREADS:-1}; NICE=${NICE:-5}
R=doc/results/study; OUT=out/study
DELTAS=${DELTAS:-"0.005 0.01 0.02 0.05"}
PRUNE=${PRUNE:-"0.5 0.7 0.9"}; PRUNE_DELTA=${PRUNE_DELTA:-0.001}
DATA="-i data/v8192/train.bin -j data/v8192/val.bin"

# name | flags (after the common ones: -e BASE, the data, -b 8 -t 128 -x STEPS, a constant lr
# of 1.5e-4 = the base's final lr (after 10 warmup steps for the fresh Adam moments), weight
# decay 0.1). Each variant's lambdas go from no visible effect to clear damage; decoupled and
# proximal shrink by about lambda nu / N per step whatever the lr (N = 5.29 M), coupled moves a
# weight by about lr per step once lambda's rate gradient dominates (doc/backslash.md).
RUNS=(
  "control|-l 0"
  "control_seed2|-l 0 -seed 2"
  "coupled_l30|-l 30 -lv coupled"
  "coupled_l300|-l 300 -lv coupled"
  "coupled_l3000|-l 3000 -lv coupled"
  "coupled_l30000|-l 30000 -lv coupled"
  "decoupled_l100|-l 100 -lv decoupled"
  "decoupled_l300|-l 300 -lv decoupled"
  "decoupled_l1000|-l 1000 -lv decoupled"
  "decoupled_l3000|-l 3000 -lv decoupled"
  "proximal_l300|-l 300 -lv proximal"
  "proximal_l1000|-l 1000 -lv proximal"
  "proximal_l3000|-l 3000 -lv proximal"
  "coupled_l3000_eps0.1|-l 3000 -lv coupled -le 0.1"
  "coupled_l3000_eps0.01|-l 3000 -lv coupled -le 0.01"
  "decoupled_l1000_eps0.1|-l 1000 -lv decoupled -le 0.1"
  "decoupled_l1000_eps0.01|-l 1000 -lv decoupled -le 0.01"
  "decoupled_l1000_fixed0.5|-l 1000 -lv decoupled -ls fixed:0.5"
  "decoupled_l1000_fixed1|-l 1000 -lv decoupled -ls fixed:1"
  "decoupled_l1000_fixed2|-l 1000 -lv decoupled -ls fixed:2"
  "coupled_l3000_seed2|-l 3000 -lv coupled -seed 2"
  "decoupled_l1000_seed2|-l 1000 -lv decoupled -seed 2"
  "proximal_l1000_seed2|-l 1000 -lv proximal -seed 2"
)

BIN=${BIN:-.}
[ "$BIN" = . ] && make -s train_gpt2 eval_gpt2 bsz
mkdir -p "$R" "$OUT"
[ -f "$BASE" ] || { echo "$BASE: no base model (scripts/study_base.sh)" >&2; exit 1; }

# evaluate MODEL as TAG: whole val file, per-batch losses, parameter groups; extra eval flags after
evaluate() {
  local tag=$1 model=$2; shift 2
  [ -f "$R/$tag.pb.txt" ] && { echo "== eval $tag: done"; return; }
  echo "== eval $tag: $model $*   ($(date -u +%H:%M:%S), load $(uptime | sed 's/.*load average: //'))"
  OMP_NUM_THREADS=$THREADS nice -n "$NICE" "$BIN/eval_gpt2" -e "$model" -j data/v8192/val.bin -b 8 -t 128 -m 0 \
    -f data/v8192/train.bin -tag "$tag" -o "$R/eval.csv" -go "$R/groups.csv" -pb "$R/$tag.pb.tmp" "$@" | head -n 1
  mv "$R/$tag.pb.tmp" "$R/$tag.pb.txt"
}

# a run's final model (default the control), waiting (up to an hour) while a side-by-side
# invocation trains it
final_model() {
  local model
  model=$(printf '%s/%s/model_%08d.bin' "$OUT" "${1:-control}" "$STEPS")
  for _ in $(seq 120); do [ -f "$model" ] && break; sleep 30; done
  [ -f "$model" ] || { echo "$model: no such model (scripts/study.sh ${1:-control})" >&2; exit 1; }
  echo "$model"
}

for job in "$@"; do
  case $job in
    quant|quant:*)
      run=control; [ "$job" = quant ] || run=${job#quant:}
      model=$(final_model "$run")
      for d in $DELTAS; do evaluate "${run}_q$d" "$model" -q "$d"; done ;;
    prune|prune:*)
      run=control; [ "$job" = prune ] || run=${job#prune:}
      model=$(final_model "$run")
      for p in $PRUNE; do evaluate "${run}_p${p}_q$PRUNE_DELTA" "$model" -p "$p" -q "$PRUNE_DELTA"; done ;;
    base)
      evaluate base_q0.001 "$BASE" -q 0.001 ;;
    *)
      found=""
      for entry in "${RUNS[@]}"; do [ "${entry%%|*}" = "$job" ] && found=$entry; done
      [ -n "$found" ] || { echo "unknown job $job" >&2; exit 2; }
      flags=${found#*|}; run="$OUT/$job"
      final=$(printf '%s/model_%08d.bin' "$run" "$STEPS")
      if [ -f "$final" ]; then echo "== $job: trained ($final)"; else
        rm -rf "$run"; mkdir -p "$run"
        cmd="$BIN/train_gpt2 -e $BASE $DATA -b 8 -t 128 -x $STEPS -lr 1.5e-4 -u 10 -k constant -c 0.1 -v 0 -m 5 -nm 0 -g 0 -pe 25 $flags -o $run"
        echo "== $job: $cmd   ($(date -u +%H:%M:%S), load $(uptime | sed 's/.*load average: //'))"
        echo "$cmd" > "$R/$job.command.txt"
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=$THREADS nice -n "$NICE" $cmd > "$run/stdout.txt" 2>&1
        rm -f "$run"/state_*.bin
      fi
      cp "$run/log.csv" "$R/$job.log.csv"
      grep -v "^step .*|" "$run/stdout.txt" > "$R/$job.stdout.txt" || true
      "$BIN/bsz" info --json "$(printf '%s/model_%08d.bsz' "$run" "$STEPS")" > "$R/$job.bsz.json"
      evaluate "${job}_q0.001" "$final" -q 0.001 ;;
  esac
done
echo "study jobs done $(date -u +%H:%M:%S)"
