/*
 * routes_dense.c -- dense and hybrid retrieval in POST /v1/retrieve
 * ("mode": "dense" | "hybrid"), with the answers of `idx retrieve --mode
 * dense|hybrid` on the same index (retrieve/idx_hybrid.h does the work for
 * both), and the dense state every served index with a dense part keeps.
 *
 * Request (the fields of the sparse mode, plus):
 *   {"index", "query" | "queries", "k", "mode": "dense" | "hybrid",
 *    "fusion": "zscore" | "minmax" | "rrf"   (hybrid; default zscore, as the CLI),
 *    "weight": W in (0, 1]                   (dense weight of score fusion; 0.5),
 *    "rrf_k": K > 0                          (60), "depth": N (candidates per side; max(k, 100)),
 *    "dense": {"hnsw": bool, "ef": N}        (search the HNSW graph),
 *    "sparse": {"k1", "b"}, "snippet": bytes, "with_text": bool}
 * Hits: rank, id, score, title, snippet (the first `snippet` bytes of the
 * document: a dense hit has no matched terms to centre on), document, start,
 * end and text, as in the sparse mode. A batch ("queries") is embedded and
 * searched in groups of 32 (one sgemm pass each), with the deadline checked
 * between groups.
 *
 * Threads: idx_hybrid handles are not thread-safe (a BM25 searcher and a
 * cache of ids inside), so each index keeps one handle opened with the index
 * (dense part, model, document store, sparse part) and a stack of clones
 * (idx_hybrid_clone: they borrow all of that, a local encoder included, and
 * own only a searcher); a request pops a clone or makes one, and pushes it
 * back, so there are at most as many clones as requests ever ran at once.
 * A dense part whose model cannot be loaded does not stop the index from
 * being served: dense requests get 503 with the reason.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idx_encoder.h"
#include "idx_hybrid.h"
#include "server_int.h"

#define DENSE_MAX_K 1000
#define DENSE_GROUP 32
#define LIT(b, s) idx_buf_append((b), (s), sizeof(s) - 1)

struct idx_server_dense {
    idx_hybrid *base; /* NULL when the part could not be opened: err says why */
    char *err;
    char *model_name; /* base name of the recorded model (local models only) */
    idx_encoder *enc; /* borrowed from base's embedder (local models only) */
    pthread_mutex_t mu;
    idx_hybrid **pool;
    size_t n, cap;
};

void idx_server_dense_free(struct idx_server_dense *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) idx_hybrid_close(d->pool[i]);
    free(d->pool);
    idx_hybrid_close(d->base);
    pthread_mutex_destroy(&d->mu);
    free(d->err);
    free(d->model_name);
    free(d);
}

idx_err idx_server_dense_open(idx_server_index *ix) {
    if (!ix->manifest || !idx_manifest_part(ix->manifest, "dense")) return IDX_OK;
    struct idx_server_dense *d = calloc(1, sizeof *d);
    if (!d) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&d->mu, NULL);
    idx_retrieve_mode mode = ix->sparse ? IDX_RETRIEVE_HYBRID : IDX_RETRIEVE_DENSE;
    idx_err e = idx_hybrid_open(ix->dir, mode, NULL, NULL, NULL, &d->base);
    if (e) {
        const char *m = idx_errmsg();
        d->err = strdup(m && *m ? m : idx_strerror(e));
        d->base = NULL;
        idx_errclear();
        if (!d->err) {
            idx_server_dense_free(d);
            return idx_fail(IDX_ERR_NOMEM, "out of memory");
        }
    } else {
        d->enc = idx_embedder_encoder(idx_hybrid_embedder(d->base));
        if (d->enc) {
            /* the model's name: the base name of the directory it was recorded with */
            const char *path = NULL;
            idx_dense_index *x = NULL;
            if (!idx_dense_index_open(ix->dir, 0, &x)) {
                path = json_string_value(json_object_get(idx_dense_index_model(x), "model"));
                if (path) {
                    size_t n = strlen(path);
                    while (n > 1 && path[n - 1] == '/') n--;
                    size_t b = n;
                    while (b > 0 && path[b - 1] != '/') b--;
                    d->model_name = strndup(path + b, n - b);
                }
                idx_dense_index_close(x);
            }
            idx_errclear();
            if (!d->model_name) d->model_name = strdup(ix->name);
            if (!d->model_name) {
                idx_server_dense_free(d);
                return idx_fail(IDX_ERR_NOMEM, "out of memory");
            }
        }
    }
    ix->dense = d;
    return IDX_OK;
}

struct idx_encoder *idx_server_dense_encoder(const idx_server_index *ix, const char **model_name) {
    if (!ix->dense || !ix->dense->enc) return NULL;
    *model_name = ix->dense->model_name;
    return ix->dense->enc;
}

static idx_err pool_get(struct idx_server_dense *d, idx_hybrid **h) {
    pthread_mutex_lock(&d->mu);
    *h = d->n ? d->pool[--d->n] : NULL;
    pthread_mutex_unlock(&d->mu);
    return *h ? IDX_OK : idx_hybrid_clone(d->base, h);
}

static void pool_put(struct idx_server_dense *d, idx_hybrid *h) {
    pthread_mutex_lock(&d->mu);
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        idx_hybrid **v = cap <= 1024 ? realloc(d->pool, cap * sizeof *v) : NULL;
        if (!v) {
            pthread_mutex_unlock(&d->mu);
            idx_hybrid_close(h);
            return;
        }
        d->pool = v;
        d->cap = cap;
    }
    d->pool[d->n++] = h;
    pthread_mutex_unlock(&d->mu);
}

/* Appends {"query":...,"hits":[...]} of one query. */
static idx_err write_hits(idx_hybrid *h, const char *query, size_t qlen, const idx_fuse_cand *res, size_t n,
                          size_t snip, int with_text, idx_buf *out) {
    const idx_docs *docs = idx_hybrid_docs(h);
    uint64_t ndocs = idx_docs_count(docs);
    idx_buf text = {0};
    idx_err e = LIT(out, "{\"query\":");
    if (!e) e = idx_server_buf_str(out, query, qlen);
    if (!e) e = LIT(out, ",\"hits\":[");
    for (size_t i = 0; !e && i < n; i++) {
        const char *id = "", *title = "";
        size_t il = 0, tl = 0;
        uint64_t dl = 0, doc = res[i].doc_id;
        text.len = 0;
        if ((e = idx_hybrid_doc_id(h, doc, &id, &il))) break;
        if (doc < ndocs) { /* else a document only a later sparse segment has: its id alone */
            if ((e = idx_docs_title(docs, doc, &title, &tl)) || (e = idx_docs_len(docs, doc, &dl))) break;
            size_t want = with_text ? (size_t)dl : (snip < dl ? snip : (size_t)dl);
            if (want && (e = idx_docs_text(docs, doc, 0, want, &text))) break;
        }
        size_t sl = text.len < snip ? text.len : snip;
        while (sl > 0 && sl < text.len && ((unsigned char)text.data[sl] & 0xC0) == 0x80) sl--;
        e = idx_buf_printf(out, "%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
        if (!e) e = idx_server_buf_str(out, id, il);
        if (!e) e = LIT(out, ",\"score\":");
        if (!e) e = idx_server_buf_real(out, res[i].score);
        if (!e) e = LIT(out, ",\"title\":");
        if (!e) e = idx_server_buf_str(out, title, tl);
        if (!e) e = LIT(out, ",\"snippet\":");
        if (!e) { /* as the sparse snippet: on one line */
            char *sn = malloc(sl + 1);
            if (!sn) {
                e = idx_fail(IDX_ERR_NOMEM, "out of memory");
                break;
            }
            for (size_t j = 0; j < sl; j++) {
                char ch = text.data[j];
                sn[j] = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : ch;
            }
            e = idx_server_buf_str(out, sn, sl);
            free(sn);
        }
        if (!e) e = LIT(out, ",\"document\":");
        if (!e) e = idx_server_buf_str(out, id, il);
        if (!e) e = idx_buf_printf(out, ",\"start\":0,\"end\":%llu", (unsigned long long)dl);
        if (!e && with_text) {
            e = LIT(out, ",\"text\":");
            if (!e) e = idx_server_buf_str(out, text.data ? text.data : "", text.len);
        }
        if (!e) e = LIT(out, "}");
    }
    idx_buf_free(&text);
    return e ? e : LIT(out, "]}");
}

static int get_real(idx_server_ctx *c, json_t *obj, const char *key, double lo, int lo_open, double hi, double *v) {
    json_t *j = json_object_get(obj, key);
    if (!j) return 1;
    double x = json_is_number(j) ? json_number_value(j) : -1e308;
    if (!json_is_number(j) || x > hi || (lo_open ? !(x > lo) : !(x >= lo))) {
        idx_server_error(c, 400, "bad_request", "field '%s' must be a number in %s%g, %g]", key, lo_open ? "(" : "[", lo, hi);
        return 0;
    }
    *v = x;
    return 1;
}

void idx_server_h_retrieve_dense(idx_server_ctx *c, const char *mode) {
    json_t *body = idx_server_body(c);
    const idx_server_opts *lim = idx_server_limits(c);
    idx_hybrid_opts ho;
    memset(&ho, 0, sizeof ho);
    if (!strcmp(mode, "dense"))
        ho.mode = IDX_RETRIEVE_DENSE;
    else if (!strcmp(mode, "hybrid"))
        ho.mode = IDX_RETRIEVE_HYBRID;
    else {
        idx_server_error(c, 400, "bad_request", "field 'mode' must be \"sparse\", \"dense\" or \"hybrid\" (got '%.50s')", mode);
        return;
    }
    const char *name, *fusion = NULL;
    uint64_t k = 10, snip = 200, depth = 0, ef = 0;
    int with_text = 1;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) ||
        !idx_server_field_uint(c, body, "k", 0, 1, DENSE_MAX_K, &k) ||
        !idx_server_field_uint(c, body, "snippet", 0, 0, 100000, &snip) ||
        !idx_server_field_uint(c, body, "depth", 0, 1, 10000, &depth) ||
        !idx_server_field_str(c, body, "fusion", 0, &fusion, NULL) ||
        !get_real(c, body, "weight", 0, 1, 1, &ho.dense_weight) || !get_real(c, body, "rrf_k", 0, 1, 1e9, &ho.rrf_k))
        return;
    ho.depth = (size_t)depth;
    if (fusion) {
        if (!strcmp(fusion, "zscore")) ho.fusion = IDX_FUSION_ZSCORE;
        else if (!strcmp(fusion, "minmax")) ho.fusion = IDX_FUSION_MINMAX;
        else if (!strcmp(fusion, "rrf")) ho.fusion = IDX_FUSION_RRF;
        else {
            idx_server_error(c, 400, "bad_request", "field 'fusion' must be \"zscore\", \"minmax\" or \"rrf\"");
            return;
        }
    }
    json_t *wt = json_object_get(body, "with_text");
    if (wt) {
        if (!json_is_boolean(wt)) {
            idx_server_error(c, 400, "bad_request", "field 'with_text' must be true or false");
            return;
        }
        with_text = json_is_true(wt);
    }
    json_t *dn = json_object_get(body, "dense");
    if (dn && !json_is_null(dn)) {
        json_t *hn = json_object_get(dn, "hnsw");
        if (!json_is_object(dn) || (hn && !json_is_boolean(hn))) {
            idx_server_error(c, 400, "bad_request", "'dense' must be {\"hnsw\": true|false, \"ef\": N}");
            return;
        }
        ho.use_hnsw = json_is_true(hn);
        if (!idx_server_field_uint(c, dn, "ef", 0, 1, 1u << 20, &ef)) return;
        ho.ef = (uint32_t)ef;
    }
    json_t *sp = json_object_get(body, "sparse");
    if (sp) {
        json_t *k1 = json_object_get(sp, "k1"), *b = json_object_get(sp, "b");
        if (!json_is_object(sp) || (k1 && !(json_is_number(k1) && json_number_value(k1) >= 0 &&
                                            json_number_value(k1) <= 1000)) ||
            (b && !(json_is_number(b) && json_number_value(b) >= 0 && json_number_value(b) <= 1))) {
            idx_server_error(c, 400, "bad_request", "'sparse' must be {\"k1\": >= 0, \"b\": in [0, 1]}");
            return;
        }
        if (k1) ho.bm25_k1 = json_number_value(k1);
        if (b) ho.bm25_b = json_number_value(b);
    }
    static const char *const reserved[] = {"rerank", "budget"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        json_t *v = json_object_get(body, reserved[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            idx_server_error(c, 400, "unsupported", "'%s' is not available on this server yet", reserved[i]);
            return;
        }
    }
    json_t *q1 = json_object_get(body, "query"), *qs = json_object_get(body, "queries");
    if (!!q1 == !!qs) {
        idx_server_error(c, 400, "bad_request", "give either 'query' (a string) or 'queries' (an array of strings)");
        return;
    }
    if (qs && !json_is_array(qs)) {
        idx_server_error(c, 400, "bad_request", "field 'queries' must be an array of strings");
        return;
    }
    size_t nq = qs ? json_array_size(qs) : 1;
    if (nq > lim->max_batch) {
        idx_server_error(c, 400, "limit_exceeded", "'queries' has %zu entries, more than the limit max_batch=%zu", nq,
                         lim->max_batch);
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        json_t *v = qs ? json_array_get(qs, i) : q1;
        char field[32];
        snprintf(field, sizeof field, qs ? "queries[%zu]" : "query", i);
        if (!json_is_string(v)) {
            idx_server_error(c, 400, "bad_request", "%s must be a string", field);
            return;
        }
        if (!idx_server_query_ok(c, field, json_string_length(v))) return;
        if (memchr(json_string_value(v), 0, json_string_length(v))) {
            idx_server_error(c, 400, "bad_request", "%s contains a NUL character", field);
            return;
        }
    }
    const idx_server_index *ix = idx_server_index_get(c, name);
    if (!ix) return;
    struct idx_server_dense *d = ix->dense;
    if (!d) {
        idx_server_error(c, 400, "missing_part",
                         "index '%s' has no dense part (add one with idx embed INDEX --model M, or idx build --dense M)",
                         ix->name);
        return;
    }
    if (!d->base) {
        idx_server_error(c, 503, "unavailable", "the dense part of index '%s' cannot be used: %s", ix->name, d->err);
        return;
    }
    if (ho.mode == IDX_RETRIEVE_HYBRID && !idx_hybrid_has_sparse(d->base)) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no sparse part, which hybrid mode needs (idx index-sparse --into INDEX)",
                         ix->name);
        return;
    }
    if (ho.use_hnsw) {
        /* the graph is recorded with the part; say so before embedding anything */
        json_t *part = idx_manifest_part(ix->manifest, "dense");
        if (!json_object_get(part, "hnsw")) {
            idx_server_error(c, 400, "missing_part", "index '%s' has no HNSW graph (idx embed --hnsw)", ix->name);
            return;
        }
    }
    idx_hybrid *h = NULL;
    const char **texts = NULL;
    idx_fuse_cand *res = NULL;
    size_t counts[DENSE_GROUP];
    idx_buf out = {0};
    idx_err e = pool_get(d, &h);
    if (!e) e = idx_xmalloc(nq * sizeof *texts, &texts);
    if (!e) e = idx_xmalloc(DENSE_GROUP * (size_t)k * sizeof *res, &res);
    if (!e && qs) e = idx_buf_printf(&out, "{\"mode\":\"%s\",\"results\":[", mode);
    for (size_t i = 0; !e && i < nq; i++) texts[i] = json_string_value(qs ? json_array_get(qs, i) : q1);
    for (size_t i = 0; !e && i < nq; i += DENSE_GROUP) {
        if (i && idx_server_deadline(c)) break;
        size_t m = nq - i < DENSE_GROUP ? nq - i : DENSE_GROUP;
        if ((e = idx_hybrid_search(h, texts + i, m, (size_t)k, &ho, res, counts))) break;
        for (size_t q = 0; !e && q < m; q++) {
            if (i + q) e = LIT(&out, ",");
            if (!e)
                e = write_hits(h, texts[i + q], strlen(texts[i + q]), res + q * k, counts[q], (size_t)snip, with_text, &out);
        }
    }
    if (h) pool_put(d, h);
    free(texts);
    free(res);
    if (e || c->answered) {
        idx_buf_free(&out);
        if (e) idx_server_fail(c, e);
        return;
    }
    if (qs)
        e = LIT(&out, "]");
    else if (out.len)
        out.len--; /* drop the '}' of {"query","hits"} */
    if (!e && !qs) e = idx_buf_printf(&out, ",\"mode\":\"%s\"", mode);
    if (!e) e = LIT(&out, ",\"latency_ms\":");
    if (!e) e = idx_server_buf_real(&out, idx_server_elapsed(c) * 1000.0);
    if (!e) e = LIT(&out, "}");
    if (e) {
        idx_buf_free(&out);
        idx_server_fail(c, e);
        return;
    }
    idx_server_reply_text(c, 200, "application/json", out.data, out.len);
}
