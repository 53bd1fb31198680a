/*
 * test_sparse_cli.c -- end to end through the idx binary: the SciFact
 * quality bar (nDCG@10 >= 0.679 computed by `idx eval`, skipped when the
 * data is absent), top-k with skipping equal to exhaustive scoring on every
 * SciFact query, batch runs, and every bad input of the issue: malformed
 * JSONL, duplicate ids, empty documents and queries, stopword-only queries,
 * a 10,000-term query, qrels naming unknown ids, run files with bad lines,
 * truncated or corrupted index files.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_retrieve.h"

/* The data directory: $IDX_SHARED_DATA if set (for builds outside the main
 * checkout), else the compiled-in ../shared/data. */
static char scifact[1024];
#define SCIFACT scifact

static char *tmp;

static char *slurp(const char *path) {
    idx_buf b = {0};
    if (idx_read_file(path, 0, &b) != IDX_OK) return strdup("");
    return b.data ? b.data : strdup("");
}

static int run(const char *fmt, ...) {
    char cmd[4096], full[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && %s >out.txt 2>err.txt", tmp, cmd);
    int st = system(full);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static void expect_err(const char *needle) {
    char *p = t_path(tmp, "err.txt"), *e = slurp(p);
    if (!strstr(e, needle)) fail_msg("stderr '%s' lacks '%s'", e, needle);
    free(p);
    free(e);
}

static char *out_text(void) {
    char *p = t_path(tmp, "out.txt"), *o = slurp(p);
    free(p);
    return o;
}

static void test_scifact_quality(void **state) {
    (void)state;
    const char *bin = t_idx_bin();
    assert_int_equal(run("%s index-sparse --quiet -o sf %s/corpus.jsonl", bin, SCIFACT), 0);
    assert_int_equal(run("%s eval --qrels %s/qrels/test.tsv --index sf --queries %s/queries.jsonl --json "
                         "--metrics ndcg@10,recall@100 --run-out sf.run",
                         bin, SCIFACT, SCIFACT), 0);
    char *o = out_text();
    json_error_t je;
    json_t *j = json_loads(o, 0, &je);
    assert_non_null(j);
    double ndcg = json_real_value(json_object_get(json_object_get(j, "metrics"), "ndcg@10"));
    double rec = json_real_value(json_object_get(json_object_get(j, "metrics"), "recall@100"));
    printf("SciFact test: nDCG@10 %.4f Recall@100 %.4f over %lld queries\n", ndcg, rec,
           (long long)json_integer_value(json_object_get(j, "queries")));
    assert_int_equal(json_integer_value(json_object_get(j, "queries")), 300);
    assert_true(ndcg >= 0.679);
    assert_true(rec >= 0.90);
    json_decref(j);
    free(o);
    /* the written run evaluates to the same figure */
    assert_int_equal(run("%s eval --qrels %s/qrels/test.tsv sf.run --json --metrics ndcg@10", bin, SCIFACT), 0);
    o = out_text();
    j = json_loads(o, 0, &je);
    assert_true(fabs(json_real_value(json_object_get(json_object_get(j, "metrics"), "ndcg@10")) - ndcg) < 1e-6);
    json_decref(j);
    free(o);
}

static void test_scifact_skip_equals_exhaustive(void **state) {
    (void)state;
    char *index = t_path(tmp, "sf");
    idx_sparse *s;
    assert_int_equal(idx_sparse_open(index, IDX_FILE_VERIFY, &s), IDX_OK);
    idx_sparse_searcher *q;
    assert_int_equal(idx_sparse_searcher_new(s, &q), IDX_OK);
    char qp[1200];
    snprintf(qp, sizeof qp, "%s/queries.jsonl", SCIFACT);
    FILE *f = fopen(qp, "r");
    assert_non_null(f);
    char line[8192];
    idx_sparse_hit *h1 = calloc(1000, sizeof *h1), *h2 = calloc(1000, sizeof *h2);
    size_t nq = 0;
    uint64_t scored_skip = 0, scored_all = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        const char *text = json_string_value(json_object_get(o, "text"));
        size_t ks[] = {10, 1000};
        for (int ki = 0; ki < 2; ki++) {
            idx_sparse_params p;
            idx_sparse_params_default(&p);
            p.k = ks[ki];
            size_t n1, n2;
            idx_sparse_stats st1, st2;
            assert_int_equal(idx_sparse_search(q, text, strlen(text), &p, h1, &n1, &st1), IDX_OK);
            p.exhaustive = 1;
            assert_int_equal(idx_sparse_search(q, text, strlen(text), &p, h2, &n2, &st2), IDX_OK);
            assert_int_equal(n1, n2);
            for (size_t i = 0; i < n1; i++)
                if (h1[i].doc != h2[i].doc || h1[i].score != h2[i].score)
                    fail_msg("query '%s' k=%zu rank %zu differs", text, ks[ki], i);
            if (ki == 0) { scored_skip += st1.postings_scored; scored_all += st2.postings_scored; }
        }
        json_decref(o);
        nq++;
    }
    fclose(f);
    printf("%zu SciFact queries: top-10 with skipping scored %llu postings, exhaustive %llu\n", nq,
           (unsigned long long)scored_skip, (unsigned long long)scored_all);
    assert_true(scored_skip < scored_all);
    free(h1);
    free(h2);
    idx_sparse_searcher_free(q);
    idx_sparse_close(s);
    free(index);
}

static void test_bad_input(void **state) {
    (void)state;
    const char *bin = t_idx_bin();
    char *p;
#define W(name, text) (p = t_path(tmp, name), t_writes(p, text), free(p))
    W("bad.jsonl", "{\"_id\":\"a\",\"text\":\"fine\"}\n{\"_id\":\"b\",\"text\":\n");
    assert_int_equal(run("%s index-sparse --quiet -o bad.idx bad.jsonl", bin), 1);
    expect_err("bad.jsonl:2");
    assert_int_not_equal(access("bad.idx", F_OK) == 0 ? 0 : 1, 0);
    W("dup.jsonl", "{\"_id\":\"a\",\"text\":\"one\"}\n{\"_id\":\"a\",\"text\":\"two\"}\n");
    assert_int_equal(run("%s index-sparse --quiet -o dup.idx dup.jsonl", bin), 1);
    expect_err("duplicate");
    /* empty documents are kept and simply never match; empty title + text too */
    W("small.jsonl", "{\"_id\":\"e\",\"text\":\"\"}\n{\"_id\":\"x\",\"title\":\"Cats\",\"text\":\"cats purr loudly\"}\n"
                     "{\"_id\":\"y\",\"text\":\"dogs bark\"}\n{\"_id\":\"z\",\"text\":\"the of and\"}\n");
    assert_int_equal(run("%s index-sparse --quiet -o small.idx small.jsonl", bin), 0);
    assert_int_equal(run("%s retrieve small.idx cat", bin), 0);
    char *o = out_text();
    assert_non_null(strstr(o, " x "));
    free(o);
    /* empty and stopword-only queries: no hits, exit 0 */
    assert_int_equal(run("%s retrieve small.idx ''", bin), 0);
    expect_err("no document matches");
    assert_int_equal(run("%s retrieve small.idx 'the of and'", bin), 0);
    expect_err("no document matches");
    assert_int_equal(run("%s retrieve small.idx --json 'the'", bin), 0);
    o = out_text();
    assert_non_null(strstr(o, "\"hits\":[]"));
    free(o);
    /* a 10,000-term query: refused clearly past the distinct-term limit */
    p = t_path(tmp, "long.txt");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 10000; i++) fprintf(f, "t%d ", i);
    fclose(f);
    free(p);
    assert_int_equal(run("%s retrieve small.idx \"$(cat long.txt)\"", bin), 1);
    expect_err("more than 1024 distinct terms");
    /* ...and answered when the limit is raised; repeated words are fine either way */
    assert_int_equal(run("%s retrieve small.idx --max-query-terms 20000 \"$(cat long.txt) cats\"", bin), 0);
    f = fopen("/dev/null", "w");
    fclose(f);
    /* usage errors */
    assert_int_equal(run("%s retrieve", bin), 2);
    assert_int_equal(run("%s retrieve small.idx q --k1 -1", bin), 2);
    assert_int_equal(run("%s index-sparse -o x.idx --analyzer stemmer=nope small.jsonl", bin), 2);
    assert_int_equal(run("%s retrieve nowhere q", bin), 1);
    /* qrels naming unknown ids: a warning, and they count as unretrieved relevant documents */
    W("q.tsv", "1\tcats\n2\tdogs\n");
    W("qrels.tsv", "query-id\tcorpus-id\tscore\n1\tx\t1\n2\ty\t1\n2\tghost\t1\n");
    assert_int_equal(run("%s eval --qrels qrels.tsv --index small.idx --queries q.tsv --metrics recall@10,mrr@10", bin), 0);
    expect_err("not in the index (e.g. 'ghost')");
    o = out_text();
    assert_non_null(strstr(o, "0.7500")); /* recall: (1 + 1/2) / 2 */
    free(o);
    /* run files with bad lines */
    W("bad.run", "1 Q0 x 1 2.5 t\n1 Q0 y two 1.0 t\n");
    assert_int_equal(run("%s eval --qrels qrels.tsv bad.run", bin), 1);
    expect_err("bad.run:2: rank 'two'");
    W("bad2.run", "1 Q0 x 1 2.5\n");
    assert_int_equal(run("%s eval --qrels qrels.tsv bad2.run", bin), 1);
    expect_err("bad2.run:1: expected 6 fields");
    W("badq.tsv", "1\tcats\nno tab\n");
    assert_int_equal(run("%s retrieve small.idx --queries badq.tsv", bin), 1);
    expect_err("badq.tsv:2");
    /* batch run output */
    assert_int_equal(run("%s retrieve small.idx --queries q.tsv -o q.run --tag mine", bin), 0);
    p = t_path(tmp, "q.run");
    o = slurp(p);
    free(p);
    assert_non_null(strstr(o, "1 Q0 x 1 "));
    assert_non_null(strstr(o, " mine\n"));
    free(o);
    /* truncated and corrupted index files */
    assert_int_equal(run("cp -r small.idx trunc.idx && truncate -s 100 trunc.idx/sparse/seg-0000.sps"), 0);
    assert_int_equal(run("%s retrieve trunc.idx cats", bin), 1);
    expect_err("seg-0000.sps");
    assert_int_equal(run("cp -r small.idx flip.idx && printf '\\377\\377\\377\\377' | "
                         "dd of=flip.idx/sparse/seg-0000.sps bs=1 seek=300 conv=notrunc 2>/dev/null"), 0);
    assert_int_equal(run("%s eval --qrels qrels.tsv --index flip.idx --queries q.tsv", bin), 1);
    expect_err("seg-0000.sps");
    assert_int_equal(run("cp -r small.idx js.idx && echo '{' > js.idx/sparse/segments.json"), 0);
    assert_int_equal(run("%s retrieve js.idx cats", bin), 1);
    expect_err("segments.json");
    /* add, delete, merge through the CLI */
    W("more.jsonl", "{\"_id\":\"w\",\"text\":\"cats and dogs\"}\n");
    assert_int_equal(run("%s sparse-add --quiet small.idx more.jsonl", bin), 0);
    assert_int_equal(run("%s sparse-add --quiet small.idx more.jsonl", bin), 1);
    expect_err("already in the index");
    assert_int_equal(run("%s sparse-delete small.idx x nope", bin), 0);
    o = out_text();
    assert_non_null(strstr(o, "deleted 1 documents; 1 ids"));
    free(o);
    assert_int_equal(run("%s retrieve small.idx cats", bin), 0);
    o = out_text();
    assert_null(strstr(o, " x "));
    assert_non_null(strstr(o, " w "));
    free(o);
    assert_int_equal(run("%s sparse-merge small.idx", bin), 0);
    assert_int_equal(run("%s retrieve small.idx cats dogs", bin), 0);
    o = out_text();
    assert_non_null(strstr(o, " w "));
    assert_non_null(strstr(o, " y "));
    free(o);
    /* --into over an index that has only a document store */
    assert_int_equal(run("rm -rf small.idx/sparse && %s index-sparse --quiet --into small.idx", bin), 0);
    assert_int_equal(run("%s retrieve small.idx dogs", bin), 0);
    /* --into over an index written by `idx build` (document store + FM-index) */
    if (run("%s build -o built.idx small.jsonl", bin) == 0) {
        assert_int_equal(run("%s index-sparse --quiet --into built.idx", bin), 0);
        assert_int_equal(run("%s index-sparse --quiet --into built.idx", bin), 1);
        expect_err("already exists");
        assert_int_equal(run("%s retrieve built.idx purring cats", bin), 0);
        o = out_text();
        assert_non_null(strstr(o, " x "));
        free(o);
    }
#undef W
}

static int setup(void **state) {
    (void)state;
    tmp = t_tmpdir();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    t_sh("rm -rf %s", tmp);
    free(tmp);
    return 0;
}

int main(void) {
    const char *env = getenv("IDX_SHARED_DATA");
    snprintf(scifact, sizeof scifact, "%s/beir/scifact", env && *env ? env : IDX_SHARED_DATA);
    char cp[1200];
    snprintf(cp, sizeof cp, "%s/corpus.jsonl", SCIFACT);
    if (access(cp, R_OK) != 0) {
        printf("SKIP: %s is absent (the SciFact parts); running the rest\n", SCIFACT);
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_bad_input)};
        return cmocka_run_group_tests(tests, setup, teardown);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_scifact_quality),
                                       cmocka_unit_test(test_scifact_skip_equals_exhaustive),
                                       cmocka_unit_test(test_bad_input)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
