# bad input to train_gpt2: a one-line error naming the file or flag and the problem,
# exit status 1 (not a crash), for damaged checkpoints, token files and states, missing
# files and nonsense flags
set -u
dir=$(mktemp -d build/tmp.badinput.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-e d2w64h2t64 -b 2 -t 16 -x 1 -v 0 -m 1 -g 0)
# expect NEEDLE... -- ARGS: exit status 1 and the first stderr line "error: ..." holding every needle
expect() {
  local needles=()
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  ./train_gpt2 "$@" > "$dir/out" 2> "$dir/err"
  local rc=$?
  local first
  first=$(head -n 1 "$dir/err")
  if [ $rc -ne 1 ]; then fail "exit status $rc (want 1) for: $*  [$first]"; return; fi
  [[ "$first" == error:* ]] || { fail "first stderr line is not an error: '$first' for: $*"; return; }
  for n in "${needles[@]}"; do
    [[ "$first" == *"$n"* ]] || fail "error '$first' lacks '$n' (for: $*)"
  done
  echo "ok: $first"
}

# a valid checkpoint and state to damage
./train_gpt2 "${tiny[@]}" -o "$dir/run" > /dev/null || { echo "FAIL: the tiny run failed"; exit 1; }
ckpt="$dir/run/model_00000001.bin"
state="$dir/run/state_00000001.bin"
size=$(stat -c %s "$ckpt")

# checkpoints
head -c $((size - 4)) "$ckpt" > "$dir/trunc.bin"
expect "$dir/trunc.bin" "bytes" -- "${tiny[@]}" -e "$dir/trunc.bin"
head -c 100 "$ckpt" > "$dir/short.bin"
expect "$dir/short.bin" "too short" -- "${tiny[@]}" -e "$dir/short.bin"
head -c "$size" /dev/urandom > "$dir/garbage.bin"
expect "$dir/garbage.bin" "bad magic" -- "${tiny[@]}" -e "$dir/garbage.bin"
cp "$ckpt" "$dir/v4.bin"; printf '\x04' | dd of="$dir/v4.bin" bs=1 seek=4 conv=notrunc 2>/dev/null
expect "$dir/v4.bin" "unsupported version 4" -- "${tiny[@]}" -e "$dir/v4.bin"
cp "$ckpt" "$dir/layers.bin"; printf '\x00\x00\x00\x40' | dd of="$dir/layers.bin" bs=1 seek=16 conv=notrunc 2>/dev/null
expect "$dir/layers.bin" "num_layers" -- "${tiny[@]}" -e "$dir/layers.bin"
expect "flag -e" "/no/such/model.bin" -- "${tiny[@]}" -e /no/such/model.bin
# a checkpoint whose maxT (64) is shorter than -t
expect "flag -t" "max_seq_len 64" -- "${tiny[@]}" -e "$ckpt" -t 128

# token files
/usr/bin/env python3 - "$dir" <<'PY'
import struct, sys
d = sys.argv[1]
def write(name, tokens, count=None):
    h = [20240520, 1, len(tokens) if count is None else count] + [0] * 253
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<256i", *h)); f.write(struct.pack(f"<{len(tokens)}H", *tokens))
write("bigid.bin", [1, 2, 3] * 100 + [50257] + [4] * 100)
write("short_tokens.bin", [1, 2, 3])
write("badcount.bin", [1] * 100, count=1000)
PY
expect "$dir/bigid.bin" "token 300 is id 50257" "vocabulary" -- "${tiny[@]}" -i "$dir/bigid.bin"
expect "$dir/bigid.bin" "id 50257" -- "${tiny[@]}" -j "$dir/bigid.bin"
expect "$dir/short_tokens.bin" "too few" -- "${tiny[@]}" -i "$dir/short_tokens.bin"
expect "$dir/badcount.bin" "header says 1000 tokens" -- "${tiny[@]}" -i "$dir/badcount.bin"
expect "/no/such/tokens.bin" "cannot stat" -- "${tiny[@]}" -i /no/such/tokens.bin
expect "$ckpt" "bad magic" -- "${tiny[@]}" -j "$ckpt"

# training states (resume)
mkdir -p "$dir/r1" "$dir/r2" "$dir/r3" "$dir/r4"
cp "$state" "$dir/r1/state_00000001.bin"
printf '\xff' | dd of="$dir/r1/state_00000001.bin" bs=1 seek=$(( $(stat -c %s "$state") / 2 )) conv=notrunc 2>/dev/null
expect "$dir/r1/state_00000001.bin" "CRC" -- "${tiny[@]}" -x 2 -o "$dir/r1" -y 1
cp "$state" "$dir/r1/state_00000001.bin"
printf '\xff' | dd of="$dir/r1/state_00000001.bin" bs=1 seek=$(( $(stat -c %s "$state") - 10 )) conv=notrunc 2>/dev/null
expect "$dir/r1/state_00000001.bin" "reserved" -- "${tiny[@]}" -x 2 -o "$dir/r1" -y 1
head -c 5000 "$state" > "$dir/r2/state_00000001.bin"
expect "$dir/r2/state_00000001.bin" "truncated" -- "${tiny[@]}" -x 2 -o "$dir/r2" -y 1
cp "$state" "$dir/r3/state_00000001.bin"; printf '\x09' | dd of="$dir/r3/state_00000001.bin" bs=1 seek=4 conv=notrunc 2>/dev/null
expect "$dir/r3/state_00000001.bin" "unsupported version 9" -- "${tiny[@]}" -x 2 -o "$dir/r3" -y 1
cp "$state" "$dir/r4/state_00000001.bin"
expect "$dir/r4/state_00000001.bin" "-b 2 -t 16" -- "${tiny[@]}" -b 3 -x 2 -o "$dir/r4" -y 1

# flags
expect "flag -b" "'abc'" -- "${tiny[@]}" -b abc
expect "flag -b" "'0'" -- "${tiny[@]}" -b 0
expect "flag -lr" "'-1'" -- "${tiny[@]}" -lr -1
expect "flag -lr" "'nan'" -- "${tiny[@]}" -lr nan
expect "flag -x" "'99999999999999999999'" -- "${tiny[@]}" -x 99999999999999999999
expect "flag -x needs a value" -- "${tiny[@]}" -x
grep -q "usage:" "$dir/err" || fail "no usage after a bad flag"
expect "unknown flag --bogus" -- --bogus 1
expect "flag -l" "'-5'" -- "${tiny[@]}" -l -5
expect "flag -y 1 needs -o" -- "${tiny[@]}" -y 1
expect "flag -e" "d0" "positive" -- -e d0 -x 1
expect "flag -e" "d2w63h2" "divide channels" -- -e d2w63h2 -x 1
expect "flag -e" "d2q5" "unexpected 'q'" -- -e d2q5 -x 1
./train_gpt2 -h > "$dir/help" 2>&1 && grep -q -- "-lr" "$dir/help" || fail "-h does not print the usage with exit 0"

[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "bad input: all refused cleanly"
