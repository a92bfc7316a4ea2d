/*
 weight_form.h: a weight matrix held in memory for inference, in one of several forms, with
 its matrix-vector product (batch-1 decode) and a row decoder (prefill, embedding lookups).

 A matrix W (rows, cols) = (OC, IC), row-major as llm.c stores it; out = W x + bias.
 Forms (bytes per weight at zero fraction z; v = bytes per stored value: 1, 2 or 4):
   fp32    dense floats                                         4
   bf16    dense bfloat16 (round to nearest even: lossy)        2
   levels  dense quantization levels q, w = q * Delta           v
   bitmap  a 16-bit mask per 16 columns (bit j: column j is nonzero), then the nonzero
           values of the row in column order                    1/8 + (1 - z) v
   csr     per nonzero its column (uint16) and value            (1 - z) (2 + v)
 Values in levels, bitmap and csr are int8 or int16 quantization levels (w = q * Delta:
 exact for a decoded .bsz, whose weights are q * Delta) or fp32 weights (Delta = 1) when a
 matrix is not on a grid. Batch-1 decode is memory-bound (every weight is read once per
 token), so the bytes per weight bound the speed; the kernels keep the work per byte small.

 Each product has a plain C reference (wf_matvec_ref) and an AVX-512 path (wf_matvec)
 chosen at run time (__builtin_cpu_supports; -DWF_NO_AVX512 leaves it out), tested against
 the reference. The AVX-512 bitmap kernel: per 16 columns, load the mask m and the next
 popcount(m) values, widen them to 16 int32 lanes, expand them to the set lanes of m
 (vpexpandd), convert and multiply-add with x; the value pointer moves by popcount(m).
 The sum of q x is scaled by Delta once per row, so a result differs from W x in float
 rounding only.

 Building: wf_begin() then wf_append_row() for each row in order (a row from floats or
 from int32 levels), which is how a .bsz tensor is decoded straight into a sparse form
 without an fp32 copy. Library code: functions return BS_OK or BS_E* with a message.
*/
#ifndef LLMC_WEIGHT_FORM_H
#define LLMC_WEIGHT_FORM_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(WF_NO_AVX512) && defined(__x86_64__) && defined(__GNUC__)
#define WF_HAVE_AVX512 1
#include <immintrin.h>
#else
#define WF_HAVE_AVX512 0
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#include "quantize.h"
#include "utils.h"

// sum of a[i] b[i] over n, in 16 partial sums (vectorizes without reassociation)
static inline float wf_dot(const float* a, const float* b, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += a[i + k] * b[i + k];
    float s = 0.0f;
    for (int k = 0; k < 16; k++) s += acc[k];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef enum { WF_FP32, WF_BF16, WF_LEVELS, WF_BITMAP, WF_CSR, WF_NUM_FORMS } WeightFormKind;
typedef enum { WF_VALUE_F32, WF_VALUE_I16, WF_VALUE_I8 } WeightValueType;

static const char* const wf_form_names[WF_NUM_FORMS] = {"fp32", "bf16", "levels", "bitmap", "csr"};
static const char* const wf_value_names[3] = {"f32", "i16", "i8"};

#define WF_MAX_CSR_COLS 65536 // a csr column index is a uint16
#define WF_PAD_BYTES 64       // past the last value, so a 16-lane load never leaves the buffer

typedef struct {
    WeightFormKind kind;
    WeightValueType value_type; // levels, bitmap, csr: the stored values; fp32/bf16: unused
    int rows, cols;             // (OC, IC)
    float scale;                // w = value * scale (Delta; 1 for f32 values and the dense float forms)
    float step;                 // Delta of the levels wf_append_row takes (the scale given to wf_begin)
    uint8_t* values;            // dense: rows * cols values; sparse: nnz values, then WF_PAD_BYTES
    uint16_t* masks;            // bitmap: rows * wf_mask_words(cols)
    uint16_t* col_index;        // csr: nnz columns
    uint64_t* row_start;        // bitmap, csr: (rows + 1) offsets of each row's first value
    uint64_t nnz, cap;          // stored values, and room for this many
    int rows_done;              // rows appended so far
} WeightForm;

static inline int wf_mask_words(int cols) { return (cols + 15) / 16; }
static inline size_t wf_value_bytes(const WeightForm* f) {
    if (f->kind == WF_FP32) return 4;
    if (f->kind == WF_BF16) return 2;
    return f->value_type == WF_VALUE_F32 ? 4 : f->value_type == WF_VALUE_I16 ? 2 : 1;
}

// resident bytes of the form (values, masks, indices, row offsets)
static inline size_t wf_bytes(const WeightForm* f) {
    size_t n = (size_t)f->nnz * wf_value_bytes(f);
    if (f->kind == WF_FP32 || f->kind == WF_BF16 || f->kind == WF_LEVELS) return (size_t)f->rows * f->cols * wf_value_bytes(f);
    n += (size_t)(f->rows + 1) * sizeof(uint64_t);
    if (f->kind == WF_BITMAP) n += (size_t)f->rows * wf_mask_words(f->cols) * sizeof(uint16_t);
    if (f->kind == WF_CSR) n += (size_t)f->nnz * sizeof(uint16_t);
    return n;
}

static inline void wf_free(WeightForm* f) {
    free(f->values); free(f->masks); free(f->col_index); free(f->row_start);
    memset(f, 0, sizeof(*f));
}

// the smallest value type that holds levels in [-max_abs_q, max_abs_q]
static inline WeightValueType wf_value_type_for(int32_t max_abs_q) {
    return max_abs_q <= 127 ? WF_VALUE_I8 : max_abs_q <= 32767 ? WF_VALUE_I16 : WF_VALUE_F32;
}

// bf16 of a float, round to nearest even (NaN kept a NaN)
static inline uint16_t wf_bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float wf_float_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

// Starts an empty form for a (rows, cols) matrix. scale: Delta, the step of the levels
// (value_type i8 or i16) and of the levels wf_append_row may be given (any form). nnz_hint: expected nonzeros
// (sparse forms; 0 = grow as needed).
static inline int wf_begin(WeightForm* f, WeightFormKind kind, WeightValueType vt, int rows, int cols,
                           float scale, uint64_t nnz_hint) {
    memset(f, 0, sizeof(*f));
    f->step = scale;
    if (rows < 1 || cols < 1) return bs_error_set(BS_EINVAL, "weight form: bad shape %dx%d", rows, cols);
    if (kind == WF_CSR && cols > WF_MAX_CSR_COLS)
        return bs_error_set(BS_EINVAL, "weight form csr: %d columns exceed %d", cols, WF_MAX_CSR_COLS);
    if (kind == WF_FP32 || kind == WF_BF16) { vt = WF_VALUE_F32; scale = 1.0f; }
    if (vt == WF_VALUE_F32) scale = 1.0f;
    f->kind = kind;
    f->value_type = vt;
    f->rows = rows;
    f->cols = cols;
    f->scale = scale;
    size_t vb = wf_value_bytes(f);
    if (kind == WF_FP32 || kind == WF_BF16 || kind == WF_LEVELS) {
        f->cap = (uint64_t)rows * cols;
    } else {
        f->row_start = (uint64_t*)calloc((size_t)rows + 1, sizeof(uint64_t));
        if (kind == WF_BITMAP) f->masks = (uint16_t*)calloc((size_t)rows * wf_mask_words(cols), sizeof(uint16_t));
        if (!f->row_start || (kind == WF_BITMAP && !f->masks)) { wf_free(f); return bs_error_set(BS_ENOMEM, "weight form: out of memory"); }
        f->cap = nnz_hint > 0 ? nnz_hint : (uint64_t)cols;
    }
    f->values = (uint8_t*)malloc((size_t)f->cap * vb + WF_PAD_BYTES);
    if (kind == WF_CSR) f->col_index = (uint16_t*)malloc((size_t)f->cap * sizeof(uint16_t) + WF_PAD_BYTES);
    if (!f->values || (kind == WF_CSR && !f->col_index)) { wf_free(f); return bs_error_set(BS_ENOMEM, "weight form: out of memory"); }
    memset(f->values + (size_t)f->cap * vb, 0, WF_PAD_BYTES);
    return BS_OK;
}

// room for `more` further sparse values
static inline int wf_reserve(WeightForm* f, uint64_t more) {
    if (f->nnz + more <= f->cap) return BS_OK;
    uint64_t cap = f->cap * 2;
    if (cap < f->nnz + more) cap = f->nnz + more;
    size_t vb = wf_value_bytes(f);
    uint8_t* v = (uint8_t*)realloc(f->values, (size_t)cap * vb + WF_PAD_BYTES);
    if (!v) return bs_error_set(BS_ENOMEM, "weight form: out of memory for %llu values", (unsigned long long)cap);
    f->values = v;
    if (f->kind == WF_CSR) {
        uint16_t* c = (uint16_t*)realloc(f->col_index, (size_t)cap * sizeof(uint16_t) + WF_PAD_BYTES);
        if (!c) return bs_error_set(BS_ENOMEM, "weight form: out of memory for %llu values", (unsigned long long)cap);
        f->col_index = c;
    }
    f->cap = cap;
    return BS_OK;
}

static inline void wf_store_value(const WeightForm* f, uint64_t at, float w, int32_t q) {
    if (f->kind == WF_FP32) ((float*)f->values)[at] = w;
    else if (f->kind == WF_BF16) ((uint16_t*)f->values)[at] = wf_bf16_from_float(w);
    else if (f->value_type == WF_VALUE_F32) ((float*)f->values)[at] = w;
    else if (f->value_type == WF_VALUE_I16) ((int16_t*)f->values)[at] = (int16_t)q;
    else ((int8_t*)f->values)[at] = (int8_t)q;
}

// Appends the next row: from floats w (cols) or from levels q (cols; w = q * scale), one of
// them NULL. Levels must fit the value type (BS_EINVAL otherwise); floats given to a level
// form must be exact multiples of its scale (checked: BS_EINVAL names the column).
// After an error the form is unusable: free it.
static inline int wf_append_row(WeightForm* f, const float* w, const int32_t* q) {
    if (f->rows_done >= f->rows) return bs_error_set(BS_EINVAL, "weight form: more than %d rows appended", f->rows);
    const int levels = f->kind != WF_FP32 && f->kind != WF_BF16 && f->value_type != WF_VALUE_F32;
    const int32_t qmax = f->value_type == WF_VALUE_I8 ? 127 : 32767;
    const float inv = 1.0f / f->scale;
    int r = f->rows_done, C = f->cols;
    uint64_t row_nnz = 0;
    for (int j = 0; j < C; j++) row_nnz += q ? q[j] != 0 : w[j] != 0.0f;
    if (f->kind == WF_BITMAP || f->kind == WF_CSR) {
        int rc = wf_reserve(f, row_nnz);
        if (rc != BS_OK) return rc;
    }
    uint64_t at = f->kind == WF_BITMAP || f->kind == WF_CSR ? f->nnz : (uint64_t)r * C;
    uint16_t* mask = f->kind == WF_BITMAP ? f->masks + (size_t)r * wf_mask_words(C) : NULL;
    for (int j = 0; j < C; j++) {
        int32_t qj = 0;
        float wj = q ? dequantize_value(q[j], f->step) : w[j];
        if (levels) {
            qj = q ? q[j] : quantize_value(w[j], inv);
            if (qj > qmax || qj < -qmax) return bs_error_set(BS_EINVAL, "weight form: level %d at row %d column %d exceeds %s", qj, r, j, wf_value_names[f->value_type]);
            if (!q && dequantize_value(qj, f->scale) != w[j])
                return bs_error_set(BS_EINVAL, "weight form: weight %g at row %d column %d is not a multiple of %g", (double)w[j], r, j, (double)f->scale);
        }
        int zero = q ? q[j] == 0 : w[j] == 0.0f;
        if ((f->kind == WF_BITMAP || f->kind == WF_CSR) && zero) continue;
        if (mask) mask[j / 16] |= (uint16_t)(1u << (j % 16));
        if (f->kind == WF_CSR) f->col_index[at] = (uint16_t)j;
        wf_store_value(f, at++, wj, qj);
    }
    if (f->kind == WF_BITMAP || f->kind == WF_CSR) {
        f->nnz = at;
        f->row_start[r + 1] = at;
        memset(f->values + (size_t)at * wf_value_bytes(f), 0, WF_PAD_BYTES); // the loads past the end read zeros
    } else {
        f->nnz += (uint64_t)C;
    }
    f->rows_done++;
    return BS_OK;
}

// stored value i as a float weight (value * scale)
static inline float wf_value_at(const WeightForm* f, uint64_t i) {
    if (f->kind == WF_FP32) return ((const float*)f->values)[i];
    if (f->kind == WF_BF16) return wf_float_from_bf16(((const uint16_t*)f->values)[i]);
    if (f->value_type == WF_VALUE_F32) return ((const float*)f->values)[i];
    if (f->value_type == WF_VALUE_I16) return dequantize_value(((const int16_t*)f->values)[i], f->scale);
    return dequantize_value(((const int8_t*)f->values)[i], f->scale);
}

// stored value i of a level form as a float, in its own units (q, or the f32 weight)
static inline float wf_stored_value(const WeightForm* f, uint64_t i) {
    if (f->value_type == WF_VALUE_F32) return ((const float*)f->values)[i];
    if (f->value_type == WF_VALUE_I16) return (float)((const int16_t*)f->values)[i];
    return (float)((const int8_t*)f->values)[i];
}

// row r as floats: out (cols)
static inline void wf_row_to_float(const WeightForm* f, int r, float* out) {
    int C = f->cols;
    if (f->kind == WF_FP32 || f->kind == WF_BF16 || f->kind == WF_LEVELS) {
        for (int j = 0; j < C; j++) out[j] = wf_value_at(f, (uint64_t)r * C + j);
        return;
    }
    memset(out, 0, (size_t)C * sizeof(float));
    uint64_t i = f->row_start[r], end = f->row_start[r + 1];
    if (f->kind == WF_CSR) {
        for (; i < end; i++) out[f->col_index[i]] = wf_value_at(f, i);
        return;
    }
    const uint16_t* mask = f->masks + (size_t)r * wf_mask_words(C);
    for (int j = 0; j < C; j++)
        if (mask[j / 16] >> (j % 16) & 1) out[j] = wf_value_at(f, i++);
}

// ----------------------------------------------------------------------------
// the reference: out (rows) = W x + bias (bias may be NULL); one row at a time, the sum of
// stored values times x, then times the scale

static inline float wf_row_dot_ref(const WeightForm* f, int r, const float* x) {
    int C = f->cols;
    float sum = 0.0f;
    if (f->kind == WF_FP32 || f->kind == WF_BF16) {
        for (int j = 0; j < C; j++) sum += wf_value_at(f, (uint64_t)r * C + j) * x[j];
        return sum;
    }
    // level forms: sum value * x in the stored units, scaled once
    float s = f->value_type == WF_VALUE_F32 ? 1.0f : f->scale;
    if (f->kind == WF_LEVELS) {
        for (int j = 0; j < C; j++) sum += wf_stored_value(f, (uint64_t)r * C + j) * x[j];
        return sum * s;
    }
    uint64_t i = f->row_start[r], end = f->row_start[r + 1];
    if (f->kind == WF_CSR) {
        for (; i < end; i++) sum += wf_stored_value(f, i) * x[f->col_index[i]];
        return sum * s;
    }
    const uint16_t* mask = f->masks + (size_t)r * wf_mask_words(C);
    for (int j = 0; j < C; j++)
        if (mask[j / 16] >> (j % 16) & 1) sum += wf_stored_value(f, i++) * x[j];
    return sum * s;
}

static inline void wf_matvec_ref(const WeightForm* f, float* out, const float* x, const float* bias) {
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < f->rows; r++) out[r] = wf_row_dot_ref(f, r, x) + (bias ? bias[r] : 0.0f);
}

// ----------------------------------------------------------------------------
// AVX-512 (F only): 16 lanes

#if WF_HAVE_AVX512
#define WF_AVX512 __attribute__((target("avx512f")))

// widens 16 stored values at p (vt: WF_VALUE_*) to int32 lanes (f32: their bits)
static inline WF_AVX512 __attribute__((always_inline)) __m512i wf_widen16(const uint8_t* p, int vt) {
    if (vt == WF_VALUE_I8) return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p));
    if (vt == WF_VALUE_I16) return _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i*)p));
    return _mm512_loadu_si512((const void*)p);
}
static inline WF_AVX512 __attribute__((always_inline)) __m512 wf_lanes_to_float(__m512i v, int vt) {
    return vt == WF_VALUE_F32 ? _mm512_castsi512_ps(v) : _mm512_cvtepi32_ps(v);
}

// The kernels below take a row range and compile once per (kind, value type), so that the
// value width is a constant in their loops; wf_matvec_avx512 splits the rows over threads.

// dense rows [r0, r1): fp32, bf16, levels
static inline WF_AVX512 __attribute__((always_inline)) void wf_dense_rows_avx512(const WeightForm* f, int kind, int vt, int r0, int r1,
                                                                                 float* out, const float* x, const float* bias) {
    const int C = f->cols, C16 = C / 16 * 16;
    const size_t vb = kind == WF_FP32 ? 4 : kind == WF_BF16 ? 2 : (vt == WF_VALUE_F32 ? 4 : vt == WF_VALUE_I16 ? 2 : 1);
    const float s = kind == WF_LEVELS && vt != WF_VALUE_F32 ? f->scale : 1.0f;
    for (int r = r0; r < r1; r++) {
        const uint8_t* row = f->values + (size_t)r * C * vb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (int j = 0; j < C16; j += 16) {
            __m512 w;
            if (kind == WF_BF16) w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(row + 2 * j))), 16));
            else if (kind == WF_FP32) w = _mm512_loadu_ps((const float*)row + j);
            else w = wf_lanes_to_float(wf_widen16(row + j * vb, vt), vt);
            if (j & 16) acc1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + j), acc1);
            else acc0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + j), acc0);
        }
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        for (int j = C16; j < C; j++) { // the tail (C not a multiple of 16)
            uint64_t i = (uint64_t)r * C + j;
            float v = kind == WF_FP32 ? ((const float*)f->values)[i] : kind == WF_BF16 ? wf_float_from_bf16(((const uint16_t*)f->values)[i])
                    : vt == WF_VALUE_F32 ? ((const float*)f->values)[i] : vt == WF_VALUE_I16 ? (float)((const int16_t*)f->values)[i]
                    : (float)((const int8_t*)f->values)[i];
            sum += v * x[j];
        }
        out[r] = sum * s + (bias ? bias[r] : 0.0f);
    }
}

// bitmap rows [r0, r1): four 16-column blocks per step, their masks read as one 64-bit word;
// each block's values start popcount(earlier masks) values on. Zero lanes multiply x too
// (as the dense product does); the last, partial block loads x under its mask.
static inline WF_AVX512 __attribute__((always_inline)) void wf_bitmap_rows_avx512(const WeightForm* f, int vt, int r0, int r1,
                                                                                  float* out, const float* x, const float* bias) {
    const int C = f->cols, words = wf_mask_words(C), full = C / 16;
    const size_t vb = vt == WF_VALUE_F32 ? 4 : vt == WF_VALUE_I16 ? 2 : 1;
    const float s = vt != WF_VALUE_F32 ? f->scale : 1.0f;
    for (int r = r0; r < r1; r++) {
        const uint16_t* mask = f->masks + (size_t)r * words;
        const uint8_t* p = f->values + f->row_start[r] * vb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
        int b = 0;
        for (; b + 4 <= full; b += 4) {
            uint64_t m4;
            memcpy(&m4, mask + b, 8);
            __mmask16 m0 = (__mmask16)m4, m1 = (__mmask16)(m4 >> 16), m2 = (__mmask16)(m4 >> 32), m3 = (__mmask16)(m4 >> 48);
            const uint8_t* p1 = p + (size_t)__builtin_popcountll(m4 & 0xffffull) * vb;
            const uint8_t* p2 = p + (size_t)__builtin_popcountll(m4 & 0xffffffffull) * vb;
            const uint8_t* p3 = p + (size_t)__builtin_popcountll(m4 & 0xffffffffffffull) * vb;
            __m512 w0 = wf_lanes_to_float(_mm512_maskz_expand_epi32(m0, wf_widen16(p, vt)), vt);
            __m512 w1 = wf_lanes_to_float(_mm512_maskz_expand_epi32(m1, wf_widen16(p1, vt)), vt);
            __m512 w2 = wf_lanes_to_float(_mm512_maskz_expand_epi32(m2, wf_widen16(p2, vt)), vt);
            __m512 w3 = wf_lanes_to_float(_mm512_maskz_expand_epi32(m3, wf_widen16(p3, vt)), vt);
            acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + 16 * b), acc0);
            acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16 * b + 16), acc1);
            acc2 = _mm512_fmadd_ps(w2, _mm512_loadu_ps(x + 16 * b + 32), acc2);
            acc3 = _mm512_fmadd_ps(w3, _mm512_loadu_ps(x + 16 * b + 48), acc3);
            p += (size_t)__builtin_popcountll(m4) * vb;
        }
        for (; b < words; b++) {
            __mmask16 m0 = mask[b];
            __m512 w0 = wf_lanes_to_float(_mm512_maskz_expand_epi32(m0, wf_widen16(p, vt)), vt);
            acc0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m0, x + 16 * b), acc0);
            p += (size_t)__builtin_popcount(m0) * vb;
        }
        __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
        out[r] = _mm512_reduce_add_ps(acc) * s + (bias ? bias[r] : 0.0f);
    }
}

// csr rows [r0, r1): gather x at 16 column indices at a time
static inline WF_AVX512 __attribute__((always_inline)) void wf_csr_rows_avx512(const WeightForm* f, int vt, int r0, int r1,
                                                                               float* out, const float* x, const float* bias) {
    const size_t vb = vt == WF_VALUE_F32 ? 4 : vt == WF_VALUE_I16 ? 2 : 1;
    const float s = vt != WF_VALUE_F32 ? f->scale : 1.0f;
    for (int r = r0; r < r1; r++) {
        uint64_t i = f->row_start[r], end = f->row_start[r + 1];
        __m512 acc = _mm512_setzero_ps();
        for (; i < end; i += 16) {
            uint64_t left = end - i;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512i cols = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(f->col_index + i)));
            __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, cols, x, 4);
            __m512 w = _mm512_maskz_mov_ps(m, wf_lanes_to_float(wf_widen16(f->values + i * vb, vt), vt)); // lanes past the row: 0
            acc = _mm512_fmadd_ps(w, xv, acc);
        }
        out[r] = _mm512_reduce_add_ps(acc) * s + (bias ? bias[r] : 0.0f);
    }
}

static inline WF_AVX512 void wf_rows_avx512(const WeightForm* f, int r0, int r1, float* out, const float* x, const float* bias) {
    int vt = f->value_type;
#define WF_BY_TYPE(call_i8, call_i16, call_f32) \
    do { if (vt == WF_VALUE_I8) call_i8; else if (vt == WF_VALUE_I16) call_i16; else call_f32; } while (0)
    switch (f->kind) {
    case WF_FP32: wf_dense_rows_avx512(f, WF_FP32, WF_VALUE_F32, r0, r1, out, x, bias); break;
    case WF_BF16: wf_dense_rows_avx512(f, WF_BF16, WF_VALUE_F32, r0, r1, out, x, bias); break;
    case WF_LEVELS:
        WF_BY_TYPE(wf_dense_rows_avx512(f, WF_LEVELS, WF_VALUE_I8, r0, r1, out, x, bias),
                   wf_dense_rows_avx512(f, WF_LEVELS, WF_VALUE_I16, r0, r1, out, x, bias),
                   wf_dense_rows_avx512(f, WF_LEVELS, WF_VALUE_F32, r0, r1, out, x, bias));
        break;
    case WF_BITMAP:
        WF_BY_TYPE(wf_bitmap_rows_avx512(f, WF_VALUE_I8, r0, r1, out, x, bias),
                   wf_bitmap_rows_avx512(f, WF_VALUE_I16, r0, r1, out, x, bias),
                   wf_bitmap_rows_avx512(f, WF_VALUE_F32, r0, r1, out, x, bias));
        break;
    case WF_CSR:
        WF_BY_TYPE(wf_csr_rows_avx512(f, WF_VALUE_I8, r0, r1, out, x, bias),
                   wf_csr_rows_avx512(f, WF_VALUE_I16, r0, r1, out, x, bias),
                   wf_csr_rows_avx512(f, WF_VALUE_F32, r0, r1, out, x, bias));
        break;
    default: break;
    }
#undef WF_BY_TYPE
}

#define WF_ROWS_PER_TASK 32
static inline WF_AVX512 void wf_matvec_avx512(const WeightForm* f, float* out, const float* x, const float* bias) {
    int tasks = (f->rows + WF_ROWS_PER_TASK - 1) / WF_ROWS_PER_TASK;
    #pragma omp parallel for schedule(static) if (tasks > 1)
    for (int k = 0; k < tasks; k++) {
        int r0 = k * WF_ROWS_PER_TASK, r1 = r0 + WF_ROWS_PER_TASK < f->rows ? r0 + WF_ROWS_PER_TASK : f->rows;
        wf_rows_avx512(f, r0, r1, out, x, bias);
    }
}
#endif // WF_HAVE_AVX512

// 1 when the AVX-512 kernels are built in and this CPU runs them
static inline int wf_avx512_available(void) {
#if WF_HAVE_AVX512
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

// out (rows) = W x + bias, the fastest kernel this build and CPU have
static inline void wf_matvec(const WeightForm* f, float* out, const float* x, const float* bias) {
#if WF_HAVE_AVX512
    if (wf_avx512_available()) { wf_matvec_avx512(f, out, x, bias); return; }
#endif
    wf_matvec_ref(f, out, x, bias);
}

// out (T, rows) = in (T, cols) W^T + bias for T positions (prefill): each row is decoded
// to floats once and used for all T inputs, so the weights are read once per call.
// T = 1 is wf_matvec. BS_ENOMEM when there is no room for the per-thread row scratch.
static inline int wf_matmul(const WeightForm* f, float* out, const float* in, const float* bias, int T) {
    if (T == 1) { wf_matvec(f, out, in, bias); return BS_OK; }
    const int C = f->cols, OC = f->rows;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    float* scratch = (float*)malloc((size_t)threads * C * sizeof(float));
    if (!scratch) return bs_error_set(BS_ENOMEM, "weight form: out of memory for the prefill scratch");
    #pragma omp parallel num_threads(threads)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float* row = scratch + (size_t)tid * C;
        #pragma omp for schedule(static)
        for (int r = 0; r < OC; r++) {
            wf_row_to_float(f, r, row);
            float b = bias ? bias[r] : 0.0f;
            for (int t = 0; t < T; t++) {
                const float* x = in + (size_t)t * C;
                out[(size_t)t * OC + r] = wf_dot(row, x, C) + b;
            }
        }
    }
    free(scratch);
    return BS_OK;
}

#endif // LLMC_WEIGHT_FORM_H
