/*
 cpu_fast.h: faster versions of the layers in cpu_kernels.h, same arguments and same
 results up to float rounding; dev/test/test_cpu_kernels.c checks each against its
 reference. The model (gpt2_cpu.h) uses these unless asked for the reference kernels.

 - matmul: OpenBLAS sgemm (Debian's libopenblas-dev). The reference triple loop runs at
   a few GFLOP/s; sgemm at about 190 GFLOP/s on this 2-core machine, and matmuls are
   ~95% of a GPT-2 step's FLOPs. sgemm is called from serial code only (never inside an
   OpenMP region), so OpenBLAS's threads and ours never run at the same time.
 - layernorm backward: parallel over positions, the weight/bias gradients reduced from
   per-thread partial sums in a fixed order (deterministic for a given thread count).
 - attention forward/backward: as the reference, with the inner loops over the head
   size written so that they vectorize (dot products and axpys over contiguous q, k, v
   rows, accumulated in registers); the backward keeps one row of scores on the stack
   instead of the (B, NH, T, T) dpreatt/datt buffers.
 - softmax + cross-entropy: fused and in place: the probabilities overwrite the logits,
   and the backward writes dlogits over the probabilities, so no (B, T, Vp) buffer
   besides the logits exists (for B=8, T=256 each such buffer is 412 MB). exp is a
   vectorizable polynomial (fast_expf, relative error < 2e-7) instead of libm's scalar
   expf: the softmax over 50257 entries per position is otherwise a visible part of a step.
 - GELU: tanh through fast_expf, vectorized.
*/
#ifndef LLMC_CPU_FAST_H
#define LLMC_CPU_FAST_H

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cpu_kernels.h"

// out (B,T,OC) = inp (B,T,C) @ weight (OC,C)^T + bias (OC)
static inline void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias,
                                       int B, int T, int C, int OC) {
    int BT = B * T;
    if (bias != NULL) {
        #pragma omp parallel for
        for (int bt = 0; bt < BT; bt++) memcpy(out + (size_t)bt * OC, bias, (size_t)OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, OC, C, 1.0f, inp, C, weight, C,
                bias != NULL ? 1.0f : 0.0f, out, OC);
}

// dinp (B,T,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += column sums of dout
static inline void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                        const float* weight, int B, int T, int C, int OC) {
    int BT = B * T;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, BT, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias != NULL) {
        // each thread owns a block of 64 output channels and walks the rows in order
        int nblocks = (OC + 63) / 64;
        #pragma omp parallel for
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
            float acc[64] = {0};
            for (int bt = 0; bt < BT; bt++) {
                const float* d = dout + (size_t)bt * OC;
                for (int o = o0; o < o1; o++) acc[o - o0] += d[o];
            }
            for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
        }
    }
}

// as layernorm_backward; dweight/dbias via per-thread partial sums added in thread order
static inline void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                           const float* weight, const float* mean, const float* rstd, int B, int T, int C) {
    int BT = B * T;
    int nthreads = omp_get_max_threads();
    float* partial = (float*)calloc((size_t)nthreads * 2 * C, sizeof(float));
    if (partial == NULL) { // no memory for the scratch: the serial reference gives the same gradients
        layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, B, T, C);
        return;
    }
    int used = 1;
    #pragma omp parallel
    {
        int tid = omp_get_thread_num();
        #pragma omp single
        used = omp_get_num_threads();
        float* pw = partial + (size_t)tid * 2 * C;
        float* pb = pw + C;
        #pragma omp for schedule(static)
        for (int bt = 0; bt < BT; bt++) {
            const float* dy = dout + (size_t)bt * C;
            const float* x = inp + (size_t)bt * C;
            float* dx = dinp + (size_t)bt * C;
            float m = mean[bt], s = rstd[bt];
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
            for (int i = 0; i < C; i++) {
                float norm = (x[i] - m) * s;
                float dnorm = weight[i] * dy[i];
                dnorm_mean += dnorm;
                dnorm_norm_mean += dnorm * norm;
            }
            dnorm_mean = dnorm_mean / C;
            dnorm_norm_mean = dnorm_norm_mean / C;
            for (int i = 0; i < C; i++) {
                float norm = (x[i] - m) * s;
                float dnorm = weight[i] * dy[i];
                pb[i] += dy[i];
                pw[i] += norm * dy[i];
                dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
            }
        }
    }
    for (int k = 0; k < used; k++) {
        const float* pw = partial + (size_t)k * 2 * C;
        for (int i = 0; i < C; i++) {
            dweight[i] += pw[i];
            dbias[i] += pw[C + i];
        }
    }
    free(partial);
}

// ----------------------------------------------------------------------------
// exp for vectorized loops: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln2 / 2,
// exp(r) by its Taylor polynomial to degree 7 (truncation error < 3e-9 relative), ln 2 split
// in two (Cody-Waite) so that r is exact to float precision. Inputs are clamped to
// [-87.3, 88.7] (the float range): below, the result is ~1e-38 instead of a denormal or 0,
// which no sum in a softmax can tell apart.
static inline float fast_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    float n = rintf(x * 1.4426950408889634f);
    float r = fmaf(n, -0.693145751953125f, x);
    r = fmaf(n, -1.428606765330187e-06f, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

// ----------------------------------------------------------------------------
// attention

static inline void attention_forward_fast(float* out, float* preatt, float* att, const float* inp,
                                          int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(3)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const float* q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float* pre = preatt + (((size_t)b * NH + h) * T + t) * T;
                float* a = att + (((size_t)b * NH + h) * T + t) * T;
                float maxval = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* k = inp + ((size_t)b * T + t2) * C3 + h * hs + C;
                    float s = 0.0f;
                    #pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    pre[t2] = s;
                    maxval = s > maxval ? s : maxval;
                }
                float sum = 0.0f;
                #pragma omp simd reduction(+ : sum)
                for (int t2 = 0; t2 <= t; t2++) {
                    float e = fast_expf(pre[t2] - maxval);
                    a[t2] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 <= t; t2++) a[t2] *= inv;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = pre[t2] = 0.0f;
                float* o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* v = inp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                    float w = a[t2];
                    #pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        }
    }
}

// as attention_backward; dpreatt and datt are not used (one row lives on the stack)
static inline void attention_backward_fast(float* dinp, float* dpreatt, float* datt, const float* dout, const float* inp,
                                           const float* att, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel
    {
        float* da = (float*)malloc((size_t)T * sizeof(float));
        #pragma omp for collapse(2)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                if (da == NULL) continue; // cannot happen for sane T; leaves dinp untouched
                for (int t = 0; t < T; t++) {
                    const float* a = att + (((size_t)b * NH + h) * T + t) * T;
                    const float* q = inp + ((size_t)b * T + t) * C3 + h * hs;
                    float* dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
                    const float* dy = dout + ((size_t)b * T + t) * C + h * hs;
                    // datt = dy . v and dv += att * dy
                    float dot = 0.0f;
                    for (int t2 = 0; t2 <= t; t2++) {
                        const float* v = inp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                        float* dv = dinp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                        float s = 0.0f, w = a[t2];
                        #pragma omp simd reduction(+ : s)
                        for (int i = 0; i < hs; i++) {
                            s += v[i] * dy[i];
                            dv[i] += w * dy[i];
                        }
                        da[t2] = s;
                        dot += w * s;
                    }
                    // softmax backward, then through q.k * scale
                    for (int t2 = 0; t2 <= t; t2++) {
                        const float* k = inp + ((size_t)b * T + t2) * C3 + h * hs + C;
                        float* dk = dinp + ((size_t)b * T + t2) * C3 + h * hs + C;
                        float d = a[t2] * (da[t2] - dot) * scale;
                        #pragma omp simd
                        for (int i = 0; i < hs; i++) {
                            dq[i] += k[i] * d;
                            dk[i] += q[i] * d;
                        }
                    }
                }
            }
        }
        free(da);
    }
}

// ----------------------------------------------------------------------------
// GELU with tanh(u) = 1 - 2 / (1 + exp(2u))

static inline void gelu_forward_fast(float* out, const float* inp, int N) {
    #pragma omp parallel for simd
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
        float th = 1.0f - 2.0f / (1.0f + fast_expf(2.0f * u));
        out[i] = 0.5f * x * (1.0f + th);
    }
}

static inline void gelu_backward_fast(float* dinp, const float* inp, const float* dout, int N) {
    #pragma omp parallel for simd
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
        float th = 1.0f - 2.0f / (1.0f + fast_expf(2.0f * u));
        float sech2 = 1.0f - th * th;
        float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
}

// ----------------------------------------------------------------------------
// softmax + cross-entropy, in place

// logits (B,T,Vp) become the probabilities (padded entries 0); with targets, losses (B,T)
// gets -log p[target], computed as log(sum) - (x[target] - max), exact where p underflows
static inline void softmax_crossentropy_forward_fast(float* logits, float* losses, const int* targets,
                                                     int B, int T, int V, int Vp) {
    #pragma omp parallel for
    for (int bt = 0; bt < B * T; bt++) {
        float* x = logits + (size_t)bt * Vp;
        float maxval = -INFINITY;
        #pragma omp simd reduction(max : maxval)
        for (int i = 0; i < V; i++) maxval = x[i] > maxval ? x[i] : maxval;
        float target_logit = targets != NULL ? x[targets[bt]] : 0.0f;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) {
            float e = fast_expf(x[i] - maxval);
            x[i] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        #pragma omp simd
        for (int i = 0; i < V; i++) x[i] *= inv;
        for (int i = V; i < Vp; i++) x[i] = 0.0f;
        if (targets != NULL) losses[bt] = logf(sum) - (target_logit - maxval);
    }
}

// probs (B,T,Vp) become dlogits = (probs - onehot(target)) * dlosses (padded entries 0)
static inline void crossentropy_softmax_backward_fast(float* probs, const float* dlosses, const int* targets,
                                                      int B, int T, int V, int Vp) {
    #pragma omp parallel for
    for (int bt = 0; bt < B * T; bt++) {
        float* p = probs + (size_t)bt * Vp;
        float d = dlosses[bt];
        #pragma omp simd
        for (int i = 0; i < V; i++) p[i] *= d;
        p[targets[bt]] -= d;
    }
}

// ----------------------------------------------------------------------------
// OpenMP threads that sleep instead of spinning when they wait
//
// A training step runs hundreds of short parallel regions. libgomp's default is to spin
// between them; when another process holds a core (a shared machine), a spinning thread
// keeps the core from the thread that has work, and a step takes 2-4x longer (measured
// here: 6-layer model, B=4 T=64, machine load ~2: 1.1-1.9 s/step spinning, 0.56 s
// sleeping). libgomp reads OMP_WAIT_POLICY once, before main, so a program calls this
// first thing in main: when the variable is unset it sets it to PASSIVE and restarts
// itself (same arguments); a user's own setting is left alone.
static inline void cpu_threads_passive_wait(char** argv) {
    if (getenv("OMP_WAIT_POLICY") != NULL) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv); // returns only on failure: then carry on as we are
}

#endif // LLMC_CPU_FAST_H
