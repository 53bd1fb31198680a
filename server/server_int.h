/*
 * server_int.h -- what the files of server/ share and nobody else sees: the
 * reference-counted set of loaded indexes, the per-request context, the
 * metrics, the route table and the handlers it points to.
 */
#ifndef IDX_SERVER_INT_H
#define IDX_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "idx_server.h"

/* The served indexes; a request holds a reference for its whole life. */
typedef struct {
    atomic_long refs;
    size_t n;
    idx_server_index *ix;
} idx_server_set;

idx_err idx_server_set_open(const idx_server_index_spec *specs, size_t n, idx_server_set **out);
void idx_server_set_release(idx_server_set *set);

/* A stack of reusable per-request handles (sparse searchers, hybrid clones):
 * handles that are not thread-safe are popped by a request (NULL when the
 * stack is empty: the caller makes one) and pushed back; at most as many
 * exist as requests ever ran at once. free_fn frees a handle. */
idx_err idx_server_pool_new(void (*free_fn)(void *), struct idx_server_pool **out);
void idx_server_pool_free(struct idx_server_pool *p);
void *idx_server_pool_get(struct idx_server_pool *p);
void idx_server_pool_put(struct idx_server_pool *p, void *h);
/* The fields every mode of POST /v1/retrieve shares, checked once by
 * idx_server_h_retrieve (routes_retrieve.c) before the mode's handler runs. */
typedef struct {
    const char *name, *mode;
    uint64_t k, snip;
    int with_text;
    int has_k1, has_b; /* "sparse": {"k1", "b"} given */
    double k1, b;
    json_t *q1, *qs; /* "query" or "queries" (validated strings) */
    size_t nq;
} idx_server_retrieve_req;
void idx_server_h_retrieve_dense(idx_server_ctx *c, const idx_server_retrieve_req *r);
/* Closes a retrieve answer started with {"mode",...,"results":[ (batch) or a
 * single {"query","hits"} object, adds mode and latency, and sends it (or the
 * error); frees out. */
void idx_server_retrieve_reply(idx_server_ctx *c, const idx_server_retrieve_req *r, idx_err e, idx_buf *out);
/* Appends one retrieval hit object, as `idx retrieve --json` writes it:
 * {"rank","id","score","title","snippet","document","start":0,"end":doc_len
 * [,"text"]}; the snippet is snip[0..sl) with newlines and tabs as spaces,
 * text is written when non-NULL. */
idx_err idx_server_write_hit(idx_buf *out, size_t rank, const char *id, size_t il, double score,
                             const char *title, size_t tl, const char *snip, size_t sl, uint64_t doc_len,
                             const char *text, size_t text_len);

/* Latency histogram bounds in seconds (Prometheus "le" labels). */
#define IDX_SERVER_NBUCKETS 14
extern const double idx_server_buckets[IDX_SERVER_NBUCKETS];

typedef struct {
    atomic_ulong requests;
    atomic_ulong errors_4xx, errors_5xx;
    atomic_ulong buckets[IDX_SERVER_NBUCKETS]; /* non-cumulative */
    atomic_ulong sum_us;
} idx_server_metrics;

/* Metrics are kept per thread slot (a worker thread takes the next of
 * IDX_SERVER_MSLOTS slots the first time it records, so that two workers
 * never bounce one cache line of counters between cores) and summed when
 * /metrics is read. Slot blocks are 64-byte aligned. */
#define IDX_SERVER_MSLOTS 16
typedef struct {
    unsigned long requests, errors_4xx, errors_5xx, buckets[IDX_SERVER_NBUCKETS], sum_us;
} idx_server_metrics_total;
/* The metrics of route slot r (idx_server_nroutes = unmatched), summed. */
void idx_server_metrics_sum(const idx_server *s, size_t r, idx_server_metrics_total *t);
/* Allocates s->metrics (IDX_SERVER_MSLOTS blocks of idx_server_nroutes + 1). */
idx_err idx_server_metrics_alloc(idx_server *s);

/* The route table (server/routes.c); metrics slot idx_server_nroutes is for
 * requests that matched no route. */
extern const idx_server_route idx_server_routes[];
extern const size_t idx_server_nroutes;

struct idx_server {
    idx_server_opts o;
    char *host;
    char *api_key;
    struct MHD_Daemon *daemon;
    unsigned port;
    pthread_mutex_t set_mu;  /* guards `set` (the pointer swap) */
    pthread_mutex_t load_mu; /* one load at a time */
    idx_server_set *set;
    atomic_long inflight;
    atomic_ulong reloads, reload_failures;
    double started;
    idx_server_metrics *metrics; /* IDX_SERVER_MSLOTS blocks of metrics_stride */
    size_t metrics_stride;       /* idx_server_nroutes + 2 (one entry of padding) */
    struct idx_server_models *models; /* --model encoders (server/routes_embed.c) */
};

#define IDX_SERVER_MAX_PARAMS 8
#define IDX_SERVER_MAX_ARGS 32

struct idx_server_ctx {
    idx_server *s;
    const idx_server_route *route;
    idx_server_set *set;
    json_t *body;
    double t0;
    size_t nparams, nargs;
    char *pname[IDX_SERVER_MAX_PARAMS], *pval[IDX_SERVER_MAX_PARAMS];
    char *akey[IDX_SERVER_MAX_ARGS], *aval[IDX_SERVER_MAX_ARGS];
    /* the answer */
    int answered;
    int status;
    char *out;
    size_t out_len;
    const char *ctype;
    char allow[64];   /* Allow header for 405 */
    int want_auth;    /* WWW-Authenticate for 401 */
};

/* The whole request pipeline shared by the daemon and idx_server_handle:
 * route, auth, size limit, JSON body, handler, metrics. c->t0, args, s must
 * be set; path is already percent-decoded. */
void idx_server_dispatch(idx_server_ctx *c, const char *method, const char *path,
                         const char *authorization, const char *body, size_t body_len,
                         int body_too_large);
/* Frees what a context owns (not the context). */
void idx_server_ctx_clear(idx_server_ctx *c);
/* Adds a query-string argument (copies). */
void idx_server_ctx_add_arg(idx_server_ctx *c, const char *key, size_t klen, const char *val,
                            size_t vlen);
/* Splits "a=1&b=%20x" into arguments (percent- and '+'-decoding). */
void idx_server_parse_query(idx_server_ctx *c, const char *qs, size_t len);
/* In-place percent decoding; returns the new length. */
size_t idx_server_unescape(char *p, size_t n, int plus_is_space);

/* JSON output written straight into a buffer, for hot routes (jansson's
 * objects cost about 3 us per retrieval hit, and its number printing goes
 * through glibc's multi-precision printf): a JSON string of bytes (invalid
 * UTF-8 as U+FFFD, as idx_server_json_text); an unsigned integer; and a real
 * exactly as jansson writes it (json_dumps of json_real: "%.17g", always a '.'
 * or an exponent, exponent without '+' or leading zeros; NaN and infinities,
 * which jansson refuses, as null). idx_server_fmt_real writes that real into
 * out (at least 48 bytes, NUL-terminated) and returns its length, 0 for NaN
 * or an infinity. */
idx_err idx_server_buf_str(idx_buf *b, const char *p, size_t n);
idx_err idx_server_buf_uint(idx_buf *b, uint64_t v);
idx_err idx_server_buf_real(idx_buf *b, double v);
size_t idx_server_fmt_real(char *out, double v);

/* Handlers. */
void idx_server_h_healthz(idx_server_ctx *c);
void idx_server_h_metrics(idx_server_ctx *c);
void idx_server_h_indexes(idx_server_ctx *c);
void idx_server_h_infinigram(idx_server_ctx *c);
void idx_server_h_count(idx_server_ctx *c);
void idx_server_h_find(idx_server_ctx *c);
void idx_server_h_document(idx_server_ctx *c);
void idx_server_h_chunk(idx_server_ctx *c);
void idx_server_h_infgram(idx_server_ctx *c);
void idx_server_h_retrieve(idx_server_ctx *c);
void idx_server_h_contamination(idx_server_ctx *c);

/* Dense models and retrieval (server/routes_embed.c, server/routes_dense.c). */
void idx_server_h_embeddings(idx_server_ctx *c);
void idx_server_h_models(idx_server_ctx *c);
void idx_server_models_free(struct idx_server_models *m);
/* Opens ix->dense when the manifest has a dense part (a model that cannot be
 * loaded is recorded, not fatal); frees it. */
idx_err idx_server_dense_open(idx_server_index *ix);
void idx_server_dense_free(struct idx_server_dense *d);
/* The index's local dense model and its name, or NULL. */
struct idx_encoder *idx_server_dense_encoder(const idx_server_index *ix, const char **model_name);

#endif
