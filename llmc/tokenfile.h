/*
 tokenfile.h: llm.c's token file (the files the trainer reads: data/corpus_train.bin,
 data/corpus_val.bin), a checked reader and an atomic writer.

 Layout (little-endian), as llm.c's dev/data scripts write it:
   header: 256 int32   [0] = 20240520 (magic), [1] = 1 (version: uint16 GPT-2 tokens),
                       [2] = number of tokens, [3..255] = 0
   body:   uint16 tokens[number of tokens]
 The file size must be exactly 1024 + 2 * count. The format has no checksum; the reader
 checks the magic, the version and that the header's count matches the file size.
*/
#ifndef LLMC_TOKENFILE_H
#define LLMC_TOKENFILE_H

#include <stdint.h>
#include "utils.h"

#define TOKENFILE_MAGIC 20240520
#define TOKENFILE_VERSION 1
#define TOKENFILE_HEADER_INTS 256
#define TOKENFILE_HEADER_BYTES (TOKENFILE_HEADER_INTS * 4)
#define TOKENFILE_MAX_TOKENS 0x7FFFFFFFu // the count is an int32 in the header

// checks the header of `path` against its size and returns the token count
static inline int tokenfile_read_header(const char* path, size_t* num_tokens) {
    int64_t size = 0;
    FILE* f = bs_open_regular(path, &size);
    if (f == NULL) return BS_EIO; // the message says why
    if (size < TOKENFILE_HEADER_BYTES) {
        fclose(f);
        return bs_error_set(BS_EFORMAT, "%s: %lld bytes, too small for a token file (header is %d bytes)",
                            path, (long long)size, TOKENFILE_HEADER_BYTES);
    }
    uint8_t header[TOKENFILE_HEADER_BYTES];
    int rc = bs_read_exact(f, header, sizeof(header), path);
    fclose(f);
    if (rc != BS_OK) return rc;
    int32_t magic = (int32_t)load_u32le(header), version = (int32_t)load_u32le(header + 4);
    int32_t count = (int32_t)load_u32le(header + 8);
    if (magic != TOKENFILE_MAGIC)
        return bs_error_set(BS_EFORMAT, "%s: bad magic %d (expected %d, an llm.c token file)", path, magic, TOKENFILE_MAGIC);
    if (version != TOKENFILE_VERSION)
        return bs_error_set(BS_EFORMAT, "%s: unsupported version %d (expected %d: uint16 GPT-2 tokens)", path, version, TOKENFILE_VERSION);
    if (count < 0) return bs_error_set(BS_EFORMAT, "%s: negative token count %d in the header", path, count);
    int64_t expected = TOKENFILE_HEADER_BYTES + 2 * (int64_t)count;
    if (size != expected)
        return bs_error_set(BS_EFORMAT, "%s: header says %d tokens, so %lld bytes, but the file has %lld bytes",
                            path, count, (long long)expected, (long long)size);
    *num_tokens = (size_t)count;
    return BS_OK;
}

// reads the whole file; *tokens is malloc'd (free it), NULL when the file holds no tokens
static inline int tokenfile_read(const char* path, uint16_t** tokens, size_t* num_tokens) {
    *tokens = NULL;
    *num_tokens = 0;
    size_t count = 0;
    int rc = tokenfile_read_header(path, &count);
    if (rc != BS_OK) return rc;
    uint16_t* buf = NULL;
    if (count > 0) {
        buf = (uint16_t*)malloc(count * sizeof(uint16_t));
        if (buf == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory for %zu tokens", path, count);
        FILE* f = bs_open_regular(path, NULL);
        if (f == NULL) { free(buf); return BS_EIO; }
        rc = fseek(f, TOKENFILE_HEADER_BYTES, SEEK_SET) == 0 ? BS_OK
             : bs_error_set(BS_EIO, "%s: seek failed (%s)", path, strerror(errno));
        if (rc == BS_OK) rc = bs_read_exact(f, buf, count * sizeof(uint16_t), path);
        fclose(f);
        if (rc != BS_OK) { free(buf); return rc; }
    }
    *tokens = buf;
    *num_tokens = count;
    return BS_OK;
}

// writes `path` atomically (temporary file, then rename)
static inline int tokenfile_write(const char* path, const uint16_t* tokens, size_t num_tokens) {
    if (num_tokens > TOKENFILE_MAX_TOKENS)
        return bs_error_set(BS_ELIMIT, "%s: %zu tokens, more than a token file holds (%u)", path, num_tokens, TOKENFILE_MAX_TOKENS);
    uint8_t header[TOKENFILE_HEADER_BYTES];
    memset(header, 0, sizeof(header));
    store_u32le(header, TOKENFILE_MAGIC);
    store_u32le(header + 4, TOKENFILE_VERSION);
    store_u32le(header + 8, (uint32_t)num_tokens);
    AtomicFile af;
    int rc = atomic_open(&af, path);
    if (rc != BS_OK) return rc;
    rc = bs_write_exact(af.f, header, sizeof(header), af.tmp_path);
    if (rc == BS_OK) rc = bs_write_exact(af.f, tokens, num_tokens * sizeof(uint16_t), af.tmp_path);
    if (rc != BS_OK) { atomic_abort(&af); return rc; }
    return atomic_commit(&af);
}

#endif // LLMC_TOKENFILE_H
