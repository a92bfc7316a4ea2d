/*
 expgolomb.h: exp-Golomb codes of order k (EG-k), the entropy code of .bsz files
 (doc/method.md section 5; BackSlash paper, Table 2; Wen & Villasenor 1999).

 EG-k of an integer n >= 0: let x = n + 2^k, written in binary with b bits
 (b = floor(log2 x) + 1, so its top bit is 1); the code word is b - k - 1 zeros followed
 by those b bits. Its length is

     len_k(n) = 2 b - k - 1 = 2 floor(log2(n + 2^k)) - k + 1.

 EG-0: 0 -> 1, 1 -> 010, 2 -> 011, 3 -> 00100, 4 -> 00101, ...
 EG-1: 0 -> 10, 1 -> 11, 2 -> 0100, 3 -> 0101, 4 -> 0110, ...
 The code word, read as a binary number of len bits, is simply x; so the encoder is one
 bitwriter_put(x, len) and the decoder counts the leading zeros z of its bit window,
 takes len = 2 z + k + 1 bits as x and returns x - 2^k.

 Limits: k <= EG_MAX_K and n < EG_MAX_INDEX, so x < 2^25 and a code word is at most
 49 bits, which always fits in the 57 valid bits of bitreader_peek64().
*/
#ifndef LLMC_EXPGOLOMB_H
#define LLMC_EXPGOLOMB_H

#include <stdint.h>
#include "bitio.h"

#define EG_MAX_K 8
#define EG_MAX_INDEX ((uint32_t)1 << 24) // value-map indices are below this (valuemap.h)

static inline int eg_floor_log2(uint64_t x) { return 63 - __builtin_clzll(x); } // x > 0

// length in bits of the EG-k code word of n
static inline int eg_length(uint32_t n, int k) {
    return 2 * eg_floor_log2((uint64_t)n + ((uint64_t)1 << k)) - k + 1;
}

// largest number of leading zeros of a valid EG-k code word for an index below `count`
// (count >= 1): the decoder's bound for rejecting corrupt streams
static inline int eg_max_zeros(uint32_t count, int k) {
    return eg_floor_log2((uint64_t)(count - 1) + ((uint64_t)1 << k)) - k;
}

// longest code word for an index below `count`
static inline int eg_max_length(uint32_t count, int k) { return eg_length(count - 1, k); }

static inline void eg_encode(BitWriter* w, uint32_t n, int k) {
    uint64_t x = (uint64_t)n + ((uint64_t)1 << k);
    bitwriter_put(w, x, 2 * eg_floor_log2(x) - k + 1);
}

// decodes one code word at bit *pos; returns 0 and sets *n, or -1 when the stream
// holds no valid code word for an index below `count` there (a corrupt stream)
static inline int eg_decode(const uint8_t* data, size_t size, uint64_t* pos, int k, uint32_t count, uint32_t* n) {
    uint64_t window = bitreader_peek64(data, size, *pos);
    if (window == 0) return -1;
    int z = __builtin_clzll(window);
    if (z > eg_max_zeros(count, k)) return -1;
    int len = 2 * z + k + 1;
    uint64_t x = window >> (64 - len);
    uint64_t v = x - ((uint64_t)1 << k);
    if (v >= count) return -1;
    *pos += (uint64_t)len;
    *n = (uint32_t)v;
    return 0;
}

#endif // LLMC_EXPGOLOMB_H
