/*
 gelu.cuh: GELU with GPT-2's tanh approximation, forward and backward.
   gelu(x)  = 0.5 x (1 + tanh(s (x + 0.044715 x^3))),  s = sqrt(2/pi)
   gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech^2(u) s (1 + 3 * 0.044715 x^2),  u = s (x + 0.044715 x^3)
*/
#ifndef LLMC_GELU_CUH
#define LLMC_GELU_CUH

#include "cuda_common.cuh"

#define GELU_SCALE 0.7978845608028654f // sqrt(2/pi)

__global__ void gelu_forward_kernel(floatX* out, const floatX* inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    store_float(&out[i], 0.5f * x * (1.0f + tanhf(u)));
}

// dinp = gelu'(inp) * dout (written, not accumulated); dinp may alias dout
__global__ void gelu_backward_kernel(floatX* dinp, const floatX* inp, const floatX* dout, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_float(inp[i]);
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    float th = tanhf(u);
    float sech2 = 1.0f - th * th;
    float local = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    store_float(&dinp[i], local * to_float(dout[i]));
}

static inline void gelu_forward(CudaContext* ctx, floatX* out, const floatX* inp, size_t n) {
    const int block = 256;
    gelu_forward_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(out, inp, n);
    cudaCheckLaunch();
}

static inline void gelu_backward(CudaContext* ctx, floatX* dinp, const floatX* inp, const floatX* dout, size_t n) {
    const int block = 256;
    gelu_backward_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(dinp, inp, dout, n);
    cudaCheckLaunch();
}

#endif // LLMC_GELU_CUH
