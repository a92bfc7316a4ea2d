# An output directory holds one run: a new run into a directory with another run's files
# (run.json, log.csv, model_*, state_*) refuses and says what to do, touching nothing; -ow 1
# removes them first; files that are not a run's are left alone
set -e
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d build/tmp.outdir.XXXXXX)
trap 'rm -rf "$dir"' EXIT
tiny=(-e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -v 2 -o "$dir/run")
./train_gpt2 "${tiny[@]}" -x 4 -n 2 > /dev/null
ls "$dir/run" > "$dir/before.ls"
sum_before=$(cat "$dir"/run/* | cksum)
for second in "-x 4 -n 2" "-x 2 -lr 1e-3"; do
  if ./train_gpt2 "${tiny[@]}" $second > "$dir/out" 2> "$dir/err"; then fail "a second run ($second) into the same directory ran"; fi
  for say in "already holds another run's files" "pass -y 1 to resume" "another directory" "-ow 1"; do
    grep -qF -- "$say" "$dir/err" || fail "the refusal does not say '$say': $(cat "$dir/err")"
  done
  [ "$(cat "$dir"/run/* | cksum)" = "$sum_before" ] && diff <(ls "$dir/run") "$dir/before.ls" > /dev/null ||
    fail "the refused run changed the directory"
done
echo "refuses another run's directory, unchanged"
# -ow 1: the old run's files are gone, the new run's alone remain; other files stay
echo "my notes" > "$dir/run/notes.txt"
./train_gpt2 "${tiny[@]}" -x 2 -n 1 -ow 1 > "$dir/out" || fail "-ow 1 refused"
grep -q "^-ow 1: removed 8 file(s) of the previous run" "$dir/out" || fail "-ow 1 does not say what it removed: $(grep -- -ow "$dir/out")"
[ ! -e "$dir/run/state_00000004.bin" ] && [ ! -e "$dir/run/model_00000004.bin" ] || fail "-ow 1 kept the old run's step-4 files"
[ -e "$dir/run/state_00000002.bin" ] && [ -e "$dir/run/state_00000001.bin" ] || fail "the new run's states are missing"
[ "$(cat "$dir/run/notes.txt")" = "my notes" ] || fail "-ow 1 removed a file that is not a run's"
[ "$(wc -l < "$dir/run/log.csv")" -eq 4 ] || fail "log.csv mixes runs: $(wc -l < "$dir/run/log.csv") lines, expected 4"
grep -q '"-x": 2' "$dir/run/run.json" || fail "run.json is not the new run's"
echo "-ow 1: the old run removed first"
if ./train_gpt2 "${tiny[@]}" -x 2 -ow 1 -y 1 > /dev/null 2> "$dir/err"; then fail "-ow 1 with -y 1 ran"; fi
grep -q "flags -ow 1 and -y 1" "$dir/err" || fail "-ow with -y: $(cat "$dir/err")"
# a directory with only other files is fine
mkdir "$dir/other" && echo x > "$dir/other/README"
./train_gpt2 -e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -x 1 -o "$dir/other" > /dev/null || fail "refused a directory without run files"
[ -e "$dir/other/README" ] || fail "removed an unrelated file"
# -y 1 with no state over files of an unknown run (no run.json): refuses too
mkdir "$dir/old" && echo "step,loss" > "$dir/old/log.csv"
if ./train_gpt2 -e d2w64h2t64 -b 2 -t 16 -m 1 -g 0 -x 1 -o "$dir/old" -y 1 > /dev/null 2> "$dir/err"; then
  fail "-y 1 started over an unknown run's files"; fi
grep -q "no state_\*.bin to resume" "$dir/err" || fail "message: $(cat "$dir/err")"
echo "output directories: ok"
