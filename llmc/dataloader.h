/*
 dataloader.h: batches of (inputs, targets) from an llm.c token file (tokenfile.h).

 A batch is B rows of T+1 consecutive tokens; inputs are the first T of each row and
 targets the last T (the next token at every position).
 - sequential: row b of batch k starts at (k B + b) T; after the last whole batch it
   wraps to the start (an epoch). Used for validation (reset before each evaluation).
 - random: each row starts at a uniformly random offset in [0, N - T - 1], drawn from
   the loader's own Rng. Used for training.
 The whole file is read into memory once (the corpus is a few MB) and every token is
 checked against the vocabulary at load: an id >= vocab_size is an error naming the file
 and the position, so a bad file fails at start, not in the middle of a run.
 The loader's state (position, batches served, rng) is a small struct saved in the
 training state, so a resumed run sees the same batches.

 Shards (data-parallel training, dist.h): with num_shards = N, the loader walks global
 batches of N B rows, drawing every row's start in the same order as a loader of N B rows
 would, and keeps rows [shard B, (shard+1) B) of each. So N ranks with B rows each see
 exactly the tokens one process with N B rows sees, and every rank's state is the same
 (any rank's state resumes all of them).
*/
#ifndef LLMC_DATALOADER_H
#define LLMC_DATALOADER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rng.h"
#include "tokenfile.h"
#include "utils.h"

enum { DATALOADER_SEQUENTIAL = 0, DATALOADER_RANDOM = 1 };

typedef struct {
    uint64_t position;       // sequential: index of the next row start, in tokens
    uint64_t batches_served; // batches returned since init (informational, and epochs)
    uint64_t rng_state;      // random mode
} DataLoaderState;

typedef struct {
    char path[1024];
    uint16_t* tokens;
    size_t num_tokens;
    int B, T, mode;
    int num_shards, shard; // this loader's rows are [shard B, (shard+1) B) of global batches of num_shards B rows
    DataLoaderState state;
    int* inputs;  // (B, T)
    int* targets; // (B, T)
} DataLoader;

static inline void dataloader_free(DataLoader* dl) {
    free(dl->tokens);
    free(dl->inputs);
    free(dl->targets);
    memset(dl, 0, sizeof(*dl));
}

// every token of the file below vocab_size, the vocabulary of `model` (the file or spec it
// came from, or NULL): the message names both files, since either can be the wrong one
static inline int dataloader_check_vocab(const DataLoader* dl, int vocab_size, const char* model) {
    for (size_t i = 0; i < dl->num_tokens; i++) {
        if (dl->tokens[i] < vocab_size) continue;
        if (model == NULL)
            return bs_error_set(BS_EFORMAT, "%s: token %zu is id %u, outside the model's vocabulary [0, %d)", dl->path, i,
                                (unsigned)dl->tokens[i], vocab_size);
        return bs_error_set(BS_EFORMAT, "%s: vocab_size %d does not cover the tokens of %s (token %zu is id %u; GPT-2's "
                            "vocabulary is 50257): the model's header or the token file is wrong", model, vocab_size,
                            dl->path, i, (unsigned)dl->tokens[i]);
    }
    return BS_OK;
}

// B rows of shard `shard` of global batches of num_shards B rows (1, 0: the whole batch);
// `model` names where vocab_size came from, for the message of a token outside it (NULL: "the model")
static inline int dataloader_init_shard(DataLoader* dl, const char* path, int B, int T, int vocab_size, const char* model,
                                        int mode, uint64_t seed, int num_shards, int shard) {
    memset(dl, 0, sizeof(*dl));
    snprintf(dl->path, sizeof(dl->path), "%s", path);
    if (B < 1 || T < 1) return bs_error_set(BS_EINVAL, "%s: batch %dx%d must be at least 1x1", path, B, T);
    if (num_shards < 1 || shard < 0 || shard >= num_shards || (long long)B * num_shards > INT32_MAX)
        return bs_error_set(BS_EINVAL, "%s: shard %d of %d (of B=%d rows) is not valid", path, shard, num_shards, B);
    int rc = tokenfile_read(path, &dl->tokens, &dl->num_tokens);
    if (rc != BS_OK) return rc;
    size_t global_B = (size_t)B * num_shards;
    if (dl->num_tokens < global_B * T + 1) {
        bs_error_set(BS_EFORMAT, "%s: %zu tokens, too few for one batch of B=%zu x T=%d (+1)", path, dl->num_tokens, global_B, T);
        dataloader_free(dl);
        return BS_EFORMAT;
    }
    if ((rc = dataloader_check_vocab(dl, vocab_size, model)) != BS_OK) {
        dataloader_free(dl);
        return rc;
    }
    dl->B = B;
    dl->T = T;
    dl->mode = mode;
    dl->num_shards = num_shards;
    dl->shard = shard;
    dl->state.rng_state = seed;
    dl->inputs = (int*)malloc((size_t)B * T * sizeof(int));
    dl->targets = (int*)malloc((size_t)B * T * sizeof(int));
    if (dl->inputs == NULL || dl->targets == NULL) {
        dataloader_free(dl);
        return bs_error_set(BS_ENOMEM, "%s: out of memory for a batch", path);
    }
    return BS_OK;
}

static inline int dataloader_init(DataLoader* dl, const char* path, int B, int T, int vocab_size, int mode, uint64_t seed) {
    return dataloader_init_shard(dl, path, B, T, vocab_size, NULL, mode, seed, 1, 0);
}

// number of whole sequential (global) batches in the file
static inline size_t dataloader_num_batches(const DataLoader* dl) {
    return (dl->num_tokens - 1) / ((size_t)dl->B * dl->num_shards * dl->T);
}

static inline void dataloader_reset(DataLoader* dl) {
    dl->state.position = 0;
    dl->state.batches_served = 0;
}

// fills dl->inputs and dl->targets with the next batch
static inline void dataloader_next_batch(DataLoader* dl) {
    size_t B = (size_t)dl->B * dl->num_shards, T = dl->T; // all rows are drawn; this shard's are kept
    size_t first = (size_t)dl->shard * dl->B, end = first + (size_t)dl->B;
    Rng rng = {dl->state.rng_state};
    for (size_t b = 0; b < B; b++) {
        size_t start;
        if (dl->mode == DATALOADER_RANDOM) {
            start = (size_t)rng_below(&rng, dl->num_tokens - T);
        } else {
            if (dl->state.position + T + 1 > dl->num_tokens) dl->state.position = 0;
            start = dl->state.position;
            dl->state.position += T;
        }
        if (b < first || b >= end) continue;
        const uint16_t* row = dl->tokens + start;
        size_t out = (b - first) * T;
        for (size_t t = 0; t < T; t++) {
            dl->inputs[out + t] = row[t];
            dl->targets[out + t] = row[t + 1];
        }
    }
    // sequential: a batch never straddles the wrap, so batch k is always the same tokens
    if (dl->mode == DATALOADER_SEQUENTIAL && dl->state.position + B * T + 1 > dl->num_tokens) dl->state.position = 0;
    dl->state.rng_state = rng.state;
    dl->state.batches_served++;
}

#endif // LLMC_DATALOADER_H
