# checkpoint volume: a run keeps only the last K training states (-nk, default 2; 0 keeps
# all) and the models (model_*.bin, model_*.bsz) of every checkpoint. (Another run's states
# cannot be in the directory: a new run refuses a directory holding another run's files,
# case 15.)
set -u
dir=$(mktemp -d build/tmp.keep.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tiny=(-e d2w64h2t64 -b 2 -t 16 -x 4 -n 1 -v 0 -m 1 -g 0)
names() { (cd "$1" && ls $2 2>/dev/null | tr '\n' ' '); }
# run NAME WANT_STATES [FLAGS]
run() {
  local name=$1 want=$2; shift 2
  mkdir -p "$dir/$name"
  ./train_gpt2 "${tiny[@]}" -o "$dir/$name" "$@" > "$dir/$name.txt" 2>&1 || { fail "$name: the run failed: $(tail -n 3 "$dir/$name.txt")"; return; }
  local got
  got=$(names "$dir/$name" 'state_*.bin')
  [ "$got" = "$want " ] || fail "$name: states '$got', want '$want '"
  [ "$(names "$dir/$name" 'model_*.bin' | wc -w)" -eq 4 ] || fail "$name: not 4 models: $(names "$dir/$name" 'model_*.bin')"
  [ "$(names "$dir/$name" 'model_*.bsz' | wc -w)" -eq 4 ] || fail "$name: not 4 coded models: $(names "$dir/$name" 'model_*.bsz')"
  echo "$name: states $got"
}
run default "state_00000003.bin state_00000004.bin"
grep -q "removed $dir/default/state_00000002.bin" "$dir/default.txt" || fail "no message for the removed state_00000002.bin"
run three "state_00000002.bin state_00000003.bin state_00000004.bin" -nk 3
run one "state_00000004.bin" -nk 1
run all "state_00000001.bin state_00000002.bin state_00000003.bin state_00000004.bin" -nk 0
# a resume continues from the newest kept state
./train_gpt2 "${tiny[@]}" -x 6 -o "$dir/default" -y 1 > "$dir/res.txt" 2>&1 || fail "resume failed: $(tail -n 3 "$dir/res.txt")"
grep -q "resuming from $dir/default/state_00000004.bin" "$dir/res.txt" || fail "did not resume from state 4"
[ "$(names "$dir/default" 'state_*.bin')" = "state_00000005.bin state_00000006.bin " ] || fail "after the resume: $(names "$dir/default" 'state_*.bin')"
./train_gpt2 "${tiny[@]}" -nk -1 > "$dir/bad.txt" 2>&1 && fail "-nk -1 accepted"
grep -q "flag -nk" "$dir/bad.txt" || fail "-nk -1: the error does not name the flag"
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "the last K states kept (-nk), every model kept"
