/*
 labeled_tokens.h: a file of labeled token sequences, one per message (the SpamAssassin
 classification data: data/spam_train.bin, data/spam_test.bin), a checked reader and an
 atomic writer. doc/data.md describes how the messages are chosen and split.

 Layout (little-endian); the header mirrors llm.c's token files so tools can tell them apart:
   header:  256 int32  [0] = 20250601 (magic), [1] = 1 (version), [2] = N messages,
                       [3] = T tokens in all, [4] = K classes (labels are 0..K-1),
                       [5] = CRC-32 (IEEE) of the records and tokens, [6..255] = 0
   records: N x { uint32 label, uint32 num_tokens }     (sum of num_tokens == T)
   tokens:  T x uint16, the messages' tokens one after another in record order
 The file size must be exactly 1024 + 8 N + 2 T.
*/
#ifndef LLMC_LABELED_TOKENS_H
#define LLMC_LABELED_TOKENS_H

#include <stdint.h>
#include "crc32.h"
#include "utils.h"

#define LABELED_TOKENS_MAGIC 20250601
#define LABELED_TOKENS_VERSION 1
#define LABELED_TOKENS_HEADER_BYTES 1024
#define LABELED_TOKENS_MAX_COUNT 0x7FFFFFFFu // N and T are int32 in the header

typedef struct {
    size_t num_messages;  // N
    size_t num_tokens;    // T
    int num_classes;      // K
    uint32_t* labels;     // (N) label of each message, < K
    uint64_t* offsets;    // (N + 1) message i is tokens[offsets[i] .. offsets[i + 1])
    uint16_t* tokens;     // (T)
} LabeledTokens;

static inline void labeled_tokens_free(LabeledTokens* lt) {
    free(lt->labels);
    free(lt->offsets);
    free(lt->tokens);
    memset(lt, 0, sizeof(*lt));
}

// reads and checks `path` into *lt (free with labeled_tokens_free); on error *lt is empty
static inline int labeled_tokens_read(const char* path, LabeledTokens* lt) {
    memset(lt, 0, sizeof(*lt));
    size_t size = 0;
    uint8_t* file = bs_read_file(path, (size_t)1 << 34, &size);
    if (file == NULL) return BS_EIO; // bs_read_file set the message
    int rc = BS_OK;
    if (size < LABELED_TOKENS_HEADER_BYTES) {
        rc = bs_error_set(BS_EFORMAT, "%s: %zu bytes, too small for a labeled token file (header is %d bytes)",
                          path, size, LABELED_TOKENS_HEADER_BYTES);
        goto done;
    }
    {
        int32_t magic = (int32_t)load_u32le(file), version = (int32_t)load_u32le(file + 4);
        int32_t n = (int32_t)load_u32le(file + 8), t = (int32_t)load_u32le(file + 12);
        int32_t k = (int32_t)load_u32le(file + 16);
        uint32_t crc_stored = load_u32le(file + 20);
        if (magic != LABELED_TOKENS_MAGIC) {
            rc = bs_error_set(BS_EFORMAT, "%s: bad magic %d (expected %d, a labeled token file)", path, magic, LABELED_TOKENS_MAGIC);
            goto done;
        }
        if (version != LABELED_TOKENS_VERSION) {
            rc = bs_error_set(BS_EFORMAT, "%s: unsupported version %d (expected %d)", path, version, LABELED_TOKENS_VERSION);
            goto done;
        }
        if (n < 0 || t < 0 || k < 1) {
            rc = bs_error_set(BS_EFORMAT, "%s: bad header counts (messages %d, tokens %d, classes %d)", path, n, t, k);
            goto done;
        }
        uint64_t expected = LABELED_TOKENS_HEADER_BYTES + 8 * (uint64_t)n + 2 * (uint64_t)t;
        if ((uint64_t)size != expected) {
            rc = bs_error_set(BS_EFORMAT, "%s: header says %d messages and %d tokens, so %llu bytes, but the file has %zu bytes",
                              path, n, t, (unsigned long long)expected, size);
            goto done;
        }
        uint32_t crc = crc32_of(file + LABELED_TOKENS_HEADER_BYTES, size - LABELED_TOKENS_HEADER_BYTES);
        if (crc != crc_stored) {
            rc = bs_error_set(BS_ECHECKSUM, "%s: CRC-32 mismatch (stored %08x, computed %08x): the file is corrupt",
                              path, crc_stored, crc);
            goto done;
        }
        lt->num_messages = (size_t)n;
        lt->num_tokens = (size_t)t;
        lt->num_classes = k;
        lt->labels = (uint32_t*)malloc(((size_t)n + 1) * sizeof(uint32_t));
        lt->offsets = (uint64_t*)malloc(((size_t)n + 1) * sizeof(uint64_t));
        lt->tokens = (uint16_t*)malloc(((size_t)t + 1) * sizeof(uint16_t));
        if (lt->labels == NULL || lt->offsets == NULL || lt->tokens == NULL) {
            rc = bs_error_set(BS_ENOMEM, "%s: out of memory for %d messages and %d tokens", path, n, t);
            goto done;
        }
        const uint8_t* records = file + LABELED_TOKENS_HEADER_BYTES;
        uint64_t offset = 0;
        for (int32_t i = 0; i < n; i++) {
            uint32_t label = load_u32le(records + 8 * (size_t)i), len = load_u32le(records + 8 * (size_t)i + 4);
            if (label >= (uint32_t)k) {
                rc = bs_error_set(BS_EFORMAT, "%s: message %d has label %u, not below the %d classes", path, i, label, k);
                goto done;
            }
            lt->labels[i] = label;
            lt->offsets[i] = offset;
            offset += len;
        }
        lt->offsets[n] = offset;
        if (offset != (uint64_t)t) {
            rc = bs_error_set(BS_EFORMAT, "%s: the messages' lengths add up to %llu tokens, the header says %d",
                              path, (unsigned long long)offset, t);
            goto done;
        }
        memcpy(lt->tokens, records + 8 * (size_t)n, (size_t)t * sizeof(uint16_t));
    }
done:
    free(file);
    if (rc != BS_OK) labeled_tokens_free(lt);
    return rc;
}

// writes num_messages messages atomically: message i has label labels[i] (< num_classes)
// and the tokens tokens[offsets[i] .. offsets[i + 1])
static inline int labeled_tokens_write(const char* path, const uint32_t* labels, const uint64_t* offsets,
                                       size_t num_messages, int num_classes, const uint16_t* tokens) {
    uint64_t num_tokens = num_messages ? offsets[num_messages] - offsets[0] : 0;
    if (num_messages > LABELED_TOKENS_MAX_COUNT || num_tokens > LABELED_TOKENS_MAX_COUNT)
        return bs_error_set(BS_ELIMIT, "%s: %zu messages and %llu tokens, more than the format holds",
                            path, num_messages, (unsigned long long)num_tokens);
    if (num_classes < 1) return bs_error_set(BS_EINVAL, "%s: %d classes", path, num_classes);
    size_t records_bytes = 8 * num_messages;
    uint8_t* records = (uint8_t*)malloc(records_bytes ? records_bytes : 1);
    if (records == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < num_messages; i++) {
        if (labels[i] >= (uint32_t)num_classes || offsets[i + 1] < offsets[i] || offsets[i + 1] - offsets[i] > UINT32_MAX) {
            free(records);
            return bs_error_set(BS_EINVAL, "%s: message %zu has label %u (of %d classes) or a bad length", path, i, labels[i], num_classes);
        }
        store_u32le(records + 8 * i, labels[i]);
        store_u32le(records + 8 * i + 4, (uint32_t)(offsets[i + 1] - offsets[i]));
    }
    const uint16_t* first = num_messages ? tokens + offsets[0] : tokens;
    uint32_t crc = crc32_update(crc32_of(records, records_bytes), first, (size_t)num_tokens * sizeof(uint16_t));
    uint8_t header[LABELED_TOKENS_HEADER_BYTES];
    memset(header, 0, sizeof(header));
    store_u32le(header, LABELED_TOKENS_MAGIC);
    store_u32le(header + 4, LABELED_TOKENS_VERSION);
    store_u32le(header + 8, (uint32_t)num_messages);
    store_u32le(header + 12, (uint32_t)num_tokens);
    store_u32le(header + 16, (uint32_t)num_classes);
    store_u32le(header + 20, crc);
    AtomicFile af;
    int rc = atomic_open(&af, path);
    if (rc == BS_OK) {
        rc = bs_write_exact(af.f, header, sizeof(header), af.tmp_path);
        if (rc == BS_OK) rc = bs_write_exact(af.f, records, records_bytes, af.tmp_path);
        if (rc == BS_OK) rc = bs_write_exact(af.f, first, (size_t)num_tokens * sizeof(uint16_t), af.tmp_path);
        if (rc == BS_OK) rc = atomic_commit(&af);
        else atomic_abort(&af);
    }
    free(records);
    return rc;
}

#endif // LLMC_LABELED_TOKENS_H
