#!/usr/bin/env bash
# The pretrained lambda-0 base of the study (doc/results.md, issue 13): d4w256h4t128v8192 on
# the remapped corpus (./vocab remap -V 8192, data/v8192/), plain AdamW, no BackSlash.
# Resumable: rerunning continues from the latest state_*.bin in OUT (-y 1). The study's base
# was cut short twice to fit the session's CPU time, each time resumed from the latest state
# with a shorter schedule (the cosine then follows it): steps 1-400 ran with -x 3600,
# 401-1200 with -x 2400, 1201-1800 with -x 1800 (lr at step 400: 1.48e-3 then 1.44e-3; at
# step 1200: 8.7e-4 then 5.2e-4).
# Usage: scripts/study_base.sh [OUT=out/study/base]   Environment: STEPS (1800), THREADS (1), NICE (5)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/study/base}
STEPS=${STEPS:-1800}; THREADS=${THREADS:-1}; NICE=${NICE:-5}
make -s train_gpt2 vocab
[ -f data/v8192/train.bin ] || ./vocab remap -V 8192 -i data/corpus_train.bin -j data/corpus_val.bin -o data/v8192
mkdir -p "$OUT"
resume=0; ls "$OUT"/state_*.bin >/dev/null 2>&1 && resume=1
cmd="./train_gpt2 -e d4w256h4t128v8192 -i data/v8192/train.bin -j data/v8192/val.bin -b 8 -t 128 -x $STEPS -lr 1.5e-3 -u 100 -q 0.1 -c 0.1 -v 400 -m 20 -g 0 -pe 50 -n 400 -l 0 -o $OUT"
echo "$cmd" > "$OUT/command.txt"
# shellcheck disable=SC2086
OMP_NUM_THREADS=$THREADS nice -n "$NICE" $cmd -y $resume >> "$OUT/stdout.txt" 2>&1
