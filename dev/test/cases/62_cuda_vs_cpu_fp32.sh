# The CUDA model (fp32 build) against the CPU reference: logits, loss, every gradient,
# 10 BackSlash training steps (test_gpt2.cu). Skipped (77) without nvcc or without a GPU.
set -u
if [ ! -x ./test_gpt2fp32cu ]; then
  echo "test_gpt2fp32cu not built (no nvcc)"
  exit 77
fi
./test_gpt2fp32cu
