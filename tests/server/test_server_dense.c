/*
 * test_server_dense.c -- `idx serve` with encoders and dense parts, end to
 * end: the real binary is started with `--model` (the tiny BERT of the encoder
 * tests, tests/encoder/data/tiny-st, written by scripts/make_tiny_bert.py) and
 * an index with a dense part, and is talked to with libcurl and with this
 * project's own OpenAI-compatible client (retrieve/embed_client.c).
 *
 * Checked: POST /v1/embeddings through the client equals the in-process
 * encoder (cosine >= 0.99999, in several batched requests, counted in
 * /metrics), base64 answers decode to the same floats, usage counts the
 * model's tokens, the API key from a file (library) and from the environment
 * (CLI) against --api-key-file, 401 without it; every error case (empty
 * string, unknown model, wrong dimensions, token ids, batch over max_batch,
 * text over max_text, missing model with several served); `idx embed
 * --provider openai` against the server and `idx retrieve --mode dense`
 * through it rank as the local model does; POST /v1/retrieve in dense and
 * hybrid modes (every fusion) answers exactly what `idx retrieve --mode
 * dense|hybrid --json` prints, batches equal single queries, indexes without
 * a dense or sparse part get 400 missing_part; concurrent clients get the
 * same answers; `idx build --dense` equals `idx build` + `idx embed`.
 */
#include "../idx_test.h"
#include "server_test.h"

#include <curl/curl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "idx_dense.h"
#include "idx_encoder.h"
#include "idx_index.h"

#define MODEL IDX_SOURCE_DIR "/tests/encoder/data/tiny-st"
#define KEY "dense-key-7"

static char *g_dir, *g_ix, *g_plain, *g_donly, *g_gone, *g_keyfile, *g_errlog, *g_corpus;
static pid_t g_pid;
static unsigned g_port;
static CURL *g_curl;
static idx_encoder *g_enc;

static const char *const DOCS[][2] = {
    {"Cats", "cats sleep most of the day. they hunt mice at night."},
    {"Rivers", "rivers carry water from the mountains to the sea."},
    {"Bread", "bread is made from flour, water, salt and yeast."},
    {"Stars", "stars are hot balls of gas far away in space."},
    {"Music", "music uses rhythm, melody and harmony."},
    {"Chess", "chess is a board game for two players."},
    {"Tea", "tea is brewed from the leaves of a shrub."},
    {"Volcanoes", "volcanoes erupt lava, ash and gas."},
    {"Bees", "bees make honey and pollinate flowers."},
    {"Trains", "trains run on rails between stations."},
    {"Glaciers", "glaciers are rivers of ice that move slowly."},
    {"Ovens", "an oven bakes bread and cakes with dry heat."},
    {"Planets", "planets orbit stars; some have moons."},
    {"Pianos", "a piano makes music when hammers strike strings."},
    {"Dogs", "dogs are loyal animals that like to play fetch."},
    {"Coffee", "coffee is brewed from roasted beans."},
};
#define NDOCS (sizeof DOCS / sizeof DOCS[0])

static const char *const QUERIES[] = {"board game players", "hot gas in space", "flour and yeast baking",
                                      "water flowing to the sea", "animals that hunt at night", "brewed drink",
                                      "ice moving slowly", "héllo wörld ✓"};
#define NQ (sizeof QUERIES / sizeof QUERIES[0])

/* ------------------------------------------------------------------------ */
/* HTTP                                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    long status;
    idx_buf body;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    resp *r = ud;
    return idx_buf_append(&r->body, p, sz * n) ? 0 : sz * n;
}

static CURLcode http_try(CURL *h, const char *method, const char *path, const char *body, const char *token,
                         resp *r) {
    memset(r, 0, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", g_port, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *hd = NULL;
    char auth[128];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hd);
    if (idx_buf_append(&r->body, "", 1) == IDX_OK) r->body.len--;
    return cc;
}

static void http(const char *method, const char *path, const char *body, resp *r) {
    assert_int_equal(http_try(g_curl, method, path, body, KEY, r), CURLE_OK);
    assert_non_null(r->body.data);
}

static json_t *json_of(const resp *r) {
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (!j) fprintf(stderr, "not JSON: %.300s\n", r->body.data);
    assert_non_null(j);
    return j;
}

/* POSTs a JSON object (stolen), asserts the status, returns the answer. */
static json_t *post(const char *path, json_t *req, long status) {
    char *b = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    resp r;
    http("POST", path, b, &r);
    free(b);
    if (r.status != status) fprintf(stderr, "%s: expected %ld, got %ld: %.500s\n", path, status, r.status, r.body.data);
    assert_int_equal(r.status, status);
    json_t *j = json_of(&r);
    idx_buf_free(&r.body);
    return j;
}

/* Asserts an error answer with OpenAI's extra fields when openai is set. */
static void assert_error(json_t *j, const char *code, const char *fragment, int openai) {
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    const char *m = json_string_value(json_object_get(e, "message"));
    assert_non_null(m);
    if (fragment && !strstr(m, fragment)) fprintf(stderr, "message '%s' lacks '%s'\n", m, fragment);
    if (fragment) assert_non_null(strstr(m, fragment));
    if (openai) {
        assert_true(json_is_string(json_object_get(e, "type")));
        assert_non_null(json_object_get(e, "param"));
    }
    json_decref(j);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                   */
/* ------------------------------------------------------------------------ */

static void write_corpus(void) {
    g_corpus = t_path(g_dir, "corpus.jsonl");
    FILE *f = fopen(g_corpus, "w");
    assert_non_null(f);
    for (size_t i = 0; i < NDOCS; i++) {
        json_t *o = json_pack("{s:s%,s:s,s:s}", "id", "", (size_t)0, "title", DOCS[i][0], "text", DOCS[i][1]);
        char id[16];
        snprintf(id, sizeof id, "d%zu", i);
        json_object_set_new(o, "id", json_string(id));
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    fclose(f);
}

static pid_t start_server(const char *args, unsigned *port) {
    return t_start_server(args, g_errlog, 60000, port);
}

static int setup(void **st) {
    (void)st;
    g_dir = t_tmpdir();
    g_ix = t_path(g_dir, "ix");
    g_plain = t_path(g_dir, "plain");
    g_donly = t_path(g_dir, "donly");
    g_gone = t_path(g_dir, "gone");
    g_keyfile = t_path(g_dir, "key.txt");
    g_errlog = t_path(g_dir, "server.log");
    t_writes(g_keyfile, KEY "\n");
    write_corpus();
    const char *bin = t_idx_bin();
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' && '%s' index-sparse --into '%s' --quiet >/dev/null 2>&1 && "
                          "'%s' embed '%s' --model '%s' --quiet --threads 1 2>/dev/null",
                          bin, g_ix, g_corpus, bin, g_ix, bin, g_ix, MODEL),
                     0);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s'", bin, g_plain, g_corpus), 0);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' && '%s' embed '%s' --model '%s' --hnsw --quiet --threads 1 2>/dev/null",
                          bin, g_donly, g_corpus, bin, g_donly, MODEL),
                     0);
    /* an index whose recorded model is gone by the time it is served */
    assert_int_equal(t_sh("cp -r '%s' '%s/model-copy' && '%s' build -q -o '%s' '%s' --dense '%s/model-copy' && rm -rf '%s/model-copy'",
                          MODEL, g_dir, bin, g_gone, g_corpus, g_dir, g_dir),
                     0);
    char args[2048];
    snprintf(args, sizeof args,
             "--threads 2 --api-key-file '%s' --max-batch 50 --max-text 2k --model tiny-st='%s' --model 'alt=%s' "
             "ix='%s' plain='%s' donly='%s' gone='%s' --pid-file '%s/serve.pid'",
             g_keyfile, MODEL, MODEL, g_ix, g_plain, g_donly, g_gone, g_dir);
    g_pid = start_server(args, &g_port);
    g_curl = curl_easy_init();
    assert_int_equal(idx_encoder_load(MODEL, NULL, &g_enc), IDX_OK);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int status;
        waitpid(g_pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    curl_easy_cleanup(g_curl);
    idx_encoder_free(g_enc);
    idx_rmtree(g_dir);
    free(g_dir);
    free(g_ix);
    free(g_plain);
    free(g_donly);
    free(g_gone);
    free(g_keyfile);
    free(g_errlog);
    free(g_corpus);
    return 0;
}

/* Requests counted by /metrics for POST /v1/embeddings. */
static unsigned long embed_requests(void) {
    resp r;
    http("GET", "/metrics", NULL, &r);
    const char *p = strstr(r.body.data, "idx_http_requests_total{method=\"POST\",route=\"/v1/embeddings\"} ");
    assert_non_null(p);
    unsigned long n = strtoul(strchr(p, '}') + 2, NULL, 10);
    idx_buf_free(&r.body);
    return n;
}

static double cosine(const float *a, const float *b, size_t d) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* ------------------------------------------------------------------------ */
/* /v1/embeddings                                                             */
/* ------------------------------------------------------------------------ */

/* The client, batching over several requests, against the in-process encoder. */
static void test_client_matches_encoder(void **st) {
    (void)st;
    size_t dim = idx_encoder_dim(g_enc);
    const char *texts[NDOCS + NQ];
    size_t n = 0;
    for (size_t i = 0; i < NDOCS; i++) texts[n++] = DOCS[i][1];
    for (size_t i = 0; i < NQ; i++) texts[n++] = QUERIES[i];
    float *want = malloc(n * dim * sizeof *want), *got = malloc(n * dim * sizeof *got);
    assert_int_equal(idx_encoder_embed(g_enc, texts, NULL, n, 0, want), IDX_OK);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", g_port);
    idx_embedder_opts o = {0};
    o.provider = "openai";
    o.model = "tiny-st";
    o.url = url;
    o.api_key_file = g_keyfile;
    o.batch = 5;
    idx_embedder *emb;
    assert_int_equal(idx_embedder_new(&o, &emb), IDX_OK);
    unsigned long before = embed_requests();
    idx_err e = idx_embedder_embed(emb, IDX_EMBED_DOC, texts, NULL, n, got);
    if (e) fprintf(stderr, "%s\n", idx_errmsg());
    assert_int_equal(e, IDX_OK);
    assert_int_equal(idx_embedder_dim(emb), dim);
    /* the dimension is learned from a first text alone, then batches of 5 */
    assert_int_equal(embed_requests() - before, 1 + (n - 1 + 4) / 5);
    for (size_t i = 0; i < n; i++) assert_true(cosine(want + i * dim, got + i * dim, dim) >= 0.99999);
    /* %.9g round-trips a float32; what remains is the encoder's rounding,
     * which depends on how texts are packed into a batch */
    for (size_t i = 0; i < n * dim; i++) assert_true(fabsf(want[i] - got[i]) <= 1e-5f);
    idx_embedder_free(emb);
    /* the same model under the index's name and under another --model name */
    o.model = "ix";
    o.dim = (uint32_t)dim;
    assert_int_equal(idx_embedder_new(&o, &emb), IDX_OK);
    assert_int_equal(idx_embedder_embed(emb, IDX_EMBED_QUERY, texts, NULL, 3, got), IDX_OK);
    for (size_t i = 0; i < 3 * dim; i++) assert_true(fabsf(want[i] - got[i]) <= 1e-5f);
    idx_embedder_free(emb);
    /* without the key: 401, an error naming the status */
    o.api_key_file = NULL;
    o.max_retries = -1;
    assert_int_equal(idx_embedder_new(&o, &emb), IDX_OK);
    assert_int_not_equal(idx_embedder_embed(emb, IDX_EMBED_DOC, texts, NULL, 1, got), IDX_OK);
    assert_non_null(strstr(idx_errmsg(), "401"));
    idx_embedder_free(emb);
    /* a wrong key too */
    o.api_key = "wrong";
    assert_int_equal(idx_embedder_new(&o, &emb), IDX_OK);
    assert_int_not_equal(idx_embedder_embed(emb, IDX_EMBED_DOC, texts, NULL, 1, got), IDX_OK);
    assert_non_null(strstr(idx_errmsg(), "401"));
    idx_embedder_free(emb);
    free(want);
    free(got);
}

static void test_embeddings_format(void **st) {
    (void)st;
    size_t dim = idx_encoder_dim(g_enc);
    const char *texts[2] = {"Hello, wörld! 中文", "a much longer text that has quite a few more tokens in it"};
    float want[2 * 64];
    assert_true(dim <= 64);
    assert_int_equal(idx_encoder_embed(g_enc, texts, NULL, 2, 0, want), IDX_OK);
    /* one string, the model's defaults; field names and types of OpenAI's answer */
    json_t *j = post("/v1/embeddings", json_pack("{s:s,s:s}", "input", texts[0], "model", "tiny-st"), 200);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "tiny-st");
    json_t *d0 = json_array_get(json_object_get(j, "data"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "data")), 1);
    assert_string_equal(json_string_value(json_object_get(d0, "object")), "embedding");
    assert_int_equal(json_integer_value(json_object_get(d0, "index")), 0);
    json_t *vec = json_object_get(d0, "embedding");
    assert_int_equal(json_array_size(vec), dim);
    for (size_t i = 0; i < dim; i++) assert_true(fabs(json_number_value(json_array_get(vec, i)) - want[i]) <= 1e-5);
    size_t nt0 = 0, nt1 = 0;
    int32_t ids[256];
    idx_encoder_tokenize(g_enc, texts[0], strlen(texts[0]), NULL, 0, ids, 256, &nt0);
    idx_encoder_tokenize(g_enc, texts[1], strlen(texts[1]), NULL, 0, ids, 256, &nt1);
    json_t *u = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), nt0);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), nt0);
    json_decref(j);
    /* base64: little-endian float32, the same floats; "dimensions" equal to the model's is fine */
    j = post("/v1/embeddings",
             json_pack("{s:[s,s],s:s,s:s,s:I}", "input", texts[0], texts[1], "model", "alt", "encoding_format", "base64",
                       "dimensions", (json_int_t)dim),
             200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens")), nt0 + nt1);
    for (size_t k = 0; k < 2; k++) {
        const char *b = json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), k), "embedding"));
        assert_non_null(b);
        assert_int_equal(strlen(b), (dim * 4 + 2) / 3 * 4);
        static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        unsigned char raw[256 * 4];
        size_t nr = 0;
        for (size_t i = 0; b[i] && b[i] != '='; i += 4) {
            unsigned v = 0;
            int q = 0;
            for (; q < 4 && b[i + q] && b[i + q] != '='; q++) v |= (unsigned)(strchr(A, b[i + q]) - A) << (18 - 6 * q);
            for (int t = 0; t < q - 1; t++) raw[nr++] = (unsigned char)(v >> (16 - 8 * t));
        }
        assert_int_equal(nr, dim * 4);
        for (size_t i = 0; i < dim; i++) {
            uint32_t w = raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 | (uint32_t)raw[4 * i + 2] << 16 |
                         (uint32_t)raw[4 * i + 3] << 24;
            float x;
            memcpy(&x, &w, 4);
            assert_true(fabsf(x - want[k * dim + i]) <= 1e-5f);
        }
    }
    json_decref(j);
    /* GET /v1/models: the --model ones and the index's (its model directory is tiny-st too) */
    resp r;
    http("GET", "/v1/models", NULL, &r);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    idx_buf_free(&r.body);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 4); /* tiny-st, alt, ix, donly */
    const char *names[4] = {"tiny-st", "alt", "ix", "donly"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(data, i), "id")), names[i]);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(data, i), "dim")), dim);
    }
    json_decref(j);
}

static void test_embeddings_errors(void **st) {
    (void)st;
    assert_error(post("/v1/embeddings", json_pack("{s:s,s:s}", "input", "", "model", "tiny-st"), 400), "bad_request",
                 "empty string", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:[s,s],s:s}", "input", "ok", "", "model", "tiny-st"), 400),
                 "bad_request", "input[1] is an empty string", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:s,s:s}", "input", "x", "model", "nope"), 404), "model_not_found",
                 "nope", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:s,s:s,s:i}", "input", "x", "model", "tiny-st", "dimensions", 3), 400),
                 "bad_request", "dimensions", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:[i,i],s:s}", "input", 1, 2, "model", "tiny-st"), 400),
                 "unsupported", "token-id", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:s,s:s,s:s}", "input", "x", "model", "tiny-st", "encoding_format", "f16"), 400),
                 "bad_request", "encoding_format", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:s}", "input", "x"), 400), "bad_request", "GET /v1/models", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:s}", "model", "tiny-st"), 400), "bad_request", "input", 1);
    assert_error(post("/v1/embeddings", json_pack("{s:[],s:s}", "input", "model", "tiny-st"), 400), "bad_request", "empty array", 1);
    json_t *many = json_array();
    for (int i = 0; i < 51; i++) json_array_append_new(many, json_string("t"));
    assert_error(post("/v1/embeddings", json_pack("{s:o,s:s}", "input", many, "model", "tiny-st"), 400), "limit_exceeded",
                 "max_batch=50", 1);
    char *big = malloc(2100);
    memset(big, 'a', 2099);
    big[2099] = 0;
    assert_error(post("/v1/embeddings", json_pack("{s:s,s:s}", "input", big, "model", "tiny-st"), 400), "limit_exceeded",
                 "max_text=2048", 1);
    free(big);
    /* no token: 401 before anything else */
    resp r;
    assert_int_equal(http_try(g_curl, "POST", "/v1/embeddings", "{\"input\":\"x\"}", NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    idx_buf_free(&r.body);
    /* malformed JSON */
    http("POST", "/v1/embeddings", "{\"input\": [", &r);
    assert_int_equal(r.status, 400);
    assert_error(json_of(&r), "invalid_json", "line 1", 0);
    idx_buf_free(&r.body);
}

/* ------------------------------------------------------------------------ */
/* The CLI through the server: idx embed / idx retrieve --mode dense          */
/* ------------------------------------------------------------------------ */

static char *run_out(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    idx_buf b = {0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) assert_int_equal(idx_buf_append(&b, tmp, n), IDX_OK);
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "command failed: %s\n%.*s\n", cmd, (int)b.len, b.data ? b.data : "");
        fail();
    }
    idx_buf_append(&b, "", 1);
    return b.data;
}

/* Asserts two `retrieve --json` / server hit lists rank the same documents
 * with the same scores (the CLI prints 6 decimals). */
static void assert_same_hits(json_t *a, json_t *b, double tol) {
    assert_int_equal(json_array_size(a), json_array_size(b));
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
        const char *ix = json_string_value(json_object_get(x, "id")), *iy = json_string_value(json_object_get(y, "id"));
        if (strcmp(ix, iy)) fprintf(stderr, "rank %zu: %s vs %s\n", i + 1, ix, iy);
        assert_string_equal(ix, iy);
        double sx = json_number_value(json_object_get(x, "score")), sy = json_number_value(json_object_get(y, "score"));
        if (fabs(sx - sy) > tol) fprintf(stderr, "rank %zu (%s): score %.9f vs %.9f\n", i + 1, ix, sx, sy);
        assert_true(fabs(sx - sy) <= tol);
        if (json_object_get(x, "title") && json_object_get(y, "title"))
            assert_string_equal(json_string_value(json_object_get(x, "title")), json_string_value(json_object_get(y, "title")));
    }
}

static void test_cli_remote_provider(void **st) {
    (void)st;
    const char *bin = t_idx_bin();
    char *remote = t_path(g_dir, "remote");
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s'", bin, remote, g_corpus), 0);
    /* no key: the service's 401 is reported, exit 1 */
    assert_int_equal(t_sh("'%s' embed '%s' --provider openai --url http://127.0.0.1:%u --model tiny-st --retries 0 --quiet "
                          "2>'%s/err.txt'",
                          bin, remote, g_port, g_dir),
                     1);
    char *err = run_out("cat '%s/err.txt'", g_dir);
    assert_non_null(strstr(err, "401"));
    free(err);
    /* the key from the environment (CLI), batches of 4 */
    assert_int_equal(t_sh("IDX_TEST_DENSE_KEY=%s '%s' embed '%s' --provider openai --url http://127.0.0.1:%u --model tiny-st "
                          "--api-key-env IDX_TEST_DENSE_KEY --batch 4 --quiet 2>/dev/null",
                          KEY, bin, remote, g_port),
                     0);
    /* the stored vectors equal the local index's */
    idx_dense_index *a, *b;
    assert_int_equal(idx_dense_index_open(g_ix, 0, &a), IDX_OK);
    assert_int_equal(idx_dense_index_open(remote, 0, &b), IDX_OK);
    const idx_dense *sa = idx_dense_index_store(a), *sb = idx_dense_index_store(b);
    assert_int_equal(idx_dense_rows(sa), idx_dense_rows(sb));
    float va[64], vb[64];
    for (uint64_t r = 0; r < idx_dense_rows(sa); r++) {
        assert_int_equal(idx_dense_get(sa, r, va), IDX_OK);
        assert_int_equal(idx_dense_get(sb, r, vb), IDX_OK);
        assert_true(cosine(va, vb, idx_dense_dim(sa)) >= 0.99999);
        assert_int_equal(idx_dense_row_doc(sa, r), idx_dense_row_doc(sb, r));
    }
    assert_string_equal(json_string_value(json_object_get(idx_dense_index_model(b), "provider")), "openai");
    idx_dense_index_close(a);
    idx_dense_index_close(b);
    /* retrieval: queries embedded through the server (key from a file) rank as the local model */
    for (size_t q = 0; q < NQ; q++) {
        char *lo = run_out("'%s' retrieve '%s' --mode dense -k 6 --json '%s'", bin, g_ix, QUERIES[q]);
        char *re = run_out("'%s' retrieve '%s' --mode dense -k 6 --json --api-key-file '%s' '%s'", bin, remote, g_keyfile,
                           QUERIES[q]);
        json_t *jl = json_loads(lo, 0, NULL), *jr = json_loads(re, 0, NULL);
        assert_non_null(jl);
        assert_non_null(jr);
        assert_int_equal(json_array_size(json_object_get(jl, "hits")), 6);
        assert_same_hits(json_object_get(jl, "hits"), json_object_get(jr, "hits"), 1e-5);
        json_decref(jl);
        json_decref(jr);
        free(lo);
        free(re);
    }
    free(remote);
}

/* ------------------------------------------------------------------------ */
/* POST /v1/retrieve, dense and hybrid                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *cli;   /* idx retrieve options */
    const char *json;  /* the same as request fields */
} mode_case;

static const mode_case MODES[] = {
    {"--mode dense", "{\"mode\":\"dense\"}"},
    {"--mode hybrid", "{\"mode\":\"hybrid\"}"},
    {"--mode hybrid --fusion minmax --weight 0.3", "{\"mode\":\"hybrid\",\"fusion\":\"minmax\",\"weight\":0.3}"},
    {"--mode hybrid --fusion zscore --weight 0.7 --depth 5", "{\"mode\":\"hybrid\",\"fusion\":\"zscore\",\"weight\":0.7,\"depth\":5}"},
    {"--mode hybrid --fusion rrf --rrf-k 10", "{\"mode\":\"hybrid\",\"fusion\":\"rrf\",\"rrf_k\":10}"},
    {"--mode hybrid --k1 1.5 --b 0.5", "{\"mode\":\"hybrid\",\"sparse\":{\"k1\":1.5,\"b\":0.5}}"},
};
#define NMODES (sizeof MODES / sizeof MODES[0])

static json_t *retrieve_req(const mode_case *m, const char *index, json_t *queries_or_query, int k) {
    json_t *req = json_loads(m->json, 0, NULL);
    json_object_set_new(req, "index", json_string(index));
    json_object_set_new(req, "k", json_integer(k));
    json_object_set_new(req, json_is_array(queries_or_query) ? "queries" : "query", queries_or_query);
    return req;
}

static void test_retrieve_equals_cli(void **st) {
    (void)st;
    const char *bin = t_idx_bin();
    for (size_t m = 0; m < NMODES; m++) {
        json_t *qs = json_array();
        json_t *singles[NQ];
        for (size_t q = 0; q < NQ; q++) {
            char *out = run_out("'%s' retrieve '%s' %s -k 5 --json '%s'", bin, g_ix, MODES[m].cli, QUERIES[q]);
            json_t *cli = json_loads(out, 0, NULL);
            assert_non_null(cli);
            free(out);
            json_t *srv = post("/v1/retrieve", retrieve_req(&MODES[m], "ix", json_string(QUERIES[q]), 5), 200);
            assert_string_equal(json_string_value(json_object_get(srv, "query")), QUERIES[q]);
            assert_string_equal(json_string_value(json_object_get(srv, "mode")), json_string_value(json_object_get(cli, "mode")));
            assert_true(json_array_size(json_object_get(cli, "hits")) >= 1);
            if (getenv("IDX_TEST_VERBOSE")) fprintf(stderr, "mode %s, query '%s'\n", MODES[m].cli, QUERIES[q]);
            assert_same_hits(json_object_get(cli, "hits"), json_object_get(srv, "hits"), 1e-6);
            /* each hit: document, offsets and text of that document */
            json_t *h0 = json_array_get(json_object_get(srv, "hits"), 0);
            const char *id = json_string_value(json_object_get(h0, "id"));
            size_t d = (size_t)atoi(id + 1);
            assert_string_equal(json_string_value(json_object_get(h0, "document")), id);
            assert_string_equal(json_string_value(json_object_get(h0, "text")), DOCS[d][1]);
            assert_int_equal(json_integer_value(json_object_get(h0, "end")), strlen(DOCS[d][1]));
            assert_int_equal(json_integer_value(json_object_get(h0, "rank")), 1);
            singles[q] = json_incref(json_object_get(srv, "hits"));
            json_decref(cli);
            json_decref(srv);
            json_array_append_new(qs, json_string(QUERIES[q]));
        }
        /* the batch gives the single queries' answers (sgemm vs scan: equal up to float rounding,
         * which z-score normalisation magnifies by 1/stddev) */
        json_t *b = post("/v1/retrieve", retrieve_req(&MODES[m], "ix", qs, 5), 200);
        json_t *res = json_object_get(b, "results");
        assert_int_equal(json_array_size(res), NQ);
        for (size_t q = 0; q < NQ; q++) {
            assert_same_hits(singles[q], json_object_get(json_array_get(res, q), "hits"), 1e-4);
            json_decref(singles[q]);
        }
        json_decref(b);
    }
    /* snippet and with_text */
    json_t *j = post("/v1/retrieve",
                     json_pack("{s:s,s:s,s:s,s:i,s:i,s:b}", "index", "ix", "mode", "dense", "query", "chess", "k", 1,
                               "snippet", 10, "with_text", 0),
                     200);
    json_t *h0 = json_array_get(json_object_get(j, "hits"), 0);
    assert_null(json_object_get(h0, "text"));
    assert_int_equal(json_string_length(json_object_get(h0, "snippet")), 10);
    json_decref(j);
}

static void test_retrieve_errors(void **st) {
    (void)st;
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "plain", "mode", "dense", "query", "x"), 400),
                 "missing_part", "no dense part", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "donly", "mode", "hybrid", "query", "x"), 400),
                 "missing_part", "no sparse part", 0);
    /* dense alone works on that index */
    json_decref(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "donly", "mode", "dense", "query", "x"), 200));
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s,s:{s:b}}", "index", "ix", "mode", "dense", "query", "x",
                                                "dense", "hnsw", 1),
                      400),
                 "missing_part", "HNSW", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "ix", "mode", "nonsense", "query", "x"), 400),
                 "bad_request", "mode", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s,s:s}", "index", "ix", "mode", "hybrid", "fusion", "max", "query", "x"), 400),
                 "bad_request", "fusion", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:f,s:s}", "index", "ix", "mode", "hybrid", "weight", 1.5, "query", "x"), 400),
                 "bad_request", "weight", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "nope", "mode", "dense", "query", "x"), 404),
                 "unknown_index", "nope", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:i}", "index", "ix", "mode", "dense", "query", 3), 400),
                 "bad_request", "query", 0);
    json_t *many = json_array();
    for (int i = 0; i < 51; i++) json_array_append_new(many, json_string("q"));
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:o}", "index", "ix", "mode", "dense", "queries", many), 400),
                 "limit_exceeded", "max_batch=50", 0);
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s,s:s}", "index", "ix", "mode", "dense", "query", "x", "rerank", "ce"), 400),
                 "unsupported", "rerank", 0);
}

/* HNSW through the server equals the CLI; a missing model is 503 for dense
 * requests only; a reload keeps dense retrieval working; deadlines. */
static void test_hnsw_unavailable_reload_deadline(void **st) {
    (void)st;
    const char *bin = t_idx_bin();
    for (size_t q = 0; q < NQ; q++) {
        char *out = run_out("'%s' retrieve '%s' --mode dense --hnsw --ef 8 -k 4 --json '%s'", bin, g_donly, QUERIES[q]);
        json_t *cli = json_loads(out, 0, NULL);
        free(out);
        json_t *srv = post("/v1/retrieve",
                           json_pack("{s:s,s:s,s:s,s:i,s:{s:b,s:i}}", "index", "donly", "mode", "dense", "query", QUERIES[q],
                                     "k", 4, "dense", "hnsw", 1, "ef", 8),
                           200);
        assert_same_hits(json_object_get(cli, "hits"), json_object_get(srv, "hits"), 1e-6);
        json_decref(cli);
        json_decref(srv);
    }
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "gone", "mode", "dense", "query", "x"), 503),
                 "unavailable", "model-copy", 0);
    json_decref(post("/v1/retrieve", json_pack("{s:s,s:s,s:s}", "index", "gone", "mode", "sparse", "query", "x"), 400));
    json_decref(post("/v1/count", json_pack("{s:s,s:s}", "index", "gone", "query", "bread"), 200));
    /* SIGHUP: a new set (new handles, the model loaded again) answers the same */
    json_t *before = post("/v1/retrieve", json_pack("{s:s,s:s,s:s,s:i}", "index", "ix", "mode", "hybrid", "query", "chess game", "k", 3), 200);
    assert_int_equal(t_sh("'%s' serve --reload --pid-file '%s/serve.pid'", bin, g_dir), 0);
    for (int i = 0; i < 50; i++) { /* the reload is asynchronous: wait for the metric */
        resp r;
        http("GET", "/metrics", NULL, &r);
        int done = strstr(r.body.data, "idx_index_reloads_total{result=\"ok\"} 2") != NULL;
        idx_buf_free(&r.body);
        if (done) break;
        usleep(100000);
    }
    json_t *after = post("/v1/retrieve", json_pack("{s:s,s:s,s:s,s:i}", "index", "ix", "mode", "hybrid", "query", "chess game", "k", 3), 200);
    assert_same_hits(json_object_get(before, "hits"), json_object_get(after, "hits"), 0);
    json_decref(before);
    json_decref(after);
    /* a deadline passed between groups of 32: 504 */
    json_t *many = json_array();
    for (int i = 0; i < 40; i++) json_array_append_new(many, json_string("a text to embed"));
    assert_error(post("/v1/embeddings", json_pack("{s:o,s:s,s:f}", "input", many, "model", "tiny-st", "timeout_ms", 1e-6), 504),
                 "timeout", "deadline", 0);
    many = json_array();
    for (int i = 0; i < 40; i++) json_array_append_new(many, json_string("a query"));
    assert_error(post("/v1/retrieve", json_pack("{s:s,s:s,s:o,s:f}", "index", "ix", "mode", "dense", "queries", many, "timeout_ms", 1e-6), 504),
                 "timeout", "deadline", 0);
}

/* ------------------------------------------------------------------------ */
/* Concurrent clients                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int id;
    char *expect_retrieve[2][NQ]; /* dense, hybrid */
    char *expect_embed[NQ];
    int bad;
} worker_arg;

static char *hits_key(const char *body) {
    /* the answer without its latency (the part that changes per request) */
    json_t *j = json_loads(body, 0, NULL);
    if (!j) return strdup("(not JSON)");
    json_object_del(j, "latency_ms");
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static void *worker(void *p) {
    worker_arg *a = p;
    CURL *h = curl_easy_init();
    for (int it = 0; it < 12; it++) {
        size_t q = (size_t)(it + a->id) % NQ;
        char body[512];
        snprintf(body, sizeof body, "{\"index\":\"ix\",\"mode\":\"%s\",\"k\":5,\"query\":\"%s\"}", (it & 1) ? "hybrid" : "dense",
                 QUERIES[q]);
        resp r;
        if (http_try(h, "POST", "/v1/retrieve", body, KEY, &r) != CURLE_OK || r.status != 200) a->bad++;
        else {
            char *k = hits_key(r.body.data);
            if (strcmp(k, a->expect_retrieve[it & 1][q])) a->bad++;
            free(k);
        }
        idx_buf_free(&r.body);
        snprintf(body, sizeof body, "{\"model\":\"tiny-st\",\"input\":[\"%s\"]}", QUERIES[q]);
        if (http_try(h, "POST", "/v1/embeddings", body, KEY, &r) != CURLE_OK || r.status != 200 ||
            strcmp(r.body.data, a->expect_embed[q]))
            a->bad++;
        idx_buf_free(&r.body);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void test_concurrent(void **st) {
    (void)st;
    char *exp_r[2][NQ], *exp_e[NQ];
    for (size_t q = 0; q < NQ; q++) {
        char body[512];
        resp r;
        for (int m = 0; m < 2; m++) {
            snprintf(body, sizeof body, "{\"index\":\"ix\",\"mode\":\"%s\",\"k\":5,\"query\":\"%s\"}",
                     m ? "hybrid" : "dense", QUERIES[q]);
            http("POST", "/v1/retrieve", body, &r);
            assert_int_equal(r.status, 200);
            exp_r[m][q] = hits_key(r.body.data);
            idx_buf_free(&r.body);
        }
        snprintf(body, sizeof body, "{\"model\":\"tiny-st\",\"input\":[\"%s\"]}", QUERIES[q]);
        http("POST", "/v1/embeddings", body, &r);
        assert_int_equal(r.status, 200);
        exp_e[q] = strdup(r.body.data);
        idx_buf_free(&r.body);
    }
    enum { NT = 6 };
    pthread_t th[NT];
    worker_arg args[NT];
    for (int t = 0; t < NT; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].id = t;
        memcpy(args[t].expect_retrieve, exp_r, sizeof exp_r);
        memcpy(args[t].expect_embed, exp_e, sizeof exp_e);
        pthread_create(&th[t], NULL, worker, &args[t]);
    }
    int bad = 0;
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        bad += args[t].bad;
    }
    assert_int_equal(bad, 0);
    for (size_t q = 0; q < NQ; q++) {
        free(exp_r[0][q]);
        free(exp_r[1][q]);
        free(exp_e[q]);
    }
}


/* ------------------------------------------------------------------------ */
/* idx build --dense                                                          */
/* ------------------------------------------------------------------------ */

/* Row-by-row equality of two dense parts (exact when tol is 0). */
static void assert_same_vectors(const char *ia, const char *ib, float tol) {
    idx_dense_index *a, *b;
    assert_int_equal(idx_dense_index_open(ia, 0, &a), IDX_OK);
    assert_int_equal(idx_dense_index_open(ib, 0, &b), IDX_OK);
    const idx_dense *sa = idx_dense_index_store(a), *sb = idx_dense_index_store(b);
    assert_int_equal(idx_dense_rows(sa), idx_dense_rows(sb));
    assert_int_equal(idx_dense_dim(sa), idx_dense_dim(sb));
    float va[64], vb[64];
    for (uint64_t r = 0; r < idx_dense_rows(sa); r++) {
        assert_int_equal(idx_dense_row_doc(sa, r), idx_dense_row_doc(sb, r));
        assert_int_equal(idx_dense_get(sa, r, va), IDX_OK);
        assert_int_equal(idx_dense_get(sb, r, vb), IDX_OK);
        for (uint32_t i = 0; i < idx_dense_dim(sa); i++) assert_true(fabsf(va[i] - vb[i]) <= tol);
    }
    idx_dense_index_close(a);
    idx_dense_index_close(b);
}

static void test_build_dense(void **st) {
    (void)st;
    const char *bin = t_idx_bin();
    char *ixb = t_path(g_dir, "ixb"), *ixr = t_path(g_dir, "ixr"), *ixc = t_path(g_dir, "ixc"), *bad = t_path(g_dir, "bad");
    /* local model: the same vectors as idx build + idx embed, bit for bit */
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense '%s' --dense-threads 1", bin, ixb, g_corpus, MODEL), 0);
    assert_same_vectors(g_ix, ixb, 0.0f);
    for (size_t q = 0; q < NQ; q++) {
        char *a = run_out("'%s' retrieve '%s' --mode dense -k 6 --json '%s'", bin, g_ix, QUERIES[q]);
        char *b = run_out("'%s' retrieve '%s' --mode dense -k 6 --json '%s'", bin, ixb, QUERIES[q]);
        json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
        assert_same_hits(json_object_get(ja, "hits"), json_object_get(jb, "hits"), 0);
        json_decref(ja);
        json_decref(jb);
        free(a);
        free(b);
    }
    /* through the server (openai provider, key from a file, batches of 3) */
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense tiny-st --dense-provider openai --dense-url "
                          "http://127.0.0.1:%u --dense-api-key-file '%s' --dense-batch 3",
                          bin, ixr, g_corpus, g_port, g_keyfile),
                     0);
    assert_same_vectors(g_ix, ixr, 1e-5f);
    /* with a chunker: one row per chunk, the chunks being the index's documents */
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --chunker fixed --size 4 --dense '%s' --dense-hnsw", bin, ixc, g_corpus, MODEL), 0);
    idx_dense_index *x;
    idx_docs *d;
    assert_int_equal(idx_dense_index_open(ixc, 0, &x), IDX_OK);
    assert_int_equal(idx_docs_open(ixc, 0, &d), IDX_OK);
    assert_true(idx_docs_count(d) > NDOCS);
    assert_int_equal(idx_dense_rows(idx_dense_index_store(x)), idx_docs_count(d));
    assert_non_null(idx_dense_index_hnsw(x));
    idx_docs_close(d);
    idx_dense_index_close(x);
    assert_int_equal(t_sh("test -d '%s/chunks'", ixc), 0);
    /* failures publish nothing: a missing model, an unreachable service; usage errors exit 2 */
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense '%s/nonexistent' 2>/dev/null", bin, bad, g_corpus, g_dir), 1);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense m --dense-provider openai --dense-url http://127.0.0.1:1 --dense-retries 0 "
                          "2>/dev/null",
                          bin, bad, g_corpus),
                     1);
    assert_int_not_equal(t_sh("test -e '%s'", bad), 0);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense-hnsw 2>/dev/null", bin, bad, g_corpus), 2);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense '%s' --dense-type f16 2>/dev/null", bin, bad, g_corpus, MODEL), 2);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense '%s' --dense-bogus 1 2>/dev/null", bin, bad, g_corpus, MODEL), 2);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' --dense 2>/dev/null", bin, bad, g_corpus), 2);
    free(ixb);
    free(ixr);
    free(ixc);
    free(bad);
}

int main(void) {
    if (access(MODEL "/config.json", R_OK) != 0) {
        printf("SKIP: the tiny test model %s is absent (scripts/make_tiny_bert.py)\n", MODEL);
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_matches_encoder), cmocka_unit_test(test_embeddings_format),
        cmocka_unit_test(test_embeddings_errors),      cmocka_unit_test(test_cli_remote_provider),
        cmocka_unit_test(test_retrieve_equals_cli),    cmocka_unit_test(test_retrieve_errors),
        cmocka_unit_test(test_hnsw_unavailable_reload_deadline),
        cmocka_unit_test(test_concurrent),             cmocka_unit_test(test_build_dense),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
