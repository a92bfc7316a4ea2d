// Matrix-vector time of each weight form (llmc/weight_form.h) on one core, for
// scripts/bench_generate.sh: eight 12288x768 matrices (75 M weights, larger than the
// caches, so every product streams its matrix from memory as decode does) of int8 levels
// with a given zero fraction at random positions; each form's product over all eight,
// the minimum CPU time of REPS rounds (forms interleaved), as ns per 16 weights and the
// bytes of the form read per second.
// Usage: bench_weight_form ZERO_FRACTION [REPS]
#include <stdio.h>
#include <time.h>
#include "../../llmc/rng.h"
#include "../../llmc/weight_form.h"

#define BENCH_ROWS 12288
#define BENCH_COLS 768
#define BENCH_MATS 8

static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
    double z = 0.0;
    long long reps = 10;
    if (argc < 2 || !parse_float(argv[1], 0.0, 1.0, &z) || (argc > 2 && !parse_int(argv[2], 1, 1000, &reps))) {
        fprintf(stderr, "usage: %s ZERO_FRACTION [REPS]\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)BENCH_ROWS * BENCH_COLS;
    int32_t* q = (int32_t*)malloc_or_die(n * sizeof(int32_t));
    Rng rng;
    rng_init(&rng, 1);
    for (size_t i = 0; i < n; i++) q[i] = rng_uniform(&rng) < z ? 0 : 1 + (int32_t)rng_below(&rng, 100) * (rng_u64(&rng) & 1 ? 1 : -1);
    float x[BENCH_COLS], out[BENCH_ROWS];
    for (int i = 0; i < BENCH_COLS; i++) x[i] = rng_uniform(&rng) - 0.5f;
    static WeightForm f[WF_NUM_FORMS][BENCH_MATS];
    for (int k = 0; k < WF_NUM_FORMS; k++)
        for (int m = 0; m < BENCH_MATS; m++) {
            if (wf_begin(&f[k][m], (WeightFormKind)k, WF_VALUE_I8, BENCH_ROWS, BENCH_COLS, 1e-3f, 0) != BS_OK) die("%s", bs_error());
            for (int r = 0; r < BENCH_ROWS; r++)
                if (wf_append_row(&f[k][m], NULL, q + (size_t)r * BENCH_COLS) != BS_OK) die("%s", bs_error());
        }
    double best[WF_NUM_FORMS];
    for (int k = 0; k < WF_NUM_FORMS; k++) best[k] = 1e30;
    for (long long rep = 0; rep < reps; rep++)
        for (int k = 0; k < WF_NUM_FORMS; k++) {
            double t = thread_cpu_seconds();
            for (int m = 0; m < BENCH_MATS; m++) wf_matvec(&f[k][m], out, x, NULL);
            t = thread_cpu_seconds() - t;
            if (t < best[k]) best[k] = t;
        }
    double weights = (double)n * BENCH_MATS;
    for (int k = 0; k < WF_NUM_FORMS; k++)
        printf("%.2f %s %.3f %.2f %.3f\n", z, wf_form_names[k], best[k] / weights * 16e9,
               (double)wf_bytes(&f[k][0]) * BENCH_MATS / best[k] / 1e9, (double)wf_bytes(&f[k][0]) / n);
    return 0;
}
