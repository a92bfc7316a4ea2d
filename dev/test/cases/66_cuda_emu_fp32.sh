# test_gpt2.cu's fp32 build on the CPU, through the CUDA emulation (dev/cuda_emu, doc/cuda.md):
# the kernels' logic, indexing and synchronisation against the CPU reference in --quick mode
# (the default shape with 3 training steps and a resume, the irregular shape's forward,
# gradients; accumulation). One OpenMP thread: the emulator runs on one core anyway.
# `make test-cuda-emu` runs every shape in full.
set -u
[ -x build/emu/test_gpt2fp32_emu ] || { echo "FAIL: build/emu/test_gpt2fp32_emu was not built"; exit 1; }
OMP_NUM_THREADS=1 build/emu/test_gpt2fp32_emu --quick
