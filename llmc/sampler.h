/*
 sampler.h: the next token from a vector of logits: greedy (temperature 0) or a draw from
 softmax(logits / temperature), restricted to the top-k tokens and then to the nucleus of
 top-p (Holtzman et al. 2020): the fewest most-likely tokens whose probability (among those
 kept by top-k) reaches p. The draws come from rng.h's SplitMix64, so a seed repeats a run.

 Top-p sorts only the candidates that can be in the nucleus: a token with probability below
 (1 - p) / (V - 1) never is (the others would already sum past p), as llama2.c's run.c
 observes; top-k alone selects with a partial sort of the k largest.
*/
#ifndef LLMC_SAMPLER_H
#define LLMC_SAMPLER_H

#include <math.h>
#include <stdlib.h>
#include "rng.h"
#include "utils.h"

typedef struct {
    float prob;
    int index;
} SamplerCandidate;

typedef struct {
    float temperature; // 0: greedy
    int top_k;         // 0: all tokens
    float top_p;       // 1: all tokens
    Rng rng;
    int vocab_size;
    float* probs;                  // (vocab_size)
    SamplerCandidate* candidates;  // (vocab_size)
} Sampler;

static inline int sampler_init(Sampler* s, int vocab_size, float temperature, int top_k, float top_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->vocab_size = vocab_size;
    rng_init(&s->rng, seed);
    s->probs = (float*)malloc((size_t)vocab_size * sizeof(float));
    s->candidates = (SamplerCandidate*)malloc((size_t)vocab_size * sizeof(SamplerCandidate));
    if (!s->probs || !s->candidates) { free(s->probs); free(s->candidates); return bs_error_set(BS_ENOMEM, "sampler: out of memory"); }
    return BS_OK;
}

static inline void sampler_free(Sampler* s) { free(s->probs); free(s->candidates); s->probs = NULL; s->candidates = NULL; }

static inline int sampler_argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

static inline int sampler_candidate_desc(const void* a, const void* b) {
    const SamplerCandidate *x = (const SamplerCandidate*)a, *y = (const SamplerCandidate*)b;
    if (x->prob != y->prob) return x->prob > y->prob ? -1 : 1;
    return x->index - y->index; // ties: the smaller id first, so the order is deterministic
}

// moves the k largest of c[0..n) to the front (unordered), expected O(n): quickselect
static inline void sampler_select_top(SamplerCandidate* c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        SamplerCandidate pivot = c[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (sampler_candidate_desc(&c[i], &pivot) < 0) i++;
            while (sampler_candidate_desc(&c[j], &pivot) > 0) j--;
            if (i <= j) { SamplerCandidate t = c[i]; c[i] = c[j]; c[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

// the next token from logits (the first vocab_size entries are used)
static inline int sampler_sample(Sampler* s, const float* logits) {
    int V = s->vocab_size;
    if (s->temperature <= 0.0f) return sampler_argmax(logits, V);
    float maxv = logits[sampler_argmax(logits, V)];
    double sum = 0.0;
    for (int i = 0; i < V; i++) { s->probs[i] = expf((logits[i] - maxv) / s->temperature); sum += s->probs[i]; }
    for (int i = 0; i < V; i++) s->probs[i] = (float)(s->probs[i] / sum);
    int use_k = s->top_k > 0 && s->top_k < V, use_p = s->top_p > 0.0f && s->top_p < 1.0f;
    if (!use_k && !use_p) { // plain draw from the whole distribution
        float r = rng_uniform(&s->rng), cdf = 0.0f;
        for (int i = 0; i < V; i++) { cdf += s->probs[i]; if (r < cdf) return i; }
        return sampler_argmax(s->probs, V); // rounding left r above the last cdf
    }
    int n = 0;
    float cutoff = use_p && V > 1 ? (1.0f - s->top_p) / (float)(V - 1) : 0.0f;
    for (int i = 0; i < V; i++)
        if (s->probs[i] >= cutoff) { s->candidates[n].prob = s->probs[i]; s->candidates[n].index = i; n++; }
    if (n == 0) return sampler_argmax(s->probs, V); // a top-p so small that no token passed the cutoff
    if (use_k && s->top_k < n) { sampler_select_top(s->candidates, n, s->top_k); n = s->top_k; }
    qsort(s->candidates, (size_t)n, sizeof(SamplerCandidate), sampler_candidate_desc);
    float mass = 0.0f;
    for (int i = 0; i < n; i++) mass += s->candidates[i].prob;
    if (use_p) { // the nucleus of the (renormalized) kept tokens
        float cum = 0.0f;
        int keep = n;
        for (int i = 0; i < n; i++) { cum += s->candidates[i].prob; if (cum >= s->top_p * mass) { keep = i + 1; break; } }
        n = keep;
        mass = cum < mass ? cum : mass;
    }
    float r = rng_uniform(&s->rng) * mass, cdf = 0.0f;
    for (int i = 0; i < n; i++) { cdf += s->candidates[i].prob; if (r < cdf) return s->candidates[i].index; }
    return s->candidates[n - 1].index;
}

#endif // LLMC_SAMPLER_H
