/*
 * routes_retrieve.c -- POST /v1/retrieve: top-k retrieval over an index's
 * sparse (BM25) part, one query or a batch, the same hits, scores and
 * snippets as `idx retrieve --json`. The request names its pipeline:
 *   {"index", "query" | "queries", "k", "mode": "sparse",
 *    "sparse": {"k1", "b"}, "snippet": bytes, "with_text": bool,
 *    "rerank": ..., "budget": ...}
 * The fields every mode shares are checked here; "dense" and "hybrid" go on
 * to server/routes_dense.c. "rerank" and a token "budget" are reserved (asking
 * for them now is a 400 "unsupported", never silently ignored). A hit carries the unit
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
    void (*free_fn)(void *);
    void **v;
    size_t n, cap;
};

idx_err idx_server_pool_new(void (*free_fn)(void *), struct idx_server_pool **out) {
    struct idx_server_pool *p = calloc(1, sizeof *p);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->free_fn = free_fn;
    *out = p;
    return IDX_OK;
}

void idx_server_pool_free(struct idx_server_pool *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) p->free_fn(p->v[i]);
    free(p->v);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void *idx_server_pool_get(struct idx_server_pool *p) {
    pthread_mutex_lock(&p->mu);
    void *h = p->n ? p->v[--p->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    return h;
}

void idx_server_pool_put(struct idx_server_pool *p, void *h) {
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        void **v = cap <= 1024 ? realloc(p->v, cap * sizeof *v) : NULL;
        if (!v) {
            pthread_mutex_unlock(&p->mu);
            p->free_fn(h);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = h;
    pthread_mutex_unlock(&p->mu);
}

static idx_err pool_get(const idx_server_index *ix, idx_sparse_searcher **q) {
    *q = idx_server_pool_get(ix->searchers);
    return *q ? IDX_OK : idx_sparse_searcher_new(ix->sparse, q);
}

idx_err idx_server_write_hit(idx_buf *out, size_t rank, const char *id, size_t il, double score,
                             const char *title, size_t tl, const char *snip, size_t sl, uint64_t doc_len,
                             const char *text, size_t text_len) {
    idx_err e = rank > 1 ? LIT(out, ",{\"rank\":") : LIT(out, "{\"rank\":");
    if (!e) e = idx_server_buf_uint(out, rank);
    if (!e) e = LIT(out, ",\"id\":");
    if (!e) e = idx_server_buf_str(out, id, il);
    if (!e) e = LIT(out, ",\"score\":");
    if (!e) e = idx_server_buf_real(out, score);
    if (!e) e = LIT(out, ",\"title\":");
    if (!e) e = idx_server_buf_str(out, title, tl);
    if (!e) e = LIT(out, ",\"snippet\":");
    if (!e) { /* on one line, as `idx retrieve` prints it */
        char small[512], *sn = sl <= sizeof small ? small : malloc(sl);
        if (!sn) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < sl; j++) {
            char ch = snip[j];
            sn[j] = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : ch;
        }
        e = idx_server_buf_str(out, sn, sl);
        if (sn != small) free(sn);
    }
    if (!e) e = LIT(out, ",\"document\":");
    if (!e) e = idx_server_buf_str(out, id, il);
    if (!e) e = LIT(out, ",\"start\":0,\"end\":");
    if (!e) e = idx_server_buf_uint(out, doc_len);
    if (!e && text) {
        e = LIT(out, ",\"text\":");
        if (!e) e = idx_server_buf_str(out, text, text_len);
    }
    return e ? e : LIT(out, "}");
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
        e = idx_server_write_hit(out, i + 1, id, il, hits[i].score, title, tl, text.data ? text.data + so : "", sl,
                                 dl, with_text ? (text.data ? text.data : "") : NULL, text.len);
    }
    idx_buf_free(&text);
    return e ? e : LIT(out, "]}");
}

/* Checks the fields all modes share into *r; 0 when an error was sent. */
static int parse_common(idx_server_ctx *c, json_t *body, idx_server_retrieve_req *r) {
    const idx_server_opts *lim = idx_server_limits(c);
    memset(r, 0, sizeof *r);
    r->mode = "sparse";
    r->k = 10;
    r->snip = 200;
    r->with_text = 1;
    if (!idx_server_field_str(c, body, "index", 1, &r->name, NULL) ||
        !idx_server_field_str(c, body, "mode", 0, &r->mode, NULL) ||
        !idx_server_field_uint(c, body, "k", 0, 1, RETRIEVE_MAX_K, &r->k) ||
        !idx_server_field_uint(c, body, "snippet", 0, 0, 100000, &r->snip))
        return 0;
    json_t *wt = json_object_get(body, "with_text");
    if (wt) {
        if (!json_is_boolean(wt)) {
            idx_server_error(c, 400, "bad_request", "field 'with_text' must be true or false");
            return 0;
        }
        r->with_text = json_is_true(wt);
    }
    static const char *const reserved[] = {"rerank", "budget"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        json_t *v = json_object_get(body, reserved[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            idx_server_error(c, 400, "unsupported", "'%s' is not available on this server yet", reserved[i]);
            return 0;
        }
    }
    json_t *sp = json_object_get(body, "sparse");
    if (sp) {
        json_t *k1 = json_object_get(sp, "k1"), *b = json_object_get(sp, "b");
        if (!json_is_object(sp) || (k1 && !(json_is_number(k1) && json_number_value(k1) >= 0 &&
                                            json_number_value(k1) <= 1000)) ||
            (b && !(json_is_number(b) && json_number_value(b) >= 0 && json_number_value(b) <= 1))) {
            idx_server_error(c, 400, "bad_request", "'sparse' must be {\"k1\": >= 0, \"b\": in [0, 1]}");
            return 0;
        }
        if ((r->has_k1 = k1 != NULL)) r->k1 = json_number_value(k1);
        if ((r->has_b = b != NULL)) r->b = json_number_value(b);
    }
    r->q1 = json_object_get(body, "query");
    r->qs = json_object_get(body, "queries");
    if (!!r->q1 == !!r->qs) {
        idx_server_error(c, 400, "bad_request", "give either 'query' (a string) or 'queries' (an array of strings)");
        return 0;
    }
    if (r->qs && !json_is_array(r->qs)) {
        idx_server_error(c, 400, "bad_request", "field 'queries' must be an array of strings");
        return 0;
    }
    r->nq = r->qs ? json_array_size(r->qs) : 1;
    if (r->nq > lim->max_batch) {
        idx_server_error(c, 400, "limit_exceeded", "'queries' has %zu entries, more than the limit max_batch=%zu",
                         r->nq, lim->max_batch);
        return 0;
    }
    for (size_t i = 0; i < r->nq; i++) {
        json_t *v = r->qs ? json_array_get(r->qs, i) : r->q1;
        char field[32];
        snprintf(field, sizeof field, r->qs ? "queries[%zu]" : "query", i);
        if (!json_is_string(v)) {
            idx_server_error(c, 400, "bad_request", "%s must be a string", field);
            return 0;
        }
        if (!idx_server_query_ok(c, field, json_string_length(v))) return 0;
    }
    return 1;
}

void idx_server_retrieve_reply(idx_server_ctx *c, const idx_server_retrieve_req *r, idx_err e, idx_buf *out) {
    if (e || c->answered) {
        idx_buf_free(out);
        if (e) idx_server_fail(c, e);
        return;
    }
    /* close the object: a batch's results array, or the single query's object */
    if (r->qs)
        e = LIT(out, "]");
    else if (out->len)
        out->len--; /* drop the '}' of {"query","hits"} */
    if (!e && !r->qs) e = LIT(out, ",\"mode\":");
    if (!e && !r->qs) e = idx_server_buf_str(out, r->mode, strlen(r->mode));
    if (!e) e = LIT(out, ",\"latency_ms\":");
    if (!e) e = idx_server_buf_real(out, idx_server_elapsed(c) * 1000.0);
    if (!e) e = LIT(out, "}");
    if (e) {
        idx_buf_free(out);
        idx_server_fail(c, e);
        return;
    }
    idx_server_reply_text(c, 200, "application/json", out->data, out->len);
}

void idx_server_h_retrieve(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    idx_server_retrieve_req r;
    if (!parse_common(c, body, &r)) return;
    if (strcmp(r.mode, "sparse")) { /* dense, hybrid: server/routes_dense.c */
        idx_server_h_retrieve_dense(c, &r);
        return;
    }
    static const char *const other[] = {"dense", "hybrid"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        json_t *v = json_object_get(body, other[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            idx_server_error(c, 400, "unsupported", "'%s' is not available on this server yet", other[i]);
            return;
        }
    }
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    p.k = (size_t)r.k;
    if (r.has_k1) p.k1 = r.k1;
    if (r.has_b) p.b = r.b;
    const idx_server_index *ix = idx_server_index_get(c, r.name);
    if (!ix) return;
    if (!ix->sparse) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no sparse part (build it with idx index-sparse)",
                         ix->name);
        return;
    }
    idx_sparse_searcher *q = NULL;
    idx_sparse_hit *hits = calloc((size_t)r.k, sizeof *hits);
    idx_err e = hits ? pool_get(ix, &q) : idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_buf out = {0};
    /* room for the usual answer at once (it grows beyond when needed) */
    size_t guess = (size_t)r.k * (r.with_text ? 1200 : 160 + (size_t)r.snip) + 64;
    if (!e) e = idx_buf_reserve(&out, guess < 65536 / r.nq ? guess * r.nq : 65536);
    if (!e && r.qs) e = LIT(&out, "{\"mode\":\"sparse\",\"results\":[");
    for (size_t i = 0; !e && i < r.nq; i++) {
        json_t *v = r.qs ? json_array_get(r.qs, i) : r.q1;
        if (i) e = LIT(&out, ",");
        if (!e)
            e = search_one(ix, q, json_string_value(v), json_string_length(v), &p, hits, (size_t)r.snip, r.with_text,
                           &out);
        if (!e && r.qs && i + 1 < r.nq && idx_server_deadline(c)) break;
    }
    if (q) idx_server_pool_put(ix->searchers, q);
    free(hits);
    idx_server_retrieve_reply(c, &r, e, &out);
}
