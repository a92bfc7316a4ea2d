#!/usr/bin/env bash
# Training-step time of the CPU trainer against llm.c's CPU trainer (train_gpt2.c), side
# by side on the same machine, the same model weights and the same thread count.
#
#   scripts/bench_cpu.sh [STEPS] [RUNS]     (defaults 5 timed steps per run, 2 runs)
#
# Shapes: GPT-2 124M (12 layers, 768 wide, 12 heads, V=50257) at B=4 T=64; a 6-layer,
# 384-wide model (6 heads) at B=4 T=64 and at B=8 T=256. A step is forward, backward and
# the AdamW update (ours also computes the gradient norm for clipping), on random tokens,
# after one warm-up step. Each cell is the median over all timed steps of all runs; runs
# of ours and llm.c's alternate so that a change in machine load hits both. Peak RSS is
# the process's maximum resident set.
#
# llm.c comes from a checkout you name (LLMC_DIR=path/to/llm.c), a git directory (LLMC_REPO,
# e.g. a bare clone; its HEAD is used), or else a shallow `git clone` of LLMC_URL (default
# https://github.com/karpathy/llm.c) when the network allows; it is copied to a temporary
# directory and built there
# with its own flags (gcc -Ofast -march=native -fopenmp -DOMP); a small harness, written
# below, includes its train_gpt2.c with TESTING defined and times gpt2_forward,
# gpt2_zero_grad, gpt2_backward and gpt2_update. Nothing of llm.c enters this repository.
# Both programs load the same llm.c-format checkpoint, written by our bench program.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-5}"
runs="${2:-2}"
work=$(mktemp -d "${TMPDIR:-/tmp}/bs_bench_cpu.XXXXXX")
trap 'rm -rf "$work"' EXIT

# llm.c, built outside the repository
llmc_src="$work/llm.c"
llmc_url="${LLMC_URL:-https://github.com/karpathy/llm.c}"
if [ -n "${LLMC_DIR:-}" ]; then
  [ -f "$LLMC_DIR/train_gpt2.c" ] || { echo "error: LLMC_DIR=$LLMC_DIR has no train_gpt2.c (not an llm.c checkout)" >&2; exit 1; }
  cp -r "$LLMC_DIR" "$llmc_src"
  llmc_commit=$(git -C "$LLMC_DIR" rev-parse --short HEAD 2>/dev/null || echo "?")
elif [ -n "${LLMC_REPO:-}" ]; then
  mkdir -p "$llmc_src"
  git -C "$LLMC_REPO" archive HEAD | tar -x -C "$llmc_src" ||
    { echo "error: LLMC_REPO=$LLMC_REPO is not a git directory with llm.c at HEAD" >&2; exit 1; }
  llmc_commit=$(git -C "$LLMC_REPO" rev-parse --short HEAD)
elif git clone -q --depth 1 "$llmc_url" "$llmc_src" 2>"$work/clone.err"; then
  llmc_commit=$(git -C "$llmc_src" rev-parse --short HEAD)
else
  echo "error: no llm.c to compare with: git clone $llmc_url failed ($(tail -n 1 "$work/clone.err"))." >&2
  echo "       Set LLMC_DIR to an llm.c checkout or LLMC_REPO to a git directory holding it, e.g." >&2
  echo "       LLMC_DIR=~/src/llm.c scripts/bench_cpu.sh" >&2
  exit 1
fi
cat > "$llmc_src/bench_harness.c" <<'EOF'
// times llm.c's CPU training step: bench_harness CHECKPOINT B T STEPS
#define TESTING
#include "train_gpt2.c"
#include <sys/resource.h>
static double now_s(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
static int cmp(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y); }
int main(int argc, char** argv) {
    if (argc != 5) { fprintf(stderr, "usage: bench_harness CHECKPOINT B T STEPS\n"); return 1; }
    int B = atoi(argv[2]), T = atoi(argv[3]), steps = atoi(argv[4]);
    GPT2 model;
    gpt2_build_from_checkpoint(&model, argv[1]);
    int* x = (int*)malloc(B * T * sizeof(int));
    int* y = (int*)malloc(B * T * sizeof(int));
    uint64_t rng = 42; // any tokens do: the step's cost does not depend on them
    for (int i = 0; i < B * T; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull; x[i] = (int)((rng >> 33) % 50257);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull; y[i] = (int)((rng >> 33) % 50257);
    }
    double* ms = (double*)malloc((steps + 1) * sizeof(double));
    for (int s = 0; s <= steps; s++) {
        double t0 = now_s();
        gpt2_forward(&model, x, y, B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.0f, s + 1);
        ms[s] = (now_s() - t0) * 1e3;
    }
    printf("steps_ms");
    for (int s = 1; s <= steps; s++) printf(" %.1f", ms[s]);
    qsort(ms + 1, steps, sizeof(double), cmp);
    double median = steps % 2 ? ms[1 + steps / 2] : 0.5 * (ms[steps / 2] + ms[steps / 2 + 1]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(" median_ms %.1f tokens_per_s %.0f peak_rss_mb %.0f loss %.4f\n", median, B * T / (median / 1e3),
           ru.ru_maxrss / 1024.0, model.mean_loss);
    return 0;
}
EOF
gcc -Ofast -march=native -fopenmp -DOMP -Wno-unused-result -o "$llmc_src/bench_harness" "$llmc_src/bench_harness.c" -lm
make -s build/bench_gpt2_cpu

threads="${OMP_NUM_THREADS:-$(nproc)}"
export OMP_NUM_THREADS="$threads"
# our programs set this themselves (llmc/cpu_fast.h: cpu_threads_passive_wait); llm.c gets
# it too, so that neither side's threads spin against the other load on a shared machine
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), OMP_NUM_THREADS=$threads, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
echo "llm.c: commit $llmc_commit, gcc -Ofast -march=native -fopenmp; ours: make (gcc -O3 -march=native, OpenBLAS $(basename "$(dirname "$(ldd build/bench_gpt2_cpu | awk '/libopenblas/ {print $3}')")"))"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

median_of() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A result
shapes=("124M:d12:4:64" "6L-384:d6:4:64" "6L-384:d6:8:256")
for shape in "${shapes[@]}"; do
  IFS=: read -r name spec B T <<< "$shape"
  ckpt="$work/$spec.bin"
  [ -f "$ckpt" ] || build/bench_gpt2_cpu "$spec" 1 1 1 "$ckpt"
  : > "$work/ours.ms"; : > "$work/llmc.ms"
  rss_ours=0; rss_llmc=0
  for ((r = 0; r < runs; r++)); do
    out=$(build/bench_gpt2_cpu "$spec" "$B" "$T" "$steps")
    echo "$out" | sed 's/.*steps_ms //; s/ median_ms.*//' | tr ' ' '\n' >> "$work/ours.ms"
    rss_ours=$(echo "$out" | sed 's/.*peak_rss_mb \([0-9]*\).*/\1/')
    out=$("$llmc_src/bench_harness" "$ckpt" "$B" "$T" "$steps" | tail -n 1)
    echo "$out" | sed 's/.*steps_ms //; s/ median_ms.*//' | tr ' ' '\n' >> "$work/llmc.ms"
    rss_llmc=$(echo "$out" | sed 's/.*peak_rss_mb \([0-9]*\).*/\1/')
  done
  result["$name B=$B T=$T"]="$(median_of < "$work/ours.ms") $(median_of < "$work/llmc.ms") $rss_ours $rss_llmc $((B * T))"
  echo "done: $name B=$B T=$T (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done

echo "| model, batch | ours ms/step | llm.c ms/step | speedup | ours tokens/s | llm.c tokens/s | ours peak RSS | llm.c peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for shape in "${shapes[@]}"; do
  IFS=: read -r name spec B T <<< "$shape"
  read -r ours llmc rss_o rss_l tok <<< "${result["$name B=$B T=$T"]}"
  awk -v n="$name B=$B T=$T" -v o="$ours" -v l="$llmc" -v ro="$rss_o" -v rl="$rss_l" -v tok="$tok" 'BEGIN {
    printf "| %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %d MB | %d MB |\n", n, o, l, l / o, tok / (o / 1e3), tok / (l / 1e3), ro, rl }'
done
echo
echo "median of $((steps * runs)) timed steps per cell ($runs runs x $steps steps, alternating); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
