#!/usr/bin/env bash
# The paper's Spam row: the language model trained by scripts/run_sweep.sh (lambda 0,
# no BackSlash) fine-tuned as a ham/spam classifier (train_gpt2 -cls 1: a linear head
# on the last token's final hidden state) on data/spam_train.bin, tested on every message
# of data/spam_test.bin (doc/data.md: the fixed split by MD5), once normally (-l 0) and
# once with BackSlash (-l SPAM_LAMBDA). Messages are cut to their first T tokens.
# Resumable: a run whose final model exists is skipped. Copies each log.csv and the
# coded model's `./bsz info --json` to doc/results/spam_<run>.*
#
# Usage: scripts/spam.sh [OUT=out/spam] [LM=out/sweep/lambda0/model_00000300.bin] [RUN...]
#   RUN: normal, backslash (at SPAM_LAMBDA), l<lambda> (BackSlash at that lambda), c<lambda>
#   (the coupled variant at that lambda); default
#   normal backslash
# Environment: B (8), T (128), STEPS (100), LR (3e-4), SPAM_LAMBDA (10000), THREADS (1), NICE (10), TRAINER
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/spam}; LM=${2:-out/sweep/lambda0/model_00000300.bin}; shift 2 || shift $# || true
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(normal backslash)
B=${B:-8}; T=${T:-128}; STEPS=${STEPS:-100}; LR=${LR:-3e-4}; SPAM_LAMBDA=${SPAM_LAMBDA:-10000}
THREADS=${THREADS:-1}; NICE=${NICE:-10}; TRAINER=${TRAINER:-./train_gpt2}
[ -f "$LM" ] || { echo "$LM: no such model (run scripts/run_sweep.sh first)" >&2; exit 1; }
make -s train_gpt2 bsz
mkdir -p "$OUT" doc/results
for run in "${RUNS[@]}"; do
  extra=""
  case $run in
    normal) lambda=0 ;;
    backslash) lambda=$SPAM_LAMBDA; extra="-lv decoupled" ;;   # the runs of doc/results.md were decoupled (then the default)
    l[0-9]*) lambda=${run#l}; extra="-lv decoupled" ;;   # l3000: decoupled BackSlash at lambda 3000
    c[0-9]*) lambda=${run#c}; extra="-lv coupled" ;;   # c3000: the coupled variant at lambda 3000
    *) echo "unknown run $run (normal, backslash, l<lambda>)" >&2; exit 2 ;;
  esac
  dir="$OUT/$run"
  final=$(printf '%s/model_%08d.bsz' "$dir" "$STEPS")
  if [ -f "$final" ]; then echo "== spam $run: done ($final)"; else
    rm -rf "$dir"; mkdir -p "$dir"
    cmd="$TRAINER -cls 1 -e $LM -i data/spam_train.bin -j data/spam_test.bin -b $B -t $T -x $STEPS -lr $LR -u 10 -v 0 -pe 10 -g 0 -l $lambda $extra -o $dir"
    echo "== spam $run: $cmd   ($(date -u +%H:%M:%S), load $(uptime | sed 's/.*load average: //'))"
    echo "$cmd" > "$dir/command.txt"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$THREADS nice -n "$NICE" $cmd > "$dir/stdout.txt" 2>&1
    rm -f "$dir"/state_*.bin
    grep -E "^final test" "$dir/stdout.txt"
  fi
  cp "$dir/log.csv" "doc/results/spam_$run.log.csv"
  cp "$dir/command.txt" "doc/results/spam_$run.command.txt"
  ./bsz info --json "$final" > "doc/results/spam_$run.bsz.json"
done
