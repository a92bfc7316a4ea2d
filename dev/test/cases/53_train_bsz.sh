# the trainer and coded models: train_gpt2 writes model_*.bsz at each checkpoint and at the
# end and prints the size report; the trained weights round-trip exactly (test_codec
# --roundtrip); -e takes a .bsz: its val loss equals that of the dequantized fp32
# checkpoint (same weights, printed to 4 decimals) and is within 0.01 of the unquantized
# model's at Delta = 1e-3; a corrupt .bsz or a bad -ld is refused
set -eo pipefail
dir=$(mktemp -d build/tmp.trainbsz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
run=(./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0)
"${run[@]}" -x 4 -n 2 -v 4 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
for s in 00000002 00000004; do [ -s "$dir/out/model_$s.bsz" ] || { echo "FAIL: no model_$s.bsz"; exit 1; }; done
grep -q "^coded model $dir/out/model_00000004.bsz" "$dir/train.txt"
grep -E "^total |^file: " "$dir/train.txt"
dev/test/bin/test_codec --roundtrip "$dir/out/model_00000004.bin"
./bsz decompress "$dir/out/model_00000004.bsz" "$dir/deq.bin"
val() { "${run[@]}" -x 1 -v 1 -e "$1" 2>&1 | sed -n 's/^step 0: val loss //p'; }
a=$(val "$dir/out/model_00000004.bsz"); b=$(val "$dir/deq.bin"); c=$(val "$dir/out/model_00000004.bin")
echo "val loss: from .bsz $a, from the dequantized .bin $b, full precision $c"
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: .bsz and its dequantized checkpoint differ"; exit 1; }
python3 -c 'import sys; a, c = float(sys.argv[1]), float(sys.argv[2]); assert abs(a - c) < 0.01, (a, c)' "$a" "$c"
# a larger Delta gives a smaller file
"${run[@]}" -x 1 -v 1 -ld 1e-2 -e "$dir/out/model_00000004.bin" -o "$dir/coarse" > /dev/null 2>&1
s1=$(stat -c %s "$dir/coarse/model_00000001.bsz"); s2=$(stat -c %s "$dir/out/model_00000004.bsz")
echo "Delta 1e-2: $s1 bytes, Delta 1e-3: $s2 bytes"
[ "$s1" -lt "$s2" ]
# bad input
if "${run[@]}" -x 1 -ld 0 > "$dir/err.txt" 2>&1; then echo "FAIL: -ld 0 accepted"; exit 1; fi
grep -q -- "-ld" "$dir/err.txt"
cp "$dir/out/model_00000004.bsz" "$dir/bad.bsz"
printf '\x55\x55' | dd of="$dir/bad.bsz" bs=1 seek=3000 conv=notrunc status=none
if "${run[@]}" -x 1 -e "$dir/bad.bsz" > "$dir/err.txt" 2>&1; then echo "FAIL: corrupt .bsz accepted"; exit 1; fi
grep "CRC-32 mismatch" "$dir/err.txt"
echo "all trainer/codec checks passed"
