/*
 * routes_retrieve.c -- POST /v1/retrieve: top-k retrieval over an index's
 * sparse (BM25) part, one query or a batch, the same hits, scores and
 * snippets as `idx retrieve --json`. The request names its pipeline:
 *   {"index", "query" | "queries", "k", "mode": "sparse",
 *    "sparse": {"k1", "b"}, "snippet": bytes, "with_text": bool,
 *    "rerank": ..., "budget": ...}
 * Only mode "sparse" exists today; "dense" and "hybrid", "rerank" and a token
 * "budget" are reserved fields that later modules fill in (asking for them now
 * is a 400 "unsupported", never silently ignored). A hit carries the unit
 * retrieved (id, score, title, snippet, text) and where it lies: its
 * document's id and the byte offsets [start, end) in that document (the
 * whole document until chunk-level retrieval lands).
 *
 * Searchers hold per-query scratch memory and are not thread-safe, so each
 * loaded index keeps a stack of them: a request pops one (or makes one) and
 * pushes it back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define RETRIEVE_MAX_K 1000
/* Appends a string literal. */
#define LIT(b, s) idx_buf_append((b), (s), sizeof(s) - 1)

struct idx_server_pool {
    pthread_mutex_t mu;
    idx_sparse_searcher **v;
    size_t n, cap;
};

idx_err idx_server_pool_new(struct idx_server_pool **out) {
    struct idx_server_pool *p = calloc(1, sizeof *p);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return IDX_OK;
}

void idx_server_pool_free(struct idx_server_pool *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) idx_sparse_searcher_free(p->v[i]);
    free(p->v);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static idx_err pool_get(const idx_server_index *ix, idx_sparse_searcher **q) {
    struct idx_server_pool *p = ix->searchers;
    pthread_mutex_lock(&p->mu);
    *q = p->n ? p->v[--p->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    return *q ? IDX_OK : idx_sparse_searcher_new(ix->sparse, q);
}

static void pool_put(const idx_server_index *ix, idx_sparse_searcher *q) {
    struct idx_server_pool *p = ix->searchers;
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        idx_sparse_searcher **v = cap <= 1024 ? realloc(p->v, cap * sizeof *v) : NULL;
        if (!v) {
            pthread_mutex_unlock(&p->mu);
            idx_sparse_searcher_free(q);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = q;
    pthread_mutex_unlock(&p->mu);
}

/* Appends {"query":...,"hits":[...]} for one query to out. The answer is
 * written straight into the buffer (idx_server_buf_str/real): with jansson
 * objects the encoding of 10 hits cost more than the search itself. */
static idx_err search_one(const idx_server_index *ix, idx_sparse_searcher *q, const char *query, size_t qlen,
                          const idx_sparse_params *p, idx_sparse_hit *hits, size_t snip, int with_text,
                          idx_buf *out) {
    size_t n = 0;
    idx_err e = idx_sparse_search(q, query, qlen, p, hits, &n, NULL);
    if (e) return e;
    idx_buf text = {0};
    e = LIT(out, "{\"query\":");
    if (!e) e = idx_server_buf_str(out, query, qlen);
    if (!e) e = LIT(out, ",\"hits\":[");
    for (size_t i = 0; !e && i < n; i++) {
        const idx_docs *d = idx_sparse_segment_store(ix->sparse, hits[i].segment);
        const char *id = "", *title = "";
        size_t il = 0, tl = 0;
        uint64_t dl = 0;
        text.len = 0;
        if ((e = idx_docs_id(d, hits[i].doc, &id, &il)) || (e = idx_docs_title(d, hits[i].doc, &title, &tl)) ||
            (e = idx_docs_len(d, hits[i].doc, &dl)))
            break;
        /* the text is decompressed only when the answer shows it */
        if ((snip || with_text) && (e = idx_docs_text(d, hits[i].doc, 0, dl, &text))) break;
        /* the snippet exactly as `idx retrieve` cuts it */
        size_t so = snip ? idx_sparse_snippet_start(q, text.data ? text.data : "", text.len, snip) : 0;
        size_t sl = text.len - so < snip ? text.len - so : snip;
        while (sl > 0 && so + sl < text.len && ((unsigned char)text.data[so + sl] & 0xC0) == 0x80) sl--;
        char *sn = malloc(sl + 1);
        if (!sn) {
            e = idx_fail(IDX_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t j = 0; j < sl; j++) {
            char ch = text.data[so + j];
            sn[j] = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : ch;
        }
        e = idx_buf_printf(out, "%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
        if (!e) e = idx_server_buf_str(out, id, il);
        if (!e) e = LIT(out, ",\"score\":");
        if (!e) e = idx_server_buf_real(out, hits[i].score);
        if (!e) e = LIT(out, ",\"title\":");
        if (!e) e = idx_server_buf_str(out, title, tl);
        if (!e) e = LIT(out, ",\"snippet\":");
        if (!e) e = idx_server_buf_str(out, sn, sl);
        if (!e) e = LIT(out, ",\"document\":");
        if (!e) e = idx_server_buf_str(out, id, il);
        if (!e) e = idx_buf_printf(out, ",\"start\":0,\"end\":%llu", (unsigned long long)dl);
        if (!e && with_text) {
            e = LIT(out, ",\"text\":");
            if (!e) e = idx_server_buf_str(out, text.data ? text.data : "", text.len);
        }
        if (!e) e = LIT(out, "}");
        free(sn);
    }
    idx_buf_free(&text);
    return e ? e : LIT(out, "]}");
}

void idx_server_h_retrieve(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const idx_server_opts *lim = idx_server_limits(c);
    const char *name, *mode = "sparse";
    uint64_t k = 10, snip = 200;
    int with_text = 1;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) ||
        !idx_server_field_str(c, body, "mode", 0, &mode, NULL) ||
        !idx_server_field_uint(c, body, "k", 0, 1, RETRIEVE_MAX_K, &k) ||
        !idx_server_field_uint(c, body, "snippet", 0, 0, 100000, &snip))
        return;
    json_t *wt = json_object_get(body, "with_text");
    if (wt) {
        if (!json_is_boolean(wt)) {
            idx_server_error(c, 400, "bad_request", "field 'with_text' must be true or false");
            return;
        }
        with_text = json_is_true(wt);
    }
    if (strcmp(mode, "sparse")) { /* dense, hybrid: server/routes_dense.c */
        idx_server_h_retrieve_dense(c, mode);
        return;
    }
    static const char *const reserved[] = {"rerank", "budget", "dense", "hybrid"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        json_t *v = json_object_get(body, reserved[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            idx_server_error(c, 400, "unsupported", "'%s' is not available on this server yet", reserved[i]);
            return;
        }
    }
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    p.k = (size_t)k;
    json_t *sp = json_object_get(body, "sparse");
    if (sp) {
        json_t *k1 = json_object_get(sp, "k1"), *b = json_object_get(sp, "b");
        if (!json_is_object(sp) || (k1 && !(json_is_number(k1) && json_number_value(k1) >= 0 &&
                                            json_number_value(k1) <= 1000)) ||
            (b && !(json_is_number(b) && json_number_value(b) >= 0 && json_number_value(b) <= 1))) {
            idx_server_error(c, 400, "bad_request", "'sparse' must be {\"k1\": >= 0, \"b\": in [0, 1]}");
            return;
        }
        if (k1) p.k1 = json_number_value(k1);
        if (b) p.b = json_number_value(b);
    }
    json_t *q1 = json_object_get(body, "query"), *qs = json_object_get(body, "queries");
    if (!!q1 == !!qs) {
        idx_server_error(c, 400, "bad_request", "give either 'query' (a string) or 'queries' (an array of strings)");
        return;
    }
    size_t nq = qs ? json_array_size(qs) : 1;
    if (qs && !json_is_array(qs)) {
        idx_server_error(c, 400, "bad_request", "field 'queries' must be an array of strings");
        return;
    }
    if (nq > lim->max_batch) {
        idx_server_error(c, 400, "limit_exceeded", "'queries' has %zu entries, more than the limit max_batch=%zu", nq,
                         lim->max_batch);
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        json_t *v = qs ? json_array_get(qs, i) : q1;
        char field[32];
        if (qs)
            snprintf(field, sizeof field, "queries[%zu]", i);
        else
            snprintf(field, sizeof field, "query");
        if (!json_is_string(v)) {
            idx_server_error(c, 400, "bad_request", "%s must be a string", field);
            return;
        }
        if (!idx_server_query_ok(c, field, json_string_length(v))) return;
    }
    const idx_server_index *ix = idx_server_index_get(c, name);
    if (!ix) return;
    if (!ix->sparse) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no sparse part (build it with idx index-sparse)",
                         ix->name);
        return;
    }
    idx_sparse_searcher *q = NULL;
    idx_sparse_hit *hits = calloc((size_t)k, sizeof *hits);
    idx_err e = hits ? pool_get(ix, &q) : idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_buf out = {0};
    if (!e && qs) e = LIT(&out, "{\"mode\":\"sparse\",\"results\":[");
    for (size_t i = 0; !e && i < nq; i++) {
        json_t *v = qs ? json_array_get(qs, i) : q1;
        if (i) e = LIT(&out, ",");
        if (!e)
            e = search_one(ix, q, json_string_value(v), json_string_length(v), &p, hits, (size_t)snip, with_text,
                           &out);
        if (!e && qs && i + 1 < nq && idx_server_deadline(c)) break;
    }
    if (q) pool_put(ix, q);
    free(hits);
    if (e || c->answered) {
        idx_buf_free(&out);
        if (e) idx_server_fail(c, e);
        return;
    }
    /* close the object: a batch's results array, or the single query's object */
    if (qs)
        e = LIT(&out, "]");
    else if (out.len)
        out.len--; /* drop the '}' of {"query","hits"} */
    if (!e) e = idx_buf_printf(&out, "%s\"latency_ms\":", qs ? "," : ",\"mode\":\"sparse\",");
    if (!e) e = idx_server_buf_real(&out, idx_server_elapsed(c) * 1000.0);
    if (!e) e = LIT(&out, "}");
    if (e) {
        idx_buf_free(&out);
        idx_server_fail(c, e);
        return;
    }
    idx_server_reply_text(c, 200, "application/json", out.data, out.len);
}
