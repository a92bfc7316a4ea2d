#!/usr/bin/env bash
# The like-for-like size table of doc/codec.md for one model: every code on the same
# quantized weights (Delta), in bits per coded parameter, per tensor (the largest ones) and
# in total, in two scopes:
#   per-tensor  each tensor with its own histogram and code (sum of the tensor rows of
#               ./bsz info): FL, EG with each tensor's best k, Huffman, order-0 entropy,
#               rANS, CABAC, and the .bsz file written with --coder auto (code only)
#   global      one model-wide value map (the paper's setting): FL, EG-0, EG with one k,
#               Huffman, entropy; and the general-purpose compressors zstd -19, xz -9 and
#               bzip2 -9 (single-threaded) on the value-map indices of all coded weights
#               (uint8/16, `./bsz export index`), which see the whole stream at once
# With TOKENS (an llm.c token file, e.g. the training split) the file is written with
# --shared-rows TOKENS, and every column covers the coded weights only (wte without the
# shared rows); the file column then includes the shared row and its map.
# Usage: [COMPRESSORS=0] scripts/codec_table.sh MODEL.bin [DELTA] [TOKENS]   (default Delta 1e-3;
#        COMPRESSORS=0 leaves out zstd, xz and bzip2, which take minutes on a 124M model)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/codec_table.sh MODEL.bin [DELTA] [TOKENS]}
delta=${2:-1e-3}
tokens=${3:-}
for tool in zstd xz bzip2; do command -v $tool > /dev/null || { echo "$tool is not installed"; exit 1; }; done
make --no-print-directory bsz > /dev/null
dir=$(mktemp -d build/tmp.codectable.XXXXXX)
trap 'rm -rf "$dir"' EXIT
extra=()
[ -n "$tokens" ] && extra=(--shared-rows "$tokens")
./bsz compress "$model" "$dir/m.bsz" --delta "$delta" "${extra[@]+"${extra[@]}"}" > "$dir/compress.txt"
./bsz info --json "$dir/m.bsz" > "$dir/info.json"
./bsz export index "$dir/m.bsz" "$dir/index.raw" > /dev/null
if [ "${COMPRESSORS:-1}" = 0 ]; then
  : > "$dir/index.zst"; : > "$dir/index.xz"; : > "$dir/index.bz2"
else
  zstd -q -19 -T1 -f "$dir/index.raw" -o "$dir/index.zst"
  xz -9 -T1 -k -c "$dir/index.raw" > "$dir/index.xz"
  bzip2 -9 -k -c "$dir/index.raw" > "$dir/index.bz2"
fi
/usr/bin/python3 - "$dir/info.json" "$(stat -c %s "$dir/index.zst")" "$(stat -c %s "$dir/index.xz")" "$(stat -c %s "$dir/index.bz2")" \
  "$model" "$delta" "${tokens:-none}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); zst, xz, bz2 = (int(x) for x in sys.argv[2:5])
t, g = j["total"], j["global"]
n = t["params"]
f = lambda x: "-" if x is None else "%.3f" % x
print("model %s, Delta %s, shared rows from %s: %d wte rows shared; %d of %d weights coded; %.2f%% zeros"
      % (sys.argv[5], sys.argv[6], sys.argv[7], j["shared_rows"], n, j["num_params"], 100 * t["zero_frac"]))
print()
print("| tensor | params | zero | coder | FL | EG-0 | EG (per-tensor k) | Huffman | entropy | rANS | CABAC | file (auto) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(j["tensors"], key=lambda r: -r["params"])[:6]:
    print("| %s | %d | %.2f%% | %s | %.2f | %s | %s (k=%d) | %s | %s | %s | %s | %s |" % (r["name"], r["params"], 100 * r["zero_frac"], r["coder"],
          r["fl_bits"], f(r["eg_bits"][0]), f(r["egk_bits"]), r["egk_k"], f(r["huffman_bits"]), f(r["entropy_bits"]), f(r["rans_bits"]),
          f(r["cabac_bits"]), f(r["file_bits"])))
print("| **total, per-tensor codes** | %d | %.2f%% | | %.2f | %s | %s | %s | %s | %s | %s | %s |" % (n, 100 * t["zero_frac"], t["fl_bits"],
      f(t["eg_bits"][0]), f(t["egk_bits"]), f(t["huffman_bits"]), f(t["entropy_bits"]), f(t["rans_bits"]), f(t["cabac_bits"]), f(t["file_bits"])))
print("| **total, one global map** | %d | | | %.2f | %s | %s (k=%d) | %s | %s | | | |" % (n, g["fl_bits"], f(g["eg_bits"][0]), f(g["egk_bits"]),
      g["egk_k"], f(g["huffman_bits"]), f(g["entropy_bits"])))
print()
print("whole file (auto): %.3f bits/param of all %d weights, %d bytes; code %s bits per coded weight"
      % (j["file_bits_per_param"], j["num_params"], j["file_bytes"], f(t["file_bits"])))
if xz:
    print("general-purpose compressors on the indices of the coded weights (global map): zstd -19 %.3f, xz -9 %.3f, bzip2 -9 %.3f bits/param"
          % (8.0 * zst / n, 8.0 * xz / n, 8.0 * bz2 / n))
    print("CABAC %s vs xz -9 %.3f (%+.1f%%)" % (f(t["cabac_bits"]), 8.0 * xz / n, 100 * (t["cabac_bits"] / (8.0 * xz / n) - 1)))
print("CABAC %s vs order-0 entropy %s (%+.1f%%); rANS %s vs entropy (%+.2f%%)"
      % (f(t["cabac_bits"]), f(t["entropy_bits"]), 100 * (t["cabac_bits"] / t["entropy_bits"] - 1), f(t["rans_bits"]),
         100 * (t["rans_bits"] / t["entropy_bits"] - 1) if t["rans_bits"] is not None else float("nan")))
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
