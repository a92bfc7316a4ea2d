# resume continues bit-identically: a run of 8 steps, and the same run resumed from its
# step-4 state, give the same log (loss, val_loss, lr, grad_norm bit for bit), the same
# samples and the same final checkpoint bytes
set -e
dir=$(mktemp -d build/tmp.resume.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args=(-e d2w64h2t64 -b 4 -t 32 -x 8 -v 2 -m 2 -n 4 -s 3 -g 8 -lr 1e-3 -u 2 -o "$dir/run")
./train_gpt2 "${args[@]}" > "$dir/straight.txt"
cp "$dir/run/log.csv" "$dir/straight.csv"
cp "$dir/run/model_00000008.bin" "$dir/straight.bin"
# as if the run had stopped after its step-4 checkpoint
rm "$dir/run/model_00000008.bin" "$dir/run/state_00000008.bin"
./train_gpt2 "${args[@]}" -y 1 > "$dir/resumed.txt"
grep -q "resuming from $dir/run/state_00000004.bin (step 4)" "$dir/resumed.txt" || fail "did not resume from step 4"
cut -d, -f1-5 "$dir/straight.csv" > "$dir/a"
cut -d, -f1-5 "$dir/run/log.csv" > "$dir/b"
cmp "$dir/a" "$dir/b" || { diff "$dir/a" "$dir/b" || true; fail "the logs differ"; }
[ "$(wc -l < "$dir/b")" -eq 10 ] || fail "the resumed log has $(wc -l < "$dir/b") lines, expected 10"
cmp "$dir/straight.bin" "$dir/run/model_00000008.bin" || fail "the final checkpoints differ"
# the samples after step 4 (steps 6 and 8) are the same text
awk '/^step 6: val/,0' "$dir/straight.txt" | grep -v -E "ms \||^resuming" > "$dir/sa"
awk '/^step 6: val/,0' "$dir/resumed.txt" | grep -v -E "ms \||^resuming" > "$dir/sb"
grep -q "^generated:" "$dir/sa" || fail "no samples after step 4"
cmp "$dir/sa" "$dir/sb" || { diff "$dir/sa" "$dir/sb" || true; fail "the output after step 4 differs"; }
echo "resume: logs, samples and final checkpoint identical"
