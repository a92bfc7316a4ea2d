# ./generate's model (llmc/gpt2_infer.h: weight forms, KV cache, prefill in blocks) against
# the training forward on the same weights, for every form: logits per position (token by
# token and prefills), greedy continuation identical across the exact forms and equal to
# the training forward's argmax; for a .bsz, its fp32 .bin, and its decoded .bin (levels
# found on the grid)
set -eo pipefail
dir=$(mktemp -d build/tmp.genlogits.XXXXXX)
trap 'rm -rf "$dir"' EXIT
./train_gpt2 -e d2w64h2t64 -b 2 -t 32 -m 2 -g 0 -x 6 -n 6 -v 6 -l 1000 -o "$dir/out" > "$dir/train.txt" 2>&1 || { cat "$dir/train.txt"; exit 1; }
./bsz decompress "$dir/out/model_00000006.bsz" "$dir/decoded.bin" > /dev/null
for m in "$dir/out/model_00000006.bsz" "$dir/out/model_00000006.bin" "$dir/decoded.bin"; do
  echo "== $m"
  dev/test/bin/test_gpt2_infer "$m"
done
