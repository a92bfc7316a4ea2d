/*
 train_state.h: the full training state, for resume: a sectioned file that other features
 extend with sections of their own without touching the others.

 Layout (little-endian):
   header (16 bytes): magic "BSTS" (0x53545342), version 1, number of sections, 0
   then per section:
     tag    char[16], NUL-padded ("config", "params", "adam_m", ...)
     size   uint64, bytes of data
     crc32  uint32 of the data (crc32.h), then 4 reserved bytes, zero
     data   size bytes
 Sections written by the CPU trainer (train_gpt2.c):
   config  6 x int32: max_seq_len, vocab_size, padded_vocab_size, num_layers, num_heads, channels
   params  fp32 x num_params (llm.c's order)     adam_m, adam_v  fp32 x num_params
   step    int64: steps completed
   loader  DataLoaderState of the training loader (3 x uint64)
   rng     uint64: the trainer's sampling RNG state
   dggr    BackSlash's per-tensor weight moments (llmc/dggr.h, dggr_state_write), so that
           a resumed run estimates the same nu bit for bit
   run     int32 x 2: B, T of the run (a resume with another B or T is refused)
   world, val_loss, run_config   (train_checkpoint.h)
 A reader looks sections up by tag and ignores tags it does not know (a newer feature's),
 so that adding a section never breaks an older reader; it refuses a bad magic, an
 unknown version, a truncated file or a section whose CRC does not match.
*/
#ifndef LLMC_TRAIN_STATE_H
#define LLMC_TRAIN_STATE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "crc32.h"
#include "utils.h"

#define TRAIN_STATE_MAGIC 0x53545342u // "BSTS" little-endian
#define TRAIN_STATE_VERSION 1
#define TRAIN_STATE_TAG_MAX 16
#define TRAIN_STATE_MAX_SECTIONS 64

// ----------------------------------------------------------------------------
// writing

typedef struct {
    AtomicFile af;
    uint32_t num_sections;
    int failed;
} TrainStateWriter;

static inline int train_state_writer_open(TrainStateWriter* w, const char* path) {
    memset(w, 0, sizeof(*w));
    int rc = atomic_open(&w->af, path);
    if (rc != BS_OK) return rc;
    uint8_t header[16] = {0};
    store_u32le(header, TRAIN_STATE_MAGIC);
    store_u32le(header + 4, TRAIN_STATE_VERSION);
    // the section count is patched in at commit
    rc = bs_write_exact(w->af.f, header, sizeof(header), path);
    if (rc != BS_OK) { atomic_abort(&w->af); w->failed = 1; }
    return rc;
}

static inline int train_state_write_section(TrainStateWriter* w, const char* tag, const void* data, size_t size) {
    if (w->failed) return BS_EIO;
    if (strlen(tag) >= TRAIN_STATE_TAG_MAX || w->num_sections >= TRAIN_STATE_MAX_SECTIONS) {
        atomic_abort(&w->af);
        w->failed = 1;
        return bs_error_set(BS_EINVAL, "%s: bad section tag \"%s\" or too many sections", w->af.path, tag);
    }
    uint8_t head[TRAIN_STATE_TAG_MAX + 16] = {0};
    memcpy(head, tag, strlen(tag));
    store_u64le(head + TRAIN_STATE_TAG_MAX, (uint64_t)size);
    store_u32le(head + TRAIN_STATE_TAG_MAX + 8, crc32_of(data, size));
    int rc = bs_write_exact(w->af.f, head, sizeof(head), w->af.path);
    if (rc == BS_OK) rc = bs_write_exact(w->af.f, data, size, w->af.path);
    if (rc != BS_OK) { atomic_abort(&w->af); w->failed = 1; return rc; }
    w->num_sections++;
    return BS_OK;
}

static inline int train_state_writer_commit(TrainStateWriter* w) {
    if (w->failed) return BS_EIO;
    uint8_t count[4];
    store_u32le(count, w->num_sections);
    if (fseek(w->af.f, 8, SEEK_SET) != 0 || fwrite(count, 1, 4, w->af.f) != 4) {
        int e = errno;
        atomic_abort(&w->af);
        return bs_error_set(BS_EIO, "%s: write failed (%s)", w->af.path, strerror(e));
    }
    return atomic_commit(&w->af);
}

static inline void train_state_writer_abort(TrainStateWriter* w) {
    if (!w->failed) atomic_abort(&w->af);
    w->failed = 1;
}

// ----------------------------------------------------------------------------
// reading: the whole file in memory, sections checked and indexed

typedef struct {
    char tag[TRAIN_STATE_TAG_MAX];
    const uint8_t* data;
    uint64_t size;
} TrainStateSection;

typedef struct {
    char path[1024];
    uint8_t* file;
    size_t file_size;
    int num_sections;
    TrainStateSection sections[TRAIN_STATE_MAX_SECTIONS];
} TrainState;

static inline void train_state_free(TrainState* ts) {
    free(ts->file);
    memset(ts, 0, sizeof(*ts));
}

static inline int train_state_read(const char* path, TrainState* ts) {
    memset(ts, 0, sizeof(*ts));
    snprintf(ts->path, sizeof(ts->path), "%s", path);
    ts->file = bs_read_file(path, (size_t)1 << 40, &ts->file_size);
    if (ts->file == NULL) return BS_EIO; // message set by bs_read_file
    const uint8_t* f = ts->file;
    size_t n = ts->file_size;
    int rc = BS_OK;
    if (n < 16) rc = bs_error_set(BS_EFORMAT, "%s: %zu bytes, too short for a training state", path, n);
    else if (load_u32le(f) != TRAIN_STATE_MAGIC)
        rc = bs_error_set(BS_EFORMAT, "%s: bad magic 0x%08x (expected 0x%08x, a backslash training state)", path, load_u32le(f), TRAIN_STATE_MAGIC);
    else if (load_u32le(f + 4) != TRAIN_STATE_VERSION)
        rc = bs_error_set(BS_EFORMAT, "%s: unsupported version %u (expected %d)", path, load_u32le(f + 4), TRAIN_STATE_VERSION);
    else if (load_u32le(f + 8) > TRAIN_STATE_MAX_SECTIONS)
        rc = bs_error_set(BS_EFORMAT, "%s: %u sections, more than the limit %d", path, load_u32le(f + 8), TRAIN_STATE_MAX_SECTIONS);
    size_t pos = 16;
    for (uint32_t s = 0; rc == BS_OK && s < load_u32le(f + 8); s++) {
        if (n - pos < TRAIN_STATE_TAG_MAX + 16) { rc = bs_error_set(BS_EFORMAT, "%s: truncated in the header of section %u", path, s); break; }
        TrainStateSection* sec = &ts->sections[s];
        memcpy(sec->tag, f + pos, TRAIN_STATE_TAG_MAX);
        if (sec->tag[TRAIN_STATE_TAG_MAX - 1] != '\0' || sec->tag[0] == '\0') {
            rc = bs_error_set(BS_EFORMAT, "%s: section %u has a malformed tag", path, s);
            break;
        }
        sec->size = load_u64le(f + pos + TRAIN_STATE_TAG_MAX);
        uint32_t crc = load_u32le(f + pos + TRAIN_STATE_TAG_MAX + 8);
        if (load_u32le(f + pos + TRAIN_STATE_TAG_MAX + 12) != 0) {
            rc = bs_error_set(BS_EFORMAT, "%s: section \"%s\" has nonzero reserved bytes (corrupt file)", path, sec->tag);
            break;
        }
        pos += TRAIN_STATE_TAG_MAX + 16;
        if (sec->size > n - pos) {
            rc = bs_error_set(BS_EFORMAT, "%s: section \"%s\" says %llu bytes but only %zu remain (truncated file)", path,
                              sec->tag, (unsigned long long)sec->size, n - pos);
            break;
        }
        sec->data = f + pos;
        if (crc32_of(sec->data, sec->size) != crc) {
            rc = bs_error_set(BS_ECHECKSUM, "%s: section \"%s\" fails its CRC-32 check (corrupt file)", path, sec->tag);
            break;
        }
        pos += sec->size;
        ts->num_sections++;
    }
    if (rc == BS_OK && pos != n) rc = bs_error_set(BS_EFORMAT, "%s: %zu bytes of garbage after the last section", path, n - pos);
    if (rc != BS_OK) { train_state_free(ts); return rc; }
    return BS_OK;
}

// the section with `tag`, or NULL
static inline const TrainStateSection* train_state_find(const TrainState* ts, const char* tag) {
    for (int i = 0; i < ts->num_sections; i++)
        if (strcmp(ts->sections[i].tag, tag) == 0) return &ts->sections[i];
    return NULL;
}

// copies section `tag`, which must exist and be exactly `size` bytes, into out
static inline int train_state_get(const TrainState* ts, const char* tag, void* out, size_t size) {
    const TrainStateSection* s = train_state_find(ts, tag);
    if (s == NULL) return bs_error_set(BS_EFORMAT, "%s: no \"%s\" section", ts->path, tag);
    if (s->size != size)
        return bs_error_set(BS_EFORMAT, "%s: section \"%s\" is %llu bytes, expected %zu", ts->path, tag, (unsigned long long)s->size, size);
    memcpy(out, s->data, size);
    return BS_OK;
}

#endif // LLMC_TRAIN_STATE_H
