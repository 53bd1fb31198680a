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

/* A stack of reusable sparse searchers (one per concurrent request). */
idx_err idx_server_pool_new(struct idx_server_pool **out);
void idx_server_pool_free(struct idx_server_pool *p);

/* Latency histogram bounds in seconds (Prometheus "le" labels). */
#define IDX_SERVER_NBUCKETS 14
extern const double idx_server_buckets[IDX_SERVER_NBUCKETS];

typedef struct {
    atomic_ulong requests;
    atomic_ulong errors_4xx, errors_5xx;
    atomic_ulong buckets[IDX_SERVER_NBUCKETS]; /* non-cumulative */
    atomic_ulong sum_us;
} idx_server_metrics;

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
    idx_server_metrics *metrics; /* idx_server_nroutes + 1 */
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

/* JSON output written straight into a buffer, for hot routes whose answers
 * are large arrays (jansson's objects cost about 3 us per hit there):
 * a JSON string of bytes (invalid UTF-8 as U+FFFD, as idx_server_json_text),
 * and a number (%.17g, always with a '.' or exponent, as jansson writes reals). */
idx_err idx_server_buf_str(idx_buf *b, const char *p, size_t n);
idx_err idx_server_buf_real(idx_buf *b, double v);

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
void idx_server_h_retrieve_dense(idx_server_ctx *c, const char *mode); /* /v1/retrieve, mode dense|hybrid */
void idx_server_models_free(struct idx_server_models *m);
/* Opens ix->dense when the manifest has a dense part (a model that cannot be
 * loaded is recorded, not fatal); frees it. */
idx_err idx_server_dense_open(idx_server_index *ix);
void idx_server_dense_free(struct idx_server_dense *d);
/* The index's local dense model and its name, or NULL. */
struct idx_encoder *idx_server_dense_encoder(const idx_server_index *ix, const char **model_name);

#endif
