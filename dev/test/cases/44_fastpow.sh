# the fast power of the BackSlash pass (llmc/fastpow.h) against libm over the bases and
# exponents the pass sees; the AVX-512 power and the AVX-512 rate loops of llmc/dggr.h
# against the scalar reference bit for bit; then test_dggr built without AVX-512 (the
# portable path, dev/test/bin/test_dggr_scalar), so that both versions of the pass run
# the same unit tests (case 42 compares both with PyTorch)
set -e
dev/test/bin/test_fastpow
dev/test/bin/test_dggr_scalar
