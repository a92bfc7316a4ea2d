#!/usr/bin/env bash
# The first GPU run, in two halves, so that it works on a lent machine without network,
# without the CUDA toolkit's headers or OpenBLAS's (doc/cuda.md, "On the first GPU"):
#
#   scripts/gpu_first_run.sh bundle DIR    on a build machine like CI's (nvcc, the data made):
#       builds the CUDA programs without MPI (NO_MPI=1: one GPU, no libmpi to carry) and copies
#       into DIR what the run needs: the three programs, every shared library they load that
#       is not the C library itself (OpenBLAS, libgomp, libgfortran, cuBLAS, cuBLASLt, ...),
#       data/corpus_{train,val}.bin, the two scripts, compute-sanitizer when the toolkit has
#       it, and DIR/BUILD.txt (commit, nvcc version, the libraries).
#   DIR/scripts/gpu_first_run.sh run OUT   on the GPU machine, from the copied DIR: writes one
#       results file, OUT/gpu_first_run.md: the device, driver, nvcc and cuBLAS versions,
#       both tests' full output on every shape (with the matmul path counts), the benchmark
#       (tokens/s, MFU, peak memory, BackSlash overhead against lambda 0 in the same run),
#       and compute-sanitizer memcheck, racecheck and synccheck of test_gpt2cu --quick.
#       Every step has a time limit; the whole run ends within 8 minutes (RUN_SECONDS=470).
set -uo pipefail
mode=${1:-}
dest=${2:-}
[ -n "$mode" ] && [ -n "$dest" ] || { echo "usage: $0 bundle DIR | run OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)

bundle() {
  cd "$root" || exit 1
  [ -f data/corpus_train.bin ] && [ -f data/corpus_val.bin ] || { echo "error: data/corpus_*.bin missing (make data)" >&2; exit 1; }
  # a fresh build without MPI (the programs built with MPI would need libmpi on the GPU machine)
  rm -f train_gpt2cu test_gpt2cu test_gpt2fp32cu
  make NO_MPI=1 train_gpt2cu test_gpt2cu test_gpt2fp32cu || exit 1
  mkdir -p "$dest/lib" "$dest/data" "$dest/scripts" || exit 1
  cp train_gpt2cu test_gpt2cu test_gpt2fp32cu "$dest/"
  cp data/corpus_train.bin data/corpus_val.bin "$dest/data/"
  cp scripts/gpu_first_run.sh scripts/bench_gpu.sh "$dest/scripts/"
  # the libraries the programs load, but not glibc's own (the GPU machine's must match its loader)
  local libs
  libs=$(for p in train_gpt2cu test_gpt2cu test_gpt2fp32cu; do ldd "$p" | awk '$3 ~ /^\// {print $3}'; done | sort -u |
         grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so')
  for l in $libs; do cp -L "$l" "$dest/lib/"; done
  local nvcc sanitizer
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
  sanitizer=$(dirname "$nvcc")/../compute-sanitizer
  if [ -x "$sanitizer/compute-sanitizer" ]; then cp -r "$sanitizer" "$dest/compute-sanitizer"; fi
  {
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC') from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(uname -n)"
    "$nvcc" --version | tail -n 2
    echo "libraries:"; for l in $libs; do echo "  $l"; done
    [ -d "$dest/compute-sanitizer" ] && echo "compute-sanitizer: included" || echo "compute-sanitizer: not in this toolkit (the run uses the GPU machine's, if any)"
  } > "$dest/BUILD.txt"
  du -sh "$dest"
  echo "copy $dest to the GPU machine and run: $dest/scripts/gpu_first_run.sh run OUTDIR"
}

run() {
  cd "$root" || exit 1
  mkdir -p "$dest" || exit 1
  local out start budget
  out=$(cd "$dest" && pwd)/gpu_first_run.md
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu_first_run.XXXXXX")
  trap 'rm -rf "${tmp:-}"' EXIT
  export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  start=$(date +%s)
  budget=${RUN_SECONDS:-470}
  : > "$tmp/steps"
  # step NAME LIMIT COMMAND...: runs it with at most LIMIT seconds (less when the budget is short)
  step() {
    local name=$1 limit=$2 left; shift 2
    left=$((budget - ($(date +%s) - start)))
    [ "$limit" -gt "$left" ] && limit=$left
    echo "$name" >> "$tmp/steps"
    if [ "$limit" -le 5 ]; then echo "skipped: the run's $budget s were spent" > "$tmp/$name.txt"; echo skipped > "$tmp/$name.rc"; return; fi
    echo "== $name (at most ${limit}s): $*"
    local t0=$(date +%s)
    timeout -k 5 "$limit" "$@" > "$tmp/$name.txt" 2>&1
    local rc=$?
    [ $rc -eq 124 ] && echo "(stopped after ${limit}s)" >> "$tmp/$name.txt"
    echo "$rc, $(( $(date +%s) - t0 ))s" > "$tmp/$name.rc"
    tail -n 5 "$tmp/$name.txt"
  }
  local sanitizer=""
  if [ -x "$root/compute-sanitizer/compute-sanitizer" ]; then sanitizer="$root/compute-sanitizer/compute-sanitizer"
  elif command -v compute-sanitizer >/dev/null; then sanitizer=$(command -v compute-sanitizer)
  elif [ -x /usr/local/cuda/bin/compute-sanitizer ]; then sanitizer=/usr/local/cuda/bin/compute-sanitizer; fi
  step device 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv
  step versions 10 bash -c "cat '$root/BUILD.txt' 2>/dev/null; echo; echo 'nvcc here:'; (nvcc --version 2>/dev/null || echo 'none (the programs were built elsewhere: BUILD.txt)') | tail -n 2"
  step test_fp32 100 ./test_gpt2fp32cu
  step test_bf16 100 ./test_gpt2cu
  step bench 190 scripts/bench_gpu.sh 8
  if [ -n "$sanitizer" ]; then
    for tool in memcheck racecheck synccheck; do
      step "sanitizer_$tool" 60 "$sanitizer" --tool "$tool" --error-exitcode 9 ./test_gpt2cu --quick --shape default
    done
  else
    echo "sanitizers" >> "$tmp/steps"; echo "compute-sanitizer not found (bundle it from a toolkit that has it)" > "$tmp/sanitizers.txt"; echo skipped > "$tmp/sanitizers.rc"
  fi
  {
    echo "# First GPU run"
    echo
    echo "scripts/gpu_first_run.sh run on $(uname -n), $(date -u '+%Y-%m-%d %H:%M UTC'), $(( $(date +%s) - start ))s in all."
    echo "Each section: the command's full output; its exit status and seconds after the name."
    echo
    while read -r name; do
      echo "## $name (exit $(cat "$tmp/$name.rc"))"
      echo
      echo '```'
      cat "$tmp/$name.txt"
      echo '```'
      echo
    done < "$tmp/steps"
  } > "$out"
  echo "wrote $out"
}

case "$mode" in
  bundle) bundle ;;
  run) run ;;
  *) echo "usage: $0 bundle DIR | run OUTDIR" >&2; exit 2 ;;
esac
