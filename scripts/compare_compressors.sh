#!/usr/bin/env bash
# Our EG code against general-purpose compressors on the same quantized weights.
# For a model (an llm.c checkpoint .bin, coded here at Delta, or a .bsz file), it exports
#   - the value-map indices (as ./bsz codes them), as uint8/16/32, the narrowest that fits
#   - the quantized values q themselves, as int8/16/32, the narrowest that fits
# and runs zstd -19 and xz -9 on each (single-threaded, so sizes do not depend on threads),
# then prints bits/param beside the .bsz file, EG (best k), Huffman and the entropy.
# Usage: scripts/compare_compressors.sh MODEL.bin|MODEL.bsz [DELTA]     (default 1e-3)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/compare_compressors.sh MODEL.bin|MODEL.bsz [DELTA]}
delta=${2:-1e-3}
for tool in zstd xz; do command -v $tool > /dev/null || { echo "$tool is not installed (apt-get install zstd xz-utils)"; exit 1; }; done
make --no-print-directory bsz > /dev/null
dir=$(mktemp -d build/tmp.compare.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if [[ "$model" == *.bsz ]]; then
  cp "$model" "$dir/m.bsz"
else
  ./bsz compress "$model" "$dir/m.bsz" --delta "$delta" > /dev/null
fi
./bsz info --json "$dir/m.bsz" > "$dir/info.json"
n=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["params"])' "$dir/info.json")
bpp() { /usr/bin/python3 -c 'import sys; print("%.3f" % (8.0 * int(sys.argv[1]) / int(sys.argv[2])))' "$1" "$n"; }
echo "model $model: $n parameters, Delta $delta; bits per parameter (smaller is better)"
printf '%-34s %10s %10s %10s\n' "stream" "raw" "zstd -19" "xz -9"
for what in index q; do
  desc=$(./bsz export $what "$dir/m.bsz" "$dir/$what.raw" | sed -E 's/.* as //')
  raw=$(stat -c %s "$dir/$what.raw")
  zstd -q -19 -T1 -f "$dir/$what.raw" -o "$dir/$what.zst"
  xz -9 -T1 -k -c "$dir/$what.raw" > "$dir/$what.xz"
  label=$([ $what = index ] && echo "value-map indices ($desc)" || echo "quantized values q ($desc)")
  printf '%-34s %10s %10s %10s\n' "$label" "$(bpp "$raw")" "$(bpp "$(stat -c %s "$dir/$what.zst")")" "$(bpp "$(stat -c %s "$dir/$what.xz")")"
done
/usr/bin/python3 - "$dir/info.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); t = j["total"]
print("%-34s %10.3f" % (".bsz file (EG, per-tensor k, all)", j["file_bits_per_param"]))
print("%-34s %10.3f" % ("EG-k, best single k (k=%d)" % min(range(5), key=lambda k: t["eg_bits"][k]), min(t["eg_bits"])))
print("%-34s %10.3f" % ("Huffman (HM)", t["huffman_bits"]))
print("%-34s %10.3f" % ("entropy of the indices (H)", t["entropy_bits"]))
print("%-34s %10.3f" % ("fixed length (FL)", t["fl_bits"]))
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
