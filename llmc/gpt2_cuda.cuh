/*
 gpt2_cuda.cuh: GPT-2 on one GPU: parameters, gradients, optimizer state, activations,
 and the forward, backward and fused AdamW+DGGR update, built from the layer kernels in
 the llmc/ .cuh headers. The same model as the CPU reference (llmc/gpt2_cpu.h): parameters in
 gpt2_params.h's flat layout, so checkpoints and training states move between the two.

 Memory (floatX unless noted):
   master (fp32), params (floatX copy; the same array in the fp32 build), grads (fp32,
   so that many micro-steps accumulate without bf16 rounding), m, v (fp32)   num_params each
   per layer (kept for the backward): ln1, qkv, atty, att (B, NH, T, T), residual2,
   ln2, fch, fch_gelu, residual3, LayerNorm mean/rstd (fp32)
   scratch shared by the layers: q, k, v, y, dk, preatt (fp32, B NH T T), one (B,T,C)
   projection output, dresidual, dbuffers, and the column-reduction partials.
 A micro-step is forward (with dloss = 1 / (B T accum) the fused classifier leaves
 dlogits in the logits buffer) then backward, which adds into grads; the trainer zeroes
 grads once per step. The backward consumes each layer's att (attention.cuh).
*/
#ifndef LLMC_GPT2_CUDA_CUH
#define LLMC_GPT2_CUDA_CUH

#include "cuda_common.cuh"
#include "gpt2_params.h"
#include "token_buckets.h"
#include "encoder.cuh"
#include "layernorm.cuh"
#include "matmul.cuh"
#include "attention.cuh"
#include "gelu.cuh"
#include "residual.cuh"
#include "fused_classifier.cuh"
#include "global_norm.cuh"
#include "adamw_dggr.cuh"
#include "adamw.h"

typedef struct {
    floatX* encoded;                 // (B, T, C)
    floatX* ln1;                     // (L, B, T, C)
    float *ln1_mean, *ln1_rstd;      // (L, B, T)
    floatX* qkv;                     // (L, B, T, 3C)
    floatX* atty;                    // (L, B, T, C)
    floatX* att;                     // (L, B, NH, T, T)
    floatX* residual2;               // (L, B, T, C)
    floatX* ln2;                     // (L, B, T, C)
    float *ln2_mean, *ln2_rstd;      // (L, B, T)
    floatX* fch;                     // (L, B, T, 4C)
    floatX* fch_gelu;                // (L, B, T, 4C)
    floatX* residual3;               // (L, B, T, C)
    floatX* lnf;                     // (B, T, C)
    float *lnf_mean, *lnf_rstd;      // (B, T)
    floatX* logits;                  // (B, T, Vp); dlogits after a forward with dloss != 0
    float* losses;                   // (B, T)
    float* last_logits;              // (Vp) fp32: one position's logits for sampling (gpt2cuda_get_last_logits)
    // scratch
    floatX* proj;                    // (B, T, C) attention / MLP projection before the residual add
    floatX* dresidual;               // (B, T, C) gradient of the residual stream
    floatX* dbuf;                    // (B, T, C)
    floatX* dqkv;                    // (B, T, 3C)
    floatX* dfch;                    // (B, T, 4C)
    AttentionScratch attn;
    float* reduce_scratch;           // column_reduce_scratch_floats(4C)
    float* norm_partials;            // GLOBAL_NORM_BLOCKS
    float* norm_out;                 // 1
    int *inputs, *targets;           // (B, T)
    int *bucket_tokens, *bucket_starts, *bucket_positions;
} GPT2CudaActs;

typedef struct {
    GPT2Config config;
    size_t param_sizes[GPT2_NUM_PARAM_TENSORS], param_offsets[GPT2_NUM_PARAM_TENSORS], num_params;
    float* master;                   // fp32 master weights (device)
    floatX* params;                  // the weights the layers read (== master in the fp32 build)
    float* grads;                    // fp32: micro-steps accumulate into them without rounding
    float *m, *v;                    // AdamW moments (fp32)
    floatX* p[GPT2_NUM_PARAM_TENSORS]; // tensor views into params
    float* g[GPT2_NUM_PARAM_TENSORS];  // and into grads
    int B, T;                        // the allocated batch shape (a call may use T' <= T)
    int cur_B, cur_T;                // the shape of the last forward
    int has_targets;
    GPT2CudaActs acts;
    TokenBuckets buckets;            // of the last forward's inputs (host)
    DGGR dggr;                       // dggr.h's state: tensors, chunks, shapes, the last step's statistics
    AdamWDggrDevice opt;             // its device half
    float* h_losses;                 // pinned (B, T)
    CudaContext* ctx;
} GPT2Cuda;

static inline void* gpt2cuda_alloc(size_t count, size_t elem, const char* what, size_t* total) {
    *total += count * elem;
    return cuda_malloc(count * elem, what);
}

// Creates the model on the device from host parameters (gpt2_num_params floats) for
// batches up to (B, T), with BackSlash's settings (dggr.h; lambda = 0: plain AdamW), and
// measures the weights' moments for the first step's shape.
static inline void gpt2cuda_init(GPT2Cuda* model, CudaContext* ctx, const GPT2Config* config, const float* params_host,
                                 int B, int T, const DGGRConfig* dggr_config) {
    memset(model, 0, sizeof(*model));
    model->ctx = ctx;
    model->config = *config;
    if (gpt2_config_validate(config, "gpt2cuda_init") != BS_OK) die("%s", bs_error());
    if (T < 1 || T > config->max_seq_len) die("sequence length %d outside [1, %d]", T, config->max_seq_len);
    if (B < 1) die("batch size %d must be >= 1", B);
    gpt2_param_sizes(config, model->param_sizes);
    gpt2_param_offsets(config, model->param_offsets);
    size_t n = model->num_params = gpt2_num_params(config);
    size_t total = 0;
    model->master = (float*)gpt2cuda_alloc(n, sizeof(float), "the fp32 master weights", &total);
#ifdef ENABLE_FP32
    model->params = model->master;
#else
    model->params = (floatX*)gpt2cuda_alloc(n, sizeof(floatX), "the bf16 weights", &total);
#endif
    model->grads = (float*)gpt2cuda_alloc(n, sizeof(float), "the gradients", &total);
    model->m = (float*)gpt2cuda_alloc(n, sizeof(float), "AdamW's m", &total);
    model->v = (float*)gpt2cuda_alloc(n, sizeof(float), "AdamW's v", &total);
    cudaCheck(cudaMemset(model->m, 0, n * sizeof(float)));
    cudaCheck(cudaMemset(model->v, 0, n * sizeof(float)));
    cudaCheck(cudaMemset(model->grads, 0, n * sizeof(float)));
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        model->p[i] = model->params + model->param_offsets[i];
        model->g[i] = model->grads + model->param_offsets[i];
    }

    size_t L = (size_t)config->num_layers, C = (size_t)config->channels, NH = (size_t)config->num_heads;
    size_t Vp = (size_t)config->padded_vocab_size, BT = (size_t)B * T;
    GPT2CudaActs* a = &model->acts;
    a->encoded = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "activations (encoded)", &total);
    a->ln1 = (floatX*)gpt2cuda_alloc(L * BT * C, sizeof(floatX), "activations (ln1)", &total);
    a->ln1_mean = (float*)gpt2cuda_alloc(L * BT, sizeof(float), "activations (ln1 mean)", &total);
    a->ln1_rstd = (float*)gpt2cuda_alloc(L * BT, sizeof(float), "activations (ln1 rstd)", &total);
    a->qkv = (floatX*)gpt2cuda_alloc(L * BT * 3 * C, sizeof(floatX), "activations (qkv)", &total);
    a->atty = (floatX*)gpt2cuda_alloc(L * BT * C, sizeof(floatX), "activations (atty)", &total);
    a->att = (floatX*)gpt2cuda_alloc(L * B * NH * T * T, sizeof(floatX), "activations (att)", &total);
    a->residual2 = (floatX*)gpt2cuda_alloc(L * BT * C, sizeof(floatX), "activations (residual2)", &total);
    a->ln2 = (floatX*)gpt2cuda_alloc(L * BT * C, sizeof(floatX), "activations (ln2)", &total);
    a->ln2_mean = (float*)gpt2cuda_alloc(L * BT, sizeof(float), "activations (ln2 mean)", &total);
    a->ln2_rstd = (float*)gpt2cuda_alloc(L * BT, sizeof(float), "activations (ln2 rstd)", &total);
    a->fch = (floatX*)gpt2cuda_alloc(L * BT * 4 * C, sizeof(floatX), "activations (fch)", &total);
    a->fch_gelu = (floatX*)gpt2cuda_alloc(L * BT * 4 * C, sizeof(floatX), "activations (fch_gelu)", &total);
    a->residual3 = (floatX*)gpt2cuda_alloc(L * BT * C, sizeof(floatX), "activations (residual3)", &total);
    a->lnf = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "activations (lnf)", &total);
    a->lnf_mean = (float*)gpt2cuda_alloc(BT, sizeof(float), "activations (lnf mean)", &total);
    a->lnf_rstd = (float*)gpt2cuda_alloc(BT, sizeof(float), "activations (lnf rstd)", &total);
    a->logits = (floatX*)gpt2cuda_alloc(BT * Vp, sizeof(floatX), "activations (logits)", &total);
    a->losses = (float*)gpt2cuda_alloc(BT, sizeof(float), "activations (losses)", &total);
    a->last_logits = (float*)gpt2cuda_alloc(Vp, sizeof(float), "one position's logits", &total);
    a->proj = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (projection)", &total);
    a->dresidual = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (dresidual)", &total);
    a->dbuf = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (dbuf)", &total);
    a->dqkv = (floatX*)gpt2cuda_alloc(BT * 3 * C, sizeof(floatX), "scratch (dqkv)", &total);
    a->dfch = (floatX*)gpt2cuda_alloc(BT * 4 * C, sizeof(floatX), "scratch (dfch)", &total);
    a->attn.q = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (q)", &total);
    a->attn.k = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (k)", &total);
    a->attn.v = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (v)", &total);
    a->attn.y = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (y)", &total);
    a->attn.dk = (floatX*)gpt2cuda_alloc(BT * C, sizeof(floatX), "scratch (dk)", &total);
    a->attn.preatt = (float*)gpt2cuda_alloc((size_t)B * NH * T * T, sizeof(float), "scratch (preatt)", &total);
    a->reduce_scratch = (float*)gpt2cuda_alloc(column_reduce_scratch_floats((int)(4 * C)), sizeof(float),
                                               "scratch (column sums)", &total);
    a->norm_partials = (float*)gpt2cuda_alloc(GLOBAL_NORM_BLOCKS, sizeof(float), "scratch (norm)", &total);
    a->norm_out = (float*)gpt2cuda_alloc(1, sizeof(float), "scratch (norm)", &total);
    a->inputs = (int*)gpt2cuda_alloc(BT, sizeof(int), "inputs", &total);
    a->targets = (int*)gpt2cuda_alloc(BT, sizeof(int), "targets", &total);
    a->bucket_tokens = (int*)gpt2cuda_alloc(BT, sizeof(int), "token buckets", &total);
    a->bucket_starts = (int*)gpt2cuda_alloc(BT + 1, sizeof(int), "token buckets", &total);
    a->bucket_positions = (int*)gpt2cuda_alloc(BT, sizeof(int), "token buckets", &total);
    cudaCheck(cudaMallocHost((void**)&model->h_losses, BT * sizeof(float)));
    if (token_buckets_init(&model->buckets, (int)BT, config->padded_vocab_size) != BS_OK) die("%s", bs_error());
    model->B = B;
    model->T = T;

    if (dggr_init_gpt2(&model->dggr, dggr_config, config) != BS_OK) die("%s", bs_error());
    adamw_dggr_device_init(&model->opt, &model->dggr);

    cudaCheck(cudaMemcpy(model->master, params_host, n * sizeof(float), cudaMemcpyHostToDevice));
#ifndef ENABLE_FP32
    copy_float_to_floatx_kernel<<<(unsigned)CEIL_DIV(n, (size_t)256), 256, 0, ctx->stream>>>(model->params, model->master, n);
    cudaCheckLaunch();
#endif
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    adamw_dggr_measure(ctx, &model->opt, &model->dggr, model->master);
    printf("gpt2cuda: %zu parameters, %s, B=%d T=%d: %.1f MiB on the device\n", n, FLOATX_NAME, B, T, total / 1048576.0);
}

static inline void gpt2cuda_free(GPT2Cuda* model) {
    cudaCheck(cudaStreamSynchronize(model->ctx->stream));
    GPT2CudaActs* a = &model->acts;
    void* ptrs[] = {a->encoded, a->ln1, a->ln1_mean, a->ln1_rstd, a->qkv, a->atty, a->att, a->residual2, a->ln2,
                    a->ln2_mean, a->ln2_rstd, a->fch, a->fch_gelu, a->residual3, a->lnf, a->lnf_mean, a->lnf_rstd,
                    a->logits, a->losses, a->last_logits, a->proj, a->dresidual, a->dbuf, a->dqkv, a->dfch, a->attn.q, a->attn.k,
                    a->attn.v, a->attn.y, a->attn.dk, a->attn.preatt, a->reduce_scratch, a->norm_partials,
                    a->norm_out, a->inputs, a->targets, a->bucket_tokens, a->bucket_starts, a->bucket_positions,
                    model->master, model->grads, model->m, model->v};
    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) cudaCheck(cudaFree(ptrs[i]));
#ifndef ENABLE_FP32
    cudaCheck(cudaFree(model->params));
#endif
    cudaCheck(cudaFreeHost(model->h_losses));
    token_buckets_free(&model->buckets);
    adamw_dggr_device_free(&model->opt);
    dggr_free(&model->dggr);
    memset(model, 0, sizeof(*model));
}

// Forward over inputs (B', T') with B' <= B, T' <= T, host arrays of token ids.
// targets (host, or NULL for logits only): the per-position losses are computed.
//   dloss == 0 (evaluation): synchronizes and returns the mean loss (NAN without targets).
//   dloss != 0 (training): the logits buffer then holds dlogits for the backward; returns
//   at once (NAN) without waiting for the GPU, and gpt2cuda_backward returns the loss.
// the mean of the last forward's losses, once the stream has been synchronized
static inline float gpt2cuda_mean_loss(const GPT2Cuda* model) {
    int BT = model->cur_B * model->cur_T;
    double sum = 0.0;
    for (int i = 0; i < BT; i++) sum += model->h_losses[i];
    return (float)(sum / BT);
}

static inline float gpt2cuda_forward(GPT2Cuda* model, const int* inputs, const int* targets, int B, int T, float dloss) {
    CudaContext* ctx = model->ctx;
    const GPT2Config* cf = &model->config;
    if (B < 1 || B > model->B || T < 1 || T > model->T) die("forward: batch (%d, %d) outside the allocated (%d, %d)", B, T, model->B, model->T);
    int L = cf->num_layers, C = cf->channels, NH = cf->num_heads, V = cf->vocab_size, Vp = cf->padded_vocab_size;
    int BT = B * T;
    for (int i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V) die("forward: input token %d at position %d outside [0, %d)", inputs[i], i, V);
        if (targets != NULL && (targets[i] < 0 || targets[i] >= V))
            die("forward: target token %d at position %d outside [0, %d)", targets[i], i, V);
    }
    GPT2CudaActs* a = &model->acts;
    floatX** p = model->p;
    model->cur_B = B;
    model->cur_T = T;
    model->has_targets = targets != NULL;
    // (copies from pageable memory: the call returns once the host array has been read)
    cudaCheck(cudaMemcpyAsync(a->inputs, inputs, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, ctx->stream));
    if (targets != NULL)
        cudaCheck(cudaMemcpyAsync(a->targets, targets, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, ctx->stream));

    size_t btc = (size_t)BT * C;
    encoder_forward(ctx, a->encoded, a->inputs, p[GPT2_WTE], p[GPT2_WPE], B, T, C);
    for (int l = 0; l < L; l++) {
        const floatX* residual = l == 0 ? a->encoded : a->residual3 + (size_t)(l - 1) * btc;
        floatX* ln1 = a->ln1 + l * btc;
        float* ln1_mean = a->ln1_mean + (size_t)l * BT;
        float* ln1_rstd = a->ln1_rstd + (size_t)l * BT;
        floatX* qkv = a->qkv + l * 3 * btc;
        floatX* atty = a->atty + l * btc;
        floatX* att = a->att + (size_t)l * B * NH * T * T;
        floatX* residual2 = a->residual2 + l * btc;
        floatX* ln2 = a->ln2 + l * btc;
        float* ln2_mean = a->ln2_mean + (size_t)l * BT;
        float* ln2_rstd = a->ln2_rstd + (size_t)l * BT;
        floatX* fch = a->fch + l * 4 * btc;
        floatX* fch_gelu = a->fch_gelu + l * 4 * btc;
        floatX* residual3 = a->residual3 + l * btc;
        size_t c = (size_t)C;
        layernorm_forward(ctx, ln1, ln1_mean, ln1_rstd, residual, p[GPT2_LN1W] + l * c, p[GPT2_LN1B] + l * c, BT, C);
        matmul_forward(ctx, qkv, ln1, p[GPT2_QKVW] + l * 3 * c * c, p[GPT2_QKVB] + l * 3 * c, BT, C, 3 * C);
        attention_forward(ctx, atty, att, qkv, &a->attn, B, T, C, NH);
        matmul_forward(ctx, a->proj, atty, p[GPT2_ATTPROJW] + l * c * c, p[GPT2_ATTPROJB] + l * c, BT, C, C);
        residual_forward(ctx, residual2, residual, a->proj, btc);
        layernorm_forward(ctx, ln2, ln2_mean, ln2_rstd, residual2, p[GPT2_LN2W] + l * c, p[GPT2_LN2B] + l * c, BT, C);
        matmul_forward(ctx, fch, ln2, p[GPT2_FCW] + l * 4 * c * c, p[GPT2_FCB] + l * 4 * c, BT, C, 4 * C);
        gelu_forward(ctx, fch_gelu, fch, 4 * btc);
        matmul_forward(ctx, a->proj, fch_gelu, p[GPT2_FCPROJW] + l * 4 * c * c, p[GPT2_FCPROJB] + l * c, BT, 4 * C, C);
        residual_forward(ctx, residual3, residual2, a->proj, btc);
    }
    const floatX* last = a->residual3 + (size_t)(L - 1) * btc;
    layernorm_forward(ctx, a->lnf, a->lnf_mean, a->lnf_rstd, last, p[GPT2_LNFW], p[GPT2_LNFB], BT, C);
    matmul_forward(ctx, a->logits, a->lnf, p[GPT2_WTE], NULL, BT, C, Vp);
    if (targets != NULL) {
        fused_classifier(ctx, a->logits, a->losses, a->targets, dloss, BT, V, Vp);
        cudaCheck(cudaMemcpyAsync(model->h_losses, a->losses, (size_t)BT * sizeof(float), cudaMemcpyDeviceToHost,
                                  ctx->stream));
    }
    // the embedding backward's buckets, built on the host while the GPU runs the forward
    if (token_buckets_build(&model->buckets, inputs, BT) != BS_OK) die("%s", bs_error());
    if (targets != NULL && dloss != 0.0f) return NAN; // training: the backward returns the loss
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    return targets != NULL ? gpt2cuda_mean_loss(model) : NAN;
}

// zeroes the gradients (once per optimizer step, before the first micro-step)
static inline void gpt2cuda_zero_grad(GPT2Cuda* model) {
    cudaCheck(cudaMemsetAsync(model->grads, 0, model->num_params * sizeof(float), model->ctx->stream));
}

// Backward of the last forward (which had targets and dloss != 0): adds into grads.
// Synchronizes; returns that forward's mean loss.
static inline float gpt2cuda_backward(GPT2Cuda* model) {
    CudaContext* ctx = model->ctx;
    const GPT2Config* cf = &model->config;
    if (!model->has_targets) die("backward: the last forward had no targets");
    int B = model->cur_B, T = model->cur_T;
    int L = cf->num_layers, C = cf->channels, NH = cf->num_heads, Vp = cf->padded_vocab_size;
    int BT = B * T;
    size_t btc = (size_t)BT * C, c = (size_t)C;
    GPT2CudaActs* a = &model->acts;
    floatX** p = model->p;
    float** g = model->g;
    float* rs = a->reduce_scratch;

    cudaCheck(cudaMemsetAsync(a->dresidual, 0, btc * sizeof(floatX), ctx->stream));
    // classifier (tied with wte): logits = lnf @ wte^T
    matmul_backward(ctx, a->dbuf, g[GPT2_WTE], NULL, a->logits, a->lnf, p[GPT2_WTE], BT, C, Vp, rs);
    const floatX* last = a->residual3 + (size_t)(L - 1) * btc;
    layernorm_backward(ctx, a->dresidual, g[GPT2_LNFW], g[GPT2_LNFB], a->dbuf, last, p[GPT2_LNFW], a->lnf_mean, a->lnf_rstd,
                       BT, C, rs);
    for (int l = L - 1; l >= 0; l--) {
        const floatX* residual = l == 0 ? a->encoded : a->residual3 + (size_t)(l - 1) * btc;
        floatX* ln1 = a->ln1 + l * btc;
        float* ln1_mean = a->ln1_mean + (size_t)l * BT;
        float* ln1_rstd = a->ln1_rstd + (size_t)l * BT;
        floatX* qkv = a->qkv + l * 3 * btc;
        floatX* atty = a->atty + l * btc;
        floatX* att = a->att + (size_t)l * B * NH * T * T;
        floatX* residual2 = a->residual2 + l * btc;
        floatX* ln2 = a->ln2 + l * btc;
        float* ln2_mean = a->ln2_mean + (size_t)l * BT;
        float* ln2_rstd = a->ln2_rstd + (size_t)l * BT;
        floatX* fch = a->fch + l * 4 * btc;
        floatX* fch_gelu = a->fch_gelu + l * 4 * btc;
        // dresidual holds d(residual3): it flows unchanged to residual2 and into the MLP projection
        matmul_backward(ctx, a->dfch, g[GPT2_FCPROJW] + l * 4 * c * c, g[GPT2_FCPROJB] + l * c, a->dresidual, fch_gelu,
                        p[GPT2_FCPROJW] + l * 4 * c * c, BT, 4 * C, C, rs);
        gelu_backward(ctx, a->dfch, fch, a->dfch, 4 * btc);
        matmul_backward(ctx, a->dbuf, g[GPT2_FCW] + l * 4 * c * c, g[GPT2_FCB] + l * 4 * c, a->dfch, ln2,
                        p[GPT2_FCW] + l * 4 * c * c, BT, C, 4 * C, rs);
        layernorm_backward(ctx, a->dresidual, g[GPT2_LN2W] + l * c, g[GPT2_LN2B] + l * c, a->dbuf, residual2,
                           p[GPT2_LN2W] + l * c, ln2_mean, ln2_rstd, BT, C, rs);
        // dresidual now holds d(residual2): to the residual and into the attention projection
        matmul_backward(ctx, a->dbuf, g[GPT2_ATTPROJW] + l * c * c, g[GPT2_ATTPROJB] + l * c, a->dresidual, atty,
                        p[GPT2_ATTPROJW] + l * c * c, BT, C, C, rs);
        attention_backward(ctx, a->dqkv, a->dbuf, qkv, att, &a->attn, B, T, C, NH);
        matmul_backward(ctx, a->dbuf, g[GPT2_QKVW] + l * 3 * c * c, g[GPT2_QKVB] + l * 3 * c, a->dqkv, ln1,
                        p[GPT2_QKVW] + l * 3 * c * c, BT, C, 3 * C, rs);
        layernorm_backward(ctx, a->dresidual, g[GPT2_LN1W] + l * c, g[GPT2_LN1B] + l * c, a->dbuf, residual,
                           p[GPT2_LN1W] + l * c, ln1_mean, ln1_rstd, BT, C, rs);
    }
    const TokenBuckets* tb = &model->buckets;
    cudaCheck(cudaMemcpyAsync(a->bucket_tokens, tb->tokens, (size_t)tb->num_unique * sizeof(int), cudaMemcpyHostToDevice, ctx->stream));
    cudaCheck(cudaMemcpyAsync(a->bucket_starts, tb->starts, ((size_t)tb->num_unique + 1) * sizeof(int), cudaMemcpyHostToDevice, ctx->stream));
    cudaCheck(cudaMemcpyAsync(a->bucket_positions, tb->positions, (size_t)BT * sizeof(int), cudaMemcpyHostToDevice, ctx->stream));
    encoder_backward(ctx, g[GPT2_WTE], g[GPT2_WPE], a->dresidual, a->bucket_tokens, a->bucket_starts, a->bucket_positions,
                     tb->num_unique, B, T, C);
    // the host buckets are rebuilt by the next forward, and the losses are read now
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    return gpt2cuda_mean_loss(model);
}

// the L2 norm of the gradient (synchronizes)
static inline float gpt2cuda_grad_norm(GPT2Cuda* model) {
    GPT2CudaActs* a = &model->acts;
    global_norm_squared(model->ctx, a->norm_out, model->grads, model->num_params, a->norm_partials);
    float sq = 0.0f;
    cudaCheck(cudaMemcpyAsync(&sq, a->norm_out, sizeof(float), cudaMemcpyDeviceToHost, model->ctx->stream));
    cudaCheck(cudaStreamSynchronize(model->ctx->stream));
    return sqrtf(sq);
}

// the low-precision copy of the weights the optimizer writes beside the fp32 master
// weights (bf16 build), or NULL where the layers read the master weights (fp32 build)
static inline floatX* gpt2cuda_weight_copy(GPT2Cuda* model) {
#ifdef ENABLE_FP32
    (void)model;
    return NULL;
#else
    return model->params;
#endif
}

// One optimizer step t (1-based) on the accumulated gradients: the gradient norm, the
// clipping factor for grad_clip (0: none; as adamw.h's grad_clip_scale), then the fused
// AdamW+DGGR update (adamw_dggr.cuh) with dggr_step's arguments. Afterwards model->dggr
// holds the step's rate and the new weights' shape, zero fraction and bits/param, as
// dggr_step leaves them on the CPU. Returns the gradient norm before clipping.
static inline float gpt2cuda_update(GPT2Cuda* model, float lr, float beta1, float beta2, float eps, float weight_decay,
                                    float grad_clip, int t, int with_rate) {
    float norm = gpt2cuda_grad_norm(model);
    float grad_scale = grad_clip_scale((double)norm, grad_clip);
    floatX* copy = gpt2cuda_weight_copy(model);
    adamw_dggr_step(model->ctx, &model->opt, &model->dggr, model->master, copy, model->grads, model->m, model->v, lr,
                    beta1, beta2, eps, weight_decay, grad_scale, t, with_rate);
    return norm;
}

// ----------------------------------------------------------------------------
// copies between the device and host arrays of num_params floats

static inline void gpt2cuda_get_params(GPT2Cuda* model, float* host) {
    cudaCheck(cudaMemcpy(host, model->master, model->num_params * sizeof(float), cudaMemcpyDeviceToHost));
}

// new weights (e.g. from a checkpoint); measures their moments for the next step's shape
// (a resumed run then overwrites them with the saved ones: dggr_state_read)
static inline void gpt2cuda_set_params(GPT2Cuda* model, const float* host) {
    size_t n = model->num_params;
    cudaCheck(cudaMemcpy(model->master, host, n * sizeof(float), cudaMemcpyHostToDevice));
#ifndef ENABLE_FP32
    copy_float_to_floatx_kernel<<<(unsigned)CEIL_DIV(n, (size_t)256), 256, 0, model->ctx->stream>>>(model->params, model->master, n);
    cudaCheckLaunch();
#endif
    adamw_dggr_measure(model->ctx, &model->opt, &model->dggr, model->master);
}

static inline void gpt2cuda_get_opt_state(GPT2Cuda* model, float* m_host, float* v_host) {
    cudaCheck(cudaMemcpy(m_host, model->m, model->num_params * sizeof(float), cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(v_host, model->v, model->num_params * sizeof(float), cudaMemcpyDeviceToHost));
}

static inline void gpt2cuda_set_opt_state(GPT2Cuda* model, const float* m_host, const float* v_host) {
    cudaCheck(cudaMemcpy(model->m, m_host, model->num_params * sizeof(float), cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(model->v, v_host, model->num_params * sizeof(float), cudaMemcpyHostToDevice));
}

// a floatX device array as host floats (count values); scratch: count device floats
static inline void gpt2cuda_floatx_to_host(CudaContext* ctx, float* host, const floatX* dev, size_t count, float* scratch) {
#ifdef ENABLE_FP32
    (void)scratch;
    cudaCheck(cudaMemcpyAsync(host, dev, count * sizeof(float), cudaMemcpyDeviceToHost, ctx->stream));
#else
    copy_floatx_to_float_kernel<<<(unsigned)CEIL_DIV(count, (size_t)256), 256, 0, ctx->stream>>>(scratch, dev, count);
    cudaCheckLaunch();
    cudaCheck(cudaMemcpyAsync(host, scratch, count * sizeof(float), cudaMemcpyDeviceToHost, ctx->stream));
#endif
    cudaCheck(cudaStreamSynchronize(ctx->stream));
}

// the gradients as host floats (num_params)
static inline void gpt2cuda_get_grads(GPT2Cuda* model, float* host) {
    cudaCheck(cudaMemcpy(host, model->grads, model->num_params * sizeof(float), cudaMemcpyDeviceToHost));
}

// the logits of position (b, cur_T - 1) of the last forward without targets (or with
// dloss == 0): Vp floats, what sampling needs per token, through a buffer allocated once
static inline void gpt2cuda_get_last_logits(GPT2Cuda* model, int b, float* host) {
    int Vp = model->config.padded_vocab_size;
    if (b < 0 || b >= model->cur_B) die("gpt2cuda_get_last_logits: row %d outside the last batch of %d", b, model->cur_B);
    const floatX* row = model->acts.logits + ((size_t)b * model->cur_T + (size_t)(model->cur_T - 1)) * Vp;
    gpt2cuda_floatx_to_host(model->ctx, host, row, (size_t)Vp, model->acts.last_logits);
}

// the logits of the last forward without targets (or with dloss == 0): (B', T', Vp) floats.
// For the tests: allocates a device copy of them all each call (sampling: gpt2cuda_get_last_logits).
static inline void gpt2cuda_get_logits(GPT2Cuda* model, float* host) {
    size_t count = (size_t)model->cur_B * model->cur_T * model->config.padded_vocab_size;
    float* scratch = NULL;
#ifndef ENABLE_FP32
    scratch = (float*)cuda_malloc(count * sizeof(float), "a logits copy");
#endif
    gpt2cuda_floatx_to_host(model->ctx, host, model->acts.logits, count, scratch);
    if (scratch != NULL) cudaCheck(cudaFree(scratch));
}

#endif // LLMC_GPT2_CUDA_CUH
