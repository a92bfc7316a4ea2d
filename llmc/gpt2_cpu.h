/*
 gpt2_cpu.h: the GPT-2 model on the CPU: parameters, gradients, activations, forward and
 backward, shared by train_gpt2.c, the tests, the CUDA tests (as the reference) and the
 MPI trainer.

 GPT-2 (Radford et al. 2019) as llm.c implements it: token + learned position embeddings,
 L pre-LayerNorm blocks (causal multi-head attention, then a GELU(tanh) MLP of width 4C,
 each added to the residual stream), a final LayerNorm, and the output head tied to the
 token embedding (logits = lnf @ wte^T), cross-entropy on the next token.

 Parameters live in one flat float array in llm.c's order (gpt2_params.h), so a model is
 saved and loaded as llm.c's fp32 checkpoint unchanged, and the optimizer walks one array.
 Gradients have the same layout. Activations are allocated on the first forward pass for
 its (B, T); later passes may use any B' <= B, T' <= T (sampling runs B' = 1).

 Kernels: by default the fast paths of cpu_fast.h (OpenBLAS matmuls, fused in-place
 softmax/cross-entropy, vectorized attention and GELU); with model->use_reference_kernels
 = 1, set before the first forward pass, only the plain C layers of cpu_kernels.h.
 The fast path needs less memory: the probabilities overwrite the logits and the
 backward overwrites them with dlogits, and there are no dpreatt/datt buffers.
*/
#ifndef LLMC_GPT2_CPU_H
#define LLMC_GPT2_CPU_H

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "adamw.h"
#include "bsz.h"
#include "cpu_fast.h"
#include "cpu_kernels.h"
#include "gpt2_params.h"
#include "model_fp32.h"
#include "rng.h"
#include "utils.h"

// pointers into the flat parameter (or gradient) array, in llm.c's order
typedef struct {
    float* wte;      // (Vp, C)
    float* wpe;      // (maxT, C)
    float* ln1w;     // (L, C)
    float* ln1b;     // (L, C)
    float* qkvw;     // (L, 3C, C)
    float* qkvb;     // (L, 3C)
    float* attprojw; // (L, C, C)
    float* attprojb; // (L, C)
    float* ln2w;     // (L, C)
    float* ln2b;     // (L, C)
    float* fcw;      // (L, 4C, C)
    float* fcb;      // (L, 4C)
    float* fcprojw;  // (L, C, 4C)
    float* fcprojb;  // (L, C)
    float* lnfw;     // (C)
    float* lnfb;     // (C)
} GPT2Params;

#define GPT2_NUM_ACTIVATION_TENSORS 23
// indices of the activation tensors whose buffers the fast path does without
enum { GPT2_ACT_PREATT = 6, GPT2_ACT_ATT = 7, GPT2_ACT_LOGITS = 20, GPT2_ACT_PROBS = 21 };

// what the forward pass keeps for the backward pass (llm.c's set)
typedef struct {
    float* encoded;   // (B, T, C)
    float* ln1;       // (L, B, T, C)
    float* ln1_mean;  // (L, B, T)
    float* ln1_rstd;  // (L, B, T)
    float* qkv;       // (L, B, T, 3C)
    float* atty;      // (L, B, T, C)
    float* preatt;    // (L, B, NH, T, T)
    float* att;       // (L, B, NH, T, T)
    float* attproj;   // (L, B, T, C)
    float* residual2; // (L, B, T, C)
    float* ln2;       // (L, B, T, C)
    float* ln2_mean;  // (L, B, T)
    float* ln2_rstd;  // (L, B, T)
    float* fch;       // (L, B, T, 4C)
    float* fch_gelu;  // (L, B, T, 4C)
    float* fcproj;    // (L, B, T, C)
    float* residual3; // (L, B, T, C)
    float* lnf;       // (B, T, C)
    float* lnf_mean;  // (B, T)
    float* lnf_rstd;  // (B, T)
    float* logits;    // (B, T, Vp)
    float* probs;     // (B, T, Vp)
    float* losses;    // (B, T)
} GPT2Activations;

typedef struct {
    GPT2Config config;
    float* params_memory; // gpt2_num_params() floats, llm.c's order
    float* grads_memory;  // same layout; allocated by the first backward pass
    size_t num_params;
    size_t param_sizes[GPT2_NUM_PARAM_TENSORS];
    size_t param_offsets[GPT2_NUM_PARAM_TENSORS];
    GPT2Params params, grads;
    // activations and their gradients for the allocated (batch_size, seq_len)
    int batch_size, seq_len;
    GPT2Activations acts, grads_acts;
    float* acts_memory;
    float* grads_acts_memory;
    size_t num_activations;
    size_t grads_acts_capacity; // floats allocated for grads_acts_memory
    float* probs_buffer;        // the reference path's own (B,T,Vp) probabilities, else NULL
    int* inputs;  // (B, T) of the last forward pass
    int* targets; // (B, T), valid when has_targets
    int has_targets;
    int last_B, last_T; // shape of the last forward pass
    float mean_loss;    // of the last forward pass with targets, else -1
    int use_reference_kernels;
} GPT2;

static inline void gpt2_point_params(GPT2Params* p, float* base, const size_t offsets[GPT2_NUM_PARAM_TENSORS]) {
    float** ptrs[GPT2_NUM_PARAM_TENSORS] = {&p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb,
                                            &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw, &p->fcb,
                                            &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb};
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) *ptrs[i] = base + offsets[i];
}

// takes ownership of `params` (num_params floats, malloc'd); the config must be valid
static inline void gpt2_init_with_params(GPT2* model, const GPT2Config* config, float* params) {
    memset(model, 0, sizeof(*model));
    model->config = *config;
    model->num_params = gpt2_num_params(config);
    gpt2_param_sizes(config, model->param_sizes);
    gpt2_param_offsets(config, model->param_offsets);
    model->params_memory = params;
    gpt2_point_params(&model->params, params, model->param_offsets);
    model->mean_loss = -1.0f;
}

// GPT-2's initialisation (Radford et al. 2019, as in nanoGPT/llm.c): weight matrices and
// embeddings normal(0, 0.02), the two residual projections (attprojw, fcprojw) scaled by
// 1/sqrt(2L), LayerNorm weights 1, biases 0; the padded rows of wte 0.
// Deterministic for a seed, whatever the number of threads.
static inline int gpt2_init_random(GPT2* model, const GPT2Config* config, uint64_t seed) {
    int rc = gpt2_config_validate(config, "model config");
    if (rc != BS_OK) return rc;
    size_t n = gpt2_num_params(config);
    float* params = (float*)malloc(n * sizeof(float));
    if (params == NULL) return bs_error_set(BS_ENOMEM, "out of memory for %zu parameters", n);
    gpt2_init_with_params(model, config, params);
    size_t C = (size_t)config->channels, V = (size_t)config->vocab_size;
    float residual_std = 0.02f / sqrtf(2.0f * config->num_layers);
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        float* p = params + model->param_offsets[g];
        size_t count = model->param_sizes[g];
        if (g == GPT2_LN1W || g == GPT2_LN2W || g == GPT2_LNFW) {
            for (size_t i = 0; i < count; i++) p[i] = 1.0f;
        } else if (!gpt2_param_is_matrix(g)) {
            memset(p, 0, count * sizeof(float));
        } else {
            float std = (g == GPT2_ATTPROJW || g == GPT2_FCPROJW) ? residual_std : 0.02f;
            size_t real = g == GPT2_WTE ? V * C : count; // padded vocabulary rows stay zero
            uint64_t stream = seed * 64 + (uint64_t)g;
            #pragma omp parallel for
            for (size_t i = 0; i < count; i++) p[i] = i < real ? std * rng_normal_at(stream, i) : 0.0f;
        }
    }
    return BS_OK;
}

// A model shape from a short spec, as -e takes it: "d<L>[w<C>][h<NH>][t<maxT>][v<V>]". Without
// w/h the GPT-2 family's width and heads for that depth: d6 384/6, d12 768/12 (124M),
// d24 1024/16, d36 1280/20, d48 1600/25, other depths 64 L wide with 64-wide heads.
// maxT defaults to 1024; the vocabulary V defaults to GPT-2's 50257 (padded to 50304); a
// smaller V is for token files remapped to the training split's most frequent ids
// (./vocab remap, doc/data.md), at most 65536 since token files hold uint16 ids.
// Returns BS_EINVAL (message names the spec) when it is not such a spec.
static inline int gpt2_config_from_spec(const char* spec, GPT2Config* c) {
    if (spec == NULL || spec[0] != 'd') return bs_error_set(BS_EINVAL, "model spec '%s' does not start with d<layers>", spec ? spec : "");
    long vals[5] = {0, 0, 0, 1024, 50257}; // d w h t v
    const char* keys = "dwhtv";
    const char* p = spec;
    int seen = 0;
    while (*p) {
        const char* k = strchr(keys, *p);
        if (k == NULL || *k == 0) return bs_error_set(BS_EINVAL, "model spec '%s': unexpected '%c' (expected d<L>[w<C>][h<NH>][t<maxT>][v<V>])", spec, *p);
        int idx = (int)(k - keys);
        if (seen & (1 << idx)) return bs_error_set(BS_EINVAL, "model spec '%s': '%c' given twice", spec, *p);
        seen |= 1 << idx;
        char* end = NULL;
        errno = 0;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno != 0 || v < 1 || v > 1 << 20) return bs_error_set(BS_EINVAL, "model spec '%s': '%c' needs a positive number", spec, *p);
        vals[idx] = v;
        p = end;
    }
    long L = vals[0], C = vals[1], NH = vals[2];
    if (C == 0) {
        static const long family[][3] = {{6, 384, 6}, {12, 768, 12}, {24, 1024, 16}, {36, 1280, 20}, {48, 1600, 25}};
        C = 64 * L;
        for (int i = 0; i < 5; i++) if (family[i][0] == L) { C = family[i][1]; if (NH == 0) NH = family[i][2]; }
    }
    if (NH == 0) NH = C % 64 == 0 ? C / 64 : 1;
    c->num_layers = (int)L;
    c->channels = (int)C;
    c->num_heads = (int)NH;
    c->max_seq_len = (int)vals[3];
    if (vals[4] < 2 || vals[4] > 65536) return bs_error_set(BS_EINVAL, "model spec '%s': vocabulary v%ld outside [2, 65536] (token files hold uint16 ids)", spec, vals[4]);
    c->vocab_size = (int)vals[4];
    c->padded_vocab_size = gpt2_padded_vocab((int)vals[4]);
    return gpt2_config_validate(c, spec);
}

// loads an llm.c checkpoint (fp32 v3, or bf16 v5 widened to fp32), or a coded model
// (.bsz, told apart by its magic: decoded and dequantized, llmc/bsz.h)
static inline int gpt2_load_checkpoint(GPT2* model, const char* path) {
    GPT2Config config;
    float* params = NULL;
    int rc = bsz_file_is_coded(path) ? bsz_read(path, &config, &params) : model_fp32_read(path, &config, &params);
    if (rc != BS_OK) return rc;
    gpt2_init_with_params(model, &config, params);
    return BS_OK;
}

// the model of a trainer's -e: a checkpoint file (llm.c's format or a .bsz, loaded as
// above) when `init` names a readable file, otherwise a spec like d6 initialised from
// `seed`. Sets *loaded to 1 for a file, 0 for a new model. The error names the flag.
static inline int gpt2_build_from_init(GPT2* model, const char* init, uint64_t seed, int* loaded) {
    struct stat st;
    if (stat(init, &st) == 0) {
        *loaded = 1;
        return gpt2_load_checkpoint(model, init);
    }
    int stat_errno = errno;
    GPT2Config c;
    *loaded = 0;
    if (gpt2_config_from_spec(init, &c) != BS_OK) {
        if (init[0] == 'd' && stat_errno == ENOENT) { // the spec's own message (its buffer is bs_error's)
            char why[BS_ERROR_MAX];
            snprintf(why, sizeof(why), "%s", bs_error());
            return bs_error_set(BS_EINVAL, "flag -e: %s", why);
        }
        return bs_error_set(BS_EINVAL, "flag -e: %s: not a readable checkpoint (%s), nor a model spec like d6", init,
                            strerror(stat_errno));
    }
    return gpt2_init_random(model, &c, seed);
}

static inline int gpt2_save_checkpoint(const GPT2* model, const char* path) {
    return model_fp32_write(path, &model->config, model->params_memory);
}

static inline void gpt2_free(GPT2* model) {
    free(model->params_memory);
    free(model->grads_memory);
    free(model->acts_memory);
    free(model->grads_acts_memory);
    free(model->inputs);
    free(model->targets);
    memset(model, 0, sizeof(*model));
}

static inline void gpt2_activation_sizes(const GPT2Config* c, int B, int T, size_t sizes[GPT2_NUM_ACTIVATION_TENSORS]) {
    size_t C = c->channels, NH = c->num_heads, L = c->num_layers, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    const size_t s[GPT2_NUM_ACTIVATION_TENSORS] = {
        BT * C, L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * BT * C, L * B * NH * T * T, L * B * NH * T * T,
        L * BT * C, L * BT * C, L * BT * C, L * BT, L * BT, L * BT * 4 * C, L * BT * 4 * C, L * BT * C,
        L * BT * C, BT * C, BT, BT, BT * Vp, BT * Vp, BT,
    };
    memcpy(sizes, s, sizeof(s));
}

static inline void gpt2_point_activations(GPT2Activations* a, float* base, const size_t sizes[GPT2_NUM_ACTIVATION_TENSORS]) {
    float** ptrs[GPT2_NUM_ACTIVATION_TENSORS] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->preatt, &a->att,
        &a->attproj, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->fcproj,
        &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->probs, &a->losses};
    for (int i = 0; i < GPT2_NUM_ACTIVATION_TENSORS; i++) {
        *ptrs[i] = base;
        base += sizes[i];
    }
}

// allocates the activations for batches of up to B x T (once; a later larger shape is an error)
static inline int gpt2_allocate(GPT2* model, int B, int T) {
    if (model->acts_memory != NULL) {
        if (B > model->batch_size || T > model->seq_len)
            return bs_error_set(BS_EINVAL, "batch %dx%d is larger than the %dx%d the model was set up for",
                                B, T, model->batch_size, model->seq_len);
        return BS_OK;
    }
    if (B < 1 || T < 1 || T > model->config.max_seq_len)
        return bs_error_set(BS_EINVAL, "batch %dx%d: B must be >= 1 and T in [1, max_seq_len %d]", B, T, model->config.max_seq_len);
    size_t sizes[GPT2_NUM_ACTIVATION_TENSORS], n = 0;
    gpt2_activation_sizes(&model->config, B, T, sizes);
    if (!model->use_reference_kernels) sizes[GPT2_ACT_PROBS] = 0; // the fast path keeps them in the logits
    for (int i = 0; i < GPT2_NUM_ACTIVATION_TENSORS; i++) n += sizes[i];
    model->acts_memory = (float*)malloc(n * sizeof(float));
    model->inputs = (int*)malloc((size_t)B * T * sizeof(int));
    model->targets = (int*)malloc((size_t)B * T * sizeof(int));
    if (model->acts_memory == NULL || model->inputs == NULL || model->targets == NULL)
        return bs_error_set(BS_ENOMEM, "out of memory for the activations (%zu floats, B=%d T=%d)", n, B, T);
    model->num_activations = n;
    model->batch_size = B;
    model->seq_len = T;
    gpt2_point_activations(&model->acts, model->acts_memory, sizes);
    model->probs_buffer = sizes[GPT2_ACT_PROBS] ? model->acts.probs : NULL;
    return BS_OK;
}

// matmuls through the fast path unless the reference kernels are asked for
static inline void gpt2_matmul_forward(const GPT2* m, float* out, const float* inp, const float* w, const float* b,
                                       int B, int T, int C, int OC) {
    if (m->use_reference_kernels) matmul_forward(out, inp, w, b, B, T, C, OC);
    else matmul_forward_fast(out, inp, w, b, B, T, C, OC);
}
static inline void gpt2_matmul_backward(const GPT2* m, float* dinp, float* dw, float* db, const float* dout,
                                        const float* inp, const float* w, int B, int T, int C, int OC) {
    if (m->use_reference_kernels) matmul_backward(dinp, dw, db, dout, inp, w, B, T, C, OC);
    else matmul_backward_fast(dinp, dw, db, dout, inp, w, B, T, C, OC);
}
static inline void gpt2_layernorm_backward(const GPT2* m, float* dinp, float* dw, float* db, const float* dout,
                                           const float* inp, const float* w, const float* mean, const float* rstd,
                                           int B, int T, int C) {
    if (m->use_reference_kernels) layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, B, T, C);
    else layernorm_backward_fast(dinp, dw, db, dout, inp, w, mean, rstd, B, T, C);
}

// The body of the forward pass: inputs (B,T) token ids -> the final hidden states
// model->acts.lnf (B,T,C), the output of the last LayerNorm. gpt2_forward adds the LM head
// (logits over the vocabulary, cross-entropy); the classifier (classifier.h) puts its own
// head on these states. targets (B,T) may be NULL; when given they are checked and kept
// for gpt2_backward. Token ids must be in [0, vocab_size).
static inline int gpt2_forward_hidden(GPT2* model, const int* inputs, const int* targets, int B, int T) {
    int rc = gpt2_allocate(model, B, T);
    if (rc != BS_OK) return rc;
    if (model->use_reference_kernels && model->probs_buffer == NULL)
        return bs_error_set(BS_EINVAL, "the reference kernels must be chosen before the first forward pass");
    model->acts.probs = model->use_reference_kernels ? model->probs_buffer : model->acts.logits;
    const GPT2Config* cfg = &model->config;
    int V = cfg->vocab_size, L = cfg->num_layers, NH = cfg->num_heads, C = cfg->channels;
    size_t BT = (size_t)B * T;
    for (size_t i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V || (targets != NULL && (targets[i] < 0 || targets[i] >= V)))
            return bs_error_set(BS_EINVAL, "token id %d at position %zu is outside the vocabulary [0, %d)",
                                inputs[i] < 0 || inputs[i] >= V ? inputs[i] : targets[i], i, V);
    }
    memcpy(model->inputs, inputs, BT * sizeof(int));
    if (targets != NULL) memcpy(model->targets, targets, BT * sizeof(int));
    model->has_targets = targets != NULL;
    model->last_B = B;
    model->last_T = T;

    // per-layer activations are packed densely for this (B, T)
    int ref = model->use_reference_kernels;
    GPT2Params p = model->params;
    GPT2Activations a = model->acts;
    size_t att_per_layer = (size_t)B * NH * T * T;
    encoder_forward(a.encoded, inputs, p.wte, p.wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float* residual = l == 0 ? a.encoded : a.residual3 + (size_t)(l - 1) * BT * C;
        float* ln1 = a.ln1 + l * BT * C;
        float* ln1_mean = a.ln1_mean + l * BT;
        float* ln1_rstd = a.ln1_rstd + l * BT;
        float* qkv = a.qkv + l * BT * 3 * C;
        float* atty = a.atty + l * BT * C;
        float* preatt = a.preatt + l * att_per_layer;
        float* att = a.att + l * att_per_layer;
        float* attproj = a.attproj + l * BT * C;
        float* residual2 = a.residual2 + l * BT * C;
        float* ln2 = a.ln2 + l * BT * C;
        float* ln2_mean = a.ln2_mean + l * BT;
        float* ln2_rstd = a.ln2_rstd + l * BT;
        float* fch = a.fch + l * BT * 4 * C;
        float* fch_gelu = a.fch_gelu + l * BT * 4 * C;
        float* fcproj = a.fcproj + l * BT * C;
        float* residual3 = a.residual3 + l * BT * C;
        layernorm_forward(ln1, ln1_mean, ln1_rstd, residual, p.ln1w + l * C, p.ln1b + l * C, B, T, C);
        gpt2_matmul_forward(model, qkv, ln1, p.qkvw + (size_t)l * 3 * C * C, p.qkvb + l * 3 * C, B, T, C, 3 * C);
        if (ref) attention_forward(atty, preatt, att, qkv, B, T, C, NH);
        else attention_forward_fast(atty, preatt, att, qkv, B, T, C, NH);
        gpt2_matmul_forward(model, attproj, atty, p.attprojw + (size_t)l * C * C, p.attprojb + l * C, B, T, C, C);
        residual_forward(residual2, residual, attproj, (int)(BT * C));
        layernorm_forward(ln2, ln2_mean, ln2_rstd, residual2, p.ln2w + l * C, p.ln2b + l * C, B, T, C);
        gpt2_matmul_forward(model, fch, ln2, p.fcw + (size_t)l * 4 * C * C, p.fcb + l * 4 * C, B, T, C, 4 * C);
        if (ref) gelu_forward(fch_gelu, fch, (int)(BT * 4 * C));
        else gelu_forward_fast(fch_gelu, fch, (int)(BT * 4 * C));
        gpt2_matmul_forward(model, fcproj, fch_gelu, p.fcprojw + (size_t)l * C * 4 * C, p.fcprojb + l * C, B, T, 4 * C, C);
        residual_forward(residual3, residual2, fcproj, (int)(BT * C));
    }
    const float* last = a.residual3 + (size_t)(L - 1) * BT * C;
    layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, last, p.lnfw, p.lnfb, B, T, C);
    model->mean_loss = -1.0f;
    return BS_OK;
}

// Forward pass over inputs (B,T) token ids. With targets (B,T) it also computes the
// per-position losses and model->mean_loss; targets may be NULL (inference: probs only).
// Token ids must be in [0, vocab_size): the data loader checks them when it reads a file.
static inline int gpt2_forward(GPT2* model, const int* inputs, const int* targets, int B, int T) {
    int rc = gpt2_forward_hidden(model, inputs, targets, B, T);
    if (rc != BS_OK) return rc;
    // the LM head: logits = lnf @ wte^T (tied embedding), softmax, cross-entropy
    int ref = model->use_reference_kernels;
    int V = model->config.vocab_size, Vp = model->config.padded_vocab_size, C = model->config.channels;
    size_t BT = (size_t)B * T;
    GPT2Activations a = model->acts;
    gpt2_matmul_forward(model, a.logits, a.lnf, model->params.wte, NULL, B, T, C, Vp);
    if (ref) {
        softmax_forward(a.probs, a.logits, B, T, V, Vp);
        if (targets != NULL) crossentropy_forward(a.losses, a.probs, targets, B, T, Vp);
    } else {
        softmax_crossentropy_forward_fast(a.logits, a.losses, targets, B, T, V, Vp); // probs == logits
    }
    if (targets != NULL) {
        double sum = 0.0;
        for (size_t i = 0; i < BT; i++) sum += a.losses[i];
        model->mean_loss = (float)(sum / (double)BT);
    } else {
        model->mean_loss = -1.0f;
    }
    return BS_OK;
}

static inline int gpt2_zero_grad(GPT2* model) {
    if (model->grads_memory == NULL) {
        model->grads_memory = (float*)calloc(model->num_params, sizeof(float));
        if (model->grads_memory == NULL) return bs_error_set(BS_ENOMEM, "out of memory for %zu gradients", model->num_params);
        gpt2_point_params(&model->grads, model->grads_memory, model->param_offsets);
        return BS_OK;
    }
    memset(model->grads_memory, 0, model->num_params * sizeof(float));
    return BS_OK;
}

// Sets up model->grads_acts (allocated once, zeroed) for a backward pass of the last
// forward pass's (B, T); allocates the parameter gradients on first use.
static inline int gpt2_backward_prepare(GPT2* model) {
    if (model->grads_memory == NULL) {
        int rc = gpt2_zero_grad(model);
        if (rc != BS_OK) return rc;
    }
    const GPT2Config* cfg = &model->config;
    int ref = model->use_reference_kernels;
    int B = model->last_B, T = model->last_T;
    // the activation gradients: no dprobs ever (the backward goes from the loss straight to
    // dlogits); the fast path has no dlogits either (written over the probabilities) and
    // no dpreatt/datt
    size_t sizes[GPT2_NUM_ACTIVATION_TENSORS], n = 0;
    gpt2_activation_sizes(cfg, B, T, sizes);
    sizes[GPT2_ACT_PROBS] = 0;
    if (!ref) sizes[GPT2_ACT_LOGITS] = sizes[GPT2_ACT_PREATT] = sizes[GPT2_ACT_ATT] = 0;
    for (int i = 0; i < GPT2_NUM_ACTIVATION_TENSORS; i++) n += sizes[i];
    if (model->grads_acts_capacity < n) {
        free(model->grads_acts_memory);
        model->grads_acts_memory = (float*)malloc(n * sizeof(float));
        model->grads_acts_capacity = model->grads_acts_memory != NULL ? n : 0;
        if (model->grads_acts_memory == NULL)
            return bs_error_set(BS_ENOMEM, "out of memory for the activation gradients (%zu floats)", n);
    }
    GPT2Activations da;
    gpt2_point_activations(&da, model->grads_acts_memory, sizes);
    memset(model->grads_acts_memory, 0, n * sizeof(float));
    model->grads_acts = da;
    return BS_OK;
}

// The body of the backward pass: from the gradient of the final hidden states,
// model->grads_acts.lnf (B,T,C), down through the blocks to the embeddings, ACCUMULATING
// into model->grads_memory. gpt2_backward fills grads_acts.lnf from the LM head, the
// classifier from its own head (after gpt2_backward_prepare).
static inline void gpt2_backward_hidden(GPT2* model) {
    const GPT2Config* cfg = &model->config;
    int ref = model->use_reference_kernels;
    int B = model->last_B, T = model->last_T;
    int L = cfg->num_layers, NH = cfg->num_heads, C = cfg->channels;
    size_t BT = (size_t)B * T;
    GPT2Params p = model->params, g = model->grads;
    GPT2Activations a = model->acts, da = model->grads_acts;
    size_t att_per_layer = (size_t)B * NH * T * T;
    float* last = a.residual3 + (size_t)(L - 1) * BT * C;
    float* dlast = da.residual3 + (size_t)(L - 1) * BT * C;
    gpt2_layernorm_backward(model, dlast, g.lnfw, g.lnfb, da.lnf, last, p.lnfw, a.lnf_mean, a.lnf_rstd, B, T, C);
    for (int l = L - 1; l >= 0; l--) {
        const float* residual = l == 0 ? a.encoded : a.residual3 + (size_t)(l - 1) * BT * C;
        float* dresidual = l == 0 ? da.encoded : da.residual3 + (size_t)(l - 1) * BT * C;
        size_t o1 = l * BT * C, o3 = l * BT * 3 * C, o4 = l * BT * 4 * C, om = l * BT, oa = l * att_per_layer;
        // MLP: residual3 = residual2 + fcproj(gelu(fc(ln2(residual2))))
        residual_backward(da.residual2 + o1, da.fcproj + o1, da.residual3 + o1, (int)(BT * C));
        gpt2_matmul_backward(model, da.fch_gelu + o4, g.fcprojw + (size_t)l * C * 4 * C, g.fcprojb + l * C, da.fcproj + o1,
                             a.fch_gelu + o4, p.fcprojw + (size_t)l * C * 4 * C, B, T, 4 * C, C);
        if (ref) gelu_backward(da.fch + o4, a.fch + o4, da.fch_gelu + o4, (int)(BT * 4 * C));
        else gelu_backward_fast(da.fch + o4, a.fch + o4, da.fch_gelu + o4, (int)(BT * 4 * C));
        gpt2_matmul_backward(model, da.ln2 + o1, g.fcw + (size_t)l * 4 * C * C, g.fcb + l * 4 * C, da.fch + o4,
                             a.ln2 + o1, p.fcw + (size_t)l * 4 * C * C, B, T, C, 4 * C);
        gpt2_layernorm_backward(model, da.residual2 + o1, g.ln2w + l * C, g.ln2b + l * C, da.ln2 + o1, a.residual2 + o1,
                                p.ln2w + l * C, a.ln2_mean + om, a.ln2_rstd + om, B, T, C);
        // attention: residual2 = residual + attproj(attention(qkv(ln1(residual))))
        residual_backward(dresidual, da.attproj + o1, da.residual2 + o1, (int)(BT * C));
        gpt2_matmul_backward(model, da.atty + o1, g.attprojw + (size_t)l * C * C, g.attprojb + l * C, da.attproj + o1,
                             a.atty + o1, p.attprojw + (size_t)l * C * C, B, T, C, C);
        if (ref) attention_backward(da.qkv + o3, da.preatt + oa, da.att + oa, da.atty + o1, a.qkv + o3, a.att + oa, B, T, C, NH);
        else attention_backward_fast(da.qkv + o3, NULL, NULL, da.atty + o1, a.qkv + o3, a.att + oa, B, T, C, NH);
        gpt2_matmul_backward(model, da.ln1 + o1, g.qkvw + (size_t)l * 3 * C * C, g.qkvb + l * 3 * C, da.qkv + o3,
                             a.ln1 + o1, p.qkvw + (size_t)l * 3 * C * C, B, T, C, 3 * C);
        gpt2_layernorm_backward(model, dresidual, g.ln1w + l * C, g.ln1b + l * C, da.ln1 + o1, residual,
                                p.ln1w + l * C, a.ln1_mean + om, a.ln1_rstd + om, B, T, C);
    }
    encoder_backward(g.wte, g.wpe, da.encoded, model->inputs, B, T, C);
}

// Backward pass of the last forward pass (which must have had targets), ACCUMULATING
// into model->grads_memory (call gpt2_zero_grad first); the loss is the mean over B*T.
static inline int gpt2_backward(GPT2* model) {
    if (!model->has_targets || model->acts_memory == NULL)
        return bs_error_set(BS_EINVAL, "backward needs a forward pass with targets first");
    int rc = gpt2_backward_prepare(model);
    if (rc != BS_OK) return rc;
    int ref = model->use_reference_kernels;
    int B = model->last_B, T = model->last_T;
    int V = model->config.vocab_size, Vp = model->config.padded_vocab_size, C = model->config.channels;
    size_t BT = (size_t)B * T;
    GPT2Activations a = model->acts, da = model->grads_acts;
    // d(mean loss)/d(loss at each position) = 1/(B*T)
    float dloss = 1.0f / (float)BT;
    for (size_t i = 0; i < BT; i++) da.losses[i] = dloss;
    float* dlogits = da.logits;
    if (ref) {
        crossentropy_softmax_backward(da.logits, da.losses, a.probs, model->targets, B, T, V, Vp);
    } else {
        crossentropy_softmax_backward_fast(a.probs, da.losses, model->targets, B, T, V, Vp);
        dlogits = a.probs; // the probabilities are gone from here on
        model->has_targets = 0;
    }
    gpt2_matmul_backward(model, da.lnf, model->grads.wte, NULL, dlogits, a.lnf, model->params.wte, B, T, C, Vp);
    gpt2_backward_hidden(model);
    return BS_OK;
}

// One AdamW step (adamw.h) over the whole model with the gradients scaled by grad_scale
// (the clipping factor): weight decay on the weight matrices and embeddings only
// (gpt2_param_is_matrix), none on biases and LayerNorm parameters. m, v: num_params each.
static inline void gpt2_adamw_step(GPT2* model, float* m, float* v, float lr, float beta1, float beta2, float eps,
                                   float weight_decay, float grad_scale, int t) {
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        size_t off = model->param_offsets[g], n = model->param_sizes[g];
        float wd = gpt2_param_is_matrix(g) ? weight_decay : 0.0f;
        adamw_update(model->params_memory + off, model->grads_memory + off, m + off, v + off, n, lr,
                     beta1, beta2, eps, wd, grad_scale, t);
    }
}

#endif // LLMC_GPT2_CPU_H
