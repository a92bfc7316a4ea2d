/*
 encoder.cuh: token + position embedding, forward and backward.
   forward   out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]
   backward  dwpe[t,:] += sum_b dout[b,t,:]
             dwte[v,:] += sum over positions p with inp[p] == v of dout[p,:]
 The dwte sum runs bucket by bucket (llmc/token_buckets.h, built on the host from the
 batch the host already holds): one block column per distinct token adds its positions
 in ascending order, so there are no atomics and the gradient is the same every run.
*/
#ifndef LLMC_ENCODER_CUH
#define LLMC_ENCODER_CUH

#include "cuda_common.cuh"

__global__ void encoder_forward_kernel(floatX* out /* (B,T,C) */, const int* inp /* (B,T) */,
                                       const floatX* wte /* (Vp,C) */, const floatX* wpe /* (maxT,C) */,
                                       int B, int T, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * T * C) return;
    size_t bt = idx / C;
    int c = (int)(idx % C), t = (int)(bt % T);
    int ix = inp[bt];
    store_float(&out[idx], to_float(wte[(size_t)ix * C + c]) + to_float(wpe[(size_t)t * C + c]));
}

static inline void encoder_forward(CudaContext* ctx, floatX* out, const int* inp, const floatX* wte, const floatX* wpe,
                                   int B, int T, int C) {
    size_t n = (size_t)B * T * C;
    const int block = 256;
    encoder_forward_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(out, inp, wte, wpe, B, T, C);
    cudaCheckLaunch();
}

// dwpe[t,c] += sum_b dout[b,t,c], b ascending
__global__ void encoder_backward_wpe_kernel(float* dwpe, const floatX* dout, int B, int T, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)T * C) return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++) acc += to_float(dout[(size_t)b * T * C + idx]);
    dwpe[idx] += acc;
}

// grid (num_unique, ceil(C / blockDim.x)): bucket u adds its positions' rows to dwte[tokens[u]]
__global__ void encoder_backward_wte_kernel(float* dwte, const floatX* dout, const int* tokens, const int* starts,
                                            const int* positions, int C) {
    int u = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int i = starts[u]; i < starts[u + 1]; i++) acc += to_float(dout[(size_t)positions[i] * C + c]);
    size_t w = (size_t)tokens[u] * C + c;
    dwte[w] += acc;
}

// d_tokens, d_starts, d_positions: the buckets of this batch already copied to the device
static inline void encoder_backward(CudaContext* ctx, float* dwte, float* dwpe, const floatX* dout,
                                    const int* d_tokens, const int* d_starts, const int* d_positions, int num_unique,
                                    int B, int T, int C) {
    const int block = 256;
    size_t n = (size_t)T * C;
    encoder_backward_wpe_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(dwpe, dout, B, T, C);
    cudaCheckLaunch();
    if (num_unique > 0) {
        dim3 grid((unsigned)num_unique, (unsigned)CEIL_DIV(C, block));
        encoder_backward_wte_kernel<<<grid, block, 0, ctx->stream>>>(dwte, dout, d_tokens, d_starts, d_positions, C);
        cudaCheckLaunch();
    }
}

#endif // LLMC_ENCODER_CUH
