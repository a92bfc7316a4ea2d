# every reader refuses a FIFO (and a directory, a device) at once with a message naming
# the path, instead of blocking in open() until a writer appears: the model of -e (train_gpt2,
# eval_gpt2; llm.c .bin or .bsz), the token files of -i / -j, a training state to resume,
# and bsz's input (llmc/utils.h bs_open_regular)
set -u
dir=$(mktemp -d build/tmp.fifo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
mkfifo "$dir/fifo"
mkdir "$dir/adir"
tiny=(-e d2w64h2t64 -b 2 -t 16 -x 1 -v 0 -m 1 -g 0)
# refused PATH NEEDLE -- PROGRAM ARGS: exit status 1 within 20 s, stderr naming PATH and NEEDLE
refused() {
  local path=$1 needle=$2
  shift 3
  timeout 20 "$@" < /dev/null > "$dir/out" 2> "$dir/err"
  local rc=$?
  local first
  first=$(grep -m1 "error" "$dir/err")
  if [ $rc -eq 124 ]; then fail "blocked (killed after 20 s): $*"; return; fi
  if [ $rc -ne 1 ]; then fail "exit status $rc (want 1) for: $*  [$first]"; return; fi
  [[ "$first" == *"$path"* && "$first" == *"$needle"* ]] || { fail "error '$first' lacks '$path' or '$needle' (for: $*)"; return; }
  echo "ok: $first"
}
refused "$dir/fifo" "a FIFO" -- ./train_gpt2 "${tiny[@]}" -e "$dir/fifo"
refused "$dir/fifo" "a FIFO" -- ./eval_gpt2 -e "$dir/fifo"
refused "$dir/adir" "a directory" -- ./train_gpt2 "${tiny[@]}" -e "$dir/adir"
refused /dev/zero "a character device" -- ./eval_gpt2 -e /dev/zero
refused "$dir/fifo" "a FIFO" -- ./train_gpt2 "${tiny[@]}" -i "$dir/fifo"
refused "$dir/fifo" "a FIFO" -- ./train_gpt2 "${tiny[@]}" -j "$dir/fifo"
refused "$dir/fifo" "a FIFO" -- ./bsz info "$dir/fifo"
refused "$dir/fifo" "a FIFO" -- ./bsz compress "$dir/fifo" "$dir/out.bsz"
# the newest state to resume is a FIFO
mkdir "$dir/run"
mkfifo "$dir/run/state_00000001.bin"
refused "$dir/run/state_00000001.bin" "a FIFO" -- ./train_gpt2 "${tiny[@]}" -x 2 -o "$dir/run" -y 1
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "FIFOs, directories and devices refused at once by every reader"
