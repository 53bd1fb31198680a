/*
 * hybrid_clone_bench.c -- what a dense/hybrid request of `idx serve` would pay
 * for a fresh retrieval handle instead of a pooled one: times
 * idx_hybrid_clone + idx_hybrid_close (a clone borrows the dense part, the
 * document store, the sparse index and the encoder; it owns a BM25 searcher)
 * against one dense and one hybrid search of a short query on the same
 * handle, and a full idx_hybrid_open (what a handle per request without
 * cloning would cost: the model is loaded again). Used by
 * bench/embed_server_bench.sh.  usage: hybrid_clone_bench INDEX [N]
 */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "idx_hybrid.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hybrid_clone_bench INDEX [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1) n = 1;
    openblas_set_num_threads(1);
    idx_hybrid *base;
    double t0 = idx_now();
    if (idx_hybrid_open(argv[1], IDX_RETRIEVE_HYBRID, NULL, NULL, NULL, &base)) {
        fprintf(stderr, "%s\n", idx_errmsg());
        return 1;
    }
    double t_open = idx_now() - t0;
    t0 = idx_now();
    for (int i = 0; i < n; i++) {
        idx_hybrid *c;
        if (idx_hybrid_clone(base, &c)) return 1;
        idx_hybrid_close(c);
    }
    double t_clone = (idx_now() - t0) / n;
    const char *q = "white matter development in the human brain";
    idx_fuse_cand res[10];
    size_t cnt;
    double t_s[2];
    for (int m = 0; m < 2; m++) {
        idx_hybrid_opts o = {0};
        o.mode = m ? IDX_RETRIEVE_HYBRID : IDX_RETRIEVE_DENSE;
        t0 = idx_now();
        for (int i = 0; i < n; i++)
            if (idx_hybrid_search(base, &q, 1, 10, &o, res, &cnt)) {
                fprintf(stderr, "%s\n", idx_errmsg());
                return 1;
            }
        t_s[m] = (idx_now() - t0) / n;
    }
    printf("open (model loaded) %.1f ms; clone+close %.1f us; one dense query %.1f us; one hybrid query %.1f us\n",
           t_open * 1e3, t_clone * 1e6, t_s[0] * 1e6, t_s[1] * 1e6);
    idx_hybrid_close(base);
    return 0;
}
