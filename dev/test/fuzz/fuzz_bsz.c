/*
 libFuzzer target: the .bsz reader (llmc/bsz.h: versions 1 and 2, the EG, rANS and CABAC
 decoders, shared rows) and the size report never crash, never read outside the input,
 and what they accept is consistent, on any bytes.
 Each input is tried twice: as it is (the CRCs reject most mutations early), and with its
 header and section CRCs recomputed, so that mutations reach the structural checks, the
 chunk index and the EG decoder behind them.
   make fuzz && scripts/fuzz_bsz.sh 600
*/
#include "../../../llmc/bsz.h"
#include "../../../llmc/bsz_report.h"

// recomputes the header and section CRCs as far as the section sizes allow
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

static void try_file(const uint8_t* data, size_t size) {
    BszFile f;
    if (bsz_parse(&f, data, size, "fuzz") != BS_OK) {
        if (f.tensors != NULL || f.chunk_bits != NULL) abort(); // a failed parse frees everything
        return;
    }
    // accepted. EG chunks cost at least one bit a weight, but rANS and CABAC chunks can hold
    // a constant tensor in a few bytes, so a valid small file may decode to a large model:
    // decode only what fits the fuzzer's memory (the parse itself allocates in proportion
    // to the input)
    if (f.num_params > ((uint64_t)1 << 22)) { bsz_close(&f); return; }
    float* w = (float*)malloc(f.num_params * sizeof(float));
    if (w == NULL) abort();
    if (bsz_decode_params(&f, w) == BS_OK) {
        for (uint64_t i = 0; i < f.num_params; i++)
            if (!isfinite(w[i])) abort(); // the reader promises finite weights
        BszReport rep;
        if (bsz_report_build(&f, &rep) == BS_OK) {
            if (rep.total.params + (uint64_t)rep.shared_rows * (uint64_t)f.config.channels != f.num_params) abort();
            bsz_report_free(&rep);
        }
    }
    free(w);
    bsz_close(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // exact-size copies, so that ASan sees any read past the end
    uint8_t* copy = (uint8_t*)malloc(size ? size : 1);
    if (copy == NULL) return 0;
    if (size) memcpy(copy, data, size);
    try_file(copy, size);
    fix_crcs(copy, size);
    try_file(copy, size);
    free(copy);
    return 0;
}
