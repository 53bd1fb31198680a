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

/* Title and text of one document, the text cut to max bytes at a UTF-8 boundary. */
static idx_err doc_parts(const idx_docs *d, uint64_t id, size_t max, idx_buf *title, idx_buf *body) {
    title->len = body->len = 0;
    const char *t;
    size_t tl;
    idx_err e = idx_docs_title(d, id, &t, &tl);
    if (!e && tl) e = idx_buf_append(title, t, tl < max ? tl : max);
    if (!e) e = idx_docs_text(d, id, 0, max, body);
    if (e) return e;
    if (body->len >= max && body->len > 0) {
        size_t st = body->len - 1;
        while (st > 0 && body->len - st < 4 && ((unsigned char)body->data[st] & 0xC0) == 0x80) st--;
        if (idx_utf8_charlen((const unsigned char *)body->data + st, body->len - st) != body->len - st) body->len = st;
    }
    return IDX_OK;
}

/* The passages of a batch: texts packed in one buffer (offsets until finished). */
typedef struct {
    idx_buf text;
    size_t n, cap;
    size_t *off, *len;
    const char **ptr;
    uint64_t *doc;
} passages;

static void passages_free(passages *p) {
    idx_buf_free(&p->text);
    free(p->off);
    free(p->len);
    free(p->ptr);
    free(p->doc);
}

static idx_err passage_add(passages *p, uint64_t doc, const idx_buf *title, const char *s, size_t n) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 512;
        idx_err e;
        if ((e = idx_xrealloc(&p->off, nc * sizeof *p->off)) || (e = idx_xrealloc(&p->len, nc * sizeof *p->len)) ||
            (e = idx_xrealloc(&p->ptr, nc * sizeof *p->ptr)) || (e = idx_xrealloc(&p->doc, nc * sizeof *p->doc)))
            return e;
        p->cap = nc;
    }
    size_t o = p->text.len;
    idx_err e = IDX_OK;
    if (title->len) {
        e = idx_buf_append(&p->text, title->data, title->len);
        if (!e && n) e = idx_buf_append(&p->text, " ", 1);
    }
    if (!e && n) e = idx_buf_append(&p->text, s, n);
    if (e) return e;
    p->off[p->n] = o;
    p->len[p->n] = p->text.len - o;
    p->doc[p->n++] = doc;
    return IDX_OK;
}

static idx_err passages_finish(passages *p) {
    idx_err e = idx_buf_append(&p->text, "", 1);
    if (e) return e;
    for (size_t i = 0; i < p->n; i++) p->ptr[i] = p->text.data + p->off[i];
    return IDX_OK;
}

/* One passage per document (chunk 0), or title + runs of whole sentences of
 * at most `chunk` bytes (a longer sentence is a passage of its own). A
 * sentence ends after . ! ? followed by white space, or at a newline. */
static idx_err split_doc(passages *p, uint64_t doc, const idx_buf *title, const idx_buf *body, size_t chunk) {
    const char *s = body->data ? body->data : "";
    size_t n = body->len;
    if (chunk == 0 || n <= chunk) return passage_add(p, doc, title, s, n);
    size_t cs = 0, i = 0, last_end = 0;
    while (i < n) {
        /* find the end of the sentence starting at i */
        size_t j = i;
        while (j < n) {
            char c = s[j++];
            if (c == '\n') break;
            if ((c == '.' || c == '!' || c == '?') && (j == n || s[j] == ' ' || s[j] == '\t' || s[j] == '\n')) break;
        }
        if (j - cs > chunk && last_end > cs) {
            idx_err e = passage_add(p, doc, title, s + cs, last_end - cs);
            if (e) return e;
            cs = last_end;
            while (cs < n && (s[cs] == ' ' || s[cs] == '\n' || s[cs] == '\t')) cs++;
        }
        last_end = j;
        i = j;
    }
    while (cs < n && (s[cs] == ' ' || s[cs] == '\n' || s[cs] == '\t')) cs++;
    if (cs < n || p->n == 0 || p->doc[p->n - 1] != doc) return passage_add(p, doc, title, s + cs, n - cs);
    return IDX_OK;
}

idx_err idx_dense_index_build(const char *index_dir, idx_embedder *emb, const idx_dense_build_opts *o,
                              idx_progress *progress, uint64_t *embedded) {
    idx_dense_build_opts def = {0};
    if (!o) o = &def;
    size_t max_bytes = o->max_doc_bytes ? o->max_doc_bytes : 16384;
    size_t bdocs = o->batch_docs ? o->batch_docs : 256;
    size_t chunk = o->chunk_bytes;
    json_t *man = NULL, *ident = NULL, *part = NULL;
    idx_docs *docs = NULL;
    idx_dense *old = NULL, *fresh = NULL;
    idx_dense_writer *w = NULL;
    idx_hnsw *h = NULL;
    char *final_dir = idx_path_join(index_dir, "dense"), *tmp = NULL, *vpath = NULL, *hpath = NULL, *opath = NULL;
    float *vecs = NULL, *one = NULL;
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
        if (json_integer_value(json_object_get(oldp, "chunk_bytes")) != (json_int_t)chunk) {
            e = idx_fail(IDX_ERR_INVALID, "%s: the dense part was built with another --chunk-bytes; rebuild it", index_dir);
            goto out;
        }
        /* rows map to documents in order, several rows per document when chunked */
        uint64_t prev = 0;
        for (uint64_t r = 0; r < idx_dense_rows(old); r++) {
            uint64_t d = idx_dense_row_doc(old, r);
            if (d >= ndocs || d < prev) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: row %llu maps to document %llu (out of order or beyond the %llu documents)",
                             opath, (unsigned long long)r, (unsigned long long)d, (unsigned long long)ndocs);
                goto out;
            }
            prev = d;
            start = d + 1;
        }
    }
    uint32_t dim = idx_embedder_dim(emb);
    if (old) {
        if (dim && dim != idx_dense_dim(old)) {
            e = idx_fail(IDX_ERR_INVALID, "embedder dimension %u differs from the stored %u", dim, idx_dense_dim(old));
            goto out;
        }
        dim = idx_dense_dim(old);
        if ((e = idx_dense_writer_new(dim, &w))) goto out;
        if ((e = idx_xmalloc((size_t)dim * sizeof(float), &one))) goto out;
        for (uint64_t r = 0; r < idx_dense_rows(old); r++) {
            uint64_t id = idx_dense_row_doc(old, r);
            if ((e = idx_dense_get(old, r, one)) || (e = idx_dense_writer_add(w, one, 1, &id))) goto out;
        }
    }
    passages ps = {0};
    idx_buf title = {0}, body = {0};
    for (uint64_t i = start; i < ndocs; i += bdocs) {
        size_t m = ndocs - i < bdocs ? (size_t)(ndocs - i) : bdocs;
        ps.n = 0;
        ps.text.len = 0;
        for (size_t j = 0; j < m && !e; j++) {
            e = doc_parts(docs, i + j, max_bytes, &title, &body);
            if (!e) e = split_doc(&ps, i + j, &title, &body, chunk);
        }
        if (e) break;
        if ((e = passages_finish(&ps))) break;
        size_t first = 0;
        if (dim == 0) {
            /* the first call learns the dimension */
            float *tmpv = NULL;
            if ((e = idx_xmalloc(IDX_DENSE_MAX_DIM * sizeof(float), &tmpv))) break;
            e = idx_embedder_embed(emb, IDX_EMBED_DOC, ps.ptr, ps.len, 1, tmpv);
            dim = idx_embedder_dim(emb);
            if (!e) e = idx_dense_writer_new(dim, &w);
            if (!e) e = idx_dense_writer_add(w, tmpv, 1, ps.doc);
            free(tmpv);
            if (e) break;
            first = 1;
        }
        size_t np = ps.n - first;
        if (!w && (e = idx_dense_writer_new(dim, &w))) break;
        if (np) {
            if ((e = idx_xrealloc(&vecs, np * (size_t)dim * sizeof(float)))) break;
            if ((e = idx_embedder_embed(emb, IDX_EMBED_DOC, ps.ptr + first, ps.len + first, np, vecs)) ||
                (e = idx_dense_writer_add(w, vecs, np, ps.doc + first)))
                break;
        }
        done += m;
        if (progress && (e = idx_progress_tick(progress, "embed", done, ndocs - start, "docs", 0))) break;
    }
    idx_buf_free(&title);
    idx_buf_free(&body);
    passages_free(&ps);
    if (e) goto out;
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
    if (part) json_object_set_new(part, "chunk_bytes", json_integer((json_int_t)chunk));
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

size_t idx_dense_index_fetch(const idx_dense_index *x, size_t k) {
    uint64_t rows = idx_dense_rows(x->store);
    if (rows == 0) return k;
    uint64_t docs = idx_dense_row_doc(x->store, rows - 1) + 1;
    if (docs >= rows) return k; /* one row per document */
    uint64_t per = (rows + docs - 1) / docs;
    uint64_t want = (uint64_t)k * (3 * per) + 16;
    return want < rows ? (size_t)want : (size_t)rows;
}

idx_err idx_dense_index_search(const idx_dense_index *x, const float *query, size_t k, int use_hnsw, uint32_t ef,
                               idx_fuse_cand *out, size_t *n) {
    *n = 0;
    if (k == 0) return IDX_OK;
    if (use_hnsw && !x->hnsw) return idx_fail(IDX_ERR_NOT_FOUND, "this index has no HNSW graph (build with --hnsw)");
    size_t kk = idx_dense_index_fetch(x, k);
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
