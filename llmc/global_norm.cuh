/*
 global_norm.cuh: the squared L2 norm of the gradient, sum_i g_i^2, for clipping.
 Deterministic: a fixed grid of GLOBAL_NORM_BLOCKS blocks (independent of the GPU)
 writes one partial each, then one block adds the partials in fixed order. The result
 stays on the device (out[0]) and is copied to the host once per step with the losses.
*/
#ifndef LLMC_GLOBAL_NORM_CUH
#define LLMC_GLOBAL_NORM_CUH

#include "cuda_common.cuh"

#define GLOBAL_NORM_BLOCKS 1024
#define GLOBAL_NORM_THREADS 512

__global__ void global_norm_partial_kernel(float* partials, const float* g, size_t n) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = g[i];
        acc += v * v;
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

__global__ void global_norm_final_kernel(float* out, const float* partials, int num_partials) {
    __shared__ float scratch[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < num_partials; i += blockDim.x) acc += partials[i];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) out[0] = acc;
}

// out[0] = sum of squares of g (n values); partials: GLOBAL_NORM_BLOCKS floats of scratch
static inline void global_norm_squared(CudaContext* ctx, float* out, const float* g, size_t n, float* partials) {
    global_norm_partial_kernel<<<GLOBAL_NORM_BLOCKS, GLOBAL_NORM_THREADS, 0, ctx->stream>>>(partials, g, n);
    cudaCheckLaunch();
    global_norm_final_kernel<<<1, 1024, 0, ctx->stream>>>(out, partials, GLOBAL_NORM_BLOCKS);
    cudaCheckLaunch();
}

#endif // LLMC_GLOBAL_NORM_CUH
