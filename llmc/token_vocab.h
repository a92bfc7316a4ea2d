/*
 token_vocab.h: a vocabulary that fits the data, and count-model reference losses.

 Remap: the V-1 most frequent token ids of the training split (ties: the smaller id first)
 become the new ids 0..V-2 in that order, and every other id (unseen in training, or too
 rare) becomes the one UNK id V-1. A model with a `v<V>` spec (gpt2_config_from_spec) then
 has V embedding rows, all of which the training data uses, instead of GPT-2's 50257 of
 which a small corpus uses about half.

 Reference losses (nats per token) over every target of a token file, i.e. token i
 predicted from token i-1 for i = 1..n-1, with counts from the training file:
   unigram  P(b) = (c(b) + 1) / (N + V)                    (add-one over the V ids)
   bigram   P(b|a) = max(c(ab) - D, 0) / c(a) + D t(a) / c(a) P(b)     (absolute
            discounting, D = 0.75, t(a) = number of distinct successors of a; P(b|a) =
            P(b) when c(a) = 0). Nothing is tuned on the evaluated file.
 c(a) counts a as the first token of a training pair (positions 0..N-2).
*/
#ifndef LLMC_TOKEN_VOCAB_H
#define LLMC_TOKEN_VOCAB_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "utils.h"

#define TOKEN_VOCAB_IDS 65536 // a token file holds uint16 ids
#define TOKEN_VOCAB_DISCOUNT 0.75

// counts[id] += occurrences of id in tokens (counts has TOKEN_VOCAB_IDS entries)
static inline void token_vocab_count(const uint16_t* tokens, size_t n, uint64_t* counts) {
    for (size_t i = 0; i < n; i++) counts[tokens[i]]++;
}

typedef struct {
    int V;                  // new vocabulary size, UNK = V - 1
    int used;               // new ids 0..used-1 carry a training id (used <= V - 1)
    int32_t* new_of_old;    // [TOKEN_VOCAB_IDS]: the new id of each old id
    int32_t* old_of_new;    // [V]: the old id of each new id (-1: UNK or unused)
    uint64_t* count_of_new; // [V]: training count of each new id (UNK: the total it absorbs)
} TokenVocab;

static const uint64_t* token_vocab_sort_counts_; // qsort has no context argument
static inline int token_vocab_cmp_(const void* a, const void* b) {
    int32_t x = *(const int32_t*)a, y = *(const int32_t*)b;
    uint64_t cx = token_vocab_sort_counts_[x], cy = token_vocab_sort_counts_[y];
    if (cx != cy) return cx > cy ? -1 : 1;
    return (x > y) - (x < y);
}

// the remap for training counts `counts` (TOKEN_VOCAB_IDS entries) and new size V in [2, 65536]
static inline int token_vocab_build(TokenVocab* tv, const uint64_t* counts, int V) {
    memset(tv, 0, sizeof(*tv));
    if (V < 2 || V > TOKEN_VOCAB_IDS) return bs_error_set(BS_EINVAL, "vocabulary size %d outside [2, %d]", V, TOKEN_VOCAB_IDS);
    int32_t* order = (int32_t*)malloc(TOKEN_VOCAB_IDS * sizeof(int32_t));
    tv->new_of_old = (int32_t*)malloc(TOKEN_VOCAB_IDS * sizeof(int32_t));
    tv->old_of_new = (int32_t*)malloc((size_t)V * sizeof(int32_t));
    tv->count_of_new = (uint64_t*)calloc((size_t)V, sizeof(uint64_t));
    if (order == NULL || tv->new_of_old == NULL || tv->old_of_new == NULL || tv->count_of_new == NULL) {
        free(order); free(tv->new_of_old); free(tv->old_of_new); free(tv->count_of_new);
        memset(tv, 0, sizeof(*tv));
        return bs_error_set(BS_ENOMEM, "out of memory for a vocabulary map");
    }
    for (int i = 0; i < TOKEN_VOCAB_IDS; i++) order[i] = i;
    token_vocab_sort_counts_ = counts;
    qsort(order, TOKEN_VOCAB_IDS, sizeof(int32_t), token_vocab_cmp_);
    tv->V = V;
    for (int i = 0; i < V; i++) tv->old_of_new[i] = -1;
    for (int i = 0; i < TOKEN_VOCAB_IDS; i++) tv->new_of_old[i] = V - 1;
    int used = 0;
    for (int i = 0; i < V - 1 && counts[order[i]] > 0; i++, used++) {
        tv->new_of_old[order[i]] = i;
        tv->old_of_new[i] = order[i];
    }
    tv->used = used;
    for (int i = 0; i < TOKEN_VOCAB_IDS; i++) tv->count_of_new[tv->new_of_old[i]] += counts[i];
    free(order);
    return BS_OK;
}

static inline void token_vocab_free(TokenVocab* tv) {
    free(tv->new_of_old); free(tv->old_of_new); free(tv->count_of_new);
    memset(tv, 0, sizeof(*tv));
}

// out[i] = the new id of in[i]; returns how many became UNK
static inline size_t token_vocab_apply(const TokenVocab* tv, const uint16_t* in, size_t n, uint16_t* out) {
    size_t unk = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = tv->new_of_old[in[i]];
        unk += id == tv->V - 1; // old_of_new[V - 1] is always -1: V - 1 is only ever UNK
        out[i] = (uint16_t)id;
    }
    return unk;
}

typedef struct {
    double unigram, bigram; // mean nats per target
    size_t targets;         // n - 1
    size_t unseen_contexts; // targets whose previous token never starts a training pair
} TokenRefLoss;

static inline int token_vocab_cmp_u32_(const void* a, const void* b) {
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
    return (x > y) - (x < y);
}

// the reference losses of `val` (n_val tokens) under counts from `train`; ids must be < V
static inline int token_vocab_ref_loss(const uint16_t* train, size_t n_train, const uint16_t* val, size_t n_val, int V,
                                       TokenRefLoss* out) {
    memset(out, 0, sizeof(*out));
    if (n_train < 2 || n_val < 2) return bs_error_set(BS_EINVAL, "reference losses need at least 2 tokens in each file");
    if (V < 1 || V > TOKEN_VOCAB_IDS) return bs_error_set(BS_EINVAL, "vocabulary size %d outside [1, %d]", V, TOKEN_VOCAB_IDS);
    for (size_t i = 0; i < n_train; i++) if (train[i] >= V) return bs_error_set(BS_EINVAL, "training token %zu is id %u, outside [0, %d)", i, train[i], V);
    for (size_t i = 0; i < n_val; i++) if (val[i] >= V) return bs_error_set(BS_EINVAL, "evaluated token %zu is id %u, outside [0, %d)", i, val[i], V);
    uint64_t* uni = (uint64_t*)calloc(TOKEN_VOCAB_IDS, sizeof(uint64_t));
    uint64_t* ctx = (uint64_t*)calloc(TOKEN_VOCAB_IDS, sizeof(uint64_t));   // c(a)
    uint64_t* succ = (uint64_t*)calloc(TOKEN_VOCAB_IDS, sizeof(uint64_t));  // t(a)
    size_t np = n_train - 1;
    uint32_t* pairs = (uint32_t*)malloc(np * sizeof(uint32_t));
    if (uni == NULL || ctx == NULL || succ == NULL || pairs == NULL) {
        free(uni); free(ctx); free(succ); free(pairs);
        return bs_error_set(BS_ENOMEM, "out of memory for bigram counts of %zu tokens", n_train);
    }
    token_vocab_count(train, n_train, uni);
    for (size_t i = 0; i < np; i++) {
        pairs[i] = (uint32_t)train[i] << 16 | train[i + 1];
        ctx[train[i]]++;
    }
    qsort(pairs, np, sizeof(uint32_t), token_vocab_cmp_u32_);
    for (size_t i = 0; i < np; i++) if (i == 0 || pairs[i] != pairs[i - 1]) succ[pairs[i] >> 16]++;
    double su = 0.0, sb = 0.0, D = TOKEN_VOCAB_DISCOUNT;
    for (size_t i = 1; i < n_val; i++) {
        uint32_t a = val[i - 1], b = val[i];
        double pu = ((double)uni[b] + 1.0) / ((double)n_train + (double)V);
        su -= log(pu);
        double pb = pu;
        if (ctx[a] > 0) {
            uint32_t key = a << 16 | b;
            size_t lo = 0, hi = np; // first pair >= key
            while (lo < hi) { size_t mid = lo + (hi - lo) / 2; if (pairs[mid] < key) lo = mid + 1; else hi = mid; }
            size_t c = 0;
            while (lo + c < np && pairs[lo + c] == key) c++;
            double ca = (double)ctx[a];
            pb = fmax((double)c - D, 0.0) / ca + D * (double)succ[a] / ca * pu;
        } else {
            out->unseen_contexts++;
        }
        sb -= log(pb);
    }
    out->targets = n_val - 1;
    out->unigram = su / (double)out->targets;
    out->bigram = sb / (double)out->targets;
    free(uni); free(ctx); free(succ); free(pairs);
    return BS_OK;
}

#endif // LLMC_TOKEN_VOCAB_H
