/*
 Tests of llmc/gemm_spec.h: the cuBLAS parameters of the CUDA linear and attention
 layers, run through a plain column-major (strided-batched) GEMM on the CPU that follows
 cuBLAS's definition, must give the layers' row-major results:
   - linear forward, dinp, dweight (accumulating) against direct loops;
   - attention forward (permute, preatt, causal softmax, att v, unpermute: the steps of
     attention.cuh) against direct loops over the packed qkv;
   - attention backward (the steps of attention.cuh's backward) against central finite
     differences of the forward, for every input of a small case.
 All in double, on odd sizes (no dimension equal to another), so a swapped leading
 dimension or a missing transpose cannot cancel out.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llmc/gemm_spec.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double uniform(void) { // in [-1, 1)
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}
static double* randn_array(size_t n) {
    double* a = (double*)malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) a[i] = uniform();
    return a;
}

// cuBLAS's gemm, column-major: element (r, c) of an ld-matrix X is X[r + c * ld]
static void gemm_reference(const GemmSpec* g, const double* A, const double* B, double* C) {
    for (int b = 0; b < g->batch; b++) {
        const double* a = A + b * g->stride_a;
        const double* bb = B + b * g->stride_b;
        double* c = C + b * g->stride_c;
        for (int i = 0; i < g->m; i++)
            for (int j = 0; j < g->n; j++) {
                double acc = 0.0;
                for (int l = 0; l < g->k; l++) {
                    double x = g->trans_a ? a[l + (size_t)i * g->lda] : a[i + (size_t)l * g->lda];
                    double y = g->trans_b ? bb[j + (size_t)l * g->ldb] : bb[l + (size_t)j * g->ldb];
                    acc += x * y;
                }
                double* out = &c[i + (size_t)j * g->ldc];
                *out = g->alpha * acc + (g->beta != 0.0f ? g->beta * *out : 0.0);
            }
    }
}

static double max_diff(const double* a, const double* b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void test_matmul(int N, int C, int OC) {
    double* inp = randn_array((size_t)N * C);
    double* w = randn_array((size_t)OC * C);
    double* dout = randn_array((size_t)N * OC);
    double* out = calloc((size_t)N * OC, sizeof(double));
    double* want = calloc((size_t)N * OC, sizeof(double));
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++) want[(size_t)n * OC + o] += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
    GemmSpec g = matmul_forward_spec(N, C, OC);
    gemm_reference(&g, w, inp, out);
    CHECK(max_diff(out, want, (size_t)N * OC) < 1e-12, "matmul forward N=%d C=%d OC=%d", N, C, OC);

    double* dinp = randn_array((size_t)N * C); // overwritten (beta = 0)
    double* dinp_want = calloc((size_t)N * C, sizeof(double));
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int o = 0; o < OC; o++) dinp_want[(size_t)n * C + c] += dout[(size_t)n * OC + o] * w[(size_t)o * C + c];
    g = matmul_backward_dinp_spec(N, C, OC);
    gemm_reference(&g, w, dout, dinp);
    CHECK(max_diff(dinp, dinp_want, (size_t)N * C) < 1e-12, "matmul dinp N=%d C=%d OC=%d", N, C, OC);

    double* dw = randn_array((size_t)OC * C); // accumulated into (beta = 1)
    double* dw_want = malloc((size_t)OC * C * sizeof(double));
    memcpy(dw_want, dw, (size_t)OC * C * sizeof(double));
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++)
            for (int n = 0; n < N; n++) dw_want[(size_t)o * C + c] += dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
    g = matmul_backward_dweight_spec(N, C, OC);
    gemm_reference(&g, inp, dout, dw);
    CHECK(max_diff(dw, dw_want, (size_t)OC * C) < 1e-12, "matmul dweight N=%d C=%d OC=%d", N, C, OC);
    free(inp); free(w); free(dout); free(out); free(want); free(dinp); free(dinp_want); free(dw); free(dw_want);
}

// ---- attention as attention.cuh runs it, on double arrays

typedef struct { int B, T, NH, HS; } Shape;

// qkv (B, T, 3, NH, HS) -> q, k, v (B, NH, T, HS), as attention_permute_kernel
static void permute(const Shape* s, const double* qkv, double* q, double* k, double* v) {
    int C = s->NH * s->HS;
    for (int b = 0; b < s->B; b++) for (int h = 0; h < s->NH; h++) for (int t = 0; t < s->T; t++) for (int d = 0; d < s->HS; d++) {
        size_t idx = (((size_t)b * s->NH + h) * s->T + t) * s->HS + d;
        size_t src = ((size_t)b * s->T + t) * 3 * C + (size_t)h * s->HS + d;
        q[idx] = qkv[src]; k[idx] = qkv[src + C]; v[idx] = qkv[src + 2 * C];
    }
}

// (B, NH, T, HS) <-> (B, T, NH, HS), as the unpermute / permute_dout kernels
static void unpermute(const Shape* s, const double* y, double* out) {
    for (int b = 0; b < s->B; b++) for (int h = 0; h < s->NH; h++) for (int t = 0; t < s->T; t++) for (int d = 0; d < s->HS; d++)
        out[(((size_t)b * s->T + t) * s->NH + h) * s->HS + d] = y[(((size_t)b * s->NH + h) * s->T + t) * s->HS + d];
}
static void permute_dout(const Shape* s, const double* dout, double* dy) {
    for (int b = 0; b < s->B; b++) for (int h = 0; h < s->NH; h++) for (int t = 0; t < s->T; t++) for (int d = 0; d < s->HS; d++)
        dy[(((size_t)b * s->NH + h) * s->T + t) * s->HS + d] = dout[(((size_t)b * s->T + t) * s->NH + h) * s->HS + d];
}

static void attention_forward_spec(const Shape* s, const double* qkv, double* out, double* att /* (B,NH,T,T) */) {
    size_t n = (size_t)s->B * s->NH * s->T * s->HS, nt = (size_t)s->B * s->NH * s->T * s->T;
    double *q = malloc(n * 8), *k = malloc(n * 8), *v = malloc(n * 8), *y = malloc(n * 8), *pre = malloc(nt * 8);
    permute(s, qkv, q, k, v);
    float scale = 1.0f / sqrtf((float)s->HS);
    GemmSpec g = attention_preatt_spec(s->B, s->NH, s->T, s->HS, scale);
    gemm_reference(&g, k, q, pre);
    for (size_t row = 0; row < (size_t)s->B * s->NH * s->T; row++) { // causal softmax
        int i = (int)(row % s->T);
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j <= i; j++) mx = fmax(mx, pre[row * s->T + j]);
        for (int j = 0; j <= i; j++) sum += exp(pre[row * s->T + j] - mx);
        for (int j = 0; j < s->T; j++) att[row * s->T + j] = j <= i ? exp(pre[row * s->T + j] - mx) / sum : 0.0;
    }
    g = attention_y_spec(s->B, s->NH, s->T, s->HS);
    gemm_reference(&g, v, att, y);
    unpermute(s, y, out);
    free(q); free(k); free(v); free(y); free(pre);
}

static void attention_backward_spec(const Shape* s, const double* qkv, double* att, const double* dout, double* dqkv) {
    size_t n = (size_t)s->B * s->NH * s->T * s->HS, nt = (size_t)s->B * s->NH * s->T * s->T;
    double *q = malloc(n * 8), *k = malloc(n * 8), *v = malloc(n * 8), *dy = malloc(n * 8), *datt = malloc(nt * 8);
    double *dq = malloc(n * 8), *dk = malloc(n * 8), *dv = malloc(n * 8);
    float scale = 1.0f / sqrtf((float)s->HS);
    permute(s, qkv, q, k, v);
    permute_dout(s, dout, dy);
    GemmSpec g = attention_datt_spec(s->B, s->NH, s->T, s->HS);
    gemm_reference(&g, v, dy, datt);
    g = attention_dv_spec(s->B, s->NH, s->T, s->HS);
    gemm_reference(&g, dy, att, dv);
    for (size_t row = 0; row < (size_t)s->B * s->NH * s->T; row++) { // softmax backward, in place
        int i = (int)(row % s->T);
        double dot = 0.0;
        for (int j = 0; j <= i; j++) dot += att[row * s->T + j] * datt[row * s->T + j];
        for (int j = 0; j < s->T; j++) att[row * s->T + j] = j <= i ? att[row * s->T + j] * (datt[row * s->T + j] - dot) : 0.0;
    }
    g = attention_dq_spec(s->B, s->NH, s->T, s->HS, scale);
    gemm_reference(&g, k, att, dq);
    g = attention_dk_spec(s->B, s->NH, s->T, s->HS, scale);
    gemm_reference(&g, q, att, dk);
    int C = s->NH * s->HS; // dq, dk, dv -> dqkv, as attention_unpermute_dqkv_kernel
    for (int b = 0; b < s->B; b++) for (int h = 0; h < s->NH; h++) for (int t = 0; t < s->T; t++) for (int d = 0; d < s->HS; d++) {
        size_t idx = (((size_t)b * s->NH + h) * s->T + t) * s->HS + d;
        size_t dst = ((size_t)b * s->T + t) * 3 * C + (size_t)h * s->HS + d;
        dqkv[dst] = dq[idx]; dqkv[dst + C] = dk[idx]; dqkv[dst + 2 * C] = dv[idx];
    }
    free(q); free(k); free(v); free(dy); free(datt); free(dq); free(dk); free(dv);
}

// causal attention by definition, on the packed layout
static void attention_direct(const Shape* s, const double* qkv, double* out) {
    int C = s->NH * s->HS, T = s->T, HS = s->HS;
    double scale = (double)(1.0f / sqrtf((float)HS)); // the float scale the GPU uses
    double* w = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < s->B; b++) for (int h = 0; h < s->NH; h++) for (int i = 0; i < T; i++) {
        const double* qi = qkv + ((size_t)b * T + i) * 3 * C + (size_t)h * HS;
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j <= i; j++) {
            const double* kj = qkv + ((size_t)b * T + j) * 3 * C + C + (size_t)h * HS;
            double dot = 0.0;
            for (int d = 0; d < HS; d++) dot += qi[d] * kj[d];
            w[j] = dot * scale;
            mx = fmax(mx, w[j]);
        }
        for (int j = 0; j <= i; j++) { w[j] = exp(w[j] - mx); sum += w[j]; }
        double* o = out + ((size_t)b * T + i) * C + (size_t)h * HS;
        for (int d = 0; d < HS; d++) {
            double acc = 0.0;
            for (int j = 0; j <= i; j++) acc += w[j] / sum * qkv[((size_t)b * T + j) * 3 * C + 2 * C + (size_t)h * HS + d];
            o[d] = acc;
        }
    }
    free(w);
}

static void test_attention(const Shape* s) {
    int C = s->NH * s->HS;
    size_t nqkv = (size_t)s->B * s->T * 3 * C, nout = (size_t)s->B * s->T * C, natt = (size_t)s->B * s->NH * s->T * s->T;
    double* qkv = randn_array(nqkv);
    double* out = malloc(nout * 8);
    double* want = malloc(nout * 8);
    double* att = malloc(natt * 8);
    attention_forward_spec(s, qkv, out, att);
    attention_direct(s, qkv, want);
    CHECK(max_diff(out, want, nout) < 1e-12, "attention forward B=%d T=%d NH=%d HS=%d: max diff %g", s->B, s->T, s->NH,
          s->HS, max_diff(out, want, nout));
    // backward of L = sum(out * r) against central differences of the direct forward
    double* r = randn_array(nout);
    double* dqkv = malloc(nqkv * 8);
    attention_backward_spec(s, qkv, att, r, dqkv);
    double worst = 0.0, h = 1e-6;
    for (size_t i = 0; i < nqkv; i++) {
        double keep = qkv[i], lp = 0.0, lm = 0.0;
        qkv[i] = keep + h; attention_direct(s, qkv, want); for (size_t o = 0; o < nout; o++) lp += want[o] * r[o];
        qkv[i] = keep - h; attention_direct(s, qkv, want); for (size_t o = 0; o < nout; o++) lm += want[o] * r[o];
        qkv[i] = keep;
        worst = fmax(worst, fabs((lp - lm) / (2 * h) - dqkv[i]));
    }
    CHECK(worst < 1e-6, "attention backward B=%d T=%d NH=%d HS=%d: max diff to finite differences %g", s->B, s->T, s->NH,
          s->HS, worst);
    printf("attention B=%d T=%d NH=%d HS=%d: forward and %zu input gradients agree (worst gradient diff %.1e)\n", s->B,
           s->T, s->NH, s->HS, nqkv, worst);
    free(qkv); free(out); free(want); free(att); free(r); free(dqkv);
}

int main(void) {
    test_matmul(7, 5, 3);
    test_matmul(3, 11, 13);
    test_matmul(1, 4, 9);
    printf("linear layer: forward, dinp, dweight agree\n");
    Shape s1 = {2, 5, 3, 4}, s2 = {1, 7, 2, 3}, s3 = {3, 1, 1, 2};
    test_attention(&s1);
    test_attention(&s2);
    test_attention(&s3);
    if (failures) { printf("test_gemm_spec: %d failures\n", failures); return 1; }
    printf("test_gemm_spec: all checks passed\n");
    return 0;
}
