# the .bsz reader under ASan/UBSan (libFuzzer build): replays the kept inputs in
# dev/test/fuzz_regress/bsz/ (seeds and inputs that once crashed it), then fuzzes for 8 s.
# Longer runs: scripts/fuzz_bsz.sh SECONDS
set -eo pipefail
if ! command -v clang >/dev/null 2>&1; then echo "clang with libFuzzer is not installed"; exit 77; fi
make --no-print-directory build/fuzz/fuzz_bsz > /dev/null
build/fuzz/fuzz_bsz dev/test/fuzz_regress/bsz/* 2>&1 | grep -E 'Executed|ERROR|SUMMARY'
dir=$(mktemp -d build/tmp.fuzzbsz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp dev/test/fuzz_regress/bsz/* "$dir/"
build/fuzz/fuzz_bsz -max_total_time=8 -max_len=16384 -print_final_stats=1 -artifact_prefix="$dir/" "$dir" 2>&1 | grep -E 'Done|stat::number_of_executed_units|ERROR|SUMMARY'
