# the files of `make data`: every document decodes back to its text, the spam labels are
# right, and the validation split's ids equal gpt-3-encoder's (1.2 MB of real text)
set -e
dir=$(mktemp -d build/tmp.datacheck.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_tokenizer datafiles
node dev/test/gpt3_encode_documents.js .cache/packages/node_modules .cache/docs/corpus_val.docs "$dir/val.u16"
dev/test/bin/test_tokenizer compare .cache/docs/corpus_val.docs "$dir/val.u16"
