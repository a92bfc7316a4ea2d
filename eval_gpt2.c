/*
 eval_gpt2.c: the validation loss of a saved GPT-2 model, optionally after magnitude
 pruning or uniform quantization of its weights: the measurements behind the pruning
 and quantization plots of doc/results.md.

 The path: a model file (llm.c fp32 .bin, or a coded .bsz, decoded and dequantized;
 gpt2_load_checkpoint) -> -p: the smallest-magnitude fraction of the constrained weights
 (weight matrices and embeddings) set to zero, one global threshold (llmc/prune.h) ->
 -q: every parameter rounded to a multiple of Delta, as the codec does (llmc/quantize.h)
 -> the mean val loss over -m sequential batches of -b x -t tokens (llmc/gpt2_eval.h,
 the same loop as the trainer's, so the numbers agree with a training log's for the
 same weights, batches and shape). A model in a run directory (DIR/model_*.bin or .bsz
 beside DIR/run.json, llmc/run_config.h) is evaluated by default as its trainer measured
 the val loss: that run's -j, -b, -t and -m, unless given here; it prints what it used.

 Usage: ./eval_gpt2 -e MODEL [-j VAL] [-b B] [-t T] [-m BATCHES] [-p FRACTION] [-q DELTA] [-wmax MAX]
                    [-o CSV] [-tag NAME] [-pb FILE] [-f TRAIN [-gd DELTA] [-go CSV]]
   -o appends one row (tag,model,prune_frac,delta,zero_frac,val_loss,batches,B,T) to CSV,
   writing the header first when the file is new or empty. -m 0 evaluates every batch of
   the file. -pb writes each batch's mean loss, one per line (scripts/paired_se.py
   compares two models on the same batches). -f prints the parameter groups of the
   evaluated weights (llmc/param_groups.h: non-embedding matrices, wte rows binned by
   their token's count in TRAIN, unused rows), -go appends them to a CSV.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llmc/dataloader.h"
#include "llmc/gpt2_cpu.h"
#include "llmc/gpt2_eval.h"
#include "llmc/param_groups.h"
#include "llmc/tokenfile.h"
#include "llmc/prune.h"
#include "llmc/quantize.h"
#include "llmc/run_config.h"
#include "llmc/utils.h"

typedef struct {
    const char* model;    // -e
    const char* val;      // -j
    int B, T;             // -b, -t
    int batches;          // -m
    double prune;         // -p: fraction of the constrained weights to zero (0: none)
    double delta;         // -q: quantization step (0: none)
    const char* csv;      // -o
    const char* tag;      // -tag
    double max_weight;    // -wmax: refuse weights that are not finite or above this in |w| (0: accept any)
    const char* per_batch; // -pb
    const char* groups_train; // -f
    double groups_delta;  // -gd (0: -q's Delta, else 1e-3)
    const char* groups_csv; // -go
    int given_val, given_B, given_T, given_batches; // the flag was on the command line
} EvalArgs;

static void usage(FILE* f, const char* prog) {
    fprintf(f, "usage: %s -e MODEL [flags]   (each flag takes a value)\n"
               "  -e    model: llm.c fp32 checkpoint (.bin) or coded model (.bsz) (required)\n"
               "  -j    validation tokens (llm.c token file) (default data/corpus_val.bin)\n"
               "  -b    batch size B (default 8)\n"
               "  -t    sequence length T (default 64)\n"
               "  -m    validation batches, sequential from the start of the file (0: all of them) (default 20)\n"
               "        -j -b -t -m default to the trainer's when the model's directory has its run.json\n"
               "  -p    prune: zero this fraction of the weight matrices and embeddings, smallest |w| first,\n"
               "        one global threshold (default 0: none)\n"
               "  -q    quantize every parameter to round(w/Delta)*Delta, after -p (default 0: none)\n"
               "  -o    append a CSV row (tag,model,prune_frac,delta,zero_frac,val_loss,batches,B,T) to this file\n"
               "  -tag  the row's tag column (default: empty)\n"
               "  -wmax refuse a model with a weight that is not finite or larger than this in |w|, naming the\n"
               "        tensor (default %g; 0: accept any)\n"
               "  -pb   write each batch's mean loss to this file, one per line\n"
               "  -f    training token file: print the parameter groups (matrices, wte rows binned by training count,\n"
               "        unused rows: zeros and bits) of the evaluated weights\n"
               "  -gd   Delta of the parameter groups (default: -q's, else 0.001)\n"
               "  -go   append the parameter groups to this CSV (tag,delta,group,params,share,rows,zero_frac,entropy_bits,eg_bits,eg_k)\n"
               "  -h    this help\n", prog, GPT2_DEFAULT_MAX_ABS_WEIGHT);
}

// BS_OK, 1 for -h, or BS_EINVAL with a message naming the flag
static int parse_args(EvalArgs* a, int argc, char** argv) {
    *a = (EvalArgs){NULL, "data/corpus_val.bin", 8, 64, 20, 0.0, 0.0, NULL, "", GPT2_DEFAULT_MAX_ABS_WEIGHT, NULL, NULL, 0.0, NULL,
                    0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char* flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) return 1;
        if (i + 1 >= argc) return bs_error_set(BS_EINVAL, "flag %s needs a value", flag);
        const char* val = argv[++i];
        if (val[0] == '\0') return bs_error_set(BS_EINVAL, "flag %s: empty value", flag);
        long long iv;
        double fv;
        if (strcmp(flag, "-e") == 0) a->model = val;
        else if (strcmp(flag, "-j") == 0) { a->val = val; a->given_val = 1; }
        else if (strcmp(flag, "-o") == 0) a->csv = val;
        else if (strcmp(flag, "-tag") == 0) a->tag = val;
        else if (strcmp(flag, "-pb") == 0) a->per_batch = val;
        else if (strcmp(flag, "-f") == 0) a->groups_train = val;
        else if (strcmp(flag, "-go") == 0) a->groups_csv = val;
        else if (strcmp(flag, "-gd") == 0) {
            if (!parse_float(val, 1e-9, 1e3, &fv)) return bs_error_set(BS_EINVAL, "flag -gd: '%s' is not a step in (0, 1000]", val);
            a->groups_delta = fv;
        }
        else if (strcmp(flag, "-b") == 0 || strcmp(flag, "-t") == 0 || strcmp(flag, "-m") == 0) {
            long long lo = flag[1] == 'm' ? 0 : 1;
            if (!parse_int(val, lo, 1 << 20, &iv)) return bs_error_set(BS_EINVAL, "flag %s: '%s' is not an integer in [%lld, %d]", flag, val, lo, 1 << 20);
            if (flag[1] == 'b') { a->B = (int)iv; a->given_B = 1; }
            else if (flag[1] == 't') { a->T = (int)iv; a->given_T = 1; }
            else { a->batches = (int)iv; a->given_batches = 1; }
        } else if (strcmp(flag, "-p") == 0) {
            if (!parse_float(val, 0.0, 1.0, &fv)) return bs_error_set(BS_EINVAL, "flag -p: '%s' is not a fraction in [0, 1]", val);
            a->prune = fv;
        } else if (strcmp(flag, "-q") == 0) {
            if (!parse_float(val, 0.0, 1e3, &fv)) return bs_error_set(BS_EINVAL, "flag -q: '%s' is not a step in [0, 1000] (0: none)", val);
            a->delta = fv;
        } else if (strcmp(flag, "-wmax") == 0) {
            if (!parse_float(val, 0.0, 1e30, &fv)) return bs_error_set(BS_EINVAL, "flag -wmax: '%s' is not a bound in [0, 1e30] (0: none)", val);
            a->max_weight = fv;
        } else {
            return bs_error_set(BS_EINVAL, "unknown flag %s", flag);
        }
    }
    if (a->model == NULL) return bs_error_set(BS_EINVAL, "flag -e (the model file) is required");
    if (strchr(a->tag, ',') || strchr(a->tag, '\n')) return bs_error_set(BS_EINVAL, "flag -tag: no commas or newlines");
    if ((a->groups_csv != NULL || a->groups_delta > 0.0) && a->groups_train == NULL)
        return bs_error_set(BS_EINVAL, "flags -go and -gd need -f (the training token file)");
    return BS_OK;
}

// The val loss settings of the run that wrote the model: -j, -b, -t, -m of run.json in the
// model's directory, for those not given here. *run_json gets that file's path ("" if none).
static int defaults_from_run(EvalArgs* a, RunConfig* run, char* run_json, size_t n) {
    run_json[0] = '\0';
    const char* slash = strrchr(a->model, '/');
    if (slash == NULL) snprintf(run_json, n, "run.json");
    else snprintf(run_json, n, "%.*s/run.json", (int)(slash - a->model), a->model);
    if (bs_file_size(run_json) < 0) { run_json[0] = '\0'; return BS_OK; }
    int rc = run_config_read_file(run_json, run);
    if (rc != BS_OK) return rc;
    long long iv;
    const char* v;
    if (!a->given_val && (v = run_config_get(run, "-j")) != NULL) a->val = v;
    if (!a->given_B && (v = run_config_get(run, "-b")) != NULL && parse_int(v, 1, 1 << 20, &iv)) a->B = (int)iv;
    if (!a->given_T && (v = run_config_get(run, "-t")) != NULL && parse_int(v, 1, 1 << 20, &iv)) a->T = (int)iv;
    if (!a->given_batches && (v = run_config_get(run, "-m")) != NULL && parse_int(v, 1, 1 << 20, &iv))
        a->batches = (int)iv;
    return BS_OK;
}

// appends the result row to `path` (the header first if the file is new or empty)
static int append_csv_row(const char* path, const EvalArgs* a, double zero_frac, float loss, size_t batches) {
    int64_t size = bs_file_size(path);
    FILE* f = fopen(path, "a");
    if (f == NULL) return bs_error_set(BS_EIO, "%s: cannot open for appending (%s)", path, strerror(errno));
    char row[8192];
    int len = snprintf(row, sizeof(row), "%s%s,%s,%.6g,%.6g,%.6f,%.6f,%zu,%d,%d\n",
                       size <= 0 ? "tag,model,prune_frac,delta,zero_frac,val_loss,batches,B,T\n" : "", a->tag, a->model,
                       a->prune, a->delta, zero_frac, (double)loss, batches, a->B, a->T);
    int rc = len > 0 && len < (int)sizeof(row) ? bs_append_whole(fileno(f), row, (size_t)len, path)
                                                : bs_error_set(BS_ELIMIT, "%s: the row is too long", path);
    fclose(f); // nothing is buffered: bs_append_whole wrote the row or cut it off
    return rc;
}

int main(int argc, char** argv) {
    cpu_threads_passive_wait(argv);
    EvalArgs args;
    int prc = parse_args(&args, argc, argv);
    if (prc == 1) { usage(stdout, argv[0]); return 0; }
    if (prc != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        usage(stderr, argv[0]);
        return 1;
    }
    RunConfig* run = (RunConfig*)malloc_or_die(sizeof(RunConfig)); // holds the strings args.val may point to
    char run_json[4096];
    if (defaults_from_run(&args, run, run_json, sizeof(run_json)) != BS_OK) die("%s", bs_error());
    if (run_json[0] != '\0')
        printf("evaluating as the trainer's val loss did (%s): -j %s -b %d -t %d -m %d\n", run_json, args.val, args.B,
               args.T, args.batches);
    GPT2 model;
    if (gpt2_load_checkpoint(&model, args.model) != BS_OK) die("%s", bs_error());
    if (gpt2_params_check(&model.config, model.params_memory, args.max_weight, args.model) != BS_OK) die("%s", bs_error());
    const GPT2Config* cfg = &model.config;
    if (args.T > cfg->max_seq_len) die("flag -t: %d is longer than the model's max_seq_len %d", args.T, cfg->max_seq_len);

    // pruning, then quantization
    PruneResult pr;
    if (prune_magnitude(cfg, model.params_memory, args.prune, &pr) != BS_OK) die("%s", bs_error());
    if (args.delta > 0.0) quantize_array_inplace(model.params_memory, model.num_params, (float)args.delta);
    size_t constrained = 0, zeros = prune_count_zeros(cfg, model.params_memory, &constrained);
    double zero_frac = (double)zeros / (double)constrained;

    DataLoader val;
    if (dataloader_init_shard(&val, args.val, args.B, args.T, cfg->vocab_size, args.model, DATALOADER_SEQUENTIAL, 0, 1, 0) != BS_OK)
        die("%s", bs_error());
    size_t batches = gpt2_validation_batches(&val, args.batches);
    float loss = NAN;
    double* per_batch = (double*)malloc_or_die(batches * sizeof(double));
    if (gpt2_validation_losses(&model, &val, args.batches, &loss, per_batch) != BS_OK) die("%s", bs_error());
    if (args.per_batch != NULL) {
        AtomicFile af;
        if (atomic_open(&af, args.per_batch) != BS_OK) die("flag -pb: %s", bs_error());
        for (size_t i = 0; i < batches; i++) fprintf(af.f, "%.9g\n", per_batch[i]);
        if (ferror(af.f)) { atomic_abort(&af); die("flag -pb: %s: write failed", args.per_batch); }
        if (atomic_commit(&af) != BS_OK) die("flag -pb: %s", bs_error());
    }
    free(per_batch);

    printf("%s: val loss %.4f (%zu batches of %dx%d from %s)", args.model, (double)loss, batches, args.B, args.T, args.val);
    if (args.prune > 0.0) printf(", pruned %zu of %zu constrained weights (|w| <= %.3g)", pr.num_pruned, pr.num_constrained, (double)pr.threshold);
    if (args.delta > 0.0) printf(", quantized at Delta %g", args.delta);
    printf(", %.2f%% of the constrained weights are zero\n", 100.0 * zero_frac);
    if (args.csv != NULL && append_csv_row(args.csv, &args, zero_frac, loss, batches) != BS_OK) die("%s", bs_error());
    if (args.groups_train != NULL) {
        uint16_t* tokens = NULL;
        size_t n = 0;
        if (tokenfile_read(args.groups_train, &tokens, &n) != BS_OK) die("flag -f: %s", bs_error());
        uint64_t* counts = (uint64_t*)malloc_or_die((size_t)cfg->vocab_size * sizeof(uint64_t));
        param_groups_count_tokens(tokens, n, cfg->vocab_size, counts);
        float gd = (float)(args.groups_delta > 0.0 ? args.groups_delta : args.delta > 0.0 ? args.delta : QUANTIZE_DEFAULT_DELTA);
        ParamGroups pg;
        if (param_groups_compute(cfg, model.params_memory, counts, gd, &pg) != BS_OK) die("%s", bs_error());
        param_groups_print(stdout, &pg);
        if (args.groups_csv != NULL && param_groups_append_csv(args.groups_csv, args.tag, &pg) != BS_OK) die("%s", bs_error());
        free(counts);
        free(tokens);
    }

    dataloader_free(&val);
    gpt2_free(&model);
    free(run);
    return 0;
}
