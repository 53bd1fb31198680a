/*
 * test_server.c -- end-to-end tests of `idx serve`: a small index is built in
 * the test, the real binary is started on a free port (--port 0, the port is
 * read from its first line of output) and libcurl talks to it. Checked: the
 * answers against a naive scan of the corpus and byte-for-byte document
 * round trips, infini-gram mini's exact field names and types, every error
 * case (401, 404, 405, 413, 400 malformed JSON with its position, 400 over
 * the query and batch limits, 504 past the deadline), concurrent clients,
 * metrics, SIGHUP reload and graceful SIGTERM. A second part runs requests
 * in-process through idx_server_handle (query strings, routing corner cases).
 */
#include "../idx_test.h"
#include "server_test.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "idx_chunk.h"
#include "idx_index.h"
#include "idx_server.h"
#include "server_int.h"

#define NDOCS 60
#define KEY "s3cret-token-42"

static char *g_dir, *g_index, *g_keyfile, *g_errlog;
static char *g_docs[NDOCS];
static size_t g_lens[NDOCS];
static pid_t g_pid;
static unsigned g_port;
static int g_have_fm;

/* ------------------------------------------------------------------------ */
/* The corpus and its index                                                   */
/* ------------------------------------------------------------------------ */

static const char *const WORDS[] = {"the",  "cat",    "sat",  "on",   "mat",   "héllo", "wörld",
                                    "data", "index",  "fm",   "query", "tab\there", "✓ ok",
                                    "a",    "abracadabra", "zz", "\"quoted\"", "back\\slash"};

static char *gen_doc(unsigned i, size_t *len) {
    idx_buf b = {0};
    uint32_t x = i * 2654435761u + 7;
    unsigned n = 3 + i % 40;
    for (unsigned k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        const char *w = WORDS[(x >> 16) % (sizeof WORDS / sizeof WORDS[0])];
        assert_int_equal(idx_buf_printf(&b, "%s%s", k ? (x & 0x100 ? "\n" : " ") : "", w), IDX_OK);
    }
    *len = b.len;
    return b.data;
}

static void write_corpus(const char *path) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (unsigned i = 0; i < NDOCS; i++) {
        g_docs[i] = gen_doc(i, &g_lens[i]);
        json_t *o = json_pack("{s:s%,s:s,s:s,s:i}", "text", g_docs[i], g_lens[i], "id", "", "title", "",
                              "n", (int)i);
        char id[32], title[32];
        snprintf(id, sizeof id, "d%u", i);
        snprintf(title, sizeof title, "Title %u", i);
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "title", json_string(title));
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    fclose(f);
}

/* Occurrences of p in the corpus, by scanning every document. */
static uint64_t naive_count(const char *p, size_t n) {
    uint64_t c = 0;
    for (unsigned i = 0; i < NDOCS; i++) {
        if (n == 0) {
            c += g_lens[i];
            continue;
        }
        for (size_t k = 0; k + n <= g_lens[i]; k++)
            if (!memcmp(g_docs[i] + k, p, n)) c++;
    }
    return c;
}

static void build_index(void) {
    char *corpus = t_path(g_dir, "corpus.jsonl");
    write_corpus(corpus);
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.shard_size = 700; /* several shards */
    const char *in[1] = {corpus};
    idx_index_build_stats st;
    idx_err e = idx_index_build(g_index, in, 1, &o, &st);
    if (e) fprintf(stderr, "build: %s\n", idx_errmsg());
    assert_int_equal(e, IDX_OK);
    g_have_fm = 1;
    /* and a BM25 part over the same document store */
    assert_int_equal(t_sh("'%s' index-sparse --into '%s' >/dev/null 2>&1", t_idx_bin(), g_index), 0);
    free(corpus);
}

/* ------------------------------------------------------------------------ */
/* Running the server                                                         */
/* ------------------------------------------------------------------------ */

static pid_t start_server(const char *args, unsigned *port) {
    return t_start_server(args, g_errlog, 20000, port);
}

static int wait_exit(pid_t pid, double seconds) {
    double until = idx_now() + seconds;
    int st;
    while (idx_now() < until) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

typedef struct {
    long status;
    idx_buf body;
    char allow[128];
    char www[128];
    char conn[64];
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    resp *r = ud;
    return idx_buf_append(&r->body, p, sz * n) ? 0 : sz * n;
}

static void copy_header(char *dst, size_t cap, const char *h, size_t n, const char *name) {
    size_t l = strlen(name);
    if (n > l && !strncasecmp(h, name, l)) {
        const char *v = h + l;
        size_t vl = n - l;
        while (vl && (*v == ' ')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
        snprintf(dst, cap, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    resp *r = ud;
    copy_header(r->allow, sizeof r->allow, p, sz * n, "Allow:");
    copy_header(r->www, sizeof r->www, p, sz * n, "WWW-Authenticate:");
    copy_header(r->conn, sizeof r->conn, p, sz * n, "Connection:");
    return sz * n;
}

/* One request; token NULL = no Authorization header. */
static CURLcode http_try(CURL *h, unsigned port, const char *method, const char *path, const void *body,
                         size_t blen, const char *token, resp *r) {
    memset(r, 0, sizeof *r);
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *hd = NULL;
    char auth[256];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) fprintf(stderr, "curl %s %s: %s\n", method, path, curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hd);
    if (idx_buf_append(&r->body, "", 1) == IDX_OK) r->body.len--; /* NUL-terminate */
    return cc;
}

/* The same, asserting success (main thread only: cmocka asserts are not thread-safe). */
static void http_on(CURL *h, unsigned port, const char *method, const char *path, const void *body,
                    size_t blen, const char *token, resp *r) {
    assert_int_equal(http_try(h, port, method, path, body, blen, token, r), CURLE_OK);
    assert_non_null(r->body.data);
}

static CURL *g_curl;
static void http(const char *method, const char *path, const char *body, resp *r) {
    http_on(g_curl, g_port, method, path, body, body ? strlen(body) : 0, KEY, r);
}

static json_t *json_of(const resp *r) {
    json_error_t je;
    json_t *j = json_loadb(r->body.data, r->body.len, 0, &je);
    if (!j) fprintf(stderr, "not JSON (%s): %.300s\n", je.text, r->body.data);
    assert_non_null(j);
    return j;
}

/* Asserts an error answer: status, {"error":{"code","message"}} and a message fragment. */
static void assert_error(resp *r, long status, const char *code, const char *fragment) {
    if (r->status != status) fprintf(stderr, "expected %ld, got %ld: %s\n", status, r->status, r->body.data);
    assert_int_equal(r->status, status);
    json_t *j = json_of(r);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 2);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    const char *m = json_string_value(json_object_get(e, "message"));
    assert_non_null(m);
    if (fragment && !strstr(m, fragment)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", m, fragment);
        fail();
    }
    json_decref(j);
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_dir = t_tmpdir();
    g_index = t_path(g_dir, "tiny");
    g_keyfile = t_path(g_dir, "key");
    g_errlog = t_path(g_dir, "serve.err");
    t_writes(g_keyfile, KEY "\n");
    build_index();
    char args[2048];
    snprintf(args, sizeof args,
             "--threads 4 --timeout-ms 300000 --api-key-file '%s' --max-body 65536 --max-query 256 --max-batch 50 "
             "--pid-file '%s/pid' '%s'",
             g_keyfile, g_dir, g_index);
    g_pid = start_server(args, &g_port);
    g_curl = curl_easy_init();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    /* what the server said besides routine reload lines (empty when all went well) */
    t_sh("grep -v -e 'reloaded the indexes' -e 'SIGTERM' -e 'stopped' -e 'reload failed' '%s' | tail -60 >&2", g_errlog);
    if (g_pid > 0) {
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
    }
    curl_easy_cleanup(g_curl);
    if (getenv("IDX_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", g_dir);
    else
        idx_rmtree(g_dir);
    for (unsigned i = 0; i < NDOCS; i++) free(g_docs[i]);
    free(g_dir);
    free(g_index);
    free(g_keyfile);
    free(g_errlog);
    curl_global_cleanup();
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tests over HTTP                                                            */
/* ------------------------------------------------------------------------ */

static void test_health_and_indexes(void **state) {
    (void)state;
    resp r;
    http_on(g_curl, g_port, "GET", "/healthz", NULL, 0, NULL, &r); /* public */
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(j, "indexes")), 1);
    assert_string_equal(r.conn, ""); /* keep-alive: no Connection: close */
    json_decref(j);
    idx_buf_free(&r.body);

    http("GET", "/v1/indexes", NULL, &r);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    json_t *ix = json_array_get(json_object_get(j, "indexes"), 0);
    assert_string_equal(json_string_value(json_object_get(ix, "name")), "tiny");
    assert_true(json_integer_value(json_object_get(ix, "disk_bytes")) > 0);
    json_t *docs = json_object_get(json_object_get(ix, "parts"), "docs");
    assert_int_equal(json_integer_value(json_object_get(docs, "documents")), NDOCS);
    if (g_have_fm) {
        json_t *fm = json_object_get(json_object_get(ix, "parts"), "fm");
        assert_int_equal(json_integer_value(json_object_get(fm, "corpus_bytes")), naive_count("", 0));
        assert_true(json_integer_value(json_object_get(fm, "shards")) >= 2);
    }
    json_decref(j);
    idx_buf_free(&r.body);
}

static void test_auth(void **state) {
    (void)state;
    resp r;
    http_on(g_curl, g_port, "GET", "/v1/indexes", NULL, 0, NULL, &r);
    assert_error(&r, 401, "unauthorized", "Bearer");
    assert_string_equal(r.www, "Bearer");
    idx_buf_free(&r.body);
    http_on(g_curl, g_port, "GET", "/v1/indexes", NULL, 0, "wrong-token", &r);
    assert_error(&r, 401, "unauthorized", "not valid");
    idx_buf_free(&r.body);
    http_on(g_curl, g_port, "GET", "/v1/indexes", NULL, 0, KEY "x", &r);
    assert_error(&r, 401, "unauthorized", NULL);
    idx_buf_free(&r.body);
    http_on(g_curl, g_port, "GET", "/metrics", NULL, 0, NULL, &r);
    assert_error(&r, 401, "unauthorized", NULL);
    idx_buf_free(&r.body);
}

static void test_routing_errors(void **state) {
    (void)state;
    resp r;
    http("GET", "/nope", NULL, &r);
    assert_error(&r, 404, "not_found", "/nope");
    idx_buf_free(&r.body);
    http("POST", "/healthz", "{}", &r);
    assert_error(&r, 405, "method_not_allowed", "GET");
    assert_string_equal(r.allow, "GET");
    idx_buf_free(&r.body);
    http("GET", "/v1/documents/nosuch/0", NULL, &r);
    assert_error(&r, 404, "unknown_index", "nosuch");
    idx_buf_free(&r.body);
    http("GET", "/v1/documents/tiny/999999", NULL, &r);
    assert_error(&r, 404, "not_found", "999999");
    idx_buf_free(&r.body);
    http("GET", "/v1/documents/tiny/12x", NULL, &r);
    assert_error(&r, 400, "bad_request", "12x");
    idx_buf_free(&r.body);
    http("GET", "/v1/documents/tiny/nope?by=id", NULL, &r);
    assert_error(&r, 404, "not_found", "nope");
    idx_buf_free(&r.body);
}

/* Every document comes back byte for byte, by dense id, by external id and by window. */
static void test_documents(void **state) {
    (void)state;
    for (unsigned i = 0; i < NDOCS; i++) {
        char path[256];
        resp r;
        snprintf(path, sizeof path, "/v1/documents/tiny/%u", i);
        http("GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *j = json_of(&r);
        assert_int_equal(json_integer_value(json_object_get(j, "doc_id")), i);
        assert_int_equal(json_integer_value(json_object_get(j, "length")), g_lens[i]);
        json_t *t = json_object_get(j, "text");
        assert_int_equal(json_string_length(t), g_lens[i]);
        assert_memory_equal(json_string_value(t), g_docs[i], g_lens[i]);
        char want[32];
        snprintf(want, sizeof want, "d%u", i);
        assert_string_equal(json_string_value(json_object_get(j, "id")), want);
        snprintf(want, sizeof want, "Title %u", i);
        assert_string_equal(json_string_value(json_object_get(j, "title")), want);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metadata"), "n")), i);
        json_decref(j);
        idx_buf_free(&r.body);

        snprintf(path, sizeof path, "/v1/documents/tiny/d%u?by=id&offset=2&length=5", i);
        http("GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        j = json_of(&r);
        assert_int_equal(json_integer_value(json_object_get(j, "doc_id")), i);
        size_t wl = g_lens[i] > 2 ? (g_lens[i] - 2 < 5 ? g_lens[i] - 2 : 5) : 0;
        t = json_object_get(j, "text");
        /* a 5-byte window may cut a UTF-8 character: compare when it does not */
        if (idx_utf8_valid(g_docs[i] + 2, wl)) {
            assert_int_equal(json_string_length(t), wl);
            assert_memory_equal(json_string_value(t), g_docs[i] + 2, wl);
        }
        json_decref(j);
        idx_buf_free(&r.body);
    }
}

static void test_body_limits(void **state) {
    (void)state;
    resp r;
    /* 413: larger than --max-body 65536 */
    size_t big = 100000;
    char *b = malloc(big + 1);
    memset(b, ' ', big);
    b[big] = '\0';
    b[0] = '{';
    b[big - 1] = '}';
    http("POST", "/v1/count", b, &r);
    assert_error(&r, 413, "payload_too_large", "max_body=65536");
    idx_buf_free(&r.body);
    free(b);
    /* the server still answers after that */
    http("GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    idx_buf_free(&r.body);
}

static void test_json_errors(void **state) {
    (void)state;
    resp r;
    http("POST", "/v1/count", "{\"index\": \"tiny\",\n \"query\": }", &r);
    assert_error(&r, 400, "invalid_json", "line 2, column");
    idx_buf_free(&r.body);
    http("POST", "/v1/count", "[1,2]", &r);
    assert_error(&r, 400, "invalid_json", "object");
    idx_buf_free(&r.body);
    http("POST", "/v1/count", "", &r);
    assert_error(&r, 400, "invalid_json", "byte 0");
    idx_buf_free(&r.body);
    http("POST", "/v1/count", "{\"index\":\"tiny\"}", &r);
    assert_error(&r, 400, "bad_request", "query");
    idx_buf_free(&r.body);
    http("POST", "/v1/count", "{\"index\":\"tiny\",\"query\":5}", &r);
    assert_error(&r, 400, "bad_request", "'query' must be a string");
    idx_buf_free(&r.body);
    http("POST", "/v1/count", "{\"index\":\"other\",\"query\":\"a\"}", &r);
    assert_error(&r, 404, "unknown_index", "other");
    idx_buf_free(&r.body);
    /* over-long query and over-large batch name the limit */
    char q[400];
    memset(q, 'a', 300);
    q[300] = '\0';
    char body[1024];
    snprintf(body, sizeof body, "{\"index\":\"tiny\",\"query\":\"%s\"}", q);
    http("POST", "/v1/count", body, &r);
    assert_error(&r, 400, "limit_exceeded", "max_query=256");
    idx_buf_free(&r.body);
    snprintf(body, sizeof body, "{\"index\":\"tiny\",\"query_type\":\"count\",\"query\":\"%s\"}", q);
    http("POST", "/", body, &r);
    assert_error(&r, 400, "limit_exceeded", "max_query=256");
    idx_buf_free(&r.body);
    idx_buf bb = {0};
    idx_buf_printf(&bb, "{\"index\":\"tiny\",\"queries\":[");
    for (int i = 0; i < 51; i++) idx_buf_printf(&bb, "%s\"a\"", i ? "," : "");
    idx_buf_printf(&bb, "]}");
    http("POST", "/v1/count", bb.data, &r);
    assert_error(&r, 400, "limit_exceeded", "max_batch=50");
    idx_buf_free(&r.body);
    idx_buf_free(&bb);
    http("POST", "/", "{\"index\":\"tiny\",\"query_type\":\"prob\",\"query\":\"a\"}", &r);
    assert_error(&r, 400, "bad_request", "prob");
    idx_buf_free(&r.body);
    http("POST", "/", "{\"index\":\"tiny\",\"query_type\":\"find\",\"query\":\"\"}", &r);
    assert_error(&r, 400, "bad_request", "non-empty");
    idx_buf_free(&r.body);
    http("POST", "/", "{\"index\":\"tiny\",\"query_type\":\"get_doc_by_rank\",\"query\":\"a\",\"s\":0,\"rank\":0,"
                      "\"max_ctx_len\":0}",
         &r);
    assert_error(&r, 400, "bad_request", "max_ctx_len");
    idx_buf_free(&r.body);
}

static void test_deadline(void **state) {
    (void)state;
    idx_buf bb = {0};
    idx_buf_printf(&bb, "{\"index\":\"tiny\",\"timeout_ms\":0.000001,\"queries\":[");
    for (int i = 0; i < 50; i++) idx_buf_printf(&bb, "%s\"the cat\"", i ? "," : "");
    idx_buf_printf(&bb, "]}");
    resp r;
    http("POST", "/v1/count", bb.data, &r);
    assert_error(&r, 504, "timeout", "deadline");
    idx_buf_free(&r.body);
    idx_buf_free(&bb);
}

static const char *const PATTERNS[] = {"the", "cat", "t", "héllo", "wörld", "abracadabra", "abra",
                                       "ra", "\t", "\n", " ", "✓", "zz zz", "the cat", "nothing here",
                                       "\"quoted\"", "back\\slash", "a", "é", "x"};
#define NPAT (sizeof PATTERNS / sizeof PATTERNS[0])

/* POST / answers exactly infini-gram mini's fields and types, with correct values. */
static void test_infinigram_compat(void **state) {
    (void)state;
    for (size_t p = 0; p < NPAT; p++) {
        json_t *rq = json_pack("{s:s,s:s,s:s}", "index", "tiny", "query_type", "count", "query", PATTERNS[p]);
        char *body = json_dumps(rq, JSON_COMPACT);
        resp r;
        http("POST", "/", body, &r);
        assert_int_equal(r.status, 200);
        json_t *j = json_of(&r);
        assert_int_equal(json_object_size(j), 2);
        assert_true(json_is_integer(json_object_get(j, "count")));
        assert_true(json_is_real(json_object_get(j, "latency")));
        assert_int_equal(json_integer_value(json_object_get(j, "count")),
                         naive_count(PATTERNS[p], strlen(PATTERNS[p])));
        json_decref(j);
        idx_buf_free(&r.body);
        free(body);

        json_object_set_new(rq, "query_type", json_string("find"));
        body = json_dumps(rq, JSON_COMPACT);
        http("POST", "/", body, &r);
        free(body);
        assert_int_equal(r.status, 200);
        j = json_of(&r);
        assert_int_equal(json_object_size(j), 3);
        assert_true(json_is_integer(json_object_get(j, "cnt")));
        assert_true(json_is_real(json_object_get(j, "latency")));
        uint64_t cnt = (uint64_t)json_integer_value(json_object_get(j, "cnt"));
        assert_int_equal(cnt, naive_count(PATTERNS[p], strlen(PATTERNS[p])));
        json_t *seg = json_object_get(j, "segment_by_shard");
        assert_true(json_is_array(seg) && json_array_size(seg) >= 2);
        uint64_t sum = 0, seen = 0;
        for (size_t s = 0; s < json_array_size(seg); s++) {
            json_t *pr = json_array_get(seg, s);
            assert_true(json_is_array(pr) && json_array_size(pr) == 2);
            assert_true(json_is_integer(json_array_get(pr, 0)) && json_is_integer(json_array_get(pr, 1)));
            json_int_t lo = json_integer_value(json_array_get(pr, 0)), hi = json_integer_value(json_array_get(pr, 1));
            assert_true(lo <= hi);
            sum += (uint64_t)(hi - lo);
            /* every rank gives a document whose text has the query at needle_offset */
            for (json_int_t k = lo; k < hi && seen < 40; k++, seen++) {
                json_t *g = json_pack("{s:s,s:s,s:s,s:I,s:I,s:i}", "index", "tiny", "query_type",
                                      "get_doc_by_rank", "query", PATTERNS[p], "s", (json_int_t)s, "rank",
                                      k, "max_ctx_len", 7);
                char *gb = json_dumps(g, JSON_COMPACT);
                resp gr;
                http("POST", "/", gb, &gr);
                assert_int_equal(gr.status, 200);
                json_t *d = json_of(&gr);
                static const char *const keys[] = {"doc_ix", "doc_len", "disp_len", "needle_offset",
                                                   "metadata", "text", "spans", "latency"};
                assert_int_equal(json_object_size(d), 8);
                for (size_t q = 0; q < 8; q++) assert_non_null(json_object_get(d, keys[q]));
                for (size_t q = 0; q < 4; q++) assert_true(json_is_integer(json_object_get(d, keys[q])));
                assert_true(json_is_string(json_object_get(d, "metadata")));
                assert_true(json_is_string(json_object_get(d, "text")));
                assert_true(json_is_real(json_object_get(d, "latency")));
                json_int_t doc = json_integer_value(json_object_get(d, "doc_ix"));
                assert_true(doc >= 0 && doc < NDOCS);
                assert_int_equal(json_integer_value(json_object_get(d, "doc_len")), g_lens[doc]);
                const char *text = json_string_value(json_object_get(d, "text"));
                size_t tl = json_string_length(json_object_get(d, "text"));
                if ((size_t)json_integer_value(json_object_get(d, "disp_len")) != tl)
                    fprintf(stderr, "pattern '%s': %s\n", PATTERNS[p], gr.body.data);
                assert_int_equal(json_integer_value(json_object_get(d, "disp_len")), tl);
                json_int_t no = json_integer_value(json_object_get(d, "needle_offset"));
                size_t ql = strlen(PATTERNS[p]);
                assert_true(no >= 0 && (size_t)no + ql <= tl);
                assert_memory_equal(text + no, PATTERNS[p], ql);
                assert_true(tl <= ql + 2 * 7 + 6); /* context, widened to character boundaries */
                assert_non_null(memmem(g_docs[doc], g_lens[doc], text, tl));
                /* spans: [[str, "0"|null], ...] concatenating to the text, the query marked "0" */
                json_t *spans = json_object_get(d, "spans");
                idx_buf cat = {0};
                int marked = 0;
                for (size_t q = 0; q < json_array_size(spans); q++) {
                    json_t *sp = json_array_get(spans, q);
                    assert_true(json_is_array(sp) && json_array_size(sp) == 2);
                    assert_true(json_is_string(json_array_get(sp, 0)));
                    json_t *lab = json_array_get(sp, 1);
                    assert_true(json_is_null(lab) || (json_is_string(lab) && !strcmp(json_string_value(lab), "0")));
                    if (json_is_string(lab)) {
                        marked++;
                        assert_string_equal(json_string_value(json_array_get(sp, 0)), PATTERNS[p]);
                    }
                    idx_buf_append(&cat, json_string_value(json_array_get(sp, 0)),
                                   json_string_length(json_array_get(sp, 0)));
                }
                assert_true(marked >= 1);
                assert_int_equal(cat.len, tl);
                assert_memory_equal(cat.data, text, tl);
                idx_buf_free(&cat);
                json_decref(d);
                idx_buf_free(&gr.body);
                free(gb);
                json_decref(g);
            }
        }
        assert_int_equal(sum, cnt);
        json_decref(j);
        idx_buf_free(&r.body);
        json_decref(rq);
    }
    /* empty count = corpus size */
    resp r;
    http("POST", "/", "{\"index\":\"tiny\",\"query_type\":\"count\",\"query\":\"\"}", &r);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), naive_count("", 0));
    json_decref(j);
    idx_buf_free(&r.body);
}

static void test_count_find(void **state) {
    (void)state;
    json_t *qs = json_array();
    for (size_t p = 0; p < NPAT; p++) json_array_append_new(qs, json_string(PATTERNS[p]));
    json_t *rq = json_pack("{s:s,s:o}", "index", "tiny", "queries", qs);
    char *body = json_dumps(rq, JSON_COMPACT);
    resp r;
    http("POST", "/v1/count", body, &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *counts = json_object_get(j, "counts");
    assert_int_equal(json_array_size(counts), NPAT);
    for (size_t p = 0; p < NPAT; p++)
        assert_int_equal(json_integer_value(json_array_get(counts, p)),
                         naive_count(PATTERNS[p], strlen(PATTERNS[p])));
    json_decref(j);
    idx_buf_free(&r.body);
    free(body);
    json_decref(rq);

    /* every count equals `idx count --hex` on the same index */
    for (size_t p = 0; p < NPAT; p++) {
        char hex[256] = "", *o = hex;
        for (const unsigned char *c = (const unsigned char *)PATTERNS[p]; *c; c++) o += sprintf(o, "%02x", *c);
        char out[64];
        snprintf(out, sizeof out, "%s/cli.count", g_dir);
        assert_int_equal(t_sh("'%s' count --hex '%s' '%s' > '%s'", t_idx_bin(), g_index, hex, out), 0);
        idx_buf cb = {0};
        assert_int_equal(idx_read_file(out, 0, &cb), IDX_OK);
        assert_int_equal(strtoull(cb.data, NULL, 10), naive_count(PATTERNS[p], strlen(PATTERNS[p])));
        idx_buf_free(&cb);
    }

    /* /v1/find gives the occurrences of `idx find --json`, in the same order */
    static const char *const FINDS[] = {"the", "héllo", "abra", "t", "zz"};
    for (size_t f = 0; f < sizeof FINDS / sizeof FINDS[0]; f++) {
        for (int limit = 3; limit <= 1000; limit = limit * 333 + 1) {
            char body[256];
            snprintf(body, sizeof body, "{\"index\":\"tiny\",\"query\":\"%s\",\"limit\":%d,\"context\":5}",
                     FINDS[f], limit);
            http("POST", "/v1/find", body, &r);
            assert_int_equal(r.status, 200);
            j = json_of(&r);
            size_t ql = strlen(FINDS[f]);
            uint64_t want = naive_count(FINDS[f], ql);
            assert_int_equal(json_integer_value(json_object_get(j, "count")), want);
            json_t *occ = json_object_get(j, "occurrences");
            assert_int_equal(json_array_size(occ), want < (uint64_t)limit ? want : (uint64_t)limit);
            char out[64];
            snprintf(out, sizeof out, "%s/cli.find", g_dir);
            assert_int_equal(t_sh("'%s' find --json --limit %d --context 5 '%s' '%s' > '%s'", t_idx_bin(), limit,
                                  g_index, FINDS[f], out),
                             0);
            idx_buf cb = {0};
            assert_int_equal(idx_read_file(out, 0, &cb), IDX_OK);
            size_t i = 0;
            char *save = NULL;
            for (char *line = strtok_r(cb.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
                json_t *cl = json_loads(line, 0, NULL);
                assert_non_null(cl);
                json_t *o = json_array_get(occ, i);
                if (!json_equal(cl, o)) {
                    char *a = json_dumps(o, JSON_COMPACT);
                    fprintf(stderr, "CLI %s\nAPI %s\n", line, a);
                    free(a);
                    fail();
                }
                json_int_t d = json_integer_value(json_object_get(o, "doc"));
                json_int_t off = json_integer_value(json_object_get(o, "offset"));
                assert_true(d >= 0 && d < NDOCS && off >= 0 && (size_t)off + ql <= g_lens[d]);
                assert_memory_equal(g_docs[d] + off, FINDS[f], ql);
                json_decref(cl);
            }
            assert_int_equal(i, json_array_size(occ));
            idx_buf_free(&cb);
            json_decref(j);
            idx_buf_free(&r.body);
        }
    }

    /* /v1/documents text equals `idx show --number` byte for byte */
    for (unsigned d = 0; d < NDOCS; d += 7) {
        char out[64], path[64];
        snprintf(out, sizeof out, "%s/cli.show", g_dir);
        assert_int_equal(t_sh("'%s' show --number '%s' %u > '%s'", t_idx_bin(), g_index, d, out), 0);
        idx_buf cb = {0};
        assert_int_equal(idx_read_file(out, 0, &cb), IDX_OK);
        snprintf(path, sizeof path, "/v1/documents/tiny/%u", d);
        http("GET", path, NULL, &r);
        j = json_of(&r);
        json_t *t = json_object_get(j, "text");
        assert_int_equal(json_string_length(t), cb.len);
        assert_memory_equal(json_string_value(t), cb.data, cb.len);
        json_decref(j);
        idx_buf_free(&r.body);
        idx_buf_free(&cb);
    }
}

/* /v1/chunk equals the library's chunker on the same text and options. */
static void check_chunks(const char *text, const char *chunker, idx_chunk_kind kind, int size, int overlap,
                         int bytes) {
    json_t *rq = json_pack("{s:s,s:s,s:i,s:i,s:s}", "text", text, "chunker", chunker, "size", size, "overlap",
                           overlap, "unit", bytes ? "bytes" : "words");
    char *body = json_dumps(rq, JSON_COMPACT);
    resp r;
    http("POST", "/v1/chunk", body, &r);
    if (r.status != 200) fprintf(stderr, "%s\n", r.body.data);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *chunks = json_object_get(j, "chunks");
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, kind);
    o.size = (uint64_t)size;
    o.overlap = (uint64_t)overlap;
    o.unit = bytes ? IDX_CHUNK_UNIT_BYTES : IDX_CHUNK_UNIT_WORDS;
    idx_chunk_list l = {0};
    assert_int_equal(idx_chunk_text(&o, text, strlen(text), &l), IDX_OK);
    assert_int_equal(json_array_size(chunks), l.n);
    for (size_t i = 0; i < l.n; i++) {
        json_t *ch = json_array_get(chunks, i);
        assert_int_equal(json_integer_value(json_object_get(ch, "start")), l.spans[i].start);
        assert_int_equal(json_integer_value(json_object_get(ch, "end")), l.spans[i].end);
        assert_int_equal(json_integer_value(json_object_get(ch, "words")), l.spans[i].words);
        json_t *t = json_object_get(ch, "text");
        assert_int_equal(json_string_length(t), l.spans[i].end - l.spans[i].start);
        assert_memory_equal(json_string_value(t), text + l.spans[i].start, json_string_length(t));
        if (l.spans[i].head_len)
            assert_memory_equal(json_string_value(json_object_get(ch, "heading")), l.heads.data + l.spans[i].head_off,
                                l.spans[i].head_len);
    }
    idx_chunk_list_free(&l);
    json_decref(j);
    idx_buf_free(&r.body);
    free(body);
    json_decref(rq);
}

static void test_chunk(void **state) {
    (void)state;
    for (unsigned d = 0; d < NDOCS; d += 5) {
        if (!idx_utf8_valid(g_docs[d], g_lens[d])) continue;
        check_chunks(g_docs[d], "recursive", IDX_CHUNK_RECURSIVE, 8, 0, 0);
        check_chunks(g_docs[d], "sentence", IDX_CHUNK_SENTENCE, 200, 0, 0);
        check_chunks(g_docs[d], "fixed-bytes", IDX_CHUNK_FIXED_BYTES, 16, 4, 1);
    }
    const char *md = "# Title\n\nIntro text. Second sentence.\n\n## Part A\n\nAlpha beta gamma.\n\n## Part B\n\nDelta.\n";
    check_chunks(md, "markdown", IDX_CHUNK_MARKDOWN, 0, 0, 0);
    resp r;
    http("POST", "/v1/chunk", "{\"texts\":[\"One. Two.\",\"Three.\"],\"chunker\":\"sentence\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_int_equal(json_array_size(json_object_get(j, "results")), 2);
    assert_int_equal(json_array_size(json_array_get(json_object_get(j, "results"), 0)), 2);
    json_decref(j);
    idx_buf_free(&r.body);
    http("POST", "/v1/chunk", "{\"text\":\"x\",\"chunker\":\"nope\"}", &r);
    assert_error(&r, 400, "bad_request", "nope");
    idx_buf_free(&r.body);
    http("POST", "/v1/chunk", "{\"text\":\"x\",\"chunker\":\"ppl\"}", &r);
    assert_error(&r, 400, "unsupported", "language model");
    idx_buf_free(&r.body);
    http("POST", "/v1/chunk", "{\"text\":\"x y z\",\"chunker\":\"fixed\",\"size\":2,\"overlap\":2}", &r);
    assert_error(&r, 400, "bad_request", NULL);
    idx_buf_free(&r.body);
    http("POST", "/v1/chunk", "{\"text\":\"x\",\"texts\":[]}", &r);
    assert_error(&r, 400, "bad_request", "either");
    idx_buf_free(&r.body);
}

/* Reads a whole file as JSON (the CLI's output). */
static json_t *load_json_file(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fprintf(stderr, "%s: %s\n", path, je.text);
    assert_non_null(j);
    return j;
}

static void assert_json_equal(json_t *a, json_t *b) {
    if (!json_equal(a, b)) {
        char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
        fprintf(stderr, "JSON differs:\n  %.2000s\n  %.2000s\n", x, y);
        free(x);
        free(y);
        fail();
    }
}

/* /v1/infgram equals `idx infgram --json` on the same text. */
static void test_infgram(void **state) {
    (void)state;
    static const char *const TEXTS[] = {"the cat sat on the mat", "héllo wörld ✓ ok", "qqq unseen ☃ bytes",
                                        "abracadabra abracadabra"};
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        for (int byte = 0; byte < 2; byte++) {
            char tf[64], out[64];
            snprintf(tf, sizeof tf, "%s/ig.txt", g_dir);
            snprintf(out, sizeof out, "%s/ig.json", g_dir);
            t_writes(tf, TEXTS[i]);
            assert_int_equal(t_sh("'%s' infgram --json --unit %s --max-suffix 12 --file '%s' '%s' > '%s'",
                                  t_idx_bin(), byte ? "byte" : "char", tf, g_index, out),
                             0);
            json_t *cli = load_json_file(out);
            json_t *rq = json_pack("{s:s,s:s,s:s,s:i}", "index", "tiny", "text", TEXTS[i], "unit",
                                   byte ? "byte" : "char", "max_suffix", 12);
            char *body = json_dumps(rq, JSON_COMPACT);
            resp r;
            http("POST", "/v1/infgram", body, &r);
            assert_int_equal(r.status, 200);
            json_t *j = json_of(&r);
            assert_true(json_is_real(json_object_get(j, "latency_ms")));
            json_object_del(j, "latency_ms");
            assert_json_equal(j, cli);
            json_decref(j);
            json_decref(cli);
            json_decref(rq);
            free(body);
            idx_buf_free(&r.body);
        }
    }
    /* a long text is scored in pieces with max_suffix bytes of context: the same units as one call */
    idx_buf big = {0};
    for (unsigned d = 0; big.len < 11000; d = (d + 7) % NDOCS)
        if (idx_utf8_valid(g_docs[d], g_lens[d])) {
            idx_buf_append(&big, g_docs[d], g_lens[d]);
            idx_buf_append(&big, " ¶ ", strlen(" ¶ "));
        }
    for (int ms = 12; ms <= 256; ms += 244) {
        for (int byte = 0; byte < 2; byte++) {
            char tf[64], out[64];
            snprintf(tf, sizeof tf, "%s/ig.txt", g_dir);
            snprintf(out, sizeof out, "%s/ig.json", g_dir);
            t_write(tf, big.data, big.len);
            assert_int_equal(t_sh("'%s' infgram --json --unit %s --max-suffix %d --file '%s' '%s' > '%s'", t_idx_bin(),
                                  byte ? "byte" : "char", ms, tf, g_index, out),
                             0);
            json_t *cli = load_json_file(out);
            json_t *rq = json_pack("{s:s,s:s%,s:s,s:i}", "index", "tiny", "text", big.data, big.len, "unit",
                                   byte ? "byte" : "char", "max_suffix", ms);
            char *body = json_dumps(rq, JSON_COMPACT);
            resp r;
            http_on(g_curl, g_port, "POST", "/v1/infgram", body, strlen(body), KEY, &r);
            assert_int_equal(r.status, 200);
            json_t *j = json_of(&r);
            json_object_del(j, "latency_ms");
            assert_json_equal(json_object_get(j, "per_unit"), json_object_get(cli, "per_unit"));
            double d = json_real_value(json_object_get(j, "mean_nll")) - json_real_value(json_object_get(cli, "mean_nll"));
            assert_true(d < 1e-9 && d > -1e-9);
            assert_int_equal(json_integer_value(json_object_get(j, "units")), json_integer_value(json_object_get(cli, "units")));
            json_decref(j);
            json_decref(cli);
            json_decref(rq);
            free(body);
            idx_buf_free(&r.body);
        }
    }
    idx_buf_free(&big);
    resp r;
    http("POST", "/v1/infgram", "{\"index\":\"tiny\",\"text\":\"a\",\"max_suffix\":257}", &r);
    assert_error(&r, 400, "limit_exceeded", "max_suffix=256");
    idx_buf_free(&r.body);
    http("POST", "/v1/infgram", "{\"index\":\"tiny\",\"text\":\"a\",\"unit\":\"word\"}", &r);
    assert_error(&r, 400, "bad_request", "unit");
    idx_buf_free(&r.body);
    http("POST", "/v1/infgram", "{\"index\":\"nope\",\"text\":\"a\"}", &r);
    assert_error(&r, 404, "unknown_index", "nope");
    idx_buf_free(&r.body);
}

/* /v1/contamination equals `idx contam --json` on the same entries. */
static void test_contamination(void **state) {
    (void)state;
    json_t *entries = json_array();
    /* planted: whole documents (dirty), half a document, and clean text */
    for (unsigned d = 0; d < NDOCS; d += 9) {
        if (!idx_utf8_valid(g_docs[d], g_lens[d])) continue;
        char id[16];
        snprintf(id, sizeof id, "q%u", d);
        json_array_append_new(entries, json_pack("{s:s,s:s%}", "id", id, "question", g_docs[d], g_lens[d]));
    }
    json_array_append_new(entries, json_pack("{s:s,s:s}", "id", "clean1", "question",
                                             "Completely different words that appear nowhere in this tiny corpus at all, "
                                             "none of them, not one window of fifty characters."));
    json_array_append_new(entries, json_pack("{s:s,s:s}", "id", "short", "question", "the cat"));
    json_array_append_new(entries, json_pack("{s:s,s:i}", "id", "bad", "question", 5));
    char bf[64], out[64];
    snprintf(bf, sizeof bf, "%s/planted.jsonl", g_dir);
    snprintf(out, sizeof out, "%s/contam.json", g_dir);
    FILE *f = fopen(bf, "wb");
    for (size_t i = 0; i < json_array_size(entries); i++) {
        char *line = json_dumps(json_array_get(entries, i), JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
    }
    fclose(f);
    assert_int_equal(t_sh("'%s' contam --json --quiet --skip-bad --threads 1 --window 20 --name planted '%s' '%s' > '%s'",
                          t_idx_bin(), g_index, bf, out),
                     0);
    json_t *cli = load_json_file(out);
    json_t *rq = json_pack("{s:s,s:s,s:o,s:i}", "index", "tiny", "benchmark", "planted", "entries", entries, "window", 20);
    char *body = json_dumps(rq, JSON_COMPACT);
    resp r;
    http("POST", "/v1/contamination", body, &r);
    if (r.status != 200) fprintf(stderr, "%s\n", r.body.data);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *a = json_object_get(j, "entries"), *b = json_object_get(cli, "entries");
    assert_int_equal(json_array_size(a), json_array_size(b));
    int dirty = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_object_del(json_array_get(a, i), "source");
        json_object_del(json_array_get(b, i), "source");
        assert_json_equal(json_array_get(a, i), json_array_get(b, i));
        const char *cls = json_string_value(json_object_get(json_array_get(a, i), "class"));
        if (cls && !strcmp(cls, "dirty")) dirty++;
    }
    assert_true(dirty >= 5); /* the planted documents */
    assert_json_equal(json_object_get(j, "summary"), json_object_get(cli, "summary"));
    json_decref(j);
    json_decref(cli);
    idx_buf_free(&r.body);
    free(body);
    json_decref(rq);

    http("POST", "/v1/contamination", "{\"index\":\"tiny\",\"entries\":{}}", &r);
    assert_error(&r, 400, "bad_request", "entries");
    idx_buf_free(&r.body);
    http("POST", "/v1/contamination", "{\"index\":\"tiny\",\"entries\":[],\"dirty\":0.1,\"suspicious\":0.5}", &r);
    assert_error(&r, 400, "bad_request", "suspicious");
    idx_buf_free(&r.body);
}

/* /v1/retrieve equals `idx retrieve --json` (ids, ranks, scores, titles, snippets). */
static void test_retrieve(void **state) {
    (void)state;
    static const char *const QUERIES[] = {"cat mat", "héllo wörld", "abracadabra index", "quoted data",
                                          "zz", "nothingmatcheshere"};
    json_t *batch = json_array();
    json_t *single[6];
    for (size_t i = 0; i < 6; i++) {
        char out[64];
        snprintf(out, sizeof out, "%s/ret.json", g_dir);
        assert_int_equal(t_sh("'%s' retrieve --json -k 5 '%s' '%s' > '%s' 2>/dev/null", t_idx_bin(), g_index,
                              QUERIES[i], out),
                         0);
        json_t *cli = load_json_file(out);
        json_t *rq = json_pack("{s:s,s:s,s:i,s:s}", "index", "tiny", "query", QUERIES[i], "k", 5, "mode", "sparse");
        char *body = json_dumps(rq, JSON_COMPACT);
        resp r;
        http("POST", "/v1/retrieve", body, &r);
        if (r.status != 200) fprintf(stderr, "%s\n", r.body.data);
        assert_int_equal(r.status, 200);
        json_t *j = json_of(&r);
        json_t *a = json_object_get(j, "hits"), *b = json_object_get(cli, "hits");
        assert_int_equal(json_array_size(a), json_array_size(b));
        if (i < 3) assert_true(json_array_size(a) > 0);
        for (size_t h = 0; h < json_array_size(a); h++) {
            json_t *x = json_array_get(a, h), *y = json_array_get(b, h);
            assert_int_equal(json_integer_value(json_object_get(x, "rank")), json_integer_value(json_object_get(y, "rank")));
            assert_string_equal(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
            assert_string_equal(json_string_value(json_object_get(x, "title")), json_string_value(json_object_get(y, "title")));
            assert_string_equal(json_string_value(json_object_get(x, "snippet")), json_string_value(json_object_get(y, "snippet")));
            double d = json_number_value(json_object_get(x, "score")) - json_number_value(json_object_get(y, "score"));
            assert_true(d < 1e-6 && d > -1e-6);
            /* the document and offsets, and the text byte for byte */
            const char *id = json_string_value(json_object_get(x, "document"));
            unsigned doc = (unsigned)atoi(id + 1);
            assert_int_equal(json_integer_value(json_object_get(x, "start")), 0);
            assert_int_equal(json_integer_value(json_object_get(x, "end")), g_lens[doc]);
            json_t *t = json_object_get(x, "text");
            assert_int_equal(json_string_length(t), g_lens[doc]);
            assert_memory_equal(json_string_value(t), g_docs[doc], g_lens[doc]);
        }
        single[i] = json_incref(a);
        json_array_append_new(batch, json_string(QUERIES[i]));
        json_decref(j);
        json_decref(cli);
        json_decref(rq);
        free(body);
        idx_buf_free(&r.body);
    }
    /* the batch answers what the single queries did */
    json_t *rq = json_pack("{s:s,s:o,s:i}", "index", "tiny", "queries", batch, "k", 5);
    char *body = json_dumps(rq, JSON_COMPACT);
    resp r;
    http("POST", "/v1/retrieve", body, &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    json_t *res = json_object_get(j, "results");
    assert_int_equal(json_array_size(res), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_json_equal(json_object_get(json_array_get(res, i), "hits"), single[i]);
        json_decref(single[i]);
    }
    json_decref(j);
    json_decref(rq);
    free(body);
    idx_buf_free(&r.body);
    http("POST", "/v1/retrieve", "{\"index\":\"tiny\",\"query\":\"cat\",\"mode\":\"dense\"}", &r);
    assert_error(&r, 400, "missing_part", "no dense part"); /* dense mode: tests/server/test_server_dense.c */
    idx_buf_free(&r.body);
    http("POST", "/v1/retrieve", "{\"index\":\"tiny\",\"query\":\"cat\",\"rerank\":{\"model\":\"x\"}}", &r);
    assert_error(&r, 400, "unsupported", "rerank");
    idx_buf_free(&r.body);
    http("POST", "/v1/retrieve", "{\"index\":\"tiny\",\"query\":\"cat\",\"k\":0}", &r);
    assert_error(&r, 400, "bad_request", "'k'");
    idx_buf_free(&r.body);
}

typedef struct {
    unsigned seed;
    int errors;
} worker_arg;

static void *worker(void *ud) {
    worker_arg *a = ud;
    CURL *h = curl_easy_init();
    uint32_t x = a->seed;
    for (int i = 0; i < 150; i++) {
        x = x * 1103515245u + 12345u;
        unsigned d = (x >> 8) % NDOCS;
        size_t off = g_lens[d] ? (x >> 4) % g_lens[d] : 0;
        size_t n = 1 + (x >> 20) % 6;
        if (off + n > g_lens[d]) n = g_lens[d] - off;
        json_t *rq = json_pack("{s:s,s:s,s:s%}", "index", "tiny", "query_type", "count", "query",
                               g_docs[d] + off, n);
        if (!rq) continue; /* a cut UTF-8 character is not a JSON string */
        char *body = json_dumps(rq, JSON_COMPACT);
        resp r;
        CURLcode cc = http_try(h, g_port, "POST", "/", body, strlen(body), KEY, &r);
        json_t *j = cc == CURLE_OK && r.body.data ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
        if (r.status != 200 || !j ||
            (uint64_t)json_integer_value(json_object_get(j, "count")) != naive_count(g_docs[d] + off, n))
            a->errors++;
        json_decref(j);
        idx_buf_free(&r.body);
        free(body);
        json_decref(rq);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static long read_reloads(void);
static volatile int g_storm;
static void *hup_storm(void *ud) {
    (void)ud;
    while (g_storm) {
        kill(g_pid, SIGHUP);
        usleep(20000);
    }
    return NULL;
}

/* 8 clients at once, while the index set is reloaded every 20 ms. */
static void test_concurrent(void **state) {
    (void)state;
    pthread_t th[8], hup;
    g_storm = 1;
    assert_int_equal(pthread_create(&hup, NULL, hup_storm, NULL), 0);
    worker_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i].seed = (unsigned)i * 7919u + 1;
        args[i].errors = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    g_storm = 0;
    pthread_join(hup, NULL);
    for (int i = 0; i < 8; i++) assert_int_equal(args[i].errors, 0);
    assert_true(read_reloads() > 2);
}

static void test_metrics(void **state) {
    (void)state;
    resp r;
    http("GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    const char *m = r.body.data;
    assert_non_null(strstr(m, "# TYPE idx_http_requests_total counter"));
    assert_non_null(strstr(m, "# TYPE idx_http_request_duration_seconds histogram"));
    assert_non_null(strstr(m, "idx_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"}"));
    assert_non_null(strstr(m, "idx_index_disk_bytes{index=\"tiny\"}"));
    char want[128];
    snprintf(want, sizeof want, "idx_index_documents{index=\"tiny\"} %d\n", NDOCS);
    assert_non_null(strstr(m, want));
    /* the 60 document fetches of test_documents (twice) were counted */
    const char *c = strstr(m, "idx_http_requests_total{method=\"GET\",route=\"/v1/documents/{index}/{doc_id}\"} ");
    assert_non_null(c);
    assert_true(atol(strstr(c, "\"} ") + 3) >= 2 * NDOCS);
    c = strstr(m, "idx_http_errors_total{method=\"\",route=\"unmatched\",class=\"4xx\"} ");
    assert_non_null(c);
    assert_true(atol(strstr(c, "\"} ") + 3) >= 1);
    idx_buf_free(&r.body);
}

static long read_reloads(void) {
    resp r;
    http("GET", "/metrics", NULL, &r);
    const char *p = strstr(r.body.data, "idx_index_reloads_total{result=\"ok\"} ");
    long n = p ? atol(p + strlen("idx_index_reloads_total{result=\"ok\"} ")) : -1;
    idx_buf_free(&r.body);
    return n;
}

static void wait_reloads(long want) {
    for (int i = 0; i < 500; i++) {
        if (read_reloads() == want) return;
        usleep(10000);
    }
    fprintf(stderr, "reload count is %ld, expected %ld\n", read_reloads(), want);
    fail();
}

static void test_reload(void **state) {
    (void)state;
    long before = read_reloads();
    assert_true(before >= 1);
    assert_int_equal(kill(g_pid, SIGHUP), 0);
    wait_reloads(before + 1);
    resp r;
    http("GET", "/v1/documents/tiny/3", NULL, &r);
    assert_int_equal(r.status, 200);
    idx_buf_free(&r.body);
    /* --reload --pid-file sends the same signal */
    assert_int_equal(t_sh("'%s' serve --reload --pid-file '%s/pid'", t_idx_bin(), g_dir), 0);
    wait_reloads(before + 2);
    /* a reload that fails (the directory is gone) keeps serving the old set */
    char *moved = t_path(g_dir, "tiny.moved");
    assert_int_equal(rename(g_index, moved), 0);
    assert_int_equal(kill(g_pid, SIGHUP), 0);
    int seen = 0;
    for (int i = 0; i < 500 && !seen; i++) {
        seen = t_sh("grep -q 'reload failed' '%s'", g_errlog) == 0;
        if (!seen) usleep(10000);
    }
    assert_true(seen);
    http("GET", "/v1/documents/tiny/3", NULL, &r);
    assert_int_equal(r.status, 200);
    idx_buf_free(&r.body);
    assert_int_equal(rename(moved, g_index), 0);
    free(moved);
}

static void test_graceful_stop(void **state) {
    (void)state;
    resp r;
    http("GET", "/healthz", NULL, &r);
    idx_buf_free(&r.body);
    assert_int_equal(kill(g_pid, SIGTERM), 0);
    assert_int_equal(wait_exit(g_pid, 15), 0);
    g_pid = 0;
    assert_int_equal(t_sh("grep -q 'idx serve: stopped' '%s'", g_errlog), 0);
    /* nothing listens any more */
    CURL *h = curl_easy_init();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", g_port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    assert_int_not_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
}

/* Bad command lines and bad index directories: a message and a non-zero exit. */
static void test_cli_errors(void **state) {
    (void)state;
    assert_int_equal(t_sh("'%s' serve >/dev/null 2>&1", t_idx_bin()), 2);
    assert_int_equal(t_sh("'%s' serve --port 99999 '%s' >/dev/null 2>&1", t_idx_bin(), g_index), 2);
    assert_int_equal(t_sh("'%s' serve --port 0 '%s/nothing' 2>'%s/e1' >/dev/null", t_idx_bin(), g_dir, g_dir), 1);
    assert_int_equal(t_sh("grep -q 'nothing' '%s/e1'", g_dir), 0);
    assert_int_equal(t_sh("'%s' serve --port 0 a='%s' a='%s' 2>'%s/e2' >/dev/null", t_idx_bin(), g_index,
                          g_index, g_dir),
                     1);
    assert_int_equal(t_sh("grep -q \"two indexes are named 'a'\" '%s/e2'", g_dir), 0);
}

/* ------------------------------------------------------------------------ */
/* In-process requests (no socket)                                            */
/* ------------------------------------------------------------------------ */

/* The direct JSON writer agrees with jansson on every byte value and on invalid UTF-8. */
static void test_json_writer(void **state) {
    (void)state;
    char all[300];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    static const char tail[] = "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xC3 \xED\xA0\x80";
    memcpy(all + 256, tail, sizeof tail - 1);
    for (size_t n = 0; n <= 256 + sizeof tail - 1; n += (n < 40 || n > 250 ? 1 : 7)) {
        idx_buf b = {0};
        assert_int_equal(idx_server_buf_str(&b, all + (n % 3), n - (n % 3)), IDX_OK);
        json_t *got = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(got);
        json_t *want = idx_server_json_text(all + (n % 3), n - (n % 3));
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
        idx_buf_free(&b);
    }
    static const double vals[] = {0, 1, -2.5, 6.5613190491583691, 1e-300, 123456789012345678.0, 1.0 / 3};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        idx_buf b = {0};
        assert_int_equal(idx_server_buf_real(&b, vals[i]), IDX_OK);
        json_t *got = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
        assert_true(json_is_real(got));
        assert_true(json_real_value(got) == vals[i]);
        json_decref(got);
        idx_buf_free(&b);
    }
}

static void test_inprocess(void **state) {
    (void)state;
    idx_server_opts o = {.api_key = "k", .max_body = 100};
    idx_server *s;
    assert_int_equal(idx_server_new(&o, &s), IDX_OK);
    idx_server_index_spec sp = {.name = "t%20x", .dir = g_index};
    assert_int_equal(idx_server_load(s, &sp, 1), IDX_ERR_INVALID); /* bad name */
    sp.name = "t";
    assert_int_equal(idx_server_load(s, &sp, 1), IDX_OK);
    idx_server_answer a;
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/t/d7?by=i%64&offset=1&length=3", "Bearer k", NULL, 0, &a),
                     IDX_OK);
    assert_int_equal(a.status, 200);
    json_t *j = json_loads(a.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "doc_id")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "offset")), 1);
    json_decref(j);
    idx_server_answer_free(&a);
    /* percent-encoded path segments are decoded */
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/%74/%31", "Bearer k", NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 200);
    idx_server_answer_free(&a);
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/t/1", "Bearer  k ", NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 200);
    idx_server_answer_free(&a);
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/t/1", "Basic k", NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 401);
    idx_server_answer_free(&a);
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/t/", "Bearer k", NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 404); /* empty segment matches no route */
    idx_server_answer_free(&a);
    assert_int_equal(idx_server_handle(s, "GET", "/healthz?%zz=%&&=x", NULL, NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 200);
    idx_server_answer_free(&a);
    char body[200];
    memset(body, 'x', sizeof body);
    assert_int_equal(idx_server_handle(s, "GET", "/healthz", NULL, body, sizeof body, &a), IDX_OK);
    assert_int_equal(a.status, 413);
    idx_server_answer_free(&a);
    /* a failed reload keeps the previous set */
    idx_server_index_spec bad[2] = {{.name = "t", .dir = g_index}, {.name = "u", .dir = "/nonexistent/ix"}};
    assert_int_equal(idx_server_load(s, bad, 2), IDX_ERR_NOT_FOUND);
    assert_non_null(strstr(idx_errmsg(), "index 'u'"));
    assert_int_equal(idx_server_handle(s, "GET", "/v1/documents/t/1", "Bearer k", NULL, 0, &a), IDX_OK);
    assert_int_equal(a.status, 200);
    idx_server_answer_free(&a);
    idx_server_free(s);
    idx_server_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_indexes),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_routing_errors),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_infinigram_compat),
        cmocka_unit_test(test_count_find),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_chunk),
        cmocka_unit_test(test_infgram),
        cmocka_unit_test(test_contamination),
        cmocka_unit_test(test_retrieve),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_inprocess),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_graceful_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
