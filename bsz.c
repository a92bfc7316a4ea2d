/*
 bsz: coded model files on the command line (format: doc/format.md, code: llmc/bsz.h).

   ./bsz compress IN.bin OUT.bsz [--delta D] [--k K] [--map global|tensor] [--chunk N]
       IN an llm.c checkpoint (fp32 v3 or bf16 v5) -> quantized, value-mapped, EG-coded
   ./bsz decompress IN.bsz OUT.bin
       -> an llm.c fp32 (v3) checkpoint of the dequantized weights
   ./bsz info [--json] [--total] IN.bsz
       per-tensor and total size table (bits/param for FL, EG0..4, Huffman, entropy, file)
*/
#include <string.h>
#include "llmc/bsz.h"
#include "llmc/bsz_report.h"
#include "llmc/model_fp32.h"
#include "llmc/utils.h"

static void usage(FILE* out) {
    fprintf(out,
            "usage:\n"
            "  bsz compress IN.bin OUT.bsz [options]   llm.c checkpoint -> coded model\n"
            "      --delta D           quantization step (default %g): q = round(w / D)\n"
            "      --k K               EG order 0..%d for every tensor (default: the shortest per tensor)\n"
            "      --map global|tensor one value map for the model (default) or one per tensor\n"
            "      --chunk N           weights per chunk of the bitstream, %u..%u (default %u)\n"
            "  bsz decompress IN.bsz OUT.bin            coded model -> llm.c fp32 checkpoint (dequantized)\n"
            "  bsz info [--json] [--total] IN.bsz       size report per tensor and in total\n"
            "                                            (--total: only the total row)\n",
            (double)QUANTIZE_DEFAULT_DELTA, EG_MAX_K, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS, BSZ_DEFAULT_CHUNK_PARAMS);
}

static int bad_usage(const char* fmt, const char* arg) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

static int cmd_compress(int argc, char** argv) {
    const char* in = NULL;
    const char* out = NULL;
    BszOptions opt = bsz_default_options();
    for (int i = 0; i < argc; i++) {
        const char* a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) return bad_usage("%s needs a value", a);
            const char* v = argv[++i];
            double d;
            long long n;
            if (strcmp(a, "--delta") == 0) {
                if (!parse_float(v, 1e-30, 1e30, &d)) return bad_usage("--delta must be a number > 0, got '%s'", v);
                opt.delta = (float)d;
            } else if (strcmp(a, "--k") == 0) {
                if (!parse_int(v, 0, EG_MAX_K, &n)) return bad_usage("--k must be an integer in 0..8, got '%s'", v);
                opt.k = (int)n;
            } else if (strcmp(a, "--map") == 0) {
                if (strcmp(v, "global") == 0) opt.map_mode = BSZ_MAP_GLOBAL;
                else if (strcmp(v, "tensor") == 0) opt.map_mode = BSZ_MAP_TENSOR;
                else return bad_usage("--map must be global or tensor, got '%s'", v);
            } else if (strcmp(a, "--chunk") == 0) {
                if (!parse_int(v, BSZ_MIN_CHUNK_PARAMS, BSZ_MAX_CHUNK_PARAMS, &n)) return bad_usage("--chunk out of range, got '%s'", v);
                opt.chunk_params = (uint32_t)n;
            } else {
                return bad_usage("unknown option %s", a);
            }
        } else if (!in) in = a;
        else if (!out) out = a;
        else return bad_usage("unexpected argument '%s'", a);
    }
    if (!in || !out) return bad_usage("%s", "compress needs IN.bin and OUT.bsz");
    GPT2Config config;
    float* params = NULL;
    if (model_fp32_read(in, &config, &params) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    int rc = bsz_write(out, &config, params, &opt);
    free(params);
    if (rc != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    int64_t size = bs_file_size(out);
    size_t n = gpt2_num_params(&config);
    printf("%s: %zu parameters -> %lld bytes, %.3f bits/param (fp32: %.1fx smaller)\n", out, n, (long long)size,
           8.0 * (double)size / (double)n, 4.0 * (double)n / (double)size);
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

static int cmd_info(int argc, char** argv) {
    int json = 0, total_only = 0;
    const char* in = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--total") == 0) total_only = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return bad_usage("unknown option %s", argv[i]);
        else if (!in) in = argv[i];
        else return bad_usage("unexpected argument '%s'", argv[i]);
    }
    if (!in) return bad_usage("%s", "info needs IN.bsz");
    BszFile f;
    BszReport rep;
    if (bsz_open(&f, in) != BS_OK || bsz_report_build(&f, &rep) != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        bsz_close(&f);
        return 1;
    }
    if (json) bsz_report_print_json(stdout, &rep);
    else bsz_report_print(stdout, &rep, !total_only);
    bsz_report_free(&rep);
    bsz_close(&f);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) { usage(stdout); return 0; }
    if (strcmp(argv[1], "compress") == 0) return cmd_compress(argc - 2, argv + 2);
    if (strcmp(argv[1], "decompress") == 0) return cmd_decompress(argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
    return bad_usage("unknown command '%s'", argv[1]);
}
