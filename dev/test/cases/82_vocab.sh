# ./vocab remap and ref (llmc/token_vocab.h) and the v<V> model spec: on a small made-up
# corpus, the map keeps the most frequent training ids in order (ties: smaller id first),
# every other id becomes UNK = V-1, coverage is printed, the map file lists each new id;
# the unigram and bigram reference losses equal an independent Python computation; a
# model with a v<V> spec trains on the remapped files and refuses the original ones (ids
# >= V); bad flags, a bad spec and a corrupt token file are refused with a message
set -eo pipefail
dir=$(mktemp -d build/tmp.vocab.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import random, struct, sys
d = sys.argv[1]
def write(path, toks):
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(toks), *([0] * 253)))
        f.write(struct.pack("<%dH" % len(toks), *toks))
rng = random.Random(5)
ids = [7, 300, 50000, 12, 9, 4000, 42, 43]
w = [40, 20, 10, 10, 5, 3, 2, 1]
def markov(k, extra):  # half the time the next id of the list follows, so a bigram helps
    out = [7]
    while len(out) < k:
        out.append(ids[(ids.index(out[-1]) + 1) % 8] if out[-1] in ids and rng.random() < 0.5
                   else rng.choices(ids + extra, weights=w + [2] * len(extra))[0])
    return out
train = markov(3000, [])
val = markov(800, [999])  # 999 never occurs in training
write(d + "/train.bin", train); write(d + "/val.bin", val)
PY
./vocab remap -V 5 -i "$dir/train.bin" -j "$dir/val.bin" -o "$dir/v5" | tee "$dir/remap.txt"
grep -q "kept the 4 most frequent (V 5, UNK id 4)" "$dir/remap.txt"
grep -q "^coverage: train .*%.*, val .*%" "$dir/remap.txt"
./vocab ref -i "$dir/train.bin" -j "$dir/val.bin" | tee "$dir/ref_full.txt"
./vocab ref -V 5 -i "$dir/v5/train.bin" -j "$dir/v5/val.bin" | tee "$dir/ref_v5.txt"
python3 - "$dir" <<'PY'
import collections, math, re, struct, sys
d = sys.argv[1]
def read(path):
    b = open(path, "rb").read(); n = struct.unpack("<3i", b[:12])[2]
    return list(struct.unpack("<%dH" % n, b[1024:1024 + 2 * n]))
train, val = read(d + "/train.bin"), read(d + "/val.bin")
c = collections.Counter(train)
order = sorted(c, key=lambda i: (-c[i], i))[:4]
m = {old: new for new, old in enumerate(order)}
rt, rv = read(d + "/v5/train.bin"), read(d + "/v5/val.bin")
assert rt == [m.get(t, 4) for t in train], "train remap"
assert rv == [m.get(t, 4) for t in val], "val remap"
lines = [l for l in open(d + "/v5/vocab_map.txt") if not l.startswith("#")]
assert len(lines) == 5, lines
for new, l in enumerate(lines):
    a, old, cnt = map(int, l.split())
    assert a == new and old == (order[new] if new < 4 else -1), l
    assert cnt == (c[order[new]] if new < 4 else sum(v for k, v in c.items() if k not in m)), l
cov = 100.0 * sum(t in m for t in val) / len(val)
txt = open(d + "/remap.txt").read()
assert "val %.4f%%" % cov in txt, (cov, txt)
def ref(train, val, V, D=0.75):
    uni = collections.Counter(train); N = len(train)
    ctx = collections.Counter(train[:-1]); pair = collections.Counter(zip(train[:-1], train[1:]))
    succ = collections.Counter(a for a, b in pair)
    su = sb = 0.0
    for a, b in zip(val[:-1], val[1:]):
        pu = (uni[b] + 1) / (N + V); su -= math.log(pu)
        pb = max(pair[(a, b)] - D, 0) / ctx[a] + D * succ[a] / ctx[a] * pu if ctx[a] else pu
        sb -= math.log(pb)
    return su / (len(val) - 1), sb / (len(val) - 1)
for f, tr, va, V in (("ref_full.txt", train, val, 50257), ("ref_v5.txt", rt, rv, 5)):
    got = re.search(r"unigram ([0-9.]+) bigram ([0-9.]+)", open(d + "/" + f).read())
    u, b = ref(tr, va, V)
    assert abs(float(got.group(1)) - u) < 1e-4 and abs(float(got.group(2)) - b) < 1e-4, (f, got.groups(), u, b)
    assert b < u, "the bigram should beat the unigram on this corpus"
print("remap and reference losses agree with Python")
PY
# a v<V> model trains on the remapped files, and refuses the original ids
./train_gpt2 -e d1w32h2t16v5 -i "$dir/v5/train.bin" -j "$dir/v5/val.bin" -b 2 -t 16 -x 3 -v 0 -m 2 -g 0 > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
grep -q "final val loss" "$dir/train.txt"
if ./train_gpt2 -e d1w32h2t16v5 -i "$dir/train.bin" -j "$dir/val.bin" -b 2 -t 16 -x 1 -v 0 -g 0 > "$dir/err.txt" 2>&1; then echo "FAIL: ids >= V accepted"; exit 1; fi
grep -qE "outside the model's vocabulary|does not cover the tokens" "$dir/err.txt"
for spec in d1w32v1 d1w32v70000 d1w32v; do
  if ./train_gpt2 -e $spec -x 1 -g 0 > "$dir/err.txt" 2>&1; then echo "FAIL: spec $spec accepted"; exit 1; fi
  grep -q "flag -e" "$dir/err.txt" || { cat "$dir/err.txt"; exit 1; }
done
# bad input
for bad in "" "remap -i $dir/train.bin -j $dir/val.bin -o $dir/x" "remap -V 1 -i $dir/train.bin -j $dir/val.bin -o $dir/x" \
           "ref -i $dir/train.bin" "ref -V 5 -i $dir/train.bin -j $dir/val.bin" "frob" "ref -q 1 -i a -j b"; do
  # shellcheck disable=SC2086
  if ./vocab $bad > "$dir/err.txt" 2>&1; then echo "FAIL: accepted: vocab $bad"; exit 1; fi
  grep -q "error" "$dir/err.txt" || { echo "FAIL: no message for: vocab $bad"; cat "$dir/err.txt"; exit 1; }
done
head -c 2000 "$dir/train.bin" > "$dir/short.bin"
if ./vocab ref -i "$dir/short.bin" -j "$dir/val.bin" > "$dir/err.txt" 2>&1; then echo "FAIL: truncated file accepted"; exit 1; fi
grep -q "short.bin" "$dir/err.txt"
echo "all vocab checks passed"
