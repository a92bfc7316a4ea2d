#!/usr/bin/env bash
# Quantization of trained models at several Delta: for each model and Delta, the coded
# model (./bsz compress --delta) and the val loss of its dequantized weights (eval_gpt2 on
# the .bsz), with the coded size (./bsz info --json --total). For the model trained
# without BackSlash this is the paper's "compression after training" baseline: the same
# quantizer and coder as the BackSlash models, applied after normal training.
# Writes doc/results/quant_<run>.csv (replaced):
#   run,delta,val_loss,zero_frac,fl,eg_best,eg_k,huffman,entropy,file_bits
# eg_best: exp-Golomb code bits/param with each tensor's best order (as the file codes it),
# eg_k: wte's order; file_bits: the whole .bsz file per parameter
#
# Usage: scripts/quant_sweep.sh [SWEEP=out/sweep] [RUN...]   (default RUN: lambda0 lambda3000 lambda10000)
# Environment: B (8), T (64), BATCHES (20), DELTAS, THREADS (1), NICE (10)
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEP=${1:-out/sweep}; shift || true
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(lambda0 lambda3000 lambda10000)
B=${B:-8}; T=${T:-64}; BATCHES=${BATCHES:-20}; THREADS=${THREADS:-1}; NICE=${NICE:-10}
DELTAS=${DELTAS:-"0.001 0.005 0.01 0.02 0.05"}
make -s eval_gpt2 bsz
mkdir -p doc/results
tmp=$(mktemp -d "${TMPDIR:-/tmp}/quant.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for run in "${RUNS[@]}"; do
  model=$(ls "$SWEEP/$run"/model_*.bin | sort | tail -n 1)
  csv=doc/results/quant_$run.csv
  echo "run,delta,val_loss,zero_frac,fl,eg_best,eg_k,huffman,entropy,file_bits" > "$csv.tmp"
  for d in $DELTAS; do
    nice -n "$NICE" ./bsz compress "$model" "$tmp/m.bsz" --delta "$d" > /dev/null
    ./bsz info --json "$tmp/m.bsz" > "$tmp/info.json"
    rm -f "$tmp/eval.csv"
    OMP_NUM_THREADS=$THREADS nice -n "$NICE" ./eval_gpt2 -e "$tmp/m.bsz" -b "$B" -t "$T" -m "$BATCHES" -o "$tmp/eval.csv" -tag "$run"
    loss=$(tail -n 1 "$tmp/eval.csv" | cut -d, -f6)
    python3 - "$tmp/info.json" "$run" "$d" "$loss" >> "$csv.tmp" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
t = info["total"]
# EG code bits per parameter with each tensor's own best order k (what the file codes);
# eg_k: the order of wte, the largest tensor
eg = sum(x["params"] * x["file_bits"] for x in info["tensors"]) / t["params"]
k = [x["k"] for x in info["tensors"] if x["name"] == "wte"][0]
print(f'{sys.argv[2]},{sys.argv[3]},{sys.argv[4]},{t["zero_frac"]},{t["fl_bits"]},{eg},{k},{t["huffman_bits"]},{t["entropy_bits"]},{info["file_bits_per_param"]}')
PY
  done
  mv "$csv.tmp" "$csv"
  echo "wrote $csv"
done
