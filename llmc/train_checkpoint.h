/*
 train_checkpoint.h: what a trainer writes at a checkpoint and reads to resume, shared by
 the CPU trainer (train_gpt2.c) and the CUDA trainer (train_gpt2.cu), so that a run
 started on one continues on the other from the same files:
   <dir>/model_%08d.bin   the weights, llm.c's fp32 checkpoint (model_fp32.h)
   <dir>/model_%08d.bsz   the weights coded: quantized, value-mapped, exp-Golomb (bsz.h), when asked
   <dir>/state_%08d.bin   the training state (train_state.h), sections
       config  6 x int32: max_seq_len, vocab_size, padded_vocab_size, num_layers, num_heads, channels
       params  fp32 x num_params      adam_m, adam_v  fp32 x num_params
       step    int64: steps completed
       loader  DataLoaderState of the training loader (3 x uint64)
       rng     uint64: the sampling RNG's state
       dggr    BackSlash's per-tensor moments (dggr_state_write), when the run has them
       world   int32: the ranks of the run
       val_loss   fp32: the last val loss measured (the progress line's after a resume)
       run_config the run's configuration as run_config.h writes it (run.json's text), when given
       run     int32 x 2: B, T of the run
 in this order (readers look sections up by tag; the order only fixes the bytes).
 The host arrays are fp32 on both trainers (the GPU's fp32 master weights and moments).
 Plain C that also compiles as C++ (nvcc): no jumps over initialisations.
*/
#ifndef LLMC_TRAIN_CHECKPOINT_H
#define LLMC_TRAIN_CHECKPOINT_H

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bsz.h"
#include "bsz_report.h"
#include "dataloader.h"
#include "dggr.h"
#include "gpt2_params.h"
#include "model_fp32.h"
#include "train_args.h"
#include "train_state.h"
#include "utils.h"

typedef struct {
    int step;               // steps completed
    DataLoaderState loader; // of the training loader
    uint64_t sample_rng;    // the sampling RNG's state
    int batch_size, seq_len; // -b (per rank) and -t
    int world_size;          // ranks of a data-parallel run (dist.h); 0 is read as 1
    float val_loss;          // the last val loss measured (NAN: none yet; a state without it reads NAN)
    const char* run_config;  // saving: the run's configuration (run_config.h's JSON), or NULL for none
} TrainProgress;

// the coded checkpoints' options from the flags of both trainers: -ld (Delta), -bc (coder)
// and -br 1 (shared rows: the wte rows of token ids absent from the training tokens -i, and
// the padding rows). *rows: malloc'd row flags for o->shared_rows (free after use), or NULL
static inline int train_checkpoint_bsz_options(const TrainArgs* a, const GPT2Config* c, BszOptions* o, uint8_t** rows) {
    *o = bsz_default_options();
    *rows = NULL;
    o->delta = a->rate_delta; // -ld: the same Delta as the logged zero fraction
    if (!bsz_coder_parse(a->coded_coder, &o->coder)) return bs_error_set(BS_EINVAL, "flag -bc: '%s' is not eg, rans, cabac or auto", a->coded_coder);
    if (!a->coded_shared_rows) return BS_OK;
    *rows = (uint8_t*)malloc((size_t)c->padded_vocab_size);
    if (!*rows) return bs_error_set(BS_ENOMEM, "out of memory");
    uint32_t count = 0;
    int rc = bsz_unused_rows(a->train_tokens, c, *rows, &count);
    if (rc != BS_OK) {
        free(*rows);
        *rows = NULL;
        char msg[BS_ERROR_MAX];
        snprintf(msg, sizeof(msg), "%s", bs_error());
        return bs_error_set(rc, "flag -br 1: %s", msg);
    }
    o->shared_rows = *rows;
    return BS_OK;
}

// the training state's sections, written to `path` (one file of the set below)
static inline int train_checkpoint_write_state(const char* path, const GPT2Config* c, const float* params, const float* m,
                                               const float* v, const TrainProgress* pr, const DGGR* dggr) {
    int32_t config[6] = {c->max_seq_len, c->vocab_size, c->padded_vocab_size, c->num_layers, c->num_heads, c->channels};
    int64_t step = pr->step;
    int32_t run[2] = {pr->batch_size, pr->seq_len};
    int32_t world = pr->world_size > 0 ? pr->world_size : 1;
    size_t bytes = gpt2_num_params(c) * sizeof(float);
    uint8_t* dggr_bytes = NULL;
    size_t dggr_size = 0;
    if (dggr != NULL) {
        dggr_size = dggr_state_size(dggr);
        dggr_bytes = (uint8_t*)malloc(dggr_size);
        if (dggr_bytes == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", path);
        dggr_state_write(dggr, dggr_bytes);
    }
    TrainStateWriter w;
    int rc = train_state_writer_open(&w, path);
    if (rc == BS_OK) {
        if ((rc = train_state_write_section(&w, "config", config, sizeof(config))) != BS_OK ||
            (rc = train_state_write_section(&w, "params", params, bytes)) != BS_OK ||
            (rc = train_state_write_section(&w, "adam_m", m, bytes)) != BS_OK ||
            (rc = train_state_write_section(&w, "adam_v", v, bytes)) != BS_OK ||
            (rc = train_state_write_section(&w, "step", &step, sizeof(step))) != BS_OK ||
            (rc = train_state_write_section(&w, "loader", &pr->loader, sizeof(pr->loader))) != BS_OK ||
            (rc = train_state_write_section(&w, "rng", &pr->sample_rng, sizeof(pr->sample_rng))) != BS_OK ||
            (dggr_bytes != NULL && (rc = train_state_write_section(&w, "dggr", dggr_bytes, dggr_size)) != BS_OK) ||
            (rc = train_state_write_section(&w, "world", &world, sizeof(world))) != BS_OK ||
            (rc = train_state_write_section(&w, "val_loss", &pr->val_loss, sizeof(pr->val_loss))) != BS_OK ||
            (pr->run_config != NULL &&
             (rc = train_state_write_section(&w, "run_config", pr->run_config, strlen(pr->run_config))) != BS_OK) ||
            (rc = train_state_write_section(&w, "run", run, sizeof(run))) != BS_OK)
            train_state_writer_abort(&w);
        else
            rc = train_state_writer_commit(&w);
    }
    free(dggr_bytes);
    return rc;
}

// Writes model_<step>.bin, model_<step>.bsz (when bsz != NULL) and state_<step>.bin into
// dir, as one set: a failure (a full disk) leaves either the whole new set or none of it.
// Each file is first written completely under "<name>.tmp.<pid>" (itself atomically), then
// the three are renamed into place, the state last; if a rename fails, the files of the
// set already renamed are removed again. dggr may be NULL (no "dggr" section).
static inline int train_checkpoint_save(const char* dir, const GPT2Config* c, const float* params, const float* m,
                                        const float* v, const TrainProgress* pr, const DGGR* dggr, const BszOptions* bsz) {
    enum { SET_MODEL, SET_CODED, SET_STATE, SET_FILES };
    char final_path[SET_FILES][4096], staged[SET_FILES][4096 + 32];
    const char* pattern[SET_FILES] = {"%s/model_%08d.bin", "%s/model_%08d.bsz", "%s/state_%08d.bin"};
    for (int i = 0; i < SET_FILES; i++) {
        if (snprintf(final_path[i], sizeof(final_path[i]), pattern[i], dir, pr->step) >= (int)sizeof(final_path[i]) ||
            snprintf(staged[i], sizeof(staged[i]), "%s.tmp.%ld", final_path[i], (long)getpid()) >= (int)sizeof(staged[i]))
            return bs_error_set(BS_EINVAL, "%s: path too long", dir);
    }
    int written = 0, rc = model_fp32_write(staged[SET_MODEL], c, params); // files staged so far: [0, written)
    if (rc == BS_OK) {
        written = 1;
        rc = bsz != NULL ? bsz_write(staged[SET_CODED], c, params, bsz) : BS_OK;
    }
    if (rc == BS_OK) {
        written = 2;
        rc = train_checkpoint_write_state(staged[SET_STATE], c, params, m, v, pr, dggr);
    }
    if (rc != BS_OK) {
        for (int i = 0; i < written; i++) remove(staged[i]);
        return rc; // the failed writer's message (file and reason)
    }
    for (int i = 0; i < SET_FILES; i++) {
        if (i == SET_CODED && bsz == NULL) continue;
        if (rename(staged[i], final_path[i]) != 0) {
            rc = bs_error_set(BS_EIO, "%s: rename from %s failed (%s); the checkpoint set of step %d is not written",
                              final_path[i], staged[i], strerror(errno), pr->step);
            for (int k = 0; k < SET_FILES; k++)
                if (k != SET_CODED || bsz != NULL) remove(k < i ? final_path[k] : staged[k]);
            return rc;
        }
    }
    // the renames are durable once the directory is synced (best effort: not every file
    // system syncs a directory)
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return BS_OK;
}

// prints the size report of <dir>/model_<step>.bsz (bits/param for FL, EG, Huffman and
// the entropy; the file against fp32 and bf16), as `./bsz info --total` prints it
static inline int train_checkpoint_print_coded_report(FILE* out, const char* dir, int step) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/model_%08d.bsz", dir, step);
    BszFile f;
    BszReport rep;
    int rc = bsz_open(&f, path);
    if (rc != BS_OK) return rc;
    if ((rc = bsz_report_build(&f, &rep)) == BS_OK) {
        fprintf(out, "coded model %s (./bsz info %s for every tensor)\n", path, path);
        bsz_report_print(out, &rep, 0);
        bsz_report_free(&rep);
    }
    bsz_close(&f);
    return rc;
}

// Checkpoint volume: a state (params and both moments, 3x the model) is what resuming
// needs, and only the newest one is read. After the checkpoint of `step`, this keeps the
// newest `keep` states with N <= step and removes the older ones (keep 0: all are kept),
// printing each to `report` (NULL: quiet). States of steps above `step` (another run's in
// the same directory) and every model_*.bin / .bsz are left alone. Returns how many it
// removed, or a negative status.
static inline int train_checkpoint_remove_old_states(const char* dir, int step, int keep, FILE* report) {
    if (keep <= 0) return 0;
    DIR* d = opendir(dir);
    if (d == NULL) return bs_error_set(BS_EIO, "%s: cannot open the directory (%s)", dir, strerror(errno));
    int* steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        int s = -1;
        char tail[8] = {0};
        if (strlen(e->d_name) != 18 || sscanf(e->d_name, "state_%8d%4s", &s, tail) != 2 || strcmp(tail, ".bin") != 0 ||
            s < 0 || s > step)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int* grown = (int*)realloc(steps, cap * sizeof(int));
            if (grown == NULL) { free(steps); closedir(d); return bs_error_set(BS_ENOMEM, "%s: out of memory", dir); }
            steps = grown;
        }
        steps[n++] = s;
    }
    closedir(d);
    int removed = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t newer = 0; // states of this run's range newer than steps[i]
        for (size_t k = 0; k < n; k++) newer += steps[k] > steps[i];
        if (newer < (size_t)keep) continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, steps[i]);
        if (remove(path) != 0) {
            rc = bs_error_set(BS_EIO, "%s: cannot remove an old state (%s)", path, strerror(errno));
            break;
        }
        removed++;
        if (report != NULL) fprintf(report, "removed %s (the last %d states are kept, flag -nk)\n", path, keep);
    }
    free(steps);
    return rc != 0 ? rc : removed;
}

// the highest N of <dir>/state_N.bin, or -1 when there is none
static inline int train_checkpoint_latest(const char* dir) {
    DIR* d = opendir(dir);
    if (d == NULL) return -1;
    int best = -1;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        int step = -1;
        char tail[8] = {0};
        if (strlen(e->d_name) == 18 && sscanf(e->d_name, "state_%8d%4s", &step, tail) == 2 && strcmp(tail, ".bin") == 0 &&
            step > best)
            best = step;
    }
    closedir(d);
    return best;
}

// What a training state holds. params, m, v are malloc'd (num_params floats each);
// dggr_section points into ts (NULL when the file has none) for dggr_state_read once
// the caller has set up its DGGR for this config. Free with train_checkpoint_free.
typedef struct {
    TrainState ts;
    GPT2Config config;
    float *params, *m, *v;
    TrainProgress progress;
    const uint8_t* dggr_section;
    size_t dggr_size;
    const char* run_config; // the "run_config" section's text (not NUL-terminated), NULL when the state has none
    size_t run_config_size;
} TrainCheckpoint;

static inline void train_checkpoint_free(TrainCheckpoint* ck) {
    free(ck->params);
    free(ck->m);
    free(ck->v);
    train_state_free(&ck->ts);
    memset(ck, 0, sizeof(*ck));
}

static inline int train_checkpoint_load(const char* path, TrainCheckpoint* ck) {
    memset(ck, 0, sizeof(*ck));
    int rc = train_state_read(path, &ck->ts);
    if (rc != BS_OK) return rc;
    int32_t cfg[6], run[2];
    int64_t step = 0;
    if ((rc = train_state_get(&ck->ts, "config", cfg, sizeof(cfg))) != BS_OK) { train_checkpoint_free(ck); return rc; }
    GPT2Config c = {cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5]};
    if ((rc = gpt2_config_validate(&c, path)) != BS_OK) { train_checkpoint_free(ck); return rc; }
    ck->config = c;
    size_t bytes = gpt2_num_params(&c) * sizeof(float);
    ck->params = (float*)malloc(bytes);
    ck->m = (float*)malloc(bytes);
    ck->v = (float*)malloc(bytes);
    if (ck->params == NULL || ck->m == NULL || ck->v == NULL) {
        train_checkpoint_free(ck);
        return bs_error_set(BS_ENOMEM, "%s: out of memory for the parameters and moments", path);
    }
    TrainProgress* pr = &ck->progress;
    if ((rc = train_state_get(&ck->ts, "params", ck->params, bytes)) != BS_OK ||
        (rc = train_state_get(&ck->ts, "adam_m", ck->m, bytes)) != BS_OK ||
        (rc = train_state_get(&ck->ts, "adam_v", ck->v, bytes)) != BS_OK ||
        (rc = train_state_get(&ck->ts, "step", &step, sizeof(step))) != BS_OK ||
        (rc = train_state_get(&ck->ts, "loader", &pr->loader, sizeof(pr->loader))) != BS_OK ||
        (rc = train_state_get(&ck->ts, "rng", &pr->sample_rng, sizeof(pr->sample_rng))) != BS_OK ||
        (rc = train_state_get(&ck->ts, "run", run, sizeof(run))) != BS_OK) {
        train_checkpoint_free(ck);
        return rc;
    }
    if (step < 0 || step > (1 << 30)) {
        train_checkpoint_free(ck);
        return bs_error_set(BS_EFORMAT, "%s: step %lld out of range", path, (long long)step);
    }
    pr->step = (int)step;
    pr->batch_size = run[0];
    pr->seq_len = run[1];
    // the number of ranks that wrote it (a state without the section: one process)
    int32_t world = 1;
    if (train_state_find(&ck->ts, "world") != NULL && (rc = train_state_get(&ck->ts, "world", &world, sizeof(world))) != BS_OK) {
        train_checkpoint_free(ck);
        return rc;
    }
    if (world < 1) {
        train_checkpoint_free(ck);
        return bs_error_set(BS_EFORMAT, "%s: world size %d out of range", path, (int)world);
    }
    pr->world_size = world;
    const TrainStateSection* s = train_state_find(&ck->ts, "dggr");
    if (s != NULL) {
        ck->dggr_section = s->data;
        ck->dggr_size = (size_t)s->size;
    }
    // written since the run configuration (run_config.h); older states have neither
    pr->val_loss = NAN;
    if (train_state_find(&ck->ts, "val_loss") != NULL &&
        (rc = train_state_get(&ck->ts, "val_loss", &pr->val_loss, sizeof(pr->val_loss))) != BS_OK) {
        train_checkpoint_free(ck);
        return rc;
    }
    if ((s = train_state_find(&ck->ts, "run_config")) != NULL) {
        ck->run_config = (const char*)s->data;
        ck->run_config_size = (size_t)s->size;
    }
    return BS_OK;
}

#endif // LLMC_TRAIN_CHECKPOINT_H
