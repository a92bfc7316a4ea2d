/*
 dggr.h: the BackSlash update, AdamW with the DGGR rate term fused in (doc/backslash.md).

 Training minimises L = D(W) + lambda * R(W) with the rate (doc/method.md section 3)

   R(W)   = (1/N) sum_{i in S} (|w_i| + eps)^nu_i       S: the constrained weights, N = |S|
   dR/dwi = (nu_i/N) sign(w_i) (|w_i| + eps)^(nu_i - 1)

 where nu_i is one shape for all of S (the paper), the shape of w_i's tensor, or a fixed
 value (0.5, 1 = L1, 2 = L2: the paper's ablation). N is always the size of the whole
 constrained set, so lambda means the same in every shape mode.

 One pass over the parameters, chunk by chunk, per weight:
   coupled (the paper):    g += lambda dR/dw;  AdamW(w, g, m, v)
   decoupled (the authors' code): AdamW(w, g, m, v);  w -= lambda dR/dw at the new w
                           (a separate shrink, not scaled by the learning rate)
   proximal:               as decoupled, but the shrink stops at zero:
                           w = sign(w) max(|w| - lambda |dR/dw|, 0)  (exact zeros)
 and it accumulates, of the NEW weights, sum |w|, sum w^2 and the number that quantize to
 zero at the checkpoint step, so that the next step's nu costs no pass of its own, plus
 sum (|w|+eps)^nu (the rate, for the log) which comes free with the gradient.

 Determinism: the parameters are cut into fixed chunks (DGGR_CHUNK floats, never across a
 tensor boundary); each chunk's sums are written to its own slot and the slots are added
 in chunk order after the pass, so the result does not depend on the number of threads
 or on scheduling, and a resumed run (the moments are saved, dggr_state_write) continues
 bit for bit. With lambda = 0 (or after the schedule ends) w, m, v are exactly those of
 plain AdamW (adamw_update in llmc/adamw.h; test_dggr.c checks it bit for bit).
*/
#ifndef LLMC_DGGR_H
#define LLMC_DGGR_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastpow.h"
#include "gg.h"
#include "gpt2_params.h"
#include "quantize.h"
#include "utils.h"

// the headers are also compiled as C++ (the CUDA trainer's host code), where restrict is spelt differently
#ifdef __cplusplus
#define DGGR_RESTRICT __restrict__
#else
#define DGGR_RESTRICT restrict
#endif

// ----------------------------------------------------------------------------
// AdamW, one element, with the float operations of adamw_update (llmc/adamw.h) in the
// same order, so that the lambda = 0 path reproduces it bit for bit (test_dggr.c)

typedef struct {
    float lr, beta1, beta2, eps;
    float bias1, bias2;  // 1 - beta1^t, 1 - beta2^t
    float grad_scale;    // the clipping factor
} DGGRAdamWStep;

static inline DGGRAdamWStep dggr_adamw_constants(float lr, float beta1, float beta2, float eps, float grad_scale, int t) {
    DGGRAdamWStep a = {lr, beta1, beta2, eps, 1.0f - powf(beta1, (float)t), 1.0f - powf(beta2, (float)t), grad_scale};
    return a;
}

// g: the gradient already scaled (and, coupled, with the rate gradient added)
static inline float dggr_adamw_element(float w, float g, float* m, float* v, const DGGRAdamWStep* a, float weight_decay) {
    float mi = a->beta1 * *m + (1.0f - a->beta1) * g;
    float vi = a->beta2 * *v + (1.0f - a->beta2) * g * g;
    float mhat = mi / a->bias1;
    float vhat = vi / a->bias2;
    *m = mi;
    *v = vi;
    return w - a->lr * (mhat / (sqrtf(vhat) + a->eps) + weight_decay * w);
}

typedef enum { DGGR_COUPLED = 0, DGGR_DECOUPLED = 1, DGGR_PROXIMAL = 2 } DGGRVariant;
typedef enum { DGGR_SHAPE_GLOBAL = 0, DGGR_SHAPE_TENSOR = 1, DGGR_SHAPE_FIXED = 2 } DGGRShapeMode;

typedef struct {
    float lambda;       // Lagrange multiplier of the rate; 0 = plain AdamW
    float eps;          // soft gradient clipping: (|w| + eps)^nu
    int variant;        // DGGRVariant
    int shape_mode;     // DGGRShapeMode
    float fixed_nu;     // the shape in DGGR_SHAPE_FIXED mode
    int constrain_all;  // 0: weight matrices and embeddings (gpt2_param_is_matrix); 1: every parameter
    int schedule_steps; // > 0: BackSlash for steps 1..K, plain AdamW after; 0: throughout
    float delta;        // checkpoint quantization step (zero fraction and bits/param columns)
} DGGRConfig;

// defaults (doc/backslash.md says how they were chosen)
#define DGGR_DEFAULT_EPS 1.0f
#define DGGR_DEFAULT_VARIANT DGGR_COUPLED

static inline DGGRConfig dggr_config_default(void) {
    DGGRConfig c;
    memset(&c, 0, sizeof(c));
    c.lambda = 0.0f;
    c.eps = DGGR_DEFAULT_EPS;
    c.variant = DGGR_DEFAULT_VARIANT;
    c.shape_mode = DGGR_SHAPE_GLOBAL;
    c.fixed_nu = 1.0f;
    c.constrain_all = 0;
    c.schedule_steps = 0;
    c.delta = QUANTIZE_DEFAULT_DELTA;
    return c;
}

static inline int dggr_config_validate(const DGGRConfig* c) {
    if (!(c->lambda >= 0.0f) || !isfinite(c->lambda))
        return bs_error_set(BS_EINVAL, "dggr: lambda %g must be finite and >= 0", (double)c->lambda);
    if (!(c->eps >= 0.0f) || !(c->eps <= 1e3f))
        return bs_error_set(BS_EINVAL, "dggr: eps %g must be in [0, 1000]", (double)c->eps);
    if (c->variant != DGGR_COUPLED && c->variant != DGGR_DECOUPLED && c->variant != DGGR_PROXIMAL)
        return bs_error_set(BS_EINVAL, "dggr: unknown variant %d", c->variant);
    if (c->shape_mode < DGGR_SHAPE_GLOBAL || c->shape_mode > DGGR_SHAPE_FIXED)
        return bs_error_set(BS_EINVAL, "dggr: unknown shape mode %d", c->shape_mode);
    if (c->shape_mode == DGGR_SHAPE_FIXED && !(c->fixed_nu >= 0.05f && c->fixed_nu <= 4.0f))
        return bs_error_set(BS_EINVAL, "dggr: fixed nu %g must be in [0.05, 4]", (double)c->fixed_nu);
    if (c->schedule_steps < 0) return bs_error_set(BS_EINVAL, "dggr: schedule steps %d must be >= 0", c->schedule_steps);
    if (!(c->delta > 0.0f) || !isfinite(c->delta))
        return bs_error_set(BS_EINVAL, "dggr: delta %g must be finite and > 0", (double)c->delta);
    return BS_OK;
}

// the command line's words for the modes: variant "coupled" | "decoupled" | "proximal", shape
// "global" | "tensor" | "fixed:<nu>", constrained set "matrices" | "all"; NULL keeps the
// current value. Errors name the flag (given in flag_*) and the bad value.
static inline int dggr_config_parse(DGGRConfig* c, const char* variant, const char* shape, const char* set,
                                    const char* flag_variant, const char* flag_shape, const char* flag_set) {
    if (variant != NULL) {
        if (strcmp(variant, "coupled") == 0) c->variant = DGGR_COUPLED;
        else if (strcmp(variant, "decoupled") == 0) c->variant = DGGR_DECOUPLED;
        else if (strcmp(variant, "proximal") == 0) c->variant = DGGR_PROXIMAL;
        else return bs_error_set(BS_EINVAL, "flag %s: \"%s\" is not coupled, decoupled or proximal", flag_variant, variant);
    }
    if (shape != NULL) {
        if (strcmp(shape, "global") == 0) c->shape_mode = DGGR_SHAPE_GLOBAL;
        else if (strcmp(shape, "tensor") == 0) c->shape_mode = DGGR_SHAPE_TENSOR;
        else if (strncmp(shape, "fixed:", 6) == 0) {
            double nu;
            if (!parse_float(shape + 6, 0.05, 4.0, &nu))
                return bs_error_set(BS_EINVAL, "flag %s: \"%s\": the fixed shape must be a number in [0.05, 4]", flag_shape, shape);
            c->shape_mode = DGGR_SHAPE_FIXED;
            c->fixed_nu = (float)nu;
        } else
            return bs_error_set(BS_EINVAL, "flag %s: \"%s\" is not global, tensor or fixed:<nu>", flag_shape, shape);
    }
    if (set != NULL) {
        if (strcmp(set, "matrices") == 0) c->constrain_all = 0;
        else if (strcmp(set, "all") == 0) c->constrain_all = 1;
        else return bs_error_set(BS_EINVAL, "flag %s: \"%s\" is not matrices or all", flag_set, set);
    }
    return dggr_config_validate(c);
}

// one line saying what the rate term does, for the trainer's banner
static inline void dggr_config_describe(const DGGRConfig* c, char* out, size_t n) {
    if (c->lambda == 0.0f) {
        snprintf(out, n, "BackSlash OFF (lambda 0: plain AdamW; rate, nu and zero fraction are still logged)");
        return;
    }
    char shape[32], sched[48];
    if (c->shape_mode == DGGR_SHAPE_FIXED) snprintf(shape, sizeof(shape), "fixed nu %g", (double)c->fixed_nu);
    else snprintf(shape, sizeof(shape), "%s nu", c->shape_mode == DGGR_SHAPE_GLOBAL ? "global" : "per-tensor");
    if (c->schedule_steps > 0) snprintf(sched, sizeof(sched), "steps 1..%d, then plain AdamW", c->schedule_steps);
    else snprintf(sched, sizeof(sched), "throughout");
    snprintf(out, n, "BackSlash ON: lambda %g, %s, %s (estimated every step), eps %g, %s, %s; zeros at Delta %g",
             (double)c->lambda,
             c->variant == DGGR_COUPLED ? "coupled" : c->variant == DGGR_DECOUPLED ? "decoupled" : "proximal", shape, (double)c->eps,
             c->constrain_all ? "all parameters" : "weight matrices + embeddings", sched, (double)c->delta);
}

// ----------------------------------------------------------------------------
// the state: a table of tensors (segments of the flat parameter array) and their moments

#define DGGR_CHUNK 16384 // floats per chunk of the pass (fixed: the sums' order depends on it)

typedef struct {
    size_t offset, numel; // in floats, within the flat parameter array
    int constrained;      // in S: the rate applies
    int decay;            // AdamW's weight decay applies (GPT-2: weight matrices and embeddings)
    double nu;            // shape this tensor's weights use in the next step
    GGMoments mom;        // moments of the current weights (updated by every pass)
    double rate_sum;      // sum (|w|+eps)^nu in the last pass (0 if the rate was not computed)
} DGGRSegment;

typedef struct {
    size_t offset, numel;
    int segment;
} DGGRChunk;

typedef struct {
    GGMoments mom;
    double rate_sum;
} DGGRChunkSums;

typedef struct {
    DGGRConfig cfg;
    int num_segments;
    DGGRSegment* seg;
    int num_chunks;
    DGGRChunk* chunk;
    DGGRChunkSums* sums; // one slot per chunk
    size_t num_params;
    size_t num_constrained; // N
    // the global picture of the constrained set, after the last pass (or dggr_measure)
    GGMoments mom;      // moments of the current constrained weights
    double nu;          // estimated shape (global fit; the shape the update uses in global mode)
    double alpha;       // GG scale of the fit
    double rate;        // R of the last pass (see dggr_step), at the shapes it used
    double zero_frac;   // fraction of the constrained weights that quantize to zero at delta
    double bits_per_param; // gg_bits_per_param of the fit at delta
    int rate_active;    // whether the last pass applied the rate (lambda > 0 and inside the schedule)
} DGGR;

static inline void dggr_free(DGGR* d) {
    free(d->seg);
    free(d->chunk);
    free(d->sums);
    memset(d, 0, sizeof(*d));
}

// sets up the state over `num_segments` tensors given by (offset, numel, constrained);
// the nu fields are filled by dggr_measure or dggr_state_read
static inline int dggr_init(DGGR* d, const DGGRConfig* cfg, const DGGRSegment* segments, int num_segments) {
    memset(d, 0, sizeof(*d));
    int rc = dggr_config_validate(cfg);
    if (rc != BS_OK) return rc;
    if (num_segments < 1) return bs_error_set(BS_EINVAL, "dggr: no tensors");
    d->cfg = *cfg;
    d->num_segments = num_segments;
    d->seg = (DGGRSegment*)calloc((size_t)num_segments, sizeof(DGGRSegment));
    if (d->seg == NULL) return bs_error_set(BS_ENOMEM, "dggr: out of memory");
    size_t chunks = 0, expect = 0;
    for (int s = 0; s < num_segments; s++) {
        d->seg[s] = segments[s];
        d->seg[s].constrained = segments[s].constrained || cfg->constrain_all;
        if (segments[s].offset != expect) {
            dggr_free(d);
            return bs_error_set(BS_EINVAL, "dggr: tensor %d starts at %zu, expected %zu (tensors must tile the array)",
                                s, segments[s].offset, expect);
        }
        expect += segments[s].numel;
        chunks += (segments[s].numel + DGGR_CHUNK - 1) / DGGR_CHUNK;
        if (d->seg[s].constrained) d->num_constrained += segments[s].numel;
    }
    d->num_params = expect;
    if (chunks > INT32_MAX) { dggr_free(d); return bs_error_set(BS_ELIMIT, "dggr: too many chunks"); }
    d->num_chunks = (int)chunks;
    d->chunk = (DGGRChunk*)malloc(chunks * sizeof(DGGRChunk) + 1);
    d->sums = (DGGRChunkSums*)calloc(chunks + 1, sizeof(DGGRChunkSums));
    if (d->chunk == NULL || d->sums == NULL) { dggr_free(d); return bs_error_set(BS_ENOMEM, "dggr: out of memory"); }
    int c = 0;
    for (int s = 0; s < num_segments; s++) {
        for (size_t off = 0; off < d->seg[s].numel; off += DGGR_CHUNK) {
            size_t n = d->seg[s].numel - off;
            d->chunk[c].offset = d->seg[s].offset + off;
            d->chunk[c].numel = n < DGGR_CHUNK ? n : DGGR_CHUNK;
            d->chunk[c].segment = s;
            c++;
        }
    }
    return BS_OK;
}

// the GPT-2 tensor table (logical tensors, "h3.qkvw") as segments: matrices and
// embeddings constrained, or everything with cfg->constrain_all
static inline int dggr_init_gpt2(DGGR* d, const DGGRConfig* cfg, const GPT2Config* model) {
    int n = gpt2_num_tensors(model);
    GPT2Tensor* t = (GPT2Tensor*)malloc((size_t)n * sizeof(GPT2Tensor));
    DGGRSegment* s = (DGGRSegment*)calloc((size_t)n, sizeof(DGGRSegment));
    if (t == NULL || s == NULL) { free(t); free(s); return bs_error_set(BS_ENOMEM, "dggr: out of memory"); }
    gpt2_tensor_table(model, t);
    for (int i = 0; i < n; i++) {
        s[i].offset = t[i].offset;
        s[i].numel = t[i].numel;
        s[i].constrained = gpt2_param_is_matrix(t[i].group);
        s[i].decay = gpt2_param_is_matrix(t[i].group); // as gpt2_adamw_step (llmc/gpt2_cpu.h)
    }
    int rc = dggr_init(d, cfg, s, n);
    free(t);
    free(s);
    return rc;
}

// whether step t (1-based, as AdamW's t) applies the rate
static inline int dggr_rate_active(const DGGR* d, int t) {
    return d->cfg.lambda > 0.0f && (d->cfg.schedule_steps == 0 || t <= d->cfg.schedule_steps);
}

// from the segments' moments: the global fit, the shape each segment uses next, the
// zero fraction and the bits/param estimate
static inline void dggr_refresh_shape(DGGR* d) {
    GGMoments all = {0.0, 0.0, 0, 0};
    for (int s = 0; s < d->num_segments; s++)
        if (d->seg[s].constrained) gg_moments_add(&all, &d->seg[s].mom);
    d->mom = all;
    d->nu = gg_shape_estimate(&all);
    double sigma = all.count > 0 ? sqrt(all.sum_sq / (double)all.count) : 0.0;
    d->alpha = gg_alpha(sigma, d->nu);
    d->zero_frac = all.count > 0 ? (double)all.zeros / (double)all.count : 0.0;
    d->bits_per_param = gg_bits_per_param(d->nu, d->alpha, 1.0 / d->nu, d->cfg.delta);
    for (int s = 0; s < d->num_segments; s++) {
        DGGRSegment* g = &d->seg[s];
        if (d->cfg.shape_mode == DGGR_SHAPE_FIXED) g->nu = d->cfg.fixed_nu;
        else if (d->cfg.shape_mode == DGGR_SHAPE_TENSOR) g->nu = gg_shape_estimate(&g->mom);
        else g->nu = d->nu;
    }
}

// adds the chunk slots into the segments, in chunk order
static inline void dggr_reduce_chunks(DGGR* d, int with_rate) {
    for (int s = 0; s < d->num_segments; s++) {
        memset(&d->seg[s].mom, 0, sizeof(GGMoments));
        d->seg[s].rate_sum = 0.0;
    }
    for (int c = 0; c < d->num_chunks; c++) {
        DGGRSegment* g = &d->seg[d->chunk[c].segment];
        gg_moments_add(&g->mom, &d->sums[c].mom);
        g->rate_sum += d->sums[c].rate_sum;
    }
    double rate = 0.0;
    for (int s = 0; s < d->num_segments; s++)
        if (d->seg[s].constrained) rate += d->seg[s].rate_sum;
    d->rate = (with_rate && d->num_constrained > 0) ? rate / (double)d->num_constrained : 0.0;
    dggr_refresh_shape(d);
}

// moments of the given weights (at the start of training, or of loaded weights when no
// saved state exists), then the shapes for the first step
static inline void dggr_measure(DGGR* d, const float* params) {
    float inv_delta = 1.0f / d->cfg.delta;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < d->num_chunks; c++) {
        const float* w = params + d->chunk[c].offset;
        size_t n = d->chunk[c].numel;
        double sa = 0.0, ss = 0.0;
        int64_t zc = 0;
#pragma omp simd reduction(+ : sa, ss, zc)
        for (size_t i = 0; i < n; i++) {
            double a = fabs((double)w[i]);
            sa += a;
            ss += a * a;
            zc += fabsf(w[i] * inv_delta) <= 0.5f;
        }
        d->sums[c].mom.sum_abs = sa;
        d->sums[c].mom.sum_sq = ss;
        d->sums[c].mom.count = (int64_t)n;
        d->sums[c].mom.zeros = zc;
        d->sums[c].rate_sum = 0.0;
    }
    dggr_reduce_chunks(d, 0);
}

// ----------------------------------------------------------------------------
// the pass

// (|w| + eps)^(nu-1) for the rate gradient (fastpow, llmc/fastpow.h). With eps >= FLT_MIN
// (guard = 0) the base is a normal number; with a smaller eps (guard = 1) a base below
// FLT_MIN is lifted into the normal range first (fastpow needs one) and a base of 0 gives
// 0 (then sign(w) = 0 too). Written with arithmetic masks: gcc does not if-convert the
// ternaries here. The reference for dggr_powers.
static inline float dggr_pow_nu1(float t, float nu_minus_1, int guard) {
    if (!guard) return fastpow(t, nu_minus_1);
    float tn = t + (float)(t < FLT_MIN) * FLT_MIN;
    return fastpow(tn, nu_minus_1) * (float)(t > 0.0f);
}

static inline float dggr_sign(float w) { return (float)((w > 0.0f) - (w < 0.0f)); }

/*
 The two rate loops of a chunk, each in two versions: the reference (plain C, which gcc
 vectorizes) and an AVX-512 one (16 weights at a time, where the compiler targets AVX-512F),
 which the pass uses when it exists. Both compute the same weights and rate gradients bit
 for bit: every product that meets a sum is an explicit fma in both (test_dggr.c checks
 it). The rate sum, a float sum for the log, is added in a different order (16 lanes, two
 accumulators), fixed for a given build.

   dggr_rate_gradient: r[i] = scale sign(w_i) p_i (0 where !apply), p_i = (|w_i|+eps)^(nu-1)
   dggr_shrink:        w_i -= scale sign(w_i) p_i (decoupled), or, proximal,
                       w_i = sign(w_i) max(|w_i| - scale p_i, 0)  (nothing where !apply),
                       and the moments of the new weights (sum |w|, sum w^2 in double,
                       the zeros at delta), added in the same pass
 both return sum_i p_i (|w_i| + eps) = sum (|w_i|+eps)^nu, at the weights they were given.
*/
static inline float dggr_rate_gradient_ref(float* DGGR_RESTRICT r, const float* DGGR_RESTRICT w, size_t n, float eps,
                                           float nu1, int guard, float scale, int apply) {
    float rs = 0.0f;
#pragma omp simd reduction(+ : rs)
    for (size_t i = 0; i < n; i++) {
        float wi = w[i];
        float t = fabsf(wi) + eps;
        float p = dggr_pow_nu1(t, nu1, guard);
        rs += p * t;
        r[i] = apply ? (scale * dggr_sign(wi)) * p : 0.0f;
    }
    return rs;
}

static inline float dggr_shrink_ref(float* DGGR_RESTRICT w, size_t n, float eps, float nu1, int guard, float scale,
                                    int apply, int proximal, float inv_delta, GGMoments* DGGR_RESTRICT mom) {
    float rs = 0.0f;
    double sa = 0.0, ss = 0.0;
    int64_t zc = 0;
#pragma omp simd reduction(+ : rs, sa, ss, zc)
    for (size_t i = 0; i < n; i++) {
        float wi = w[i];
        float t = fabsf(wi) + eps;
        float p = dggr_pow_nu1(t, nu1, guard);
        rs += p * t;
        if (apply && proximal) { // stop at zero (masks, as above)
            float left = fmaf(-scale, p, fabsf(wi));
            wi = copysignf(left * (float)(left > 0.0f), wi);
        } else if (apply) {
            wi = fmaf(-(scale * dggr_sign(wi)), p, wi);
        }
        w[i] = wi;
        double aw = fabs((double)wi);
        sa += aw;
        ss += aw * aw;
        zc += fabsf(wi * inv_delta) <= 0.5f;
    }
    mom->sum_abs = sa;
    mom->sum_sq = ss;
    mom->count = (int64_t)n;
    mom->zeros = zc;
    return rs;
}

// how far ahead (floats) the AVX-512 rate gradient loop prefetches the weights it reads:
// coupled, that loop is the first to touch a chunk's weights, and without it waits on memory
// (on this project's machine the loop then ran about 4 times slower than on weights in cache)
#define DGGR_PREFETCH_AHEAD 1024

#ifdef FASTPOW_AVX512
// lanes [0, n) of 16, n <= 16
static inline __mmask16 dggr_lanes(size_t n) { return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u); }

// dggr_pow_nu1 of t, 16 lanes
static inline __m512 dggr_pow_nu1_avx512(__m512 t, __m512 nu1, int guard) {
    if (!guard) return fastpow_avx512(t, nu1);
    const __m512 lift = _mm512_set1_ps(FLT_MIN);
    __m512 tn = _mm512_add_ps(t, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, lift, _CMP_LT_OQ), lift));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_GT_OQ), fastpow_avx512(tn, nu1));
}

// scale sign(w): scale with w's sign bit, 0 where w is +-0
static inline __m512 dggr_signed_scale_avx512(__m512 w, __m512 scale) {
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(w), _mm512_set1_epi32((int)0x80000000u));
    __m512 s = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(scale), sign));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_NEQ_OQ), s);
}

// next_w, next_n: the next chunk's weights (prefetched at the end of this one; NULL, 0: none)
static inline float dggr_rate_gradient_avx512(float* DGGR_RESTRICT r, const float* DGGR_RESTRICT w, size_t n, float eps,
                                              float nu1, int guard, float scale, int apply, const float* next_w,
                                              size_t next_n) {
    const __m512 e = _mm512_set1_ps(eps), y = _mm512_set1_ps(nu1), sc = _mm512_set1_ps(scale);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}; // two chains: the adds' latency
    for (size_t i = 0, k = 0; i < n; i += 16, k ^= 1) {
        size_t ahead = i + DGGR_PREFETCH_AHEAD; // one cache line per iteration
        if (ahead < n) _mm_prefetch((const char*)(w + ahead), _MM_HINT_T0);
        else if (ahead - n < next_n) _mm_prefetch((const char*)(next_w + (ahead - n)), _MM_HINT_T0);
        __mmask16 lanes = dggr_lanes(n - i);
        __m512 wi = _mm512_maskz_loadu_ps(lanes, w + i);
        __m512 t = _mm512_add_ps(_mm512_abs_ps(wi), e);
        __m512 p = _mm512_maskz_mov_ps(lanes, dggr_pow_nu1_avx512(t, y, guard));
        acc[k] = _mm512_fmadd_ps(p, t, acc[k]);
        __m512 ri = apply ? _mm512_mul_ps(dggr_signed_scale_avx512(wi, sc), p) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(r + i, lanes, ri);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
}

static inline float dggr_shrink_avx512(float* DGGR_RESTRICT w, size_t n, float eps, float nu1, int guard, float scale,
                                       int apply, int proximal, float inv_delta, GGMoments* DGGR_RESTRICT mom) {
    const __m512 e = _mm512_set1_ps(eps), y = _mm512_set1_ps(nu1), sc = _mm512_set1_ps(scale);
    const __m512 inv_d = _mm512_set1_ps(inv_delta), half = _mm512_set1_ps(0.5f);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512d sa[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, ss[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    int64_t zc = 0;
    for (size_t i = 0, k = 0; i < n; i += 16, k ^= 1) {
        __mmask16 lanes = dggr_lanes(n - i);
        __m512 wi = _mm512_maskz_loadu_ps(lanes, w + i); // 0 in the lanes past n: they add 0 below
        __m512 aw = _mm512_abs_ps(wi);
        __m512 t = _mm512_add_ps(aw, e);
        __m512 p = _mm512_maskz_mov_ps(lanes, dggr_pow_nu1_avx512(t, y, guard));
        acc[k] = _mm512_fmadd_ps(p, t, acc[k]);
        if (apply && proximal) {
            __m512 left = _mm512_fnmadd_ps(sc, p, aw);
            left = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(left, _mm512_setzero_ps(), _CMP_GT_OQ), left);
            __m512i sign = _mm512_and_si512(_mm512_castps_si512(wi), _mm512_set1_epi32((int)0x80000000u));
            wi = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(left), sign));
        } else if (apply) {
            wi = _mm512_fnmadd_ps(dggr_signed_scale_avx512(wi, sc), p, wi);
        }
        if (apply) _mm512_mask_storeu_ps(w + i, lanes, wi);
        // the moments of the new weights, in double (as the reference)
        __m512 anew = _mm512_abs_ps(wi);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(anew));
        __m512d hi = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(anew), 1)));
        sa[0] = _mm512_add_pd(sa[0], lo);
        sa[1] = _mm512_add_pd(sa[1], hi);
        ss[0] = _mm512_fmadd_pd(lo, lo, ss[0]);
        ss[1] = _mm512_fmadd_pd(hi, hi, ss[1]);
        __mmask16 zero = _mm512_mask_cmp_ps_mask(lanes, _mm512_abs_ps(_mm512_mul_ps(wi, inv_d)), half, _CMP_LE_OQ);
        zc += __builtin_popcount((unsigned)zero);
    }
    mom->sum_abs = _mm512_reduce_add_pd(_mm512_add_pd(sa[0], sa[1]));
    mom->sum_sq = _mm512_reduce_add_pd(_mm512_add_pd(ss[0], ss[1]));
    mom->count = (int64_t)n;
    mom->zeros = zc;
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
}
#endif

// the version the pass uses
static inline float dggr_rate_gradient(float* DGGR_RESTRICT r, const float* DGGR_RESTRICT w, size_t n, float eps, float nu1,
                                       int guard, float scale, int apply, const float* next_w, size_t next_n) {
#ifdef FASTPOW_AVX512
    return dggr_rate_gradient_avx512(r, w, n, eps, nu1, guard, scale, apply, next_w, next_n);
#else
    (void)next_w;
    (void)next_n;
    return dggr_rate_gradient_ref(r, w, n, eps, nu1, guard, scale, apply);
#endif
}

static inline float dggr_shrink(float* DGGR_RESTRICT w, size_t n, float eps, float nu1, int guard, float scale, int apply,
                                int proximal, float inv_delta, GGMoments* DGGR_RESTRICT mom) {
#ifdef FASTPOW_AVX512
    return dggr_shrink_avx512(w, n, eps, nu1, guard, scale, apply, proximal, inv_delta, mom);
#else
    return dggr_shrink_ref(w, n, eps, nu1, guard, scale, apply, proximal, inv_delta, mom);
#endif
}

// one chunk; the flags are compile-time constants at each call site so that every
// combination compiles to its own vectorized loops. Coupled, the rate gradient is computed
// in a loop of its own into r[] (the chunk stays in L1/L2): one loop doing both the power
// and AdamW ran about 1.2 times slower (measured with dev/bench/bench_dggr.c, with the
// earlier gcc-vectorized power). Decoupled, the shrink after AdamW also adds up the new
// weights' moments. The AdamW loop is the same C code in every build, so lambda = 0 is
// adamw_update bit for bit.
static inline __attribute__((always_inline)) void dggr_chunk(float* DGGR_RESTRICT w, const float* DGGR_RESTRICT grad,
                                                             float* DGGR_RESTRICT m, float* DGGR_RESTRICT v, size_t n,
                                                             const DGGRAdamWStep* DGGR_RESTRICT a, float decay,
                                                             int with_rate, int apply_rate, int decoupled /* 0, 1, 2: proximal */, int guard,
                                                             float nu, float eps, float scale, float inv_delta,
                                                             const float* next_w, size_t next_n, DGGRChunkSums* out) {
    float r[DGGR_CHUNK]; // coupled: the rate gradient of each weight
    double sa = 0.0, ss = 0.0;
    float rs = 0.0f;     // the rate's sum, for the log: float lanes within a chunk are plenty
    int64_t zc = 0;
    const float nu1 = nu - 1.0f;
    const DGGRAdamWStep as = *a; // a local copy: the loop's stores cannot alias it
    if (with_rate && !decoupled) rs = dggr_rate_gradient(r, w, n, eps, nu1, guard, scale, apply_rate, next_w, next_n);
    // AdamW, and the new weights' moments unless a shrink follows
    const int stats_here = !(with_rate && decoupled);
#pragma omp simd reduction(+ : sa, ss, zc)
    for (size_t i = 0; i < n; i++) {
        float gi = grad[i] * as.grad_scale;
        if (with_rate && apply_rate && !decoupled) gi += r[i];
        float mi = m[i], vi = v[i];
        float wi = dggr_adamw_element(w[i], gi, &mi, &vi, &as, decay);
        w[i] = wi;
        m[i] = mi;
        v[i] = vi;
        if (stats_here) {
            double aw = fabs((double)wi);
            sa += aw;
            ss += aw * aw;
            zc += fabsf(wi * inv_delta) <= 0.5f;
        }
    }
    if (with_rate && decoupled) { // the shrink, with the moments of the new weights
        out->rate_sum = dggr_shrink(w, n, eps, nu1, guard, scale, apply_rate, decoupled == 2, inv_delta, &out->mom);
        return;
    }
    out->mom.sum_abs = sa;
    out->mom.sum_sq = ss;
    out->mom.count = (int64_t)n;
    out->mom.zeros = zc;
    out->rate_sum = rs;
}

/*
 One optimizer step t (1-based) over all parameters: AdamW with learning rate lr, the
 gradients multiplied by grad_scale (the clipping factor; the rate gradient is added after
 it, unclipped), weight_decay on the segments whose decay flag is set, and the rate.
 with_rate: also compute R (for the log) when the rate is not applied (lambda = 0 or
 after the schedule); the rate is always computed when it is applied.
 After the call: d->rate is R at the weights the rate gradient was taken at (coupled: the
 weights before the step; decoupled and proximal: after the AdamW part), with the shapes used;
 d->nu, alpha, zero_frac, bits_per_param describe the new weights, and each segment's nu
 is the shape the next step uses.
*/
static inline void dggr_step_chunks(DGGR* d, float* params, const float* grads, float* m, float* v, float lr, float beta1,
                                    float beta2, float eps, float weight_decay, float grad_scale, int t, int with_rate,
                                    int chunk_begin, int chunk_end);

static inline void dggr_step(DGGR* d, float* params, const float* grads, float* m, float* v, float lr, float beta1,
                             float beta2, float eps, float weight_decay, float grad_scale, int t, int with_rate) {
    dggr_step_chunks(d, params, grads, m, v, lr, beta1, beta2, eps, weight_decay, grad_scale, t, with_rate, 0, d->num_chunks);
    dggr_reduce_chunks(d, dggr_rate_active(d, t) || with_rate);
}

// The pass over chunks [chunk_begin, chunk_end) only, filling their slots of d->sums;
// the caller then reduces them (dggr_reduce_chunks). Data-parallel training (dist.h, -z 1)
// gives each rank its own range and gathers every rank's slots before the reduction, so
// that all ranks solve the same nu from the same sums.
static inline void dggr_step_chunks(DGGR* d, float* params, const float* grads, float* m, float* v, float lr, float beta1,
                                    float beta2, float eps, float weight_decay, float grad_scale, int t, int with_rate,
                                    int chunk_begin, int chunk_end) {
    DGGRAdamWStep a = dggr_adamw_constants(lr, beta1, beta2, eps, grad_scale, t);
    const int active = dggr_rate_active(d, t);
    const int decoupled = d->cfg.variant != DGGR_COUPLED;
    const int proximal = d->cfg.variant == DGGR_PROXIMAL;
    const float inv_delta = 1.0f / d->cfg.delta;
    const float rate_eps = d->cfg.eps;
    const int guard = !(rate_eps >= FLT_MIN); // eps too small to keep |w| + eps a normal number
    const double N = (double)(d->num_constrained ? d->num_constrained : 1);
    d->rate_active = active;
#pragma omp parallel for schedule(static)
    for (int c = chunk_begin; c < chunk_end; c++) {
        const DGGRChunk* ch = &d->chunk[c];
        const DGGRSegment* g = &d->seg[ch->segment];
        size_t o = ch->offset;
        float dec = g->decay ? weight_decay : 0.0f;
        float nu = (float)g->nu;
        // lambda dR/dw = scale sign(w) (|w|+eps)^(nu-1), scale = lambda nu / N
        float scale = (float)((double)d->cfg.lambda * g->nu / N);
        int rate_here = g->constrained && (active || with_rate);
        int apply = g->constrained && active;
        DGGRChunkSums* out = &d->sums[c];
        float *W = params + o, *M = m + o, *V = v + o;
        const float* G = grads + o;
        size_t n = ch->numel;
        // the next chunk's weights: with schedule(static) the same thread takes it next
        const float* next_w = c + 1 < chunk_end ? params + d->chunk[c + 1].offset : NULL;
        size_t next_n = c + 1 < chunk_end ? d->chunk[c + 1].numel : 0;
        // the flag combinations, each its own compiled loop (flags: with_rate, apply, decoupled, guard)
#define DGGR_CHUNK_CALL(with_r, apply_r, decoup, guard_r) \
    dggr_chunk(W, G, M, V, n, &a, dec, with_r, apply_r, decoup, guard_r, nu, rate_eps, scale, inv_delta, next_w, next_n, out)
        if (!rate_here) DGGR_CHUNK_CALL(0, 0, 0, 0);
        else if (guard) {
            if (!decoupled && apply) DGGR_CHUNK_CALL(1, 1, 0, 1);
            else if (!decoupled) DGGR_CHUNK_CALL(1, 0, 0, 1);
            else if (apply && proximal) DGGR_CHUNK_CALL(1, 1, 2, 1);
            else if (apply) DGGR_CHUNK_CALL(1, 1, 1, 1);
            else DGGR_CHUNK_CALL(1, 0, 1, 1);
        } else {
            if (!decoupled && apply) DGGR_CHUNK_CALL(1, 1, 0, 0);
            else if (!decoupled) DGGR_CHUNK_CALL(1, 0, 0, 0);
            else if (apply && proximal) DGGR_CHUNK_CALL(1, 1, 2, 0);
            else if (apply) DGGR_CHUNK_CALL(1, 1, 1, 0);
            else DGGR_CHUNK_CALL(1, 0, 1, 0);
        }
#undef DGGR_CHUNK_CALL
    }
}

// ----------------------------------------------------------------------------
// saved state (a section of the training state): the per-tensor moments, so that a
// resumed run uses bit-identical shapes. Layout, little-endian:
//   u32 magic 0x52474744 ("DGGR"), u32 version 1, u32 num_segments, u32 reserved 0,
//   then per segment: f64 sum_abs, f64 sum_sq, i64 count, i64 zeros

#define DGGR_STATE_MAGIC 0x52474744u
#define DGGR_STATE_VERSION 1u

static inline size_t dggr_state_size(const DGGR* d) { return 16 + (size_t)d->num_segments * 32; }

static inline void dggr_state_write(const DGGR* d, uint8_t* out) {
    store_u32le(out, DGGR_STATE_MAGIC);
    store_u32le(out + 4, DGGR_STATE_VERSION);
    store_u32le(out + 8, (uint32_t)d->num_segments);
    store_u32le(out + 12, 0);
    uint8_t* p = out + 16;
    for (int s = 0; s < d->num_segments; s++, p += 32) {
        const GGMoments* g = &d->seg[s].mom;
        uint64_t a, b;
        memcpy(&a, &g->sum_abs, 8);
        memcpy(&b, &g->sum_sq, 8);
        store_u64le(p, a);
        store_u64le(p + 8, b);
        store_u64le(p + 16, (uint64_t)g->count);
        store_u64le(p + 24, (uint64_t)g->zeros);
    }
}

// `what` names the source (file and section) in error messages
static inline int dggr_state_read(DGGR* d, const uint8_t* in, size_t size, const char* what) {
    if (size < 16) return bs_error_set(BS_EFORMAT, "%s: dggr section is %zu bytes, too short", what, size);
    if (load_u32le(in) != DGGR_STATE_MAGIC)
        return bs_error_set(BS_EFORMAT, "%s: dggr section has bad magic %08x", what, load_u32le(in));
    if (load_u32le(in + 4) != DGGR_STATE_VERSION)
        return bs_error_set(BS_EFORMAT, "%s: dggr section version %u (this program reads %u)", what, load_u32le(in + 4),
                            DGGR_STATE_VERSION);
    uint32_t ns = load_u32le(in + 8);
    if (ns != (uint32_t)d->num_segments || size != dggr_state_size(d))
        return bs_error_set(BS_EFORMAT, "%s: dggr section has %u tensors in %zu bytes, the model has %d", what, ns, size,
                            d->num_segments);
    const uint8_t* p = in + 16;
    for (int s = 0; s < d->num_segments; s++, p += 32) {
        GGMoments g;
        uint64_t a = load_u64le(p), b = load_u64le(p + 8);
        memcpy(&g.sum_abs, &a, 8);
        memcpy(&g.sum_sq, &b, 8);
        g.count = (int64_t)load_u64le(p + 16);
        g.zeros = (int64_t)load_u64le(p + 24);
        if (g.count != (int64_t)d->seg[s].numel || g.zeros < 0 || g.zeros > g.count || !(g.sum_abs >= 0.0) ||
            !(g.sum_sq >= 0.0))
            return bs_error_set(BS_EFORMAT, "%s: dggr section: tensor %d has inconsistent moments", what, s);
        d->seg[s].mom = g;
    }
    dggr_refresh_shape(d);
    return BS_OK;
}

#endif // LLMC_DGGR_H
