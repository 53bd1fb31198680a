/*
 * test_sparse.c -- the BM25 index against naive evaluation: scores equal the
 * textbook Lucene BM25 formula computed directly on a tiny corpus; top-k
 * with block-max MaxScore equals exhaustive scoring (same documents,
 * bit-identical scores) on a generated Zipfian corpus, including heavy ties;
 * segments added later give exactly the scores of one build; deletes hide
 * documents; a merge equals a fresh build of the remaining documents;
 * every flipped byte and every truncation of a segment file is an error or
 * a harmless result, never a crash.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_retrieve.h"

/* Writes docs as BEIR JSONL: ids "d<first+i>". */
static void write_corpus(const char *path, const char *const *titles, const char *const *texts, size_t n,
                         size_t first) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "_id", "", "title", titles ? titles[i] : "", "text", texts[i]);
        char id[32];
        snprintf(id, sizeof id, "d%zu", first + i);
        json_object_set_new(o, "_id", json_string(id));
        char *s = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", s);
        free(s);
        json_decref(o);
    }
    fclose(f);
}

static idx_text_config plain_cfg(void) {
    idx_text_config c;
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "stemmer=none,stopwords=none"), IDX_OK);
    return c;
}

/* ---- naive BM25 ---- */
typedef struct {
    char terms[64][32];
    int n;
} tlist;
static int tl_add(void *ud, const char *t, size_t len, size_t s, size_t e, uint32_t p) {
    (void)s; (void)e; (void)p;
    tlist *l = ud;
    assert_true(len < 32 && l->n < 64);
    memcpy(l->terms[l->n], t, len);
    l->terms[l->n][len] = 0;
    l->n++;
    return 0;
}

static void test_bm25_formula(void **state) {
    (void)state;
    const char *titles[] = {"Cats", "", "Dogs and cats", "", "Birds", "Mixed"};
    const char *texts[] = {"the cat sat on the mat with another cat", "dogs chase cats", "a dog is not a cat",
                           "", "birds fly over the cat and the dog and the bird", "cat cat cat cat dog"};
    size_t N = 6;
    char *dir = t_tmpdir(), *corpus = t_path(dir, "c.jsonl"), *index = t_path(dir, "index");
    write_corpus(corpus, titles, texts, N, 0);
    idx_text_config cfg = plain_cfg();
    const char *paths[] = {corpus};
    assert_int_equal(idx_sparse_build_from_corpus(index, paths, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
    /* naive: analyse each doc (title then text) */
    idx_text_analyzer *a;
    assert_int_equal(idx_text_analyzer_new(&cfg, &a), IDX_OK);
    tlist docs[6];
    double total = 0;
    for (size_t i = 0; i < N; i++) {
        docs[i].n = 0;
        idx_text_analyze(a, titles[i], strlen(titles[i]), tl_add, &docs[i]);
        idx_text_analyze(a, texts[i], strlen(texts[i]), tl_add, &docs[i]);
        total += docs[i].n;
    }
    idx_sparse *s;
    assert_int_equal(idx_sparse_open(index, IDX_FILE_VERIFY, &s), IDX_OK);
    assert_int_equal(idx_sparse_doc_count(s), N);
    idx_sparse_searcher *q;
    assert_int_equal(idx_sparse_searcher_new(s, &q), IDX_OK);
    const char *queries[] = {"cat", "dog cat", "the bird", "cat cat mat", "zebra", "", "DOGS!"};
    double params[][2] = {{0.9, 0.4}, {1.2, 0.75}, {2.0, 1.0}, {0.0, 0.5}, {1.5, 0.0}};
    for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
        tlist ql = {0};
        idx_text_analyze(a, queries[qi], strlen(queries[qi]), tl_add, &ql);
        for (size_t pi = 0; pi < 5; pi++) {
            double k1 = params[pi][0], b = params[pi][1];
            double expect[6];
            size_t nexp = 0;
            for (size_t d = 0; d < N; d++) {
                long double sc = 0;
                for (int t = 0; t < ql.n; t++) {
                    int df = 0, tf = 0;
                    for (size_t e = 0; e < N; e++) {
                        int has = 0;
                        for (int u = 0; u < docs[e].n; u++) has |= !strcmp(docs[e].terms[u], ql.terms[t]);
                        df += has;
                    }
                    for (int u = 0; u < docs[d].n; u++) tf += !strcmp(docs[d].terms[u], ql.terms[t]);
                    if (!tf) continue;
                    long double idf = logl(1.0L + (N - df + 0.5L) / (df + 0.5L));
                    long double norm = k1 * (1 - b + b * docs[d].n / (total / N));
                    sc += idf * tf / (tf + norm); /* repeated query terms add up (qtf weight) */
                }
                expect[d] = (double)sc;
                if (sc > 0) nexp++;
            }
            for (int ex = 0; ex < 2; ex++) {
                idx_sparse_params p;
                idx_sparse_params_default(&p);
                p.k1 = k1;
                p.b = b;
                p.k = 10;
                p.exhaustive = ex;
                idx_sparse_hit hits[10];
                size_t n;
                assert_int_equal(idx_sparse_search(q, queries[qi], strlen(queries[qi]), &p, hits, &n, NULL), IDX_OK);
                assert_int_equal(n, nexp);
                for (size_t i = 0; i < n; i++) {
                    double want = expect[hits[i].doc];
                    if (fabs(hits[i].score - want) > 1e-9 * want)
                        fail_msg("query '%s' k1=%g b=%g doc %llu: got %.12f want %.12f", queries[qi], k1, b,
                                 (unsigned long long)hits[i].doc, hits[i].score, want);
                    if (i) assert_true(hits[i - 1].score >= hits[i].score);
                }
            }
        }
    }
    /* a stopword-only query on the default analyser gives no hits, not an error */
    idx_sparse_searcher_free(q);
    idx_sparse_close(s);
    idx_text_analyzer_free(a);
    t_sh("rm -rf %s", dir);
    free(dir); free(corpus); free(index);
}

/* ---- generated corpus ---- */
static uint32_t rng = 12345;
static uint32_t rnd(void) { rng = rng * 1103515245u + 12345u; return (rng >> 8) & 0xffffff; }
static void word(unsigned r, char *out) { snprintf(out, 16, "w%u", r); }
/* Zipf-ish: small ids much more frequent */
static unsigned zipf(unsigned vocab) {
    double u = (rnd() + 1.0) / 16777217.0;
    return (unsigned)(pow((double)vocab, u)) - 1;
}

static char **gen_docs(size_t n, unsigned vocab, int ties) {
    char **t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        size_t len = ties ? 3 + (i % 3) : 1 + rnd() % 300;
        t[i] = calloc(len * 16 + 1, 1);
        for (size_t j = 0; j < len; j++) {
            char w[16];
            word(ties ? (unsigned)(rnd() % 4) : zipf(vocab), w);
            strcat(t[i], w);
            strcat(t[i], " ");
        }
    }
    return t;
}

static void compare_paths(idx_sparse *s, unsigned vocab, int nq) {
    idx_sparse_searcher *q;
    assert_int_equal(idx_sparse_searcher_new(s, &q), IDX_OK);
    idx_sparse_hit *h1 = calloc(200, sizeof *h1), *h2 = calloc(200, sizeof *h2);
    size_t ks[] = {1, 10, 200};
    for (int i = 0; i < nq; i++) {
        char query[256] = "";
        int nw = 1 + (int)(rnd() % 6);
        for (int j = 0; j < nw; j++) {
            char w[16];
            word(j == 0 && i % 5 == 0 ? (unsigned)(rnd() % 4) : zipf(vocab), w);
            strcat(query, w);
            strcat(query, " ");
        }
        for (int ki = 0; ki < 3; ki++) {
            idx_sparse_params p;
            idx_sparse_params_default(&p);
            p.k = ks[ki];
            p.k1 = i % 2 ? 1.2 : 0.9;
            p.b = i % 3 ? 0.75 : 0.4;
            size_t n1, n2;
            idx_sparse_stats st1, st2;
            assert_int_equal(idx_sparse_search(q, query, strlen(query), &p, h1, &n1, &st1), IDX_OK);
            p.exhaustive = 1;
            assert_int_equal(idx_sparse_search(q, query, strlen(query), &p, h2, &n2, &st2), IDX_OK);
            assert_int_equal(n1, n2);
            for (size_t j = 0; j < n1; j++) {
                if (h1[j].segment != h2[j].segment || h1[j].doc != h2[j].doc || h1[j].score != h2[j].score)
                    fail_msg("query '%s' k=%zu rank %zu: skip (%u,%llu,%.17g) exhaustive (%u,%llu,%.17g)", query,
                             ks[ki], j, h1[j].segment, (unsigned long long)h1[j].doc, h1[j].score, h2[j].segment,
                             (unsigned long long)h2[j].doc, h2[j].score);
            }
        }
    }
    free(h1);
    free(h2);
    idx_sparse_searcher_free(q);
}

static void test_skip_equals_exhaustive(void **state) {
    (void)state;
    for (int ties = 0; ties < 2; ties++) {
        size_t n = ties ? 1500 : 4000;
        char **texts = gen_docs(n, 3000, ties);
        char *dir = t_tmpdir(), *corpus = t_path(dir, "c.jsonl"), *index = t_path(dir, "index");
        write_corpus(corpus, NULL, (const char *const *)texts, n, 0);
        idx_text_config cfg = plain_cfg();
        const char *paths[] = {corpus};
        assert_int_equal(idx_sparse_build_from_corpus(index, paths, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
        idx_sparse *s;
        assert_int_equal(idx_sparse_open(index, IDX_FILE_VERIFY, &s), IDX_OK);
        compare_paths(s, 3000, 150);
        idx_sparse_close(s);
        for (size_t i = 0; i < n; i++) free(texts[i]);
        free(texts);
        t_sh("rm -rf %s", dir);
        free(dir); free(corpus); free(index);
    }
}

/* Results as "id:score" lines for comparing indexes with different layouts. */
static char *results(const char *index, const char *query, size_t k) {
    idx_sparse *s;
    assert_int_equal(idx_sparse_open(index, IDX_FILE_VERIFY, &s), IDX_OK);
    idx_sparse_searcher *q;
    assert_int_equal(idx_sparse_searcher_new(s, &q), IDX_OK);
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    p.k = k;
    idx_sparse_hit hits[100];
    size_t n;
    assert_int_equal(idx_sparse_search(q, query, strlen(query), &p, hits, &n, NULL), IDX_OK);
    idx_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *id;
        size_t il;
        assert_int_equal(idx_docs_id(idx_sparse_segment_store(s, hits[i].segment), hits[i].doc, &id, &il), IDX_OK);
        idx_buf_printf(&b, "%.*s:%.17g\n", (int)il, id, hits[i].score);
    }
    idx_sparse_searcher_free(q);
    idx_sparse_close(s);
    if (!b.data) return strdup("");
    return b.data;
}

static void test_segments_deletes_merge(void **state) {
    (void)state;
    size_t n = 600;
    char **texts = gen_docs(n, 500, 0);
    char *dir = t_tmpdir();
    char *all = t_path(dir, "all.jsonl"), *a = t_path(dir, "a.jsonl"), *b = t_path(dir, "b.jsonl"),
         *c = t_path(dir, "c.jsonl"), *rest = t_path(dir, "rest.jsonl");
    write_corpus(all, NULL, (const char *const *)texts, n, 0);
    write_corpus(a, NULL, (const char *const *)texts, 250, 0);
    write_corpus(b, NULL, (const char *const *)texts + 250, 200, 250);
    write_corpus(c, NULL, (const char *const *)texts + 450, 150, 450);
    char *one = t_path(dir, "one"), *seg = t_path(dir, "seg"), *fresh = t_path(dir, "fresh");
    idx_text_config cfg = plain_cfg();
    const char *pa[] = {all}, *pb[] = {a}, *pc[] = {b}, *pd[] = {c};
    assert_int_equal(idx_sparse_build_from_corpus(one, pa, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
    assert_int_equal(idx_sparse_build_from_corpus(one, pa, 1, NULL, &cfg, 0, 0, NULL), IDX_ERR_EXISTS);
    assert_int_equal(idx_sparse_build_from_corpus(seg, pb, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
    uint64_t added;
    assert_int_equal(idx_sparse_add(seg, pc, 1, NULL, NULL, &added), IDX_OK);
    assert_int_equal(added, 200);
    assert_int_equal(idx_sparse_add(seg, pd, 1, NULL, NULL, &added), IDX_OK);
    /* adding an id that is already live is refused and changes nothing */
    assert_int_equal(idx_sparse_add(seg, pd, 1, NULL, NULL, &added), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "already in the index"));
    /* a build with a tiny memory budget spills into several segments, same results */
    char *spill = t_path(dir, "spill");
    assert_int_equal(idx_sparse_build_from_corpus(spill, pa, 1, NULL, &cfg, 0, 120000, NULL), IDX_OK);
    idx_sparse *s;
    assert_int_equal(idx_sparse_open(spill, IDX_FILE_VERIFY, &s), IDX_OK);
    printf("memory-bounded build: %zu segments\n", idx_sparse_segment_count(s));
    assert_true(idx_sparse_segment_count(s) >= 3 && idx_sparse_segment_count(s) <= 20);
    assert_int_equal(idx_sparse_doc_count(s), n);
    compare_paths(s, 500, 30);
    idx_sparse_close(s);
    assert_int_equal(idx_sparse_build_from_store(spill, &cfg, 1, 150000, NULL), IDX_OK);
    for (int i = 0; i < 2; i++) {
        const char *qq = i ? "w1 w2" : "w7 w30 w100";
        char *r1 = results(one, qq, 50), *r2 = results(spill, qq, 50);
        assert_string_equal(r1, r2);
        free(r1);
        free(r2);
    }
    free(spill);
    assert_int_equal(idx_sparse_open(seg, IDX_FILE_VERIFY, &s), IDX_OK);
    assert_int_equal(idx_sparse_segment_count(s), 3);
    compare_paths(s, 500, 40);
    idx_sparse_close(s);
    const char *qs[] = {"w1 w2", "w7 w30 w100", "w3", "w250 w5 w5"};
    for (int i = 0; i < 4; i++) {
        char *r1 = results(one, qs[i], 50), *r2 = results(seg, qs[i], 50);
        assert_string_equal(r1, r2);
        free(r1);
        free(r2);
    }
    /* delete every third document */
    const char *ids[300];
    char idbuf[300][16];
    size_t nd = 0;
    for (size_t i = 0; i < n; i += 3) {
        snprintf(idbuf[nd], 16, "d%zu", i);
        ids[nd] = idbuf[nd];
        nd++;
    }
    ids[nd++] = "no-such-id";
    uint64_t del, missing;
    assert_int_equal(idx_sparse_delete(seg, ids, nd, &del, &missing), IDX_OK);
    assert_int_equal(del, nd - 1);
    assert_int_equal(missing, 1);
    assert_int_equal(idx_sparse_delete(seg, ids, 3, &del, &missing), IDX_OK); /* again: nothing new */
    assert_int_equal(del, 0);
    assert_int_equal(missing, 3);
    assert_int_equal(idx_sparse_open(seg, IDX_FILE_VERIFY, &s), IDX_OK);
    assert_int_equal(idx_sparse_live_count(s), n - (nd - 1));
    compare_paths(s, 500, 40);
    idx_sparse_close(s);
    for (int i = 0; i < 4; i++) {
        /* same scores as before, minus the deleted documents */
        char *r1 = results(one, qs[i], 100), *r2 = results(seg, qs[i], 100);
        idx_buf want = {0};
        for (char *save = NULL, *l = strtok_r(r1, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            if (atoi(l + 1) % 3 == 0) continue;
            idx_buf_printf(&want, "%s\n", l);
        }
        assert_true(strncmp(want.data ? want.data : "", r2, want.len) == 0);
        idx_buf_free(&want);
        free(r1);
        free(r2);
    }
    /* merge == fresh build of the remaining documents */
    assert_int_equal(idx_sparse_merge(seg, NULL), IDX_OK);
    FILE *f = fopen(rest, "w");
    assert_non_null(f);
    fclose(f);
    {
        char **kept = calloc(n, sizeof *kept);
        size_t nk = 0;
        FILE *g = fopen(rest, "w");
        for (size_t i = 0; i < n; i++) {
            if (i % 3 == 0) continue;
            kept[nk++] = texts[i];
            fprintf(g, "{\"_id\":\"d%zu\",\"title\":\"\",\"text\":\"%s\"}\n", i, texts[i]);
        }
        fclose(g);
        free(kept);
    }
    const char *pr[] = {rest};
    assert_int_equal(idx_sparse_build_from_corpus(fresh, pr, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
    assert_int_equal(idx_sparse_open(seg, IDX_FILE_VERIFY, &s), IDX_OK);
    assert_int_equal(idx_sparse_segment_count(s), 1);
    assert_int_equal(idx_sparse_doc_count(s), n - (nd - 1));
    idx_sparse_close(s);
    for (int i = 0; i < 4; i++) {
        char *r1 = results(fresh, qs[i], 50), *r2 = results(seg, qs[i], 50);
        assert_string_equal(r1, r2);
        free(r1);
        free(r2);
    }
    /* --into: a sparse part over an existing document store */
    assert_int_equal(idx_sparse_build_from_store(fresh, &cfg, 0, 0, NULL), IDX_ERR_EXISTS);
    assert_int_equal(idx_sparse_build_from_store(fresh, &cfg, 1, 0, NULL), IDX_OK);
    char *r = results(fresh, "w1 w2", 10);
    assert_true(strlen(r) > 0);
    free(r);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    t_sh("rm -rf %s", dir);
    free(dir); free(all); free(a); free(b); free(c); free(rest); free(one); free(seg); free(fresh);
}

static void test_corrupt_segment(void **state) {
    (void)state;
    size_t n = 300;
    char **texts = gen_docs(n, 200, 0);
    char *dir = t_tmpdir(), *corpus = t_path(dir, "c.jsonl"), *index = t_path(dir, "index");
    write_corpus(corpus, NULL, (const char *const *)texts, n, 0);
    idx_text_config cfg = plain_cfg();
    const char *paths[] = {corpus};
    assert_int_equal(idx_sparse_build_from_corpus(index, paths, 1, NULL, &cfg, 0, 0, NULL), IDX_OK);
    char *segp = t_path(index, "sparse/seg-0000.sps");
    idx_buf orig = {0};
    assert_int_equal(idx_read_file(segp, 0, &orig), IDX_OK);
    idx_sparse_segment *sg;
    assert_int_equal(idx_sparse_segment_open(segp, IDX_FILE_VERIFY, &sg), IDX_OK);
    assert_int_equal(idx_sparse_segment_verify(sg), IDX_OK);
    idx_sparse_segment_close(sg);
    /* truncations */
    for (size_t len = 0; len < orig.len; len += 1 + len / 3) {
        t_write(segp, orig.data, len);
        assert_int_not_equal(idx_sparse_segment_open(segp, 0, &sg), IDX_OK);
    }
    /* flipped bytes: verifying open always refuses; a non-verifying open either
     * refuses or yields a segment that searches and verifies without crashing */
    size_t refused = 0, step = orig.len / 1500 + 1;
    for (size_t i = 0; i < orig.len; i += step) {
        orig.data[i] ^= 0x5a;
        t_write(segp, orig.data, orig.len);
        if (idx_sparse_segment_open(segp, IDX_FILE_VERIFY, &sg) == IDX_OK) fail_msg("flip at %zu not found", i);
        idx_sparse *s;
        if (idx_sparse_open(index, 0, &s) == IDX_OK) {
            idx_sparse_searcher *q;
            assert_int_equal(idx_sparse_searcher_new(s, &q), IDX_OK);
            idx_sparse_params p;
            idx_sparse_params_default(&p);
            idx_sparse_hit hits[10];
            size_t nh;
            const char *qs[] = {"w1 w2 w3", "w0", "w5 w17 w40 w2"};
            for (int k = 0; k < 3; k++) {
                idx_sparse_search(q, qs[k], strlen(qs[k]), &p, hits, &nh, NULL);
                for (size_t j = 0; j < nh; j++) assert_true(hits[j].doc < n);
            }
            idx_sparse_searcher_free(q);
            idx_sparse_close(s);
        } else {
            refused++;
        }
        orig.data[i] ^= 0x5a;
    }
    assert_true(refused > 0);
    /* a damaged segments.json and a missing segment are clear errors */
    t_write(segp, orig.data, orig.len);
    char *sj = t_path(index, "sparse/segments.json");
    t_writes(sj, "{\"format\":\"idx-sparse-segments\",\"version\":1,");
    idx_sparse *s;
    assert_int_equal(idx_sparse_open(index, 0, &s), IDX_ERR_CORRUPT);
    assert_non_null(strstr(idx_errmsg(), "segments.json"));
    t_sh("rm -rf %s/sparse", index);
    assert_int_equal(idx_sparse_open(index, 0, &s), IDX_ERR_NOT_FOUND);
    idx_buf_free(&orig);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    t_sh("rm -rf %s", dir);
    free(dir); free(corpus); free(index); free(segp); free(sj);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bm25_formula), cmocka_unit_test(test_skip_equals_exhaustive),
                                       cmocka_unit_test(test_segments_deletes_merge),
                                       cmocka_unit_test(test_corrupt_segment)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
