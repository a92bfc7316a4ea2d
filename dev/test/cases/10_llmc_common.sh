# shared headers: CRC-32, parameter layout, llm.c checkpoint I/O, atomic writes, flag parsing
set -e
dir=$(mktemp -d build/tmp.common.XXXXXX)
trap 'rm -rf "$dir"' EXIT
dev/test/bin/test_llmc_common "$dir"
