// A synthetic GPT-2 checkpoint for scripts/bench_generate.sh: GPT-2's initialisation
// (normal(0, 0.02) weight matrices, gpt2_init_random) with the smallest-magnitude fraction
// of the weight matrices and embeddings set to zero (one global threshold, llmc/prune.h),
// every parameter then rounded to a multiple of Delta (llmc/quantize.h, as a .bsz holds
// it). Not a trained model: its zeros are spread as magnitude pruning spreads them.
// Usage: synth_model SPEC ZERO_FRACTION OUT.bin [DELTA] [SEED]     (SPEC as -e takes it: d12)
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/gpt2_cpu.h"
#include "../../llmc/prune.h"
#include "../../llmc/quantize.h"

int main(int argc, char** argv) {
    if (argc < 4 || argc > 6) { fprintf(stderr, "usage: %s SPEC ZERO_FRACTION OUT.bin [DELTA] [SEED]\n", argv[0]); return 2; }
    GPT2Config c;
    double frac = 0.0, delta = QUANTIZE_DEFAULT_DELTA;
    long long seed = 1;
    if (gpt2_config_from_spec(argv[1], &c) != BS_OK) die("%s", bs_error());
    if (!parse_float(argv[2], 0.0, 1.0, &frac)) die("ZERO_FRACTION '%s' is not in [0, 1]", argv[2]);
    if (argc > 4 && !parse_float(argv[4], 1e-9, 1e3, &delta)) die("DELTA '%s' is not a step in (0, 1000]", argv[4]);
    if (argc > 5 && !parse_int(argv[5], 0, INT64_MAX, &seed)) die("SEED '%s' is not a non-negative integer", argv[5]);
    GPT2 model;
    if (gpt2_init_random(&model, &c, (uint64_t)seed) != BS_OK) die("%s", bs_error());
    PruneResult pr;
    if (prune_magnitude(&c, model.params_memory, frac, &pr) != BS_OK) die("%s", bs_error());
    quantize_array_inplace(model.params_memory, model.num_params, (float)delta);
    size_t constrained = 0, zeros = prune_count_zeros(&c, model.params_memory, &constrained);
    if (model_fp32_write(argv[3], &c, model.params_memory) != BS_OK) die("%s", bs_error());
    printf("%s: %s, %.2f%% of the %zu constrained weights zero, Delta %g\n", argv[3], argv[1],
           100.0 * zeros / constrained, constrained, delta);
    gpt2_free(&model);
    return 0;
}
