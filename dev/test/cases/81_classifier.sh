# the classifier mode (train_gpt2 -cls 1, llmc/classifier.h): test_classifier (the head's
# and the model's gradients against finite differences, padding, evaluation); on a tiny
# synthetic separable set (class 0 uses tokens 100-149, class 1 tokens 300-349) the test
# accuracy rises from chance to >= 0.9 in 60 steps, with BackSlash on too; the log has
# accuracy and majority columns and the run writes the coded model; a label outside the
# classes, a token file that is not labeled, a corrupt file and -y 1 are refused
set -eo pipefail
dir=$(mktemp -d build/tmp.cls.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_classifier
# writes a labeled token file (llmc/labeled_tokens.h): N messages, labels, tokens, CRC-32
cat > "$dir/make_set.py" <<'PY'
import random, struct, sys, zlib
path, n, seed, bad_label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
labels, msgs = [], []
for i in range(n):
    y = rng.randrange(2)
    base = 100 if y == 0 else 300
    msgs.append([base + rng.randrange(50) for _ in range(rng.randrange(3, 24))])
    labels.append(y)
if bad_label:
    labels[n // 2] = 5
body = b"".join(struct.pack("<II", y, len(m)) for y, m in zip(labels, msgs))
body += b"".join(struct.pack("<%dH" % len(m), *m) for m in msgs)
header = [20250601, 1, n, sum(len(m) for m in msgs), 2, zlib.crc32(body)] + [0] * 250
open(path, "wb").write(struct.pack("<6I250i", *header) + body)
PY
python3 "$dir/make_set.py" "$dir/train.bin" 400 1 0
python3 "$dir/make_set.py" "$dir/test.bin" 100 2 0
python3 "$dir/make_set.py" "$dir/badlabel.bin" 50 3 1
run=(./train_gpt2 -cls 1 -e d1w32h2t32 -i "$dir/train.bin" -j "$dir/test.bin" -b 8 -t 16 -x 60 -v 30 -lr 2e-3 -u 5 -pe 20 -g 0)
"${run[@]}" -o "$dir/plain" > "$dir/plain.txt" 2>&1 || { cat "$dir/plain.txt"; exit 1; }
"${run[@]}" -l 300 -o "$dir/bs" > "$dir/bs.txt" 2>&1 || { cat "$dir/bs.txt"; exit 1; }
grep -E "^classifier|^step 0:|^final test" "$dir/plain.txt" "$dir/bs.txt"
[ -s "$dir/bs/model_00000060.bsz" ] || { echo "FAIL: no coded model"; exit 1; }
python3 - "$dir/plain/log.csv" "$dir/bs/log.csv" <<'PY'
import csv, sys
for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path)))
    evals = [(int(r["step"]), float(r["accuracy"])) for r in rows if r["accuracy"] != ""]
    first, last = evals[0][1], evals[-1][1]
    majority = float(rows[-1]["majority"])
    print(path, "accuracy", first, "->", last, "majority", majority)
    assert evals[-1][0] == 60 and last >= 0.9 and last > majority + 0.2, (path, evals, majority)
PY
# bad input
if ./train_gpt2 -cls 1 -e d1w32h2t32 -i "$dir/badlabel.bin" -j "$dir/test.bin" -b 4 -t 16 -x 2 > "$dir/err.txt" 2>&1; then echo "FAIL: bad label accepted"; exit 1; fi
grep "label 5, not below the 2 classes" "$dir/err.txt"
if ./train_gpt2 -cls 1 -e d1w32h2t32 -i data/corpus_val.bin -j "$dir/test.bin" -b 4 -t 16 -x 2 > "$dir/err.txt" 2>&1; then echo "FAIL: a plain token file accepted as labeled"; exit 1; fi
grep "bad magic" "$dir/err.txt"
cp "$dir/test.bin" "$dir/corrupt.bin"
printf '\x07' | dd of="$dir/corrupt.bin" bs=1 seek=1100 conv=notrunc status=none
if ./train_gpt2 -cls 1 -e d1w32h2t32 -i "$dir/train.bin" -j "$dir/corrupt.bin" -b 4 -t 16 -x 2 > "$dir/err.txt" 2>&1; then echo "FAIL: corrupt file accepted"; exit 1; fi
grep "CRC-32 mismatch" "$dir/err.txt"
if ./train_gpt2 -cls 1 -y 1 -o "$dir/plain" -i "$dir/train.bin" -j "$dir/test.bin" > "$dir/err.txt" 2>&1; then echo "FAIL: -cls 1 -y 1 accepted"; exit 1; fi
grep -- "-cls 1" "$dir/err.txt"
echo "all classifier checks passed"
