/*
 layernorm.cuh: LayerNorm over the last dimension (eps 1e-5, as GPT-2), forward and backward.
   forward   mean[n] = (1/C) sum_c x[n,c]      rstd[n] = 1 / sqrt((1/C) sum_c (x - mean)^2 + eps)
             out[n,c] = (x[n,c] - mean[n]) * rstd[n] * w[c] + b[c]
   backward  with xhat = (x - mean) * rstd and g = w * dout:
             dinp[n,c] += rstd[n] * (g - mean_c(g) - xhat * mean_c(g * xhat))
             dw[c] += sum_n dout * xhat       db[c] += sum_n dout      (column_reduce.cuh)
 One warp per row; statistics in fp32 whatever floatX is.
*/
#ifndef LLMC_LAYERNORM_CUH
#define LLMC_LAYERNORM_CUH

#include "cuda_common.cuh"
#include "column_reduce.cuh"

#define LAYERNORM_EPS 1e-5f

__global__ void layernorm_forward_kernel(floatX* out, float* mean, float* rstd, const floatX* inp, const floatX* weight,
                                         const floatX* bias, int N, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const floatX* x = inp + (size_t)row * C;
    float sum = 0.0f;
    for (int c = lane; c < C; c += 32) sum += to_float(x[c]);
    float m = warp_sum(sum) / C;
    float var = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = to_float(x[c]) - m;
        var += d * d;
    }
    float s = rsqrtf(warp_sum(var) / C + LAYERNORM_EPS);
    floatX* o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32)
        store_float(&o[c], (to_float(x[c]) - m) * s * to_float(weight[c]) + to_float(bias[c]));
    if (lane == 0) {
        if (mean != NULL) mean[row] = m;
        if (rstd != NULL) rstd[row] = s;
    }
}

// out (N,C); mean, rstd (N) or NULL (not needed without a backward)
static inline void layernorm_forward(CudaContext* ctx, floatX* out, float* mean, float* rstd, const floatX* inp,
                                     const floatX* weight, const floatX* bias, int N, int C) {
    const int block = 256, rows_per_block = block / 32;
    layernorm_forward_kernel<<<(unsigned)CEIL_DIV(N, rows_per_block), block, 0, ctx->stream>>>(out, mean, rstd, inp, weight,
                                                                                                bias, N, C);
    cudaCheckLaunch();
}

__global__ void layernorm_backward_dinp_kernel(floatX* dinp, const floatX* dout, const floatX* inp, const floatX* weight,
                                               const float* mean, const float* rstd, int N, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const floatX* x = inp + (size_t)row * C;
    const floatX* dy = dout + (size_t)row * C;
    float m = mean[row], s = rstd[row];
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float g = to_float(weight[c]) * to_float(dy[c]);
        g_sum += g;
        gx_sum += g * (to_float(x[c]) - m) * s;
    }
    float g_mean = warp_sum(g_sum) / C, gx_mean = warp_sum(gx_sum) / C;
    floatX* dx = dinp + (size_t)row * C;
    for (int c = lane; c < C; c += 32) {
        float g = to_float(weight[c]) * to_float(dy[c]);
        float xhat = (to_float(x[c]) - m) * s;
        store_float(&dx[c], to_float(dx[c]) + s * (g - g_mean - xhat * gx_mean));
    }
}

// dinp += ..., dweight += ..., dbias += ...; scratch: column_reduce_scratch_floats(C)
static inline void layernorm_backward(CudaContext* ctx, floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                                      const floatX* inp, const floatX* weight, const float* mean, const float* rstd,
                                      int N, int C, float* scratch) {
    const int block = 256, rows_per_block = block / 32;
    layernorm_backward_dinp_kernel<<<(unsigned)CEIL_DIV(N, rows_per_block), block, 0, ctx->stream>>>(
        dinp, dout, inp, weight, mean, rstd, N, C);
    cudaCheckLaunch();
    column_reduce(ctx, dbias, dweight, dout, inp, mean, rstd, N, C, scratch);
}

#endif // LLMC_LAYERNORM_CUH
