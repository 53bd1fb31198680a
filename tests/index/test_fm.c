/*
 * test_fm.c -- the FM-index against a naive scan on generated corpora: every
 * byte value 0x00..0xFE in documents and all 256 in queries, empty documents,
 * long runs of one byte, many tiny documents, one huge document; counts,
 * find + locate (every occurrence), the cursor, and documents returned byte
 * for byte; several shards (built in parallel) agree with one shard, across
 * suffix-array sample rates, in all three layouts (compact, fast, sdsl); and the
 * CLI end to end.
 */
#include "fm_naive.h"

static uint64_t seed = 0x9E3779B97F4A7C15ULL;

typedef struct {
    char *dir, *input;
} fixture;

static fixture fx_new(const naive_corpus *c) {
    fixture f;
    f.dir = t_tmpdir();
    f.input = t_path(f.dir, "corpus");
    nc_write_dir(c, f.input);
    return f;
}

static void fx_free(fixture *f) {
    t_sh("rm -rf '%s'", f->dir);
    free(f->dir);
    free(f->input);
}

/* Builds with (shard_size, sample, threads) and runs the pattern checks. */
static void check_build(const naive_corpus *c, fixture *f, uint64_t shard_size, uint32_t sample, int threads,
                        unsigned char **pats, size_t *plens, size_t npats, size_t max_occ, size_t want_min_shards) {
    char *ix = t_path(f->dir, "index");
    idx_err e = nc_build(ix, f->input, shard_size, sample, threads);
    if (e != IDX_OK) fail_msg("build failed: %s", idx_errmsg());
    idx_fm *fm;
    assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_OK);
    assert_true(idx_fm_shard_count(fm) >= want_min_shards);
    assert_int_equal(idx_fm_total_bytes(fm), c->total);
    assert_int_equal(idx_fm_doc_count(fm), c->n);
    for (size_t i = 0; i < npats; i++) nc_check_pattern(c, fm, pats[i], plens[i], max_occ);
    for (size_t i = 0; i < npats && i < 40; i++) nc_check_cursor(c, fm, pats[i], plens[i]);
    idx_fm_close(fm);
    assert_int_equal(idx_index_verify(ix, 1), IDX_OK);
    nc_check_docs(c, ix);
    free(ix);
}

typedef struct {
    unsigned char **p;
    size_t *len;
    size_t n, cap;
} patset;

static void ps_add(patset *s, const void *p, size_t len) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->p = realloc(s->p, s->cap * sizeof *s->p);
        s->len = realloc(s->len, s->cap * sizeof *s->len);
    }
    s->p[s->n] = malloc(len ? len : 1);
    if (len) memcpy(s->p[s->n], p, len);
    s->len[s->n++] = len;
}

static void ps_free(patset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->p[i]);
    free(s->p);
    free(s->len);
}

/* Random substrings of documents (present) and their mutations (mostly absent). */
static void ps_substrings(patset *s, const naive_corpus *c, size_t k, size_t maxlen) {
    for (size_t i = 0; i < k; i++) {
        size_t d = rnd(&seed) % c->n;
        if (c->len[d] == 0) continue;
        size_t off = rnd(&seed) % c->len[d];
        size_t len = 1 + rnd(&seed) % maxlen;
        if (len > c->len[d] - off) len = c->len[d] - off;
        ps_add(s, c->text[d] + off, len);
        unsigned char tmp[512];
        if (len <= sizeof tmp) {
            memcpy(tmp, c->text[d] + off, len);
            tmp[rnd(&seed) % len] ^= (unsigned char)(1 + rnd(&seed) % 254);
            ps_add(s, tmp, len);
        }
    }
}

static void ps_all_bytes(patset *s) {
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        ps_add(s, &c, 1);
    }
    ps_add(s, "", 0);
}

static void test_all_byte_values(void **state) {
    (void)state;
    naive_corpus c = {0};
    unsigned char buf[600];
    for (int d = 0; d < 160; d++) {
        size_t len = d % 10 == 0 ? 0 : rnd(&seed) % 500;
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(rnd(&seed) % 255); /* 0x00..0xFE */
        nc_add(&c, buf, len);
    }
    /* make sure every value 0x00..0xFE occurs */
    for (int b = 0; b < 255; b++) buf[b] = (unsigned char)b;
    nc_add(&c, buf, 255);
    patset ps = {0};
    ps_all_bytes(&ps);
    ps_substrings(&ps, &c, 300, 60);
    unsigned char two[2];
    const unsigned char sym[] = {0x00, 0x01, 0x09, 0x7F, 0x80, 0xC3, 0xFE, 0xFF};
    for (size_t i = 0; i < sizeof sym; i++)
        for (size_t j = 0; j < sizeof sym; j++) {
            two[0] = sym[i];
            two[1] = sym[j];
            ps_add(&ps, two, 2);
        }
    unsigned char *big = calloc(c.total + 10, 1); /* longer than the corpus */
    ps_add(&ps, big, c.total + 10);
    free(big);
    fixture f = fx_new(&c);
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 100000, 1);
    nc_layout = IDX_FM_LAYOUT_FAST;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 100000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 100000, 1);
    nc_layout = IDX_FM_LAYOUT_SDSL;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 100000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 100000, 1);
    nc_layout = IDX_FM_LAYOUT_COMPACT;
    check_build(&c, &f, 3000, 7, 2, ps.p, ps.len, ps.n, 100000, 10);
    check_build(&c, &f, 1000, 1, 3, ps.p, ps.len, ps.n, 100000, 30);
    fx_free(&f);
    ps_free(&ps);
    nc_free(&c);
}

static void test_small_alphabet_many_occurrences(void **state) {
    (void)state;
    naive_corpus c = {0};
    unsigned char buf[400];
    for (int d = 0; d < 120; d++) {
        size_t len = rnd(&seed) % 300;
        for (size_t i = 0; i < len; i++) buf[i] = "ab"[rnd(&seed) % 2];
        nc_add(&c, buf, len);
    }
    patset ps = {0};
    ps_all_bytes(&ps);
    ps_substrings(&ps, &c, 200, 30);
    fixture f = fx_new(&c);
    check_build(&c, &f, 0, 16, 1, ps.p, ps.len, ps.n, 40000, 1);
    nc_layout = IDX_FM_LAYOUT_FAST;
    check_build(&c, &f, 0, 16, 1, ps.p, ps.len, ps.n, 40000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 40000, 1);
    nc_layout = IDX_FM_LAYOUT_SDSL;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 40000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 40000, 1);
    nc_layout = IDX_FM_LAYOUT_COMPACT;
    check_build(&c, &f, 2500, 64, 2, ps.p, ps.len, ps.n, 40000, 5);
    fx_free(&f);
    ps_free(&ps);
    nc_free(&c);
}

static void test_long_runs(void **state) {
    (void)state;
    naive_corpus c = {0};
    size_t big = 20000;
    unsigned char *buf = malloc(big + 10);
    memset(buf, 'a', big);
    nc_add(&c, buf, big);
    memset(buf, 0, 5000);
    nc_add(&c, buf, 5000);
    memset(buf, 0xFE, 3000);
    nc_add(&c, buf, 3000);
    for (size_t i = 0; i < 4000; i++) buf[i] = i % 2 ? 'b' : 'a';
    nc_add(&c, buf, 4000);
    memset(buf, 'a', 999);
    buf[999] = 'b';
    nc_add(&c, buf, 1000);
    nc_add(&c, "", 0);
    patset ps = {0};
    ps_all_bytes(&ps);
    unsigned char q[300];
    const unsigned char runs[] = {'a', 0x00, 0xFE, 'b'};
    for (size_t r = 0; r < sizeof runs; r++)
        for (size_t len = 1; len <= 300; len += (len < 20 ? 1 : 37)) {
            memset(q, runs[r], len);
            ps_add(&ps, q, len);
            q[len - 1] = 'b';
            ps_add(&ps, q, len);
        }
    for (size_t len = 2; len <= 200; len += 13) {
        for (size_t i = 0; i < len; i++) q[i] = i % 2 ? 'b' : 'a';
        ps_add(&ps, q, len);
    }
    fixture f = fx_new(&c);
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 25000, 1);
    nc_layout = IDX_FM_LAYOUT_FAST;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 25000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 25000, 1);
    nc_layout = IDX_FM_LAYOUT_SDSL;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 25000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 25000, 1);
    nc_layout = IDX_FM_LAYOUT_COMPACT;
    check_build(&c, &f, 6000, 5, 2, ps.p, ps.len, ps.n, 25000, 4);
    fx_free(&f);
    ps_free(&ps);
    nc_free(&c);
    free(buf);
}

static void test_many_tiny_documents(void **state) {
    (void)state;
    naive_corpus c = {0};
    for (int d = 0; d < 3000; d++) {
        unsigned char buf[3];
        size_t len = rnd(&seed) % 4;
        for (size_t i = 0; i < len; i++) buf[i] = "xyz"[rnd(&seed) % 3];
        nc_add(&c, buf, len);
    }
    patset ps = {0};
    ps_all_bytes(&ps);
    for (int len = 1; len <= 4; len++) {
        int total = 1;
        for (int i = 0; i < len; i++) total *= 3;
        for (int k = 0; k < total; k++) {
            unsigned char q[4];
            int v = k;
            for (int i = 0; i < len; i++, v /= 3) q[i] = "xyz"[v % 3];
            ps_add(&ps, q, (size_t)len);
        }
    }
    fixture f = fx_new(&c);
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 10000, 1);
    nc_layout = IDX_FM_LAYOUT_FAST;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 10000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 10000, 1);
    nc_layout = IDX_FM_LAYOUT_SDSL;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 10000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 10000, 1);
    nc_layout = IDX_FM_LAYOUT_COMPACT;
    check_build(&c, &f, 250, 3, 2, ps.p, ps.len, ps.n, 10000, 20);
    fx_free(&f);
    ps_free(&ps);
    nc_free(&c);
}

static void test_one_huge_document(void **state) {
    (void)state;
    naive_corpus c = {0};
    size_t n = 400000;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = "ACGT\n"[rnd(&seed) % 5];
    nc_add(&c, buf, n);
    patset ps = {0};
    ps_all_bytes(&ps);
    ps_substrings(&ps, &c, 150, 100);
    fixture f = fx_new(&c);
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 5000, 1);
    nc_layout = IDX_FM_LAYOUT_FAST;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 5000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 5000, 1);
    nc_layout = IDX_FM_LAYOUT_SDSL;
    check_build(&c, &f, 0, 32, 2, ps.p, ps.len, ps.n, 5000, 1);
    check_build(&c, &f, 1500, 9, 2, ps.p, ps.len, ps.n, 5000, 1);
    nc_layout = IDX_FM_LAYOUT_COMPACT;
    /* A document larger than the shard size gets a shard of its own. */
    check_build(&c, &f, 1000, 32, 2, ps.p, ps.len, ps.n, 5000, 1);
    fx_free(&f);
    ps_free(&ps);
    nc_free(&c);
    free(buf);
}

/* The CLI end to end: build, count (argument, --file with --json, --hex), find, show, inspect, verify. */
static void test_cli(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    const char *I = t_idx_bin();
    char *in = t_path(dir, "c.jsonl");
    t_writes(in, "{\"_id\":\"d1\",\"text\":\"the cat sat\\u0000 on the mat\",\"title\":\"one\",\"year\":2020}\n"
                 "{\"_id\":\"d2\",\"text\":\"a cat\\tand a hat\"}\n"
                 "{\"_id\":\"d3\",\"text\":\"\"}\n");
    assert_int_equal(t_sh("cd '%s' && '%s' build -q -o ix c.jsonl", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && test \"$('%s' count ix cat)\" = 2", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && test \"$('%s' count ix '')\" = 38", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && test \"$('%s' count --hex ix 00)\" = 1", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && test \"$('%s' count --hex ix ff)\" = 0", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && printf 'at\\nthe\\n\\nzzz\\n' | '%s' count --json --file - ix > out.jsonl", dir, I), 0);
    char *out = t_path(dir, "out.jsonl");
    idx_buf b = {0};
    assert_int_equal(idx_read_file(out, 0, &b), IDX_OK);
    assert_string_equal(b.data, "{\"query\":\"at\",\"count\":5}\n{\"query\":\"the\",\"count\":2}\n"
                                "{\"query\":\"\",\"count\":38}\n{\"query\":\"zzz\",\"count\":0}\n");
    idx_buf_free(&b);
    assert_int_equal(t_sh("cd '%s' && '%s' find --json --context 3 ix cat > find.jsonl", dir, I), 0);
    char *fo = t_path(dir, "find.jsonl");
    assert_int_equal(idx_read_file(fo, 0, &b), IDX_OK);
    assert_non_null(strstr(b.data, "\"doc\":0,\"id\":\"d1\",\"offset\":4,\"context_offset\":1,\"context\":\"he cat sa\""));
    assert_non_null(strstr(b.data, "\"doc\":1,\"id\":\"d2\",\"offset\":2"));
    assert_non_null(strstr(b.data, "\"year\":2020"));
    idx_buf_free(&b);
    assert_int_equal(t_sh("cd '%s' && '%s' show ix d1 > d1.out && printf 'the cat sat\\000 on the mat' | cmp - d1.out", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && '%s' show ix 1 > d2.out && printf 'a cat\\tand a hat' | cmp - d2.out", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && '%s' show --number ix 2 | cmp - /dev/null", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && '%s' show ix nosuch 2>/dev/null", dir, I), 1);
    assert_int_equal(t_sh("cd '%s' && '%s' inspect ix | grep -q 'corpus bytes 38'", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && '%s' verify --deep ix >/dev/null", dir, I), 0);
    assert_int_equal(t_sh("cd '%s' && '%s' count ix 2>/dev/null", dir, I), 2);
    assert_int_equal(t_sh("cd '%s' && '%s' build -q -o ix c.jsonl 2>/dev/null", dir, I), 1); /* exists */
    assert_int_equal(t_sh("cd '%s' && '%s' build -q --force -o ix c.jsonl", dir, I), 0);
    free(out);
    free(fo);
    free(in);
    t_sh("rm -rf '%s'", dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_byte_values),   cmocka_unit_test(test_small_alphabet_many_occurrences),
        cmocka_unit_test(test_long_runs),         cmocka_unit_test(test_many_tiny_documents),
        cmocka_unit_test(test_one_huge_document), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
