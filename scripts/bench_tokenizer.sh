#!/usr/bin/env bash
# Encode speed, one core: our tokenizer (./tokenizer bench) against gpt-3-encoder under node,
# on the same documents. Each run starts with an empty cache; prints every run and a table
# of medians. gpt-3-encoder is slow, so it gets the validation split (1.2 MB) only.
#   scripts/bench_tokenizer.sh [RUNS]   (default 5 for ours, 3 for gpt-3-encoder)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
make --no-print-directory data tokenizer > /dev/null
tmp=$(mktemp -d build/tmp.bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
nm=.cache/packages/node_modules
node scripts/bench_gpt3_encoder.js $nm .cache/docs/corpus_train.docs --write-text "$tmp/train.txt"
node scripts/bench_gpt3_encoder.js $nm .cache/docs/corpus_val.docs --write-text "$tmp/val.txt"
echo "load: $(uptime | sed 's/.*load average/load average/')"
echo "== ours, corpus_train as one text"; ./tokenizer bench "$tmp/train.txt" --runs "$runs" | tee "$tmp/ours_train"
echo "== ours, corpus_val as one text"; ./tokenizer bench "$tmp/val.txt" --runs "$runs" | tee "$tmp/ours_val"
echo "== gpt-3-encoder, corpus_val document by document"
node scripts/bench_gpt3_encoder.js $nm .cache/docs/corpus_val.docs "$(( runs < 3 ? runs : 3 ))" | tee "$tmp/gpt3_val"
median() { sed -n 's/^median: \([0-9.]*\) MB\/s.*/\1/p' "$1"; }
echo
printf '| %-16s | %-30s | %8s | %12s |\n' tokenizer input MB "median MB/s"
printf '|%s|%s|%s|%s|\n' ------------------ -------------------------------- ---------- --------------
printf '| %-16s | %-30s | %8.2f | %12s |\n' "ours (C)" "corpus_train, one text" "$(($(wc -c < "$tmp/train.txt")))e-6" "$(median "$tmp/ours_train")"
printf '| %-16s | %-30s | %8.2f | %12s |\n' "ours (C)" "corpus_val, one text" "$(($(wc -c < "$tmp/val.txt")))e-6" "$(median "$tmp/ours_val")"
printf '| %-16s | %-30s | %8.2f | %12s |\n' "gpt-3-encoder" "corpus_val, per document" "$(($(wc -c < "$tmp/val.txt")))e-6" "$(median "$tmp/gpt3_val")"
echo "load after: $(uptime | sed 's/.*load average/load average/')"
