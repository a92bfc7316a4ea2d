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

 GEMM shapes (column-major view of row-major arrays, per head h of batch b):
   preatt^T (T x T) = k (HS x T as stored, op T) x q (HS x T)       m=T,  n=T, k=HS
   y^T     (HS x T) = v (HS x T) x att^T (T x T as stored)            m=HS, n=T, k=T
   datt^T  (T x T)  = v (op T) x dy                                   m=T,  n=T, k=HS
   dv^T    (HS x T) = dy x att (as stored, op T)                      m=HS, n=T, k=T
   dq^T    (HS x T) = k x dpreatt^T (as stored)                       m=HS, n=T, k=T
   dk^T    (HS x T) = q x dpreatt (as stored, op T)                   m=HS, n=T, k=T
*/
#ifndef LLMC_ATTENTION_CUH
#define LLMC_ATTENTION_CUH

#include "cuda_common.cuh"

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

// batched column-major GEMM over B*NH heads; C_type is fp32 for preatt/datt, floatX otherwise
static inline void gemm_batched(CudaContext* ctx, cublasOperation_t opa, cublasOperation_t opb, int m, int n, int k,
                                float alpha, const floatX* A, int lda, long long sa, const floatX* Bm, int ldb, long long sb,
                                void* Cm, cudaDataType_t ctype, int ldc, long long sc, int batch) {
    const float beta = 0.0f;
    cublasCheck(cublasGemmStridedBatchedEx(ctx->blas, opa, opb, m, n, k, &alpha, A, CUDA_R_FLOATX, lda, sa, Bm,
                                           CUDA_R_FLOATX, ldb, sb, &beta, Cm, ctype, ldc, sc, batch, CUBLAS_COMPUTE_32F,
                                           CUBLAS_GEMM_DEFAULT));
}

// scratch buffers, each (B, NH, T, HS) unless noted
typedef struct {
    floatX *q, *k, *v, *y, *dk;
    float* preatt; // (B, NH, T, T): preatt in forward, datt in backward
} AttentionScratch;

// out (B, T, C); att (B, NH, T, T) is kept for the backward
static inline void attention_forward(CudaContext* ctx, floatX* out, floatX* att, const floatX* qkv, AttentionScratch* s,
                                     int B, int T, int C, int NH) {
    int HS = C / NH, batch = B * NH, rows = B * NH * T;
    size_t n = (size_t)B * T * C;
    const int block = 256;
    unsigned grid = (unsigned)CEIL_DIV(n, (size_t)block);
    attention_permute_kernel<<<grid, block, 0, ctx->stream>>>(s->q, s->k, s->v, qkv, B, T, NH, HS);
    cudaCheckLaunch();
    long long sqkv = (long long)T * HS, stt = (long long)T * T;
    float scale = 1.0f / sqrtf((float)HS);
    gemm_batched(ctx, CUBLAS_OP_T, CUBLAS_OP_N, T, T, HS, scale, s->k, HS, sqkv, s->q, HS, sqkv, s->preatt, CUDA_R_32F, T,
                 stt, batch);
    attention_softmax_forward_kernel<<<(unsigned)CEIL_DIV(rows, block / 32), block, 0, ctx->stream>>>(att, s->preatt, rows, T);
    cudaCheckLaunch();
    gemm_batched(ctx, CUBLAS_OP_N, CUBLAS_OP_N, HS, T, T, 1.0f, s->v, HS, sqkv, att, T, stt, s->y, CUDA_R_FLOATX, HS, sqkv,
                 batch);
    attention_unpermute_kernel<<<grid, block, 0, ctx->stream>>>(out, s->y, B, T, NH, HS);
    cudaCheckLaunch();
}

// dqkv (B, T, 3C) written from dout (B, T, C); att is overwritten (consumed)
static inline void attention_backward(CudaContext* ctx, floatX* dqkv, const floatX* dout, const floatX* qkv, floatX* att,
                                      AttentionScratch* s, int B, int T, int C, int NH) {
    int HS = C / NH, batch = B * NH, rows = B * NH * T;
    size_t n = (size_t)B * T * C;
    const int block = 256;
    unsigned grid = (unsigned)CEIL_DIV(n, (size_t)block);
    long long sqkv = (long long)T * HS, stt = (long long)T * T;
    float scale = 1.0f / sqrtf((float)HS);
    // q, k, v again from the layer's saved qkv (cheaper than keeping them per layer)
    attention_permute_kernel<<<grid, block, 0, ctx->stream>>>(s->q, s->k, s->v, qkv, B, T, NH, HS);
    cudaCheckLaunch();
    floatX* dy = s->y;
    attention_permute_dout_kernel<<<grid, block, 0, ctx->stream>>>(dy, dout, B, T, NH, HS);
    cudaCheckLaunch();
    float* datt = s->preatt;
    gemm_batched(ctx, CUBLAS_OP_T, CUBLAS_OP_N, T, T, HS, 1.0f, s->v, HS, sqkv, dy, HS, sqkv, datt, CUDA_R_32F, T, stt, batch);
    // dv overwrites v (v is not needed any more)
    floatX* dv = s->v;
    gemm_batched(ctx, CUBLAS_OP_N, CUBLAS_OP_T, HS, T, T, 1.0f, dy, HS, sqkv, att, T, stt, dv, CUDA_R_FLOATX, HS, sqkv, batch);
    attention_softmax_backward_kernel<<<(unsigned)CEIL_DIV(rows, block / 32), block, 0, ctx->stream>>>(att, datt, rows, T);
    cudaCheckLaunch();
    const floatX* dpreatt = att;
    // dq into dy's buffer (dy is used up)
    floatX* dq = dy;
    floatX* dk = s->dk;
    gemm_batched(ctx, CUBLAS_OP_N, CUBLAS_OP_N, HS, T, T, scale, s->k, HS, sqkv, dpreatt, T, stt, dq, CUDA_R_FLOATX, HS, sqkv,
                 batch);
    gemm_batched(ctx, CUBLAS_OP_N, CUBLAS_OP_T, HS, T, T, scale, s->q, HS, sqkv, dpreatt, T, stt, dk, CUDA_R_FLOATX, HS, sqkv,
                 batch);
    attention_unpermute_dqkv_kernel<<<grid, block, 0, ctx->stream>>>(dqkv, dq, dk, dv, B, T, NH, HS);
    cudaCheckLaunch();
}

#endif // LLMC_ATTENTION_CUH
