# The CUDA model (bf16 build, the trainer's precision) against the CPU reference, with
# bf16 tolerances (test_gpt2.cu). Skipped (77) without nvcc or without a GPU.
set -u
if [ ! -x ./test_gpt2cu ]; then
  echo "test_gpt2cu not built (no nvcc)"
  exit 77
fi
./test_gpt2cu
