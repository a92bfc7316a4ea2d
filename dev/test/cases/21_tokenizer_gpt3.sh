# the tokenizer against gpt-3-encoder under node: hand-picked hard cases and random strings
# (a new seed each run, printed; set TOKENIZER_TEST_SEED to repeat one), then the
# properties that need no reference (lossless on invalid UTF-8, 1 MB pieces, bad files)
set -e
dir=$(mktemp -d build/tmp.tokenizer.XXXXXX)
trap 'rm -rf "$dir"' EXIT
seed=${TOKENIZER_TEST_SEED:-$(( $(date +%s) % 1000000 ))}
echo "seed $seed (rerun with TOKENIZER_TEST_SEED=$seed)"
node dev/test/tokenizer_cases.js .cache/packages/node_modules llmc/unicode_classes.h "$seed" 5000 > "$dir/cases.txt"
dev/test/bin/test_tokenizer cases "$dir/cases.txt"
dev/test/bin/test_tokenizer units "$dir"
