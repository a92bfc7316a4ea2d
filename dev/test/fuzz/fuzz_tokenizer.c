/*
 libFuzzer target: any bytes encode without error, decode back to themselves, and the
 streaming decoder turns the ids into valid UTF-8. Needs the vocabulary of `make data`
 (run from the repository root).   make fuzz && build/fuzz/fuzz_tokenizer -max_total_time=60
*/
#include "../../../llmc/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Tokenizer* t = NULL;
    if (t == NULL) {
        t = tokenizer_load(TOKENIZER_DEFAULT_ENCODER_JSON, TOKENIZER_DEFAULT_VOCAB_BPE);
        if (t == NULL) { fprintf(stderr, "%s\n", bs_error()); abort(); }
    }
    int32_t* ids = NULL;
    size_t n = 0;
    if (tokenizer_encode(t, (const char*)data, size, &ids, &n) != BS_OK) abort();
    char* text = NULL;
    size_t len = 0;
    if (tokenizer_decode(t, ids, n, &text, &len) != BS_OK || len != size || memcmp(text, data, size) != 0) abort();
    Utf8Stream st = {{0}, 0};
    char* out = (char*)malloc(3 * size + 64);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        const char* bytes = tokenizer_token_bytes(t, ids[i], &k);
        w += utf8_stream_push(&st, bytes, k, out + w);
    }
    w += utf8_stream_flush(&st, out + w);
    for (size_t i = 0; i < w;) {
        uint32_t cp;
        int k = utf8_decode((const uint8_t*)out + i, w - i, &cp);
        if (k == 0) abort();
        i += (size_t)k;
    }
    free(out);
    free(text);
    free(ids);
    return 0;
}
