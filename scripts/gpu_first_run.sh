#!/usr/bin/env bash
# Everything the CUDA issue asks to run on a GPU, in one go, with the output written to
# doc/cuda_results.md (and printed): the device, both tests against the CPU reference
# (fp32 and bf16 builds), and scripts/bench_gpu.sh at the GPT-2 124M shape.
# Usage: scripts/gpu_first_run.sh [bench steps]     (default 10; needs make data)
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}
out=doc/cuda_results.md
command -v nvidia-smi >/dev/null || { echo "error: nvidia-smi not found: no GPU here" >&2; exit 1; }
make cuda || exit 1
tmp=$(mktemp -d /tmp/gpu_first_run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
run() { # name, command...: runs it, keeps its output and exit status
  local name=$1; shift
  echo "== $name: $*"
  ( time "$@" ) > "$tmp/$name.txt" 2>&1
  echo $? > "$tmp/$name.rc"
  tail -n 40 "$tmp/$name.txt"
}
run device nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
run fp32 ./test_gpt2fp32cu
run bf16 ./test_gpt2cu
run bench scripts/bench_gpu.sh "$steps"
{
  echo "# CUDA results"
  echo
  echo "Written by scripts/gpu_first_run.sh on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)."
  echo
  for name in device fp32 bf16 bench; do
    echo "## $name (exit status $(cat "$tmp/$name.rc"))"
    echo
    echo '```'
    cat "$tmp/$name.txt"
    echo '```'
    echo
  done
} > "$out"
echo "wrote $out"
