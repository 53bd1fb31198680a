/*
 * dense_index.c -- the dense part of an index directory: embedding the
 * documents of INDEX/docs into INDEX/dense/vectors.vec (plus the optional
 * HNSW graph), recording the model identity in the manifest so that queries
 * are embedded the same way, incremental embedding of documents added since,
 * and document-level search over the part. The manifest part is described in
 * retrieve/idx_dense.h; the files in retrieve/dense.c and retrieve/hnsw.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "idx_dense.h"
#include "idx_index.h"

#define VEC_FILE "vectors.vec"
#define HNSW_FILE "hnsw.hnsw"

struct idx_dense_index {
    idx_dense *store;
    idx_hnsw *hnsw;
    json_t *model;
    char *dir;
};

static const char *type_name(idx_dense_type t) {
    return t == IDX_DENSE_F32 ? "f32" : t == IDX_DENSE_I8_PER_DIM ? "i8-dim" : "i8-vec";
}

/* Compares the fields that decide how texts are embedded (not the URL). */
static int same_model(const json_t *a, const json_t *b) {
    static const char *keys[] = {"provider", "model", "dim", "normalize", "query_prefix", "doc_prefix"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_equal(json_object_get(a, keys[i]), json_object_get(b, keys[i]))) return 0;
    return 1;
}

/* title + " " + text of one document, cut to max bytes at a UTF-8 boundary. */
static idx_err doc_text(const idx_docs *d, uint64_t id, size_t max, idx_buf *out) {
    out->len = 0;
    const char *t;
    size_t tl;
    uint64_t len;
    idx_err e = idx_docs_title(d, id, &t, &tl);
    if (!e && tl) {
        if (tl > max) tl = max;
        e = idx_buf_append(out, t, tl);
        if (!e && out->len < max) e = idx_buf_append(out, " ", 1);
    }
    if (!e) e = idx_docs_len(d, id, &len);
    if (!e && out->len < max) e = idx_docs_text(d, id, 0, max - out->len, out);
    if (e) return e;
    if (out->len >= max && out->len > 0) {
        /* cut: drop a trailing partial UTF-8 character */
        size_t st = out->len - 1;
        while (st > 0 && out->len - st < 4 && ((unsigned char)out->data[st] & 0xC0) == 0x80) st--;
        if (idx_utf8_charlen((const unsigned char *)out->data + st, out->len - st) != out->len - st) out->len = st;
    }
    return idx_buf_append(out, "", 0);
}

idx_err idx_dense_index_build(const char *index_dir, idx_embedder *emb, const idx_dense_build_opts *o,
                              idx_progress *progress, uint64_t *embedded) {
    idx_dense_build_opts def = {0};
    if (!o) o = &def;
    size_t max_bytes = o->max_doc_bytes ? o->max_doc_bytes : 16384;
    size_t bdocs = o->batch_docs ? o->batch_docs : 256;
    json_t *man = NULL, *ident = NULL, *part = NULL;
    idx_docs *docs = NULL;
    idx_dense *old = NULL, *fresh = NULL;
    idx_dense_writer *w = NULL;
    idx_hnsw *h = NULL;
    char *final_dir = idx_path_join(index_dir, "dense"), *tmp = NULL, *vpath = NULL, *hpath = NULL, *opath = NULL;
    idx_buf *texts = NULL;
    const char **tp = NULL;
    size_t *tl = NULL;
    float *vecs = NULL, *one = NULL;
    uint64_t *ids = NULL;
    uint64_t done = 0;
    idx_err e = IDX_OK;
    if (embedded) *embedded = 0;
    if (!final_dir) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if ((e = idx_manifest_load(index_dir, &man))) goto out;
    if ((e = idx_docs_open(index_dir, 0, &docs))) goto out;
    uint64_t ndocs = idx_docs_count(docs);
    if (ndocs == 0) {
        e = idx_fail(IDX_ERR_EMPTY, "%s: the index has no documents to embed", index_dir);
        goto out;
    }
    /* Existing part: reuse its rows when the model is the same. */
    uint64_t start = 0;
    json_t *oldp = idx_manifest_part(man, "dense");
    if (o->incremental && oldp) {
        json_t *om = json_object_get(oldp, "model");
        json_t *cur = idx_embedder_identity(emb);
        /* the recorded dim is learned; compare with the embedder's once known */
        int dim_unknown = idx_embedder_dim(emb) == 0;
        if (dim_unknown && cur) json_object_set(cur, "dim", json_object_get(om, "dim"));
        int same = cur && same_model(om, cur);
        json_decref(cur);
        if (!same) {
            e = idx_fail(IDX_ERR_INVALID, "%s: the dense part was built with another model (%s); rebuild it instead of adding to it",
                         index_dir, json_string_value(json_object_get(om, "model")));
            goto out;
        }
        if (!(opath = idx_path_join(final_dir, VEC_FILE))) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
        if ((e = idx_dense_open(opath, IDX_FILE_VERIFY, &old))) goto out;
        start = idx_dense_rows(old);
        if (start > ndocs) {
            e = idx_fail(IDX_ERR_CORRUPT, "%s: the dense part has %llu rows for %llu documents", opath,
                         (unsigned long long)start, (unsigned long long)ndocs);
            goto out;
        }
        for (uint64_t r = 0; r < start; r++)
            if (idx_dense_row_doc(old, r) != r) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: row %llu does not map to document %llu", opath,
                             (unsigned long long)r, (unsigned long long)r);
                goto out;
            }
    }
    texts = calloc(bdocs, sizeof *texts);
    tp = calloc(bdocs, sizeof *tp);
    tl = calloc(bdocs, sizeof *tl);
    ids = calloc(bdocs, sizeof *ids);
    if (!texts || !tp || !tl || !ids) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    uint32_t dim = idx_embedder_dim(emb);
    if (old) {
        if (dim && dim != idx_dense_dim(old)) {
            e = idx_fail(IDX_ERR_INVALID, "embedder dimension %u differs from the stored %u", dim, idx_dense_dim(old));
            goto out;
        }
        dim = idx_dense_dim(old);
        if ((e = idx_dense_writer_new(dim, &w))) goto out;
        if ((e = idx_xmalloc((size_t)dim * sizeof(float), &one))) goto out;
        for (uint64_t r = 0; r < start; r++) {
            uint64_t id = r;
            if ((e = idx_dense_get(old, r, one)) || (e = idx_dense_writer_add(w, one, 1, &id))) goto out;
        }
    }
    for (uint64_t i = start; i < ndocs; i += bdocs) {
        size_t m = ndocs - i < bdocs ? (size_t)(ndocs - i) : bdocs;
        for (size_t j = 0; j < m; j++) {
            if ((e = doc_text(docs, i + j, max_bytes, &texts[j]))) goto out;
            tp[j] = texts[j].data ? texts[j].data : "";
            tl[j] = texts[j].len;
            ids[j] = i + j;
        }
        if (dim == 0) {
            /* first call learns the dimension */
            float *tmpv = NULL;
            if ((e = idx_xmalloc(IDX_DENSE_MAX_DIM * sizeof(float), &tmpv))) goto out;
            e = idx_embedder_embed(emb, IDX_EMBED_DOC, tp, tl, 1, tmpv);
            dim = idx_embedder_dim(emb);
            if (!e && (e = idx_dense_writer_new(dim, &w)) == IDX_OK) e = idx_dense_writer_add(w, tmpv, 1, ids);
            free(tmpv);
            if (e) goto out;
            if (m > 1) {
                if ((e = idx_xmalloc(bdocs * (size_t)dim * sizeof(float), &vecs))) goto out;
                if ((e = idx_embedder_embed(emb, IDX_EMBED_DOC, tp + 1, tl + 1, m - 1, vecs)) ||
                    (e = idx_dense_writer_add(w, vecs, m - 1, ids + 1)))
                    goto out;
            }
        } else {
            if (!w && (e = idx_dense_writer_new(dim, &w))) goto out;
            if (!vecs && (e = idx_xmalloc(bdocs * (size_t)dim * sizeof(float), &vecs))) goto out;
            if ((e = idx_embedder_embed(emb, IDX_EMBED_DOC, tp, tl, m, vecs)) ||
                (e = idx_dense_writer_add(w, vecs, m, ids)))
                goto out;
        }
        done += m;
        if (progress && (e = idx_progress_tick(progress, "embed", done, ndocs - start, "docs", 0))) goto out;
    }
    if (progress) idx_progress_tick(progress, "embed", done, ndocs - start, "docs", 1);
    if (!w) {
        /* nothing new and no old part (cannot happen: ndocs > 0) */
        e = idx_fail(IDX_ERR_INTERNAL, "no vectors");
        goto out;
    }
    if ((e = idx_dir_make_tmp(final_dir, &tmp))) goto out;
    if (!(vpath = idx_path_join(tmp, VEC_FILE)) || !(hpath = idx_path_join(tmp, HNSW_FILE))) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((e = idx_dense_writer_commit(w, vpath, o->type))) goto out;
    idx_dense_close(old);
    old = NULL;
    ident = idx_embedder_identity(emb);
    part = json_pack("{s:i, s:s, s:s, s:I, s:i, s:s, s:I, s:O}", "version", 1, "file", "dense/" VEC_FILE, "type",
                     type_name(o->type), "rows", (json_int_t)idx_dense_writer_rows(w), "dim", (int)dim, "text",
                     "title+text", "max_doc_bytes", (json_int_t)max_bytes, "model", ident);
    if (!ident || !part) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    if (o->hnsw) {
        if ((e = idx_dense_open(vpath, 0, &fresh))) goto out;
        if ((e = idx_hnsw_build(fresh, &o->hnsw_params, progress, &h))) goto out;
        if ((e = idx_hnsw_save(h, hpath))) goto out;
        idx_hnsw_params hp;
        idx_hnsw_get_params(h, &hp);
        json_object_set_new(part, "hnsw", json_pack("{s:s, s:i, s:i, s:i, s:I}", "file", "dense/" HNSW_FILE, "M",
                                                    (int)hp.M, "ef_construction", (int)hp.ef_construction,
                                                    "ef_search", (int)hp.ef_search, "seed", (json_int_t)hp.seed));
    }
    if ((e = idx_dir_publish(tmp, final_dir, 1))) goto out;
    free(tmp);
    tmp = NULL;
    json_t *parts = json_object_get(man, "parts");
    if (!json_is_object(parts)) {
        parts = json_object();
        json_object_set_new(man, "parts", parts);
    }
    json_object_set(parts, "dense", part);
    if ((e = idx_manifest_save(index_dir, man))) goto out;
    if (embedded) *embedded = done;
out:
    if (tmp) {
        idx_rmtree(tmp);
        free(tmp);
    }
    for (size_t j = 0; texts && j < bdocs; j++) idx_buf_free(&texts[j]);
    free(texts);
    free(tp);
    free(tl);
    free(ids);
    free(vecs);
    free(one);
    idx_hnsw_free(h);
    idx_dense_close(fresh);
    idx_dense_close(old);
    idx_dense_writer_free(w);
    idx_docs_close(docs);
    json_decref(part);
    json_decref(ident);
    json_decref(man);
    free(final_dir);
    free(vpath);
    free(hpath);
    free(opath);
    return e;
}

/* ------------------------------------------------------------------------ */

void idx_dense_index_close(idx_dense_index *x) {
    if (!x) return;
    idx_hnsw_free(x->hnsw);
    idx_dense_close(x->store);
    json_decref(x->model);
    free(x->dir);
    free(x);
}

/* Resolves a file named in the manifest, refusing paths that leave the index. */
static idx_err part_path(const char *index_dir, json_t *part, const char *key, char **out) {
    const char *f = json_string_value(json_object_get(part, key));
    if (!f || !*f || f[0] == '/' || strstr(f, ".."))
        return idx_fail(IDX_ERR_CORRUPT, "%s/manifest.json: parts.dense.%s is missing or not a path inside the index",
                        index_dir, key);
    *out = idx_path_join(index_dir, f);
    return *out ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
}

idx_err idx_dense_index_open(const char *index_dir, unsigned flags, idx_dense_index **out) {
    json_t *man = NULL;
    idx_err e = idx_manifest_load(index_dir, &man);
    if (e) return e;
    idx_dense_index *x = calloc(1, sizeof *x);
    char *p = NULL;
    if (!x) {
        json_decref(man);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    json_t *part = idx_manifest_part(man, "dense");
    if (!json_is_object(part)) {
        e = idx_fail(IDX_ERR_NOT_FOUND, "%s has no dense part (run `idx embed %s --model ...`)", index_dir, index_dir);
        goto fail;
    }
    json_t *model = json_object_get(part, "model");
    if (!json_is_object(model) || !json_is_string(json_object_get(model, "provider"))) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s/manifest.json: parts.dense.model is missing", index_dir);
        goto fail;
    }
    x->model = json_incref(model);
    if ((e = part_path(index_dir, part, "file", &p))) goto fail;
    if ((e = idx_dense_open(p, flags, &x->store))) goto fail;
    json_t *dimj = json_object_get(model, "dim");
    if (json_integer_value(dimj) != (json_int_t)idx_dense_dim(x->store)) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: dimension %u differs from the manifest's model dim", p, idx_dense_dim(x->store));
        goto fail;
    }
    free(p);
    p = NULL;
    json_t *hj = json_object_get(part, "hnsw");
    if (json_is_object(hj)) {
        if ((e = part_path(index_dir, hj, "file", &p))) goto fail;
        if ((e = idx_hnsw_open(p, x->store, flags, &x->hnsw))) goto fail;
    }
    free(p);
    json_decref(man);
    *out = x;
    return IDX_OK;
fail:
    free(p);
    json_decref(man);
    idx_dense_index_close(x);
    return e;
}

const idx_dense *idx_dense_index_store(const idx_dense_index *x) { return x->store; }
const idx_hnsw *idx_dense_index_hnsw(const idx_dense_index *x) { return x->hnsw; }
const json_t *idx_dense_index_model(const idx_dense_index *x) { return x->model; }

idx_err idx_embedder_opts_from_identity(const json_t *m, idx_embedder_opts *o) {
    memset(o, 0, sizeof *o);
    o->provider = json_string_value(json_object_get(m, "provider"));
    o->model = json_string_value(json_object_get(m, "model"));
    o->url = json_string_value(json_object_get(m, "url"));
    json_int_t dim = json_integer_value(json_object_get(m, "dim"));
    if (!o->provider || !o->model || dim <= 0 || dim > IDX_DENSE_MAX_DIM)
        return idx_fail(IDX_ERR_CORRUPT, "dense model identity lacks provider, model or a valid dim");
    o->dim = (uint32_t)dim;
    o->normalize = json_is_true(json_object_get(m, "normalize"));
    const char *qp = json_string_value(json_object_get(m, "query_prefix"));
    const char *dp = json_string_value(json_object_get(m, "doc_prefix"));
    o->query_prefix = qp && *qp ? qp : NULL;
    o->doc_prefix = dp && *dp ? dp : NULL;
    return IDX_OK;
}

idx_err idx_dense_index_search(const idx_dense_index *x, const float *query, size_t k, int use_hnsw, uint32_t ef,
                               idx_fuse_cand *out, size_t *n) {
    *n = 0;
    if (k == 0) return IDX_OK;
    if (use_hnsw && !x->hnsw) return idx_fail(IDX_ERR_NOT_FOUND, "this index has no HNSW graph (build with --hnsw)");
    /* rows are documents here; ask for a few more in case several rows share a document */
    size_t kk = k * 2 + 8;
    idx_dense_hit *hits = malloc(kk * sizeof *hits);
    if (!hits) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = use_hnsw ? idx_hnsw_search(x->hnsw, query, kk, ef, hits)
                         : idx_dense_search(x->store, query, 1, kk, NULL, hits);
    if (!e) {
        for (size_t i = 0; i < kk && *n < k; i++) {
            if (hits[i].row == UINT64_MAX) break;
            int dup = 0;
            for (size_t j = 0; j < *n; j++)
                if (out[j].doc_id == hits[i].doc_id) dup = 1;
            if (!dup) out[(*n)++] = (idx_fuse_cand){hits[i].doc_id, hits[i].score};
        }
    }
    free(hits);
    return e;
}
