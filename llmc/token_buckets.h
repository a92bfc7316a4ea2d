/*
 token_buckets.h: the positions of a batch grouped by token id, so that the embedding
 backward adds dout rows into dwte without atomics and always in the same order
 (deterministic gradients). Host code shared by the CUDA trainer and its tests.

 For a batch of n token ids (B*T, row-major), buckets_build fills
   tokens[u]                 the u-th distinct token id, ascending, u < num_unique
   starts[u] .. starts[u+1]  the range of positions[] holding that token
   positions[]               the batch positions b*T + t, ascending within a bucket
 so dwte[tokens[u]] += sum over positions p of the bucket of dout[p], in that order.
*/
#ifndef LLMC_TOKEN_BUCKETS_H
#define LLMC_TOKEN_BUCKETS_H

#include <stdlib.h>
#include <string.h>
#include "utils.h"

typedef struct {
    int num_unique;
    int* tokens;    // (n) first num_unique used
    int* starts;    // (n + 1) first num_unique + 1 used
    int* positions; // (n)
    int* counts;    // (vocab) scratch: occurrences of each id
    int n_max, vocab;
} TokenBuckets;

static inline int token_buckets_init(TokenBuckets* tb, int n_max, int vocab) {
    memset(tb, 0, sizeof(*tb));
    if (n_max < 1 || vocab < 1) return bs_error_set(BS_EINVAL, "token buckets: n_max %d and vocab %d must be >= 1", n_max, vocab);
    tb->tokens = (int*)malloc((size_t)n_max * sizeof(int));
    tb->starts = (int*)malloc(((size_t)n_max + 1) * sizeof(int));
    tb->positions = (int*)malloc((size_t)n_max * sizeof(int));
    tb->counts = (int*)calloc((size_t)vocab, sizeof(int));
    if (!tb->tokens || !tb->starts || !tb->positions || !tb->counts) {
        free(tb->tokens); free(tb->starts); free(tb->positions); free(tb->counts);
        memset(tb, 0, sizeof(*tb));
        return bs_error_set(BS_ENOMEM, "token buckets: out of memory for %d positions", n_max);
    }
    tb->n_max = n_max;
    tb->vocab = vocab;
    return BS_OK;
}

static inline void token_buckets_free(TokenBuckets* tb) {
    free(tb->tokens); free(tb->starts); free(tb->positions); free(tb->counts);
    memset(tb, 0, sizeof(*tb));
}

// counting sort by token id, stable in position; refuses ids outside [0, vocab)
static inline int token_buckets_build(TokenBuckets* tb, const int* ids, int n) {
    if (n < 0 || n > tb->n_max) return bs_error_set(BS_EINVAL, "token buckets: %d positions, room for %d", n, tb->n_max);
    for (int p = 0; p < n; p++)
        if (ids[p] < 0 || ids[p] >= tb->vocab)
            return bs_error_set(BS_EINVAL, "token buckets: token id %d at position %d is outside [0, %d)", ids[p], p, tb->vocab);
    for (int p = 0; p < n; p++) tb->counts[ids[p]]++;
    // distinct ids in ascending order: walk the ids seen, not the whole vocabulary
    int u = 0;
    for (int p = 0; p < n; p++) {
        int id = ids[p];
        if (tb->counts[id] > 0) { tb->tokens[u++] = id; tb->counts[id] = -tb->counts[id]; } // mark as listed
    }
    tb->num_unique = u;
    // ascending ids: insertion sort for a few distinct ids, else one scan of the
    // vocabulary for the marked ids (O(vocab), cheaper than sorting 10^4 ids)
    if (u <= 64) {
        for (int i = 1; i < u; i++) {
            int x = tb->tokens[i], j = i - 1;
            while (j >= 0 && tb->tokens[j] > x) { tb->tokens[j + 1] = tb->tokens[j]; j--; }
            tb->tokens[j + 1] = x;
        }
    } else {
        int k = 0;
        for (int id = 0; id < tb->vocab && k < u; id++)
            if (tb->counts[id] < 0) tb->tokens[k++] = id;
    }
    // starts from the counts, then place positions (stable: ascending p)
    int acc = 0;
    for (int i = 0; i < u; i++) {
        int id = tb->tokens[i];
        tb->starts[i] = acc;
        acc += -tb->counts[id];
        tb->counts[id] = tb->starts[i]; // now the next free slot of this bucket
    }
    tb->starts[u] = acc;
    for (int p = 0; p < n; p++) tb->positions[tb->counts[ids[p]]++] = p;
    for (int i = 0; i < u; i++) tb->counts[tb->tokens[i]] = 0; // counts back to all zero
    return BS_OK;
}

#endif // LLMC_TOKEN_BUCKETS_H
