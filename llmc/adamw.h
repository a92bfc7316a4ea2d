/*
 adamw.h: AdamW (Loshchilov & Hutter 2019) over a flat parameter array, the learning-rate
 schedule, and the gradient norm used for clipping.

 One step t (1-based) on parameter w with gradient g (already multiplied by grad_scale,
 the clipping factor):
     m = beta1 m + (1 - beta1) g            v = beta2 v + (1 - beta2) g^2
     mhat = m / (1 - beta1^t)               vhat = v / (1 - beta2^t)
     w = w - lr (mhat / (sqrt(vhat) + eps) + weight_decay w)
 The same formula as llm.c and torch.optim.AdamW (decoupled decay scaled by lr).
 The trainer applies weight decay to the weight matrices and embeddings only
 (gpt2_param_is_matrix), not to biases and LayerNorm parameters, as GPT-2 practice does;
 it calls adamw_update once per grouped tensor with that tensor's decay.

 llmc/dggr.h (BackSlash) extends this update with the rate gradient; with lambda = 0 it
 must give these results bit for bit, so the arithmetic here is written out plainly.
*/
#ifndef LLMC_ADAMW_H
#define LLMC_ADAMW_H

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>

typedef struct {
    float beta1, beta2, eps, weight_decay;
} AdamWConfig;

static inline AdamWConfig adamw_default_config(void) {
    AdamWConfig c = {0.9f, 0.95f, 1e-8f, 0.0f};
    return c;
}

// one AdamW step over n parameters; t is the 1-based step count (bias correction)
static inline void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr,
                                float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t) {
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        float mhat = mi / bc1;
        float vhat = vi / bc2;
        m[i] = mi;
        v[i] = vi;
        params[i] -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * params[i]);
    }
}

// L2 norm of n gradients, summed in double over fixed blocks in a fixed order, so the
// result does not depend on the number of threads
static inline double grad_norm_l2(const float* grads, size_t n) {
    enum { BLOCK = 1 << 16 };
    size_t nblocks = (n + BLOCK - 1) / BLOCK;
    double* partial = (double*)malloc((nblocks ? nblocks : 1) * sizeof(double));
    double total = 0.0;
    if (partial == NULL) { // serial fallback, same blocks, same order
        for (size_t b = 0; b < nblocks; b++) {
            double s = 0.0;
            for (size_t i = b * BLOCK; i < n && i < (b + 1) * BLOCK; i++) s += (double)grads[i] * grads[i];
            total += s;
        }
        return sqrt(total);
    }
    #pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblocks; b++) {
        double s = 0.0;
        size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
        for (size_t i = b * BLOCK; i < end; i++) s += (double)grads[i] * grads[i];
        partial[b] = s;
    }
    for (size_t b = 0; b < nblocks; b++) total += partial[b];
    free(partial);
    return sqrt(total);
}

// clipping factor: min(1, max_norm / norm); max_norm <= 0 disables clipping
static inline float grad_clip_scale(double norm, float max_norm) {
    if (max_norm <= 0.0f || !(norm > max_norm)) return 1.0f;
    return (float)(max_norm / norm);
}

// learning-rate schedules; step is 0-based, total the number of steps
enum { LR_COSINE = 0, LR_LINEAR = 1, LR_CONSTANT = 2 };

// linear warmup over `warmup` steps to lr_max, then decay to lr_max * final_frac at the
// last step (cosine or linear), or constant
static inline float lr_schedule(int kind, int step, int total, int warmup, float lr_max, float final_frac) {
    if (step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (kind == LR_CONSTANT || total <= warmup + 1) return lr_max;
    float lr_min = lr_max * final_frac;
    float progress = (float)(step - warmup) / (float)(total - 1 - warmup);
    if (progress > 1.0f) progress = 1.0f;
    float coeff = kind == LR_COSINE ? 0.5f * (1.0f + cosf((float)M_PI * progress)) : 1.0f - progress;
    return lr_min + coeff * (lr_max - lr_min);
}

#endif // LLMC_ADAMW_H
