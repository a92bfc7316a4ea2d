/*
 bsz_report.h: the size report of a coded model (./bsz info, the end of `make train`),
 per logical tensor and in total, computed from the file itself (decoded indices):

   params     number of weights
   distinct   distinct quantized values it uses
   zero       fraction of weights that quantize to 0
   nu         generalized-Gaussian shape fitted to the dequantized weights by moments
              (gg.h: Sharifi & Leon-Garcia, rho(nu) = m1^2 / m2, nu in [0.1, 3])
   k          the EG order the file uses for it
   FL         ceil(log2(distinct)) bits/param: fixed-length code of the index
   EG0..EG4   bits/param of EG-k, k = 0..4, on the file's value-map indices
   HM         bits/param of a Huffman code built for exactly this histogram (huffman.h)
   H          empirical entropy of the indices, -sum p log2 p: the limit for any code
              that codes each weight on its own
   file       bits/param the file actually spends on the tensor's code words (CHNK/BITS)

 Total row: nu is fitted over the weight matrices and embeddings only (the tensors
 BackSlash constrains; LayerNorm gains sit near 1, not 0). With one global value map (the paper's setting) every column is computed
 on the histogram of the whole model; with per-tensor maps each tensor has its own
 code, so the total is the parameter-weighted mean of the tensor rows and "distinct"
 sums the tables. The summary line sets the real file size against fp32 (4 bytes per
 weight) and bf16 (2 bytes per weight).
*/
#ifndef LLMC_BSZ_REPORT_H
#define LLMC_BSZ_REPORT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "bsz.h"
#include "expgolomb.h"
#include "gg.h"
#include "huffman.h"

#define BSZ_REPORT_EG_KS 5 // EG0..EG4

typedef struct {
    char name[GPT2_TENSOR_NAME_MAX];
    uint64_t params;
    uint64_t distinct;
    double zero_frac;
    double nu;            // NAN when every weight is 0
    int k;                // the file's EG order (-1 in the total row)
    double fl_bits;       // all bits figures are bits per parameter
    double eg_bits[BSZ_REPORT_EG_KS];
    double huffman_bits;
    double entropy_bits;
    double file_bits;
} BszReportRow;

typedef struct {
    int num_rows;
    BszReportRow* rows;   // one per logical tensor
    BszReportRow total;
    int map_mode;
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

// fills the histogram-derived columns of a row from counts over indices 0..n-1;
// `value` gives each index's weight value (for zero fraction and nu), may be NULL
static inline int bsz_report_row_from_hist(BszReportRow* row, const uint64_t* hist, uint32_t n,
                                           const int32_t* q, float delta) {
    uint64_t total = 0, distinct = 0, zeros = 0;
    double m1 = 0.0, m2 = 0.0, h = 0.0;
    double eg[BSZ_REPORT_EG_KS] = {0};
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
        for (int k = 0; k < BSZ_REPORT_EG_KS; k++) eg[k] += c * eg_length(i, k);
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
    row->huffman_bits = (double)hm / (double)total;
    row->entropy_bits = h;
    return BS_OK;
}

// decodes the file's indices tensor by tensor and builds the report
static inline int bsz_report_build(const BszFile* f, BszReport* rep) {
    memset(rep, 0, sizeof(*rep));
    rep->num_rows = f->num_tensors;
    rep->map_mode = f->map_mode;
    rep->file_bytes = f->file_size;
    rep->config = f->config;
    memcpy(rep->section_bytes, f->section_bytes, sizeof(rep->section_bytes));
    rep->rows = (BszReportRow*)calloc((size_t)(unsigned)f->num_tensors, sizeof(BszReportRow));
    GPT2Tensor* layout = NULL;
    uint64_t max_numel = 0;
    uint32_t max_map = 0;
    for (int t = 0; t < f->num_tensors; t++) max_numel = f->tensors[t].numel > max_numel ? f->tensors[t].numel : max_numel;
    for (uint32_t m = 0; m < f->num_maps; m++) max_map = f->map_sizes[m] > max_map ? f->map_sizes[m] : max_map;
    uint32_t* idx = (uint32_t*)malloc(max_numel * sizeof(uint32_t));
    uint64_t* hist = (uint64_t*)malloc((size_t)max_map * sizeof(uint64_t));
    uint64_t* total_hist = (uint64_t*)calloc((size_t)max_map, sizeof(uint64_t));
    int rc = BS_OK;
    if (!rep->rows || !idx || !hist || !total_hist) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory for the report", f->what); goto done; }
    {
    BszReportRow* tot = &rep->total;
    snprintf(tot->name, sizeof(tot->name), "total");
    tot->k = -1;
    double tot_m1 = 0.0, tot_m2 = 0.0, tot_matrix_params = 0.0, tot_zeros = 0.0, tot_file_bits = 0.0;
    layout = (GPT2Tensor*)malloc((size_t)(unsigned)f->num_tensors * sizeof(GPT2Tensor));
    if (!layout) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory for the report", f->what); goto done; }
    gpt2_tensor_table(&f->config, layout);
    for (int t = 0; t < f->num_tensors; t++) {
        const BszTensor* bt = &f->tensors[t];
        if ((rc = bsz_decode_tensor(f, t, NULL, idx)) != BS_OK) goto done;
        uint32_t msize = f->map_sizes[bt->map];
        memset(hist, 0, (size_t)msize * sizeof(uint64_t));
        for (uint64_t i = 0; i < bt->numel; i++) hist[idx[i]]++;
        BszReportRow* row = &rep->rows[t];
        snprintf(row->name, sizeof(row->name), "%s", bt->name);
        if ((rc = bsz_report_row_from_hist(row, hist, msize, f->map_values[bt->map], bt->delta)) != BS_OK) goto done;
        row->k = bt->k;
        uint64_t a = f->chunk_bits[bt->first_chunk], b = f->chunk_bits[bt->first_chunk + bt->num_chunks];
        row->file_bits = (double)(b - a) / (double)bt->numel;
        tot_file_bits += (double)(b - a);
        double n = (double)row->params;
        tot_zeros += row->zero_frac * n;
        for (uint32_t i = 0; msize && gpt2_param_is_matrix(layout[t].group) && i < msize; i++) {
            double w = (double)f->map_values[bt->map][i] * bt->delta;
            tot_m1 += (double)hist[i] * fabs(w);
            tot_m2 += (double)hist[i] * w * w;
            tot_matrix_params += (double)hist[i];
        }
        if (f->map_mode == BSZ_MAP_GLOBAL) {
            for (uint32_t i = 0; i < msize; i++) total_hist[i] += hist[i];
        } else {
            tot->params += row->params;
            tot->distinct += msize;
            tot->fl_bits += row->fl_bits * n;
            for (int k = 0; k < BSZ_REPORT_EG_KS; k++) tot->eg_bits[k] += row->eg_bits[k] * n;
            tot->huffman_bits += row->huffman_bits * n;
            tot->entropy_bits += row->entropy_bits * n;
        }
    }
    if (f->map_mode == BSZ_MAP_GLOBAL) {
        // one code for the whole model: the columns of the model-wide histogram
        if ((rc = bsz_report_row_from_hist(tot, total_hist, f->map_sizes[0], NULL, 0.0f)) != BS_OK) goto done;
    } else {
        double n = (double)tot->params;
        tot->fl_bits /= n;
        for (int k = 0; k < BSZ_REPORT_EG_KS; k++) tot->eg_bits[k] /= n;
        tot->huffman_bits /= n;
        tot->entropy_bits /= n;
    }
    tot->zero_frac = tot_zeros / (double)tot->params;
    tot->nu = bsz_report_fit_nu(tot_m1 / tot_matrix_params, tot_m2 / tot_matrix_params);
    tot->file_bits = tot_file_bits / (double)tot->params;
    } // (the block keeps the jumps to done from crossing initialisations: C++ refuses that, and nvcc compiles this header as C++)
done:
    free(layout); free(idx); free(hist); free(total_hist);
    if (rc != BS_OK) bsz_report_free(rep);
    return rc;
}

static inline void bsz_report_print_row(FILE* out, const BszReportRow* r) {
    char nu[16], k[16];
    if (isnan(r->nu)) snprintf(nu, sizeof(nu), "-");
    else snprintf(nu, sizeof(nu), "%.3f", r->nu);
    if (r->k < 0) snprintf(k, sizeof(k), "-");
    else snprintf(k, sizeof(k), "%d", r->k);
    fprintf(out, "%-14s %11llu %8llu %6.2f%% %6s %2s %5.2f", r->name, (unsigned long long)r->params,
            (unsigned long long)r->distinct, 100.0 * r->zero_frac, nu, k, r->fl_bits);
    for (int j = 0; j < BSZ_REPORT_EG_KS; j++) fprintf(out, " %6.3f", r->eg_bits[j]);
    fprintf(out, " %6.3f %6.3f %6.3f\n", r->huffman_bits, r->entropy_bits, r->file_bits);
}

// the table; `per_tensor` = 0 prints only the total and the summary
static inline void bsz_report_print(FILE* out, const BszReport* rep, int per_tensor) {
    const GPT2Config* c = &rep->config;
    fprintf(out, "model: L=%d C=%d NH=%d V=%d Vp=%d maxT=%d, %s value map%s; bits per parameter:\n", c->num_layers, c->channels,
            c->num_heads, c->vocab_size, c->padded_vocab_size, c->max_seq_len,
            rep->map_mode == BSZ_MAP_GLOBAL ? "one global" : "per-tensor", rep->map_mode == BSZ_MAP_GLOBAL ? "" : "s");
    fprintf(out, "%-14s %11s %8s %7s %6s %2s %5s", "tensor", "params", "distinct", "zero", "nu", "k", "FL");
    for (int j = 0; j < BSZ_REPORT_EG_KS; j++) fprintf(out, "    EG%d", j);
    fprintf(out, " %6s %6s %6s\n", "HM", "H", "file");
    if (per_tensor)
        for (int t = 0; t < rep->num_rows; t++) bsz_report_print_row(out, &rep->rows[t]);
    bsz_report_print_row(out, &rep->total);
    double n = (double)rep->total.params;
    double fp32 = 4.0 * n, bf16 = 2.0 * n;
    fprintf(out, "file: %llu bytes = %.3f bits/param (code %.3f + tables and index %.3f); "
                 "fp32 %.0f bytes: %.2f%% of it (%.1fx smaller); bf16 %.0f bytes: %.2f%% (%.1fx)\n",
            (unsigned long long)rep->file_bytes, 8.0 * (double)rep->file_bytes / n, rep->total.file_bits,
            8.0 * (double)rep->file_bytes / n - rep->total.file_bits, fp32, 100.0 * (double)rep->file_bytes / fp32,
            fp32 / (double)rep->file_bytes, bf16, 100.0 * (double)rep->file_bytes / bf16, bf16 / (double)rep->file_bytes);
}

static inline void bsz_report_json_row(FILE* out, const BszReportRow* r) {
    fprintf(out, "{\"name\": \"%s\", \"params\": %llu, \"distinct\": %llu, \"zero_frac\": %.6f, ", r->name,
            (unsigned long long)r->params, (unsigned long long)r->distinct, r->zero_frac);
    if (isnan(r->nu)) fprintf(out, "\"nu\": null, ");
    else fprintf(out, "\"nu\": %.6f, ", r->nu);
    if (r->k >= 0) fprintf(out, "\"k\": %d, ", r->k);
    fprintf(out, "\"fl_bits\": %.6f, \"eg_bits\": [", r->fl_bits);
    for (int j = 0; j < BSZ_REPORT_EG_KS; j++) fprintf(out, "%s%.6f", j ? ", " : "", r->eg_bits[j]);
    fprintf(out, "], \"huffman_bits\": %.6f, \"entropy_bits\": %.6f, \"file_bits\": %.6f}", r->huffman_bits, r->entropy_bits, r->file_bits);
}

// the report as one JSON object; per_tensor 0 leaves out the "tensors" list (bsz info --total)
static inline void bsz_report_print_json(FILE* out, const BszReport* rep, int per_tensor) {
    const GPT2Config* c = &rep->config;
    double n = (double)rep->total.params;
    fprintf(out, "{\"config\": {\"max_seq_len\": %d, \"vocab_size\": %d, \"padded_vocab_size\": %d, \"num_layers\": %d, "
                 "\"num_heads\": %d, \"channels\": %d},\n",
            c->max_seq_len, c->vocab_size, c->padded_vocab_size, c->num_layers, c->num_heads, c->channels);
    fprintf(out, " \"map_mode\": \"%s\", \"file_bytes\": %llu, \"file_bits_per_param\": %.6f, \"fp32_bytes\": %.0f, \"bf16_bytes\": %.0f,\n",
            rep->map_mode == BSZ_MAP_GLOBAL ? "global" : "tensor", (unsigned long long)rep->file_bytes,
            8.0 * (double)rep->file_bytes / n, 4.0 * n, 2.0 * n);
    fprintf(out, " \"section_bytes\": {");
    for (int s = 0; s < BSZ_NUM_SECTIONS; s++)
        fprintf(out, "%s\"%s\": %llu", s ? ", " : "", bsz_section_tags[s], (unsigned long long)rep->section_bytes[s]);
    fprintf(out, "},\n \"total\": ");
    bsz_report_json_row(out, &rep->total);
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
