# ./bsz and the trainers with the entropy coders (--coder / -bc) and shared rows
# (--shared-rows / -br): every coder decodes to the same weights; auto is never larger than
# EG; the report's global EG0 column is what an EG-0 file with one global map spends; shared
# rows decode to their mean row and shrink the file; bad flags and bad token files are named
set -eo pipefail
dir=$(mktemp -d build/tmp.bszcoders.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# a small checkpoint (L=2, C=32, V=500) with 80% exact zeros, and a token file using ids < 200
python3 - "$dir/m.bin" "$dir/tokens.bin" <<'PY'
import random, struct, sys
L, C, NH, V, T = 2, 32, 4, 500, 32
Vp = (V + 63) // 64 * 64
n = Vp*C + T*C + L*(2*C + 3*C*C + 3*C + C*C + C + 2*C + 4*C*C + 4*C + 4*C*C + C) + 2*C
random.seed(3)
w = [0.0 if random.random() < 0.8 else random.choice((-1, 1)) * random.expovariate(100.0) for _ in range(n)]
hdr = [20240326, 3, T, V, L, NH, C, Vp] + [0] * 248
open(sys.argv[1], "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%df" % n, *w))
toks = [random.randrange(200) for _ in range(5000)]
open(sys.argv[2], "wb").write(struct.pack("<256i", 20240520, 1, len(toks), *([0] * 253)) + struct.pack("<%dH" % len(toks), *toks))
PY
expect_fail() { # expect_fail "what" "message part" cmd...
  local what=$1 want=$2; shift 2
  if "$@" > "$dir/out" 2>&1; then echo "FAIL: $what: exit 0"; cat "$dir/out"; exit 1; fi
  grep -q -- "$want" "$dir/out" || { echo "FAIL: $what: no '$want' in:"; cat "$dir/out"; exit 1; }
  echo "ok: $what: $(head -n 1 "$dir/out")"
}
for c in eg rans cabac auto; do
  ./bsz compress "$dir/m.bin" "$dir/$c.bsz" --coder $c --chunk 1000
  ./bsz decompress "$dir/$c.bsz" "$dir/$c.out.bin"
  cmp "$dir/eg.out.bin" "$dir/$c.out.bin"
  ./bsz info "$dir/$c.bsz" > "$dir/$c.info"
  [ $c = auto ] || awk -v c=$c 'NR > 2 && $1 != "total" && $1 != "global" && $1 != "file:" && $6 != c && !(c == "rans" && $6 == "eg") { bad = 1 } END { exit bad }' "$dir/$c.info" \
    || { echo "FAIL: a tensor of $c.bsz is not coded with $c"; cat "$dir/$c.info"; exit 1; }
done
echo "ok: eg, rans, cabac and auto decode to the same weights"
grep -E '^(tensor|wte|total|global) ' "$dir/auto.info"
size() { stat -c %s "$1"; }
[ "$(size "$dir/auto.bsz")" -le "$(size "$dir/eg.bsz")" ] || { echo "FAIL: auto larger than eg"; exit 1; }
echo "sizes: eg $(size "$dir/eg.bsz"), rans $(size "$dir/rans.bsz"), cabac $(size "$dir/cabac.bsz"), auto $(size "$dir/auto.bsz") bytes"
# the global row's EG0 is the paper's code: one global map, EG-0 (a file of exactly that,
# whose code is at most 7 padding bits a chunk longer)
./bsz compress "$dir/m.bin" "$dir/eg0.bsz" --coder eg --k 0 --map global > /dev/null
./bsz info --json "$dir/eg0.bsz" > "$dir/eg0.json"
python3 - "$dir/eg0.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); g, t = j["global"], j["total"]
n = t["params"]; pad = 7.0 * sum(1 for x in j["tensors"]) / n
assert abs(t["file_bits"] - g["eg_bits"][0]) <= pad + 1e-6, (t["file_bits"], g["eg_bits"][0])
assert t["entropy_bits"] <= g["entropy_bits"] + 1e-9 and t["huffman_bits"] <= g["huffman_bits"] + 1e-9
print("ok: global EG0 %.4f = the EG-0 file's code %.4f bits/param; entropy per tensor %.4f <= global %.4f"
      % (g["eg_bits"][0], t["file_bits"], t["entropy_bits"], g["entropy_bits"]))
PY
# shared rows: token ids 200..499 never occur, and 500..511 are padding
./bsz compress "$dir/m.bin" "$dir/shared.bsz" --shared-rows "$dir/tokens.bin" | tee "$dir/shared.txt"
grep -q "312 of 512 wte rows are shared" "$dir/shared.txt"
./bsz info --total "$dir/shared.bsz" | grep -q "312 wte rows shared"
[ "$(size "$dir/shared.bsz")" -lt "$(size "$dir/auto.bsz")" ] || { echo "FAIL: shared rows do not shrink the file"; exit 1; }
./bsz decompress "$dir/shared.bsz" "$dir/shared.out.bin"
python3 - "$dir/m.bin" "$dir/auto.out.bin" "$dir/shared.out.bin" <<'PY'
import struct, sys
def load(p):
    b = open(p, "rb").read(); n = (len(b) - 1024) // 4
    return struct.unpack("<%df" % n, b[1024:])
w, q, s = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
C, Vp = 32, 512
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
for c in range(C):
    mean = f32(sum(w[v * C + c] for v in range(200, Vp)) / (Vp - 200))
    assert all(s[v * C + c] == mean for v in range(200, Vp)), "shared row, column %d" % c
assert s[:200 * C] == q[:200 * C] and s[Vp * C:] == q[Vp * C:], "the coded weights"
print("ok: shared rows decode to their mean row, every other weight as without them")
PY
# bad input
expect_fail "bad coder" "--coder" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --coder zip
expect_fail "shared rows from a missing file" "--shared-rows" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --shared-rows "$dir/none.bin"
expect_fail "shared rows from a checkpoint" "--shared-rows" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --shared-rows "$dir/m.bin"
[ ! -e "$dir/x.bsz" ] || { echo "FAIL: an output file after an error"; exit 1; }
# the trainer: -bc and -br for its coded checkpoints; -e reads them
run=(./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0)
"${run[@]}" -x 2 -v 2 -bc rans -br 1 -o "$dir/run" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
./bsz info "$dir/run/model_00000002.bsz" > "$dir/train.info"
grep -q "wte rows shared" "$dir/train.info" || { echo "FAIL: no shared rows"; cat "$dir/train.info"; exit 1; }
grep -q "^wte .* rans " "$dir/train.info" || { echo "FAIL: wte not rANS-coded"; cat "$dir/train.info"; exit 1; }
./bsz decompress "$dir/run/model_00000002.bsz" "$dir/deq.bin"
val() { "${run[@]}" -x 1 -v 1 -e "$1" 2>&1 | sed -n 's/^step 0: val loss //p'; }
a=$(val "$dir/run/model_00000002.bsz"); b=$(val "$dir/deq.bin")
echo "val loss: from the coded checkpoint with shared rows $a, from its decompressed .bin $b"
[ -n "$a" ] && [ "$a" = "$b" ]
expect_fail "trainer bad -bc" "-bc" "${run[@]}" -x 1 -bc zip
expect_fail "trainer bad -br" "-br" "${run[@]}" -x 1 -br 2
