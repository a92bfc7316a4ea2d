# -d (tokens per optimizer step) is range-checked like every other flag: a value whose
# number of accumulated batches does not fit (2^31 or 2^32 batches of one token) is refused
# naming the flag, instead of training on a wrapped count (nothing, or a NaN loss);
# a value within the limit still trains with the batches it asks for
set -u
dir=$(mktemp -d build/tmp.accum.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-e d2w64h2t64 -b 1 -t 1 -x 1 -v 0 -m 1 -g 0)
for d in 2147483648 4294967296 1099511627776 1048577; do
  timeout 60 ./train_gpt2 "${tiny[@]}" -d $d > "$dir/out" 2> "$dir/err"
  rc=$?
  first=$(head -n 1 "$dir/err")
  if [ $rc -ne 1 ]; then fail "-d $d: exit status $rc (want 1) [$first] $(tail -n 2 "$dir/out")"; continue; fi
  [[ "$first" == "error: flag -d"* && "$first" == *"$d"* && "$first" == *"limit"* ]] || { fail "-d $d: error '$first' does not name the flag, the value and the limit"; continue; }
  echo "ok: $first"
done
# (1048577 is one batch past the limit of 2^20 per step); a step of 4 batches of 2 x 8 tokens trains
./train_gpt2 -e d2w64h2t64 -b 2 -t 8 -d 64 -x 1 -v 0 -m 1 -g 0 > "$dir/ok" 2>&1 || fail "-d 64 -b 2 -t 8 failed: $(tail -n 3 "$dir/ok")"
grep -q "64 tokens/step, 4 batches" "$dir/ok" || fail "-d 64 -b 2 -t 8 is not 4 batches: $(grep -m1 training "$dir/ok")"
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "-d: counts past the limit refused naming the flag; valid -d accumulates"
