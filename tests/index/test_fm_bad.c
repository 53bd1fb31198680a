/*
 * test_fm_bad.c -- every bad input of issue 2 gives a clear error and no
 * crash or wrong answer: empty corpus, NUL / invalid UTF-8 (indexed exactly),
 * 0xFF in a document, malformed JSONL (file:line, --skip-bad), a missing text
 * field, truncated .zst/.gz, an index missing a file, with a flipped byte
 * (every byte of every file, found by verify --deep), truncated, or from a
 * newer format version; a failed or killed build leaves nothing that loads.
 */
#include <fcntl.h>
#include <signal.h>

#include "../idx_test_sections.h"
#include "fm_naive.h"

static char *g_dir;

static int setup(void **state) {
    (void)state;
    g_dir = t_tmpdir();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    t_sh("rm -rf '%s'", g_dir);
    free(g_dir);
    return 0;
}

static idx_err build1(const char *input, const char *out, int skip_bad, idx_index_build_stats *st) {
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.force = 1;
    o.corpus.skip_bad = skip_bad;
    const char *in[1] = {input};
    return idx_index_build(out, in, 1, &o, st);
}

static char *mk(const char *name, const void *data, size_t n) {
    char *p = t_path(g_dir, name);
    t_write(p, data, n);
    return p;
}

/* No directory named like the output or its temporaries remains. */
static void assert_nothing_left(const char *out) {
    assert_int_not_equal(access(out, F_OK), 0);
    assert_int_equal(t_sh("ls -a '%s' | grep -q '\\.tmp\\.'", g_dir), 1);
    idx_fm *fm = NULL;
    assert_int_not_equal(idx_fm_open(out, 0, &fm), IDX_OK);
}

static void test_empty_corpus(void **state) {
    (void)state;
    char *in = mk("empty.jsonl", "", 0);
    char *out = t_path(g_dir, "ix_empty");
    assert_int_equal(build1(in, out, 0, NULL), IDX_ERR_EMPTY);
    assert_non_null(strstr(idx_errmsg(), "no documents"));
    assert_nothing_left(out);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' 2>/dev/null", t_idx_bin(), out, in), 1);
    free(in);
    free(out);
}

static void test_nul_and_invalid_utf8_counted(void **state) {
    (void)state;
    char *d = t_path(g_dir, "raw");
    idx_mkdirs(d);
    char *f1 = t_path(d, "a.txt"), *f2 = t_path(d, "b.txt");
    t_write(f1, "x\0\0y\xC3(\x80\xFE", 8);
    t_write(f2, "\0", 1);
    char *out = t_path(g_dir, "ix_raw");
    idx_index_build_stats st;
    assert_int_equal(build1(d, out, 0, &st), IDX_OK);
    assert_int_equal(st.docs, 2);
    assert_true(st.invalid_utf8 >= 1);
    idx_fm *fm;
    assert_int_equal(idx_fm_open(out, 0, &fm), IDX_OK);
    uint64_t c;
    assert_int_equal(idx_fm_count(fm, "\0", 1, &c), IDX_OK);
    assert_int_equal(c, 3);
    assert_int_equal(idx_fm_count(fm, "\0\0y", 3, &c), IDX_OK);
    assert_int_equal(c, 1);
    assert_int_equal(idx_fm_count(fm, "\x80\xFE", 2, &c), IDX_OK);
    assert_int_equal(c, 1);
    assert_int_equal(idx_fm_count(fm, "\xFE\xFF", 2, &c), IDX_OK); /* never across documents */
    assert_int_equal(c, 0);
    assert_int_equal(idx_fm_count(fm, "\xFE\0", 2, &c), IDX_OK);
    assert_int_equal(c, 0);
    assert_int_equal(idx_fm_count(fm, "", 0, &c), IDX_OK);
    assert_int_equal(c, 9);
    char big[32] = {0};
    assert_int_equal(idx_fm_count(fm, big, sizeof big, &c), IDX_OK); /* longer than the corpus */
    assert_int_equal(c, 0);
    idx_fm_close(fm);
    free(f1);
    free(f2);
    free(d);
    free(out);
}

static void test_ff_byte(void **state) {
    (void)state;
    char *d = t_path(g_dir, "ff");
    idx_mkdirs(d);
    char *f1 = t_path(d, "a.txt"), *f2 = t_path(d, "b.txt");
    t_write(f1, "good text", 9);
    t_write(f2, "bad \xFF text", 10);
    char *out = t_path(g_dir, "ix_ff");
    assert_int_not_equal(build1(d, out, 0, NULL), IDX_OK);
    assert_non_null(strstr(idx_errmsg(), "b.txt"));
    assert_nothing_left(out);
    idx_index_build_stats st;
    assert_int_equal(build1(d, out, 1, &st), IDX_OK);
    assert_int_equal(st.docs, 1);
    assert_int_equal(st.skipped, 1);
    idx_fm *fm;
    assert_int_equal(idx_fm_open(out, 0, &fm), IDX_OK);
    uint64_t c;
    assert_int_equal(idx_fm_count(fm, "text", 4, &c), IDX_OK);
    assert_int_equal(c, 1);
    idx_fm_close(fm);
    free(f1);
    free(f2);
    free(d);
    free(out);
}

static void test_malformed_jsonl(void **state) {
    (void)state;
    const char *s = "{\"text\":\"one\"}\n{\"text\": \"two\"\n{\"text\":\"three\"}\n";
    char *in = mk("bad.jsonl", s, strlen(s));
    char *out = t_path(g_dir, "ix_badjson");
    assert_int_equal(build1(in, out, 0, NULL), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "bad.jsonl:2"));
    assert_nothing_left(out);
    assert_int_equal(t_sh("'%s' build -q -o '%s' '%s' 2>&1 | grep -q 'bad.jsonl:2'", t_idx_bin(), out, in), 0);
    idx_index_build_stats st;
    assert_int_equal(build1(in, out, 1, &st), IDX_OK);
    assert_int_equal(st.docs, 2);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(t_sh("test \"$('%s' count '%s' e)\" = 3", t_idx_bin(), out), 0);
    free(in);
    free(out);
}

static void test_missing_text_field(void **state) {
    (void)state;
    const char *s = "{\"text\":\"one\"}\n{\"body\":\"two\"}\n";
    char *in = mk("nofield.jsonl", s, strlen(s));
    char *out = t_path(g_dir, "ix_nofield");
    assert_int_not_equal(build1(in, out, 0, NULL), IDX_OK);
    assert_non_null(strstr(idx_errmsg(), "nofield.jsonl:2"));
    assert_nothing_left(out);
    free(in);
    free(out);
}

static void test_truncated_compressed(void **state) {
    (void)state;
    char *src = t_path(g_dir, "big.jsonl");
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    for (int i = 0; i < 3000; i++) fprintf(f, "{\"text\":\"document number %d with some words %d\"}\n", i, i * 7919);
    fclose(f);
    assert_int_equal(t_sh("cd '%s' && gzip -kf big.jsonl && zstd -qf big.jsonl -o big.jsonl.zst", g_dir), 0);
    assert_int_equal(t_sh("cd '%s' && head -c 3000 big.jsonl.gz > t.jsonl.gz && head -c 3000 big.jsonl.zst > t.jsonl.zst", g_dir), 0);
    char *out = t_path(g_dir, "ix_trunc");
    const char *names[] = {"t.jsonl.gz", "t.jsonl.zst"};
    for (int i = 0; i < 2; i++) {
        char *in = t_path(g_dir, names[i]);
        idx_err e = build1(in, out, 0, NULL);
        assert_int_not_equal(e, IDX_OK);
        assert_non_null(strstr(idx_errmsg(), names[i]));
        assert_nothing_left(out);
        free(in);
    }
    /* the complete files build and agree */
    char *gz = t_path(g_dir, "big.jsonl.gz");
    assert_int_equal(build1(gz, out, 0, NULL), IDX_OK);
    assert_int_equal(t_sh("test \"$('%s' count '%s' 'document number')\" = 3000", t_idx_bin(), out), 0);
    free(gz);
    free(src);
    free(out);
}

/* A small index for the damage tests. */
static idx_fm_layout g_layout = IDX_FM_LAYOUT_COMPACT;

static char *good_index(const char *name) {
    const char *s = "{\"_id\":\"a\",\"text\":\"alpha beta gamma\"}\n{\"_id\":\"b\",\"text\":\"beta delta\"}\n"
                    "{\"_id\":\"c\",\"text\":\"\"}\n{\"_id\":\"d\",\"text\":\"gamma gamma\"}\n";
    char *in = mk("small.jsonl", s, strlen(s));
    char *out = t_path(g_dir, name);
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.force = 1;
    o.shard_size = 30; /* two shards */
    o.layout = g_layout;
    const char *ins[1] = {in};
    assert_int_equal(idx_index_build(out, ins, 1, &o, NULL), IDX_OK);
    free(in);
    return out;
}

static void test_missing_files(void **state) {
    (void)state;
    const char *files[] = {"manifest.json", "docs/docs.idx", "fm/shard-0000.fm", "fm/shard-0001.fm"};
    for (int i = 0; i < 4; i++) {
        char *ix = good_index("ix_missing");
        char *p = t_path(ix, files[i]);
        assert_int_equal(unlink(p), 0);
        idx_err e = idx_index_verify(ix, 0);
        assert_int_not_equal(e, IDX_OK);
        assert_true(strlen(idx_errmsg()) > 0);
        assert_int_equal(t_sh("'%s' count '%s' beta >/dev/null 2>&1", t_idx_bin(), ix), i == 1 ? 0 : 1);
        assert_int_equal(t_sh("'%s' verify '%s' 2>/dev/null >/dev/null", t_idx_bin(), ix), 1);
        free(p);
        free(ix);
    }
}

static void flipped_bytes(idx_fm_layout layout) {
    g_layout = layout;
    char *ix = good_index("ix_flip");
    { /* the defaults: compact and sdsl take their text from the FM-index ("isa" sections, text-less store) */
        json_t *m = NULL;
        assert_int_equal(idx_manifest_load(ix, &m), IDX_OK);
        assert_string_equal(json_string_value(json_object_get(idx_manifest_part(m, "docs"), "text")),
                            layout == IDX_FM_LAYOUT_FAST ? "store" : "fm");
        json_decref(m);
    }
    const char *files[] = {"manifest.json", "docs/docs.idx", "fm/shard-0000.fm", "fm/shard-0001.fm"};
    size_t checked = 0;
    for (int i = 0; i < 4; i++) {
        char *p = t_path(ix, files[i]);
        idx_buf orig = t_read(p);
        int fd = open(p, O_RDWR);
        assert_true(fd >= 0);
        for (size_t k = 0; k < orig.len; k++) {
            for (int m = 0; m < 2; m++) {
                unsigned char b = (unsigned char)orig.data[k] ^ (m ? 0x01 : 0x80);
                assert_int_equal(pwrite(fd, &b, 1, (off_t)k), 1);
                idx_err e = idx_index_verify(ix, 1);
                if (e == IDX_OK) fail_msg("%s: flipped byte %zu (to %02x) not found", files[i], k, b);
                checked++;
            }
            assert_int_equal(pwrite(fd, orig.data + k, 1, (off_t)k), 1);
        }
        close(fd);
        /* queries on a damaged shard fail instead of answering wrong */
        if (i >= 2) {
            orig.data[orig.len / 2] ^= 1;
            t_write(p, orig.data, orig.len);
            idx_fm *fm = NULL;
            assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_CORRUPT);
            assert_non_null(strstr(idx_errmsg(), files[i]));
            orig.data[orig.len / 2] ^= 1;
            t_write(p, orig.data, orig.len);
        }
        idx_buf_free(&orig);
        free(p);
    }
    assert_int_equal(idx_index_verify(ix, 1), IDX_OK);
    assert_true(checked > 1000);
    free(ix);
    g_layout = IDX_FM_LAYOUT_COMPACT;
}

static void test_every_flipped_byte(void **state) {
    (void)state;
    flipped_bytes(IDX_FM_LAYOUT_COMPACT);
    flipped_bytes(IDX_FM_LAYOUT_FAST);
    flipped_bytes(IDX_FM_LAYOUT_SDSL);
}

/* Indexes built before the fm_block layout name their sdsl shards (meta code 0)
 * "compact" in the manifest: still verified; any other disagreement is corrupt. */
static void test_legacy_layout_name(void **state) {
    (void)state;
    g_layout = IDX_FM_LAYOUT_SDSL;
    char *ix = good_index("ix_legacy");
    g_layout = IDX_FM_LAYOUT_COMPACT;
    const char *names[] = {"compact", "fast", "sdsl"};
    for (int i = 0; i < 3; i++) {
        json_t *m = NULL;
        assert_int_equal(idx_manifest_load(ix, &m), IDX_OK);
        json_object_set_new(idx_manifest_part(m, "fm"), "layout", json_string(names[i]));
        assert_int_equal(idx_manifest_save(ix, m), IDX_OK);
        json_decref(m);
        assert_int_equal(idx_index_verify(ix, 1), i == 1 ? IDX_ERR_CORRUPT : IDX_OK);
    }
    /* and a compact index is not accepted under the name sdsl */
    char *cx = good_index("ix_legacy2");
    json_t *m = NULL;
    assert_int_equal(idx_manifest_load(cx, &m), IDX_OK);
    json_object_set_new(idx_manifest_part(m, "fm"), "layout", json_string("sdsl"));
    assert_int_equal(idx_manifest_save(cx, m), IDX_OK);
    json_decref(m);
    assert_int_equal(idx_index_verify(cx, 1), IDX_ERR_CORRUPT);
    free(cx);
    free(ix);
}

static void test_truncated_and_newer(void **state) {
    (void)state;
    char *ix = good_index("ix_trunc2");
    char *p = t_path(ix, "fm/shard-0000.fm");
    idx_buf orig = t_read(p);
    size_t cuts[] = {0, 10, 63, 64, 200, orig.len / 2, orig.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        t_write(p, orig.data, cuts[i]);
        idx_fm *fm = NULL;
        assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_CORRUPT);
        assert_non_null(strstr(idx_errmsg(), "shard-0000.fm"));
        assert_int_equal(t_sh("'%s' count '%s' beta 2>/dev/null", t_idx_bin(), ix), 1);
    }
    /* newer shard file version, with a valid header checksum */
    unsigned char *h = (unsigned char *)orig.data;
    h[8] = (unsigned char)(h[8] + 1);
    uint64_t hh = XXH3_64bits(h, 56);
    memcpy(h + 56, &hh, 8);
    t_write(p, orig.data, orig.len);
    idx_fm *fm = NULL;
    assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_VERSION);
    assert_int_equal(t_sh("'%s' verify --deep '%s' 2>&1 | grep -q 'version'", t_idx_bin(), ix), 0);
    idx_buf_free(&orig);
    free(p);
    free(ix);
    /* newer FM part version in the manifest */
    ix = good_index("ix_newer");
    json_t *man;
    assert_int_equal(idx_manifest_load(ix, &man), IDX_OK);
    json_object_set_new(idx_manifest_part(man, "fm"), "version", json_integer(7));
    assert_int_equal(idx_manifest_save(ix, man), IDX_OK);
    json_decref(man);
    assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_VERSION);
    free(ix);
}

static void test_killed_build_leaves_nothing(void **state) {
    (void)state;
    char *d = t_path(g_dir, "killme");
    idx_mkdirs(d);
    char *p = t_path(d, "big.txt");
    size_t n = 48u << 20;
    unsigned char *buf = malloc(n);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)('a' + rnd(&s) % 26);
    t_write(p, buf, n);
    free(buf);
    char *out = t_path(g_dir, "ix_killed");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(t_idx_bin(), "idx", "build", "-q", "-o", out, d, (char *)NULL);
        _exit(127);
    }
    usleep(700 * 1000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_not_equal(access(out, F_OK), 0);
    idx_fm *fm = NULL;
    assert_int_not_equal(idx_fm_open(out, 0, &fm), IDX_OK);
    t_sh("rm -rf '%s'/.ix_killed.tmp.*", g_dir);
    free(p);
    free(d);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_corpus),         cmocka_unit_test(test_nul_and_invalid_utf8_counted),
        cmocka_unit_test(test_ff_byte),              cmocka_unit_test(test_malformed_jsonl),
        cmocka_unit_test(test_missing_text_field),   cmocka_unit_test(test_truncated_compressed),
        cmocka_unit_test(test_missing_files),        cmocka_unit_test(test_every_flipped_byte),
        cmocka_unit_test(test_truncated_and_newer),  cmocka_unit_test(test_killed_build_leaves_nothing),
        cmocka_unit_test(test_legacy_layout_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
