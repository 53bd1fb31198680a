/*
 * hybrid.c -- dense and hybrid retrieval over an index directory (see
 * retrieve/idx_hybrid.h): batch query embedding with the recorded model,
 * exact search over all queries at once (one blocked sgemm pass) or HNSW per
 * query, BM25 through the sparse part, and fusion (retrieve/fuse.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense_internal.h"
#include "idx_hybrid.h"
#include "idx_retrieve.h"

struct idx_hybrid {
    idx_dense_index *dense;
    idx_embedder *emb;
    idx_docs *docs;
    idx_sparse *sparse;
    idx_sparse_searcher *searcher;
    char **extra; /* external ids of sparse-only documents: doc id ndocs + i */
    size_t nextra, capextra;
    const idx_hybrid *base; /* a clone borrows dense, docs, sparse (and a local embedder) from base */
    int own_emb;
    char *url, *key, *key_file; /* what an openai embedder of a clone needs */
};

static void free_secret(char *s) {
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

void idx_hybrid_close(idx_hybrid *h) {
    if (!h) return;
    for (size_t i = 0; i < h->nextra; i++) free(h->extra[i]);
    free(h->extra);
    idx_sparse_searcher_free(h->searcher);
    if (h->own_emb) idx_embedder_free(h->emb);
    if (!h->base) {
        idx_sparse_close(h->sparse);
        idx_docs_close(h->docs);
        idx_dense_index_close(h->dense);
    }
    free(h->url);
    free_secret(h->key);
    free(h->key_file);
    free(h);
}

/* An embedder for the recorded model, with the overrides kept in h. */
static idx_err new_embedder(idx_hybrid *h, idx_embedder **out) {
    idx_embedder_opts eo;
    idx_err e = idx_embedder_opts_from_identity(idx_dense_index_model(h->dense), &eo);
    if (e) return e;
    if (h->url) eo.url = h->url;
    eo.api_key = h->key;
    eo.api_key_file = h->key_file;
    return idx_embedder_new(&eo, out);
}

static int dup_opt(const char *s, char **out) {
    *out = NULL;
    return s && !(*out = strdup(s));
}

idx_err idx_hybrid_open(const char *index_dir, idx_retrieve_mode mode, const char *url, const char *api_key,
                        const char *api_key_file, idx_hybrid **out) {
    if (mode != IDX_RETRIEVE_DENSE && mode != IDX_RETRIEVE_HYBRID)
        return idx_fail(IDX_ERR_INVALID, "hybrid: mode must be dense or hybrid");
    idx_hybrid *h = calloc(1, sizeof *h);
    if (!h) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (dup_opt(url, &h->url) || dup_opt(api_key, &h->key) || dup_opt(api_key_file, &h->key_file)) {
        idx_hybrid_close(h);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    idx_err e = idx_dense_index_open(index_dir, 0, &h->dense);
    if (!e) e = idx_docs_open(index_dir, 0, &h->docs);
    if (!e) {
        e = new_embedder(h, &h->emb);
        h->own_emb = !e;
    }
    if (!e) {
        const idx_dense *st = idx_dense_index_store(h->dense);
        uint64_t rows = idx_dense_rows(st);
        if (rows && idx_dense_row_doc(st, rows - 1) >= idx_docs_count(h->docs))
            e = idx_fail(IDX_ERR_CORRUPT, "%s: the dense part maps rows to documents the index does not have", index_dir);
    }
    if (!e && mode == IDX_RETRIEVE_HYBRID) {
        e = idx_sparse_open(index_dir, 0, &h->sparse);
        if (!e) e = idx_sparse_searcher_new(h->sparse, &h->searcher);
    }
    if (e) {
        idx_hybrid_close(h);
        return e;
    }
    *out = h;
    return IDX_OK;
}

idx_err idx_hybrid_clone(const idx_hybrid *base, idx_hybrid **out) {
    while (base->base) base = base->base;
    idx_hybrid *h = calloc(1, sizeof *h);
    if (!h) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    h->base = base;
    h->dense = base->dense;
    h->docs = base->docs;
    h->sparse = base->sparse;
    idx_err e = IDX_OK;
    if (dup_opt(base->url, &h->url) || dup_opt(base->key, &h->key) || dup_opt(base->key_file, &h->key_file))
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e && idx_embedder_shareable(base->emb)) {
        h->emb = base->emb;
    } else if (!e) {
        e = new_embedder(h, &h->emb);
        h->own_emb = !e;
    }
    if (!e && h->sparse) e = idx_sparse_searcher_new(h->sparse, &h->searcher);
    if (e) {
        idx_hybrid_close(h);
        return e;
    }
    *out = h;
    return IDX_OK;
}

idx_embedder *idx_hybrid_embedder(const idx_hybrid *h) { return h->emb; }

int idx_hybrid_has_sparse(const idx_hybrid *h) { return h->sparse != NULL; }

const idx_docs *idx_hybrid_docs(const idx_hybrid *h) { return h->docs; }

idx_err idx_hybrid_doc_id(const idx_hybrid *h, uint64_t doc, const char **id, size_t *len) {
    uint64_t n = idx_docs_count(h->docs);
    if (doc < n) return idx_docs_id(h->docs, doc, id, len);
    if (doc - n >= h->nextra) return idx_fail(IDX_ERR_INVALID, "no document %llu", (unsigned long long)doc);
    *id = h->extra[doc - n];
    *len = strlen(*id);
    return IDX_OK;
}

/* Exact dense score of document doc (its best row; rows are sorted by
 * document), -INFINITY when it has no row. */
static float doc_score(const idx_dense *st, const float *q, uint64_t doc, float *scratch) {
    uint64_t lo = 0, hi = idx_dense_rows(st);
    while (lo < hi) { /* first row with row_doc >= doc */
        uint64_t mid = lo + (hi - lo) / 2;
        if (idx_dense_row_doc(st, mid) < doc) lo = mid + 1;
        else hi = mid;
    }
    float best = -INFINITY;
    uint32_t dim = idx_dense_dim(st);
    for (uint64_t r = lo; r < idx_dense_rows(st) && idx_dense_row_doc(st, r) == doc; r++) {
        if (idx_dense_get(st, r, scratch)) break;
        float s = idx_dense_dot(q, scratch, dim);
        if (s > best) best = s;
    }
    return best;
}

/* Maps a sparse hit to a document id of INDEX/docs (or an extra id). */
static idx_err map_sparse(idx_hybrid *h, const idx_sparse_hit *hit, uint64_t *doc) {
    const idx_docs *st = idx_sparse_segment_store(h->sparse, hit->segment);
    if (st == h->docs) {
        *doc = hit->doc;
        return IDX_OK;
    }
    const char *id;
    size_t len;
    idx_err e = idx_docs_id(st, hit->doc, &id, &len);
    if (e) return e;
    e = idx_docs_lookup(h->docs, id, len, doc);
    if (e != IDX_ERR_NOT_FOUND) return e;
    idx_errclear();
    uint64_t n = idx_docs_count(h->docs);
    for (size_t i = 0; i < h->nextra; i++)
        if (strlen(h->extra[i]) == len && !memcmp(h->extra[i], id, len)) {
            *doc = n + i;
            return IDX_OK;
        }
    if (h->nextra == h->capextra) {
        size_t nc = h->capextra ? h->capextra * 2 : 16;
        char **x = realloc(h->extra, nc * sizeof *x);
        if (!x) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        h->extra = x;
        h->capextra = nc;
    }
    if (!(h->extra[h->nextra] = strndup(id, len))) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    *doc = n + h->nextra++;
    return IDX_OK;
}

idx_err idx_hybrid_search(idx_hybrid *h, const char *const *queries, size_t nq, size_t k, const idx_hybrid_opts *o,
                          idx_fuse_cand *out, size_t *counts) {
    idx_hybrid_opts def = {0};
    if (!o) o = &def;
    if (k == 0) return idx_fail(IDX_ERR_INVALID, "k must be at least 1");
    if (o->mode == IDX_RETRIEVE_HYBRID && !h->sparse)
        return idx_fail(IDX_ERR_INVALID, "hybrid search on a handle opened for dense only");
    if (o->mode != IDX_RETRIEVE_DENSE && o->mode != IDX_RETRIEVE_HYBRID)
        return idx_fail(IDX_ERR_INVALID, "mode must be dense or hybrid");
    double w = o->dense_weight > 0 ? o->dense_weight : 0.5;
    if (w > 1) return idx_fail(IDX_ERR_INVALID, "dense weight must be in (0, 1]");
    size_t depth = o->mode == IDX_RETRIEVE_DENSE ? k : (o->depth ? o->depth : (k > 100 ? k : 100));
    size_t fetch = idx_dense_index_fetch(h->dense, depth); /* rows, >= depth when documents are chunked */
    const idx_dense *store = idx_dense_index_store(h->dense);
    uint32_t dim = idx_dense_dim(store);
    float *qv = NULL;
    idx_dense_hit *dh = NULL;
    idx_fuse_cand *dl = NULL, *sl = NULL;
    float *scratch = NULL;
    idx_sparse_hit *sh = NULL;
    size_t bytes;
    idx_err e = IDX_OK;
    if (idx_mul_overflow(nq, (size_t)dim * sizeof(float), &bytes)) return idx_fail(IDX_ERR_LIMIT, "too many queries");
    if ((e = idx_xmalloc(bytes, &qv))) return e;
    if (idx_mul_overflow(nq, fetch * sizeof *dh, &bytes) || (e = idx_xmalloc(bytes, &dh))) goto done;
    if ((e = idx_xmalloc(2 * depth * sizeof *dl, &dl)) || (e = idx_xmalloc((size_t)dim * sizeof(float), &scratch)) || (e = idx_xmalloc(depth * sizeof *sl, &sl)) ||
        (e = idx_xmalloc(depth * sizeof *sh, &sh)))
        goto done;
    if ((e = idx_embedder_embed(h->emb, IDX_EMBED_QUERY, queries, NULL, nq, qv))) goto done;
    /* dense side: all queries at once for the exact search */
    if (o->use_hnsw) {
        const idx_hnsw *g = idx_dense_index_hnsw(h->dense);
        if (!g) {
            e = idx_fail(IDX_ERR_NOT_FOUND, "this index has no HNSW graph (idx embed --hnsw)");
            goto done;
        }
        for (size_t i = 0; i < nq && !e; i++) e = idx_hnsw_search(g, qv + i * dim, fetch, o->ef, dh + i * fetch);
    } else {
        e = idx_dense_search(store, qv, nq, fetch, NULL, dh);
    }
    if (e) goto done;
    idx_sparse_params sp;
    if (h->sparse) {
        idx_sparse_params_default(&sp);
        sp.k = depth;
        if (o->bm25_k1 > 0) sp.k1 = o->bm25_k1;
        if (o->bm25_b > 0) sp.b = o->bm25_b;
    }
    for (size_t i = 0; i < nq; i++) {
        size_t nd = 0, ns = 0;
        for (size_t j = 0; j < fetch && nd < depth; j++) {
            const idx_dense_hit *x = &dh[i * fetch + j];
            if (x->row == UINT64_MAX) break;
            int dup = 0; /* a document's best passage only */
            if (fetch > depth)
                for (size_t t = 0; t < nd && !dup; t++) dup = dl[t].doc_id == x->doc_id;
            if (!dup) dl[nd++] = (idx_fuse_cand){x->doc_id, x->score};
        }
        if (o->mode == IDX_RETRIEVE_DENSE) {
            counts[i] = nd < k ? nd : k;
            memcpy(out + i * k, dl, counts[i] * sizeof *dl);
            continue;
        }
        e = idx_sparse_search(h->searcher, queries[i], strlen(queries[i]), &sp, sh, &ns, NULL);
        if (e == IDX_ERR_LIMIT) { /* too many terms for BM25: the dense side alone */
            idx_errclear();
            e = IDX_OK;
            ns = 0;
        }
        if (e) goto done;
        for (size_t j = 0; j < ns; j++) {
            uint64_t doc;
            if ((e = map_sparse(h, &sh[j], &doc))) goto done;
            sl[j] = (idx_fuse_cand){doc, sh[j].score};
        }
        if (o->fusion != IDX_FUSION_RRF) {
            /* score fusion: every BM25 candidate gets its exact dense score too */
            for (size_t j = 0; j < ns; j++) {
                int found = 0;
                for (size_t t = 0; t < nd && !found; t++) found = dl[t].doc_id == sl[j].doc_id;
                if (found) continue;
                float sc = doc_score(store, qv + i * dim, sl[j].doc_id, scratch);
                if (isfinite(sc)) dl[nd++] = (idx_fuse_cand){sl[j].doc_id, sc};
            }
        }
        const idx_fuse_cand *lists[2] = {sl, dl};
        size_t lens[2] = {ns, nd};
        if (o->fusion == IDX_FUSION_RRF)
            e = idx_fuse_rrf(lists, lens, 2, o->rrf_k, out + i * k, k, &counts[i]);
        else {
            double wts[2] = {1 - w, w};
            e = idx_fuse_score(lists, lens, 2, wts, o->fusion == IDX_FUSION_MINMAX ? IDX_FUSE_MINMAX : IDX_FUSE_ZSCORE,
                               out + i * k, k, &counts[i]);
        }
        if (e) goto done;
    }
done:
    free(scratch);
    free(qv);
    free(dh);
    free(dl);
    free(sl);
    free(sh);
    return e;
}
