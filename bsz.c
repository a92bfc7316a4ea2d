/*
 bsz: coded model files on the command line (format: doc/format.md, code: llmc/bsz.h).

   ./bsz compress IN.bin OUT.bsz [--delta D] [--k K] [--map global|tensor] [--chunk N]
                 [--coder eg|rans|cabac|auto] [--shared-rows TOKENS.bin]
       IN an llm.c checkpoint (fp32 v3 or bf16 v5) -> quantized, value-mapped, entropy coded
   ./bsz decompress IN.bsz OUT.bin
       -> an llm.c fp32 (v3) checkpoint of the dequantized weights
   ./bsz info [--json] [--total] [--groups TOKENS.bin] IN.bsz
       per-tensor and total size table (bits/param for FL, EG, Huffman, entropy, rANS,
       CABAC, the file); --groups: then the statistics over parameter groups
       (llmc/param_groups.h: the non-embedding matrices, wte rows binned by their token's
       count in TOKENS.bin, unused and padding rows, the active parameters), of the decoded
       weights at the file's Delta
   ./bsz bench IN.bin [--runs N] [compress options]
       in-memory encode, parse and decode speed (median of N runs) with the current
       OMP_NUM_THREADS (scripts/bench_codec.sh)
   ./bsz export index|q IN.bsz OUT.raw
       the value-map indices (or the quantized values q) of all weights in llm.c order, as
       little-endian integers of the narrowest width that holds them (1, 2 or 4 bytes;
       unsigned for indices, signed for q): input for other compressors. Shared wte rows
       (--shared-rows) are not coded and are left out
       (scripts/compare_compressors.sh)
*/
#include <string.h>
#include <time.h>
#include "llmc/bsz.h"
#include "llmc/bsz_report.h"
#include "llmc/model_fp32.h"
#include "llmc/param_groups.h"
#include "llmc/tokenfile.h"
#include "llmc/utils.h"

static void usage(FILE* out) {
    fprintf(out,
            "usage:\n"
            "  bsz compress IN.bin OUT.bsz [options]   llm.c checkpoint -> coded model\n"
            "      --delta D           quantization step (default %g): q = round(w / D)\n"
            "      --k K               EG order 0..%d for every tensor (default: the shortest per tensor)\n"
            "      --map global|tensor one value map for the model (default) or one per tensor\n"
            "      --chunk N           weights per chunk of the bitstream, %u..%u (default %u)\n"
            "      --coder C           eg (exp-Golomb, the paper's), rans, cabac, or auto: the smallest per tensor\n"
            "                          (default auto)\n"
            "      --shared-rows T     wte rows of token ids absent from the token file T (and the padding\n"
            "                          rows) are stored once, as their mean row, instead of coded\n"
            "  bsz decompress IN.bsz OUT.bin            coded model -> llm.c fp32 checkpoint (dequantized)\n"
            "  bsz info [--json] [--total] IN.bsz       size report per tensor and in total\n"
            "                                            (--total: only the total row)\n"
            "      --groups T          then zeros and bits per parameter group: non-embedding matrices, wte rows\n"
            "                          by their token's count in the token file T, unused rows, active parameters\n"
            "  bsz export index|q IN.bsz OUT.raw        indices or quantized values as raw integers\n"
            "  bsz bench IN.bin [--runs N] [options]    encode/decode speed, median of N runs (default 5)\n",
            (double)QUANTIZE_DEFAULT_DELTA, EG_MAX_K, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS, BSZ_DEFAULT_CHUNK_PARAMS);
}

static int bad_usage(const char* fmt, const char* arg) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

// parses compress options and up to `max_pos` positional arguments; returns 0 or an exit code
static int parse_compress_args(int argc, char** argv, BszOptions* opt, int* runs, const char** pos, int max_pos, int* npos,
                               const char** shared_rows_tokens) {
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char* a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) return bad_usage("%s needs a value", a);
            const char* v = argv[++i];
            double d;
            long long n;
            if (strcmp(a, "--delta") == 0) {
                if (!parse_float(v, 1e-30, 1e30, &d)) return bad_usage("--delta must be a number > 0, got '%s'", v);
                opt->delta = (float)d;
            } else if (strcmp(a, "--k") == 0) {
                if (!parse_int(v, 0, EG_MAX_K, &n)) return bad_usage("--k must be an integer in 0..8, got '%s'", v);
                opt->k = (int)n;
            } else if (strcmp(a, "--map") == 0) {
                if (strcmp(v, "global") == 0) opt->map_mode = BSZ_MAP_GLOBAL;
                else if (strcmp(v, "tensor") == 0) opt->map_mode = BSZ_MAP_TENSOR;
                else return bad_usage("--map must be global or tensor, got '%s'", v);
            } else if (strcmp(a, "--chunk") == 0) {
                if (!parse_int(v, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS, &n)) return bad_usage("--chunk out of range, got '%s'", v);
                opt->chunk_params = (uint32_t)n;
            } else if (strcmp(a, "--coder") == 0) {
                if (!bsz_coder_parse(v, &opt->coder)) return bad_usage("--coder must be eg, rans, cabac or auto, got '%s'", v);
            } else if (strcmp(a, "--shared-rows") == 0) {
                *shared_rows_tokens = v;
            } else if (runs && strcmp(a, "--runs") == 0) {
                if (!parse_int(v, 1, 1000, &n)) return bad_usage("--runs must be in 1..1000, got '%s'", v);
                *runs = (int)n;
            } else {
                return bad_usage("unknown option %s", a);
            }
        } else if (*npos < max_pos) pos[(*npos)++] = a;
        else return bad_usage("unexpected argument '%s'", a);
    }
    return 0;
}

static int cmd_compress(int argc, char** argv) {
    BszOptions opt = bsz_default_options();
    const char* pos[2];
    const char* tokens = NULL;
    int npos, rc = parse_compress_args(argc, argv, &opt, NULL, pos, 2, &npos, &tokens);
    if (rc) return rc;
    if (npos != 2) return bad_usage("%s", "compress needs IN.bin and OUT.bsz");
    const char* in = pos[0];
    const char* out = pos[1];
    GPT2Config config;
    float* params = NULL;
    if (model_fp32_read(in, &config, &params) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    uint8_t* rows = NULL;
    uint32_t nshared = 0;
    if (tokens) {
        rows = (uint8_t*)malloc_or_die((size_t)config.padded_vocab_size);
        if (bsz_unused_rows(tokens, &config, rows, &nshared) != BS_OK) { fprintf(stderr, "error: --shared-rows: %s\n", bs_error()); return 1; }
        opt.shared_rows = rows;
        printf("%s: %u of %d wte rows are shared (token ids absent from %s, and padding)\n", out, nshared,
               config.padded_vocab_size, tokens);
    }
    rc = bsz_write(out, &config, params, &opt);
    free(rows);
    free(params);
    if (rc != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    int64_t size = bs_file_size(out);
    size_t n = gpt2_num_params(&config);
    printf("%s: %zu parameters -> %lld bytes, %.3f bits/param (fp32: %.1fx smaller)\n", out, n, (long long)size,
           8.0 * (double)size / (double)n, 4.0 * (double)n / (double)size);
    return 0;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char** argv) {
    BszOptions opt = bsz_default_options();
    const char* pos[1];
    const char* tokens = NULL;
    int runs = 5, npos, rc = parse_compress_args(argc, argv, &opt, &runs, pos, 1, &npos, &tokens);
    if (rc) return rc;
    if (npos != 1) return bad_usage("%s", "bench needs IN.bin");
    GPT2Config config;
    float* params = NULL;
    if (model_fp32_read(pos[0], &config, &params) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    uint8_t* rows = NULL;
    uint32_t nshared = 0;
    if (tokens) {
        rows = (uint8_t*)malloc_or_die((size_t)config.padded_vocab_size);
        if (bsz_unused_rows(tokens, &config, rows, &nshared) != BS_OK) { fprintf(stderr, "error: --shared-rows: %s\n", bs_error()); return 1; }
        opt.shared_rows = rows;
    }
    size_t n = gpt2_num_params(&config);
    float* out = (float*)malloc_or_die(n * sizeof(float));
    double enc[1000], parse[1000], dec[1000];
    uint8_t* data = NULL;
    size_t size = 0;
    for (int r = 0; r < runs; r++) {
        free(data);
        double t0 = seconds_now();
        if (bsz_encode(&config, params, &opt, &data, &size) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
        double t1 = seconds_now();
        BszFile f;
        if (bsz_parse(&f, data, size, pos[0]) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
        double t2 = seconds_now();
        if (bsz_decode_params(&f, out) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
        double t3 = seconds_now();
        bsz_close(&f);
        enc[r] = t1 - t0;
        parse[r] = t2 - t1;
        dec[r] = t3 - t2;
    }
    qsort(enc, (size_t)runs, sizeof(double), compare_double);
    qsort(parse, (size_t)runs, sizeof(double), compare_double);
    qsort(dec, (size_t)runs, sizeof(double), compare_double);
    double me = enc[runs / 2], mp = parse[runs / 2], md = dec[runs / 2];
#ifdef _OPENMP
    int threads = omp_get_max_threads();
#else
    int threads = 1;
#endif
    printf("params %zu  threads %d  runs %d  file %.3f bits/param  encode %.1f M params/s (%.3f s)  "
           "parse+CRC %.3f s  decode %.1f M params/s (%.3f s)  decode per thread %.1f M params/s\n",
           n, threads, runs, 8.0 * (double)size / (double)n, (double)n / me / 1e6, me, mp, (double)n / md / 1e6, md,
           (double)n / md / 1e6 / threads);
    free(data); free(out); free(params); free(rows);
    return 0;
}

static int cmd_decompress(int argc, char** argv) {
    if (argc != 2) return bad_usage("%s", "decompress needs IN.bsz and OUT.bin");
    GPT2Config config;
    float* params = NULL;
    if (bsz_read(argv[0], &config, &params) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    int rc = model_fp32_write(argv[1], &config, params);
    free(params);
    if (rc != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    return 0;
}

// the parameter groups of a coded model (bsz info --groups): its decoded weights, quantized
// again at the file's Delta (exact: they are multiples of it), with wte rows binned by the
// counts in a token file
static int print_groups(const BszFile* f, const char* tokens_path) {
    float delta = f->tensors[0].delta;
    for (int t = 1; t < f->num_tensors; t++)
        if (f->tensors[t].delta != delta) {
            fprintf(stderr, "error: --groups: tensors %s and %s have different Deltas (%g, %g); the groups need one\n",
                    f->tensors[0].name, f->tensors[t].name, (double)delta, (double)f->tensors[t].delta);
            return 1;
        }
    uint16_t* tokens = NULL;
    size_t n = 0;
    if (tokenfile_read(tokens_path, &tokens, &n) != BS_OK) { fprintf(stderr, "error: --groups: %s\n", bs_error()); return 1; }
    float* params = (float*)malloc((size_t)f->num_params * sizeof(float));
    uint64_t* counts = (uint64_t*)malloc((size_t)f->config.vocab_size * sizeof(uint64_t));
    int rc = 1;
    ParamGroups pg;
    if (!params || !counts) fprintf(stderr, "error: --groups: out of memory\n");
    else if (bsz_decode_params(f, params) != BS_OK) fprintf(stderr, "error: %s\n", bs_error());
    else {
        param_groups_count_tokens(tokens, n, f->config.vocab_size, counts);
        if (param_groups_compute(&f->config, params, counts, delta, &pg) != BS_OK) fprintf(stderr, "error: %s\n", bs_error());
        else {
            printf("wte rows binned by their token's count in %s (%zu tokens)\n", tokens_path, n);
            param_groups_print(stdout, &pg);
            rc = 0;
        }
    }
    free(params); free(counts); free(tokens);
    return rc;
}

static int cmd_info(int argc, char** argv) {
    int json = 0, total_only = 0;
    const char* in = NULL;
    const char* groups = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--total") == 0) total_only = 1;
        else if (strcmp(argv[i], "--groups") == 0) {
            if (i + 1 >= argc) return bad_usage("%s", "--groups needs a token file");
            groups = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') return bad_usage("unknown option %s", argv[i]);
        else if (!in) in = argv[i];
        else return bad_usage("unexpected argument '%s'", argv[i]);
    }
    if (!in) return bad_usage("%s", "info needs IN.bsz");
    if (groups && json) return bad_usage("%s", "--groups prints a table: not with --json (eval_gpt2 -go writes the groups as csv)");
    BszFile f;
    BszReport rep;
    if (bsz_open(&f, in) != BS_OK || bsz_report_build(&f, &rep) != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        bsz_close(&f);
        return 1;
    }
    if (json) bsz_report_print_json(stdout, &rep, !total_only);
    else bsz_report_print(stdout, &rep, !total_only);
    bsz_report_free(&rep);
    int rc = groups ? print_groups(&f, groups) : 0;
    bsz_close(&f);
    return rc;
}

static int cmd_export(int argc, char** argv) {
    if (argc != 3 || (strcmp(argv[0], "index") != 0 && strcmp(argv[0], "q") != 0))
        return bad_usage("%s", "export needs index|q, IN.bsz and OUT.raw");
    int want_q = strcmp(argv[0], "q") == 0;
    BszFile f;
    if (bsz_open(&f, argv[1]) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    int32_t* v = (int32_t*)malloc_or_die(f.num_params * sizeof(int32_t));
    uint64_t total = 0; // the coded weights, in llm.c order (shared wte rows are not coded: left out)
    for (int t = 0; t < f.num_tensors; t++) {
        uint32_t* idx = (uint32_t*)(v + total);
        if (bsz_decode_tensor(&f, t, NULL, idx) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
        if (want_q)
            for (uint64_t i = 0; i < f.tensors[t].coded; i++) v[total + i] = f.map_values[f.tensors[t].map][idx[i]];
        total += f.tensors[t].coded;
    }
    int64_t lo = 0, hi = 0;
    for (uint64_t i = 0; i < total; i++) {
        int64_t x = want_q ? (int64_t)v[i] : (int64_t)(uint32_t)v[i];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    int width = want_q ? (lo >= -128 && hi <= 127 ? 1 : lo >= -32768 && hi <= 32767 ? 2 : 4) : (hi <= 255 ? 1 : hi <= 65535 ? 2 : 4);
    FILE* out = fopen_or_die(argv[2], "wb");
    for (uint64_t i = 0; i < total; i++) {
        uint8_t b[4];
        store_u32le(b, (uint32_t)v[i]); // two's complement: the low bytes are the narrow value
        if (fwrite(b, 1, (size_t)width, out) != (size_t)width) die("%s: write error (%s)", argv[2], strerror(errno));
    }
    if (fclose(out) != 0) die("%s: write error (%s)", argv[2], strerror(errno));
    printf("%s: %llu %s as %s%d\n", argv[2], (unsigned long long)total, want_q ? "quantized values" : "indices",
           want_q ? "int" : "uint", 8 * width);
    free(v);
    bsz_close(&f);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) { usage(stdout); return 0; }
    if (strcmp(argv[1], "compress") == 0) return cmd_compress(argc - 2, argv + 2);
    if (strcmp(argv[1], "decompress") == 0) return cmd_decompress(argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(argv[1], "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    return bad_usage("unknown command '%s'", argv[1]);
}
