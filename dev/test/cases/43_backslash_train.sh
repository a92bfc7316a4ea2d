# BackSlash in the trainer (tiny model, seconds):
#  - resume with lambda > 0 continues bit-identically (coupled, per-tensor nu; decoupled,
#    global nu): the log's loss and BackSlash columns and the final checkpoint equal a
#    straight run's, through the "dggr" section of the training state
#  - the rate does what it is for: after 12 steps with lambda > 0 more weights quantize
#    to zero and R is lower than with lambda = 0 from the same start
#  - a bad mode word is refused with a message naming the flag
set -e
dir=$(mktemp -d build/tmp.bstrain.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
base=(-e d2w64h2t64 -b 4 -t 32 -v 4 -m 2 -g 0 -lr 1e-3 -u 2)
col() { # value of column $2 in the last row of log $1
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } $c != "" { v = $c } END { print v }' "$1"
}
for mode in "-l 3000 -lv coupled -ls tensor" "-l 1000 -lv decoupled -le 1 -ls global"; do
  rm -rf "$dir/run"
  # shellcheck disable=SC2206
  args=("${base[@]}" -x 8 -n 4 -o "$dir/run" $mode)
  ./train_gpt2 "${args[@]}" > "$dir/straight.txt"
  grep -q "BackSlash ON" "$dir/straight.txt" || fail "no BackSlash banner for $mode"
  cp "$dir/run/log.csv" "$dir/straight.csv"
  cp "$dir/run/model_00000008.bin" "$dir/straight.bin"
  rm "$dir/run/model_00000008.bin" "$dir/run/state_00000008.bin"
  ./train_gpt2 "${args[@]}" -y 1 > "$dir/resumed.txt"
  grep -q "resuming from $dir/run/state_00000004.bin (step 4)" "$dir/resumed.txt" || fail "did not resume from step 4"
  head -n 1 "$dir/straight.csv" | grep -q "rate,nu,alpha,zero_frac,bits_per_param" || fail "no BackSlash columns"
  # all columns but the timings (tokens_per_s, ms_per_step)
  for f in straight.csv run/log.csv; do
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i != "tokens_per_s" && $i != "ms_per_step") }
             { s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s $i ","; print s }' "$dir/$f" > "$dir/$(basename "$f").cut"
  done
  cmp "$dir/straight.csv.cut" "$dir/log.csv.cut" || { diff "$dir/straight.csv.cut" "$dir/log.csv.cut" || true; fail "logs differ ($mode)"; }
  cmp "$dir/straight.bin" "$dir/run/model_00000008.bin" || fail "final checkpoints differ ($mode)"
  echo "resume identical: $mode"
done

# lambda > 0 against lambda = 0, same start, 12 steps
./train_gpt2 "${base[@]}" -x 12 -o "$dir/plain" -l 0 -le 1 > "$dir/plain.txt"
./train_gpt2 "${base[@]}" -x 12 -o "$dir/bs" -l 1000 -lv decoupled -le 1 > "$dir/bs.txt"
grep -q "BackSlash OFF" "$dir/plain.txt" || fail "no BackSlash OFF banner at -l 0"
z0=$(col "$dir/plain/log.csv" zero_frac); z1=$(col "$dir/bs/log.csv" zero_frac)
r0=$(col "$dir/plain/log.csv" rate); r1=$(col "$dir/bs/log.csv" rate)
echo "after 12 steps: zero fraction $z0 (lambda 0) vs $z1 (lambda 1000 decoupled); R $r0 vs $r1"
awk -v a="$z0" -v b="$z1" 'BEGIN { exit !(b > a + 0.05) }' || fail "lambda > 0 did not raise the zero fraction by 0.05"
awk -v a="$r0" -v b="$r1" 'BEGIN { exit !(b < a) }' || fail "lambda > 0 did not lower the rate"

# bad mode words
if ./train_gpt2 -lv sideways > "$dir/err.txt" 2>&1; then fail "-lv sideways accepted"; fi
grep -q "flag -lv" "$dir/err.txt" || fail "no message naming -lv"
if ./train_gpt2 -ls fixed:9 > "$dir/err.txt" 2>&1; then fail "-ls fixed:9 accepted"; fi
grep -q "flag -ls" "$dir/err.txt" || fail "no message naming -ls"
echo "BackSlash trainer checks passed"
