/*
 Tests of llmc/train_checkpoint.h, the checkpoint files both trainers write and read:
 a save/load round trip gives back every array and field bit for bit (parameters, AdamW
 moments, step, loader state, RNG, B and T, BackSlash's moments), the model file is the
 llm.c checkpoint of the same weights, the coded model decodes to them within Delta/2, the latest state is found among other files, and
 damaged or incomplete states are refused with a message naming the file.
 Usage: test_train_checkpoint TMPDIR
        test_train_checkpoint --rewrite STATE OUTDIR
 The second form reads a training state (e.g. one train_gpt2 wrote) with
 train_checkpoint_load and writes it again with train_checkpoint_save into OUTDIR, as the
 CUDA trainer would: case 65 resumes train_gpt2 from the rewritten files.
*/
#include <math.h>
#include <stdio.h>
#include "../../llmc/train_checkpoint.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f - 0.5f;
}

static void touch(const char* path) {
    FILE* f = fopen_or_die(path, "wb");
    fclose(f);
}

// reads STATE and writes it again into OUTDIR (same step) through train_checkpoint.h
static int rewrite(const char* state, const char* outdir) {
    TrainCheckpoint ck;
    if (train_checkpoint_load(state, &ck) != BS_OK) { fprintf(stderr, "error: %s\n", bs_error()); return 1; }
    DGGR d;
    DGGRConfig dc = dggr_config_default();
    const DGGR* dp = NULL;
    if (ck.dggr_section != NULL) {
        if (dggr_init_gpt2(&d, &dc, &ck.config) != BS_OK ||
            dggr_state_read(&d, ck.dggr_section, ck.dggr_size, state) != BS_OK) {
            fprintf(stderr, "error: %s\n", bs_error());
            return 1;
        }
        dp = &d;
    }
    int rc = train_checkpoint_save(outdir, &ck.config, ck.params, ck.m, ck.v, &ck.progress, dp, NULL);
    if (rc != BS_OK) fprintf(stderr, "error: %s\n", bs_error());
    else printf("rewrote %s as %s/state_%08d.bin (%s BackSlash's moments)\n", state, outdir, ck.progress.step,
                dp ? "with" : "without");
    if (dp) dggr_free(&d);
    train_checkpoint_free(&ck);
    return rc == BS_OK ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "--rewrite") == 0) return rewrite(argv[2], argv[3]);
    if (argc != 2) { fprintf(stderr, "usage: %s TMPDIR | --rewrite STATE OUTDIR\n", argv[0]); return 2; }
    const char* dir = argv[1];
    GPT2Config c = {32, 100, 128, 2, 2, 16};
    size_t n = gpt2_num_params(&c);
    float* params = (float*)malloc(n * sizeof(float));
    float* m = (float*)malloc(n * sizeof(float));
    float* v = (float*)malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { params[i] = 0.05f * uniform(); m[i] = 1e-3f * uniform(); v[i] = 1e-6f * (uniform() + 0.5f); }
    DGGRConfig dc = dggr_config_default();
    dc.lambda = 1000.0f;
    DGGR d;
    CHECK(dggr_init_gpt2(&d, &dc, &c) == BS_OK, "dggr init: %s", bs_error());
    dggr_measure(&d, params);
    const char* run_json = "{\n  \"-lr\": 0.001\n}\n";
    TrainProgress pr = {42, {1234, 56, 0xABCDEF0123456789ull}, 0x1122334455667788ull, 4, 32, 3, 3.25f, run_json};

    // round trip
    CHECK(train_checkpoint_latest(dir) == -1, "no state in an empty directory");
    BszOptions bo = bsz_default_options();
    CHECK(train_checkpoint_save(dir, &c, params, m, v, &pr, &d, &bo) == BS_OK, "save: %s", bs_error());
    char path[400];
    snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, 42);
    TrainCheckpoint ck;
    CHECK(train_checkpoint_load(path, &ck) == BS_OK, "load: %s", bs_error());
    CHECK(memcmp(&ck.config, &c, sizeof(c)) == 0, "config");
    CHECK(memcmp(ck.params, params, n * 4) == 0 && memcmp(ck.m, m, n * 4) == 0 && memcmp(ck.v, v, n * 4) == 0,
          "params, m, v bit for bit");
    CHECK(ck.progress.step == 42 && ck.progress.batch_size == 4 && ck.progress.seq_len == 32 &&
          ck.progress.sample_rng == pr.sample_rng && memcmp(&ck.progress.loader, &pr.loader, sizeof(pr.loader)) == 0,
          "step, run, rng, loader");
    CHECK(ck.progress.world_size == 3, "world size (ranks) %d, expected 3", ck.progress.world_size);
    CHECK(ck.progress.val_loss == 3.25f, "the last val loss %g, expected 3.25", (double)ck.progress.val_loss);
    CHECK(ck.run_config != NULL && ck.run_config_size == strlen(run_json) && memcmp(ck.run_config, run_json, ck.run_config_size) == 0,
          "the run configuration section");
    CHECK(ck.dggr_section != NULL && ck.dggr_size == dggr_state_size(&d), "dggr section present");
    DGGR d2;
    dggr_init_gpt2(&d2, &dc, &c);
    CHECK(dggr_state_read(&d2, ck.dggr_section, ck.dggr_size, path) == BS_OK, "dggr section reads: %s", bs_error());
    int same = 1;
    for (int s = 0; s < d.num_segments; s++) same &= memcmp(&d.seg[s].mom, &d2.seg[s].mom, sizeof(GGMoments)) == 0;
    CHECK(same && d2.nu == d.nu, "BackSlash moments and shape restored exactly");
    train_checkpoint_free(&ck);
    dggr_free(&d2);

    // the model file is llm.c's checkpoint of the same weights
    snprintf(path, sizeof(path), "%s/model_%08d.bin", dir, 42);
    GPT2Config c2;
    float* back = NULL;
    CHECK(model_fp32_read(path, &c2, &back) == BS_OK && memcmp(back, params, n * 4) == 0, "model_00000042.bin");
    free(back);
    // the coded model holds the weights quantized at the default step
    snprintf(path, sizeof(path), "%s/model_%08d.bsz", dir, 42);
    back = NULL;
    CHECK(bsz_read(path, &c2, &back) == BS_OK, "model_00000042.bsz reads: %s", bs_error());
    if (back != NULL) {
        double worst = 0.0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)back[i] - params[i]));
        CHECK(worst <= 0.5 * bo.delta * (1 + 1e-6), "coded weights within Delta/2: %g", worst);
        free(back);
    }

    // a state without BackSlash's section, and the latest among other names
    pr.step = 7;
    CHECK(train_checkpoint_save(dir, &c, params, m, v, &pr, NULL, NULL) == BS_OK, "save without dggr and .bsz");
    snprintf(path, sizeof(path), "%s/model_%08d.bsz", dir, 7);
    CHECK(bs_file_size(path) < 0, "no .bsz unless asked");
    snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, 7);
    CHECK(train_checkpoint_load(path, &ck) == BS_OK && ck.dggr_section == NULL && ck.progress.step == 7, "no dggr section");
    train_checkpoint_free(&ck);
    snprintf(path, sizeof(path), "%s/state_99999999.bin.tmp.1", dir); touch(path);
    snprintf(path, sizeof(path), "%s/state_123.bin", dir); touch(path);
    snprintf(path, sizeof(path), "%s/model_00000500.bin", dir); touch(path);
    CHECK(train_checkpoint_latest(dir) == 42, "latest is 42, got %d", train_checkpoint_latest(dir));

    // damage: a flipped byte in the parameters, a truncated file
    snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, 42);
    size_t size = 0;
    uint8_t* bytes = bs_read_file(path, (size_t)1 << 30, &size);
    CHECK(bytes != NULL, "read back");
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/bad.bin", dir);
    bytes[size / 2] ^= 0x40;
    FILE* f = fopen_or_die(bad, "wb");
    fwrite(bytes, 1, size, f);
    fclose(f);
    CHECK(train_checkpoint_load(bad, &ck) != BS_OK && strstr(bs_error(), "bad.bin") != NULL, "bit flip refused: %s", bs_error());
    bytes[size / 2] ^= 0x40;
    f = fopen_or_die(bad, "wb");
    fwrite(bytes, 1, size - 100, f);
    fclose(f);
    CHECK(train_checkpoint_load(bad, &ck) != BS_OK && strstr(bs_error(), "bad.bin") != NULL, "truncation refused: %s", bs_error());
    snprintf(bad, sizeof(bad), "%s/missing.bin", dir);
    CHECK(train_checkpoint_load(bad, &ck) != BS_OK && strstr(bs_error(), "missing.bin") != NULL, "missing file: %s", bs_error());
    free(bytes);

    dggr_free(&d);
    free(params); free(m); free(v);
    if (failures) { printf("test_train_checkpoint: %d failures\n", failures); return 1; }
    printf("test_train_checkpoint: all checks passed\n");
    return 0;
}
