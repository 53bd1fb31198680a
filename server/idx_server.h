/*
 * idx_server.h -- the HTTP API of an index directory (`idx serve`): a
 * libmicrohttpd daemon with an internal thread pool that turns JSON requests
 * into the same library calls the CLI makes.
 *
 * Two audiences:
 *  - the CLI (tools/cmd_serve.c): idx_server_new / _load / _start / _stop /
 *    _free, and idx_server_handle for running a request without a socket
 *    (tests and the fuzz target);
 *  - modules adding routes: a route is one line in the table in
 *    server/routes.c, {method, pattern, handler, flags}, and the handler uses
 *    the idx_server_ctx helpers below to read the request and answer.
 *
 * Every error answer is {"error":{"code":"...","message":"..."}} with a
 * fitting 4xx/5xx status. The library never prints or installs signal
 * handlers; the caller ignores SIGPIPE and decides when to stop or reload.
 */
#ifndef IDX_SERVER_H
#define IDX_SERVER_H

#include "idx_common.h"
#include "idx_index.h"
#include "idx_ngram.h"
#include "idx_retrieve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Server life cycle                                                          */
/* ------------------------------------------------------------------------ */

typedef struct idx_server idx_server;

/* Every field 0/NULL means the default given in brackets. */
typedef struct {
    const char *host;          /* address to bind ["127.0.0.1"] */
    unsigned port;             /* TCP port; 0 = any free port (see idx_server_port) [0] */
    unsigned threads;          /* worker threads in MHD's pool [number of CPUs] */
    const char *api_key;       /* bearer token required on every route but /healthz [none] */
    size_t max_body;           /* request body bytes, else 413 [8 MiB] */
    size_t max_query;          /* bytes of one query string, else 400 [4096] */
    size_t max_batch;          /* queries / entries in one request, else 400 [1000] */
    double timeout_ms;         /* per-request deadline, else 504 [10000] */
    unsigned max_connections;  /* MHD_OPTION_CONNECTION_LIMIT [1024] */
    unsigned max_per_ip;       /* MHD_OPTION_PER_IP_CONNECTION_LIMIT [512] */
    size_t conn_memory;        /* MHD_OPTION_CONNECTION_MEMORY_LIMIT, bytes [128 KiB] */
    unsigned conn_timeout_s;   /* MHD_OPTION_CONNECTION_TIMEOUT for idle clients [30] */
    unsigned max_ctx_len;      /* largest max_ctx_len of get_doc_by_rank [10000] */
    size_t max_text;           /* bytes of one text to score (infgram, contamination entry) [65536] */
    size_t max_suffix;         /* longest infgram suffix, bytes; the default of a request too [256] */
} idx_server_opts;

/* One index to serve: a directory written by `idx build`, under a name. */
typedef struct {
    const char *name; /* NULL = the directory's base name */
    const char *dir;
} idx_server_index_spec;

/* Creates a server (no socket yet, no index). */
idx_err idx_server_new(const idx_server_opts *opts, idx_server **out);
/* Opens every listed index and swaps them in as the served set; requests in
 * flight keep the set they started with (reference counted). On failure the
 * previous set stays in place and the message names the index. Callable at
 * any time from any thread (this is what SIGHUP does). Duplicate names are
 * IDX_ERR_INVALID. */
idx_err idx_server_load(idx_server *s, const idx_server_index_spec *specs, size_t n);
/* Loads a native encoder model directory (anything idx_encoder_load opens:
 * BERT-family Hugging Face directories, USE lite's TF.js files) and serves
 * it on POST /v1/embeddings under `name` (NULL = the directory's base name).
 * threads: encoder threads per request (0 = 1). Before idx_server_start. */
idx_err idx_server_add_model(idx_server *s, const char *name, const char *dir, int threads);
/* Binds and starts the daemon. */
idx_err idx_server_start(idx_server *s);
/* The bound port (useful with port 0). */
unsigned idx_server_port(const idx_server *s);
/* Stops accepting connections, lets requests in flight finish (at most
 * grace_s seconds), then stops the daemon. */
void idx_server_stop(idx_server *s, double grace_s);
/* Stops if needed and frees everything. NULL is fine. */
void idx_server_free(idx_server *s);

/* A request without a socket: method, URL path with an optional
 * "?query-string" (percent-encoded), the Authorization header (NULL if none)
 * and the body. The answer is malloc'd into *body (NUL-terminated), with its
 * status and content type (static string). Routing, limits, auth, metrics and
 * errors are exactly those of the HTTP daemon. */
typedef struct {
    int status;
    char *body;
    size_t body_len;
    const char *content_type;
} idx_server_answer;
idx_err idx_server_handle(idx_server *s, const char *method, const char *url,
                          const char *authorization, const void *body, size_t body_len,
                          idx_server_answer *ans);
void idx_server_answer_free(idx_server_answer *ans);

/* ------------------------------------------------------------------------ */
/* Writing routes                                                             */
/* ------------------------------------------------------------------------ */

/* A loaded index: the parts found in its manifest (NULL when absent). */
typedef struct {
    const char *name;
    const char *dir;
    json_t *manifest;
    idx_docs *docs;
    idx_fm *fm;
    idx_ngram_src *ngram; /* over fm, for /v1/infgram and /v1/contamination */
    idx_sparse *sparse;   /* BM25 part */
    struct idx_server_pool *searchers; /* reusable idx_sparse_searcher objects */
    struct idx_server_dense *dense;    /* dense part: retrieval handles and model (server/routes_dense.c) */
    uint64_t disk_bytes; /* bytes of the whole directory */
} idx_server_index;

typedef struct idx_server_ctx idx_server_ctx;
typedef void (*idx_server_handler)(idx_server_ctx *c);

enum {
    IDX_ROUTE_JSON = 1,   /* the body must be a JSON object (else 400 with its position) */
    IDX_ROUTE_PUBLIC = 2  /* no bearer token needed */
};
typedef struct {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* "/v1/documents/{index}/{doc_id}": {name} matches one segment */
    idx_server_handler fn;
    unsigned flags;
} idx_server_route;

/* The request. */
json_t *idx_server_body(idx_server_ctx *c);               /* borrowed; NULL without IDX_ROUTE_JSON */
const char *idx_server_param(idx_server_ctx *c, const char *name); /* path parameter or NULL */
const char *idx_server_arg(idx_server_ctx *c, const char *name);   /* query-string argument or NULL */
const idx_server_opts *idx_server_limits(idx_server_ctx *c); /* effective limits (defaults filled) */
/* The served set for this request. */
size_t idx_server_index_count(idx_server_ctx *c);
const idx_server_index *idx_server_index_at(idx_server_ctx *c, size_t i);
/* The index named `name`, or NULL after answering 404 (or 400 if name is NULL). */
const idx_server_index *idx_server_index_get(idx_server_ctx *c, const char *name);

/* Body-field readers: each answers 400 naming the field and returns 0 when
 * the field is missing (and required), of the wrong type or out of range. */
int idx_server_field_str(idx_server_ctx *c, json_t *obj, const char *key, int required,
                         const char **s, size_t *len);
int idx_server_field_uint(idx_server_ctx *c, json_t *obj, const char *key, int required,
                          uint64_t min, uint64_t max, uint64_t *v);
/* A query string: a JSON string of at most max_query bytes, else 400 naming the limit. */
int idx_server_query_ok(idx_server_ctx *c, const char *field, size_t len);
/* 1 if the request is past its deadline, after answering 504. */
int idx_server_deadline(idx_server_ctx *c);
/* Seconds since the request arrived. */
double idx_server_elapsed(idx_server_ctx *c);

/* The answer (the first answer given wins; later ones are ignored). */
void idx_server_reply(idx_server_ctx *c, int status, json_t *body); /* steals body */
void idx_server_reply_text(idx_server_ctx *c, int status, const char *content_type, char *text,
                           size_t len); /* steals malloc'd text */
void idx_server_error(idx_server_ctx *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a library error to a status (NOT_FOUND 404, INVALID/PARSE/LIMIT 400,
 * TIMEOUT 504, else 500) with idx_errmsg() as the message. */
void idx_server_fail(idx_server_ctx *c, idx_err e);

/* A JSON string from bytes that may not be valid UTF-8 (invalid bytes become
 * U+FFFD). NULL on allocation failure. */
json_t *idx_server_json_text(const char *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
