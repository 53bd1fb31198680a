/*
 * test_contam.c -- the contamination check: window rule on hand-made texts;
 * scores and longest spans against naive substring scans; a real corpus
 * (SciFact abstracts) with GSM8K questions planted whole, edited and in part,
 * where exactly the planted ones must come out dirty/suspicious as their
 * overlap dictates -- through the in-memory source and through a real FM-index
 * built and queried with the idx binary; the three benchmark files of
 * shared/data/bench parse; malformed benchmark files fail with file:line.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_ngram.h"

/* shared/data: next to the source tree (IDX_SHARED_DATA), or two levels up
 * when the source tree is a worktree under /work/wt/NAME. */
static const char *shared_data(void) {
    static char buf[4096];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "%s", IDX_SHARED_DATA);
        if (access(buf, R_OK) != 0) snprintf(buf, sizeof buf, "%s/../../shared/data", IDX_SOURCE_DIR);
    }
    return buf;
}

static char *data_path(const char *rel) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", shared_data(), rel);
    return buf[k];
}

static uint64_t naive_count(const char *hay, size_t hn, const char *p, size_t n) {
    if (memchr(p, 0xFF, n)) return 0;
    uint64_t c = 0;
    const char *s = hay, *end = hay + hn;
    while ((size_t)(end - s) >= n) {
        const char *f = memmem(s, (size_t)(end - s), p, n);
        if (!f) break;
        c++;
        s = f + 1;
    }
    return c;
}

static void expect_windows(const char *t, const size_t *seg, size_t nseg, size_t W, const size_t *want, size_t nwant) {
    size_t *st, *en, n;
    assert_int_equal(idx_contam_windows(t, strlen(t), seg, nseg, W, &st, &en, &n), IDX_OK);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(st[i], want[2 * i]);
        assert_int_equal(en[i], want[2 * i + 1]);
    }
    free(st);
    free(en);
}

static void test_windows(void **state) {
    (void)state;
    size_t w1[] = {0, 5};
    expect_windows("ab cd", NULL, 0, 10, w1, 1);
    size_t w2[] = {2, 12, 8, 18};
    expect_windows("  hello world again  ", NULL, 0, 10, w2, 2);
    size_t w3[] = {0, 5, 3, 8, 6, 11, 9, 14, 12, 17};
    expect_windows("é é é é é é", NULL, 0, 3, w3, 5);
    size_t seg[] = {7, 11};
    size_t w4[] = {0, 5, 8, 11};
    expect_windows("aaa bbb\nccc", seg, 2, 5, w4, 2);
    expect_windows(" \n\t ", NULL, 0, 5, NULL, 0);
    size_t w5[] = {1, 4};
    expect_windows(" abc ", NULL, 0, 50, w5, 1);
    /* exactly one window long */
    size_t w6[] = {0, 5};
    expect_windows("ab cd", NULL, 0, 5, w6, 1);
}

/* ---------------------------------------------------------------- corpora */

static idx_buf corpus;      /* SciFact abstracts + planted docs, 0xFF separated */
static size_t ndocs;
static idx_contam_set *gsm; /* GSM8K test */

static void add_doc(const char *t, size_t n) {
    if (ndocs) assert_int_equal(idx_buf_append(&corpus, "\xff", 1), IDX_OK);
    assert_int_equal(idx_buf_append(&corpus, t, n), IDX_OK);
    ndocs++;
}

/* Naive score of a text against the corpus. */
static double naive_score(const char *t, size_t n, size_t *nwin) {
    size_t *st, *en, k;
    assert_int_equal(idx_contam_windows(t, n, NULL, 0, 50, &st, &en, &k), IDX_OK);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) m += naive_count(corpus.data, corpus.len, t + st[i], en[i] - st[i]) > 0;
    free(st);
    free(en);
    *nwin = k;
    return k ? (double)m / (double)k : 0;
}

/* Naive longest matching substring (whole characters). */
static size_t naive_span(const char *t, size_t n) {
    size_t best = 0;
    for (size_t s = 0; s < n; s++) {
        if (((unsigned char)t[s] & 0xC0) == 0x80) continue;
        size_t l = best + 1;
        while (s + l <= n && naive_count(corpus.data, corpus.len, t + s, l) > 0) {
            if (s + l == n || ((unsigned char)t[s + l] & 0xC0) != 0x80) best = l;
            l++;
        }
    }
    return best;
}

enum { PLAIN = 0, WHOLE = 1, EDITED = 2, PARTIAL = 3 };
#define NENTRIES 240
static int kind[NENTRIES];
static uint64_t planted_doc[NENTRIES];

static int setup(void **state) {
    (void)state;
    const char *sci = data_path("beir/scifact/corpus.jsonl");
    const char *gp = data_path("bench/gsm8k/test.jsonl");
    if (access(sci, R_OK) != 0 || access(gp, R_OK) != 0) return 0;
    assert_int_equal(idx_contam_set_new(&gsm), IDX_OK);
    assert_int_equal(idx_contam_read_path(gsm, gp, NULL), IDX_OK);
    idx_buf b = {0};
    assert_int_equal(idx_read_file(sci, 0, &b), IDX_OK);
    /* the first 800 abstracts */
    size_t p = 0;
    json_t *abstracts[800];
    size_t na = 0;
    while (p < b.len && na < 800) {
        char *nl = memchr(b.data + p, '\n', b.len - p);
        size_t e = nl ? (size_t)(nl - b.data) : b.len;
        json_t *o = json_loadb(b.data + p, e - p, 0, NULL);
        assert_non_null(o);
        abstracts[na++] = o;
        p = e + 1;
    }
    for (size_t i = 0; i < na; i++) {
        json_t *tx = json_object_get(abstracts[i], "text");
        add_doc(json_string_value(tx), json_string_length(tx));
    }
    /* plant: entries 10.. every 12th whole, 14.. edited, 18.. partial */
    for (size_t i = 0; i < NENTRIES; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(gsm, i);
        int k = PLAIN;
        if (i % 12 == 10) k = WHOLE;
        else if (i % 12 == 2 && en->len >= 150) k = EDITED;
        else if (i % 12 == 6 && en->len >= 150) k = PARTIAL;
        kind[i] = k;
        if (k == PLAIN) continue;
        idx_buf d = {0};
        json_t *host = json_object_get(abstracts[i % na], "text");
        size_t hl = json_string_length(host) / 2;
        const char *h = json_string_value(host);
        while (hl < json_string_length(host) && h[hl] != ' ') hl++;
        assert_int_equal(idx_buf_append(&d, h, hl), IDX_OK);
        assert_int_equal(idx_buf_append(&d, " ", 1), IDX_OK);
        if (k == WHOLE) {
            assert_int_equal(idx_buf_append(&d, en->text, en->len), IDX_OK);
        } else if (k == EDITED) { /* one word in the middle replaced */
            size_t m = en->len / 2;
            while (m < en->len && en->text[m] != ' ') m++;
            size_t m2 = m + 1;
            while (m2 < en->len && en->text[m2] != ' ') m2++;
            assert_int_equal(idx_buf_append(&d, en->text, m + 1), IDX_OK);
            assert_int_equal(idx_buf_append(&d, "Zwxq", 4), IDX_OK);
            assert_int_equal(idx_buf_append(&d, en->text + m2, en->len - m2), IDX_OK);
        } else { /* the first 60% */
            size_t m = en->len * 6 / 10;
            while (m < en->len && en->text[m] != ' ') m++;
            assert_int_equal(idx_buf_append(&d, en->text, m), IDX_OK);
        }
        assert_int_equal(idx_buf_append(&d, " ", 1), IDX_OK);
        assert_int_equal(idx_buf_append(&d, h + hl, json_string_length(host) - hl), IDX_OK);
        planted_doc[i] = ndocs;
        add_doc(d.data, d.len);
        idx_buf_free(&d);
    }
    for (size_t i = 0; i < na; i++) json_decref(abstracts[i]);
    idx_buf_free(&b);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    idx_buf_free(&corpus);
    idx_contam_set_free(gsm);
    return 0;
}

static void require_data(void) {
    if (!gsm) {
        printf("SKIP: SciFact or GSM8K absent under %s\n", shared_data());
        skip();
    }
}

/* Expected class from the construction, cross-checked with the naive score. */
static idx_contam_class expected_class(size_t i, double naive) {
    idx_contam_class want = naive >= 0.8 ? IDX_CONTAM_DIRTY : naive >= 0.2 ? IDX_CONTAM_SUSPICIOUS : IDX_CONTAM_CLEAN;
    if (kind[i] == WHOLE) assert_true(want == IDX_CONTAM_DIRTY);
    if (kind[i] == PARTIAL || kind[i] == EDITED) assert_true(want != IDX_CONTAM_CLEAN && naive < 1.0);
    if (kind[i] == PARTIAL) assert_true(want == IDX_CONTAM_SUSPICIOUS);
    if (kind[i] == PLAIN) assert_true(want == IDX_CONTAM_CLEAN);
    return want;
}

static void test_planted_memory(void **state) {
    (void)state;
    require_data();
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(corpus.data, corpus.len, &s), IDX_OK);
    idx_ngram_cursor *cur;
    assert_int_equal(idx_ngram_cursor_new(s, &cur), IDX_OK);
    size_t flagged = 0, planted = 0;
    for (size_t i = 0; i < NENTRIES; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(gsm, i);
        idx_contam_result r;
        idx_contam_opts o;
        idx_contam_opts_default(&o);
        o.span_all = 1;
        o.max_span = 100000;
        assert_int_equal(idx_contam_score(cur, en->text, en->len, en->seg_end, en->nseg, &o, &r), IDX_OK);
        size_t nw;
        double ns = naive_score(en->text, en->len, &nw);
        assert_int_equal(r.windows, nw);
        assert_true(fabs(r.score - ns) < 1e-12);
        assert_int_equal(r.cls, expected_class(i, ns));
        flagged += r.cls != IDX_CONTAM_CLEAN;
        planted += kind[i] != PLAIN;
        if (i < 60 || kind[i] != PLAIN) /* the span: naive check on a sample (it is slow) */
            assert_int_equal(r.span_len, naive_span(en->text, en->len));
        if (kind[i] == WHOLE) {
            assert_int_equal(r.span_len, en->len);
            assert_true(r.span_found);
            assert_int_equal(r.span_doc, planted_doc[i]);
        }
        if (r.span_found) { /* the located document really holds the span */
            const char *d = corpus.data;
            for (uint64_t k = 0; k < r.span_doc; k++) d = (const char *)memchr(d, 0xFF, corpus.len) + 1;
            assert_memory_equal(d + r.span_doc_off, en->text + r.span_off, r.span_len);
        }
    }
    assert_int_equal(flagged, planted);
    assert_true(planted >= 40);
    idx_ngram_cursor_free(cur);
    idx_ngram_src_free(s);
}

/* The same through a real FM-index: idx build + idx contam --json. */
static void test_planted_cli(void **state) {
    (void)state;
    require_data();
    char *dir = t_tmpdir();
    char *cj = t_path(dir, "corpus.jsonl"), *ix = t_path(dir, "ix"), *bj = t_path(dir, "gsm.jsonl"),
         *out = t_path(dir, "out.json");
    FILE *f = fopen(cj, "wb");
    assert_non_null(f);
    const char *d = corpus.data, *end = corpus.data + corpus.len;
    size_t k = 0;
    while (d <= end) {
        const char *sep = memchr(d, 0xFF, (size_t)(end - d));
        size_t n = sep ? (size_t)(sep - d) : (size_t)(end - d);
        json_t *o = json_pack("{s:s%,s:I}", "text", d, n, "id", (json_int_t)k++);
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
        if (!sep) break;
        d = sep + 1;
    }
    fclose(f);
    f = fopen(bj, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < NENTRIES; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(gsm, i);
        json_t *o = json_pack("{s:s%,s:I}", "question", en->text, en->len, "id", (json_int_t)i);
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    fclose(f);
    assert_int_equal(t_sh("'%s' build -q -o '%s' --shard-size 600K '%s'", t_idx_bin(), ix, cj), 0);
    assert_int_equal(t_sh("'%s' contam -q --json --threads 2 '%s' '%s' > '%s'", t_idx_bin(), ix, bj, out), 0);
    json_error_t err;
    json_t *rep = json_load_file(out, 0, &err);
    assert_non_null(rep);
    json_t *ents = json_object_get(rep, "entries");
    assert_int_equal(json_array_size(ents), NENTRIES);
    for (size_t i = 0; i < NENTRIES; i++) {
        json_t *e = json_array_get(ents, i);
        const idx_contam_entry *en = idx_contam_set_entry(gsm, i);
        size_t nw;
        double ns = naive_score(en->text, en->len, &nw);
        idx_contam_class want = expected_class(i, ns);
        assert_string_equal(json_string_value(json_object_get(e, "class")), idx_contam_class_name(want));
        assert_int_equal(json_integer_value(json_object_get(e, "windows")), (json_int_t)nw);
        assert_true(fabs(json_real_value(json_object_get(e, "score")) - ns) < 1e-9);
        if (kind[i] == WHOLE) {
            json_t *sp = json_object_get(e, "longest_span");
            char idbuf[32];
            snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)planted_doc[i]);
            assert_string_equal(json_string_value(json_object_get(sp, "doc")), idbuf);
        }
    }
    json_t *sum = json_array_get(json_object_get(rep, "summary"), 0);
    assert_int_equal(json_integer_value(json_object_get(sum, "entries")), NENTRIES);
    json_decref(rep);
    /* prob / ngrams through the CLI against naive counts */
    assert_int_equal(t_sh("'%s' prob --json '%s' 'the cell' 's' > '%s'", t_idx_bin(), ix, out), 0);
    rep = json_load_file(out, 0, &err);
    assert_non_null(rep);
    assert_int_equal(json_integer_value(json_object_get(rep, "count_prompt")), (json_int_t)naive_count(corpus.data, corpus.len, "the cell", 8));
    assert_int_equal(json_integer_value(json_object_get(rep, "count_full")), (json_int_t)naive_count(corpus.data, corpus.len, "the cells", 9));
    json_decref(rep);
    assert_int_equal(t_sh("'%s' ngrams --json -k 0 '%s' 'protein ' > '%s'", t_idx_bin(), ix, out), 0);
    rep = json_load_file(out, 0, &err);
    assert_non_null(rep);
    json_t *nx = json_object_get(rep, "next");
    assert_true(json_array_size(nx) > 3);
    for (size_t i = 0; i < json_array_size(nx); i++) {
        json_t *u = json_array_get(nx, i);
        char pat[64];
        snprintf(pat, sizeof pat, "protein %s", json_string_value(json_object_get(u, "unit")));
        assert_int_equal(json_integer_value(json_object_get(u, "count")), (json_int_t)naive_count(corpus.data, corpus.len, pat, strlen(pat)));
    }
    json_decref(rep);
    /* infgram through the FM-index equals the in-memory model */
    const char *txt = "Here we show that the protein binds to DNA in vivo.";
    assert_int_equal(t_sh("'%s' infgram --json '%s' '%s' > '%s'", t_idx_bin(), ix, txt, out), 0);
    rep = json_load_file(out, 0, &err);
    assert_non_null(rep);
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(corpus.data, corpus.len, &s), IDX_OK);
    idx_ngram_unit *u;
    size_t nu;
    double mean;
    assert_int_equal(idx_ngram_infgram(s, txt, strlen(txt), NULL, &u, &nu, &mean), IDX_OK);
    json_t *pu = json_object_get(rep, "per_unit");
    assert_int_equal(json_array_size(pu), nu);
    for (size_t i = 0; i < nu; i++) {
        json_t *x = json_array_get(pu, i);
        assert_int_equal(json_integer_value(json_object_get(x, "suffix_len")), u[i].suffix_len);
        assert_int_equal(json_integer_value(json_object_get(x, "count_next")), (json_int_t)u[i].next_count);
        assert_int_equal(json_integer_value(json_object_get(x, "backoff_len")), u[i].backoff_len);
    }
    assert_true(fabs(json_real_value(json_object_get(rep, "mean_nll")) - mean) < 1e-6);
    free(u);
    idx_ngram_src_free(s);
    json_decref(rep);
    /* bad input: an index that does not load, a benchmark that does not parse */
    assert_int_equal(t_sh("'%s' contam -q '%s/nope' '%s' 2>/dev/null", t_idx_bin(), dir, bj), 1);
    t_writes(bj, "{\"question\": \"fine\"}\n{\"question\": broken}\n");
    assert_int_equal(t_sh("'%s' contam -q '%s' '%s' 2> '%s'", t_idx_bin(), ix, bj, out), 1);
    idx_buf msg = {0};
    assert_int_equal(idx_read_file(out, 0, &msg), IDX_OK);
    assert_non_null(strstr(msg.data, "gsm.jsonl:2: invalid JSON"));
    idx_buf_free(&msg);
    assert_int_equal(t_sh("'%s' contam -q --skip-bad --csv '%s' '%s' > '%s'", t_idx_bin(), ix, bj, out), 0);
    assert_int_equal(idx_read_file(out, 0, &msg), IDX_OK);
    assert_non_null(strstr(msg.data, "invalid JSON"));
    idx_buf_free(&msg);
    assert_int_equal(t_sh("'%s' contam '%s' 2>/dev/null", t_idx_bin(), ix), 2);
    t_sh("rm -rf '%s'", dir);
    free(cj), free(ix), free(bj), free(out), free(dir);
}

/* ---------------------------------------------------------------- readers */

static void test_bench_files(void **state) {
    (void)state;
    const char *root = data_path("bench");
    if (access(root, R_OK) != 0) {
        printf("SKIP: %s absent\n", root);
        skip();
    }
    idx_contam_set *set;
    assert_int_equal(idx_contam_set_new(&set), IDX_OK);
    assert_int_equal(idx_contam_read_path(set, root, NULL), IDX_OK);
    size_t n = idx_contam_set_count(set), g = 0, h = 0, m = 0, subjects = 0;
    const char *last = "";
    for (size_t i = 0; i < n; i++) {
        const idx_contam_entry *e = idx_contam_set_entry(set, i);
        assert_null(e->skip);
        assert_true(e->len > 0 && e->nseg == 1);
        if (strcmp(e->benchmark, "gsm8k") == 0) {
            g++;
            assert_string_equal(e->split, "test");
        } else if (strcmp(e->benchmark, "HumanEval") == 0) {
            if (h == 0) {
                assert_string_equal(e->id, "HumanEval/0");
                assert_non_null(strstr(e->text, "def has_close_elements"));
            }
            h++;
        } else if (strcmp(e->benchmark, "mmlu") == 0) {
            m++;
            assert_string_equal(e->split, "test");
            if (strcmp(e->subject, last) != 0) subjects++;
            last = e->subject;
            if (m == 1) {
                assert_string_equal(e->subject, "abstract_algebra");
                assert_string_equal(e->text, "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.");
                assert_int_equal(e->line, 2);
            }
        } else {
            fail_msg("unexpected benchmark %s", e->benchmark);
        }
    }
    assert_int_equal(g, 1319);
    assert_int_equal(h, 164);
    assert_int_equal(m, 14042);
    assert_int_equal(subjects, 57);
    idx_contam_set_free(set);
}

static idx_err parse(const char *name, const char *data, int skip_bad, size_t maxb, const char *field,
                     idx_contam_set **out) {
    assert_int_equal(idx_contam_set_new(out), IDX_OK);
    idx_contam_read_opts o = {0};
    o.skip_bad = skip_bad;
    o.max_entry_bytes = maxb;
    const char *f[1] = {field};
    if (field) {
        o.fields = f;
        o.nfields = 1;
    }
    return idx_contam_read_buffer(*out, name, data, strlen(data), IDX_CONTAM_FMT_AUTO, &o);
}

static void expect_fail(const char *name, const char *data, const char *field, size_t maxb, const char *msg) {
    idx_contam_set *s;
    idx_err e = parse(name, data, 0, maxb, field, &s);
    if (e != IDX_ERR_PARSE || !strstr(idx_errmsg(), msg))
        fail_msg("%s: want error containing \"%s\", got %d \"%s\"", name, msg, e, idx_errmsg());
    idx_contam_set_free(s);
    /* with skip_bad the same input parses and the bad entry is counted */
    e = parse(name, data, 1, maxb, field, &s);
    if (e == IDX_OK) {
        size_t skipped = 0;
        for (size_t i = 0; i < idx_contam_set_count(s); i++) skipped += idx_contam_set_entry(s, i)->skip != NULL;
        assert_true(skipped >= 1);
    } else {
        assert_true(strstr(idx_errmsg(), "header") != NULL || strstr(idx_errmsg(), "column") != NULL);
    }
    idx_contam_set_free(s);
}

static void test_malformed(void **state) {
    (void)state;
    expect_fail("b/test.jsonl", "{\"question\":\"ok\"}\n\n{\"question\": nope}\n", NULL, 0, "b/test.jsonl:3: invalid JSON");
    expect_fail("b/test.jsonl", "{\"foo\":1}\n", NULL, 0, "b/test.jsonl:1: none of the fields");
    expect_fail("b/test.jsonl", "{\"question\":\"q\"}\n", "answer", 0, "b/test.jsonl:1: missing field \"answer\"");
    expect_fail("b/test.jsonl", "{\"question\":\"ok\"}\n{\"question\":\" \\n \"}\n", NULL, 0, "b/test.jsonl:2: empty entry");
    expect_fail("b/test.jsonl", "{\"question\":\"a\xff\xfe\"}\n", NULL, 0, "b/test.jsonl:1: invalid JSON");
    expect_fail("b/test.jsonl", "{\"question\":7}\n", NULL, 0, "not a string");
    expect_fail("b/test.jsonl", "[3]\n", NULL, 0, "not a JSON object");
    expect_fail("b/test.jsonl", "{\"question\":\"0123456789abc\"}\n", NULL, 10, "b/test.jsonl:1: entry longer");
    expect_fail("m/test/x_test.csv", "question,a\nfine,1\n\"open,2\nmore\n", NULL, 0, "x_test.csv:3: unterminated");
    expect_fail("m/test/x_test.csv", "question,a\nfine,1\nab\"c,2\n", NULL, 0, "x_test.csv:3: quote inside");
    expect_fail("m/test/x_test.csv", "question,a\n\"a\"b,1\n", NULL, 0, "x_test.csv:2: text after a closing quote");
    expect_fail("m/test/x_test.csv", "question,a\nfine,1\n\n\"x\ny\",1\nonly\n", NULL, 0, "x_test.csv:6: 1 fields");
    expect_fail("m/test/x_test.csv", "question,a\n\xff\xfe,1\n", NULL, 0, "x_test.csv:2: entry is not valid UTF-8");
    expect_fail("m/test/x_test.csv", "question,a\n  ,1\n", NULL, 0, "x_test.csv:2: empty entry");
    expect_fail("m/test/x_test.csv", "question,a\nq,1\n", "nope", 0, "no column \"nope\"");
    /* good CSV: quotes, CRLF, multi-line fields, column choice by name and number */
    idx_contam_set *s;
    const char *csv = "id,question,answer\r\n7,\"Is \"\"this\"\" ok?\",1\r\n8,\"two\nlines\",0\r\n";
    assert_int_equal(parse("m/test/geo_test.csv", csv, 0, 0, NULL, &s), IDX_OK);
    assert_int_equal(idx_contam_set_count(s), 2);
    assert_string_equal(idx_contam_set_entry(s, 0)->text, "Is \"this\" ok?");
    assert_string_equal(idx_contam_set_entry(s, 0)->id, "7");
    assert_string_equal(idx_contam_set_entry(s, 0)->subject, "geo");
    assert_string_equal(idx_contam_set_entry(s, 0)->benchmark, "m");
    assert_string_equal(idx_contam_set_entry(s, 1)->text, "two\nlines");
    assert_int_equal(idx_contam_set_entry(s, 1)->line, 3);
    idx_contam_set_free(s);
    assert_int_equal(parse("x.csv", csv, 0, 0, "3", &s), IDX_OK);
    assert_string_equal(idx_contam_set_entry(s, 1)->text, "0");
    idx_contam_set_free(s);
    /* JSON path, several fields as segments, a JSON array file */
    assert_int_equal(idx_contam_set_new(&s), IDX_OK);
    idx_contam_read_opts o = {0};
    const char *fl[2] = {"q.text", "choices.1"};
    o.fields = fl;
    o.nfields = 2;
    const char *js = "[{\"q\":{\"text\":\"hello\"},\"choices\":[\"a\",\"bb\"]}]";
    assert_int_equal(idx_contam_read_buffer(s, "Bench.json", js, strlen(js), IDX_CONTAM_FMT_AUTO, &o), IDX_OK);
    const idx_contam_entry *e = idx_contam_set_entry(s, 0);
    assert_string_equal(e->text, "hello\nbb");
    assert_int_equal(e->nseg, 2);
    assert_int_equal(e->seg_end[0], 5);
    assert_int_equal(e->seg_end[1], 8);
    assert_string_equal(e->benchmark, "Bench");
    idx_contam_set_free(s);
    /* skipped entries are counted by idx_contam_run, not scored */
    assert_int_equal(parse("b/test.jsonl", "{\"question\":\"one two\"}\n{\"x\":1}\n", 1, 0, NULL, &s), IDX_OK);
    assert_int_equal(idx_contam_set_count(s), 2);
    idx_ngram_src *src;
    assert_int_equal(idx_ngram_src_memory("one two three", 13, &src), IDX_OK);
    idx_contam_result r[2];
    idx_contam_opts co;
    idx_contam_opts_default(&co);
    co.threads = 2;
    assert_int_equal(idx_contam_run(src, s, &co, r, NULL, NULL), IDX_OK);
    assert_false(r[0].skipped);
    assert_int_equal(r[0].cls, IDX_CONTAM_DIRTY);
    assert_true(r[1].skipped);
    idx_ngram_src_free(src);
    idx_contam_set_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bench_files),
        cmocka_unit_test(test_planted_memory),
        cmocka_unit_test(test_planted_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
