/*
 * fm_naive.h -- the reference the FM-index tests compare against: a corpus
 * kept in memory as documents, with naive substring scans for counts and
 * occurrence lists, plus helpers to write such a corpus as a directory of
 * plain files (one document per file) and build an index from it.
 */
#ifndef FM_NAIVE_H
#define FM_NAIVE_H

#include "../idx_test.h"
#include "idx_index.h"

typedef struct {
    unsigned char **text;
    size_t *len;
    size_t n, cap;
    uint64_t total;
} naive_corpus;

static inline void nc_add(naive_corpus *c, const void *p, size_t len) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->text = realloc(c->text, c->cap * sizeof *c->text);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        assert_non_null(c->text);
        assert_non_null(c->len);
    }
    c->text[c->n] = malloc(len ? len : 1);
    assert_non_null(c->text[c->n]);
    if (len) memcpy(c->text[c->n], p, len);
    c->len[c->n++] = len;
    c->total += len;
}

static inline void nc_free(naive_corpus *c) {
    for (size_t i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    free(c->len);
    memset(c, 0, sizeof *c);
}

/* Occurrences of p in the corpus (overlapping, within documents). If occ is
 * non-NULL, fills up to max (doc, offset) pairs in document order. */
static inline uint64_t nc_count(const naive_corpus *c, const unsigned char *p, size_t m, uint64_t *occ, size_t max) {
    if (m == 0) return c->total;
    uint64_t k = 0;
    for (size_t d = 0; d < c->n; d++) {
        if (c->len[d] < m) continue;
        const unsigned char *t = c->text[d], *end = t + c->len[d], *q = t;
        while ((size_t)(end - q) >= m && (q = memmem(q, (size_t)(end - q), p, m)) != NULL) {
            if (occ && k < max) {
                occ[2 * k] = d;
                occ[2 * k + 1] = (uint64_t)(q - t);
            }
            k++;
            q++;
        }
    }
    return k;
}

/* Writes documents as dir/docNNNNNN.txt (sorted order = document order). */
static inline void nc_write_dir(const naive_corpus *c, const char *dir) {
    assert_int_equal(idx_mkdirs(dir), IDX_OK);
    for (size_t d = 0; d < c->n; d++) {
        char name[64];
        /* An empty document goes in as a one-line JSONL file (the directory
         * walk is sorted, so the order holds): an empty plain file trips a
         * memchr(NULL, ...) in the corpus reader under UBSan (reported). */
        snprintf(name, sizeof name, c->len[d] ? "doc%07zu.txt" : "doc%07zu.jsonl", d);
        char *p = t_path(dir, name);
        if (c->len[d]) t_write(p, c->text[d], c->len[d]);
        else t_writes(p, "{\"text\":\"\"}\n");
        free(p);
    }
}

static inline uint64_t rnd(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static inline int cmp_pair(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Builds INDEX from inputs with the given shard size and sample rate. */
static idx_fm_layout nc_layout = IDX_FM_LAYOUT_COMPACT; /* layout of the next nc_build */

static inline idx_err nc_build(const char *out, const char *input, uint64_t shard_size, uint32_t sample, int threads) {
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.layout = nc_layout;
    o.shard_size = shard_size;
    o.sa_sample = sample;
    o.threads = threads;
    o.force = 1;
    const char *in[1] = {input};
    return idx_index_build(out, in, 1, &o, NULL);
}

/* Checks count, find+locate (all occurrences when at most max_occ) and the
 * cursor against the naive scan for one pattern. */
static inline void nc_check_pattern(const naive_corpus *c, const idx_fm *fm, const unsigned char *p, size_t m,
                                    size_t max_occ) {
    uint64_t want = nc_count(c, p, m, NULL, 0);
    int has_ff = m && memchr(p, 0xFF, m) != NULL;
    if (has_ff) want = 0;
    uint64_t got = UINT64_MAX;
    assert_int_equal(idx_fm_count(fm, p, m, &got), IDX_OK);
    if (got != want) fail_msg("count mismatch for pattern of %zu bytes: fm %llu, naive %llu", m, (unsigned long long)got,
                              (unsigned long long)want);
    size_t ns = idx_fm_shard_count(fm);
    idx_fm_range r[64];
    assert_true(ns <= 64);
    uint64_t total = 0;
    assert_int_equal(idx_fm_find(fm, p, m, r, &total), IDX_OK);
    if (m == 0) return;
    assert_int_equal(total, want);
    if (want == 0 || want > max_occ) return;
    uint64_t *a = malloc(2 * want * sizeof *a), *b = malloc(2 * want * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    nc_count(c, p, m, a, want);
    uint64_t k = 0;
    for (size_t s = 0; s < ns; s++)
        for (uint64_t x = r[s].lo; x < r[s].hi; x++, k++) {
            assert_true(k < want);
            assert_int_equal(idx_fm_locate(fm, s, x, &b[2 * k], &b[2 * k + 1]), IDX_OK);
        }
    assert_int_equal(k, want);
    qsort(b, want, 2 * sizeof *b, cmp_pair);
    assert_memory_equal(a, b, 2 * want * sizeof *a);
    free(a);
    free(b);
}

/* Cursor: prepending p's bytes right to left gives the count of every suffix. */
static inline void nc_check_cursor(const naive_corpus *c, const idx_fm *fm, const unsigned char *p, size_t m) {
    idx_fm_cursor *cur;
    assert_int_equal(idx_fm_cursor_new(fm, &cur), IDX_OK);
    assert_int_equal(idx_fm_cursor_count(cur), c->total);
    int ff = 0;
    for (size_t k = m; k-- > 0;) {
        uint64_t cnt;
        assert_int_equal(idx_fm_cursor_prepend(cur, p[k], &cnt), IDX_OK);
        if (p[k] == 0xFF) ff = 1;
        uint64_t want = ff ? 0 : nc_count(c, p + k, m - k, NULL, 0);
        assert_int_equal(cnt, want);
        assert_int_equal(idx_fm_cursor_count(cur), want);
        assert_int_equal(idx_fm_cursor_length(cur), m - k);
    }
    idx_fm_cursor_reset(cur);
    assert_int_equal(idx_fm_cursor_length(cur), 0);
    idx_fm_cursor_free(cur);
}

/* Every document back byte for byte from the document store. */
static inline void nc_check_docs(const naive_corpus *c, const char *index) {
    idx_docs *d;
    assert_int_equal(idx_docs_open(index, 0, &d), IDX_OK);
    assert_int_equal(idx_docs_count(d), c->n);
    idx_buf b = {0};
    for (size_t i = 0; i < c->n; i++) {
        b.len = 0;
        assert_int_equal(idx_docs_text(d, i, 0, UINT64_MAX / 2, &b), IDX_OK);
        assert_int_equal(b.len, c->len[i]);
        if (b.len) assert_memory_equal(b.data, c->text[i], b.len);
    }
    idx_buf_free(&b);
    idx_docs_close(d);
}

#endif
