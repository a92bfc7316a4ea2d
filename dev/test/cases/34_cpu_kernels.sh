# each layer's backward against finite differences; the fast paths against the reference
# (tolerances in dev/test/test_cpu_kernels.c)
set -e
dev/test/bin/test_cpu_kernels
