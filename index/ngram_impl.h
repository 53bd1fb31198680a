/*
 * ngram_impl.h -- private to index/ngram*.c and contam.c: the layout of a
 * count source and its cursor, and the table of operations each backend
 * (in-memory reversed suffix array in ngram_src.c, FM-index in ngram_fm.c)
 * provides. Kept out of idx_ngram.h so that the handles stay opaque.
 */
#ifndef IDX_NGRAM_IMPL_H
#define IDX_NGRAM_IMPL_H

#include "idx_ngram.h"

typedef struct {
    idx_err (*cursor_init)(idx_ngram_cursor *c);
    void (*cursor_fini)(idx_ngram_cursor *c);
    void (*cursor_reset)(idx_ngram_cursor *c);
    idx_err (*cursor_prepend)(idx_ngram_cursor *c, unsigned char byte);
    idx_err (*cursor_locate)(const idx_ngram_cursor *c, uint64_t *doc, uint64_t *off);
    void (*src_fini)(idx_ngram_src *s);
} idx_ngram_ops;

struct idx_ngram_src {
    const idx_ngram_ops *ops;
    uint64_t total;
    /* memory backend */
    unsigned char *rev; /* the corpus reversed */
    int32_t *sa;        /* suffix array of rev */
    size_t n;
    uint64_t *doc_start; /* start offset (forward) of each document, ndocs + 1 entries */
    size_t ndocs;
    /* FM backend */
    const idx_fm *fm;
};

struct idx_ngram_cursor {
    const idx_ngram_src *src;
    size_t len;
    uint64_t count;
    int64_t lo, hi;   /* memory: suffix-array range of the reversed pattern */
    void *fm_cursor;  /* FM: idx_fm_cursor */
};

#endif
