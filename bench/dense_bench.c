/*
 * dense_bench.c -- the idx side of bench/dense_bench.sh: exact (flat) top-k
 * by inner product over a vector store, batched (blocked sgemm) and one query
 * at a time (scan), at 1 and 2 threads; and HNSW build time, recall@k against
 * the exact answers and queries/s over a sweep of ef. Inputs are raw
 * little-endian float32 files written by the Python side; result ids are
 * written as raw int64 so the script can compare them with FAISS.
 *
 * usage: dense_bench flat BASE.f32 QUERIES.f32 DIM K OUT_PREFIX [single_queries]
 *        dense_bench hnsw BASE.f32 QUERIES.f32 DIM K EXACT_IDS.i64 M EFC EF1,EF2,...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "idx_dense.h"

static float *load(const char *path, size_t dim, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = (size_t)sz / (dim * 4);
    float *v = malloc((size_t)sz);
    if (!v || fread(v, 1, (size_t)sz, f) != (size_t)sz) { perror(path); exit(1); }
    fclose(f);
    return v;
}

#include <time.h>
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return v[n / 2];
}

static void die(idx_err e) {
    fprintf(stderr, "dense_bench: %s\n", idx_errmsg());
    exit((int)e);
}

static idx_dense *make_store(const char *base, size_t dim, size_t *n) {
    float *b = load(base, dim, n);
    uint64_t *ids = malloc(*n * sizeof *ids);
    for (size_t i = 0; i < *n; i++) ids[i] = i;
    char path[4096];
    snprintf(path, sizeof path, "%s.vec", base);
    idx_dense_writer *w;
    idx_err e;
    double t0 = idx_now();
    if ((e = idx_dense_writer_new((uint32_t)dim, &w)) || (e = idx_dense_writer_add(w, b, *n, ids)) ||
        (e = idx_dense_writer_commit(w, path, IDX_DENSE_F32)))
        die(e);
    idx_dense_writer_free(w);
    free(b);
    free(ids);
    idx_dense *d;
    if ((e = idx_dense_open(path, 0, &d))) die(e);
    fprintf(stderr, "store: %zu x %zu written in %.1f s\n", *n, dim, idx_now() - t0);
    return d;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: see the top of bench/dense_bench.c\n");
        return 2;
    }
    size_t dim = (size_t)atoi(argv[4]), k = (size_t)atoi(argv[5]), n, nq;
    idx_dense *d = make_store(argv[2], dim, &n);
    float *q = load(argv[3], dim, &nq);
    idx_dense_hit *hits = malloc(nq * k * sizeof *hits);
    idx_err e;
    if (!strcmp(argv[1], "flat")) {
        int single = argc > 7 ? atoi(argv[7]) : 100;
        for (int t = 1; t <= 2; t++) {
            idx_dense_search_opts o = {t, 0, 0};
            double times[3], cpus[3];
            if ((e = idx_dense_search(d, q, nq, k, &o, hits))) die(e); /* warm-up */
            for (int r = 0; r < 3; r++) {
                double t0 = idx_now(), c0 = cpu_now();
                if ((e = idx_dense_search(d, q, nq, k, &o, hits))) die(e);
                times[r] = idx_now() - t0;
                cpus[r] = cpu_now() - c0;
            }
            double med = median(times, 3), cmed = median(cpus, 3);
            printf("idx flat batch  n=%zu threads=%d: %.1f queries/s wall, %.1f queries/cpu-s (%zu queries, median of 3: %.3f s wall, %.3f s cpu)\n",
                   n, t, (double)nq / med, (double)nq / cmed, nq, med, cmed);
            char path[4096];
            snprintf(path, sizeof path, "%s_t%d.i64", argv[6], t);
            FILE *f = fopen(path, "wb");
            for (size_t i = 0; i < nq * k; i++) {
                int64_t id = (int64_t)hits[i].row;
                fwrite(&id, 8, 1, f);
            }
            fclose(f);
            /* one query at a time */
            size_t ns = (size_t)single < nq ? (size_t)single : nq;
            for (int r = 0; r < 3; r++) {
                double t0 = idx_now(), c0 = cpu_now();
                for (size_t i = 0; i < ns; i++)
                    if ((e = idx_dense_search(d, q + i * dim, 1, k, &o, hits + i * k))) die(e);
                times[r] = idx_now() - t0;
                cpus[r] = cpu_now() - c0;
            }
            med = median(times, 3);
            cmed = median(cpus, 3);
            printf("idx flat single n=%zu threads=%d: %.1f queries/s wall, %.1f queries/cpu-s (%zu queries one at a time)\n",
                   n, t, (double)ns / med, (double)ns / cmed, ns);
            fflush(stdout);
        }
    } else if (!strcmp(argv[1], "hnsw") && argc >= 10) {
        size_t nq2;
        /* exact ids from the flat run */
        FILE *f = fopen(argv[6], "rb");
        if (!f) { perror(argv[6]); return 1; }
        int64_t *ex = malloc(nq * k * 8);
        nq2 = fread(ex, 8, nq * k, f) / k;
        fclose(f);
        if (nq2 != nq) { fprintf(stderr, "exact ids: %zu queries, expected %zu\n", nq2, nq); return 1; }
        idx_hnsw_params p = {(uint32_t)atoi(argv[7]), (uint32_t)atoi(argv[8]), 64, 42};
        double t0 = idx_now(), c0 = cpu_now();
        idx_hnsw *h;
        if ((e = idx_hnsw_build(d, &p, NULL, &h))) die(e);
        printf("idx hnsw build n=%zu M=%u efC=%u: %.1f s wall, %.1f s cpu (1 thread)\n", n, p.M, p.ef_construction,
               idx_now() - t0, cpu_now() - c0);
        fflush(stdout);
        char *list = strdup(argv[9]);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            uint32_t ef = (uint32_t)atoi(tok);
            double times[1], cpus[1];
            for (int r = 0; r < 1; r++) {
                double t1 = idx_now(), c1 = cpu_now();
                for (size_t i = 0; i < nq; i++)
                    if ((e = idx_hnsw_search(h, q + i * dim, k, ef, hits + i * k))) die(e);
                times[r] = idx_now() - t1;
                cpus[r] = cpu_now() - c1;
            }
            size_t good = 0;
            for (size_t i = 0; i < nq; i++)
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++)
                        if ((int64_t)hits[i * k + a].row == ex[i * k + b]) good++;
            double med = times[0];
            printf("idx hnsw ef=%u: recall@%zu %.4f, %.1f queries/s wall, %.1f queries/cpu-s (1 thread)\n", ef, k,
                   (double)good / (double)(nq * k), (double)nq / med, (double)nq / cpus[0]);
            fflush(stdout);
        }
        free(list);
        idx_hnsw_free(h);
        free(ex);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    free(hits);
    free(q);
    idx_dense_close(d);
    return 0;
}
