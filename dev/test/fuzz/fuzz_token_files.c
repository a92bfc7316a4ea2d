/*
 libFuzzer target: the readers of token files (llmc/tokenfile.h) and labeled token files
 (llmc/labeled_tokens.h) never crash on any file, and what they accept is consistent.
 The input is written to a temporary file because the readers take paths.
 Each input is tried as it is and, as a labeled file, also with its header repaired: the
 token count set from the file size and the message count, and the CRC-32 recomputed, so
 that mutations get past the size and CRC checks (which reject nearly all of them) to the
 records, labels and lengths behind them (as fuzz_bsz recomputes the .bsz CRCs).
 With FUZZ_TOKEN_FILES_STATS=1 it prints at exit how the labeled reader ended, by outcome
 (case 25 checks that the repaired inputs reach the record checks).
   make fuzz && build/fuzz/fuzz_token_files -max_total_time=60
*/
#include "../../../llmc/labeled_tokens.h"
#include "../../../llmc/tokenfile.h"

// how labeled_tokens_read ended, over all inputs
enum { OUT_ACCEPTED, OUT_SIZE, OUT_CRC, OUT_LABEL, OUT_LENGTHS, OUT_OTHER, OUT_KINDS };
static const char* const outcome_names[OUT_KINDS] = {"accepted", "size", "crc", "label", "lengths", "other"};
static unsigned long long outcomes[OUT_KINDS];

static void print_outcomes(void) {
    fprintf(stderr, "labeled reader outcomes:");
    for (int i = 0; i < OUT_KINDS; i++) fprintf(stderr, " %s=%llu", outcome_names[i], outcomes[i]);
    fprintf(stderr, "\n");
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
    const char* stats = getenv("FUZZ_TOKEN_FILES_STATS");
    if (stats != NULL && strcmp(stats, "1") == 0) atexit(print_outcomes);
    return 0;
}

static void write_file(const char* path, const uint8_t* data, size_t size) {
    FILE* f = fopen(path, "wb");
    if (f == NULL) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
}

static void try_labeled(const char* path) {
    LabeledTokens lt;
    int rc = labeled_tokens_read(path, &lt);
    if (rc == BS_OK) {
        if (lt.offsets[lt.num_messages] != lt.num_tokens) abort();
        for (size_t i = 0; i < lt.num_messages; i++)
            if (lt.labels[i] >= (uint32_t)lt.num_classes || lt.offsets[i + 1] < lt.offsets[i]) abort();
        labeled_tokens_free(&lt);
        outcomes[OUT_ACCEPTED]++;
        return;
    }
    if (lt.labels != NULL || lt.tokens != NULL) abort();
    const char* why = bs_error();
    outcomes[rc == BS_ECHECKSUM ? OUT_CRC : strstr(why, "bytes, but the file has") ? OUT_SIZE
             : strstr(why, " has label ") ? OUT_LABEL : strstr(why, "add up to") ? OUT_LENGTHS : OUT_OTHER]++;
}

// sets the header's token count from the size and the message count (when they allow one)
// and recomputes the CRC of the records and tokens
static void repair_labeled(uint8_t* b, size_t size) {
    if (size < LABELED_TOKENS_HEADER_BYTES) return;
    uint64_t n = load_u32le(b + 8), body = size - LABELED_TOKENS_HEADER_BYTES;
    if (n <= LABELED_TOKENS_MAX_COUNT && 8 * n <= body && (body - 8 * n) % 2 == 0 && (body - 8 * n) / 2 <= LABELED_TOKENS_MAX_COUNT)
        store_u32le(b + 12, (uint32_t)((body - 8 * n) / 2));
    store_u32le(b + 20, crc32_of(b + LABELED_TOKENS_HEADER_BYTES, (size_t)body));
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static char path[64];
    if (path[0] == '\0') snprintf(path, sizeof(path), "/tmp/fuzz_token_files.%ld", (long)getpid());
    write_file(path, data, size);
    uint16_t* tokens = NULL;
    size_t n = 0;
    if (tokenfile_read(path, &tokens, &n) == BS_OK) {
        if (size != 1024 + 2 * n) abort();
        free(tokens);
    } else if (tokens != NULL || n != 0) {
        abort();
    }
    try_labeled(path);
    if (size >= LABELED_TOKENS_HEADER_BYTES) {
        uint8_t* copy = (uint8_t*)malloc(size);
        if (copy == NULL) abort();
        memcpy(copy, data, size);
        repair_labeled(copy, size);
        if (memcmp(copy, data, size) != 0) {
            write_file(path, copy, size);
            try_labeled(path);
        }
        free(copy);
    }
    remove(path);
    return 0;
}
