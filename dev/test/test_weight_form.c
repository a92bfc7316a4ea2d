// The weight forms of llmc/weight_form.h against a dense double-precision reference:
// every form and value type, random matrices (odd shapes, zero fractions 0 to 1) and,
// given a model file (.bsz or llm.c .bin), every weight matrix of a trained model.
//   row decode: exact (bf16: equal to the bf16 rounding of each weight)
//   wf_matvec_ref, wf_matvec (AVX-512 when the CPU has it), wf_matmul (T = 3): each output
//   within 1e-5 * sum_j |w_j x_j| + 1e-7 of the double-precision sum (float rounding)
// Usage: test_weight_form [MODEL]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llmc/bsz.h"
#include "../../llmc/model_fp32.h"
#include "../../llmc/rng.h"
#include "../../llmc/weight_form.h"

static int failures = 0, checks = 0;

// |got - want| within float rounding of the sum of |terms|
static void check_close(const char* what, int r, float got, double want, double mag) {
    checks++;
    double tol = 1e-5 * mag + 1e-7;
    if (!(fabs((double)got - want) <= tol)) {
        if (failures < 20) printf("FAIL %s row %d: %.9g vs %.9g (tol %.3g)\n", what, r, (double)got, want, tol);
        failures++;
    }
}

// w (rows, cols): the weights the form must represent (bf16: their rounding)
static void test_form(const char* name, WeightFormKind kind, WeightValueType vt, const float* w, const int32_t* q,
                      float delta, int rows, int cols, Rng* rng) {
    WeightForm f;
    int rc = wf_begin(&f, kind, vt, rows, cols, delta, 0);
    for (int r = 0; r < rows && rc == BS_OK; r++)
        rc = wf_append_row(&f, q ? NULL : w + (size_t)r * cols, q ? q + (size_t)r * cols : NULL);
    char what[256];
    snprintf(what, sizeof(what), "%s %s/%s %dx%d from %s", name, wf_form_names[kind], wf_value_names[vt], rows, cols,
             q ? "levels" : "floats");
    if (rc != BS_OK) { printf("FAIL %s: build: %s\n", what, bs_error()); failures++; return; }
    // the row decoder
    float* row = (float*)malloc((size_t)cols * sizeof(float));
    for (int r = 0; r < rows; r++) {
        wf_row_to_float(&f, r, row);
        for (int j = 0; j < cols; j++) {
            float want = kind == WF_BF16 ? wf_float_from_bf16(wf_bf16_from_float(w[(size_t)r * cols + j])) : w[(size_t)r * cols + j];
            checks++;
            if (row[j] != want) {
                if (failures < 20) printf("FAIL %s: row %d col %d decodes to %g, not %g\n", what, r, j, (double)row[j], (double)want);
                failures++;
                r = rows;
                break;
            }
        }
    }
    // products: T = 3 inputs; the reference sum in double over the represented weights
    const int T = 3;
    float* x = (float*)malloc((size_t)T * cols * sizeof(float));
    float* bias = (float*)malloc((size_t)rows * sizeof(float));
    float* out = (float*)malloc((size_t)T * rows * sizeof(float));
    double* want = (double*)malloc((size_t)T * rows * sizeof(double));
    double* mag = (double*)malloc((size_t)T * rows * sizeof(double));
    for (int i = 0; i < T * cols; i++) x[i] = rng_normal_at(7, (uint64_t)i) ;
    for (int r = 0; r < rows; r++) bias[r] = 0.1f * (rng_uniform(rng) - 0.5f);
    for (int t = 0; t < T; t++) {
        for (int r = 0; r < rows; r++) {
            wf_row_to_float(&f, r, row);
            double s = bias[r], m = fabs(bias[r]);
            for (int j = 0; j < cols; j++) { s += (double)row[j] * x[t * cols + j]; m += fabs((double)row[j] * x[t * cols + j]); }
            want[t * rows + r] = s;
            mag[t * rows + r] = m;
        }
    }
    char k[300];
    wf_matvec_ref(&f, out, x, bias);
    snprintf(k, sizeof(k), "%s matvec_ref", what);
    for (int r = 0; r < rows; r++) check_close(k, r, out[r], want[r], mag[r]);
    wf_matvec(&f, out, x, bias);
    snprintf(k, sizeof(k), "%s matvec%s", what, wf_avx512_available() ? " (avx512)" : " (reference)");
    for (int r = 0; r < rows; r++) check_close(k, r, out[r], want[r], mag[r]);
    if (wf_matmul(&f, out, x, bias, T) != BS_OK) { printf("FAIL %s matmul: %s\n", what, bs_error()); failures++; }
    snprintf(k, sizeof(k), "%s matmul", what);
    for (int i = 0; i < T * rows; i++) check_close(k, i % rows, out[i], want[i], mag[i]);
    // without a bias
    wf_matvec(&f, out, x, NULL);
    snprintf(k, sizeof(k), "%s matvec no bias", what);
    for (int r = 0; r < rows; r++) check_close(k, r, out[r], want[r] - bias[r], mag[r]);
    free(row); free(x); free(bias); free(out); free(want); free(mag);
    wf_free(&f);
}

// every form the weights allow: floats always; levels when q is given
static void test_all_forms(const char* name, const float* w, const int32_t* q, float delta, int32_t max_abs_q,
                           int rows, int cols, Rng* rng) {
    test_form(name, WF_FP32, WF_VALUE_F32, w, NULL, 1.0f, rows, cols, rng);
    test_form(name, WF_BF16, WF_VALUE_F32, w, NULL, 1.0f, rows, cols, rng);
    for (int kind = WF_LEVELS; kind <= WF_CSR; kind++) {
        if (kind == WF_CSR && cols > WF_MAX_CSR_COLS) continue;
        test_form(name, (WeightFormKind)kind, WF_VALUE_F32, w, NULL, 1.0f, rows, cols, rng);
        if (!q) continue;
        for (int vt = WF_VALUE_I16; vt <= WF_VALUE_I8; vt++) {
            if ((vt == WF_VALUE_I8 && max_abs_q > 127) || max_abs_q > 32767) continue;
            test_form(name, (WeightFormKind)kind, (WeightValueType)vt, w, q, delta, rows, cols, rng);
            test_form(name, (WeightFormKind)kind, (WeightValueType)vt, w, NULL, delta, rows, cols, rng); // from floats on the grid
        }
    }
}

static void test_random(void) {
    const int shapes[][2] = {{37, 50}, {5, 16}, {64, 384}, {48, 1536}, {3, 1}, {8, 33}};
    const double zeros[] = {0.0, 0.5, 0.9, 0.97, 1.0};
    const float delta = 1e-3f;
    Rng rng;
    rng_init(&rng, 1234);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float* w = (float*)malloc(n * sizeof(float));
        int32_t* q = (int32_t*)malloc(n * sizeof(int32_t));
        for (size_t z = 0; z < sizeof(zeros) / sizeof(zeros[0]); z++) {
            for (int wide = 0; wide < 2; wide++) { // levels within int8, or beyond it
                int32_t max_abs = 0;
                for (size_t i = 0; i < n; i++) {
                    int32_t v = (int32_t)rng_below(&rng, wide ? 20001 : 255) - (wide ? 10000 : 127);
                    if (rng_uniform(&rng) < zeros[z]) v = 0;
                    q[i] = v;
                    w[i] = dequantize_value(v, delta);
                    if (abs(v) > max_abs) max_abs = abs(v);
                }
                char name[64];
                snprintf(name, sizeof(name), "random z=%.2f %s", zeros[z], wide ? "wide" : "narrow");
                test_all_forms(name, w, q, delta, max_abs, rows, cols, &rng);
            }
            // weights off any grid: only the float forms and f32 values
            for (size_t i = 0; i < n; i++) w[i] = rng_uniform(&rng) < zeros[z] ? 0.0f : 0.02f * rng_normal_at(99, i);
            test_all_forms("random off-grid", w, NULL, 1.0f, 0, rows, cols, &rng);
        }
        free(w); free(q);
    }
    // bad input: levels beyond the value type, floats off the grid, too many rows
    WeightForm f;
    int32_t big[4] = {0, 200, 0, 0};
    float off[4] = {0.0f, 0.0015f, 0.0f, 0.0f};
    int bad = 0;
    if (wf_begin(&f, WF_BITMAP, WF_VALUE_I8, 1, 4, delta, 0) == BS_OK) {
        bad += wf_append_row(&f, NULL, big) != BS_OK;
        wf_free(&f);
    }
    if (wf_begin(&f, WF_CSR, WF_VALUE_I16, 1, 4, delta, 0) == BS_OK) {
        bad += wf_append_row(&f, off, NULL) != BS_OK;
        wf_free(&f);
    }
    if (wf_begin(&f, WF_FP32, WF_VALUE_F32, 1, 4, 1.0f, 0) == BS_OK) {
        bad += wf_append_row(&f, off, NULL) == BS_OK && wf_append_row(&f, off, NULL) != BS_OK;
        wf_free(&f);
    }
    bad += wf_begin(&f, WF_CSR, WF_VALUE_I8, 2, WF_MAX_CSR_COLS + 1, delta, 0) != BS_OK;
    checks++;
    if (bad != 4) { printf("FAIL: bad input accepted (%d of 4 refused)\n", bad); failures++; }
}

// every weight matrix of a model file
static int test_model(const char* path) {
    GPT2Config c;
    float* params = NULL;
    BszFile bf;
    int coded = bsz_file_is_coded(path);
    int rc = coded ? bsz_read(path, &c, &params) : model_fp32_read(path, &c, &params);
    if (rc != BS_OK) { printf("FAIL: %s\n", bs_error()); return 1; }
    if (coded && bsz_open(&bf, path) != BS_OK) { printf("FAIL: %s\n", bs_error()); return 1; }
    int nt = gpt2_num_tensors(&c);
    GPT2Tensor* tt = (GPT2Tensor*)malloc((size_t)nt * sizeof(GPT2Tensor));
    gpt2_tensor_table(&c, tt);
    Rng rng;
    rng_init(&rng, 5);
    for (int t = 0; t < nt; t++) {
        if (tt[t].ndim != 2) continue;
        int rows = tt[t].shape[0], cols = tt[t].shape[1];
        if (rows > 4096) rows = 4096; // of wte: its first rows (the forms are built row by row)
        const float* w = params + tt[t].offset;
        size_t n = (size_t)rows * cols, zero = 0;
        for (size_t i = 0; i < n; i++) zero += w[i] == 0.0f;
        int32_t* q = NULL;
        int32_t max_abs = 0;
        float delta = 1.0f;
        if (coded) { // the levels of a coded model: exact
            delta = bf.tensors[t].delta;
            q = (int32_t*)malloc(n * sizeof(int32_t));
            for (size_t i = 0; i < n; i++) {
                q[i] = quantize_value(w[i], 1.0f / delta);
                if (abs(q[i]) > max_abs) max_abs = abs(q[i]);
            }
        }
        printf("%s %dx%d: %.1f%% zeros%s, max |q| %d\n", tt[t].name, rows, cols, 100.0 * zero / n, coded ? "" : " (fp32)", max_abs);
        test_all_forms(tt[t].name, w, q, delta, max_abs, rows, cols, &rng);
        free(q);
    }
    free(tt);
    free(params);
    if (coded) bsz_close(&bf);
    return 0;
}

int main(int argc, char** argv) {
    printf("AVX-512 kernels: %s\n", wf_avx512_available() ? "yes" : WF_HAVE_AVX512 ? "built, CPU lacks avx512f" : "not built");
    test_random();
    if (argc > 1 && test_model(argv[1]) != 0) return 1;
    printf("%d checks, %d failures\n", checks, failures);
    if (failures) { printf("FAIL\n"); return 1; }
    printf("PASS\n");
    return 0;
}
