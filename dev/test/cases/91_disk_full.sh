# a full disk (simulated with a file-size limit: writes past it fail with EFBIG) never
# leaves a partial result: a checkpoint set whose state does not fit leaves none of its
# files (not the model and .bsz without their state) and no temporaries; a log row that
# does not fit is not left torn; every write error says the reason
set -u
dir=$(mktemp -d build/tmp.diskfull.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-e d2w64h2t64 -b 2 -t 16 -v 0 -m 1 -g 0)
# run_limited KB ARGS: train_gpt2 with files limited to KB kilobytes (SIGXFSZ ignored, so
# that the write fails with EFBIG as on a full disk instead of killing the process)
run_limited() { local kb=$1; shift; ( trap '' XFSZ; ulimit -f "$kb"; exec ./train_gpt2 "$@" ); }

# the checkpoint set: model_*.bin (13 MB) and .bsz fit in 20 MB, state_*.bin (40 MB) does not
run_limited 20000 "${tiny[@]}" -x 2 -n 1 -o "$dir/ck" > "$dir/ck.txt" 2> "$dir/ck.err"
rc=$?
[ $rc -eq 1 ] || fail "exit status $rc (want 1): $(tail -n 2 "$dir/ck.err")"
grep -q "error: .*state_00000001.bin.*File too large" "$dir/ck.err" || fail "the error does not name the state and the reason: $(cat "$dir/ck.err")"
left=$(cd "$dir/ck" && ls | grep -v -e '^log.csv$' -e '^run.json$' | tr '\n' ' ') # the two the run wrote at its start
[ -z "$left" ] || fail "a failed checkpoint set left: $left"
echo "checkpoint set: $(head -n 1 "$dir/ck.err"); left: '${left}'"

# log.csv: 1 KB holds the header and a few rows; the row that crosses the limit is not torn
run_limited 1 "${tiny[@]}" -x 40 -o "$dir/log" > "$dir/log.txt" 2> "$dir/log.err"
rc=$?
[ $rc -eq 1 ] || fail "log: exit status $rc (want 1): $(tail -n 2 "$dir/log.err")"
grep -q "error: .*log.csv.*File too large" "$dir/log.err" || fail "the log error does not say the reason: $(cat "$dir/log.err")"
log="$dir/log/log.csv"
[ -s "$log" ] || fail "no log.csv"
[ "$(tail -c 1 "$log" | od -An -c | tr -d ' ')" = '\n' ] || fail "log.csv ends in a torn row: '$(tail -n 1 "$log")'"
awk -F, 'NR == 1 { n = NF } NF != n { bad = 1 } END { exit bad }' "$log" || fail "log.csv has a row with the wrong number of fields"
rows=$(($(wc -l < "$log") - 1))
[ $rows -ge 1 ] || fail "no complete row in log.csv"
echo "log: $(head -n 1 "$dir/log.err"); $rows complete rows kept"
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "disk full: no partial checkpoint set, no torn log row, the reason in every error"
