/*
 Tests of the data file formats: llm.c token files (llmc/tokenfile.h) and labeled token
 files (llmc/labeled_tokens.h). Round trips, and every kind of damage a reader must refuse
 with a message naming the file. Usage: test_datafiles DIR (a scratch directory).
*/
#include "../../llmc/labeled_tokens.h"
#include "../../llmc/tokenfile.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint8_t* slurp(const char* path, size_t* n) {
    uint8_t* p = bs_read_file(path, (size_t)1 << 30, n);
    if (p == NULL) die("%s", bs_error());
    return p;
}

static void spit(const char* path, const uint8_t* data, size_t n) {
    FILE* f = fopen_or_die(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

// the reader of `path` fails with `code` and a message naming the file and containing `needle`
static void expect_tokenfile_error(const char* path, int code, const char* needle) {
    uint16_t* tokens = (uint16_t*)1;
    size_t n = 123;
    int rc = tokenfile_read(path, &tokens, &n);
    CHECK(rc == code, "%s: expected status %d, got %d (%s)", needle, code, rc, bs_error());
    CHECK(tokens == NULL && n == 0, "%s: outputs cleared on error", needle);
    CHECK(strstr(bs_error(), path) != NULL && strstr(bs_error(), needle) != NULL, "message \"%s\" lacks the file or \"%s\"", bs_error(), needle);
}

static void test_tokenfile(const char* dir) {
    char path[512], bad[512];
    snprintf(path, sizeof(path), "%s/tokens.bin", dir);
    snprintf(bad, sizeof(bad), "%s/bad.bin", dir);
    size_t n = 100003;
    uint16_t* tokens = (uint16_t*)malloc_or_die(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) tokens[i] = (uint16_t)((i * 2654435761u) % 50257);
    CHECK(tokenfile_write(path, tokens, n) == BS_OK, "write: %s", bs_error());
    size_t count = 0;
    CHECK(tokenfile_read_header(path, &count) == BS_OK && count == n, "header count %zu", count);
    uint16_t* back = NULL;
    CHECK(tokenfile_read(path, &back, &count) == BS_OK && count == n && memcmp(back, tokens, n * 2) == 0, "round trip");
    free(back);
    // the header is llm.c's: magic 20240520, version 1, count, zeros
    size_t size = 0;
    uint8_t* file = slurp(path, &size);
    CHECK(size == 1024 + 2 * n, "file size %zu", size);
    CHECK(load_u32le(file) == 20240520 && load_u32le(file + 4) == 1 && load_u32le(file + 8) == n, "header fields");
    int zeros = 1;
    for (int i = 12; i < 1024; i++) zeros &= file[i] == 0;
    CHECK(zeros, "header padding is zero");
    // an empty file of tokens is valid
    CHECK(tokenfile_write(bad, tokens, 0) == BS_OK && tokenfile_read(bad, &back, &count) == BS_OK && count == 0 && back == NULL, "empty token file");

    // damage
    uint8_t* copy = (uint8_t*)malloc_or_die(size);
    memcpy(copy, file, size); store_u32le(copy, 20240326); spit(bad, copy, size);
    expect_tokenfile_error(bad, BS_EFORMAT, "bad magic");
    memcpy(copy, file, size); store_u32le(copy + 4, 2); spit(bad, copy, size);
    expect_tokenfile_error(bad, BS_EFORMAT, "version 2");
    memcpy(copy, file, size); store_u32le(copy + 8, (uint32_t)n + 1); spit(bad, copy, size);
    expect_tokenfile_error(bad, BS_EFORMAT, "header says");
    memcpy(copy, file, size); store_u32le(copy + 8, 0xFFFFFFFFu); spit(bad, copy, size);
    expect_tokenfile_error(bad, BS_EFORMAT, "negative");
    spit(bad, file, size - 1);
    expect_tokenfile_error(bad, BS_EFORMAT, "header says");
    spit(bad, file, 100);
    expect_tokenfile_error(bad, BS_EFORMAT, "too small");
    snprintf(bad, sizeof(bad), "%s/missing.bin", dir);
    expect_tokenfile_error(bad, BS_EIO, "cannot stat");
    // a failed write leaves no file and no temporary behind
    char nodir[600];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/tokens.bin", dir);
    CHECK(tokenfile_write(nodir, tokens, n) == BS_EIO && strstr(bs_error(), "no/such/dir") != NULL, "write into a missing directory");
    free(copy); free(file); free(tokens);
}

static void expect_labeled_error(const char* path, int code, const char* needle) {
    LabeledTokens lt;
    int rc = labeled_tokens_read(path, &lt);
    CHECK(rc == code, "%s: expected status %d, got %d (%s)", needle, code, rc, bs_error());
    CHECK(lt.labels == NULL && lt.tokens == NULL && lt.num_messages == 0, "%s: cleared on error", needle);
    CHECK(strstr(bs_error(), path) != NULL && strstr(bs_error(), needle) != NULL, "message \"%s\" lacks the file or \"%s\"", bs_error(), needle);
}

static void test_labeled(const char* dir) {
    char path[512], bad[512];
    snprintf(path, sizeof(path), "%s/labeled.bin", dir);
    snprintf(bad, sizeof(bad), "%s/bad_labeled.bin", dir);
    size_t num_messages = 257;
    uint32_t* labels = (uint32_t*)malloc_or_die(num_messages * sizeof(uint32_t));
    uint64_t* offsets = (uint64_t*)malloc_or_die((num_messages + 1) * sizeof(uint64_t));
    offsets[0] = 0;
    for (size_t i = 0; i < num_messages; i++) {
        labels[i] = (uint32_t)(i % 3 == 0);
        offsets[i + 1] = offsets[i] + (i * 37) % 101; // includes empty messages
    }
    size_t num_tokens = offsets[num_messages];
    uint16_t* tokens = (uint16_t*)malloc_or_die(num_tokens * sizeof(uint16_t) + 2);
    for (size_t i = 0; i < num_tokens; i++) tokens[i] = (uint16_t)(i * 7919 % 50257);
    CHECK(labeled_tokens_write(path, labels, offsets, num_messages, 2, tokens) == BS_OK, "write: %s", bs_error());
    LabeledTokens lt;
    CHECK(labeled_tokens_read(path, &lt) == BS_OK, "read: %s", bs_error());
    CHECK(lt.num_messages == num_messages && lt.num_tokens == num_tokens && lt.num_classes == 2, "counts");
    int same = lt.labels != NULL;
    for (size_t i = 0; same && i < num_messages; i++) same = lt.labels[i] == labels[i] && lt.offsets[i + 1] == offsets[i + 1];
    CHECK(same && memcmp(lt.tokens, tokens, num_tokens * 2) == 0, "round trip");
    labeled_tokens_free(&lt);

    size_t size = 0;
    uint8_t* file = slurp(path, &size);
    CHECK(size == 1024 + 8 * num_messages + 2 * num_tokens, "file size");
    uint8_t* copy = (uint8_t*)malloc_or_die(size);
    memcpy(copy, file, size); store_u32le(copy, 20240520); spit(bad, copy, size);
    expect_labeled_error(bad, BS_EFORMAT, "bad magic");
    memcpy(copy, file, size); store_u32le(copy + 4, 7); spit(bad, copy, size);
    expect_labeled_error(bad, BS_EFORMAT, "version 7");
    memcpy(copy, file, size); copy[size - 1] ^= 1; spit(bad, copy, size);
    expect_labeled_error(bad, BS_ECHECKSUM, "CRC-32");
    memcpy(copy, file, size); spit(bad, copy, size - 2);
    expect_labeled_error(bad, BS_EFORMAT, "header says");
    // a label beyond the classes, and lengths that do not add up, with a matching CRC
    memcpy(copy, file, size); store_u32le(copy + 1024, 5);
    store_u32le(copy + 20, crc32_of(copy + 1024, size - 1024)); spit(bad, copy, size);
    expect_labeled_error(bad, BS_EFORMAT, "label 5");
    memcpy(copy, file, size); store_u32le(copy + 1024 + 4, load_u32le(copy + 1024 + 4) + 1);
    store_u32le(copy + 1024 + 12, load_u32le(copy + 1024 + 12) - 1);
    store_u32le(copy + 20, crc32_of(copy + 1024, size - 1024)); spit(bad, copy, size);
    CHECK(labeled_tokens_read(bad, &lt) == BS_OK, "moved a token between messages: still consistent (%s)", bs_error());
    labeled_tokens_free(&lt);
    memcpy(copy, file, size); store_u32le(copy + 1024 + 4, load_u32le(copy + 1024 + 4) + 1);
    store_u32le(copy + 20, crc32_of(copy + 1024, size - 1024)); spit(bad, copy, size);
    expect_labeled_error(bad, BS_EFORMAT, "add up");
    spit(bad, file, 10);
    expect_labeled_error(bad, BS_EFORMAT, "too small");
    // the writer refuses a label beyond the classes
    labels[3] = 2;
    CHECK(labeled_tokens_write(bad, labels, offsets, num_messages, 2, tokens) == BS_EINVAL, "writer checks labels");
    free(copy); free(file); free(tokens); free(offsets); free(labels);
}

int main(int argc, char** argv) {
    if (argc != 2) { fprintf(stderr, "usage: test_datafiles DIR\n"); return 2; }
    test_tokenfile(argv[1]);
    test_labeled(argv[1]);
    if (failures) { printf("%d check(s) failed\n", failures); return 1; }
    printf("all checks passed\n");
    return 0;
}
