/*
 * idx_retrieve.h -- retrieval over an index directory. This header holds the
 * sparse (BM25) side, prefix idx_sparse_*; dense and hybrid retrieval live in
 * retrieve/idx_dense.h.
 *
 * The sparse part is INDEX/sparse/: one or more immutable segments (an
 * inverted index each: sorted term dictionary, postings of 128 document gaps
 * and term frequencies bit-packed per block, per-block maximum tf and minimum
 * document length bounding BM25 for block-max MaxScore, exact document
 * lengths), optional delete bitmaps, and segments.json listing them with the
 * analyser configuration. Segment 0 usually reads its documents from the
 * index's document store (INDEX/docs); segments added later carry their own
 * store (INDEX/sparse/seg-NNNN/docs). Every change (build, add, delete,
 * merge) writes a new sparse/ directory beside the old one (unchanged files
 * are hard-linked) and publishes it with one rename.
 *
 * Scoring is Lucene's BM25: idf = ln(1 + (N - df + 0.5)/(df + 0.5)),
 * tf part = tf / (tf + k1 (1 - b + b dl/avgdl)), times the query term's
 * count, with exact dl; N, df and avgdl are summed over all segments
 * (deleted documents still count until a merge, as in Lucene).
 */
#ifndef IDX_RETRIEVE_H
#define IDX_RETRIEVE_H

#include "idx_common.h"
#include "idx_index.h"
#include "idx_text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IDX_SPARSE_BLOCK 128          /* postings per block */
#define IDX_SPARSE_MAX_QUERY_TERMS 1024 /* default limit on distinct query terms */
#define IDX_SPARSE_BUILD_MEMORY (1ull << 30) /* default postings memory per segment build */

/* ------------------------------------------------------------------------ */
/* Segment builder (in memory) and segment files                              */
/* ------------------------------------------------------------------------ */

typedef struct idx_sparse_builder idx_sparse_builder;

idx_err idx_sparse_builder_new(const idx_text_config *cfg, idx_sparse_builder **out);
void idx_sparse_builder_free(idx_sparse_builder *b);
/* Analyses title + " " + text as the next document (local ids 0, 1, ...).
 * Either part may be empty; an empty document is kept (length 0). */
idx_err idx_sparse_builder_add(idx_sparse_builder *b, const char *title, size_t title_len,
                               const char *text, size_t text_len);
uint64_t idx_sparse_builder_count(const idx_sparse_builder *b);
/* Bytes of postings held in memory (for callers that bound memory). */
uint64_t idx_sparse_builder_memory(const idx_sparse_builder *b);
/* Writes the segment file (format at the top of retrieve/sparse.c). */
idx_err idx_sparse_builder_write(idx_sparse_builder *b, const char *path);

typedef struct idx_sparse_segment idx_sparse_segment;
/* Maps and validates a segment file (every count, offset and block bound;
 * IDX_FILE_VERIFY also checks the checksums). O(terms + blocks). */
idx_err idx_sparse_segment_open(const char *path, unsigned flags, idx_sparse_segment **out);
void idx_sparse_segment_close(idx_sparse_segment *s);
uint64_t idx_sparse_segment_docs(const idx_sparse_segment *s);
uint64_t idx_sparse_segment_terms(const idx_sparse_segment *s);
/* Decodes every postings list (checks each block against its metadata). */
idx_err idx_sparse_segment_verify(const idx_sparse_segment *s);

/* ------------------------------------------------------------------------ */
/* The sparse part of an index directory                                      */
/* ------------------------------------------------------------------------ */

typedef struct idx_sparse idx_sparse;

/* Opens INDEX/sparse (every segment, its delete bitmap and document store). */
idx_err idx_sparse_open(const char *index_dir, unsigned flags, idx_sparse **out);
void idx_sparse_close(idx_sparse *s);
const idx_text_config *idx_sparse_config(const idx_sparse *s);
size_t idx_sparse_segment_count(const idx_sparse *s);
uint64_t idx_sparse_doc_count(const idx_sparse *s);  /* documents incl. deleted */
uint64_t idx_sparse_live_count(const idx_sparse *s); /* documents not deleted */
uint64_t idx_sparse_bytes(const idx_sparse *s);      /* size on disk of the part */

typedef struct {
    double k1;                /* default 0.9 */
    double b;                 /* default 0.4 */
    size_t k;                 /* hits wanted; default 10 */
    int exhaustive;           /* score every posting (no skipping); for checking */
    size_t max_query_terms;   /* distinct analysed terms; 0 = IDX_SPARSE_MAX_QUERY_TERMS */
    int lucene_norms;         /* quantise lengths as Lucene's 1-byte norms (to measure the effect) */
} idx_sparse_params;
void idx_sparse_params_default(idx_sparse_params *p);

typedef struct {
    uint32_t segment; /* index of the segment */
    uint64_t doc;     /* document id inside the segment's document store */
    double score;
} idx_sparse_hit;

typedef struct {
    uint64_t postings_scored; /* postings whose contribution was computed */
    uint64_t blocks_decoded;
    uint64_t docs_evaluated;  /* candidate documents considered */
    size_t query_terms;       /* distinct analysed query terms */
} idx_sparse_stats;

/* Per-thread search state (analyser + scratch) over a shared idx_sparse. */
typedef struct idx_sparse_searcher idx_sparse_searcher;
idx_err idx_sparse_searcher_new(const idx_sparse *s, idx_sparse_searcher **out);
void idx_sparse_searcher_free(idx_sparse_searcher *q);

/* Top-k BM25 for query[0..len): hits sorted by score descending, ties by
 * (segment, doc) ascending; *nhits <= p->k (0 for a query with no indexed
 * term, e.g. only stopwords). hits must hold p->k entries. Block-max MaxScore
 * (Turtle & Flood 1995; Ding & Suel 2011 block bounds) unless p->exhaustive;
 * both give the same documents and bit-identical scores. st may be NULL.
 * IDX_ERR_LIMIT when the query has more than max_query_terms distinct terms. */
idx_err idx_sparse_search(idx_sparse_searcher *q, const char *query, size_t len,
                          const idx_sparse_params *p, idx_sparse_hit *hits, size_t *nhits,
                          idx_sparse_stats *st);

/* Byte offset of a window of `width` bytes of text[0..len) that starts a
 * little before the first occurrence of a term of the searcher's last query
 * (0 when none occurs), moved to a UTF-8 character boundary. */
size_t idx_sparse_snippet_start(idx_sparse_searcher *q, const char *text, size_t len, size_t width);

/* The document store holding a hit's document, and external id lookup. */
const idx_docs *idx_sparse_segment_store(const idx_sparse *s, uint32_t segment);
/* Finds a live document by external id: *found 0 if absent or deleted. */
idx_err idx_sparse_lookup(const idx_sparse *s, const char *id, size_t len, int *found,
                          uint32_t *segment, uint64_t *doc);

/* ------------------------------------------------------------------------ */
/* Building and changing the sparse part                                      */
/* ------------------------------------------------------------------------ */

/* Builds INDEX/sparse from INDEX/docs (the store written by `idx build`);
 * replace: overwrite an existing sparse part. Records the part in manifest.json.
 * memory bounds the postings held in memory (0 = IDX_SPARSE_BUILD_MEMORY):
 * past it the build starts a new segment, so memory stays bounded for any
 * corpus size (segments are searched together; `idx sparse-merge` joins them). */
idx_err idx_sparse_build_from_store(const char *index_dir, const idx_text_config *cfg,
                                    int replace, uint64_t memory, idx_progress *prog);
/* Builds a new index directory with docs/ and sparse/ from a corpus. */
idx_err idx_sparse_build_from_corpus(const char *index_dir, const char *const *paths,
                                     size_t npaths, const idx_corpus_opts *copts,
                                     const idx_text_config *cfg, int replace, uint64_t memory,
                                     idx_progress *prog);
/* Adds the corpus's documents as a new segment with its own document store.
 * An id already live in the index is an error (IDX_ERR_PARSE). *added may be NULL. */
idx_err idx_sparse_add(const char *index_dir, const char *const *paths, size_t npaths,
                       const idx_corpus_opts *copts, idx_progress *prog, uint64_t *added);
/* Marks documents deleted by external id. Unknown ids are counted in
 * *missing (not an error); *deleted counts newly deleted documents. */
idx_err idx_sparse_delete(const char *index_dir, const char *const *ids, size_t nids,
                          uint64_t *deleted, uint64_t *missing);
/* Merges every segment into one (dropping deleted documents); the merged
 * segment carries its own document store. */
idx_err idx_sparse_merge(const char *index_dir, idx_progress *prog);

#ifdef __cplusplus
}
#endif
#endif
