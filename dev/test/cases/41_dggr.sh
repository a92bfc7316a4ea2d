# the fused AdamW + DGGR update (llmc/dggr.h): lambda = 0 is plain AdamW bit for bit,
# thread-count independence, fixed nu = 1 / 2 equal L1 / L2, statistics, saved state
set -e
dev/test/bin/test_dggr
