#!/usr/bin/env bash
# The pretrained lambda-0 base of the study (doc/results.md, issue 13): d4w256h4t128v8192 on
# the remapped corpus (./vocab remap -V 8192, data/v8192/), plain AdamW, no BackSlash.
# One uninterrupted schedule: STEPS steps of batch 8 x 128 tokens, warmup 100, cosine from
# 1.5e-3 to 1.5e-4. Resumable: rerunning with the same STEPS continues from the latest
# state_*.bin in OUT (-y 1; train_gpt2 refuses a resume whose flags differ, run.json), so the
# schedule is the same whether or not the run was interrupted. command.txt records the exact
# command with its thread count; each (re)start appends a line to starts.txt.
# (The first round's base, 1800 steps, was cut short twice and resumed with shorter schedules;
# its files were replaced by this script's run.)
# Usage: scripts/study_base.sh [OUT=out/study/base]   Environment: STEPS (3600), THREADS (2), NICE (5)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/study/base}
STEPS=${STEPS:-3600}; THREADS=${THREADS:-2}; NICE=${NICE:-5}
make -s train_gpt2 vocab
[ -f data/v8192/train.bin ] || ./vocab remap -V 8192 -i data/corpus_train.bin -j data/corpus_val.bin -o data/v8192
mkdir -p "$OUT"
resume=0; ls "$OUT"/state_*.bin >/dev/null 2>&1 && resume=1
cmd="./train_gpt2 -e d4w256h4t128v8192 -i data/v8192/train.bin -j data/v8192/val.bin -b 8 -t 128 -x $STEPS -lr 1.5e-3 -u 100 -q 0.1 -c 0.1 -v 400 -m 20 -g 0 -pe 50 -n 400 -l 0 -o $OUT"
echo "OMP_NUM_THREADS=$THREADS $cmd" > "$OUT/command.txt"
echo "$(date -u +%FT%TZ) -y $resume load $(uptime | sed 's/.*load average: //')" >> "$OUT/starts.txt"
# shellcheck disable=SC2086
OMP_NUM_THREADS=$THREADS nice -n "$NICE" $cmd -y $resume >> "$OUT/stdout.txt" 2>&1
