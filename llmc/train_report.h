/*
 train_report.h: what a trainer prints and logs, the same for train_gpt2 and train_gpt2cu.

 Both trainers run the same loop around different models; everything the user sees of it
 comes from here, so the two print the same progress line and write the same log.csv:
   - the output directory (created like mkdir -p) and wall-clock time;
   - the data loaders for -i / -j and their summary line;
   - the log's columns (the trainer's, then BackSlash's) and one row per step;
   - the banner (steps, batch, schedule, what the rate term does), the progress line
     (loss, val loss, lr, norm, time, tokens/s, ETA, and BackSlash's R, lambda R, nu,
     alpha, zero fraction, bits/param) and the final summary;
   - a generated sample, decoded by the tokenizer (as ids without one).
 The numbers come from the trainers; nothing here touches a model.
*/
#ifndef LLMC_TRAIN_REPORT_H
#define LLMC_TRAIN_REPORT_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "dataloader.h"
#include "dggr.h"
#include "logger.h"
#include "tokenizer.h"
#include "train_args.h"
#include "utils.h"

#define GPT2_EOT 50256

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// "2h05m", "4m07s", "12s"
static inline void format_duration(double s, char* out, size_t n) {
    if (s < 0) s = 0;
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(out, n, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60) snprintf(out, n, "%ldm%02lds", v / 60, v % 60);
    else snprintf(out, n, "%lds", v);
}

// the training (random or sequential batches, -rb) and validation (sequential) loaders of
// -i and -j for the model's vocabulary (`model`: the file or spec it came from, named when a
// token is outside it); data-parallel, rank `rank` of `world` keeps its own
// B rows of every global batch of B x world rows (1, 0 for one process). Prints what they
// hold and how many validation batches an evaluation uses. Dies on a bad file.
static inline void train_report_open_data(DataLoader* train, DataLoader* val, const TrainArgs* args, int vocab_size,
                                          const char* model, int world, int rank) {
    int B = args->batch_size, T = args->seq_len;
    if (dataloader_init_shard(train, args->train_tokens, B, T, vocab_size, model,
                              args->random_batches ? DATALOADER_RANDOM : DATALOADER_SEQUENTIAL, (uint64_t)args->seed,
                              world, rank) != BS_OK)
        die("%s", bs_error());
    if (dataloader_init_shard(val, args->val_tokens, B, T, vocab_size, model, DATALOADER_SEQUENTIAL, 0, world, rank) != BS_OK)
        die("%s", bs_error());
    size_t n = dataloader_num_batches(val);
    int val_batches = (int)((size_t)args->val_max_steps < n ? (size_t)args->val_max_steps : n);
    printf("train: %s, %zu tokens (%s batches)   val: %s, %zu tokens, %d batches of %dx%d per evaluation\n",
           args->train_tokens, train->num_tokens, args->random_batches ? "random" : "sequential", args->val_tokens,
           val->num_tokens, val_batches, B, T);
}

// dies when a step's training loss is not finite. At the run's first step no update has
// happened yet, so the weights it started from (`weights_from`: -e's file or spec, or the
// resumed state) or the data are the cause, not the learning rate: the message says so.
static inline void train_report_check_loss(float loss, int step, int first_step, const char* weights_from) {
    if (isfinite(loss)) return;
    if (step == first_step)
        die("the training loss is %f at step %d, before this run's first update: the weights it started from (%s) "
            "give a non-finite loss, so they are at fault, not the learning rate (flag -wmax bounds loaded weights)",
            loss, step, weights_from);
    die("the training loss is %f at step %d: diverged (try a lower -lr)", loss, step);
}

// the tokenizer for the samples, or NULL (they then print as ids) when none is wanted or found
static inline Tokenizer* train_report_tokenizer(const TrainArgs* args) {
    if (args->gen_tokens <= 0) return NULL;
    char dir[4096];
    tokenizer_find_dir(args->tokenizer_dir, dir, sizeof(dir));
    Tokenizer* tok = tokenizer_load_dir(dir);
    if (tok == NULL)
        printf("note: no tokenizer (%s); samples print as token ids (-tok DIR or %s=DIR names its directory)\n", bs_error(),
               TOKENIZER_DIR_ENV);
    return tok;
}

// BackSlash's columns of log.csv, its values, and its part of a progress line: R, nu, alpha,
// the zero fraction at the checkpoint Delta, the bits/param estimate, lambda R (the rate's
// share of the loss; 0 where the rate is not applied: -l 0, or past -lk). lambda_rate comes
// last so that the columns before it keep their places in older logs' readers.
static const char* const TRAIN_REPORT_BACKSLASH_COLUMNS[] = {"rate", "nu", "alpha", "zero_frac", "bits_per_param",
                                                             "lambda_rate"};

// lambda R as the step applied it (0 when the rate was not active)
static inline double train_report_lambda_rate(const DGGR* d) {
    return d->rate_active ? (double)d->cfg.lambda * d->rate : 0.0;
}

static inline void train_report_backslash_columns(Logger* lg) {
    for (size_t i = 0; i < sizeof(TRAIN_REPORT_BACKSLASH_COLUMNS) / sizeof(TRAIN_REPORT_BACKSLASH_COLUMNS[0]); i++)
        logger_add_column(lg, TRAIN_REPORT_BACKSLASH_COLUMNS[i]);
}

static inline void train_report_backslash_log(Logger* lg, const DGGR* d) {
    logger_set(lg, "rate", d->rate);
    logger_set(lg, "nu", d->nu);
    logger_set(lg, "alpha", d->alpha);
    logger_set(lg, "zero_frac", d->zero_frac);
    logger_set(lg, "bits_per_param", d->bits_per_param);
    logger_set(lg, "lambda_rate", train_report_lambda_rate(d));
}

static inline void train_report_backslash_print(const DGGR* d) {
    printf("R %.4g lR %.4g nu %.3f alpha %.3g zero %.1f%% bits %.2f\n", d->rate, train_report_lambda_rate(d), d->nu, d->alpha,
           100.0 * d->zero_frac, d->bits_per_param);
}

// log.csv in `dir` (kept up to resume_step on resume, -1 for a new run): the trainer's
// columns, then BackSlash's (rate .. lambda_rate). With dir NULL (no -o, or a rank
// other than 0) nothing is written.
static inline void train_report_open_log(Logger* lg, const char* dir, int resume_step) {
    logger_init(lg);
    const char* columns[] = {"step", "loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "ms_per_step"};
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) logger_add_column(lg, columns[i]);
    train_report_backslash_columns(lg);
    if (dir != NULL && logger_open(lg, dir, resume_step) != BS_OK) die("%s", bs_error());
}

// the banner before the first step: the run's shape and schedule (`extra` ends the first
// line, e.g. the thread count), then what the rate term does, visibly
static inline void train_report_banner(const TrainArgs* args, long long tokens_per_step, int accum, const DGGR* d,
                                       const char* extra) {
    printf("training: %d steps, B=%d T=%d (%lld tokens/step, %d batches), lr %g (warmup %d, %s to %g x), "
           "weight decay %g, clip %g%s\n",
           args->max_steps, args->batch_size, args->seq_len, tokens_per_step, accum, args->learning_rate,
           args->warmup_steps,
           args->lr_schedule == LR_COSINE ? "cosine" : args->lr_schedule == LR_LINEAR ? "linear" : "constant",
           args->final_lr_frac, args->weight_decay, args->grad_clip, extra != NULL ? extra : "");
    char bs_line[256];
    dggr_config_describe(&d->cfg, bs_line, sizeof(bs_line));
    printf("%s\n", bs_line);
    printf("  constrained: %zu of %zu parameters; now nu %.3f, zero fraction %.2f%%\n", d->num_constrained,
           d->num_params, d->nu, 100.0 * d->zero_frac);
}

// what one training step measured
typedef struct {
    int step;         // the step's index (0-based; the progress line prints step + 1)
    float loss;       // mean training loss of the step's batches
    float val_loss;   // the latest val loss (printed)
    float step_val;   // the val loss measured at this step, NAN if none (logged)
    float lr;
    double grad_norm;
    double seconds;   // wall time of the step
    double eta_step_s; // smoothed seconds per step, for the ETA
    long long tokens; // tokens in the step
} StepReport;

// the progress line (every -pe steps and at the last step) and the step's log row
static inline void train_report_step(Logger* lg, const TrainArgs* args, const StepReport* s, const DGGR* d) {
    double tok_s = (double)s->tokens / s->seconds;
    if (s->step % args->log_every == 0 || s->step == args->max_steps - 1) {
        char eta[32];
        format_duration(s->eta_step_s * (args->max_steps - s->step - 1), eta, sizeof(eta));
        printf("step %5d/%d | loss %.4f | val %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | ETA %s | ",
               s->step + 1, args->max_steps, s->loss, s->val_loss, s->lr, s->grad_norm, s->seconds * 1e3, tok_s, eta);
        train_report_backslash_print(d);
    }
    logger_set(lg, "step", s->step);
    logger_set(lg, "loss", s->loss);
    if (!isnan(s->step_val)) logger_set(lg, "val_loss", s->step_val);
    logger_set(lg, "lr", s->lr);
    logger_set(lg, "grad_norm", s->grad_norm);
    logger_set(lg, "tokens_per_s", tok_s);
    logger_set(lg, "ms_per_step", s->seconds * 1e3);
    train_report_backslash_log(lg, d);
    if (logger_write_row(lg) != BS_OK) die("%s", bs_error());
}

// the final evaluation's own log row (step = -x, only val_loss)
static inline void train_report_last_row(Logger* lg, int step, float val_loss) {
    logger_set(lg, "step", step);
    logger_set(lg, "val_loss", val_loss);
    if (logger_write_row(lg) != BS_OK) die("%s", bs_error());
}

static inline void train_report_backslash_final(const DGGR* d) {
    printf("BackSlash (lambda %g): nu %.3f, %.2f%% of the constrained weights quantize to zero at Delta %g, "
           "estimated %.2f bits/param\n", (double)d->cfg.lambda, d->nu, 100.0 * d->zero_frac, (double)d->cfg.delta,
           d->bits_per_param);
}

static inline void train_report_final(float val_loss, const DGGR* d) {
    printf("final val loss %.4f\n", val_loss);
    train_report_backslash_final(d);
}

// prints a generated sample: ids[0] is the prompt (<|endoftext|>), ids[1..n] the tokens
static inline void train_report_sample(const Tokenizer* tok, const int* ids, int n) {
    printf("generated:\n---\n");
    if (tok != NULL) {
        char* text = NULL;
        size_t len = 0;
        if (tokenizer_decode(tok, ids + 1, (size_t)n, &text, &len) == BS_OK) {
            fwrite(text, 1, len, stdout);
            free(text);
        }
    } else {
        for (int t = 1; t <= n; t++) printf("%d ", ids[t]);
    }
    printf("\n---\n");
}

#endif // LLMC_TRAIN_REPORT_H
