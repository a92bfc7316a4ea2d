#!/usr/bin/env bash
# Codec speed: in-memory encode and decode of a whole model in M params/s, with 1 thread
# and with all threads (median of RUNS runs each, ./bsz bench), for each coder (CODERS,
# default "eg rans cabac auto"), on
#   - a GPT-2 124M-shape model of generalized-Gaussian weights (nu = 1.4, sigma = 0.02,
#     scripts/gg_model.py), coded at Delta = 1e-3, and a sparse variant (nu = 0.5,
#     sigma = 0.005: most weights quantize to 0, as after BackSlash);
#   - every extra llm.c checkpoint given on the command line (e.g. a trained model).
# Prints the machine load with the table: figures taken while other work runs are noisy.
# Usage: [CODERS="eg rans"] scripts/bench_codec.sh [RUNS] [MODEL.bin ...]      (default 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
make --no-print-directory bsz > /dev/null
dir=build/bench_codec
mkdir -p "$dir"
models=()
for spec in "gg124m_nu1.4:--nu 1.4 --sigma 0.02" "gg124m_nu0.5_sparse:--nu 0.5 --sigma 0.005"; do
  name=${spec%%:*}
  [ -f "$dir/$name.bin" ] || /usr/bin/python3 scripts/gg_model.py "$dir/$name.bin" ${spec#*:} > /dev/null
  models+=("$dir/$name.bin")
done
models+=("$@")
all=$(nproc)
echo "codec speed, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $all cores, $runs runs (median)"
printf '%-28s %6s %7s %10s %14s %14s %18s   %s\n' model coder threads bits/param "encode Mp/s" "decode Mp/s" "decode/thread" "load (1/5/15 min)"
for m in "${models[@]}"; do
  for c in ${CODERS:-eg rans cabac auto}; do
  for t in 1 "$all"; do
    line=$(OMP_NUM_THREADS=$t OMP_PROC_BIND=close ./bsz bench "$m" --runs "$runs" --coder "$c")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    bits=$(sed -E 's/.*file ([0-9.]+) bits.*/\1/' <<< "$line")
    enc=$(sed -E 's/.*encode ([0-9.]+) M.*/\1/' <<< "$line")
    dec=$(sed -E 's/.*decode ([0-9.]+) M params\/s \(.*/\1/' <<< "$line")
    per=$(sed -E 's/.*decode per thread ([0-9.]+) M.*/\1/' <<< "$line")
    printf '%-28s %6s %7s %10s %14s %14s %18s   %s\n' "$(basename "$m" .bin)" "$c" "$t" "$bits" "$enc" "$dec" "$per" "$load"
  done
  done
done
