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

static inline int logger_write_header(Logger* lg) {
    for (int i = 0; i < lg->num_columns; i++) fprintf(lg->f, "%s%s", i ? "," : "", lg->names[i]);
    fprintf(lg->f, "\n");
    return fflush(lg->f) == 0 ? BS_OK : bs_error_set(BS_EIO, "%s: write failed", lg->path);
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
            size_t hl = 0;
            for (int i = 0; i < lg->num_columns; i++) hl += (size_t)snprintf(header + hl, sizeof(header) - hl, "%s%s", i ? "," : "", lg->names[i]);
            header[hl++] = '\n';
            if (size < hl || memcmp(old, header, hl) != 0) {
                free(old);
                return bs_error_set(BS_EFORMAT, "%s: its header differs from this run's columns; move it away to resume", lg->path);
            }
            AtomicFile af;
            int rc = atomic_open(&af, lg->path);
            if (rc != BS_OK) { free(old); return rc; }
            fwrite(old, 1, hl, af.f);
            size_t pos = hl;
            while (pos < size) {
                size_t end = pos;
                while (end < size && old[end] != '\n') end++;
                long step = strtol((const char*)old + pos, NULL, 10);
                if (end < size && step < resume_step) fwrite(old + pos, 1, end + 1 - pos, af.f);
                pos = end + 1;
            }
            free(old);
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

// writes the current row (unset columns empty) and clears it
static inline int logger_write_row(Logger* lg) {
    if (lg->f == NULL) return BS_OK;
    for (int i = 0; i < lg->num_columns; i++) {
        if (i) fputc(',', lg->f);
        if (lg->is_set[i]) {
            double v = lg->values[i];
            if (v == floor(v) && fabs(v) < 1e15) fprintf(lg->f, "%.0f", v);
            else fprintf(lg->f, "%.9g", v);
        }
        lg->is_set[i] = 0;
    }
    fputc('\n', lg->f);
    return fflush(lg->f) == 0 ? BS_OK : bs_error_set(BS_EIO, "%s: write failed", lg->path);
}

static inline void logger_close(Logger* lg) {
    if (lg->f) fclose(lg->f);
    lg->f = NULL;
}

#endif // LLMC_LOGGER_H
