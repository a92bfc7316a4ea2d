# The checkpoint files are the same for both trainers: a training state written by
# train_gpt2 (CPU), read and written again by llmc/train_checkpoint.h (the CUDA trainer's
# code), resumes train_gpt2 bit for bit: after 2 + 2 steps the log and the weights equal
# those of 4 straight steps. With BackSlash on, so its saved moments matter.
set -eu
dir=$(mktemp -d build/tmp.ckfiles.XXXXXX)
trap 'rm -rf "$dir"' EXIT
common="-e d2w64h2t64 -b 2 -t 32 -x 4 -n 2 -v 2 -m 1 -g 0 -l 1000"
./train_gpt2 $common -o "$dir/straight" > "$dir/straight.txt"
mkdir "$dir/resumed"
dev/test/bin/test_train_checkpoint --rewrite "$dir/straight/state_00000002.bin" "$dir/resumed"
cp "$dir/straight/log.csv" "$dir/resumed/log.csv" # the resumed run keeps the rows before step 2
./train_gpt2 $common -o "$dir/resumed" -y 1 > "$dir/resumed.txt"
grep -q "resuming from $dir/resumed/state_00000002.bin" "$dir/resumed.txt" || { echo "FAIL: did not resume"; cat "$dir/resumed.txt"; exit 1; }
cmp "$dir/straight/model_00000004.bin" "$dir/resumed/model_00000004.bin" || { echo "FAIL: weights after 4 steps differ"; exit 1; }
# the logs without the timing columns (tokens_per_s, ms_per_step)
untimed() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tokens_per_s" || $i == "ms_per_step") skip[i] = 1 }
                     { out = ""; for (i = 1; i <= NF; i++) if (!skip[i]) out = out $i ","; print out }' "$1"; }
untimed "$dir/straight/log.csv" > "$dir/a.csv"
untimed "$dir/resumed/log.csv" > "$dir/b.csv"
[ "$(wc -l < "$dir/a.csv")" -eq 6 ] || { echo "FAIL: expected a header and 5 rows in the log"; cat "$dir/a.csv"; exit 1; }
cmp "$dir/a.csv" "$dir/b.csv" || { echo "FAIL: the logs differ"; diff "$dir/a.csv" "$dir/b.csv"; exit 1; }
echo "a state rewritten by train_checkpoint.h resumes train_gpt2 bit for bit (weights and log after 4 steps)"
