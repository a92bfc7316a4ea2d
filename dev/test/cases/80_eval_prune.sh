# eval_gpt2 (pruned / quantized models): llmc/prune.h and quantize_array_inplace
# (test_prune); on a tiny trained model, eval_gpt2's val loss equals the trainer's final
# one (the shared loop of llmc/gpt2_eval.h, same batches) for the .bin, and the .bsz's
# equals that of the .bin quantized at the same Delta (-q 1e-3); -p 0.5 makes at least
# half the constrained weights zero and raises the loss; the CSV gets a header and rows;
# bad flags and a corrupt model are refused
set -eo pipefail
dir=$(mktemp -d build/tmp.eval.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_prune
./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -x 8 -v 0 -m 3 -g 0 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
trained=$(sed -n 's/^final val loss //p' "$dir/train.txt")
ev=(./eval_gpt2 -b 2 -t 32 -m 3 -o "$dir/eval.csv")
"${ev[@]}" -e "$dir/out/model_00000008.bin" -tag plain
"${ev[@]}" -e "$dir/out/model_00000008.bsz" -tag coded
"${ev[@]}" -e "$dir/out/model_00000008.bin" -q 1e-3 -tag quant
"${ev[@]}" -e "$dir/out/model_00000008.bin" -p 0.5 -tag pruned
cat "$dir/eval.csv"
python3 - "$dir/eval.csv" "$trained" <<'PY'
import csv, sys
rows = {r["tag"]: r for r in csv.DictReader(open(sys.argv[1]))}
trained = float(sys.argv[2])
plain, coded, quant, pruned = (float(rows[t]["val_loss"]) for t in ("plain", "coded", "quant", "pruned"))
assert abs(plain - trained) < 6e-5, ("eval and trainer differ", plain, trained)
assert coded == quant, ("the .bsz and the .bin quantized at its Delta differ", coded, quant)
assert float(rows["pruned"]["zero_frac"]) >= 0.5 and float(rows["plain"]["zero_frac"]) < 0.5, rows
assert pruned > plain, ("pruning half the weights did not raise the loss", pruned, plain)
print("eval checks passed: trainer", trained, "eval", plain, "coded", coded, "pruned", pruned)
PY
# bad input: no model, unknown flag, bad fraction, corrupt model
for bad in "" "-e $dir/out/model_00000008.bin -x 1" "-e $dir/out/model_00000008.bin -p 1.5" "-e $dir/out/model_00000008.bin -q -1"; do
  # shellcheck disable=SC2086
  if ./eval_gpt2 $bad > "$dir/err.txt" 2>&1; then echo "FAIL: accepted: $bad"; exit 1; fi
  grep -q "^usage" "$dir/err.txt" || { echo "FAIL: no usage for: $bad"; exit 1; }
done
head -c 5000 "$dir/out/model_00000008.bin" > "$dir/short.bin"
if ./eval_gpt2 -e "$dir/short.bin" > "$dir/err.txt" 2>&1; then echo "FAIL: truncated model accepted"; exit 1; fi
cat "$dir/err.txt"
echo "all eval_gpt2 checks passed"
