#!/usr/bin/env bash
# make test-cuda-emu: test_gpt2.cu's full runs (every shape, 10 training steps) under the CPU
# emulation, fp32 and bf16 builds, then the bf16 quick run with threads and blocks in reverse
# order, whose output must equal the forward order's. Logs in build/emu/full-*.log.
set -u
cd "$(dirname "$0")/../.."
status=0
for b in test_gpt2fp32_emu test_gpt2_emu; do
  t0=$(date +%s)
  OMP_NUM_THREADS=1 build/emu/$b > build/emu/full-$b.log 2>&1
  rc=$?
  echo "$b (all shapes): exit $rc in $(( $(date +%s) - t0 ))s, $(grep -c '^  ok' build/emu/full-$b.log) checks ok, $(grep -c '^  FAIL' build/emu/full-$b.log) failed (build/emu/full-$b.log)"
  [ $rc -eq 0 ] || status=1
done
# the emulated device's reports do not depend on the order (the CPU parts print the same too)
OMP_NUM_THREADS=1 build/emu/test_gpt2_emu --quick > build/emu/full-forward.log 2>&1
OMP_NUM_THREADS=1 CUDA_EMU_REVERSE=1 build/emu/test_gpt2_emu --quick > build/emu/full-reverse.log 2>&1
if cmp -s build/emu/full-forward.log build/emu/full-reverse.log; then
  echo "bf16 quick run: identical output with threads and blocks in forward and in reverse order"
else
  echo "FAIL: the bf16 quick run's output depends on the order of threads and blocks:"
  diff build/emu/full-forward.log build/emu/full-reverse.log | head -20
  status=1
fi
[ $status -eq 0 ] && echo "test-cuda-emu: PASS" || echo "test-cuda-emu: FAIL"
exit $status
