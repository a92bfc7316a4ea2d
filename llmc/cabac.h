/*
 cabac.h: a context-adaptive binary arithmetic coder of value-map indices, in the manner
 of DeepCABAC (Wiedemann et al., "DeepCABAC: A universal compression algorithm for deep
 neural networks", IEEE JSTSP 2020; the coder of ISO/IEC 15938-17, NNC): one of the .bsz
 coders (bsz.h, doc/format.md "CABAC chunks"). The code is ours.

 Binarization of an index r of a tensor with EG order k and S indices (the EG-k code word
 of r, expgolomb.h, with every bin but the low suffix bits modelled):
   x = r + 2^k, z = floor(log2 x) - k (the EG prefix: z zeros), zmax = eg_max_zeros(S, k)
   prefix   bins "z > j" for j = 0, 1, ... until a 0 bin or j = zmax (truncated unary).
            Bin j = 0 is the significance flag of DeepCABAC when k = 0 (index 0 is the most
            frequent value, usually q = 0); j >= 1 are its "greater than" flags.
            Context: (neighbour class, min(j, CABAC_PREFIX_CTX - 1)).
   suffix   the z + k bits of x below its leading 1, most significant first: the first
            CABAC_SUFFIX_CODED of them are context coded on a binary tree (context: the
            neighbour sum class, min(z, CABAC_SUFFIX_Z - 1), the tree node = the bits so
            far), so the first bits learn the skew of the distribution inside an EG group
            (and the sign, for the ranks 1 and 2 of +-1); the rest are bypass bins (p = 1/2).
 Neighbours: the weight before (the left neighbour in a row) and the weight one row up
 (the same column in the previous row, `cols` weights before), both within the chunk;
 class(z) = min(z, 2) (0 for a missing neighbour); neighbour class = 3 class(left) +
 class(up), neighbour sum class = min(class(left) + class(up), 2).

 Probabilities: every context holds two estimates of P(bin = 0) in 1/65536, updated after
 each bin with the rates 1/16 and 1/128 (p += (65536 - p) >> s after a 0, p -= p >> s
 after a 1), and codes with their mean (two-speed estimation as in VVC's CABAC). They start
 at 1/2 at every chunk, so chunks decode independently. The estimates stay within
 [15, 65521] and [127, 65409], so no bin ever gets probability 0 or 1.

 Arithmetic coder: a binary range coder with a 32-bit range and carry propagation
 through a cached byte (as in LZMA): bound = (range >> 16) * p; a 0 takes [0, bound), a 1
 [bound, range); renormalize byte by byte while range < 2^24; bypass bins halve the range.
 The encoder flushes 5 bytes; the decoder reads 5 bytes first (the first byte is always 0)
 and then one byte per renormalization, so it consumes exactly the chunk's bytes: a chunk
 is valid when the decoder ends exactly at its end. Bytes past the end read as 0 and
 make the chunk invalid, so the decoder never reads outside its chunk.
*/
#ifndef LLMC_CABAC_H
#define LLMC_CABAC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "expgolomb.h"
#include "utils.h"

#define CABAC_PROB_ONE 65536u
#define CABAC_RATE_FAST 4
#define CABAC_RATE_SLOW 7
#define CABAC_TOP (1u << 24)
#define CABAC_PREFIX_CTX 16
#define CABAC_SUFFIX_Z 16
#define CABAC_SUFFIX_CODED 3
#define CABAC_MIN_BYTES 5

typedef struct { uint16_t fast, slow; } CabacBin;

typedef struct {
    CabacBin prefix[9][CABAC_PREFIX_CTX];
    CabacBin suffix[3][CABAC_SUFFIX_Z][1 << CABAC_SUFFIX_CODED]; // tree nodes 1..7
} CabacContexts;

static inline void cabac_contexts_init(CabacContexts* m) {
    CabacBin half = {(uint16_t)(CABAC_PROB_ONE / 2), (uint16_t)(CABAC_PROB_ONE / 2)};
    for (int a = 0; a < 9; a++)
        for (int j = 0; j < CABAC_PREFIX_CTX; j++) m->prefix[a][j] = half;
    for (int a = 0; a < 3; a++)
        for (int z = 0; z < CABAC_SUFFIX_Z; z++)
            for (int j = 0; j < (1 << CABAC_SUFFIX_CODED); j++) m->suffix[a][z][j] = half;
}

static inline uint32_t cabac_p0(const CabacBin* b) { return ((uint32_t)b->fast + (uint32_t)b->slow) >> 1; }

static inline void cabac_update(CabacBin* b, int bit) {
    uint32_t f = b->fast, s = b->slow;
    if (bit) { f -= f >> CABAC_RATE_FAST; s -= s >> CABAC_RATE_SLOW; }
    else { f += (CABAC_PROB_ONE - f) >> CABAC_RATE_FAST; s += (CABAC_PROB_ONE - s) >> CABAC_RATE_SLOW; }
    b->fast = (uint16_t)f;
    b->slow = (uint16_t)s;
}

static inline int cabac_class(int z) { return z < 2 ? z : 2; }

// ----------------------------------------------------------------------------
// encoder

typedef struct {
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t* p;
    size_t size, cap;
    int oom;
} CabacEncoder;

static inline void cabac_put_byte(CabacEncoder* e, uint8_t b) {
    if (e->oom) return;
    if (e->size == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 4096;
        uint8_t* p = (uint8_t*)realloc(e->p, cap);
        if (!p) { e->oom = 1; return; }
        e->p = p;
        e->cap = cap;
    }
    e->p[e->size++] = b;
}

static inline void cabac_shift_low(CabacEncoder* e) {
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32);
        uint8_t b = e->cache;
        do { cabac_put_byte(e, (uint8_t)(b + carry)); b = 0xFF; } while (--e->cache_size != 0);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

static inline void cabac_encode_bin(CabacEncoder* e, CabacBin* ctx, int bit) {
    uint32_t bound = (e->range >> 16) * cabac_p0(ctx);
    if (bit) { e->low += bound; e->range -= bound; }
    else e->range = bound;
    cabac_update(ctx, bit);
    while (e->range < CABAC_TOP) { e->range <<= 8; cabac_shift_low(e); }
}

static inline void cabac_encode_bypass(CabacEncoder* e, int bit) {
    e->range >>= 1;
    if (bit) e->low += e->range;
    while (e->range < CABAC_TOP) { e->range <<= 8; cabac_shift_low(e); }
}

// encodes sym[0..n) (each < nsym) of a tensor with rows of `cols` weights and EG order k
// into a malloc'd chunk (*out, *out_size)
static inline int cabac_encode(const uint32_t* sym, size_t n, uint32_t nsym, int k, uint64_t cols, uint8_t** out, size_t* out_size) {
    *out = NULL;
    *out_size = 0;
    CabacEncoder e = {0, 0xFFFFFFFFu, 0, 1, NULL, 0, 0, 0};
    CabacContexts* m = (CabacContexts*)malloc(sizeof(CabacContexts));
    uint8_t* zs = (uint8_t*)malloc(n ? n : 1);
    if (!m || !zs) { free(m); free(zs); return bs_error_set(BS_ENOMEM, "CABAC: out of memory"); }
    cabac_contexts_init(m);
    const int zmax = eg_max_zeros(nsym, k);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)sym[i] + ((uint64_t)1 << k);
        int z = eg_floor_log2(x) - k;
        int cl = i > 0 ? cabac_class(zs[i - 1]) : 0, cu = i >= cols ? cabac_class(zs[i - cols]) : 0;
        int nc = 3 * cl + cu, ns = cl + cu < 2 ? cl + cu : 2;
        for (int j = 0; j < zmax; j++) {
            int bin = z > j;
            cabac_encode_bin(&e, &m->prefix[nc][j < CABAC_PREFIX_CTX ? j : CABAC_PREFIX_CTX - 1], bin);
            if (!bin) break;
        }
        int nbits = z + k, node = 1;
        CabacBin* tree = m->suffix[ns][z < CABAC_SUFFIX_Z ? z : CABAC_SUFFIX_Z - 1];
        for (int b = nbits - 1; b >= 0; b--) {
            int bit = (int)((x >> b) & 1);
            if (nbits - 1 - b < CABAC_SUFFIX_CODED) { cabac_encode_bin(&e, &tree[node], bit); node = 2 * node + bit; }
            else cabac_encode_bypass(&e, bit);
        }
        zs[i] = (uint8_t)z;
    }
    for (int i = 0; i < 5; i++) cabac_shift_low(&e);
    free(m);
    free(zs);
    if (e.oom) { free(e.p); return bs_error_set(BS_ENOMEM, "CABAC: out of memory"); }
    *out = e.p;
    *out_size = e.size;
    return BS_OK;
}

// ----------------------------------------------------------------------------
// decoder

// decodes n indices from a chunk of `size` bytes (rows of `cols` weights, EG order k, nsym
// indices): out_values[i] = values[r] when values is given, else out_index[i] = r.
// zs: scratch of n bytes. Returns 0, or -1 when the chunk is not a valid CABAC chunk of
// exactly n indices below nsym.
static inline __attribute__((always_inline)) int cabac_decode(const uint8_t* data, size_t size, size_t n, uint32_t nsym, int k,
                                                              uint64_t cols, uint8_t* zs, CabacContexts* m,
                                                              const float* values, float* out_values, uint32_t* out_index) {
    if (size < CABAC_MIN_BYTES || data[0] != 0) return -1;
    cabac_contexts_init(m);
    uint32_t range = 0xFFFFFFFFu, code = 0;
    size_t pos = 1;
    for (int i = 0; i < 4; i++) code = (code << 8) | data[pos++];
    const int zmax = eg_max_zeros(nsym, k);
#define CABAC_RENORM()                                                                \
    while (range < CABAC_TOP) {                                                       \
        range <<= 8;                                                                  \
        code = (code << 8) | (pos < size ? data[pos] : 0u);                           \
        pos++;                                                                        \
    }
#define CABAC_DECODE_BIN(ctx, bit)                                                    \
    do {                                                                              \
        CabacBin* c_ = (ctx);                                                         \
        uint32_t bound_ = (range >> 16) * cabac_p0(c_);                               \
        if (code < bound_) { range = bound_; (bit) = 0; }                             \
        else { code -= bound_; range -= bound_; (bit) = 1; }                          \
        cabac_update(c_, (bit));                                                      \
        CABAC_RENORM();                                                               \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        int cl = i > 0 ? cabac_class(zs[i - 1]) : 0, cu = i >= cols ? cabac_class(zs[i - cols]) : 0;
        int nc = 3 * cl + cu, ns = cl + cu < 2 ? cl + cu : 2;
        int z = 0;
        while (z < zmax) {
            int bin;
            CABAC_DECODE_BIN(&m->prefix[nc][z < CABAC_PREFIX_CTX ? z : CABAC_PREFIX_CTX - 1], bin);
            if (!bin) break;
            z++;
        }
        int nbits = z + k, node = 1;
        uint64_t x = 1;
        CabacBin* tree = m->suffix[ns][z < CABAC_SUFFIX_Z ? z : CABAC_SUFFIX_Z - 1];
        for (int b = 0; b < nbits; b++) {
            int bit;
            if (b < CABAC_SUFFIX_CODED) { CABAC_DECODE_BIN(&tree[node], bit); node = 2 * node + bit; }
            else {
                range >>= 1;
                bit = code >= range;
                code -= bit ? range : 0;
                CABAC_RENORM();
            }
            x = 2 * x + (uint64_t)bit;
        }
        uint64_t r = x - ((uint64_t)1 << k);
        if (r >= nsym) return -1;
        zs[i] = (uint8_t)z;
        if (values) out_values[i] = values[r];
        else out_index[i] = (uint32_t)r;
    }
#undef CABAC_DECODE_BIN
#undef CABAC_RENORM
    return pos == size ? 0 : -1;
}

#endif // LLMC_CABAC_H
