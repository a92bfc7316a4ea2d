/*
 gpt2_params.h: GPT-2's configuration and the layout of its parameters in one flat
 float array, in llm.c's order, shared by the CPU and CUDA trainers, the checkpoint
 readers and writers, and the codec.

 The 16 parameter tensors, each holding all L layers (shapes row-major):
    0 wte      (Vp, C)       token embedding, tied with the output head
    1 wpe      (maxT, C)     position embedding
    2 ln1w     (L, C)        3 ln1b     (L, C)
    4 qkvw     (L, 3C, C)    5 qkvb     (L, 3C)
    6 attprojw (L, C, C)     7 attprojb (L, C)
    8 ln2w     (L, C)        9 ln2b     (L, C)
   10 fcw      (L, 4C, C)   11 fcb      (L, 4C)
   12 fcprojw  (L, C, 4C)   13 fcprojb  (L, C)
   14 lnfw     (C)          15 lnfb     (C)
 Vp is the vocabulary padded up to a multiple of 64 (llm.c pads 50257 to 50304);
 the padded rows of wte are never used by a real token and stay zero.

 Besides the 16 grouped tensors, gpt2_tensor_table() lists the "logical" tensors a
 user thinks in: one per layer and kind ("h3.qkvw", shape (3C, C)), 2 + 12 L + 2 in all.
 The codec stores tensors under these names; per-tensor options (nu, Delta, value map)
 are per logical tensor.
*/
#ifndef LLMC_GPT2_PARAMS_H
#define LLMC_GPT2_PARAMS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "utils.h"

typedef struct {
    int max_seq_len;       // maxT, e.g. 1024
    int vocab_size;        // V, e.g. 50257
    int padded_vocab_size; // Vp, V rounded up to a multiple of 64 (llm.c: 50304)
    int num_layers;        // L
    int num_heads;         // NH
    int channels;          // C
} GPT2Config;

#define GPT2_NUM_PARAM_TENSORS 16

enum {
    GPT2_WTE, GPT2_WPE, GPT2_LN1W, GPT2_LN1B, GPT2_QKVW, GPT2_QKVB, GPT2_ATTPROJW, GPT2_ATTPROJB,
    GPT2_LN2W, GPT2_LN2B, GPT2_FCW, GPT2_FCB, GPT2_FCPROJW, GPT2_FCPROJB, GPT2_LNFW, GPT2_LNFB,
};

static const char* const gpt2_param_names[GPT2_NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

// documented limits, checked on every config read from a file or a flag
#define GPT2_MAX_SEQ_LEN 65536
#define GPT2_MAX_VOCAB (1 << 20)
#define GPT2_MAX_LAYERS 1024
#define GPT2_MAX_CHANNELS 65536
#define GPT2_VOCAB_PAD 64

static inline int gpt2_padded_vocab(int vocab_size) {
    return (vocab_size + GPT2_VOCAB_PAD - 1) / GPT2_VOCAB_PAD * GPT2_VOCAB_PAD;
}

// weight matrices and embeddings: the tensors BackSlash constrains by default
static inline int gpt2_param_is_matrix(int i) {
    return i == GPT2_WTE || i == GPT2_WPE || i == GPT2_QKVW || i == GPT2_ATTPROJW ||
           i == GPT2_FCW || i == GPT2_FCPROJW;
}

// checks a config for sanity; `what` names its source (a file or a flag) in the message
static inline int gpt2_config_validate(const GPT2Config* c, const char* what) {
    if (c->max_seq_len < 1 || c->max_seq_len > GPT2_MAX_SEQ_LEN)
        return bs_error_set(BS_EFORMAT, "%s: max_seq_len %d out of range [1, %d]", what, c->max_seq_len, GPT2_MAX_SEQ_LEN);
    if (c->vocab_size < 1 || c->vocab_size > GPT2_MAX_VOCAB)
        return bs_error_set(BS_EFORMAT, "%s: vocab_size %d out of range [1, %d]", what, c->vocab_size, GPT2_MAX_VOCAB);
    if (c->padded_vocab_size < c->vocab_size || c->padded_vocab_size > GPT2_MAX_VOCAB + GPT2_VOCAB_PAD)
        return bs_error_set(BS_EFORMAT, "%s: padded_vocab_size %d must be in [vocab_size %d, %d]", what,
                            c->padded_vocab_size, c->vocab_size, GPT2_MAX_VOCAB + GPT2_VOCAB_PAD);
    if (c->num_layers < 1 || c->num_layers > GPT2_MAX_LAYERS)
        return bs_error_set(BS_EFORMAT, "%s: num_layers %d out of range [1, %d]", what, c->num_layers, GPT2_MAX_LAYERS);
    if (c->channels < 1 || c->channels > GPT2_MAX_CHANNELS)
        return bs_error_set(BS_EFORMAT, "%s: channels %d out of range [1, %d]", what, c->channels, GPT2_MAX_CHANNELS);
    if (c->num_heads < 1 || c->channels % c->num_heads != 0)
        return bs_error_set(BS_EFORMAT, "%s: num_heads %d must be >= 1 and divide channels %d", what, c->num_heads, c->channels);
    return BS_OK;
}

// number of floats in each of the 16 grouped tensors
static inline void gpt2_param_sizes(const GPT2Config* c, size_t sizes[GPT2_NUM_PARAM_TENSORS]) {
    size_t Vp = (size_t)c->padded_vocab_size, C = (size_t)c->channels;
    size_t maxT = (size_t)c->max_seq_len, L = (size_t)c->num_layers;
    sizes[GPT2_WTE] = Vp * C;
    sizes[GPT2_WPE] = maxT * C;
    sizes[GPT2_LN1W] = L * C;
    sizes[GPT2_LN1B] = L * C;
    sizes[GPT2_QKVW] = L * (3 * C) * C;
    sizes[GPT2_QKVB] = L * (3 * C);
    sizes[GPT2_ATTPROJW] = L * C * C;
    sizes[GPT2_ATTPROJB] = L * C;
    sizes[GPT2_LN2W] = L * C;
    sizes[GPT2_LN2B] = L * C;
    sizes[GPT2_FCW] = L * (4 * C) * C;
    sizes[GPT2_FCB] = L * (4 * C);
    sizes[GPT2_FCPROJW] = L * C * (4 * C);
    sizes[GPT2_FCPROJB] = L * C;
    sizes[GPT2_LNFW] = C;
    sizes[GPT2_LNFB] = C;
}

static inline size_t gpt2_num_params(const GPT2Config* c) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(c, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) n += sizes[i];
    return n;
}

// offsets (in floats) of the 16 grouped tensors inside the flat parameter array
static inline void gpt2_param_offsets(const GPT2Config* c, size_t offsets[GPT2_NUM_PARAM_TENSORS]) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(c, sizes);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) { offsets[i] = off; off += sizes[i]; }
}

// ----------------------------------------------------------------------------
// logical tensors: one per layer and kind

#define GPT2_TENSOR_NAME_MAX 32

typedef struct {
    char name[GPT2_TENSOR_NAME_MAX]; // "wte", "h0.qkvw", ..., "lnfb"
    int group;                       // index of the grouped tensor (GPT2_WTE ...)
    int layer;                       // 0..L-1, or -1 for wte, wpe, lnfw, lnfb
    int ndim;                        // 1 or 2
    int shape[2];                    // rows, cols (cols = 1 for vectors)
    size_t offset;                   // in floats, from the start of the flat array
    size_t numel;
} GPT2Tensor;

static inline int gpt2_num_tensors(const GPT2Config* c) { return 4 + 12 * c->num_layers; }

// fills `out` (gpt2_num_tensors() entries) in file order: wte, wpe, then for each
// group 2..13 its L layers, then lnfw, lnfb; so offsets increase monotonically
static inline void gpt2_tensor_table(const GPT2Config* c, GPT2Tensor* out) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offsets[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(c, sizes);
    gpt2_param_offsets(c, offsets);
    int L = c->num_layers, C = c->channels;
    // per-layer shapes of groups 2..13 (rows, cols)
    const int rows[GPT2_NUM_PARAM_TENSORS] = {c->padded_vocab_size, c->max_seq_len, C, C, 3 * C, 3 * C, C, C,
                                              C, C, 4 * C, 4 * C, C, C, C, C};
    const int cols[GPT2_NUM_PARAM_TENSORS] = {C, C, 1, 1, C, 1, C, 1, 1, 1, C, 1, 4 * C, 1, 1, 1};
    int n = 0;
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        int per_layer = (g >= GPT2_LN1W && g <= GPT2_FCPROJB);
        int count = per_layer ? L : 1;
        for (int l = 0; l < count; l++) {
            GPT2Tensor* t = &out[n++];
            if (per_layer) snprintf(t->name, sizeof(t->name), "h%d.%s", l, gpt2_param_names[g]);
            else snprintf(t->name, sizeof(t->name), "%s", gpt2_param_names[g]);
            t->group = g;
            t->layer = per_layer ? l : -1;
            t->shape[0] = rows[g];
            t->shape[1] = cols[g];
            t->ndim = cols[g] == 1 ? 1 : 2;
            t->numel = sizes[g] / (size_t)count;
            t->offset = offsets[g] + (size_t)l * t->numel;
        }
    }
}

// ----------------------------------------------------------------------------
// loaded weights: finite and of a sane magnitude

// The default limit on |w| for loaded weights (-wmax). Trained GPT-2 weights are O(1)
// (initialised at std 0.02, layernorm gains near 1); flipping the top exponent bit of
// such a weight gives ~1e36, and a NaN or inf breaks the loss at once. llm.c's format has
// no checksum, so this check is what catches a damaged file before training on it.
#define GPT2_DEFAULT_MAX_ABS_WEIGHT 1e4

// BS_OK when every weight is finite with |w| <= max_abs (max_abs 0: no check); otherwise
// BS_EFORMAT naming `what` (the file), the first bad weight's tensor, element and value,
// how many there are, and the flag that accepts them
static inline int gpt2_params_check(const GPT2Config* c, const float* params, double max_abs, const char* what) {
    if (max_abs <= 0.0) return BS_OK;
    size_t n = gpt2_num_params(c), bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(fabs((double)params[i]) <= max_abs)) { // NaN fails the comparison too
            if (bad++ == 0) first = i;
        }
    }
    if (bad == 0) return BS_OK;
    int nt = gpt2_num_tensors(c);
    GPT2Tensor* table = (GPT2Tensor*)malloc((size_t)nt * sizeof(GPT2Tensor));
    if (table == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", what);
    gpt2_tensor_table(c, table);
    int t = 0;
    while (t + 1 < nt && first >= table[t + 1].offset) t++;
    size_t e = first - table[t].offset;
    int rc = bs_error_set(BS_EFORMAT, "%s: tensor %s, element %zu (row %zu, column %zu of %dx%d), is %g (%zu weight(s) "
                          "not finite or above |w| = %g): refused as damaged (flag -wmax sets the limit, -wmax 0 "
                          "accepts any value)", what, table[t].name, e, e / (size_t)table[t].shape[1],
                          e % (size_t)table[t].shape[1], table[t].shape[0], table[t].shape[1], (double)params[first],
                          bad, max_abs);
    free(table);
    return rc;
}

#endif // LLMC_GPT2_PARAMS_H
