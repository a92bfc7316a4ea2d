/*
 bsz.h: coded model files (.bsz): GPT-2 weights quantized, value-mapped and exp-Golomb
 coded (doc/method.md section 5). The format is specified in doc/format.md; this header
 is its reference writer and reader, shared by ./bsz, the trainers and the tests.

   write:  fp32 params -> q = round(w / Delta) (quantize.h) -> rank of q in the value map
           (valuemap.h) -> EG-k code word of the rank (expgolomb.h, bitio.h)
   read:   EG-k decode -> rank -> q = map[rank] -> w_hat = q * Delta

 Layout in brief (doc/format.md has every field):
   header  "BSZ\x1a", version, number of sections, CRC-32 of the header
   CONF    model config, number of tensors, map mode, parameters per chunk
   TENS    per logical tensor (gpt2_tensor_table): name, shape, offset, numel, Delta,
           EG order k, which value map
   MAPS    value maps: rank -> q (one global map, or one per tensor)
   CHNK    bit offset of every chunk in BITS (chunks of `chunk_params` weights, never
           spanning two tensors), so chunks decode independently and in parallel
   BITS    the code words
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
#include "crc32.h"
#include "expgolomb.h"
#include "gpt2_params.h"
#include "quantize.h"
#include "utils.h"
#include "valuemap.h"

#define BSZ_MAGIC "BSZ\x1a"
#define BSZ_VERSION 1u
#define BSZ_HEADER_BYTES 16
#define BSZ_SECTION_HEADER_BYTES 16
#define BSZ_NUM_SECTIONS 5
#define BSZ_CONF_BYTES 48
#define BSZ_TENSOR_RECORD_BYTES 72
#define BSZ_DEFAULT_CHUNK_PARAMS (1u << 16)
#define BSZ_MIN_CHUNK_PARAMS 64u
#define BSZ_MAX_CHUNK_PARAMS (1u << 24)
#define BSZ_MAX_FILE_BYTES ((size_t)1 << 40) // 1 TiB: far above any GPT-2 size

enum { BSZ_MAP_GLOBAL = 0, BSZ_MAP_TENSOR = 1 };
enum { BSZ_K_AUTO = -1 };

static const char bsz_section_tags[BSZ_NUM_SECTIONS][5] = {"CONF", "TENS", "MAPS", "CHNK", "BITS"};

typedef struct {
    float delta;               // quantization step for every tensor (QUANTIZE_DEFAULT_DELTA)
    const float* tensor_delta; // or one Delta per logical tensor (gpt2_num_tensors entries), NULL = use delta
    int k;                     // EG order for every tensor (0..EG_MAX_K), or BSZ_K_AUTO: shortest per tensor
    int map_mode;              // BSZ_MAP_GLOBAL or BSZ_MAP_TENSOR
    uint32_t chunk_params;     // weights per chunk (0 = BSZ_DEFAULT_CHUNK_PARAMS)
} BszOptions;

static inline BszOptions bsz_default_options(void) {
    BszOptions o = {QUANTIZE_DEFAULT_DELTA, NULL, BSZ_K_AUTO, BSZ_MAP_GLOBAL, BSZ_DEFAULT_CHUNK_PARAMS};
    return o;
}

typedef struct {
    char name[GPT2_TENSOR_NAME_MAX];
    int ndim;
    int shape[2];
    int k;                 // EG order
    uint64_t offset;       // first parameter, in the flat llm.c array
    uint64_t numel;
    float delta;
    uint32_t map;          // index of its value map
    uint64_t first_chunk;  // its chunks are [first_chunk, first_chunk + num_chunks)
    uint64_t num_chunks;
} BszTensor;

// a parsed file: the tables are owned copies; `bits` points into the file's bytes
typedef struct {
    GPT2Config config;
    int map_mode;
    uint32_t chunk_params;
    uint64_t num_params;
    int num_tensors;
    BszTensor* tensors;      // (num_tensors)
    uint32_t num_maps;
    uint32_t* map_sizes;     // (num_maps)
    int32_t** map_values;    // (num_maps) rank -> q
    uint64_t num_chunks;
    uint64_t* chunk_bits;    // (num_chunks + 1) bit offsets of the chunks in BITS
    const uint8_t* bits;     // the BITS payload
    size_t bits_size;        // its bytes
    uint64_t section_bytes[BSZ_NUM_SECTIONS]; // payload sizes, for the report
    size_t file_size;
    uint8_t* owned;          // the file's bytes when bsz_open() read them
    char what[4096];         // file name (or "buffer") for messages
} BszFile;

static inline void bsz_close(BszFile* f) {
    free(f->tensors);
    if (f->map_values)
        for (uint32_t m = 0; m < f->num_maps; m++) free(f->map_values[m]);
    free(f->map_values);
    free(f->map_sizes);
    free(f->chunk_bits);
    free(f->owned);
    memset(f, 0, sizeof(*f));
}

// chunk c of tensor t holds this many weights
static inline uint64_t bsz_chunk_count(const BszFile* f, const BszTensor* t, uint64_t c) {
    uint64_t start = (c - t->first_chunk) * f->chunk_params;
    uint64_t left = t->numel - start;
    return left < f->chunk_params ? left : f->chunk_params;
}

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

// appends a section (tag, CRC-32, size, payload)
static inline void bsz_buffer_section(BszBuffer* out, const char* tag, const BszBuffer* payload) {
    bsz_buffer_put(out, tag, 4);
    bsz_buffer_u32(out, crc32_of(payload->p, payload->size));
    bsz_buffer_u64(out, payload->size);
    if (payload->size) bsz_buffer_put(out, payload->p, payload->size);
}

// encodes the model into a malloc'd buffer (*out, *out_size)
static inline int bsz_encode(const GPT2Config* config, const float* params, const BszOptions* opt,
                             uint8_t** out, size_t* out_size) {
    *out = NULL;
    *out_size = 0;
    int rc = gpt2_config_validate(config, "bsz encode");
    if (rc != BS_OK) return rc;
    uint32_t chunk_params = opt->chunk_params ? opt->chunk_params : BSZ_DEFAULT_CHUNK_PARAMS;
    if (chunk_params < BSZ_MIN_CHUNK_PARAMS || chunk_params > BSZ_MAX_CHUNK_PARAMS)
        return bs_error_set(BS_EINVAL, "bsz encode: chunk size %u out of range [%u, %u]", chunk_params,
                            BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS);
    if (opt->k != BSZ_K_AUTO && (opt->k < 0 || opt->k > EG_MAX_K))
        return bs_error_set(BS_EINVAL, "bsz encode: EG order k = %d out of range [0, %d]", opt->k, EG_MAX_K);
    if (opt->map_mode != BSZ_MAP_GLOBAL && opt->map_mode != BSZ_MAP_TENSOR)
        return bs_error_set(BS_EINVAL, "bsz encode: unknown map mode %d", opt->map_mode);

    int nt = gpt2_num_tensors(config);
    GPT2Tensor* tt = (GPT2Tensor*)malloc((size_t)nt * sizeof(GPT2Tensor));
    float* delta = (float*)malloc((size_t)nt * sizeof(float));
    int* korder = (int*)malloc((size_t)nt * sizeof(int));
    ValueSegment* segs = (ValueSegment*)malloc((size_t)nt * sizeof(ValueSegment));
    int nmaps = opt->map_mode == BSZ_MAP_GLOBAL ? 1 : nt;
    ValueMap* maps = (ValueMap*)calloc((size_t)nmaps, sizeof(ValueMap));
    uint64_t* first_chunk = (uint64_t*)malloc(((size_t)nt + 1) * sizeof(uint64_t));
    uint64_t* chunk_len_k = NULL; // (num_chunks, EG_MAX_K + 1) code bits of each chunk for each k
    uint64_t* chunk_bits = NULL;
    uint8_t* bits = NULL;
    BszBuffer file = {0}, pay = {0};
    if (!tt || !delta || !korder || !segs || !maps || !first_chunk) { rc = bs_error_set(BS_ENOMEM, "bsz encode: out of memory"); goto done; }
    gpt2_tensor_table(config, tt);
    {

    for (int t = 0; t < nt; t++) {
        delta[t] = opt->tensor_delta ? opt->tensor_delta[t] : opt->delta;
        if (!(delta[t] > 0.0f) || !isfinite(delta[t])) {
            rc = bs_error_set(BS_EINVAL, "bsz encode: Delta of tensor %s is %g (must be finite and > 0)", tt[t].name, (double)delta[t]);
            goto done;
        }
        segs[t].w = params + tt[t].offset;
        segs[t].n = tt[t].numel;
        segs[t].inv_delta = 1.0f / delta[t];
    }
    // value maps
    for (int m = 0; m < nmaps; m++) {
        rc = opt->map_mode == BSZ_MAP_GLOBAL ? valuemap_build(&maps[0], segs, nt) : valuemap_build(&maps[m], &segs[m], 1);
        if (rc != BS_OK) {
            char msg[BS_ERROR_MAX];
            snprintf(msg, sizeof(msg), "%s", bs_error());
            if (opt->map_mode == BSZ_MAP_TENSOR) rc = bs_error_set(rc, "bsz encode: tensor %s: %s", tt[m].name, msg);
            else rc = bs_error_set(rc, "bsz encode: %s", msg);
            goto done;
        }
    }
    for (int t = 0; t < nt; t++) { // the reader insists that q * Delta is a finite float
        const ValueMap* vm = &maps[opt->map_mode == BSZ_MAP_GLOBAL ? 0 : t];
        if (!isfinite(dequantize_value(vm->qmin, delta[t])) || !isfinite(dequantize_value(vm->qmax, delta[t]))) {
            rc = bs_error_set(BS_ELIMIT, "bsz encode: tensor %s: q x Delta overflows a float", tt[t].name);
            goto done;
        }
    }

    // chunks
    uint64_t nchunks = 0;
    for (int t = 0; t < nt; t++) {
        first_chunk[t] = nchunks;
        nchunks += (tt[t].numel + chunk_params - 1) / chunk_params;
    }
    first_chunk[nt] = nchunks;
    chunk_len_k = (uint64_t*)calloc(nchunks * (EG_MAX_K + 1), sizeof(uint64_t));
    chunk_bits = (uint64_t*)malloc((nchunks + 1) * sizeof(uint64_t));
    int* chunk_tensor = (int*)malloc(nchunks * sizeof(int));
    if (!chunk_len_k || !chunk_bits || !chunk_tensor) { free(chunk_tensor); rc = bs_error_set(BS_ENOMEM, "bsz encode: out of memory"); goto done; }
    for (int t = 0; t < nt; t++)
        for (uint64_t c = first_chunk[t]; c < first_chunk[t + 1]; c++) chunk_tensor[c] = t;

    // pass 1: code length of every chunk for every k (or the fixed k)
    int kmin = opt->k == BSZ_K_AUTO ? 0 : opt->k, kmax = opt->k == BSZ_K_AUTO ? EG_MAX_K : opt->k;
    #pragma omp parallel for schedule(dynamic, 1)
    for (uint64_t c = 0; c < nchunks; c++) {
        int t = chunk_tensor[c];
        const ValueMap* vm = &maps[opt->map_mode == BSZ_MAP_GLOBAL ? 0 : t];
        uint64_t start = (c - first_chunk[t]) * chunk_params;
        uint64_t n = tt[t].numel - start < chunk_params ? tt[t].numel - start : chunk_params;
        const float* w = segs[t].w + start;
        float inv = segs[t].inv_delta;
        uint64_t len[EG_MAX_K + 1] = {0};
        // a histogram of the chunk's ranks when the map is small against the chunk (the
        // usual case), so each k costs one pass over the map, not over the weights
        uint32_t* hist = kmin < kmax && (uint64_t)vm->size * 4 <= n ? (uint32_t*)calloc(vm->size, sizeof(uint32_t)) : NULL;
        if (hist) {
            for (uint64_t i = 0; i < n; i++) hist[valuemap_rank(vm, quantize_value(w[i], inv))]++;
            for (uint32_t r = 0; r < vm->size; r++)
                if (hist[r])
                    for (int k = kmin; k <= kmax; k++) len[k] += (uint64_t)hist[r] * (uint64_t)eg_length(r, k);
            free(hist);
        } else {
            for (uint64_t i = 0; i < n; i++) {
                uint32_t r = valuemap_rank(vm, quantize_value(w[i], inv));
                for (int k = kmin; k <= kmax; k++) len[k] += (uint64_t)eg_length(r, k);
            }
        }
        memcpy(&chunk_len_k[c * (EG_MAX_K + 1)], len, sizeof(len));
    }
    // the k of each tensor: the shortest total (ties: the smaller k)
    for (int t = 0; t < nt; t++) {
        uint64_t best = UINT64_MAX;
        korder[t] = kmin;
        for (int k = kmin; k <= kmax; k++) {
            uint64_t total = 0;
            for (uint64_t c = first_chunk[t]; c < first_chunk[t + 1]; c++) total += chunk_len_k[c * (EG_MAX_K + 1) + (uint64_t)k];
            if (total < best) { best = total; korder[t] = k; }
        }
    }
    // byte-aligned chunk starts
    uint64_t byte_at = 0;
    for (uint64_t c = 0; c < nchunks; c++) {
        uint64_t nbits = chunk_len_k[c * (EG_MAX_K + 1) + (uint64_t)korder[chunk_tensor[c]]];
        chunk_bits[c] = 8 * byte_at;
        byte_at += (nbits + 7) / 8;
        if (c + 1 == nchunks) chunk_bits[nchunks] = chunk_bits[c] + nbits;
    }
    size_t bits_size = (size_t)byte_at;
    bits = (uint8_t*)malloc(bits_size ? bits_size : 1);
    if (!bits) { free(chunk_tensor); rc = bs_error_set(BS_ENOMEM, "bsz encode: out of memory for %zu bytes of code", bits_size); goto done; }

    // pass 2: the code words, each chunk into its own byte range
    int overflow = 0;
    #pragma omp parallel for schedule(dynamic, 1) reduction(|:overflow)
    for (uint64_t c = 0; c < nchunks; c++) {
        int t = chunk_tensor[c];
        const ValueMap* vm = &maps[opt->map_mode == BSZ_MAP_GLOBAL ? 0 : t];
        uint64_t start = (c - first_chunk[t]) * chunk_params;
        uint64_t n = tt[t].numel - start < chunk_params ? tt[t].numel - start : chunk_params;
        const float* w = segs[t].w + start;
        float inv = segs[t].inv_delta;
        int k = korder[t];
        uint8_t* dst = bits + chunk_bits[c] / 8;
        size_t room = (size_t)((c + 1 < nchunks ? chunk_bits[c + 1] : 8 * byte_at) / 8 - chunk_bits[c] / 8);
        BitWriter bw;
        bitwriter_init(&bw, dst, room);
        for (uint64_t i = 0; i < n; i++) eg_encode(&bw, valuemap_rank(vm, quantize_value(w[i], inv)), k);
        size_t wrote = bitwriter_finish(&bw, dst);
        overflow |= bw.overflow || wrote != room;
    }
    free(chunk_tensor);
    if (overflow) { rc = bs_error_set(BS_EINVAL, "bsz encode: internal error, a chunk's code length differs from its sizing pass"); goto done; }

    // the file
    bsz_buffer_put(&file, BSZ_MAGIC, 4);
    bsz_buffer_u32(&file, BSZ_VERSION);
    bsz_buffer_u32(&file, BSZ_NUM_SECTIONS);
    bsz_buffer_u32(&file, file.oom ? 0 : crc32_of(file.p, 12));
    // CONF
    const int32_t conf[6] = {config->max_seq_len, config->vocab_size, config->padded_vocab_size,
                             config->num_layers, config->num_heads, config->channels};
    for (int i = 0; i < 6; i++) bsz_buffer_u32(&pay, (uint32_t)conf[i]);
    bsz_buffer_u32(&pay, (uint32_t)nt);
    bsz_buffer_u32(&pay, (uint32_t)opt->map_mode);
    bsz_buffer_u32(&pay, chunk_params);
    bsz_buffer_u32(&pay, 0); // flags, reserved
    bsz_buffer_u64(&pay, gpt2_num_params(config));
    bsz_buffer_section(&file, "CONF", &pay);
    // TENS
    pay.size = 0;
    for (int t = 0; t < nt; t++) {
        char name[GPT2_TENSOR_NAME_MAX] = {0};
        memcpy(name, tt[t].name, strlen(tt[t].name));
        bsz_buffer_put(&pay, name, sizeof(name));
        bsz_buffer_u32(&pay, (uint32_t)tt[t].ndim);
        bsz_buffer_u32(&pay, (uint32_t)tt[t].shape[0]);
        bsz_buffer_u32(&pay, (uint32_t)tt[t].shape[1]);
        bsz_buffer_u32(&pay, (uint32_t)korder[t]);
        bsz_buffer_u64(&pay, tt[t].offset);
        bsz_buffer_u64(&pay, tt[t].numel);
        bsz_buffer_f32(&pay, delta[t]);
        bsz_buffer_u32(&pay, opt->map_mode == BSZ_MAP_GLOBAL ? 0u : (uint32_t)t);
    }
    bsz_buffer_section(&file, "TENS", &pay);
    // MAPS
    pay.size = 0;
    bsz_buffer_u32(&pay, (uint32_t)nmaps);
    for (int m = 0; m < nmaps; m++) {
        bsz_buffer_u32(&pay, maps[m].size);
        for (uint32_t r = 0; r < maps[m].size; r++) bsz_buffer_u32(&pay, (uint32_t)maps[m].values[r]);
    }
    bsz_buffer_section(&file, "MAPS", &pay);
    // CHNK
    pay.size = 0;
    bsz_buffer_u64(&pay, nchunks);
    for (uint64_t c = 0; c <= nchunks; c++) bsz_buffer_u64(&pay, chunk_bits[c]);
    bsz_buffer_section(&file, "CHNK", &pay);
    // BITS
    BszBuffer bits_view = {bits, bits_size, bits_size, 0};
    bsz_buffer_section(&file, "BITS", &bits_view);
    if (file.oom || pay.oom) { rc = bs_error_set(BS_ENOMEM, "bsz encode: out of memory assembling the file"); goto done; }
    *out = file.p;
    *out_size = file.size;
    file.p = NULL;
    rc = BS_OK;
    } // (the block keeps the jumps to done from crossing initialisations: C++ refuses that, and nvcc compiles this header as C++)
done:
    for (int m = 0; maps && m < nmaps; m++) valuemap_free(&maps[m]);
    free(maps); free(tt); free(delta); free(korder); free(segs); free(first_chunk);
    free(chunk_len_k); free(chunk_bits); free(bits); free(file.p); free(pay.p);
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

// ----------------------------------------------------------------------------
// reader: parsing and validation (no decoding yet)

// bsz_parse() without the cleanup on error (the messages name f->what, which bsz_close clears)
static inline int bsz_parse_sections(BszFile* f, const uint8_t* data, size_t size, const char* what) {
    memset(f, 0, sizeof(*f));
    snprintf(f->what, sizeof(f->what), "%s", what);
    f->file_size = size;
    const char* W = f->what;
    int rc = BS_OK;
    if (size < BSZ_HEADER_BYTES)
        return bs_error_set(BS_EFORMAT, "%s: %zu bytes, too short for a .bsz header (%d bytes)", W, size, BSZ_HEADER_BYTES);
    if (memcmp(data, BSZ_MAGIC, 4) != 0)
        return bs_error_set(BS_EFORMAT, "%s: bad magic %02x %02x %02x %02x (expected 42 53 5a 1a, a .bsz coded model)", W,
                            data[0], data[1], data[2], data[3]);
    uint32_t version = load_u32le(data + 4);
    if (version != BSZ_VERSION)
        return bs_error_set(BS_EFORMAT, "%s: unsupported .bsz version %u (this build reads version %u)", W, version, BSZ_VERSION);
    if (load_u32le(data + 12) != crc32_of(data, 12))
        return bs_error_set(BS_ECHECKSUM, "%s: header CRC-32 mismatch (stored %08x, computed %08x)", W, load_u32le(data + 12), crc32_of(data, 12));
    if (load_u32le(data + 8) != BSZ_NUM_SECTIONS)
        return bs_error_set(BS_EFORMAT, "%s: %u sections (version 1 has exactly %d)", W, load_u32le(data + 8), BSZ_NUM_SECTIONS);

    // the sections, in their fixed order
    const uint8_t* payload[BSZ_NUM_SECTIONS];
    size_t at = BSZ_HEADER_BYTES;
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++) {
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

    // CONF
    const uint8_t* p = payload[0];
    if (f->section_bytes[0] != BSZ_CONF_BYTES)
        return bs_error_set(BS_EFORMAT, "%s: section CONF is %llu bytes (expected %d)", W, (unsigned long long)f->section_bytes[0], BSZ_CONF_BYTES);
    GPT2Config* c = &f->config;
    c->max_seq_len = (int32_t)load_u32le(p + 0);
    c->vocab_size = (int32_t)load_u32le(p + 4);
    c->padded_vocab_size = (int32_t)load_u32le(p + 8);
    c->num_layers = (int32_t)load_u32le(p + 12);
    c->num_heads = (int32_t)load_u32le(p + 16);
    c->channels = (int32_t)load_u32le(p + 20);
    if ((rc = gpt2_config_validate(c, W)) != BS_OK) return rc;
    uint32_t nt = load_u32le(p + 24);
    f->map_mode = (int)load_u32le(p + 28);
    f->chunk_params = load_u32le(p + 32);
    uint32_t flags = load_u32le(p + 36);
    f->num_params = load_u64le(p + 40);
    if (nt != (uint32_t)gpt2_num_tensors(c))
        return bs_error_set(BS_EFORMAT, "%s: %u tensors, but a %d-layer GPT-2 has %d", W, nt, c->num_layers, gpt2_num_tensors(c));
    if (load_u32le(p + 28) > BSZ_MAP_TENSOR)
        return bs_error_set(BS_EFORMAT, "%s: unknown map mode %u (0 = global, 1 = per tensor)", W, load_u32le(p + 28));
    if (f->chunk_params < BSZ_MIN_CHUNK_PARAMS || f->chunk_params > BSZ_MAX_CHUNK_PARAMS)
        return bs_error_set(BS_EFORMAT, "%s: chunk size %u out of range [%u, %u]", W, f->chunk_params, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS);
    if (flags != 0) return bs_error_set(BS_EFORMAT, "%s: unknown flags %08x in CONF", W, flags);
    if (f->num_params != gpt2_num_params(c))
        return bs_error_set(BS_EFORMAT, "%s: %llu parameters, but its config needs %zu", W, (unsigned long long)f->num_params, gpt2_num_params(c));
    f->num_tensors = (int)nt;

    // TENS: must be exactly the logical tensors of the config
    if (f->section_bytes[1] != (uint64_t)nt * BSZ_TENSOR_RECORD_BYTES)
        return bs_error_set(BS_EFORMAT, "%s: section TENS is %llu bytes (expected %u tensors x %d)", W,
                            (unsigned long long)f->section_bytes[1], nt, BSZ_TENSOR_RECORD_BYTES);
    GPT2Tensor* ref = (GPT2Tensor*)malloc(nt * sizeof(GPT2Tensor));
    f->tensors = (BszTensor*)calloc(nt, sizeof(BszTensor));
    if (!ref || !f->tensors) { free(ref); return bs_error_set(BS_ENOMEM, "%s: out of memory", W); }
    gpt2_tensor_table(c, ref);
    uint64_t nchunks = 0;
    for (uint32_t t = 0; t < nt; t++) {
        const uint8_t* r = payload[1] + (size_t)t * BSZ_TENSOR_RECORD_BYTES;
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
        if (!name_ok || strcmp(bt->name, ref[t].name) != 0 || ndim != (uint32_t)ref[t].ndim || s0 != (uint32_t)ref[t].shape[0] ||
            s1 != (uint32_t)ref[t].shape[1] || bt->offset != ref[t].offset || bt->numel != ref[t].numel) {
            rc = bs_error_set(BS_EFORMAT, "%s: tensor %u is \"%.31s\" (%u, %u) at %llu, %llu params; the config says \"%s\" (%d, %d) at %zu, %zu",
                              W, t, bt->name, s0, s1, (unsigned long long)bt->offset, (unsigned long long)bt->numel,
                              ref[t].name, ref[t].shape[0], ref[t].shape[1], ref[t].offset, ref[t].numel);
            break;
        }
        if (k > EG_MAX_K) { rc = bs_error_set(BS_EFORMAT, "%s: tensor %s has EG order k = %u (at most %d)", W, bt->name, k, EG_MAX_K); break; }
        bt->k = (int)k;
        if (!(bt->delta > 0.0f) || !isfinite(bt->delta)) {
            rc = bs_error_set(BS_EFORMAT, "%s: tensor %s has Delta %g (must be finite and > 0)", W, bt->name, (double)bt->delta);
            break;
        }
        uint32_t want_map = f->map_mode == BSZ_MAP_GLOBAL ? 0 : t;
        if (bt->map != want_map) { rc = bs_error_set(BS_EFORMAT, "%s: tensor %s uses value map %u (expected %u)", W, bt->name, bt->map, want_map); break; }
        bt->ndim = (int)ndim;
        bt->shape[0] = (int)s0;
        bt->shape[1] = (int)s1;
        bt->first_chunk = nchunks;
        bt->num_chunks = (bt->numel + f->chunk_params - 1) / f->chunk_params;
        nchunks += bt->num_chunks;
    }
    free(ref);
    if (rc != BS_OK) return rc;

    // MAPS
    p = payload[2];
    uint64_t left = f->section_bytes[2];
    uint32_t want_maps = f->map_mode == BSZ_MAP_GLOBAL ? 1 : nt;
    if (left < 4 || load_u32le(p) != want_maps) {
        rc = bs_error_set(BS_EFORMAT, "%s: section MAPS must start with the number of maps, %u", W, want_maps);
        return rc;
    }
    p += 4; left -= 4;
    f->num_maps = want_maps;
    f->map_sizes = (uint32_t*)calloc(want_maps, sizeof(uint32_t));
    f->map_values = (int32_t**)calloc(want_maps, sizeof(int32_t*));
    if (!f->map_sizes || !f->map_values) { return bs_error_set(BS_ENOMEM, "%s: out of memory", W); }
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
            if (!isfinite(dequantize_value(v[r], bt->delta))) {
                return bs_error_set(BS_EFORMAT, "%s: tensor %s: value %d x Delta %g overflows a float", W, bt->name, v[r], (double)bt->delta);
            }
        }
    }

    // CHNK
    p = payload[3];
    if (f->section_bytes[3] < 8 || load_u64le(p) != nchunks || f->section_bytes[3] != 8 + 8 * (nchunks + 1)) {
        rc = bs_error_set(BS_EFORMAT, "%s: section CHNK is %llu bytes for %llu chunks (expected %llu chunks, %llu bytes)", W,
                          (unsigned long long)f->section_bytes[3], f->section_bytes[3] >= 8 ? (unsigned long long)load_u64le(p) : 0ull,
                          (unsigned long long)nchunks, (unsigned long long)(8 + 8 * (nchunks + 1)));
        return rc;
    }
    f->num_chunks = nchunks;
    f->chunk_bits = (uint64_t*)malloc((nchunks + 1) * sizeof(uint64_t));
    if (!f->chunk_bits) { return bs_error_set(BS_ENOMEM, "%s: out of memory", W); }
    for (uint64_t i = 0; i <= nchunks; i++) f->chunk_bits[i] = load_u64le(p + 8 + 8 * i);
    f->bits = payload[4];
    f->bits_size = (size_t)f->section_bytes[4];
    if (f->chunk_bits[0] != 0) rc = bs_error_set(BS_EFORMAT, "%s: the first chunk starts at bit %llu (must be 0)", W, (unsigned long long)f->chunk_bits[0]);
    for (uint32_t t = 0; t < nt && rc == BS_OK; t++) {
        const BszTensor* bt = &f->tensors[t];
        uint32_t msize = f->map_sizes[bt->map];
        for (uint64_t ch = bt->first_chunk; ch < bt->first_chunk + bt->num_chunks; ch++) {
            // every code word is between k + 1 and eg_max_length() bits; up to 7 padding bits
            uint64_t n = bsz_chunk_count(f, bt, ch);
            uint64_t lo = n * (uint64_t)(bt->k + 1), hi = n * (uint64_t)eg_max_length(msize, bt->k) + (ch + 1 < nchunks ? 7 : 0);
            uint64_t a = f->chunk_bits[ch], b = f->chunk_bits[ch + 1];
            if (b < a || b - a < lo || b - a > hi) {
                rc = bs_error_set(BS_EFORMAT, "%s: chunk %llu (tensor %s) spans bits %llu..%llu; %llu weights need %llu to %llu bits", W,
                                  (unsigned long long)ch, bt->name, (unsigned long long)a, (unsigned long long)b,
                                  (unsigned long long)n, (unsigned long long)lo, (unsigned long long)hi);
                break;
            }
        }
    }
    if (rc == BS_OK && (f->chunk_bits[nchunks] + 7) / 8 != f->bits_size)
        rc = bs_error_set(BS_EFORMAT, "%s: section BITS is %zu bytes, but the chunk index ends at bit %llu", W, f->bits_size,
                          (unsigned long long)f->chunk_bits[nchunks]);
    if (rc != BS_OK) return rc;
    return BS_OK;
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

// decodes chunk `ch` of tensor `t`: out_values[i] = table[index] (float weights) when
// `table` is given, else out_index[i] = index. Returns BS_OK or BS_EFORMAT with a message.
// The window loop: the next 57..64 stream bits sit in `window` (bitreader_peek64), and
// code words are taken from its top with count-leading-zeros until fewer than the
// longest possible code word remain; then one refill.
static inline __attribute__((always_inline)) int bsz_decode_chunk(const BszFile* f, int t, uint64_t ch,
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

static inline int bsz_decode_chunk_values(const BszFile* f, int t, uint64_t ch, const float* table, float* out) {
    return bsz_decode_chunk(f, t, ch, table, out, NULL);
}
static inline int bsz_decode_chunk_indices(const BszFile* f, int t, uint64_t ch, uint32_t* out) {
    return bsz_decode_chunk(f, t, ch, NULL, NULL, out);
}

// decodes one tensor's chunks in parallel: its weights (values != NULL) or its value-map
// indices (indices != NULL), numel entries
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
        int rc = values ? bsz_decode_chunk_values(f, t, ch, table, values + at) : bsz_decode_chunk_indices(f, t, ch, indices + at);
        if (rc != BS_OK && ch < first_bad) first_bad = ch;
    }
    int rc = BS_OK;
    if (first_bad != UINT64_MAX) { // decode it again on this thread for its message
        uint64_t at = (first_bad - bt->first_chunk) * f->chunk_params;
        rc = values ? bsz_decode_chunk_values(f, t, first_bad, table, values + at) : bsz_decode_chunk_indices(f, t, first_bad, indices + at);
        if (rc == BS_OK) rc = bs_error_set(BS_EFORMAT, "%s: chunk %llu failed to decode", f->what, (unsigned long long)first_bad);
    }
    free(table);
    return rc;
}

// decodes weights [first, first + count) of tensor t (row-major) to their value-map indices,
// out (count): q = f->map_values[f->tensors[t].map][index], w = q * Delta. A reader can so
// build its own form of a tensor (./generate's sparse forms), a row range at a time, without
// an fp32 copy. Chunks inside the range decode in place; one cut by its ends goes through
// a scratch chunk. Serial (callers parallelize over ranges). BS_OK or BS_E* with a message.
static inline int bsz_decode_index_range(const BszFile* f, int t, uint64_t first, uint64_t count, uint32_t* out) {
    if (t < 0 || t >= f->num_tensors) return bs_error_set(BS_EINVAL, "%s: no tensor %d", f->what, t);
    const BszTensor* bt = &f->tensors[t];
    if (first > bt->numel || count > bt->numel - first)
        return bs_error_set(BS_EINVAL, "%s: weights %llu..+%llu are outside tensor %d", f->what,
                            (unsigned long long)first, (unsigned long long)count, t);
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
    int* chunk_tensor = (int*)malloc(f->num_chunks * sizeof(int));
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
    if (first_bad != UINT64_MAX) { // decode it again on this thread for its message
        int t = chunk_tensor[first_bad];
        const BszTensor* bt = &f->tensors[t];
        float* out = params + bt->offset + (first_bad - bt->first_chunk) * f->chunk_params;
        rc = bsz_decode_chunk_values(f, t, first_bad, tables + table_at[t], out);
        if (rc == BS_OK) rc = bs_error_set(BS_EFORMAT, "%s: chunk %llu failed to decode", f->what, (unsigned long long)first_bad);
    }
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
