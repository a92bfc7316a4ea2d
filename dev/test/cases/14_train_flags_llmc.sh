# Flags as llm.c users type them: -l below 0.1 without -lr warns (llm.c's -l is the learning
# rate, here it is lambda); -k takes cosine / linear / constant as well as 0 / 1 / 2
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.flags.XXXXXX)
trap 'rm -rf "$dir"' EXIT
tiny=(-e d2w64h2t64 -b 1 -t 8 -x 1 -m 1 -g 0 -v 0)
./train_gpt2 "${tiny[@]}" -l 0.0003 > "$dir/out" 2>&1 || fail "-l 0.0003 did not run"
grep -q "warning: BackSlash lambda 0.0003: did you mean -lr?" "$dir/out" || fail "no warning for -l 0.0003: $(head -3 "$dir/out")"
for ok in "-l 0.0003 -lr 1e-3" "-l 1000" "-l 0" "-lr 3e-4"; do
  ./train_gpt2 "${tiny[@]}" $ok > "$dir/out" 2>&1 || fail "$ok did not run"
  grep -q "did you mean" "$dir/out" && fail "warned for $ok"
done
echo "-l warning: ok"
for k in "cosine 0" "linear 1" "constant 2"; do
  set -- $k
  ./train_gpt2 "${tiny[@]}" -k "$1" > "$dir/name" 2>&1 || fail "-k $1 refused: $(head -2 "$dir/name")"
  ./train_gpt2 "${tiny[@]}" -k "$2" > "$dir/num" 2>&1 || fail "-k $2 refused"
  grep -q "^training: .*$1 to" "$dir/name" || fail "-k $1 is not $1: $(grep ^training "$dir/name")"
  diff <(grep "^training:" "$dir/name") <(grep "^training:" "$dir/num") > /dev/null || fail "-k $1 and -k $2 differ"
done
if ./train_gpt2 "${tiny[@]}" -k cosinus > /dev/null 2> "$dir/err"; then fail "-k cosinus accepted"; fi
grep -q "flag -k: 'cosinus' is not one of cosine (0), linear (1), constant (2)" "$dir/err" || fail "-k message: $(head -1 "$dir/err")"
if ./train_gpt2 "${tiny[@]}" -k 3 > /dev/null 2>&1; then fail "-k 3 accepted"; fi
./train_gpt2 -h | grep -q -- "-k .*cosine, linear or constant" || fail "-h does not list the names"
echo "-k names: ok"
# eval_gpt2 on a model of a run directory evaluates as the trainer's val loss did (its run.json)
./train_gpt2 -e d2w64h2t64 -b 2 -t 16 -x 2 -m 3 -g 0 -v 0 -o "$dir/run" > "$dir/train.out"
./eval_gpt2 -e "$dir/run/model_00000002.bin" > "$dir/eval.out" || fail "eval_gpt2 failed"
cat "$dir/eval.out"
grep -q "evaluating as the trainer's val loss did ($dir/run/run.json): -j data/corpus_val.bin -b 2 -t 16 -m 3" "$dir/eval.out" ||
  fail "eval_gpt2 does not say what it evaluated"
want=$(sed -n 's/^final val loss //p' "$dir/train.out")
grep -q "val loss $want (3 batches of 2x16" "$dir/eval.out" || fail "eval_gpt2 gives $(grep -o 'val loss [0-9.]*' "$dir/eval.out"), the trainer $want"
./eval_gpt2 -e "$dir/run/model_00000002.bin" -b 1 -m 2 | grep -q "(2 batches of 1x16" || fail "the flags given do not win over run.json"
echo "eval_gpt2: the trainer's val loss settings: ok"
