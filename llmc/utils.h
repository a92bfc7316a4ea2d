/*
 utils.h: errors, checked I/O and atomic file writes, shared by every program.

 Two kinds of code use this header, with two error conventions:
 - Library code (everything else in llmc/) never exits. A function that can fail
   returns a status (BS_OK == 0, or a negative BS_E* code) or NULL, and records a
   human-readable message with bs_error_set(); the caller reads it with bs_error().
   The message names the file and what is wrong, e.g.
     "model.bin: bad magic 12345 (expected 20240326, an llm.c fp32 checkpoint)".
 - Programs (a main() and its helpers) may use the *_or_die wrappers below, which
   print "error: <message>" with the caller's file:line and exit(1).
*/
#ifndef LLMC_UTILS_H
#define LLMC_UTILS_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// Bulk arrays (parameters, tokens) are stored in host order and the formats are
// little-endian, so a big-endian host is refused at compile time.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "backslash's file formats assume a little-endian host"
#endif

// ----------------------------------------------------------------------------
// status codes and the per-thread error message

enum {
    BS_OK = 0,
    BS_EIO = -1,       // open/read/write/rename failed
    BS_EFORMAT = -2,   // bad magic, version, size, or a structural error in a file
    BS_ECHECKSUM = -3, // a CRC did not match
    BS_ENOMEM = -4,    // allocation failed
    BS_EINVAL = -5,    // an argument or a value out of range
    BS_ELIMIT = -6,    // a documented limit is exceeded
};

#define BS_ERROR_MAX 1024
#ifdef __cplusplus
#define BS_THREAD_LOCAL thread_local // the headers are also compiled as C++ by nvcc
#else
#define BS_THREAD_LOCAL _Thread_local
#endif
static BS_THREAD_LOCAL char bs_error_message[BS_ERROR_MAX];

// records the message and returns `code`, so that `return bs_error_set(BS_EIO, ...)` reads well
static inline int bs_error_set(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int bs_error_set(int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bs_error_message, sizeof(bs_error_message), fmt, ap);
    va_end(ap);
    return code;
}

static inline const char* bs_error(void) {
    return bs_error_message[0] ? bs_error_message : "unknown error";
}

static inline void bs_error_clear(void) { bs_error_message[0] = '\0'; }

// ----------------------------------------------------------------------------
// program-side helpers: print and exit (for main() only)

// put before "error:" (dist.h sets "rank N: " in a multi-process run)
static char bs_die_prefix[32];

static inline void die_at(const char* file, int line, const char* fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static inline void die_at(const char* file, int line, const char* fmt, ...) {
    // one write of the whole line: stderr is unbuffered, and the ranks of an MPI run share
    // it, so printing it in pieces lets another process's output land inside the line
    char msg[BS_ERROR_MAX + 256];
    int n = snprintf(msg, sizeof(msg), "%serror: ", bs_die_prefix);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && n < (int)sizeof(msg)) n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= 0 && n < (int)sizeof(msg)) snprintf(msg + n, sizeof(msg) - (size_t)n, " [%s:%d]\n", file, line);
    else snprintf(msg + sizeof(msg) - 2, 2, "\n");
    fputs(msg, stderr);
    exit(EXIT_FAILURE);
}
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)

static inline void* malloc_or_die_at(size_t size, const char* file, int line) {
    void* p = malloc(size ? size : 1);
    if (p == NULL) die_at(file, line, "out of memory allocating %zu bytes", size);
    return p;
}
static inline void* calloc_or_die_at(size_t n, size_t size, const char* file, int line) {
    void* p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) die_at(file, line, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}
#define malloc_or_die(size) malloc_or_die_at((size), __FILE__, __LINE__)
#define calloc_or_die(n, size) calloc_or_die_at((n), (size), __FILE__, __LINE__)

static inline FILE* fopen_or_die_at(const char* path, const char* mode, const char* file, int line) {
    FILE* f = fopen(path, mode);
    if (f == NULL) die_at(file, line, "%s: cannot open (%s)", path, strerror(errno));
    return f;
}
#define fopen_or_die(path, mode) fopen_or_die_at((path), (mode), __FILE__, __LINE__)

// ----------------------------------------------------------------------------
// library-side file helpers (return status, set the message)

// reads exactly n bytes; a short read is an error naming `path`
static inline int bs_read_exact(FILE* f, void* buf, size_t n, const char* path) {
    size_t got = fread(buf, 1, n, f);
    if (got != n) {
        if (ferror(f)) return bs_error_set(BS_EIO, "%s: read error (%s)", path, strerror(errno));
        return bs_error_set(BS_EFORMAT, "%s: file is truncated (wanted %zu more bytes, got %zu)", path, n, got);
    }
    return BS_OK;
}

static inline int bs_write_exact(FILE* f, const void* buf, size_t n, const char* path) {
    if (n && fwrite(buf, 1, n, f) != n) return bs_error_set(BS_EIO, "%s: write error (%s)", path, strerror(errno));
    return BS_OK;
}

// what a non-regular file is, for the messages below
static inline const char* bs_file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

// Appends all n bytes of buf to the file open as fd, or none of them: a write that fails
// part way (a full disk) is cut back to the size the file had, so a log or a CSV never ends
// in a torn row. The message names `path` and the reason.
static inline int bs_append_whole(int fd, const void* buf, size_t n, const char* path) {
    struct stat st;
    if (fstat(fd, &st) != 0) return bs_error_set(BS_EIO, "%s: cannot stat (%s)", path, strerror(errno));
    const uint8_t* p = (const uint8_t*)buf;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            if (done > 0 && ftruncate(fd, st.st_size) != 0)
                return bs_error_set(BS_EIO, "%s: write failed (%s), and cutting off the partial row failed (%s)", path,
                                    strerror(e), strerror(errno));
            return bs_error_set(BS_EIO, "%s: write failed (%s)", path, strerror(e));
        }
        done += (size_t)w;
    }
    return BS_OK;
}

// size of a regular file in bytes, or a negative status
static inline int64_t bs_file_size(const char* path) {
    struct stat st;
    if (stat(path, &st) != 0) return bs_error_set(BS_EIO, "%s: cannot stat (%s)", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return bs_error_set(BS_EIO, "%s: not a regular file (%s)", path, bs_file_kind(st.st_mode));
    return (int64_t)st.st_size;
}

// Opens `path` for reading only when it is a regular file, and gives its size; NULL with the
// message set otherwise. Every reader opens its input through this: fopen() on a FIFO blocks
// until a writer appears (forever, for a mistyped path), and a device never ends. The open
// is non-blocking (it returns at once on a FIFO) and fstat() of the opened file decides, so
// a file swapped after the stat() cannot slip through; reads are blocking again after.
static inline FILE* bs_open_regular(const char* path, int64_t* size_out) {
    int64_t size = bs_file_size(path); // the usual messages for a missing file or a FIFO
    if (size < 0) return NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { bs_error_set(BS_EIO, "%s: cannot open (%s)", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        bs_error_set(BS_EIO, "%s: cannot stat (%s)", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        bs_error_set(BS_EIO, "%s: not a regular file (%s)", path, bs_file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    FILE* f = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (f == NULL) {
        bs_error_set(BS_EIO, "%s: cannot open (%s)", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (size_out != NULL) *size_out = (int64_t)st.st_size;
    return f;
}

// reads a whole file into a malloc'd buffer (NULL on error, message set);
// refuses files larger than max_bytes. The buffer has one more byte, a NUL after the
// file's *out_size bytes, so that a text file can be scanned with C string functions.
static inline uint8_t* bs_read_file(const char* path, size_t max_bytes, size_t* out_size) {
    int64_t size = 0;
    FILE* f = bs_open_regular(path, &size);
    if (f == NULL) return NULL;
    if ((uint64_t)size > max_bytes) {
        fclose(f);
        bs_error_set(BS_ELIMIT, "%s: file is %lld bytes, more than the limit of %zu", path, (long long)size, max_bytes);
        return NULL;
    }
    uint8_t* buf = (uint8_t*)malloc((size_t)size + 1);
    if (buf == NULL) { fclose(f); bs_error_set(BS_ENOMEM, "%s: out of memory for %lld bytes", path, (long long)size); return NULL; }
    if (bs_read_exact(f, buf, (size_t)size, path) != BS_OK) { fclose(f); free(buf); return NULL; }
    buf[size] = '\0';
    fclose(f);
    *out_size = (size_t)size;
    return buf;
}

// ----------------------------------------------------------------------------
// atomic writes: write to "<path>.tmp.<pid>", fsync, then rename over <path>.
// A crash or an error never leaves a half-written file under the final name.

typedef struct {
    FILE* f;
    char path[4096];
    char tmp_path[4096 + 32];
} AtomicFile;

static inline int atomic_open(AtomicFile* af, const char* path) {
    memset(af, 0, sizeof(*af));
    if (strlen(path) >= sizeof(af->path)) return bs_error_set(BS_EINVAL, "%s: path too long", path);
    snprintf(af->path, sizeof(af->path), "%s", path);
    snprintf(af->tmp_path, sizeof(af->tmp_path), "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (af->f == NULL) return bs_error_set(BS_EIO, "%s: cannot create (%s)", af->tmp_path, strerror(errno));
    return BS_OK;
}

// discards the temporary file (after an error)
static inline void atomic_abort(AtomicFile* af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    remove(af->tmp_path);
}

// flushes, syncs and renames into place; on failure the temporary file is removed
static inline int atomic_commit(AtomicFile* af) {
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) {
        int e = errno;
        atomic_abort(af);
        return bs_error_set(BS_EIO, "%s: write failed (%s)", af->path, strerror(e));
    }
    if (fclose(af->f) != 0) {
        int e = errno;
        af->f = NULL;
        remove(af->tmp_path);
        return bs_error_set(BS_EIO, "%s: close failed (%s)", af->path, strerror(e));
    }
    af->f = NULL;
    if (rename(af->tmp_path, af->path) != 0) {
        int e = errno;
        remove(af->tmp_path);
        return bs_error_set(BS_EIO, "%s: rename from %s failed (%s)", af->path, af->tmp_path, strerror(e));
    }
    return BS_OK;
}

// A writer killed between atomic_open and atomic_commit leaves "<path>.tmp.<pid>" behind
// (nothing else removes it: a 6-layer checkpoint set is 510 MB). This removes, in `dir`,
// every regular file named "<anything>.tmp.<pid>" whose process no longer exists
// (kill(pid, 0) fails with ESRCH), printing "removed <file> ..." to `report` (NULL: quiet),
// and returns how many it removed or a negative status. A live process's temporaries
// are kept (as are those of a reused pid: left, never wrongly deleted). The pid is this
// machine's: a directory that writers on several machines share is not for this.
static inline int atomic_remove_stale_temps(const char* dir, FILE* report) {
    DIR* d = opendir(dir);
    if (d == NULL) return bs_error_set(BS_EIO, "%s: cannot open the directory (%s)", dir, strerror(errno));
    int removed = 0, rc = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        const char* tmp = strstr(e->d_name, ".tmp.");
        const char* last = tmp;
        while (last != NULL && (tmp = strstr(last + 1, ".tmp.")) != NULL) last = tmp; // the last ".tmp."
        if (last == NULL || last == e->d_name) continue;
        long long pid = 0;
        const char* digit = last + 5;
        while (*digit >= '0' && *digit <= '9' && pid <= 0x7fffffff) pid = pid * 10 + (*digit++ - '0');
        if (*digit != '\0' || digit == last + 5 || pid < 1 || pid > 0x7fffffff) continue; // digits only, to the end
        if ((pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; // alive (or not ours to know)
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) continue;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (remove(path) != 0) {
            rc = bs_error_set(BS_EIO, "%s: cannot remove a stale temporary file (%s)", path, strerror(errno));
            break;
        }
        removed++;
        if (report != NULL)
            fprintf(report, "removed %s (%.1f MB), a temporary file of process %lld, which no longer exists\n", path,
                    st.st_size / 1e6, pid);
    }
    closedir(d);
    return rc != 0 ? rc : removed;
}

// ----------------------------------------------------------------------------
// strict number parsing for command-line flags (the whole string must parse)

static inline int parse_int(const char* s, long long min, long long max, long long* out) {
    if (s == NULL || *s == '\0') return 0;
    char* end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return 0;
    *out = v;
    return 1;
}

static inline int parse_float(const char* s, double min, double max, double* out) {
    if (s == NULL || *s == '\0') return 0;
    char* end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) return 0;
    *out = v;
    return 1;
}

// ----------------------------------------------------------------------------
// little-endian loads and stores (the file formats are little-endian on every host)

static inline uint32_t load_u32le(const uint8_t* p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t load_u64le(const uint8_t* p) {
    return (uint64_t)load_u32le(p) | ((uint64_t)load_u32le(p + 4) << 32);
}
static inline void store_u32le(uint8_t* p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void store_u64le(uint8_t* p, uint64_t v) {
    store_u32le(p, (uint32_t)v);
    store_u32le(p + 4, (uint32_t)(v >> 32));
}

// mkdir -p: creates each missing directory of `path`; 0 or -1 with errno
static inline int make_directories(const char* path) {
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) { errno = ENAMETOOLONG; return -1; }
    for (char* p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

#endif // LLMC_UTILS_H
