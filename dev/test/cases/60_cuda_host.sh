# Host side of the CUDA trainer, checked on the CPU: the cuBLAS parameters of the linear
# and attention layers (through a CPU GEMM, against direct loops and finite differences)
# and the token buckets of the deterministic embedding backward
set -e
dev/test/bin/test_gemm_spec
dev/test/bin/test_token_buckets
