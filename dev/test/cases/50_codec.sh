# the codec's unit tests: EG-k code words (paper's Table 2, length formula), bit I/O,
# Huffman optimality, value map, exact round trips (random, GG nu = 0.5/1/2, sparse;
# global and per-tensor maps, fixed and automatic k, per-tensor Delta; 1 thread == all),
# the report's nu fit, and every truncation, every single bit flip, wrong CRCs and absurd
# sizes of a small file rejected with a message
set -e
dev/test/bin/test_codec
