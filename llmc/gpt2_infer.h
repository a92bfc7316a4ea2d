/*
 gpt2_infer.h: GPT-2 for generation: the weights in their in-memory forms (weight_form.h),
 a KV cache, and a forward pass over a block of new positions (the prompt's prefill, then
 one token at a time), used by ./generate.

 The path of a model file into memory, a block of rows at a time (no fp32 copy of the
 model is ever made):
   .bsz        value-map indices of a row range (bsz_decode_index_range) -> levels q
   llm.c .bin  fp32 (or bf16) rows read from the file -> levels q when every weight of the
               tensor is a multiple of the grid step Delta (a decoded .bsz is), else floats
 Each weight matrix (wte, wpe, and per layer qkvw, attprojw, fcw, fcprojw) becomes one
 WeightForm: the one asked for; with GPT2_FORM_AUTO the exact form (fp32, levels, bitmap,
 csr; bf16 is lossy and only on request) fastest by a cost model calibrated at load
 (gpt2_choose_form); with GPT2_FORM_SMALL the exact form with the fewest bytes; or with
 GPT2_FORM_MEASURE the exact form whose product was
 fastest when timed at load: each candidate is built, and its product timed (CPU time, best
 of GPT2_MEASURE_REPS) after the caches were flushed by sweeping a buffer the size of the
 last-level cache, as in decode, where the model is streamed from memory once per token
 (doc/generate.md compares the rules). A first pass over a tensor counts its nonzeros,
 largest level and (wte) all-zero rows, a second builds it; the level forms leave wte's
 all-zero rows out, and a .bsz's shared rows (ROWS) are one stored row (m->wte_row maps the
 tokens). Biases and LayerNorm parameters stay fp32.

 The forward pass is the training forward (gpt2_cpu.h, llm.c's layers) restricted to new
 positions: x = wte[token] + wpe[pos]; per layer: ln1 -> qkv (whose k, v go to the cache at
 their positions) -> causal attention of each new position over the cached positions
 0..pos -> attproj, residual -> ln2 -> fc, GELU, fcproj, residual; lnf; the logits of the
 last position = wte x (tied head). The layernorm is cpu_kernels.h's; GELU and the softmax's
 exponential use gpt2_exp, a vectorizable e^x equal to expf within float rounding (tested
 against it in case 58).
*/
#ifndef LLMC_GPT2_INFER_H
#define LLMC_GPT2_INFER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "bsz.h"
#include "cpu_kernels.h"
#include "gpt2_params.h"
#include "model_fp32.h"
#include "quantize.h"
#include "utils.h"
#include "weight_form.h"

#define GPT2_FORM_AUTO (-1)    // the exact form whose product is fastest by the calibrated cost model
#define GPT2_FORM_MEASURE (-2) // the exact form whose product is fastest, timed at load
#define GPT2_FORM_SMALL (-3)   // the exact form with the fewest bytes
#define GPT2_AUTO_SLACK 1.10   // auto: among forms within this factor of the fastest, the fewest bytes
#define GPT2_CALIB_ROWS 256    // the calibration's synthetic matrices: rows (of the tensor's width)
#define GPT2_CALIB_MAX 8       // (width, value type) pairs calibrated per load
#ifndef GPT2_AUTO_CACHE_BYTES
// auto: a model with more weights than this is taken as streamed from memory. A constant,
// one core complex's L3 on the machine measured (sysconf there reports the whole socket's
// 320 MiB, which no one core sees at its speed)
#define GPT2_AUTO_CACHE_BYTES (32u << 20)
#endif
#define GPT2_MEASURE_REPS 2
#ifndef GPT2_INFER_BLOCK
#define GPT2_INFER_BLOCK 64 // positions per block of the forward pass (longer prompts go in blocks)
#endif
#define GPT2_INFER_ROWS_ELEMS (1u << 20) // weights per row block while loading
#define GPT2_ROW_SHARED (-1) // a wte row that is the .bsz's shared row
#define GPT2_ROW_ZERO (-2)   // a wte row of zeros

// the steps of the forward pass that GPT2Infer.profile times
enum { GPT2_PROF_EMBED, GPT2_PROF_LAYERNORM, GPT2_PROF_QKV, GPT2_PROF_ATTENTION, GPT2_PROF_ATTPROJ, GPT2_PROF_FC,
       GPT2_PROF_GELU, GPT2_PROF_FCPROJ, GPT2_PROF_RESIDUAL, GPT2_PROF_HEAD, GPT2_PROF_NUM };
static const char* const gpt2_prof_names[GPT2_PROF_NUM] = {"embedding", "layernorm", "qkv", "attention", "attproj", "fc",
                                                           "gelu", "fcproj", "residual", "head"};

typedef struct {
    int form;         // WF_* for every weight matrix, GPT2_FORM_AUTO or GPT2_FORM_MEASURE
    float grid_delta; // .bin: the step to find levels on (0: floats only); .bsz: its own Delta
    int context;      // positions the KV cache holds (<= max_seq_len; 0 = max_seq_len)
    size_t measure_flush_bytes; // GPT2_FORM_MEASURE: the cache-flushing sweep (0: the last-level cache's size)
} GPT2InferOptions;

static inline GPT2InferOptions gpt2_infer_default_options(void) {
    GPT2InferOptions o = {GPT2_FORM_AUTO, QUANTIZE_DEFAULT_DELTA, 0, 0};
    return o;
}

typedef struct {
    GPT2Config config;
    WeightForm wte, wpe;                     // (Vp, C), (maxT, C)
    WeightForm *qkvw, *attprojw, *fcw, *fcprojw; // (L) each: (3C, C), (C, C), (4C, C), (C, 4C)
    float* small_memory;                     // the 1-D parameters, fp32, in llm.c's order:
    float *ln1w, *ln1b, *qkvb, *attprojb, *ln2w, *ln2b, *fcb, *fcprojb, *lnfw, *lnfb;
    // the KV cache: keys and values of positions 0..pos-1 of every layer
    int context, pos;
    float *key_cache, *value_cache;          // (L, context, C)
    // scratch for a block of up to GPT2_INFER_BLOCK positions
    float *x, *xn, *qkv, *atty, *proj, *fch, *mean, *rstd; // (T,C) (T,C) (T,3C) (T,C) (T,C) (T,4C) (T) (T)
    float* att;                              // (T, NH, context) attention weights
    float* logits;                           // (Vp) of the last position
    // wte's rows (the embedding and the tied head): the form holds only rows that are stored
    // and not all zero (for the level forms; fp32 and bf16 keep the zero rows, dense baselines)
    int32_t* wte_row;                        // (Vp) token v's row in m->wte, or GPT2_ROW_SHARED / GPT2_ROW_ZERO; NULL: row v
    float* shared_row;                       // (C) a .bsz's shared row (ROWS), or NULL
    uint32_t shared_rows, zero_rows;         // wte rows that are the shared row, all zero (not in the form)
    float* head_out;                         // (m->wte.rows) the head's product before it is spread to the tokens
    int profile;                             // 1: add each step's CPU seconds to prof[]
    double prof[GPT2_PROF_NUM];              // CPU seconds per step of the forward pass (gpt2_prof_names)
    size_t weight_bytes;                     // of all weight forms
    size_t small_bytes;                      // of the fp32 parameters
    size_t form_bytes[WF_NUM_FORMS];         // weight bytes per form
    uint64_t form_params[WF_NUM_FORMS];      // weights per form
    uint64_t nonzero_params, matrix_params;
} GPT2Infer;

// ----------------------------------------------------------------------------
// a model file's tensors, a block of rows at a time

typedef struct {
    const char* path;
    int coded;             // .bsz
    BszFile bsz;
    FILE* fp;              // .bin
    int bf16;              // .bin of bf16 parameters (version 5)
    GPT2Config config;
    GPT2Tensor* table;     // gpt2_num_tensors() logical tensors
    uint32_t* index_scratch; // (GPT2_INFER_ROWS_ELEMS) .bsz indices
    uint16_t* half_scratch;  // (GPT2_INFER_ROWS_ELEMS) .bin bf16 values
} GPT2Source;

static inline void gpt2_source_close(GPT2Source* s) {
    if (s->coded) bsz_close(&s->bsz);
    if (s->fp) fclose(s->fp);
    free(s->table); free(s->index_scratch); free(s->half_scratch);
    memset(s, 0, sizeof(*s));
}

static inline int gpt2_source_open(GPT2Source* s, const char* path) {
    memset(s, 0, sizeof(*s));
    s->path = path;
    int rc;
    if (bsz_file_is_coded(path)) {
        s->coded = 1;
        if ((rc = bsz_open(&s->bsz, path)) != BS_OK) { s->coded = 0; return rc; }
        s->config = s->bsz.config;
    } else {
        int version = 0;
        if ((rc = model_fp32_read_header(path, &s->config, &version)) != BS_OK) return rc;
        s->bf16 = version == MODEL_FP32_VERSION_BF16;
        s->fp = fopen(path, "rb");
        if (!s->fp) return bs_error_set(BS_EIO, "%s: cannot open (%s)", path, strerror(errno));
    }
    int nt = gpt2_num_tensors(&s->config);
    s->table = (GPT2Tensor*)malloc((size_t)nt * sizeof(GPT2Tensor));
    s->index_scratch = (uint32_t*)malloc(GPT2_INFER_ROWS_ELEMS * sizeof(uint32_t));
    s->half_scratch = (uint16_t*)malloc(GPT2_INFER_ROWS_ELEMS * sizeof(uint16_t));
    if (!s->table || !s->index_scratch || !s->half_scratch) { gpt2_source_close(s); return bs_error_set(BS_ENOMEM, "%s: out of memory", path); }
    gpt2_tensor_table(&s->config, s->table);
    if (s->coded && s->bsz.num_tensors != nt) {
        gpt2_source_close(s);
        return bs_error_set(BS_EFORMAT, "%s: %d tensors, the config needs %d", path, s->bsz.num_tensors, nt);
    }
    return BS_OK;
}

// rows of logical tensor t stored in the file: for wte of a .bsz with shared rows (ROWS)
// only its other rows, packed in order (their elements are what gpt2_source_read reads)
static inline uint64_t gpt2_source_rows(const GPT2Source* s, int t) {
    const GPT2Tensor* tt = &s->table[t];
    if (s->coded && tt->ndim == 2) return s->bsz.tensors[t].coded / (uint64_t)tt->shape[1];
    return (uint64_t)tt->shape[0];
}

// elements [first, first + n) of logical tensor t (stored elements: see gpt2_source_rows) (n <= GPT2_INFER_ROWS_ELEMS): as floats
// into w (may be NULL), and for a .bsz as levels into q (may be NULL; *delta gets the step)
static inline int gpt2_source_read(GPT2Source* s, int t, uint64_t first, uint64_t n, float* w, int32_t* q) {
    if (s->coded) {
        int rc = bsz_decode_index_range(&s->bsz, t, first, n, s->index_scratch);
        if (rc != BS_OK) return rc;
        const BszTensor* bt = &s->bsz.tensors[t];
        const int32_t* map = s->bsz.map_values[bt->map];
        for (uint64_t i = 0; i < n; i++) {
            int32_t v = map[s->index_scratch[i]];
            if (q) q[i] = v;
            if (w) w[i] = dequantize_value(v, bt->delta);
        }
        return BS_OK;
    }
    size_t elem = s->bf16 ? 2 : 4;
    uint64_t at = (uint64_t)MODEL_FP32_HEADER_INTS * 4 + (s->table[t].offset + first) * elem;
    if (fseeko(s->fp, (off_t)at, SEEK_SET) != 0) return bs_error_set(BS_EIO, "%s: seek failed", s->path);
    if (!s->bf16) return bs_read_exact(s->fp, w, n * 4, s->path);
    int rc = bs_read_exact(s->fp, s->half_scratch, n * 2, s->path);
    for (uint64_t i = 0; rc == BS_OK && i < n; i++) w[i] = wf_float_from_bf16(s->half_scratch[i]);
    return rc;
}

// ----------------------------------------------------------------------------
// loading

typedef struct {
    uint64_t nonzero;
    int32_t max_abs_q;
    int on_grid;  // every weight is q * delta, |q| <= 32767
    float delta;
} GPT2TensorStats;

// the first pass over a weight matrix: nonzeros, and whether (and how wide) its levels are;
// row_nonzero (the stored rows; may be NULL): 1 where a row has a nonzero weight
static inline int gpt2_tensor_stats(GPT2Source* s, int t, float grid_delta, float* w, int32_t* q, GPT2TensorStats* st,
                                    uint8_t* row_nonzero) {
    const GPT2Tensor* tt = &s->table[t];
    const uint64_t numel = gpt2_source_rows(s, t) * (uint64_t)(tt->ndim == 2 ? tt->shape[1] : 1);
    const uint64_t cols = tt->ndim == 2 ? (uint64_t)tt->shape[1] : numel;
    if (row_nonzero) memset(row_nonzero, 0, (size_t)(numel / cols));
    memset(st, 0, sizeof(*st));
    st->on_grid = s->coded || grid_delta > 0.0f;
    st->delta = s->coded ? s->bsz.tensors[t].delta : grid_delta;
    float inv = st->on_grid ? 1.0f / st->delta : 0.0f;
    for (uint64_t first = 0; first < numel; first += GPT2_INFER_ROWS_ELEMS) {
        uint64_t n = numel - first < GPT2_INFER_ROWS_ELEMS ? numel - first : GPT2_INFER_ROWS_ELEMS;
        int rc = gpt2_source_read(s, t, first, n, w, s->coded ? q : NULL);
        if (rc != BS_OK) return rc;
        for (uint64_t i = 0; i < n; i++) {
            st->nonzero += w[i] != 0.0f;
            if (row_nonzero && w[i] != 0.0f) row_nonzero[(first + i) / cols] = 1;
            if (!st->on_grid) continue;
            int32_t v = s->coded ? q[i] : quantize_value(w[i], inv);
            if (!s->coded && (fabsf(w[i] * inv) > 32767.0f || dequantize_value(v, st->delta) != w[i])) { st->on_grid = 0; continue; }
            int32_t a = v < 0 ? -v : v;
            if (a > st->max_abs_q) st->max_abs_q = a;
        }
    }
    if (st->max_abs_q > 32767) st->on_grid = 0;
    return BS_OK;
}

// bytes a (rows, cols) matrix takes in form `kind` with `nnz` nonzeros and values of type vt
static inline size_t gpt2_form_bytes(int kind, WeightValueType vt, int rows, int cols, uint64_t nnz) {
    size_t vb = kind == WF_FP32 ? 4 : kind == WF_BF16 ? 2 : vt == WF_VALUE_F32 ? 4 : vt == WF_VALUE_I16 ? 2 : 1;
    size_t n = (size_t)rows * cols;
    if (kind == WF_FP32 || kind == WF_BF16 || kind == WF_LEVELS) return n * vb;
    size_t b = (size_t)nnz * vb + (size_t)(rows + 1) * 8;
    return b + (kind == WF_BITMAP ? (size_t)rows * wf_mask_words(cols) * 2 : (size_t)nnz * 2);
}

// The cost model of -f auto: seconds of one product of a (rows, cols) matrix with nnz
// nonzeros, per form: dense (levels, or fp32 off the grid) rows*cols*dense, bitmap
// rows*cols*bitmap, csr rows*csr_row + nnz*csr_nnz. The coefficients are calibrated at load
// for each (cols, value type) on synthetic matrices of GPT2_CALIB_ROWS rows in cache (the
// products' best time of several runs of the kernels this build and CPU use): the kernels
// are compute-bound when the model's forms fit in the last-level cache, as a sparse model
// does; a model that does not fit is memory-bound too, which this model leaves out
// (doc/generate.md).
typedef struct {
    int cols, vt;
    double dense, bitmap, csr_row, csr_nnz; // seconds per weight, per weight, per row, per nonzero
    int memory_bound; // the model does not fit in the last-level cache: bytes first (gpt2_choose_form)
} GPT2FormCost;

static inline double gpt2_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// best seconds of one product of f (products repeated to at least ~20 us a timing)
static inline double gpt2_time_warm(const WeightForm* f, const float* x, float* out) {
    int reps = 1;
    wf_matvec(f, out, x, NULL);
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        double t = gpt2_wall_seconds();
        for (int i = 0; i < reps; i++) wf_matvec(f, out, x, NULL);
        t = (gpt2_wall_seconds() - t) / reps;
        if (t < best) best = t;
        if (t * reps < 2e-5 && reps < 4096) reps *= 4, k--;
    }
    return best;
}

// a synthetic (GPT2_CALIB_ROWS, cols) matrix of value type vt in form kind, `density` of it
// nonzero (levels -3..3, 0 excluded); its product's best time
static inline int gpt2_calib_time(int kind, int vt, int cols, double density, const float* x, float* out, int32_t* q,
                                  double* seconds, uint64_t* nnz) {
    WeightForm f;
    const int R = GPT2_CALIB_ROWS;
    int rc = wf_begin(&f, (WeightFormKind)kind, (WeightValueType)vt, R, cols, vt == WF_VALUE_F32 ? 1.0f : 1e-3f, 0);
    uint64_t state = 0x9e3779b97f4a7c15ull * (uint64_t)(cols + 1);
    for (int r = 0; r < R && rc == BS_OK; r++) {
        for (int j = 0; j < cols; j++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(state >> 11) * (1.0 / 9007199254740992.0);
            int32_t v = (int32_t)((state >> 3) % 3) + 1;
            q[j] = u < density ? ((state >> 7) & 1 ? v : -v) : 0;
        }
        if (vt == WF_VALUE_F32) { // floats: the levels as weights
            float* w = (float*)q;
            for (int j = 0; j < cols; j++) w[j] = (float)q[j];
            rc = wf_append_row(&f, w, NULL);
        } else {
            rc = wf_append_row(&f, NULL, q);
        }
    }
    if (rc == BS_OK) { *seconds = gpt2_time_warm(&f, x, out); *nnz = f.kind == WF_BITMAP || f.kind == WF_CSR ? f.nnz : 0; }
    wf_free(&f);
    return rc;
}

// the cost coefficients for (cols, vt), calibrated on first use; table (GPT2_CALIB_MAX) and
// *n: those calibrated so far in this load
static inline int gpt2_form_cost(GPT2FormCost* table, int* n, int cols, int vt, const GPT2FormCost** out) {
    for (int i = 0; i < *n; i++) if (table[i].cols == cols && table[i].vt == vt) { *out = &table[i]; return BS_OK; }
    GPT2FormCost* c = &table[*n < GPT2_CALIB_MAX ? (*n)++ : GPT2_CALIB_MAX - 1];
    memset(c, 0, sizeof(*c));
    c->cols = cols; c->vt = vt;
    float* x = (float*)malloc((size_t)cols * sizeof(float));
    float* o = (float*)malloc(GPT2_CALIB_ROWS * sizeof(float));
    int32_t* q = (int32_t*)malloc((size_t)cols * sizeof(int32_t));
    int rc = x && o && q ? BS_OK : bs_error_set(BS_ENOMEM, "calibration: out of memory");
    for (int i = 0; rc == BS_OK && i < cols; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    double t, t1, t2;
    uint64_t nz, n1, n2;
    const double W = (double)GPT2_CALIB_ROWS * cols;
    if (rc == BS_OK && (rc = gpt2_calib_time(vt == WF_VALUE_F32 ? WF_FP32 : WF_LEVELS, vt, cols, 0.5, x, o, q, &t, &nz)) == BS_OK) c->dense = t / W;
    if (rc == BS_OK && (rc = gpt2_calib_time(WF_BITMAP, vt, cols, 0.2, x, o, q, &t, &nz)) == BS_OK) c->bitmap = t / W;
    if (rc == BS_OK && cols <= WF_MAX_CSR_COLS && (rc = gpt2_calib_time(WF_CSR, vt, cols, 0.03, x, o, q, &t1, &n1)) == BS_OK &&
        (rc = gpt2_calib_time(WF_CSR, vt, cols, 0.3, x, o, q, &t2, &n2)) == BS_OK) {
        c->csr_nnz = n2 > n1 && t2 > t1 ? (t2 - t1) / (double)(n2 - n1) : t2 / (double)(n2 ? n2 : 1);
        c->csr_row = t1 - c->csr_nnz * (double)n1 > 0 ? (t1 - c->csr_nnz * (double)n1) / GPT2_CALIB_ROWS : 0.0;
    }
    free(x); free(o); free(q);
    *out = c;
    return rc;
}

// modelled seconds of a product in form kind (WF_LEVELS stands for the dense candidate)
static inline double gpt2_form_seconds(const GPT2FormCost* c, int kind, int rows, int cols, uint64_t nnz) {
    double W = (double)rows * cols;
    if (kind == WF_BITMAP) return W * c->bitmap;
    if (kind == WF_CSR) return (double)rows * c->csr_row + (double)nnz * c->csr_nnz;
    return W * c->dense;
}

// the form of one weight matrix (rows: those it will hold): the one asked for; with
// GPT2_FORM_SMALL the exact one with the fewest bytes; with GPT2_FORM_AUTO the exact one
// whose product the cost model (cost, calibrated for cols) says is fastest, or of those
// within GPT2_AUTO_SLACK of it the one with the fewest bytes; but for a model that does
// not fit in the last-level cache (cost->memory_bound: decode streams it from memory), of
// the forms within GPT2_AUTO_SLACK of the fewest bytes the fastest by the cost model
static inline int gpt2_choose_form(int asked, const GPT2TensorStats* st, int rows, int cols, WeightValueType* vt,
                                   const GPT2FormCost* cost) {
    *vt = st->on_grid ? wf_value_type_for(st->max_abs_q) : WF_VALUE_F32;
    if (asked != GPT2_FORM_AUTO && asked != GPT2_FORM_SMALL) return (asked == WF_CSR && cols > WF_MAX_CSR_COLS) ? WF_BITMAP : asked;
    const int dense = st->on_grid ? WF_LEVELS : WF_FP32;
    const int cand[3] = {dense, WF_BITMAP, WF_CSR};
    double secs[3], fastest = 1e300;
    for (int i = 0; i < 3; i++) {
        secs[i] = cand[i] == WF_CSR && cols > WF_MAX_CSR_COLS ? 1e300
                : asked == GPT2_FORM_SMALL || !cost ? 0.0 : gpt2_form_seconds(cost, cand[i], rows, cols, st->nonzero);
        if (secs[i] < fastest) fastest = secs[i];
    }
    int best = -1;
    if (cost && cost->memory_bound && asked == GPT2_FORM_AUTO) {
        double fewest = 1e300;
        for (int i = 0; i < 3; i++)
            if (secs[i] < 1e300 && (double)gpt2_form_bytes(cand[i], *vt, rows, cols, st->nonzero) < fewest)
                fewest = (double)gpt2_form_bytes(cand[i], *vt, rows, cols, st->nonzero);
        for (int i = 0; i < 3; i++) {
            if (secs[i] >= 1e300 || (double)gpt2_form_bytes(cand[i], *vt, rows, cols, st->nonzero) > fewest * GPT2_AUTO_SLACK) continue;
            if (best < 0 || secs[i] < secs[best]) best = i;
        }
        return cand[best];
    }
    for (int i = 0; i < 3; i++) {
        if (secs[i] > fastest * GPT2_AUTO_SLACK) continue;
        if (best < 0 || gpt2_form_bytes(cand[i], *vt, rows, cols, st->nonzero) < gpt2_form_bytes(cand[best], *vt, rows, cols, st->nonzero)) best = i;
    }
    return cand[best];
}

// builds logical tensor t (a weight matrix) into form `kind` with values of type vt: its
// stored rows (gpt2_source_rows), or of them only those with keep[r] != 0 (keep may be NULL)
static inline int gpt2_build_matrix(GPT2Source* s, int t, const GPT2TensorStats* st, int kind, WeightValueType vt,
                                    const uint8_t* keep, float* w, int32_t* q, WeightForm* f) {
    const GPT2Tensor* tt = &s->table[t];
    int rows = (int)gpt2_source_rows(s, t), cols = tt->shape[1], kept = rows;
    if (keep) { kept = 0; for (int r = 0; r < rows; r++) kept += keep[r] != 0; }
    if (kept == 0) return bs_error_set(BS_EINVAL, "%s: tensor %s has no row to keep", s->path, tt->name);
    int rc = wf_begin(f, (WeightFormKind)kind, vt, kept, cols, st->on_grid ? st->delta : 1.0f, st->nonzero);
    if (rc != BS_OK) return rc;
    int use_q = st->on_grid && s->coded && vt != WF_VALUE_F32;
    uint64_t rows_per_block = GPT2_INFER_ROWS_ELEMS / (uint64_t)cols;
    if (rows_per_block < 1) return bs_error_set(BS_EINVAL, "%s: tensor %s rows of %d are too long", s->path, tt->name, cols);
    for (uint64_t r0 = 0; r0 < (uint64_t)rows; r0 += rows_per_block) {
        uint64_t nr = rows - r0 < rows_per_block ? rows - r0 : rows_per_block;
        if ((rc = gpt2_source_read(s, t, r0 * cols, nr * cols, w, use_q ? q : NULL)) != BS_OK) return rc;
        for (uint64_t r = 0; r < nr && rc == BS_OK; r++)
            if (!keep || keep[r0 + r]) rc = wf_append_row(f, use_q ? NULL : w + r * cols, use_q ? q + r * cols : NULL);
        if (rc != BS_OK) return bs_error_set(rc, "%s: tensor %s: %s", s->path, tt->name, bs_error());
    }
    return BS_OK;
}

static inline double gpt2_process_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU seconds of f's product, best of GPT2_MEASURE_REPS, each after sweeping `flush`
static inline double gpt2_time_product(const WeightForm* f, const float* x, float* out, uint8_t* flush, size_t flush_bytes) {
    double best = 1e30;
    for (int rep = 0; rep < GPT2_MEASURE_REPS; rep++) {
        for (size_t i = 0; i < flush_bytes; i += 64) flush[i]++;
        double t = gpt2_process_cpu_seconds();
        wf_matvec(f, out, x, NULL);
        t = gpt2_process_cpu_seconds() - t;
        if (t < best) best = t;
    }
    return best;
}

// GPT2_FORM_MEASURE: builds each exact candidate and keeps the fastest in f
static inline int gpt2_measure_matrix(GPT2Source* s, int t, const GPT2TensorStats* st, WeightValueType vt,
                                      const uint8_t* keep, float* w, int32_t* q, size_t flush_bytes, WeightForm* f) {
    const GPT2Tensor* tt = &s->table[t];
    int rows = (int)gpt2_source_rows(s, t), cols = tt->shape[1];
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (flush_bytes == 0) flush_bytes = (size_t)(l3 > 0 && l3 < 2l * GPT2_AUTO_CACHE_BYTES ? l3 : 2l * GPT2_AUTO_CACHE_BYTES); // sysconf may give the socket's L3
    uint8_t* flush = (uint8_t*)calloc(flush_bytes, 1);
    float* x = (float*)malloc((size_t)cols * sizeof(float));
    float* out = (float*)malloc((size_t)rows * sizeof(float));
    if (!flush || !x || !out) { free(flush); free(x); free(out); return bs_error_set(BS_ENOMEM, "%s: out of memory", s->path); }
    for (int i = 0; i < cols; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    int rc = BS_OK;
    double best_time = 1e30;
    memset(f, 0, sizeof(*f));
    const int candidates[4] = {st->on_grid ? WF_LEVELS : WF_FP32, WF_BITMAP, WF_CSR, -1};
    for (int c = 0; candidates[c] >= 0 && rc == BS_OK; c++) {
        if (candidates[c] == WF_CSR && cols > WF_MAX_CSR_COLS) continue;
        WeightForm cand;
        if ((rc = gpt2_build_matrix(s, t, st, candidates[c], vt, keep, w, q, &cand)) != BS_OK) break;
        double tm = gpt2_time_product(&cand, x, out, flush, flush_bytes);
        if (tm < best_time) { wf_free(f); *f = cand; best_time = tm; }
        else wf_free(&cand);
    }
    free(flush); free(x); free(out);
    if (rc != BS_OK) wf_free(f);
    return rc;
}

// builds logical tensor t (a weight matrix) into the form the options choose. row_nonzero
// (the stored rows, or NULL): filled by the first pass; then when the form holds levels
// (levels, bitmap, csr) the all-zero rows are left out and *dropped is set to 1 (the
// caller maps the rows: wte); fp32 and bf16, the dense float forms, keep every row
static inline int gpt2_load_matrix(GPT2Source* s, int t, const GPT2InferOptions* o, float* w, int32_t* q, WeightForm* f,
                                   uint8_t* row_nonzero, int* dropped, GPT2FormCost* costs, int* num_costs, int memory_bound) {
    const GPT2Tensor* tt = &s->table[t];
    GPT2TensorStats st;
    if (dropped) *dropped = 0;
    int rc = gpt2_tensor_stats(s, t, o->grid_delta, w, q, &st, row_nonzero);
    if (rc != BS_OK) return rc;
    int rows = (int)gpt2_source_rows(s, t), zero = 0, cols = tt->shape[1];
    for (int r = 0; row_nonzero && r < rows; r++) zero += !row_nonzero[r];
    const int level_form = o->form == WF_LEVELS || o->form == WF_BITMAP || o->form == WF_CSR || o->form < 0;
    const int drop = row_nonzero && st.on_grid && level_form && zero > 0 && zero < rows; // the rows kept are all nonzero
    const GPT2FormCost* cost = NULL;
    if (o->form == GPT2_FORM_AUTO) {
        WeightValueType vt0 = st.on_grid ? wf_value_type_for(st.max_abs_q) : WF_VALUE_F32;
        if ((rc = gpt2_form_cost(costs, num_costs, cols, vt0, &cost)) != BS_OK) return rc;
    }
    GPT2FormCost local;
    if (cost) { local = *cost; local.memory_bound = memory_bound; cost = &local; }
    WeightValueType vt;
    int kind = gpt2_choose_form(o->form == GPT2_FORM_MEASURE ? GPT2_FORM_SMALL : o->form, &st, drop ? rows - zero : rows, cols, &vt, cost);
    const uint8_t* keep = NULL;
    if (drop) { keep = row_nonzero; *dropped = 1; }
    if (o->form == GPT2_FORM_MEASURE) return gpt2_measure_matrix(s, t, &st, vt, keep, w, q, o->measure_flush_bytes, f);
    return gpt2_build_matrix(s, t, &st, kind, vt, keep, w, q, f);
}

// after wte is built: where each token's row is (m->wte_row), the shared row of a .bsz
// with ROWS; row_nonzero (the stored rows) and dropped as gpt2_load_matrix left them
static inline int gpt2_map_wte_rows(GPT2Infer* m, const GPT2Source* s, const uint8_t* row_nonzero, int dropped) {
    const int Vp = m->config.padded_vocab_size, C = m->config.channels;
    const BszFile* b = s->coded ? &s->bsz : NULL;
    const int shared = b && b->num_shared_rows > 0;
    if (!shared && !dropped) return BS_OK; // row v is form row v
    m->wte_row = (int32_t*)malloc((size_t)Vp * sizeof(int32_t));
    m->head_out = (float*)malloc((size_t)m->wte.rows * sizeof(float));
    if (shared) m->shared_row = (float*)malloc((size_t)C * sizeof(float));
    if (!m->wte_row || !m->head_out || (shared && !m->shared_row)) return bs_error_set(BS_ENOMEM, "%s: out of memory", s->path);
    if (shared) memcpy(m->shared_row, b->shared_row, (size_t)C * sizeof(float));
    int stored = 0, row = 0;
    for (int v = 0; v < Vp; v++) {
        if (shared && b->shared_rows[v]) { m->wte_row[v] = GPT2_ROW_SHARED; m->shared_rows++; continue; }
        if (dropped && !row_nonzero[stored]) m->wte_row[v] = GPT2_ROW_ZERO, m->zero_rows++;
        else m->wte_row[v] = row++;
        stored++;
    }
    if (row != m->wte.rows) return bs_error_set(BS_EFORMAT, "%s: wte rows %d, its form holds %d", s->path, row, m->wte.rows);
    return BS_OK;
}

static inline void gpt2_infer_free(GPT2Infer* m) {
    wf_free(&m->wte);
    wf_free(&m->wpe);
    for (int l = 0; m->qkvw && l < m->config.num_layers; l++) {
        wf_free(&m->qkvw[l]); wf_free(&m->attprojw[l]); wf_free(&m->fcw[l]); wf_free(&m->fcprojw[l]);
    }
    free(m->qkvw); free(m->attprojw); free(m->fcw); free(m->fcprojw);
    free(m->small_memory);
    free(m->key_cache); free(m->value_cache);
    free(m->x); free(m->xn); free(m->qkv); free(m->atty); free(m->proj); free(m->fch); free(m->mean); free(m->rstd);
    free(m->att); free(m->logits);
    free(m->wte_row); free(m->shared_row); free(m->head_out);
    memset(m, 0, sizeof(*m));
}

static inline int gpt2_infer_allocate(GPT2Infer* m) {
    const GPT2Config* c = &m->config;
    size_t C = (size_t)c->channels, L = (size_t)c->num_layers, T = GPT2_INFER_BLOCK, ctx = (size_t)m->context;
    m->key_cache = (float*)calloc(L * ctx * C, sizeof(float));
    m->value_cache = (float*)calloc(L * ctx * C, sizeof(float));
    m->x = (float*)malloc(T * C * sizeof(float));
    m->xn = (float*)malloc(T * C * sizeof(float));
    m->qkv = (float*)malloc(T * 3 * C * sizeof(float));
    m->atty = (float*)malloc(T * C * sizeof(float));
    m->proj = (float*)malloc(T * C * sizeof(float));
    m->fch = (float*)malloc(T * 4 * C * sizeof(float));
    m->mean = (float*)malloc(T * sizeof(float));
    m->rstd = (float*)malloc(T * sizeof(float));
    m->att = (float*)malloc(T * (size_t)c->num_heads * ctx * sizeof(float));
    m->logits = (float*)malloc((size_t)c->padded_vocab_size * sizeof(float));
    if (!m->key_cache || !m->value_cache || !m->x || !m->xn || !m->qkv || !m->atty || !m->proj || !m->fch ||
        !m->mean || !m->rstd || !m->att || !m->logits)
        return bs_error_set(BS_ENOMEM, "out of memory for a KV cache of %zu positions", ctx);
    return BS_OK;
}

// adds a weight matrix to the counts; extra_rows: its rows not in the form (wte's shared
// and zero rows), counted as weights of the form, and extra_bytes (wte's row map)
static inline void gpt2_infer_count(GPT2Infer* m, const WeightForm* f, uint64_t extra_rows, size_t extra_bytes) {
    size_t b = wf_bytes(f) + extra_bytes;
    m->weight_bytes += b;
    m->form_bytes[f->kind] += b;
    m->form_params[f->kind] += ((uint64_t)f->rows + extra_rows) * f->cols;
    m->matrix_params += ((uint64_t)f->rows + extra_rows) * f->cols;
    if (f->kind == WF_BITMAP || f->kind == WF_CSR) m->nonzero_params += f->nnz;
    else { // dense: count the nonzero values
        for (uint64_t i = 0; i < (uint64_t)f->rows * f->cols; i++) m->nonzero_params += wf_value_at(f, i) != 0.0f;
    }
}

// loads a model file (.bsz or llm.c .bin) into m; the error names the file and tensor
static inline int gpt2_infer_load(GPT2Infer* m, const char* path, const GPT2InferOptions* o) {
    memset(m, 0, sizeof(*m));
    GPT2Source s;
    int rc = gpt2_source_open(&s, path);
    if (rc != BS_OK) return rc;
    m->config = s.config;
    const GPT2Config* c = &m->config;
    int L = c->num_layers;
    m->context = o->context > 0 && o->context < c->max_seq_len ? o->context : c->max_seq_len;
    float* w = (float*)malloc(GPT2_INFER_ROWS_ELEMS * sizeof(float));
    int32_t* q = (int32_t*)malloc(GPT2_INFER_ROWS_ELEMS * sizeof(int32_t));
    m->qkvw = (WeightForm*)calloc((size_t)L, sizeof(WeightForm));
    m->attprojw = (WeightForm*)calloc((size_t)L, sizeof(WeightForm));
    m->fcw = (WeightForm*)calloc((size_t)L, sizeof(WeightForm));
    m->fcprojw = (WeightForm*)calloc((size_t)L, sizeof(WeightForm));
    size_t sizes[GPT2_NUM_PARAM_TENSORS], small = 0;
    gpt2_param_sizes(c, sizes);
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) if (!gpt2_param_is_matrix(g)) small += sizes[g];
    m->small_memory = (float*)malloc(small * sizeof(float));
    m->small_bytes = small * sizeof(float);
    if (!w || !q || !m->qkvw || !m->attprojw || !m->fcw || !m->fcprojw || !m->small_memory) {
        rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    float** small_ptrs[GPT2_NUM_PARAM_TENSORS] = {NULL, NULL, &m->ln1w, &m->ln1b, NULL, &m->qkvb, NULL, &m->attprojb,
                                                  &m->ln2w, &m->ln2b, NULL, &m->fcb, NULL, &m->fcprojb, &m->lnfw, &m->lnfb};
    float* at = m->small_memory;
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) if (small_ptrs[g]) { *small_ptrs[g] = at; at += sizes[g]; }
    int nt = gpt2_num_tensors(c);
    GPT2FormCost costs[GPT2_CALIB_MAX];
    int num_costs = 0;
    // -f auto: a model whose weight matrices at one byte each exceed GPT2_AUTO_CACHE_BYTES
    // is streamed from memory at decode, so there the bytes come first
    uint64_t matrix_weights = 0;
    for (int t = 0; t < nt; t++) if (s.table[t].ndim == 2) matrix_weights += s.table[t].numel;
    int memory_bound = matrix_weights > (uint64_t)GPT2_AUTO_CACHE_BYTES;
    for (int t = 0; t < nt && rc == BS_OK; t++) {
        const GPT2Tensor* tt = &s.table[t];
        int g = tt->group, l = tt->layer < 0 ? 0 : tt->layer;
        WeightForm* f = g == GPT2_WTE ? &m->wte : g == GPT2_WPE ? &m->wpe : g == GPT2_QKVW ? &m->qkvw[l]
                      : g == GPT2_ATTPROJW ? &m->attprojw[l] : g == GPT2_FCW ? &m->fcw[l] : g == GPT2_FCPROJW ? &m->fcprojw[l] : NULL;
        if (f == &m->wte) {
            uint8_t* row_nonzero = (uint8_t*)malloc((size_t)gpt2_source_rows(&s, t));
            int dropped = 0;
            if (!row_nonzero) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path); break; }
            if ((rc = gpt2_load_matrix(&s, t, o, w, q, f, row_nonzero, &dropped, costs, &num_costs, memory_bound)) == BS_OK &&
                (rc = gpt2_map_wte_rows(m, &s, row_nonzero, dropped)) == BS_OK) {
                size_t map_bytes = m->wte_row ? (size_t)c->padded_vocab_size * 4 + (m->shared_row ? (size_t)c->channels * 4 : 0) : 0;
                gpt2_infer_count(m, f, (uint64_t)c->padded_vocab_size - (uint64_t)f->rows, map_bytes);
                if (m->shared_row) // the shared rows' nonzeros (the zero rows have none)
                    for (int i = 0; i < c->channels; i++) m->nonzero_params += (uint64_t)m->shared_rows * (m->shared_row[i] != 0.0f);
            }
            free(row_nonzero);
            continue;
        }
        if (f) {
            if ((rc = gpt2_load_matrix(&s, t, o, w, q, f, NULL, NULL, costs, &num_costs, memory_bound)) == BS_OK) gpt2_infer_count(m, f, 0, 0);
            continue;
        }
        float* dst = *small_ptrs[g] + (size_t)l * tt->numel; // 1-D: at most 4C floats per layer
        rc = gpt2_source_read(&s, t, 0, tt->numel, dst, NULL);
    }
    if (rc == BS_OK) rc = gpt2_infer_allocate(m);
done:
    free(w); free(q);
    gpt2_source_close(&s);
    if (rc != BS_OK) gpt2_infer_free(m);
    return rc;
}

// ----------------------------------------------------------------------------
// the forward pass

// token v's embedding row: out (C)
static inline void gpt2_infer_wte_row(const GPT2Infer* m, int v, float* out) {
    int r = m->wte_row ? m->wte_row[v] : v, C = m->config.channels;
    if (r >= 0) wf_row_to_float(&m->wte, r, out);
    else if (r == GPT2_ROW_SHARED) memcpy(out, m->shared_row, (size_t)C * sizeof(float));
    else memset(out, 0, (size_t)C * sizeof(float));
}

// the tied head: logits (Vp) = wte x. The product covers the form's rows; a shared row's
// logit is computed once, a zero row's is 0.
static inline void gpt2_infer_head(GPT2Infer* m, float* logits, const float* x) {
    if (!m->wte_row) { wf_matvec(&m->wte, logits, x, NULL); return; }
    const int Vp = m->config.padded_vocab_size, C = m->config.channels;
    wf_matvec(&m->wte, m->head_out, x, NULL);
    float shared = 0.0f;
    if (m->shared_row) for (int i = 0; i < C; i++) shared += m->shared_row[i] * x[i];
    for (int v = 0; v < Vp; v++) {
        int r = m->wte_row[v];
        logits[v] = r >= 0 ? m->head_out[r] : r == GPT2_ROW_SHARED ? shared : 0.0f;
    }
}

// e^x for x <= 88 (below -87: about 0): 2^n e^r with n = round(x / ln 2), |r| <= ln2 / 2,
// e^r by its degree-6 Taylor polynomial (relative error about 2e-7, a few float roundings);
// branch-free so that loops over it vectorize. The reference: expf.
static inline float gpt2_exp(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504f + 0.5f);
    float r = x - n * 0.693145752f - n * 1.42860677e-6f; // ln 2 in two parts
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

// GELU (tanh form, as cpu_kernels.h's gelu_forward) with tanh(u) = 1 - 2 / (e^{2u} + 1)
// from gpt2_exp: the same within float rounding, vectorized
static inline void gpt2_gelu(float* out, const float* in, int N) {
    for (int i = 0; i < N; i++) {
        float x = in[i];
        float u = GELU_SCALING_FACTOR * (x + 0.044715f * x * x * x);
        float th = 1.0f - 2.0f / (gpt2_exp(2.0f * u) + 1.0f);
        out[i] = 0.5f * x * (1.0f + th);
    }
}

// causal attention of T new positions (pos0 .. pos0+T-1) over the cache of one layer:
// q (T, 3C) (the first C of each row), keys, values (context, C); out (T, C)
static inline void gpt2_infer_attention(float* out, float* att, const float* qkv, const float* keys, const float* values,
                                        int pos0, int T, int C, int NH, int context) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < NH; h++) {
            const float* qv = qkv + (size_t)t * 3 * C + h * hs;
            float* a = att + ((size_t)t * NH + h) * context;
            int last = pos0 + t;
            float maxval = -INFINITY;
            for (int t2 = 0; t2 <= last; t2++) {
                const float* k = keys + (size_t)t2 * C + h * hs;
                float s = wf_dot(qv, k, hs) * scale;
                if (s > maxval) maxval = s;
                a[t2] = s;
            }
            float sum = 0.0f;
            for (int t2 = 0; t2 <= last; t2++) a[t2] = gpt2_exp(a[t2] - maxval);
            for (int t2 = 0; t2 <= last; t2++) sum += a[t2];
            float inv = 1.0f / sum;
            float* o = out + (size_t)t * C + h * hs;
            for (int i = 0; i < hs; i++) o[i] = 0.0f;
            for (int t2 = 0; t2 <= last; t2++) {
                const float* v = values + (size_t)t2 * C + h * hs;
                float wt = a[t2] * inv;
                for (int i = 0; i < hs; i++) o[i] += wt * v[i];
            }
        }
    }
}

// one block of T <= GPT2_INFER_BLOCK new tokens at positions m->pos..; logits of the last
static inline int gpt2_infer_block(GPT2Infer* m, const int* tokens, int T, int want_logits) {
    const GPT2Config* c = &m->config;
    int C = c->channels, NH = c->num_heads, L = c->num_layers, pos0 = m->pos;
    size_t ctx = (size_t)m->context;
    int rc;
    double tp = m->profile ? gpt2_process_cpu_seconds() : 0.0;
#define GPT2_PROF(step) do { if (m->profile) { double tn = gpt2_process_cpu_seconds(); m->prof[step] += tn - tp; tp = tn; } } while (0)
    for (int t = 0; t < T; t++) { // x = wte[token] + wpe[position]
        float* x = m->x + (size_t)t * C;
        gpt2_infer_wte_row(m, tokens[t], x);
        wf_row_to_float(&m->wpe, pos0 + t, m->proj);
        for (int i = 0; i < C; i++) x[i] += m->proj[i];
    }
    GPT2_PROF(GPT2_PROF_EMBED);
    for (int l = 0; l < L; l++) {
        float* keys = m->key_cache + (size_t)l * ctx * C;
        float* values = m->value_cache + (size_t)l * ctx * C;
        layernorm_forward(m->xn, m->mean, m->rstd, m->x, m->ln1w + l * C, m->ln1b + l * C, 1, T, C);
        GPT2_PROF(GPT2_PROF_LAYERNORM);
        if ((rc = wf_matmul(&m->qkvw[l], m->qkv, m->xn, m->qkvb + (size_t)l * 3 * C, T)) != BS_OK) return rc;
        for (int t = 0; t < T; t++) {
            memcpy(keys + (size_t)(pos0 + t) * C, m->qkv + (size_t)t * 3 * C + C, (size_t)C * sizeof(float));
            memcpy(values + (size_t)(pos0 + t) * C, m->qkv + (size_t)t * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
        GPT2_PROF(GPT2_PROF_QKV);
        gpt2_infer_attention(m->atty, m->att, m->qkv, keys, values, pos0, T, C, NH, m->context);
        GPT2_PROF(GPT2_PROF_ATTENTION);
        if ((rc = wf_matmul(&m->attprojw[l], m->proj, m->atty, m->attprojb + l * C, T)) != BS_OK) return rc;
        GPT2_PROF(GPT2_PROF_ATTPROJ);
        residual_forward(m->x, m->x, m->proj, T * C);
        GPT2_PROF(GPT2_PROF_RESIDUAL);
        layernorm_forward(m->xn, m->mean, m->rstd, m->x, m->ln2w + l * C, m->ln2b + l * C, 1, T, C);
        GPT2_PROF(GPT2_PROF_LAYERNORM);
        if ((rc = wf_matmul(&m->fcw[l], m->fch, m->xn, m->fcb + (size_t)l * 4 * C, T)) != BS_OK) return rc;
        GPT2_PROF(GPT2_PROF_FC);
        gpt2_gelu(m->fch, m->fch, T * 4 * C);
        GPT2_PROF(GPT2_PROF_GELU);
        if ((rc = wf_matmul(&m->fcprojw[l], m->proj, m->fch, m->fcprojb + l * C, T)) != BS_OK) return rc;
        GPT2_PROF(GPT2_PROF_FCPROJ);
        residual_forward(m->x, m->x, m->proj, T * C);
        GPT2_PROF(GPT2_PROF_RESIDUAL);
    }
    m->pos += T;
    if (!want_logits) return BS_OK;
    const float* last = m->x + (size_t)(T - 1) * C;
    layernorm_forward(m->xn, m->mean, m->rstd, last, m->lnfw, m->lnfb, 1, 1, C);
    GPT2_PROF(GPT2_PROF_LAYERNORM);
    gpt2_infer_head(m, m->logits, m->xn);
    GPT2_PROF(GPT2_PROF_HEAD);
#undef GPT2_PROF
    return BS_OK;
}

// runs n new tokens (n >= 1) through the model after the m->pos cached ones, in blocks;
// m->logits (Vp) then holds the next-token logits of the last. Tokens must be in
// [0, vocab_size) and the positions within the context.
static inline int gpt2_infer_forward(GPT2Infer* m, const int* tokens, int n) {
    if (n < 1) return bs_error_set(BS_EINVAL, "no tokens to run");
    if (n > m->context - m->pos)
        return bs_error_set(BS_EINVAL, "%d more tokens exceed the context of %d positions (%d used)", n, m->context, m->pos);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->config.vocab_size)
            return bs_error_set(BS_EINVAL, "token id %d is outside the vocabulary [0, %d)", tokens[i], m->config.vocab_size);
    for (int i = 0; i < n; i += GPT2_INFER_BLOCK) {
        int T = n - i < GPT2_INFER_BLOCK ? n - i : GPT2_INFER_BLOCK;
        int rc = gpt2_infer_block(m, tokens + i, T, i + T == n);
        if (rc != BS_OK) return rc;
    }
    return BS_OK;
}

// forgets the cached positions (a new sequence)
static inline void gpt2_infer_reset(GPT2Infer* m) { m->pos = 0; }

#endif // LLMC_GPT2_INFER_H
