# a few of `make sanitize`'s runs (dev/test/sanitize.sh: ASan, LSan, UBSan) inside the
# suite: the layer tests (test_cpu_kernels once overflowed a buffer sized OC with C floats
# and leaked its finite-difference buffers), the shared headers, and a training run with a
# resume (logger.h once parsed the old log.csv with strtol past the end of its buffer).
# `make sanitize` runs all of them (CI does).
set -eo pipefail
echo 'int main(void) { return 0; }' > build/tmp.san_probe.c
if ! ${CC:-gcc} -fsanitize=address,undefined -o build/tmp.san_probe build/tmp.san_probe.c 2>/dev/null; then
  rm -f build/tmp.san_probe.c; echo "the C compiler has no ASan/UBSan runtime (libasan, libubsan)"; exit 77
fi
rm -f build/tmp.san_probe build/tmp.san_probe.c
make --no-print-directory build/sanitize/test_cpu_kernels build/sanitize/test_llmc_common build/sanitize/train_gpt2 > /dev/null
dev/test/sanitize.sh cpu_kernels llmc_common train train_resume
