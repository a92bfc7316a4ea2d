/*
 dist.h: data-parallel training across processes, over MPI (doc/distributed.md).

 Each rank holds the whole model and runs forward and backward on its own rows of every
 global batch (dataloader.h's shards); what crosses between ranks, and when:
   - at start: every rank's flags, its data files' checksums and its initial weights'
     checksum are gathered; a rank that differs from rank 0 is named and the job ends
     (dist_check_agree), before any step is taken;
   - every step: the gradient buffer is summed over the ranks (dist_sum_floats; the
     trainer folds 1/world into the clipping scale, so the norm is that of the average),
     and the loss for the log;
   - with -z 1 (ZeRO-1's pattern): each rank runs the AdamW+DGGR pass on its own range
     of dggr.h's chunks only, the chunk sums of BackSlash's statistics (sum |w|, sum w^2,
     zeros, rate) are all-gathered so that every rank reduces the same slots in the same
     order and solves the same nu, and the updated weights are all-gathered;
   - at a checkpoint: with -z 1 the moments are gathered to rank 0, which alone writes.
 Without -z 1 every rank runs the whole optimizer pass on the same averaged gradient, so
 the weights and the statistics stay the same on every rank without communication; the
 weights' checksums are compared again at every checkpoint to prove it.

 MPI is used only when the program was built with it (USE_MPI, the Makefile's default
 when mpicc exists) and launched by mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_RANK
 in the environment); otherwise there is one rank and every call here is a no-op, so the
 plain binary runs as before. A binary built without MPI but started by mpirun with more
 than one rank refuses to run (N independent runs would write the same files).

 Failure: once MPI is up, any exit other than dist_finalize's (die(), a failed check)
 calls MPI_Abort from an atexit hook, so the other ranks do not wait for ever in a
 collective; a rank killed by a signal is noticed by mpirun, which ends the job.
 Library code here returns BS_* codes; only dist_fail exits.
*/
#ifndef LLMC_DIST_H
#define LLMC_DIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crc32.h"
#include "dataloader.h"
#include "dggr.h"
#include "utils.h"
#ifdef USE_MPI
// the C API only, also when nvcc compiles this as C++ (the C++ bindings warn under -Werror)
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

typedef struct {
    int rank, world;  // 0 and 1 without MPI
    int mpi;          // MPI_Init was called here and MPI_Finalize not yet
    int sharded;      // -z 1 under mpirun: the optimizer step is split over the ranks
    int shard_begin, shard_end; // this rank's range of dggr.h's chunks (-z 1); all chunks otherwise
} Dist;

static Dist* dist_active = NULL; // for the exit hook

// the launcher's environment: OpenMPI's mpirun, or a PMI/PMIx launcher (srun, hydra)
static inline int dist_launched_world_size(void) {
    const char* names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char* s = getenv(names[i]);
        long long n;
        if (s != NULL && parse_int(s, 1, 1 << 30, &n)) return (int)n;
    }
    return getenv("PMIX_RANK") != NULL ? 2 : 1; // PMIx without a size: assume more than one
}

#ifdef USE_MPI
static inline void dist_exit_hook(void) {
    // any exit while MPI is up, other than through dist_finalize, takes the job down
    if (dist_active != NULL && dist_active->mpi) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}
#endif

// rank and world size; MPI_Init when launched by mpirun. Errors name the cause.
static inline int dist_init(Dist* d, int* argc, char*** argv) {
    memset(d, 0, sizeof(*d));
    d->world = 1;
    int launched = dist_launched_world_size();
#ifdef USE_MPI
    if (launched > 1 || getenv("OMPI_COMM_WORLD_SIZE") != NULL) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS) return bs_error_set(BS_EIO, "MPI_Init failed");
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->world);
        d->mpi = 1;
        dist_active = d;
        atexit(dist_exit_hook);
        // errors print with the rank in front (utils.h's die)
        snprintf(bs_die_prefix, sizeof(bs_die_prefix), "rank %d: ", d->rank);
    }
#else
    (void)argc;
    (void)argv;
    if (launched > 1)
        return bs_error_set(BS_EINVAL, "launched as one of %d ranks, but this program was built without MPI "
                            "(install libopenmpi-dev and rebuild; see doc/distributed.md)", launched);
#endif
    d->shard_begin = 0;
    d->shard_end = 0;
    return BS_OK;
}

static inline void dist_finalize(Dist* d) {
#ifdef USE_MPI
    if (d->mpi) {
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
        d->mpi = 0;
    }
#endif
    dist_active = NULL;
}

// only rank 0 prints: the others' stdout goes to /dev/null (errors still reach stderr)
static inline void dist_quiet_other_ranks(const Dist* d) {
    if (d->rank != 0 && freopen("/dev/null", "w", stdout) == NULL) fprintf(stderr, "rank %d: cannot silence stdout\n", d->rank);
}

static inline void dist_barrier(const Dist* d) {
#ifdef USE_MPI
    if (d->mpi) MPI_Barrier(MPI_COMM_WORLD);
#else
    (void)d;
#endif
}

// The job's end after an error every rank has seen alike (a failed dist_check_agree):
// rank 0 prints it, the others wait until it has, then all exit(1) (and so MPI_Abort).
static inline void dist_fail(const Dist* d, const char* message) __attribute__((noreturn));
static inline void dist_fail(const Dist* d, const char* message) {
    if (d->rank == 0) {
        fprintf(stderr, "error: %s\n", message);
        fflush(stderr);
    }
    dist_barrier(d);
    exit(EXIT_FAILURE);
}

// ----------------------------------------------------------------------------
// reductions

#define DIST_PIECE ((size_t)1 << 28) // MPI counts are ints: large arrays go in pieces

// x[0..n) summed over the ranks, in place
static inline void dist_sum_floats(const Dist* d, float* x, size_t n) {
#ifdef USE_MPI
    if (!d->mpi || d->world == 1) return;
    for (size_t off = 0; off < n; off += DIST_PIECE) {
        size_t len = n - off < DIST_PIECE ? n - off : DIST_PIECE;
        MPI_Allreduce(MPI_IN_PLACE, x + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
#else
    (void)d;
    (void)x;
    (void)n;
#endif
}

// the mean of v over the ranks
static inline double dist_mean(const Dist* d, double v) {
#ifdef USE_MPI
    if (d->mpi && d->world > 1) {
        double sum = 0.0;
        MPI_Allreduce(&v, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        return sum / d->world;
    }
#else
    (void)d;
#endif
    return v;
}

// rank 0's n bytes to every rank (the NCCL id, dist_nccl.cuh)
static inline void dist_broadcast_bytes(const Dist* d, void* buf, size_t n) {
#ifdef USE_MPI
    if (d->mpi && d->world > 1) MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
#else
    (void)d;
    (void)buf;
    (void)n;
#endif
}

// this rank's index among the ranks on its own machine (which GPU it takes)
static inline int dist_local_rank(const Dist* d) {
#ifdef USE_MPI
    if (d->mpi && d->world > 1) {
        MPI_Comm node;
        int local = 0;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
        MPI_Comm_rank(node, &local);
        MPI_Comm_free(&node);
        return local;
    }
#else
    (void)d;
#endif
    return 0;
}

// ----------------------------------------------------------------------------
// agreement: every rank must have been started alike

#define DIST_TEXT_MAX 8192

// `mine`: lines of "name value" (the flags, checksums); every rank gathers every rank's
// text and compares it with rank 0's. BS_EINVAL names the first rank and line that
// differ: "rank 1 has -lr 0.002 where rank 0 has -lr 0.001 (flags)". Same result on all ranks.
static inline int dist_check_agree(const Dist* d, const char* mine, const char* what) {
    if (strlen(mine) >= DIST_TEXT_MAX) return bs_error_set(BS_ELIMIT, "dist: the %s text is over %d bytes", what, DIST_TEXT_MAX);
#ifdef USE_MPI
    if (!d->mpi || d->world == 1) return BS_OK;
    char* all = (char*)calloc((size_t)d->world, DIST_TEXT_MAX);
    char* buf = (char*)calloc(1, DIST_TEXT_MAX);
    if (all == NULL || buf == NULL) { free(all); free(buf); return bs_error_set(BS_ENOMEM, "dist: out of memory"); }
    memcpy(buf, mine, strlen(mine) + 1);
    MPI_Allgather(buf, DIST_TEXT_MAX, MPI_CHAR, all, DIST_TEXT_MAX, MPI_CHAR, MPI_COMM_WORLD);
    free(buf);
    int rc = BS_OK;
    const char* ref = all;
    for (int r = 1; r < d->world && rc == BS_OK; r++) {
        const char* other = all + (size_t)r * DIST_TEXT_MAX;
        if (strcmp(ref, other) == 0) continue;
        // the first line that differs, for the message
        const char *a = ref, *b = other;
        while (*a && *a == *b) {
            const char* ea = strchr(a, '\n');
            const char* eb = strchr(b, '\n');
            if (ea == NULL || eb == NULL || ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0) break;
            a = ea + 1;
            b = eb + 1;
        }
        int la = (int)(strchr(a, '\n') ? strchr(a, '\n') - a : (long)strlen(a));
        int lb = (int)(strchr(b, '\n') ? strchr(b, '\n') - b : (long)strlen(b));
        rc = bs_error_set(BS_EINVAL, "rank %d was started differently from rank 0 (%s): rank %d has \"%.*s\" where rank 0 has \"%.*s\"",
                          r, what, r, lb, b, la, a);
    }
    free(all);
    return rc;
#else
    (void)d;
    (void)what;
    return BS_OK;
#endif
}

// appends "name crc32 bytes\n" of n bytes to text (of DIST_TEXT_MAX)
static inline void dist_text_add_crc(char* text, const char* name, const void* data, size_t n) {
    size_t len = strlen(text);
    snprintf(text + len, DIST_TEXT_MAX - len, "%s crc32 %08x, %zu bytes\n", name, crc32_of(data, n), n);
}

// the training and validation token files must be the same on every rank (their CRCs);
// a rank that read another file is named by rank 0 and the job fails
static inline void dist_check_token_files(const Dist* d, const DataLoader* train, const DataLoader* val) {
    char check[DIST_TEXT_MAX];
    check[0] = '\0';
    dist_text_add_crc(check, "training tokens", train->tokens, train->num_tokens * sizeof(uint16_t));
    dist_text_add_crc(check, "validation tokens", val->tokens, val->num_tokens * sizeof(uint16_t));
    if (dist_check_agree(d, check, "data files") != BS_OK) dist_fail(d, bs_error());
}

// ----------------------------------------------------------------------------
// -z 1: the optimizer pass split over the ranks by dggr.h's chunks

// this rank's chunks [shard_begin, shard_end): contiguous ranges, about num_params / world
// parameters each (cut at chunk boundaries, so no chunk is split); `sharded` 0: all chunks
static inline void dist_shard_chunks(Dist* d, const DGGR* g, int sharded) {
    d->sharded = sharded && (d->world > 1 || d->mpi); // under mpirun also with one rank (to test the path)
    if (!d->sharded) {
        d->shard_begin = 0;
        d->shard_end = g->num_chunks;
        return;
    }
    // rank r owns the chunks whose first parameter lies in [r N / world, (r+1) N / world)
    d->shard_begin = d->shard_end = -1;
    for (int c = 0; c < g->num_chunks; c++) {
        int owner = (int)((double)g->chunk[c].offset * d->world / (double)g->num_params);
        if (owner >= d->world) owner = d->world - 1;
        if (owner == d->rank) {
            if (d->shard_begin < 0) d->shard_begin = c;
            d->shard_end = c + 1;
        }
    }
    if (d->shard_begin < 0) d->shard_begin = d->shard_end = 0; // more ranks than chunks: nothing to do
}

// chunk range of rank r (the same computation as dist_shard_chunks, for any rank)
static inline void dist_rank_chunks(const Dist* d, const DGGR* g, int r, int* begin, int* end) {
    Dist o = *d;
    o.rank = r;
    dist_shard_chunks(&o, g, 1);
    *begin = o.shard_begin;
    *end = o.shard_end;
}

// the float range [offset, offset + count) of chunks [begin, end)
static inline void dist_chunk_span(const DGGR* g, int begin, int end, size_t* offset, size_t* count) {
    if (begin >= end) { *offset = 0; *count = 0; return; }
    *offset = g->chunk[begin].offset;
    *count = g->chunk[end - 1].offset + g->chunk[end - 1].numel - *offset;
}

// the float range of rank r's chunks (its part of the parameters under -z 1)
static inline void dist_rank_span(const Dist* d, const DGGR* g, int r, size_t* offset, size_t* count) {
    int b, e;
    dist_rank_chunks(d, g, r, &b, &e);
    dist_chunk_span(g, b, e, offset, count);
}

#ifdef USE_MPI
// counts and displacements of every rank's part, in `unit`s of each chunk (floats, or bytes
// of DGGRChunkSums); root < 0: all-gather, else gather to root
static inline int dist_gather_chunks(const Dist* d, const DGGR* g, void* base, int by_params, int root) {
    int* counts = (int*)malloc((size_t)d->world * sizeof(int));
    int* displs = (int*)malloc((size_t)d->world * sizeof(int));
    if (counts == NULL || displs == NULL) { free(counts); free(displs); return bs_error_set(BS_ENOMEM, "dist: out of memory"); }
    for (int r = 0; r < d->world; r++) {
        int b, e;
        dist_rank_chunks(d, g, r, &b, &e);
        size_t off, cnt;
        if (by_params) dist_chunk_span(g, b, e, &off, &cnt);
        else { off = (size_t)b * sizeof(DGGRChunkSums); cnt = (size_t)(e - b) * sizeof(DGGRChunkSums); }
        if (off + cnt > (size_t)INT32_MAX) {
            free(counts);
            free(displs);
            return bs_error_set(BS_ELIMIT, "dist: -z 1 gathers at most 2^31 values per array on the CPU");
        }
        counts[r] = (int)cnt;
        displs[r] = (int)off;
    }
    MPI_Datatype type = by_params ? MPI_FLOAT : MPI_BYTE;
    if (root < 0) MPI_Allgatherv(MPI_IN_PLACE, 0, type, base, counts, displs, type, MPI_COMM_WORLD);
    else if (d->rank == root) MPI_Gatherv(MPI_IN_PLACE, 0, type, base, counts, displs, type, root, MPI_COMM_WORLD);
    else {
        char* mine = (char*)base + (size_t)displs[d->rank] * (by_params ? sizeof(float) : 1);
        MPI_Gatherv(mine, counts[d->rank], type, NULL, NULL, NULL, type, root, MPI_COMM_WORLD);
    }
    free(counts);
    free(displs);
    return BS_OK;
}
#endif

// -z 1, after each rank's pass over its chunks: every rank gets every chunk's sums of
// BackSlash's statistics (copied, not added: the slots then reduce in chunk order exactly
// as in one process); dist_allgather_step also the updated weights (the CPU's)
static inline int dist_allgather_sums(const Dist* d, DGGR* g) {
#ifdef USE_MPI
    if (!d->mpi || !d->sharded) return BS_OK;
    return dist_gather_chunks(d, g, g->sums, 0, -1);
#else
    (void)d;
    (void)g;
    return BS_OK;
#endif
}

static inline int dist_allgather_step(const Dist* d, DGGR* g, float* params) {
#ifdef USE_MPI
    if (!d->mpi || !d->sharded) return BS_OK;
    int rc = dist_allgather_sums(d, g);
    if (rc == BS_OK) rc = dist_gather_chunks(d, g, params, 1, -1);
    return rc;
#else
    (void)d;
    (void)g;
    (void)params;
    return BS_OK;
#endif
}

// -z 1, before rank 0 writes a checkpoint: the moments of every rank's chunks to rank 0
static inline int dist_gather_moments(const Dist* d, const DGGR* g, float* m, float* v) {
#ifdef USE_MPI
    if (!d->mpi || !d->sharded) return BS_OK;
    int rc = dist_gather_chunks(d, g, m, 1, 0);
    if (rc == BS_OK) rc = dist_gather_chunks(d, g, v, 1, 0);
    return rc;
#else
    (void)d;
    (void)g;
    (void)m;
    (void)v;
    return BS_OK;
#endif
}

#endif // LLMC_DIST_H
