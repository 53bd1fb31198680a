/*
 * test_scifact_hybrid.c -- quality on BEIR SciFact (test split, 300 queries):
 * builds the BM25 index and the dense part with the bundled model (USE lite,
 * passages of whole sentences), retrieves with BM25, dense and hybrid, and
 * asserts that hybrid beats the better of its two parts on nDCG@10 (and
 * prints nDCG@10 and Recall@100 of all three). Skips (77) when the data or
 * the model (scripts/fetch_use_model.sh) is absent. Slow: several minutes of
 * embedding on two cores; labelled "slow".
 *
 * The fusion settings are the ones documented in README.md "Dense and hybrid retrieval", chosen on
 * SciFact's train queries, not on the test queries asserted here.
 * Environment: IDX_SHARED_DATA overrides the data directory, IDX_USE_MODEL
 * the model directory, IDX_SCIFACT_KEEP=DIR keeps (and reuses) the index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cblas.h>

#include "idx_eval.h"
#include "idx_hybrid.h"
#include "idx_retrieve.h"

#define CHUNK_BYTES 300
#define FUSION IDX_FUSION_ZSCORE
#define DENSE_WEIGHT 0.5

static char data[1024], model[1024], index_dir[1100];
static int keep;

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

typedef struct {
    double ndcg10, recall100;
} figures;

static figures evaluate(idx_hybrid *h, idx_eval_queries *qs, const idx_eval_qrels *qrels, idx_retrieve_mode mode,
                        idx_sparse *sp) {
    const size_t k = 100;
    idx_eval_run *run;
    assert_int_equal(idx_eval_run_new(&run), IDX_OK);
    idx_fuse_cand *res = malloc(qs->n * k * sizeof *res);
    size_t *counts = calloc(qs->n, sizeof *counts);
    if (mode == IDX_RETRIEVE_SPARSE) {
        idx_sparse_searcher *s;
        assert_int_equal(idx_sparse_searcher_new(sp, &s), IDX_OK);
        idx_sparse_params p;
        idx_sparse_params_default(&p);
        p.k = k;
        idx_sparse_hit *hits = malloc(k * sizeof *hits);
        for (size_t i = 0; i < qs->n; i++) {
            size_t n;
            assert_int_equal(idx_sparse_search(s, qs->texts[i], strlen(qs->texts[i]), &p, hits, &n, NULL), IDX_OK);
            for (size_t j = 0; j < n; j++) {
                const char *id;
                size_t il;
                assert_int_equal(idx_docs_id(idx_sparse_segment_store(sp, hits[j].segment), hits[j].doc, &id, &il), IDX_OK);
                char buf[256];
                snprintf(buf, sizeof buf, "%.*s", (int)il, id);
                assert_int_equal(idx_eval_run_add(run, qs->ids[i], buf, hits[j].score), IDX_OK);
            }
        }
        free(hits);
        idx_sparse_searcher_free(s);
    } else {
        idx_hybrid_opts o = {0};
        o.mode = mode;
        o.fusion = FUSION;
        o.dense_weight = DENSE_WEIGHT;
        assert_int_equal(idx_hybrid_search(h, (const char *const *)qs->texts, qs->n, k, &o, res, counts), IDX_OK);
        for (size_t i = 0; i < qs->n; i++)
            for (size_t j = 0; j < counts[i]; j++) {
                const char *id;
                size_t il;
                assert_int_equal(idx_hybrid_doc_id(h, res[i * k + j].doc_id, &id, &il), IDX_OK);
                char buf[256];
                snprintf(buf, sizeof buf, "%.*s", (int)il, id);
                assert_int_equal(idx_eval_run_add(run, qs->ids[i], buf, res[i * k + j].score), IDX_OK);
            }
    }
    idx_eval_metric m[2];
    size_t nm;
    assert_int_equal(idx_eval_metrics_parse("ndcg@10,recall@100", m, 2, &nm), IDX_OK);
    idx_eval_result *r;
    assert_int_equal(idx_eval_compute(qrels, run, m, nm, &r), IDX_OK);
    assert_int_equal(r->nqueries, 300);
    figures f = {r->mean[0], r->mean[1]};
    idx_eval_result_free(r);
    idx_eval_run_free(run);
    free(res);
    free(counts);
    return f;
}

static void test_scifact(void **st) {
    (void)st;
    char corpus[1100], queries[1100], qrels_path[1100];
    snprintf(corpus, sizeof corpus, "%s/beir/scifact/corpus.jsonl", data);
    snprintf(queries, sizeof queries, "%s/beir/scifact/queries.jsonl", data);
    snprintf(qrels_path, sizeof qrels_path, "%s/beir/scifact/qrels/test.tsv", data);
    openblas_set_num_threads(1);
    char done_mark[1200];
    snprintf(done_mark, sizeof done_mark, "%s/dense/vectors.vec", index_dir);
    if (!keep || !exists(done_mark)) {
        idx_text_config cfg;
        idx_text_config_default(&cfg);
        const char *paths[] = {corpus};
        double t0 = idx_now();
        assert_int_equal(idx_sparse_build_from_corpus(index_dir, paths, 1, NULL, &cfg, 1, 0, NULL), IDX_OK);
        idx_embedder_opts eo = {0};
        eo.provider = "local";
        eo.model = model;
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        eo.threads = nc > 0 ? (int)nc : 1;
        idx_embedder *emb;
        assert_int_equal(idx_embedder_new(&eo, &emb), IDX_OK);
        idx_dense_build_opts bo = {0};
        bo.chunk_bytes = CHUNK_BYTES;
        uint64_t n;
        assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
        assert_int_equal(n, 5183);
        idx_embedder_free(emb);
        print_message("built BM25 + dense (USE lite, %d-byte passages) in %.0f s\n", CHUNK_BYTES, idx_now() - t0);
    }
    idx_eval_queries *qs;
    idx_eval_qrels *qrels;
    assert_int_equal(idx_eval_queries_load(queries, &qs), IDX_OK);
    assert_int_equal(idx_eval_qrels_load(qrels_path, &qrels), IDX_OK);
    idx_hybrid *h;
    idx_sparse *sp;
    assert_int_equal(idx_hybrid_open(index_dir, IDX_RETRIEVE_HYBRID, NULL, NULL, NULL, &h), IDX_OK);
    assert_int_equal(idx_sparse_open(index_dir, 0, &sp), IDX_OK);
    figures b = evaluate(h, qs, qrels, IDX_RETRIEVE_SPARSE, sp);
    figures d = evaluate(h, qs, qrels, IDX_RETRIEVE_DENSE, NULL);
    figures y = evaluate(h, qs, qrels, IDX_RETRIEVE_HYBRID, NULL);
    print_message("SciFact test (300 queries)   nDCG@10  Recall@100\n");
    print_message("  BM25                        %.4f   %.4f\n", b.ndcg10, b.recall100);
    print_message("  dense (USE lite, passages)  %.4f   %.4f\n", d.ndcg10, d.recall100);
    print_message("  hybrid (%s, w=%.2f)      %.4f   %.4f\n", FUSION == IDX_FUSION_RRF ? "rrf" : FUSION == IDX_FUSION_MINMAX ? "minmax" : "zscore",
                  DENSE_WEIGHT, y.ndcg10, y.recall100);
    assert_true(b.ndcg10 > 0.6); /* sanity: the BM25 figure of README.md "Sparse retrieval" */
    assert_true(y.ndcg10 > b.ndcg10);
    assert_true(y.ndcg10 > d.ndcg10);
    idx_sparse_close(sp);
    idx_hybrid_close(h);
    idx_eval_qrels_free(qrels);
    idx_eval_queries_free(qs);
}

int main(void) {
    const char *dd = getenv("IDX_SHARED_DATA");
    snprintf(data, sizeof data, "%s", dd && *dd ? dd : IDX_SHARED_DATA);
    const char *md = getenv("IDX_USE_MODEL");
    snprintf(model, sizeof model, "%s", md && *md ? md : IDX_SOURCE_DIR "/models/use-lite");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/beir/scifact/corpus.jsonl", data);
    if (!exists(probe)) {
        fprintf(stderr, "skipped: SciFact data absent (%s)\n", probe);
        return 77;
    }
    char p1[1200], p2[1200], p3[1200];
    snprintf(p1, sizeof p1, "%s/node_modules", model);
    snprintf(p2, sizeof p2, "%s/model.json", model);
    snprintf(p3, sizeof p3, "%s/config.json", model);
    if (!exists(p1) && !exists(p2) && !exists(p3)) {
        fprintf(stderr, "skipped: USE lite model absent (%s; run scripts/fetch_use_model.sh)\n", model);
        return 77;
    }
    const char *k = getenv("IDX_SCIFACT_KEEP");
    if (k && *k) {
        keep = 1;
        snprintf(index_dir, sizeof index_dir, "%s", k);
    } else {
        char t[] = "/tmp/idx_test_scifact_XXXXXX";
        if (!mkdtemp(t)) return 1;
        snprintf(index_dir, sizeof index_dir, "%s/idx", t);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_scifact)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (!keep) {
        char *slash = strrchr(index_dir, '/');
        *slash = 0;
        idx_rmtree(index_dir);
    }
    return rc;
}
