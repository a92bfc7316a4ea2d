/*
 logger.h: the CSV training log, <outdir>/log.csv, one row per training step.

 The columns are registered before the file is opened (the trainer's own: step, loss,
 val_loss, lr, grad_norm, tokens_per_s, ms_per_step; other features append theirs, e.g.
 BackSlash's rate, nu, alpha, zero_frac, bits_per_param). The first row is the header.
 Each step the program sets the values it has (logger_set) and writes the row; a column
 not set in a step is left empty (val_loss is only measured every -v steps).
 Numbers are written with %.9g, enough to give back the exact float (the resume test
 compares rows bit for bit).

 On resume from step s the log keeps its header and the rows of steps < s, and drops the
 rest (steps the crashed run did after its last saved state), so the log reads as one run.
*/
#ifndef LLMC_LOGGER_H
#define LLMC_LOGGER_H

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "utils.h"

#define LOGGER_MAX_COLUMNS 32
#define LOGGER_NAME_MAX 32

typedef struct {
    FILE* f;
    char path[4096];
    int num_columns;
    char names[LOGGER_MAX_COLUMNS][LOGGER_NAME_MAX];
    double values[LOGGER_MAX_COLUMNS];
    int is_set[LOGGER_MAX_COLUMNS];
} Logger;

static inline void logger_init(Logger* lg) { memset(lg, 0, sizeof(*lg)); }

static inline int logger_add_column(Logger* lg, const char* name) {
    if (lg->f != NULL) return bs_error_set(BS_EINVAL, "log: column %s added after the file was opened", name);
    if (lg->num_columns >= LOGGER_MAX_COLUMNS) return bs_error_set(BS_ELIMIT, "log: more than %d columns", LOGGER_MAX_COLUMNS);
    if (strlen(name) >= LOGGER_NAME_MAX) return bs_error_set(BS_EINVAL, "log: column name %s too long", name);
    snprintf(lg->names[lg->num_columns++], LOGGER_NAME_MAX, "%s", name);
    return BS_OK;
}

static inline int logger_column(const Logger* lg, const char* name) {
    for (int i = 0; i < lg->num_columns; i++)
        if (strcmp(lg->names[i], name) == 0) return i;
    return -1;
}

// sets a value for the current row; an unknown column is ignored (returns -1)
static inline int logger_set(Logger* lg, const char* name, double value) {
    int i = logger_column(lg, name);
    if (i < 0) return -1;
    lg->values[i] = value;
    lg->is_set[i] = 1;
    return 0;
}

// the header line "step,loss,...\n" into out (room for LOGGER_MAX_COLUMNS names); its length
static inline size_t logger_format_header(const Logger* lg, char* out, size_t n) {
    size_t len = 0;
    for (int i = 0; i < lg->num_columns && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "", lg->names[i]);
    if (len + 1 < n) out[len++] = '\n';
    return len;
}

// Rows go to the file with one write() each (bs_append_whole), never through stdio's
// buffer: a failed write is cut back to the last whole row, and nothing is left in a
// buffer for a later flush to tear.
static inline int logger_write_header(Logger* lg) {
    char header[LOGGER_MAX_COLUMNS * (LOGGER_NAME_MAX + 1) + 2];
    size_t hl = logger_format_header(lg, header, sizeof(header));
    return bs_append_whole(fileno(lg->f), header, hl, lg->path);
}

// Opens <dir>/log.csv. resume_step < 0: a new log (an existing one is replaced).
// resume_step >= 0: keep the existing header (which must equal ours) and its rows whose
// first field (step) is < resume_step, rewritten atomically, then append.
static inline int logger_open(Logger* lg, const char* dir, int resume_step) {
    snprintf(lg->path, sizeof(lg->path), "%s/log.csv", dir);
    if (resume_step >= 0) {
        size_t size = 0;
        uint8_t* old = bs_read_file(lg->path, (size_t)1 << 30, &size);
        if (old != NULL) {
            char header[LOGGER_MAX_COLUMNS * (LOGGER_NAME_MAX + 1) + 2];
            size_t hl = logger_format_header(lg, header, sizeof(header));
            if (size < hl || memcmp(old, header, hl) != 0) {
                free(old);
                return bs_error_set(BS_EFORMAT, "%s: its header differs from this run's columns; move it away to resume", lg->path);
            }
            AtomicFile af;
            int rc = atomic_open(&af, lg->path);
            if (rc != BS_OK) { free(old); return rc; }
            rc = bs_write_exact(af.f, old, hl, af.tmp_path);
            size_t pos = hl;
            while (rc == BS_OK && pos < size) {
                size_t end = pos;
                while (end < size && old[end] != '\n') end++;
                // the row's step, its first field (the buffer is not a C string: no strtol)
                long step = 0;
                size_t d = pos;
                while (d < end && old[d] >= '0' && old[d] <= '9' && step < (1L << 40)) step = 10 * step + (old[d++] - '0');
                if (d == pos) step = LONG_MAX; // not a row of ours: dropped
                if (end < size && step < resume_step) rc = bs_write_exact(af.f, old + pos, end + 1 - pos, af.tmp_path);
                pos = end + 1;
            }
            free(old);
            if (rc != BS_OK) { atomic_abort(&af); return rc; }
            if ((rc = atomic_commit(&af)) != BS_OK) return rc;
            lg->f = fopen(lg->path, "ab");
            if (lg->f == NULL) return bs_error_set(BS_EIO, "%s: cannot open for appending (%s)", lg->path, strerror(errno));
            return BS_OK;
        }
        // no log to continue: start a new one
    }
    lg->f = fopen(lg->path, "wb");
    if (lg->f == NULL) return bs_error_set(BS_EIO, "%s: cannot create (%s)", lg->path, strerror(errno));
    return logger_write_header(lg);
}

// writes the current row (unset columns empty) and clears it; a row is written whole or
// not at all (a full disk leaves the log at its last whole row; the message says why)
static inline int logger_write_row(Logger* lg) {
    char row[LOGGER_MAX_COLUMNS * 32 + 2];
    size_t len = 0;
    for (int i = 0; i < lg->num_columns; i++) {
        if (i) row[len++] = ',';
        if (lg->is_set[i]) {
            double v = lg->values[i];
            // at most 24 characters: %.0f below 1e15, %.9g otherwise
            if (v == floor(v) && fabs(v) < 1e15) len += (size_t)snprintf(row + len, sizeof(row) - len, "%.0f", v);
            else len += (size_t)snprintf(row + len, sizeof(row) - len, "%.9g", v);
        }
        lg->is_set[i] = 0;
    }
    row[len++] = '\n';
    if (lg->f == NULL) return BS_OK;
    return bs_append_whole(fileno(lg->f), row, len, lg->path);
}

static inline void logger_close(Logger* lg) {
    if (lg->f) fclose(lg->f);
    lg->f = NULL;
}

#endif // LLMC_LOGGER_H
