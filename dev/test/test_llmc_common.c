/*
 Tests of the shared headers every program stands on: CRC-32, the GPT-2 parameter
 layout, llm.c checkpoint I/O (including its rejection of bad files), atomic writes
 and strict flag parsing. Runs in well under a second.
*/
#include <assert.h>
#include <math.h>
#include "../../llmc/crc32.h"
#include "../../llmc/gpt2_params.h"
#include "../../llmc/model_fp32.h"
#include "../../llmc/utils.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static void write_bytes(const char* path, const void* data, size_t n) {
    FILE* f = fopen_or_die(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void test_crc32(void) {
    CHECK(crc32_of("123456789", 9) == 0xCBF43926u, "crc32 check value, got %08x", crc32_of("123456789", 9));
    CHECK(crc32_of("", 0) == 0, "crc32 of nothing");
    // incremental == one shot, at every split point of an odd-length buffer
    uint8_t buf[1001];
    for (int i = 0; i < 1001; i++) buf[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = crc32_of(buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 97)
        CHECK(crc32_update(crc32_of(buf, cut), buf + cut, sizeof(buf) - cut) == whole, "split at %zu", cut);
    // a bytewise reference
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < sizeof(buf); i++) {
        c ^= buf[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    CHECK(~c == whole, "slicing-by-8 equals the bitwise definition");
}

static void test_layout(void) {
    // GPT-2 124M: 124,475,904 parameters with Vp = 50304 (llm.c's figure)
    GPT2Config c = {1024, 50257, gpt2_padded_vocab(50257), 12, 12, 768};
    CHECK(c.padded_vocab_size == 50304, "Vp = %d", c.padded_vocab_size);
    CHECK(gpt2_num_params(&c) == 124475904u, "124M params = %zu", gpt2_num_params(&c));
    CHECK(gpt2_config_validate(&c, "124M") == BS_OK, "124M config valid");
    int n = gpt2_num_tensors(&c);
    GPT2Tensor* t = malloc_or_die(sizeof(GPT2Tensor) * (size_t)n);
    gpt2_tensor_table(&c, t);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        CHECK(t[i].offset == off, "tensor %s offset %zu, expected %zu", t[i].name, t[i].offset, off);
        CHECK((size_t)t[i].shape[0] * (size_t)t[i].shape[1] == t[i].numel, "tensor %s shape", t[i].name);
        off += t[i].numel;
    }
    CHECK(off == gpt2_num_params(&c), "logical tensors cover all parameters");
    CHECK(strcmp(t[0].name, "wte") == 0 && strcmp(t[2].name, "h0.ln1w") == 0 && strcmp(t[n - 1].name, "lnfb") == 0,
          "names %s %s %s", t[0].name, t[2].name, t[n - 1].name);
    free(t);
    GPT2Config bad = c;
    bad.num_heads = 7;
    CHECK(gpt2_config_validate(&bad, "flag") == BS_EFORMAT && strstr(bs_error(), "num_heads") != NULL, "heads must divide C");
}

static void test_checkpoint_io(const char* dir) {
    char path[512], bad[512];
    snprintf(path, sizeof(path), "%s/model.bin", dir);
    snprintf(bad, sizeof(bad), "%s/bad.bin", dir);
    GPT2Config c = {16, 100, gpt2_padded_vocab(100), 2, 2, 8};
    size_t n = gpt2_num_params(&c);
    float* p = malloc_or_die(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = sinf((float)i) * 0.1f;
    CHECK(model_fp32_write(path, &c, p) == BS_OK, "write: %s", bs_error());
    GPT2Config r;
    float* q = NULL;
    CHECK(model_fp32_read(path, &r, &q) == BS_OK, "read: %s", bs_error());
    CHECK(q && memcmp(p, q, n * sizeof(float)) == 0 && memcmp(&r, &c, sizeof(c)) == 0, "round trip exact");
    free(q);

    size_t fsize = 0;
    uint8_t* raw = bs_read_file(path, 1 << 30, &fsize);
    CHECK(raw != NULL, "read raw");
    // a bf16 version of the same file: each value's upper 16 bits
    {
        size_t bsize = 1024 + n * 2;
        uint8_t* b = malloc_or_die(bsize);
        memcpy(b, raw, 1024);
        store_u32le(b + 4, 5);
        for (size_t i = 0; i < n; i++) { uint32_t bits; memcpy(&bits, &p[i], 4); uint16_t h = (uint16_t)(bits >> 16); memcpy(b + 1024 + 2 * i, &h, 2); }
        write_bytes(bad, b, bsize);
        q = NULL;
        CHECK(model_fp32_read(bad, &r, &q) == BS_OK, "bf16 read: %s", bs_error());
        int ok = 1;
        for (size_t i = 0; q && i < n; i++) ok &= fabsf(q[i] - p[i]) <= fabsf(p[i]) * (1.0f / 128) + 1e-30f;
        CHECK(q && ok, "bf16 widened within bf16 precision");
        free(q);
        free(b);
    }
    struct { const char* what; size_t len; int field; int32_t value; const char* expect; } cases[] = {
        {"truncated header", 100, -1, 0, "too short"},
        {"truncated params", 0, -1, 0, "needs"},
        {"bad magic", 0, 0, 12345, "bad magic"},
        {"bad version", 0, 1, 4, "unsupported version"},
        {"zero layers", 0, 4, 0, "num_layers"},
        {"absurd channels", 0, 6, 1 << 30, "channels"},
        {"heads do not divide", 0, 5, 3, "num_heads"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        uint8_t* m = malloc_or_die(fsize);
        memcpy(m, raw, fsize);
        size_t len = cases[k].len ? cases[k].len : fsize;
        if (strcmp(cases[k].what, "truncated params") == 0) len = fsize - 3;
        if (cases[k].field >= 0) store_u32le(m + 4 * cases[k].field, (uint32_t)cases[k].value);
        write_bytes(bad, m, len);
        q = NULL;
        int rc = model_fp32_read(bad, &r, &q);
        CHECK(rc != BS_OK && q == NULL, "%s: rejected", cases[k].what);
        CHECK(strstr(bs_error(), cases[k].expect) && strstr(bs_error(), bad), "%s: message '%s' names the file and '%s'",
              cases[k].what, bs_error(), cases[k].expect);
        free(m);
    }
    CHECK(model_fp32_read("/nonexistent/model.bin", &r, &q) == BS_EIO && strstr(bs_error(), "/nonexistent/model.bin"),
          "missing file: %s", bs_error());
    free(raw);
    free(p);
}

static void test_atomic(const char* dir) {
    char path[512];
    snprintf(path, sizeof(path), "%s/atomic.txt", dir);
    write_bytes(path, "old", 3);
    AtomicFile af;
    CHECK(atomic_open(&af, path) == BS_OK, "atomic open");
    fputs("new contents", af.f);
    atomic_abort(&af);
    size_t n = 0;
    uint8_t* b = bs_read_file(path, 100, &n);
    CHECK(b && n == 3 && memcmp(b, "old", 3) == 0, "abort keeps the old file");
    free(b);
    CHECK(access(af.tmp_path, F_OK) != 0, "abort removes the temporary");
    CHECK(atomic_open(&af, path) == BS_OK, "atomic open 2");
    fputs("new", af.f);
    fputs(" contents", af.f);
    CHECK(atomic_commit(&af) == BS_OK, "commit");
    b = bs_read_file(path, 100, &n);
    CHECK(b && n == 12 && memcmp(b, "new contents", 12) == 0, "commit replaces the file");
    free(b);
    char nodir[600];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/x", dir);
    CHECK(atomic_open(&af, nodir) == BS_EIO, "atomic open in a missing directory fails cleanly");
}

static void test_parse(void) {
    long long i;
    double d;
    CHECK(parse_int("42", 0, 100, &i) && i == 42, "parse 42");
    CHECK(!parse_int("42x", 0, 100, &i) && !parse_int("", 0, 100, &i) && !parse_int("101", 0, 100, &i) &&
          !parse_int("-1", 0, 100, &i) && !parse_int("99999999999999999999", 0, 1LL << 62, &i), "parse_int rejects");
    CHECK(parse_float("1e-3", 0, 1, &d) && fabs(d - 1e-3) < 1e-15, "parse 1e-3");
    CHECK(!parse_float("nan", -1e9, 1e9, &d) && !parse_float("1.5.2", 0, 9, &d) && !parse_float("2", 0, 1, &d), "parse_float rejects");
}

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : "build";
    test_crc32();
    test_layout();
    test_checkpoint_io(dir);
    test_atomic(dir);
    test_parse();
    if (failures) { printf("test_llmc_common: %d FAILED\n", failures); return 1; }
    printf("test_llmc_common: all checks passed\n");
    return 0;
}
