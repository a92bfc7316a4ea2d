# ./bsz on the command line: compress -> info (table and JSON) -> decompress gives the
# dequantized weights exactly; bad flags and bad files give an error and a non-zero exit
set -eo pipefail
dir=$(mktemp -d build/tmp.bsz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# a small llm.c fp32 checkpoint (L=2, C=32, V=500, maxT=32) with Laplacian weights
python3 - "$dir/m.bin" <<'PY'
import math, random, struct, sys
L, C, NH, V, T = 2, 32, 4, 500, 32
Vp = (V + 63) // 64 * 64
n = Vp*C + T*C + L*(2*C + 3*C*C + 3*C + C*C + C + 2*C + 4*C*C + 4*C + 4*C*C + C) + 2*C
random.seed(1)
w = [random.choice((-1, 1)) * random.expovariate(50.0) for _ in range(n)]
hdr = [20240326, 3, T, V, L, NH, C, Vp] + [0] * 248
open(sys.argv[1], "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%df" % n, *w))
PY
expect_fail() { # expect_fail "what" "message part" cmd...
  local what=$1 want=$2; shift 2
  if "$@" > "$dir/out" 2>&1; then echo "FAIL: $what: exit 0"; cat "$dir/out"; exit 1; fi
  grep -q -- "$want" "$dir/out" || { echo "FAIL: $what: no '$want' in:"; cat "$dir/out"; exit 1; }
  echo "ok: $what: $(head -n 1 "$dir/out")"
}
./bsz compress "$dir/m.bin" "$dir/m.bsz" --delta 1e-3
./bsz info "$dir/m.bsz" | tee "$dir/info.txt"
grep -q '^total ' "$dir/info.txt"
grep -q '^h1.fcprojw ' "$dir/info.txt"
./bsz info --json "$dir/m.bsz" > "$dir/info.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j["tensors"]) == 4+12*2 and j["total"]["params"] > 0; print("json ok:", j["total"]["eg_bits"])' "$dir/info.json"
./bsz decompress "$dir/m.bsz" "$dir/d.bin"
# the decompressed weights are rint(w * (1/Delta)) * Delta, exactly (float32 arithmetic)
python3 - "$dir/m.bin" "$dir/d.bin" <<'PY'
import struct, sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
assert a[:1024] == b[:1024] and len(a) == len(b), "header and size"
n = (len(a) - 1024) // 4
wa = struct.unpack("<%df" % n, a[1024:]); wb = struct.unpack("<%df" % n, b[1024:])
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
inv, delta = f32(1.0 / f32(1e-3)), f32(1e-3)
bad = sum(1 for x, y in zip(wa, wb) if f32(round(f32(x * inv)) * delta) != y)
assert bad == 0, "%d weights differ" % bad
print("decompressed == quantized weights:", n)
PY
./bsz compress "$dir/m.bin" "$dir/t.bsz" --map tensor --k 0 --chunk 100
./bsz info --total "$dir/t.bsz" | grep -q "per-tensor value maps"
# bad input
expect_fail "no arguments" "usage" ./bsz
expect_fail "unknown command" "unknown command" ./bsz squeeze
expect_fail "bad delta" "--delta" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --delta -1
expect_fail "bad k" "--k" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --k 9
expect_fail "bad map" "--map" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --map some
expect_fail "missing value" "needs a value" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --delta
expect_fail "unknown option" "unknown option" ./bsz info --fast "$dir/m.bsz"
expect_fail "missing input" "cannot stat" ./bsz compress "$dir/none.bin" "$dir/x.bsz"
expect_fail "not a checkpoint" "bad magic" ./bsz compress "$dir/m.bsz" "$dir/x.bsz"
expect_fail "info of a checkpoint" "bad magic" ./bsz info "$dir/m.bin"
head -c 3000 "$dir/m.bsz" > "$dir/cut.bsz"
expect_fail "truncated" "truncated" ./bsz decompress "$dir/cut.bsz" "$dir/x.bin"
cp "$dir/m.bsz" "$dir/flip.bsz"
printf '\x55' | dd of="$dir/flip.bsz" bs=1 seek=5000 conv=notrunc status=none
expect_fail "bit flips" "CRC-32 mismatch" ./bsz info "$dir/flip.bsz"
expect_fail "weights too large for Delta" "limit" ./bsz compress "$dir/m.bin" "$dir/x.bsz" --delta 1e-12
[ ! -e "$dir/x.bsz" ] && [ ! -e "$dir/x.bin" ] || { echo "FAIL: a failed command left an output file"; exit 1; }
ls "$dir" | grep -q tmp && { echo "FAIL: temporary file left behind"; exit 1; }
echo "all CLI checks passed"
