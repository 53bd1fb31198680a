/*
 * idx_dense.h -- the semantic half of retrieval: a memory-mapped vector store
 * (float32 or scalar-quantised int8, with the row -> document map), exact
 * top-k search (blocked sgemm for batches of queries, a dot-product scan for
 * single queries), an HNSW graph for approximate search, fusion of ranked
 * candidate lists (reciprocal rank fusion and normalised score fusion), and
 * the embedders that turn text into vectors (an OpenAI-compatible HTTP client
 * and the native encoder).
 *
 * Layout inside INDEX/:
 *   dense/vectors.vec   the vector store (format at the top of retrieve/dense.c)
 *   dense/hnsw.hnsw     the optional HNSW graph (format at the top of retrieve/hnsw.c)
 * and the manifest part "dense" records the model identity (provider, name,
 * dim, normalisation, query prefix), the storage type and the HNSW
 * parameters, so that queries are embedded the same way as the documents.
 *
 * Scores are inner products (cosine for L2-normalised vectors); larger is
 * better. All searches are thread-safe on a shared handle.
 */
#ifndef IDX_DENSE_H
#define IDX_DENSE_H

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Vector store                                                               */
/* ------------------------------------------------------------------------ */

typedef enum {
    IDX_DENSE_F32 = 0,        /* float32 as given */
    IDX_DENSE_I8_PER_DIM = 1, /* int8, symmetric scale per dimension (max |x_d| / 127) */
    IDX_DENSE_I8_PER_VEC = 2  /* int8, symmetric scale per vector (max |x_i| / 127) */
} idx_dense_type;

#define IDX_DENSE_MAX_DIM 65536u

typedef struct idx_dense idx_dense;
typedef struct idx_dense_writer idx_dense_writer;

/* Collects vectors in memory (float32) and writes the store on commit. */
idx_err idx_dense_writer_new(uint32_t dim, idx_dense_writer **out);
/* Appends n vectors (n*dim floats, row-major) and their document ids. Rows
 * are numbered in the order added. Non-finite values are IDX_ERR_INVALID. */
idx_err idx_dense_writer_add(idx_dense_writer *w, const float *vecs, size_t n, const uint64_t *doc_ids);
uint64_t idx_dense_writer_rows(const idx_dense_writer *w);
/* Quantises if asked and writes `path` atomically. Does not free w. */
idx_err idx_dense_writer_commit(idx_dense_writer *w, const char *path, idx_dense_type type);
void idx_dense_writer_free(idx_dense_writer *w);

/* Maps a store; flags as idx_file_open (IDX_FILE_VERIFY checks checksums). */
idx_err idx_dense_open(const char *path, unsigned flags, idx_dense **out);
void idx_dense_close(idx_dense *d);
uint64_t idx_dense_rows(const idx_dense *d);
uint32_t idx_dense_dim(const idx_dense *d);
idx_dense_type idx_dense_get_type(const idx_dense *d);
/* Document id of a row (row < rows). */
uint64_t idx_dense_row_doc(const idx_dense *d, uint64_t row);
/* Decodes row `row` into out[dim] (dequantised for int8). */
idx_err idx_dense_get(const idx_dense *d, uint64_t row, float *out);

typedef struct {
    uint64_t row;    /* UINT64_MAX in unused slots */
    uint64_t doc_id; /* UINT64_MAX in unused slots */
    float score;     /* inner product; -INFINITY in unused slots */
} idx_dense_hit;

typedef struct {
    int threads;          /* 0 or 1 = calling thread only; rows are split across threads */
    size_t block_rows;    /* database rows per sgemm block; 0 = 4096 (tests shrink it) */
    int force_scan;       /* 1 = per-query dot-product scan even for batches (testing) */
} idx_dense_search_opts;

/* Exact top-k by inner product for nq queries (nq*dim floats). out holds
 * nq*k hits per query sorted by decreasing score (ties: lower row first);
 * when the store has fewer than k rows the remaining slots are unused.
 * One query: a cache-friendly scan; several: blocked cblas_sgemm over the
 * whole matrix (int8 blocks are dequantised first). Both feed a size-k
 * min-heap per query. O(nq * rows * dim). */
idx_err idx_dense_search(const idx_dense *d, const float *queries, size_t nq, size_t k,
                         const idx_dense_search_opts *opts, idx_dense_hit *out);

/* ------------------------------------------------------------------------ */
/* HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest       */
/* neighbor search using Hierarchical Navigable Small World graphs", 2016)  */
/* ------------------------------------------------------------------------ */

typedef struct idx_hnsw idx_hnsw;

typedef struct {
    uint32_t M;               /* links per node on layers > 0 (layer 0: 2M); 0 = 16 */
    uint32_t ef_construction; /* 0 = 200 */
    uint32_t ef_search;       /* default search breadth recorded in the file; 0 = 64 */
    uint64_t seed;            /* level generator seed; 0 = 42 */
} idx_hnsw_params;

/* Builds the graph over the rows of d (inserted in row order with a seeded
 * level generator, so the graph is deterministic). The store must stay open
 * while the graph is used. */
idx_err idx_hnsw_build(const idx_dense *d, const idx_hnsw_params *p, idx_progress *progress,
                       idx_hnsw **out);
idx_err idx_hnsw_save(const idx_hnsw *h, const char *path);
/* Loads a graph written by idx_hnsw_save for store d (rows must match). */
idx_err idx_hnsw_open(const char *path, const idx_dense *d, unsigned flags, idx_hnsw **out);
void idx_hnsw_free(idx_hnsw *h);
void idx_hnsw_get_params(const idx_hnsw *h, idx_hnsw_params *p);
/* Approximate top-k of one query; ef 0 = the recorded ef_search (raised to k).
 * out[k] as idx_dense_search. Thread-safe. */
idx_err idx_hnsw_search(const idx_hnsw *h, const float *query, size_t k, uint32_t ef,
                        idx_dense_hit *out);

/* ------------------------------------------------------------------------ */
/* Fusion of candidate lists                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t doc_id;
    double score;
} idx_fuse_cand;

typedef enum {
    IDX_FUSE_MINMAX = 0, /* (s - min) / (max - min); all equal -> 1 */
    IDX_FUSE_ZSCORE = 1  /* (s - mean) / stddev; stddev 0 -> 1 (as min-max) */
} idx_fuse_norm;

/* Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009):
 * score(d) = sum over lists of 1 / (k + rank_l(d)), rank from 1, each list
 * in decreasing score order as given. k 0 = 60. A document repeated inside one
 * list counts at its best rank. Writes up to `cap` results to out sorted by
 * decreasing fused score (ties: smaller doc id), *n_out their number. */
idx_err idx_fuse_rrf(const idx_fuse_cand *const *lists, const size_t *lens, size_t nlists, double k,
                     idx_fuse_cand *out, size_t cap, size_t *n_out);
/* Normalised score fusion: each list's scores normalised (min-max or
 * z-score) within the list, then fused = sum_l weights[l] * norm_l(d); a
 * document missing from a list gets that list's minimum normalised value
 * (0 for min-max). weights NULL = all 1. */
idx_err idx_fuse_score(const idx_fuse_cand *const *lists, const size_t *lens, size_t nlists,
                       const double *weights, idx_fuse_norm norm, idx_fuse_cand *out, size_t cap,
                       size_t *n_out);

/* ------------------------------------------------------------------------ */
/* Embedders                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct idx_embedder idx_embedder;

typedef struct {
    const char *provider;     /* "openai" or "local" */
    const char *model;        /* openai: model name sent; local: model directory */
    const char *url;          /* openai: base URL; "/v1/embeddings" is appended */
    const char *api_key;      /* openai: key value (the CLI reads env/file), NULL = none */
    const char *api_key_file; /* openai: file holding the key (trailing space stripped) */
    uint32_t dim;             /* expected dimension; 0 = learn from the first answer */
    size_t batch;             /* texts per request / forward pass; 0 = 32 */
    int max_retries;          /* on 429, 5xx, timeouts and connection errors; <0 = 0, 0 = 4 */
    double timeout;           /* seconds per request; 0 = 60 */
    double backoff;           /* first retry delay in seconds, doubled each time; 0 = 0.5 */
    int normalize;            /* 1 = L2-normalise the returned vectors */
    const char *query_prefix; /* prepended to queries (e.g. "query: "); NULL = none */
    const char *doc_prefix;   /* prepended to documents (e.g. "passage: "); NULL = none */
    int threads;              /* local: encoder threads; 0 = 1 */
} idx_embedder_opts;

idx_err idx_embedder_new(const idx_embedder_opts *opts, idx_embedder **out);
void idx_embedder_free(idx_embedder *e);
/* 1 if idx_embedder_embed may be called from several threads at once on e:
 * the local provider (the native encoder is read-only once loaded); an openai
 * embedder holds one HTTP handle and is not. */
int idx_embedder_shareable(const idx_embedder *e);
/* The native encoder of a local embedder (borrowed; encoder/idx_encoder.h),
 * NULL for openai. */
struct idx_encoder *idx_embedder_encoder(const idx_embedder *e);
/* 0 until known (openai with dim 0 before the first call). */
uint32_t idx_embedder_dim(const idx_embedder *e);
/* The identity recorded in the manifest: {"provider","model","dim","normalize",
 * "query_prefix","doc_prefix"} (url kept for openai). New reference. */
json_t *idx_embedder_identity(const idx_embedder *e);

typedef enum { IDX_EMBED_DOC = 0, IDX_EMBED_QUERY = 1 } idx_embed_kind;
/* Embeds n texts (lens[i] bytes each; lens NULL = NUL-terminated) into
 * out[n*dim] (dim = idx_embedder_dim after the call; out must hold n*dim
 * floats, where dim is the expected dimension: call with dim known, or with
 * n = 1 first). Batches by opts.batch; retries transient failures. */
idx_err idx_embedder_embed(idx_embedder *e, idx_embed_kind kind, const char *const *texts,
                           const size_t *lens, size_t n, float *out);

/* Parses an OpenAI embeddings response body for n inputs of dimension dim
 * (dim 0 = take it from the first vector; *dim_out receives it) into
 * out[n*dim], honouring "index". Exposed for tests and fuzzing. out may be
 * NULL to only validate (then dim must be given or is learned). */
idx_err idx_embedder_parse_response(const char *body, size_t len, size_t n, uint32_t dim,
                                    float *out, uint32_t *dim_out);

/* ------------------------------------------------------------------------ */
/* The dense part of an index directory                                      */
/* ------------------------------------------------------------------------ */

/* Manifest part "dense":
 *   {"version":1, "file":"dense/vectors.vec", "type":"f32"|"i8-dim"|"i8-vec",
 *    "rows":N, "dim":D, "text":"title+text", "max_doc_bytes":B,
 *    "model":{identity of idx_embedder_identity},
 *    "hnsw":{"file":"dense/hnsw.hnsw","M":16,"ef_construction":200,"ef_search":64,"seed":42} (optional)}
 * Rows map to documents in order: one row per document, or several (passages)
 * with "chunk_bytes" > 0; a document's score is the best of its rows. */

typedef struct {
    idx_dense_type type;      /* storage */
    int hnsw;                 /* also build the HNSW graph */
    idx_hnsw_params hnsw_params;
    size_t max_doc_bytes;     /* bytes of title + " " + text embedded per document; 0 = 16384 */
    int incremental;          /* keep the vectors of an existing part with the same model, embed only new documents */
    size_t batch_docs;        /* documents per embedder call (progress granularity); 0 = 256 */
    size_t chunk_bytes;       /* 0 = one row per document; else rows of title + whole sentences of at
                                 most this many bytes (searches keep each document's best row) */
} idx_dense_build_opts;

/* Embeds the documents of INDEX/docs with emb and writes INDEX/dense (a new
 * directory published by rename) and the manifest part. *embedded (may be
 * NULL) receives the number of documents embedded in this call. */
idx_err idx_dense_index_build(const char *index_dir, idx_embedder *emb, const idx_dense_build_opts *opts,
                              idx_progress *progress, uint64_t *embedded);

typedef struct idx_dense_index idx_dense_index;
/* Opens the dense part (store, the HNSW graph when recorded, model identity). */
idx_err idx_dense_index_open(const char *index_dir, unsigned flags, idx_dense_index **out);
void idx_dense_index_close(idx_dense_index *x);
const idx_dense *idx_dense_index_store(const idx_dense_index *x);
const idx_hnsw *idx_dense_index_hnsw(const idx_dense_index *x); /* NULL if not built */
/* The recorded model identity (borrowed). */
const json_t *idx_dense_index_model(const idx_dense_index *x);
/* Fills embedder options from a recorded identity (strings borrowed from
 * model); the caller adds the API key. */
idx_err idx_embedder_opts_from_identity(const json_t *model, idx_embedder_opts *o);

/* How many rows to fetch so that k distinct documents are likely among them
 * (k when rows are documents; more when documents are chunked). */
size_t idx_dense_index_fetch(const idx_dense_index *x, size_t k);
/* Top-k documents for one query vector, as fusion candidates: exact (flat)
 * or through HNSW (use_hnsw, ef 0 = recorded). Rows of the same document
 * count once with their best score. *n receives at most k. */
idx_err idx_dense_index_search(const idx_dense_index *x, const float *query, size_t k, int use_hnsw,
                               uint32_t ef, idx_fuse_cand *out, size_t *n);

/* L2-normalises n vectors in place (zero vectors stay zero). */
void idx_dense_normalize(float *vecs, size_t n, uint32_t dim);

#ifdef __cplusplus
}
#endif
#endif
