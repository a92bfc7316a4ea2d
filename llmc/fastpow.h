/*
 fastpow.h: x^y for the BackSlash update pass, which needs (|w| + eps)^(nu - 1) for every
 constrained weight in every step (llmc/dggr.h). glibc's powf does not vectorize, so the
 power is exp2(y log2 x) with polynomials, in two versions that return the same bits:

   fastpow(x, y)             scalar, the reference (gcc vectorizes loops that call it)
   fastpow_avx512(x, y)      16 lanes with AVX-512F intrinsics (only where __AVX512F__ is
                             defined: -march=native on this project's machine)

 Method, for x a positive normal float (x >= FLT_MIN), with only integer operations,
 fused multiply-adds and one multiply, so that both versions round identically:
   log2 x = k + log2(1 + f),  x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)): k and 1 + f
            come from the bits of x (subtract the bits of sqrt(1/2), shift the exponent out);
            log2(1 + f) = f P(f), P of degree 7 (|error| < 4.9e-8 on f in [-0.293, 0.414])
   2^u    = 2^n Q(r),  n = rint(u), r = u - n in [-1/2, 1/2]; Q of degree 5 with Q(0) = 1
            (relative error < 9.2e-8), times 2^n (exponent bits; AVX-512: vscalefps, the
            same single rounding); u = y log2 x is clamped to
            [-126, 127], so a result below 2^-126 comes out as 2^-126, never 0 or Inf.
 The coefficients are minimax fits (Lawson's iteration on 4000 Chebyshev points, rounded to
 float; dev/bench/fastpow_fit.py): for P the absolute error of f P(f), which is what the
 power's relative error sees; for Q the relative error, with Q(0) = 1 held fixed.
 Measured over the inputs the pass sees (test_fastpow.c, y = nu - 1 for nu in [0.1, 3]),
 the largest relative error of x^y against libm's double pow is 3.5e-7 for x in [0.5, 4]
 (eps = 1, the default, gives x in [1, 2)), 1.4e-6 for x in [1e-3, 0.5] and 2.6e-6 for
 x in [2^-20, 1e-3]: the float rounding of u = y log2 x alone is up to 2^-24 |u| ln 2 in
 relative terms, so the error grows with |log2 x| (tiny eps).

 Every product that feeds a sum is an explicit fmaf, so the compiler has no contraction
 left to choose, and the scalar and AVX-512 versions agree bit for bit (test_fastpow.c
 checks 113 M floats in [FLT_MIN, 64] at 13 exponents).
*/
#ifndef LLMC_FASTPOW_H
#define LLMC_FASTPOW_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) && !defined(__CUDACC__) && !defined(FASTPOW_NO_AVX512)
#include <immintrin.h>
#define FASTPOW_AVX512 1
#endif

// the bits of sqrt(1/2) rounded to float: the reduction's lower end
#define FASTPOW_SQRT_HALF_BITS 0x3f3504f3u

// log2(1 + f) / f, degree 7, f in [-0.2929, 0.4142]
#define FASTPOW_P0 1.4426947832107544f
#define FASTPOW_P1 -0.72135716676712036f
#define FASTPOW_P2 0.48093944787979126f
#define FASTPOW_P3 -0.36008721590042114f
#define FASTPOW_P4 0.28670746088027954f
#define FASTPOW_P5 -0.25006908178329468f
#define FASTPOW_P6 0.23689046502113342f
#define FASTPOW_P7 -0.14574445784091949f
// 2^r, degree 5, r in [-1/2, 1/2]
#define FASTPOW_Q0 1.0f // exactly: 2^0 = 1, so x^0 = 1 and 1^y = 1
#define FASTPOW_Q1 0.69314700365066528f
#define FASTPOW_Q2 0.24022242426872253f
#define FASTPOW_Q3 0.055507335811853409f
#define FASTPOW_Q4 0.0096715129911899567f
#define FASTPOW_Q5 0.0013264727313071489f

// log2 x for a positive normal float x
static inline float fastpow_log2(float x) {
    uint32_t ix;
    memcpy(&ix, &x, 4);
    uint32_t tmp = ix - FASTPOW_SQRT_HALF_BITS;
    int32_t k = (int32_t)tmp >> 23;              // x = 2^k z, z in [sqrt(1/2), sqrt(2))
    uint32_t iz = ix - (tmp & 0xff800000u);
    float z;
    memcpy(&z, &iz, 4);
    float f = z - 1.0f; // exact (Sterbenz)
    float p = FASTPOW_P7;
    p = fmaf(p, f, FASTPOW_P6);
    p = fmaf(p, f, FASTPOW_P5);
    p = fmaf(p, f, FASTPOW_P4);
    p = fmaf(p, f, FASTPOW_P3);
    p = fmaf(p, f, FASTPOW_P2);
    p = fmaf(p, f, FASTPOW_P1);
    p = fmaf(p, f, FASTPOW_P0);
    return fmaf(f, p, (float)k);
}

// 2^u, u clamped to [-126, 127]
static inline float fastpow_exp2(float u) {
    u = u < -126.0f ? -126.0f : u;
    u = u > 127.0f ? 127.0f : u;
    float n = rintf(u);
    float r = u - n; // exact
    float q = FASTPOW_Q5;
    q = fmaf(q, r, FASTPOW_Q4);
    q = fmaf(q, r, FASTPOW_Q3);
    q = fmaf(q, r, FASTPOW_Q2);
    q = fmaf(q, r, FASTPOW_Q1);
    q = fmaf(q, r, FASTPOW_Q0);
    uint32_t scale_bits = (uint32_t)((int32_t)n + 127) << 23; // 2^n, n in [-126, 127]
    float scale;
    memcpy(&scale, &scale_bits, 4);
    return q * scale;
}

// x^y for a positive normal float x
static inline float fastpow(float x, float y) { return fastpow_exp2(y * fastpow_log2(x)); }

#ifdef FASTPOW_AVX512
// the same operations as fastpow_log2 / fastpow_exp2, 16 lanes
static inline __m512 fastpow_log2_avx512(__m512 x) {
    __m512i ix = _mm512_castps_si512(x);
    __m512i tmp = _mm512_sub_epi32(ix, _mm512_set1_epi32((int)FASTPOW_SQRT_HALF_BITS));
    __m512i k = _mm512_srai_epi32(tmp, 23);
    __m512i iz = _mm512_sub_epi32(ix, _mm512_and_si512(tmp, _mm512_set1_epi32((int)0xff800000u)));
    __m512 f = _mm512_sub_ps(_mm512_castsi512_ps(iz), _mm512_set1_ps(1.0f));
    __m512 p = _mm512_set1_ps(FASTPOW_P7);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P6));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(FASTPOW_P0));
    return _mm512_fmadd_ps(f, p, _mm512_cvtepi32_ps(k));
}

static inline __m512 fastpow_exp2_avx512(__m512 u) {
    // operands in this order, so that a NaN passes through as in the scalar ternaries
    u = _mm512_max_ps(_mm512_set1_ps(-126.0f), u);
    u = _mm512_min_ps(_mm512_set1_ps(127.0f), u);
    __m512 n = _mm512_roundscale_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(u, n);
    __m512 q = _mm512_set1_ps(FASTPOW_Q5);
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(FASTPOW_Q4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(FASTPOW_Q3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(FASTPOW_Q2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(FASTPOW_Q1));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(FASTPOW_Q0));
    // q 2^n in one rounding, as the scalar q * scale (2^n is a normal float for n in [-126, 127])
    return _mm512_scalef_ps(q, n);
}

static inline __m512 fastpow_avx512(__m512 x, __m512 y) { return fastpow_exp2_avx512(_mm512_mul_ps(y, fastpow_log2_avx512(x))); }
#endif

#endif // LLMC_FASTPOW_H
