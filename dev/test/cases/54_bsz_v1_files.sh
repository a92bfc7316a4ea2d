# .bsz version 1 files stay readable: the files in dev/test/bsz_v1/ (written by the
# version-1 writer, never regenerated) decompress to the very bytes the version-1 reader
# gave (their .sha256), info reads them, and recompressing the source with the current
# writer's EG coder at the same options gives the same weights
set -eo pipefail
dir=$(mktemp -d build/tmp.bszv1.XXXXXX)
trap 'rm -rf "$dir"' EXIT
src=dev/test/bsz_v1
for name in global tensor_k0_chunk64; do
  ./bsz decompress "$src/$name.bsz" "$dir/$name.bin"
  got=$(sha256sum "$dir/$name.bin" | cut -c1-64)
  want=$(cat "$src/$name.sha256")
  [ "$got" = "$want" ] || { echo "FAIL: $name.bsz decodes to $got, version 1 gave $want"; exit 1; }
  ./bsz info --total "$src/$name.bsz" | grep -E '^total |^file: '
  echo "ok: version 1 file $name.bsz reads as before"
done
./bsz compress "$src/m.bin" "$dir/g.bsz" --delta 1e-3 --coder eg > /dev/null
./bsz decompress "$dir/g.bsz" "$dir/g.bin"
cmp "$dir/g.bin" "$dir/global.bin"
./bsz compress "$src/m.bin" "$dir/t.bsz" --map tensor --k 0 --chunk 64 --delta 2e-3 --coder eg > /dev/null
./bsz decompress "$dir/t.bsz" "$dir/t.bin"
cmp "$dir/t.bin" "$dir/tensor_k0_chunk64.bin"
echo "ok: the current writer gives the same weights"
