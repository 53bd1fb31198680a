/*
 * test_embed_client.c -- the OpenAI-compatible embeddings client against a
 * small in-process fake server (libmicrohttpd): request format, batching,
 * answers out of order ("index"), API key from a file, retries with backoff
 * on 503/429, timeouts, and clear errors on malformed JSON, wrong dimension,
 * missing or duplicate indexes and HTTP errors; plus the response parser on
 * hand-written bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "idx_dense.h"

#define DIM 8

enum { OK, FAIL_FIRST, TOO_MANY, SLOW, MALFORMED, WRONG_DIM, DUP_INDEX, NEED_AUTH, SERVER_ERROR_JSON };
static volatile int mode;
static volatile int requests;
static volatile int fail_count; /* FAIL_FIRST / TOO_MANY: how many requests fail */
static char last_model[64];
static int last_inputs;

/* The fake embedding of a text: deterministic from its bytes. */
static void fake_vec(const char *s, size_t n, float *v) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    for (int j = 0; j < DIM; j++) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        v[j] = (float)((double)(h >> 40) / (double)(1 << 24) - 0.5);
    }
}

typedef struct {
    char *data;
    size_t len;
} body;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)cls; (void)version;
    body *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        b->data = realloc(b->data, b->len + *upload_size + 1);
        memcpy(b->data + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = 0;
        *upload_size = 0;
        return MHD_YES;
    }
    int n = __sync_add_and_fetch(&requests, 1);
    if (strcmp(method, "POST") || strcmp(url, "/v1/embeddings")) return reply(c, 404, "{\"error\":\"not found\"}");
    if (mode == NEED_AUTH) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!a || strcmp(a, "Bearer s3cret-key")) return reply(c, 401, "{\"error\":{\"message\":\"bad key\"}}");
    }
    if ((mode == FAIL_FIRST || mode == TOO_MANY) && n <= fail_count)
        return reply(c, mode == FAIL_FIRST ? 503 : 429, "{\"error\":\"busy\"}");
    if (mode == SLOW) sleep(1);
    if (mode == MALFORMED) return reply(c, 200, "{\"data\": [ {\"embedding\": [1, 2,");
    if (mode == SERVER_ERROR_JSON) return reply(c, 200, "{\"error\":{\"message\":\"model not loaded\"}}");
    json_t *req = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    json_t *input = json_object_get(req, "input");
    if (!json_is_array(input)) {
        json_decref(req);
        return reply(c, 400, "{\"error\":\"no input\"}");
    }
    snprintf(last_model, sizeof last_model, "%s", json_string_value(json_object_get(req, "model")));
    last_inputs = (int)json_array_size(input);
    json_t *data = json_array();
    size_t m = json_array_size(input);
    /* answer in reverse order to exercise "index" */
    for (size_t k = m; k-- > 0;) {
        const char *s = json_string_value(json_array_get(input, k));
        float v[DIM];
        fake_vec(s, strlen(s), v);
        json_t *emb = json_array();
        int d = mode == WRONG_DIM && k == m - 1 && m > 1 ? DIM - 1 : DIM;
        for (int j = 0; j < d; j++) json_array_append_new(emb, json_real(v[j]));
        json_t *it = json_object();
        json_object_set_new(it, "object", json_string("embedding"));
        json_object_set_new(it, "embedding", emb);
        json_object_set_new(it, "index", json_integer(mode == DUP_INDEX ? 0 : (json_int_t)k));
        json_array_append_new(data, it);
    }
    json_t *resp = json_object();
    json_object_set_new(resp, "object", json_string("list"));
    json_object_set_new(resp, "data", data);
    char *txt = json_dumps(resp, JSON_COMPACT);
    enum MHD_Result r = reply(c, 200, txt);
    free(txt);
    json_decref(resp);
    json_decref(req);
    return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
    (void)cls; (void)c; (void)t;
    body *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
    }
    *con_cls = NULL;
}

static struct MHD_Daemon *daemon_;
static char base_url[64];

static int setup(void **st) {
    (void)st;
    daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                               handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!daemon_) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)info->port);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    MHD_stop_daemon(daemon_);
    return 0;
}

static const char *texts[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"};

static idx_embedder *make(uint32_t dim, size_t batch, int retries, double timeout) {
    idx_embedder_opts o = {0};
    o.provider = "openai";
    o.model = "fake-model";
    o.url = base_url;
    o.dim = dim;
    o.batch = batch;
    o.max_retries = retries;
    o.timeout = timeout;
    o.backoff = 0.01;
    idx_embedder *e;
    assert_int_equal(idx_embedder_new(&o, &e), IDX_OK);
    return e;
}

static void check_vectors(const float *out, size_t n, const char *prefix) {
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s%s", prefix, texts[i]);
        float v[DIM];
        fake_vec(buf, strlen(buf), v);
        for (int j = 0; j < DIM; j++) assert_true(fabsf(out[i * DIM + j] - v[j]) < 1e-6f);
    }
}

static void test_ok_batching(void **st) {
    (void)st;
    float out[10 * DIM];
    mode = OK;
    requests = 0;
    idx_embedder *e = make(DIM, 4, -1, 5);
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 10, out), IDX_OK);
    assert_int_equal(requests, 3); /* 4 + 4 + 2 */
    assert_string_equal(last_model, "fake-model");
    assert_int_equal(last_inputs, 2);
    check_vectors(out, 10, "");
    idx_embedder_free(e);
    /* unknown dimension: learned from a first one-text request */
    requests = 0;
    e = make(0, 4, -1, 5);
    assert_int_equal(idx_embedder_dim(e), 0);
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 10, out), IDX_OK);
    assert_int_equal(idx_embedder_dim(e), DIM);
    assert_int_equal(requests, 4); /* 1 + 4 + 4 + 1 */
    check_vectors(out, 10, "");
    json_t *id = idx_embedder_identity(e);
    assert_int_equal(json_integer_value(json_object_get(id, "dim")), DIM);
    assert_string_equal(json_string_value(json_object_get(id, "provider")), "openai");
    json_decref(id);
    idx_embedder_free(e);
}

static void test_prefix_normalize_key(void **st) {
    (void)st;
    char keyfile[] = "/tmp/idx_test_key_XXXXXX";
    int fd = mkstemp(keyfile);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "  s3cret-key\n", 13), 13);
    close(fd);
    idx_embedder_opts o = {0};
    o.provider = "openai";
    o.model = "m";
    o.url = base_url;
    o.api_key_file = keyfile;
    o.normalize = 1;
    o.query_prefix = "query: ";
    idx_embedder *e;
    assert_int_equal(idx_embedder_new(&o, &e), IDX_OK);
    mode = NEED_AUTH;
    float out[3 * DIM];
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_QUERY, texts, NULL, 3, out), IDX_OK);
    for (int i = 0; i < 3; i++) {
        float v[DIM];
        char buf[64];
        snprintf(buf, sizeof buf, "query: %s", texts[i]);
        fake_vec(buf, strlen(buf), v);
        idx_dense_normalize(v, 1, DIM);
        for (int j = 0; j < DIM; j++) assert_true(fabsf(out[i * DIM + j] - v[j]) < 1e-6f);
    }
    idx_embedder_free(e);
    /* wrong key: 401 is not retried, the server's message is shown */
    o.api_key_file = NULL;
    o.api_key = "wrong";
    assert_int_equal(idx_embedder_new(&o, &e), IDX_OK);
    requests = 0;
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 1, out), IDX_ERR_NETWORK);
    assert_int_equal(requests, 1);
    assert_non_null(strstr(idx_errmsg(), "401"));
    assert_non_null(strstr(idx_errmsg(), "bad key"));
    idx_embedder_free(e);
    unlink(keyfile);
    /* missing key file */
    o.api_key = NULL;
    o.api_key_file = "/nonexistent/key";
    assert_int_not_equal(idx_embedder_new(&o, &e), IDX_OK);
    assert_non_null(strstr(idx_errmsg(), "/nonexistent/key"));
}

static void test_retries(void **st) {
    (void)st;
    float out[10 * DIM];
    for (int m = FAIL_FIRST; m <= TOO_MANY; m++) {
        mode = m;
        requests = 0;
        fail_count = 2;
        idx_embedder *e = make(DIM, 10, 3, 5);
        assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 10, out), IDX_OK);
        assert_int_equal(requests, 3);
        check_vectors(out, 10, "");
        idx_embedder_free(e);
        /* not enough retries */
        requests = 0;
        fail_count = 5;
        e = make(DIM, 10, 2, 5);
        assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 10, out), IDX_ERR_NETWORK);
        assert_int_equal(requests, 3);
        assert_non_null(strstr(idx_errmsg(), m == FAIL_FIRST ? "HTTP 503" : "HTTP 429"));
        assert_non_null(strstr(idx_errmsg(), "3 attempt"));
        idx_embedder_free(e);
    }
}

static void test_timeout(void **st) {
    (void)st;
    float out[DIM];
    mode = SLOW;
    requests = 0;
    idx_embedder *e = make(DIM, 4, 1, 0.2);
    double t0 = idx_now();
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 1, out), IDX_ERR_TIMEOUT);
    assert_true(idx_now() - t0 < 5);
    assert_non_null(strstr(idx_errmsg(), "2 attempt"));
    idx_embedder_free(e);
}

static void test_bad_answers(void **st) {
    (void)st;
    float out[10 * DIM];
    struct { int mode; idx_err err; const char *msg; } cases[] = {
        {MALFORMED, IDX_ERR_PARSE, "not JSON"},
        {WRONG_DIM, IDX_ERR_PARSE, "dimension 7, expected 8"},
        {DUP_INDEX, IDX_ERR_PARSE, "appears twice"},
        {SERVER_ERROR_JSON, IDX_ERR_PARSE, "model not loaded"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mode = cases[i].mode;
        requests = 0;
        idx_embedder *e = make(DIM, 10, 3, 5);
        assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 3, out), cases[i].err);
        assert_int_equal(requests, 1); /* malformed answers are not retried */
        assert_non_null(strstr(idx_errmsg(), cases[i].msg));
        idx_embedder_free(e);
    }
    /* nobody listening */
    idx_embedder_opts o = {0};
    o.provider = "openai";
    o.model = "m";
    o.url = "http://127.0.0.1:1";
    o.max_retries = 1;
    o.backoff = 0.01;
    idx_embedder *e;
    assert_int_equal(idx_embedder_new(&o, &e), IDX_OK);
    assert_int_equal(idx_embedder_embed(e, IDX_EMBED_DOC, texts, NULL, 1, out), IDX_ERR_NETWORK);
    assert_non_null(strstr(idx_errmsg(), "127.0.0.1:1"));
    idx_embedder_free(e);
    /* bad options */
    o.provider = "cohere";
    assert_int_equal(idx_embedder_new(&o, &e), IDX_ERR_INVALID);
    o.provider = "openai";
    o.url = NULL;
    assert_int_equal(idx_embedder_new(&o, &e), IDX_ERR_INVALID);
}

static void test_parse(void **st) {
    (void)st;
    float out[4];
    uint32_t d = 0;
    const char *ok = "{\"data\":[{\"embedding\":[1,2],\"index\":1},{\"embedding\":[3.5,-4e-3],\"index\":0}]}";
    assert_int_equal(idx_embedder_parse_response(ok, strlen(ok), 2, 0, out, &d), IDX_OK);
    assert_int_equal(d, 2);
    assert_true(out[0] == 3.5f && out[2] == 1 && out[3] == 2);
    const char *bad[] = {
        "", "[]", "{\"data\":{}}", "{\"data\":[1,2]}",
        "{\"data\":[{\"embedding\":[1,2],\"index\":5},{\"embedding\":[1,2]}]}",
        "{\"data\":[{\"embedding\":[1,\"x\"]},{\"embedding\":[1,2]}]}",
        "{\"data\":[{\"embedding\":[]},{\"embedding\":[]}]}",
        "{\"data\":[{\"embedding\":[1,2],\"index\":-1},{\"embedding\":[1,2]}]}",
        "{\"data\":[{\"embedding\":[1e39,2]},{\"embedding\":[1,2]}]}",
        "{\"data\":[{\"embedding\":[1,2]}]}",
        "{\"data\":[{\"embedding\":[1,2],\"index\":1.5},{\"embedding\":[1,2]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(idx_embedder_parse_response(bad[i], strlen(bad[i]), 2, 0, out, &d), IDX_ERR_PARSE);
        assert_true(strlen(idx_errmsg()) > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),        cmocka_unit_test(test_ok_batching),
        cmocka_unit_test(test_prefix_normalize_key), cmocka_unit_test(test_retries),
        cmocka_unit_test(test_timeout),      cmocka_unit_test(test_bad_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
