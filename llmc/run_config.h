/*
 run_config.h: a training run's configuration and its output directory, for both trainers.

 What a run is: its flags (train_args.h), the model, the data, the program. That is written
 as a flat JSON object, one key per line, values as strings or numbers:
   "program", "version"   the trainer (train_gpt2, train_gpt2cu) and its build (git describe)
   "-i" ... "-ow"         every flag's value, in train_args_table's order and
                          train_args_describe's format (floats with %.9g: the exact value)
   "model"                layers, channels, heads, vocab, padded vocab, max_seq_len, parameters
   "train_tokens", "val_tokens"   CRC-32 and bytes of the -i and -j files
   "world"                the number of ranks
 to <dir>/run.json (atomically, at the start of every run and resume) and into every
 training state (train_checkpoint.h's "run_config" section), so a state knows the run that
 wrote it.

 Resume (-y 1) compares the state's configuration with this run's: every key must have the
 same value except those in RUN_CONFIG_FREE, which do not change what a step computes
 (-x extends or shortens the run, -v -m -s -g -pe what is measured and printed, -n -nm -nk
 when states are written and kept, -o -y -ow -tok where files are, -wmax what loads, -z how
 ranks share the optimizer step, bit for bit the same); the paths -i -j may change when the files' CRCs do not. The
 error names every key that differs, with both values. A key one side lacks (a flag added
 since the state was written) is not compared.

 The output directory holds one run: a new run (no -y 1) into a directory that holds
 another run's files (run.json, log.csv, model_*, state_*) refuses, unless -ow 1, which
 removes those files first (run_dir_prepare).
*/
#ifndef LLMC_RUN_CONFIG_H
#define LLMC_RUN_CONFIG_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crc32.h"
#include "gpt2_params.h"
#include "train_args.h"
#include "utils.h"

#ifndef BACKSLASH_VERSION
#define BACKSLASH_VERSION "unknown" // the Makefile passes git describe
#endif

#define RUN_CONFIG_MAX_KEYS 96
#define RUN_CONFIG_KEY_MAX 32
#define RUN_CONFIG_VALUE_MAX 4096

typedef struct {
    int n;
    char key[RUN_CONFIG_MAX_KEYS][RUN_CONFIG_KEY_MAX];
    char value[RUN_CONFIG_MAX_KEYS][RUN_CONFIG_VALUE_MAX];
} RunConfig;

// keys a resume may change (see the top of this file)
static const char* const RUN_CONFIG_FREE[] = {"program", "version", "model", "world", "-i", "-j", "-o", "-y", "-x",
                                              "-v", "-m", "-s", "-g", "-n", "-nm", "-nk", "-pe", "-tok", "-z", "-ow", "-wmax", "-bc", "-br",
                                              NULL};

static inline int run_config_is_free(const char* key) {
    for (int i = 0; RUN_CONFIG_FREE[i] != NULL; i++)
        if (strcmp(RUN_CONFIG_FREE[i], key) == 0) return 1;
    return 0;
}

static inline const char* run_config_get(const RunConfig* c, const char* key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->key[i], key) == 0) return c->value[i];
    return NULL;
}

static inline int run_config_set(RunConfig* c, const char* key, const char* value) {
    int i = 0;
    while (i < c->n && strcmp(c->key[i], key) != 0) i++;
    if (i == c->n && c->n == RUN_CONFIG_MAX_KEYS)
        return bs_error_set(BS_ELIMIT, "run config: more than %d keys", RUN_CONFIG_MAX_KEYS);
    if (strlen(key) >= RUN_CONFIG_KEY_MAX) return bs_error_set(BS_ELIMIT, "run config: key '%s' too long", key);
    if (strlen(value) >= RUN_CONFIG_VALUE_MAX)
        return bs_error_set(BS_ELIMIT, "run config: the value of %s is longer than %d bytes", key,
                            RUN_CONFIG_VALUE_MAX - 1);
    snprintf(c->key[i], RUN_CONFIG_KEY_MAX, "%s", key);
    snprintf(c->value[i], RUN_CONFIG_VALUE_MAX, "%s", value);
    if (i == c->n) c->n++;
    return BS_OK;
}

// "crc32 0x1234abcd, 4254424 bytes" of a file, read in pieces
static inline int run_config_file_checksum(const char* path, char* out, size_t n) {
    if (bs_file_size(path) < 0) return BS_EIO; // a regular file (not a FIFO, which open would block on); message set
    FILE* f = fopen(path, "rb");
    if (f == NULL) return bs_error_set(BS_EIO, "%s: cannot open (%s)", path, strerror(errno));
    enum { PIECE = 1 << 20 };
    uint8_t* buf = (uint8_t*)malloc(PIECE);
    if (buf == NULL) { fclose(f); return bs_error_set(BS_ENOMEM, "%s: out of memory", path); }
    uint32_t crc = 0;
    unsigned long long bytes = 0;
    size_t got;
    while ((got = fread(buf, 1, PIECE, f)) > 0) {
        crc = crc32_update(crc, buf, got);
        bytes += got;
    }
    int failed = ferror(f);
    free(buf);
    fclose(f);
    if (failed) return bs_error_set(BS_EIO, "%s: read error", path);
    snprintf(out, n, "crc32 0x%08x, %llu bytes", crc, bytes);
    return BS_OK;
}

// this run's configuration: program, version, flags, model, data files, ranks
static inline int run_config_build(RunConfig* c, const char* program, const TrainArgs* args, const GPT2Config* model,
                                   int world) {
    memset(c, 0, sizeof(*c));
    int rc = run_config_set(c, "program", program);
    if (rc == BS_OK) rc = run_config_set(c, "version", BACKSLASH_VERSION);
    // the flags, as train_args_describe writes them: "-flag value" lines
    char* flags = (char*)malloc(1 << 16);
    if (flags == NULL) return bs_error_set(BS_ENOMEM, "run config: out of memory");
    train_args_describe(args, flags, 1 << 16);
    for (char* line = flags; rc == BS_OK && *line != '\0';) {
        char* end = strchr(line, '\n');
        if (end == NULL) break;
        *end = '\0';
        char* space = strchr(line, ' ');
        if (space != NULL) {
            *space = '\0';
            rc = run_config_set(c, line, space + 1);
        }
        line = end + 1;
    }
    free(flags);
    char text[RUN_CONFIG_VALUE_MAX];
    if (rc == BS_OK) {
        snprintf(text, sizeof(text), "%d layers, %d channels, %d heads, vocab %d (padded %d), max_seq_len %d, "
                 "%zu parameters", model->num_layers, model->channels, model->num_heads, model->vocab_size,
                 model->padded_vocab_size, model->max_seq_len, gpt2_num_params(model));
        rc = run_config_set(c, "model", text);
    }
    if (rc == BS_OK && !args->classifier) { // -cls reads labeled files, checked by their own CRCs
        if ((rc = run_config_file_checksum(args->train_tokens, text, sizeof(text))) == BS_OK)
            rc = run_config_set(c, "train_tokens", text);
        if (rc == BS_OK && (rc = run_config_file_checksum(args->val_tokens, text, sizeof(text))) == BS_OK)
            rc = run_config_set(c, "val_tokens", text);
    }
    if (rc == BS_OK) {
        snprintf(text, sizeof(text), "%d", world);
        rc = run_config_set(c, "world", text);
    }
    return rc;
}

// ----------------------------------------------------------------------------
// JSON text

// 1 when v is written as a JSON number (it then reads back as the same text)
static inline int run_config_is_number(const char* v) {
    if (v[0] == '\0' || v[0] == '+' || v[0] == '.') return 0;
    if (v[0] == '0' && v[1] >= '0' && v[1] <= '9') return 0; // JSON has no leading zeros
    char* end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    (void)d;
    if (end == v || *end != '\0' || errno != 0) return 0;
    for (const char* p = v; *p; p++)
        if (!strchr("0123456789-+.eE", *p)) return 0; // no nan, inf, hex
    return 1;
}

// the JSON object, malloc'd, NUL-terminated
static inline char* run_config_to_json(const RunConfig* c, size_t* len) {
    size_t cap = 64;
    for (int i = 0; i < c->n; i++) cap += strlen(c->key[i]) + 6 * strlen(c->value[i]) + 16;
    char* out = (char*)malloc(cap);
    if (out == NULL) return NULL;
    size_t pos = 0;
    pos += (size_t)snprintf(out + pos, cap - pos, "{\n");
    for (int i = 0; i < c->n; i++) {
        pos += (size_t)snprintf(out + pos, cap - pos, "  \"%s\": ", c->key[i]);
        const char* v = c->value[i];
        if (run_config_is_number(v)) {
            pos += (size_t)snprintf(out + pos, cap - pos, "%s", v);
        } else {
            out[pos++] = '"';
            for (const unsigned char* p = (const unsigned char*)v; *p; p++) {
                if (*p == '"' || *p == '\\') { out[pos++] = '\\'; out[pos++] = (char)*p; }
                else if (*p < 0x20) pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", *p);
                else out[pos++] = (char)*p;
            }
            out[pos++] = '"';
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "%s\n", i + 1 < c->n ? "," : "");
    }
    pos += (size_t)snprintf(out + pos, cap - pos, "}\n");
    *len = pos;
    return out;
}

static inline size_t run_config_skip_space(const char* s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i;
}

// a JSON string at s[*i] (which is '"') into out[0..cap)
static inline int run_config_parse_string(const char* s, size_t n, size_t* i, char* out, size_t cap, const char* name) {
    size_t len = 0;
    for (size_t p = *i + 1; p < n; p++) {
        unsigned char ch = (unsigned char)s[p];
        if (ch == '"') {
            out[len] = '\0';
            *i = p + 1;
            return BS_OK;
        }
        if (ch == '\\') {
            if (p + 1 >= n) break;
            char e = s[++p];
            if (e == 'u') {
                unsigned v = 0;
                if (p + 4 >= n || sscanf(s + p + 1, "%4x", &v) != 1 || v > 0x7f)
                    return bs_error_set(BS_EFORMAT, "%s: a \\u escape this writer does not produce", name);
                ch = (unsigned char)v;
                p += 4;
            } else if (e == '"' || e == '\\' || e == '/') ch = (unsigned char)e;
            else return bs_error_set(BS_EFORMAT, "%s: unknown escape \\%c", name, e);
        }
        if (len + 1 >= cap) return bs_error_set(BS_EFORMAT, "%s: a string longer than %zu bytes", name, cap - 1);
        out[len++] = (char)ch;
    }
    return bs_error_set(BS_EFORMAT, "%s: unterminated string", name);
}

// parses the flat object run_config_to_json writes (strings and numbers); `name` is for messages
static inline int run_config_from_json(RunConfig* c, const char* s, size_t n, const char* name) {
    memset(c, 0, sizeof(*c));
    size_t i = run_config_skip_space(s, n, 0);
    if (i >= n || s[i] != '{')
        return bs_error_set(BS_EFORMAT, "%s: not a run configuration (expected a JSON object)", name);
    i = run_config_skip_space(s, n, i + 1);
    if (i < n && s[i] == '}') return BS_OK;
    char key[RUN_CONFIG_KEY_MAX];
    char* value = (char*)malloc(RUN_CONFIG_VALUE_MAX);
    if (value == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", name);
    int rc = BS_OK;
    while (rc == BS_OK) {
        if (i >= n || s[i] != '"') { rc = bs_error_set(BS_EFORMAT, "%s: expected a key at byte %zu", name, i); break; }
        if ((rc = run_config_parse_string(s, n, &i, key, sizeof(key), name)) != BS_OK) break;
        i = run_config_skip_space(s, n, i);
        if (i >= n || s[i] != ':') { rc = bs_error_set(BS_EFORMAT, "%s: expected ':' after \"%s\"", name, key); break; }
        i = run_config_skip_space(s, n, i + 1);
        if (i < n && s[i] == '"') {
            if ((rc = run_config_parse_string(s, n, &i, value, RUN_CONFIG_VALUE_MAX, name)) != BS_OK) break;
        } else { // a number: up to the next separator
            size_t start = i;
            while (i < n && !strchr(",} \n\r\t", s[i])) i++;
            if (i == start || i - start >= RUN_CONFIG_VALUE_MAX) {
                rc = bs_error_set(BS_EFORMAT, "%s: bad value of \"%s\"", name, key);
                break;
            }
            memcpy(value, s + start, i - start);
            value[i - start] = '\0';
            if (!run_config_is_number(value)) {
                rc = bs_error_set(BS_EFORMAT, "%s: the value of \"%s\" is neither a string nor a number", name, key);
                break;
            }
        }
        if ((rc = run_config_set(c, key, value)) != BS_OK) break;
        i = run_config_skip_space(s, n, i);
        if (i < n && s[i] == ',') { i = run_config_skip_space(s, n, i + 1); continue; }
        if (i < n && s[i] == '}') break;
        rc = bs_error_set(BS_EFORMAT, "%s: expected ',' or '}' after \"%s\"", name, key);
    }
    free(value);
    return rc;
}

// <dir>/run.json, atomically
static inline int run_config_write_file(const char* dir, const RunConfig* c) {
    char path[4096 + 16];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    size_t len = 0;
    char* text = run_config_to_json(c, &len);
    if (text == NULL) return bs_error_set(BS_ENOMEM, "%s: out of memory", path);
    AtomicFile af;
    int rc = atomic_open(&af, path);
    if (rc == BS_OK) {
        rc = bs_write_exact(af.f, text, len, af.tmp_path);
        if (rc == BS_OK) rc = atomic_commit(&af);
        else atomic_abort(&af);
    }
    free(text);
    return rc;
}

static inline int run_config_read_file(const char* path, RunConfig* c) {
    size_t size = 0;
    char* text = (char*)bs_read_file(path, (size_t)1 << 24, &size);
    if (text == NULL) return BS_EIO;
    int rc = run_config_from_json(c, text, size, path);
    free(text);
    return rc;
}

// ----------------------------------------------------------------------------
// resume

// BS_OK when `saved` (what `saved_name` holds) and `now` agree on every key that changes the
// result; otherwise an error naming each key that differs with both values
static inline int run_config_check_resume(const RunConfig* saved, const RunConfig* now, const char* saved_name) {
    char msg[8192];
    size_t len = 0;
    int differ = 0;
    for (int i = 0; i < now->n; i++) {
        const char* key = now->key[i];
        const char* old = run_config_get(saved, key);
        if (old == NULL || run_config_is_free(key) || strcmp(old, now->value[i]) == 0) continue;
        const char* what = strcmp(key, "train_tokens") == 0 ? "the -i file"
                           : strcmp(key, "val_tokens") == 0 ? "the -j file" : "";
        int w = snprintf(msg + len, sizeof(msg) - len, "%s%s%s%s %s (this run: %s)", differ ? "; " : "", key,
                         what[0] ? " " : "", what, old, now->value[i]);
        if (w > 0 && (size_t)w < sizeof(msg) - len) len += (size_t)w;
        differ++;
    }
    if (differ == 0) return BS_OK;
    return bs_error_set(BS_EINVAL,
                        "%s was written by a run with other settings: %s. Resume with the same values, or start a new "
                        "run in another directory (-o) or over this one (-ow 1 removes its files)", saved_name, msg);
}

// ----------------------------------------------------------------------------
// the output directory

// 1 when `name` is a file a run writes: run.json, log.csv, model_<8 digits>.bin/.bsz,
// state_<8 digits>.bin
static inline int run_dir_is_run_file(const char* name) {
    if (strcmp(name, "run.json") == 0 || strcmp(name, "log.csv") == 0) return 1;
    if (strlen(name) != 18) return 0; // model_%08d.bin, model_%08d.bsz, state_%08d.bin
    const char* ext = name + 14;
    int model = strncmp(name, "model_", 6) == 0 && (strcmp(ext, ".bin") == 0 || strcmp(ext, ".bsz") == 0);
    int state = strncmp(name, "state_", 6) == 0 && strcmp(ext, ".bin") == 0;
    if (!model && !state) return 0;
    for (int i = 6; i < 14; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

// the run files in dir: how many, and a short list ("log.csv, run.json, 3 model_*, 1 state_*")
static inline int run_dir_list(const char* dir, char* list, size_t n) {
    DIR* d = opendir(dir);
    if (list != NULL && n > 0) list[0] = '\0';
    if (d == NULL) return 0;
    int count = 0, models = 0, states = 0, log = 0, json = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        if (!run_dir_is_run_file(e->d_name)) continue;
        count++;
        if (strcmp(e->d_name, "log.csv") == 0) log = 1;
        else if (strcmp(e->d_name, "run.json") == 0) json = 1;
        else if (e->d_name[0] == 'm') models++;
        else states++;
    }
    closedir(d);
    if (list != NULL)
        snprintf(list, n, "%s%s%d model_* file(s), %d state_*.bin", json ? "run.json, " : "", log ? "log.csv, " : "",
                 models, states);
    return count;
}

// removes the run files of dir; returns how many, or -1 with the message set
static inline int run_dir_remove(const char* dir) {
    DIR* d = opendir(dir);
    if (d == NULL) return 0;
    int removed = 0;
    struct dirent* e;
    char path[4096 + 256];
    while ((e = readdir(d)) != NULL) {
        if (!run_dir_is_run_file(e->d_name)) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (remove(path) != 0) {
            int err = errno;
            closedir(d);
            return bs_error_set(BS_EIO, "%s: cannot remove (%s)", path, strerror(err)), -1;
        }
        removed++;
    }
    closedir(d);
    return removed;
}

// Before a run writes into dir. resume: -y 1; has_state: dir has a state_*.bin to resume;
// overwrite: -ow 1; now: this run's configuration. A new run into a directory holding
// another run's files refuses (unless -ow 1: they are removed first). -y 1 without a state
// starts anew only over files of the same configuration (its run.json agrees: the run was
// killed before its first state) and refuses over anything else.
static inline int run_dir_prepare(const char* dir, int resume, int has_state, int overwrite, const RunConfig* now) {
    char list[256];
    int files = run_dir_list(dir, list, sizeof(list));
    if (files == 0 || (resume && has_state)) return BS_OK;
    if (overwrite) {
        int removed = run_dir_remove(dir);
        if (removed < 0) return BS_EIO;
        printf("-ow 1: removed %d file(s) of the previous run in %s\n", removed, dir);
        return BS_OK;
    }
    if (resume) { // no state: files of this configuration's earlier start are fine to start over
        char path[4096 + 16];
        snprintf(path, sizeof(path), "%s/run.json", dir);
        RunConfig* saved = (RunConfig*)malloc(sizeof(RunConfig));
        if (saved == NULL) return bs_error_set(BS_ENOMEM, "out of memory");
        int rc = BS_EINVAL;
        if (bs_file_size(path) >= 0) {
            rc = run_config_read_file(path, saved);
            if (rc == BS_OK) rc = run_config_check_resume(saved, now, path);
        }
        free(saved);
        if (rc == BS_OK) return BS_OK;
        if (bs_file_size(path) >= 0) return rc;
        return bs_error_set(BS_EINVAL,
                            "%s holds files of another run (%s) but no state_*.bin to resume and no run.json that "
                            "says whose they are: choose another directory (-o), or pass -ow 1 to remove them first",
                            dir, list);
    }
    return bs_error_set(BS_EINVAL,
                        "%s already holds another run's files (%s): pass -y 1 to resume that run, choose another "
                        "directory (-o), or pass -ow 1 to remove them first", dir, list);
}

#endif // LLMC_RUN_CONFIG_H
