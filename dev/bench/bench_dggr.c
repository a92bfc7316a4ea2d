/*
 Micro-benchmark of the optimizer step: plain AdamW (one OpenMP loop over the flat array,
 as a trainer without BackSlash would run it) against the fused AdamW + DGGR pass of
 llmc/dggr.h in its modes, on a GPT-2 parameter layout. Prints one table row per mode:
 median, min and max milliseconds per step over R repetitions.

   bench_dggr LAYERS CHANNELS REPS     (e.g. 12 768 for GPT-2 124M, 6 384)
*/
#include <omp.h>
#include "../../llmc/dggr.h"

// plain AdamW over the flat array (the loop of llmc/adamw.h, vectorized)
static void plain_adamw_pass(float* w, const float* g, float* m, float* v, size_t n, float lr, float b1, float b2,
                             float eps, float wd, int t) {
    DGGRAdamWStep a = dggr_adamw_constants(lr, b1, b2, eps, 1.0f, t);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float mi = m[i], vi = v[i];
        w[i] = dggr_adamw_element(w[i], g[i] * a.grad_scale, &mi, &vi, &a, wd);
        m[i] = mi;
        v[i] = vi;
    }
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc != 4) { fprintf(stderr, "usage: bench_dggr LAYERS CHANNELS REPS\n"); return 2; }
    GPT2Config c = {1024, 50257, gpt2_padded_vocab(50257), atoi(argv[1]), 12, atoi(argv[2])};
    if (c.channels == 384) c.num_heads = 6;
    int reps = atoi(argv[3]);
    if (gpt2_config_validate(&c, "bench") != BS_OK || reps < 1) { fprintf(stderr, "%s\n", bs_error()); return 2; }
    size_t n = gpt2_num_params(&c);
    float* w = malloc_or_die(n * sizeof(float));
    float* g = malloc_or_die(n * sizeof(float));
    float* m = calloc_or_die(n, sizeof(float));
    float* v = calloc_or_die(n, sizeof(float));
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)((s >> 40) & 0xffffff) / 16777216.0f - 0.5f;
        w[i] = 0.04f * u;
        g[i] = 1e-3f * u * u - 1e-4f;
    }
    const float lr = 3e-4f, b1 = 0.9f, b2 = 0.95f, aeps = 1e-8f, wd = 0.1f;
    // "+rate log": lambda = 0 with R computed for the log, in the variant's loop structure
    // (the trainer's -l 0 runs the default variant, decoupled)
    const char* names[] = {"AdamW (plain loop)", "dggr lambda=0",
                           "dggr lambda=0 +rate log (coupled)", "dggr lambda=0 +rate log (decoupled)",
                           "dggr coupled global", "dggr coupled tensor", "dggr decoupled global"};
    const int num_modes = (int)(sizeof(names) / sizeof(names[0]));
    printf("params %zu (L=%d C=%d), threads %d, %d reps\n", n, c.num_layers, c.channels, omp_get_max_threads(), reps);
    printf("%-36s %10s %10s %10s %9s\n", "mode", "median_ms", "min_ms", "max_ms", "vs_AdamW");
    double base = 0.0;
    double* ms = malloc_or_die((size_t)reps * sizeof(double));
    for (int mode = 0; mode < num_modes; mode++) {
        DGGRConfig cfg = dggr_config_default();
        cfg.lambda = mode >= 4 ? 1000.0f : 0.0f;
        cfg.shape_mode = mode == 5 ? DGGR_SHAPE_TENSOR : DGGR_SHAPE_GLOBAL;
        cfg.variant = mode == 3 || mode == 6 ? DGGR_DECOUPLED : DGGR_COUPLED;
        DGGR d;
        if (dggr_init_gpt2(&d, &cfg, &c) != BS_OK) { fprintf(stderr, "%s\n", bs_error()); return 1; }
        dggr_measure(&d, w);
        for (int r = -1; r < reps; r++) { // one warm-up
            double t0 = omp_get_wtime();
            if (mode == 0) plain_adamw_pass(w, g, m, v, n, lr, b1, b2, aeps, wd, r + 2);
            else dggr_step(&d, w, g, m, v, lr, b1, b2, aeps, wd, 1.0f, r + 2, mode == 2 || mode == 3);
            double dt = (omp_get_wtime() - t0) * 1e3;
            if (r >= 0) ms[r] = dt;
        }
        qsort(ms, (size_t)reps, sizeof(double), cmp_double);
        double med = ms[reps / 2];
        if (mode == 0) base = med;
        printf("%-36s %10.2f %10.2f %10.2f %8.1f%%\n", names[mode], med, ms[0], ms[reps - 1], 100.0 * (med / base - 1.0));
        dggr_free(&d);
    }
    free(ms); free(w); free(g); free(m); free(v);
    return 0;
}
