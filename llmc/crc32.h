/*
 crc32.h: CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor
 0xFFFFFFFF), the same checksum as zlib's crc32() and PNG. Every file format of the
 project that we define stores a CRC-32 per section.

 Slicing-by-8 (Intel, Kounavis & Berry 2005): eight 256-entry tables let the loop
 consume 8 bytes per iteration; about 2-3 GB/s on one core here, so checksumming a
 checkpoint costs a small fraction of writing it.
 Check value: crc32("123456789") == 0xCBF43926.
*/
#ifndef LLMC_CRC32_H
#define LLMC_CRC32_H

#include <stddef.h>
#include <stdint.h>

static uint32_t crc32_tables[8][256];

// fills the tables before main() runs, so the lookups need no lazy initialisation
__attribute__((constructor)) static void crc32_tables_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc32_tables[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc32_tables[t - 1][i];
            crc32_tables[t][i] = (prev >> 8) ^ crc32_tables[0][prev & 0xFF];
        }
    }
}

// continues a running CRC: crc32_update(crc32_update(0, a), b) == crc32 of a then b
static inline uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
    const uint8_t* p = (const uint8_t*)data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc32_tables[7][lo & 0xFF] ^ crc32_tables[6][(lo >> 8) & 0xFF] ^
            crc32_tables[5][(lo >> 16) & 0xFF] ^ crc32_tables[4][lo >> 24] ^
            crc32_tables[3][hi & 0xFF] ^ crc32_tables[2][(hi >> 8) & 0xFF] ^
            crc32_tables[1][(hi >> 16) & 0xFF] ^ crc32_tables[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc32_tables[0][(c ^ *p++) & 0xFF];
    return ~c;
}

static inline uint32_t crc32_of(const void* data, size_t n) { return crc32_update(0, data, n); }

#endif // LLMC_CRC32_H
