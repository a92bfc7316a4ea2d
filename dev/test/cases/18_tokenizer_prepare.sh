# ./tokenizer prepare: own text -> PREFIX_train.bin / PREFIX_val.bin, llm.c token files with
# <|endoftext|> before every document, every (1/F)-th document in val (make data's split);
# then the trainer reads them
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.prepare.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# 12 documents: 10 files, the last holding three parts separated by <|endoftext|> (and a final empty one)
for i in 0 1 2 3 4 5 6 7 8; do printf 'Document number %d. The whale swam.\n' $i > "$dir/d$i.txt"; done
printf 'Doc nine.<|endoftext|>Doc ten.<|endoftext|>Doc eleven.\n<|endoftext|>\n' > "$dir/d9.txt"
./tokenizer prepare "$dir"/d?.txt -o "$dir/own" > "$dir/out"
cat "$dir/out"
grep -qx "$dir/own_train.bin: 11 documents, [0-9]* tokens" "$dir/out" || fail "train line: $(head -1 "$dir/out")"
grep -qx "$dir/own_val.bin: 1 documents, [0-9]* tokens" "$dir/out" || fail "val line: $(tail -1 "$dir/out")"
# the expected tokens, from ./tokenizer encode of each document: val = document 9 (i % 10 == 9)
docs=(); for i in 0 1 2 3 4 5 6 7 8; do docs+=("$(cat "$dir/d$i.txt")"$'\n'); done
docs+=("Doc nine." "Doc ten." $'Doc eleven.\n')
: > "$dir/train.ids"; : > "$dir/val.ids"
for i in "${!docs[@]}"; do
  out="$dir/train.ids"; [ $((i % 10)) -eq 9 ] && out="$dir/val.ids"
  { echo 50256; printf '%s' "${docs[$i]}" | ./tokenizer encode; } >> "$out"
done
for split in train val; do
  python3 - "$dir/own_$split.bin" "$dir/$split.ids" <<'PY' || fail "own_$split.bin differs from the expected tokens"
import struct, sys
b = open(sys.argv[1], 'rb').read()
h = struct.unpack('<256i', b[:1024])
assert h[0] == 20240520 and h[1] == 1, h[:3]
toks = list(struct.unpack('<%dH' % h[2], b[1024:]))
assert len(b) == 1024 + 2 * h[2]
want = [int(x) for x in open(sys.argv[2]).read().split()]
assert toks == want, (toks[:20], want[:20])
PY
done
echo "prepare: documents, split and tokens as expected"
# --val-fraction 0.25: documents 3, 7, 11
./tokenizer prepare "$dir"/d?.txt -o "$dir/q" --val-fraction 0.25 | grep -q "q_val.bin: 3 documents" || fail "--val-fraction 0.25"
# too few documents for a validation split: an error that says what to do, no files
if ./tokenizer prepare "$dir/d0.txt" -o "$dir/one" 2> "$dir/err"; then fail "one document gave a val split"; fi
grep -q "no validation split" "$dir/err" || fail "message: $(cat "$dir/err")"
[ ! -e "$dir/one_train.bin" ] || fail "wrote files although it failed"
if ./tokenizer prepare "$dir/missing.txt" -o "$dir/m" 2> "$dir/err"; then fail "a missing file was accepted"; fi
grep -q "missing.txt" "$dir/err" || fail "the error does not name the missing file"
# the trainer reads them
./train_gpt2 -e d2w64h2t64 -b 1 -t 3 -x 2 -m 1 -g 0 -i "$dir/own_train.bin" -j "$dir/own_val.bin" > "$dir/train.out" ||
  fail "train_gpt2 on the prepared files"
grep -q "final val loss" "$dir/train.out" || fail "no final val loss"
echo "prepare: ok"
