/*
 libFuzzer target: the readers of token files (llmc/tokenfile.h) and labeled token files
 (llmc/labeled_tokens.h) never crash on any file, and what they accept is consistent.
 The input is written to a temporary file because the readers take paths.
   make fuzz && build/fuzz/fuzz_token_files -max_total_time=60
*/
#include "../../../llmc/labeled_tokens.h"
#include "../../../llmc/tokenfile.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static char path[64];
    if (path[0] == '\0') snprintf(path, sizeof(path), "/tmp/fuzz_token_files.%ld", (long)getpid());
    FILE* f = fopen(path, "wb");
    if (f == NULL) abort();
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    uint16_t* tokens = NULL;
    size_t n = 0;
    if (tokenfile_read(path, &tokens, &n) == BS_OK) {
        if (size != 1024 + 2 * n) abort();
        free(tokens);
    } else if (tokens != NULL || n != 0) {
        abort();
    }
    LabeledTokens lt;
    if (labeled_tokens_read(path, &lt) == BS_OK) {
        if (lt.offsets[lt.num_messages] != lt.num_tokens) abort();
        for (size_t i = 0; i < lt.num_messages; i++)
            if (lt.labels[i] >= (uint32_t)lt.num_classes || lt.offsets[i + 1] < lt.offsets[i]) abort();
        labeled_tokens_free(&lt);
    } else if (lt.labels != NULL || lt.tokens != NULL) {
        abort();
    }
    remove(path);
    return 0;
}
