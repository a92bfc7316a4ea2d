/*
 cpu_kernels.h: GPT-2's layers in plain C, forward and backward side by side, the
 readable reference every faster path (llmc/cpu_fast.h, the CUDA kernels) is tested
 against. Names and argument orders are llm.c's (train_gpt2.c), so code written against
 llm.c's layers reads the same here.

 Conventions: every tensor is a flat row-major float array with its shape in a comment;
 B batch, T time, C channels, NH heads, hs = C / NH head size, OC output channels,
 V vocabulary, Vp padded vocabulary. Forward functions overwrite their outputs; backward
 functions ACCUMULATE (+=) into the gradients they are given, so a tensor used twice
 (the tied wte, the residual stream) collects both contributions. The caller zeroes the
 gradients before a backward pass.

 OpenMP is used only where each thread writes its own outputs, and never with a
 floating-point reduction clause: results do not depend on thread timing, so a run is
 reproducible bit for bit with the same number of threads (resume depends on it).
*/
#ifndef LLMC_CPU_KERNELS_H
#define LLMC_CPU_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

// ----------------------------------------------------------------------------
// encoder: token embedding plus position embedding

// out (B,T,C) = wte[inp[b,t]] + wpe[t]; inp (B,T) token ids, wte (Vp,C), wpe (maxT,C)
static inline void encoder_forward(float* out, const int* inp, const float* wte, const float* wpe, int B, int T, int C) {
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float* out_bt = out + ((size_t)b * T + t) * C;
            const float* wte_ix = wte + (size_t)inp[b * T + t] * C;
            const float* wpe_t = wpe + (size_t)t * C;
            for (int i = 0; i < C; i++) out_bt[i] = wte_ix[i] + wpe_t[i];
        }
    }
}

// serial: two positions may hold the same token and add into the same wte row
static inline void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* inp, int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float* dout_bt = dout + ((size_t)b * T + t) * C;
            float* dwte_ix = dwte + (size_t)inp[b * T + t] * C;
            float* dwpe_t = dwpe + (size_t)t * C;
            for (int i = 0; i < C; i++) {
                dwte_ix[i] += dout_bt[i];
                dwpe_t[i] += dout_bt[i];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// layernorm: y = (x - mean) * rstd * w + b over the C channels of each position

// out (B,T,C); mean, rstd (B,T) are kept for the backward pass; eps = 1e-5 as GPT-2
static inline void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                     const float* bias, int B, int T, int C) {
    const float eps = 1e-5f;
    #pragma omp parallel for
    for (int bt = 0; bt < B * T; bt++) {
        const float* x = inp + (size_t)bt * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++) m += x[i];
        m = m / C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        v = v / C;
        float s = 1.0f / sqrtf(v + eps);
        float* y = out + (size_t)bt * C;
        for (int i = 0; i < C; i++) y[i] = (s * (x[i] - m)) * weight[i] + bias[i];
        mean[bt] = m;
        rstd[bt] = s;
    }
}

// dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), dnorm = w * dy
static inline void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                      const float* weight, const float* mean, const float* rstd, int B, int T, int C) {
    for (int bt = 0; bt < B * T; bt++) {
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
            dbias[i] += dy[i];
            dweight[i] += norm * dy[i];
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

// ----------------------------------------------------------------------------
// matmul: out = inp @ weight^T + bias (the reference: a plain triple loop)

// out (B,T,OC), inp (B,T,C), weight (OC,C), bias (OC) or NULL
static inline void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                                  int B, int T, int C, int OC) {
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float* x = inp + ((size_t)b * T + t) * C;
            float* y = out + ((size_t)b * T + t) * OC;
            for (int o = 0; o < OC; o++) {
                const float* w = weight + (size_t)o * C;
                float acc = bias != NULL ? bias[o] : 0.0f;
                for (int i = 0; i < C; i++) acc += x[i] * w[i];
                y[o] = acc;
            }
        }
    }
}

// dinp (B,T,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += sum dout
static inline void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                   const float* weight, int B, int T, int C, int OC) {
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float* dy = dout + ((size_t)b * T + t) * OC;
            float* dx = dinp + ((size_t)b * T + t) * C;
            for (int o = 0; o < OC; o++) {
                const float* w = weight + (size_t)o * C;
                float d = dy[o];
                for (int i = 0; i < C; i++) dx[i] += w[i] * d;
            }
        }
    }
    #pragma omp parallel for
    for (int o = 0; o < OC; o++) {
        float* dw = dweight + (size_t)o * C;
        for (int bt = 0; bt < B * T; bt++) {
            const float* x = inp + (size_t)bt * C;
            float d = dout[(size_t)bt * OC + o];
            if (dbias != NULL) dbias[o] += d;
            for (int i = 0; i < C; i++) dw[i] += x[i] * d;
        }
    }
}

// ----------------------------------------------------------------------------
// causal multi-head self-attention

// inp (B,T,3C) holds q, k, v of each position; out (B,T,C); preatt, att (B,NH,T,T) keep
// the scores before and after the softmax (entries t2 > t are unused and left zero)
static inline void attention_forward(float* out, float* preatt, float* att, const float* inp,
                                     int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(3)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const float* q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float* pre = preatt + (((size_t)b * NH + h) * T + t) * T;
                float* a = att + (((size_t)b * NH + h) * T + t) * T;
                // scores q.k / sqrt(hs) over the positions t2 <= t, and their maximum
                float maxval = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* k = inp + ((size_t)b * T + t2) * C3 + h * hs + C;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    if (s > maxval) maxval = s;
                    pre[t2] = s;
                }
                // softmax
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float e = expf(pre[t2] - maxval);
                    sum += e;
                    a[t2] = e;
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 < T; t2++) {
                    if (t2 <= t) a[t2] *= inv;
                    else { a[t2] = 0.0f; pre[t2] = 0.0f; }
                }
                // weighted sum of the values
                float* o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* v = inp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                    float w = a[t2];
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        }
    }
}

// dinp (B,T,3C) += ..., dpreatt, datt (B,NH,T,T) scratch (accumulated into, zero them);
// each (b, h) touches only its own rows, so the pairs run in parallel
static inline void attention_backward(float* dinp, float* dpreatt, float* datt, const float* dout, const float* inp,
                                      const float* att, int B, int T, int C, int NH) {
    int C3 = 3 * C, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const float* a = att + (((size_t)b * NH + h) * T + t) * T;
                float* da = datt + (((size_t)b * NH + h) * T + t) * T;
                float* dpre = dpreatt + (((size_t)b * NH + h) * T + t) * T;
                const float* q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float* dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
                const float* dy = dout + ((size_t)b * T + t) * C + h * hs;
                // through the weighted sum of values: datt = dy . v, dv += att * dy
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* v = inp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                    float* dv = dinp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
                    for (int i = 0; i < hs; i++) {
                        da[t2] += v[i] * dy[i];
                        dv[i] += a[t2] * dy[i];
                    }
                }
                // through the softmax: dpre = att * (datt - sum(att * datt))
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) dpre[t2] += a[t2] * (da[t2] - dot);
                // through q.k * scale
                for (int t2 = 0; t2 <= t; t2++) {
                    const float* k = inp + ((size_t)b * T + t2) * C3 + h * hs + C;
                    float* dk = dinp + ((size_t)b * T + t2) * C3 + h * hs + C;
                    float d = dpre[t2] * scale;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * d;
                        dk[i] += q[i] * d;
                    }
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------
// GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

#define GELU_SCALING_FACTOR 0.7978845608028654f // sqrt(2 / pi)

static inline void gelu_forward(float* out, const float* inp, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALING_FACTOR * (x + cube)));
    }
}

static inline void gelu_backward(float* dinp, const float* inp, const float* dout, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        float u = GELU_SCALING_FACTOR * (x + cube);
        float th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
}

// ----------------------------------------------------------------------------
// residual connection

static inline void residual_forward(float* out, const float* inp1, const float* inp2, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

static inline void residual_backward(float* dinp1, float* dinp2, const float* dout, int N) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}

// ----------------------------------------------------------------------------
// output: softmax over the vocabulary, cross-entropy

// probs (B,T,Vp) = softmax of logits (B,T,Vp) over the first V entries; padded entries 0
static inline void softmax_forward(float* probs, const float* logits, int B, int T, int V, int Vp) {
    #pragma omp parallel for
    for (int bt = 0; bt < B * T; bt++) {
        const float* x = logits + (size_t)bt * Vp;
        float* p = probs + (size_t)bt * Vp;
        float maxval = -INFINITY;
        for (int i = 0; i < V; i++) if (x[i] > maxval) maxval = x[i];
        float sum = 0.0f;
        for (int i = 0; i < V; i++) {
            p[i] = expf(x[i] - maxval);
            sum += p[i];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++) p[i] *= inv;
        for (int i = V; i < Vp; i++) p[i] = 0.0f;
    }
}

// losses (B,T) = -log probs[target]; targets (B,T)
static inline void crossentropy_forward(float* losses, const float* probs, const int* targets, int B, int T, int Vp) {
    for (int bt = 0; bt < B * T; bt++) losses[bt] = -logf(probs[(size_t)bt * Vp + targets[bt]]);
}

// dlogits (B,T,Vp) += (probs - onehot(target)) * dlosses; padded entries get nothing
static inline void crossentropy_softmax_backward(float* dlogits, const float* dlosses, const float* probs,
                                                 const int* targets, int B, int T, int V, int Vp) {
    #pragma omp parallel for
    for (int bt = 0; bt < B * T; bt++) {
        float* dl = dlogits + (size_t)bt * Vp;
        const float* p = probs + (size_t)bt * Vp;
        float d = dlosses[bt];
        int ix = targets[bt];
        for (int i = 0; i < V; i++) dl[i] += (p[i] - (i == ix ? 1.0f : 0.0f)) * d;
    }
}

#endif // LLMC_CPU_KERNELS_H
