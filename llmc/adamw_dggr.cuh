/*
 adamw_dggr.cuh: the fused AdamW + DGGR update on the GPU, the device half of llmc/dggr.h
 (doc/method.md section 3; doc/backslash.md). The host half is dggr.h itself: its DGGR
 state holds the tensor table, the chunks, each tensor's shape nu, and after the pass
 reduces the chunk sums, solves for the next shape (gg.h) and computes the rate, the zero
 fraction and the bits/param estimate, exactly as on the CPU.

 One block per chunk of dggr.h (DGGR_CHUNK parameters, never across a tensor boundary).
 Per parameter, in the CPU's order of operations (dggr_chunk, dggr_adamw_element):
   g  = grad_scale * grad                                   (grad_scale: clipping)
   coupled:   g += scale_s * sign(w) (|w| + eps)^(nu_s - 1)   at the weights before the step
   m  = beta1 m + (1 - beta1) g       v = beta2 v + (1 - beta2) g^2
   w  = w - lr (m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + adam_eps) + decay_s w)
   decoupled: w -= scale_s * sign(w) (|w| + eps)^(nu_s - 1)  at the updated weights (not
                                                              scaled by lr: the authors' code)
   proximal:  the same shrink, stopping at zero: w = sign(w) max(|w| - scale_s (|w|+eps)^(nu_s-1), 0)
 scale_s = lambda nu_s / N. It writes w (fp32 master), its floatX copy, m and v, and sums
 over the chunk, in double: |w|, w^2 and [|w / Delta| <= 1/2] of the new weights, and
 (|w| + eps)^nu at the point where the rate gradient is taken. The host adds the chunk
 sums in chunk order (dggr_reduce_chunks), so the result is the same every run and the
 next step's nu costs no further pass over the weights.
*/
#ifndef LLMC_ADAMW_DGGR_CUH
#define LLMC_ADAMW_DGGR_CUH

#include "cuda_common.cuh"
#include "dggr.h"

#define ADAMW_DGGR_THREADS 512

// what a block needs of its chunk's tensor this step
typedef struct {
    float nu, scale, decay;
    int rate_here; // compute (|w| + eps)^nu for this tensor (constrained, and applied or logged)
    int apply;     // apply the rate gradient (constrained and inside the schedule)
} AdamWDggrSegmentArgs;

typedef struct {
    unsigned long long offset, numel;
    int segment;
} AdamWDggrChunk;

typedef struct {
    float lr, beta1, beta2, adam_eps;
    float bias1, bias2;    // 1 - beta1^t, 1 - beta2^t
    float grad_scale;      // 1, or max_norm / norm when clipping
    float eps;             // soft clipping of the rate gradient
    float inv_delta;       // 1 / checkpoint quantization step (zero count)
    int decoupled;         // 0 coupled, 1 decoupled, 2 proximal (DGGRVariant)
} AdamWDggrArgs;

typedef struct {
    double sum_abs, sum_sq, rate_sum, zeros;
} AdamWDggrChunkSums;

__device__ __forceinline__ double warp_sum_double(double v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// sums over the block (fixed order); the result is valid in thread 0. scratch: 32 doubles
__device__ __forceinline__ double block_sum_double(double v, double* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum_double(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : 0.0;
    return warp_sum_double(v);
}

// (|w| + eps)^(nu - 1), 0 where |w| + eps == 0 (sign(w) is 0 there too)
__device__ __forceinline__ float dggr_pow_nu1_device(float t, float nu_minus_1) {
    return t > 0.0f ? powf(t, nu_minus_1) : 0.0f;
}

// UPDATE = false: only the sums of the current weights (dggr_measure's job)
template <bool UPDATE>
__global__ void __launch_bounds__(ADAMW_DGGR_THREADS)
adamw_dggr_kernel(float* master, floatX* params_copy /* NULL: no copy (fp32 build) */, const float* grads, float* m,
                  float* v, const AdamWDggrChunk* chunks, const AdamWDggrSegmentArgs* segs, AdamWDggrArgs a,
                  AdamWDggrChunkSums* sums /* (num_chunks) */) {
    __shared__ double scratch[32];
    const AdamWDggrChunk ch = chunks[blockIdx.x];
    const AdamWDggrSegmentArgs sg = segs[ch.segment];
    const float nu1 = sg.nu - 1.0f;
    double sa = 0.0, ss = 0.0, rs = 0.0, zc = 0.0;
    for (unsigned long long j = threadIdx.x; j < ch.numel; j += ADAMW_DGGR_THREADS) {
        size_t i = ch.offset + j;
        float w = master[i];
        if (UPDATE) {
            float g = grads[i] * a.grad_scale;
            if (sg.rate_here && !a.decoupled) {
                float t = fabsf(w) + a.eps;
                float p = dggr_pow_nu1_device(t, nu1);
                rs += (double)(p * t);
                if (sg.apply) g += sg.scale * (float)((w > 0.0f) - (w < 0.0f)) * p;
            }
            float mi = a.beta1 * m[i] + (1.0f - a.beta1) * g;
            float vi = a.beta2 * v[i] + (1.0f - a.beta2) * g * g;
            float m_hat = mi / a.bias1;
            float v_hat = vi / a.bias2;
            m[i] = mi;
            v[i] = vi;
            w = w - a.lr * (m_hat / (sqrtf(v_hat) + a.adam_eps) + sg.decay * w);
            if (sg.rate_here && a.decoupled) {
                float t = fabsf(w) + a.eps;
                float p = dggr_pow_nu1_device(t, nu1);
                rs += (double)(p * t);
                if (sg.apply && a.decoupled == 2) { // proximal: the shrink stops at zero
                    float left = fabsf(w) - sg.scale * p;
                    w = copysignf(left > 0.0f ? left : 0.0f, w);
                } else if (sg.apply) {
                    w -= sg.scale * (float)((w > 0.0f) - (w < 0.0f)) * p;
                }
            }
            master[i] = w;
            if (params_copy != NULL) store_float(&params_copy[i], w);
        }
        double aw = fabs((double)w);
        sa += aw;
        ss += aw * aw;
        zc += fabsf(w * a.inv_delta) <= 0.5f ? 1.0 : 0.0;
    }
    sa = block_sum_double(sa, scratch);
    ss = block_sum_double(ss, scratch);
    rs = block_sum_double(rs, scratch);
    zc = block_sum_double(zc, scratch);
    if (threadIdx.x == 0) {
        AdamWDggrChunkSums out = {sa, ss, rs, zc};
        sums[blockIdx.x] = out;
    }
}

// the device copies of dggr.h's chunk table and of each step's per-tensor arguments
typedef struct {
    AdamWDggrChunk* d_chunks;
    AdamWDggrSegmentArgs* d_segs;
    AdamWDggrSegmentArgs* h_segs; // pinned
    AdamWDggrChunkSums* d_sums;
    AdamWDggrChunkSums* h_sums;   // pinned
    int num_chunks, num_segments;
} AdamWDggrDevice;

static inline void adamw_dggr_device_init(AdamWDggrDevice* dev, const DGGR* d) {
    memset(dev, 0, sizeof(*dev));
    dev->num_chunks = d->num_chunks;
    dev->num_segments = d->num_segments;
    AdamWDggrChunk* h_chunks = (AdamWDggrChunk*)malloc_or_die((size_t)d->num_chunks * sizeof(AdamWDggrChunk));
    for (int c = 0; c < d->num_chunks; c++) {
        h_chunks[c].offset = d->chunk[c].offset;
        h_chunks[c].numel = d->chunk[c].numel;
        h_chunks[c].segment = d->chunk[c].segment;
    }
    dev->d_chunks = (AdamWDggrChunk*)cuda_malloc((size_t)d->num_chunks * sizeof(AdamWDggrChunk), "the optimizer's chunk table");
    cudaCheck(cudaMemcpy(dev->d_chunks, h_chunks, (size_t)d->num_chunks * sizeof(AdamWDggrChunk), cudaMemcpyHostToDevice));
    free(h_chunks);
    dev->d_segs = (AdamWDggrSegmentArgs*)cuda_malloc((size_t)d->num_segments * sizeof(AdamWDggrSegmentArgs), "the optimizer's tensor table");
    dev->d_sums = (AdamWDggrChunkSums*)cuda_malloc((size_t)d->num_chunks * sizeof(AdamWDggrChunkSums), "the optimizer's chunk sums");
    cudaCheck(cudaMallocHost((void**)&dev->h_segs, (size_t)d->num_segments * sizeof(AdamWDggrSegmentArgs)));
    cudaCheck(cudaMallocHost((void**)&dev->h_sums, (size_t)d->num_chunks * sizeof(AdamWDggrChunkSums)));
}

static inline void adamw_dggr_device_free(AdamWDggrDevice* dev) {
    cudaCheck(cudaFree(dev->d_chunks));
    cudaCheck(cudaFree(dev->d_segs));
    cudaCheck(cudaFree(dev->d_sums));
    cudaCheck(cudaFreeHost(dev->h_segs));
    cudaCheck(cudaFreeHost(dev->h_sums));
    memset(dev, 0, sizeof(*dev));
}

// the sums of chunks [begin, end) back into dggr.h's slots
static inline void adamw_dggr_copy_sums(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, int begin, int end) {
    if (end > begin)
        cudaCheck(cudaMemcpyAsync(dev->h_sums + begin, dev->d_sums + begin, (size_t)(end - begin) * sizeof(AdamWDggrChunkSums),
                                  cudaMemcpyDeviceToHost, ctx->stream));
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    for (int c = begin; c < end; c++) {
        d->sums[c].mom.sum_abs = dev->h_sums[c].sum_abs;
        d->sums[c].mom.sum_sq = dev->h_sums[c].sum_sq;
        d->sums[c].mom.count = (int64_t)d->chunk[c].numel;
        d->sums[c].mom.zeros = (int64_t)dev->h_sums[c].zeros;
        d->sums[c].rate_sum = dev->h_sums[c].rate_sum;
    }
}

// the chunk sums back into dggr.h's slots, then its reduction and shape solve (the CPU code)
static inline void adamw_dggr_collect(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, int with_rate) {
    adamw_dggr_copy_sums(ctx, dev, d, 0, dev->num_chunks);
    dggr_reduce_chunks(d, with_rate);
}

// The GPU counterpart of dggr_step() (the same arguments, and the device arrays): one
// optimizer step t (1-based), AdamW with learning rate lr, the gradients multiplied by
// grad_scale (the clipping factor; the rate gradient is added after it, unclipped),
// weight_decay on the tensors whose decay flag is set, and the rate term. Afterwards d
// holds what dggr_step leaves there. params_copy is NULL in the fp32 build.
// The pass over chunks [chunk_begin, chunk_end) only, their sums copied into dggr.h's slots
// and not reduced: data-parallel training with -z 1 (dist_nccl.cuh) runs each rank's range,
// gathers every rank's slots, then reduces (dggr_reduce_chunks), as dist.h does on the CPU.
static inline void adamw_dggr_step_chunks(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, float* master, floatX* params_copy,
                                          const float* grads, float* m, float* v, float lr, float beta1, float beta2,
                                          float eps, float weight_decay, float grad_scale, int t, int with_rate,
                                          int chunk_begin, int chunk_end);

static inline void adamw_dggr_step(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, float* master, floatX* params_copy,
                                   const float* grads, float* m, float* v, float lr, float beta1, float beta2,
                                   float eps, float weight_decay, float grad_scale, int t, int with_rate) {
    adamw_dggr_step_chunks(ctx, dev, d, master, params_copy, grads, m, v, lr, beta1, beta2, eps, weight_decay, grad_scale, t,
                           with_rate, 0, dev->num_chunks);
    dggr_reduce_chunks(d, dggr_rate_active(d, t) || with_rate);
}

static inline void adamw_dggr_step_chunks(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, float* master, floatX* params_copy,
                                          const float* grads, float* m, float* v, float lr, float beta1, float beta2,
                                          float eps, float weight_decay, float grad_scale, int t, int with_rate,
                                          int chunk_begin, int chunk_end) {
    DGGRAdamWStep s = dggr_adamw_constants(lr, beta1, beta2, eps, grad_scale, t);
    const int active = dggr_rate_active(d, t);
    const double N = (double)(d->num_constrained ? d->num_constrained : 1);
    d->rate_active = active;
    for (int i = 0; i < d->num_segments; i++) {
        const DGGRSegment* g = &d->seg[i];
        AdamWDggrSegmentArgs* o = &dev->h_segs[i];
        o->nu = (float)g->nu;
        o->scale = (float)((double)d->cfg.lambda * g->nu / N);
        o->decay = g->decay ? weight_decay : 0.0f;
        o->rate_here = g->constrained && (active || with_rate);
        o->apply = g->constrained && active;
    }
    cudaCheck(cudaMemcpyAsync(dev->d_segs, dev->h_segs, (size_t)d->num_segments * sizeof(AdamWDggrSegmentArgs),
                              cudaMemcpyHostToDevice, ctx->stream));
    AdamWDggrArgs a;
    a.lr = s.lr;
    a.beta1 = s.beta1;
    a.beta2 = s.beta2;
    a.adam_eps = s.eps;
    a.bias1 = s.bias1;
    a.bias2 = s.bias2;
    a.grad_scale = s.grad_scale;
    a.eps = d->cfg.eps;
    a.inv_delta = 1.0f / d->cfg.delta;
    a.decoupled = d->cfg.variant == DGGR_DECOUPLED ? 1 : d->cfg.variant == DGGR_PROXIMAL ? 2 : 0;
    if (chunk_end > chunk_begin) { // the kernel's block b is chunk chunk_begin + b
        adamw_dggr_kernel<true><<<chunk_end - chunk_begin, ADAMW_DGGR_THREADS, 0, ctx->stream>>>(
            master, params_copy, grads, m, v, dev->d_chunks + chunk_begin, dev->d_segs, a, dev->d_sums + chunk_begin);
        cudaCheckLaunch();
    }
    adamw_dggr_copy_sums(ctx, dev, d, chunk_begin, chunk_end); // synchronizes: h_segs is free again
}

// The GPU counterpart of dggr_measure(): the moments of the current weights and the
// shapes for the first step (at the start, or after loading weights without a saved state)
static inline void adamw_dggr_measure(CudaContext* ctx, AdamWDggrDevice* dev, DGGR* d, float* master) {
    memset(dev->h_segs, 0, (size_t)d->num_segments * sizeof(AdamWDggrSegmentArgs));
    cudaCheck(cudaMemcpyAsync(dev->d_segs, dev->h_segs, (size_t)d->num_segments * sizeof(AdamWDggrSegmentArgs),
                              cudaMemcpyHostToDevice, ctx->stream));
    AdamWDggrArgs a;
    memset(&a, 0, sizeof(a));
    a.inv_delta = 1.0f / d->cfg.delta;
    adamw_dggr_kernel<false><<<dev->num_chunks, ADAMW_DGGR_THREADS, 0, ctx->stream>>>(
        master, NULL, NULL, NULL, NULL, dev->d_chunks, dev->d_segs, a, dev->d_sums);
    cudaCheckLaunch();
    adamw_dggr_collect(ctx, dev, d, 0);
}

#endif // LLMC_ADAMW_DGGR_CUH
