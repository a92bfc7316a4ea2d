# loaded weights are checked (the llm.c format has no checksum): a flipped exponent bit
# (one weight 1.28e36) or a NaN is refused by train_gpt2 and eval_gpt2 with a message
# naming the file, the tensor and the element, also in a resumed state; -wmax 0 accepts
# them, and then a non-finite loss at the run's first step blames the weights, not -lr.
# A header whose vocab_size was changed to 50256 is refused naming the checkpoint.
set -u
dir=$(mktemp -d build/tmp.weights.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-b 2 -t 16 -x 1 -v 0 -m 1 -g 0)
# expect PROGRAM NEEDLE... -- ARGS: exit status 1 and an "error:" line holding every needle
expect() {
  local prog=$1; shift
  local needles=()
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  timeout 120 $prog "$@" > "$dir/out" 2> "$dir/err"
  local rc=$?
  local first
  first=$(grep -m1 "error:" "$dir/err")
  if [ $rc -ne 1 ]; then fail "exit status $rc (want 1) for: $prog $*  [$first] $(tail -n 1 "$dir/out")"; return; fi
  for n in "${needles[@]}"; do
    [[ "$first" == *"$n"* ]] || { fail "error '$first' lacks '$n' (for: $prog $*)"; return; }
  done
  echo "ok: $first"
}
./train_gpt2 -e d2w64h2t64 "${tiny[@]}" -o "$dir/run" > /dev/null || { echo "FAIL: the tiny run failed"; exit 1; }
good="$dir/run/model_00000001.bin"
# patch FILE OUT INDEX VALUE: OUT is FILE with parameter INDEX (llm.c order) set to VALUE
patch() { python3 - "$@" <<'PY'
import struct, sys
src, out, index, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
b = bytearray(open(src, "rb").read())
struct.pack_into("<f", b, 1024 + 4 * index, value)
open(out, "wb").write(b)
PY
}
# d2w64h2t64: wte 50304x64, wpe 64x64, ln1w/ln1b 2x64 each, then qkvw 2 x (192x64); lnfw, lnfb last
qkvw=$((50304 * 64 + 64 * 64 + 4 * 64))
h1_qkvw_5=$((qkvw + 192 * 64 + 5))
total=$(( ($(stat -c %s "$good") - 1024) / 4 ))
lnfw_3=$((total - 128 + 3))
patch "$good" "$dir/big.bin" $h1_qkvw_5 1.28e36
patch "$good" "$dir/nan.bin" $lnfw_3 nan
expect ./train_gpt2 "$dir/big.bin" "h1.qkvw" "element 5 " "1.28e+36" "-wmax" -- -e "$dir/big.bin" "${tiny[@]}"
expect ./eval_gpt2 "$dir/big.bin" "h1.qkvw" "1.28e+36" "-wmax" -- -e "$dir/big.bin" -b 2 -t 16 -m 1
expect ./train_gpt2 "$dir/nan.bin" "lnfw" "element 3 " "nan" -- -e "$dir/nan.bin" "${tiny[@]}"
expect ./eval_gpt2 "$dir/nan.bin" "lnfw" "nan" -- -e "$dir/nan.bin" -b 2 -t 16 -m 1
# -wmax 0 accepts them: eval prints a loss; training stops at step 0 blaming the weights
./eval_gpt2 -e "$dir/big.bin" -b 2 -t 16 -m 1 -wmax 0 > "$dir/eval.txt" 2>&1 || fail "-wmax 0: eval_gpt2 refused the weights: $(cat "$dir/eval.txt")"
expect ./train_gpt2 "step 0" "before" "$dir/nan.bin" -- -e "$dir/nan.bin" "${tiny[@]}" -wmax 0
# a smaller limit refuses ordinary weights (GPT-2's initial ln weights are 1)
expect ./train_gpt2 "$good" "-wmax" -- -e "$good" "${tiny[@]}" -wmax 0.5
# a resumed state with a NaN weight (its CRCs recomputed, so only the check can catch it)
mkdir "$dir/res"
python3 - "$dir/run/state_00000001.bin" "$dir/res/state_00000001.bin" $h1_qkvw_5 <<'PY'
import struct, sys, zlib
src, out, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(src, "rb").read())
pos, n = 16, struct.unpack_from("<I", b, 8)[0]
for _ in range(n):
    tag = bytes(b[pos:pos + 16]).rstrip(b"\0").decode()
    size = struct.unpack_from("<Q", b, pos + 16)[0]
    data = pos + 32
    if tag == "params":
        struct.pack_into("<f", b, data + 4 * index, float("nan"))
        struct.pack_into("<I", b, pos + 24, zlib.crc32(bytes(b[data:data + size])))
    pos = data + size
open(out, "wb").write(b)
PY
expect ./train_gpt2 "$dir/res/state_00000001.bin" "h1.qkvw" "nan" -- -e d2w64h2t64 "${tiny[@]}" -x 2 -o "$dir/res" -y 1
# vocab_size 50256 in the header (the data holds GPT-2's <|endoftext|>, id 50256): the checkpoint is named
python3 - "$good" "$dir/v50256.bin" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<i", b, 12, 50256)
open(sys.argv[2], "wb").write(b)
PY
expect ./train_gpt2 "$dir/v50256.bin" "vocab_size 50256" "id 50256" -- -e "$dir/v50256.bin" "${tiny[@]}"
expect ./eval_gpt2 "$dir/v50256.bin" "vocab_size 50256" "id 50256" -- -e "$dir/v50256.bin" -b 2 -t 16 -m 1
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "damaged weights refused naming the tensor; -wmax 0 accepts; step-0 NaN blames the weights; V mismatch names the model"
