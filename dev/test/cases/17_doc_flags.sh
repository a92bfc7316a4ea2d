# Every flag that an example in README.md or doc/*.md passes to one of our programs is in
# that program's -h output (dev/test/doc_flags.py); the checker itself finds a wrong one
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.docflags.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 dev/test/doc_flags.py README.md doc/*.md || fail "examples in the docs use flags the programs do not have (above)"
printf 'Run it:\n\n    ./train_gpt2 -e d6 -lrate 1e-3   # typo\n\nand `./bsz info --totals x.bsz`, `./tokenizer prepare a.txt --out p`\n' > "$dir/bad.md"
if python3 dev/test/doc_flags.py "$dir/bad.md" > "$dir/out"; then fail "the checker missed wrong flags"; fi
for f in "train_gpt2 has no flag -lrate" "bsz has no flag --totals" "tokenizer has no flag --out"; do
  grep -q "$f" "$dir/out" || fail "the checker did not report '$f': $(cat "$dir/out")"
done
echo "doc flags: ok"
