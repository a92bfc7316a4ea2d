#!/usr/bin/env bash
# Batch-1 decode speed and memory of ./generate, each weight form against our dense fp32
# path on the same model in the same run (doc/generate.md has a table from it).
#
#   scripts/bench_generate.sh [RUNS] [TOKENS]     (defaults 3 runs, 32 new tokens)
#
# Models (those that exist are measured):
#   make train's model          out/train/model_00000200.bsz     (BackSlash, coupled, lambda 1000)
#   a lambda-0 model            out/train_l0/model_00000200.bsz  (make train TRAIN_FLAGS="-l 0"
#                                                                 TRAIN_OUT=out/train_l0)
#   124M-shape synthetic models build/bench/d12_zZZ.bsz: GPT-2's initialisation, magnitude-
#                               pruned to 50/80/90/95% zeros, quantized at Delta 1e-3
#                               (dev/bench/synth_model.c; not trained weights)
# MODELS="a.bsz b.bsz" measures those instead. Each run of a model tries every form in
# turn (fp32 first), so load changes hit all of them; a cell is the median over RUNS.
# FORMS="fp32 bf16 levels bitmap csr small auto measure" chooses the forms (fp32 first; the
# default leaves out bf16, lossy, and measure, slow to load).
# Greedy decoding (-temp 0) from a fixed prompt; the text of every form must equal fp32's.
# Threads: OMP_NUM_THREADS (default 1: one core, the bandwidth of one core).
# Columns: weights = resident bytes of the weight matrices (fraction of fp32); peak RSS
# = the process's maximum resident set (loading included: the coded file is held while it
# is decoded); RSS after = resident set at the end; tok/s cpu = decode tokens per
# CPU-second of the forward passes (steady on a shared machine); tok/s wall = per second
# of wall clock; x fp32 = the cpu rate over fp32's.
# A second table: each form's matrix-vector product alone (dev/bench/bench_weight_form.c:
# int8 levels, 75 M weights streamed from memory, one thread, minimum CPU time of 10 rounds)
# at 50/80/90/95% zeros: where the decode time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
tokens="${2:-32}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
forms="${FORMS:-fp32 levels bitmap csr small auto}"
# about 120 GPT-2 tokens: the prefill's figure (prompt tokens per CPU-second of the prefill)
prompt="The weights of a small model are read once for every token it writes, so the speed of writing depends on how many bytes those weights take in memory and how quickly the processor can turn them back into numbers. A model trained with a rate constraint keeps most of its weights at zero and the rest on a few quantization levels; held in memory as levels, bitmaps or lists of nonzeros, it reads far fewer bytes than the same model held as floats, and the question is how much of that saving reaches the speed of writing text on an ordinary processor."
make -s generate bsz build/synth_model build/bench_weight_form

if [ -z "${MODELS:-}" ]; then
  MODELS=""
  for m in out/train/model_00000200.bsz out/train_l0/model_00000200.bsz; do [ -f "$m" ] && MODELS="$MODELS $m"; done
  mkdir -p build/bench
  for z in 50 80 90 95; do
    m=build/bench/d12_z$z.bsz
    if [ ! -f "$m" ]; then
      build/synth_model d12 "0.$z" build/bench/d12_z$z.bin > /dev/null
      ./bsz compress build/bench/d12_z$z.bin "$m" > /dev/null
      rm -f build/bench/d12_z$z.bin
    fi
    MODELS="$MODELS $m"
  done
fi

work=$(mktemp -d /tmp/bs_bench_generate.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp generate "$work/generate" # a rebuild during the run does not disturb it
echo "machine: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc --all) cores," \
     "avx512f: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo "runs: $runs, new tokens: $tokens, greedy, a prompt of $(printf '%s' "$prompt" | wc -w) words"
for m in $MODELS; do
  for r in $(seq "$runs"); do
    for f in $forms; do
      "$work/generate" -e "$m" -p "$prompt" -n "$tokens" -temp 0 -f "$f" > "$work/out.$f" 2> "$work/err.$f" ||
        { cat "$work/err.$f"; exit 1; }
      cpu=$(sed -n 's/^decode cpu: .*, \([0-9.]*\) tokens per CPU-second/\1/p' "$work/err.$f")
      pre=$(sed -n 's/^prefill: .*, \([0-9.]*\) tokens per CPU-second/\1/p' "$work/err.$f")
      wall=$(sed -n 's/^decode: .* ms, \([0-9.]*\) tokens\/s (forward only.*/\1/p' "$work/err.$f")
      mibw=$(sed -n 's/^weights: \([0-9.]*\) MiB in memory.*/\1/p' "$work/err.$f")
      frac=$(sed -n 's/^weights: .*: \([0-9.]*\) of it$/\1/p' "$work/err.$f")
      zero=$(sed -n 's/^weights: .*weights (\([0-9.]*\)% zero).*/\1/p' "$work/err.$f")
      rss=$(sed -n 's/^peak resident memory: \([0-9.]*\) MiB.*/\1/p' "$work/err.$f")
      now=$(sed -n 's/^peak resident memory: .*resident now \([0-9.]*\) MiB/\1/p' "$work/err.$f")
      same=yes; cmp -s "$work/out.fp32" "$work/out.$f" || same=no
      echo "$m $f $r $cpu $wall $mibw $frac $zero $rss $same $now $pre" >> "$work/rows"
    done
  done
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"
python3 - "$work/rows" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
models = list(dict.fromkeys(r[0] for r in rows))
forms = list(dict.fromkeys(r[1] for r in rows))
print()
print("| model | zeros | form | weights MiB (of fp32) | peak RSS MiB | RSS after MiB | decode tok/s cpu | x fp32 | tok/s wall | prefill tok/s cpu | x fp32 | greedy = fp32 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    base = st.median(float(r[3]) for r in rows if r[0] == m and r[1] == "fp32")
    pbase = st.median(float(r[11]) for r in rows if r[0] == m and r[1] == "fp32")
    for f in forms:
        rs = [r for r in rows if r[0] == m and r[1] == f]
        cpu = st.median(float(r[3]) for r in rs); wall = st.median(float(r[4]) for r in rs)
        rss = st.median(float(r[8]) for r in rs); now = st.median(float(r[10]) for r in rs)
        pre = st.median(float(r[11]) for r in rs)
        same = "yes" if all(r[9] == "yes" for r in rs) else "no" + (" (bf16 is lossy)" if f == "bf16" else "")
        print(f"| {m} | {rs[0][7]}% | {f} | {float(rs[0][5]):.1f} ({float(rs[0][6]):.3f}) | {rss:.0f} | {now:.0f} | {cpu:.1f} | {cpu / base:.2f} | {wall:.1f} | {pre:.0f} | {pre / pbase:.2f} | {same} |")
PY
echo
echo "matrix-vector products alone (one thread; int8 levels; ns per 16 weights, GB/s of the form's bytes):"
for z in 0.5 0.8 0.9 0.95; do OMP_NUM_THREADS=1 build/bench_weight_form $z 10; done > "$work/kernels"
python3 - "$work/kernels" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
forms = list(dict.fromkeys(r[1] for r in rows))
zs = list(dict.fromkeys(r[0] for r in rows))
print("| zeros | " + " | ".join(f"{f} ns/16 (B/weight, GB/s)" for f in forms) + " |")
print("|---|" + "---|" * len(forms))
for z in zs:
    cells = []
    for f in forms:
        r = next(r for r in rows if r[0] == z and r[1] == f)
        cells.append(f"{float(r[2]):.2f} ({float(r[4]):.3f}, {float(r[3]):.1f})")
    print(f"| {float(z)*100:.0f}% | " + " | ".join(cells) + " |")
PY
