#!/usr/bin/env bash
# GPU training speed of train_gpt2cu at the GPT-2 124M shape: T = 1024, micro-batch B,
# one optimizer step of ~0.5M tokens by gradient accumulation (-d 524288), with
# BackSlash off (lambda = 0) and on (lambda = 1000). Prints a table: median ms/step and
# tokens/s over the measured steps (the first WARMUP steps are dropped), MFU, the peak
# GPU memory (nvidia-smi, sampled every 0.2 s) and the BackSlash overhead.
#
# MFU = (6 N + 6 L C T) * tokens/s / peak, llm.c's estimate of the model's FLOPs per token
# (N parameters, L layers, C channels), against PEAK_TFLOPS: by default 989, the H100 SXM's
# dense bf16 tensor-core peak (NVIDIA's datasheet; 1979 is with sparsity). Set PEAK_TFLOPS
# for another GPU (H100 PCIe: 756, A100: 312).
#
# Usage: scripts/bench_gpu.sh [steps] [micro-batch]      (defaults 10 and 16)
#   env: LAMBDAS="0 1000"  TOTAL_TOKENS=524288  WARMUP=2  PEAK_TFLOPS=989  MODEL=d12
# Needs: make train_gpt2cu, make data, a GPU and nvidia-smi. Writes into a temporary dir.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${1:-10}
B=${2:-16}
T=1024
total=${TOTAL_TOKENS:-524288}
warmup=${WARMUP:-2}
peak=${PEAK_TFLOPS:-989}
model=${MODEL:-d12}
lambdas=${LAMBDAS:-"0 1000"}

[ -x ./train_gpt2cu ] || { echo "error: ./train_gpt2cu not built (make train_gpt2cu)" >&2; exit 1; }
[ -f data/corpus_train.bin ] || { echo "error: data/corpus_train.bin missing (make data)" >&2; exit 1; }
command -v nvidia-smi >/dev/null || { echo "error: nvidia-smi not found: no GPU here" >&2; exit 1; }
[ "$steps" -gt "$warmup" ] || { echo "error: steps ($steps) must exceed WARMUP ($warmup)" >&2; exit 1; }

work=$(mktemp -d /tmp/bench_gpu.XXXXXX)
trap 'kill "${smi_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)
echo "GPU: $gpu; model $model, T=$T, micro-batch B=$B, $total tokens per step ($((total / (B * T))) micro-steps), $steps steps (first $warmup dropped)"
echo "peak assumed for MFU: $peak TFLOP/s (bf16 dense)"
echo

# the column of a CSV header by name
col() { head -n 1 "$1" | tr ',' '\n' | grep -nx "$2" | cut -d: -f1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A ms_of
printf '%-8s %10s %12s %8s %12s %10s\n' lambda ms/step tokens/s MFU peak_MiB overhead
for lambda in $lambdas; do
  out="$work/l$lambda"
  mkdir -p "$out"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$out/mem.txt" &
  smi_pid=$!
  ./train_gpt2cu -e "$model" -b "$B" -t "$T" -d "$total" -x "$steps" -l "$lambda" -v 0 -m 1 -g 0 -o "$out" \
      > "$out/train.txt" 2>&1 || { kill $smi_pid; echo "error: train_gpt2cu failed, see below" >&2; tail -n 20 "$out/train.txt" >&2; exit 1; }
  kill $smi_pid 2>/dev/null || true
  wait $smi_pid 2>/dev/null || true
  log="$out/log.csv"
  c_ms=$(col "$log" ms_per_step)
  c_tok=$(col "$log" tokens_per_s)
  # training rows only (the last row is the final evaluation, without ms_per_step)
  rows=$(awk -F, -v c="$c_ms" 'NR > 1 && $c != ""' "$log" | tail -n +$((warmup + 1)))
  ms=$(echo "$rows" | cut -d, -f"$c_ms" | median)
  tok=$(echo "$rows" | cut -d, -f"$c_tok" | median)
  params=$(grep -o '[0-9]* parameters' "$out/train.txt" | head -n 1 | cut -d' ' -f1)
  read -r L C < <(grep -o 'model: [0-9]* layers, [0-9]* channels' "$out/train.txt" | head -n 1 | awk '{print $2, $4}')
  mfu=$(awk -v n="$params" -v l="$L" -v c="$C" -v t="$T" -v tok="$tok" -v p="$peak" \
        'BEGIN { printf "%.1f%%", 100 * (6 * n + 6 * l * c * t) * tok / (p * 1e12) }')
  mem=$(sort -n "$out/mem.txt" | tail -n 1)
  ms_of[$lambda]=$ms
  over="-"
  if [ "$lambda" != "0" ] && [ -n "${ms_of[0]:-}" ]; then
    over=$(awk -v a="$ms" -v b="${ms_of[0]}" 'BEGIN { printf "%+.2f%%", 100 * (a - b) / b }')
  fi
  printf '%-8s %10.1f %12.0f %8s %12s %10s\n' "$lambda" "$ms" "$tok" "$mfu" "$mem" "$over"
done
echo
echo "(overhead: median step time against lambda = 0; device memory as nvidia-smi reports it for the whole GPU)"
