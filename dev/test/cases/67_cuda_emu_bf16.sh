# test_gpt2.cu's bf16 build (the trainer's precision) on the CPU, through the CUDA emulation
# (dev/cuda_emu, doc/cuda.md), in --quick mode, with the blocks of every launch and the
# threads of every block run in reverse order (CUDA_EMU_REVERSE=1): a kernel whose result
# depends on the order of its threads (a missing __syncthreads) differs from case 66's order.
set -u
[ -x build/emu/test_gpt2_emu ] || { echo "FAIL: build/emu/test_gpt2_emu was not built"; exit 1; }
OMP_NUM_THREADS=1 CUDA_EMU_REVERSE=1 build/emu/test_gpt2_emu --quick
