/*
 * test_ngram.c -- n-gram statistics checked against naive substring scans:
 * counts and P(next | prompt) of the in-memory source, every field of the
 * infinity-gram walk (byte and character units, max_suffix, exclude_self),
 * and the next-unit distribution. Corpus: generated words (with multi-byte
 * UTF-8) in documents separated by 0xFF, so that patterns repeat a lot.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_ngram.h"

static const char *const vocab[] = {"the", "cat", "sat", "on", "mat", "héllo", "日本", "naïve", "a",
                                    "dog", "ran", "to", "über", "x", "café", "and", "then", "🙂"};
#define NV (sizeof vocab / sizeof vocab[0])

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void gen_text(idx_buf *b, size_t words) {
    for (size_t i = 0; i < words; i++) {
        if (i) assert_int_equal(idx_buf_append(b, rnd(7) ? " " : "\n", 1), IDX_OK);
        const char *w = vocab[rnd(NV)];
        assert_int_equal(idx_buf_append(b, w, strlen(w)), IDX_OK);
    }
}

static idx_buf corpus;

static void make_corpus(void) {
    if (corpus.len) return;
    for (int d = 0; d < 120; d++) {
        if (d) assert_int_equal(idx_buf_append(&corpus, "\xff", 1), IDX_OK);
        gen_text(&corpus, 20 + rnd(60));
    }
}

/* Naive: occurrences of p[0..n) in hay[0..hn) (overlapping); n = 0 gives the
 * byte count without separators. */
static uint64_t naive_count(const char *hay, size_t hn, const char *p, size_t n) {
    if (n == 0) {
        uint64_t c = 0;
        for (size_t i = 0; i < hn; i++) c += (unsigned char)hay[i] != 0xFF;
        return c;
    }
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

static void test_counts(void **st) {
    (void)st;
    make_corpus();
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(corpus.data, corpus.len, &s), IDX_OK);
    assert_int_equal(idx_ngram_src_total(s), naive_count(corpus.data, corpus.len, "", 0));
    for (int i = 0; i < 2000; i++) {
        size_t a = rnd((unsigned)corpus.len), n = 1 + rnd(30);
        if (a + n > corpus.len) n = corpus.len - a;
        if (i % 3 == 0) { /* sometimes a pattern that does not occur */
            char tmp[64];
            memcpy(tmp, corpus.data + a, n);
            tmp[rnd((unsigned)n)] = 'Q';
            uint64_t c;
            assert_int_equal(idx_ngram_count(s, tmp, n, &c), IDX_OK);
            assert_int_equal(c, naive_count(corpus.data, corpus.len, tmp, n));
            continue;
        }
        uint64_t c;
        assert_int_equal(idx_ngram_count(s, corpus.data + a, n, &c), IDX_OK);
        assert_int_equal(c, naive_count(corpus.data, corpus.len, corpus.data + a, n));
    }
    /* prob */
    const char *prompts[] = {"the cat", "héllo ", "日", "", "zzz"};
    const char *nexts[] = {" sat", "日本", "本", "a", "x"};
    for (int i = 0; i < 5; i++) {
        uint64_t cp, cf;
        double p;
        assert_int_equal(idx_ngram_prob(s, prompts[i], strlen(prompts[i]), nexts[i], strlen(nexts[i]), &cp, &cf, &p), IDX_OK);
        char full[64];
        snprintf(full, sizeof full, "%s%s", prompts[i], nexts[i]);
        assert_int_equal(cp, naive_count(corpus.data, corpus.len, prompts[i], strlen(prompts[i])));
        assert_int_equal(cf, naive_count(corpus.data, corpus.len, full, strlen(full)));
        if (cp) assert_true(fabs(p - (double)cf / (double)cp) < 1e-12);
        else assert_true(p == -1.0);
    }
    /* locate: the occurrence found really is there */
    idx_ngram_cursor *c;
    assert_int_equal(idx_ngram_cursor_new(s, &c), IDX_OK);
    const char *pat = "cat sat";
    for (size_t i = strlen(pat); i-- > 0;) assert_int_equal(idx_ngram_cursor_prepend(c, (unsigned char)pat[i], NULL), IDX_OK);
    if (idx_ngram_cursor_count(c) > 0) {
        uint64_t doc, off;
        assert_int_equal(idx_ngram_cursor_locate(c, &doc, &off), IDX_OK);
        const char *p = corpus.data;
        for (uint64_t d = 0; d < doc; d++) p = memchr(p, 0xFF, corpus.len - (size_t)(p - corpus.data)) + 1;
        assert_memory_equal(p + off, pat, strlen(pat));
    }
    idx_ngram_cursor_free(c);
    idx_ngram_src_free(s);
}

/* Naive infinity-gram for one unit; compares every field. */
static void check_unit(const char *hay, size_t hn, const char *self, size_t sn, const char *t,
                       const unsigned char *is_start, size_t j, size_t ulen, size_t maxs,
                       const idx_ngram_unit *u) {
#define CNT(p, n) (naive_count(hay, hn, (p), (n)) - (self ? (naive_count(self, sn, (p), (n)) < naive_count(hay, hn, (p), (n)) ? naive_count(self, sn, (p), (n)) : naive_count(hay, hn, (p), (n))) : 0))
    uint64_t total = CNT("", 0);
    size_t kmax = maxs && maxs < j ? maxs : j, n = 0;
    for (size_t k = 1; k <= kmax && CNT(t + j - k, k) > 0; k++)
        if (is_start[j - k]) n = k;
    assert_int_equal(u->offset, j);
    assert_int_equal(u->len, ulen);
    assert_int_equal(u->suffix_len, n);
    assert_int_equal(u->suffix_count, n ? CNT(t + j - n, n) : total);
    assert_int_equal(u->next_count, CNT(t + j - n, n + ulen));
    size_t k = n;
    while (k > 0 && (!is_start[j - k] || CNT(t + j - k, k + ulen) == 0)) k--;
    assert_int_equal(u->backoff_len, k);
    uint64_t nc = CNT(t + j - k, k + ulen), sc = k ? CNT(t + j - k, k) : total;
    assert_int_equal(u->backoff_next_count, nc);
    if (nc == 0) {
        assert_true(u->unseen);
        assert_true(fabs(u->nll - log((double)total + 1.0)) < 1e-9);
    } else {
        assert_false(u->unseen);
        assert_true(fabs(u->nll + log((double)nc / (double)sc)) < 1e-9);
    }
#undef CNT
}

static size_t st_long, st_unseen, st_backoff; /* how many units exercised each path */

static void run_infgram(const char *hay, size_t hn, const char *t, size_t tn, idx_ngram_unit_kind kind,
                        size_t maxs, int exclude) {
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(hay, hn, &s), IDX_OK);
    idx_ngram_opts o = {kind, maxs, exclude};
    idx_ngram_unit *u;
    size_t nu;
    double mean;
    assert_int_equal(idx_ngram_infgram(s, t, tn, &o, &u, &nu, &mean), IDX_OK);
    unsigned char *is_start = calloc(tn + 1, 1);
    size_t cnt = 0;
    for (size_t i = 0; i < tn;) {
        is_start[i] = 1;
        i += kind == IDX_NGRAM_UNIT_BYTE ? 1 : idx_utf8_charlen((const unsigned char *)t + i, tn - i);
        cnt++;
    }
    is_start[tn] = 1;
    assert_int_equal(nu, cnt);
    double sum = 0;
    for (size_t i = 0; i < nu; i++) {
        size_t j = u[i].offset, l = 1;
        while (!is_start[j + l]) l++;
        check_unit(hay, hn, exclude ? t : NULL, tn, t, is_start, j, l, maxs, &u[i]);
        st_long += u[i].suffix_len >= 10;
        st_unseen += u[i].unseen;
        st_backoff += u[i].backoff_len < u[i].suffix_len;
        sum += u[i].nll;
    }
    assert_true(fabs(mean - sum / (double)nu) < 1e-9);
    free(is_start);
    free(u);
    idx_ngram_src_free(s);
}

static void test_infgram(void **st) {
    (void)st;
    make_corpus();
    /* a text mixing a stretch of the corpus, fresh words and unseen characters */
    idx_buf t = {0};
    size_t a = corpus.len / 3;
    while (((unsigned char)corpus.data[a] & 0xC0) == 0x80) a++;
    size_t e = a + 60;
    while (((unsigned char)corpus.data[e] & 0xC0) == 0x80) e++;
    assert_int_equal(idx_buf_append(&t, corpus.data + a, e - a), IDX_OK);
    assert_int_equal(idx_buf_append(&t, " ZZ ∑ ", strlen(" ZZ ∑ ")), IDX_OK);
    gen_text(&t, 12);
    run_infgram(corpus.data, corpus.len, t.data, t.len, IDX_NGRAM_UNIT_CHAR, 0, 0);
    run_infgram(corpus.data, corpus.len, t.data, t.len, IDX_NGRAM_UNIT_BYTE, 0, 0);
    run_infgram(corpus.data, corpus.len, t.data, t.len, IDX_NGRAM_UNIT_CHAR, 7, 0);
    run_infgram(corpus.data, corpus.len, t.data, t.len, IDX_NGRAM_UNIT_BYTE, 3, 0);
    assert_true(st_long > 10 && st_unseen > 0 && st_backoff > 0); /* every path was taken */
    /* exclude_self: the text is one document of the corpus */
    idx_buf c2 = {0};
    assert_int_equal(idx_buf_append(&c2, corpus.data, corpus.len / 2), IDX_OK);
    assert_int_equal(idx_buf_append(&c2, "\xff", 1), IDX_OK);
    assert_int_equal(idx_buf_append(&c2, t.data, t.len), IDX_OK);
    run_infgram(c2.data, c2.len, t.data, t.len, IDX_NGRAM_UNIT_CHAR, 0, 1);
    run_infgram(c2.data, c2.len, t.data, t.len, IDX_NGRAM_UNIT_BYTE, 5, 1);
    /* without exclusion the text predicts itself almost perfectly */
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(c2.data, c2.len, &s), IDX_OK);
    idx_ngram_opts o = {IDX_NGRAM_UNIT_CHAR, 0, 0};
    idx_ngram_unit *u;
    size_t nu;
    double m_in, m_ex;
    assert_int_equal(idx_ngram_infgram(s, t.data, t.len, &o, &u, &nu, &m_in), IDX_OK);
    free(u);
    o.exclude_self = 1;
    assert_int_equal(idx_ngram_infgram(s, t.data, t.len, &o, &u, &nu, &m_ex), IDX_OK);
    free(u);
    assert_true(m_in < m_ex);
    /* empty text */
    assert_int_equal(idx_ngram_infgram(s, "", 0, &o, &u, &nu, &m_in), IDX_OK);
    assert_int_equal(nu, 0);
    idx_ngram_src_free(s);
    idx_buf_free(&c2);
    idx_buf_free(&t);
}

static void test_next_units(void **st) {
    (void)st;
    make_corpus();
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(corpus.data, corpus.len, &s), IDX_OK);
    const char *prefixes[] = {"the ", "h", "", "日", "x\n", "nothing here"};
    for (int pi = 0; pi < 6; pi++) {
        for (int kind = 0; kind < 2; kind++) {
            const char *p = prefixes[pi];
            size_t pl = strlen(p);
            idx_ngram_next *out;
            size_t n;
            uint64_t pc, tn;
            assert_int_equal(idx_ngram_next_units(s, p, pl, (idx_ngram_unit_kind)kind, 0, &out, &n, &pc, &tn), IDX_OK);
            assert_int_equal(pc, naive_count(corpus.data, corpus.len, p, pl));
            /* naive tally of the unit after every occurrence */
            uint64_t sum = 0;
            size_t distinct = 0;
            for (size_t i = 0; i + pl < corpus.len; i++) {
                if (memcmp(corpus.data + i, p, pl) != 0) continue;
                if (memchr(corpus.data + i, 0xFF, pl)) continue;
                const unsigned char *q = (const unsigned char *)corpus.data + i + pl;
                if (*q == 0xFF) continue;
                size_t l = kind ? idx_utf8_charlen(q, corpus.len - i - pl) : 1;
                /* expected count of this unit */
                char full[64];
                memcpy(full, p, pl);
                memcpy(full + pl, q, l);
                uint64_t want = naive_count(corpus.data, corpus.len, full, pl + l);
                int found = 0;
                for (size_t k = 0; k < n; k++)
                    if (out[k].len == l && memcmp(out[k].bytes, q, l) == 0) {
                        assert_int_equal(out[k].count, want);
                        found = 1;
                    }
                assert_true(found);
                sum++;
            }
            for (size_t k = 0; k < n; k++) {
                if (k) assert_true(out[k - 1].count >= out[k].count);
                distinct++;
            }
            uint64_t s2 = 0;
            for (size_t k = 0; k < n; k++) s2 += out[k].count;
            assert_int_equal(s2, sum);
            assert_int_equal(tn, sum);
            (void)distinct;
            free(out);
            /* top_k */
            assert_int_equal(idx_ngram_next_units(s, p, pl, (idx_ngram_unit_kind)kind, 2, &out, &n, &pc, &tn), IDX_OK);
            assert_true(n <= 2);
            free(out);
        }
    }
    idx_ngram_src_free(s);
}

/* The CLI on a real FM-index built from the generated corpus: infgram and
 * ngrams equal the in-memory model; usage errors exit 2, a missing index 1. */
static void test_cli(void **st) {
    (void)st;
    make_corpus();
    char *dir = t_tmpdir();
    char *cj = t_path(dir, "c.jsonl"), *ix = t_path(dir, "ix"), *out = t_path(dir, "out.json"),
         *tf = t_path(dir, "text.txt");
    FILE *f = fopen(cj, "wb");
    assert_non_null(f);
    const char *d = corpus.data, *end = corpus.data + corpus.len;
    for (;;) {
        const char *sep = memchr(d, 0xFF, (size_t)(end - d));
        size_t n = sep ? (size_t)(sep - d) : (size_t)(end - d);
        json_t *o = json_pack("{s:s%}", "text", d, n);
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
        if (!sep) break;
        d = sep + 1;
    }
    fclose(f);
    assert_int_equal(t_sh("'%s' build -q -o '%s' --shard-size 4K '%s'", t_idx_bin(), ix, cj), 0);
    /* the text: the last document of the corpus, so exclude_self is exact */
    const char *last = corpus.data + corpus.len;
    while (last > corpus.data && (unsigned char)last[-1] != 0xFF) last--;
    size_t tl = (size_t)(corpus.data + corpus.len - last);
    t_write(tf, last, tl);
    idx_ngram_src *s;
    assert_int_equal(idx_ngram_src_memory(corpus.data, corpus.len, &s), IDX_OK);
    for (int kind = 0; kind < 2; kind++) {
        assert_int_equal(t_sh("'%s' infgram --json --exclude-self --unit %s '%s' --file '%s' > '%s'", t_idx_bin(),
                              kind ? "char" : "byte", ix, tf, out), 0);
        json_t *rep = json_load_file(out, 0, NULL);
        assert_non_null(rep);
        idx_ngram_opts o = {(idx_ngram_unit_kind)kind, 0, 1};
        idx_ngram_unit *u;
        size_t nu;
        double mean;
        assert_int_equal(idx_ngram_infgram(s, last, tl, &o, &u, &nu, &mean), IDX_OK);
        json_t *pu = json_object_get(rep, "per_unit");
        assert_int_equal(json_array_size(pu), nu);
        for (size_t i = 0; i < nu; i++) {
            json_t *x = json_array_get(pu, i);
            assert_int_equal(json_integer_value(json_object_get(x, "suffix_len")), u[i].suffix_len);
            assert_int_equal(json_integer_value(json_object_get(x, "count_suffix")), (json_int_t)u[i].suffix_count);
            assert_int_equal(json_integer_value(json_object_get(x, "count_next")), (json_int_t)u[i].next_count);
            assert_int_equal(json_integer_value(json_object_get(x, "backoff_len")), u[i].backoff_len);
        }
        assert_true(fabs(json_real_value(json_object_get(rep, "mean_nll")) - mean) < 1e-6);
        free(u);
        json_decref(rep);
    }
    assert_int_equal(t_sh("'%s' ngrams --json -k 0 --unit char '%s' 'the ' > '%s'", t_idx_bin(), ix, out), 0);
    json_t *rep = json_load_file(out, 0, NULL);
    assert_non_null(rep);
    idx_ngram_next *nx;
    size_t n;
    uint64_t pc, tn;
    assert_int_equal(idx_ngram_next_units(s, "the ", 4, IDX_NGRAM_UNIT_CHAR, 0, &nx, &n, &pc, &tn), IDX_OK);
    assert_int_equal(json_integer_value(json_object_get(rep, "count_prefix")), (json_int_t)pc);
    json_t *arr = json_object_get(rep, "next");
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, i), "count")), (json_int_t)nx[i].count);
    free(nx);
    json_decref(rep);
    idx_ngram_src_free(s);
    assert_int_equal(t_sh("'%s' prob -e '%s' 'cat\\n' 'x' > /dev/null", t_idx_bin(), ix), 0);
    assert_int_equal(t_sh("'%s' prob '%s' onlyone 2>/dev/null", t_idx_bin(), ix), 2);
    assert_int_equal(t_sh("'%s' infgram --unit word '%s' x 2>/dev/null", t_idx_bin(), ix), 2);
    assert_int_equal(t_sh("'%s' ngrams -k -1 '%s' x 2>/dev/null", t_idx_bin(), ix), 2);
    assert_int_equal(t_sh("'%s' ngrams '%s/missing' x 2>/dev/null", t_idx_bin(), dir), 1);
    assert_int_equal(t_sh("'%s' infgram '%s' --file '%s/missing' 2>/dev/null", t_idx_bin(), ix, dir), 1);
    t_sh("rm -rf '%s'", dir);
    free(cj), free(ix), free(out), free(tf), free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_infgram),
        cmocka_unit_test(test_next_units),
        cmocka_unit_test(test_cli),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    idx_buf_free(&corpus);
    return r;
}
