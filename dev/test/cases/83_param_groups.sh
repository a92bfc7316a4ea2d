# parameter groups (llmc/param_groups.h, eval_gpt2 -f) and per-batch losses (eval_gpt2 -pb,
# -m 0, scripts/paired_se.py): a tiny v64 model trained on a file that uses only some ids;
# every group's rows, parameters, zeros, entropy and EG size equal an independent Python
# computation from the checkpoint; unused rows are exactly the ids absent from the file;
# -m 0 evaluates every batch and the per-batch losses average to the printed loss; the
# paired standard error of a model against itself is 0 and against another is positive;
# bad flags are refused
set -eo pipefail
dir=$(mktemp -d build/tmp.groups.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import random, struct, sys
d = sys.argv[1]
def write(path, toks):
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(toks), *([0] * 253)))
        f.write(struct.pack("<%dH" % len(toks), *toks))
rng = random.Random(3)
ids = list(range(0, 40, 2)) + [41, 43]                 # odd ids below 41 and 44..63 never occur
w = [2000 if i == 0 else 200 if i < 10 else 5 for i in ids]
write(d + "/train.bin", rng.choices(ids, weights=w, k=4000))
write(d + "/val.bin", rng.choices(ids, weights=w, k=1100))
PY
./train_gpt2 -e d1w32h2t32v64 -i "$dir/train.bin" -j "$dir/val.bin" -b 2 -t 16 -x 20 -v 0 -m 2 -g 0 -l 2000 -o "$dir/m" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
model="$dir/m/model_00000020.bin"
./eval_gpt2 -e "$model" -j "$dir/val.bin" -b 2 -t 16 -m 0 -pb "$dir/pb.txt" -f "$dir/train.bin" -gd 0.01 -go "$dir/g.csv" -tag x | tee "$dir/eval.txt"
./eval_gpt2 -e "$model" -j "$dir/val.bin" -b 2 -t 16 -m 0 -q 0.05 -pb "$dir/pb_q.txt" > /dev/null
python3 - "$dir" "$model" <<'PY'
import collections, csv, math, re, struct, sys
d, path = sys.argv[1], sys.argv[2]
b = open(path, "rb").read()
h = struct.unpack("<256i", b[:1024])
maxT, V, L, NH, C, Vp = h[2], h[3], h[4], h[5], h[6], h[7]
p = struct.unpack("<%df" % ((len(b) - 1024) // 4), b[1024:])
sizes = [Vp * C, maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C, C, C]
off = [sum(sizes[:i]) for i in range(16)]
t = open(d + "/train.bin", "rb").read(); n = struct.unpack("<3i", t[:12])[2]
cnt = collections.Counter(struct.unpack("<%dH" % n, t[1024:1024 + 2 * n]))
def q(x): return int(round(x / 0.01))  # ties never happen with these weights
def grp(r):
    if r >= V: return "wte padding"
    c = cnt[r]
    return "wte n=0" if c == 0 else "wte n=1-9" if c < 10 else "wte n=10-99" if c < 100 else "wte n=100-999" if c < 1000 else "wte n>=1000"
groups = collections.defaultdict(list); rows = collections.Counter()
for r in range(Vp):
    groups[grp(r)] += [q(x) for x in p[r * C:(r + 1) * C]]; rows[grp(r)] += 1
for i in range(1, 16):
    name = "wpe" if i == 1 else "matrices" if i in (4, 6, 10, 12) else "other"
    groups[name] += [q(x) for x in p[off[i]:off[i] + sizes[i]]]
groups["active"] = sum((v for k, v in groups.items() if k not in ("wte n=0", "wte padding")), [])
groups["all"] = sum((v for k, v in groups.items() if k != "active"), [])
def code(vals):
    c = sorted(collections.Counter(vals).values(), reverse=True); N = len(vals)
    ent = -sum(x / N * math.log2(x / N) for x in c)
    eg = min(sum(x * (2 * int(math.floor(math.log2(i + 2 ** k))) - k + 1) for i, x in enumerate(c)) for k in range(9)) / N
    return ent, eg
got = {r["group"]: r for r in csv.DictReader(open(d + "/g.csv"))}
assert set(got) == set(groups), (sorted(got), sorted(groups))
assert rows["wte n=0"] == 64 - len(cnt), rows
for name, vals in groups.items():
    r = got[name]; ent, eg = code(vals)
    assert int(r["params"]) == len(vals), (name, r["params"], len(vals))
    assert abs(float(r["zero_frac"]) - vals.count(0) / len(vals)) < 1e-6, (name, r)
    assert abs(float(r["entropy_bits"]) - ent) < 1e-5 and abs(float(r["eg_bits"]) - eg) < 1e-5, (name, r, ent, eg)
    if name.startswith("wte"): assert int(r["rows"]) == rows[name], (name, r)
pb = [float(x) for x in open(d + "/pb.txt")]
assert len(pb) == (1100 - 1) // 32, len(pb)
loss = float(re.search(r"val loss ([0-9.]+) \((\d+) batches", open(d + "/eval.txt").read()).group(1))
assert abs(sum(pb) / len(pb) - loss) < 6e-5, (sum(pb) / len(pb), loss)
print("groups and per-batch losses agree with Python:", {k: round(float(v["zero_frac"]), 3) for k, v in got.items()})
PY
scripts/paired_se.py --csv "$dir/pb.txt" "$dir/pb.txt" "$dir/pb_q.txt" | tee "$dir/se.csv"
python3 - "$dir/se.csv" <<'PY'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
assert float(r[1]["diff"]) == 0 and float(r[1]["diff_se"]) == 0, r[1]
assert float(r[2]["diff_se"]) > 0 and float(r[2]["se"]) > 0, r[2]
PY
# bad input
for bad in "-e $model -go $dir/x.csv" "-e $model -gd 0.01" "-e $model -gd 0" "-e $model -m -1" "-e $model -f $dir/nope.bin"; do
  # shellcheck disable=SC2086
  if ./eval_gpt2 $bad -j "$dir/val.bin" -b 2 -t 16 > "$dir/err.txt" 2>&1; then echo "FAIL: accepted: $bad"; exit 1; fi
  grep -q "error" "$dir/err.txt" || { cat "$dir/err.txt"; exit 1; }
done
head -n 3 "$dir/pb.txt" > "$dir/short.txt"
if scripts/paired_se.py "$dir/pb.txt" "$dir/short.txt" > "$dir/err.txt" 2>&1; then echo "FAIL: different batch counts accepted"; exit 1; fi
grep -q "not the same batches" "$dir/err.txt"
echo "all parameter-group checks passed"
