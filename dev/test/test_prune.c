/*
 Tests of llmc/prune.h (global magnitude pruning of the constrained tensors) and of
 quantize_array_inplace (llmc/quantize.h), on a small random GPT-2 parameter array:
 exactly round(f N) weights set to zero; every surviving constrained weight is at least
 as large in |w| as every pruned one (one global threshold); the other tensors (biases,
 LayerNorm) untouched; ties at the threshold broken by position; fractions 0 and 1;
 a bad fraction refused; quantized values are multiples of Delta within Delta/2.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/gpt2_params.h"
#include "../../llmc/prune.h"
#include "../../llmc/quantize.h"
#include "../../llmc/rng.h"
#include "../../llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static GPT2Config small_config(void) {
    GPT2Config c = {0};
    c.max_seq_len = 16; c.vocab_size = 300; c.padded_vocab_size = 320; c.num_layers = 2; c.num_heads = 2; c.channels = 16;
    return c;
}

static float* random_params(const GPT2Config* c, uint64_t seed) {
    size_t n = gpt2_num_params(c);
    float* p = (float*)malloc_or_die(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 0.05f * rng_normal_at(seed, i);
    return p;
}

static void check_fraction(double f) {
    GPT2Config c = small_config();
    size_t n = gpt2_num_params(&c), sizes[GPT2_NUM_PARAM_TENSORS], offsets[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(&c, sizes);
    gpt2_param_offsets(&c, offsets);
    float* orig = random_params(&c, 7);
    float* p = (float*)malloc_or_die(n * sizeof(float));
    memcpy(p, orig, n * sizeof(float));
    PruneResult r;
    CHECK(prune_magnitude(&c, p, f, &r) == BS_OK, "prune %g: %s", f, bs_error());
    size_t N = 0;
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) if (gpt2_param_is_matrix(g)) N += sizes[g];
    size_t k = (size_t)(f * (double)N + 0.5);
    CHECK(r.num_constrained == N && r.num_pruned == k, "f %g: N %zu k %zu, got %zu %zu", f, N, k, r.num_constrained, r.num_pruned);
    size_t zeroed = 0, zeros_before = 0;
    float max_pruned = 0.0f, min_kept = INFINITY;
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        for (size_t i = offsets[g]; i < offsets[g] + sizes[g]; i++) {
            if (!gpt2_param_is_matrix(g)) { CHECK(p[i] == orig[i], "f %g: tensor %d changed", f, g); continue; }
            zeros_before += orig[i] == 0.0f;
            if (p[i] == 0.0f) { zeroed++; if (fabsf(orig[i]) > max_pruned) max_pruned = fabsf(orig[i]); }
            else { CHECK(p[i] == orig[i], "f %g: kept weight changed", f); if (fabsf(p[i]) < min_kept) min_kept = fabsf(p[i]); }
        }
    }
    // the padded wte rows are zero from the start (they count among the smallest)
    CHECK(zeroed == (k > zeros_before ? k : zeros_before), "f %g: %zu zeros, expected %zu", f, zeroed, k);
    CHECK(r.num_zero == zeroed, "f %g: num_zero %zu, counted %zu", f, r.num_zero, zeroed);
    CHECK(max_pruned <= min_kept, "f %g: a pruned |w| %g exceeds a kept |w| %g", f, (double)max_pruned, (double)min_kept);
    if (k > 0) CHECK(r.threshold == max_pruned, "f %g: threshold %g, largest pruned %g", f, (double)r.threshold, (double)max_pruned);
    free(p);
    free(orig);
}

int main(void) {
    double fractions[] = {0.0, 0.001, 0.1, 0.5, 0.8, 0.95, 0.999, 1.0};
    for (size_t i = 0; i < sizeof(fractions) / sizeof(fractions[0]); i++) check_fraction(fractions[i]);

    // ties: all constrained weights +-0.5 -> pruning 30% zeroes exactly 30%, the first ones in order
    GPT2Config c = small_config();
    size_t count = gpt2_num_params(&c), N = 0;
    float* p = random_params(&c, 3);
    PRUNE_FOR_EACH_CONSTRAINED(&c, p, { for (size_t i = 0; i < n; i++) w[i] = (i & 1) ? 0.5f : -0.5f; N += n; });
    PruneResult r;
    CHECK(prune_magnitude(&c, p, 0.3, &r) == BS_OK, "ties: %s", bs_error());
    size_t k = (size_t)(0.3 * (double)N + 0.5), seen = 0, bad_order = 0;
    int kept_seen = 0;
    PRUNE_FOR_EACH_CONSTRAINED(&c, p, {
        for (size_t i = 0; i < n; i++) {
            if (w[i] == 0.0f) { seen++; if (kept_seen) bad_order++; } else kept_seen = 1;
        }
    });
    CHECK(seen == k && r.num_zero == k, "ties: %zu zeros, expected %zu", seen, k);
    CHECK(bad_order == 0, "ties: %zu pruned weights come after a kept one", bad_order);
    // bad fractions
    CHECK(prune_magnitude(&c, p, -0.1, &r) == BS_EINVAL, "fraction -0.1 accepted");
    CHECK(prune_magnitude(&c, p, 1.5, &r) == BS_EINVAL, "fraction 1.5 accepted");
    CHECK(prune_magnitude(&c, p, NAN, &r) == BS_EINVAL, "fraction NaN accepted");
    free(p);

    // quantization: multiples of Delta, error at most Delta/2, zero exactly when |w| <= Delta/2
    p = random_params(&c, 11);
    float* q = (float*)malloc_or_die(count * sizeof(float));
    memcpy(q, p, count * sizeof(float));
    float delta = 0.01f;
    quantize_array_inplace(q, count, delta);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        double m = (double)q[i] / delta;
        if (fabs(m - rint(m)) > 1e-4 || fabsf(q[i] - p[i]) > 0.5f * delta * (1.0f + 1e-5f)) bad++;
        if ((q[i] == 0.0f) != (fabsf(p[i]) <= 0.5f * delta)) bad++;
    }
    CHECK(bad == 0, "quantization: %zu bad values", bad);
    free(p);
    free(q);

    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("prune and quantize: all checks passed\n");
    return 0;
}
