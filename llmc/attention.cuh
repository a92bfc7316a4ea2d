/*
 attention.cuh: causal multi-head self-attention from the packed qkv activations,
 forward and backward, with cuBLAS strided-batched GEMMs and own softmax kernels.
   qkv (B, T, 3C) holds per position [q | k | v], each (NH, HS), C = NH * HS.
   forward   q, k, v = permute(qkv)                      (B, NH, T, HS) each
             preatt = q k^T / sqrt(HS)                   (B, NH, T, T) fp32 scratch
             att    = softmax over j <= i (causal)       (B, NH, T, T) floatX, kept for backward
             y      = att v, out = unpermute(y)          (B, T, C)
   backward  dy = permute(dout); datt = dy v^T; dv = att^T dy
             dpreatt[i,j] = att[i,j] (datt[i,j] - sum_k att[i,k] datt[i,k])   (j <= i, else 0)
             dq = dpreatt k / sqrt(HS); dk = dpreatt^T q / sqrt(HS); dqkv = permute back
 The backward writes dpreatt over att in place (att is not needed afterwards), so a
 layer's att buffer is consumed by its backward. Why not a fused (flash) kernel: this
 path is simple enough to be right without a GPU to test on; it stores T x T per head,
 which fits the 124M model at T = 1024 on one 80 GB GPU with micro-batch 16.

 The GEMM parameters (transposes, leading dimensions, strides over the B*NH heads) come
 from gemm_spec.h, where each is derived and which test_gemm_spec.c checks on the CPU.
*/
#ifndef LLMC_ATTENTION_CUH
#define LLMC_ATTENTION_CUH

#include "cuda_common.cuh"
#include "matmul.cuh"

// qkv (B, T, 3, NH, HS) -> q, k, v (B, NH, T, HS)
__global__ void attention_permute_kernel(floatX* q, floatX* k, floatX* v, const floatX* qkv, int B, int T, int NH, int HS) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * NH * T * HS) return;
    int d = (int)(idx % HS);
    size_t r = idx / HS;
    int t = (int)(r % T); r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    int C = NH * HS;
    size_t src = ((size_t)b * T + t) * 3 * C + (size_t)h * HS + d;
    q[idx] = qkv[src];
    k[idx] = qkv[src + C];
    v[idx] = qkv[src + 2 * C];
}

// y (B, NH, T, HS) -> out (B, T, NH, HS)
__global__ void attention_unpermute_kernel(floatX* out, const floatX* y, int B, int T, int NH, int HS) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * NH * T * HS) return;
    int d = (int)(idx % HS);
    size_t r = idx / HS;
    int t = (int)(r % T); r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    out[(((size_t)b * T + t) * NH + h) * HS + d] = y[idx];
}

// dout (B, T, NH, HS) -> dy (B, NH, T, HS)
__global__ void attention_permute_dout_kernel(floatX* dy, const floatX* dout, int B, int T, int NH, int HS) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * NH * T * HS) return;
    int d = (int)(idx % HS);
    size_t r = idx / HS;
    int t = (int)(r % T); r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    dy[idx] = dout[(((size_t)b * T + t) * NH + h) * HS + d];
}

// dq, dk, dv (B, NH, T, HS) -> dqkv (B, T, 3, NH, HS) (written, not accumulated)
__global__ void attention_unpermute_dqkv_kernel(floatX* dqkv, const floatX* dq, const floatX* dk, const floatX* dv, int B,
                                                int T, int NH, int HS) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * NH * T * HS) return;
    int d = (int)(idx % HS);
    size_t r = idx / HS;
    int t = (int)(r % T); r /= T;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    int C = NH * HS;
    size_t dst = ((size_t)b * T + t) * 3 * C + (size_t)h * HS + d;
    dqkv[dst] = dq[idx];
    dqkv[dst + C] = dk[idx];
    dqkv[dst + 2 * C] = dv[idx];
}

// one warp per row (b, h, i): att[i, j] = softmax_j<=i(preatt[i, j]), 0 above the diagonal
__global__ void attention_softmax_forward_kernel(floatX* att, const float* preatt, int rows, int T) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int i = row % T;
    const float* x = preatt + (size_t)row * T;
    floatX* y = att + (size_t)row * T;
    float mx = -INFINITY;
    for (int j = lane; j <= i; j += 32) mx = fmaxf(mx, x[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= i; j += 32) sum += expf(x[j] - mx);
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < T; j += 32) store_float(&y[j], j <= i ? expf(x[j] - mx) * inv : 0.0f);
}

// one warp per row, in place: att[i, j] <- att[i, j] (datt[i, j] - sum_k att[i, k] datt[i, k])
__global__ void attention_softmax_backward_kernel(floatX* att_to_dpreatt, const float* datt, int rows, int T) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int i = row % T;
    floatX* a = att_to_dpreatt + (size_t)row * T;
    const float* da = datt + (size_t)row * T;
    float dot = 0.0f;
    for (int j = lane; j <= i; j += 32) dot += to_float(a[j]) * da[j];
    dot = warp_sum(dot);
    // every lane has read its entries of the row before writing them (same j per lane)
    for (int j = lane; j < T; j += 32) store_float(&a[j], j <= i ? to_float(a[j]) * (da[j] - dot) : 0.0f);
}

// scratch buffers, each (B, NH, T, HS) unless noted
typedef struct {
    floatX *q, *k, *v, *y, *dk;
    float* preatt; // (B, NH, T, T): preatt in forward, datt in backward
} AttentionScratch;

// out (B, T, C); att (B, NH, T, T) is kept for the backward
static inline void attention_forward(CudaContext* ctx, floatX* out, floatX* att, const floatX* qkv, AttentionScratch* s,
                                     int B, int T, int C, int NH) {
    int HS = C / NH, rows = B * NH * T;
    size_t n = (size_t)B * T * C;
    const int block = 256;
    unsigned grid = (unsigned)CEIL_DIV(n, (size_t)block);
    attention_permute_kernel<<<grid, block, 0, ctx->stream>>>(s->q, s->k, s->v, qkv, B, T, NH, HS);
    cudaCheckLaunch();
    float scale = 1.0f / sqrtf((float)HS);
    GemmSpec g_pre = attention_preatt_spec(B, NH, T, HS, scale), g_y = attention_y_spec(B, NH, T, HS);
    gemm_run(ctx, &g_pre, s->k, s->q, s->preatt, CUDA_R_32F);
    attention_softmax_forward_kernel<<<(unsigned)CEIL_DIV(rows, block / 32), block, 0, ctx->stream>>>(att, s->preatt, rows, T);
    cudaCheckLaunch();
    gemm_run(ctx, &g_y, s->v, att, s->y, CUDA_R_FLOATX);
    attention_unpermute_kernel<<<grid, block, 0, ctx->stream>>>(out, s->y, B, T, NH, HS);
    cudaCheckLaunch();
}

// dqkv (B, T, 3C) written from dout (B, T, C); att is overwritten (consumed)
static inline void attention_backward(CudaContext* ctx, floatX* dqkv, const floatX* dout, const floatX* qkv, floatX* att,
                                      AttentionScratch* s, int B, int T, int C, int NH) {
    int HS = C / NH, rows = B * NH * T;
    size_t n = (size_t)B * T * C;
    const int block = 256;
    unsigned grid = (unsigned)CEIL_DIV(n, (size_t)block);
    float scale = 1.0f / sqrtf((float)HS);
    GemmSpec g_datt = attention_datt_spec(B, NH, T, HS), g_dv = attention_dv_spec(B, NH, T, HS);
    GemmSpec g_dq = attention_dq_spec(B, NH, T, HS, scale), g_dk = attention_dk_spec(B, NH, T, HS, scale);
    // q, k, v again from the layer's saved qkv (cheaper than keeping them per layer)
    attention_permute_kernel<<<grid, block, 0, ctx->stream>>>(s->q, s->k, s->v, qkv, B, T, NH, HS);
    cudaCheckLaunch();
    floatX* dy = s->y;
    attention_permute_dout_kernel<<<grid, block, 0, ctx->stream>>>(dy, dout, B, T, NH, HS);
    cudaCheckLaunch();
    float* datt = s->preatt;
    gemm_run(ctx, &g_datt, s->v, dy, datt, CUDA_R_32F);
    // dv overwrites v (v is not needed any more)
    floatX* dv = s->v;
    gemm_run(ctx, &g_dv, dy, att, dv, CUDA_R_FLOATX);
    attention_softmax_backward_kernel<<<(unsigned)CEIL_DIV(rows, block / 32), block, 0, ctx->stream>>>(att, datt, rows, T);
    cudaCheckLaunch();
    const floatX* dpreatt = att;
    // dq into dy's buffer (dy is used up)
    floatX* dq = dy;
    floatX* dk = s->dk;
    gemm_run(ctx, &g_dq, s->k, dpreatt, dq, CUDA_R_FLOATX);
    gemm_run(ctx, &g_dk, s->q, dpreatt, dk, CUDA_R_FLOATX);
    attention_unpermute_dqkv_kernel<<<grid, block, 0, ctx->stream>>>(dqkv, dq, dk, dv, B, T, NH, HS);
    cudaCheckLaunch();
}

#endif // LLMC_ATTENTION_CUH
