/*
 * server_lib.c -- the library's side of bench/server_bench.sh: how many of the
 * benchmark's requests the library answers per CPU-second of one thread,
 * in-process, doing exactly the work the route does and nothing else (no
 * HTTP, no JSON). The request bodies are the files wrk sends (one JSON per
 * line); they are parsed once before timing.
 *
 *   server_lib_bench count    INDEX_DIR BODIES   idx_fm_count of each query of a request
 *                                                 ("query" or a "queries" batch)
 *   server_lib_bench retrieve INDEX_DIR BODIES   idx_sparse_search (k, default BM25) and,
 *                                                 per hit, what /v1/retrieve returns: id,
 *                                                 title, length, and the text and snippet
 *                                                 start only when "with_text" / "snippet" ask
 *   server_lib_bench handle   INDEX_DIR BODIES ROUTE
 *                                                 the same bodies through idx_server_handle
 *                                                 (routing, JSON in and out, metrics: the
 *                                                 server without libmicrohttpd and sockets)
 *
 * Each of ROUNDS rounds (default 5; env SECS = CPU seconds per round, default
 * 1) loops over the request set and divides the requests done by the thread's
 * CPU time (CLOCK_THREAD_CPUTIME_ID); the median round is printed:
 *   "<mode> requests/cpu-s <median> (rounds: a b c ...)".
 * A checksum of the answers (counts, hit ids) is printed so that the work
 * cannot be optimised away and the modes can be compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "idx_common.h"
#include "idx_index.h"
#include "idx_retrieve.h"
#include "idx_server.h"

typedef struct {
    char *line; /* the body as sent */
    size_t len;
    size_t nq;
    const char **q; /* into the parsed JSON */
    size_t *ql;
    size_t k, snippet;
    int with_text;
} request;

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static _Noreturn void die(const char *what, idx_err e) {
    fprintf(stderr, "server_lib_bench: %s: %s\n", what, idx_errmsg() && *idx_errmsg() ? idx_errmsg() : idx_strerror(e));
    exit(1);
}

static request *load_bodies(const char *path, size_t *n_out, json_t **keep) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t n = 0, cap = 0;
    request *rq = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t l;
    json_t *all = json_array();
    while ((l = getline(&line, &lcap, f)) > 0) {
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) l--;
        if (!l) continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)l, 0, &je);
        if (!json_is_object(j)) {
            fprintf(stderr, "server_lib_bench: %s: line %zu is not a JSON object\n", path, n + 1);
            exit(1);
        }
        json_array_append_new(all, j);
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            rq = realloc(rq, cap * sizeof *rq);
            if (!rq) exit(1);
        }
        request *r = &rq[n++];
        memset(r, 0, sizeof *r);
        r->line = strndup(line, (size_t)l);
        r->len = (size_t)l;
        json_t *qs = json_object_get(j, "queries"), *q1 = json_object_get(j, "query");
        r->nq = qs ? json_array_size(qs) : 1;
        r->q = calloc(r->nq, sizeof *r->q);
        r->ql = calloc(r->nq, sizeof *r->ql);
        for (size_t i = 0; i < r->nq; i++) {
            json_t *v = qs ? json_array_get(qs, i) : q1;
            r->q[i] = json_string_value(v);
            r->ql[i] = json_string_length(v);
            if (!r->q[i]) {
                fprintf(stderr, "server_lib_bench: %s: line %zu: queries must be strings\n", path, n);
                exit(1);
            }
        }
        json_t *k = json_object_get(j, "k"), *sn = json_object_get(j, "snippet"), *wt = json_object_get(j, "with_text");
        r->k = k ? (size_t)json_integer_value(k) : 10;
        r->snippet = sn ? (size_t)json_integer_value(sn) : 200;
        r->with_text = wt ? json_is_true(wt) : 1;
    }
    free(line);
    fclose(f);
    *n_out = n;
    *keep = all;
    return rq;
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "count") && strcmp(argv[1], "retrieve") && strcmp(argv[1], "handle")) ||
        (!strcmp(argv[1], "handle") && argc < 5)) {
        fprintf(stderr, "usage: server_lib_bench count|retrieve INDEX_DIR BODIES\n"
                        "       server_lib_bench handle INDEX_DIR BODIES ROUTE\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    double secs = getenv("SECS") ? atof(getenv("SECS")) : 1.0;
    int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 5;
    if (rounds < 1 || rounds > 100) rounds = 5;
    json_t *keep;
    size_t n;
    request *rq = load_bodies(argv[3], &n, &keep);
    if (!n) {
        fprintf(stderr, "server_lib_bench: %s has no request\n", argv[3]);
        return 1;
    }
    idx_fm *fm = NULL;
    idx_sparse *sp = NULL;
    idx_sparse_searcher *sq = NULL;
    idx_server *srv = NULL;
    idx_err e;
    if (!strcmp(mode, "count") && (e = idx_fm_open(dir, 0, &fm))) die(dir, e);
    if (!strcmp(mode, "retrieve") &&
        ((e = idx_sparse_open(dir, 0, &sp)) || (e = idx_sparse_searcher_new(sp, &sq))))
        die(dir, e);
    if (!strcmp(mode, "handle")) {
        idx_server_opts o;
        memset(&o, 0, sizeof o);
        o.threads = 1;
        idx_server_index_spec spec = {NULL, dir};
        if ((e = idx_server_new(&o, &srv)) || (e = idx_server_load(srv, &spec, 1))) die(dir, e);
    }
    idx_sparse_hit *hits = calloc(1001, sizeof *hits);
    idx_buf text = {0};
    double *rate = calloc((size_t)rounds, sizeof *rate);
    unsigned long long check = 0;
    size_t next = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = thread_cpu(), t1 = t0;
        size_t done = 0;
        while (t1 - t0 < secs) {
            for (int batch = 0; batch < 16; batch++) {
                request *x = &rq[next];
                next = (next + 1) % n;
                if (!strcmp(mode, "count")) {
                    for (size_t i = 0; i < x->nq; i++) {
                        uint64_t c;
                        if ((e = idx_fm_count(fm, x->q[i], x->ql[i], &c))) die("count", e);
                        check += c;
                    }
                } else if (!strcmp(mode, "retrieve")) {
                    idx_sparse_params p;
                    idx_sparse_params_default(&p);
                    p.k = x->k > 1000 ? 1000 : x->k;
                    for (size_t i = 0; i < x->nq; i++) {
                        size_t nh = 0;
                        if ((e = idx_sparse_search(sq, x->q[i], x->ql[i], &p, hits, &nh, NULL))) die("search", e);
                        for (size_t h = 0; h < nh; h++) {
                            const idx_docs *d = idx_sparse_segment_store(sp, hits[h].segment);
                            const char *id, *title;
                            size_t il, tl;
                            uint64_t dl;
                            if ((e = idx_docs_id(d, hits[h].doc, &id, &il)) ||
                                (e = idx_docs_title(d, hits[h].doc, &title, &tl)) ||
                                (e = idx_docs_len(d, hits[h].doc, &dl)))
                                die("docs", e);
                            check += il + tl + dl + (unsigned char)id[0];
                            if (x->snippet || x->with_text) {
                                text.len = 0;
                                if ((e = idx_docs_text(d, hits[h].doc, 0, dl, &text))) die("text", e);
                                if (x->snippet)
                                    check += idx_sparse_snippet_start(sq, text.data ? text.data : "", text.len,
                                                                      x->snippet);
                            }
                        }
                    }
                } else {
                    idx_server_answer a;
                    if ((e = idx_server_handle(srv, "POST", argv[4], NULL, x->line, x->len, &a))) die("handle", e);
                    if (a.status != 200) {
                        fprintf(stderr, "server_lib_bench: %s answered %d: %.300s\n", argv[4], a.status,
                                a.body ? a.body : "");
                        return 1;
                    }
                    check += a.body_len;
                    idx_server_answer_free(&a);
                }
                done++;
            }
            t1 = thread_cpu();
        }
        rate[r] = done / (t1 - t0);
    }
    double sorted[100];
    memcpy(sorted, rate, (size_t)rounds * sizeof *rate);
    qsort(sorted, (size_t)rounds, sizeof *sorted, cmp_double);
    printf("%s requests/cpu-s %.0f (rounds:", mode, sorted[rounds / 2]);
    for (int r = 0; r < rounds; r++) printf(" %.0f", rate[r]);
    printf("; %zu distinct requests, checksum %llu)\n", n, check);
    idx_buf_free(&text);
    free(hits);
    free(rate);
    idx_sparse_searcher_free(sq);
    idx_sparse_close(sp);
    idx_fm_close(fm);
    idx_server_free(srv);
    for (size_t i = 0; i < n; i++) {
        free(rq[i].line);
        free(rq[i].q);
        free(rq[i].ql);
    }
    free(rq);
    json_decref(keep);
    return 0;
}
