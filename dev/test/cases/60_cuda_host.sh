# Host side of the CUDA trainer, checked on the CPU: the cuBLAS parameters of the linear
# and attention layers (through a CPU GEMM, against direct loops and finite differences),
# the token buckets of the deterministic embedding backward, and the checkpoint files
# both trainers write and read (llmc/train_checkpoint.h)
set -e
dev/test/bin/test_gemm_spec
dev/test/bin/test_token_buckets
dir=$(mktemp -d build/tmp.checkpoint.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_train_checkpoint "$dir"
