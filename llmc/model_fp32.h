/*
 model_fp32.h: llm.c's model checkpoint format, read and written unchanged, so that a
 checkpoint made by llm.c loads here and ours load in llm.c.

 Layout (little-endian):
   header: 256 int32
     [0] magic 20240326
     [1] version: 3 = fp32 parameters, 5 = bf16 parameters (llm.c's CUDA trainer)
     [2] max_seq_len  [3] vocab_size  [4] num_layers  [5] num_heads  [6] channels
     [7] padded_vocab_size (0 in old files: then vocab_size, as llm.c reads it)
     [8..255] zero
   parameters: gpt2_num_params() values in gpt2_params.h's order, fp32 or bf16
 The format has no checksum; the reader checks magic, version, the config's sanity
 and that the file size is exactly header + parameters.
*/
#ifndef LLMC_MODEL_FP32_H
#define LLMC_MODEL_FP32_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpt2_params.h"
#include "utils.h"

#define MODEL_FP32_MAGIC 20240326
#define MODEL_FP32_VERSION_FP32 3
#define MODEL_FP32_VERSION_BF16 5
#define MODEL_FP32_HEADER_INTS 256

// reads and checks the header only; *version gets 3 or 5
static inline int model_fp32_read_header(const char* path, GPT2Config* config, int* version) {
    int64_t file_size = 0;
    FILE* f = bs_open_regular(path, &file_size);
    if (f == NULL) return BS_EIO; // the message says why
    if (file_size < MODEL_FP32_HEADER_INTS * 4) {
        fclose(f);
        return bs_error_set(BS_EFORMAT, "%s: %lld bytes, too short for an llm.c checkpoint header (1024 bytes)", path, (long long)file_size);
    }
    uint8_t raw[MODEL_FP32_HEADER_INTS * 4];
    int rc = bs_read_exact(f, raw, sizeof(raw), path);
    fclose(f);
    if (rc != BS_OK) return rc;
    int32_t h[MODEL_FP32_HEADER_INTS];
    for (int i = 0; i < MODEL_FP32_HEADER_INTS; i++) h[i] = (int32_t)load_u32le(raw + 4 * i);
    if (h[0] != MODEL_FP32_MAGIC)
        return bs_error_set(BS_EFORMAT, "%s: bad magic %d (expected %d, an llm.c model checkpoint)", path, h[0], MODEL_FP32_MAGIC);
    if (h[1] != MODEL_FP32_VERSION_FP32 && h[1] != MODEL_FP32_VERSION_BF16)
        return bs_error_set(BS_EFORMAT, "%s: unsupported version %d (expected 3 = fp32 or 5 = bf16)", path, h[1]);
    config->max_seq_len = h[2];
    config->vocab_size = h[3];
    config->num_layers = h[4];
    config->num_heads = h[5];
    config->channels = h[6];
    config->padded_vocab_size = h[7] != 0 ? h[7] : h[3];
    int rcv = gpt2_config_validate(config, path);
    if (rcv != BS_OK) return rcv;
    size_t elem = h[1] == MODEL_FP32_VERSION_FP32 ? 4 : 2;
    uint64_t want = (uint64_t)MODEL_FP32_HEADER_INTS * 4 + (uint64_t)gpt2_num_params(config) * elem;
    if ((uint64_t)file_size != want)
        return bs_error_set(BS_EFORMAT, "%s: file is %lld bytes but its header (L=%d C=%d Vp=%d maxT=%d, %s) needs %llu",
                            path, (long long)file_size, config->num_layers, config->channels, config->padded_vocab_size,
                            config->max_seq_len, elem == 4 ? "fp32" : "bf16", (unsigned long long)want);
    *version = h[1];
    return BS_OK;
}

// reads a whole checkpoint; *params_out is malloc'd (fp32, bf16 files are widened)
static inline int model_fp32_read(const char* path, GPT2Config* config, float** params_out) {
    int version = 0;
    int rc = model_fp32_read_header(path, config, &version);
    if (rc != BS_OK) return rc;
    size_t n = gpt2_num_params(config);
    float* params = (float*)malloc(n * sizeof(float));
    if (params == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory for %zu parameters", path, n);
    FILE* f = bs_open_regular(path, NULL);
    if (f == NULL) { free(params); return BS_EIO; }
    if (fseek(f, MODEL_FP32_HEADER_INTS * 4, SEEK_SET) != 0) {
        fclose(f); free(params);
        return bs_error_set(BS_EIO, "%s: seek failed", path);
    }
    if (version == MODEL_FP32_VERSION_FP32) {
        rc = bs_read_exact(f, params, n * sizeof(float), path);
    } else {
        // bf16 is the upper half of an fp32: widen in place from the back of the buffer
        uint16_t* half = (uint16_t*)params + n;
        rc = bs_read_exact(f, half, n * sizeof(uint16_t), path);
        if (rc == BS_OK) {
            for (size_t i = 0; i < n; i++) {
                uint32_t bits = (uint32_t)half[i] << 16;
                memcpy(&params[i], &bits, 4);
            }
        }
    }
    fclose(f);
    if (rc != BS_OK) { free(params); return rc; }
    *params_out = params;
    return BS_OK;
}

// writes an fp32 (version 3) checkpoint atomically
static inline int model_fp32_write(const char* path, const GPT2Config* config, const float* params) {
    int rc = gpt2_config_validate(config, path);
    if (rc != BS_OK) return rc;
    uint8_t raw[MODEL_FP32_HEADER_INTS * 4];
    memset(raw, 0, sizeof(raw));
    const int32_t h[8] = {MODEL_FP32_MAGIC, MODEL_FP32_VERSION_FP32, config->max_seq_len, config->vocab_size,
                          config->num_layers, config->num_heads, config->channels, config->padded_vocab_size};
    for (int i = 0; i < 8; i++) store_u32le(raw + 4 * i, (uint32_t)h[i]);
    AtomicFile af;
    if ((rc = atomic_open(&af, path)) != BS_OK) return rc;
    if ((rc = bs_write_exact(af.f, raw, sizeof(raw), path)) != BS_OK ||
        (rc = bs_write_exact(af.f, params, gpt2_num_params(config) * sizeof(float), path)) != BS_OK) {
        atomic_abort(&af);
        return rc;
    }
    return atomic_commit(&af);
}

#endif // LLMC_MODEL_FP32_H
