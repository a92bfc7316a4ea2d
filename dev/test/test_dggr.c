/*
 Tests of llmc/dggr.h, the fused AdamW + DGGR update.

   test_dggr                       unit tests (seconds):
     - lambda = 0, and steps after the schedule's end, give exactly adamw_update's result
       (llmc/adamw.h, the trainer's plain AdamW) bit for bit
     - results do not depend on the number of threads (w, m, v and every statistic)
     - fixed nu = 1 and nu = 2 (eps = 0) equal L1 and L2 penalties added to the gradient
     - the statistics (moments, zero fraction, rate) equal a plain recomputation
     - the saved state round-trips and a damaged one is refused
   test_dggr --trajectory OUT VARIANT SHAPE
                                   writes a small problem and 10 steps of the update to OUT,
                                   for dev/test/dggr_reference.py (PyTorch autograd) to check
*/
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/adamw.h"
#include "../../llmc/dggr.h"
#include "../../llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng_state = 12345;
static float rng_normal(void) { // splitmix64 + Box-Muller
    double u[2];
    for (int k = 0; k < 2; k++) {
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        u[k] = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]));
}

// a problem: segments of mixed sizes (one spans several chunks), weights with a heavy tail
// (normal times |normal|, nu about 0.8) and a quadratic loss D = sum a (w - b)^2 / 2
typedef struct {
    int num_segments;
    DGGRSegment seg[4];
    size_t n;
    float *w, *a, *b, *grad, *m, *v;
} Problem;

static Problem problem_make(void) {
    Problem p;
    memset(&p, 0, sizeof(p));
    const size_t sizes[4] = {1000, 300, 40000, 77};
    const int constrained[4] = {1, 0, 1, 1};
    const int decay[4] = {1, 0, 1, 0};
    p.num_segments = 4;
    for (int s = 0; s < 4; s++) {
        p.seg[s].offset = p.n;
        p.seg[s].numel = sizes[s];
        p.seg[s].constrained = constrained[s];
        p.seg[s].decay = decay[s];
        p.n += sizes[s];
    }
    p.w = malloc_or_die(p.n * sizeof(float));
    p.a = malloc_or_die(p.n * sizeof(float));
    p.b = malloc_or_die(p.n * sizeof(float));
    p.grad = malloc_or_die(p.n * sizeof(float));
    p.m = calloc_or_die(p.n, sizeof(float));
    p.v = calloc_or_die(p.n, sizeof(float));
    for (size_t i = 0; i < p.n; i++) {
        float z = rng_normal();
        p.w[i] = 0.1f * z * fabsf(rng_normal());
        p.a[i] = 0.5f + 1.5f * fabsf(rng_normal()) / 3.0f;
        p.b[i] = 0.05f * rng_normal();
    }
    p.w[5] = 0.0f; // an exact zero: sign(0) = 0, no rate gradient
    return p;
}

static Problem problem_copy(const Problem* q) {
    Problem p = *q;
    size_t bytes = q->n * sizeof(float);
    p.w = malloc_or_die(bytes); memcpy(p.w, q->w, bytes);
    p.a = malloc_or_die(bytes); memcpy(p.a, q->a, bytes);
    p.b = malloc_or_die(bytes); memcpy(p.b, q->b, bytes);
    p.grad = malloc_or_die(bytes); memcpy(p.grad, q->grad, bytes);
    p.m = malloc_or_die(bytes); memcpy(p.m, q->m, bytes);
    p.v = malloc_or_die(bytes); memcpy(p.v, q->v, bytes);
    return p;
}

static void problem_free(Problem* p) {
    free(p->w); free(p->a); free(p->b); free(p->grad); free(p->m); free(p->v);
}

static void problem_grad(Problem* p) {
    for (size_t i = 0; i < p->n; i++) p->grad[i] = p->a[i] * (p->w[i] - p->b[i]);
}

// AdamW hyperparameters of the tests (grad_scale: a clipping factor)
static const struct { float lr, beta1, beta2, eps, weight_decay, grad_scale; } HP = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.01f, 0.7f};

#define DGGR_STEP(d, p, t, with_rate) \
    dggr_step((d), (p)->w, (p)->grad, (p)->m, (p)->v, HP.lr, HP.beta1, HP.beta2, HP.eps, HP.weight_decay, HP.grad_scale, (t), (with_rate))

// plain AdamW: adamw_update of llmc/adamw.h per segment, with weight decay where the
// segment's decay flag is set, as gpt2_adamw_step does per tensor (the reference for lambda = 0)
static void plain_adamw(Problem* p, int t) {
    for (int s = 0; s < p->num_segments; s++) {
        size_t o = p->seg[s].offset;
        adamw_update(p->w + o, p->grad + o, p->m + o, p->v + o, p->seg[s].numel, HP.lr, HP.beta1, HP.beta2, HP.eps,
                     p->seg[s].decay ? HP.weight_decay : 0.0f, HP.grad_scale, t);
    }
}

static int same_bits(const float* x, const float* y, size_t n) { return memcmp(x, y, n * sizeof(float)) == 0; }

static void test_lambda0_is_adamw(void) {
    Problem p = problem_make(), q = problem_copy(&p);
    DGGR d;
    DGGRConfig cfg = dggr_config_default();
    cfg.lambda = 0.0f;
    CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_OK, "init: %s", bs_error());
    dggr_measure(&d, p.w);
    for (int t = 1; t <= 5; t++) {
        problem_grad(&p);
        problem_grad(&q);
        DGGR_STEP(&d, &p, t, t % 2); // with and without the logged rate
        plain_adamw(&q, t);
        CHECK(same_bits(p.w, q.w, p.n) && same_bits(p.m, q.m, p.n) && same_bits(p.v, q.v, p.n),
              "lambda = 0: step %d differs from plain AdamW", t);
    }
    dggr_free(&d);
    // lambda > 0 with a schedule of 3 steps: steps 4.. are plain AdamW again
    Problem r = problem_copy(&p), s = problem_copy(&p);
    cfg.lambda = 500.0f;
    cfg.schedule_steps = 3;
    CHECK(dggr_init(&d, &cfg, r.seg, r.num_segments) == BS_OK, "init: %s", bs_error());
    dggr_measure(&d, r.w);
    int differs = 0;
    for (int t = 1; t <= 6; t++) {
        problem_grad(&r);
        DGGR_STEP(&d, &r, t, 1);
        CHECK(d.rate_active == (t <= 3), "schedule: step %d active %d", t, d.rate_active);
        if (t == 3) { // from here on the reference continues from the same state
            memcpy(s.w, r.w, r.n * 4); memcpy(s.m, r.m, r.n * 4); memcpy(s.v, r.v, r.n * 4);
            differs = !same_bits(r.w, q.w, r.n);
        }
        if (t > 3) {
            problem_grad(&s);
            plain_adamw(&s, t);
            CHECK(same_bits(r.w, s.w, r.n) && same_bits(r.m, s.m, r.n) && same_bits(r.v, s.v, r.n),
                  "after the schedule: step %d differs from plain AdamW", t);
        }
    }
    CHECK(differs, "lambda = 500 changed the weights during the schedule");
    dggr_free(&d);
    problem_free(&p); problem_free(&q); problem_free(&r); problem_free(&s);
}

// every variant and shape mode: 1 thread and 2 threads give the same bits
static void test_thread_independence(void) {
    for (int variant = 0; variant < 3; variant++) {
        for (int shape = 0; shape < 3; shape++) {
            Problem base = problem_make();
            Problem p[2] = {problem_copy(&base), problem_copy(&base)};
            DGGR d[2];
            DGGRConfig cfg = dggr_config_default();
            cfg.lambda = 800.0f;
            cfg.variant = variant;
            cfg.shape_mode = shape;
            cfg.fixed_nu = 0.5f;
            for (int k = 0; k < 2; k++) {
                omp_set_num_threads(k + 1);
                CHECK(dggr_init(&d[k], &cfg, p[k].seg, p[k].num_segments) == BS_OK, "init");
                dggr_measure(&d[k], p[k].w);
                for (int t = 1; t <= 4; t++) {
                    problem_grad(&p[k]);
                    DGGR_STEP(&d[k], &p[k], t, 1);
                }
            }
            omp_set_num_threads(2);
            CHECK(same_bits(p[0].w, p[1].w, base.n) && same_bits(p[0].m, p[1].m, base.n) &&
                      same_bits(p[0].v, p[1].v, base.n),
                  "variant %d shape %d: weights depend on the thread count", variant, shape);
            CHECK(d[0].rate == d[1].rate && d[0].nu == d[1].nu && d[0].mom.sum_abs == d[1].mom.sum_abs &&
                      d[0].mom.sum_sq == d[1].mom.sum_sq && d[0].mom.zeros == d[1].mom.zeros,
                  "variant %d shape %d: statistics depend on the thread count", variant, shape);
            for (int k = 0; k < 2; k++) { dggr_free(&d[k]); problem_free(&p[k]); }
            problem_free(&base);
        }
    }
}

// fixed nu = 1 is an L1 penalty, nu = 2 an L2 penalty (eps = 0): coupled, the gradient
// gains lambda/N sign(w) resp. 2 lambda/N w; decoupled, the weights shrink by it
static void test_l1_l2(void) {
    for (int variant = 0; variant < 2; variant++) {
        for (int k = 0; k < 2; k++) {
            float nu = k == 0 ? 1.0f : 2.0f;
            Problem p = problem_make(), q = problem_copy(&p);
            DGGR d;
            DGGRConfig cfg = dggr_config_default();
            cfg.lambda = 300.0f;
            cfg.eps = 0.0f;
            cfg.variant = variant;
            cfg.shape_mode = DGGR_SHAPE_FIXED;
            cfg.fixed_nu = nu;
            CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_OK, "init");
            dggr_measure(&d, p.w);
            double N = (double)d.num_constrained, worst = 0.0;
            for (int t = 1; t <= 5; t++) {
                problem_grad(&p);
                problem_grad(&q);
                double pen = 0.0;
                for (int s = 0; s < p.num_segments; s++) {
                    if (!p.seg[s].constrained) continue;
                    for (size_t i = p.seg[s].offset; i < p.seg[s].offset + p.seg[s].numel; i++) {
                        float w = q.w[i];
                        float sgn = (float)((w > 0) - (w < 0));
                        float g = nu == 1.0f ? (float)(cfg.lambda / N) * sgn : (float)(2.0 * cfg.lambda / N) * w;
                        // plain_adamw scales the gradient by grad_scale; the rate's part is not scaled
                        if (variant == DGGR_COUPLED) q.grad[i] += g / HP.grad_scale;
                        pen += nu == 1.0f ? fabs(w) : (double)w * w;
                    }
                }
                plain_adamw(&q, t);
                if (variant == DGGR_DECOUPLED) {
                    for (int s = 0; s < p.num_segments; s++) {
                        if (!p.seg[s].constrained) continue;
                        for (size_t i = p.seg[s].offset; i < p.seg[s].offset + p.seg[s].numel; i++) {
                            float w = q.w[i];
                            float sgn = (float)((w > 0) - (w < 0));
                            q.w[i] -= nu == 1.0f ? (float)(cfg.lambda / N) * sgn : (float)(2.0 * cfg.lambda / N) * w;
                        }
                    }
                }
                DGGR_STEP(&d, &p, t, 1);
                for (size_t i = 0; i < p.n; i++) {
                    double e = fabs((double)p.w[i] - q.w[i]);
                    if (e > worst) worst = e;
                }
                if (variant == DGGR_COUPLED)
                    CHECK(fabs(d.rate - pen / N) < 1e-5 * (pen / N), "nu %g: rate %g vs penalty %g", nu, d.rate, pen / N);
            }
            // the fast power is exact for nu = 1 (x^0 = 1) and within 5e-6 relative for nu = 2
            printf("fixed nu %.0f (%s): max |w - w_L%.0f| over 5 steps = %.2e\n", nu,
                   variant ? "decoupled" : "coupled", nu, worst);
            CHECK(worst < 1e-6, "nu %g variant %d: differs from the L%g penalty by %g", nu, variant, nu, worst);
            dggr_free(&d);
            problem_free(&p); problem_free(&q);
        }
    }
}

// proximal: the shrink stops at zero, so weights end exactly at 0 (and stay there while
// their loss gradient is smaller than the shrink); decoupled overshoots instead
static void test_proximal(void) {
    int exact[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        Problem p = problem_make();
        DGGR d;
        DGGRConfig cfg = dggr_config_default();
        cfg.lambda = 2000.0f;
        cfg.variant = k == 0 ? DGGR_DECOUPLED : DGGR_PROXIMAL;
        CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_OK, "init");
        dggr_measure(&d, p.w);
        for (int t = 1; t <= 5; t++) {
            for (size_t i = 0; i < p.n; i++) p.grad[i] = 0.0f; // only the rate moves the weights
            float before[4] = {p.w[0], p.w[1], p.w[2], p.w[3]};
            DGGR_STEP(&d, &p, t, 1);
            if (k == 1) // |w| never grows and the sign never flips
                for (int i = 0; i < 4; i++)
                    CHECK(fabsf(p.w[i]) <= fabsf(before[i]) * (1.0f + 1e-6f) && p.w[i] * before[i] >= 0.0f,
                          "proximal step %d: w %g -> %g", t, before[i], p.w[i]);
        }
        for (int s = 0; s < p.num_segments; s++)
            if (p.seg[s].constrained)
                for (size_t i = p.seg[s].offset; i < p.seg[s].offset + p.seg[s].numel; i++) exact[k] += p.w[i] == 0.0f;
        dggr_free(&d);
        problem_free(&p);
    }
    printf("after 5 shrink-only steps (lambda 2000): exact zeros decoupled %d, proximal %d of 41077\n", exact[0], exact[1]);
    CHECK(exact[1] > 10000 && exact[0] < 100, "proximal gives exact zeros: %d vs decoupled %d", exact[1], exact[0]);
}

static void test_statistics_and_state(void) {
    Problem p = problem_make();
    DGGR d, e;
    DGGRConfig cfg = dggr_config_default();
    cfg.lambda = 1000.0f;
    cfg.eps = 1e-3f;
    cfg.variant = DGGR_COUPLED; // the rate is then that of the weights before the step
    cfg.shape_mode = DGGR_SHAPE_TENSOR;
    CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_OK, "init");
    dggr_measure(&d, p.w);
    float* before = malloc_or_die(p.n * sizeof(float));
    for (int t = 1; t <= 3; t++) {
        memcpy(before, p.w, p.n * sizeof(float));
        double nu_used[4];
        for (int s = 0; s < 4; s++) nu_used[s] = d.seg[s].nu;
        problem_grad(&p);
        DGGR_STEP(&d, &p, t, 1);
        // moments and zeros of the new weights, the rate of the old ones at the shapes used
        GGMoments all = {0, 0, 0, 0};
        double rate = 0.0;
        for (int s = 0; s < 4; s++) {
            if (!p.seg[s].constrained) continue;
            GGMoments m = gg_moments(p.w + p.seg[s].offset, p.seg[s].numel, cfg.delta);
            CHECK(fabs(m.sum_abs - d.seg[s].mom.sum_abs) < 1e-9 * m.sum_abs && m.zeros == d.seg[s].mom.zeros,
                  "segment %d moments", s);
            CHECK(fabs(gg_shape_estimate(&m) - d.seg[s].nu) < 1e-6, "segment %d nu", s);
            gg_moments_add(&all, &m);
            rate += gg_rate(before + p.seg[s].offset, p.seg[s].numel, nu_used[s], cfg.eps, (double)d.num_constrained);
        }
        CHECK(fabs(rate - d.rate) < 1e-5 * rate, "rate %.8f vs recomputed %.8f", d.rate, rate);
        CHECK(all.count == (int64_t)d.num_constrained && all.zeros == d.mom.zeros, "zeros");
        CHECK(fabs(d.zero_frac - (double)all.zeros / all.count) < 1e-15, "zero fraction");
        CHECK(fabs(gg_shape_estimate(&all) - d.nu) < 1e-6, "global nu %f vs %f", d.nu, gg_shape_estimate(&all));
    }
    printf("statistics after 3 steps: nu %.4f alpha %.5f rate %.6f zero_frac %.4f bits %.3f\n", d.nu, d.alpha, d.rate,
           d.zero_frac, d.bits_per_param);
    // state round trip: a fresh state reading the section has the same shapes
    size_t size = dggr_state_size(&d);
    uint8_t* buf = malloc_or_die(size);
    dggr_state_write(&d, buf);
    CHECK(dggr_init(&e, &cfg, p.seg, p.num_segments) == BS_OK, "init");
    CHECK(dggr_state_read(&e, buf, size, "state.bin") == BS_OK, "read: %s", bs_error());
    CHECK(e.nu == d.nu && e.alpha == d.alpha, "round trip global nu");
    for (int s = 0; s < 4; s++) CHECK(e.seg[s].nu == d.seg[s].nu, "round trip segment %d nu", s);
    CHECK(dggr_state_read(&e, buf, size - 1, "state.bin") == BS_EFORMAT && strstr(bs_error(), "state.bin"), "short");
    buf[0] ^= 1;
    CHECK(dggr_state_read(&e, buf, size, "state.bin") == BS_EFORMAT && strstr(bs_error(), "magic"), "magic");
    buf[0] ^= 1;
    buf[16 + 32 + 16] ^= 1; // segment 1's count
    CHECK(dggr_state_read(&e, buf, size, "state.bin") == BS_EFORMAT && strstr(bs_error(), "inconsistent"), "count");
    free(buf);
    dggr_free(&e);
    dggr_free(&d);
    // configuration checks
    cfg.lambda = -1.0f;
    CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_EINVAL && strstr(bs_error(), "lambda"), "negative lambda");
    cfg.lambda = 1.0f;
    cfg.shape_mode = DGGR_SHAPE_FIXED;
    cfg.fixed_nu = 0.0f;
    CHECK(dggr_init(&d, &cfg, p.seg, p.num_segments) == BS_EINVAL && strstr(bs_error(), "fixed nu"), "nu 0");
    cfg = dggr_config_default();
    DGGRSegment gap[2] = {{0, 10, 1, 1, 0, {0, 0, 0, 0}, 0}, {11, 10, 1, 1, 0, {0, 0, 0, 0}, 0}};
    CHECK(dggr_init(&d, &cfg, gap, 2) == BS_EINVAL && strstr(bs_error(), "tile"), "segments must tile");
    // the command line's words
    DGGRConfig w = dggr_config_default();
    CHECK(dggr_config_parse(&w, "decoupled", "fixed:0.5", "all", "-lv", "-ls", "-lc") == BS_OK &&
              w.variant == DGGR_DECOUPLED && w.shape_mode == DGGR_SHAPE_FIXED && w.fixed_nu == 0.5f && w.constrain_all,
          "parse decoupled fixed:0.5 all");
    CHECK(dggr_config_parse(&w, "coupled", "tensor", "matrices", "-lv", "-ls", "-lc") == BS_OK &&
              w.variant == DGGR_COUPLED && w.shape_mode == DGGR_SHAPE_TENSOR && !w.constrain_all, "parse coupled tensor");
    CHECK(dggr_config_parse(&w, "proximal", NULL, NULL, "-lv", "-ls", "-lc") == BS_OK && w.variant == DGGR_PROXIMAL,
          "parse proximal");
    CHECK(dggr_config_parse(&w, "sideways", NULL, NULL, "-lv", "-ls", "-lc") == BS_EINVAL && strstr(bs_error(), "-lv"), "bad variant");
    CHECK(dggr_config_parse(&w, NULL, "fixed:9", NULL, "-lv", "-ls", "-lc") == BS_EINVAL && strstr(bs_error(), "-ls"), "bad nu");
    CHECK(dggr_config_parse(&w, NULL, "fixed:", NULL, "-lv", "-ls", "-lc") == BS_EINVAL, "empty nu");
    CHECK(dggr_config_parse(&w, NULL, NULL, "some", "-lv", "-ls", "-lc") == BS_EINVAL && strstr(bs_error(), "-lc"), "bad set");
    free(before);
    problem_free(&p);
}

// ----------------------------------------------------------------------------
// trajectory for the PyTorch reference: header, segments, a, b, w0, then per step w and nu

static int write_trajectory(const char* path, int variant, int shape) {
    Problem p = problem_make();
    DGGRConfig cfg = dggr_config_default();
    // coupled: the paper's setting, the rate gradient through Adam (lambda 1000, eps 1e-3);
    // decoupled: the authors' eps = 1 and a lambda whose shrink (about 2e-3 per step) stays
    // below the weights' scale, so that no weight's sign hangs on a rounding difference;
    // proximal: a shrink of about 8e-3 per step, so that many weights stop at exactly zero
    cfg.lambda = variant == DGGR_COUPLED ? 1000.0f : variant == DGGR_DECOUPLED ? 100.0f : 400.0f;
    cfg.eps = variant == DGGR_COUPLED ? 1e-3f : 1.0f;
    cfg.variant = variant;
    cfg.shape_mode = shape;
    cfg.fixed_nu = 0.7f;
    DGGR d;
    if (dggr_init(&d, &cfg, p.seg, p.num_segments) != BS_OK) { fprintf(stderr, "%s\n", bs_error()); return 1; }
    dggr_measure(&d, p.w);
    const int steps = 10;
    FILE* f = fopen_or_die(path, "wb");
    int32_t hdr[8] = {(int32_t)p.n, p.num_segments, steps, variant, shape, 0, 0, 0};
    float hyper[10] = {cfg.lambda, cfg.eps, cfg.fixed_nu, HP.lr, HP.beta1, HP.beta2, HP.eps, HP.weight_decay, HP.grad_scale, 0};
    fwrite(hdr, 4, 8, f);
    fwrite(hyper, 4, 10, f);
    for (int s = 0; s < p.num_segments; s++) {
        int32_t sg[4] = {(int32_t)p.seg[s].offset, (int32_t)p.seg[s].numel, p.seg[s].constrained, p.seg[s].decay};
        fwrite(sg, 4, 4, f);
    }
    fwrite(p.a, 4, p.n, f);
    fwrite(p.b, 4, p.n, f);
    fwrite(p.w, 4, p.n, f);
    for (int t = 1; t <= steps; t++) {
        double nu_used = d.nu, rate;
        problem_grad(&p);
        DGGR_STEP(&d, &p, t, 1);
        rate = d.rate;
        fwrite(p.w, 4, p.n, f);
        fwrite(&nu_used, 8, 1, f);
        fwrite(&rate, 8, 1, f);
    }
    fclose(f);
    dggr_free(&d);
    problem_free(&p);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 5 && strcmp(argv[1], "--trajectory") == 0) return write_trajectory(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc != 1) { fprintf(stderr, "usage: test_dggr [--trajectory OUT VARIANT SHAPE]\n"); return 2; }
    test_lambda0_is_adamw();
    test_thread_independence();
    test_l1_l2();
    test_proximal();
    test_statistics_and_state();
    if (failures) { printf("test_dggr: %d FAILED\n", failures); return 1; }
    printf("test_dggr: all passed\n");
    return 0;
}
