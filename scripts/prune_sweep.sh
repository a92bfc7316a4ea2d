#!/usr/bin/env bash
# Magnitude pruning of trained models (eval_gpt2 -p, llmc/prune.h): for each model, the
# val loss after zeroing 0%, 30%, 50%, 60%, 70%, 80%, 90% of the constrained weights (weight
# matrices and embeddings; one global |w| threshold), written to
# doc/results/prune_<run>.csv (replaced). The paper's pruning figure: BackSlash models should hold their loss to a
# higher pruning rate than normally trained ones.
#
# Usage: scripts/prune_sweep.sh [SWEEP=out/sweep] [RUN...]   (default RUN: lambda0 lambda3000 lambda10000)
# Environment: B (8), T (64), BATCHES (20: the same val batches as the training logs),
#   FRACTIONS, THREADS (1), NICE (10)
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEP=${1:-out/sweep}; shift || true
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(lambda0 lambda3000 lambda10000)
B=${B:-8}; T=${T:-64}; BATCHES=${BATCHES:-20}; THREADS=${THREADS:-1}; NICE=${NICE:-10}
FRACTIONS=${FRACTIONS:-"0 0.3 0.5 0.6 0.7 0.8 0.9"}
make -s eval_gpt2
mkdir -p doc/results
for run in "${RUNS[@]}"; do
  model=$(ls "$SWEEP/$run"/model_*.bin | sort | tail -n 1)
  csv=doc/results/prune_$run.csv
  rm -f "$csv.tmp"
  for p in $FRACTIONS; do
    OMP_NUM_THREADS=$THREADS nice -n "$NICE" ./eval_gpt2 -e "$model" -b "$B" -t "$T" -m "$BATCHES" -p "$p" -o "$csv.tmp" -tag "$run"
  done
  mv "$csv.tmp" "$csv"
  echo "wrote $csv"
done
