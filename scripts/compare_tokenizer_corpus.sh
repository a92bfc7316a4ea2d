#!/usr/bin/env bash
# Compares our tokenizer with gpt-3-encoder on whole splits of the prepared data: every
# document of each split is encoded by both, and the first document that differs is named.
# gpt-3-encoder is slow (0.04-0.4 MB/s), so this is a script, not a `make test` case; the
# test suite compares the validation split and random strings.
#   scripts/compare_tokenizer_corpus.sh [SPLIT ...]   (default: corpus_train corpus_val spam_train spam_test)
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory data dev/test/bin/test_tokenizer > /dev/null
splits=("$@")
[ ${#splits[@]} -eq 0 ] && splits=(corpus_train corpus_val spam_train spam_test)
tmp=$(mktemp -d build/tmp.compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
status=0
for s in "${splits[@]}"; do
  echo "== $s"
  node dev/test/gpt3_encode_documents.js .cache/packages/node_modules ".cache/docs/$s.docs" "$tmp/$s.u16"
  dev/test/bin/test_tokenizer compare ".cache/docs/$s.docs" "$tmp/$s.u16" || status=1
done
exit $status
