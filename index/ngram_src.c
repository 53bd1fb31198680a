/*
 * ngram_src.c -- count sources for the n-gram and contamination code: the
 * dispatch of the cursor operations, and the in-memory backend. The memory
 * backend keeps the corpus reversed together with its suffix array (built by
 * libdivsufsort); prepending a byte c to a pattern P appends c to the
 * reversed pattern, which narrows the current suffix-array range by two
 * binary searches on the character at depth |P|. It is the naive reference
 * for tests and the engine behind exclude_self (a text's own occurrences).
 * Nothing here is written to disk.
 */
#include <divsufsort.h>
#include <stdlib.h>
#include <string.h>

#include "ngram_impl.h"

/* ---------------------------------------------------------------- dispatch */

void idx_ngram_src_free(idx_ngram_src *s) {
    if (!s) return;
    if (s->ops && s->ops->src_fini) s->ops->src_fini(s);
    free(s);
}

uint64_t idx_ngram_src_total(const idx_ngram_src *s) { return s->total; }

idx_err idx_ngram_cursor_new(const idx_ngram_src *s, idx_ngram_cursor **out) {
    *out = NULL;
    if (!s) return idx_fail(IDX_ERR_INVALID, "ngram cursor: no source");
    idx_ngram_cursor *c = calloc(1, sizeof *c);
    if (!c) return idx_fail(IDX_ERR_NOMEM, "ngram cursor");
    c->src = s;
    idx_err e = s->ops->cursor_init(c);
    if (e) {
        free(c);
        return e;
    }
    s->ops->cursor_reset(c);
    *out = c;
    return IDX_OK;
}

void idx_ngram_cursor_free(idx_ngram_cursor *c) {
    if (!c) return;
    c->src->ops->cursor_fini(c);
    free(c);
}

void idx_ngram_cursor_reset(idx_ngram_cursor *c) { c->src->ops->cursor_reset(c); }

idx_err idx_ngram_cursor_prepend(idx_ngram_cursor *c, unsigned char byte, uint64_t *count) {
    idx_err e = IDX_OK;
    if (c->count > 0) e = c->src->ops->cursor_prepend(c, byte);
    c->len++;
    if (count) *count = c->count;
    return e;
}

uint64_t idx_ngram_cursor_count(const idx_ngram_cursor *c) { return c->count; }
size_t idx_ngram_cursor_length(const idx_ngram_cursor *c) { return c->len; }

idx_err idx_ngram_cursor_locate(const idx_ngram_cursor *c, uint64_t *doc, uint64_t *off) {
    if (c->count == 0 || c->len == 0)
        return idx_fail(IDX_ERR_NOT_FOUND, "locate: pattern does not occur");
    return c->src->ops->cursor_locate(c, doc, off);
}

idx_err idx_ngram_count(const idx_ngram_src *s, const void *pat, size_t len, uint64_t *count) {
    idx_ngram_cursor *c;
    idx_err e = idx_ngram_cursor_new(s, &c);
    if (e) return e;
    const unsigned char *p = pat;
    uint64_t n = s->total;
    for (size_t i = len; i-- > 0 && n > 0;)
        if ((e = idx_ngram_cursor_prepend(c, p[i], &n))) break;
    idx_ngram_cursor_free(c);
    *count = n;
    return e;
}

/* ---------------------------------------------------------------- memory */

static idx_err mem_cursor_init(idx_ngram_cursor *c) {
    (void)c;
    return IDX_OK;
}
static void mem_cursor_fini(idx_ngram_cursor *c) { (void)c; }

static void mem_cursor_reset(idx_ngram_cursor *c) {
    c->lo = 0;
    c->hi = (int64_t)c->src->n;
    c->len = 0;
    c->count = c->src->total;
}

/* Character of the suffix at rank r at depth d, -1 past the end. */
static inline int mem_char(const idx_ngram_src *s, int64_t r, size_t d) {
    size_t p = (size_t)s->sa[r] + d;
    return p < s->n ? s->rev[p] : -1;
}

static idx_err mem_cursor_prepend(idx_ngram_cursor *c, unsigned char byte) {
    const idx_ngram_src *s = c->src;
    if (byte == 0xFF) {
        c->count = 0;
        return IDX_OK;
    }
    size_t d = c->len;
    int64_t lo = c->lo, hi = c->hi;
    /* first rank with char >= byte */
    int64_t a = lo, b = hi;
    while (a < b) {
        int64_t m = a + (b - a) / 2;
        if (mem_char(s, m, d) < (int)byte) a = m + 1;
        else b = m;
    }
    int64_t first = a;
    b = hi;
    while (a < b) {
        int64_t m = a + (b - a) / 2;
        if (mem_char(s, m, d) <= (int)byte) a = m + 1;
        else b = m;
    }
    c->lo = first;
    c->hi = a;
    c->count = (uint64_t)(a - first);
    return IDX_OK;
}

static idx_err mem_cursor_locate(const idx_ngram_cursor *c, uint64_t *doc, uint64_t *off) {
    const idx_ngram_src *s = c->src;
    size_t p = (size_t)s->sa[c->lo];
    size_t start = s->n - p - c->len; /* forward position of the occurrence */
    size_t a = 0, b = s->ndocs;       /* last doc with doc_start <= start */
    while (b - a > 1) {
        size_t m = a + (b - a) / 2;
        if (s->doc_start[m] <= start) a = m;
        else b = m;
    }
    *doc = a;
    *off = start - s->doc_start[a];
    return IDX_OK;
}

static void mem_src_fini(idx_ngram_src *s) {
    free(s->rev);
    free(s->sa);
    free(s->doc_start);
}

static const idx_ngram_ops mem_ops = {mem_cursor_init, mem_cursor_fini, mem_cursor_reset,
                                      mem_cursor_prepend, mem_cursor_locate, mem_src_fini};

idx_err idx_ngram_src_memory(const void *corpus, size_t len, idx_ngram_src **out) {
    *out = NULL;
    if (len >= (size_t)INT32_MAX)
        return idx_fail(IDX_ERR_LIMIT, "in-memory n-gram source: %zu bytes (limit 2 GiB)", len);
    idx_ngram_src *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "n-gram source");
    s->ops = &mem_ops;
    s->n = len;
    s->rev = malloc(len ? len : 1);
    s->sa = malloc((len ? len : 1) * sizeof(int32_t));
    const unsigned char *t = corpus;
    size_t ndocs = 1, seps = 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] == 0xFF) {
            seps++;
            if (i + 1 < len) ndocs++;
        }
    s->doc_start = malloc((ndocs + 1) * sizeof(uint64_t));
    if (!s->rev || !s->sa || !s->doc_start) {
        idx_ngram_src_free(s);
        return idx_fail(IDX_ERR_NOMEM, "n-gram source: %zu bytes", len);
    }
    size_t k = 0;
    s->doc_start[k++] = 0;
    for (size_t i = 0; i < len; i++) {
        s->rev[len - 1 - i] = t[i];
        if (t[i] == 0xFF && i + 1 < len) s->doc_start[k++] = i + 1;
    }
    s->doc_start[k] = len;
    s->ndocs = ndocs;
    s->total = len - seps;
    if (len > 0 && divsufsort(s->rev, s->sa, (saidx_t)len) != 0) {
        idx_ngram_src_free(s);
        return idx_fail(IDX_ERR_INTERNAL, "n-gram source: suffix sort failed");
    }
    *out = s;
    return IDX_OK;
}
