# ./generate's model (llmc/gpt2_infer.h: weight forms, KV cache, prefill in blocks) against
# the training forward on the same weights, for every form: logits per position (token by
# token and prefills), greedy continuation identical across the exact forms and equal to
# the training forward's argmax; for a .bsz, its fp32 .bin, and its decoded .bin (levels
# found on the grid), and for the .bsz written with shared wte rows (bsz --shared-rows: ROWS),
# whose shared rows the forms leave out and whose all-zero rows the level forms leave out
set -eo pipefail
dir=$(mktemp -d build/tmp.genlogits.XXXXXX)
trap 'rm -rf "$dir"' EXIT
./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0 -x 6 -n 6 -v 6 -l 1000 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
./bsz decompress "$dir/out/model_00000006.bsz" "$dir/decoded.bin" > /dev/null
./bsz compress "$dir/out/model_00000006.bin" "$dir/shared.bsz" --shared-rows data/corpus_train.bin > /dev/null
# the decoded model with wte rows 1000.. zeroed (BackSlash zeroes the rows of unseen tokens
# in longer runs), as .bin and .bsz: the level forms leave those rows out
zeroed=$(python3 - "$dir/decoded.bin" "$dir/zero_rows.bin" <<'PY'
import array, sys
raw = open(sys.argv[1], "rb").read()
header = array.array("i", raw[:1024])
C, Vp = header[6], header[7]
params = array.array("f", raw[1024:])
for i in range(1000 * C, Vp * C): params[i] = 0.0
open(sys.argv[2], "wb").write(raw[:1024] + params.tobytes())
print(Vp - 1000)
PY
)
./bsz compress "$dir/zero_rows.bin" "$dir/zero_rows.bsz" > /dev/null
for m in "$dir/out/model_00000006.bsz" "$dir/out/model_00000006.bin" "$dir/decoded.bin" "$dir/shared.bsz" \
         "$dir/zero_rows.bin" "$dir/zero_rows.bsz"; do
  echo "== $m"
  case "$m" in
    *zero_rows*) dev/test/bin/test_gpt2_infer "$m" "$zeroed" ;;
    *) dev/test/bin/test_gpt2_infer "$m" ;;
  esac
done
