/*
 * ngram_fm.c -- the FM-index backend of idx_ngram_src: each n-gram cursor
 * wraps an idx_fm_cursor (backward search one byte at a time over every
 * shard), and locating an occurrence asks the first shard with a non-empty
 * range for the document and offset at its first rank. Kept in its own file
 * so that code using only in-memory sources does not link the FM-index.
 */
#include <stdlib.h>

#include "ngram_impl.h"

static idx_err fm_cursor_init(idx_ngram_cursor *c) {
    idx_fm_cursor *fc;
    idx_err e = idx_fm_cursor_new(c->src->fm, &fc);
    if (e) return e;
    c->fm_cursor = fc;
    return IDX_OK;
}

static void fm_cursor_fini(idx_ngram_cursor *c) { idx_fm_cursor_free(c->fm_cursor); }

static void fm_cursor_reset(idx_ngram_cursor *c) {
    idx_fm_cursor_reset(c->fm_cursor);
    c->len = 0;
    c->count = c->src->total;
}

static idx_err fm_cursor_prepend(idx_ngram_cursor *c, unsigned char byte) {
    uint64_t n = 0;
    idx_err e = idx_fm_cursor_prepend(c->fm_cursor, byte, &n);
    if (e) return e;
    c->count = n;
    return IDX_OK;
}

static idx_err fm_cursor_locate(const idx_ngram_cursor *c, uint64_t *doc, uint64_t *off) {
    const idx_fm_range *r = idx_fm_cursor_ranges(c->fm_cursor);
    size_t ns = idx_fm_shard_count(c->src->fm);
    for (size_t i = 0; i < ns; i++)
        if (r[i].hi > r[i].lo) return idx_fm_locate(c->src->fm, i, r[i].lo, doc, off);
    return idx_fail(IDX_ERR_NOT_FOUND, "locate: pattern does not occur");
}

static const idx_ngram_ops fm_ops = {fm_cursor_init, fm_cursor_fini, fm_cursor_reset,
                                     fm_cursor_prepend, fm_cursor_locate, NULL};

idx_err idx_ngram_src_fm(const idx_fm *fm, idx_ngram_src **out) {
    *out = NULL;
    if (!fm) return idx_fail(IDX_ERR_INVALID, "n-gram source: no FM-index");
    idx_ngram_src *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "n-gram source");
    s->ops = &fm_ops;
    s->fm = fm;
    s->total = idx_fm_total_bytes(fm);
    *out = s;
    return IDX_OK;
}
