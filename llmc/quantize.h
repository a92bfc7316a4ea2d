/*
 quantize.h: the one definition of uniform scalar quantization used everywhere
 (BackSlash's zero-fraction and bits/param logging, the codec, pruning experiments),
 so that "the fraction of weights that quantize to zero" means the same in the trainer's
 log as in the coded file.

   q = round_half_even(w / Delta)      w_hat = q * Delta      (doc/method.md section 5)

 Rounding is to nearest with ties to even (rintf under the default rounding mode),
 which vectorizes; a weight quantizes to zero exactly when |w| <= Delta / 2.
*/
#ifndef LLMC_QUANTIZE_H
#define LLMC_QUANTIZE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

// default quantization step of coded checkpoints and of the trainer's zero-fraction
// and bits/param columns (see doc/backslash.md for how it was chosen)
#define QUANTIZE_DEFAULT_DELTA 1e-3f

// largest |q| a coded file may hold: |w| / Delta must stay below this (documented limit)
#define QUANTIZE_MAX_ABS_Q ((int64_t)1 << 30)

static inline int32_t quantize_value(float w, float inv_delta) {
    return (int32_t)rintf(w * inv_delta);
}

static inline float dequantize_value(int32_t q, float delta) {
    return (float)q * delta;
}

// w <- round(w / Delta) Delta for n weights: the values a coded model at this Delta
// decodes to (the codec quantizes every tensor at one Delta), for measuring the loss of
// quantization alone (eval_gpt2 -q)
static inline void quantize_array_inplace(float* w, size_t n, float delta) {
    float inv_delta = 1.0f / delta;
    for (size_t i = 0; i < n; i++) w[i] = dequantize_value(quantize_value(w[i], inv_delta), delta);
}

#endif // LLMC_QUANTIZE_H
