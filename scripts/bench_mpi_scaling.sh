#!/usr/bin/env bash
# CPU data-parallel scaling of train_gpt2 (doc/distributed.md): the same global batch and
# the same number of cores, as one process with N threads and as N MPI ranks with one
# thread each (-z 0 and -z 1), in training tokens per second.
#
#   scripts/bench_mpi_scaling.sh [STEPS] [RUNS]     (defaults 20 steps, 3 runs)
#   MODEL=d6 B=8 T=128 RANKS=2 scripts/bench_mpi_scaling.sh    (the defaults)
#
# A run trains STEPS steps from scratch on the corpus (random batches, BackSlash on at
# lambda 1000, no evaluation beyond step 0's one batch, no samples, no checkpoints); its
# speed is the median of the tokens_per_s column of log.csv over steps 3.. (the first
# steps warm the caches and allocate). Each cell is the median over RUNS runs; the
# configurations alternate within a round so that a change in machine load hits all of
# them. `uptime` is printed before and after: other work on the machine shows there.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-20}"
runs="${2:-3}"
model="${MODEL:-d6}"
B="${B:-8}"
T="${T:-128}"
ranks="${RANKS:-2}"
command -v mpirun >/dev/null || { echo "error: mpirun not found: install openmpi-bin" >&2; exit 1; }
(( B % ranks == 0 )) || { echo "error: B=$B is not a multiple of RANKS=$ranks" >&2; exit 1; }
make -s train_gpt2 data
work=$(mktemp -d "${TMPDIR:-/tmp}/bs_bench_mpi.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(-e "$model" -t "$T" -x "$steps" -v 0 -m 1 -g 0 -l 1000 -lr 1e-3 -pe 1000000)
mpi=(mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)

# median tokens/s of one run's log (steps 3 and later)
run_median() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tokens_per_s") c = i; next }
           $c != "" && $1 >= 3 { print $c }' "$1/log.csv" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

names=("1 process x $ranks threads" "$ranks ranks x 1 thread, -z 0" "$ranks ranks x 1 thread, -z 1")
echo "before: $(uptime)"
for r in $(seq 1 "$runs"); do
  OMP_NUM_THREADS=$ranks ./train_gpt2 "${common[@]}" -b "$B" -o "$work/c0r$r" > /dev/null
  "${mpi[@]}" -np "$ranks" ./train_gpt2 "${common[@]}" -b $((B / ranks)) -z 0 -o "$work/c1r$r" > /dev/null
  "${mpi[@]}" -np "$ranks" ./train_gpt2 "${common[@]}" -b $((B / ranks)) -z 1 -o "$work/c2r$r" > /dev/null
  for c in 0 1 2; do run_median "$work/c${c}r$r" > "$work/c${c}r$r.med"; done
done
echo "after:  $(uptime)"
echo
echo "train_gpt2 $model, global batch B=$B x T=$T, $steps steps, BackSlash lambda 1000; median of $runs runs (each the median over steps 3..$steps)"
printf '| %-32s | %10s | %8s | %-28s |\n' "configuration" "tokens/s" "vs 1" "runs"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..34})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..30})"
base=
for c in 0 1 2; do
  all=$(awk '{ printf "%.0f ", $1 }' "$work"/c${c}r*.med)
  med=$(cat "$work"/c${c}r*.med | median)
  [ -z "$base" ] && base=$med
  printf '| %-32s | %10.0f | %7.2fx | %-28s |\n' "${names[$c]}" "$med" "$(awk -v a="$med" -v b="$base" 'BEGIN { print a / b }')" "$all"
done
