#!/usr/bin/env bash
# Fuzzes the .bsz reader (dev/test/fuzz/fuzz_bsz.c: libFuzzer + ASan + UBSan) for SECONDS
# seconds, niced, starting from the committed seeds and regression inputs in
# dev/test/fuzz_regress/bsz/ and the corpus of earlier runs in fuzz_out/bsz/corpus.
# Crashes go to fuzz_out/bsz/ (crash-*, leak-*, timeout-*); worth keeping inputs (a fixed
# crash, a new interesting file) go to dev/test/fuzz_regress/bsz/, which `make test` replays.
# Usage: scripts/fuzz_bsz.sh [SECONDS] [JOBS]     (default 600 s, 1 job)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
jobs=${2:-1}
make --no-print-directory build/fuzz/fuzz_bsz
out=fuzz_out/bsz
mkdir -p "$out/corpus"
start=$(date -u +%FT%TZ)
echo "fuzz_bsz: $seconds s, $jobs job(s), from $start; load: $(uptime | sed 's/.*load/load/')"
set +e
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-fork="$jobs") # one process per core, each under the sanitizers
nice -n 10 build/fuzz/fuzz_bsz -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$out/" "${parallel[@]+"${parallel[@]}"}" \
  "$out/corpus" dev/test/fuzz_regress/bsz > "$out/fuzz.log" 2>&1
rc=$?
set -e
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$out/fuzz.log" | tail -n 4 || true
crashes=$(ls "$out" | grep -cE '^(crash|leak|timeout|oom)-' || true)
echo "fuzz_bsz: exit $rc, $crashes crash/leak/timeout/oom inputs in $out/, corpus $(ls "$out/corpus" | wc -l) files; log $out/fuzz.log"
[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]
