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
     (shapes, rate, zero fraction, bits/param) is llmc/dggr.h, the CPU's own code;
   - under mpirun it trains data-parallel over GPUs (llmc/dist_nccl.cuh: NCCL all-reduce of
     the gradients, or ZeRO-1 with -z 1), with the CPU trainer's checks (llmc/dist.h).

 Usage: ./train_gpt2cu -h. Examples:
   ./train_gpt2cu -e d12 -b 16 -t 1024 -d 524288 -x 1000 -l 1000 -o out   GPT-2 124M with BackSlash
   ./train_gpt2cu -e out/model_00001000.bin -x 100                          continue from weights
   ./train_gpt2cu -e d12 -b 16 -t 1024 -d 524288 -x 1000 -o out -y 1     resume out/ exactly
   mpirun -np 8 ./train_gpt2cu -e d12 -b 16 -t 1024 -d 524288 -x 1000 -z 1  8 GPUs (scripts/run_multi_gpu.sh)
 doc/cuda.md describes the build, the precisions and what the tests check.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "llmc/gpt2_cuda.cuh"
#include "llmc/dist_nccl.cuh"
#include "llmc/adamw.h"
#include "llmc/dataloader.h"
#include "llmc/gpt2_cpu.h"
#include "llmc/logger.h"
#include "llmc/rng.h"
#include "llmc/run_config.h"
#include "llmc/tokenizer.h"
#include "llmc/train_args.h"
#include "llmc/train_checkpoint.h"
#include "llmc/train_report.h"
#include "llmc/utils.h"

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
    float* row = (float*)malloc_or_die((size_t)Vp * sizeof(float)); // the last position's logits
    ids[0] = V > GPT2_EOT ? GPT2_EOT : 0;
    for (int t = 1; t <= gen_tokens; t++) {
        // the model sees the last max_T tokens (the window slides past the batch length)
        int start = t > max_T ? t - max_T : 0, len = t - start;
        gpt2cuda_forward(model, ids + start, NULL, 1, len, 0.0f);
        gpt2cuda_get_last_logits(model, 0, row);
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
    train_report_sample(tok, ids, gen_tokens);
    free(row);
    free(ids);
}

// the model's weights, from -e: an llm.c checkpoint, a coded model (.bsz) or a spec like
// d12, read or initialised by the CPU model's code (gpt2_cpu.h), so both trainers agree
static float* initial_params(const TrainArgs* args, GPT2Config* config) {
    GPT2 cpu;
    int loaded = 0;
    if (gpt2_build_from_init(&cpu, args->init, (uint64_t)args->seed, &loaded) != BS_OK) die("%s", bs_error());
    if (gpt2_params_check(&cpu.config, cpu.params_memory, args->max_weight, args->init) != BS_OK) die("%s", bs_error());
    printf(loaded ? "loaded %s\n" : "initialised a new model %s\n", args->init);
    *config = cpu.config;
    float* params = cpu.params_memory;
    cpu.params_memory = NULL;
    gpt2_free(&cpu);
    return params;
}

int main(int argc, char** argv) {
    // data-parallel under mpirun (dist.h, dist_nccl.cuh): rank and world; one rank otherwise
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
    if (args.reference_kernels) die("flag -ref: the plain C reference kernels are the CPU trainer's (train_gpt2)");
    if (args.classifier) die("flag -cls: the classifier mode is the CPU trainer's (train_gpt2)");
    if (cuda_device_count() == 0) die("no CUDA device found: train_gpt2cu needs a GPU (train_gpt2 trains on the CPU)");
    if (dist.rank == 0 && args.output_dir != NULL && make_directories(args.output_dir) != 0)
        die("%s: cannot create the output directory (%s)", args.output_dir, strerror(errno));
    // what the writers of a killed run left behind (atomic writes' *.tmp.<pid>, utils.h)
    if (dist.rank == 0 && args.output_dir != NULL && atomic_remove_stale_temps(args.output_dir, stdout) < 0)
        die("%s", bs_error());
    int B = args.batch_size, T = args.seq_len; // B: rows per rank; the global batch is B x ranks
    long long tokens_per_step = 0; // -d: tokens per step, by gradient accumulation over `accum` batches per rank
    int accum = 1;
    if (train_args_accumulation(&args, dist.world, &tokens_per_step, &accum) != BS_OK) die("%s", bs_error());

    // the weights (and optimizer state): a saved training state (-y 1), a checkpoint, or new
    GPT2Config config;
    float* params = NULL;
    TrainCheckpoint ck;
    memset(&ck, 0, sizeof(ck));
    TrainProgress pr;
    memset(&pr, 0, sizeof(pr));
    pr.val_loss = NAN;
    int resumed = 0;
    RunConfig* saved = (RunConfig*)malloc_or_die(sizeof(RunConfig)); // the resumed state's run configuration
    int has_saved = 0;
    char state_path[4096] = "";
    char weights_from[4096]; // -e, or the state resumed from (for the messages)
    snprintf(weights_from, sizeof(weights_from), "%s", args.init);
    if (args.resume) {
        int last = train_checkpoint_latest(args.output_dir);
        if (last >= 0) {
            char* path = state_path;
            snprintf(state_path, sizeof(state_path), "%s/state_%08d.bin", args.output_dir, last);
            if (train_checkpoint_load(path, &ck) != BS_OK) die("%s", bs_error());
            if (gpt2_params_check(&ck.config, ck.params, args.max_weight, path) != BS_OK) die("%s", bs_error());
            snprintf(weights_from, sizeof(weights_from), "%s", path);
            if (ck.progress.batch_size != B || ck.progress.seq_len != T)
                die("%s: saved by a run with -b %d -t %d; resume with the same (got -b %d -t %d)", path,
                    ck.progress.batch_size, ck.progress.seq_len, B, T);
            if (ck.progress.world_size != dist.world)
                die("%s: saved by a run of %d rank(s); resume it with mpirun -np %d (this run has %d)", path,
                    ck.progress.world_size, ck.progress.world_size, dist.world);
            has_saved = ck.run_config != NULL;
            if (has_saved && run_config_from_json(saved, ck.run_config, ck.run_config_size, path) != BS_OK)
                die("%s", bs_error());
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
        pr.world_size = dist.world;
    }
    if (T > config.max_seq_len) die("flag -t: %d is longer than the model's max_seq_len %d", T, config.max_seq_len);
    // the run's configuration (run_config.h), as train_gpt2: checked against the resumed
    // state's, written to run.json and into every state; a new run refuses another run's files
    RunConfig* run = (RunConfig*)malloc_or_die(sizeof(RunConfig));
    if (run_config_build(run, "train_gpt2cu", &args, &config, dist.world) != BS_OK) die("%s", bs_error());
    if (resumed && !has_saved) printf("note: %s predates run configurations; only -b, -t and the ranks are checked\n", state_path);
    if (resumed && has_saved && run_config_check_resume(saved, run, state_path) != BS_OK) die("%s", bs_error());
    size_t run_json_len = 0;
    char* run_json = run_config_to_json(run, &run_json_len);
    if (run_json == NULL) die("out of memory");
    if (dist.rank == 0 && args.output_dir != NULL) {
        if (run_dir_prepare(args.output_dir, args.resume, resumed, args.overwrite, run) != BS_OK) die("%s", bs_error());
        if (run_config_write_file(args.output_dir, run) != BS_OK) die("%s", bs_error());
    }
    free(run);
    free(saved);

    // every rank must start from the same weights (and, resuming, moments)
    size_t num_params = gpt2_num_params(&config);
    check[0] = '\0';
    dist_text_add_crc(check, "weights", params, num_params * sizeof(float));
    if (resumed) {
        dist_text_add_crc(check, "adam_m", ck.m, num_params * sizeof(float));
        dist_text_add_crc(check, "adam_v", ck.v, num_params * sizeof(float));
    }
    if (dist_check_agree(&dist, check, resumed ? "the resumed state" : "the initial weights") != BS_OK) dist_fail(&dist, bs_error());

    int device = dist_nccl_device(&dist); // the rank's index on its machine
    CudaContext ctx;
    cuda_context_init(&ctx, device);
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, device));
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
    dist_shard_chunks(&dist, &model.dggr, args.zero_stage); // -z 1: this rank's part of the optimizer step
    DistNccl nccl; // the communicator (none with one rank)
    dist_nccl_init(&nccl, &dist);
    printf("model: %d layers, %d channels, %d heads, vocab %d (padded %d), max_seq_len %d, %zu parameters (%.1f M)\n",
           config.num_layers, config.channels, config.num_heads, config.vocab_size, config.padded_vocab_size,
           config.max_seq_len, model.num_params, model.num_params / 1e6);
    printf("device: %s, %d SMs, %.1f GiB; precision %s (fp32 master weights and moments)\n", prop.name,
           prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, FLOATX_NAME);

    // data (each rank keeps its own rows of every global batch of B x ranks rows), the
    // tokenizer for the samples, the log (rank 0 writes it), as train_gpt2
    DataLoader train, val;
    train_report_open_data(&train, &val, &args, config.vocab_size, weights_from, dist.world, dist.rank);
    if (resumed) train.state = pr.loader;
    dist_check_token_files(&dist, &train, &val); // the same token files on every rank
    Tokenizer* tok = train_report_tokenizer(&args);
    Logger lg;
    train_report_open_log(&lg, dist.rank == 0 ? args.output_dir : NULL, resumed ? pr.step : -1);
    train_report_banner(&args, tokens_per_step, accum, &model.dggr, NULL);
    if (dist.world > 1)
        printf("data-parallel: %d ranks (MPI + NCCL) x B=%d rows; gradients averaged every step; optimizer %s\n", dist.world, B,
               dist.sharded ? "sharded over the ranks (-z 1, ZeRO-1)" : "step on every rank (-z 0)");

    Rng sample_rng = {pr.sample_rng};
    double ema_step_s = -1.0;
    float val_loss = pr.val_loss; // resumed: the last one measured before the state was written
    double last_save_s = now_seconds(); // -nm: minutes since the last checkpoint
    float* host_params = (float*)malloc_or_die(model.num_params * sizeof(float));
    float* host_m = (float*)malloc_or_die(model.num_params * sizeof(float));
    float* host_v = (float*)malloc_or_die(model.num_params * sizeof(float));
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
            TrainProgress now = {step, train.state, sample_rng.state, B, T, dist.world, val_loss, run_json};
            dist_nccl_gather_state(&nccl, &model); // -z 1: every span's master weights and moments
            gpt2cuda_get_params(&model, host_params);
            gpt2cuda_get_opt_state(&model, host_m, host_v);
            check[0] = '\0'; // data-parallel: the ranks' weights must still agree
            dist_text_add_crc(check, "weights", host_params, model.num_params * sizeof(float));
            if (dist_check_agree(&dist, check, "the weights at a checkpoint") != BS_OK) dist_fail(&dist, bs_error());
            if (dist.rank == 0) {
                BszOptions bsz;
                uint8_t* rows = NULL; // -ld, -bc, -br: the coded checkpoint's options, as on the CPU
                if (train_checkpoint_bsz_options(&args, &config, &bsz, &rows) != BS_OK ||
                    train_checkpoint_save(args.output_dir, &config, host_params, host_m, host_v, &now, &model.dggr, &bsz) != BS_OK ||
                    train_checkpoint_remove_old_states(args.output_dir, step, args.keep_states, stdout) < 0) // -nk
                    die("%s", bs_error());
                free(rows);
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

        // one optimizer step over `accum` micro-batches
        double t0 = now_seconds();
        gpt2cuda_zero_grad(&model);
        double loss_sum = 0.0;
        for (int micro = 0; micro < accum; micro++) {
            dataloader_next_batch(&train);
            gpt2cuda_forward(&model, train.inputs, train.targets, B, T, 1.0f / ((float)B * T * accum));
            loss_sum += gpt2cuda_backward(&model);
        }
        float loss = (float)dist_mean(&dist, loss_sum / accum);
        train_report_check_loss(loss, step, pr.step, weights_from);
        float lr = lr_schedule(args.lr_schedule, step, args.max_steps, args.warmup_steps, args.learning_rate,
                               args.final_lr_frac);
        // the gradients averaged over the ranks (NCCL), then the fused update (dist_nccl.cuh;
        // with one rank: gpt2cuda_update)
        float norm = dist_nccl_update(&nccl, &model, lr, args.beta1, args.beta2, 1e-8f, args.weight_decay, args.grad_clip, step + 1, 1);
        double dt = now_seconds() - t0; // the update synchronizes: dt is the step's wall time

        ema_step_s = ema_step_s < 0 ? dt : 0.9 * ema_step_s + 0.1 * dt;
        StepReport rep = {step, loss, val_loss, step_val, lr, norm, dt, ema_step_s, tokens_per_step};
        train_report_step(&lg, &args, &rep, &model.dggr);
    }
    train_report_final(val_loss, &model.dggr);

    logger_close(&lg);
    free(run_json);
    tokenizer_free(tok);
    dataloader_free(&train);
    dataloader_free(&val);
    free(host_params);
    free(host_m);
    free(host_v);
    if (dist.rank == 0) matmul_paths_print(&ctx, "train_gpt2cu");
    dist_nccl_free(&nccl);
    gpt2cuda_free(&model);
    cuda_context_free(&ctx);
    dist_finalize(&dist);
    return 0;
}
