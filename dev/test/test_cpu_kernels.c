/*
 Tests of the CPU layers (llmc/cpu_kernels.h) and their fast paths (llmc/cpu_fast.h):
 1. each backward against central finite differences of its forward, on tiny shapes:
    loss = sum(out * R) for a fixed random R (so dout = R), every input element perturbed
    by h = 1e-2 in float; pass when max |fd - analytic| <= 1e-3 * max |analytic| (float
    rounding of the loss over 2h and the h^2 term stay far below that: measured <= 1.5e-5)
 2. the fast paths against the reference, on shapes with odd sizes: relative max error
    <= 1e-5 (both are float32 sums in different orders)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/cpu_fast.h"
#include "../../llmc/cpu_kernels.h"
#include "../../llmc/rng.h"
#include "../../llmc/utils.h"

#define FD_H 1e-2f
#define FD_TOL 1e-3
#define FAST_TOL 1e-5

static int failures = 0;
static Rng rng = {12345};

static float* randn(size_t n, float scale) {
    float* p = (float*)malloc_or_die(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = scale * (2.0f * rng_uniform(&rng) - 1.0f);
    return p;
}
static float* zeros(size_t n) { return (float*)calloc_or_die(n, sizeof(float)); }

// the layer under test, as a closure: forward writes out; backward accumulates grads
typedef struct Layer Layer;
struct Layer {
    const char* name;
    void (*forward)(Layer* l);
    void (*backward)(Layer* l);
    float* out;   // forward output
    float* dout;  // R
    size_t n_out;
    float* x[3];  // inputs to check
    float* dx[3]; // their analytic gradients
    size_t n_x[3];
    const char* x_name[3];
    int B, T, C, OC, NH, V;
    int* ids;           // token ids or targets
    float* scratch[6];  // layer-specific buffers
};

static double loss_of(Layer* l) {
    l->forward(l);
    double s = 0.0;
    for (size_t i = 0; i < l->n_out; i++) s += (double)l->out[i] * l->dout[i];
    return s;
}

static void check_fd(Layer* l) {
    for (int k = 0; k < 3; k++)
        if (l->dx[k]) memset(l->dx[k], 0, l->n_x[k] * sizeof(float));
    l->forward(l);
    l->backward(l);
    for (int k = 0; k < 3 && l->x[k]; k++) {
        double max_err = 0.0, max_g = 0.0;
        for (size_t i = 0; i < l->n_x[k]; i++) {
            float save = l->x[k][i];
            l->x[k][i] = save + FD_H;
            double lp = loss_of(l);
            l->x[k][i] = save - FD_H;
            double lm = loss_of(l);
            l->x[k][i] = save;
            double fd = (lp - lm) / (2.0 * FD_H);
            double e = fabs(fd - l->dx[k][i]);
            if (!(e <= max_err)) max_err = e;
            if (fabs(l->dx[k][i]) > max_g) max_g = fabs(l->dx[k][i]);
        }
        double rel = max_err / (max_g > 0 ? max_g : 1.0);
        int ok = rel <= FD_TOL && max_g > 0;
        failures += !ok;
        printf("  %-4s %-22s d%-7s max |fd - analytic| %.2e, max |grad| %.2e, relative %.2e (tol %.0e)\n",
               ok ? "ok" : "FAIL", l->name, l->x_name[k], max_err, max_g, rel, FD_TOL);
    }
}

// frees what a test case allocated for the layer (every pointer may be NULL)
static void layer_free(Layer* l) {
    free(l->out);
    free(l->dout);
    for (int k = 0; k < 3; k++) { free(l->x[k]); free(l->dx[k]); }
    free(l->ids);
    for (int k = 0; k < 6; k++) free(l->scratch[k]);
}

// --- the layers, each wrapped as forward/backward over the Layer fields

static void enc_f(Layer* l) { encoder_forward(l->out, l->ids, l->x[0], l->x[1], l->B, l->T, l->C); }
static void enc_b(Layer* l) { encoder_backward(l->dx[0], l->dx[1], l->dout, l->ids, l->B, l->T, l->C); }
// scratch: mean, rstd
static void ln_f(Layer* l) { layernorm_forward(l->out, l->scratch[0], l->scratch[1], l->x[0], l->x[1], l->x[2], l->B, l->T, l->C); }
static void ln_b(Layer* l) { layernorm_backward(l->dx[0], l->dx[1], l->dx[2], l->dout, l->x[0], l->x[1], l->scratch[0], l->scratch[1], l->B, l->T, l->C); }
static void mm_f(Layer* l) { matmul_forward(l->out, l->x[0], l->x[1], l->x[2], l->B, l->T, l->C, l->OC); }
static void mm_b(Layer* l) { matmul_backward(l->dx[0], l->dx[1], l->dx[2], l->dout, l->x[0], l->x[1], l->B, l->T, l->C, l->OC); }
// scratch: preatt, att, dpreatt, datt
static void att_f(Layer* l) { attention_forward(l->out, l->scratch[0], l->scratch[1], l->x[0], l->B, l->T, l->C, l->NH); }
static void att_b(Layer* l) {
    size_t n = (size_t)l->B * l->NH * l->T * l->T;
    memset(l->scratch[2], 0, n * sizeof(float));
    memset(l->scratch[3], 0, n * sizeof(float));
    attention_backward(l->dx[0], l->scratch[2], l->scratch[3], l->dout, l->x[0], l->scratch[1], l->B, l->T, l->C, l->NH);
}
static void gelu_f(Layer* l) { gelu_forward(l->out, l->x[0], (int)l->n_out); }
static void gelu_b(Layer* l) { gelu_backward(l->dx[0], l->x[0], l->dout, (int)l->n_out); }
static void res_f(Layer* l) { residual_forward(l->out, l->x[0], l->x[1], (int)l->n_out); }
static void res_b(Layer* l) { residual_backward(l->dx[0], l->dx[1], l->dout, (int)l->n_out); }
// softmax + cross-entropy: out = losses (B,T); scratch: probs
static void ce_f(Layer* l) {
    softmax_forward(l->scratch[0], l->x[0], l->B, l->T, l->V, l->OC);
    crossentropy_forward(l->out, l->scratch[0], l->ids, l->B, l->T, l->OC);
}
static void ce_b(Layer* l) { crossentropy_softmax_backward(l->dx[0], l->dout, l->scratch[0], l->ids, l->B, l->T, l->V, l->OC); }

static void finite_differences(void) {
    printf("[finite differences]\n");
    int B = 2, T = 5, C = 8, OC = 6, NH = 2, V = 7, Vp = 9;
    size_t BTC = (size_t)B * T * C;
    {
        Layer l = {.name = "encoder", .forward = enc_f, .backward = enc_b, .B = B, .T = T, .C = C};
        l.ids = (int*)malloc_or_die((size_t)B * T * sizeof(int));
        for (int i = 0; i < B * T; i++) l.ids[i] = i % 3; // repeated tokens: accumulation into wte rows
        l.n_out = BTC; l.out = zeros(BTC); l.dout = randn(BTC, 1);
        l.x[0] = randn(4 * C, 1); l.n_x[0] = 4 * C; l.x_name[0] = "wte"; l.dx[0] = zeros(4 * C);
        l.x[1] = randn((size_t)T * C, 1); l.n_x[1] = (size_t)T * C; l.x_name[1] = "wpe"; l.dx[1] = zeros((size_t)T * C);
        check_fd(&l);
        layer_free(&l);
    }
    {
        Layer l = {.name = "layernorm", .forward = ln_f, .backward = ln_b, .B = B, .T = T, .C = C};
        l.n_out = BTC; l.out = zeros(BTC); l.dout = randn(BTC, 1);
        l.x[0] = randn(BTC, 2); l.n_x[0] = BTC; l.x_name[0] = "inp"; l.dx[0] = zeros(BTC);
        l.x[1] = randn(C, 1); l.n_x[1] = C; l.x_name[1] = "weight"; l.dx[1] = zeros(C);
        l.x[2] = randn(C, 1); l.n_x[2] = C; l.x_name[2] = "bias"; l.dx[2] = zeros(C);
        l.scratch[0] = zeros((size_t)B * T); l.scratch[1] = zeros((size_t)B * T);
        check_fd(&l);
        layer_free(&l);
    }
    {
        Layer l = {.name = "matmul", .forward = mm_f, .backward = mm_b, .B = B, .T = T, .C = C, .OC = OC};
        size_t n_out = (size_t)B * T * OC;
        l.n_out = n_out; l.out = zeros(n_out); l.dout = randn(n_out, 1);
        l.x[0] = randn(BTC, 1); l.n_x[0] = BTC; l.x_name[0] = "inp"; l.dx[0] = zeros(BTC);
        l.x[1] = randn((size_t)OC * C, 1); l.n_x[1] = (size_t)OC * C; l.x_name[1] = "weight"; l.dx[1] = zeros((size_t)OC * C);
        l.x[2] = randn(OC, 1); l.n_x[2] = OC; l.x_name[2] = "bias"; l.dx[2] = zeros(OC);
        check_fd(&l);
        layer_free(&l);
    }
    {
        Layer l = {.name = "attention", .forward = att_f, .backward = att_b, .B = B, .T = T, .C = C, .NH = NH};
        size_t n_in = 3 * BTC, n_att = (size_t)B * NH * T * T;
        l.n_out = BTC; l.out = zeros(BTC); l.dout = randn(BTC, 1);
        l.x[0] = randn(n_in, 1.5f); l.n_x[0] = n_in; l.x_name[0] = "qkv"; l.dx[0] = zeros(n_in);
        for (int i = 0; i < 4; i++) l.scratch[i] = zeros(n_att);
        check_fd(&l);
        layer_free(&l);
    }
    {
        Layer l = {.name = "gelu", .forward = gelu_f, .backward = gelu_b};
        l.n_out = BTC; l.out = zeros(BTC); l.dout = randn(BTC, 1);
        l.x[0] = randn(BTC, 3); l.n_x[0] = BTC; l.x_name[0] = "inp"; l.dx[0] = zeros(BTC);
        check_fd(&l);
        layer_free(&l);
    }
    {
        Layer l = {.name = "residual", .forward = res_f, .backward = res_b};
        l.n_out = BTC; l.out = zeros(BTC); l.dout = randn(BTC, 1);
        l.x[0] = randn(BTC, 1); l.n_x[0] = BTC; l.x_name[0] = "inp1"; l.dx[0] = zeros(BTC);
        l.x[1] = randn(BTC, 1); l.n_x[1] = BTC; l.x_name[1] = "inp2"; l.dx[1] = zeros(BTC);
        check_fd(&l);
        layer_free(&l);
    }
    {
        // the padded entries V..Vp of the logits are not part of the softmax: gradient 0
        Layer l = {.name = "softmax+crossentropy", .forward = ce_f, .backward = ce_b, .B = B, .T = T, .V = V, .OC = Vp};
        size_t n_logits = (size_t)B * T * Vp;
        l.ids = (int*)malloc_or_die((size_t)B * T * sizeof(int));
        for (int i = 0; i < B * T; i++) l.ids[i] = (i * 5) % V;
        l.n_out = (size_t)B * T; l.out = zeros(l.n_out); l.dout = randn(l.n_out, 1);
        l.x[0] = randn(n_logits, 3); l.n_x[0] = n_logits; l.x_name[0] = "logits"; l.dx[0] = zeros(n_logits);
        l.scratch[0] = zeros(n_logits);
        check_fd(&l);
        layer_free(&l);
    }
}

static void compare(const char* what, const float* a, const float* ref, size_t n) {
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= err)) err = e;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    double rel = err / (scale > 0 ? scale : 1.0);
    int ok = rel <= FAST_TOL && scale > 0;
    failures += !ok;
    printf("  %-4s %-44s relative max err %.2e (tol %.0e)\n", ok ? "ok" : "FAIL", what, rel, FAST_TOL);
}

static void fast_vs_reference(void) {
    printf("[fast paths vs reference]\n");
    const int shapes[][4] = {{2, 7, 33, 65}, {3, 16, 64, 192}, {1, 1, 5, 3}, {4, 32, 96, 1031}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int B = shapes[s][0], T = shapes[s][1], C = shapes[s][2], OC = shapes[s][3];
        size_t BT = (size_t)B * T;
        float* inp = randn(BT * C, 1);
        float* w = randn((size_t)OC * C, 1);
        float* bias = randn(OC, 1);
        float* dout = randn(BT * OC, 1);
        float* out_ref = zeros(BT * OC);
        float* out_fast = zeros(BT * OC);
        char what[96];
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float* b = with_bias ? bias : NULL;
            matmul_forward(out_ref, inp, w, b, B, T, C, OC);
            matmul_forward_fast(out_fast, inp, w, b, B, T, C, OC);
            snprintf(what, sizeof(what), "matmul_forward B%d T%d C%d OC%d %s", B, T, C, OC, with_bias ? "bias" : "no bias");
            compare(what, out_fast, out_ref, BT * OC);
        }
        // backward accumulates: start both from the same nonzero gradients
        float* dinp0 = randn(BT * C, 1);
        float* dw0 = randn((size_t)OC * C, 1);
        float* db0 = randn(OC, 1);
        float* dinp[2] = {zeros(BT * C), zeros(BT * C)};
        float* dw[2] = {zeros((size_t)OC * C), zeros((size_t)OC * C)};
        float* db[2] = {zeros(OC), zeros(OC)};
        for (int k = 0; k < 2; k++) {
            memcpy(dinp[k], dinp0, BT * C * sizeof(float));
            memcpy(dw[k], dw0, (size_t)OC * C * sizeof(float));
            memcpy(db[k], db0, OC * sizeof(float));
        }
        matmul_backward(dinp[0], dw[0], db[0], dout, inp, w, B, T, C, OC);
        matmul_backward_fast(dinp[1], dw[1], db[1], dout, inp, w, B, T, C, OC);
        snprintf(what, sizeof(what), "matmul_backward dinp B%d T%d C%d OC%d", B, T, C, OC);
        compare(what, dinp[1], dinp[0], BT * C);
        snprintf(what, sizeof(what), "matmul_backward dweight B%d T%d C%d OC%d", B, T, C, OC);
        compare(what, dw[1], dw[0], (size_t)OC * C);
        snprintf(what, sizeof(what), "matmul_backward dbias B%d T%d C%d OC%d", B, T, C, OC);
        compare(what, db[1], db[0], OC);

        // layernorm backward over the same (B, T, C); its weight and bias gradients are C
        // long (the matmul's dbias above is OC long, and C > OC in some shapes)
        float* lw = randn(C, 1);
        float* lb = randn(C, 1);
        float* mean = zeros(BT);
        float* rstd = zeros(BT);
        float* lout = zeros(BT * C);
        float* ldout = randn(BT * C, 1);
        float* ldw0 = randn(C, 1);
        float* ldb0 = randn(C, 1);
        float* ldw[2] = {zeros(C), zeros(C)};
        float* ldb[2] = {zeros(C), zeros(C)};
        layernorm_forward(lout, mean, rstd, inp, lw, lb, B, T, C);
        for (int k = 0; k < 2; k++) {
            memcpy(dinp[k], dinp0, BT * C * sizeof(float));
            memcpy(ldw[k], ldw0, C * sizeof(float));
            memcpy(ldb[k], ldb0, C * sizeof(float));
        }
        layernorm_backward(dinp[0], ldw[0], ldb[0], ldout, inp, lw, mean, rstd, B, T, C);
        layernorm_backward_fast(dinp[1], ldw[1], ldb[1], ldout, inp, lw, mean, rstd, B, T, C);
        snprintf(what, sizeof(what), "layernorm_backward dinp B%d T%d C%d", B, T, C);
        compare(what, dinp[1], dinp[0], BT * C);
        snprintf(what, sizeof(what), "layernorm_backward dweight B%d T%d C%d", B, T, C);
        compare(what, ldw[1], ldw[0], C);
        snprintf(what, sizeof(what), "layernorm_backward dbias B%d T%d C%d", B, T, C);
        compare(what, ldb[1], ldb[0], C);

        free(inp); free(w); free(bias); free(dout); free(out_ref); free(out_fast);
        free(dinp0); free(dw0); free(db0);
        for (int k = 0; k < 2; k++) { free(dinp[k]); free(dw[k]); free(db[k]); free(ldw[k]); free(ldb[k]); }
        free(lw); free(lb); free(mean); free(rstd); free(lout); free(ldout); free(ldw0); free(ldb0);
    }
}

static void fast_vs_reference_other(void) {
    // fast_expf against exp() in double over the whole float range it serves
    double worst = 0.0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 2000000.0f;
        double e = fabs((double)fast_expf(x) / exp((double)x) - 1.0);
        if (!(e <= worst)) worst = e;
    }
    int ok = worst <= 5e-7;
    failures += !ok;
    printf("  %-4s %-44s relative max err %.2e (tol 5e-07)\n", ok ? "ok" : "FAIL", "fast_expf on [-87, 88]", worst);

    // attention, on shapes with T not a multiple of anything
    const int shapes[][4] = {{2, 7, 32, 4}, {2, 33, 64, 2}, {1, 1, 8, 1}};
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        int B = shapes[k][0], T = shapes[k][1], C = shapes[k][2], NH = shapes[k][3];
        size_t n_in = (size_t)B * T * 3 * C, n_out = (size_t)B * T * C, n_att = (size_t)B * NH * T * T;
        float* inp = randn(n_in, 2);
        float* dout = randn(n_out, 1);
        float *out[2] = {zeros(n_out), zeros(n_out)}, *pre[2] = {zeros(n_att), zeros(n_att)}, *att[2] = {zeros(n_att), zeros(n_att)};
        float* dinp0 = randn(n_in, 1);
        float *dinp[2] = {zeros(n_in), zeros(n_in)};
        float *dpre = zeros(n_att), *datt = zeros(n_att);
        attention_forward(out[0], pre[0], att[0], inp, B, T, C, NH);
        attention_forward_fast(out[1], pre[1], att[1], inp, B, T, C, NH);
        memcpy(dinp[0], dinp0, n_in * sizeof(float));
        memcpy(dinp[1], dinp0, n_in * sizeof(float));
        attention_backward(dinp[0], dpre, datt, dout, inp, att[0], B, T, C, NH);
        attention_backward_fast(dinp[1], NULL, NULL, dout, inp, att[0], B, T, C, NH);
        char what[96];
        snprintf(what, sizeof(what), "attention_forward out B%d T%d C%d NH%d", B, T, C, NH);
        compare(what, out[1], out[0], n_out);
        snprintf(what, sizeof(what), "attention_forward att B%d T%d C%d NH%d", B, T, C, NH);
        compare(what, att[1], att[0], n_att);
        snprintf(what, sizeof(what), "attention_backward dinp B%d T%d C%d NH%d", B, T, C, NH);
        compare(what, dinp[1], dinp[0], n_in);
        for (int j = 0; j < 2; j++) { free(out[j]); free(pre[j]); free(att[j]); free(dinp[j]); }
        free(inp); free(dout); free(dinp0); free(dpre); free(datt);
    }

    // GELU over [-8, 8]
    int N = 10007;
    float* x = (float*)malloc_or_die(N * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = -8.0f + 16.0f * (float)i / (float)(N - 1);
    float* dout = randn(N, 1);
    float *y[2] = {zeros(N), zeros(N)}, *dx[2] = {randn(N, 1), zeros(N)};
    memcpy(dx[1], dx[0], N * sizeof(float));
    gelu_forward(y[0], x, N);
    gelu_forward_fast(y[1], x, N);
    gelu_backward(dx[0], x, dout, N);
    gelu_backward_fast(dx[1], x, dout, N);
    compare("gelu_forward on [-8, 8]", y[1], y[0], N);
    compare("gelu_backward on [-8, 8]", dx[1], dx[0], N);
    free(x); free(dout);
    for (int j = 0; j < 2; j++) { free(y[j]); free(dx[j]); }

    // fused in-place softmax + cross-entropy against the separate reference layers
    int B = 3, T = 5, V = 1000, Vp = 1024;
    size_t n = (size_t)B * T * Vp;
    float* logits = randn(n, 8);
    float* work = (float*)malloc_or_die(n * sizeof(float));
    memcpy(work, logits, n * sizeof(float));
    for (size_t i = 0; i < n; i++) if (i % Vp >= (size_t)V) work[i] = logits[i] = 123.0f; // padding is ignored
    int* targets = (int*)malloc_or_die((size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) targets[i] = (i * 97) % V;
    float *probs = zeros(n), *losses[2] = {zeros((size_t)B * T), zeros((size_t)B * T)};
    float *dlosses = randn((size_t)B * T, 1), *dlogits = zeros(n);
    softmax_forward(probs, logits, B, T, V, Vp);
    crossentropy_forward(losses[0], probs, targets, B, T, Vp);
    crossentropy_softmax_backward(dlogits, dlosses, probs, targets, B, T, V, Vp);
    softmax_crossentropy_forward_fast(work, losses[1], targets, B, T, V, Vp);
    compare("softmax_crossentropy_forward_fast probs", work, probs, n);
    compare("softmax_crossentropy_forward_fast losses", losses[1], losses[0], (size_t)B * T);
    crossentropy_softmax_backward_fast(work, dlosses, targets, B, T, V, Vp);
    compare("crossentropy_softmax_backward_fast dlogits", work, dlogits, n);
    free(logits); free(work); free(targets); free(probs); free(losses[0]); free(losses[1]); free(dlosses); free(dlogits);
}

int main(void) {
    // the finite differences run thousands of tiny forward passes: one thread keeps them
    // fast on a busy machine; the fast paths below run with all threads
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    finite_differences();
    omp_set_num_threads(threads);
    fast_vs_reference();
    fast_vs_reference_other();
    printf(failures ? "FAILED: %d checks\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
