/*
 dist_nccl.cuh: data-parallel training on several GPUs, the CUDA half of dist.h
 (doc/distributed.md). MPI starts the ranks and carries the host-side checks (dist.h);
 NCCL moves the device arrays:
   - setup: rank 0's ncclUniqueId is broadcast over MPI; the communicator is created
     non-blocking (ncclCommInitRankConfig, blocking = 0) and polled with a deadline
     (BS_NCCL_TIMEOUT seconds, default 120): a rank that never joins ends the job with a
     message instead of a hang (ncclCommAbort, then exit, and so MPI_Abort);
   - every step, -z 0: ncclAllReduce with ncclAvg over the fp32 gradients; every rank then
     runs the whole fused AdamW+DGGR kernel (adamw_dggr.cuh) on the same averaged gradient;
   - every step, -z 1 (ZeRO-1): the gradients are reduce-scattered (ncclReduce with ncclAvg
     of each rank's span of dggr.h's chunks to its owner, in one group: the spans are not
     of equal size, which ncclReduceScatter needs); the gradient norm is each rank's
     squared norm over its span, summed with ncclAllReduce; each rank runs the fused kernel
     on its own chunks (adamw_dggr_step_chunks), the chunk sums of BackSlash's statistics
     are all-gathered over MPI (dist.h, as on the CPU) so that every rank reduces the same
     slots and solves the same nu, and the updated floatX weights are all-gathered
     (ncclBroadcast of each span from its owner, in one group). The fp32 master weights
     and the moments of other ranks' spans are fetched only for a checkpoint
     (dist_nccl_gather_state).
 Not launched by mpirun, every function falls back to the one-GPU path; under mpirun -np 1
 the NCCL path runs with one rank (dev/test/cases/72_nccl.sh compares it with the plain run).

 Not run on a GPU yet: written against NCCL 2.28's headers and built in CI (make
 train_gpt2cu); doc/distributed.md says so.
*/
#ifndef LLMC_DIST_NCCL_CUH
#define LLMC_DIST_NCCL_CUH

#include <time.h>
#include "cuda_common.cuh"
#include "dist.h"
#include "global_norm.cuh"
#include "gpt2_cuda.cuh"
#ifdef USE_NCCL
#include <nccl.h>
#endif

typedef struct {
    Dist* dist;
#ifdef USE_NCCL
    ncclComm_t comm;
#endif
    int active;       // a communicator exists (launched by mpirun, even with one rank)
    double timeout_s; // deadline of the setup and of any NCCL call that reports "in progress"
} DistNccl;

// the GPU this rank uses: its index on its machine, modulo the machine's GPUs
static inline int dist_nccl_device(const Dist* d) {
    int n = cuda_device_count();
    return n > 0 ? dist_local_rank(d) % n : 0;
}

#ifdef USE_NCCL
static inline double dist_nccl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A non-blocking communicator's calls may return ncclInProgress: wait, up to the deadline,
// until the communicator reports success or an error. On an error or the deadline the
// communicator is aborted and the rank exits (the exit hook of dist.h ends the job).
static inline void dist_nccl_wait_at(DistNccl* dn, ncclResult_t r, const char* what, const char* file, int line) {
    double deadline = dist_nccl_now() + dn->timeout_s;
    while (r == ncclInProgress) {
        if (dist_nccl_now() > deadline) {
            fprintf(stderr, "%serror: NCCL: %s did not complete within %.0f s (BS_NCCL_TIMEOUT): a rank did not join or "
                    "the network is blocked; aborting [%s:%d]\n", bs_die_prefix, what, dn->timeout_s, file, line);
            ncclCommAbort(dn->comm);
            exit(EXIT_FAILURE);
        }
        ncclResult_t async = ncclSuccess;
        ncclResult_t q = ncclCommGetAsyncError(dn->comm, &async);
        r = q != ncclSuccess ? q : async;
        if (r == ncclInProgress) {
            struct timespec pause = {0, 1000000}; // 1 ms
            nanosleep(&pause, NULL);
        }
    }
    if (r != ncclSuccess) {
        fprintf(stderr, "%serror: NCCL: %s failed: %s (%s) [%s:%d]\n", bs_die_prefix, what, ncclGetErrorString(r),
                ncclGetLastError(dn->comm), file, line);
        ncclCommAbort(dn->comm);
        exit(EXIT_FAILURE);
    }
}
#define dist_nccl_wait(dn, call, what) dist_nccl_wait_at((dn), (call), (what), __FILE__, __LINE__)

#ifdef ENABLE_FP32
#define NCCL_FLOATX ncclFloat
#else
#define NCCL_FLOATX ncclBfloat16
#endif
#endif // USE_NCCL

// The communicator over all ranks, on the current device (cudaSetDevice first). One rank:
// nothing to set up. Exits with a message when it cannot.
static inline void dist_nccl_init(DistNccl* dn, Dist* d) {
    memset(dn, 0, sizeof(*dn));
    dn->dist = d;
    dn->timeout_s = 120.0;
    const char* env = getenv("BS_NCCL_TIMEOUT");
    double t;
    if (env != NULL) {
        if (!parse_float(env, 1.0, 1e6, &t)) die("BS_NCCL_TIMEOUT=%s: not a number of seconds in [1, 1e6]", env);
        dn->timeout_s = t;
    }
    if (!d->mpi) return; // not under mpirun (under mpirun -np 1 the NCCL path runs, to test it)
#ifdef USE_NCCL
    ncclUniqueId id;
    if (d->rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) die("NCCL: ncclGetUniqueId failed");
    dist_broadcast_bytes(d, &id, sizeof(id));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0; // returns at once; progress and errors are polled with a deadline
    ncclResult_t r = ncclCommInitRankConfig(&dn->comm, d->world, id, d->rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) die("NCCL: ncclCommInitRankConfig failed: %s", ncclGetErrorString(r));
    dist_nccl_wait(dn, r, "creating the communicator (ncclCommInitRankConfig)");
    dn->active = 1;
#else
    die("this train_gpt2cu was built without NCCL but runs as one of %d ranks (install NCCL and rebuild; "
        "doc/distributed.md)", d->world);
#endif
}

static inline void dist_nccl_free(DistNccl* dn) {
#ifdef USE_NCCL
    if (dn->active) {
        dist_nccl_wait(dn, ncclCommFinalize(dn->comm), "ncclCommFinalize");
        ncclCommDestroy(dn->comm);
    }
#endif
    dn->active = 0;
}

#ifdef USE_NCCL
// every rank's span of x (count values of `type`, element size `size`) from its owner to
// all ranks, in one group: the all-gather of unequal spans
static inline void dist_nccl_allgather_spans(DistNccl* dn, const DGGR* g, void* x, ncclDataType_t type, size_t size,
                                             cudaStream_t stream) {
    const Dist* d = dn->dist;
    dist_nccl_wait(dn, ncclGroupStart(), "ncclGroupStart");
    for (int r = 0; r < d->world; r++) {
        size_t off, cnt;
        dist_rank_span(d, g, r, &off, &cnt);
        if (cnt == 0) continue;
        char* p = (char*)x + off * size;
        dist_nccl_wait(dn, ncclBroadcast(p, p, cnt, type, r, dn->comm, stream), "ncclBroadcast (all-gather of a span)");
    }
    dist_nccl_wait(dn, ncclGroupEnd(), "ncclGroupEnd (all-gather)");
}
#endif

// One optimizer step on the accumulated gradients of every rank (gpt2cuda_update's
// arguments): the gradients averaged over the ranks, the norm of the average, clipping,
// the fused AdamW+DGGR pass (whole, or this rank's chunks with -z 1 then the gathers).
// Afterwards model->dggr holds the same statistics and shapes on every rank. Returns the
// gradient norm before clipping.
static inline float dist_nccl_update(DistNccl* dn, GPT2Cuda* model, float lr, float beta1, float beta2, float eps,
                                     float weight_decay, float grad_clip, int t, int with_rate) {
    if (!dn->active) return gpt2cuda_update(model, lr, beta1, beta2, eps, weight_decay, grad_clip, t, with_rate);
#ifdef USE_NCCL
    Dist* d = dn->dist;
    CudaContext* ctx = model->ctx;
    DGGR* g = &model->dggr;
    if (!d->sharded) {
        // every rank the whole average, then the one-GPU update (norm, clip, fused pass)
        dist_nccl_wait(dn, ncclAllReduce(model->grads, model->grads, model->num_params, ncclFloat, ncclAvg, dn->comm, ctx->stream),
                       "ncclAllReduce (gradients)");
        return gpt2cuda_update(model, lr, beta1, beta2, eps, weight_decay, grad_clip, t, with_rate);
    }
    // -z 1: each span averaged onto its owner (the reduce-scatter)
    dist_nccl_wait(dn, ncclGroupStart(), "ncclGroupStart");
    for (int r = 0; r < d->world; r++) {
        size_t off, cnt;
        dist_rank_span(d, g, r, &off, &cnt);
        if (cnt == 0) continue;
        float* p = model->grads + off;
        dist_nccl_wait(dn, ncclReduce(p, p, cnt, ncclFloat, ncclAvg, r, dn->comm, ctx->stream), "ncclReduce (gradient span)");
    }
    dist_nccl_wait(dn, ncclGroupEnd(), "ncclGroupEnd (reduce-scatter)");
    // the norm of the whole average: this rank's squared norm over its span, summed over the ranks
    size_t off, cnt;
    dist_chunk_span(g, d->shard_begin, d->shard_end, &off, &cnt);
    GPT2CudaActs* a = &model->acts;
    if (cnt > 0) global_norm_squared(ctx, a->norm_out, model->grads + off, cnt, a->norm_partials);
    else cudaCheck(cudaMemsetAsync(a->norm_out, 0, sizeof(float), ctx->stream));
    dist_nccl_wait(dn, ncclAllReduce(a->norm_out, a->norm_out, 1, ncclFloat, ncclSum, dn->comm, ctx->stream),
                   "ncclAllReduce (gradient norm)");
    float sq = 0.0f;
    cudaCheck(cudaMemcpyAsync(&sq, a->norm_out, sizeof(float), cudaMemcpyDeviceToHost, ctx->stream));
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    float norm = sqrtf(sq);
    float grad_scale = grad_clip_scale((double)norm, grad_clip);
    floatX* copy = gpt2cuda_weight_copy(model);
    // this rank's chunks; then every rank's chunk sums (MPI, exact copies) and one reduction
    adamw_dggr_step_chunks(ctx, &model->opt, g, model->master, copy, model->grads, model->m, model->v, lr, beta1, beta2,
                           eps, weight_decay, grad_scale, t, with_rate, d->shard_begin, d->shard_end);
    if (dist_allgather_sums(d, g) != BS_OK) die("%s", bs_error());
    dggr_reduce_chunks(g, dggr_rate_active(g, t) || with_rate);
    // the updated weights the layers read, from every span's owner
    dist_nccl_allgather_spans(dn, g, model->params, NCCL_FLOATX, sizeof(floatX), ctx->stream);
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    return norm;
#else
    return 0.0f;
#endif
}

// -z 1, before a checkpoint: the fp32 master weights and the moments of every span, from
// their owners, so that rank 0 writes the whole state
static inline void dist_nccl_gather_state(DistNccl* dn, GPT2Cuda* model) {
#ifdef USE_NCCL
    if (!dn->active || !dn->dist->sharded) return;
    cudaStream_t s = model->ctx->stream;
    dist_nccl_allgather_spans(dn, &model->dggr, model->master, ncclFloat, sizeof(float), s);
    dist_nccl_allgather_spans(dn, &model->dggr, model->m, ncclFloat, sizeof(float), s);
    dist_nccl_allgather_spans(dn, &model->dggr, model->v, ncclFloat, sizeof(float), s);
    cudaCheck(cudaStreamSynchronize(s));
#else
    (void)dn;
    (void)model;
#endif
}

#endif // LLMC_DIST_NCCL_CUH
