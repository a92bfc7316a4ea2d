/*
 gg.h: generalized-Gaussian (GG) math for BackSlash (doc/backslash.md, doc/method.md 1-3).
 Scalar functions only; the pass over the parameters lives in dggr.h. Shared by the CPU
 trainer, the CUDA trainer's host code (the nu solve is a few scalar operations) and the
 codec's report.

   p(w)   = nu / (2 alpha Gamma(1/nu)) * exp(-(|w| / alpha)^nu)            (zero mean)
   alpha  = sigma * sqrt(Gamma(1/nu) / Gamma(3/nu))
   rho(nu)= Gamma(2/nu)^2 / (Gamma(1/nu) Gamma(3/nu))     Sharifi & Leon-Garcia (1995)
   nu     = rho^-1(m1^2 / m2),  m1 = mean |w|,  m2 = mean w^2
   R_eps  = (1/N) sum_i (|w_i| + eps)^nu                                   (DGGR rate)
   dR/dw  = (nu/N) sign(w) (|w| + eps)^(nu - 1)
   bits   = (1/N) sum_i (|w_i|/alpha)^nu / ln 2 + log2(2 alpha Gamma(1 + 1/nu) / Delta)

 rho is increasing in nu (rho(0.5) = 0.3, rho(1) = 0.5, rho(2) = 2/pi, rho(inf) = 0.75),
 so the shape is found by bisection on log rho computed with lgamma, to double precision
 (55 halvings of [GG_NU_MIN, GG_NU_MAX]). A ratio outside rho([GG_NU_MIN, GG_NU_MAX])
 gives the nearer end of the range, as the authors' table over [0.10, 2.99] does.

 The power inside the update pass, (|w| + eps)^(nu - 1) per weight, is llmc/fastpow.h's.
*/
#ifndef LLMC_GG_H
#define LLMC_GG_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// the range of shapes the estimator returns (the authors' table: 0.10 .. 2.99)
#define GG_NU_MIN 0.1
#define GG_NU_MAX 3.0
// the shape assumed for a set of weights that are all zero (nothing to estimate)
#define GG_NU_ALL_ZERO 2.0

// ----------------------------------------------------------------------------
// moments: sums over a set of weights, combined in a fixed order by the caller

typedef struct {
    double sum_abs; // sum |w|
    double sum_sq;  // sum w^2
    int64_t count;  // number of weights
    int64_t zeros;  // weights that quantize to 0 at the checkpoint step Delta (|w| <= Delta/2)
} GGMoments;

static inline void gg_moments_add(GGMoments* acc, const GGMoments* x) {
    acc->sum_abs += x->sum_abs;
    acc->sum_sq += x->sum_sq;
    acc->count += x->count;
    acc->zeros += x->zeros;
}

// moments of w[0..n) in one pass (double accumulation, sequential order);
// a weight counts as zero when it quantizes to 0 at step delta (quantize.h: rint(w/delta) == 0)
static inline GGMoments gg_moments(const float* w, size_t n, float delta) {
    GGMoments m = {0.0, 0.0, (int64_t)n, 0};
    float inv_delta = 1.0f / delta;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)w[i]);
        m.sum_abs += a;
        m.sum_sq += a * a;
        m.zeros += fabsf(w[i] * inv_delta) <= 0.5f;
    }
    return m;
}

// ----------------------------------------------------------------------------
// shape estimate

// log rho(nu) = 2 lgamma(2/nu) - lgamma(1/nu) - lgamma(3/nu)
static inline double gg_log_rho(double nu) {
    return 2.0 * lgamma(2.0 / nu) - lgamma(1.0 / nu) - lgamma(3.0 / nu);
}

static inline double gg_rho(double nu) { return exp(gg_log_rho(nu)); }

// solves rho(nu) = m1^2 / m2 for nu in [GG_NU_MIN, GG_NU_MAX]
static inline double gg_shape_from_moments(double m1, double m2) {
    if (!(m2 > 0.0) || !(m1 > 0.0)) return GG_NU_ALL_ZERO; // all zero (or NaN): nothing to fit
    double target = 2.0 * log(m1) - log(m2);                // log r, r in (0, 1]
    double lo = GG_NU_MIN, hi = GG_NU_MAX;
    if (target <= gg_log_rho(lo)) return lo;
    if (target >= gg_log_rho(hi)) return hi;
    for (int it = 0; it < 55; it++) {
        double mid = 0.5 * (lo + hi);
        if (gg_log_rho(mid) < target) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static inline double gg_shape_estimate(const GGMoments* m) {
    if (m->count <= 0) return GG_NU_ALL_ZERO;
    return gg_shape_from_moments(m->sum_abs / (double)m->count, m->sum_sq / (double)m->count);
}

// scale alpha of the GG with standard deviation sigma and shape nu
static inline double gg_alpha(double sigma, double nu) {
    return sigma * exp(0.5 * (lgamma(1.0 / nu) - lgamma(3.0 / nu)));
}

// ----------------------------------------------------------------------------
// rate and bits

// R_eps = (1/N) sum (|w|+eps)^nu over w[0..n), N given (the size of the constrained set);
// the reference (plain libm) version, used by tests and for one-off reports
static inline double gg_rate(const float* w, size_t n, double nu, double eps, double N) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += pow(fabs((double)w[i]) + eps, nu);
    return s / N;
}

// dR/dw for one weight: (nu/N) sign(w) (|w|+eps)^(nu-1); sign(0) = 0
static inline double gg_rate_grad(double w, double nu, double eps, double N) {
    if (w == 0.0) return 0.0;
    double g = nu / N * pow(fabs(w) + eps, nu - 1.0);
    return w > 0.0 ? g : -g;
}

// bits/param of weights quantized with step delta under the GG(nu, alpha) model,
// -(1/N) sum log2(delta p(w_i)), given mean_pow = (1/N) sum (|w_i|/alpha)^nu.
// Under the fitted model mean_pow = 1/nu (its expectation), which gives the differential
// entropy of the fit minus log2(delta). Clamped at 0: when alpha << delta nearly every
// weight quantizes to zero and the continuous approximation no longer holds.
static inline double gg_bits_per_param(double nu, double alpha, double mean_pow, double delta) {
    if (!(alpha > 0.0)) return 0.0;
    double bits = mean_pow / M_LN2 + (M_LN2 + log(alpha) + lgamma(1.0 + 1.0 / nu) - log(delta)) / M_LN2;
    return bits > 0.0 ? bits : 0.0;
}

#endif // LLMC_GG_H
