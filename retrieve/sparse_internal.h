/*
 * sparse_internal.h -- structures shared by retrieve/sparse.c (segment
 * format, builder, search) and retrieve/sparse_dir.c (the sparse part of an
 * index directory: segments.json, deletes, add and merge). Not public.
 */
#ifndef IDX_SPARSE_INTERNAL_H
#define IDX_SPARSE_INTERNAL_H

#include "idx_retrieve.h"

#define SPARSE_SEG_MAGIC "IDXSPSG1"
#define SPARSE_SEG_VERSION 1
#define SPARSE_DEL_MAGIC "IDXSPDL1"
#define SPARSE_DEL_VERSION 1
#define SPARSE_PAD 8 /* zero bytes after the postings so 64-bit loads never overrun */

typedef struct {
    uint64_t ndocs, nterms, nblocks, total_len, npostings, postings_bytes;
} sparse_meta;

typedef struct {
    uint64_t first_block;
    uint32_t nblocks;
    uint32_t df;
    uint32_t max_tf;  /* over the whole list: the term's BM25 upper bound */
    float min_ratio;  /* smallest dl/tf over the list, rounded down */
} sparse_terminfo;

typedef struct {
    uint32_t last_doc;  /* last document of the block */
    uint32_t max_tf;    /* largest tf in the block */
    uint32_t min_len;   /* smallest document length in the block */
    float min_ratio;    /* smallest dl/tf in the block, rounded down */
    uint64_t off;       /* byte offset of the block in "postings" */
    uint8_t count;      /* postings in the block, 1..128 */
    uint8_t doc_bits;   /* bits per (gap - 1) */
    uint8_t tf_bits;    /* bits per (tf - 1) */
    uint8_t pad[5];
} sparse_block;

struct idx_sparse_segment {
    idx_file *f;
    sparse_meta meta;
    const uint32_t *doclen;
    const uint64_t *termoff;
    const char *terms;
    const sparse_terminfo *tinfo;
    const sparse_block *blocks;
    const uint8_t *postings;
    uint64_t postings_size;
    char *analyzer_json;
};

typedef struct {
    idx_sparse_segment *seg;
    idx_file *delf;          /* delete bitmap file or NULL */
    const uint8_t *deleted;  /* ndocs bits or NULL */
    uint64_t ndeleted;
    idx_docs *docs;          /* store holding this segment's documents */
    int own_docs;            /* 1: docs is the segment's own store */
    uint64_t doc_base;       /* local doc i is store doc doc_base + i */
    char *name;              /* "seg-0000" */
} sparse_segref;

struct idx_sparse {
    char *dir; /* INDEX */
    idx_text_config cfg;
    sparse_segref *segs;
    size_t nsegs;
    idx_docs *main_docs; /* INDEX/docs, shared by segments that use it */
    uint64_t ndocs, total_len, ndeleted;
    uint64_t next_seg;
};

/* Postings of term t of a segment, decoded one block at a time. */
idx_err sparse_decode_block(const idx_sparse_segment *s, const sparse_block *b, uint32_t prev_last,
                            int first, uint32_t *docs, uint32_t *tfs);
/* Term lookup: *t = term index or UINT64_MAX when absent. */
void sparse_find_term(const idx_sparse_segment *s, const char *w, size_t len, uint64_t *t);
int sparse_is_deleted(const sparse_segref *r, uint64_t doc);

#endif
