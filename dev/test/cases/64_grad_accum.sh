# Gradient accumulation (-d, shared by both trainers; checked here on the CPU trainer):
# 2 batches of B=2 accumulated into one step give the step of one B=4 batch of the same
# rows (sequential batches), so the training losses of 3 steps agree to float rounding.
# Adam and clipping do not see a gradient scale; the coupled rate term (large lambda,
# no clipping) does, so a wrong 1/accum shows.
set -eu
dir=$(mktemp -d build/tmp.accum.XXXXXX)
trap 'rm -rf "$dir"' EXIT
common="-e d2w64h2t64 -t 32 -x 3 -v 0 -m 1 -g 0 -rb 0 -l 100000 -lv coupled -gc 0"
./train_gpt2 $common -b 4 -o "$dir/one" > "$dir/one.txt"
./train_gpt2 $common -b 2 -d 128 -o "$dir/acc" > "$dir/acc.txt"
grep -q "128 tokens/step, 2 batches" "$dir/acc.txt" || { echo "FAIL: the banner does not show 2 batches per step"; cat "$dir/acc.txt"; exit 1; }
col=$(head -n 1 "$dir/one/log.csv" | tr ',' '\n' | grep -nx loss | cut -d: -f1)
paste -d, <(cut -d, -f"$col" "$dir/one/log.csv" | tail -n +2 | head -n 3) <(cut -d, -f"$col" "$dir/acc/log.csv" | tail -n +2 | head -n 3) |
  awk -F, '{ d = $1 - $2; if (d < 0) d = -d; printf "step %d: loss %s (one batch of 4) vs %s (2 x 2 accumulated), diff %.2e\n", NR, $1, $2, d;
             if (!(d <= 2e-5)) bad = 1 } END { if (NR != 3) { print "FAIL: expected 3 steps"; exit 1 } if (bad) { print "FAIL: losses differ by more than 2e-5"; exit 1 } }'
./train_gpt2 $common -b 2 -d 100 -o "$dir/bad" > "$dir/bad.txt" 2>&1 && { echo "FAIL: -d not a multiple of B*T accepted"; exit 1; }
grep -q "flag -d" "$dir/bad.txt" || { echo "FAIL: no message naming -d"; cat "$dir/bad.txt"; exit 1; }
echo "gradient accumulation: 3 steps agree; a bad -d is refused"
