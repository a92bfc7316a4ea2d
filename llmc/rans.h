/*
 rans.h: range asymmetric numeral systems (rANS, Duda 2013) over value-map indices with a
 static histogram: one of the .bsz coders (bsz.h, doc/format.md "rANS chunks").
 The construction follows the classic description (F. Giesen, "Interleaved entropy coders",
 2014, and his ryg_rans notes); the code is ours.

 Model. A tensor's alphabet is its value-map indices 0..S-1 (S <= RANS_MAX_SYMBOLS); each
 symbol s has a quantized frequency f_s (sum over s = M = 2^RANS_PROB_BITS, f_s >= 1 for
 every symbol that occurs, 0 for the others) and a start c_s = f_0 + ... + f_{s-1}. Coding
 s costs about log2(M / f_s) bits, so the code length is the order-0 entropy plus the
 Kullback-Leibler divergence between the counts and f / M (rans_quantize_freqs keeps it
 small by a greedy search), plus a few bytes per chunk for the final states.

 State x, a 32-bit integer in [L, 2^32) with L = 2^16; the stream is 16-bit words.
   encode s:  if x >= f_s * 2^(32 - RANS_PROB_BITS): emit the low 16 bits, x >>= 16
              x = (x / f_s) * M + c_s + (x mod f_s)
   decode:    slot = x mod M; s = the symbol with c_s <= slot < c_s + f_s
              x = f_s * (x / M) + slot - c_s
              if x < L: x = (x << 16) | next word
 With L = 2^16 and 16-bit words one renormalization step always suffices, in both
 directions, and the decode step keeps x in [L, 2^32) whatever the stream holds (x / M >= 2
 and f_s >= 1), so a corrupt stream can never make the decoder misbehave.

 Interleaving. RANS_LANES independent states: symbol i uses state i mod RANS_LANES. They
 share one word stream (the encoder runs backwards over the symbols and emits words last
 first; the decoder reads them forwards), so a decoder runs the lanes' dependency chains in
 parallel in one loop body.

 Chunk layout (what bsz.h stores for one chunk):
   RANS_LANES x u32   the encoder's final states = the decoder's initial states, lane 0 first
   u16 words          in the order the decoder reads them
 all little-endian. A chunk is valid when every initial state is >= L, the decoder reads
 exactly the chunk's words, and every state ends at L (the encoder's initial state).
*/
#ifndef LLMC_RANS_H
#define LLMC_RANS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "utils.h"

#define RANS_PROB_BITS 15
#define RANS_PROB_SCALE (1u << RANS_PROB_BITS)
#define RANS_L (1u << 16)
#define RANS_LANES 4
#define RANS_STATE_BYTES (4 * RANS_LANES)
#define RANS_MAX_SYMBOLS 4096u // alphabet limit: the frequency search is O(S) per step

static inline uint32_t load_u16le_ref_(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

// ----------------------------------------------------------------------------
// frequencies

// quantizes counts[0..n) (n <= RANS_MAX_SYMBOLS, at least one non-zero) to freq[0..n) with
// sum M, freq[s] >= 1 exactly where counts[s] > 0, minimising the code length
// sum counts[s] * log2(M / freq[s]): proportional rounding, then greedy single steps
// (take one unit from the symbol that loses least, give it to the one that gains most)
// until no step shortens the code. Returns BS_OK or BS_EINVAL.
static inline int rans_quantize_freqs(const uint64_t* counts, uint32_t n, uint32_t* freq) {
    uint64_t total = 0;
    uint32_t used = 0;
    for (uint32_t s = 0; s < n; s++) { total += counts[s]; used += counts[s] != 0; }
    if (n == 0 || n > RANS_MAX_SYMBOLS || total == 0 || used > RANS_PROB_SCALE)
        return bs_error_set(BS_EINVAL, "rANS: cannot build frequencies for %u symbols (%u used)", n, used);
    int64_t sum = 0;
    for (uint32_t s = 0; s < n; s++) {
        if (counts[s] == 0) { freq[s] = 0; continue; }
        double f = (double)counts[s] * (double)RANS_PROB_SCALE / (double)total;
        freq[s] = f < 1.0 ? 1u : (uint32_t)(f + 0.5);
        sum += freq[s];
    }
    // sum to M: remove from / add to the symbols where a unit changes the length least
    while (sum != (int64_t)RANS_PROB_SCALE) {
        int64_t best = -1;
        double best_cost = INFINITY;
        for (uint32_t s = 0; s < n; s++) {
            if (counts[s] == 0 || (sum > (int64_t)RANS_PROB_SCALE && freq[s] <= 1)) continue;
            double c = (double)counts[s];
            double cost = sum > (int64_t)RANS_PROB_SCALE ? c * log2((double)freq[s] / (double)(freq[s] - 1))
                                                         : -c * log2((double)(freq[s] + 1) / (double)freq[s]);
            if (cost < best_cost) { best_cost = cost; best = (int64_t)s; }
        }
        if (best < 0) return bs_error_set(BS_EINVAL, "rANS: frequencies do not fit"); // cannot happen: used <= M
        if (sum > (int64_t)RANS_PROB_SCALE) { freq[best]--; sum--; }
        else { freq[best]++; sum++; }
    }
    // greedy moves of one unit while they shorten the code
    for (int iter = 0; iter < 1024; iter++) { // each move gains; the last ones gain little
        int64_t give = -1, take = -1;
        double gain = 0.0, loss = INFINITY;
        for (uint32_t s = 0; s < n; s++) {
            if (counts[s] == 0) continue;
            double c = (double)counts[s];
            double g = c * log2((double)(freq[s] + 1) / (double)freq[s]);
            if (g > gain) { gain = g; give = (int64_t)s; }
            if (freq[s] > 1) {
                double l = c * log2((double)freq[s] / (double)(freq[s] - 1));
                if (l < loss) { loss = l; take = (int64_t)s; }
            }
        }
        if (give < 0 || take < 0 || give == take || gain <= loss + 1e-9) break;
        freq[give]++;
        freq[take]--;
    }
    return BS_OK;
}

// code length in bits of the counts under freq (the static part of the rANS cost)
static inline double rans_code_bits(const uint64_t* counts, const uint32_t* freq, uint32_t n) {
    double bits = 0.0;
    for (uint32_t s = 0; s < n; s++)
        if (counts[s]) bits += (double)counts[s] * ((double)RANS_PROB_BITS - log2((double)freq[s]));
    return bits;
}

// ----------------------------------------------------------------------------
// encoder

// encodes sym[0..n) (each < nsym, with freq[sym] > 0) into a malloc'd chunk (*out, *out_size)
static inline int rans_encode(const uint32_t* sym, size_t n, const uint32_t* freq, uint32_t nsym, uint8_t** out, size_t* out_size) {
    *out = NULL;
    *out_size = 0;
    uint32_t* start = (uint32_t*)malloc((size_t)nsym * sizeof(uint32_t));
    // one word at most per symbol, written backwards from the end
    uint16_t* words = (uint16_t*)malloc((n + 1) * sizeof(uint16_t));
    if (!start || !words) { free(start); free(words); return bs_error_set(BS_ENOMEM, "rANS: out of memory"); }
    uint32_t c = 0;
    for (uint32_t s = 0; s < nsym; s++) { start[s] = c; c += freq[s]; }
    uint32_t x[RANS_LANES];
    for (int j = 0; j < RANS_LANES; j++) x[j] = RANS_L;
    size_t w = n + 1;
    for (size_t i = n; i-- > 0;) {
        uint32_t s = sym[i], f = freq[s];
        uint32_t* st = &x[i % RANS_LANES];
        uint64_t x_max = (uint64_t)f << (32 - RANS_PROB_BITS); // (L >> PROB_BITS) << 16, times f
        if ((uint64_t)*st >= x_max) { words[--w] = (uint16_t)(*st & 0xffff); *st >>= 16; }
        *st = ((*st / f) << RANS_PROB_BITS) + (*st % f) + start[s];
    }
    size_t nwords = n + 1 - w;
    size_t size = RANS_STATE_BYTES + 2 * nwords;
    uint8_t* buf = (uint8_t*)malloc(size);
    if (!buf) { free(start); free(words); return bs_error_set(BS_ENOMEM, "rANS: out of memory"); }
    for (int j = 0; j < RANS_LANES; j++) store_u32le(buf + 4 * j, x[j]);
    for (size_t i = 0; i < nwords; i++) {
        buf[RANS_STATE_BYTES + 2 * i] = (uint8_t)(words[w + i] & 0xff);
        buf[RANS_STATE_BYTES + 2 * i + 1] = (uint8_t)(words[w + i] >> 8);
    }
    free(start);
    free(words);
    *out = buf;
    *out_size = size;
    return BS_OK;
}

// ----------------------------------------------------------------------------
// decoder

typedef struct {
    uint32_t* step;  // (M) per slot: f_s << 16 | (slot - c_s)
    uint16_t* sym;   // (M) per slot: s
} RansDecodeTable;

static inline void rans_table_free(RansDecodeTable* t) { free(t->step); free(t->sym); t->step = NULL; t->sym = NULL; }

// builds the slot tables from frequencies that sum to M (the caller checked that)
static inline int rans_table_build(RansDecodeTable* t, const uint32_t* freq, uint32_t nsym) {
    t->step = (uint32_t*)malloc(RANS_PROB_SCALE * sizeof(uint32_t));
    t->sym = (uint16_t*)malloc(RANS_PROB_SCALE * sizeof(uint16_t));
    if (!t->step || !t->sym) { rans_table_free(t); return bs_error_set(BS_ENOMEM, "rANS: out of memory for a decode table"); }
    uint32_t c = 0;
    for (uint32_t s = 0; s < nsym; s++)
        for (uint32_t k = 0; k < freq[s]; k++, c++) {
            t->step[c] = freq[s] << 16 | k;
            t->sym[c] = (uint16_t)s;
        }
    return BS_OK;
}

// one decode step of state *x; the renormalization word is read by the caller. The two
// table loads depend only on the slot (no load waits for another), and there is no division.
// (A 64 KB variant, symbol from the slot, then f_s and c_s from a per-symbol table, was
// measured slower on a sparse model: its second load waits for the first.)
#define RANS_DECODE_STEP(x, s)                                                        \
    do {                                                                              \
        uint32_t slot_ = (x) & (RANS_PROB_SCALE - 1);                                 \
        uint32_t e_ = table->step[slot_];                                             \
        (s) = table->sym[slot_];                                                      \
        (x) = (e_ >> 16) * ((x) >> RANS_PROB_BITS) + (e_ & 0xffff);                   \
    } while (0)

// the reference decoder (tests compare the fast one against it): no tables, the symbol of a
// slot found by a linear search of the cumulative frequencies, one lane at a time, every
// read checked. Same contract and results as rans_decode.
static inline int rans_decode_reference(const uint32_t* freq, uint32_t nsym, const uint8_t* data, size_t size, size_t n, uint32_t* out_index) {
    if (size < RANS_STATE_BYTES || (size - RANS_STATE_BYTES) % 2 != 0) return -1;
    uint32_t x[RANS_LANES];
    for (int j = 0; j < RANS_LANES; j++) { x[j] = load_u32le(data + 4 * j); if (x[j] < RANS_L) return -1; }
    const size_t nwords = (size - RANS_STATE_BYTES) / 2;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t* st = &x[i % RANS_LANES];
        uint32_t slot = *st % RANS_PROB_SCALE, c = 0, s = 0;
        while (s < nsym && c + freq[s] <= slot) c += freq[s++];
        if (s == nsym) return -1; // cannot happen when the frequencies sum to M
        *st = freq[s] * (*st / RANS_PROB_SCALE) + slot - c;
        if (*st < RANS_L) {
            if (pos >= nwords) return -1;
            *st = (*st << 16) | load_u16le_ref_(data + RANS_STATE_BYTES + 2 * pos);
            pos++;
        }
        out_index[i] = s;
    }
    for (int j = 0; j < RANS_LANES; j++)
        if (x[j] != RANS_L) return -1;
    return pos == nwords ? 0 : -1;
}

// decodes n symbols from a chunk of `size` bytes: out_values[i] = values[s] when values is
// given, else out_index[i] = s. Returns 0, or -1 when the chunk is not a valid rANS chunk
// of exactly n symbols (it never reads outside [data, data + size)).
static inline __attribute__((always_inline)) int rans_decode(const RansDecodeTable* table, const uint8_t* data, size_t size,
                                                             size_t n, const float* values, float* out_values, uint32_t* out_index) {
    if (size < RANS_STATE_BYTES || (size - RANS_STATE_BYTES) % 2 != 0) return -1;
    uint32_t x0 = load_u32le(data), x1 = load_u32le(data + 4), x2 = load_u32le(data + 8), x3 = load_u32le(data + 12);
    if (x0 < RANS_L || x1 < RANS_L || x2 < RANS_L || x3 < RANS_L) return -1;
    const uint8_t* w = data + RANS_STATE_BYTES;
    const size_t nwords = (size - RANS_STATE_BYTES) / 2;
    size_t pos = 0, i = 0;
    // fast loop: four symbols while four words are left, so the reads need no check
#define RANS_RENORM_FAST(x)                                                           \
    do {                                                                              \
        uint32_t r_ = (x) < RANS_L;                                                   \
        uint32_t word_ = (uint32_t)w[2 * pos] | (uint32_t)w[2 * pos + 1] << 8;         \
        (x) = r_ ? ((x) << 16) | word_ : (x);                                         \
        pos += r_;                                                                    \
    } while (0)
    for (; i + RANS_LANES <= n && pos + RANS_LANES <= nwords; i += RANS_LANES) {
        uint32_t s0, s1, s2, s3;
        RANS_DECODE_STEP(x0, s0);
        RANS_DECODE_STEP(x1, s1);
        RANS_DECODE_STEP(x2, s2);
        RANS_DECODE_STEP(x3, s3);
        RANS_RENORM_FAST(x0);
        RANS_RENORM_FAST(x1);
        RANS_RENORM_FAST(x2);
        RANS_RENORM_FAST(x3);
        if (values) {
            out_values[i] = values[s0]; out_values[i + 1] = values[s1]; out_values[i + 2] = values[s2]; out_values[i + 3] = values[s3];
        } else {
            out_index[i] = s0; out_index[i + 1] = s1; out_index[i + 2] = s2; out_index[i + 3] = s3;
        }
    }
#undef RANS_RENORM_FAST
    // the rest one symbol at a time, every read checked
    uint32_t x[RANS_LANES] = {x0, x1, x2, x3};
    for (; i < n; i++) {
        uint32_t* st = &x[i % RANS_LANES];
        uint32_t s;
        RANS_DECODE_STEP(*st, s);
        if (*st < RANS_L) {
            if (pos >= nwords) return -1;
            *st = (*st << 16) | (uint32_t)w[2 * pos] | (uint32_t)w[2 * pos + 1] << 8;
            pos++;
        }
        if (values) out_values[i] = values[s];
        else out_index[i] = s;
    }
    for (int j = 0; j < RANS_LANES; j++)
        if (x[j] != RANS_L) return -1;
    return pos == nwords ? 0 : -1;
}

#endif // LLMC_RANS_H
