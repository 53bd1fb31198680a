/*
 * idx_common.h -- what every module of libidx shares: one error enum with a
 * per-thread message, the checksummed section file format every part writes,
 * the corpus readers (JSONL, .zst/.gz, plain files, directories), the index
 * directory manifest with atomic publication, and progress reporting.
 *
 * Naming: idx_<module>_<action>[_<noun>]; handles are opaque; *_free(NULL) is
 * fine. The library never prints, never exits and never reads the environment:
 * errors come back as idx_err codes with a message from idx_errmsg().
 */
#ifndef IDX_COMMON_H
#define IDX_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* One error enum for the whole library; the numbers are fixed forever. */
typedef enum {
    IDX_OK = 0,
    IDX_ERR_NOMEM = 1,       /* allocation failed */
    IDX_ERR_IO = 2,          /* open/read/write/rename failed (errno in message) */
    IDX_ERR_CORRUPT = 3,     /* a file we wrote fails a check: magic, bounds, checksum */
    IDX_ERR_VERSION = 4,     /* a file from a newer (or unknown) format version */
    IDX_ERR_INVALID = 5,     /* bad argument or option from the caller */
    IDX_ERR_PARSE = 6,       /* malformed input: JSONL line, CSV, HTTP body, run file */
    IDX_ERR_NOT_FOUND = 7,   /* no such document, index part, file or model tensor */
    IDX_ERR_UNSUPPORTED = 8, /* valid but not supported (e.g. model architecture) */
    IDX_ERR_LIMIT = 9,       /* a size or count limit was exceeded */
    IDX_ERR_TIMEOUT = 10,    /* a deadline passed */
    IDX_ERR_EMPTY = 11,      /* nothing to do: empty corpus, no documents */
    IDX_ERR_NETWORK = 12,    /* remote service failed or answered badly */
    IDX_ERR_INTERNAL = 13,   /* a bug: an invariant did not hold */
    IDX_ERR_CANCELLED = 14,  /* the caller asked to stop */
    IDX_ERR_EXISTS = 15      /* output exists and overwriting was not asked for */
} idx_err;

/* Static name of a code, e.g. "corrupt index file". Never NULL. */
const char *idx_strerror(idx_err code);

/* Records a formatted message for this thread and returns code, so that a
 * failure site reads `return idx_fail(IDX_ERR_PARSE, "%s:%llu: ...", ...)`. */
idx_err idx_fail(idx_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current thread's message with "<prefix>: " (context on the way up). */
idx_err idx_fail_context(idx_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the last failure on this thread ("" if none). */
const char *idx_errmsg(void);
void idx_errclear(void);

/* ------------------------------------------------------------------------ */
/* Small utilities                                                            */
/* ------------------------------------------------------------------------ */

uint64_t idx_hash64(const void *data, size_t len, uint64_t seed); /* XXH3-64 */
double idx_now(void); /* monotonic seconds */
/* Allocation helpers that fail with IDX_ERR_NOMEM instead of returning NULL silently. */
idx_err idx_xmalloc(size_t n, void *out_ptr);
idx_err idx_xrealloc(void *inout_ptr, size_t n);
/* n*m with overflow check. */
int idx_mul_overflow(size_t n, size_t m, size_t *out);
/* 1 if [p, p+n) is valid UTF-8 (no surrogates, no overlongs). */
int idx_utf8_valid(const char *p, size_t n);
/* Length of the UTF-8 character starting at p (1..4), 1 for an invalid byte. */
size_t idx_utf8_charlen(const unsigned char *p, size_t avail);

/* Growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} idx_buf;
idx_err idx_buf_reserve(idx_buf *b, size_t extra);
idx_err idx_buf_append(idx_buf *b, const void *data, size_t n);
idx_err idx_buf_printf(idx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void idx_buf_free(idx_buf *b);

/* A JSON string of bytes that may not be valid UTF-8: each invalid byte
 * becomes U+FFFD, so text from a corpus or a benchmark never turns into an
 * empty or missing string. New reference; NULL only on allocation failure. */
json_t *idx_json_text(const char *p, size_t n);

/* Whole-file read (with .zst/.gz decompression by extension) into *out
 * (NUL-terminated, owned by the caller). max_bytes 0 = no limit. */
idx_err idx_read_file(const char *path, size_t max_bytes, idx_buf *out);

/* ------------------------------------------------------------------------ */
/* Checksummed section files (format written down in common/file.c)           */
/* ------------------------------------------------------------------------ */

#define IDX_FILE_MAGIC_LEN 8
#define IDX_SECTION_NAME_MAX 23

typedef struct idx_file_writer idx_file_writer;
typedef struct idx_file idx_file;

/* Starts writing `path` (as path + ".tmp", renamed on commit). magic is 8
 * bytes identifying the file kind, e.g. "IDXFMSH1"; version is the format
 * version of that kind. */
idx_err idx_file_create(const char *path, const char magic[IDX_FILE_MAGIC_LEN], uint32_t version,
                        idx_file_writer **out);
/* Sections are written one after another: begin, any number of writes, end.
 * Each section starts 64-byte aligned and is checksummed with XXH3-64. */
idx_err idx_file_section_begin(idx_file_writer *w, const char *name);
idx_err idx_file_write(idx_file_writer *w, const void *data, size_t n);
idx_err idx_file_section_end(idx_file_writer *w);
/* Convenience: begin + write + end. */
idx_err idx_file_put_section(idx_file_writer *w, const char *name, const void *data, size_t n);
/* Writes the table and header, fsyncs and renames into place; frees w. */
idx_err idx_file_commit(idx_file_writer *w);
/* Abandons the file (removes the temporary); frees w. NULL is fine. */
void idx_file_abort(idx_file_writer *w);

enum {
    IDX_FILE_VERIFY = 1 /* check every section checksum at open (else header+table only) */
};
/* Maps a file read-only and validates header, table and bounds; with
 * IDX_FILE_VERIFY every section checksum too. A file with a larger version
 * than max_version gives IDX_ERR_VERSION; any other damage IDX_ERR_CORRUPT
 * naming the file and section. */
idx_err idx_file_open(const char *path, const char magic[IDX_FILE_MAGIC_LEN], uint32_t max_version,
                      unsigned flags, idx_file **out);
void idx_file_close(idx_file *f);
uint32_t idx_file_version(const idx_file *f);
uint64_t idx_file_size(const idx_file *f);
const char *idx_file_path(const idx_file *f);
/* The bytes of a section (64-byte aligned, valid while f is open).
 * IDX_ERR_CORRUPT "missing section" if absent. */
idx_err idx_file_section(const idx_file *f, const char *name, const void **data, uint64_t *size);
/* Same, but absent is not an error: *data = NULL, *size = 0, returns IDX_OK. */
idx_err idx_file_section_opt(const idx_file *f, const char *name, const void **data, uint64_t *size);
/* Checks every section checksum; the message names the first bad section. */
idx_err idx_file_verify(const idx_file *f);
size_t idx_file_section_count(const idx_file *f);
void idx_file_section_info(const idx_file *f, size_t i, const char **name, uint64_t *size);

/* ------------------------------------------------------------------------ */
/* Corpus readers                                                             */
/* ------------------------------------------------------------------------ */

typedef struct idx_corpus idx_corpus;

typedef struct {
    const char *text_field;  /* JSON field with the text; NULL = "text" */
    const char *id_field;    /* NULL = "_id", then "id"; absent = "<file>:<line>" */
    const char *title_field; /* NULL = "title" (kept in metadata and as title) */
    int skip_bad;            /* skip malformed lines/documents (counted) instead of failing */
    const char *const *extensions; /* for directories: only these file endings (NULL = all) */
    size_t max_doc_bytes;    /* 0 = 1 GiB */
} idx_corpus_opts;

/* One document. Pointers are valid until the next idx_corpus_next call. */
typedef struct {
    const char *text;
    size_t text_len;
    const char *id; /* never NULL */
    const char *title; /* "" if none */
    const char *meta_json; /* the other fields as a compact JSON object ("{}" if none) */
    size_t meta_len;
    const char *source; /* input file path */
    uint64_t line;      /* 1-based line for JSONL, 0 for whole files */
} idx_doc;

typedef struct {
    uint64_t docs;          /* documents returned */
    uint64_t skipped;       /* malformed documents skipped under skip_bad */
    uint64_t invalid_utf8;  /* returned documents whose text is not valid UTF-8 */
    uint64_t bytes_in;      /* input bytes consumed (compressed size for .zst/.gz) */
    uint64_t bytes_total;   /* total input bytes of all files (for ETA) */
    uint64_t text_bytes;    /* bytes of document text returned */
} idx_corpus_stats;

/* Inputs: JSONL (.jsonl/.json/.ndjson, optionally .zst/.gz), plain files (one
 * document per file, optionally .zst/.gz), or directories of them (walked
 * recursively in sorted order). Documents containing byte 0xFF (which never
 * occurs in UTF-8 and separates documents in the FM-index) are an error
 * naming the file and line (skipped and counted under skip_bad). */
idx_err idx_corpus_open(const char *const *paths, size_t npaths, const idx_corpus_opts *opts,
                        idx_corpus **out);
/* *got = 1 with a document, 0 at the end. */
idx_err idx_corpus_next(idx_corpus *c, idx_doc *doc, int *got);
void idx_corpus_get_stats(const idx_corpus *c, idx_corpus_stats *st);
void idx_corpus_close(idx_corpus *c);

/* ------------------------------------------------------------------------ */
/* Progress                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *phase;   /* "read", "suffix-sort", "wavelet", "embed", ... */
    uint64_t done;       /* units done in this phase */
    uint64_t total;      /* 0 if unknown */
    const char *unit;    /* "B", "docs", ... */
    double elapsed;      /* seconds since the job started */
} idx_progress_info;
/* Called from library code at most a few times per second (idx_progress_tick
 * throttles). Returning non-zero asks the library to cancel (IDX_ERR_CANCELLED). */
typedef int (*idx_progress_fn)(void *ud, const idx_progress_info *p);

typedef struct {
    idx_progress_fn fn;
    void *ud;
    double start, last;
} idx_progress;
void idx_progress_init(idx_progress *p, idx_progress_fn fn, void *ud);
/* Reports if at least 0.5 s passed since the last report (or force). */
idx_err idx_progress_tick(idx_progress *p, const char *phase, uint64_t done, uint64_t total,
                          const char *unit, int force);

/* ------------------------------------------------------------------------ */
/* Index directories: manifest and atomic publication                         */
/* ------------------------------------------------------------------------ */

/* An index directory holds parts side by side (docs/, fm/, sparse/, dense/,
 * chunks/) and manifest.json naming them:
 *   {"format":"idx-index","version":1,"parts":{"docs":{...},"fm":{...}}}
 * A directory without a manifest, or whose manifest does not parse, is not an
 * index. */
#define IDX_MANIFEST_VERSION 1

/* Loads INDEX/manifest.json (new reference in *out). */
idx_err idx_manifest_load(const char *index_dir, json_t **out);
/* Writes manifest atomically (tmp + fsync + rename) into index_dir. */
idx_err idx_manifest_save(const char *index_dir, json_t *manifest);
/* New empty manifest. */
json_t *idx_manifest_new(void);
/* The part's object or NULL. */
json_t *idx_manifest_part(json_t *manifest, const char *part);

/* Makes a fresh temporary directory next to `final_path`
 * ("<dir>/.<base>.tmp.<pid>.<n>"); *out is malloc'd. */
idx_err idx_dir_make_tmp(const char *final_path, char **out);
/* Renames tmp into final_path. If final_path exists and replace is set, the
 * old one is moved aside and removed after the rename; else IDX_ERR_EXISTS. */
idx_err idx_dir_publish(const char *tmp, const char *final_path, int replace);
/* Recursive remove (no error if absent). */
idx_err idx_rmtree(const char *path);
/* mkdir -p */
idx_err idx_mkdirs(const char *path);
/* Joins a and b with '/' into a malloc'd string (NULL on OOM). */
char *idx_path_join(const char *a, const char *b);
/* Sum of the sizes of regular files under path. */
uint64_t idx_du(const char *path);

#ifdef __cplusplus
}
#endif
#endif
