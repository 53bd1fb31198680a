/*
 * http_request.c -- fuzz target for the server's request handling: the
 * input is "METHOD URL\n" followed by the body (a first byte '@' means no
 * Authorization header). It runs through idx_server_handle -- the same
 * routing, query-string and percent decoding, auth, size limits, JSON
 * parsing and handlers as the HTTP daemon -- against a small index built once
 * per process. When the tiny BERT of the encoder tests is in the source tree
 * (tests/encoder/data/tiny-st, found from this file's path), the index gets
 * a dense part and the server serves the model, so /v1/embeddings, /v1/models
 * and dense/hybrid /v1/retrieve run for real (else they answer 404/400).
 * Every answer must be a status in 200..599 with a JSON body
 * (or the Prometheus text of /metrics); anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_dense.h"
#include "idx_index.h"
#include "idx_server.h"

static idx_server *g_server;
static char g_dir[256];

static void cleanup(void) {
    idx_server_free(g_server);
    idx_rmtree(g_dir);
}

static const char *const DOCS[] = {
    "{\"id\":\"a\",\"title\":\"A\",\"text\":\"the cat sat on the mat\"}",
    "{\"id\":\"b/c\",\"text\":\"h\\u00e9llo w\\u00f6rld \\u2713 abracadabra\",\"lang\":\"x\"}",
    "{\"id\":\"c\",\"text\":\"tab\\there\\nnew line \\\"quoted\\\"\"}",
    "{\"id\":\"d\",\"text\":\"\"}",
    "{\"id\":\"e\",\"text\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
};

static int setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/idxfuzz_http_%d", (int)getpid());
    idx_rmtree(g_dir);
    if (idx_mkdirs(g_dir)) return -1;
    char corpus[300], index[300];
    snprintf(corpus, sizeof corpus, "%s/c.jsonl", g_dir);
    snprintf(index, sizeof index, "%s/ix", g_dir);
    FILE *f = fopen(corpus, "wb");
    if (!f) return -1;
    for (size_t i = 0; i < sizeof DOCS / sizeof DOCS[0]; i++) fprintf(f, "%s\n", DOCS[i]);
    fclose(f);
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.shard_size = 64;
    const char *in[1] = {corpus};
    if (idx_index_build(index, in, 1, &o, NULL)) return -1;
    idx_text_config tc;
    idx_text_config_default(&tc);
    if (idx_sparse_build_from_store(index, &tc, 0, 0, NULL)) return -1;
    idx_server_opts so = {.api_key = "k", .max_body = 4096, .max_query = 64, .max_batch = 16, .max_text = 256};
    if (idx_server_new(&so, &g_server)) return -1;
    char model[1024];
    snprintf(model, sizeof model, "%s", __FILE__);
    char *slash = strrchr(model, '/');
    if (slash) {
        snprintf(slash, sizeof model - (size_t)(slash - model), "/../tests/encoder/data/tiny-st");
        char cfg[1100];
        snprintf(cfg, sizeof cfg, "%s/config.json", model);
        if (access(cfg, R_OK) == 0) {
            idx_embedder_opts eo = {.provider = "local", .model = model};
            idx_embedder *emb;
            if (idx_embedder_new(&eo, &emb)) return -1;
            idx_err e = idx_dense_index_build(index, emb, NULL, NULL, NULL);
            idx_embedder_free(emb);
            if (e || idx_server_add_model(g_server, "tiny", model, 1)) return -1;
        }
    }
    idx_server_index_spec sp = {.name = "ix", .dir = index};
    if (idx_server_load(g_server, &sp, 1)) return -1;
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_server && setup() != 0) {
        fprintf(stderr, "http_request fuzz: setup failed: %s\n", idx_errmsg());
        abort();
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t llen = nl ? (size_t)(nl - data) : size;
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = nl ? size - llen - 1 : 0;
    char *line = strndup((const char *)data, llen);
    if (!line) return 0;
    const char *auth = "Bearer k";
    char *p = line;
    if (*p == '@') {
        auth = NULL;
        p++;
    }
    char *sp = strchr(p, ' ');
    const char *method = "GET", *url = p;
    if (sp) {
        *sp = '\0';
        method = p;
        url = sp + 1;
    }
    idx_server_answer a;
    if (idx_server_handle(g_server, method, url, auth, body, blen, &a) == IDX_OK) {
        if (a.status < 200 || a.status > 599 || !a.body) abort();
        if (!strcmp(a.content_type, "application/json")) {
            json_t *j = json_loadb(a.body, a.body_len, 0, NULL);
            if (!j) abort();
            if (a.status >= 400) {
                json_t *e = json_object_get(j, "error");
                if (!json_is_string(json_object_get(e, "code")) || !json_is_string(json_object_get(e, "message")))
                    abort();
            }
            json_decref(j);
        }
        idx_server_answer_free(&a);
    }
    free(line);
    return 0;
}
