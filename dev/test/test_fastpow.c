/*
 Tests of llmc/fastpow.h and of the AVX-512 rate loops of llmc/dggr.h:
  - fastpow(x, y) against libm's double pow over the bases and exponents the BackSlash pass
    sees: every 61st float in [2^-20, 4] (x = |w| + eps; eps = 1, the default, gives
    x in [1, 2)), y = nu - 1 for nu in [0.1, 3]; maximum relative error per range of x
  - exact values: x^0 = 1, 1^y = 1, 2^k, the clamp below 2^-126
  - fastpow_avx512 against fastpow bit for bit on the same inputs (when built for AVX-512)
  - dggr_rate_gradient_avx512 / dggr_shrink_avx512 against the reference loops bit for bit
    (rate gradients, new weights; decoupled and proximal, eps 1 and eps 0 with the guard,
    zeros of both signs, subnormal weights, every length 1..40 for the masked tail); the
    rate sums, added in another order, against a double sum to 2e-6 relative; the moments
    the shrink adds up (sum |w|, sum w^2, zeros at delta) against gg_moments
 Runs in a few seconds.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llmc/dggr.h"
#include "../../llmc/fastpow.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static float float_of_bits(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static uint32_t bits_of_float(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }

// nu - 1 for nu in [0.1, 3]: the ends, the common shapes, and odd values between
static const float EXPONENTS[] = {-0.9f, -0.75f, -0.5f, -0.37f, -0.123f, 0.0f, 0.21f, 0.5f, 0.54f, 1.0f, 1.3f, 1.77f, 2.0f};
#define NUM_EXPONENTS ((int)(sizeof(EXPONENTS) / sizeof(EXPONENTS[0])))

// ranges of the base with the largest relative error the test allows in each (the
// measured values are printed; the error grows with |log2 x| because y log2 x is rounded
// to float: about 2^-24 |y log2 x| ln 2)
static const struct { float lo, hi; double bound; } RANGES[] = {
    {0x1p-20f, 1e-3f, 4e-6},  // eps down to 1e-6 (tiny soft clipping)
    {1e-3f, 0.5f, 2e-6},
    {0.5f, 4.0f, 5e-7},       // eps >= 0.5, the default eps = 1: x in [1, 2)
};
#define NUM_RANGES ((int)(sizeof(RANGES) / sizeof(RANGES[0])))

static void test_against_libm(void) {
    for (int r = 0; r < NUM_RANGES; r++) {
        double worst = 0.0;
        float wx = 0.0f, wy = 0.0f;
        long n = 0;
        for (int k = 0; k < NUM_EXPONENTS; k++) {
            float y = EXPONENTS[k];
            for (uint32_t u = bits_of_float(RANGES[r].lo); u < bits_of_float(RANGES[r].hi); u += 61, n++) {
                float x = float_of_bits(u);
                double ref = pow((double)x, (double)y);
                double rel = fabs((double)fastpow(x, y) - ref) / ref;
                if (!(rel <= worst)) { worst = rel; wx = x; wy = y; }
            }
        }
        printf("fastpow: x in [%g, %g], y in [-0.9, 2] (%ld values): worst relative error %.2e (x = %g, y = %g), bound %.1e\n",
               (double)RANGES[r].lo, (double)RANGES[r].hi, n, worst, (double)wx, (double)wy, RANGES[r].bound);
        CHECK(worst < RANGES[r].bound, "range [%g, %g]: relative error %g", (double)RANGES[r].lo, (double)RANGES[r].hi, worst);
    }
    // exact cases
    for (int k = 0; k < NUM_EXPONENTS; k++) CHECK(fastpow(1.0f, EXPONENTS[k]) == 1.0f, "1^%g", (double)EXPONENTS[k]);
    for (float x = 1e-6f; x < 4.0f; x *= 1.37f) CHECK(fastpow(x, 0.0f) == 1.0f, "%g^0", (double)x);
    for (int e = -20; e <= 20; e++) CHECK(fastpow(ldexpf(1.0f, e), 1.0f) == ldexpf(1.0f, e), "2^%d ^ 1", e);
    CHECK(fastpow(4.0f, 0.5f) == 2.0f && fastpow(0.25f, -0.5f) == 2.0f, "4^0.5, 0.25^-0.5");
    // the extremes stay finite: FLT_MIN^-0.9 is about 2^113; a result below 2^-126 is clamped there
    float big = fastpow(FLT_MIN, -0.9f);
    CHECK(isfinite(big) && fabs(big / pow(FLT_MIN, -0.9) - 1.0) < 1e-5, "FLT_MIN^-0.9 = %g", (double)big);
    CHECK(fastpow(0x1p-100f, 2.0f) == FLT_MIN, "2^-200 clamped to FLT_MIN: %g", (double)fastpow(0x1p-100f, 2.0f));
}

#ifdef FASTPOW_AVX512
static void test_avx512_bits(void) {
    long n = 0, differ = 0;
    for (int k = 0; k < NUM_EXPONENTS; k++) {
        __m512 y = _mm512_set1_ps(EXPONENTS[k]);
        for (uint32_t u = bits_of_float(FLT_MIN); u < bits_of_float(64.0f); u += 16 * 127) {
            float x[16], v[16];
            for (int j = 0; j < 16; j++) x[j] = float_of_bits(u + 127u * (uint32_t)j);
            _mm512_storeu_ps(v, fastpow_avx512(_mm512_loadu_ps(x), y));
            for (int j = 0; j < 16; j++, n++) {
                float s = fastpow(x[j], EXPONENTS[k]);
                if (memcmp(&s, &v[j], 4) != 0) {
                    if (differ++ < 5) printf("  x %a y %g: scalar %a avx512 %a\n", (double)x[j], (double)EXPONENTS[k], (double)s, (double)v[j]);
                }
            }
        }
    }
    printf("fastpow_avx512 vs fastpow: %ld of %ld values differ (x in [FLT_MIN, 64])\n", differ, n);
    CHECK(differ == 0, "AVX-512 and scalar fastpow differ in %ld values", differ);
}

// weights for the rate loops: normal values of both signs and several scales, zeros of
// both signs, subnormals, and a few large values
static void fill_weights(float* w, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(s >> 32);
        float u = (float)(r & 0xffffff) / 16777216.0f - 0.5f;
        switch ((r >> 24) & 15) {
            case 0: w[i] = 0.0f; break;
            case 1: w[i] = -0.0f; break;
            case 2: w[i] = u * 1e-40f; break; // subnormal
            case 3: w[i] = u * 8.0f; break;
            case 4: w[i] = u * 1e-6f; break;
            default: w[i] = u * 0.1f; break;
        }
    }
}

// sum (|w|+eps)^nu in double, with the float powers of the pass (the sum's own rounding only)
static double rate_sum_double(const float* w, size_t n, float eps, float nu1, int guard) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        float t = fabsf(w[i]) + eps;
        s += (double)dggr_pow_nu1(t, nu1, guard) * (double)t;
    }
    return s;
}

static void test_rate_loops(void) {
    const size_t N = 4099; // not a multiple of 16
    float* w = (float*)malloc(N * sizeof(float));
    float *a = (float*)malloc(N * sizeof(float)), *b = (float*)malloc(N * sizeof(float));
    const float epss[] = {1.0f, 1e-3f, 0.0f};
    const float nus[] = {0.1f, 0.55f, 1.0f, 1.21f, 2.0f, 3.0f};
    long cases = 0, differ = 0, zeros_differ = 0;
    double worst_mom = 0.0; // the shrink's moments (AVX-512) against gg_moments of the same weights
    double worst_sum = 0.0, worst_ref = 0.0; // relative error of the AVX-512 / reference rate sums against a double sum
    for (size_t len = 1; len <= N; len = len < 40 ? len + 1 : len * 3 + 7) {
        if (len > N) len = N;
        fill_weights(w, len, 1000 + len);
        for (int e = 0; e < 3; e++) {
            int guard = !(epss[e] >= FLT_MIN);
            for (int k = 0; k < 6; k++) {
                float nu1 = nus[k] - 1.0f, scale = 3e-5f * nus[k];
                for (int apply = 0; apply <= 1; apply++) {
                    // coupled: the rate gradient
                    memset(a, 0x7f, len * sizeof(float));
                    memset(b, 0x7f, len * sizeof(float));
                    float sr = dggr_rate_gradient_ref(a, w, len, epss[e], nu1, guard, scale, apply);
                    float sv = dggr_rate_gradient_avx512(b, w, len, epss[e], nu1, guard, scale, apply, w, len); // (prefetches change nothing)
                    differ += memcmp(a, b, len * sizeof(float)) != 0;
                    double exact = rate_sum_double(w, len, epss[e], nu1, guard);
                    worst_sum = fmax(worst_sum, fabs(sv - exact) / exact);
                    worst_ref = fmax(worst_ref, fabs(sr - exact) / exact);
                    cases++;
                    // decoupled and proximal: the shrink
                    for (int prox = 0; prox <= 1; prox++) {
                        memcpy(a, w, len * sizeof(float));
                        memcpy(b, w, len * sizeof(float));
                        GGMoments mr, mv;
                        sr = dggr_shrink_ref(a, len, epss[e], nu1, guard, scale, apply, prox, 1e3f, &mr);
                        sv = dggr_shrink_avx512(b, len, epss[e], nu1, guard, scale, apply, prox, 1e3f, &mv);
                        GGMoments exact_mom = gg_moments(a, len, 1e-3f);
                        worst_mom = fmax(worst_mom, fabs(mv.sum_abs - exact_mom.sum_abs) / fmax(exact_mom.sum_abs, 1e-300));
                        worst_mom = fmax(worst_mom, fabs(mv.sum_sq - exact_mom.sum_sq) / fmax(exact_mom.sum_sq, 1e-300));
                        zeros_differ += mv.zeros != exact_mom.zeros || mr.zeros != exact_mom.zeros || mv.count != (int64_t)len;
                        if (memcmp(a, b, len * sizeof(float)) != 0) {
                            if (differ++ < 5) printf("  shrink differs: len %zu eps %g nu %g apply %d proximal %d\n", len, (double)epss[e], (double)nus[k], apply, prox);
                        }
                        worst_sum = fmax(worst_sum, fabs(sv - exact) / exact);
                        worst_ref = fmax(worst_ref, fabs(sr - exact) / exact);
                        cases++;
                    }
                }
            }
        }
        if (len == N) break;
    }
    printf("dggr rate loops, AVX-512 vs reference: %ld of %ld cases differ in a bit; rate sums against a double sum: "
           "AVX-512 %.2e, reference %.2e relative\n", differ, cases, worst_sum, worst_ref);
    CHECK(differ == 0, "AVX-512 rate loops differ from the reference in %ld cases", differ);
    CHECK(worst_sum < 2e-6, "AVX-512 rate sums off by %g relative", worst_sum);
    printf("shrink moments (AVX-512) against gg_moments: sums within %.2e relative, %ld zero counts differ\n", worst_mom,
           zeros_differ);
    CHECK(worst_mom < 1e-12 && zeros_differ == 0, "shrink moments: %g relative, %ld zero counts", worst_mom, zeros_differ);
    free(w); free(a); free(b);
}
#endif

int main(void) {
    test_against_libm();
#ifdef FASTPOW_AVX512
    test_avx512_bits();
    test_rate_loops();
#else
    printf("not built for AVX-512 (no __AVX512F__): only the scalar fastpow was tested\n");
#endif
    if (failures) { printf("test_fastpow: %d FAILED\n", failures); return 1; }
    printf("test_fastpow: all passed\n");
    return 0;
}
