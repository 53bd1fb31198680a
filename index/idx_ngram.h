/*
 * idx_ngram.h -- n-gram statistics and benchmark-contamination checks on top
 * of the FM-index: exact counts and P(next | prompt), the infinity-gram model
 * (longest matching suffix, Liu et al. 2024, arXiv 2401.17377) with an
 * explicit back-off for zero probabilities and per-unit negative
 * log-likelihoods for whole texts (the model-free LM of the PPL chunker), the
 * next-unit distribution after a prefix, and infini-gram mini's
 * contamination score (fraction of 50-character word-aligned windows of a
 * benchmark entry that occur in the corpus) with readers for benchmark files
 * (JSONL, JSONL.gz, CSV).
 *
 * Everything counts through an idx_ngram_src: either an opened FM-index
 * (idx_ngram_src_fm) or an in-memory corpus (idx_ngram_src_memory: a suffix
 * array of the reversed bytes, used for tests, as the naive reference and
 * for excluding a document's own occurrences). Only left extension
 * (prepend one byte) is needed, which is what backward search gives.
 *
 * Thread safety: a source is shared read-only; a cursor belongs to one thread.
 */
#ifndef IDX_NGRAM_H
#define IDX_NGRAM_H

#include "idx_common.h"
#include "idx_index.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Count sources and cursors                                                  */
/* ------------------------------------------------------------------------ */

typedef struct idx_ngram_src idx_ngram_src;
typedef struct idx_ngram_cursor idx_ngram_cursor;

/* Counts through an opened FM-index (borrowed: keep fm open while s lives). */
idx_err idx_ngram_src_fm(const idx_fm *fm, idx_ngram_src **out);
/* An in-memory corpus: documents separated by byte 0xFF (which never occurs
 * in UTF-8). The bytes are copied; building sorts the reversed text with
 * libdivsufsort, O(n log n), 5 bytes of memory per byte, n < 2^31.
 * Patterns containing 0xFF are never found. */
idx_err idx_ngram_src_memory(const void *corpus, size_t len, idx_ngram_src **out);
void idx_ngram_src_free(idx_ngram_src *s);
/* Bytes of document text in the source (the count of the empty pattern). */
uint64_t idx_ngram_src_total(const idx_ngram_src *s);

/* A left-extension cursor: starts at the empty pattern P; prepend(c) makes the
 * pattern cP and returns its count. O(shards * rank) per step for the
 * FM-index, O(log n) for memory. Once the count is 0 it stays 0. */
idx_err idx_ngram_cursor_new(const idx_ngram_src *s, idx_ngram_cursor **out);
void idx_ngram_cursor_free(idx_ngram_cursor *c);
void idx_ngram_cursor_reset(idx_ngram_cursor *c);
idx_err idx_ngram_cursor_prepend(idx_ngram_cursor *c, unsigned char byte, uint64_t *count);
uint64_t idx_ngram_cursor_count(const idx_ngram_cursor *c);
size_t idx_ngram_cursor_length(const idx_ngram_cursor *c);
/* One occurrence of the cursor's current pattern (the first in suffix-array
 * order of the first shard that has one): document id and byte offset inside
 * that document. IDX_ERR_NOT_FOUND if the count is 0. */
idx_err idx_ngram_cursor_locate(const idx_ngram_cursor *c, uint64_t *doc_id, uint64_t *offset);

/* Exact count of pat[0..len) (backward search from its last byte). */
idx_err idx_ngram_count(const idx_ngram_src *s, const void *pat, size_t len, uint64_t *count);

/* ------------------------------------------------------------------------ */
/* Probabilities                                                              */
/* ------------------------------------------------------------------------ */

/* P(next | prompt) = count(prompt . next) / count(prompt); *prob = -1 when
 * count(prompt) = 0 (as infini-gram's prob()). An empty prompt counts as the
 * total byte count. */
idx_err idx_ngram_prob(const idx_ngram_src *s, const void *prompt, size_t plen, const void *next,
                       size_t nlen, uint64_t *count_prompt, uint64_t *count_full, double *prob);

typedef enum {
    IDX_NGRAM_UNIT_BYTE = 0, /* every byte is a unit */
    IDX_NGRAM_UNIT_CHAR = 1  /* UTF-8 characters (an invalid byte is a unit of its own) */
} idx_ngram_unit_kind;

typedef struct {
    idx_ngram_unit_kind unit; /* default IDX_NGRAM_UNIT_CHAR */
    size_t max_suffix;        /* longest suffix considered, in bytes; 0 = unlimited */
    /* Subtract the occurrences that lie inside `text` itself, so that a
     * document which is in the index does not predict itself. Exact when the
     * text is byte-identical to one document of the index (other copies of it
     * still count); counts are clamped at 0 otherwise. Costs a suffix sort of
     * the text. */
    int exclude_self;
} idx_ngram_opts;

/* One predicted unit of a text (byte offsets; lengths in bytes, always a
 * whole number of units). */
typedef struct {
    uint64_t offset;       /* where the unit starts in the text */
    uint32_t len;          /* its length in bytes (1..4) */
    uint32_t suffix_len;   /* n, in bytes (whole units): longest suffix of the preceding
                              text with count > 0 (at most max_suffix) */
    uint64_t suffix_count; /* count(suffix_n) (the total byte count when n = 0) */
    uint64_t next_count;   /* count(suffix_n . unit): P_inf = next_count / suffix_count, may be 0 */
    uint32_t backoff_len;  /* k <= n (bytes): longest suffix with count(suffix_k . unit) > 0 */
    uint64_t backoff_suffix_count, backoff_next_count;
    int unseen;            /* the unit never occurs in the corpus: floor applied */
    double prob;           /* backoff_next_count / backoff_suffix_count, or the floor */
    double nll;            /* -ln(prob) */
} idx_ngram_unit;

/* The infinity-gram model over a whole text (METHODS.md section 6):
 * for every unit w at offset j, with prompt = text[0..j),
 *   n = longest suffix of the prompt (whole units, at most max_suffix bytes) with count > 0,
 *   P_inf(w) = count(suffix_n . w) / count(suffix_n)        (infini-gram; may be 0),
 * and, for the NLL, zero probabilities back off to shorter suffixes:
 *   k = longest suffix length <= n with count(suffix_k . w) > 0,
 *   P(w) = count(suffix_k . w) / count(suffix_k),   nll = -ln P(w);
 * k = 0 is the unigram estimate count(w) / N (N = total bytes). If w never
 * occurs (count(w) = 0) the floor is P = 1 / (N + 1), i.e. nll = ln(N + 1).
 * Cost: one backward-search walk per unit, of length (longest match ending
 * after the unit) + 1, so about sum of match lengths rank steps; a text that is
 * in the index matches itself entirely (quadratic): use exclude_self or max_suffix.
 * *units (malloc'd, free() it) gets one entry per unit; *nunits their count;
 * *mean_nll (may be NULL) the mean nll (0 for an empty text). */
idx_err idx_ngram_infgram(const idx_ngram_src *s, const void *text, size_t len,
                          const idx_ngram_opts *opts, idx_ngram_unit **units, size_t *nunits,
                          double *mean_nll);

/* Next-unit distribution after a prefix. */
typedef struct {
    unsigned char bytes[4];
    uint32_t len;
    uint64_t count; /* count(prefix . unit) */
} idx_ngram_next;

/* Every unit w with count(prefix . w) > 0, sorted by count (descending, then
 * bytes), at most top_k of them (0 = all); *prefix_count = count(prefix);
 * *total_next = the sum over all continuations (= prefix_count minus the
 * occurrences at a document end). Exact: each candidate unit is checked by a
 * backward search of prefix . w starting from w (255 first bytes, then the
 * continuation bytes of multi-byte characters that occur), so no sampling
 * is needed; cost O(candidates * |prefix|) rank steps. *out is malloc'd. */
idx_err idx_ngram_next_units(const idx_ngram_src *s, const void *prefix, size_t plen,
                             idx_ngram_unit_kind unit, size_t top_k, idx_ngram_next **out,
                             size_t *nout, uint64_t *prefix_count, uint64_t *total_next);

/* ------------------------------------------------------------------------ */
/* Benchmark entries (readers in index/bench_reader.c)                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *benchmark; /* e.g. "mmlu", "gsm8k", "HumanEval" */
    const char *subject;   /* e.g. "anatomy" (MMLU file name), "" if none */
    const char *split;     /* "test", "dev", ... or "" */
    const char *id;        /* the entry's id field, else "<file>:<line>" */
    const char *source;    /* file path */
    uint64_t line;         /* 1-based line where the entry starts */
    const char *text;      /* the checked fields joined by '\n' (NUL-terminated) */
    size_t len;
    size_t nseg;           /* number of fields joined */
    const size_t *seg_end; /* end offset of each field inside text */
    const char *skip;      /* NULL, or why the entry was skipped (kept and counted) */
} idx_contam_entry;

typedef struct idx_contam_set idx_contam_set;

typedef struct {
    /* Fields to check (JSON path "a.b.0" for JSONL, column name or 1-based
     * number for CSV); all must be present and are checked as separate
     * segments. NULL/0 = the first present of question, prompt, problem,
     * text, passage, context (JSON) / the column with one of those names,
     * else the first column (CSV). */
    const char *const *fields;
    size_t nfields;
    const char *id_field; /* NULL = task_id, id, _id, else <file>:<line> */
    const char *name;     /* benchmark name override (NULL = from the path) */
    int skip_bad;         /* keep bad entries as skipped (counted) instead of failing */
    size_t max_entry_bytes; /* 0 = 1 MiB */
} idx_contam_read_opts;

typedef enum {
    IDX_CONTAM_FMT_AUTO = 0, /* by extension: .csv[.gz|.zst] = CSV, else JSONL */
    IDX_CONTAM_FMT_JSONL = 1,
    IDX_CONTAM_FMT_CSV = 2
} idx_contam_format;

idx_err idx_contam_set_new(idx_contam_set **out);
void idx_contam_set_free(idx_contam_set *set);
/* Reads a benchmark file (.jsonl, .json, .jsonl.gz, .csv, .csv.gz, .zst) or a
 * directory of them (recursively, sorted; other files ignored). Benchmark /
 * subject / split come from the path: "<bench>/test.jsonl",
 * "<bench>/test/<subject>_test.csv", "<Bench>.jsonl.gz". Errors name
 * file:line. */
idx_err idx_contam_read_path(idx_contam_set *set, const char *path, const idx_contam_read_opts *o);
/* Parses data[0..len) as if read from `source` (used by fuzzers and tests). */
idx_err idx_contam_read_buffer(idx_contam_set *set, const char *source, const char *data,
                               size_t len, idx_contam_format fmt, const idx_contam_read_opts *o);
size_t idx_contam_set_count(const idx_contam_set *set);
const idx_contam_entry *idx_contam_set_entry(const idx_contam_set *set, size_t i);

/* ------------------------------------------------------------------------ */
/* Contamination score (infini-gram mini, section 4.1; METHODS.md 8.4)        */
/* ------------------------------------------------------------------------ */

typedef enum { IDX_CONTAM_CLEAN = 0, IDX_CONTAM_SUSPICIOUS = 1, IDX_CONTAM_DIRTY = 2 } idx_contam_class;

typedef struct {
    size_t window_chars; /* window length in UTF-8 characters; 0 = 50 */
    double dirty;        /* score >= dirty: dirty; < 0 = 0.8 */
    double suspicious;   /* score >= suspicious: suspicious; < 0 = 0.2 */
    int threads;         /* idx_contam_run: worker threads; 0 = 1 */
    int no_span;         /* skip the longest-matching-span search */
    int span_all;        /* search the span also in entries where no window
                            matched (default: only where one did; elsewhere the
                            longest match is shorter than a window plus a word) */
    size_t max_span;     /* stop the span search at this many bytes; 0 = 500 */
} idx_contam_opts;
void idx_contam_opts_default(idx_contam_opts *o);

typedef struct {
    uint32_t windows;      /* windows checked (0 for a skipped entry) */
    uint32_t matched;      /* windows with count > 0 */
    double score;          /* matched / windows */
    idx_contam_class cls;
    int skipped;           /* the entry was skipped by the reader */
    uint64_t span_off, span_len; /* longest substring of the text (bytes, whole
                                    characters) that occurs in the corpus; the
                                    search stops at max_span bytes (span_capped) */
    int span_capped;
    int span_searched;     /* the span search ran (see span_all) */
    int span_found;        /* span located: */
    uint64_t span_doc, span_doc_off; /* one document holding it, and the offset */
} idx_contam_result;

/* The windows of text[0..len) split into segments (seg_end, nseg; NULL/0 =
 * one segment): inside each segment, every window of window_chars UTF-8
 * characters that starts at a whitespace-word start and ends inside the
 * segment; a segment with none (shorter than a window from its first word)
 * that is not all whitespace gives one window, the segment without leading
 * and trailing whitespace. Whitespace = ASCII space, \t \n \v \f \r.
 * Windows are written as byte ranges [start[i], end[i]) into *starts and *ends
 * (malloc'd). */
idx_err idx_contam_windows(const char *text, size_t len, const size_t *seg_end, size_t nseg,
                           size_t window_chars, size_t **starts, size_t **ends, size_t *n);

/* Scores one text with a caller-owned cursor (one per thread): each window is
 * one backward search from its last byte, stopped at the first zero count.
 * The longest matching span: with L(e) = the longest match ending at byte e,
 * L(e) <= L(e') + (e - e') for e' < e, so one left walk of at most
 * best + (e - e') bytes from each character boundary e finds it (a match
 * never crosses a segment boundary). */
idx_err idx_contam_score(idx_ngram_cursor *cur, const char *text, size_t len,
                         const size_t *seg_end, size_t nseg, const idx_contam_opts *o,
                         idx_contam_result *r);

/* Scores every entry of the set (skipped entries get skipped = 1) in
 * parallel; results[i] for entry i. progress (may be NULL) is called from the
 * calling thread with phase "contam", unit "entries"; a non-zero return
 * cancels. */
idx_err idx_contam_run(const idx_ngram_src *s, const idx_contam_set *set, const idx_contam_opts *o,
                       idx_contam_result *results, idx_progress_fn progress, void *progress_ud);

const char *idx_contam_class_name(idx_contam_class c);
/* The per-entry report as JSON (benchmark, subject, split, id, source, line;
 * windows, matched, score, class and longest_span, or skipped), the shape of
 * `idx contam --json` and POST /v1/contamination. docs (may be NULL) names the
 * document of the span. New reference; NULL on allocation failure. */
json_t *idx_contam_entry_json(const idx_contam_entry *en, const idx_contam_result *r, const idx_docs *docs);

#ifdef __cplusplus
}
#endif
#endif
