/*
 prune.h: magnitude pruning of a GPT-2 model's constrained weights (the weight matrices
 and embeddings, gpt2_param_is_matrix: the set BackSlash constrains by default), for the
 pruning experiments of doc/results.md (the paper's Figure "pruning rate vs performance").

 Global magnitude pruning: of the N constrained weights, the k = round(fraction N) with the
 smallest |w| are set to zero, with one threshold over all those tensors together (not
 per tensor). Weights that are already zero count among the smallest. Ties at the
 threshold are broken by position (the first ones in llm.c's parameter order go), so
 exactly k weights are zero-set and the result does not depend on the thread count.

 The threshold is found by a two-pass radix select on the bit patterns of |w|: for
 non-negative IEEE floats the order of the bits as unsigned integers is the order of the
 values, so a histogram of the top 16 bits picks the bucket that holds the k-th smallest,
 and a histogram of the low 16 bits within that bucket picks the value. O(N), no sort.
*/
#ifndef LLMC_PRUNE_H
#define LLMC_PRUNE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gpt2_params.h"
#include "utils.h"

typedef struct {
    size_t num_constrained; // N: weights in the constrained tensors
    size_t num_pruned;      // k: weights set to zero by the pruning (some may have been zero already)
    size_t num_zero;        // constrained weights that are exactly zero afterwards
    float threshold;        // |w| of the largest pruned weight (0 when k = 0)
} PruneResult;

static inline uint32_t prune_abs_bits(float w) {
    uint32_t u;
    memcpy(&u, &w, sizeof(u));
    return u & 0x7fffffffu; // |w| as an ordered key (NaN keys sort above +inf)
}

// runs `body` with w (the first weight) and n (the count) set for each constrained tensor
#define PRUNE_FOR_EACH_CONSTRAINED(cfg, params, body)                                       \
    do {                                                                                    \
        size_t prune_sizes_[GPT2_NUM_PARAM_TENSORS], prune_offsets_[GPT2_NUM_PARAM_TENSORS]; \
        gpt2_param_sizes(cfg, prune_sizes_);                                                \
        gpt2_param_offsets(cfg, prune_offsets_);                                            \
        for (int prune_g_ = 0; prune_g_ < GPT2_NUM_PARAM_TENSORS; prune_g_++) {             \
            if (!gpt2_param_is_matrix(prune_g_)) continue;                                  \
            float* w = (params) + prune_offsets_[prune_g_];                                 \
            size_t n = prune_sizes_[prune_g_];                                              \
            body                                                                            \
        }                                                                                   \
    } while (0)

// number of constrained weights and how many of them are exactly zero
static inline size_t prune_count_zeros(const GPT2Config* cfg, float* params, size_t* num_constrained) {
    size_t total = 0, zeros = 0;
    PRUNE_FOR_EACH_CONSTRAINED(cfg, params, {
        total += n;
        for (size_t i = 0; i < n; i++) zeros += w[i] == 0.0f;
    });
    if (num_constrained) *num_constrained = total;
    return zeros;
}

// Sets the round(fraction N) smallest-magnitude constrained weights to zero (fraction in
// [0, 1]); fills *res. BS_EINVAL for a bad fraction, BS_ENOMEM.
static inline int prune_magnitude(const GPT2Config* cfg, float* params, double fraction, PruneResult* res) {
    memset(res, 0, sizeof(*res));
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return bs_error_set(BS_EINVAL, "pruning fraction %g is not in [0, 1]", fraction);
    size_t N = 0;
    prune_count_zeros(cfg, params, &N);
    size_t k = (size_t)(fraction * (double)N + 0.5);
    if (k > N) k = N;
    res->num_constrained = N;
    res->num_pruned = k;
    if (k > 0) {
        size_t* hist = (size_t*)calloc(65536, sizeof(size_t));
        if (hist == NULL) return bs_error_set(BS_ENOMEM, "prune: out of memory");
        // pass 1: the top 16 bits of the (k-1)-th smallest key (0-based)
        PRUNE_FOR_EACH_CONSTRAINED(cfg, params, {
            for (size_t i = 0; i < n; i++) hist[prune_abs_bits(w[i]) >> 16]++;
        });
        size_t rank = k - 1, below = 0;
        uint32_t hi = 0;
        while (below + hist[hi] <= rank) below += hist[hi++];
        rank -= below;
        // pass 2: its low 16 bits, among the keys in that bucket
        memset(hist, 0, 65536 * sizeof(size_t));
        PRUNE_FOR_EACH_CONSTRAINED(cfg, params, {
            for (size_t i = 0; i < n; i++) {
                uint32_t key = prune_abs_bits(w[i]);
                if (key >> 16 == hi) hist[key & 0xffffu]++;
            }
        });
        uint32_t lo = 0;
        size_t below_lo = 0;
        while (below_lo + hist[lo] <= rank) below_lo += hist[lo++];
        free(hist);
        uint32_t thr = hi << 16 | lo;
        // every key below the threshold goes, then ties at it in parameter order until k
        size_t ties = k - (below + below_lo);
        PRUNE_FOR_EACH_CONSTRAINED(cfg, params, {
            for (size_t i = 0; i < n; i++) {
                uint32_t key = prune_abs_bits(w[i]);
                if (key < thr) w[i] = 0.0f;
                else if (key == thr && ties > 0) { w[i] = 0.0f; ties--; }
            }
        });
        memcpy(&res->threshold, &thr, sizeof(float));
    }
    res->num_zero = prune_count_zeros(cfg, params, NULL);
    return BS_OK;
}

#endif // LLMC_PRUNE_H
