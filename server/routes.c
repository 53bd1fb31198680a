/*
 * routes.c -- the route table of `idx serve` and the routes about the server
 * itself (/healthz, /metrics, /v1/indexes). A route is one line:
 * {method, path pattern, handler, flags}; {name} in a pattern matches one
 * path segment, read with idx_server_param(). IDX_ROUTE_JSON makes the
 * dispatcher parse the body into a JSON object first (400 with the position
 * when malformed); IDX_ROUTE_PUBLIC skips the bearer token. Add a module's
 * routes here and its handlers in server/routes_<module>.c.
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

const idx_server_route idx_server_routes[] = {
    {"GET", "/healthz", idx_server_h_healthz, IDX_ROUTE_PUBLIC},
    {"GET", "/metrics", idx_server_h_metrics, 0},
    {"GET", "/v1/indexes", idx_server_h_indexes, 0},
    {"GET", "/v1/documents/{index}/{doc_id}", idx_server_h_document, 0}, /* routes_docs.c */
    /* FM-index (server/routes_fm.c) */
    {"POST", "/", idx_server_h_infinigram, IDX_ROUTE_JSON},
    {"POST", "/v1/count", idx_server_h_count, IDX_ROUTE_JSON},
    {"POST", "/v1/find", idx_server_h_find, IDX_ROUTE_JSON},
    /* n-grams and contamination (server/routes_ngram.c) */
    {"POST", "/v1/infgram", idx_server_h_infgram, IDX_ROUTE_JSON},
    {"POST", "/v1/contamination", idx_server_h_contamination, IDX_ROUTE_JSON},
    /* retrieval (server/routes_retrieve.c) */
    {"POST", "/v1/retrieve", idx_server_h_retrieve, IDX_ROUTE_JSON},
    /* embeddings, OpenAI's format (server/routes_embed.c) */
    {"POST", "/v1/embeddings", idx_server_h_embeddings, IDX_ROUTE_JSON},
    {"GET", "/v1/models", idx_server_h_models, 0},
    /* chunking (server/routes_chunk.c) */
    {"POST", "/v1/chunk", idx_server_h_chunk, IDX_ROUTE_JSON},
};
const size_t idx_server_nroutes = sizeof idx_server_routes / sizeof idx_server_routes[0];

void idx_server_h_healthz(idx_server_ctx *c) {
    idx_server_reply(c, 200,
                     json_pack("{s:s,s:I}", "status", "ok", "indexes",
                               (json_int_t)idx_server_index_count(c)));
}

static json_t *index_json(const idx_server_index *ix) {
    json_t *parts = json_object();
    json_t *mparts = ix->manifest ? json_object_get(ix->manifest, "parts") : NULL;
    const char *key;
    json_t *val;
    if (json_is_object(mparts)) {
        json_object_foreach(mparts, key, val) {
            json_object_set_new(parts, key, json_is_object(val) ? json_deep_copy(val) : json_object());
        }
    }
    if (ix->docs) {
        json_t *d = json_object_get(parts, "docs");
        if (!d) json_object_set_new(parts, "docs", d = json_object());
        idx_docs_sizes sz;
        idx_docs_get_sizes(ix->docs, &sz);
        json_object_set_new(d, "documents", json_integer((json_int_t)idx_docs_count(ix->docs)));
        json_object_set_new(d, "text_bytes", json_integer((json_int_t)idx_docs_text_bytes(ix->docs)));
        json_object_set_new(d, "file_bytes", json_integer((json_int_t)sz.file_bytes));
    }
    if (ix->fm) {
        json_t *f = json_object_get(parts, "fm");
        if (!f) json_object_set_new(parts, "fm", f = json_object());
        json_object_set_new(f, "shards", json_integer((json_int_t)idx_fm_shard_count(ix->fm)));
        json_object_set_new(f, "corpus_bytes", json_integer((json_int_t)idx_fm_total_bytes(ix->fm)));
    }
    if (ix->sparse) {
        json_t *sp = json_object_get(parts, "sparse");
        if (!sp) json_object_set_new(parts, "sparse", sp = json_object());
        json_object_set_new(sp, "documents", json_integer((json_int_t)idx_sparse_live_count(ix->sparse)));
        json_object_set_new(sp, "segments", json_integer((json_int_t)idx_sparse_segment_count(ix->sparse)));
        json_object_set_new(sp, "bytes", json_integer((json_int_t)idx_sparse_bytes(ix->sparse)));
    }
    return json_pack("{s:s,s:s,s:I,s:o}", "name", ix->name, "dir", ix->dir, "disk_bytes",
                     (json_int_t)ix->disk_bytes, "parts", parts);
}

void idx_server_h_indexes(idx_server_ctx *c) {
    json_t *arr = json_array();
    for (size_t i = 0; i < idx_server_index_count(c); i++)
        json_array_append_new(arr, index_json(idx_server_index_at(c, i)));
    idx_server_reply(c, 200, json_pack("{s:o}", "indexes", arr));
}

/* Prometheus text exposition format 0.0.4. */
void idx_server_h_metrics(idx_server_ctx *c) {
    idx_server *s = c->s;
    idx_buf b = {0};
    idx_buf_printf(&b, "# HELP idx_http_requests_total HTTP requests answered, by route.\n"
                       "# TYPE idx_http_requests_total counter\n");
    for (size_t i = 0; i <= idx_server_nroutes; i++) {
        const char *m = i < idx_server_nroutes ? idx_server_routes[i].method : "";
        const char *p = i < idx_server_nroutes ? idx_server_routes[i].pattern : "unmatched";
        idx_buf_printf(&b, "idx_http_requests_total{method=\"%s\",route=\"%s\"} %lu\n", m, p,
                       atomic_load(&s->metrics[i].requests));
    }
    idx_buf_printf(&b, "# HELP idx_http_errors_total HTTP error answers, by route and class.\n"
                       "# TYPE idx_http_errors_total counter\n");
    for (size_t i = 0; i <= idx_server_nroutes; i++) {
        const char *m = i < idx_server_nroutes ? idx_server_routes[i].method : "";
        const char *p = i < idx_server_nroutes ? idx_server_routes[i].pattern : "unmatched";
        idx_buf_printf(&b, "idx_http_errors_total{method=\"%s\",route=\"%s\",class=\"4xx\"} %lu\n", m, p,
                       atomic_load(&s->metrics[i].errors_4xx));
        idx_buf_printf(&b, "idx_http_errors_total{method=\"%s\",route=\"%s\",class=\"5xx\"} %lu\n", m, p,
                       atomic_load(&s->metrics[i].errors_5xx));
    }
    idx_buf_printf(&b, "# HELP idx_http_request_duration_seconds Time from request arrival to answer.\n"
                       "# TYPE idx_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= idx_server_nroutes; i++) {
        const char *m = i < idx_server_nroutes ? idx_server_routes[i].method : "";
        const char *p = i < idx_server_nroutes ? idx_server_routes[i].pattern : "unmatched";
        unsigned long cum = 0;
        for (size_t k = 0; k < IDX_SERVER_NBUCKETS; k++) {
            cum += atomic_load(&s->metrics[i].buckets[k]);
            idx_buf_printf(&b,
                           "idx_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %lu\n",
                           m, p, idx_server_buckets[k], cum);
        }
        unsigned long n = atomic_load(&s->metrics[i].requests);
        idx_buf_printf(&b,
                       "idx_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %lu\n"
                       "idx_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                       "idx_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %lu\n",
                       m, p, n, m, p, atomic_load(&s->metrics[i].sum_us) / 1e6, m, p, n);
    }
    idx_buf_printf(&b, "# HELP idx_http_requests_in_flight Requests being received or answered.\n"
                       "# TYPE idx_http_requests_in_flight gauge\n"
                       "idx_http_requests_in_flight %ld\n",
                   atomic_load(&s->inflight));
    idx_buf_printf(&b, "# HELP idx_index_reloads_total Index sets loaded (start and reloads), and failed loads.\n"
                       "# TYPE idx_index_reloads_total counter\n"
                       "idx_index_reloads_total{result=\"ok\"} %lu\n"
                       "idx_index_reloads_total{result=\"failed\"} %lu\n",
                   atomic_load(&s->reloads), atomic_load(&s->reload_failures));
    idx_buf_printf(&b, "# HELP idx_uptime_seconds Seconds since the server was created.\n"
                       "# TYPE idx_uptime_seconds gauge\nidx_uptime_seconds %.3f\n",
                   idx_now() - s->started);
    idx_buf_printf(&b, "# HELP idx_index_disk_bytes Bytes on disk of each loaded index directory.\n"
                       "# TYPE idx_index_disk_bytes gauge\n");
    for (size_t i = 0; i < idx_server_index_count(c); i++) {
        const idx_server_index *ix = idx_server_index_at(c, i);
        idx_buf_printf(&b, "idx_index_disk_bytes{index=\"%s\"} %llu\n", ix->name,
                       (unsigned long long)ix->disk_bytes);
    }
    idx_buf_printf(&b, "# HELP idx_index_documents Documents in each loaded index.\n"
                       "# TYPE idx_index_documents gauge\n");
    for (size_t i = 0; i < idx_server_index_count(c); i++) {
        const idx_server_index *ix = idx_server_index_at(c, i);
        if (ix->docs)
            idx_buf_printf(&b, "idx_index_documents{index=\"%s\"} %llu\n", ix->name,
                           (unsigned long long)idx_docs_count(ix->docs));
    }
    idx_buf_printf(&b, "# HELP idx_index_corpus_bytes Corpus bytes in each loaded FM-index.\n"
                       "# TYPE idx_index_corpus_bytes gauge\n");
    for (size_t i = 0; i < idx_server_index_count(c); i++) {
        const idx_server_index *ix = idx_server_index_at(c, i);
        if (ix->fm)
            idx_buf_printf(&b, "idx_index_corpus_bytes{index=\"%s\"} %llu\n", ix->name,
                           (unsigned long long)idx_fm_total_bytes(ix->fm));
    }
    idx_server_reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}
