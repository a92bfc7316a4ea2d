/*
 residual.cuh: the residual connection out = a + b. Its backward is the identity on
 both inputs, so the trainer lets the residual stream's gradient flow through one
 buffer (dresidual) instead of launching a kernel.
*/
#ifndef LLMC_RESIDUAL_CUH
#define LLMC_RESIDUAL_CUH

#include "cuda_common.cuh"

__global__ void residual_forward_kernel(floatX* out, const floatX* a, const floatX* b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) store_float(&out[i], to_float(a[i]) + to_float(b[i]));
}

static inline void residual_forward(CudaContext* ctx, floatX* out, const floatX* a, const floatX* b, size_t n) {
    const int block = 256;
    residual_forward_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(out, a, b, n);
    cudaCheckLaunch();
}

#endif // LLMC_RESIDUAL_CUH
