# GG math (llmc/gg.h): rho check values, the shape solve over [0.1, 3], nu from 1e6 GG
# samples at nu = 0.5, 1, 1.5, 2, alpha, the rate gradient, bits/param, the fast power
set -e
dev/test/bin/test_gg
