/*
 valuemap.h: value mapping of quantized weights (doc/method.md section 5, step 2).

 The distinct quantized values q = round(w / Delta) are ranked by how often they occur,
 most frequent first; a weight is then coded as its rank (its "index"), and the table
 rank -> q is stored. After BackSlash training most weights are 0 and the used values
 are few and scattered, so the index is small and EG-k codes it in a few bits.

 Order (deterministic, so that the same weights always give the same file):
   count descending, then |q| ascending, then q ascending (-1 before +1).

 Building takes the weights themselves (float arrays with their 1/Delta), quantizing
 on the fly with quantize.h, so no q array of the model's size is ever held. Two passes
 over the weights: the range of q (and a check that every w / Delta is finite and within
 QUANTIZE_MAX_ABS_Q), then a histogram -- dense per thread when the range is at most
 VALUEMAP_DENSE_RANGE values (always the case for trained weights at Delta = 1e-3), else
 by sorting the q values.

 Lookup q -> rank: through a dense table over [qmin, qmax] when the range allows, else by
 binary search in the values sorted by q.
*/
#ifndef LLMC_VALUEMAP_H
#define LLMC_VALUEMAP_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "expgolomb.h"
#include "quantize.h"
#include "utils.h"

#define VALUEMAP_MAX_SIZE EG_MAX_INDEX         // documented limit on distinct values per map
#define VALUEMAP_DENSE_RANGE ((int64_t)1 << 22) // qmax - qmin + 1 up to this: dense tables

typedef struct {
    const float* w;  // weights
    size_t n;        // how many
    float inv_delta; // 1 / Delta of these weights
} ValueSegment;

typedef struct {
    uint32_t size;      // number of distinct values
    int32_t* values;    // (size) rank -> q, most frequent first
    uint64_t* counts;   // (size) rank -> number of weights with that value
    int32_t qmin, qmax; // range of the values
    uint32_t* dense;    // (qmax - qmin + 1) q - qmin -> rank, or NULL (range too large)
    int32_t* sorted_q;  // (size) the values in increasing order (NULL when dense is used)
    uint32_t* sorted_rank; // (size) their ranks
} ValueMap;

static inline void valuemap_free(ValueMap* m) {
    free(m->values);
    free(m->counts);
    free(m->dense);
    free(m->sorted_q);
    free(m->sorted_rank);
    memset(m, 0, sizeof(*m));
}

// rank of q; q must be one of the map's values
static inline uint32_t valuemap_rank(const ValueMap* m, int32_t q) {
    if (m->dense) return m->dense[(int64_t)q - m->qmin];
    uint32_t lo = 0, hi = m->size; // binary search in sorted_q
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->sorted_q[mid] <= q) lo = mid;
        else hi = mid;
    }
    return m->sorted_rank[lo];
}

typedef struct { int32_t q; uint64_t count; } ValueCount;

// count descending, |q| ascending, q ascending
static int valuemap_compare_rank(const void* a, const void* b) {
    const ValueCount* x = (const ValueCount*)a;
    const ValueCount* y = (const ValueCount*)b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    int64_t ax = llabs((long long)x->q), ay = llabs((long long)y->q);
    if (ax != ay) return ax < ay ? -1 : 1;
    return (x->q > y->q) - (x->q < y->q);
}

static int valuemap_compare_q(const void* a, const void* b) {
    int32_t x = ((const ValueCount*)a)->q, y = ((const ValueCount*)b)->q;
    return (x > y) - (x < y);
}

static int valuemap_compare_int32(const void* a, const void* b) {
    int32_t x = *(const int32_t*)a, y = *(const int32_t*)b;
    return (x > y) - (x < y);
}

// builds the map from the given weights, ranks and lookup tables included.
// Errors: BS_ELIMIT for a weight whose w / Delta is not finite or too large, or more
// than VALUEMAP_MAX_SIZE distinct values; BS_ENOMEM; BS_EINVAL for no weights.
static inline int valuemap_build(ValueMap* m, const ValueSegment* segs, int nsegs) {
    memset(m, 0, sizeof(*m));
    size_t total = 0;
    for (int s = 0; s < nsegs; s++) total += segs[s].n;
    if (total == 0) return bs_error_set(BS_EINVAL, "value map: no weights");

    // pass 1: range of q, and the check that quantization is defined for every weight
    const float limit = (float)QUANTIZE_MAX_ABS_Q;
    int64_t qmin = INT64_MAX, qmax = INT64_MIN;
    int bad_seg = -1;
    size_t bad_index = 0;
    for (int s = 0; s < nsegs && bad_seg < 0; s++) {
        const float* w = segs[s].w;
        float inv = segs[s].inv_delta;
        float lo = INFINITY, hi = -INFINITY;
        size_t n = segs[s].n, nbad = 0;
        #pragma omp parallel for reduction(min:lo) reduction(max:hi) reduction(+:nbad) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float x = w[i] * inv;
            nbad += !(x >= -limit && x <= limit); // counts NaN too
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        if (nbad) {
            bad_seg = s;
            for (size_t i = 0; i < n; i++) {
                float x = w[i] * inv;
                if (!(x >= -limit && x <= limit)) { bad_index = i; break; }
            }
            break;
        }
        qmin = quantize_value(lo, 1.0f) < qmin ? quantize_value(lo, 1.0f) : qmin;
        qmax = quantize_value(hi, 1.0f) > qmax ? quantize_value(hi, 1.0f) : qmax;
    }
    if (bad_seg >= 0)
        return bs_error_set(BS_ELIMIT, "value map: weight %zu of segment %d is %g, and %g / Delta is not finite or beyond "
                            "the limit |q| <= 2^30 (use a larger Delta)", bad_index, bad_seg,
                            (double)segs[bad_seg].w[bad_index], (double)segs[bad_seg].w[bad_index]);
    m->qmin = (int32_t)qmin;
    m->qmax = (int32_t)qmax;
    int64_t range = qmax - qmin + 1;

    // pass 2: histogram -> (q, count) pairs of the values that occur
    ValueCount* vc = NULL;
    size_t nv = 0;
    if (range <= VALUEMAP_DENSE_RANGE) {
        uint64_t* hist = (uint64_t*)calloc((size_t)range, sizeof(uint64_t));
        if (hist == NULL) return bs_error_set(BS_ENOMEM, "value map: out of memory for a histogram of %lld values", (long long)range);
        int oom = 0;
        #pragma omp parallel
        {
            uint64_t* local = (uint64_t*)calloc((size_t)range, sizeof(uint64_t));
            if (local == NULL) {
                #pragma omp atomic write
                oom = 1;
            } else {
                for (int s = 0; s < nsegs; s++) {
                    const float* w = segs[s].w;
                    float inv = segs[s].inv_delta;
                    #pragma omp for schedule(static) nowait
                    for (size_t i = 0; i < segs[s].n; i++) local[quantize_value(w[i], inv) - qmin]++;
                }
                #pragma omp critical
                for (int64_t j = 0; j < range; j++) hist[j] += local[j];
                free(local);
            }
        }
        if (oom) { free(hist); return bs_error_set(BS_ENOMEM, "value map: out of memory for per-thread histograms"); }
        for (int64_t j = 0; j < range; j++) nv += hist[j] != 0;
        vc = (ValueCount*)malloc(nv * sizeof(ValueCount));
        if (vc == NULL) { free(hist); return bs_error_set(BS_ENOMEM, "value map: out of memory"); }
        nv = 0;
        for (int64_t j = 0; j < range; j++)
            if (hist[j]) { vc[nv].q = (int32_t)(j + qmin); vc[nv].count = hist[j]; nv++; }
        free(hist);
    } else {
        int32_t* all = (int32_t*)malloc(total * sizeof(int32_t));
        if (all == NULL) return bs_error_set(BS_ENOMEM, "value map: out of memory sorting %zu values", total);
        size_t at = 0;
        for (int s = 0; s < nsegs; s++)
            for (size_t i = 0; i < segs[s].n; i++) all[at++] = quantize_value(segs[s].w[i], segs[s].inv_delta);
        qsort(all, total, sizeof(int32_t), valuemap_compare_int32);
        for (size_t i = 0; i < total; i++) nv += i == 0 || all[i] != all[i - 1];
        vc = (ValueCount*)malloc(nv * sizeof(ValueCount));
        if (vc == NULL) { free(all); return bs_error_set(BS_ENOMEM, "value map: out of memory"); }
        nv = 0;
        for (size_t i = 0; i < total; i++) {
            if (i == 0 || all[i] != all[i - 1]) { vc[nv].q = all[i]; vc[nv].count = 0; nv++; }
            vc[nv - 1].count++;
        }
        free(all);
    }
    if (nv > VALUEMAP_MAX_SIZE) {
        free(vc);
        return bs_error_set(BS_ELIMIT, "value map: %zu distinct quantized values, more than the limit of %u (use a larger Delta)",
                            nv, (unsigned)VALUEMAP_MAX_SIZE);
    }

    // ranks
    qsort(vc, nv, sizeof(ValueCount), valuemap_compare_rank);
    m->size = (uint32_t)nv;
    m->values = (int32_t*)malloc(nv * sizeof(int32_t));
    m->counts = (uint64_t*)malloc(nv * sizeof(uint64_t));
    if (m->values == NULL || m->counts == NULL) { free(vc); valuemap_free(m); return bs_error_set(BS_ENOMEM, "value map: out of memory"); }
    for (size_t r = 0; r < nv; r++) { m->values[r] = vc[r].q; m->counts[r] = vc[r].count; }

    // lookup q -> rank
    if (range <= VALUEMAP_DENSE_RANGE) {
        m->dense = (uint32_t*)malloc((size_t)range * sizeof(uint32_t));
        if (m->dense == NULL) { free(vc); valuemap_free(m); return bs_error_set(BS_ENOMEM, "value map: out of memory"); }
        for (size_t r = 0; r < nv; r++) m->dense[(int64_t)vc[r].q - qmin] = (uint32_t)r;
    } else {
        for (size_t r = 0; r < nv; r++) vc[r].count = r; // remember the rank, then sort by q
        qsort(vc, nv, sizeof(ValueCount), valuemap_compare_q);
        m->sorted_q = (int32_t*)malloc(nv * sizeof(int32_t));
        m->sorted_rank = (uint32_t*)malloc(nv * sizeof(uint32_t));
        if (m->sorted_q == NULL || m->sorted_rank == NULL) { free(vc); valuemap_free(m); return bs_error_set(BS_ENOMEM, "value map: out of memory"); }
        for (size_t i = 0; i < nv; i++) { m->sorted_q[i] = vc[i].q; m->sorted_rank[i] = (uint32_t)vc[i].count; }
    }
    free(vc);
    return BS_OK;
}

#endif // LLMC_VALUEMAP_H
