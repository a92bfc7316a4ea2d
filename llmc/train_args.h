/*
 train_args.h: the trainers' command line (train_gpt2.c and train_gpt2.cu share it).

 Flags follow llm.c's CUDA trainer where they overlap (-i -j -o -e -b -t -x -v -m -s -g
 -n -y -u -q -k -c -h). One difference: -l is BackSlash's Lagrange multiplier lambda (the
 BackSlash feature adds it), so the learning rate is -lr.

 The flags are a table (train_args_table): each row names a flag, the field it sets, its
 type and range, and its help line; the parser and the usage text both come from it, so
 a feature adds a flag by adding a field to TrainArgs and a row to the table.
 A bad flag or value is an error naming the flag and the problem (and the usage follows).
*/
#ifndef LLMC_TRAIN_ARGS_H
#define LLMC_TRAIN_ARGS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bsz.h"
#include "dggr.h"
#include "gpt2_params.h"
#include "quantize.h"
#include "tokenizer.h"
#include "utils.h"

typedef struct {
    // data and files
    const char* train_tokens;  // -i
    const char* val_tokens;    // -j
    const char* output_dir;    // -o: run.json, log.csv, model_%08d.bin/.bsz, state_%08d.bin; NULL: write nothing
    const char* init;          // -e: an llm.c checkpoint, or "d<depth>[w<width>][h<heads>][t<maxT>]" from scratch
    int resume;                // -y 1: continue from the latest state_*.bin in -o
    // batch and length of the run
    int batch_size;            // -b
    int seq_len;               // -t
    int max_steps;             // -x
    long long total_batch_tokens; // -d: tokens per optimizer step, by gradient accumulation over B*T batches (0: B*T)
    // learning rate and optimizer
    float learning_rate;       // -lr
    int warmup_steps;          // -u
    float final_lr_frac;       // -q: the lr decays to lr * q at the last step
    int lr_schedule;           // -k: 0 cosine, 1 linear, 2 constant (LR_* in adamw.h)
    float weight_decay;        // -c (weight matrices and embeddings only)
    float grad_clip;           // -gc: clip the gradient's global L2 norm to this (0: off)
    float beta1, beta2;        // -b1, -b2
    // evaluation, sampling, checkpoints
    int val_every;             // -v
    int val_max_steps;         // -m: batches per validation
    int sample_every;          // -s
    int gen_tokens;            // -g
    int checkpoint_every;      // -n
    int keep_states;           // -nk: keep the newest this many state_*.bin (0: all); models are kept at every checkpoint
    float checkpoint_minutes;  // -nm: also write a checkpoint when this many minutes passed since the last (0: off)
    int overwrite;             // -ow 1: a new run removes another run's files from -o first (run_config.h)
    int log_every;             // -pe: print the progress line every this many steps
    // other
    long long seed;            // -seed
    int random_batches;        // -rb 1: random training batches, 0: sequential
    int reference_kernels;     // -ref 1: the plain C reference layers only (slow; for checking)
    int zero_stage;            // -z 1: data-parallel runs shard the optimizer step over the ranks (dist.h)
    int classifier;            // -cls 1: fine-tune a sequence classifier on labeled token files (train_gpt2 only)
    float max_weight;          // -wmax: refuse loaded weights (-e, -y 1) that are not finite or above this in |w| (0: accept any)
    const char* tokenizer_dir; // -tok: encoder.json and vocab.bpe for the samples (NULL: tokenizer_find_dir's default)
    // BackSlash: rate-constrained training (llmc/dggr.h, doc/backslash.md)
    float lambda;              // -l: Lagrange multiplier of the DGGR rate; 0 = plain training
    float rate_eps;            // -le: soft gradient clipping, (|w| + eps)^nu
    const char* rate_variant;  // -lv: coupled | decoupled | proximal
    const char* rate_shape;    // -ls: global | tensor | fixed:<nu>
    const char* rate_set;      // -lc: matrices | all
    int rate_steps;            // -lk: BackSlash for the first K steps, then plain (0: throughout)
    float rate_delta;          // -ld: quantization step Delta of the coded checkpoints model_*.bsz and of the logged zero fraction and bits/param
    // coded checkpoints model_*.bsz (llmc/bsz.h, doc/format.md)
    const char* coded_coder;   // -bc: eg | rans | cabac | auto
    int coded_shared_rows;     // -br 1: the wte rows of tokens absent from -i are stored as one shared row
    uint64_t given;            // bit i: row i of train_args_table was on the command line (train_args_given)
} TrainArgs;

static inline void train_args_defaults(TrainArgs* a) {
    memset(a, 0, sizeof(*a));
    a->train_tokens = "data/corpus_train.bin";
    a->val_tokens = "data/corpus_val.bin";
    a->output_dir = NULL;
    a->init = "d6";
    a->batch_size = 4;
    a->seq_len = 64;
    a->max_steps = 100;
    a->learning_rate = 6e-4f;
    a->warmup_steps = 10;
    a->final_lr_frac = 0.1f;
    a->lr_schedule = 0;
    a->weight_decay = 0.1f;
    a->grad_clip = 1.0f;
    a->beta1 = 0.9f;
    a->beta2 = 0.95f;
    a->val_every = 20;
    a->val_max_steps = 20;
    a->sample_every = 0;
    a->gen_tokens = 64;
    a->checkpoint_every = 0;
    a->keep_states = 2;
    a->checkpoint_minutes = 5.0f; // a kill loses at most 5 minutes of training; why 5: doc/train_cpu.md, Resume
    a->log_every = 1;
    a->seed = 1337;
    a->random_batches = 1;
    a->max_weight = (float)GPT2_DEFAULT_MAX_ABS_WEIGHT;
    a->lambda = 0.0f;
    a->rate_eps = DGGR_DEFAULT_EPS;
    a->rate_variant = DGGR_DEFAULT_VARIANT == DGGR_COUPLED ? "coupled" : "decoupled";
    a->rate_shape = "global";
    a->rate_set = "matrices";
    a->rate_steps = 0;
    a->rate_delta = QUANTIZE_DEFAULT_DELTA;
    a->coded_coder = "auto";
    a->coded_shared_rows = 0;
}

// ARG_CHOICE: an int field that also takes a name (choices[i] means i), e.g. -k cosine or -k 0
enum { ARG_STRING, ARG_INT, ARG_INT64, ARG_FLOAT, ARG_CHOICE };

typedef struct {
    const char* flag;
    int type;
    void* field;
    double min, max;
    const char* help;
    const char* const* choices; // ARG_CHOICE: the names of 0, 1, ... (NULL-terminated)
} TrainArgSpec;

// -k's names, in adamw.h's order (LR_COSINE, LR_LINEAR, LR_CONSTANT)
static const char* const TRAIN_ARGS_LR_SCHEDULES[] = {"cosine", "linear", "constant", NULL};

#define TRAIN_ARGS_MAX_SPECS 64 // also the bits of TrainArgs.given

// the flag table; returns the number of rows
static inline int train_args_table(TrainArgs* a, TrainArgSpec* t) {
    int n = 0;
#define ARG(f, ty, fld, lo, hi, h) t[n++] = (TrainArgSpec){f, ty, (void*)(fld), lo, hi, h, NULL}
    ARG("-i", ARG_STRING, &a->train_tokens, 0, 0, "training tokens (llm.c token file)");
    ARG("-j", ARG_STRING, &a->val_tokens, 0, 0, "validation tokens (llm.c token file)");
    ARG("-o", ARG_STRING, &a->output_dir, 0, 0, "output directory: run.json, log.csv, model_*.bin, model_*.bsz, state_*.bin (none: write nothing)");
    ARG("-e", ARG_STRING, &a->init, 0, 0, "start from an llm.c fp32 checkpoint or a coded model (.bsz), or from scratch: d<L>[w<C>][h<NH>][t<maxT>], e.g. d6 (6 layers, 384 wide, 6 heads), d12 (GPT-2 124M)");
    ARG("-y", ARG_INT, &a->resume, 0, 1, "1: resume from the latest state_*.bin in -o (its flags must match: run.json)");
    ARG("-ow", ARG_INT, &a->overwrite, 0, 1, "1: a new run removes another run's files (run.json, log.csv, model_*, state_*) from -o first; 0: it refuses to mix them");
    ARG("-b", ARG_INT, &a->batch_size, 1, 4096, "batch size B (rows per rank under mpirun: the global batch is B x ranks)");
    ARG("-t", ARG_INT, &a->seq_len, 1, 65536, "sequence length T (<= the model's max_seq_len)");
    ARG("-x", ARG_INT, &a->max_steps, 1, 1 << 30, "number of training steps");
    ARG("-d", ARG_INT64, &a->total_batch_tokens, 0, 1LL << 40, "tokens per optimizer step: gradients accumulate over -d/(B*T*ranks) batches, at most 2^20 (0: B*T*ranks)");
    ARG("-lr", ARG_FLOAT, &a->learning_rate, 0, 10, "peak learning rate");
    ARG("-u", ARG_INT, &a->warmup_steps, 0, 1 << 30, "linear warmup steps");
    ARG("-q", ARG_FLOAT, &a->final_lr_frac, 0, 1, "final learning rate as a fraction of the peak");
    t[n++] = (TrainArgSpec){"-k", ARG_CHOICE, &a->lr_schedule, 0, 2, "lr schedule after warmup: cosine, linear or constant (or 0, 1, 2)",
                            TRAIN_ARGS_LR_SCHEDULES};
    ARG("-c", ARG_FLOAT, &a->weight_decay, 0, 10, "AdamW weight decay (weight matrices and embeddings only)");
    ARG("-gc", ARG_FLOAT, &a->grad_clip, 0, 1e30, "clip the gradient's global L2 norm to this (0: no clipping)");
    ARG("-b1", ARG_FLOAT, &a->beta1, 0, 0.999999, "AdamW beta1");
    ARG("-b2", ARG_FLOAT, &a->beta2, 0, 0.999999, "AdamW beta2");
    ARG("-v", ARG_INT, &a->val_every, 0, 1 << 30, "validation loss every this many steps (and at step 0 and the end; 0: only those)");
    ARG("-m", ARG_INT, &a->val_max_steps, 1, 1 << 30, "validation batches per evaluation (capped at the val file's)");
    ARG("-s", ARG_INT, &a->sample_every, 0, 1 << 30, "generate a sample every this many steps (0: only at the end)");
    ARG("-g", ARG_INT, &a->gen_tokens, 0, 65536, "tokens per sample (0: no samples)");
    ARG("-n", ARG_INT, &a->checkpoint_every, 0, 1 << 30, "write a checkpoint (model_*.bin, model_*.bsz, state_*.bin) every this many steps (0: by -nm only), and at the end");
    ARG("-nm", ARG_FLOAT, &a->checkpoint_minutes, 0, 1e6, "also write a checkpoint when this many minutes passed since the last one, so a killed run resumes (-y 1) losing at most that (0: off)");
    ARG("-nk", ARG_INT, &a->keep_states, 0, 1 << 30, "keep the newest this many training states state_*.bin, removing older ones (0: keep all); model_*.bin and .bsz are kept at every checkpoint");
    ARG("-pe", ARG_INT, &a->log_every, 1, 1 << 30, "print the progress line every this many steps");
    ARG("-seed", ARG_INT64, &a->seed, 0, 9.2e18, "random seed (initialisation, batches, samples)");
    ARG("-rb", ARG_INT, &a->random_batches, 0, 1, "1: random training batches, 0: sequential");
    ARG("-ref", ARG_INT, &a->reference_kernels, 0, 1, "1: plain C reference kernels only (slow; for checking)");
    ARG("-z", ARG_INT, &a->zero_stage, 0, 1, "under mpirun: 1 shards the optimizer step (AdamW+DGGR) over the ranks, ZeRO-1 (doc/distributed.md)");
    ARG("-tok", ARG_STRING, &a->tokenizer_dir, 0, 0, "directory with GPT-2's encoder.json and vocab.bpe, to decode the samples (none: $" TOKENIZER_DIR_ENV ", else " TOKENIZER_PACKAGE_DIR " beside the program, else in the current directory)");
    ARG("-cls", ARG_INT, &a->classifier, 0, 1, "1: fine-tune a classifier (a linear head on the last token's final hidden state, llmc/classifier.h): -i/-j are labeled token files (train/test), each message cut to its first -t tokens; test accuracy over every test message every -v steps (0: at the end only)");
    ARG("-wmax", ARG_FLOAT, &a->max_weight, 0, 1e30, "refuse loaded weights (-e, -y 1) that are not finite or larger than this in |w|, naming the tensor (0: accept any)");
    // BackSlash (doc/backslash.md)
    ARG("-l", ARG_FLOAT, &a->lambda, 0, 1e12, "BackSlash: lambda, the weight of the DGGR rate R = (1/N) sum (|w|+eps)^nu in the loss (0: plain training)");
    ARG("-le", ARG_FLOAT, &a->rate_eps, 0, 1000, "BackSlash: eps of the rate (soft gradient clipping near w = 0)");
    ARG("-lv", ARG_STRING, &a->rate_variant, 0, 0, "BackSlash: coupled (rate gradient through Adam: the loss read literally), decoupled (shrink after AdamW: the authors' code and text) or proximal (a shrink that stops at zero)");
    ARG("-ls", ARG_STRING, &a->rate_shape, 0, 0, "BackSlash: shape nu: global (one, estimated every step), tensor (one per tensor) or fixed:<nu> (1 = L1, 2 = L2)");
    ARG("-lc", ARG_STRING, &a->rate_set, 0, 0, "BackSlash: constrained parameters: matrices (weight matrices and embeddings) or all");
    ARG("-lk", ARG_INT, &a->rate_steps, 0, 1 << 30, "BackSlash: apply the rate for the first K steps only, then plain training (0: throughout)");
    ARG("-ld", ARG_FLOAT, &a->rate_delta, 1e-9, 1, "quantization step Delta of the coded checkpoints model_*.bsz and of the logged zero fraction and bits/param");
    // coded checkpoints (doc/format.md)
    ARG("-bc", ARG_STRING, &a->coded_coder, 0, 0, "coder of the coded checkpoints model_*.bsz: eg (exp-Golomb, the paper's), rans, cabac or auto (the smallest per tensor)");
    ARG("-br", ARG_INT, &a->coded_shared_rows, 0, 1, "1: the coded checkpoints store the wte rows of token ids absent from -i (and the padding rows) as one shared row, their mean (doc/format.md, ROWS)");
#undef ARG
    return n;
}

static inline void train_args_usage(FILE* f, const char* prog) {
    TrainArgs d;
    train_args_defaults(&d);
    TrainArgSpec t[TRAIN_ARGS_MAX_SPECS];
    int n = train_args_table(&d, t);
    fprintf(f, "usage: %s [flags]   (each flag takes a value)\n", prog);
    for (int i = 0; i < n; i++) {
        char def[64];
        switch (t[i].type) {
            case ARG_STRING: snprintf(def, sizeof(def), "%s", *(const char**)t[i].field ? *(const char**)t[i].field : "none"); break;
            case ARG_INT: snprintf(def, sizeof(def), "%d", *(int*)t[i].field); break;
            case ARG_INT64: snprintf(def, sizeof(def), "%lld", *(long long*)t[i].field); break;
            case ARG_CHOICE: snprintf(def, sizeof(def), "%s", t[i].choices[*(int*)t[i].field]); break;
            default: snprintf(def, sizeof(def), "%g", *(float*)t[i].field); break;
        }
        fprintf(f, "  %-6s %s (default %s)\n", t[i].flag, t[i].help, def);
    }
    fprintf(f, "  -h     this help\n");
}

// every flag's value as lines "-flag value" (the table's order; floats as the shortest text
// that reads back as the same float), so that the ranks of a data-parallel run can check
// that they were all started alike (dist.h) and a resume that its flags match (run_config.h)
static inline void train_args_describe(const TrainArgs* a, char* out, size_t n) {
    TrainArgs copy = *a;
    TrainArgSpec t[TRAIN_ARGS_MAX_SPECS];
    int rows = train_args_table(&copy, t);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < rows && len < n; i++) {
        int w;
        switch (t[i].type) {
            case ARG_STRING: {
                const char* v = *(const char**)t[i].field;
                w = snprintf(out + len, n - len, "%s %s\n", t[i].flag, v ? v : "none");
                break;
            }
            case ARG_INT:
            case ARG_CHOICE: w = snprintf(out + len, n - len, "%s %d\n", t[i].flag, *(int*)t[i].field); break;
            case ARG_INT64: w = snprintf(out + len, n - len, "%s %lld\n", t[i].flag, *(long long*)t[i].field); break;
            default: {
                // the shortest decimal that reads back as the same float (0.0006, not 0.000600000028)
                float v = *(float*)t[i].field;
                char num[32];
                for (int digits = 6; digits <= 9; digits++) { // %g's 6 digits first: 1000, not 1e+03
                    snprintf(num, sizeof(num), "%.*g", digits, (double)v);
                    if (strtof(num, NULL) == v) break;
                }
                w = snprintf(out + len, n - len, "%s %s\n", t[i].flag, num);
                break;
            }
        }
        if (w < 0) break;
        len += (size_t)w;
    }
}

// 1 when -h was asked for, BS_OK when parsed, BS_EINVAL with a message naming the flag
static inline int train_args_parse(TrainArgs* a, int argc, char** argv) {
    TrainArgSpec t[TRAIN_ARGS_MAX_SPECS];
    int n = train_args_table(a, t);
    for (int i = 1; i < argc; i++) {
        const char* flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) return 1;
        const TrainArgSpec* s = NULL;
        for (int k = 0; k < n; k++)
            if (strcmp(flag, t[k].flag) == 0) { s = &t[k]; a->given |= 1ull << k; }
        if (s == NULL) return bs_error_set(BS_EINVAL, "unknown flag %s", flag);
        if (i + 1 >= argc) return bs_error_set(BS_EINVAL, "flag %s needs a value", flag);
        const char* val = argv[++i];
        long long iv;
        double fv;
        switch (s->type) {
            case ARG_STRING:
                if (val[0] == '\0') return bs_error_set(BS_EINVAL, "flag %s: empty value", flag);
                *(const char**)s->field = val;
                break;
            case ARG_INT:
            case ARG_INT64:
                if (!parse_int(val, (long long)s->min, (long long)s->max, &iv))
                    return bs_error_set(BS_EINVAL, "flag %s: '%s' is not an integer in [%.0f, %.0f]", flag, val, s->min, s->max);
                if (s->type == ARG_INT) *(int*)s->field = (int)iv;
                else *(long long*)s->field = iv;
                break;
            case ARG_CHOICE: {
                int found = -1;
                for (int c = 0; s->choices[c] != NULL; c++)
                    if (strcmp(val, s->choices[c]) == 0) found = c;
                if (found < 0 && parse_int(val, (long long)s->min, (long long)s->max, &iv)) found = (int)iv;
                if (found < 0) {
                    char names[128] = "";
                    for (int c = 0; s->choices[c] != NULL; c++)
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s (%d)", c ? ", " : "", s->choices[c], c);
                    return bs_error_set(BS_EINVAL, "flag %s: '%s' is not one of %s", flag, val, names);
                }
                *(int*)s->field = found;
                break;
            }
            default:
                if (!parse_float(val, s->min, s->max, &fv))
                    return bs_error_set(BS_EINVAL, "flag %s: '%s' is not a number in [%g, %g]", flag, val, s->min, s->max);
                *(float*)s->field = (float)fv;
                break;
        }
    }
    if (a->overwrite && a->resume) return bs_error_set(BS_EINVAL, "flags -ow 1 and -y 1: -ow removes the run that -y would resume; give one");
    if (a->resume && a->output_dir == NULL) return bs_error_set(BS_EINVAL, "flag -y 1 needs -o (the directory holding state_*.bin)");
    if (a->classifier && a->resume) return bs_error_set(BS_EINVAL, "flag -cls 1: resuming (-y 1) a classifier run is not supported (the head is not saved)");
    int coder;
    if (!bsz_coder_parse(a->coded_coder, &coder)) return bs_error_set(BS_EINVAL, "flag -bc: '%s' is not eg, rans, cabac or auto", a->coded_coder);
    if (a->coded_shared_rows && a->classifier) return bs_error_set(BS_EINVAL, "flag -br 1: not with -cls 1 (-i holds labeled messages)");
    DGGRConfig rate = dggr_config_default(); // BackSlash's mode words
    return dggr_config_parse(&rate, a->rate_variant, a->rate_shape, a->rate_set, "-lv", "-ls", "-lc");
}

// the most batches one optimizer step accumulates (-d): the count is an int, and a step of
// more than a million forward/backward passes is a mistyped -d, not a plan
#define TRAIN_ARGS_MAX_ACCUM (1 << 20)

// 1 when `flag` was on the command line (parsed into a by train_args_parse)
static inline int train_args_given(const TrainArgs* a, const char* flag) {
    TrainArgs copy = *a;
    TrainArgSpec t[TRAIN_ARGS_MAX_SPECS];
    int n = train_args_table(&copy, t);
    for (int k = 0; k < n; k++)
        if (strcmp(t[k].flag, flag) == 0) return (int)((a->given >> k) & 1);
    return 0;
}

// Warnings about flags that parse but are likely not what was meant, one line each on `f`:
// llm.c's trainer takes -l as the learning rate, here -l is BackSlash's lambda (-lr is the
// learning rate), so a learning-rate-sized -l without -lr is probably meant as one.
static inline void train_args_warn(FILE* f, const TrainArgs* a) {
    if (train_args_given(a, "-l") && a->lambda > 0.0f && a->lambda < 0.1f && !train_args_given(a, "-lr"))
        fprintf(f, "warning: BackSlash lambda %g: did you mean -lr? (-l is lambda here, the learning rate is -lr; "
                   "llm.c's -l is its learning rate)\n", (double)a->lambda);
}

// -d: the tokens of one optimizer step (default: one batch of -b rows of -t tokens on each
// of `world` ranks) and the number of batches each rank accumulates for it; -d must be a
// multiple of B x T x world and at most TRAIN_ARGS_MAX_ACCUM of them (the error names the
// flag). Both trainers use this.
static inline int train_args_accumulation(const TrainArgs* a, int world, long long* tokens_per_step, int* accum) {
    long long rank_batch = (long long)a->batch_size * a->seq_len * world; // one batch over all ranks
    long long tokens = a->total_batch_tokens > 0 ? a->total_batch_tokens : rank_batch;
    if (tokens % rank_batch != 0)
        return bs_error_set(BS_EINVAL, "flag -d: %lld tokens per step is not a multiple of B*T*ranks = %lld", tokens,
                            rank_batch);
    if (tokens / rank_batch > TRAIN_ARGS_MAX_ACCUM)
        return bs_error_set(BS_EINVAL, "flag -d: %lld tokens per step is %lld batches of B*T*ranks = %lld, more than the "
                            "limit of %d batches per step", tokens, tokens / rank_batch, rank_batch, TRAIN_ARGS_MAX_ACCUM);
    *tokens_per_step = tokens;
    *accum = (int)(tokens / rank_batch);
    return BS_OK;
}

// BackSlash's settings from the flags (-l, -le, -lv, -ls, -lc, -lk, -ld), for both trainers
static inline int train_args_dggr_config(const TrainArgs* a, DGGRConfig* c) {
    *c = dggr_config_default();
    c->lambda = a->lambda;
    c->eps = a->rate_eps;
    c->schedule_steps = a->rate_steps;
    c->delta = a->rate_delta;
    return dggr_config_parse(c, a->rate_variant, a->rate_shape, a->rate_set, "-lv", "-ls", "-lc");
}

#endif // LLMC_TRAIN_ARGS_H
