/*
 Tests of llmc/token_buckets.h, the host side of the CUDA embedding backward: the
 positions of a batch grouped by token id. Checks every bucket against a brute-force
 grouping on random batches (few and many distinct ids: both sorting paths), that the
 embedding gradient summed through the buckets equals the direct scatter-add, that
 the scratch counts are clean for the next batch, and that bad ids are refused.
*/
#include <math.h>
#include <stdio.h>
#include "../../llmc/token_buckets.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng_state = 88172645463325252ull;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

// every position appears once, in its own id's bucket, ascending; ids ascending and distinct
static void check_buckets(const TokenBuckets* tb, const int* ids, int n, const char* what) {
    int* seen = (int*)calloc((size_t)n, sizeof(int));
    CHECK(tb->starts[0] == 0 && tb->starts[tb->num_unique] == n, "%s: starts cover [0, %d)", what, n);
    for (int u = 0; u < tb->num_unique; u++) {
        if (u > 0) CHECK(tb->tokens[u] > tb->tokens[u - 1], "%s: ids ascending at bucket %d", what, u);
        CHECK(tb->starts[u + 1] > tb->starts[u], "%s: bucket %d is not empty", what, u);
        for (int i = tb->starts[u]; i < tb->starts[u + 1]; i++) {
            int p = tb->positions[i];
            CHECK(p >= 0 && p < n && ids[p] == tb->tokens[u], "%s: position %d in bucket of id %d", what, p, tb->tokens[u]);
            if (p >= 0 && p < n) seen[p]++;
            if (i > tb->starts[u]) CHECK(tb->positions[i] > tb->positions[i - 1], "%s: positions ascending", what);
        }
    }
    int distinct = 0;
    for (int p = 0; p < n; p++) {
        CHECK(seen[p] == 1, "%s: position %d seen %d times", what, p, seen[p]);
        int first = 1;
        for (int q = 0; q < p; q++) if (ids[q] == ids[p]) { first = 0; break; }
        distinct += first;
    }
    CHECK(distinct == tb->num_unique, "%s: %d buckets for %d distinct ids", what, tb->num_unique, distinct);
    for (int v = 0; v < tb->vocab; v++) CHECK(tb->counts[v] == 0, "%s: scratch count of id %d left at %d", what, v, tb->counts[v]);
    free(seen);
}

// dwte through the buckets (the CUDA kernel's order) equals the direct scatter-add
static void check_gradient(const TokenBuckets* tb, const int* ids, int n, int vocab, int C) {
    float* dout = (float*)malloc((size_t)n * C * sizeof(float));
    double* direct = (double*)calloc((size_t)vocab * C, sizeof(double));
    double* bucketed = (double*)calloc((size_t)vocab * C, sizeof(double));
    for (int i = 0; i < n * C; i++) dout[i] = (float)((int)(next_u32() % 2001) - 1000) / 1000.0f;
    for (int p = 0; p < n; p++)
        for (int c = 0; c < C; c++) direct[(size_t)ids[p] * C + c] += dout[(size_t)p * C + c];
    for (int u = 0; u < tb->num_unique; u++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int i = tb->starts[u]; i < tb->starts[u + 1]; i++) acc += dout[(size_t)tb->positions[i] * C + c];
            bucketed[(size_t)tb->tokens[u] * C + c] += acc;
        }
    double maxdiff = 0.0;
    for (int i = 0; i < vocab * C; i++) maxdiff = fmax(maxdiff, fabs(direct[i] - bucketed[i]));
    CHECK(maxdiff < 1e-9, "bucketed dwte differs from the scatter-add by %g", maxdiff);
    free(dout); free(direct); free(bucketed);
}

int main(void) {
    const int vocab = 50304, n_max = 4096;
    TokenBuckets tb;
    CHECK(token_buckets_init(&tb, n_max, vocab) == BS_OK, "init: %s", bs_error());
    int* ids = (int*)malloc((size_t)n_max * sizeof(int));
    // few distinct ids (insertion sort path), many (vocabulary scan path), one id, empty
    const int ranges[] = {5, 64, 65, 3000, 50257, 1};
    const int sizes[] = {1, 17, 256, 4096};
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            int n = sizes[s];
            for (int p = 0; p < n; p++) ids[p] = ranges[r] == 1 ? 777 : (int)(next_u32() % (uint32_t)ranges[r]);
            char what[64];
            snprintf(what, sizeof(what), "ids < %d, n = %d", ranges[r], n);
            CHECK(token_buckets_build(&tb, ids, n) == BS_OK, "%s: build: %s", what, bs_error());
            check_buckets(&tb, ids, n, what);
        }
    CHECK(token_buckets_build(&tb, ids, 0) == BS_OK && tb.num_unique == 0 && tb.starts[0] == 0, "empty batch");
    for (int p = 0; p < 512; p++) ids[p] = (int)(next_u32() % 300u);
    CHECK(token_buckets_build(&tb, ids, 512) == BS_OK, "build for the gradient check");
    check_gradient(&tb, ids, 512, 300, 8);
    // bad input: refused with a message, state still usable
    ids[3] = vocab;
    CHECK(token_buckets_build(&tb, ids, 16) == BS_EINVAL && strstr(bs_error(), "position 3") != NULL,
          "id == vocab refused naming the position: %s", bs_error());
    ids[3] = -1;
    CHECK(token_buckets_build(&tb, ids, 16) == BS_EINVAL, "negative id refused");
    CHECK(token_buckets_build(&tb, ids, n_max + 1) == BS_EINVAL, "too many positions refused");
    ids[3] = 5;
    CHECK(token_buckets_build(&tb, ids, 16) == BS_OK, "usable after an error");
    check_buckets(&tb, ids, 16, "after an error");
    TokenBuckets bad;
    CHECK(token_buckets_init(&bad, 0, 10) == BS_EINVAL, "n_max 0 refused");
    token_buckets_free(&tb);
    free(ids);
    if (failures) { printf("test_token_buckets: %d failures\n", failures); return 1; }
    printf("test_token_buckets: all checks passed\n");
    return 0;
}
