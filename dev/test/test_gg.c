/*
 Tests of llmc/gg.h: rho's check values, the shape solve over [0.1, 3], nu recovered
 from 1e6 synthetic GG samples, alpha, the rate gradient, the bits/param estimate
 against the empirical entropy of quantized samples (the fast power: test_fastpow.c).
 Runs in about a second.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/gg.h"
#include "../../llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

// ----------------------------------------------------------------------------
// a GG sampler: |w| = alpha * G^(1/nu), G ~ Gamma(1/nu, 1), random sign

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) { // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_uniform(void) { return ((double)(rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static double rng_normal(void) { return sqrt(-2.0 * log(rng_uniform())) * cos(2.0 * M_PI * rng_uniform()); }

// Marsaglia & Tsang (2000); shape k < 1 by Gamma(k) = Gamma(k+1) U^(1/k)
static double rng_gamma(double k) {
    if (k < 1.0) return rng_gamma(k + 1.0) * pow(rng_uniform(), 1.0 / k);
    double dd = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
    for (;;) {
        double x = rng_normal(), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = rng_uniform();
        if (log(u) < 0.5 * x * x + dd - dd * v + dd * log(v)) return dd * v;
    }
}

static double rng_gg(double nu, double alpha) {
    double a = alpha * pow(rng_gamma(1.0 / nu), 1.0 / nu);
    return (rng_next() & 1) ? a : -a;
}

// ----------------------------------------------------------------------------

static void test_rho(void) {
    CHECK(fabs(gg_rho(0.5) - 0.3) < 1e-12, "rho(0.5) = %.15f, expected 0.3", gg_rho(0.5));
    CHECK(fabs(gg_rho(1.0) - 0.5) < 1e-12, "rho(1) = %.15f, expected 0.5", gg_rho(1.0));
    CHECK(fabs(gg_rho(2.0) - 2.0 / M_PI) < 1e-12, "rho(2) = %.15f, expected 2/pi", gg_rho(2.0));
    CHECK(gg_rho(50.0) > 0.74 && gg_rho(50.0) < 0.75, "rho -> 0.75: rho(50) = %f", gg_rho(50.0));
    // increasing on the estimator's range, and the solve inverts it to 1e-9 (goal: 1e-3)
    double worst = 0.0, prev = 0.0;
    for (int i = 10; i <= 300; i++) {
        double nu = i / 100.0, r = gg_rho(nu);
        CHECK(r > prev, "rho increasing at nu = %.2f", nu);
        prev = r;
        double est = gg_shape_from_moments(sqrt(r) * 0.037, 0.037 * 0.037); // any scale
        double err = fabs(est - nu);
        if (err > worst) worst = err;
    }
    CHECK(worst < 1e-9, "shape solve: worst |nu_est - nu| over [0.1, 3] = %g", worst);
    printf("shape solve: worst error over nu in [0.10, 3.00] (step 0.01): %.2e\n", worst);
    // out of range and degenerate inputs
    CHECK(gg_shape_from_moments(1.0, 1.0) == GG_NU_MAX, "all |w| equal -> nu max");
    CHECK(gg_shape_from_moments(1e-6, 1.0) == GG_NU_MIN, "very peaked -> nu min");
    CHECK(gg_shape_from_moments(0.0, 0.0) == GG_NU_ALL_ZERO, "all zero -> fallback");
    CHECK(gg_shape_from_moments(NAN, 1.0) == GG_NU_ALL_ZERO, "NaN -> fallback");
}

// tolerance: 4.5 to 7 standard deviations of the estimate at 1e6 samples (standard deviation
// measured over 20 seeds: 0.0014 at nu = 0.5, 0.0019 at 1, 0.0024 at 1.5, 0.0056 at 2)
static void test_shape_from_samples(void) {
    const double nus[] = {0.5, 1.0, 1.5, 2.0};
    const double tol[] = {0.01, 0.012, 0.015, 0.025};
    const size_t n = 1000000;
    float* w = malloc_or_die(n * sizeof(float));
    for (int k = 0; k < 4; k++) {
        double alpha = 0.02 * (k + 1);
        for (size_t i = 0; i < n; i++) w[i] = (float)rng_gg(nus[k], alpha);
        GGMoments m = gg_moments(w, n, 1e-3f);
        double nu = gg_shape_estimate(&m);
        double sigma = sqrt(m.sum_sq / (double)n);
        double a = gg_alpha(sigma, nu);
        printf("GG samples: nu %.2f -> estimate %.4f (tolerance %.3f), alpha %.4f -> %.4f\n", nus[k], nu, tol[k], alpha, a);
        CHECK(fabs(nu - nus[k]) < tol[k], "nu %.2f estimated as %.4f", nus[k], nu);
        CHECK(fabs(a / alpha - 1.0) < 0.02, "alpha %.4f estimated as %.4f", alpha, a);
    }
    free(w);
}

static void test_alpha_rate_bits(void) {
    // alpha = sigma sqrt(Gamma(1/nu)/Gamma(3/nu)): Gaussian sqrt(2) sigma, Laplace sigma/sqrt(2)
    CHECK(fabs(gg_alpha(0.1, 2.0) - 0.1 * sqrt(2.0)) < 1e-12, "alpha nu=2");
    CHECK(fabs(gg_alpha(0.1, 1.0) - 0.1 / sqrt(2.0)) < 1e-12, "alpha nu=1");
    // the rate gradient is the derivative of the rate (central differences)
    const float w[5] = {0.3f, -0.02f, 0.0f, 1.5f, -0.7f};
    const double nus[3] = {0.5, 1.3, 2.0};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 5; i++) {
            if (w[i] == 0.0f) { CHECK(gg_rate_grad(0.0, nus[k], 0.1, 5) == 0.0, "grad at 0 is 0"); continue; }
            double h = 1e-4, nu = nus[k];
            double up = pow(fabs(w[i] + h) + 0.1, nu) / 5, dn = pow(fabs(w[i] - h) + 0.1, nu) / 5;
            double fd = (up - dn) / (2 * h), an = gg_rate_grad(w[i], nu, 0.1, 5);
            CHECK(fabs(fd - an) < 1e-6 * (1 + fabs(an)), "rate grad nu %.1f w %g: %g vs fd %g", nu, w[i], an, fd);
        }
        double r = gg_rate(w, 5, nus[k], 0.1, 5.0), ref = 0.0;
        for (int i = 0; i < 5; i++) ref += pow(fabs(w[i]) + 0.1, nus[k]);
        CHECK(fabs(r - ref / 5) < 1e-12, "rate");
    }
    // bits/param of a Gaussian under its own fit: 0.5 log2(2 pi e sigma^2) - log2(Delta)
    double sigma = 0.05, delta = 1e-3;
    double expect = 0.5 * log2(2 * M_PI * M_E * sigma * sigma) - log2(delta);
    double got = gg_bits_per_param(2.0, gg_alpha(sigma, 2.0), 0.5, delta);
    CHECK(fabs(got - expect) < 1e-9, "Gaussian bits %.6f expected %.6f", got, expect);
    // and close to the empirical entropy of quantized GG samples (Delta small against alpha)
    const double nus2[2] = {0.8, 1.5};
    for (int k = 0; k < 2; k++) {
        const size_t n = 1000000;
        float* x = malloc_or_die(n * sizeof(float));
        for (size_t i = 0; i < n; i++) x[i] = (float)rng_gg(nus2[k], 0.03);
        // histogram of q = rint(x / delta)
        const int H = 1 << 20;
        int64_t* hist = calloc_or_die((size_t)H, sizeof(int64_t));
        for (size_t i = 0; i < n; i++) {
            long q = lrintf(x[i] / (float)delta) + H / 2;
            if (q < 0) q = 0;
            if (q >= H) q = H - 1;
            hist[q]++;
        }
        double ent = 0.0;
        for (int q = 0; q < H; q++)
            if (hist[q]) { double p = (double)hist[q] / n; ent -= p * log2(p); }
        GGMoments m = gg_moments(x, n, (float)delta);
        double nu = gg_shape_estimate(&m), a = gg_alpha(sqrt(m.sum_sq / n), nu);
        double est = gg_bits_per_param(nu, a, 1.0 / nu, delta);
        printf("bits/param: GG nu %.1f alpha 0.03 Delta 1e-3: estimate %.3f, empirical entropy %.3f\n", nus2[k], est, ent);
        // the empirical entropy of 1e6 samples over ~1e3 levels is biased low by about
        // (levels used)/(2 n ln 2) bits; 0.05 bits covers it and the fit's error
        CHECK(fabs(est - ent) < 0.05, "bits estimate %.3f vs entropy %.3f", est, ent);
        free(hist);
        free(x);
    }
    CHECK(gg_bits_per_param(1.0, 1e-6, 1.0, 1e-3) == 0.0, "bits clamp at 0 when alpha << Delta");
}

int main(void) {
    test_rho();
    test_shape_from_samples();
    test_alpha_rate_bits();
    if (failures) { printf("test_gg: %d FAILED\n", failures); return 1; }
    printf("test_gg: all passed\n");
    return 0;
}
