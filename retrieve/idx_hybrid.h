/*
 * idx_hybrid.h -- dense and hybrid (BM25 + dense) retrieval over an index
 * directory, for `idx retrieve --mode dense|hybrid` and the server's
 * /v1/retrieve: queries are embedded with the model recorded in the index,
 * searched exactly (batched sgemm) or through HNSW, and for hybrid fused with
 * the BM25 top list by reciprocal rank fusion or normalised score fusion.
 * Results are document ids of INDEX/docs (sparse hits from segments added
 * later with their own store are mapped by external id; documents without a
 * vector only come from the BM25 side).
 */
#ifndef IDX_HYBRID_H
#define IDX_HYBRID_H

#include "idx_dense.h"
#include "idx_index.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IDX_RETRIEVE_SPARSE = 0, IDX_RETRIEVE_DENSE = 1, IDX_RETRIEVE_HYBRID = 2 } idx_retrieve_mode;
/* Score fusion (min-max, z-score) gives every BM25 candidate its exact dense
 * score (best row of the document), not only those in the dense top list. */
typedef enum { IDX_FUSION_ZSCORE = 0, IDX_FUSION_MINMAX = 1, IDX_FUSION_RRF = 2 } idx_fusion;

typedef struct {
    idx_retrieve_mode mode;
    idx_fusion fusion;        /* hybrid: default z-score (measured best on SciFact train, README.md "Dense and hybrid retrieval") */
    double rrf_k;             /* 0 = 60 */
    double dense_weight;      /* score fusion: weight of dense, BM25 gets 1 - w; 0 = 0.5 */
    size_t depth;             /* candidates taken from each side; 0 = max(k, 100) */
    int use_hnsw;             /* dense side through HNSW */
    uint32_t ef;              /* HNSW breadth; 0 = recorded */
    double bm25_k1, bm25_b;   /* 0 = sparse defaults */
} idx_hybrid_opts;

typedef struct idx_hybrid idx_hybrid;

/* Opens what the mode needs (dense part, and for hybrid the sparse part) and
 * an embedder for the recorded model. url/api_key/api_key_file override or
 * complete the recorded identity (NULL = as recorded / none). */
idx_err idx_hybrid_open(const char *index_dir, idx_retrieve_mode mode, const char *url, const char *api_key,
                        const char *api_key_file, idx_hybrid **out);
void idx_hybrid_close(idx_hybrid *h);
/* A second handle over the same opened parts, for another thread: it borrows
 * the dense part, the document store, the sparse index and a local (native
 * encoder) embedder from the handle it was opened from, which must stay open
 * longer; it owns its BM25 searcher and, for an openai model, its HTTP
 * client. A server keeps one clone per worker (idx_hybrid_search is not
 * thread-safe on one handle; the borrowed parts are read-only). */
idx_err idx_hybrid_clone(const idx_hybrid *base, idx_hybrid **out);
/* The query embedder (borrowed), and whether the handle can do hybrid. */
idx_embedder *idx_hybrid_embedder(const idx_hybrid *h);
int idx_hybrid_has_sparse(const idx_hybrid *h);
const idx_docs *idx_hybrid_docs(const idx_hybrid *h);
/* External id of a result (ids of documents found only in later sparse segments included). */
idx_err idx_hybrid_doc_id(const idx_hybrid *h, uint64_t doc, const char **id, size_t *len);

/* Top-k for nq queries: out[q*k ..] sorted by decreasing score, counts[q]
 * hits for query q. Not thread-safe on one handle (one searcher inside). */
idx_err idx_hybrid_search(idx_hybrid *h, const char *const *queries, size_t nq, size_t k,
                          const idx_hybrid_opts *o, idx_fuse_cand *out, size_t *counts);

#ifdef __cplusplus
}
#endif
#endif
