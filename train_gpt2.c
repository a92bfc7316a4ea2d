/*
 train_gpt2.c: trains GPT-2 on the CPU, the readable reference trainer.

 The path of the data: token files (dataloader.h) -> batches -> the model's forward and
 backward (gpt2_cpu.h, layers in cpu_kernels.h / cpu_fast.h) -> gradient clipping and
 AdamW with warmup + cosine learning rate (adamw.h), with BackSlash's rate term fused in
 (dggr.h: -l lambda > 0) -> checkpoints (model_fp32.h, llm.c's format; bsz.h, the
 quantized, value-mapped, EG-coded model) and the full training state for resume
 (train_checkpoint.h, shared with train_gpt2cu) -> log.csv (logger.h). -e also takes a
 coded model (.bsz). Under mpirun it trains data-parallel (dist.h, doc/distributed.md):
 each rank its own rows of every batch, gradients summed over the ranks, rank 0 writes.

 Usage: ./train_gpt2 -h. Examples:
   ./train_gpt2 -e d6 -b 8 -t 256 -x 300 -o out              a 6-layer model from scratch
   ./train_gpt2 -e gpt2_124M.bin -x 20                        fine-tune an llm.c checkpoint
   ./train_gpt2 -e d6 -b 8 -t 256 -x 300 -o out -y 1          continue where out/ stopped
   mpirun -np 2 ./train_gpt2 -e d6 -b 4 -t 256 -x 300         2 ranks x 4 rows = the first line's batch
 doc/train_cpu.md describes the flags, the files and the resume guarantee.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "llmc/adamw.h"
#include "llmc/classifier.h"
#include "llmc/dataloader.h"
#include "llmc/dggr.h"
#include "llmc/dist.h"
#include "llmc/gpt2_cpu.h"
#include "llmc/gpt2_eval.h"
#include "llmc/logger.h"
#include "llmc/param_groups.h"
#include "llmc/rng.h"
#include "llmc/run_config.h"
#include "llmc/tokenizer.h"
#include "llmc/train_args.h"
#include "llmc/train_checkpoint.h"
#include "llmc/train_report.h"
#include "llmc/utils.h"

// ----------------------------------------------------------------------------
// the optimizer step: clip, then AdamW per grouped tensor (decay on matrices only)

typedef struct {
    float* m; // AdamW first moments, one per parameter
    float* v; // second moments
    DGGR dggr; // BackSlash: the rate term and the weights' statistics (llmc/dggr.h)
} Optimizer;

// BackSlash: the rate term's settings from the flags, over the model's tensors
static int backslash_init(Optimizer* opt, const GPT2* model, const TrainArgs* args) {
    DGGRConfig c;
    int rc = train_args_dggr_config(args, &c);
    if (rc != BS_OK) return rc;
    return dggr_init_gpt2(&opt->dggr, &c, &model->config);
}

// BackSlash: AdamW and the DGGR rate term in one pass (dggr_step); with -l 0 the update
// is gpt2_adamw_step's bit for bit, and the rate, nu and zero fraction are still measured.
// Data-parallel with -z 1, this rank's chunks only, then every rank's weights and chunk
// sums gathered (dist.h), so all ranks solve the next nu from the same sums.
static void optimizer_step(GPT2* model, Optimizer* opt, const Dist* dist, const TrainArgs* args, float lr, float grad_scale, int t) {
    dggr_step_chunks(&opt->dggr, model->params_memory, model->grads_memory, opt->m, opt->v, lr, args->beta1, args->beta2,
                     1e-8f, args->weight_decay, grad_scale, t, 1, dist->shard_begin, dist->shard_end);
    if (dist_allgather_step(dist, &opt->dggr, model->params_memory) != BS_OK) die("%s", bs_error());
    dggr_reduce_chunks(&opt->dggr, 1);
}

// ----------------------------------------------------------------------------
// checkpoints and the training state

typedef struct {
    int step; // steps completed
    DataLoaderState loader;
    uint64_t sample_rng;
    int world_size; // ranks (dist.h)
    float val_loss; // the last val loss measured
    const char* run_config; // the run's configuration (run_config.h's JSON), saved in the state
} Progress;

// the checkpoint files, as llmc/train_checkpoint.h writes them for both trainers:
// model_<step>.bin, model_<step>.bsz and state_<step>.bin (with BackSlash's moments)
static int save_checkpoint(const char* dir, const GPT2* model, const Optimizer* opt, const Progress* pr, const TrainArgs* args) {
    TrainProgress tp = {pr->step, pr->loader, pr->sample_rng, args->batch_size, args->seq_len, pr->world_size, pr->val_loss,
                        pr->run_config};
    // codec (doc/format.md): the coded model, quantized at -ld (-bc, -br), beside the full-precision state
    BszOptions coded;
    uint8_t* rows = NULL;
    int rc = train_checkpoint_bsz_options(args, &model->config, &coded, &rows);
    if (rc == BS_OK) rc = train_checkpoint_save(dir, &model->config, model->params_memory, opt->m, opt->v, &tp, &opt->dggr, &coded);
    free(rows);
    if (rc != BS_OK) return rc;
    rc = train_checkpoint_remove_old_states(dir, pr->step, args->keep_states, stdout); // -nk
    return rc < 0 ? rc : BS_OK;
}

// restores the model, the optimizer and the progress from a training state file, and the
// configuration of the run that wrote it into *saved (*has_saved 0 for a state without one)
static int load_state(const char* path, GPT2* model, Optimizer* opt, Progress* pr, const TrainArgs* args, RunConfig* saved,
                      int* has_saved) {
    TrainCheckpoint ck;
    int rc = train_checkpoint_load(path, &ck);
    if (rc != BS_OK) return rc;
    if (ck.progress.batch_size != args->batch_size || ck.progress.seq_len != args->seq_len) {
        rc = bs_error_set(BS_EINVAL, "%s: saved by a run with -b %d -t %d; resume with the same (got -b %d -t %d)", path,
                          ck.progress.batch_size, ck.progress.seq_len, args->batch_size, args->seq_len);
        train_checkpoint_free(&ck);
        return rc;
    }
    if (ck.progress.world_size != pr->world_size) {
        // each rank's rows of a batch depend on the number of ranks (doc/distributed.md)
        rc = bs_error_set(BS_EINVAL, "%s: saved by a run of %d rank(s); resume it with mpirun -np %d (this run has %d)", path,
                          ck.progress.world_size, ck.progress.world_size, pr->world_size);
        train_checkpoint_free(&ck);
        return rc;
    }
    if ((rc = gpt2_params_check(&ck.config, ck.params, args->max_weight, path)) != BS_OK) {
        train_checkpoint_free(&ck);
        return rc;
    }
    // the model and the optimizer take over the loaded arrays
    gpt2_init_with_params(model, &ck.config, ck.params);
    opt->m = ck.m;
    opt->v = ck.v;
    ck.params = ck.m = ck.v = NULL;
    pr->step = ck.progress.step;
    pr->loader = ck.progress.loader;
    pr->sample_rng = ck.progress.sample_rng;
    pr->val_loss = ck.progress.val_loss;
    *has_saved = ck.run_config != NULL;
    if (*has_saved && (rc = run_config_from_json(saved, ck.run_config, ck.run_config_size, path)) != BS_OK) {
        train_checkpoint_free(&ck);
        return rc;
    }
    // BackSlash: the saved moments give the next step's nu exactly (a state written
    // without them gets them measured from the weights)
    if ((rc = backslash_init(opt, model, args)) == BS_OK) {
        if (ck.dggr_section != NULL) rc = dggr_state_read(&opt->dggr, ck.dggr_section, ck.dggr_size, path);
        else dggr_measure(&opt->dggr, model->params_memory);
    }
    train_checkpoint_free(&ck);
    return rc;
}

// ----------------------------------------------------------------------------
// evaluation and sampling

// the mean loss over -m validation batches (llmc/gpt2_eval.h, shared with eval_gpt2.c)
static float validation_loss(GPT2* model, DataLoader* val, int max_batches) {
    float loss = NAN;
    if (gpt2_validation_loss(model, val, max_batches, &loss) != BS_OK) die("%s", bs_error());
    return loss;
}

// index drawn from probs[0..n) (summing to 1) with a uniform coin in [0, 1)
static int sample_multinomial(const float* probs, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) return i;
    }
    return n - 1;
}

// generates gen_tokens tokens after <|endoftext|> and prints them decoded (ids without a tokenizer)
static void print_sample(GPT2* model, const Tokenizer* tok, int gen_tokens, int max_T, Rng* rng) {
    int V = model->config.vocab_size, Vp = model->config.padded_vocab_size;
    int* ids = (int*)malloc_or_die((size_t)(gen_tokens + 1) * sizeof(int));
    ids[0] = V > GPT2_EOT ? GPT2_EOT : 0;
    for (int t = 1; t <= gen_tokens; t++) {
        // the model sees the last max_T tokens (the window slides past the batch length)
        int start = t > max_T ? t - max_T : 0, len = t - start;
        if (gpt2_forward(model, ids + start, NULL, 1, len) != BS_OK) die("%s", bs_error());
        ids[t] = sample_multinomial(model->acts.probs + (size_t)(len - 1) * Vp, V, rng_uniform(rng));
    }
    train_report_sample(tok, ids, gen_tokens);
    free(ids);
}

// ----------------------------------------------------------------------------
// -cls 1: fine-tuning a sequence classifier (llmc/classifier.h), the paper's Spam row.
// -i/-j are labeled token files (train/test); every step draws -b random training messages
// (with replacement), cut to their first -t tokens; the model (with BackSlash's rate term,
// -l) and the head (plain AdamW, no weight decay) take one step from the same clipped
// gradient. Every -v steps (from step 0) and at the end: loss and accuracy over every
// test message (-v 0: only at the end), and the accuracy of always answering the training set's most frequent class.

static void train_classifier(GPT2* model, Optimizer* opt, const Dist* dist, const TrainArgs* args, const char* run_json) {
    LabeledTokens train, test;
    if (labeled_tokens_read(args->train_tokens, &train) != BS_OK) die("flag -i: %s", bs_error());
    if (labeled_tokens_read(args->val_tokens, &test) != BS_OK) die("flag -j: %s", bs_error());
    if (train.num_classes != test.num_classes)
        die("%s has %d classes, %s has %d", args->train_tokens, train.num_classes, args->val_tokens, test.num_classes);
    if (train.num_messages == 0 || test.num_messages == 0) die("flag -i/-j: a labeled token file without messages");
    if (train.num_classes < 2) die("%s: %d class(es); a classifier needs at least 2", args->train_tokens, train.num_classes);
    int B = args->batch_size, T = args->seq_len, K = train.num_classes;
    if (args->total_batch_tokens != 0 && args->total_batch_tokens != (long long)B * T)
        die("flag -d: gradient accumulation is not supported with -cls 1");
    ClassifierHead head;
    if (classifier_init(&head, model->config.channels, K, B, (uint64_t)args->seed ^ 0xc1a55ull) != BS_OK) die("%s", bs_error());
    Rng rng;
    rng_init(&rng, (uint64_t)args->seed ^ 0xba7c4ull);
    int* inputs = (int*)malloc_or_die((size_t)B * T * sizeof(int));
    int* last = (int*)malloc_or_die((size_t)B * sizeof(int));
    int* labels = (int*)malloc_or_die((size_t)B * sizeof(int));
    size_t* idx = (size_t*)malloc_or_die((size_t)B * sizeof(size_t));
    double majority = classifier_majority_accuracy(&train, &test);
    printf("classifier: %d classes, train %s (%zu messages), test %s (%zu messages), messages cut to %d tokens; "
           "majority-class accuracy on test %.4f\n", K, args->train_tokens, train.num_messages, args->val_tokens,
           test.num_messages, T, majority);

    Logger lg;
    logger_init(&lg);
    const char* columns[] = {"step", "loss", "val_loss", "accuracy", "majority", "lr", "grad_norm", "ms_per_step"};
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) logger_add_column(&lg, columns[i]);
    train_report_backslash_columns(&lg);
    if (args->output_dir != NULL && logger_open(&lg, args->output_dir, -1) != BS_OK) die("%s", bs_error());
    char bs_line[256];
    dggr_config_describe(&opt->dggr.cfg, bs_line, sizeof(bs_line));
    printf("training: %d steps, B=%d T=%d, lr %g (warmup %d), weight decay %g, clip %g, %d threads\n%s\n", args->max_steps, B, T,
           args->learning_rate, args->warmup_steps, args->weight_decay, args->grad_clip, omp_get_max_threads(), bs_line);

    ClassifierEval ev = {NAN, NAN, 0};
    for (int step = 0; step <= args->max_steps; step++) {
        int is_last = step == args->max_steps;
        int evaluated = 0;
        if (is_last || (args->val_every > 0 && step % args->val_every == 0)) { // -v 0: only at the end
            if (classifier_evaluate(model, &head, &test, B, T, &ev) != BS_OK) die("%s", bs_error());
            printf("step %d: test loss %.4f accuracy %.4f (majority class %.4f)\n", step, ev.loss, ev.accuracy, majority);
            evaluated = 1;
        }
        if (is_last) {
            if (args->output_dir != NULL) {
                Progress now = {step, {0, 0, 0}, rng.state, 1, ev.loss, run_json};
                if (save_checkpoint(args->output_dir, model, opt, &now, args) != BS_OK) die("%s", bs_error());
                printf("wrote %s/model_%08d.bin, model_%08d.bsz and state_%08d.bin (the model; the head is not saved)\n",
                       args->output_dir, step, step, step);
                if (train_checkpoint_print_coded_report(stdout, args->output_dir, step) != BS_OK) die("%s", bs_error());
            }
            logger_set(&lg, "step", step);
            logger_set(&lg, "val_loss", ev.loss);
            logger_set(&lg, "accuracy", ev.accuracy);
            logger_set(&lg, "majority", majority);
            if (logger_write_row(&lg) != BS_OK) die("%s", bs_error());
            break;
        }
        double t0 = now_seconds();
        for (int b = 0; b < B; b++) idx[b] = (size_t)rng_below(&rng, train.num_messages);
        classifier_batch(&train, idx, B, T, inputs, last, labels);
        float loss = NAN;
        if (classifier_forward_backward(model, &head, inputs, last, labels, B, T, &loss) != BS_OK) die("%s", bs_error());
        train_report_check_loss(loss, step, 0, args->init);
        // one clipping factor from the norm of the model's and the head's gradients together
        double nm = grad_norm_l2(model->grads_memory, model->num_params), nh = grad_norm_l2(head.grads, head.num_params);
        double norm = sqrt(nm * nm + nh * nh);
        float scale = grad_clip_scale(norm, args->grad_clip);
        float lr = lr_schedule(args->lr_schedule, step, args->max_steps, args->warmup_steps, args->learning_rate, args->final_lr_frac);
        optimizer_step(model, opt, dist, args, lr, scale, step + 1);
        adamw_update(head.params, head.grads, head.m, head.v, head.num_params, lr, args->beta1, args->beta2, 1e-8f, 0.0f, scale, step + 1);
        double dt = now_seconds() - t0;
        if (step % args->log_every == 0 || step == args->max_steps - 1) {
            printf("step %5d/%d | loss %.4f | test acc %.4f | lr %.2e | norm %.3f | %.1f ms | ", step + 1, args->max_steps,
                   loss, ev.accuracy, lr, norm, dt * 1e3);
            train_report_backslash_print(&opt->dggr);
        }
        logger_set(&lg, "step", step);
        logger_set(&lg, "loss", loss);
        if (evaluated) {
            logger_set(&lg, "val_loss", ev.loss);
            logger_set(&lg, "accuracy", ev.accuracy);
            logger_set(&lg, "majority", majority);
        }
        logger_set(&lg, "lr", lr);
        logger_set(&lg, "grad_norm", norm);
        logger_set(&lg, "ms_per_step", dt * 1e3);
        train_report_backslash_log(&lg, &opt->dggr);
        if (logger_write_row(&lg) != BS_OK) die("%s", bs_error());
    }
    printf("final test accuracy %.4f (majority class %.4f), test loss %.4f\n", ev.accuracy, majority, ev.loss);
    train_report_backslash_final(&opt->dggr);
    logger_close(&lg);
    free(inputs); free(last); free(labels); free(idx);
    classifier_free(&head);
    labeled_tokens_free(&train);
    labeled_tokens_free(&test);
}

// ----------------------------------------------------------------------------

int main(int argc, char** argv) {
    cpu_threads_passive_wait(argv);
    const char* program = "train_gpt2";
    // data-parallel under mpirun (dist.h): rank and world; one rank otherwise
    Dist dist;
    if (dist_init(&dist, &argc, &argv) != BS_OK) die("%s", bs_error());
    TrainArgs args;
    train_args_defaults(&args);
    int prc = train_args_parse(&args, argc, argv);
    if (prc == 1) { train_args_usage(stdout, argv[0]); dist_finalize(&dist); return 0; }
    if (prc != BS_OK) {
        fprintf(stderr, "%serror: %s\n", bs_die_prefix, bs_error());
        train_args_usage(stderr, argv[0]);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    dist_quiet_other_ranks(&dist); // rank 0 prints, logs and writes the files
    train_args_warn(stdout, &args);
    char check[DIST_TEXT_MAX];     // what every rank must agree on, checked before any work
    train_args_describe(&args, check, sizeof(check));
    if (dist_check_agree(&dist, check, "flags") != BS_OK) dist_fail(&dist, bs_error());

    if (dist.rank == 0 && args.output_dir != NULL && make_directories(args.output_dir) != 0)
        die("%s: cannot create the output directory (%s)", args.output_dir, strerror(errno));
    // what the writers of a killed run left behind (atomic writes' *.tmp.<pid>, utils.h)
    if (dist.rank == 0 && args.output_dir != NULL && atomic_remove_stale_temps(args.output_dir, stdout) < 0)
        die("%s", bs_error());

    // the model: from a saved training state (-y 1), an llm.c checkpoint, or from scratch
    GPT2 model;
    Optimizer opt;
    memset(&opt, 0, sizeof(opt));
    Progress pr = {0, {0, 0, 0}, 0, dist.world, NAN, NULL};
    int resumed = 0;
    RunConfig* saved = (RunConfig*)malloc_or_die(sizeof(RunConfig)); // the resumed state's run configuration
    int has_saved = 0;
    char state_path[4096] = "";
    char weights_from[4096]; // -e, or the state resumed from (for the messages)
    snprintf(weights_from, sizeof(weights_from), "%s", args.init);
    if (args.resume) {
        int last = train_checkpoint_latest(args.output_dir);
        if (last >= 0) {
            snprintf(state_path, sizeof(state_path), "%s/state_%08d.bin", args.output_dir, last);
            if (load_state(state_path, &model, &opt, &pr, &args, saved, &has_saved) != BS_OK) die("%s", bs_error());
            snprintf(weights_from, sizeof(weights_from), "%s", state_path);
            printf("resuming from %s (step %d)\n", state_path, pr.step);
            resumed = 1;
        } else {
            printf("-y 1: no state_*.bin in %s, starting a new run\n", args.output_dir);
        }
    }
    if (!resumed) {
        int loaded = 0;
        if (gpt2_build_from_init(&model, args.init, (uint64_t)args.seed, &loaded) != BS_OK) die("%s", bs_error());
        if (gpt2_params_check(&model.config, model.params_memory, args.max_weight, args.init) != BS_OK) die("%s", bs_error());
        printf(loaded ? "loaded %s\n" : "initialised a new model %s\n", args.init);
        opt.m = (float*)calloc_or_die(model.num_params, sizeof(float));
        opt.v = (float*)calloc_or_die(model.num_params, sizeof(float));
        pr.sample_rng = (uint64_t)args.seed ^ 0x5a5a5a5a5a5a5a5aull;
        if (backslash_init(&opt, &model, &args) != BS_OK) die("%s", bs_error());
        dggr_measure(&opt.dggr, model.params_memory);
    }
    model.use_reference_kernels = args.reference_kernels;
    const GPT2Config* cfg = &model.config;
    // the run's configuration (run_config.h): checked against the resumed state's, written to
    // run.json and into every state; a new run refuses a directory holding another run's files
    RunConfig* run = (RunConfig*)malloc_or_die(sizeof(RunConfig));
    if (run_config_build(run, program, &args, cfg, dist.world) != BS_OK) die("%s", bs_error());
    if (resumed && !has_saved) printf("note: %s predates run configurations; only -b, -t and the ranks are checked\n", state_path);
    if (resumed && has_saved && run_config_check_resume(saved, run, state_path) != BS_OK) die("%s", bs_error());
    size_t run_json_len = 0;
    char* run_json = run_config_to_json(run, &run_json_len);
    if (run_json == NULL) die("out of memory");
    pr.run_config = run_json;
    if (dist.rank == 0 && args.output_dir != NULL) {
        if (run_dir_prepare(args.output_dir, args.resume, resumed, args.overwrite, run) != BS_OK) die("%s", bs_error());
        if (run_config_write_file(args.output_dir, run) != BS_OK) die("%s", bs_error());
    }
    free(run);
    free(saved);
    // every rank must start from the same weights (and, resuming, moments)
    check[0] = '\0';
    dist_text_add_crc(check, "weights", model.params_memory, model.num_params * sizeof(float));
    dist_text_add_crc(check, "adam_m", opt.m, model.num_params * sizeof(float));
    dist_text_add_crc(check, "adam_v", opt.v, model.num_params * sizeof(float));
    if (dist_check_agree(&dist, check, resumed ? "the resumed state" : "the initial weights") != BS_OK) dist_fail(&dist, bs_error());
    dist_shard_chunks(&dist, &opt.dggr, args.zero_stage); // -z 1: this rank's part of the optimizer step
    int B = args.batch_size, T = args.seq_len; // B: rows per rank; the global batch is B x ranks
    long long tokens_per_step = 0; // -d: tokens per step, by gradient accumulation over `accum` batches per rank
    int accum = 1;
    if (train_args_accumulation(&args, dist.world, &tokens_per_step, &accum) != BS_OK) die("%s", bs_error());
    if (T > cfg->max_seq_len) die("flag -t: %d is longer than the model's max_seq_len %d", T, cfg->max_seq_len);
    printf("model: %d layers, %d channels, %d heads, vocab %d (padded %d), max_seq_len %d, %zu parameters (%.1f M)\n",
           cfg->num_layers, cfg->channels, cfg->num_heads, cfg->vocab_size, cfg->padded_vocab_size, cfg->max_seq_len,
           model.num_params, model.num_params / 1e6);

    if (args.classifier) { // -cls 1: a classifier on labeled token files instead of the LM loop
        if (dist.world > 1) dist_fail(&dist, "flag -cls: the classifier mode runs in one process (not under mpirun)");
        train_classifier(&model, &opt, &dist, &args, run_json);
        free(run_json);
        free(opt.m);
        free(opt.v);
        dggr_free(&opt.dggr);
        gpt2_free(&model);
        dist_finalize(&dist);
        return 0;
    }

    // data (each rank keeps its own rows of every global batch of B x ranks rows), the
    // tokenizer for the samples, the log (rank 0 writes it)
    DataLoader train, val;
    train_report_open_data(&train, &val, &args, cfg->vocab_size, weights_from, dist.world, dist.rank);
    if (resumed) train.state = pr.loader;
    dist_check_token_files(&dist, &train, &val); // the same token files on every rank
    Tokenizer* tok = train_report_tokenizer(&args);
    Logger lg;
    train_report_open_log(&lg, dist.rank == 0 ? args.output_dir : NULL, resumed ? pr.step : -1);

    char extra[96];
    snprintf(extra, sizeof(extra), ", %d threads%s", omp_get_max_threads(), args.reference_kernels ? ", reference kernels" : "");
    train_report_banner(&args, tokens_per_step, accum, &opt.dggr, extra);
    if (dist.world > 1)
        printf("data-parallel: %d ranks (MPI) x B=%d rows; gradients summed over the ranks every step; optimizer step %s\n",
               dist.world, B, dist.sharded ? "sharded over the ranks (-z 1)" : "on every rank (-z 0)");

    Rng sample_rng = {pr.sample_rng};
    double ema_step_s = -1.0;
    float val_loss = pr.val_loss; // resumed: the last one measured before the state was written
    double last_save_s = now_seconds(); // -nm: minutes since the last checkpoint
    for (int step = pr.step; step <= args.max_steps; step++) {
        int last = step == args.max_steps;
        float step_val = NAN;
        if (step == 0 || last || (args.val_every > 0 && step % args.val_every == 0)) {
            val_loss = step_val = (float)dist_mean(&dist, validation_loss(&model, &val, args.val_max_steps));
            printf("step %d: val loss %.4f\n", step, val_loss);
        }
        if (dist.rank == 0 && args.gen_tokens > 0 && (last || (args.sample_every > 0 && step > 0 && step % args.sample_every == 0)))
            print_sample(&model, tok, args.gen_tokens, T, &sample_rng);
        int due_by_time = 0; // -nm: rank 0's clock decides for every rank
        if (args.output_dir != NULL && args.checkpoint_minutes > 0 && step != pr.step && !last) {
            due_by_time = now_seconds() - last_save_s >= 60.0 * args.checkpoint_minutes;
            dist_broadcast_bytes(&dist, &due_by_time, sizeof(due_by_time));
        }
        if (args.output_dir != NULL && step != pr.step &&
            (last || due_by_time || (args.checkpoint_every > 0 && step % args.checkpoint_every == 0))) {
            // data-parallel: the ranks' weights must still agree; with -z 1 rank 0 gathers the moments
            check[0] = '\0';
            dist_text_add_crc(check, "weights", model.params_memory, model.num_params * sizeof(float));
            if (dist_check_agree(&dist, check, "the weights at a checkpoint") != BS_OK) dist_fail(&dist, bs_error());
            if (dist_gather_moments(&dist, &opt.dggr, opt.m, opt.v) != BS_OK) die("%s", bs_error());
            if (dist.rank == 0) {
                Progress now = {step, train.state, sample_rng.state, dist.world, val_loss, run_json};
                if (save_checkpoint(args.output_dir, &model, &opt, &now, &args) != BS_OK) die("%s", bs_error());
                printf("wrote %s/model_%08d.bin, model_%08d.bsz and state_%08d.bin\n", args.output_dir, step, step, step);
                // codec: the size report of the final model
                if (last && train_checkpoint_print_coded_report(stdout, args.output_dir, step) != BS_OK) die("%s", bs_error());
            }
            last_save_s = now_seconds();
        }
        if (last) { // the final evaluation gets a row of its own
            train_report_last_row(&lg, step, step_val);
            break;
        }

        // one training step over `accum` batches (-d): each backward adds the gradient of its
        // batch's mean loss, so the step's mean gradient is the sum / accum (norm and scale)
        double t0 = now_seconds();
        if (gpt2_zero_grad(&model) != BS_OK) die("%s", bs_error());
        double loss_sum = 0.0;
        for (int micro = 0; micro < accum; micro++) {
            dataloader_next_batch(&train);
            if (gpt2_forward(&model, train.inputs, train.targets, B, T) != BS_OK) die("%s", bs_error());
            if (gpt2_backward(&model) != BS_OK) die("%s", bs_error());
            loss_sum += model.mean_loss;
        }
        // data-parallel: the gradients summed over the ranks; dividing by accum x ranks below
        // makes the norm and the step those of the mean over the global batch
        dist_sum_floats(&dist, model.grads_memory, model.num_params);
        float loss = (float)dist_mean(&dist, loss_sum / accum);
        train_report_check_loss(loss, step, pr.step, weights_from);
        double norm = grad_norm_l2(model.grads_memory, model.num_params) / ((double)accum * dist.world);
        float scale = grad_clip_scale(norm, args.grad_clip) / (float)(accum * dist.world);
        float lr = lr_schedule(args.lr_schedule, step, args.max_steps, args.warmup_steps, args.learning_rate, args.final_lr_frac);
        optimizer_step(&model, &opt, &dist, &args, lr, scale, step + 1);
        double dt = now_seconds() - t0;

        ema_step_s = ema_step_s < 0 ? dt : 0.9 * ema_step_s + 0.1 * dt;
        StepReport rep = {step, loss, val_loss, step_val, lr, norm, dt, ema_step_s, tokens_per_step};
        train_report_step(&lg, &args, &rep, &opt.dggr);
    }
    train_report_final(val_loss, &opt.dggr);
    if (dist.rank == 0) param_groups_report(cfg, model.params_memory, train.tokens, train.num_tokens, args.rate_delta);

    logger_close(&lg);
    free(run_json);
    tokenizer_free(tok);
    dataloader_free(&train);
    dataloader_free(&val);
    free(opt.m);
    free(opt.v);
    dggr_free(&opt.dggr);
    gpt2_free(&model);
    dist_finalize(&dist);
    return 0;
}
