# ./bsz info --groups TOKENS: the parameter groups of a coded model (llmc/param_groups.h) from
# its decoded weights. A made-up model whose zeros are known exactly (every weight is 0 or
# at least 2 Delta away from the rounding boundary): the matrices hold 1/4 zeros, the wte
# rows of the 490 tokens absent from the token file and the 12 padding rows are all zero, the
# rows of the 10 tokens present have none; the row bins follow the tokens' counts (token i
# occurs i + 1 times). Also: the active total leaves out the unused and padding rows, and
# bad use names the flag.
set -eo pipefail
dir=$(mktemp -d build/tmp.bszgroups.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/m.bin" "$dir/t.bin" "$dir/want.txt" <<'PY'
import random, struct, sys
L, C, NH, V, T = 2, 32, 4, 500, 32
Vp = (V + 63) // 64 * 64
random.seed(3)
def val():
    return random.choice((-1, 1)) * (0.003 + random.random() * 0.05)
w = []
for r in range(Vp):                    # wte: rows 0..9 used, the rest (and padding) zero
    w += [val() if r < 10 else 0.0 for _ in range(C)]
w += [val() for _ in range(T * C)]     # wpe
mat = 0
def tensor(n, matrix):
    global mat
    out = []
    for i in range(n):
        out.append(0.0 if matrix and i % 4 == 0 else val())
    if matrix: mat += n
    return out
for name, n, m in (("ln1w", C, 0), ("ln1b", C, 0), ("qkvw", 3*C*C, 1), ("qkvb", 3*C, 0), ("attprojw", C*C, 1),
                   ("attprojb", C, 0), ("ln2w", C, 0), ("ln2b", C, 0), ("fcw", 4*C*C, 1), ("fcb", 4*C, 0),
                   ("fcprojw", 4*C*C, 1), ("fcprojb", C, 0)):
    w += tensor(L * n, m)
w += [val() for _ in range(2 * C)]     # lnfw, lnfb
hdr = [20240326, 3, T, V, L, NH, C, Vp] + [0] * 248
open(sys.argv[1], "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%df" % len(w), *w))
ids = [i for i in range(10) for _ in range(i + 1)]
open(sys.argv[2], "wb").write(struct.pack("<3i", 20240520, 1, len(ids)) + bytes(1012) + struct.pack("<%dH" % len(ids), *ids))
n = len(w)
active = n - (Vp - 10) * C
with open(sys.argv[3], "w") as f:
    f.write("matrices %d 25.00%%\n" % mat)
    f.write("wte n=0 %d 490 100.00%%\n" % (490 * C))
    f.write("wte n=1-9 %d 9 0.00%%\n" % (9 * C))
    f.write("wte n=10-99 %d 1 0.00%%\n" % C)
    f.write("wte padding %d 12 100.00%%\n" % (12 * C))
    f.write("active %d 10 %.2f%%\n" % (active, 100.0 * (mat // 4) / active))
    f.write("all %d %d %.2f%%\n" % (n, Vp, 100.0 * (mat // 4 + (Vp - 10) * C) / n))
PY
./bsz compress "$dir/m.bin" "$dir/m.bsz" --delta 1e-3
./bsz info --groups "$dir/t.bin" "$dir/m.bsz" | tee "$dir/out.txt"
# "group params [share] [rows] zeros" for each expected line
python3 - "$dir/out.txt" "$dir/want.txt" <<'PY'
import re, sys
got = {}
for line in open(sys.argv[1]):
    m = re.match(r"  (matrices|wpe|wte n=\S+|wte padding|wte|other|active|all)\s+(\d+)\s+[0-9.]+%\s+(\d*)\s+([0-9.]+%)", line)
    if m: got[m.group(1)] = " ".join(x for x in m.group(2, 3, 4) if x)
for line in open(sys.argv[2]):
    name, rest = re.match(r"(matrices|wte n=\S+|wte padding|active|all) (.*)", line.strip()).groups()
    assert got.get(name) == rest, "%s: got %r, want %r" % (name, got.get(name), rest)
    print("ok:", name, rest)
PY
grep -q "wte rows binned by their token's count in $dir/t.bin (55 tokens)" "$dir/out.txt"
expect_fail() { # expect_fail "what" "message part" cmd...
  local what=$1 want=$2; shift 2
  if "$@" > "$dir/err" 2>&1; then echo "FAIL: $what: exit 0"; cat "$dir/err"; exit 1; fi
  grep -q -- "$want" "$dir/err" || { echo "FAIL: $what: no '$want' in:"; cat "$dir/err"; exit 1; }
  echo "ok: $what: $(head -n 1 "$dir/err")"
}
expect_fail "no token file" "--groups needs a token file" ./bsz info "$dir/m.bsz" --groups
expect_fail "with --json" "not with --json" ./bsz info --json --groups "$dir/t.bin" "$dir/m.bsz"
expect_fail "a missing token file" "$dir/none.bin" ./bsz info --groups "$dir/none.bin" "$dir/m.bsz"
head -c 1000 "$dir/m.bin" > "$dir/bad.bin"
expect_fail "a token file that is not one" "$dir/bad.bin" ./bsz info --groups "$dir/bad.bin" "$dir/m.bsz"
echo "bsz info --groups checks passed"
