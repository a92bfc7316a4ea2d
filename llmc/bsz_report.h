/*
 bsz_report.h: the size report of a coded model (./bsz info, the end of `make train`),
 per logical tensor and in total, computed from the file itself (decoded indices):

   params     number of coded weights (wte without its shared rows, when the file has them)
   distinct   distinct quantized values it uses
   zero       fraction of weights that quantize to 0
   nu         generalized-Gaussian shape fitted to the dequantized weights by moments
              (gg.h: Sharifi & Leon-Garcia, rho(nu) = m1^2 / m2, nu in [0.1, 3])
   coder, k   the coder the file uses for it (eg, rans, cabac) and its EG order
   FL         ceil(log2(distinct)) bits/param: fixed-length code of the index
   EG0..EG4   bits/param of EG-k, k = 0..4, on the tensor's value-map indices as the file's
              map ranks them (JSON; the table shows EG0, the paper's code)
   EGk        EG with the best k of 0..8 for the tensor (as the EG coder picks it)
   HM         bits/param of a Huffman code built for exactly this histogram (huffman.h)
   H          empirical (order-0) entropy of the indices, -sum p log2 p: the limit for any
              code that codes each weight on its own with one static table
   rANS       bits/param of the rANS code of its chunks (rans.h: the tensor's quantized
              histogram, the chunks as the file cuts them, final states included; the
              frequency table not included); "-" where the alphabet exceeds RANS_MAX_SYMBOLS
   CABAC      bits/param of the context coder's code of its chunks (cabac.h, k as stored)
   file       bits/param the file actually spends on the tensor's code (CHNK/BITS)
 The code columns count code bits only; the tables (value maps, rANS frequencies, the
 shared row, the chunk index) are in the summary line as "tables and index".

 Two total rows, each like for like within itself:
   total   every column the sum of the tensor rows: each tensor with its own histogram
           and code (per-tensor Huffman and entropy, EG with each tensor's best k), the
           scope in which the file codes; this is the row to compare the file against
   global  one model-wide value map over all coded weights (the paper's EG-0 setting):
           FL, EG0..EG4 and EGk (one k for the whole model), Huffman and entropy of the
           model-wide histogram of q; no rANS, CABAC or file column
 nu in the total rows is fitted over the weight matrices and embeddings only (the tensors
 BackSlash constrains; LayerNorm gains sit near 1, not 0). The summary line sets the real
 file size against fp32 (4 bytes per weight) and bf16 (2 bytes per weight).
*/
#ifndef LLMC_BSZ_REPORT_H
#define LLMC_BSZ_REPORT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "bsz.h"
#include "cabac.h"
#include "expgolomb.h"
#include "gg.h"
#include "huffman.h"
#include "rans.h"

#define BSZ_REPORT_EG_KS 5 // EG0..EG4

typedef struct {
    char name[GPT2_TENSOR_NAME_MAX];
    uint64_t params;
    uint64_t distinct;
    double zero_frac;
    double nu;            // NAN when every weight is 0
    int coder;            // the file's coder (-1 in the total rows)
    int k;                // the file's EG order (-1 in the total rows)
    double fl_bits;       // all bits figures are bits per parameter
    double eg_bits[BSZ_REPORT_EG_KS];
    double egk_bits;      // EG with the best k of 0..EG_MAX_K
    int egk_k;            // that k (-1 in the total row: one per tensor)
    double huffman_bits;
    double entropy_bits;
    double rans_bits;     // NAN: not possible (alphabet too large) or not computed (global row)
    double cabac_bits;    // NAN in the global row
    double file_bits;     // NAN in the global row
} BszReportRow;

typedef struct {
    int num_rows;
    BszReportRow* rows;   // one per logical tensor
    BszReportRow total;   // sum of the tensor rows
    BszReportRow global;  // one model-wide value map
    int map_mode;
    uint32_t version;
    uint32_t shared_rows; // wte rows stored as one shared row (not coded)
    uint64_t num_params;  // all weights, shared rows included
    uint64_t file_bytes;
    uint64_t section_bytes[BSZ_NUM_SECTIONS];
    GPT2Config config;
} BszReport;

static inline void bsz_report_free(BszReport* r) {
    free(r->rows);
    memset(r, 0, sizeof(*r));
}

// the GG shape of weights with mean |w| = m1 and mean w^2 = m2 (gg.h's estimator, the one
// the trainer logs); NAN when all weights are zero
static inline double bsz_report_fit_nu(double m1, double m2) {
    return m2 > 0.0 ? gg_shape_from_moments(m1, m2) : NAN;
}

// fills the histogram-derived columns of a row from counts over indices 0..n-1 (index i is
// the i-th most frequent value for the EG columns); q gives each index's value (for the
// zero fraction and nu), may be NULL
static inline int bsz_report_row_from_hist(BszReportRow* row, const uint64_t* hist, uint32_t n,
                                           const int32_t* q, float delta) {
    uint64_t total = 0, distinct = 0, zeros = 0;
    double m1 = 0.0, m2 = 0.0, h = 0.0;
    double eg[EG_MAX_K + 1] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (!hist[i]) continue;
        total += hist[i];
        distinct++;
        double c = (double)hist[i];
        if (q) {
            double w = (double)q[i] * (double)delta;
            zeros += q[i] == 0 ? hist[i] : 0;
            m1 += c * fabs(w);
            m2 += c * w * w;
        }
        for (int k = 0; k <= EG_MAX_K; k++) eg[k] += c * eg_length(i, k);
    }
    if (total == 0) return BS_OK;
    for (uint32_t i = 0; i < n; i++) {
        if (!hist[i]) continue;
        double p = (double)hist[i] / (double)total;
        h -= p * log2(p);
    }
    uint64_t hm = huffman_total_bits(hist, n);
    if (hm == 0 && distinct > 0) return bs_error_set(BS_ENOMEM, "report: out of memory for the Huffman code");
    row->params = total;
    row->distinct = distinct;
    row->zero_frac = (double)zeros / (double)total;
    row->nu = q ? bsz_report_fit_nu(m1 / (double)total, m2 / (double)total) : NAN;
    row->fl_bits = distinct > 1 ? ceil(log2((double)distinct)) : 0.0;
    for (int k = 0; k < BSZ_REPORT_EG_KS; k++) row->eg_bits[k] = eg[k] / (double)total;
    row->egk_k = 0;
    for (int k = 1; k <= EG_MAX_K; k++) row->egk_k = eg[k] < eg[row->egk_k] ? k : row->egk_k;
    row->egk_bits = eg[row->egk_k] / (double)total;
    row->huffman_bits = (double)hm / (double)total;
    row->entropy_bits = h;
    return BS_OK;
}

// the rANS and CABAC columns: tensor t's indices idx (coded entries) coded chunk by chunk
// as the file cuts them
static inline int bsz_report_entropy_coders(const BszFile* f, int t, const uint32_t* idx, const uint64_t* hist, BszReportRow* row) {
    const BszTensor* bt = &f->tensors[t];
    uint32_t msize = f->map_sizes[bt->map], top = 0;
    for (uint32_t i = 0; i < msize; i++) top = hist[i] ? i : top;
    uint32_t* freq = NULL;
    if (top < RANS_MAX_SYMBOLS) {
        freq = (uint32_t*)malloc(((size_t)top + 1) * sizeof(uint32_t));
        if (!freq) return bs_error_set(BS_ENOMEM, "%s: out of memory for the report", f->what);
        int rc = rans_quantize_freqs(hist, top + 1, freq);
        if (rc != BS_OK) { free(freq); return rc; }
    }
    uint64_t rans_bytes = 0, cabac_bytes = 0;
    int failed = 0;
    #pragma omp parallel for schedule(dynamic, 1) reduction(+:rans_bytes, cabac_bytes) reduction(|:failed)
    for (uint64_t ch = bt->first_chunk; ch < bt->first_chunk + bt->num_chunks; ch++) {
        const uint32_t* s = idx + (ch - bt->first_chunk) * f->chunk_params;
        size_t n = (size_t)bsz_chunk_count(f, bt, ch), size = 0;
        uint8_t* code = NULL;
        if (freq) {
            if (rans_encode(s, n, freq, top + 1, &code, &size) != BS_OK) failed = 1;
            rans_bytes += size;
            free(code);
        }
        if (cabac_encode(s, n, msize, bt->k, (uint64_t)bt->shape[1], &code, &size) != BS_OK) failed = 1;
        cabac_bytes += size;
        free(code);
    }
    free(freq);
    if (failed) return bs_error_set(BS_ENOMEM, "%s: out of memory for the report", f->what);
    row->rans_bits = top < RANS_MAX_SYMBOLS ? 8.0 * (double)rans_bytes / (double)bt->coded : NAN;
    row->cabac_bits = 8.0 * (double)cabac_bytes / (double)bt->coded;
    return BS_OK;
}

typedef struct { int32_t q; uint64_t count; } BszReportValue;

static int bsz_report_compare_q(const void* a, const void* b) {
    int32_t x = ((const BszReportValue*)a)->q, y = ((const BszReportValue*)b)->q;
    return (x > y) - (x < y);
}
static int bsz_report_compare_count(const void* a, const void* b) {
    uint64_t x = ((const BszReportValue*)a)->count, y = ((const BszReportValue*)b)->count;
    return (x < y) - (x > y);
}

// the global row: the histogram of q over all coded weights (vals: every tensor's (q, count)
// pairs), ranked by count as one model-wide value map would rank them
static inline int bsz_report_global_row(BszReportRow* row, BszReportValue* vals, size_t nv) {
    qsort(vals, nv, sizeof(BszReportValue), bsz_report_compare_q);
    size_t m = 0;
    for (size_t i = 0; i < nv; i++) {
        if (m > 0 && vals[m - 1].q == vals[i].q) vals[m - 1].count += vals[i].count;
        else vals[m++] = vals[i];
    }
    qsort(vals, m, sizeof(BszReportValue), bsz_report_compare_count);
    uint64_t* hist = (uint64_t*)malloc((m ? m : 1) * sizeof(uint64_t));
    int32_t* q = (int32_t*)malloc((m ? m : 1) * sizeof(int32_t));
    if (!hist || !q) { free(hist); free(q); return bs_error_set(BS_ENOMEM, "report: out of memory"); }
    for (size_t i = 0; i < m; i++) { hist[i] = vals[i].count; q[i] = vals[i].q; }
    int rc = bsz_report_row_from_hist(row, hist, (uint32_t)m, NULL, 0.0f);
    free(hist); free(q);
    return rc;
}

// decodes the file's indices tensor by tensor and builds the report
static inline int bsz_report_build(const BszFile* f, BszReport* rep) {
    memset(rep, 0, sizeof(*rep));
    rep->num_rows = f->num_tensors;
    rep->map_mode = f->map_mode;
    rep->version = f->version;
    rep->shared_rows = f->num_shared_rows;
    rep->num_params = f->num_params;
    rep->file_bytes = f->file_size;
    rep->config = f->config;
    memcpy(rep->section_bytes, f->section_bytes, sizeof(rep->section_bytes));
    rep->rows = (BszReportRow*)calloc((size_t)(unsigned)f->num_tensors, sizeof(BszReportRow));
    GPT2Tensor* layout = (GPT2Tensor*)malloc((size_t)(unsigned)f->num_tensors * sizeof(GPT2Tensor));
    uint64_t max_numel = 0, total_distinct = 0;
    uint32_t max_map = 0;
    for (int t = 0; t < f->num_tensors; t++) max_numel = f->tensors[t].coded > max_numel ? f->tensors[t].coded : max_numel;
    for (uint32_t m = 0; m < f->num_maps; m++) max_map = f->map_sizes[m] > max_map ? f->map_sizes[m] : max_map;
    for (int t = 0; t < f->num_tensors; t++) total_distinct += f->map_sizes[f->tensors[t].map];
    uint32_t* idx = (uint32_t*)malloc((max_numel ? max_numel : 1) * sizeof(uint32_t));
    uint64_t* hist = (uint64_t*)malloc((size_t)max_map * sizeof(uint64_t));
    BszReportValue* vals = (BszReportValue*)malloc((total_distinct ? total_distinct : 1) * sizeof(BszReportValue));
    size_t nvals = 0;
    int rc = BS_OK;
    BszReportRow* tot = &rep->total;
    double tot_m1 = 0.0, tot_m2 = 0.0, tot_matrix_params = 0.0, tot_zeros = 0.0, tot_file_bits = 0.0;
    int rans_all = 1;
    if (!rep->rows || !layout || !idx || !hist || !vals) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory for the report", f->what); goto done; }
    snprintf(tot->name, sizeof(tot->name), "total");
    snprintf(rep->global.name, sizeof(rep->global.name), "global");
    tot->k = tot->coder = tot->egk_k = rep->global.k = rep->global.coder = -1;
    gpt2_tensor_table(&f->config, layout);
    for (int t = 0; t < f->num_tensors; t++) {
        const BszTensor* bt = &f->tensors[t];
        if ((rc = bsz_decode_tensor(f, t, NULL, idx)) != BS_OK) goto done;
        uint32_t msize = f->map_sizes[bt->map];
        const int32_t* qv = f->map_values[bt->map];
        memset(hist, 0, (size_t)msize * sizeof(uint64_t));
        for (uint64_t i = 0; i < bt->coded; i++) hist[idx[i]]++;
        BszReportRow* row = &rep->rows[t];
        snprintf(row->name, sizeof(row->name), "%s", bt->name);
        // per-tensor scope: the tensor's histogram over the file's indices (EG columns: the
        // indices as the file's map ranks them); its (q, count) pairs go to the global row
        if ((rc = bsz_report_row_from_hist(row, hist, msize, qv, bt->delta)) != BS_OK) goto done;
        for (uint32_t i = 0; i < msize; i++)
            if (hist[i]) { vals[nvals].q = qv[i]; vals[nvals].count = hist[i]; nvals++; }
        if ((rc = bsz_report_entropy_coders(f, t, idx, hist, row)) != BS_OK) goto done;
        row->k = bt->k;
        row->coder = bt->coder;
        uint64_t a = f->chunk_bits[bt->first_chunk], b = f->chunk_bits[bt->first_chunk + bt->num_chunks];
        row->file_bits = bt->coded ? (double)(b - a) / (double)bt->coded : 0.0;
        tot_file_bits += (double)(b - a);
        double n = (double)row->params;
        tot_zeros += row->zero_frac * n;
        for (uint32_t i = 0; msize && gpt2_param_is_matrix(layout[t].group) && i < msize; i++) {
            double w = (double)qv[i] * bt->delta;
            tot_m1 += (double)hist[i] * fabs(w);
            tot_m2 += (double)hist[i] * w * w;
            tot_matrix_params += (double)hist[i];
        }
        tot->params += row->params;
        tot->distinct += row->distinct;
        tot->fl_bits += row->fl_bits * n;
        for (int k = 0; k < BSZ_REPORT_EG_KS; k++) tot->eg_bits[k] += row->eg_bits[k] * n;
        tot->egk_bits += row->egk_bits * n;
        tot->huffman_bits += row->huffman_bits * n;
        tot->entropy_bits += row->entropy_bits * n;
        if (isnan(row->rans_bits)) rans_all = 0;
        else tot->rans_bits += row->rans_bits * n;
        tot->cabac_bits += row->cabac_bits * n;
    }
    {
        double n = (double)tot->params;
        tot->fl_bits /= n;
        for (int k = 0; k < BSZ_REPORT_EG_KS; k++) tot->eg_bits[k] /= n;
        tot->egk_bits /= n;
        tot->huffman_bits /= n;
        tot->entropy_bits /= n;
        tot->rans_bits = rans_all ? tot->rans_bits / n : NAN;
        tot->cabac_bits /= n;
        tot->zero_frac = tot_zeros / n;
        tot->nu = bsz_report_fit_nu(tot_m1 / tot_matrix_params, tot_m2 / tot_matrix_params);
        tot->file_bits = tot_file_bits / n;
    }
    if ((rc = bsz_report_global_row(&rep->global, vals, nvals)) != BS_OK) goto done;
    rep->global.zero_frac = tot->zero_frac;
    rep->global.nu = tot->nu;
    rep->global.rans_bits = rep->global.cabac_bits = rep->global.file_bits = NAN;
done:
    free(layout); free(idx); free(hist); free(vals);
    if (rc != BS_OK) bsz_report_free(rep);
    return rc;
}

static inline void bsz_report_print_row(FILE* out, const BszReportRow* r) {
    char nu[16], k[16], rans[16], cabac[16], file[16];
    if (isnan(r->nu)) snprintf(nu, sizeof(nu), "-");
    else snprintf(nu, sizeof(nu), "%.3f", r->nu);
    if (r->k < 0) snprintf(k, sizeof(k), "-");
    else snprintf(k, sizeof(k), "%d", r->k);
    if (isnan(r->rans_bits)) snprintf(rans, sizeof(rans), "-");
    else snprintf(rans, sizeof(rans), "%.3f", r->rans_bits);
    if (isnan(r->cabac_bits)) snprintf(cabac, sizeof(cabac), "-");
    else snprintf(cabac, sizeof(cabac), "%.3f", r->cabac_bits);
    if (isnan(r->file_bits)) snprintf(file, sizeof(file), "-");
    else snprintf(file, sizeof(file), "%.3f", r->file_bits);
    fprintf(out, "%-14s %11llu %8llu %6.2f%% %6s %5s %2s %5.2f %6.3f %6.3f %6.3f %6.3f %6s %6s %6s\n", r->name,
            (unsigned long long)r->params, (unsigned long long)r->distinct, 100.0 * r->zero_frac, nu,
            r->coder >= 0 ? bsz_coder_names[r->coder] : "-", k, r->fl_bits, r->eg_bits[0], r->egk_bits, r->huffman_bits,
            r->entropy_bits, rans, cabac, file);
}

// the table; `per_tensor` = 0 prints only the total rows and the summary
static inline void bsz_report_print(FILE* out, const BszReport* rep, int per_tensor) {
    const GPT2Config* c = &rep->config;
    fprintf(out, "model: L=%d C=%d NH=%d V=%d Vp=%d maxT=%d, .bsz version %u, %s value map%s",
            c->num_layers, c->channels, c->num_heads, c->vocab_size, c->padded_vocab_size, c->max_seq_len, rep->version,
            rep->map_mode == BSZ_MAP_GLOBAL ? "one global" : "per-tensor", rep->map_mode == BSZ_MAP_GLOBAL ? "" : "s");
    if (rep->shared_rows)
        fprintf(out, ", %u wte rows shared (%llu weights not coded)", rep->shared_rows,
                (unsigned long long)rep->shared_rows * (unsigned long long)c->channels);
    fprintf(out, "; bits per coded parameter:\n");
    fprintf(out, "%-14s %11s %8s %7s %6s %5s %2s %5s %6s %6s %6s %6s %6s %6s %6s\n", "tensor", "params", "distinct", "zero", "nu",
            "coder", "k", "FL", "EG0", "EGk", "HM", "H", "rANS", "CABAC", "file");
    if (per_tensor)
        for (int t = 0; t < rep->num_rows; t++) bsz_report_print_row(out, &rep->rows[t]);
    bsz_report_print_row(out, &rep->total);
    bsz_report_print_row(out, &rep->global);
    double n = (double)rep->num_params, coded = (double)rep->total.params;
    double fp32 = 4.0 * n, bf16 = 2.0 * n, code_bits = rep->total.file_bits * coded;
    fprintf(out, "file: %llu bytes = %.3f bits/param (code %.3f + tables and index %.3f); "
                 "fp32 %.0f bytes: %.2f%% of it (%.1fx smaller); bf16 %.0f bytes: %.2f%% (%.1fx)\n",
            (unsigned long long)rep->file_bytes, 8.0 * (double)rep->file_bytes / n, code_bits / n,
            (8.0 * (double)rep->file_bytes - code_bits) / n, fp32, 100.0 * (double)rep->file_bytes / fp32,
            fp32 / (double)rep->file_bytes, bf16, 100.0 * (double)rep->file_bytes / bf16, bf16 / (double)rep->file_bytes);
}

static inline void bsz_report_json_number(FILE* out, const char* key, double v) {
    if (isnan(v)) fprintf(out, "\"%s\": null", key);
    else fprintf(out, "\"%s\": %.6f", key, v);
}

static inline void bsz_report_json_row(FILE* out, const BszReportRow* r) {
    fprintf(out, "{\"name\": \"%s\", \"params\": %llu, \"distinct\": %llu, \"zero_frac\": %.6f, ", r->name,
            (unsigned long long)r->params, (unsigned long long)r->distinct, r->zero_frac);
    bsz_report_json_number(out, "nu", r->nu);
    fprintf(out, ", ");
    if (r->coder >= 0) fprintf(out, "\"coder\": \"%s\", ", bsz_coder_names[r->coder]);
    if (r->k >= 0) fprintf(out, "\"k\": %d, ", r->k);
    fprintf(out, "\"fl_bits\": %.6f, \"eg_bits\": [", r->fl_bits);
    for (int j = 0; j < BSZ_REPORT_EG_KS; j++) fprintf(out, "%s%.6f", j ? ", " : "", r->eg_bits[j]);
    fprintf(out, "], \"egk_bits\": %.6f, ", r->egk_bits);
    if (r->egk_k >= 0) fprintf(out, "\"egk_k\": %d, ", r->egk_k);
    fprintf(out, "\"huffman_bits\": %.6f, \"entropy_bits\": %.6f, ", r->huffman_bits, r->entropy_bits);
    bsz_report_json_number(out, "rans_bits", r->rans_bits);
    fprintf(out, ", ");
    bsz_report_json_number(out, "cabac_bits", r->cabac_bits);
    fprintf(out, ", ");
    bsz_report_json_number(out, "file_bits", r->file_bits);
    fprintf(out, "}");
}

// the report as one JSON object; per_tensor 0 leaves out the "tensors" list (bsz info --total)
static inline void bsz_report_print_json(FILE* out, const BszReport* rep, int per_tensor) {
    const GPT2Config* c = &rep->config;
    double n = (double)rep->num_params;
    fprintf(out, "{\"config\": {\"max_seq_len\": %d, \"vocab_size\": %d, \"padded_vocab_size\": %d, \"num_layers\": %d, "
                 "\"num_heads\": %d, \"channels\": %d},\n",
            c->max_seq_len, c->vocab_size, c->padded_vocab_size, c->num_layers, c->num_heads, c->channels);
    fprintf(out, " \"version\": %u, \"map_mode\": \"%s\", \"shared_rows\": %u, \"num_params\": %llu, \"file_bytes\": %llu, "
                 "\"file_bits_per_param\": %.6f, \"fp32_bytes\": %.0f, \"bf16_bytes\": %.0f,\n",
            rep->version, rep->map_mode == BSZ_MAP_GLOBAL ? "global" : "tensor", rep->shared_rows, (unsigned long long)rep->num_params,
            (unsigned long long)rep->file_bytes, 8.0 * (double)rep->file_bytes / n, 4.0 * n, 2.0 * n);
    fprintf(out, " \"section_bytes\": {");
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++)
        fprintf(out, "%s\"%s\": %llu", s ? ", " : "", bsz_section_tags[s], (unsigned long long)rep->section_bytes[s]);
    fprintf(out, "},\n \"total\": ");
    bsz_report_json_row(out, &rep->total);
    fprintf(out, ",\n \"global\": ");
    bsz_report_json_row(out, &rep->global);
    if (!per_tensor) {
        fprintf(out, "}\n");
        return;
    }
    fprintf(out, ",\n \"tensors\": [\n");
    for (int t = 0; t < rep->num_rows; t++) {
        fprintf(out, "  ");
        bsz_report_json_row(out, &rep->rows[t]);
        fprintf(out, "%s\n", t + 1 < rep->num_rows ? "," : "");
    }
    fprintf(out, " ]}\n");
}

#endif // LLMC_BSZ_REPORT_H
