# host side of the CUDA trainer: the token buckets of the deterministic embedding backward
set -e
dev/test/bin/test_token_buckets
