/*
 fused_classifier.cuh: softmax + cross-entropy + its backward in one kernel, over the
 logits (B*T, Vp) of the tied output head (only the first V columns are real tokens).
   loss[n]    = logsumexp_v<V(logits[n, v]) - logits[n, target[n]]
   dlogits    = dloss * (softmax(logits[n, :V]) - onehot(target[n])), 0 in the padding
 When dloss != 0 the gradient overwrites the logits in place (they are not needed after
 the loss), as llm.c does; with dloss == 0 (evaluation) the logits are left intact.
 dloss is 1 / (B * T * grad_accum_steps): the mean over every position of the step.
 One block per row; the max and the sum of exponentials are reduced in fixed order.
*/
#ifndef LLMC_FUSED_CLASSIFIER_CUH
#define LLMC_FUSED_CLASSIFIER_CUH

#include "cuda_common.cuh"

__global__ void fused_classifier_kernel(floatX* logits, float* losses, const int* targets, float dloss, int V, int Vp) {
    __shared__ float scratch[32];
    size_t row = blockIdx.x;
    floatX* x = logits + row * Vp;
    // per-thread running max and sum, then merged over the block
    float mx = -INFINITY, sum = 0.0f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float xv = to_float(x[v]);
        if (xv > mx) { sum = sum * expf(mx - xv) + 1.0f; mx = xv; }
        else sum += expf(xv - mx);
    }
    float bmax = block_max(mx, scratch);
    float bsum = block_sum(mx == -INFINITY ? 0.0f : sum * expf(mx - bmax), scratch);
    int target = targets[row];
    float x_target = to_float(x[target]);
    if (threadIdx.x == 0) losses[row] = logf(bsum) + bmax - x_target;
    if (dloss == 0.0f) return;
    __syncthreads(); // every thread has read x[target] before anyone overwrites it
    float inv = 1.0f / bsum;
    for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
        float p = v < V ? expf(to_float(x[v]) - bmax) * inv : 0.0f;
        store_float(&x[v], dloss * (p - (v == target ? 1.0f : 0.0f)));
    }
}

// logits (N, Vp); losses (N) fp32; targets (N) on the device, each in [0, V)
static inline void fused_classifier(CudaContext* ctx, floatX* logits, float* losses, const int* targets, float dloss,
                                    int N, int V, int Vp) {
    const int block = 1024;
    fused_classifier_kernel<<<(unsigned)N, block, 0, ctx->stream>>>(logits, losses, targets, dloss, V, Vp);
    cudaCheckLaunch();
}

#endif // LLMC_FUSED_CLASSIFIER_CUH
