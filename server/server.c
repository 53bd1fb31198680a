/*
 * server.c -- the libmicrohttpd daemon and the server's life cycle.
 *
 * Request life cycle (libmicrohttpd's access handler is called several times
 * per request): the first call allocates the per-request state and returns
 * (answering there would make MHD close the connection after the answer,
 * which ruins keep-alive throughput), except when Content-Length already
 * exceeds the body limit, where 413 is answered at once and the connection
 * closed; the following calls append the body up to max_body (beyond it the
 * rest is read and dropped, and the answer is 413); the last call (no more
 * data) runs idx_server_dispatch and queues the answer; the completion
 * callback frees the state. The daemon runs an internal thread pool with
 * epoll, and the connection, per-IP, memory and timeout limits are set
 * explicitly. Stopping quiesces the listening socket, waits for requests in
 * flight, then stops the daemon.
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

typedef struct {
    double t0;
    int too_large;
    int answered; /* 413 answered on the first call */
    idx_buf body;
} req_state;

static void fill_defaults(idx_server_opts *o) {
    if (!o->host) o->host = "127.0.0.1";
    if (!o->threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n > 0 ? (unsigned)n : 2;
    }
    if (!o->max_body) o->max_body = 8u << 20;
    if (!o->max_query) o->max_query = 4096;
    if (!o->max_batch) o->max_batch = 1000;
    if (!(o->timeout_ms > 0)) o->timeout_ms = 10000;
    if (!o->max_connections) o->max_connections = 1024;
    if (!o->max_per_ip) o->max_per_ip = 512;
    if (!o->conn_memory) o->conn_memory = 128u << 10;
    if (!o->conn_timeout_s) o->conn_timeout_s = 30;
    if (!o->max_ctx_len) o->max_ctx_len = 10000;
    if (!o->max_text) o->max_text = 65536;
    if (!o->max_suffix) o->max_suffix = 256;
}

idx_err idx_server_new(const idx_server_opts *opts, idx_server **out) {
    *out = NULL;
    idx_server *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->set_mu, NULL);
    pthread_mutex_init(&s->load_mu, NULL);
    if (opts) s->o = *opts;
    fill_defaults(&s->o);
    s->host = strdup(s->o.host);
    s->api_key = s->o.api_key ? strdup(s->o.api_key) : NULL;
    s->metrics = calloc(idx_server_nroutes + 1, sizeof *s->metrics);
    if (!s->host || (s->o.api_key && !s->api_key) || !s->metrics) {
        idx_server_free(s);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    s->o.host = s->host;
    s->o.api_key = s->api_key;
    if (s->api_key && !*s->api_key) {
        idx_server_free(s);
        return idx_fail(IDX_ERR_INVALID, "the API key is empty");
    }
    s->started = idx_now();
    idx_err e = idx_server_set_open(NULL, 0, &s->set); /* empty until loaded */
    if (e) {
        idx_server_free(s);
        return e;
    }
    *out = s;
    return IDX_OK;
}

idx_err idx_server_load(idx_server *s, const idx_server_index_spec *specs, size_t n) {
    pthread_mutex_lock(&s->load_mu);
    idx_server_set *set;
    idx_err e = idx_server_set_open(specs, n, &set);
    if (e) {
        atomic_fetch_add(&s->reload_failures, 1);
        pthread_mutex_unlock(&s->load_mu);
        return e;
    }
    pthread_mutex_lock(&s->set_mu);
    idx_server_set *old = s->set;
    s->set = set;
    pthread_mutex_unlock(&s->set_mu);
    idx_server_set_release(old);
    atomic_fetch_add(&s->reloads, 1);
    pthread_mutex_unlock(&s->load_mu);
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* libmicrohttpd glue                                                         */
/* ------------------------------------------------------------------------ */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    idx_server_ctx *c = cls;
    idx_server_ctx_add_arg(c, key, strlen(key), value, value ? strlen(value) : 0);
    return MHD_YES;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, idx_server_ctx *c) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(c->out_len, c->out, MHD_RESPMEM_MUST_FREE);
    if (!resp) return MHD_NO;
    c->out = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, c->ctype);
    if (c->status == 405 && c->allow[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, c->allow);
    if (c->want_auth) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)c->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result answer(idx_server *s, struct MHD_Connection *conn, const char *url,
                              const char *method, req_state *st) {
    idx_server_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.t0 = st->t0;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    idx_server_dispatch(&c, method, url, auth, st->body.data, st->body.len, st->too_large);
    enum MHD_Result r = send_answer(conn, &c);
    idx_server_ctx_clear(&c);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    idx_server *s = cls;
    req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->t0 = idx_now();
        *con_cls = st;
        atomic_fetch_add(&s->inflight, 1);
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && n > s->o.max_body) {
                st->too_large = 1;
                st->answered = 1;
                return answer(s, conn, url, method, st); /* 413 now; MHD closes the connection */
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->answered || st->too_large) return MHD_YES;
        if (n > s->o.max_body - st->body.len) {
            st->too_large = 1;
            idx_buf_free(&st->body);
            memset(&st->body, 0, sizeof st->body);
            return MHD_YES;
        }
        if (idx_buf_append(&st->body, upload_data, n)) return MHD_NO;
        return MHD_YES;
    }
    if (st->answered) return MHD_YES;
    st->answered = 1;
    return answer(s, conn, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    idx_server *s = cls;
    req_state *st = *con_cls;
    if (!st) return;
    idx_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

idx_err idx_server_start(idx_server *s) {
    if (s->daemon) return idx_fail(IDX_ERR_INVALID, "the server is already running");
    if (s->o.port > 65535) return idx_fail(IDX_ERR_INVALID, "port %u is out of range", s->o.port);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->o.port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, s->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->o.port);
        sl = sizeof *a6;
        flags |= MHD_USE_IPv6;
    } else {
        return idx_fail(IDX_ERR_INVALID, "host '%s' is not a numeric IPv4 or IPv6 address", s->host);
    }
    (void)sl;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, s->o.threads, MHD_OPTION_CONNECTION_LIMIT,
        s->o.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->o.max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->o.conn_memory, MHD_OPTION_CONNECTION_TIMEOUT,
        s->o.conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!s->daemon)
        return idx_fail(IDX_ERR_IO, "cannot listen on %s port %u (in use, or not allowed)", s->host,
                        s->o.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return IDX_OK;
}

unsigned idx_server_port(const idx_server *s) { return s->port; }

void idx_server_stop(idx_server *s, double grace_s) {
    if (!s || !s->daemon) return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    double until = idx_now() + grace_s;
    while (atomic_load(&s->inflight) > 0 && idx_now() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->daemon = NULL;
}

void idx_server_free(idx_server *s) {
    if (!s) return;
    idx_server_stop(s, 0);
    pthread_mutex_destroy(&s->set_mu);
    pthread_mutex_destroy(&s->load_mu);
    idx_server_set_release(s->set);
    idx_server_models_free(s->models);
    free(s->metrics);
    free(s->host);
    free(s->api_key);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Requests without a socket                                                  */
/* ------------------------------------------------------------------------ */

idx_err idx_server_handle(idx_server *s, const char *method, const char *url,
                          const char *authorization, const void *body, size_t body_len,
                          idx_server_answer *ans) {
    memset(ans, 0, sizeof *ans);
    if (!method || !url) return idx_fail(IDX_ERR_INVALID, "method and url are required");
    idx_server_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.t0 = idx_now();
    const char *q = strchr(url, '?');
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    char *path = strndup(url, plen);
    if (!path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    plen = idx_server_unescape(path, plen, 0);
    path[strnlen(path, plen)] = '\0';
    if (q) idx_server_parse_query(&c, q + 1, strlen(q + 1));
    atomic_fetch_add(&s->inflight, 1);
    idx_server_dispatch(&c, method, path, authorization, body, body_len, body_len > s->o.max_body);
    atomic_fetch_sub(&s->inflight, 1);
    free(path);
    ans->status = c.status;
    ans->body = c.out;
    ans->body_len = c.out_len;
    ans->content_type = c.ctype;
    c.out = NULL;
    idx_server_ctx_clear(&c);
    return IDX_OK;
}

void idx_server_answer_free(idx_server_answer *ans) {
    if (!ans) return;
    free(ans->body);
    ans->body = NULL;
}
