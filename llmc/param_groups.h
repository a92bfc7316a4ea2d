/*
 param_groups.h: statistics over the parameters that matter (issue 13).

 A small model's token embedding (wte, tied to the softmax) is most of its parameters, and
 many of its rows belong to tokens the training data never holds (plus the padding rows
 V..Vp-1, never used at all). Their weights stay at their initialisation or decay to zero,
 and a model-wide zero fraction or bits/param is then mostly a statement about them. These
 statistics split the parameters into groups and report each group's share, zero fraction
 and coded size at Delta:

   matrices        qkvw, attprojw, fcw, fcprojw (every layer): the non-embedding matrices
   wpe             the position embedding
   wte n=0         wte rows of tokens that never occur in the training file (unused)
   wte n=1-9, n=10-99, n=100-999, n>=1000   wte rows binned by the token's training count
   wte padding     rows V..Vp-1
   other           biases and LayerNorm weights
 and two totals: "active" (all but the unused and padding wte rows) and "all". Without
 training counts, wte is one group.

 Per group: parameters, zeros (round(w / Delta) = 0, llmc/quantize.h), the empirical
 entropy of the quantized values (bits/param, the group's own histogram: the limit of any
 code for the group alone) and the exp-Golomb size with the group's own value map (values
 ranked by count, llmc/valuemap.h's order) and its best order k in [0, EG_MAX_K]. The
 codec (llmc/bsz.h) uses one map for the whole model and a k per tensor, so its sizes
 differ a little; these are for comparing groups and models with each other.
*/
#ifndef LLMC_PARAM_GROUPS_H
#define LLMC_PARAM_GROUPS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expgolomb.h"
#include "gpt2_params.h"
#include "quantize.h"
#include "utils.h"

enum { PG_MATRICES, PG_WPE, PG_WTE_UNUSED, PG_WTE_1, PG_WTE_10, PG_WTE_100, PG_WTE_1000, PG_WTE_PAD, PG_WTE_ALL, PG_OTHER,
       PG_ACTIVE, PG_ALL, PG_NUM_GROUPS };

static const char* const param_group_names[PG_NUM_GROUPS] = {
    "matrices", "wpe", "wte n=0", "wte n=1-9", "wte n=10-99", "wte n=100-999", "wte n>=1000", "wte padding", "wte",
    "other", "active", "all",
};

typedef struct {
    size_t params, rows, zeros; // rows: wte groups only
    double entropy_bits;        // per parameter
    double eg_bits;             // per parameter, best k
    int eg_k;
} ParamGroup;

typedef struct {
    int have_counts;            // the wte n=... groups are filled (else only "wte")
    float delta;
    size_t total_params;
    ParamGroup g[PG_NUM_GROUPS];
} ParamGroups;

// the group of wte row r with training count n (counts given), V real rows
static inline int param_groups_wte_group(size_t r, int V, uint64_t n) {
    if (r >= (size_t)V) return PG_WTE_PAD;
    if (n == 0) return PG_WTE_UNUSED;
    if (n < 10) return PG_WTE_1;
    if (n < 100) return PG_WTE_10;
    if (n < 1000) return PG_WTE_100;
    return PG_WTE_1000;
}

static inline int param_groups_cmp_i32_(const void* a, const void* b) {
    int32_t x = *(const int32_t*)a, y = *(const int32_t*)b;
    return (x > y) - (x < y);
}
static inline int param_groups_cmp_desc_u64_(const void* a, const void* b) {
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return (x < y) - (x > y);
}

// entropy and EG size of n quantized values q (sorted in place)
static inline int param_groups_code_(int32_t* q, size_t n, ParamGroup* g) {
    g->entropy_bits = 0.0; g->eg_bits = 0.0; g->eg_k = 0;
    if (n == 0) return BS_OK;
    qsort(q, n, sizeof(int32_t), param_groups_cmp_i32_);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) distinct += i == 0 || q[i] != q[i - 1];
    uint64_t* counts = (uint64_t*)malloc(distinct * sizeof(uint64_t));
    if (counts == NULL) return bs_error_set(BS_ENOMEM, "out of memory for %zu distinct values", distinct);
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || q[i] != q[i - 1]) counts[d++] = 0;
        counts[d - 1]++;
    }
    qsort(counts, distinct, sizeof(uint64_t), param_groups_cmp_desc_u64_); // rank order
    double h = 0.0;
    for (size_t i = 0; i < distinct; i++) { double p = (double)counts[i] / (double)n; h -= p * log2(p); }
    double best = INFINITY;
    for (int k = 0; k <= EG_MAX_K; k++) {
        double bits = 0.0;
        for (size_t i = 0; i < distinct; i++) bits += (double)counts[i] * eg_length((uint32_t)(i < EG_MAX_INDEX ? i : EG_MAX_INDEX - 1), k);
        if (bits < best) { best = bits; g->eg_k = k; }
    }
    g->entropy_bits = h;
    g->eg_bits = best / (double)n;
    free(counts);
    return BS_OK;
}

// the groups of `params` (cfg's layout) at `delta`; row_counts: the training count of each
// token id (V entries) or NULL
static inline int param_groups_compute(const GPT2Config* cfg, const float* params, const uint64_t* row_counts, float delta,
                                       ParamGroups* out) {
    memset(out, 0, sizeof(*out));
    if (!(delta > 0.0f)) return bs_error_set(BS_EINVAL, "parameter groups: Delta %g must be positive", (double)delta);
    out->delta = delta;
    out->have_counts = row_counts != NULL;
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offsets[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, sizes);
    gpt2_param_offsets(cfg, offsets);
    size_t total = gpt2_num_params(cfg), C = (size_t)cfg->channels, Vp = (size_t)cfg->padded_vocab_size;
    out->total_params = total;
    // the group of each parameter, as a (start, end, group) walk: fill per-group arrays of q
    int32_t* q = (int32_t*)malloc(total * sizeof(int32_t));
    if (q == NULL) return bs_error_set(BS_ENOMEM, "out of memory for %zu quantized values", total);
    float inv = 1.0f / delta;
    // pass 1: sizes of each group
    size_t count[PG_NUM_GROUPS] = {0};
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (t == GPT2_WTE) {
            for (size_t r = 0; r < Vp; r++) {
                int grp = row_counts ? param_groups_wte_group(r, cfg->vocab_size, r < (size_t)cfg->vocab_size ? row_counts[r] : 0) : PG_WTE_ALL;
                count[grp] += C; out->g[grp].rows++;
            }
        } else {
            int grp = t == GPT2_WPE ? PG_WPE : gpt2_param_is_matrix(t) ? PG_MATRICES : PG_OTHER;
            count[grp] += sizes[t];
        }
    }
    size_t start[PG_NUM_GROUPS], fill[PG_NUM_GROUPS], pos = 0;
    for (int grp = 0; grp < PG_ACTIVE; grp++) { start[grp] = pos; fill[grp] = pos; pos += count[grp]; }
    // pass 2: quantize into the groups' slices
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        const float* w = params + offsets[t];
        if (t == GPT2_WTE) {
            for (size_t r = 0; r < Vp; r++) {
                int grp = row_counts ? param_groups_wte_group(r, cfg->vocab_size, r < (size_t)cfg->vocab_size ? row_counts[r] : 0) : PG_WTE_ALL;
                for (size_t c = 0; c < C; c++) q[fill[grp]++] = quantize_value(w[r * C + c], inv);
            }
        } else {
            int grp = t == GPT2_WPE ? PG_WPE : gpt2_param_is_matrix(t) ? PG_MATRICES : PG_OTHER;
            for (size_t i = 0; i < sizes[t]; i++) q[fill[grp]++] = quantize_value(w[i], inv);
        }
    }
    for (int grp = 0; grp < PG_ACTIVE; grp++) {
        ParamGroup* g = &out->g[grp];
        g->params = count[grp];
        for (size_t i = 0; i < count[grp]; i++) g->zeros += q[start[grp] + i] == 0;
    }
    // the totals: "active" leaves out the unused and padding rows, which lie together only
    // when sorted that way, so it is coded from its own copy
    ParamGroup* act = &out->g[PG_ACTIVE];
    ParamGroup* all = &out->g[PG_ALL];
    int rc = BS_OK;
    int32_t* tmp = (int32_t*)malloc(total * sizeof(int32_t));
    if (tmp == NULL) { free(q); return bs_error_set(BS_ENOMEM, "out of memory for %zu quantized values", total); }
    size_t na = 0;
    for (int grp = 0; grp < PG_ACTIVE; grp++) {
        int inactive = grp == PG_WTE_UNUSED || grp == PG_WTE_PAD;
        all->params += count[grp]; all->zeros += out->g[grp].zeros; all->rows += out->g[grp].rows;
        if (inactive) continue;
        act->params += count[grp]; act->zeros += out->g[grp].zeros; act->rows += out->g[grp].rows;
        memcpy(tmp + na, q + start[grp], count[grp] * sizeof(int32_t));
        na += count[grp];
    }
    rc = param_groups_code_(tmp, na, act);
    if (rc == BS_OK) { memcpy(tmp, q, total * sizeof(int32_t)); rc = param_groups_code_(tmp, total, all); }
    for (int grp = 0; grp < PG_ACTIVE && rc == BS_OK; grp++) rc = param_groups_code_(q + start[grp], count[grp], &out->g[grp]);
    free(tmp);
    free(q);
    return rc;
}

// the training count of every token id below V (counts: V entries, zeroed here)
static inline void param_groups_count_tokens(const uint16_t* tokens, size_t n, int V, uint64_t* counts) {
    memset(counts, 0, (size_t)V * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) if (tokens[i] < V) counts[tokens[i]]++;
}

// a table, one line per non-empty group
static inline void param_groups_print(FILE* f, const ParamGroups* pg) {
    fprintf(f, "parameter groups at Delta %g (zeros: round(w/Delta) = 0; bits per parameter, the group's own value map):\n",
            (double)pg->delta);
    fprintf(f, "  %-14s %10s %8s %7s %8s %9s %9s\n", "group", "params", "share", "rows", "zeros", "entropy", "EG (k)");
    for (int grp = 0; grp < PG_NUM_GROUPS; grp++) {
        const ParamGroup* g = &pg->g[grp];
        if (g->params == 0 && grp != PG_ALL) continue;
        char rows[24] = "";
        if (g->rows) snprintf(rows, sizeof(rows), "%zu", g->rows);
        fprintf(f, "  %-14s %10zu %7.2f%% %7s %7.2f%% %9.3f %6.3f (%d)\n", param_group_names[grp], g->params,
                100.0 * (double)g->params / (double)(pg->total_params ? pg->total_params : 1), rows,
                100.0 * (double)g->zeros / (double)(g->params ? g->params : 1), g->entropy_bits, g->eg_bits, g->eg_k);
    }
}

// appends one CSV row per non-empty group (header first when the file is new or empty)
static inline int param_groups_append_csv(const char* path, const char* tag, const ParamGroups* pg) {
    int64_t size = bs_file_size(path);
    FILE* f = fopen(path, "a");
    if (f == NULL) return bs_error_set(BS_EIO, "%s: cannot open for appending (%s)", path, strerror(errno));
    if (size <= 0) fprintf(f, "tag,delta,group,params,share,rows,zero_frac,entropy_bits,eg_bits,eg_k\n");
    for (int grp = 0; grp < PG_NUM_GROUPS; grp++) {
        const ParamGroup* g = &pg->g[grp];
        if (g->params == 0) continue;
        fprintf(f, "%s,%g,%s,%zu,%.6f,%zu,%.6f,%.6f,%.6f,%d\n", tag, (double)pg->delta, param_group_names[grp], g->params,
                (double)g->params / (double)pg->total_params, g->rows, (double)g->zeros / (double)g->params, g->entropy_bits,
                g->eg_bits, g->eg_k);
    }
    if (fclose(f) != 0) return bs_error_set(BS_EIO, "%s: write failed (%s)", path, strerror(errno));
    return BS_OK;
}

// the trainer's final report: the groups of the trained weights, counts from its training
// tokens (a failure, e.g. out of memory, is printed, not fatal: the model is saved already)
static inline void param_groups_report(const GPT2Config* cfg, const float* params, const uint16_t* tokens, size_t n,
                                       float delta) {
    uint64_t* counts = (uint64_t*)malloc((size_t)cfg->vocab_size * sizeof(uint64_t));
    ParamGroups pg;
    if (counts == NULL) { printf("parameter groups: out of memory\n"); return; }
    param_groups_count_tokens(tokens, n, cfg->vocab_size, counts);
    if (param_groups_compute(cfg, params, counts, delta, &pg) == BS_OK) param_groups_print(stdout, &pg);
    else printf("parameter groups: %s\n", bs_error());
    free(counts);
}

#endif // LLMC_PARAM_GROUPS_H
