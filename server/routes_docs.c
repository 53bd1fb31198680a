/*
 * routes_docs.c -- GET /v1/documents/{index}/{doc_id}: one stored document
 * (id, title, metadata, length and text, or a byte window of it with
 * ?offset=&length=) by dense doc id, or by external id with ?by=id.
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Largest text window of one answer (a larger document is read in parts). */
#define DOC_MAX_WINDOW (16 << 20)

/* ---- GET /v1/documents/{index}/{doc_id} ------------------------------------ */

static int parse_u64(const char *s, uint64_t *v) {
    if (!s || !*s) return 0;
    uint64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        if (x > (UINT64_MAX - 9) / 10) return 0;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return 1;
}

void idx_server_h_document(idx_server_ctx *c) {
    const idx_server_index *ix = idx_server_index_get(c, idx_server_param(c, "index"));
    if (!ix) return;
    if (!ix->docs) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no document store", ix->name);
        return;
    }
    const char *key = idx_server_param(c, "doc_id");
    uint64_t doc;
    const char *by = idx_server_arg(c, "by");
    if (by && !strcmp(by, "id")) {
        idx_err e = idx_docs_lookup(ix->docs, key, strlen(key), &doc);
        if (e) {
            idx_server_error(c, 404, "not_found", "no document with id '%.200s' in index '%s'", key,
                             ix->name);
            return;
        }
    } else if (!parse_u64(key, &doc)) {
        idx_server_error(c, 400, "bad_request",
                         "doc_id '%.200s' is not a number (add ?by=id to look up an external id)", key);
        return;
    }
    if (doc >= idx_docs_count(ix->docs)) {
        idx_server_error(c, 404, "not_found", "index '%s' has %llu documents; no doc_id %llu", ix->name,
                         (unsigned long long)idx_docs_count(ix->docs), (unsigned long long)doc);
        return;
    }
    uint64_t off = 0, len = UINT64_MAX, dlen;
    const char *a;
    if (((a = idx_server_arg(c, "offset")) && !parse_u64(a, &off)) ||
        ((a = idx_server_arg(c, "length")) && !parse_u64(a, &len))) {
        idx_server_error(c, 400, "bad_request", "offset and length must be non-negative integers");
        return;
    }
    idx_err e = idx_docs_len(ix->docs, doc, &dlen);
    if (e) {
        idx_server_fail(c, e);
        return;
    }
    if (off > dlen) off = dlen;
    if (len > dlen - off) len = dlen - off;
    if (len > DOC_MAX_WINDOW) {
        idx_server_error(c, 400, "limit_exceeded",
                         "the window is %llu bytes, more than the limit of %d bytes per answer: ask for parts "
                         "with ?offset=&length=",
                         (unsigned long long)len, DOC_MAX_WINDOW);
        return;
    }
    idx_buf t = {0};
    if (idx_docs_has_text(ix->docs) && len > 0) {
        e = idx_docs_text(ix->docs, doc, off, len, &t);
        if (e) {
            idx_buf_free(&t);
            idx_server_fail(c, e);
            return;
        }
    }
    const char *id = "", *title = "", *meta = "{}";
    size_t idlen = 0, tlen = 0, mlen = 2;
    if (idx_docs_id(ix->docs, doc, &id, &idlen)) idlen = 0;
    if (idx_docs_title(ix->docs, doc, &title, &tlen)) tlen = 0;
    if (idx_docs_meta(ix->docs, doc, &meta, &mlen)) {
        meta = "{}";
        mlen = 2;
    }
    json_t *mj = json_loadb(meta, mlen, 0, NULL);
    if (!mj) mj = idx_server_json_text(meta, mlen);
    json_t *ans = json_pack("{s:s,s:I,s:o,s:o,s:o,s:I,s:I,s:I}", "index", ix->name, "doc_id",
                            (json_int_t)doc, "id", idx_server_json_text(id, idlen), "title",
                            idx_server_json_text(title, tlen), "metadata", mj, "length", (json_int_t)dlen,
                            "offset", (json_int_t)off, "text_length", (json_int_t)t.len);
    if (ans && idx_docs_has_text(ix->docs))
        json_object_set_new(ans, "text", idx_server_json_text(t.data ? t.data : "", t.len));
    idx_buf_free(&t);
    idx_server_reply(c, 200, ans);
}
