/*
 huffman.h: optimal prefix-code lengths for a histogram (Huffman 1952), for the size
 report (bsz_report.h): the "HM" column of the paper's tables, the bits/param a code
 built for exactly this histogram would take. .bsz files themselves use EG-k codes,
 which need no table (doc/method.md section 5).

 Two-queue construction (van Leeuwen 1976): sort the used symbols by count, then
 repeatedly merge the two lightest nodes, taking them from the front of the sorted leaves
 or of the queue of merged nodes (whose weights come out in increasing order). O(n log n)
 for the sort, O(n) for the merging. No length limit is applied: the report wants the
 optimum, and lengths stay below 64 for any histogram whose total fits in 64 bits.
 A histogram with one used symbol gets length 1 (a code needs at least one bit per
 symbol to be decodable; its entropy is 0).
*/
#ifndef LLMC_HUFFMAN_H
#define LLMC_HUFFMAN_H

#include <stdint.h>
#include <stdlib.h>
#include "utils.h"

typedef struct { uint64_t count; uint32_t symbol; } HuffmanLeaf;

static int huffman_compare_leaf(const void* a, const void* b) {
    const HuffmanLeaf* x = (const HuffmanLeaf*)a;
    const HuffmanLeaf* y = (const HuffmanLeaf*)b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return (x->symbol > y->symbol) - (x->symbol < y->symbol);
}

// lengths[s] = code length of symbol s (0 for unused symbols), for s < n.
// Returns BS_OK or BS_ENOMEM.
static inline int huffman_code_lengths(const uint64_t* counts, uint32_t n, uint8_t* lengths) {
    uint32_t used = 0;
    for (uint32_t s = 0; s < n; s++) { lengths[s] = 0; used += counts[s] != 0; }
    if (used == 0) return BS_OK;
    HuffmanLeaf* leaves = (HuffmanLeaf*)malloc(used * sizeof(HuffmanLeaf));
    // node i < used: leaf i (sorted); node used + j: the j-th merged node
    uint64_t* merged = (uint64_t*)malloc(used * sizeof(uint64_t));
    uint32_t* parent = (uint32_t*)malloc(2 * (size_t)used * sizeof(uint32_t));
    if (leaves == NULL || merged == NULL || parent == NULL) {
        free(leaves); free(merged); free(parent);
        return bs_error_set(BS_ENOMEM, "huffman: out of memory for %u symbols", used);
    }
    uint32_t m = 0;
    for (uint32_t s = 0; s < n; s++)
        if (counts[s]) { leaves[m].count = counts[s]; leaves[m].symbol = s; m++; }
    if (used == 1) {
        lengths[leaves[0].symbol] = 1;
        free(leaves); free(merged); free(parent);
        return BS_OK;
    }
    qsort(leaves, used, sizeof(HuffmanLeaf), huffman_compare_leaf);
    uint32_t next_leaf = 0, next_merged = 0, num_merged = 0;
    for (uint32_t step = 0; step + 1 < used; step++) {
        uint32_t pick[2];
        uint64_t weight = 0;
        for (int t = 0; t < 2; t++) {
            // ties go to the leaf, which keeps the code's depth low
            int take_leaf = next_leaf < used &&
                            (next_merged >= num_merged || leaves[next_leaf].count <= merged[next_merged]);
            if (take_leaf) { pick[t] = next_leaf; weight += leaves[next_leaf].count; next_leaf++; }
            else { pick[t] = used + next_merged; weight += merged[next_merged]; next_merged++; }
        }
        parent[pick[0]] = used + num_merged;
        parent[pick[1]] = used + num_merged;
        merged[num_merged++] = weight;
    }
    // depth of the merged nodes, root (the last one) first: parents come after children
    uint32_t root = used + num_merged - 1;
    uint64_t* depth = merged; // reused: the merged weights are no longer needed
    depth[root - used] = 0;
    for (uint32_t j = num_merged - 1; j-- > 0;) depth[j] = depth[parent[used + j] - used] + 1;
    for (uint32_t i = 0; i < used; i++) lengths[leaves[i].symbol] = (uint8_t)(depth[parent[i] - used] + 1);
    free(leaves); free(merged); free(parent);
    return BS_OK;
}

// total bits of the optimal code: sum over symbols of count * length (0 on error)
static inline uint64_t huffman_total_bits(const uint64_t* counts, uint32_t n) {
    uint8_t* lengths = (uint8_t*)malloc(n ? n : 1);
    if (lengths == NULL || huffman_code_lengths(counts, n, lengths) != BS_OK) { free(lengths); return 0; }
    uint64_t bits = 0;
    for (uint32_t s = 0; s < n; s++) bits += counts[s] * lengths[s];
    free(lengths);
    return bits;
}

#endif // LLMC_HUFFMAN_H
