# ./generate on the command line: greedy text identical across the weight forms and between
# a .bsz and its decoded .bin; the prompt from stdin as from -p; a seed repeats a sampled
# run (top-k, top-p); it stops at <|endoftext|> (a model made to prefer it); it prints the
# prefill/decode speeds and peak memory; bad flags and bad files are refused by name
set -eo pipefail
dir=$(mktemp -d build/tmp.gencli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0 -x 6 -n 6 -v 6 -l 1000 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
bsz="$dir/out/model_00000006.bsz"
./bsz decompress "$bsz" "$dir/decoded.bin" > /dev/null
gen() { ./generate -n 20 -temp 0 "$@" 2> "$dir/stderr.txt"; }
gen -e "$bsz" -p "The model" -f fp32 > "$dir/fp32.txt"
cat "$dir/stderr.txt"
for k in prefill: decode: "peak resident memory:" weights:; do grep -q "^$k" "$dir/stderr.txt" || { echo "FAIL: no '$k' line"; exit 1; }; done
for f in levels bitmap csr auto measure small; do
  gen -e "$bsz" -p "The model" -f $f > "$dir/$f.txt"
  cmp "$dir/fp32.txt" "$dir/$f.txt" || { echo "FAIL: -f $f gives other greedy text"; exit 1; }
done
# a .bsz with shared wte rows (ROWS; other weights than the plain .bsz): the forms agree
./bsz compress "$dir/out/model_00000006.bin" "$dir/shared.bsz" --shared-rows data/corpus_train.bin > /dev/null
gen -e "$dir/shared.bsz" -p "The model" -f fp32 > "$dir/shared_fp32.txt"
for f in bitmap auto; do
  gen -e "$dir/shared.bsz" -p "The model" -f $f -v 1 > "$dir/shared_$f.txt"
  cmp "$dir/shared_fp32.txt" "$dir/shared_$f.txt" || { echo "FAIL: shared rows: -f $f gives other greedy text than fp32"; exit 1; }
  grep -q "wte rows: .* [1-9][0-9]* the shared row" "$dir/stderr.txt" || { echo "FAIL: shared rows: -v 1 shows none"; cat "$dir/stderr.txt"; exit 1; }
done
grep -q "^decode profile" "$dir/stderr.txt" || { echo "FAIL: -v 1 printed no decode profile"; exit 1; }
gen -e "$dir/decoded.bin" -p "The model" > "$dir/bin.txt"
cmp "$dir/fp32.txt" "$dir/bin.txt" || { echo "FAIL: the decoded .bin gives other greedy text"; exit 1; }
grep -q "levels" "$dir/stderr.txt" || grep -q "bitmap" "$dir/stderr.txt" || { echo "FAIL: no levels found in the decoded .bin"; exit 1; }
printf 'The model' | gen -e "$bsz" > "$dir/stdin.txt"
cmp "$dir/fp32.txt" "$dir/stdin.txt" || { echo "FAIL: the prompt from stdin gives other text"; exit 1; }
echo "greedy text (all forms): $(head -c 200 "$dir/fp32.txt")"
# sampling: a seed repeats a run; another seed (almost surely) not
s1=$(./generate -e "$bsz" -p "A" -n 30 -temp 1 -topk 40 -topp 0.9 -seed 7 2>/dev/null)
s2=$(./generate -e "$bsz" -p "A" -n 30 -temp 1 -topk 40 -topp 0.9 -seed 7 2>/dev/null)
s3=$(./generate -e "$bsz" -p "A" -n 30 -temp 1 -topk 40 -topp 0.9 -seed 8 2>/dev/null)
[ "$s1" = "$s2" ] || { echo "FAIL: the same seed gave other text"; exit 1; }
[ "$s1" != "$s3" ] || { echo "FAIL: seeds 7 and 8 gave the same 30 tokens"; exit 1; }
# -n 0: nothing generated
[ -z "$(./generate -e "$bsz" -p "A" -n 0 2>/dev/null | tr -d '\n')" ] || { echo "FAIL: -n 0 generated text"; exit 1; }
# a model whose logits always favour <|endoftext|> (50256): generation stops at once
python3 - "$dir/decoded.bin" "$dir/eot.bin" <<'PY'
import sys
from array import array
raw = open(sys.argv[1], "rb").read()
h = array("i", raw[:1024]); p = array("f", raw[1024:])
C, Vp = h[6], h[7]
for v in range(Vp): p[v * C] = 0.0           # wte[:, 0]
p[50256 * C] = 10.0
for i in range(len(p) - 2 * C, len(p)): p[i] = 0.0  # lnfw, lnfb
p[len(p) - C] = 1.0                           # lnfb: channel 0
open(sys.argv[2], "wb").write(h.tobytes() + p.tobytes())
PY
out=$(./generate -e "$dir/eot.bin" -p "A" -n 10 -temp 0 2> "$dir/stderr.txt")
grep -q "stopped at <|endoftext|>" "$dir/stderr.txt" || { cat "$dir/stderr.txt"; echo "FAIL: did not stop at <|endoftext|>"; exit 1; }
[ -z "$(echo "$out" | tr -d '\n')" ] || { echo "FAIL: text before <|endoftext|>: $out"; exit 1; }
# bad input: each refused, the message naming the flag or the file
refuse() { # WHAT_TO_FIND ARGS...
  local want=$1; shift
  if ./generate "$@" > "$dir/out.txt" 2> "$dir/err.txt" < /dev/null; then echo "FAIL: accepted: $*"; exit 1; fi
  grep -q -- "$want" "$dir/err.txt" || { cat "$dir/err.txt"; echo "FAIL: message lacks '$want' for: $*"; exit 1; }
  echo "refused ($want): $(head -n 1 "$dir/err.txt")"
}
refuse "-e" -p x
refuse "-f" -e "$bsz" -f dense
refuse "-temp" -e "$bsz" -temp -1
refuse "-topp" -e "$bsz" -topp 0
refuse "-topk" -e "$bsz" -topk x
refuse "-n" -e "$bsz" -n -3
refuse "-bogus" -e "$bsz" -bogus 1
refuse "missing.bsz" -e "$dir/missing.bsz" -p x
cp "$bsz" "$dir/bad.bsz"; printf '\x55\x55' | dd of="$dir/bad.bsz" bs=1 seek=$(( $(stat -c %s "$bsz") / 2 )) conv=notrunc status=none
refuse "CRC-32" -e "$dir/bad.bsz" -p x
head -c 5000 "$dir/decoded.bin" > "$dir/short.bin"
refuse "short.bin" -e "$dir/short.bin" -p x
echo "all generate checks passed"
