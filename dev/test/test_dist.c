/*
 test_dist.c: the single-process parts of data-parallel training (llmc/dist.h), without MPI:
   - dataloader shards: N loaders of B rows, shard r, give together exactly the batches
     of one loader of N B rows (random and sequential), and their states stay equal;
   - dist_shard_chunks: the ranks' chunk ranges tile dggr.h's chunks, in order, balanced;
   - dggr_step_chunks over the ranges, the slots combined as the ranks' all-gather does,
     then dggr_reduce_chunks: bit for bit dggr_step (weights, moments, nu, rate);
   - train_args_describe: one line per flag, and a changed flag changes its line.
 Also a helper for the mpirun tests (dev/test/cases/70_mpi_cpu.sh):
   test_dist --max-diff a.bin b.bin   prints max |a - b|, its rms, and the fraction of
                                      parameters with |a - b| > 1e-5, over two llm.c checkpoints
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llmc/dataloader.h"
#include "../../llmc/dist.h"
#include "../../llmc/model_fp32.h"
#include "../../llmc/rng.h"
#include "../../llmc/tokenfile.h"
#include "../../llmc/train_args.h"

static int failures = 0;
#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
            failures++;                                    \
        }                                                  \
    } while (0)

static int max_diff(const char* a, const char* b) {
    GPT2Config ca, cb;
    float *pa = NULL, *pb = NULL;
    if (model_fp32_read(a, &ca, &pa) != BS_OK || model_fp32_read(b, &cb, &pb) != BS_OK) {
        fprintf(stderr, "error: %s\n", bs_error());
        return 1;
    }
    if (memcmp(&ca, &cb, sizeof(ca)) != 0) {
        fprintf(stderr, "error: %s and %s are models of different shapes\n", a, b);
        return 1;
    }
    size_t n = gpt2_num_params(&ca), over = 0;
    double mx = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)pa[i] - (double)pb[i]);
        if (!(d <= mx)) mx = d; // a NaN on either side makes it NaN
        sq += d * d;
        over += !(d <= 1e-5);
    }
    // max |a-b|, rms |a-b|, the fraction of parameters that differ by more than 1e-5
    printf("%.3e %.3e %.3e\n", mx, sqrt(sq / (double)n), (double)over / (double)n);
    free(pa);
    free(pb);
    return 0;
}

static void test_dataloader_shards(void) {
    // a small token file
    const char* path = "build/test_dist_tokens.bin";
    size_t n = 5000;
    uint16_t* tok = (uint16_t*)malloc(n * sizeof(uint16_t));
    Rng r = {7};
    for (size_t i = 0; i < n; i++) tok[i] = (uint16_t)rng_below(&r, 1000);
    if (tokenfile_write(path, tok, n) != BS_OK) { printf("FAIL: cannot write %s: %s\n", path, bs_error()); failures++; free(tok); return; }
    free(tok);
    const int T = 16, B = 3, N = 4;
    for (int mode = 0; mode < 2; mode++) {
        DataLoader whole, part[4];
        CHECK(dataloader_init(&whole, path, B * N, T, 1000, mode, 42) == BS_OK, "%s", bs_error());
        for (int s = 0; s < N; s++)
            CHECK(dataloader_init_shard(&part[s], path, B, T, 1000, NULL, mode, 42, N, s) == BS_OK, "%s", bs_error());
        CHECK(dataloader_num_batches(&whole) == dataloader_num_batches(&part[0]), "batches %zu vs %zu",
              dataloader_num_batches(&whole), dataloader_num_batches(&part[0]));
        // past one epoch of the sequential loader (the wrap)
        size_t steps = dataloader_num_batches(&whole) + 3;
        for (size_t k = 0; k < steps; k++) {
            dataloader_next_batch(&whole);
            for (int s = 0; s < N; s++) {
                dataloader_next_batch(&part[s]);
                size_t rows = (size_t)B * T;
                CHECK(memcmp(part[s].inputs, whole.inputs + s * rows, rows * sizeof(int)) == 0 &&
                          memcmp(part[s].targets, whole.targets + s * rows, rows * sizeof(int)) == 0,
                      "mode %d batch %zu shard %d: not the whole batch's rows", mode, k, s);
                CHECK(memcmp(&part[s].state, &whole.state, sizeof(whole.state)) == 0, "mode %d batch %zu shard %d: state differs",
                      mode, k, s);
            }
        }
        dataloader_free(&whole);
        for (int s = 0; s < N; s++) dataloader_free(&part[s]);
    }
    DataLoader bad;
    CHECK(dataloader_init_shard(&bad, path, B, T, 1000, NULL, 0, 1, 2, 2) != BS_OK, "shard 2 of 2 accepted");
    CHECK(dataloader_init_shard(&bad, path, 200, T, 1000, NULL, 0, 1, 2, 0) != BS_OK, "a global batch larger than the file accepted");
    remove(path);
}

static void test_sharded_step(void) {
    // a tensor table with a few tensors of uneven sizes, several chunks each
    DGGRSegment segs[4];
    size_t sizes[4] = {3 * DGGR_CHUNK + 5, 17, 2 * DGGR_CHUNK, DGGR_CHUNK - 3};
    size_t off = 0;
    memset(segs, 0, sizeof(segs));
    for (int i = 0; i < 4; i++) {
        segs[i].offset = off;
        segs[i].numel = sizes[i];
        segs[i].constrained = i != 1;
        segs[i].decay = i != 1;
        off += sizes[i];
    }
    size_t n = off;
    for (int variant = 0; variant < 3; variant++) {
        DGGRConfig cfg = dggr_config_default();
        cfg.lambda = 50.0f;
        cfg.variant = variant;
        cfg.shape_mode = variant == 2 ? DGGR_SHAPE_TENSOR : DGGR_SHAPE_GLOBAL;
        float* w[2];
        float *m[2], *v[2];
        float* g = (float*)malloc(n * sizeof(float));
        DGGR d[2];
        Rng r = {11};
        for (int k = 0; k < 2; k++) {
            w[k] = (float*)malloc(n * sizeof(float));
            m[k] = (float*)calloc(n, sizeof(float));
            v[k] = (float*)calloc(n, sizeof(float));
            CHECK(dggr_init(&d[k], &cfg, segs, 4) == BS_OK, "%s", bs_error());
        }
        for (size_t i = 0; i < n; i++) w[0][i] = w[1][i] = 0.02f * (rng_uniform(&r) - 0.5f);
        for (int k = 0; k < 2; k++) dggr_measure(&d[k], w[k]);
        for (int t = 1; t <= 3; t++) {
            for (size_t i = 0; i < n; i++) g[i] = 0.1f * (rng_uniform(&r) - 0.5f);
            dggr_step(&d[0], w[0], g, m[0], v[0], 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, t, 1);
            // 3 "ranks": each its chunks, its slots copied into the shared table, then one reduction
            DGGRChunkSums* gathered = (DGGRChunkSums*)calloc((size_t)d[1].num_chunks, sizeof(DGGRChunkSums));
            int next = 0;
            for (int rank = 0; rank < 3; rank++) {
                Dist dist;
                memset(&dist, 0, sizeof(dist));
                dist.rank = rank;
                dist.world = 3;
                dist_shard_chunks(&dist, &d[1], 1);
                CHECK(dist.shard_begin == next, "rank %d starts at chunk %d, expected %d", rank, dist.shard_begin, next);
                CHECK(dist.shard_end > dist.shard_begin, "rank %d has no chunks", rank);
                next = dist.shard_end;
                dggr_step_chunks(&d[1], w[1], g, m[1], v[1], 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, t, 1, dist.shard_begin,
                                 dist.shard_end);
                memcpy(gathered + dist.shard_begin, d[1].sums + dist.shard_begin,
                       (size_t)(dist.shard_end - dist.shard_begin) * sizeof(DGGRChunkSums));
                memset(d[1].sums, 0xff, (size_t)d[1].num_chunks * sizeof(DGGRChunkSums)); // only the gathered copy counts
            }
            CHECK(next == d[1].num_chunks, "the ranks cover %d of %d chunks", next, d[1].num_chunks);
            memcpy(d[1].sums, gathered, (size_t)d[1].num_chunks * sizeof(DGGRChunkSums));
            free(gathered);
            dggr_reduce_chunks(&d[1], 1);
            CHECK(memcmp(w[0], w[1], n * sizeof(float)) == 0 && memcmp(m[0], m[1], n * sizeof(float)) == 0 &&
                      memcmp(v[0], v[1], n * sizeof(float)) == 0,
                  "variant %d step %d: the sharded step's weights or moments differ", variant, t);
            CHECK(d[0].nu == d[1].nu && d[0].rate == d[1].rate && d[0].zero_frac == d[1].zero_frac,
                  "variant %d step %d: nu %.17g vs %.17g, rate %.17g vs %.17g", variant, t, d[0].nu, d[1].nu, d[0].rate, d[1].rate);
            for (int s = 0; s < 4; s++)
                CHECK(d[0].seg[s].nu == d[1].seg[s].nu, "variant %d step %d tensor %d: nu differs", variant, t, s);
        }
        // with one rank, or without -z 1: every chunk
        Dist one;
        memset(&one, 0, sizeof(one));
        one.world = 1;
        dist_shard_chunks(&one, &d[0], 1);
        CHECK(one.shard_begin == 0 && one.shard_end == d[0].num_chunks && !one.sharded, "one rank does not own every chunk");
        for (int k = 0; k < 2; k++) {
            free(w[k]);
            free(m[k]);
            free(v[k]);
            dggr_free(&d[k]);
        }
        free(g);
    }
}

static void test_describe(void) {
    TrainArgs a, b;
    train_args_defaults(&a);
    train_args_defaults(&b);
    char ta[DIST_TEXT_MAX], tb[DIST_TEXT_MAX];
    train_args_describe(&a, ta, sizeof(ta));
    train_args_describe(&b, tb, sizeof(tb));
    CHECK(strcmp(ta, tb) == 0, "the same flags describe differently");
    CHECK(strstr(ta, "\n-lr 0.000600000028\n") != NULL || strstr(ta, "\n-lr 0.0006") != NULL, "no -lr line in:\n%s", ta);
    char* argv[] = {(char*)"prog", (char*)"-lr", (char*)"0.002", (char*)"-z", (char*)"1"};
    CHECK(train_args_parse(&b, 5, argv) == BS_OK, "%s", bs_error());
    train_args_describe(&b, tb, sizeof(tb));
    CHECK(strcmp(ta, tb) != 0 && strstr(tb, "\n-z 1\n") != NULL, "changed flags describe the same");
    // dist_check_agree with one process agrees with itself
    Dist one;
    memset(&one, 0, sizeof(one));
    one.world = 1;
    CHECK(dist_check_agree(&one, ta, "flags") == BS_OK, "one rank disagrees with itself");
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "--max-diff") == 0) return max_diff(argv[2], argv[3]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s               run the tests\n       %s --max-diff a.bin b.bin\n", argv[0], argv[0]);
        return 2;
    }
    test_dataloader_shards();
    test_sharded_step();
    test_describe();
    if (failures) {
        printf("test_dist: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_dist: all passed (loader shards, sharded AdamW+DGGR step bit for bit, flag lines)\n");
    return 0;
}
