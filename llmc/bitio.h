/*
 bitio.h: MSB-first bit writer and reader, the transport under the exp-Golomb coder
 (expgolomb.h) and the .bsz files (bsz.h, doc/format.md).

 Bit order: the first bit of a stream is the most significant bit of its first byte,
 so a code word reads left to right as it is written in the paper's Table 2
 ("010" is the byte 0b010xxxxx).

 Writer: a 64-bit accumulator holding up to 64 pending bits at its top. Whole bytes go
 out with one 8-byte big-endian store when the buffer has room for it, byte by byte
 near its end, so the writer never stores outside [start, end) -- several writers can
 fill adjacent regions of one buffer at the same time (bsz.h encodes chunks in parallel).

 Reader: bitreader_peek64() returns the next 64 bits of the stream (57 or more of them
 valid, bits past the end of the buffer read as zero) from one unaligned 8-byte load,
 or from a byte loop in the last 7 bytes. It never reads outside [data, data + size).
 The decoder keeps that window in a register and consumes code words from it with
 count-leading-zeros, refilling only when fewer bits remain than the longest code word.
*/
#ifndef LLMC_BITIO_H
#define LLMC_BITIO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

// ----------------------------------------------------------------------------
// writer

typedef struct {
    uint8_t* p;     // next byte to write
    uint8_t* end;   // one past the last byte this writer may touch
    uint64_t acc;   // pending bits, MSB-aligned
    int nbits;      // number of pending bits in acc (0..64)
    int overflow;   // set when a write did not fit (the stream is then invalid)
} BitWriter;

static inline void bitwriter_init(BitWriter* w, uint8_t* buf, size_t size) {
    w->p = buf;
    w->end = buf + size;
    w->acc = 0;
    w->nbits = 0;
    w->overflow = 0;
}

// moves the whole bytes of the accumulator to the buffer; afterwards nbits < 8
static inline void bitwriter_flush_bytes(BitWriter* w) {
    int nbytes = w->nbits >> 3;
    if (nbytes == 0) return;
    if (w->end - w->p >= 8) {
        uint64_t be = __builtin_bswap64(w->acc);
        memcpy(w->p, &be, 8); // bytes past nbytes are rewritten by later flushes
        w->p += nbytes;
    } else {
        for (int i = 0; i < nbytes; i++) {
            if (w->p < w->end) *w->p++ = (uint8_t)(w->acc >> (56 - 8 * i));
            else w->overflow = 1;
        }
    }
    w->acc = nbytes == 8 ? 0 : w->acc << (8 * nbytes);
    w->nbits &= 7;
}

// appends the low `len` bits of `value` (1 <= len <= 56), most significant first
static inline void bitwriter_put(BitWriter* w, uint64_t value, int len) {
    if (w->nbits + len > 64) bitwriter_flush_bytes(w);
    w->acc |= value << (64 - w->nbits - len);
    w->nbits += len;
}

// flushes everything, padding the last byte with zero bits; returns bytes written
static inline size_t bitwriter_finish(BitWriter* w, uint8_t* start) {
    bitwriter_flush_bytes(w);
    if (w->nbits > 0) {
        if (w->p < w->end) *w->p++ = (uint8_t)(w->acc >> 56);
        else w->overflow = 1;
        w->acc = 0;
        w->nbits = 0;
    }
    return (size_t)(w->p - start);
}

// ----------------------------------------------------------------------------
// reader

// the 64 bits of the stream starting at bit `pos`; bits beyond data[size) are zero.
// At least 57 of the returned bits are stream bits (64 - pos % 8).
static inline uint64_t bitreader_peek64(const uint8_t* data, size_t size, uint64_t pos) {
    uint64_t byte = pos >> 3;
    uint64_t v;
    if (byte + 8 <= size) {
        memcpy(&v, data + byte, 8);
        v = __builtin_bswap64(v);
    } else {
        v = 0;
        for (int i = 0; i < 8; i++) {
            uint64_t b = byte + (uint64_t)i < size ? data[byte + (uint64_t)i] : 0;
            v |= b << (56 - 8 * i);
        }
    }
    return v << (pos & 7);
}

// reads `len` bits (1 <= len <= 57) at *pos and advances it
static inline uint64_t bitreader_get(const uint8_t* data, size_t size, uint64_t* pos, int len) {
    uint64_t v = bitreader_peek64(data, size, *pos) >> (64 - len);
    *pos += (uint64_t)len;
    return v;
}

#endif // LLMC_BITIO_H
