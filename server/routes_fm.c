/*
 * routes_fm.c -- the FM-index routes: POST / (infini-gram mini's API:
 * count, find, get_doc_by_rank with the same field names and types),
 * POST /v1/count (one query or a batch), POST /v1/find (suffix-array ranges
 * and located occurrences).
 *
 * Lengths and offsets are bytes (our FM-index is over raw bytes), where
 * infini-gram mini speaks of characters; for ASCII text they agree. A
 * displayed window never splits a UTF-8 character: it is widened to
 * character boundaries. Invalid UTF-8 in stored text is shown as U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define FIND_MAX_LOCATE 1000
/* Appends a string literal. */
#define LIT(b, s) idx_buf_append((b), (s), sizeof(s) - 1)

static const idx_server_index *need_fm(idx_server_ctx *c, const char *name, int docs_too) {
    const idx_server_index *ix = idx_server_index_get(c, name);
    if (!ix) return NULL;
    if (!ix->fm) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no FM-index part (build it with idx build)",
                         ix->name);
        return NULL;
    }
    if (docs_too && !ix->docs) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no document store", ix->name);
        return NULL;
    }
    return ix;
}

/* Reads the "query" field (required), checking the length limit. */
static int get_query(idx_server_ctx *c, json_t *body, const char **q, size_t *qlen) {
    if (!idx_server_field_str(c, body, "query", 1, q, qlen)) return 0;
    return idx_server_query_ok(c, "query", *qlen);
}

static double latency_ms(idx_server_ctx *c) { return idx_server_elapsed(c) * 1000.0; }

/* ---- POST / (infini-gram mini) ----------------------------------------- */

static void mini_count(idx_server_ctx *c, const idx_server_index *ix, const char *q, size_t qlen) {
    uint64_t n;
    idx_err e = idx_fm_count(ix->fm, q, qlen, &n);
    if (e) {
        idx_server_fail(c, e);
        return;
    }
    idx_server_reply(c, 200, json_pack("{s:I,s:f}", "count", (json_int_t)n, "latency", latency_ms(c)));
}

static json_t *ranges_json(const idx_fm_range *r, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("[I,I]", (json_int_t)r[i].lo, (json_int_t)r[i].hi));
    return a;
}

static void mini_find(idx_server_ctx *c, const idx_server_index *ix, const char *q, size_t qlen) {
    if (qlen == 0) {
        idx_server_error(c, 400, "bad_request", "find needs a non-empty query");
        return;
    }
    size_t ns = idx_fm_shard_count(ix->fm);
    idx_fm_range *r = calloc(ns ? ns : 1, sizeof *r);
    uint64_t total = 0;
    if (!r) {
        idx_server_error(c, 500, "internal", "out of memory");
        return;
    }
    idx_err e = idx_fm_find(ix->fm, q, qlen, r, &total);
    if (e) {
        free(r);
        idx_server_fail(c, e);
        return;
    }
    json_t *seg = ranges_json(r, ns);
    free(r);
    idx_server_reply(c, 200, json_pack("{s:I,s:o,s:f}", "cnt", (json_int_t)total, "segment_by_shard",
                                       seg, "latency", latency_ms(c)));
}

/* Moves a byte offset back to the start of the UTF-8 character it is in. */
static size_t char_start(const char *t, size_t n, size_t i) {
    while (i > 0 && i < n && ((unsigned char)t[i] & 0xC0) == 0x80) i--;
    return i;
}

/* [[piece, null|"0"], ...]: the text cut around every occurrence of the query. */
static json_t *spans_json(const char *t, size_t n, const char *q, size_t qlen) {
    json_t *spans = json_array();
    size_t i = 0;
    while (qlen > 0 && i < n) {
        const char *hit = memmem(t + i, n - i, q, qlen);
        if (!hit) break;
        size_t h = (size_t)(hit - t);
        if (h > i) json_array_append_new(spans, json_pack("[o,n]", idx_server_json_text(t + i, h - i)));
        json_array_append_new(spans, json_pack("[o,s]", idx_server_json_text(hit, qlen), "0"));
        i = h + qlen;
    }
    if (i < n) json_array_append_new(spans, json_pack("[o,n]", idx_server_json_text(t + i, n - i)));
    return spans;
}

static void mini_get_doc(idx_server_ctx *c, const idx_server_index *ix, json_t *body, const char *q,
                         size_t qlen) {
    uint64_t shard, rank, ctx = 1000;
    size_t ns = idx_fm_shard_count(ix->fm);
    if (!ns) {
        idx_server_error(c, 400, "bad_request", "index '%s' has no shards", ix->name);
        return;
    }
    if (!idx_server_field_uint(c, body, "s", 1, 0, ns - 1, &shard) ||
        !idx_server_field_uint(c, body, "rank", 1, 0, INT64_MAX, &rank) ||
        !idx_server_field_uint(c, body, "max_ctx_len", 0, 1, idx_server_limits(c)->max_ctx_len, &ctx))
        return;
    uint64_t doc, off, dlen;
    idx_err e = idx_fm_locate(ix->fm, (size_t)shard, rank, &doc, &off);
    if (!e) e = idx_docs_len(ix->docs, doc, &dlen);
    if (e) {
        idx_server_fail(c, e);
        return;
    }
    uint64_t lo = off > ctx ? off - ctx : 0;
    uint64_t hi = off + qlen + ctx < dlen ? off + qlen + ctx : dlen;
    /* a few bytes more on each side so that both ends can move to character boundaries */
    uint64_t flo = lo > 3 ? lo - 3 : 0;
    uint64_t fhi = dlen - hi > 3 ? hi + 3 : dlen;
    idx_buf t = {0};
    e = idx_docs_text(ix->docs, doc, flo, fhi - flo, &t);
    if (e) {
        idx_buf_free(&t);
        idx_server_fail(c, e);
        return;
    }
    size_t a = char_start(t.data, t.len, (size_t)(lo - flo));
    size_t z = char_start(t.data, t.len, t.len > (size_t)(hi - flo) ? (size_t)(hi - flo) : t.len);
    if (z < a) z = a;
    const char *text = t.data ? t.data + a : "";
    size_t tlen = z - a;
    uint64_t needle = off - (flo + a);
    const char *meta = "";
    size_t mlen = 0;
    if (idx_docs_meta(ix->docs, doc, &meta, &mlen)) {
        meta = "";
        mlen = 0;
    }
    json_t *spans = spans_json(text, tlen, q, qlen);
    json_t *ans = json_pack("{s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:f}", "doc_ix", (json_int_t)doc, "doc_len",
                            (json_int_t)dlen, "disp_len", (json_int_t)tlen, "needle_offset",
                            (json_int_t)needle, "metadata", idx_server_json_text(meta, mlen), "text",
                            idx_server_json_text(text, tlen), "spans", spans, "latency", latency_ms(c));
    idx_buf_free(&t);
    idx_server_reply(c, 200, ans);
}

void idx_server_h_infinigram(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const char *name, *qt, *q;
    size_t qlen;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) ||
        !idx_server_field_str(c, body, "query_type", 1, &qt, NULL) || !get_query(c, body, &q, &qlen))
        return;
    int is_doc = !strcmp(qt, "get_doc_by_rank");
    if (strcmp(qt, "count") && strcmp(qt, "find") && !is_doc) {
        idx_server_error(c, 400, "bad_request",
                         "query_type '%.100s' is not one of count, find, get_doc_by_rank", qt);
        return;
    }
    const idx_server_index *ix = need_fm(c, name, is_doc);
    if (!ix) return;
    if (!strcmp(qt, "count"))
        mini_count(c, ix, q, qlen);
    else if (!strcmp(qt, "find"))
        mini_find(c, ix, q, qlen);
    else
        mini_get_doc(c, ix, body, q, qlen);
}

/* ---- POST /v1/count ------------------------------------------------------ */

void idx_server_h_count(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const char *name;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL)) return;
    json_t *qs = json_object_get(body, "queries");
    json_t *q1 = json_object_get(body, "query");
    if (!!qs == !!q1) {
        idx_server_error(c, 400, "bad_request", "give either 'query' (a string) or 'queries' (an array of strings)");
        return;
    }
    size_t n = 1;
    if (qs) {
        if (!json_is_array(qs)) {
            idx_server_error(c, 400, "bad_request", "field 'queries' must be an array of strings");
            return;
        }
        n = json_array_size(qs);
        if (n > idx_server_limits(c)->max_batch) {
            idx_server_error(c, 400, "limit_exceeded",
                             "'queries' has %zu entries, more than the limit max_batch=%zu", n,
                             idx_server_limits(c)->max_batch);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(qs, i);
            if (!json_is_string(v)) {
                idx_server_error(c, 400, "bad_request", "queries[%zu] must be a string", i);
                return;
            }
            char field[32];
            snprintf(field, sizeof field, "queries[%zu]", i);
            if (!idx_server_query_ok(c, field, json_string_length(v))) return;
        }
    } else {
        const char *q;
        size_t qlen;
        if (!get_query(c, body, &q, &qlen)) return;
    }
    const idx_server_index *ix = need_fm(c, name, 0);
    if (!ix) return;
    /* the answer is written straight into a buffer (byte for byte what
     * json_dumps wrote: {"count":N,"latency_ms":X} or {"counts":[...],...});
     * with jansson objects and its printf of reals the encoding cost a tenth
     * of a single count */
    idx_buf out = {0};
    idx_err e = idx_buf_reserve(&out, qs ? 64 + 12 * n : 64);
    if (!e) e = qs ? LIT(&out, "{\"counts\":[") : LIT(&out, "{\"count\":");
    for (size_t i = 0; !e && i < n; i++) {
        json_t *v = qs ? json_array_get(qs, i) : q1;
        uint64_t cnt;
        e = idx_fm_count(ix->fm, json_string_value(v), json_string_length(v), &cnt);
        if (!e && i) e = LIT(&out, ",");
        if (!e) e = idx_server_buf_uint(&out, cnt);
        if (!e && qs && idx_server_deadline(c)) {
            idx_buf_free(&out);
            return;
        }
    }
    if (!e) e = qs ? LIT(&out, "],\"latency_ms\":") : LIT(&out, ",\"latency_ms\":");
    if (!e) e = idx_server_buf_real(&out, latency_ms(c));
    if (!e) e = LIT(&out, "}");
    if (e) {
        idx_buf_free(&out);
        idx_server_fail(c, e);
        return;
    }
    idx_server_reply_text(c, 200, "application/json", out.data, out.len);
}

/* ---- POST /v1/find ------------------------------------------------------- */

typedef struct {
    uint64_t doc, off;
} hit;

static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The same occurrences as `idx find --json --limit N --context C`: the first
 * `limit` in suffix-array order across shards, sorted by document and
 * offset, each with its context window and metadata. */
void idx_server_h_find(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const char *name, *q;
    size_t qlen;
    uint64_t limit = 10, context = 40;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) || !get_query(c, body, &q, &qlen) ||
        !idx_server_field_uint(c, body, "limit", 0, 0, FIND_MAX_LOCATE, &limit) ||
        !idx_server_field_uint(c, body, "context", 0, 0, idx_server_limits(c)->max_ctx_len, &context))
        return;
    if (qlen == 0) {
        idx_server_error(c, 400, "bad_request", "find needs a non-empty query");
        return;
    }
    const idx_server_index *ix = need_fm(c, name, 1);
    if (!ix) return;
    size_t ns = idx_fm_shard_count(ix->fm);
    idx_fm_range *r = calloc(ns ? ns : 1, sizeof *r);
    hit *hits = calloc(limit ? limit : 1, sizeof *hits);
    json_t *occ = json_array();
    idx_buf ctx = {0};
    uint64_t total = 0, nh = 0;
    idx_err e = r && hits && occ ? idx_fm_find(ix->fm, q, qlen, r, &total)
                                 : idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t s = 0; !e && s < ns && nh < limit; s++)
        for (uint64_t k = r[s].lo; !e && k < r[s].hi && nh < limit; k++, nh++)
            e = idx_fm_locate(ix->fm, s, k, &hits[nh].doc, &hits[nh].off);
    if (!e) qsort(hits, nh, sizeof *hits, cmp_hit);
    for (uint64_t i = 0; !e && i < nh; i++) {
        const char *id = "", *meta = "{}";
        size_t idlen = 0, mlen = 2;
        if (idx_docs_id(ix->docs, hits[i].doc, &id, &idlen)) idlen = 0;
        if (idx_docs_meta(ix->docs, hits[i].doc, &meta, &mlen)) {
            meta = "{}";
            mlen = 2;
        }
        uint64_t start = hits[i].off > context ? hits[i].off - context : 0;
        ctx.len = 0;
        e = idx_docs_text(ix->docs, hits[i].doc, start, hits[i].off - start + qlen + context, &ctx);
        if (e) break;
        json_t *mj = json_loadb(meta, mlen, 0, NULL);
        json_array_append_new(
            occ, json_pack("{s:I,s:o,s:I,s:I,s:o,s:o}", "doc", (json_int_t)hits[i].doc, "id",
                           idx_server_json_text(id, idlen), "offset", (json_int_t)hits[i].off,
                           "context_offset", (json_int_t)start, "context",
                           idx_server_json_text(ctx.data ? ctx.data : "", ctx.len), "metadata",
                           mj ? mj : json_object()));
        if (idx_server_deadline(c)) break;
    }
    idx_buf_free(&ctx);
    free(hits);
    if (e || c->answered) {
        free(r);
        json_decref(occ);
        if (e) idx_server_fail(c, e);
        return;
    }
    json_t *seg = ranges_json(r, ns);
    free(r);
    idx_server_reply(c, 200, json_pack("{s:I,s:o,s:o,s:f}", "count", (json_int_t)total, "ranges", seg,
                                       "occurrences", occ, "latency_ms", latency_ms(c)));
}
