#!/usr/bin/env bash
# Runs every test case in dev/test/cases/ (sorted by name) and prints a summary.
# A case is an executable script run from the repository root. Exit status:
#   0 = pass, 77 = skipped (its last output line says why; shown in the summary),
#   anything else = fail. Each case's full output goes to build/test-logs/<case>.log.
# Usage: dev/test/run_tests.sh [pattern]   (only cases whose name contains pattern)
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/test-logs
pattern="${1:-}"
pass=0; fail=0; skip=0
failed=(); skipped=()
start_all=$(date +%s)
for t in dev/test/cases/*.sh; do
  name=$(basename "$t" .sh)
  [ -n "$pattern" ] && [[ "$name" != *"$pattern"* ]] && continue
  log="build/test-logs/$name.log"
  t0=$(date +%s)
  bash "$t" >"$log" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); printf '  PASS  %-34s %4ds\n' "$name" "$dt"
  elif [ $rc -eq 77 ]; then
    why=$(tail -n 1 "$log")
    skip=$((skip + 1)); skipped+=("$name: $why"); printf '  SKIP  %-34s %4ds  (%s)\n' "$name" "$dt" "$why"
  else
    fail=$((fail + 1)); failed+=("$name"); printf '  FAIL  %-34s %4ds  (exit %d, log: %s)\n' "$name" "$dt" "$rc" "$log"
    tail -n 15 "$log" | sed 's/^/        | /'
  fi
done
total=$((pass + fail + skip))
echo
echo "================================================================"
printf 'tests: %d passed, %d failed, %d skipped (of %d) in %ds\n' "$pass" "$fail" "$skip" "$total" "$(( $(date +%s) - start_all ))"
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "  skipped: $s"; done
for f in "${failed[@]+"${failed[@]}"}"; do echo "  FAILED:  $f"; done
if [ $fail -ne 0 ] || [ $total -eq 0 ]; then echo "RESULT: FAIL"; exit 1; fi
echo "RESULT: PASS"
