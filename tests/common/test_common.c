/*
 * test_common.c -- the section file format (round trip, every flipped byte
 * found, truncation, newer versions), the corpus readers (JSONL, gzip, zstd,
 * plain files, directories, every malformed-input case with file:line), the
 * manifest and atomic directory publication.
 */
#include "../idx_test.h"

static void test_file_roundtrip_and_flips(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    char *p = t_path(dir, "x.bin");
    idx_file_writer *w;
    assert_int_equal(idx_file_create(p, "IDXTEST1", 2, &w), IDX_OK);
    assert_int_equal(idx_file_put_section(w, "alpha", "hello", 5), IDX_OK);
    uint64_t nums[3] = {1, 2, 3};
    assert_int_equal(idx_file_put_section(w, "nums", nums, sizeof nums), IDX_OK);
    assert_int_equal(idx_file_put_section(w, "empty", "", 0), IDX_OK);
    assert_int_equal(idx_file_commit(w), IDX_OK);

    idx_file *f;
    assert_int_equal(idx_file_open(p, "IDXTEST1", 2, IDX_FILE_VERIFY, &f), IDX_OK);
    const void *d;
    uint64_t n;
    assert_int_equal(idx_file_section(f, "alpha", &d, &n), IDX_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    assert_int_equal((uintptr_t)d % 64, 0);
    assert_int_equal(idx_file_section(f, "nums", &d, &n), IDX_OK);
    assert_int_equal(((const uint64_t *)d)[2], 3);
    assert_int_equal(idx_file_section(f, "missing", &d, &n), IDX_ERR_CORRUPT);
    uint64_t size = idx_file_size(f);
    idx_file_close(f);

    /* wrong magic, too-new version */
    assert_int_equal(idx_file_open(p, "IDXOTHER", 2, 0, &f), IDX_ERR_CORRUPT);
    assert_int_equal(idx_file_open(p, "IDXTEST1", 1, 0, &f), IDX_ERR_VERSION);
    assert_non_null(strstr(idx_errmsg(), "version 2"));

    /* every single flipped byte is found by a verifying open */
    idx_buf orig = {0};
    assert_int_equal(idx_read_file(p, 0, &orig), IDX_OK);
    assert_int_equal(orig.len, size);
    for (size_t i = 0; i < orig.len; i++) {
        orig.data[i] ^= 0x5A;
        t_write(p, orig.data, orig.len);
        idx_err e = idx_file_open(p, "IDXTEST1", 2, IDX_FILE_VERIFY, &f);
        if (e == IDX_OK) {
            idx_file_close(f);
            fail_msg("flipped byte %zu not detected", i);
        }
        assert_true(e == IDX_ERR_CORRUPT || e == IDX_ERR_VERSION);
        orig.data[i] ^= 0x5A;
    }
    /* every truncation is found */
    for (size_t len = 0; len < orig.len; len += 7) {
        t_write(p, orig.data, len);
        assert_int_equal(idx_file_open(p, "IDXTEST1", 2, 0, &f), IDX_ERR_CORRUPT);
    }
    idx_buf_free(&orig);
    assert_int_equal(idx_file_open("/nonexistent/file", "IDXTEST1", 2, 0, &f), IDX_ERR_NOT_FOUND);
    idx_rmtree(dir);
    free(p);
    free(dir);
}

static void test_file_abort_leaves_nothing(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    char *p = t_path(dir, "x.bin");
    idx_file_writer *w;
    assert_int_equal(idx_file_create(p, "IDXTEST1", 1, &w), IDX_OK);
    assert_int_equal(idx_file_put_section(w, "a", "abc", 3), IDX_OK);
    idx_file_abort(w);
    assert_int_not_equal(access(p, F_OK), 0);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_int_not_equal(access(tmp, F_OK), 0);
    idx_rmtree(dir);
    free(p);
    free(dir);
}

typedef struct {
    char text[256], id[64], title[64], meta[256];
    size_t len;
    uint64_t line;
} got_doc;

/* Reads all documents of one input; returns the error of the first failure. */
static idx_err read_all(const char *path, const idx_corpus_opts *o, got_doc *out, size_t max, size_t *n,
                        idx_corpus_stats *st) {
    idx_corpus *c;
    const char *paths[1] = {path};
    idx_err e = idx_corpus_open(paths, 1, o, &c);
    if (e) return e;
    *n = 0;
    for (;;) {
        idx_doc d;
        int got;
        e = idx_corpus_next(c, &d, &got);
        if (e || !got) break;
        if (*n < max) {
            got_doc *g = &out[*n];
            memset(g, 0, sizeof *g);
            g->len = d.text_len < sizeof g->text ? d.text_len : sizeof g->text - 1;
            memcpy(g->text, d.text, g->len);
            snprintf(g->id, sizeof g->id, "%s", d.id);
            snprintf(g->title, sizeof g->title, "%s", d.title);
            snprintf(g->meta, sizeof g->meta, "%.*s", (int)d.meta_len, d.meta_json);
            g->line = d.line;
        }
        (*n)++;
    }
    if (st) idx_corpus_get_stats(c, st);
    idx_corpus_close(c);
    return e;
}

static void test_corpus_jsonl(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    char *p = t_path(dir, "c.jsonl");
    t_writes(p, "{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"hello world\",\"year\":2020}\n"
                "\n"
                "{\"id\":7,\"text\":\"nul\\u0000inside\"}\n"
                "{\"text\":\"\"}\n"
                "{\"text\":\"caf\\u00e9 \\ud83d\\ude00\"}");
    got_doc g[8];
    size_t n;
    idx_corpus_stats st;
    assert_int_equal(read_all(p, NULL, g, 8, &n, &st), IDX_OK);
    assert_int_equal(n, 4);
    assert_string_equal(g[0].text, "hello world");
    assert_string_equal(g[0].id, "d1");
    assert_string_equal(g[0].title, "T");
    assert_string_equal(g[0].meta, "{\"_id\":\"d1\",\"title\":\"T\",\"year\":2020}");
    assert_int_equal(g[0].line, 1);
    assert_int_equal(g[1].len, 10);
    assert_memory_equal(g[1].text, "nul\0inside", 10);
    assert_string_equal(g[1].id, "7");
    assert_int_equal(g[1].line, 3);
    assert_int_equal(g[2].len, 0);
    assert_non_null(strstr(g[2].id, "c.jsonl:4"));
    assert_string_equal(g[3].text, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_int_equal(st.docs, 4);
    assert_int_equal(st.skipped, 0);

    /* custom text field */
    t_writes(p, "{\"body\":\"abc\",\"text\":1}\n");
    idx_corpus_opts o = {.text_field = "body"};
    assert_int_equal(read_all(p, &o, g, 8, &n, NULL), IDX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(g[0].text, "abc");
    assert_string_equal(g[0].meta, "{\"text\":1}");
    idx_rmtree(dir);
    free(p);
    free(dir);
}

static void expect_parse_error(const char *dir, const char *content, const char *needle, int skip_ok_docs) {
    char *p = t_path(dir, "bad.jsonl");
    t_writes(p, content);
    got_doc g[8];
    size_t n;
    idx_err e = read_all(p, NULL, g, 8, &n, NULL);
    assert_int_equal(e, IDX_ERR_PARSE);
    if (!strstr(idx_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", idx_errmsg(), needle);
    idx_corpus_opts o = {.skip_bad = 1};
    idx_corpus_stats st;
    assert_int_equal(read_all(p, &o, g, 8, &n, &st), IDX_OK);
    assert_int_equal(n, (size_t)skip_ok_docs);
    assert_int_equal(st.skipped, 1);
    free(p);
}

static void test_corpus_malformed(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    expect_parse_error(dir, "{\"text\":\"a\"}\n{\"text\": oops}\n{\"text\":\"b\"}\n", "bad.jsonl:2", 2);
    expect_parse_error(dir, "{\"text\":\"a\"}\n{\"body\":\"x\"}\n", "missing text field 'text'", 1);
    expect_parse_error(dir, "{\"text\":5}\n{\"text\":\"ok\"}\n", "not a string", 1);
    expect_parse_error(dir, "[1,2]\n", "not a JSON object", 0);
    expect_parse_error(dir, "{\"text\":\"a\"}\n{\"text\":\"\xff\"}\n", "bad.jsonl:2", 1); /* invalid UTF-8 JSON */
    /* 0xFF in a plain file */
    char *p = t_path(dir, "ff.txt");
    t_write(p, "ab\xff" "cd", 5);
    got_doc g[2];
    size_t n;
    assert_int_equal(read_all(p, NULL, g, 2, &n, NULL), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "0xFF"));
    free(p);
    /* binary junk that is not JSON */
    p = t_path(dir, "junk.jsonl");
    unsigned char junk[300];
    for (int i = 0; i < 300; i++) junk[i] = (unsigned char)(i * 37 + 11);
    t_write(p, junk, sizeof junk);
    assert_int_equal(read_all(p, NULL, g, 2, &n, NULL), IDX_ERR_PARSE);
    free(p);
    idx_rmtree(dir);
    free(dir);
}

static void test_corpus_compressed_and_dirs(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    char *sub = t_path(dir, "tree");
    assert_int_equal(idx_mkdirs(sub), IDX_OK);
    char *a = t_path(sub, "a.txt"), *b = t_path(sub, "b.jsonl");
    t_writes(a, "plain text file\n");
    t_writes(b, "{\"text\":\"one\"}\n{\"text\":\"two\"}\n");
    assert_int_equal(t_sh("gzip -k %s && zstd -q -k %s", b, b), 0);
    got_doc g[8];
    size_t n;
    char *gz = t_path(sub, "b.jsonl.gz"), *zs = t_path(sub, "b.jsonl.zst");
    assert_int_equal(read_all(gz, NULL, g, 8, &n, NULL), IDX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(g[1].text, "two");
    assert_int_equal(read_all(zs, NULL, g, 8, &n, NULL), IDX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].text, "one");
    /* directory: a.txt, b.jsonl, b.jsonl.gz, b.jsonl.zst in sorted order */
    assert_int_equal(read_all(sub, NULL, g, 8, &n, NULL), IDX_OK);
    assert_int_equal(n, 7);
    assert_string_equal(g[0].text, "plain text file\n");
    assert_string_equal(g[0].id, "a.txt");
    assert_string_equal(g[0].meta, "{\"path\":\"a.txt\"}");
    /* truncated compressed files */
    assert_int_equal(t_sh("head -c 20 %s > %s/t.jsonl.gz && head -c 12 %s > %s/t.jsonl.zst", gz, dir, zs, dir), 0);
    char *tgz = t_path(dir, "t.jsonl.gz"), *tzs = t_path(dir, "t.jsonl.zst");
    assert_int_equal(read_all(tgz, NULL, g, 8, &n, NULL), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "gzip"));
    assert_int_equal(read_all(tzs, NULL, g, 8, &n, NULL), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "zstd"));
    /* missing input */
    assert_int_equal(read_all("/nonexistent/x.jsonl", NULL, g, 8, &n, NULL), IDX_ERR_IO);
    idx_rmtree(dir);
    free(sub); free(a); free(b); free(gz); free(zs); free(tgz); free(tzs);
    free(dir);
}

static void test_manifest_publish(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    char *target = t_path(dir, "index");
    char *tmp;
    assert_int_equal(idx_dir_make_tmp(target, &tmp), IDX_OK);
    json_t *m = idx_manifest_new();
    json_object_set_new(json_object_get(m, "parts"), "docs", json_pack("{s:i}", "version", 1));
    assert_int_equal(idx_manifest_save(tmp, m), IDX_OK);
    json_decref(m);
    assert_int_equal(idx_manifest_load(target, &m), IDX_ERR_NOT_FOUND);
    assert_int_equal(idx_dir_publish(tmp, target, 0), IDX_OK);
    assert_int_equal(idx_manifest_load(target, &m), IDX_OK);
    assert_non_null(idx_manifest_part(m, "docs"));
    assert_null(idx_manifest_part(m, "fm"));
    json_decref(m);
    /* publishing over an existing directory needs replace */
    char *tmp2;
    assert_int_equal(idx_dir_make_tmp(target, &tmp2), IDX_OK);
    assert_int_equal(idx_dir_publish(tmp2, target, 0), IDX_ERR_EXISTS);
    assert_int_equal(idx_dir_publish(tmp2, target, 1), IDX_OK);
    assert_int_equal(idx_manifest_load(target, &m), IDX_ERR_NOT_FOUND);
    /* corrupt and newer manifests */
    char *mp = t_path(target, "manifest.json");
    t_writes(mp, "{\"format\":\"idx-index\",\"version\":99,\"parts\":{}}");
    assert_int_equal(idx_manifest_load(target, &m), IDX_ERR_VERSION);
    t_writes(mp, "{\"format\":");
    assert_int_equal(idx_manifest_load(target, &m), IDX_ERR_CORRUPT);
    idx_rmtree(dir);
    free(mp); free(tmp); free(tmp2); free(target); free(dir);
}

static void test_utf8(void **state) {
    (void)state;
    assert_true(idx_utf8_valid("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12));
    assert_false(idx_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(idx_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(idx_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(idx_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(idx_utf8_valid("\xff", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_roundtrip_and_flips), cmocka_unit_test(test_file_abort_leaves_nothing),
        cmocka_unit_test(test_corpus_jsonl),           cmocka_unit_test(test_corpus_malformed),
        cmocka_unit_test(test_corpus_compressed_and_dirs), cmocka_unit_test(test_manifest_publish),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
