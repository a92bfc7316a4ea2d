/*
 Tests of the coded model files (llmc/bsz.h and what it stands on): bit I/O, EG-k code
 words and lengths against the paper's Table 2 and the definition, Huffman optimality,
 the value map, exact round trips, the size report, and rejection of corrupted files.
 Usage: test_codec [DIR]   (DIR: where to write temporary files, default /tmp)
        test_codec --roundtrip MODEL.bin   (exact round trip of a checkpoint, e.g. a trained one)
*/
#include <math.h>
#include "../../llmc/bitio.h"
#include "../../llmc/bsz.h"
#include "../../llmc/bsz_report.h"
#include "../../llmc/expgolomb.h"
#include "../../llmc/huffman.h"
#include "../../llmc/model_fp32.h"
#include "../../llmc/valuemap.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

// xorshift64*: deterministic test data
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_u64(void) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static double rng_uniform(void) { return ((double)(rng_u64() >> 11) + 0.5) / 9007199254740992.0; } // (0, 1)
static double rng_normal(void) { return sqrt(-2.0 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform()); }
// Gamma(a, 1) by Marsaglia-Tsang (a < 1 via the boost a + 1 and U^(1/a))
static double rng_gamma(double a) {
    if (a < 1.0) return rng_gamma(a + 1.0) * pow(rng_uniform(), 1.0 / a);
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = rng_uniform();
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}
// generalized Gaussian with shape nu and standard deviation sigma: |x| = alpha G^(1/nu), G ~ Gamma(1/nu)
static float rng_gg(double nu, double sigma) {
    double alpha = sigma * sqrt(exp(lgamma(1.0 / nu) - lgamma(3.0 / nu)));
    double x = alpha * pow(rng_gamma(1.0 / nu), 1.0 / nu);
    return (float)(rng_u64() & 1 ? x : -x);
}

// ----------------------------------------------------------------------------
// EG code words: the paper's Table 2 and the definition

// the definition of doc/method.md section 5, as a string: b - k - 1 zeros, then n + 2^k in b bits
static void eg_definition(uint32_t n, int k, char* out) {
    uint64_t x = (uint64_t)n + ((uint64_t)1 << k);
    int b = 0;
    while ((x >> b) != 0) b++;
    int at = 0;
    for (int i = 0; i < b - k - 1; i++) out[at++] = '0';
    for (int i = b - 1; i >= 0; i--) out[at++] = (char)('0' + ((x >> i) & 1));
    out[at] = '\0';
}

// the code word eg_encode() writes, as a string
static void eg_written(uint32_t n, int k, char* out) {
    uint8_t buf[16] = {0};
    BitWriter w;
    bitwriter_init(&w, buf, sizeof(buf));
    eg_encode(&w, n, k);
    int len = w.nbits;
    bitwriter_finish(&w, buf);
    for (int i = 0; i < len; i++) out[i] = (char)('0' + ((buf[i / 8] >> (7 - i % 8)) & 1));
    out[len] = '\0';
}

static void test_eg_table(void) {
    // BackSlash paper Table 2 (EG-0 and EG-1, after Wen & Villasenor), and EG-2 from the same rule
    static const char* eg0[] = {"1", "010", "011", "00100", "00101", "00110", "00111", "0001000", "0001001", "0001010"};
    static const char* eg1[] = {"10", "11", "0100", "0101", "0110", "0111", "001000", "001001", "001010", "001011"};
    static const char* eg2[] = {"100", "101", "110", "111", "01000", "01001", "01010", "01011", "01100", "01101"};
    const char** tables[3] = {eg0, eg1, eg2};
    char s[80], d[80];
    for (int k = 0; k < 3; k++)
        for (uint32_t n = 0; n < 10; n++) {
            eg_written(n, k, s);
            CHECK(strcmp(s, tables[k][n]) == 0, "EG-%d(%u) = %s, Table 2 says %s", k, n, s, tables[k][n]);
        }
    // k = 0..5, n over small values and powers of two: the definition and the length formula
    for (int k = 0; k <= 5; k++) {
        for (uint32_t n = 0; n < 5000; n = n < 300 ? n + 1 : n * 3 + 1) {
            eg_written(n, k, s);
            eg_definition(n, k, d);
            int formula = 2 * (int)floor(log2((double)n + pow(2.0, k))) - k + 1;
            CHECK(strcmp(s, d) == 0, "EG-%d(%u) = %s, definition %s", k, n, s, d);
            CHECK(eg_length(n, k) == formula && (int)strlen(s) == formula, "EG-%d(%u) length %d, formula %d", k, n, eg_length(n, k), formula);
        }
    }
    // the longest code word within the limits fits the decoder's window
    CHECK(eg_max_length(EG_MAX_INDEX, 0) == 49, "longest code word %d bits", eg_max_length(EG_MAX_INDEX, 0));
}

// random EG streams: decode(encode(x)) == x, every k, and no valid word beyond the map size
static void test_eg_stream(void) {
    enum { N = 20000 };
    static uint32_t vals[N];
    static uint8_t buf[N * 8];
    for (int k = 0; k <= EG_MAX_K; k++) {
        BitWriter w;
        bitwriter_init(&w, buf, sizeof(buf));
        for (int i = 0; i < N; i++) {
            int bits = (int)(rng_u64() % 25); // magnitudes up to 2^24
            vals[i] = (uint32_t)(rng_u64() & ((1ull << bits) - 1)) % EG_MAX_INDEX;
            eg_encode(&w, vals[i], k);
        }
        size_t bytes = bitwriter_finish(&w, buf);
        CHECK(!w.overflow, "no overflow");
        uint64_t pos = 0;
        int ok = 1;
        for (int i = 0; i < N && ok; i++) {
            uint32_t v;
            if (eg_decode(buf, bytes, &pos, k, EG_MAX_INDEX, &v) != 0 || v != vals[i]) ok = 0;
        }
        CHECK(ok, "EG-%d stream round trip", k);
        CHECK((pos + 7) / 8 == bytes, "EG-%d consumed %llu bits of %zu bytes", k, (unsigned long long)pos, bytes);
    }
    // a code word for index 5 is rejected when the map has 5 entries
    uint8_t b[8] = {0};
    BitWriter w;
    bitwriter_init(&w, b, sizeof(b));
    eg_encode(&w, 5, 0);
    size_t n = bitwriter_finish(&w, b);
    uint64_t pos = 0;
    uint32_t v;
    CHECK(eg_decode(b, n, &pos, 0, 5, &v) == -1, "index beyond the map is rejected");
    uint8_t zeros[16] = {0};
    pos = 0;
    CHECK(eg_decode(zeros, sizeof(zeros), &pos, 0, EG_MAX_INDEX, &v) == -1, "all-zero stream is rejected");
}

static void test_bitio(void) {
    // random field widths, written and read back; the writer never touches bytes past its end
    enum { N = 5000 };
    static uint64_t vals[N];
    static int lens[N];
    static uint8_t buf[N * 8 + 16];
    memset(buf, 0xAB, sizeof(buf));
    size_t total_bits = 0;
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + (int)(rng_u64() % 56);
        vals[i] = rng_u64() & ((1ull << lens[i]) - 1);
        total_bits += (size_t)lens[i];
    }
    size_t need = (total_bits + 7) / 8;
    BitWriter w;
    bitwriter_init(&w, buf, need);
    for (int i = 0; i < N; i++) bitwriter_put(&w, vals[i], lens[i]);
    size_t bytes = bitwriter_finish(&w, buf);
    CHECK(bytes == need && !w.overflow, "wrote %zu bytes, expected %zu", bytes, need);
    CHECK(buf[need] == 0xAB, "the byte after the writer's region is untouched");
    uint64_t pos = 0;
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= bitreader_get(buf, need, &pos, lens[i]) == vals[i];
    CHECK(ok, "bit fields read back");
    // a writer whose region is too small says so
    bitwriter_init(&w, buf, 2);
    for (int i = 0; i < 5; i++) bitwriter_put(&w, 0x7, 7);
    bitwriter_finish(&w, buf);
    CHECK(w.overflow, "overflow reported");
    // the reader near and past the end: zero bits, no access outside
    uint8_t three[3] = {0xFF, 0x00, 0x81};
    CHECK(bitreader_peek64(three, 3, 0) == 0xFF00810000000000ull, "peek at 0: %016llx", (unsigned long long)bitreader_peek64(three, 3, 0));
    CHECK(bitreader_peek64(three, 3, 17) == 0x0200000000000000ull, "peek at 17");
    CHECK(bitreader_peek64(three, 3, 1000) == 0, "peek past the end is zero");
}

// ----------------------------------------------------------------------------
// Huffman

static uint64_t brute_best;
// exhaustive search over length vectors (1..maxlen) satisfying Kraft's inequality
static void brute_force(const uint64_t* c, int n, int i, int maxlen, double kraft, uint64_t bits) {
    if (kraft > 1.0 + 1e-12 || bits >= brute_best) return;
    if (i == n) { brute_best = bits; return; }
    for (int l = 1; l <= maxlen; l++) brute_force(c, n, i + 1, maxlen, kraft + ldexp(1.0, -l), bits + c[i] * (uint64_t)l);
}

static void test_huffman(void) {
    // dyadic: lengths are exactly -log2 p
    uint64_t dy[5] = {8, 4, 2, 1, 1};
    uint8_t len[16];
    huffman_code_lengths(dy, 5, len);
    CHECK(len[0] == 1 && len[1] == 2 && len[2] == 3 && len[3] == 4 && len[4] == 4, "dyadic lengths %d %d %d %d %d", len[0], len[1], len[2], len[3], len[4]);
    // unused symbols get 0, a single used symbol 1
    uint64_t one[4] = {0, 7, 0, 0};
    huffman_code_lengths(one, 4, len);
    CHECK(len[0] == 0 && len[1] == 1 && len[2] == 0, "single symbol");
    // Fibonacci counts give the deepest tree: n - 1 levels
    uint64_t fib[12] = {1, 1};
    for (int i = 2; i < 12; i++) fib[i] = fib[i - 1] + fib[i - 2];
    huffman_code_lengths(fib, 12, len);
    CHECK(len[0] == 11 && len[1] == 11 && len[11] == 1, "Fibonacci depths %d %d %d", len[0], len[1], len[11]);
    // the textbook example (CLRS 16.3): a:45 b:13 c:12 d:16 e:9 f:5 -> 224 bits
    uint64_t clrs[6] = {45, 13, 12, 16, 9, 5};
    CHECK(huffman_total_bits(clrs, 6) == 224, "CLRS example %llu bits", (unsigned long long)huffman_total_bits(clrs, 6));
    // random histograms: equal to the exhaustive optimum
    int ok = 1;
    for (int trial = 0; trial < 200; trial++) {
        int n = 2 + (int)(rng_u64() % 6);
        uint64_t c[8];
        for (int i = 0; i < n; i++) c[i] = 1 + rng_u64() % (trial % 2 ? 1000 : 10);
        brute_best = UINT64_MAX;
        brute_force(c, n, 0, n - 1, 0.0, 0);
        uint64_t got = huffman_total_bits(c, (uint32_t)n);
        if (got != brute_best) { ok = 0; printf("  histogram of %d: huffman %llu, optimum %llu\n", n, (unsigned long long)got, (unsigned long long)brute_best); }
    }
    CHECK(ok, "Huffman lengths optimal on 200 random histograms");
}

// ----------------------------------------------------------------------------
// value map

static void test_valuemap(void) {
    // counts: 0 x5, +1 x3, -1 x3, +2 x1, -3 x1  -> order 0, -1, +1, +2, -3 (|q| then q)
    float w[13] = {0, 0, 0, 0, 0, 1, 1, 1, -1, -1, -1, 2, -3};
    for (int i = 0; i < 13; i++) w[i] *= 0.5f;
    ValueSegment seg = {w, 13, 2.0f};
    ValueMap m;
    CHECK(valuemap_build(&m, &seg, 1) == BS_OK, "build: %s", bs_error());
    int32_t want[5] = {0, -1, 1, 2, -3};
    uint64_t wantc[5] = {5, 3, 3, 1, 1};
    CHECK(m.size == 5, "size %u", m.size);
    for (int r = 0; r < 5 && r < (int)m.size; r++) {
        CHECK(m.values[r] == want[r] && m.counts[r] == wantc[r], "rank %d: q %d count %llu", r, m.values[r], (unsigned long long)m.counts[r]);
        CHECK(valuemap_rank(&m, want[r]) == (uint32_t)r, "lookup of %d", want[r]);
    }
    valuemap_free(&m);
    // a wide range (> VALUEMAP_DENSE_RANGE) takes the sorting path: same ranks as the dense one
    enum { N = 3000 };
    static float a[N];
    for (int i = 0; i < N; i++) a[i] = (float)((int)(rng_u64() % 41) - 20) * 1e-3f;
    ValueSegment sa = {a, N, 1000.0f};
    ValueMap dense, sorted;
    CHECK(valuemap_build(&dense, &sa, 1) == BS_OK && dense.dense != NULL, "dense build");
    a[N - 1] = 9000.0f; // q = 9e6: range beyond 2^22
    CHECK(valuemap_build(&sorted, &sa, 1) == BS_OK && sorted.dense == NULL && sorted.sorted_q != NULL, "sorted build");
    uint64_t sum = 0;
    int same = sorted.values[sorted.size - 1] == 9000000 && sorted.counts[sorted.size - 1] == 1; // the rarest, largest |q|: last
    for (uint32_t r = 0; r < sorted.size; r++) { sum += sorted.counts[r]; same &= r == 0 || sorted.counts[r] <= sorted.counts[r - 1]; }
    same &= sum == N && (sorted.size == dense.size || sorted.size == dense.size + 1);
    int lookups = 1;
    for (int i = 0; i < N; i++) lookups &= sorted.values[valuemap_rank(&sorted, quantize_value(a[i], 1000.0f))] == quantize_value(a[i], 1000.0f);
    CHECK(same && lookups, "sorted path ranks and lookups");
    valuemap_free(&dense);
    valuemap_free(&sorted);
    // weights that cannot be quantized are refused with a message
    a[5] = NAN;
    CHECK(valuemap_build(&m, &sa, 1) == BS_ELIMIT && strstr(bs_error(), "weight 5") != NULL, "NaN refused: %s", bs_error());
    a[5] = 2e6f; // q = 2e9 > 2^30
    CHECK(valuemap_build(&m, &sa, 1) == BS_ELIMIT, "|q| > 2^30 refused");
}

// ----------------------------------------------------------------------------
// round trips

enum { W_UNIFORM, W_GG05, W_GG1, W_GG2, W_SPARSE };

static float* make_weights(const GPT2Config* c, int kind) {
    size_t n = gpt2_num_params(c);
    float* w = (float*)malloc_or_die(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case W_UNIFORM: w[i] = (float)(rng_uniform() * 0.2 - 0.1); break;
        case W_GG05: w[i] = rng_gg(0.5, 0.02); break;
        case W_GG1: w[i] = rng_gg(1.0, 0.02); break;
        case W_GG2: w[i] = rng_gg(2.0, 0.02); break;
        default: w[i] = rng_uniform() < 0.9 ? 0.0f : rng_gg(1.0, 0.01); break; // mostly zero, as after BackSlash
        }
    }
    // LayerNorm gains near 1, as in a real model
    GPT2Tensor* t = (GPT2Tensor*)malloc_or_die(sizeof(GPT2Tensor) * (size_t)gpt2_num_tensors(c));
    gpt2_tensor_table(c, t);
    for (int i = 0; i < gpt2_num_tensors(c); i++)
        if (t[i].group == GPT2_LN1W || t[i].group == GPT2_LN2W || t[i].group == GPT2_LNFW)
            for (size_t j = 0; j < t[i].numel; j++) w[t[i].offset + j] += 1.0f;
    free(t);
    return w;
}

// encodes, parses, decodes; checks w_hat == q * Delta bit for bit, the indices against the
// value map, 1 thread == all threads, and the report's bounds; returns the file size
static size_t roundtrip(const char* label, const GPT2Config* c, const float* w, const BszOptions* opt, BszReport* rep_out) {
    uint8_t* data = NULL;
    size_t size = 0;
    int rc = bsz_encode(c, w, opt, &data, &size);
    CHECK(rc == BS_OK, "%s: encode: %s", label, bs_error());
    if (rc != BS_OK) return 0;
    BszFile f;
    rc = bsz_parse(&f, data, size, label);
    CHECK(rc == BS_OK, "%s: parse: %s", label, bs_error());
    if (rc != BS_OK) { free(data); return 0; }
    size_t n = gpt2_num_params(c);
    float* out = (float*)malloc_or_die(n * sizeof(float));
    float* out1 = (float*)malloc_or_die(n * sizeof(float));
    rc = bsz_decode_params(&f, out);
    CHECK(rc == BS_OK, "%s: decode: %s", label, bs_error());
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(bsz_decode_params(&f, out1) == BS_OK && memcmp(out, out1, n * sizeof(float)) == 0, "%s: 1 thread == %d threads", label, threads);
    omp_set_num_threads(threads);
#endif
    GPT2Tensor* tt = (GPT2Tensor*)malloc_or_die(sizeof(GPT2Tensor) * (size_t)f.num_tensors);
    gpt2_tensor_table(c, tt);
    size_t mismatches = 0, index_mismatches = 0;
    uint32_t* idx = (uint32_t*)malloc_or_die(n * sizeof(uint32_t));
    for (int t = 0; t < f.num_tensors; t++) {
        float delta = opt->tensor_delta ? opt->tensor_delta[t] : opt->delta;
        float inv = 1.0f / delta;
        CHECK(f.tensors[t].delta == delta, "%s: stored Delta", label);
        CHECK(bsz_decode_tensor(&f, t, NULL, idx) == BS_OK, "%s: indices", label);
        const int32_t* map = f.map_values[f.tensors[t].map];
        for (size_t i = 0; i < tt[t].numel; i++) {
            int32_t q = quantize_value(w[tt[t].offset + i], inv);
            float want = dequantize_value(q, delta);
            mismatches += memcmp(&want, &out[tt[t].offset + i], 4) != 0;
            index_mismatches += map[idx[i]] != q;
        }
    }
    CHECK(mismatches == 0 && index_mismatches == 0, "%s: %zu weights and %zu indices differ from the encoder's", label, mismatches, index_mismatches);
    BszReport rep;
    CHECK(bsz_report_build(&f, &rep) == BS_OK, "%s: report: %s", label, bs_error());
    for (int t = 0; t < rep.num_rows; t++) {
        const BszReportRow* r = &rep.rows[t];
        int k = r->k;
        double pad = 7.0 * (double)f.tensors[t].num_chunks / (double)r->params;
        int coder = f.tensors[t].coder;
        CHECK(opt->coder == BSZ_CODER_AUTO || coder == opt->coder || (opt->coder == BSZ_CODER_RANS && isnan(r->rans_bits)),
              "%s %s: coder %d, asked for %d", label, r->name, coder, opt->coder);
        if (coder == BSZ_CODER_EG && k < BSZ_REPORT_EG_KS)
            CHECK(r->file_bits >= r->eg_bits[k] - 1e-12 && r->file_bits <= r->eg_bits[k] + pad + 1e-12,
                  "%s %s: file %.4f bits/param, EG-%d %.4f", label, r->name, r->file_bits, k, r->eg_bits[k]);
        // the report codes the indices again: the same bytes as the file's rANS / CABAC chunks
        if (coder == BSZ_CODER_RANS) CHECK(fabs(r->file_bits - r->rans_bits) < 1e-12, "%s %s: file %.4f, rANS %.4f", label, r->name, r->file_bits, r->rans_bits);
        if (coder == BSZ_CODER_CABAC) CHECK(fabs(r->file_bits - r->cabac_bits) < 1e-12, "%s %s: file %.4f, CABAC %.4f", label, r->name, r->file_bits, r->cabac_bits);
        if (opt->k == BSZ_K_AUTO && coder == BSZ_CODER_EG)
            for (int j = 0; j < BSZ_REPORT_EG_KS; j++)
                CHECK(r->file_bits <= r->eg_bits[j] + pad + 1e-12, "%s %s: chosen k=%d is not the shortest (EG-%d %.4f < %.4f)", label, r->name, k, j, r->eg_bits[j], r->file_bits);
        if (opt->coder == BSZ_CODER_AUTO && opt->k == BSZ_K_AUTO) // auto: never longer than the EG or CABAC code
            CHECK(r->file_bits <= r->egk_bits + pad + 1e-12 && r->file_bits <= r->cabac_bits + 1e-12, "%s %s: auto file %.4f, EGk %.4f, CABAC %.4f",
                  label, r->name, r->file_bits, r->egk_bits, r->cabac_bits);
        // rANS is within 1% of the order-0 entropy plus its states (16 bytes a chunk)
        if (!isnan(r->rans_bits) && r->params >= 4096)
            CHECK(r->rans_bits <= 1.01 * r->entropy_bits + 8.0 * RANS_STATE_BYTES * (double)f.tensors[t].num_chunks / (double)r->params + 1e-9,
                  "%s %s: rANS %.4f bits/param, entropy %.4f", label, r->name, r->rans_bits, r->entropy_bits);
        CHECK(r->entropy_bits <= r->huffman_bits + 1e-9 && r->huffman_bits <= r->entropy_bits + 1.0 + 1e-9 &&
              (r->distinct < 2 || r->huffman_bits <= r->fl_bits + 1e-9), "%s %s: H %.4f <= HM %.4f <= H + 1, HM <= FL", label, r->name, r->entropy_bits, r->huffman_bits);
    }
    CHECK(rep.global.entropy_bits <= rep.global.huffman_bits + 1e-9 && rep.total.entropy_bits <= rep.global.entropy_bits + 1e-9,
          "%s: per-tensor entropy %.4f <= global entropy %.4f <= global HM %.4f", label, rep.total.entropy_bits, rep.global.entropy_bits,
          rep.global.huffman_bits);
    if (rep_out) *rep_out = rep;
    else bsz_report_free(&rep);
    free(idx); free(tt); free(out); free(out1);
    bsz_close(&f);
    free(data);
    return size;
}

static void test_roundtrips(void) {
    GPT2Config c = {64, 1000, gpt2_padded_vocab(1000), 2, 4, 64};
    const char* names[5] = {"uniform", "GG nu=0.5", "GG nu=1", "GG nu=2", "sparse"};
    const int coders[4] = {BSZ_CODER_EG, BSZ_CODER_RANS, BSZ_CODER_CABAC, BSZ_CODER_AUTO};
    for (int kind = 0; kind < 5; kind++) {
        float* w = make_weights(&c, kind);
        for (int ci = 0; ci < 4; ci++) {
            BszOptions o = bsz_default_options();
            o.coder = coders[ci];
            const char* cn = coders[ci] == BSZ_CODER_AUTO ? "auto" : bsz_coder_names[coders[ci]];
            char label[96];
            snprintf(label, sizeof(label), "%s, %s, global map", names[kind], cn);
            roundtrip(label, &c, w, &o, NULL);
            o.map_mode = BSZ_MAP_TENSOR;
            o.chunk_params = 64; // many chunks, many partial ones
            snprintf(label, sizeof(label), "%s, %s, per-tensor maps, 64-weight chunks", names[kind], cn);
            roundtrip(label, &c, w, &o, NULL);
            o.chunk_params = 1001; // chunks that are not a multiple of the rANS lanes
            o.map_mode = BSZ_MAP_GLOBAL;
            snprintf(label, sizeof(label), "%s, %s, global map, 1001-weight chunks", names[kind], cn);
            roundtrip(label, &c, w, &o, NULL);
        }
        free(w);
    }
    // fixed k, per-tensor Delta, odd chunk size; and the automatic k is never longer than a fixed one
    float* w = make_weights(&c, W_GG1);
    size_t auto_size = 0;
    BszOptions o = bsz_default_options();
    o.coder = BSZ_CODER_EG;
    auto_size = roundtrip("auto k", &c, w, &o, NULL);
    for (int k = 0; k <= EG_MAX_K; k++) {
        o.k = k;
        char label[64];
        snprintf(label, sizeof(label), "fixed k=%d", k);
        size_t s = roundtrip(label, &c, w, &o, NULL);
        CHECK(auto_size <= s + 16, "auto k file %zu bytes, fixed k=%d %zu", auto_size, k, s);
    }
    float* deltas = (float*)malloc_or_die(sizeof(float) * (size_t)gpt2_num_tensors(&c));
    for (int t = 0; t < gpt2_num_tensors(&c); t++) deltas[t] = 1e-4f * (float)(1 + t % 7);
    o = bsz_default_options();
    o.coder = BSZ_CODER_EG;
    o.tensor_delta = deltas;
    o.chunk_params = 1000;
    roundtrip("per-tensor Delta, global map", &c, w, &o, NULL);
    o.map_mode = BSZ_MAP_TENSOR;
    roundtrip("per-tensor Delta, per-tensor maps", &c, w, &o, NULL);
    free(deltas);
    free(w);

    // the report's nu recovers the generating shape (Delta small against sigma = 0.02);
    // matrices only: the LayerNorm rows sit near 1
    double want[3] = {0.5, 1.0, 2.0};
    for (int j = 0; j < 3; j++) {
        w = make_weights(&c, W_GG05 + j);
        BszReport rep;
        o = bsz_default_options();
        o.delta = 1e-4f;
        roundtrip("nu fit", &c, w, &o, &rep);
        const BszReportRow* wte = &rep.rows[0];
        CHECK(fabs(wte->nu - want[j]) < 0.05 * want[j], "nu of GG(%.1f) weights fitted as %.3f (tolerance 5%%)", want[j], wte->nu);
        bsz_report_free(&rep);
        free(w);
    }
}

// ----------------------------------------------------------------------------
// corrupted files

// recomputes the header and section CRCs (as far as the sizes allow walking the file)
static void fix_crcs(uint8_t* b, size_t size) {
    if (size < BSZ_HEADER_BYTES) return;
    store_u32le(b + 12, crc32_of(b, 12));
    size_t at = BSZ_HEADER_BYTES;
    while (size - at >= BSZ_SECTION_HEADER_BYTES) {
        uint64_t n = load_u64le(b + at + 8);
        if (n > size - at - BSZ_SECTION_HEADER_BYTES) return;
        store_u32le(b + at + 4, crc32_of(b + at + BSZ_SECTION_HEADER_BYTES, (size_t)n));
        at += BSZ_SECTION_HEADER_BYTES + (size_t)n;
    }
}

// parse and decode; returns the first error (BS_OK if the file is accepted)
static int load_all(const uint8_t* b, size_t size) {
    BszFile f;
    int rc = bsz_parse(&f, b, size, "corrupt.bsz");
    if (rc != BS_OK) return rc;
    float* w = (float*)malloc_or_die(f.num_params * sizeof(float));
    rc = bsz_decode_params(&f, w);
    free(w);
    bsz_close(&f);
    return rc;
}

// byte offset of section s's header
static size_t section_at(const uint8_t* b, int s) {
    size_t at = BSZ_HEADER_BYTES;
    for (int i = 0; i < s; i++) at += BSZ_SECTION_HEADER_BYTES + (size_t)load_u64le(b + at + 8);
    return at;
}

// modifies a copy with `edit`, fixes the CRCs when asked, and expects an error whose message has `want`
static void expect_error(const char* what, const uint8_t* good, size_t size, size_t at, const void* bytes, size_t n, int fix, const char* want) {
    uint8_t* b = (uint8_t*)malloc_or_die(size);
    memcpy(b, good, size);
    memcpy(b + at, bytes, n);
    if (fix) fix_crcs(b, size);
    int rc = load_all(b, size);
    CHECK(rc != BS_OK && strstr(bs_error(), want) != NULL, "%s: rc %d, message \"%s\" (wanted one with \"%s\")", what, rc, rc ? bs_error() : "", want);
    free(b);
}

static void test_corruption(int coder) {
    printf("corruption of a file coded with %s\n", bsz_coder_names[coder]);
    GPT2Config c = {16, 100, gpt2_padded_vocab(100), 1, 2, 16};
    float* w = make_weights(&c, W_GG1);
    BszOptions o = bsz_default_options();
    o.chunk_params = 256;
    o.coder = coder;
    uint8_t* good = NULL;
    size_t size = 0;
    CHECK(bsz_encode(&c, w, &o, &good, &size) == BS_OK, "encode: %s", bs_error());
    free(w);
    if (!good) return;
    CHECK(load_all(good, size) == BS_OK, "the good file loads: %s", bs_error());

    // every truncation
    int ok = 1;
    for (size_t cut = 0; cut < size; cut++) {
        int rc = load_all(good, cut);
        if (rc == BS_OK || (strstr(bs_error(), "truncated") == NULL && strstr(bs_error(), "too short") == NULL)) {
            ok = 0;
            printf("  cut at %zu: rc %d %s\n", cut, rc, bs_error());
            break;
        }
    }
    CHECK(ok, "all %zu truncations rejected as truncated", size);
    // every single bit flip
    uint8_t* b = (uint8_t*)malloc_or_die(size);
    memcpy(b, good, size);
    size_t accepted = 0;
    for (size_t bit = 0; bit < 8 * size; bit++) {
        b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
        accepted += load_all(b, size) == BS_OK;
        b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
    }
    free(b);
    CHECK(accepted == 0, "%zu of %zu single bit flips accepted", accepted, 8 * size);

    // wrong CRC of the header and of each section
    uint8_t junk[8] = {0xDE, 0xAD, 0xBE, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF};
    expect_error("header CRC", good, size, 12, junk, 4, 0, "header CRC");
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++) {
        char want[64];
        snprintf(want, sizeof(want), "section %s CRC", bsz_section_tags[s]);
        expect_error(want, good, size, section_at(good, s) + 4, junk, 4, 0, want);
    }
    // absurd sizes, with consistent CRCs so that the structural checks are what catches them
    size_t conf = section_at(good, 0) + BSZ_SECTION_HEADER_BYTES, tens = section_at(good, 1) + BSZ_SECTION_HEADER_BYTES;
    size_t maps = section_at(good, BSZ_SEC_MAPS) + BSZ_SECTION_HEADER_BYTES, chnk = section_at(good, BSZ_SEC_CHNK) + BSZ_SECTION_HEADER_BYTES;
    uint8_t big64[8], v32[4];
    store_u64le(big64, UINT64_MAX);
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++) expect_error("section size 2^64-1", good, size, section_at(good, s) + 8, big64, 8, 1, "truncated");
    store_u32le(v32, 100000);
    expect_error("100000 layers", good, size, conf + 12, v32, 4, 1, "num_layers");
    store_u32le(v32, 0);
    expect_error("chunk size 0", good, size, conf + 32, v32, 4, 1, "chunk size");
    store_u32le(v32, 7);
    expect_error("map mode 7", good, size, conf + 28, v32, 4, 1, "map mode");
    store_u64le(big64, 1ull << 60);
    expect_error("2^60 params", good, size, conf + 40, big64, 8, 1, "parameters");
    store_u32le(v32, 9);
    expect_error("k = 9", good, size, tens + 44, v32, 4, 1, "EG order");
    float nan = NAN;
    expect_error("Delta NaN", good, size, tens + 64, &nan, 4, 1, "Delta");
    expect_error("tensor name", good, size, tens, "wtx", 3, 1, "tensor 0");
    store_u32le(v32, 0xFFFFFFFFu);
    expect_error("map of 2^32-1 values", good, size, maps + 4, v32, 4, 1, "value map 0");
    store_u32le(v32, 3);
    expect_error("map count", good, size, maps, v32, 4, 1, "number of maps");
    expect_error("repeated map value", good, size, maps + 8, good + maps + 12, 4, 1, "repeated");
    store_u64le(big64, 1ull << 62);
    expect_error("chunk count", good, size, chnk, big64, 8, 1, "CHNK");
    expect_error("chunk offset", good, size, chnk + 16, big64, 8, 1, "spans bits");
    store_u32le(v32, 3);
    expect_error("version 3", good, size, 4, v32, 4, 1, "unsupported .bsz version 3");
    store_u32le(v32, 1);
    expect_error("version 1 with 7 sections", good, size, 4, v32, 4, 1, "version 1 has exactly 5");
    store_u32le(v32, 3);
    expect_error("coder 3", good, size, tens + 72, v32, 4, 1, "unknown coder");
    store_u32le(v32, 2);
    expect_error("unknown flag", good, size, conf + 36, v32, 4, 1, "unknown flags");
    store_u32le(v32, 1);
    expect_error("shared-rows flag without rows", good, size, conf + 36, v32, 4, 1, "ROWS is 0 bytes");
    if (coder == BSZ_CODER_RANS) { // the frequencies must sum to 2^15
        size_t freq = section_at(good, BSZ_SEC_FREQ) + BSZ_SECTION_HEADER_BYTES;
        uint8_t one = 1;
        expect_error("rANS frequencies", good, size, freq + 4, &one, 1, 1, "sum to");
        store_u32le(v32, 0);
        expect_error("rANS alphabet 0", good, size, freq, v32, 4, 1, "rANS alphabet");
    }
    expect_error("magic", good, size, 0, "BSY", 3, 1, "bad magic");
    // garbage code words (CRC fixed): the decoder reports the chunk
    size_t bits = section_at(good, BSZ_SEC_BITS) + BSZ_SECTION_HEADER_BYTES;
    uint8_t zeros[8] = {0};
    expect_error("zeroed code words", good, size, bits, zeros, 8, 1, "chunk 0");
    // trailing bytes
    uint8_t* longer = (uint8_t*)malloc_or_die(size + 3);
    memcpy(longer, good, size);
    memset(longer + size, 0, 3);
    CHECK(load_all(longer, size + 3) != BS_OK && strstr(bs_error(), "trailing") != NULL, "trailing garbage: %s", bs_error());
    free(longer);
    // random bytes with valid CRCs in BITS: an error or a successful decode, never a crash
    int errors = 0;
    for (int trial = 0; trial < 200; trial++) {
        uint8_t* r = (uint8_t*)malloc_or_die(size);
        memcpy(r, good, size);
        for (size_t i = bits; i < size; i++) if (rng_u64() % 8 == 0) r[i] = (uint8_t)rng_u64();
        fix_crcs(r, size);
        errors += load_all(r, size) != BS_OK;
        free(r);
    }
    CHECK(errors > 150, "random code words: %d of 200 rejected", errors);
    printf("  %s: random code words with valid CRCs: %d of 200 rejected\n", bsz_coder_names[coder], errors);
    // a missing file
    BszFile f;
    CHECK(bsz_open(&f, "/nonexistent/x.bsz") == BS_EIO && strstr(bs_error(), "/nonexistent/x.bsz") != NULL, "missing file: %s", bs_error());
    free(good);
}

// ----------------------------------------------------------------------------

// rANS and CABAC streams on their own: random symbols (skewed and uniform, one symbol,
// lengths that are not a multiple of the lanes) round-trip; every shortened or lengthened
// chunk, and every single bit flip of a chunk, is either rejected or (CABAC, rarely)
// decodes to other symbols -- never read outside the chunk (the ASan build checks that)
static void test_entropy_streams(void) {
    const size_t lengths[6] = {0, 1, 3, 7, 1000, 20000};
    for (int li = 0; li < 6; li++) {
        for (int skew = 0; skew < 3; skew++) {
            size_t n = lengths[li];
            uint32_t nsym = skew == 2 ? 1 : 40;
            uint32_t* sym = (uint32_t*)malloc_or_die((n + 1) * sizeof(uint32_t));
            uint32_t* back = (uint32_t*)malloc_or_die((n + 1) * sizeof(uint32_t));
            uint64_t counts[40] = {0};
            for (size_t i = 0; i < n; i++) {
                sym[i] = skew == 2 ? 0 : skew == 0 ? (uint32_t)(rng_u64() % nsym) : (rng_uniform() < 0.9 ? 0 : (uint32_t)(rng_u64() % nsym));
                counts[sym[i]]++;
            }
            if (n == 0) counts[0] = 1;
            uint32_t freq[40];
            CHECK(rans_quantize_freqs(counts, nsym, freq) == BS_OK, "rANS frequencies: %s", bs_error());
            uint32_t sum = 0;
            for (uint32_t s2 = 0; s2 < nsym; s2++) { sum += freq[s2]; CHECK((freq[s2] > 0) == (counts[s2] > 0), "frequency of a used symbol > 0"); }
            CHECK(sum == RANS_PROB_SCALE, "frequencies sum to %u", sum);
            uint8_t* code = NULL;
            size_t size = 0;
            CHECK(rans_encode(sym, n, freq, nsym, &code, &size) == BS_OK, "rANS encode");
            RansDecodeTable tab = {0};
            CHECK(rans_table_build(&tab, freq, nsym) == BS_OK, "rANS table");
            CHECK(rans_decode(&tab, code, size, n, NULL, NULL, back) == 0 && (n == 0 || memcmp(sym, back, n * 4) == 0),
                  "rANS round trip, n = %zu, skew %d", n, skew);
            uint32_t* ref = (uint32_t*)malloc_or_die((n + 1) * sizeof(uint32_t));
            CHECK(rans_decode_reference(freq, nsym, code, size, n, ref) == 0 && (n == 0 || memcmp(sym, ref, n * 4) == 0),
                  "rANS reference decoder round trip, n = %zu, skew %d", n, skew);
            double h = 0.0;
            for (uint32_t s2 = 0; s2 < nsym; s2++) if (counts[s2] && n) h -= (double)counts[s2] * log2((double)counts[s2] / (double)n);
            if (n >= 1000) CHECK(8.0 * (double)size <= 1.01 * h + 8.0 * RANS_STATE_BYTES + 16.0, "rANS %zu bytes, entropy %.0f bits", size, h);
            for (size_t j = 0; j < size && j < 64; j++) { // the 32 shortest and the 32 longest cuts
                size_t cut = j < 32 ? j : size - 1 - (j - 32);
                CHECK(rans_decode(&tab, code, cut, n, NULL, NULL, back) != 0, "rANS chunk cut to %zu of %zu bytes accepted", cut, size);
                CHECK(rans_decode_reference(freq, nsym, code, cut, n, ref) != 0, "rANS reference: chunk cut to %zu of %zu bytes accepted", cut, size);
            }
            uint8_t* longer = (uint8_t*)malloc_or_die(size + 2);
            memcpy(longer, code, size);
            longer[size] = longer[size + 1] = 0;
            CHECK(rans_decode(&tab, longer, size + 2, n, NULL, NULL, back) != 0, "rANS chunk with 2 extra bytes accepted");
            size_t flips_ok = 0;
            for (size_t bit = 0; bit < 8 * size && bit < 4000; bit += 1 + 8 * size / 4000) {
                code[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                int fast_ok = rans_decode(&tab, code, size, n, NULL, NULL, back) == 0;
                int ref_ok = rans_decode_reference(freq, nsym, code, size, n, ref) == 0;
                CHECK(fast_ok == ref_ok && (!fast_ok || n == 0 || memcmp(back, ref, n * 4) == 0),
                      "rANS fast and reference decoders differ on a bit flip (bit %zu, n = %zu)", bit, n);
                flips_ok += fast_ok;
                code[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            // (the end state is a check, not a checksum: the file's CRC-32 catches the rest)
            if (nsym > 1 && n >= 1000) CHECK(flips_ok * 100 <= 4000, "rANS: %zu of 4000 single bit flips decode without error", flips_ok);
            free(code); free(longer); free(ref);
            rans_table_free(&tab);
            // CABAC, as a (cols = 10) matrix, k = 0 and 2
            for (int k = 0; k <= 2; k += 2) {
                CHECK(cabac_encode(sym, n, nsym, k, 10, &code, &size) == BS_OK, "CABAC encode");
                uint8_t* zs = (uint8_t*)malloc_or_die(n + 1);
                CabacContexts m;
                CHECK(cabac_decode(code, size, n, nsym, k, 10, zs, &m, NULL, NULL, back) == 0 && (n == 0 || memcmp(sym, back, n * 4) == 0),
                      "CABAC round trip, n = %zu, skew %d, k %d", n, skew, k);
                for (size_t j = 0; j < size && j < 64; j++) {
                    size_t cut = j < 32 ? j : size - 1 - (j - 32);
                    CHECK(cabac_decode(code, cut, n, nsym, k, 10, zs, &m, NULL, NULL, back) != 0, "CABAC chunk cut to %zu of %zu bytes accepted", cut, size);
                }
                longer = (uint8_t*)malloc_or_die(size + 1);
                memcpy(longer, code, size);
                longer[size] = 0;
                CHECK(cabac_decode(longer, size + 1, n, nsym, k, 10, zs, &m, NULL, NULL, back) != 0, "CABAC chunk with an extra byte accepted");
                free(zs); free(code); free(longer);
            }
            free(sym); free(back);
        }
    }
}

// shared rows (issue 13): the marked wte rows decode to their mean, the others exactly as
// without; the file is smaller; the report counts the coded weights only
static void test_shared_rows(void) {
    GPT2Config c = {64, 1000, gpt2_padded_vocab(1000), 2, 4, 64};
    float* w = make_weights(&c, W_GG1);
    size_t Vp = (size_t)c.padded_vocab_size, C = (size_t)c.channels, n = gpt2_num_params(&c);
    uint8_t* rows = (uint8_t*)calloc_or_die(Vp, 1);
    size_t nshared = 0;
    for (size_t v = 0; v < Vp; v++) { rows[v] = v >= 600 || v % 3 == 0; nshared += rows[v]; }
    for (int coder = 0; coder < BSZ_NUM_CODERS; coder++) {
        BszOptions o = bsz_default_options();
        o.coder = coder;
        o.chunk_params = 1000;
        uint8_t *plain = NULL, *shared = NULL;
        size_t plain_size = 0, shared_size = 0;
        CHECK(bsz_encode(&c, w, &o, &plain, &plain_size) == BS_OK, "encode: %s", bs_error());
        o.shared_rows = rows;
        CHECK(bsz_encode(&c, w, &o, &shared, &shared_size) == BS_OK, "encode with shared rows: %s", bs_error());
        CHECK(shared_size < plain_size, "%s: shared rows %zu bytes, without %zu", bsz_coder_names[coder], shared_size, plain_size);
        BszFile f;
        int rc = bsz_parse(&f, shared, shared_size, "shared.bsz");
        CHECK(rc == BS_OK && f.num_shared_rows == nshared && f.tensors[0].coded == (Vp - nshared) * C, "parse: %s", bs_error());
        if (rc == BS_OK) {
            float* out = (float*)malloc_or_die(n * sizeof(float));
            CHECK(bsz_decode_params(&f, out) == BS_OK, "decode: %s", bs_error());
            size_t bad = 0;
            for (size_t cc = 0; cc < C; cc++) {
                double mean = 0.0;
                for (size_t v = 0; v < Vp; v++) if (rows[v]) mean += (double)w[v * C + cc];
                float want = (float)(mean / (double)nshared);
                for (size_t v = 0; v < Vp; v++) {
                    float x = rows[v] ? want : dequantize_value(quantize_value(w[v * C + cc], 1.0f / o.delta), o.delta);
                    bad += memcmp(&x, &out[v * C + cc], 4) != 0;
                }
            }
            for (size_t i = Vp * C; i < n; i++) {
                float x = dequantize_value(quantize_value(w[i], 1.0f / o.delta), o.delta);
                bad += memcmp(&x, &out[i], 4) != 0;
            }
            CHECK(bad == 0, "%s: %zu weights differ with shared rows", bsz_coder_names[coder], bad);
            uint32_t* ix = (uint32_t*)malloc_or_die(Vp * C * sizeof(uint32_t));
            uint32_t* ix2 = (uint32_t*)malloc_or_die(Vp * C * sizeof(uint32_t));
            uint64_t c0 = f.tensors[0].coded; // wte: a range of its coded (packed) rows, across chunks; past them refused
            CHECK(bsz_decode_tensor(&f, 0, NULL, ix) == BS_OK && bsz_decode_index_range(&f, 0, C + 3, c0 - C - 3, ix2) == BS_OK &&
                  memcmp(ix + C + 3, ix2, (c0 - C - 3) * sizeof(uint32_t)) == 0 &&
                  bsz_decode_index_range(&f, 0, c0 - 2, 3, ix2) == BS_EINVAL && strstr(bs_error(), "coded weights") != NULL,
                  "%s: index range of a wte with shared rows == its coded indices", bsz_coder_names[coder]);
            uint64_t n1 = f.tensors[1].numel; // wpe: any coder, a range across chunks
            CHECK(bsz_decode_tensor(&f, 1, NULL, ix) == BS_OK && bsz_decode_index_range(&f, 1, 77, n1 - 100, ix2) == BS_OK &&
                  memcmp(ix + 77, ix2, (n1 - 100) * sizeof(uint32_t)) == 0, "%s: index range == tensor indices", bsz_coder_names[coder]);
            free(ix); free(ix2);
            float* t0 = (float*)malloc_or_die(Vp * C * sizeof(float));
            CHECK(bsz_decode_tensor(&f, 0, t0, NULL) == BS_OK && memcmp(t0, out, Vp * C * sizeof(float)) == 0, "wte alone == wte in the model");
            BszReport rep;
            CHECK(bsz_report_build(&f, &rep) == BS_OK && rep.rows[0].params == (Vp - nshared) * C && rep.total.params == n - nshared * C &&
                  rep.shared_rows == nshared, "report of the coded weights");
            bsz_report_free(&rep);
            // corrupt ROWS (CRC fixed): a wrong count is refused
            size_t at = section_at(shared, BSZ_SEC_ROWS) + BSZ_SECTION_HEADER_BYTES;
            uint8_t v32[4];
            store_u32le(v32, (uint32_t)nshared + 1);
            expect_error("shared row count", shared, shared_size, at, v32, 4, 1, "shared rows");
            free(t0); free(out);
            bsz_close(&f);
        }
        free(plain); free(shared);
    }
    memset(rows, 1, Vp);
    BszOptions o = bsz_default_options();
    o.shared_rows = rows;
    uint8_t* data = NULL;
    size_t size = 0;
    CHECK(bsz_encode(&c, w, &o, &data, &size) == BS_EINVAL && strstr(bs_error(), "at least one") != NULL, "all rows shared refused: %s", bs_error());
    free(rows); free(w);
}

// exact round trip of an llm.c checkpoint (e.g. a trained model), global and per-tensor maps
static int roundtrip_checkpoint(const char* path) {
    GPT2Config c;
    float* w = NULL;
    if (model_fp32_read(path, &c, &w) != BS_OK) { printf("error: %s\n", bs_error()); return 1; }
    BszOptions o = bsz_default_options();
    size_t g = roundtrip("checkpoint, global map", &c, w, &o, NULL);
    o.map_mode = BSZ_MAP_TENSOR;
    size_t t = roundtrip("checkpoint, per-tensor maps", &c, w, &o, NULL);
    printf("%s: %zu params, %zu bytes (global map), %zu bytes (per-tensor maps)\n", path, gpt2_num_params(&c), g, t);
    free(w);
    printf(failures ? "FAILED: %d checks\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}

// small valid files: the fuzzer's seeds (dev/test/fuzz_regress/bsz/): seed0-2 EG (version 1
// files, kept as they were), seed3-6 version 2: rANS, CABAC, auto with shared rows, per-tensor
// maps with rANS
static int write_seeds(const char* dir) {
    GPT2Config c = {8, 60, gpt2_padded_vocab(60), 1, 2, 8};
    const int kinds[7] = {W_GG1, W_SPARSE, W_GG05, W_SPARSE, W_GG1, W_SPARSE, W_GG05};
    const int coders[7] = {BSZ_CODER_EG, BSZ_CODER_EG, BSZ_CODER_EG, BSZ_CODER_RANS, BSZ_CODER_CABAC, BSZ_CODER_AUTO, BSZ_CODER_RANS};
    uint8_t rows[64];
    for (int v = 0; v < 64; v++) rows[v] = v % 4 == 1 || v >= 60;
    for (int s = 3; s < 7; s++) {
        float* w = make_weights(&c, kinds[s]);
        BszOptions o = bsz_default_options();
        o.delta = s == 6 ? 4e-3f : 1e-3f;
        o.map_mode = s == 6 ? BSZ_MAP_TENSOR : BSZ_MAP_GLOBAL;
        o.chunk_params = 64;
        o.coder = coders[s];
        if (s == 5) o.shared_rows = rows;
        char path[512];
        snprintf(path, sizeof(path), "%s/seed%d.bsz", dir, s);
        if (bsz_write(path, &c, w, &o) != BS_OK) { printf("error: %s\n", bs_error()); return 1; }
        free(w);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "--roundtrip") == 0) return roundtrip_checkpoint(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
    test_eg_table();
    test_eg_stream();
    test_bitio();
    test_huffman();
    test_valuemap();
    test_entropy_streams();
    test_roundtrips();
    test_shared_rows();
    for (int coder = 0; coder < BSZ_NUM_CODERS; coder++) test_corruption(coder);
    if (failures) { printf("FAILED: %d checks\n", failures); return 1; }
    printf("all checks passed\n");
    return 0;
}
