# The CUDA emulation (dev/cuda_emu) catches what doc/cuda.md says it catches: exact block and
# warp reductions, NaN from memory nothing wrote, refused out-of-range copies, launches and
# GEMMs; divergent barriers and shuffles stop the program (exit 3, naming kernel, block,
# threads and source lines); a missing __syncthreads changes the result between the forward
# and the reverse order of threads.
set -u
bin=build/emu/test_cuda_emu
[ -x $bin ] || { echo "FAIL: $bin was not built"; exit 1; }
$bin ok || { echo "FAIL: the emulator's basic checks"; exit 1; }
for sc in sync_divergent sync_exited shfl_exited shfl_different; do
  out=$($bin $sc 2>&1); rc=$?
  [ $rc -eq 3 ] || { echo "FAIL: $sc: exit $rc, expected 3 (divergence)"; echo "$out"; exit 1; }
  echo "$out" | grep -q 'DIVERGENCE' || { echo "FAIL: $sc: no DIVERGENCE report"; echo "$out"; exit 1; }
  echo "$sc: $(echo "$out" | head -n 1)"
done
fwd=$($bin race | grep 'out\[0\]')
rev=$(CUDA_EMU_REVERSE=1 $bin race | grep 'out\[0\]')
echo "race without __syncthreads: forward order $fwd, reverse order $rev"
[ "$fwd" != "$rev" ] || { echo "FAIL: the race gives the same result in both orders"; exit 1; }
echo "$fwd" | grep -qi nan || { echo "FAIL: the forward order's read of unwritten shared memory is not NaN"; exit 1; }
echo "the emulator reports what it claims to"
