# temporary files left by a killed writer (<name>.tmp.<pid>, llmc/utils.h's atomic writes)
# are removed when a run starts or resumes in the directory, and it says so; those of a
# live process, and files that merely look alike, are kept
set -u
dir=$(mktemp -d build/tmp.stale.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-e d2w64h2t64 -b 2 -t 16 -x 1 -v 0 -m 1 -g 0)
sleep 0 & dead=$!; wait $dead   # a process id that no longer exists
sleep 60 & live=$!              # one that does
make_temps() {
  for f in model_00000003.bin state_00000003.bin model_00000003.bsz log.csv; do
    head -c 1000 /dev/urandom > "$1/$f.tmp.$dead"
  done
  echo keep > "$1/model_00000005.bin.tmp.$live"
  echo keep > "$1/notes.tmp.txt"
  echo keep > "$1/model.tmp.12x"
  mkdir -p "$1/sub.tmp.$dead"
}
check() { # DIR OUTPUT
  for f in model_00000003.bin state_00000003.bin model_00000003.bsz log.csv; do
    [ ! -e "$1/$f.tmp.$dead" ] || fail "$1/$f.tmp.$dead (a dead writer's) was not removed"
    grep -q "removed $1/$f.tmp.$dead" "$2" || fail "no message for $f.tmp.$dead: $(grep -i temp "$2")"
  done
  for f in "model_00000005.bin.tmp.$live" notes.tmp.txt model.tmp.12x "sub.tmp.$dead"; do
    [ -e "$1/$f" ] || fail "$1/$f was removed"
  done
}
mkdir "$dir/new"
make_temps "$dir/new"
./train_gpt2 "${tiny[@]}" -o "$dir/new" > "$dir/new.txt" 2>&1 || fail "the run failed: $(tail -n 3 "$dir/new.txt")"
check "$dir/new" "$dir/new.txt"
# resuming (-y 1) cleans up too
make_temps "$dir/new"
./train_gpt2 "${tiny[@]}" -x 2 -o "$dir/new" -y 1 > "$dir/res.txt" 2>&1 || fail "the resumed run failed: $(tail -n 3 "$dir/res.txt")"
grep -q "resuming from" "$dir/res.txt" || fail "did not resume"
check "$dir/new" "$dir/res.txt"
kill $live 2>/dev/null
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "stale temporaries of dead writers removed on start and resume, with a message; others kept"
