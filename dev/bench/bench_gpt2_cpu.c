/*
 bench_gpt2_cpu.c: times training steps of the CPU model (forward, backward, gradient
 norm, AdamW: what train_gpt2 does per step, without data loading or evaluation).
 Usage: bench_gpt2_cpu SPEC B T STEPS [CHECKPOINT_OUT]
   SPEC as train_gpt2's -e (d12 = GPT-2 124M, d6 = 6 layers 384 wide); random tokens.
 Prints one line: ms per step of each timed step (after one warm-up step), the median,
 tokens/s and the peak RSS. With CHECKPOINT_OUT it only writes the initial model there
 (an llm.c fp32 checkpoint, for timing llm.c's trainer on the same model) and exits.
 scripts/bench_cpu.sh runs it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include "../../llmc/gpt2_cpu.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    cpu_threads_passive_wait(argv);
    long long B, T, steps;
    if ((argc != 5 && argc != 6) || !parse_int(argv[2], 1, 4096, &B) || !parse_int(argv[3], 1, 65536, &T) ||
        !parse_int(argv[4], 1, 100000, &steps)) {
        fprintf(stderr, "usage: %s SPEC B T STEPS [CHECKPOINT_OUT]\n", argv[0]);
        return 1;
    }
    GPT2Config c;
    GPT2 model;
    if (gpt2_config_from_spec(argv[1], &c) != BS_OK || gpt2_init_random(&model, &c, 1337) != BS_OK) die("%s", bs_error());
    if (argc == 6) {
        if (gpt2_save_checkpoint(&model, argv[5]) != BS_OK) die("%s", bs_error());
        gpt2_free(&model);
        return 0;
    }
    size_t BT = (size_t)(B * T);
    int* inputs = (int*)malloc_or_die(BT * sizeof(int));
    int* targets = (int*)malloc_or_die(BT * sizeof(int));
    Rng rng = {42};
    for (size_t i = 0; i < BT; i++) {
        inputs[i] = (int)rng_below(&rng, (uint64_t)c.vocab_size);
        targets[i] = (int)rng_below(&rng, (uint64_t)c.vocab_size);
    }
    float* m = (float*)calloc_or_die(model.num_params, sizeof(float));
    float* v = (float*)calloc_or_die(model.num_params, sizeof(float));
    double* ms = (double*)malloc_or_die((size_t)(steps + 1) * sizeof(double));
    for (int s = 0; s <= steps; s++) {
        double t0 = now_seconds();
        if (gpt2_forward(&model, inputs, targets, (int)B, (int)T) != BS_OK) die("%s", bs_error());
        if (gpt2_zero_grad(&model) != BS_OK || gpt2_backward(&model) != BS_OK) die("%s", bs_error());
        float scale = grad_clip_scale(grad_norm_l2(model.grads_memory, model.num_params), 1.0f);
        gpt2_adamw_step(&model, m, v, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.0f, scale, s + 1);
        ms[s] = (now_seconds() - t0) * 1e3;
    }
    printf("steps_ms");
    for (int s = 1; s <= steps; s++) printf(" %.1f", ms[s]);
    qsort(ms + 1, (size_t)steps, sizeof(double), cmp_double);
    double median = steps % 2 ? ms[1 + steps / 2] : 0.5 * (ms[steps / 2] + ms[steps / 2 + 1]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(" median_ms %.1f tokens_per_s %.0f peak_rss_mb %.0f loss %.4f\n", median, BT / (median / 1e3),
           ru.ru_maxrss / 1024.0, model.mean_loss);
    free(ms); free(m); free(v); free(inputs); free(targets);
    gpt2_free(&model);
    return 0;
}
