/*
 vocab: a vocabulary that fits the data (llmc/token_vocab.h), and count-model reference
 losses for the val loss of a language model.

   ./vocab remap -V 8192 -i TRAIN -j VAL -o DIR
       the V-1 most frequent ids of TRAIN become 0..V-2, every other id the UNK id V-1;
       writes DIR/train.bin, DIR/val.bin (llm.c token files) and DIR/vocab_map.txt (one
       line per new id: new id, GPT-2 id or -1 for UNK, training count), and prints how
       much of each file the kept ids cover. Train a model on them with -e d<L>...v<V>.
   ./vocab ref [-V 50257] -i TRAIN -j VAL
       unigram (add-one) and bigram (absolute discounting, D 0.75, interpolated with the
       unigram) losses in nats per token over every target of VAL, counts from TRAIN.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include "llmc/token_vocab.h"
#include "llmc/tokenfile.h"
#include "llmc/utils.h"

static void usage(FILE* f) {
    fprintf(f, "usage: ./vocab remap -V SIZE -i TRAIN -j VAL -o DIR\n"
               "       ./vocab ref [-V SIZE] -i TRAIN -j VAL\n"
               "  -V  vocabulary size (remap: the new size, UNK included, in [2, 65536]; ref: ids must be below it,\n"
               "      default 50257, GPT-2's)\n"
               "  -i  training token file (llm.c format) whose counts define the map / the count models\n"
               "  -j  validation token file\n"
               "  -o  remap: output directory (created if missing): train.bin, val.bin, vocab_map.txt\n");
}

static int write_map(const char* path, const TokenVocab* tv) {
    AtomicFile af;
    int rc = atomic_open(&af, path);
    if (rc != BS_OK) return rc;
    fprintf(af.f, "# vocab map: new_id gpt2_id train_count (gpt2_id -1: the UNK id, every id not kept); V %d, %d ids kept\n",
            tv->V, tv->used);
    for (int i = 0; i < tv->V; i++)
        fprintf(af.f, "%d %d %llu\n", i, (int)tv->old_of_new[i], (unsigned long long)tv->count_of_new[i]);
    if (ferror(af.f)) { atomic_abort(&af); return bs_error_set(BS_EIO, "%s: write failed", path); }
    return atomic_commit(&af);
}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "error: no command (remap or ref)\n"); usage(stderr); return 1; }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) { usage(stdout); return 0; }
    const char* cmd = argv[1];
    int remap = strcmp(cmd, "remap") == 0;
    if (!remap && strcmp(cmd, "ref") != 0) { fprintf(stderr, "error: unknown command '%s'\n", cmd); usage(stderr); return 1; }
    const char *train_path = NULL, *val_path = NULL, *out_dir = NULL;
    long long V = remap ? 0 : 50257;
    for (int i = 2; i < argc; i++) {
        const char* flag = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "error: flag %s needs a value\n", flag); usage(stderr); return 1; }
        const char* val = argv[++i];
        if (strcmp(flag, "-V") == 0) {
            if (!parse_int(val, 2, TOKEN_VOCAB_IDS, &V)) { fprintf(stderr, "error: flag -V: '%s' is not a size in [2, %d]\n", val, TOKEN_VOCAB_IDS); return 1; }
        } else if (strcmp(flag, "-i") == 0) train_path = val;
        else if (strcmp(flag, "-j") == 0) val_path = val;
        else if (strcmp(flag, "-o") == 0 && remap) out_dir = val;
        else { fprintf(stderr, "error: unknown flag %s\n", flag); usage(stderr); return 1; }
    }
    if (train_path == NULL || val_path == NULL || (remap && (out_dir == NULL || V == 0))) {
        fprintf(stderr, "error: %s needs %s\n", cmd, remap ? "-V, -i, -j and -o" : "-i and -j");
        usage(stderr);
        return 1;
    }
    uint16_t *train = NULL, *valt = NULL;
    size_t n_train = 0, n_val = 0;
    if (tokenfile_read(train_path, &train, &n_train) != BS_OK) die("%s", bs_error());
    if (tokenfile_read(val_path, &valt, &n_val) != BS_OK) die("%s", bs_error());
    if (remap) {
        uint64_t* counts = (uint64_t*)calloc_or_die(TOKEN_VOCAB_IDS, sizeof(uint64_t));
        token_vocab_count(train, n_train, counts);
        size_t distinct = 0;
        for (int i = 0; i < TOKEN_VOCAB_IDS; i++) distinct += counts[i] > 0;
        TokenVocab tv;
        if (token_vocab_build(&tv, counts, (int)V) != BS_OK) die("%s", bs_error());
        uint16_t* out_train = (uint16_t*)malloc_or_die((n_train ? n_train : 1) * sizeof(uint16_t));
        uint16_t* out_val = (uint16_t*)malloc_or_die((n_val ? n_val : 1) * sizeof(uint16_t));
        size_t unk_train = token_vocab_apply(&tv, train, n_train, out_train);
        size_t unk_val = token_vocab_apply(&tv, valt, n_val, out_val);
        if (make_directories(out_dir) != 0) die("flag -o: cannot create directory %s (%s)", out_dir, strerror(errno));
        char path[4096];
        snprintf(path, sizeof(path), "%s/train.bin", out_dir);
        if (tokenfile_write(path, out_train, n_train) != BS_OK) die("%s", bs_error());
        snprintf(path, sizeof(path), "%s/val.bin", out_dir);
        if (tokenfile_write(path, out_val, n_val) != BS_OK) die("%s", bs_error());
        snprintf(path, sizeof(path), "%s/vocab_map.txt", out_dir);
        if (write_map(path, &tv) != BS_OK) die("%s", bs_error());
        printf("%s: %zu tokens, %zu distinct ids; kept the %d most frequent (V %d, UNK id %d)\n", train_path, n_train,
               distinct, tv.used, tv.V, tv.V - 1);
        printf("coverage: train %.4f%% (%zu UNK), val %.4f%% (%zu of %zu tokens UNK)\n",
               n_train ? 100.0 * (double)(n_train - unk_train) / (double)n_train : 0.0, unk_train,
               n_val ? 100.0 * (double)(n_val - unk_val) / (double)n_val : 0.0, unk_val, n_val);
        printf("wrote %s/train.bin, %s/val.bin, %s/vocab_map.txt\n", out_dir, out_dir, out_dir);
        token_vocab_free(&tv);
        free(out_train); free(out_val); free(counts);
    } else {
        TokenRefLoss r;
        if (token_vocab_ref_loss(train, n_train, valt, n_val, (int)V, &r) != BS_OK) die("%s", bs_error());
        printf("reference losses of %s (%zu targets, counts from %s, V %lld): unigram %.4f bigram %.4f nats/token "
               "(%zu targets after a context unseen in training)\n", val_path, r.targets, train_path, V, r.unigram,
               r.bigram, r.unseen_contexts);
    }
    free(train); free(valt);
    return 0;
}
