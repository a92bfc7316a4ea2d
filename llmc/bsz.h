/*
 bsz.h: coded model files (.bsz): GPT-2 weights quantized, value-mapped and entropy coded
 (doc/method.md section 5). The format is specified in doc/format.md; this header is its
 reference writer and reader, shared by ./bsz, the trainers and the tests.

   write:  fp32 params -> q = round(w / Delta) (quantize.h) -> rank of q in the value map
           (valuemap.h) -> per tensor one coder: the EG-k code word of the rank
           (expgolomb.h, bitio.h; the paper's code), rANS with the tensor's static
           histogram (rans.h), or context-adaptive binary arithmetic coding (cabac.h)
   read:   decode -> rank -> q = map[rank] -> w_hat = q * Delta

 Layout in brief (doc/format.md has every field):
   header  "BSZ\x1a", version (2; version 1 files are still read), number of sections, CRC
   CONF    model config, number of tensors, map mode, parameters per chunk, flags
   TENS    per logical tensor (gpt2_tensor_table): name, shape, offset, numel, Delta,
           EG order k, which value map, which coder
   MAPS    value maps: rank -> q (one global map, or one per tensor)
   ROWS    (version 2) shared rows of wte: a 1-bit-per-row map of the rows replaced by
           one stored fp32 row (unused vocabulary, issue 13); those rows are not coded
   FREQ    (version 2) the quantized frequencies of the rANS tensors
   CHNK    bit offset of every chunk in BITS (chunks of `chunk_params` coded weights,
           never spanning two tensors), so chunks decode independently and in parallel
   BITS    the code
 Every section carries its size and a CRC-32. All integers little-endian.

 Both directions run OpenMP over chunks. Library code: every function returns BS_OK or a
 negative BS_E* code with a message naming the file and the problem (utils.h); nothing
 here exits, and the reader never reads outside the buffer it was given, whatever it holds.
*/
#ifndef LLMC_BSZ_H
#define LLMC_BSZ_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "bitio.h"
#include "cabac.h"
#include "crc32.h"
#include "expgolomb.h"
#include "gpt2_params.h"
#include "quantize.h"
#include "rans.h"
#include "tokenfile.h"
#include "utils.h"
#include "valuemap.h"

#define BSZ_MAGIC "BSZ\x1a"
#define BSZ_VERSION 2u           // what the writer writes
#define BSZ_HEADER_BYTES 16
#define BSZ_SECTION_HEADER_BYTES 16
#define BSZ_V1_NUM_SECTIONS 5
#define BSZ_NUM_SECTIONS 7
#define BSZ_CONF_BYTES 48
#define BSZ_V1_TENSOR_RECORD_BYTES 72
#define BSZ_TENSOR_RECORD_BYTES 76
#define BSZ_DEFAULT_CHUNK_PARAMS (1u << 16)
#define BSZ_MIN_CHUNK_PARAMS 64u
#define BSZ_MAX_CHUNK_PARAMS (1u << 24)
#define BSZ_MAX_FILE_BYTES ((size_t)1 << 40) // 1 TiB: far above any GPT-2 size
#define BSZ_FLAG_SHARED_ROWS 1u          // CONF flags: ROWS holds shared wte rows

enum { BSZ_MAP_GLOBAL = 0, BSZ_MAP_TENSOR = 1 };
enum { BSZ_K_AUTO = -1 };
enum { BSZ_CODER_AUTO = -1, BSZ_CODER_EG = 0, BSZ_CODER_RANS = 1, BSZ_CODER_CABAC = 2, BSZ_NUM_CODERS = 3 };
static const char* const bsz_coder_names[BSZ_NUM_CODERS] = {"eg", "rans", "cabac"};

// section order of version 2 (version 1: the same without ROWS and FREQ)
enum { BSZ_SEC_CONF, BSZ_SEC_TENS, BSZ_SEC_MAPS, BSZ_SEC_ROWS, BSZ_SEC_FREQ, BSZ_SEC_CHNK, BSZ_SEC_BITS };
static const char bsz_section_tags[BSZ_NUM_SECTIONS][5] = {"CONF", "TENS", "MAPS", "ROWS", "FREQ", "CHNK", "BITS"};

typedef struct {
    float delta;               // quantization step for every tensor (QUANTIZE_DEFAULT_DELTA)
    const float* tensor_delta; // or one Delta per logical tensor (gpt2_num_tensors entries), NULL = use delta
    int k;                     // EG order for every tensor (0..EG_MAX_K), or BSZ_K_AUTO: shortest per tensor
    int map_mode;              // BSZ_MAP_GLOBAL or BSZ_MAP_TENSOR
    uint32_t chunk_params;     // weights per chunk (0 = BSZ_DEFAULT_CHUNK_PARAMS)
    int coder;                 // BSZ_CODER_*: one coder for every tensor, or AUTO: the smallest per tensor
    const uint8_t* shared_rows; // (Vp) 1 = wte row replaced by the mean of these rows, not coded; NULL = none
} BszOptions;

static inline BszOptions bsz_default_options(void) {
    BszOptions o = {QUANTIZE_DEFAULT_DELTA, NULL, BSZ_K_AUTO, BSZ_MAP_GLOBAL, BSZ_DEFAULT_CHUNK_PARAMS, BSZ_CODER_AUTO, NULL};
    return o;
}

// "eg" / "rans" / "cabac" / "auto" -> BSZ_CODER_*; returns 0 when the name is unknown
static inline int bsz_coder_parse(const char* name, int* coder) {
    if (strcmp(name, "auto") == 0) { *coder = BSZ_CODER_AUTO; return 1; }
    for (int c = 0; c < BSZ_NUM_CODERS; c++)
        if (strcmp(name, bsz_coder_names[c]) == 0) { *coder = c; return 1; }
    return 0;
}

typedef struct {
    char name[GPT2_TENSOR_NAME_MAX];
    int ndim;
    int shape[2];
    int k;                 // EG order (EG; CABAC's suffix split)
    int coder;             // BSZ_CODER_EG, _RANS or _CABAC
    uint64_t offset;       // first parameter, in the flat llm.c array
    uint64_t numel;
    uint64_t coded;        // weights in its code: numel, less the shared rows for wte
    float delta;
    uint32_t map;          // index of its value map
    uint64_t first_chunk;  // its chunks are [first_chunk, first_chunk + num_chunks)
    uint64_t num_chunks;
    uint32_t nsym;         // rANS: its alphabet 0..nsym-1 (nsym <= its map's size)
    uint32_t* freq;        // rANS: (nsym) quantized frequencies, summing to RANS_PROB_SCALE
    RansDecodeTable rans;  // rANS: the decoder's slot tables
} BszTensor;

// a parsed file: the tables are owned copies; `bits` points into the file's bytes
typedef struct {
    uint32_t version;
    GPT2Config config;
    int map_mode;
    uint32_t chunk_params;
    uint64_t num_params;
    int num_tensors;
    BszTensor* tensors;      // (num_tensors)
    uint32_t num_maps;
    uint32_t* map_sizes;     // (num_maps)
    int32_t** map_values;    // (num_maps) rank -> q
    uint32_t num_shared_rows; // wte rows replaced by shared_row (0 = none)
    uint8_t* shared_rows;    // (Vp) 1 = shared, or NULL
    float* shared_row;       // (C) the stored row, or NULL
    uint64_t num_chunks;
    uint64_t* chunk_bits;    // (num_chunks + 1) bit offsets of the chunks in BITS
    const uint8_t* bits;     // the BITS payload
    size_t bits_size;        // its bytes
    uint64_t section_bytes[BSZ_NUM_SECTIONS]; // payload sizes, for the report (version 1: ROWS and FREQ 0)
    size_t file_size;
    uint8_t* owned;          // the file's bytes when bsz_open() read them
    char what[4096];         // file name (or "buffer") for messages
} BszFile;

static inline void bsz_close(BszFile* f) {
    if (f->tensors)
        for (int t = 0; t < f->num_tensors; t++) { free(f->tensors[t].freq); rans_table_free(&f->tensors[t].rans); }
    free(f->tensors);
    if (f->map_values)
        for (uint32_t m = 0; m < f->num_maps; m++) free(f->map_values[m]);
    free(f->map_values);
    free(f->map_sizes);
    free(f->shared_rows);
    free(f->shared_row);
    free(f->chunk_bits);
    free(f->owned);
    memset(f, 0, sizeof(*f));
}

// chunk c of tensor t holds this many (coded) weights
static inline uint64_t bsz_chunk_count(const BszFile* f, const BszTensor* t, uint64_t c) {
    uint64_t start = (c - t->first_chunk) * f->chunk_params;
    uint64_t left = t->coded - start;
    return left < f->chunk_params ? left : f->chunk_params;
}

// the LEB128 varint of a frequency (7 bits a byte, low first), as FREQ stores them
static inline int bsz_varint_length(uint32_t v) { int n = 1; while (v >= 128) { v >>= 7; n++; } return n; }

// ----------------------------------------------------------------------------
// writer

typedef struct { uint8_t* p; size_t size, cap; int oom; } BszBuffer;

static inline void bsz_buffer_put(BszBuffer* b, const void* data, size_t n) {
    if (b->oom) return;
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n) cap *= 2;
        uint8_t* p = (uint8_t*)realloc(b->p, cap);
        if (p == NULL) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->size, data, n);
    b->size += n;
}
static inline void bsz_buffer_u32(BszBuffer* b, uint32_t v) { uint8_t x[4]; store_u32le(x, v); bsz_buffer_put(b, x, 4); }
static inline void bsz_buffer_u64(BszBuffer* b, uint64_t v) { uint8_t x[8]; store_u64le(x, v); bsz_buffer_put(b, x, 8); }
static inline void bsz_buffer_f32(BszBuffer* b, float v) { uint32_t u; memcpy(&u, &v, 4); bsz_buffer_u32(b, u); }
static inline void bsz_buffer_varint(BszBuffer* b, uint32_t v) {
    do { uint8_t x = (uint8_t)(v & 127); v >>= 7; if (v) x |= 128; bsz_buffer_put(b, &x, 1); } while (v);
}

// appends a section (tag, CRC-32, size, payload)
static inline void bsz_buffer_section(BszBuffer* out, const char* tag, const BszBuffer* payload) {
    bsz_buffer_put(out, tag, 4);
    bsz_buffer_u32(out, crc32_of(payload->p, payload->size));
    bsz_buffer_u64(out, payload->size);
    if (payload->size) bsz_buffer_put(out, payload->p, payload->size);
}

// the encoder's state: one owner for every table and scratch buffer, one step per function
typedef struct {
    const GPT2Config* config;
    const BszOptions* opt;
    uint32_t chunk_params;
    int nt, nmaps;
    GPT2Tensor* tt;          // (nt) the logical tensors
    float* delta;            // (nt)
    ValueSegment* segs;      // (nt) each tensor's coded weights
    ValueMap* maps;          // (nmaps)
    uint32_t nshared;        // shared wte rows
    float* wte_coded;        // wte without its shared rows (when nshared > 0)
    float* shared_row;       // (C) their mean
    int* korder;             // (nt) EG order
    int* coder;              // (nt) BSZ_CODER_*
    uint32_t* max_rank;      // (nt) largest rank a tensor uses
    uint64_t* rank_hist;     // (nt, RANS_MAX_SYMBOLS) histogram of the ranks below RANS_MAX_SYMBOLS
    uint32_t* nsym;          // (nt) rANS alphabet (0: rANS not possible)
    uint32_t* freq;          // (nt, RANS_MAX_SYMBOLS) rANS frequencies
    uint64_t nchunks;
    uint64_t* first_chunk;   // (nt + 1)
    int* chunk_tensor;       // (nchunks)
    uint64_t* chunk_len_k;   // (nchunks, EG_MAX_K + 1) EG code bits of each chunk for each k
    uint8_t** code[2];       // (nchunks) rANS and CABAC code of each chunk, when tried
    size_t* code_bytes[2];
    uint64_t* chunk_bits;    // (nchunks + 1) the CHNK offsets
    uint8_t* bits;
    size_t bits_size;
} BszEncoder;

static inline void bsz_encoder_free(BszEncoder* e) {
    for (int m = 0; e->maps && m < e->nmaps; m++) valuemap_free(&e->maps[m]);
    for (int c = 0; c < 2; c++) {
        for (uint64_t j = 0; e->code[c] && j < e->nchunks; j++) free(e->code[c][j]);
        free(e->code[c]);
        free(e->code_bytes[c]);
    }
    free(e->maps); free(e->tt); free(e->delta); free(e->segs); free(e->wte_coded); free(e->shared_row);
    free(e->korder); free(e->coder); free(e->max_rank); free(e->rank_hist); free(e->nsym); free(e->freq);
    free(e->first_chunk); free(e->chunk_tensor); free(e->chunk_len_k); free(e->chunk_bits); free(e->bits);
    memset(e, 0, sizeof(*e));
}

static inline const ValueMap* bsz_encoder_map(const BszEncoder* e, int t) { return &e->maps[e->opt->map_mode == BSZ_MAP_GLOBAL ? 0 : t]; }

// step 1: options, the tensor table, Delta, shared rows, the value maps
static inline int bsz_encoder_setup(BszEncoder* e, const float* params) {
    const BszOptions* opt = e->opt;
    const GPT2Config* config = e->config;
    int rc = gpt2_config_validate(config, "bsz encode");
    if (rc != BS_OK) return rc;
    e->chunk_params = opt->chunk_params ? opt->chunk_params : BSZ_DEFAULT_CHUNK_PARAMS;
    if (e->chunk_params < BSZ_MIN_CHUNK_PARAMS || e->chunk_params > BSZ_MAX_CHUNK_PARAMS)
        return bs_error_set(BS_EINVAL, "bsz encode: chunk size %u out of range [%u, %u]", e->chunk_params,
                            BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS);
    if (opt->k != BSZ_K_AUTO && (opt->k < 0 || opt->k > EG_MAX_K))
        return bs_error_set(BS_EINVAL, "bsz encode: EG order k = %d out of range [0, %d]", opt->k, EG_MAX_K);
    if (opt->map_mode != BSZ_MAP_GLOBAL && opt->map_mode != BSZ_MAP_TENSOR)
        return bs_error_set(BS_EINVAL, "bsz encode: unknown map mode %d", opt->map_mode);
    if (opt->coder < BSZ_CODER_AUTO || opt->coder >= BSZ_NUM_CODERS)
        return bs_error_set(BS_EINVAL, "bsz encode: unknown coder %d", opt->coder);
    int nt = e->nt = gpt2_num_tensors(config);
    e->nmaps = opt->map_mode == BSZ_MAP_GLOBAL ? 1 : nt;
    e->tt = (GPT2Tensor*)malloc((size_t)nt * sizeof(GPT2Tensor));
    e->delta = (float*)malloc((size_t)nt * sizeof(float));
    e->segs = (ValueSegment*)malloc((size_t)nt * sizeof(ValueSegment));
    e->maps = (ValueMap*)calloc((size_t)e->nmaps, sizeof(ValueMap));
    e->korder = (int*)calloc((size_t)nt, sizeof(int));
    e->coder = (int*)calloc((size_t)nt, sizeof(int));
    e->max_rank = (uint32_t*)calloc((size_t)nt, sizeof(uint32_t));
    e->rank_hist = (uint64_t*)calloc((size_t)nt * RANS_MAX_SYMBOLS, sizeof(uint64_t));
    e->nsym = (uint32_t*)calloc((size_t)nt, sizeof(uint32_t));
    e->freq = (uint32_t*)calloc((size_t)nt * RANS_MAX_SYMBOLS, sizeof(uint32_t));
    e->first_chunk = (uint64_t*)malloc(((size_t)nt + 1) * sizeof(uint64_t));
    if (!e->tt || !e->delta || !e->segs || !e->maps || !e->korder || !e->coder || !e->max_rank || !e->rank_hist || !e->nsym ||
        !e->freq || !e->first_chunk)
        return bs_error_set(BS_ENOMEM, "bsz encode: out of memory");
    gpt2_tensor_table(config, e->tt);
    for (int t = 0; t < nt; t++) {
        e->delta[t] = opt->tensor_delta ? opt->tensor_delta[t] : opt->delta;
        if (!(e->delta[t] > 0.0f) || !isfinite(e->delta[t]))
            return bs_error_set(BS_EINVAL, "bsz encode: Delta of tensor %s is %g (must be finite and > 0)", e->tt[t].name, (double)e->delta[t]);
        e->segs[t].w = params + e->tt[t].offset;
        e->segs[t].n = e->tt[t].numel;
        e->segs[t].inv_delta = 1.0f / e->delta[t];
    }
    // shared rows of wte (logical tensor 0): their mean is stored, the other rows are coded
    if (opt->shared_rows) {
        size_t Vp = (size_t)config->padded_vocab_size;
        for (size_t v = 0; v < Vp; v++) e->nshared += opt->shared_rows[v] != 0;
        if (e->nshared == Vp) return bs_error_set(BS_EINVAL, "bsz encode: all %zu wte rows are marked shared; at least one must be coded", Vp);
    }
    if (e->nshared > 0) {
        size_t Vp = (size_t)config->padded_vocab_size, C = (size_t)config->channels;
        e->wte_coded = (float*)malloc((Vp - e->nshared) * C * sizeof(float));
        e->shared_row = (float*)malloc(C * sizeof(float));
        double* sum = (double*)calloc(C, sizeof(double));
        if (!e->wte_coded || !e->shared_row || !sum) { free(sum); return bs_error_set(BS_ENOMEM, "bsz encode: out of memory"); }
        const float* wte = params + e->tt[0].offset;
        size_t at = 0;
        for (size_t v = 0; v < Vp; v++) {
            if (opt->shared_rows[v]) for (size_t c = 0; c < C; c++) sum[c] += (double)wte[v * C + c];
            else { memcpy(e->wte_coded + at * C, wte + v * C, C * sizeof(float)); at++; }
        }
        int finite = 1;
        for (size_t c = 0; c < C; c++) { e->shared_row[c] = (float)(sum[c] / (double)e->nshared); finite &= isfinite(e->shared_row[c]) != 0; }
        free(sum);
        if (!finite) return bs_error_set(BS_ELIMIT, "bsz encode: the mean of the shared wte rows is not finite");
        e->segs[0].w = e->wte_coded;
        e->segs[0].n = (Vp - e->nshared) * C;
    }
    for (int m = 0; m < e->nmaps; m++) {
        rc = opt->map_mode == BSZ_MAP_GLOBAL ? valuemap_build(&e->maps[0], e->segs, nt) : valuemap_build(&e->maps[m], &e->segs[m], 1);
        if (rc != BS_OK) {
            char msg[BS_ERROR_MAX];
            snprintf(msg, sizeof(msg), "%s", bs_error());
            if (opt->map_mode == BSZ_MAP_TENSOR) return bs_error_set(rc, "bsz encode: tensor %s: %s", e->tt[m].name, msg);
            return bs_error_set(rc, "bsz encode: %s", msg);
        }
    }
    for (int t = 0; t < nt; t++) { // the reader insists that q * Delta is a finite float
        const ValueMap* vm = bsz_encoder_map(e, t);
        if (!isfinite(dequantize_value(vm->qmin, e->delta[t])) || !isfinite(dequantize_value(vm->qmax, e->delta[t])))
            return bs_error_set(BS_ELIMIT, "bsz encode: tensor %s: q x Delta overflows a float", e->tt[t].name);
    }
    return BS_OK;
}

// the ranks of chunk c's weights into ranks[]; returns how many
static inline uint64_t bsz_encoder_chunk_ranks(const BszEncoder* e, uint64_t c, uint32_t* ranks) {
    int t = e->chunk_tensor[c];
    const ValueMap* vm = bsz_encoder_map(e, t);
    uint64_t start = (c - e->first_chunk[t]) * e->chunk_params;
    uint64_t n = e->segs[t].n - start < e->chunk_params ? e->segs[t].n - start : e->chunk_params;
    const float* w = e->segs[t].w + start;
    float inv = e->segs[t].inv_delta;
    for (uint64_t i = 0; i < n; i++) ranks[i] = valuemap_rank(vm, quantize_value(w[i], inv));
    return n;
}

// step 2: the chunks; the EG code length of every chunk for every k (or the fixed k), the
// rank histograms, and the EG order of each tensor (the shortest total; ties: the smaller k)
static inline int bsz_encoder_measure(BszEncoder* e) {
    int nt = e->nt;
    uint64_t nchunks = 0;
    for (int t = 0; t < nt; t++) {
        e->first_chunk[t] = nchunks;
        nchunks += (e->segs[t].n + e->chunk_params - 1) / e->chunk_params;
    }
    e->first_chunk[nt] = nchunks;
    e->nchunks = nchunks;
    e->chunk_len_k = (uint64_t*)calloc(nchunks * (EG_MAX_K + 1), sizeof(uint64_t));
    e->chunk_tensor = (int*)malloc(nchunks * sizeof(int));
    if (!e->chunk_len_k || !e->chunk_tensor) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory");
    for (int t = 0; t < nt; t++)
        for (uint64_t c = e->first_chunk[t]; c < e->first_chunk[t + 1]; c++) e->chunk_tensor[c] = t;
    int kmin = e->opt->k == BSZ_K_AUTO ? 0 : e->opt->k, kmax = e->opt->k == BSZ_K_AUTO ? EG_MAX_K : e->opt->k;
    int oom = 0;
    #pragma omp parallel for schedule(dynamic, 1) reduction(|:oom)
    for (uint64_t c = 0; c < nchunks; c++) {
        int t = e->chunk_tensor[c];
        uint32_t size = bsz_encoder_map(e, t)->size;
        uint32_t hsize = size < RANS_MAX_SYMBOLS ? size : RANS_MAX_SYMBOLS;
        uint32_t* ranks = (uint32_t*)malloc(e->chunk_params * sizeof(uint32_t));
        uint64_t* hist = (uint64_t*)calloc(hsize, sizeof(uint64_t));
        if (!ranks || !hist) { free(ranks); free(hist); oom = 1; continue; }
        uint64_t n = bsz_encoder_chunk_ranks(e, c, ranks);
        uint64_t len[EG_MAX_K + 1] = {0};
        uint32_t top = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t r = ranks[i];
            top = r > top ? r : top;
            if (r < hsize) hist[r]++;
            else for (int k = kmin; k <= kmax; k++) len[k] += (uint64_t)eg_length(r, k);
        }
        for (uint32_t r = 0; r < hsize; r++)
            if (hist[r])
                for (int k = kmin; k <= kmax; k++) len[k] += hist[r] * (uint64_t)eg_length(r, k);
        memcpy(&e->chunk_len_k[c * (EG_MAX_K + 1)], len, sizeof(len));
        #pragma omp critical(bsz_encoder_hist)
        {
            uint64_t* th = &e->rank_hist[(size_t)t * RANS_MAX_SYMBOLS];
            for (uint32_t r = 0; r < hsize; r++) th[r] += hist[r];
            e->max_rank[t] = top > e->max_rank[t] ? top : e->max_rank[t];
        }
        free(ranks);
        free(hist);
    }
    if (oom) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory");
    for (int t = 0; t < nt; t++) {
        uint64_t best = UINT64_MAX;
        e->korder[t] = kmin;
        for (int k = kmin; k <= kmax; k++) {
            uint64_t total = 0;
            for (uint64_t c = e->first_chunk[t]; c < e->first_chunk[t + 1]; c++) total += e->chunk_len_k[c * (EG_MAX_K + 1) + (uint64_t)k];
            if (total < best) { best = total; e->korder[t] = k; }
        }
    }
    return BS_OK;
}

// bytes of tensor t's code with coder c (EG: its chunks rounded to bytes; rANS: its chunks
// and its frequency table; CABAC: its chunks)
static inline uint64_t bsz_encoder_cost(const BszEncoder* e, int t, int c) {
    uint64_t bytes = 0;
    for (uint64_t j = e->first_chunk[t]; j < e->first_chunk[t + 1]; j++)
        bytes += c == BSZ_CODER_EG ? (e->chunk_len_k[j * (EG_MAX_K + 1) + (uint64_t)e->korder[t]] + 7) / 8 : e->code_bytes[c - 1][j];
    if (c == BSZ_CODER_RANS) {
        bytes += 4;
        for (uint32_t s = 0; s < e->nsym[t]; s++) bytes += (uint64_t)bsz_varint_length(e->freq[(size_t)t * RANS_MAX_SYMBOLS + s]);
    }
    return bytes;
}

// step 3: the entropy coders where asked for (rANS needs an alphabet of at most
// RANS_MAX_SYMBOLS ranks, else the tensor stays EG), then the coder of each tensor: the
// one asked for, or (auto) the fewest bytes, ties to the faster (EG, then rANS)
static inline int bsz_encoder_choose(BszEncoder* e) {
    int nt = e->nt, want = e->opt->coder;
    int try_rans = want == BSZ_CODER_RANS || want == BSZ_CODER_AUTO, try_cabac = want == BSZ_CODER_CABAC || want == BSZ_CODER_AUTO;
    for (int t = 0; t < nt; t++) {
        e->coder[t] = BSZ_CODER_EG;
        if (try_rans && e->max_rank[t] < RANS_MAX_SYMBOLS) {
            e->nsym[t] = e->max_rank[t] + 1;
            int rc = rans_quantize_freqs(&e->rank_hist[(size_t)t * RANS_MAX_SYMBOLS], e->nsym[t], &e->freq[(size_t)t * RANS_MAX_SYMBOLS]);
            if (rc != BS_OK) return rc;
        }
    }
    if (!try_rans && !try_cabac) return BS_OK;
    for (int c = 0; c < 2; c++) {
        e->code[c] = (uint8_t**)calloc(e->nchunks, sizeof(uint8_t*));
        e->code_bytes[c] = (size_t*)calloc(e->nchunks, sizeof(size_t));
        if (!e->code[c] || !e->code_bytes[c]) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory");
    }
    int failed = 0;
    #pragma omp parallel for schedule(dynamic, 1) reduction(|:failed)
    for (uint64_t j = 0; j < e->nchunks; j++) {
        int t = e->chunk_tensor[j];
        uint32_t* ranks = (uint32_t*)malloc(e->chunk_params * sizeof(uint32_t));
        if (!ranks) { failed = 1; continue; }
        uint64_t n = bsz_encoder_chunk_ranks(e, j, ranks);
        if (e->nsym[t] && rans_encode(ranks, n, &e->freq[(size_t)t * RANS_MAX_SYMBOLS], e->nsym[t], &e->code[0][j], &e->code_bytes[0][j]) != BS_OK)
            failed = 1;
        if (try_cabac && cabac_encode(ranks, n, bsz_encoder_map(e, t)->size, e->korder[t], (uint64_t)e->tt[t].shape[1],
                                      &e->code[1][j], &e->code_bytes[1][j]) != BS_OK)
            failed = 1;
        free(ranks);
    }
    if (failed) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory in the entropy coders");
    for (int t = 0; t < nt; t++) {
        if (want != BSZ_CODER_AUTO) {
            e->coder[t] = want == BSZ_CODER_RANS && !e->nsym[t] ? BSZ_CODER_EG : want;
        } else {
            uint64_t best = bsz_encoder_cost(e, t, BSZ_CODER_EG);
            if (e->nsym[t] && bsz_encoder_cost(e, t, BSZ_CODER_RANS) < best) { best = bsz_encoder_cost(e, t, BSZ_CODER_RANS); e->coder[t] = BSZ_CODER_RANS; }
            if (bsz_encoder_cost(e, t, BSZ_CODER_CABAC) < best) e->coder[t] = BSZ_CODER_CABAC;
        }
        if (e->coder[t] != BSZ_CODER_RANS) e->nsym[t] = 0; // FREQ lists the rANS tensors only
    }
    return BS_OK;
}

// step 4: byte-aligned chunk slots, then every chunk's code into its slot
static inline int bsz_encoder_bits(BszEncoder* e) {
    uint64_t nchunks = e->nchunks;
    e->chunk_bits = (uint64_t*)malloc((nchunks + 1) * sizeof(uint64_t));
    if (!e->chunk_bits) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory");
    uint64_t byte_at = 0;
    e->chunk_bits[0] = 0;
    for (uint64_t c = 0; c < nchunks; c++) {
        int t = e->chunk_tensor[c];
        uint64_t nbits = e->coder[t] == BSZ_CODER_EG ? e->chunk_len_k[c * (EG_MAX_K + 1) + (uint64_t)e->korder[t]]
                                                     : 8 * (uint64_t)e->code_bytes[e->coder[t] - 1][c];
        e->chunk_bits[c] = 8 * byte_at;
        byte_at += (nbits + 7) / 8;
        if (c + 1 == nchunks) e->chunk_bits[nchunks] = e->chunk_bits[c] + nbits;
    }
    e->bits_size = (size_t)byte_at;
    e->bits = (uint8_t*)malloc(e->bits_size ? e->bits_size : 1);
    if (!e->bits) return bs_error_set(BS_ENOMEM, "bsz encode: out of memory for %zu bytes of code", e->bits_size);
    int overflow = 0;
    #pragma omp parallel for schedule(dynamic, 1) reduction(|:overflow)
    for (uint64_t c = 0; c < nchunks; c++) {
        int t = e->chunk_tensor[c];
        uint8_t* dst = e->bits + e->chunk_bits[c] / 8;
        size_t room = (size_t)((c + 1 < nchunks ? e->chunk_bits[c + 1] : 8 * byte_at) / 8 - e->chunk_bits[c] / 8);
        if (e->coder[t] != BSZ_CODER_EG) {
            memcpy(dst, e->code[e->coder[t] - 1][c], room);
            continue;
        }
        uint32_t* ranks = (uint32_t*)malloc(e->chunk_params * sizeof(uint32_t));
        if (!ranks) { overflow = 1; continue; }
        uint64_t n = bsz_encoder_chunk_ranks(e, c, ranks);
        int k = e->korder[t];
        BitWriter bw;
        bitwriter_init(&bw, dst, room);
        for (uint64_t i = 0; i < n; i++) eg_encode(&bw, ranks[i], k);
        size_t wrote = bitwriter_finish(&bw, dst);
        overflow |= bw.overflow || wrote != room;
        free(ranks);
    }
    if (overflow) return bs_error_set(BS_EINVAL, "bsz encode: internal error (or out of memory): a chunk's code length differs from its sizing pass");
    return BS_OK;
}

// step 5: the file
static inline int bsz_encoder_assemble(BszEncoder* e, uint8_t** out, size_t* out_size) {
    const GPT2Config* config = e->config;
    int nt = e->nt;
    BszBuffer file = {0}, pay = {0};
    bsz_buffer_put(&file, BSZ_MAGIC, 4);
    bsz_buffer_u32(&file, BSZ_VERSION);
    bsz_buffer_u32(&file, BSZ_NUM_SECTIONS);
    bsz_buffer_u32(&file, file.oom ? 0 : crc32_of(file.p, 12));
    // CONF
    const int32_t conf[6] = {config->max_seq_len, config->vocab_size, config->padded_vocab_size,
                             config->num_layers, config->num_heads, config->channels};
    for (int i = 0; i < 6; i++) bsz_buffer_u32(&pay, (uint32_t)conf[i]);
    bsz_buffer_u32(&pay, (uint32_t)nt);
    bsz_buffer_u32(&pay, (uint32_t)e->opt->map_mode);
    bsz_buffer_u32(&pay, e->chunk_params);
    bsz_buffer_u32(&pay, e->nshared ? BSZ_FLAG_SHARED_ROWS : 0u);
    bsz_buffer_u64(&pay, gpt2_num_params(config));
    bsz_buffer_section(&file, "CONF", &pay);
    // TENS
    pay.size = 0;
    for (int t = 0; t < nt; t++) {
        char name[GPT2_TENSOR_NAME_MAX] = {0};
        memcpy(name, e->tt[t].name, strlen(e->tt[t].name));
        bsz_buffer_put(&pay, name, sizeof(name));
        bsz_buffer_u32(&pay, (uint32_t)e->tt[t].ndim);
        bsz_buffer_u32(&pay, (uint32_t)e->tt[t].shape[0]);
        bsz_buffer_u32(&pay, (uint32_t)e->tt[t].shape[1]);
        bsz_buffer_u32(&pay, (uint32_t)e->korder[t]);
        bsz_buffer_u64(&pay, e->tt[t].offset);
        bsz_buffer_u64(&pay, e->tt[t].numel);
        bsz_buffer_f32(&pay, e->delta[t]);
        bsz_buffer_u32(&pay, e->opt->map_mode == BSZ_MAP_GLOBAL ? 0u : (uint32_t)t);
        bsz_buffer_u32(&pay, (uint32_t)e->coder[t]);
    }
    bsz_buffer_section(&file, "TENS", &pay);
    // MAPS
    pay.size = 0;
    bsz_buffer_u32(&pay, (uint32_t)e->nmaps);
    for (int m = 0; m < e->nmaps; m++) {
        bsz_buffer_u32(&pay, e->maps[m].size);
        for (uint32_t r = 0; r < e->maps[m].size; r++) bsz_buffer_u32(&pay, (uint32_t)e->maps[m].values[r]);
    }
    bsz_buffer_section(&file, "MAPS", &pay);
    // ROWS
    pay.size = 0;
    if (e->nshared) {
        size_t Vp = (size_t)config->padded_vocab_size;
        bsz_buffer_u32(&pay, e->nshared);
        for (size_t v = 0; v < Vp; v += 8) {
            uint8_t b = 0;
            for (size_t i = 0; i < 8 && v + i < Vp; i++) b |= (uint8_t)((e->opt->shared_rows[v + i] != 0) << i);
            bsz_buffer_put(&pay, &b, 1);
        }
        for (int c = 0; c < config->channels; c++) bsz_buffer_f32(&pay, e->shared_row[c]);
    }
    bsz_buffer_section(&file, "ROWS", &pay);
    // FREQ
    pay.size = 0;
    for (int t = 0; t < nt; t++) {
        if (e->coder[t] != BSZ_CODER_RANS) continue;
        bsz_buffer_u32(&pay, e->nsym[t]);
        for (uint32_t s = 0; s < e->nsym[t]; s++) bsz_buffer_varint(&pay, e->freq[(size_t)t * RANS_MAX_SYMBOLS + s]);
    }
    bsz_buffer_section(&file, "FREQ", &pay);
    // CHNK
    pay.size = 0;
    bsz_buffer_u64(&pay, e->nchunks);
    for (uint64_t c = 0; c <= e->nchunks; c++) bsz_buffer_u64(&pay, e->chunk_bits[c]);
    bsz_buffer_section(&file, "CHNK", &pay);
    // BITS
    BszBuffer bits_view = {e->bits, e->bits_size, e->bits_size, 0};
    bsz_buffer_section(&file, "BITS", &bits_view);
    free(pay.p);
    if (file.oom || pay.oom) { free(file.p); return bs_error_set(BS_ENOMEM, "bsz encode: out of memory assembling the file"); }
    *out = file.p;
    *out_size = file.size;
    return BS_OK;
}

// encodes the model into a malloc'd buffer (*out, *out_size)
static inline int bsz_encode(const GPT2Config* config, const float* params, const BszOptions* opt,
                             uint8_t** out, size_t* out_size) {
    *out = NULL;
    *out_size = 0;
    BszEncoder e;
    memset(&e, 0, sizeof(e));
    e.config = config;
    e.opt = opt;
    int rc = bsz_encoder_setup(&e, params);
    if (rc == BS_OK) rc = bsz_encoder_measure(&e);
    if (rc == BS_OK) rc = bsz_encoder_choose(&e);
    if (rc == BS_OK) rc = bsz_encoder_bits(&e);
    if (rc == BS_OK) rc = bsz_encoder_assemble(&e, out, out_size);
    bsz_encoder_free(&e);
    return rc;
}

// writes a .bsz file atomically (temporary file, then rename)
static inline int bsz_write(const char* path, const GPT2Config* config, const float* params, const BszOptions* opt) {
    uint8_t* data = NULL;
    size_t size = 0;
    int rc = bsz_encode(config, params, opt, &data, &size);
    if (rc != BS_OK) {
        char msg[BS_ERROR_MAX];
        snprintf(msg, sizeof(msg), "%s", bs_error());
        return bs_error_set(rc, "%s: %s", path, msg);
    }
    AtomicFile af;
    if ((rc = atomic_open(&af, path)) == BS_OK) {
        if ((rc = bs_write_exact(af.f, data, size, path)) != BS_OK) atomic_abort(&af);
        else rc = atomic_commit(&af);
    }
    free(data);
    return rc;
}

// marks the wte rows a model never needs to tell apart (issue 13): the rows of token ids
// that do not occur in the token file `tokens_path` (e.g. the training split), and the
// padding rows V..Vp-1. rows: (Vp) 1 = shared; *count: how many.
static inline int bsz_unused_rows(const char* tokens_path, const GPT2Config* config, uint8_t* rows, uint32_t* count) {
    uint16_t* tokens = NULL;
    size_t n = 0;
    int rc = tokenfile_read(tokens_path, &tokens, &n);
    if (rc != BS_OK) return rc;
    size_t Vp = (size_t)config->padded_vocab_size, V = (size_t)config->vocab_size;
    memset(rows, 1, Vp);
    size_t beyond = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] < V) rows[tokens[i]] = 0;
        else beyond++;
    }
    free(tokens);
    if (beyond) return bs_error_set(BS_EFORMAT, "%s: %zu tokens are >= the model's vocabulary size %zu", tokens_path, beyond, V);
    *count = 0;
    for (size_t v = 0; v < Vp; v++) *count += rows[v];
    return BS_OK;
}

// ----------------------------------------------------------------------------
// reader: parsing and validation (no decoding yet)

// the header and the sections, in their fixed order: payload[BSZ_SEC_*] (version 1 has no
// ROWS and FREQ: they stay empty)
static inline int bsz_parse_layout(BszFile* f, const uint8_t* data, size_t size, const uint8_t** payload) {
    const char* W = f->what;
    if (size < BSZ_HEADER_BYTES)
        return bs_error_set(BS_EFORMAT, "%s: %zu bytes, too short for a .bsz header (%d bytes)", W, size, BSZ_HEADER_BYTES);
    if (memcmp(data, BSZ_MAGIC, 4) != 0)
        return bs_error_set(BS_EFORMAT, "%s: bad magic %02x %02x %02x %02x (expected 42 53 5a 1a, a .bsz coded model)", W,
                            data[0], data[1], data[2], data[3]);
    uint32_t version = load_u32le(data + 4);
    if (version != 1 && version != 2)
        return bs_error_set(BS_EFORMAT, "%s: unsupported .bsz version %u (this build reads versions 1 and 2)", W, version);
    if (load_u32le(data + 12) != crc32_of(data, 12))
        return bs_error_set(BS_ECHECKSUM, "%s: header CRC-32 mismatch (stored %08x, computed %08x)", W, load_u32le(data + 12), crc32_of(data, 12));
    f->version = version;
    uint32_t nsec = version == 1 ? BSZ_V1_NUM_SECTIONS : BSZ_NUM_SECTIONS;
    if (load_u32le(data + 8) != nsec)
        return bs_error_set(BS_EFORMAT, "%s: %u sections (version %u has exactly %u)", W, load_u32le(data + 8), version, nsec);
    static const int v1_sections[BSZ_V1_NUM_SECTIONS] = {BSZ_SEC_CONF, BSZ_SEC_TENS, BSZ_SEC_MAPS, BSZ_SEC_CHNK, BSZ_SEC_BITS};
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++) payload[s] = data;
    size_t at = BSZ_HEADER_BYTES;
    for (uint32_t i = 0; i < nsec; i++) {
        int s = version == 1 ? v1_sections[i] : (int)i;
        const char* tag = bsz_section_tags[s];
        if (size - at < BSZ_SECTION_HEADER_BYTES)
            return bs_error_set(BS_EFORMAT, "%s: truncated: section %s header at byte %zu needs %d bytes, %zu left", W, tag, at,
                                BSZ_SECTION_HEADER_BYTES, size - at);
        if (memcmp(data + at, tag, 4) != 0)
            return bs_error_set(BS_EFORMAT, "%s: expected section %s at byte %zu, found tag %02x %02x %02x %02x", W, tag, at,
                                data[at], data[at + 1], data[at + 2], data[at + 3]);
        uint32_t crc = load_u32le(data + at + 4);
        uint64_t n = load_u64le(data + at + 8);
        at += BSZ_SECTION_HEADER_BYTES;
        if (n > size - at)
            return bs_error_set(BS_EFORMAT, "%s: truncated: section %s says %llu bytes, only %zu left in the file", W, tag,
                                (unsigned long long)n, size - at);
        if (crc32_of(data + at, (size_t)n) != crc)
            return bs_error_set(BS_ECHECKSUM, "%s: section %s CRC-32 mismatch (stored %08x, computed %08x): the file is corrupt", W,
                                tag, crc, crc32_of(data + at, (size_t)n));
        payload[s] = data + at;
        f->section_bytes[s] = n;
        at += (size_t)n;
    }
    if (at != size)
        return bs_error_set(BS_EFORMAT, "%s: %zu bytes of trailing garbage after the last section", W, size - at);
    return BS_OK;
}

// CONF; returns the flags in *flags
static inline int bsz_parse_conf(BszFile* f, const uint8_t* p, uint32_t* flags) {
    const char* W = f->what;
    if (f->section_bytes[BSZ_SEC_CONF] != BSZ_CONF_BYTES)
        return bs_error_set(BS_EFORMAT, "%s: section CONF is %llu bytes (expected %d)", W, (unsigned long long)f->section_bytes[BSZ_SEC_CONF], BSZ_CONF_BYTES);
    GPT2Config* c = &f->config;
    c->max_seq_len = (int32_t)load_u32le(p + 0);
    c->vocab_size = (int32_t)load_u32le(p + 4);
    c->padded_vocab_size = (int32_t)load_u32le(p + 8);
    c->num_layers = (int32_t)load_u32le(p + 12);
    c->num_heads = (int32_t)load_u32le(p + 16);
    c->channels = (int32_t)load_u32le(p + 20);
    int rc = gpt2_config_validate(c, W);
    if (rc != BS_OK) return rc;
    uint32_t nt = load_u32le(p + 24);
    f->map_mode = (int)load_u32le(p + 28);
    f->chunk_params = load_u32le(p + 32);
    *flags = load_u32le(p + 36);
    f->num_params = load_u64le(p + 40);
    if (nt != (uint32_t)gpt2_num_tensors(c))
        return bs_error_set(BS_EFORMAT, "%s: %u tensors, but a %d-layer GPT-2 has %d", W, nt, c->num_layers, gpt2_num_tensors(c));
    if (load_u32le(p + 28) > BSZ_MAP_TENSOR)
        return bs_error_set(BS_EFORMAT, "%s: unknown map mode %u (0 = global, 1 = per tensor)", W, load_u32le(p + 28));
    if (f->chunk_params < BSZ_MIN_CHUNK_PARAMS || f->chunk_params > BSZ_MAX_CHUNK_PARAMS)
        return bs_error_set(BS_EFORMAT, "%s: chunk size %u out of range [%u, %u]", W, f->chunk_params, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS);
    uint32_t known = f->version == 1 ? 0u : BSZ_FLAG_SHARED_ROWS;
    if (*flags & ~known) return bs_error_set(BS_EFORMAT, "%s: unknown flags %08x in CONF (version %u)", W, *flags, f->version);
    if (f->num_params != gpt2_num_params(c))
        return bs_error_set(BS_EFORMAT, "%s: %llu parameters, but its config needs %zu", W, (unsigned long long)f->num_params, gpt2_num_params(c));
    f->num_tensors = (int)nt;
    return BS_OK;
}

// TENS: must be exactly the logical tensors of the config
static inline int bsz_parse_tens(BszFile* f, const uint8_t* p) {
    const char* W = f->what;
    uint32_t nt = (uint32_t)f->num_tensors;
    uint32_t rec = f->version == 1 ? BSZ_V1_TENSOR_RECORD_BYTES : BSZ_TENSOR_RECORD_BYTES;
    if (f->section_bytes[BSZ_SEC_TENS] != (uint64_t)nt * rec)
        return bs_error_set(BS_EFORMAT, "%s: section TENS is %llu bytes (expected %u tensors x %u)", W,
                            (unsigned long long)f->section_bytes[BSZ_SEC_TENS], nt, rec);
    GPT2Tensor* ref = (GPT2Tensor*)malloc(nt * sizeof(GPT2Tensor));
    f->tensors = (BszTensor*)calloc(nt, sizeof(BszTensor));
    if (!ref || !f->tensors) { free(ref); return bs_error_set(BS_ENOMEM, "%s: out of memory", W); }
    gpt2_tensor_table(&f->config, ref);
    int rc = BS_OK;
    for (uint32_t t = 0; t < nt; t++) {
        const uint8_t* r = p + (size_t)t * rec;
        BszTensor* bt = &f->tensors[t];
        memcpy(bt->name, r, GPT2_TENSOR_NAME_MAX);
        int name_ok = memchr(r, 0, GPT2_TENSOR_NAME_MAX) != NULL;
        bt->name[GPT2_TENSOR_NAME_MAX - 1] = '\0';
        uint32_t ndim = load_u32le(r + 32), s0 = load_u32le(r + 36), s1 = load_u32le(r + 40), k = load_u32le(r + 44);
        bt->offset = load_u64le(r + 48);
        bt->numel = load_u64le(r + 56);
        uint32_t dbits = load_u32le(r + 64);
        memcpy(&bt->delta, &dbits, 4);
        bt->map = load_u32le(r + 68);
        uint32_t coder = f->version == 1 ? (uint32_t)BSZ_CODER_EG : load_u32le(r + 72);
        if (!name_ok || strcmp(bt->name, ref[t].name) != 0 || ndim != (uint32_t)ref[t].ndim || s0 != (uint32_t)ref[t].shape[0] ||
            s1 != (uint32_t)ref[t].shape[1] || bt->offset != ref[t].offset || bt->numel != ref[t].numel) {
            rc = bs_error_set(BS_EFORMAT, "%s: tensor %u is \"%.31s\" (%u, %u) at %llu, %llu params; the config says \"%s\" (%d, %d) at %zu, %zu",
                              W, t, bt->name, s0, s1, (unsigned long long)bt->offset, (unsigned long long)bt->numel,
                              ref[t].name, ref[t].shape[0], ref[t].shape[1], ref[t].offset, ref[t].numel);
            break;
        }
        if (k > EG_MAX_K) { rc = bs_error_set(BS_EFORMAT, "%s: tensor %s has EG order k = %u (at most %d)", W, bt->name, k, EG_MAX_K); break; }
        if (coder >= BSZ_NUM_CODERS) { rc = bs_error_set(BS_EFORMAT, "%s: tensor %s has unknown coder %u (0 = EG, 1 = rANS, 2 = CABAC)", W, bt->name, coder); break; }
        bt->k = (int)k;
        bt->coder = (int)coder;
        if (!(bt->delta > 0.0f) || !isfinite(bt->delta)) {
            rc = bs_error_set(BS_EFORMAT, "%s: tensor %s has Delta %g (must be finite and > 0)", W, bt->name, (double)bt->delta);
            break;
        }
        uint32_t want_map = f->map_mode == BSZ_MAP_GLOBAL ? 0 : t;
        if (bt->map != want_map) { rc = bs_error_set(BS_EFORMAT, "%s: tensor %s uses value map %u (expected %u)", W, bt->name, bt->map, want_map); break; }
        bt->ndim = (int)ndim;
        bt->shape[0] = (int)s0;
        bt->shape[1] = (int)s1;
        bt->coded = bt->numel;
    }
    free(ref);
    return rc;
}

// MAPS
static inline int bsz_parse_maps(BszFile* f, const uint8_t* p) {
    const char* W = f->what;
    uint32_t nt = (uint32_t)f->num_tensors;
    uint64_t left = f->section_bytes[BSZ_SEC_MAPS];
    uint32_t want_maps = f->map_mode == BSZ_MAP_GLOBAL ? 1 : nt;
    if (left < 4 || load_u32le(p) != want_maps)
        return bs_error_set(BS_EFORMAT, "%s: section MAPS must start with the number of maps, %u", W, want_maps);
    p += 4; left -= 4;
    f->num_maps = want_maps;
    f->map_sizes = (uint32_t*)calloc(want_maps, sizeof(uint32_t));
    f->map_values = (int32_t**)calloc(want_maps, sizeof(int32_t*));
    if (!f->map_sizes || !f->map_values) return bs_error_set(BS_ENOMEM, "%s: out of memory", W);
    int rc = BS_OK;
    for (uint32_t m = 0; m < want_maps; m++) {
        if (left < 4) { rc = bs_error_set(BS_EFORMAT, "%s: section MAPS ends inside map %u", W, m); break; }
        uint32_t n = load_u32le(p);
        p += 4; left -= 4;
        if (n < 1 || n > VALUEMAP_MAX_SIZE) { rc = bs_error_set(BS_EFORMAT, "%s: value map %u has %u values (must be 1..%u)", W, m, n, VALUEMAP_MAX_SIZE); break; }
        if (left < (uint64_t)n * 4) { rc = bs_error_set(BS_EFORMAT, "%s: section MAPS ends inside map %u (%u values)", W, m, n); break; }
        int32_t* v = (int32_t*)malloc((size_t)n * 4);
        int32_t* sorted = (int32_t*)malloc((size_t)n * 4);
        if (!v || !sorted) { free(v); free(sorted); rc = bs_error_set(BS_ENOMEM, "%s: out of memory", W); break; }
        for (uint32_t r = 0; r < n; r++) v[r] = sorted[r] = (int32_t)load_u32le(p + 4 * (size_t)r);
        f->map_values[m] = v;
        f->map_sizes[m] = n;
        p += (size_t)n * 4; left -= (uint64_t)n * 4;
        qsort(sorted, n, 4, valuemap_compare_int32);
        int ok = 1;
        for (uint32_t r = 0; r < n; r++) {
            if (sorted[r] > QUANTIZE_MAX_ABS_Q || sorted[r] < -QUANTIZE_MAX_ABS_Q || (r > 0 && sorted[r] == sorted[r - 1])) ok = 0;
        }
        free(sorted);
        if (!ok) { rc = bs_error_set(BS_EFORMAT, "%s: value map %u has a repeated value or one beyond |q| <= 2^30", W, m); break; }
    }
    if (rc == BS_OK && left != 0) rc = bs_error_set(BS_EFORMAT, "%s: section MAPS has %llu bytes after its last map", W, (unsigned long long)left);
    if (rc != BS_OK) return rc;
    for (uint32_t t = 0; t < nt; t++) { // the dequantized values must be finite floats
        const BszTensor* bt = &f->tensors[t];
        const int32_t* v = f->map_values[bt->map];
        for (uint32_t r = 0; r < f->map_sizes[bt->map]; r++) {
            if (!isfinite(dequantize_value(v[r], bt->delta)))
                return bs_error_set(BS_EFORMAT, "%s: tensor %s: value %d x Delta %g overflows a float", W, bt->name, v[r], (double)bt->delta);
        }
    }
    return BS_OK;
}

// ROWS: empty, or (flag BSZ_FLAG_SHARED_ROWS) u32 R, the row bitmap, C x f32 the shared row
static inline int bsz_parse_rows(BszFile* f, const uint8_t* p, uint32_t flags) {
    const char* W = f->what;
    uint64_t n = f->section_bytes[BSZ_SEC_ROWS];
    if (!(flags & BSZ_FLAG_SHARED_ROWS)) {
        if (n != 0) return bs_error_set(BS_EFORMAT, "%s: section ROWS holds %llu bytes but CONF flags no shared rows", W, (unsigned long long)n);
        return BS_OK;
    }
    uint32_t Vp = (uint32_t)f->config.padded_vocab_size, C = (uint32_t)f->config.channels;
    uint64_t want = 4 + (Vp + 7) / 8 + 4 * (uint64_t)C;
    if (n != want) return bs_error_set(BS_EFORMAT, "%s: section ROWS is %llu bytes (expected %llu for %u rows of %u)", W,
                                       (unsigned long long)n, (unsigned long long)want, Vp, C);
    uint32_t R = load_u32le(p);
    f->shared_rows = (uint8_t*)malloc(Vp);
    f->shared_row = (float*)malloc((size_t)C * sizeof(float));
    if (!f->shared_rows || !f->shared_row) return bs_error_set(BS_ENOMEM, "%s: out of memory", W);
    uint32_t count = 0;
    for (uint32_t v = 0; v < Vp; v++) { f->shared_rows[v] = (p[4 + v / 8] >> (v % 8)) & 1; count += f->shared_rows[v]; }
    if (Vp % 8 && (p[4 + Vp / 8] >> (Vp % 8)) != 0) return bs_error_set(BS_EFORMAT, "%s: section ROWS has bits set past row %u", W, Vp - 1);
    if (R < 1 || R >= Vp || count != R)
        return bs_error_set(BS_EFORMAT, "%s: section ROWS says %u shared rows, its map marks %u (must be 1..%u)", W, R, count, Vp - 1);
    const uint8_t* row = p + 4 + (Vp + 7) / 8;
    for (uint32_t c = 0; c < C; c++) {
        uint32_t u = load_u32le(row + 4 * (size_t)c);
        memcpy(&f->shared_row[c], &u, 4);
        if (!isfinite(f->shared_row[c])) return bs_error_set(BS_EFORMAT, "%s: the shared row's value %u is not finite", W, c);
    }
    f->num_shared_rows = R;
    f->tensors[0].coded = (uint64_t)(Vp - R) * C; // wte: only its other rows are coded
    return BS_OK;
}

// FREQ: the rANS tensors' frequencies (u32 S, then S LEB128 varints summing to 2^15)
static inline int bsz_parse_freq(BszFile* f, const uint8_t* p) {
    const char* W = f->what;
    uint64_t left = f->section_bytes[BSZ_SEC_FREQ];
    for (int t = 0; t < f->num_tensors; t++) {
        BszTensor* bt = &f->tensors[t];
        if (bt->coder != BSZ_CODER_RANS) continue;
        uint32_t msize = f->map_sizes[bt->map];
        if (left < 4) return bs_error_set(BS_EFORMAT, "%s: section FREQ ends before the frequencies of tensor %s", W, bt->name);
        uint32_t S = load_u32le(p);
        p += 4; left -= 4;
        if (S < 1 || S > msize || S > RANS_MAX_SYMBOLS)
            return bs_error_set(BS_EFORMAT, "%s: tensor %s has a rANS alphabet of %u (must be 1..%u, its map has %u values)", W, bt->name,
                                S, RANS_MAX_SYMBOLS, msize);
        bt->nsym = S;
        bt->freq = (uint32_t*)malloc((size_t)S * sizeof(uint32_t));
        if (!bt->freq) return bs_error_set(BS_ENOMEM, "%s: out of memory", W);
        uint64_t sum = 0;
        for (uint32_t s = 0; s < S; s++) {
            uint32_t v = 0;
            int shift = 0, more = 1;
            while (more) {
                if (left == 0 || shift > 14) return bs_error_set(BS_EFORMAT, "%s: section FREQ: frequency %u of tensor %s is cut off or too long", W, s, bt->name);
                v |= (uint32_t)(*p & 127) << shift;
                more = *p & 128;
                shift += 7;
                p++; left--;
            }
            if (v > RANS_PROB_SCALE) return bs_error_set(BS_EFORMAT, "%s: tensor %s: frequency %u is %u (at most %u)", W, bt->name, s, v, RANS_PROB_SCALE);
            bt->freq[s] = v;
            sum += v;
        }
        if (sum != RANS_PROB_SCALE) return bs_error_set(BS_EFORMAT, "%s: tensor %s: its rANS frequencies sum to %llu (must be %u)", W, bt->name,
                                                         (unsigned long long)sum, RANS_PROB_SCALE);
        if (rans_table_build(&bt->rans, bt->freq, S) != BS_OK) return bs_error_set(BS_ENOMEM, "%s: out of memory", W);
    }
    if (left != 0) return bs_error_set(BS_EFORMAT, "%s: section FREQ has %llu bytes after the last rANS tensor", W, (unsigned long long)left);
    return BS_OK;
}

// CHNK: the chunk index, checked against what each coder can produce
static inline int bsz_parse_chnk(BszFile* f, const uint8_t* p) {
    const char* W = f->what;
    uint64_t nchunks = 0;
    for (int t = 0; t < f->num_tensors; t++) {
        BszTensor* bt = &f->tensors[t];
        bt->first_chunk = nchunks;
        bt->num_chunks = (bt->coded + f->chunk_params - 1) / f->chunk_params;
        nchunks += bt->num_chunks;
    }
    uint64_t nb = f->section_bytes[BSZ_SEC_CHNK];
    if (nb < 8 || load_u64le(p) != nchunks || nb != 8 + 8 * (nchunks + 1))
        return bs_error_set(BS_EFORMAT, "%s: section CHNK is %llu bytes for %llu chunks (expected %llu chunks, %llu bytes)", W,
                            (unsigned long long)nb, nb >= 8 ? (unsigned long long)load_u64le(p) : 0ull,
                            (unsigned long long)nchunks, (unsigned long long)(8 + 8 * (nchunks + 1)));
    f->num_chunks = nchunks;
    f->chunk_bits = (uint64_t*)malloc((nchunks + 1) * sizeof(uint64_t));
    if (!f->chunk_bits) return bs_error_set(BS_ENOMEM, "%s: out of memory", W);
    for (uint64_t i = 0; i <= nchunks; i++) f->chunk_bits[i] = load_u64le(p + 8 + 8 * i);
    if (f->chunk_bits[0] != 0) return bs_error_set(BS_EFORMAT, "%s: the first chunk starts at bit %llu (must be 0)", W, (unsigned long long)f->chunk_bits[0]);
    for (int t = 0; t < f->num_tensors; t++) {
        const BszTensor* bt = &f->tensors[t];
        uint32_t msize = f->map_sizes[bt->map];
        for (uint64_t ch = bt->first_chunk; ch < bt->first_chunk + bt->num_chunks; ch++) {
            uint64_t n = bsz_chunk_count(f, bt, ch);
            uint64_t a = f->chunk_bits[ch], b = f->chunk_bits[ch + 1], lo, hi;
            if (bt->coder == BSZ_CODER_EG) {
                // every code word is between k + 1 and eg_max_length() bits; up to 7 padding bits
                lo = n * (uint64_t)(bt->k + 1);
                hi = n * (uint64_t)eg_max_length(msize, bt->k) + (ch + 1 < nchunks ? 7 : 0);
            } else if (bt->coder == BSZ_CODER_RANS) { // the states, then at most one word per weight
                lo = 8 * RANS_STATE_BYTES;
                hi = 8 * RANS_STATE_BYTES + 16 * n;
            } else { // at least the 5 bytes of the flush; every bin costs under 16 bits
                lo = 8 * CABAC_MIN_BYTES;
                hi = 8 * CABAC_MIN_BYTES + 16 * n * (uint64_t)(2 * eg_max_zeros(msize, bt->k) + bt->k + 1);
            }
            int aligned = bt->coder == BSZ_CODER_EG || (a % 8 == 0 && b % 8 == 0);
            if (b < a || b - a < lo || b - a > hi || !aligned)
                return bs_error_set(BS_EFORMAT, "%s: chunk %llu (tensor %s, %s) spans bits %llu..%llu; %llu weights need %llu to %llu bits%s", W,
                                    (unsigned long long)ch, bt->name, bsz_coder_names[bt->coder], (unsigned long long)a, (unsigned long long)b,
                                    (unsigned long long)n, (unsigned long long)lo, (unsigned long long)hi, aligned ? "" : " on byte boundaries");
        }
    }
    f->bits_size = (size_t)f->section_bytes[BSZ_SEC_BITS];
    if ((f->chunk_bits[nchunks] + 7) / 8 != f->bits_size)
        return bs_error_set(BS_EFORMAT, "%s: section BITS is %zu bytes, but the chunk index ends at bit %llu", W, f->bits_size,
                            (unsigned long long)f->chunk_bits[nchunks]);
    return BS_OK;
}

// bsz_parse() without the cleanup on error (the messages name f->what, which bsz_close clears)
static inline int bsz_parse_sections(BszFile* f, const uint8_t* data, size_t size, const char* what) {
    memset(f, 0, sizeof(*f));
    snprintf(f->what, sizeof(f->what), "%s", what);
    f->file_size = size;
    const uint8_t* payload[BSZ_NUM_SECTIONS];
    uint32_t flags = 0;
    int rc = bsz_parse_layout(f, data, size, payload);
    if (rc == BS_OK) rc = bsz_parse_conf(f, payload[BSZ_SEC_CONF], &flags);
    if (rc == BS_OK) rc = bsz_parse_tens(f, payload[BSZ_SEC_TENS]);
    if (rc == BS_OK) rc = bsz_parse_maps(f, payload[BSZ_SEC_MAPS]);
    if (rc == BS_OK) rc = bsz_parse_rows(f, payload[BSZ_SEC_ROWS], flags);
    if (rc == BS_OK) rc = bsz_parse_freq(f, payload[BSZ_SEC_FREQ]);
    if (rc == BS_OK) rc = bsz_parse_chnk(f, payload[BSZ_SEC_CHNK]);
    if (rc == BS_OK) f->bits = payload[BSZ_SEC_BITS];
    return rc;
}

// parses and checks a whole file held in memory; `what` names it in messages.
// The buffer must outlive the BszFile (f->bits points into it). On error f is left empty.
static inline int bsz_parse(BszFile* f, const uint8_t* data, size_t size, const char* what) {
    int rc = bsz_parse_sections(f, data, size, what);
    if (rc != BS_OK) bsz_close(f); // the message is already written
    return rc;
}

// reads and parses a file (the bytes are kept in f->owned)
static inline int bsz_open(BszFile* f, const char* path) {
    memset(f, 0, sizeof(*f));
    size_t size = 0;
    uint8_t* data = bs_read_file(path, BSZ_MAX_FILE_BYTES, &size);
    if (data == NULL) return BS_EIO; // the message says what went wrong
    int rc = bsz_parse(f, data, size, path);
    if (rc != BS_OK) { free(data); return rc; }
    f->owned = data;
    return BS_OK;
}

// ----------------------------------------------------------------------------
// reader: decoding

// decodes EG chunk `ch` of tensor `t`: out_values[i] = table[index] (float weights) when
// `table` is given, else out_index[i] = index. Returns BS_OK or BS_EFORMAT with a message.
// The window loop: the next 57..64 stream bits sit in `window` (bitreader_peek64), and
// code words are taken from its top with count-leading-zeros until fewer than the
// longest possible code word remain; then one refill.
static inline __attribute__((always_inline)) int bsz_decode_chunk_eg(const BszFile* f, int t, uint64_t ch,
                                                                      const float* table, float* out_values, uint32_t* out_index) {
    const BszTensor* bt = &f->tensors[t];
    const uint32_t count = f->map_sizes[bt->map];
    const int k = bt->k;
    const int zmax = eg_max_zeros(count, k);
    const int maxlen = 2 * zmax + k + 1;
    const uint64_t n = bsz_chunk_count(f, bt, ch);
    const uint64_t start = f->chunk_bits[ch], end = f->chunk_bits[ch + 1];
    const uint8_t* data = f->bits;
    const size_t size = f->bits_size;
    uint64_t pos = start;
    uint64_t window = bitreader_peek64(data, size, pos);
    int avail = 64 - (int)(pos & 7);
    for (uint64_t i = 0; i < n; i++) {
        if (avail < maxlen) {
            window = bitreader_peek64(data, size, pos);
            avail = 64 - (int)(pos & 7);
        }
        int z = __builtin_clzll(window | 1); // an all-zero window gives 63 > zmax
        if (__builtin_expect(z > zmax, 0)) goto corrupt;
        int len = 2 * z + k + 1; // <= maxlen <= avail
        uint32_t index = (uint32_t)((window >> (64 - len)) - ((uint64_t)1 << k));
        if (__builtin_expect(index >= count, 0)) goto corrupt;
        if (table) out_values[i] = table[index];
        else out_index[i] = index;
        window <<= len;
        avail -= len;
        pos += (uint64_t)len;
    }
    if (pos > end || end - pos > 7 || (end > pos && (bitreader_peek64(data, size, pos) >> (64 - (end - pos))) != 0))
        return bs_error_set(BS_EFORMAT, "%s: chunk %llu (tensor %s) decodes to bit %llu, but the index says it ends at bit %llu",
                            f->what, (unsigned long long)ch, bt->name, (unsigned long long)pos, (unsigned long long)end);
    return BS_OK;
corrupt:
    return bs_error_set(BS_EFORMAT, "%s: chunk %llu (tensor %s) is corrupt: no valid EG-%d code word for an index below %u at bit %llu",
                                f->what, (unsigned long long)ch, bt->name, k, count, (unsigned long long)pos);
}

// decodes rANS or CABAC chunk `ch` of tensor `t` (outputs as bsz_decode_chunk_eg)
static inline int bsz_decode_chunk_entropy(const BszFile* f, int t, uint64_t ch, const float* table, float* out_values, uint32_t* out_index) {
    const BszTensor* bt = &f->tensors[t];
    const uint64_t n = bsz_chunk_count(f, bt, ch);
    const uint8_t* data = f->bits + f->chunk_bits[ch] / 8; // the parser checked: byte-aligned, inside BITS
    size_t size = (size_t)((f->chunk_bits[ch + 1] - f->chunk_bits[ch]) / 8);
    int bad;
    if (bt->coder == BSZ_CODER_RANS) {
        bad = table ? rans_decode(&bt->rans, data, size, n, table, out_values, NULL) : rans_decode(&bt->rans, data, size, n, NULL, NULL, out_index);
    } else {
        uint8_t* zs = (uint8_t*)malloc(n ? n : 1);
        CabacContexts* m = (CabacContexts*)malloc(sizeof(CabacContexts));
        if (!zs || !m) { free(zs); free(m); return bs_error_set(BS_ENOMEM, "%s: out of memory", f->what); }
        uint32_t count = f->map_sizes[bt->map];
        uint64_t cols = (uint64_t)bt->shape[1];
        bad = table ? cabac_decode(data, size, n, count, bt->k, cols, zs, m, table, out_values, NULL)
                    : cabac_decode(data, size, n, count, bt->k, cols, zs, m, NULL, NULL, out_index);
        free(zs);
        free(m);
    }
    if (bad) return bs_error_set(BS_EFORMAT, "%s: chunk %llu (tensor %s) is corrupt: not a valid %s code of %llu weights in its %zu bytes",
                                 f->what, (unsigned long long)ch, bt->name, bsz_coder_names[bt->coder], (unsigned long long)n, size);
    return BS_OK;
}

static inline int bsz_decode_chunk_values(const BszFile* f, int t, uint64_t ch, const float* table, float* out) {
    if (f->tensors[t].coder == BSZ_CODER_EG) return bsz_decode_chunk_eg(f, t, ch, table, out, NULL);
    return bsz_decode_chunk_entropy(f, t, ch, table, out, NULL);
}
static inline int bsz_decode_chunk_indices(const BszFile* f, int t, uint64_t ch, uint32_t* out) {
    if (f->tensors[t].coder == BSZ_CODER_EG) return bsz_decode_chunk_eg(f, t, ch, NULL, NULL, out);
    return bsz_decode_chunk_entropy(f, t, ch, NULL, NULL, out);
}

// chunk `ch` of tensor t into values (through table) when values is given, else into indices
static inline int bsz_decode_chunk(const BszFile* f, int t, uint64_t ch, const float* table, float* values, uint32_t* indices) {
    return values ? bsz_decode_chunk_values(f, t, ch, table, values) : bsz_decode_chunk_indices(f, t, ch, indices);
}

// the error of a parallel decode loop: the loops only note the first chunk that failed
// (first_bad, UINT64_MAX = none, so BS_OK); it is decoded again here, on this thread, for
// its message (a message set inside a parallel loop would be another thread's)
static inline int bsz_first_bad_chunk(const BszFile* f, int t, uint64_t first_bad, const float* table, float* values, uint32_t* indices) {
    if (first_bad == UINT64_MAX) return BS_OK;
    int rc = bsz_decode_chunk(f, t, first_bad, table, values, indices);
    if (rc == BS_OK) rc = bs_error_set(BS_EFORMAT, "%s: chunk %llu failed to decode", f->what, (unsigned long long)first_bad);
    return rc;
}

// wte's decoded rows sit packed at its start; spreads them to their rows (last first, so
// nothing is overwritten before it moves) and fills the shared rows with the stored row
static inline void bsz_expand_shared_rows(const BszFile* f, float* wte) {
    if (!f->num_shared_rows) return;
    size_t Vp = (size_t)f->config.padded_vocab_size, C = (size_t)f->config.channels;
    size_t packed = Vp - f->num_shared_rows;
    for (size_t v = Vp; v-- > 0;) {
        if (f->shared_rows[v]) memcpy(wte + v * C, f->shared_row, C * sizeof(float));
        else { packed--; if (packed != v) memmove(wte + v * C, wte + packed * C, C * sizeof(float)); }
    }
}

// decodes one tensor's chunks in parallel: its weights (values != NULL, numel entries) or
// the value-map indices of its coded weights (indices != NULL, `coded` entries: for wte
// with shared rows, the indices of its other rows, in order)
static inline int bsz_decode_tensor(const BszFile* f, int t, float* values, uint32_t* indices) {
    const BszTensor* bt = &f->tensors[t];
    float* table = NULL;
    if (values) {
        uint32_t count = f->map_sizes[bt->map];
        table = (float*)malloc((size_t)count * sizeof(float));
        if (!table) return bs_error_set(BS_ENOMEM, "%s: out of memory", f->what);
        for (uint32_t r = 0; r < count; r++) table[r] = dequantize_value(f->map_values[bt->map][r], bt->delta);
    }
    uint64_t first_bad = UINT64_MAX;
    #pragma omp parallel for schedule(dynamic, 1) reduction(min:first_bad)
    for (uint64_t ch = bt->first_chunk; ch < bt->first_chunk + bt->num_chunks; ch++) {
        uint64_t at = (ch - bt->first_chunk) * f->chunk_params;
        if (bsz_decode_chunk(f, t, ch, table, values ? values + at : NULL, indices ? indices + at : NULL) != BS_OK && ch < first_bad) first_bad = ch;
    }
    uint64_t at = first_bad == UINT64_MAX ? 0 : (first_bad - bt->first_chunk) * f->chunk_params;
    int rc = bsz_first_bad_chunk(f, t, first_bad, table, values ? values + at : NULL, indices ? indices + at : NULL);
    if (rc == BS_OK && values && t == 0) bsz_expand_shared_rows(f, values);
    free(table);
    return rc;
}

// decodes weights [first, first + count) of tensor t (row-major) to their value-map indices,
// out (count): q = f->map_values[f->tensors[t].map][index], w = q * Delta. A reader can so
// build its own form of a tensor (./generate's sparse forms), a row range at a time, without
// an fp32 copy. Chunks inside the range decode in place; one cut by its ends goes through
// a scratch chunk. Serial (callers parallelize over ranges). BS_OK or BS_E* with a message.
// Any coder. The range is over the tensor's coded weights (bt->coded of them): for wte
// with shared rows (ROWS), whose shared rows have no indices, that is its other rows packed
// in order (coded row k is the k-th row with f->shared_rows[v] == 0; the shared ones are
// f->shared_row), for every other tensor its weights.
static inline int bsz_decode_index_range(const BszFile* f, int t, uint64_t first, uint64_t count, uint32_t* out) {
    if (t < 0 || t >= f->num_tensors) return bs_error_set(BS_EINVAL, "%s: no tensor %d", f->what, t);
    const BszTensor* bt = &f->tensors[t];
    if (first > bt->coded || count > bt->coded - first)
        return bs_error_set(BS_EINVAL, "%s: weights %llu..+%llu are outside the %llu coded weights of tensor %d", f->what,
                            (unsigned long long)first, (unsigned long long)count, (unsigned long long)bt->coded, t);
    uint32_t* scratch = NULL;
    int rc = BS_OK;
    for (uint64_t c = first / f->chunk_params; rc == BS_OK && c * f->chunk_params < first + count; c++) {
        uint64_t ch = bt->first_chunk + c, start = c * f->chunk_params, n = bsz_chunk_count(f, bt, ch);
        uint64_t lo = start > first ? start : first, hi = start + n < first + count ? start + n : first + count;
        if (lo == start && hi == start + n) { rc = bsz_decode_chunk_indices(f, t, ch, out + (start - first)); continue; }
        if (!scratch && !(scratch = (uint32_t*)malloc((size_t)f->chunk_params * sizeof(uint32_t))))
            return bs_error_set(BS_ENOMEM, "%s: out of memory", f->what);
        rc = bsz_decode_chunk_indices(f, t, ch, scratch);
        if (rc == BS_OK) memcpy(out + (lo - first), scratch + (lo - start), (size_t)(hi - lo) * sizeof(uint32_t));
    }
    free(scratch);
    return rc;
}

// decodes all weights (dequantized) into params (num_params floats, llm.c order).
// One parallel loop over all chunks of all tensors (no barrier per tensor, and the many
// small tensors do not serialize), with a float table per tensor: rank -> q * Delta.
// When those tables would be large (huge maps), tensor by tensor instead.
static inline int bsz_decode_params(const BszFile* f, float* params) {
    uint64_t table_entries = 0;
    for (int t = 0; t < f->num_tensors; t++) table_entries += f->map_sizes[f->tensors[t].map];
    float* tables = table_entries <= ((uint64_t)1 << 24) ? (float*)malloc(table_entries * sizeof(float)) : NULL;
    if (tables == NULL) { // tensor by tensor
        for (int t = 0; t < f->num_tensors; t++) {
            int rc = bsz_decode_tensor(f, t, params + f->tensors[t].offset, NULL);
            if (rc != BS_OK) return rc;
        }
        return BS_OK;
    }
    uint64_t* table_at = (uint64_t*)malloc((size_t)f->num_tensors * sizeof(uint64_t));
    int* chunk_tensor = (int*)malloc(f->num_chunks * sizeof(int) + 1);
    if (!table_at || !chunk_tensor) {
        free(tables); free(table_at); free(chunk_tensor);
        return bs_error_set(BS_ENOMEM, "%s: out of memory", f->what);
    }
    uint64_t at = 0;
    for (int t = 0; t < f->num_tensors; t++) {
        const BszTensor* bt = &f->tensors[t];
        table_at[t] = at;
        for (uint32_t r = 0; r < f->map_sizes[bt->map]; r++) tables[at + r] = dequantize_value(f->map_values[bt->map][r], bt->delta);
        at += f->map_sizes[bt->map];
        for (uint64_t ch = bt->first_chunk; ch < bt->first_chunk + bt->num_chunks; ch++) chunk_tensor[ch] = t;
    }
    uint64_t first_bad = UINT64_MAX;
    #pragma omp parallel for schedule(dynamic, 1) reduction(min:first_bad)
    for (uint64_t ch = 0; ch < f->num_chunks; ch++) {
        int t = chunk_tensor[ch];
        const BszTensor* bt = &f->tensors[t];
        float* out = params + bt->offset + (ch - bt->first_chunk) * f->chunk_params;
        if (bsz_decode_chunk_values(f, t, ch, tables + table_at[t], out) != BS_OK && ch < first_bad) first_bad = ch;
    }
    int rc = BS_OK;
    if (first_bad != UINT64_MAX) {
        int t = chunk_tensor[first_bad];
        const BszTensor* bt = &f->tensors[t];
        rc = bsz_first_bad_chunk(f, t, first_bad, tables + table_at[t], params + bt->offset + (first_bad - bt->first_chunk) * f->chunk_params, NULL);
    }
    if (rc == BS_OK) bsz_expand_shared_rows(f, params + f->tensors[0].offset);
    free(tables); free(table_at); free(chunk_tensor);
    return rc;
}

// 1 when the file starts with the .bsz magic (so a loader can tell coded models apart);
// 0 for anything else, a FIFO or a missing file included (the loader it picks then says why)
static inline int bsz_file_is_coded(const char* path) {
    uint8_t magic[4];
    FILE* f = bs_open_regular(path, NULL);
    if (f == NULL) return 0;
    int yes = fread(magic, 1, 4, f) == 4 && memcmp(magic, BSZ_MAGIC, 4) == 0;
    fclose(f);
    return yes;
}

// reads a .bsz file into a config and malloc'd dequantized fp32 params (as model_fp32_read)
static inline int bsz_read(const char* path, GPT2Config* config, float** params_out) {
    *params_out = NULL;
    BszFile f;
    int rc = bsz_open(&f, path);
    if (rc != BS_OK) return rc;
    float* params = (float*)malloc(f.num_params * sizeof(float));
    if (!params) { bsz_close(&f); return bs_error_set(BS_ENOMEM, "%s: out of memory for %llu parameters", path, (unsigned long long)f.num_params); }
    rc = bsz_decode_params(&f, params);
    if (rc != BS_OK) { free(params); bsz_close(&f); return rc; }
    *config = f.config;
    *params_out = params;
    bsz_close(&f);
    return BS_OK;
}

#endif // LLMC_BSZ_H
