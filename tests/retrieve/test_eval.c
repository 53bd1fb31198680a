/*
 * test_eval.c -- the evaluation library against hand-computed trec_eval
 * values: graded nDCG (ideal from the qrels, unjudged and zero-grade
 * documents), score ties broken by docid descending, Recall@k, P@k, MRR@k,
 * MAP, queries missing from the run (scored 0) or from the qrels (ignored);
 * both qrels formats; every malformed run/qrels/queries line named.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_eval.h"

static const char *QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq1\td3\t0\nq2\td9\t1\nq3\td5\t1\n";
static const char *RUN = "q1 Q0 d3 1 3.0 t\nq1 Q0 d2 2 2.0 t\nq1 Q0 d1 3 1.0 t\nq1 Q0 dx 4 0.5 t\n"
                         "q2 Q0 d8 1 5.0 t\nq2 Q0 d9 2 5.0 t\nq4 Q0 d1 1 1 t\n";

static void test_metrics(void **state) {
    (void)state;
    idx_eval_qrels *q;
    idx_eval_run *r;
    assert_int_equal(idx_eval_qrels_parse(QRELS, strlen(QRELS), "qrels", &q), IDX_OK);
    assert_int_equal(idx_eval_qrels_queries(q), 3);
    assert_int_equal(idx_eval_run_parse(RUN, strlen(RUN), "run", &r), IDX_OK);
    idx_eval_metric m[8];
    size_t nm;
    assert_int_equal(idx_eval_metrics_parse("ndcg@10,recall@2,p@2,mrr@10,map,ndcg@1", m, 8, &nm), IDX_OK);
    assert_int_equal(nm, 6);
    idx_eval_result *res;
    assert_int_equal(idx_eval_compute(q, r, m, nm, &res), IDX_OK);
    assert_int_equal(res->nqueries, 3);
    assert_int_equal(res->missing, 1);
    assert_int_equal(res->run_only, 1);
    assert_string_equal(res->qids[0], "q1");
    double q1_ndcg = (2 / log2(3) + 1 / log2(4)) / (2 + 1 / log2(3));
    double *v = res->values;
    assert_true(fabs(v[0] - q1_ndcg) < 1e-12);
    assert_true(fabs(v[1] - 0.5) < 1e-12);              /* recall@2: d2 of {d1, d2} */
    assert_true(fabs(v[2] - 0.5) < 1e-12);              /* p@2 */
    assert_true(fabs(v[3] - 0.5) < 1e-12);              /* first relevant at rank 2 */
    assert_true(fabs(v[4] - (0.5 + 2.0 / 3) / 2) < 1e-12);
    assert_true(fabs(v[5] - 0.0) < 1e-12);              /* ndcg@1: d3 has grade 0 */
    /* q2: tie at 5.0 is broken by docid descending, so d9 (relevant) is first */
    assert_true(fabs(v[6 + 0] - 1.0) < 1e-12);
    assert_true(fabs(v[6 + 3] - 1.0) < 1e-12);
    assert_true(fabs(v[6 + 5] - 1.0) < 1e-12);
    /* q3 absent from the run: zeros, still averaged */
    for (int i = 0; i < 6; i++) assert_true(v[12 + i] == 0.0);
    assert_true(fabs(res->mean[0] - (q1_ndcg + 1.0) / 3) < 1e-12);
    assert_true(fabs(res->mean[4] - ((0.5 + 2.0 / 3) / 2 + 1.0) / 3) < 1e-12);
    idx_eval_result_free(res);
    idx_eval_run_free(r);
    idx_eval_qrels_free(q);

    /* TREC qrels (4 columns) give the same judgements */
    const char *trec = "q1 0 d1 1\nq1 0 d2 2\n\nq2 0 d9 1\n";
    assert_int_equal(idx_eval_qrels_parse(trec, strlen(trec), "t", &q), IDX_OK);
    assert_int_equal(idx_eval_qrels_queries(q), 2);
    idx_eval_qrels_free(q);
    /* in-memory runs */
    assert_int_equal(idx_eval_run_new(&r), IDX_OK);
    assert_int_equal(idx_eval_run_add(r, "q", "d", NAN), IDX_ERR_INVALID);
    idx_eval_run_free(r);
}

static void expect_run_error(const char *text, idx_err code, const char *msg) {
    idx_eval_run *r = NULL;
    assert_int_equal(idx_eval_run_parse(text, strlen(text), "run.txt", &r), code);
    assert_null(r);
    if (!strstr(idx_errmsg(), msg)) fail_msg("message '%s' lacks '%s'", idx_errmsg(), msg);
}

static void expect_qrels_error(const char *text, idx_err code, const char *msg) {
    idx_eval_qrels *q = NULL;
    assert_int_equal(idx_eval_qrels_parse(text, strlen(text), "qrels.tsv", &q), code);
    assert_null(q);
    if (!strstr(idx_errmsg(), msg)) fail_msg("message '%s' lacks '%s'", idx_errmsg(), msg);
}

static void test_bad_input(void **state) {
    (void)state;
    expect_run_error("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 1.0\n", IDX_ERR_PARSE, "run.txt:2: expected 6 fields");
    expect_run_error("q1 Q0 d1 one 1.0 t\n", IDX_ERR_PARSE, "run.txt:1: rank 'one'");
    expect_run_error("q1 Q0 d1 1 nan t\n", IDX_ERR_PARSE, "run.txt:1: score 'nan'");
    expect_run_error("q1 Q0 d1 1 1e999 t\n", IDX_ERR_PARSE, "not a finite number");
    expect_run_error("q1 Q0 d1 1 1 t\nq1 Q0 d1 2 0.5 t\n", IDX_ERR_PARSE, "document 'd1' appears twice");
    expect_run_error("\n\n", IDX_ERR_EMPTY, "empty");
    expect_qrels_error("q1 d1\n", IDX_ERR_PARSE, "qrels.tsv:1: expected");
    expect_qrels_error("q1\td1\t1\nq1\td2\thigh\n", IDX_ERR_PARSE, "qrels.tsv:2: relevance 'high'");
    expect_qrels_error("q1\td1\t1\nq1\td1\t2\n", IDX_ERR_PARSE, "appears twice");
    expect_qrels_error("query-id\tcorpus-id\tscore\n", IDX_ERR_EMPTY, "no relevance");
    idx_eval_metric m[4];
    size_t n;
    assert_int_equal(idx_eval_metrics_parse("ndcg", m, 4, &n), IDX_ERR_INVALID);
    assert_int_equal(idx_eval_metrics_parse("bleu@4", m, 4, &n), IDX_ERR_INVALID);
    assert_int_equal(idx_eval_metrics_parse("ndcg@x", m, 4, &n), IDX_ERR_INVALID);
    assert_int_equal(idx_eval_metrics_parse("map,mrr", m, 4, &n), IDX_OK);
    assert_int_equal(idx_eval_metrics_parse("", m, 4, &n), IDX_ERR_INVALID);
}

static void test_queries(void **state) {
    (void)state;
    idx_eval_queries *q;
    const char *j = "{\"_id\": \"1\", \"text\": \"first query\", \"metadata\": {}}\n\n{\"_id\": 7, \"text\": \"\"}\n";
    assert_int_equal(idx_eval_queries_parse(j, strlen(j), "q.jsonl", &q), IDX_OK);
    assert_int_equal(q->n, 2);
    assert_string_equal(q->ids[1], "7");
    assert_string_equal(q->texts[0], "first query");
    idx_eval_queries_free(q);
    const char *t = "a\tfirst\r\nb\tsecond one\n";
    assert_int_equal(idx_eval_queries_parse(t, strlen(t), "q.tsv", &q), IDX_OK);
    assert_string_equal(q->texts[0], "first");
    assert_string_equal(q->texts[1], "second one");
    idx_eval_queries_free(q);
    q = NULL;
    const char *b1 = "{\"_id\":1}\n", *b2 = "{\"_id\":1, \"text\":\"x\"}\n{bad\n";
    assert_int_equal(idx_eval_queries_parse(b1, strlen(b1), "q.jsonl", &q), IDX_ERR_PARSE);
    assert_int_equal(idx_eval_queries_parse(b2, strlen(b2), "q.jsonl", &q), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "q.jsonl:2"));
    assert_int_equal(idx_eval_queries_parse("no tab here\n", 12, "q.tsv", &q), IDX_ERR_PARSE);
    assert_int_equal(idx_eval_queries_parse("  \n", 3, "q.tsv", &q), IDX_ERR_EMPTY);
    assert_null(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_metrics), cmocka_unit_test(test_bad_input),
                                       cmocka_unit_test(test_queries)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
