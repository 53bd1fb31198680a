/*
 * test_fm_text.c -- document text rebuilt from the FM-index (`idx build
 * --text fm`: inverse suffix-array samples, section "isa", and a document
 * store without text) against the corpus itself: every document byte for
 * byte and windows at document starts and ends, through idx_docs_text (what
 * every reader uses) and idx_fm_extract, for empty documents, a document
 * holding every byte 0x00..0xFE, long runs, documents around the sample
 * rate; 1 vs N shards, all three layouts, several rates, and the zstd store
 * (`--text store`) giving the same bytes. `idx show` end to end for every
 * document in both modes, `find` context. Damaged inverse samples (truncated,
 * flipped, wrong rate, wrong row, missing while the store needs them) give
 * clear errors.
 */
#include <fcntl.h>

#include "../idx_test_sections.h"
#include "fm_naive.h"

static char *g_dir, *g_input;
static naive_corpus g_c;
static uint64_t g_seed = 0x243F6A8885A308D3ULL;

static void gen_corpus(naive_corpus *c) {
    unsigned char buf[6000];
    nc_add(c, "", 0); /* empty first document */
    for (int b = 0; b < 255; b++) buf[b] = (unsigned char)b;
    nc_add(c, buf, 255); /* every byte value 0x00..0xFE */
    for (int b = 0; b < 510; b++) buf[b] = (unsigned char)(254 - b % 255);
    nc_add(c, buf, 510);
    memset(buf, 'a', 5000);
    nc_add(c, buf, 5000); /* a long run */
    nc_add(c, "", 0);
    nc_add(c, "hello MARKERXYZ world", 21);
    const size_t around[] = {1, 2, 4, 5, 6, 127, 128, 129, 255, 256, 257};
    for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
        for (size_t k = 0; k < around[i]; k++) buf[k] = (unsigned char)(rnd(&g_seed) % 255);
        nc_add(c, buf, around[i]);
    }
    for (int d = 0; d < 40; d++) {
        size_t len = d % 9 == 0 ? 0 : rnd(&g_seed) % 3000;
        int text = d % 2;
        for (size_t k = 0; k < len; k++)
            buf[k] = text ? (unsigned char)("abcde fghij\n"[rnd(&g_seed) % 12]) : (unsigned char)(rnd(&g_seed) % 255);
        nc_add(c, buf, len);
    }
    nc_add(c, "", 0); /* empty last document */
}

static int setup(void **state) {
    (void)state;
    g_dir = t_tmpdir();
    g_input = t_path(g_dir, "corpus");
    gen_corpus(&g_c);
    nc_write_dir(&g_c, g_input);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    t_sh("rm -rf '%s'", g_dir);
    free(g_dir);
    free(g_input);
    nc_free(&g_c);
    return 0;
}

static char *build(const char *name, idx_fm_layout layout, int text, uint32_t isa, uint64_t shard_size) {
    char *out = t_path(g_dir, name);
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.layout = layout;
    o.text_source = text;
    o.isa_sample = isa;
    o.shard_size = shard_size;
    o.sa_sample = 4;
    o.force = 1;
    const char *in[1] = {g_input};
    if (idx_index_build(out, in, 1, &o, NULL) != IDX_OK) fail_msg("build %s: %s", name, idx_errmsg());
    return out;
}

/* One window [off, off+len) of document i through both calls. */
static void check_window(const naive_corpus *c, idx_docs *d, idx_fm *fm, size_t i, uint64_t off, uint64_t len) {
    uint64_t dl = c->len[i];
    uint64_t a = off < dl ? off : dl, b = len > dl - a ? dl : a + len;
    idx_buf buf = {0};
    idx_buf_append(&buf, "xy", 2); /* appends after what is there */
    if (idx_docs_text(d, i, off, len, &buf) != IDX_OK) fail_msg("doc %zu [%llu,+%llu): %s", i, (unsigned long long)off,
                                                                (unsigned long long)len, idx_errmsg());
    assert_int_equal(buf.len, 2 + (b - a));
    assert_memory_equal(buf.data, "xy", 2);
    if (b > a) assert_memory_equal(buf.data + 2, c->text[i] + a, b - a);
    if (fm) {
        buf.len = 0;
        assert_int_equal(idx_fm_extract(fm, i, off, len, &buf), IDX_OK);
        assert_int_equal(buf.len, b - a);
        if (b > a) assert_memory_equal(buf.data, c->text[i] + a, b - a);
        assert_int_equal(buf.data[buf.len], 0);
    }
    idx_buf_free(&buf);
}

static void check_text(const naive_corpus *c, const char *ix, int want_src) {
    idx_docs *d;
    assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
    assert_int_equal(idx_docs_text_source(d), want_src);
    assert_true(idx_docs_has_text(d));
    idx_fm *fm;
    assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_OK);
    assert_int_equal(idx_fm_has_text(fm), want_src == IDX_DOCS_TEXT_FM);
    assert_int_equal(idx_docs_count(d), c->n);
    for (size_t i = 0; i < c->n; i++) {
        /* idx_fm_extract directly on every other document (time) */
        idx_fm *xfm = want_src == IDX_DOCS_TEXT_FM && i % 2 == 0 ? fm : NULL;
        uint64_t dl = c->len[i], fl;
        assert_int_equal(idx_fm_doc_len(fm, i, &fl), IDX_OK);
        assert_int_equal(fl, dl);
        check_window(c, d, xfm, i, 0, UINT64_MAX / 2); /* the whole document */
        const uint64_t ks[] = {0, 1, 2, 3, 7, 100, 1000};
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
            check_window(c, d, xfm, i, 0, ks[k]);                         /* at the start */
            if (ks[k] <= dl) check_window(c, d, xfm, i, dl - ks[k], ks[k]); /* at the end */
            check_window(c, d, xfm, i, dl, ks[k]);                        /* past the end: nothing */
            check_window(c, d, xfm, i, dl + 5, ks[k]);
        }
        for (int r = 0; r < 8 && dl; r++) check_window(c, d, xfm, i, rnd(&g_seed) % dl, rnd(&g_seed) % 400);
    }
    idx_buf b = {0};
    assert_int_equal(idx_docs_text(d, c->n, 0, 1, &b), IDX_ERR_NOT_FOUND);
    if (want_src == IDX_DOCS_TEXT_FM) {
        assert_int_equal(idx_fm_extract(fm, c->n, 0, 1, &b), IDX_ERR_NOT_FOUND);
    } else {
        assert_int_equal(idx_fm_extract(fm, 0, 0, 1, &b), IDX_ERR_UNSUPPORTED);
        assert_non_null(strstr(idx_errmsg(), "isa"));
    }
    idx_buf_free(&b);
    /* a store that reads through a lent FM-index gives the same bytes */
    idx_docs *d2;
    assert_int_equal(idx_docs_open(ix, 0, &d2), IDX_OK);
    assert_int_equal(idx_docs_attach_fm(d2, fm), IDX_OK);
    for (size_t i = 0; i < c->n; i += 3) check_window(c, d2, NULL, i, 1, 300);
    idx_docs_close(d2);
    idx_fm_close(fm);
    idx_docs_close(d);
    assert_int_equal(idx_index_verify(ix, 1), IDX_OK);
}

static void test_text_every_layout_rate_and_shards(void **state) {
    (void)state;
    struct {
        idx_fm_layout layout;
        int text;
        uint32_t isa;
        uint64_t shard;
        size_t min_shards;
    } cfg[] = {
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_DEFAULT, 0, 0, 1},  /* the defaults: fm, r = 128 */
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 1, 0, 1},
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 5, 4000, 5},
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 128, 3000, 5},
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 6000, 2500, 5}, /* one sample a shard: walks start at the end */
        {IDX_FM_LAYOUT_FAST, IDX_TEXT_FM, 0, 0, 1},
        {IDX_FM_LAYOUT_FAST, IDX_TEXT_FM, 3, 4000, 5},
        {IDX_FM_LAYOUT_COMPACT, IDX_TEXT_STORE, 0, 4000, 5},
        {IDX_FM_LAYOUT_FAST, IDX_TEXT_DEFAULT, 0, 0, 1},     /* fast default: store */
        {IDX_FM_LAYOUT_SDSL, IDX_TEXT_DEFAULT, 0, 0, 1},     /* sdsl default: fm */
        {IDX_FM_LAYOUT_SDSL, IDX_TEXT_FM, 3, 4000, 5},
        {IDX_FM_LAYOUT_SDSL, IDX_TEXT_STORE, 0, 4000, 5},
    };
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        char *ix = build("ix", cfg[k].layout, cfg[k].text, cfg[k].isa, cfg[k].shard);
        idx_fm *fm;
        assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_OK);
        assert_true(idx_fm_shard_count(fm) >= cfg[k].min_shards);
        idx_fm_shard_sizes s;
        assert_int_equal(idx_fm_get_shard_sizes(fm, 0, &s), IDX_OK);
        int fm_text = cfg[k].text == IDX_TEXT_FM || (cfg[k].text == IDX_TEXT_DEFAULT && cfg[k].layout != IDX_FM_LAYOUT_FAST);
        /* no --isa-sample: derived from the SA samples ("pinv", rate s = 4 here); else stored at that rate */
        assert_int_equal(s.isa_sample, fm_text ? (cfg[k].isa ? cfg[k].isa : s.sa_sample) : 0);
        assert_int_equal(s.isa_bytes > 0, fm_text);
        idx_fm_close(fm);
        check_text(&g_c, ix, fm_text ? IDX_DOCS_TEXT_FM : IDX_DOCS_TEXT_STORE);
        /* the manifest records the text source; the store keeps no text blocks in fm mode */
        json_t *man;
        assert_int_equal(idx_manifest_load(ix, &man), IDX_OK);
        assert_string_equal(json_string_value(json_object_get(idx_manifest_part(man, "docs"), "text")),
                            fm_text ? "fm" : "store");
        assert_string_equal(json_string_value(json_object_get(idx_manifest_part(man, "fm"), "isa")),
                            !fm_text ? "none" : cfg[k].isa ? "stored" : "derived");
        json_decref(man);
        idx_docs *d;
        assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
        idx_docs_sizes ds;
        idx_docs_get_sizes(d, &ds);
        assert_int_equal(ds.text_compressed == 0, fm_text);
        idx_docs_close(d);
        free(ix);
    }
}

static void test_cli_show_and_find(void **state) {
    (void)state;
    char *ixf = build("ix_cli_fm", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_DEFAULT, 0, 4000);
    char *ixs = build("ix_cli_store", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_STORE, 0, 0);
    char *ixff = build("ix_cli_fastfm", IDX_FM_LAYOUT_FAST, IDX_TEXT_FM, 16, 0);
    const char *ixs_all[] = {ixf, ixs, ixff};
    char *out = t_path(g_dir, "show.out");
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < g_c.n; i++) { /* every document, byte for byte */
            assert_int_equal(t_sh("'%s' show --number '%s' %zu > '%s'", t_idx_bin(), ixs_all[k], i, out), 0);
            idx_buf b = t_read(out);
            assert_int_equal(b.len, g_c.len[i]);
            if (b.len) assert_memory_equal(b.data, g_c.text[i], b.len);
            idx_buf_free(&b);
        }
        /* find's context comes from the same place */
        assert_int_equal(t_sh("'%s' find --json --context 3 '%s' MARKERXYZ | grep -q '\"context\":\"lo MARKERXYZ wo\"'",
                              t_idx_bin(), ixs_all[k]),
                         0);
        assert_int_equal(t_sh("'%s' inspect '%s' | grep -q 'docs: text source *%s'", t_idx_bin(), ixs_all[k],
                              k == 1 ? "store" : "fm"),
                         0);
        assert_int_equal(t_sh("'%s' verify --deep '%s' >/dev/null", t_idx_bin(), ixs_all[k]), 0);
    }
    assert_int_equal(t_sh("'%s' build -q --text nope -o '%s/x' '%s' 2>/dev/null", t_idx_bin(), g_dir, g_input), 2);
    assert_int_equal(t_sh("'%s' build -q --isa-sample 0 -o '%s/x' '%s' 2>/dev/null", t_idx_bin(), g_dir, g_input), 2);
    assert_int_equal(t_sh("'%s' build -q --text store --isa-sample 64 -o '%s/x' '%s' 2>/dev/null", t_idx_bin(), g_dir,
                          g_input),
                     2);
    free(out);
    free(ixf);
    free(ixs);
    free(ixff);
}

/* ---- damaged inverse samples -------------------------------------------- */

/* (bytes cut off become zero padding, as the file format requires) */
static void mut_truncate(unsigned char *sec, uint64_t *size) {
    *size -= 8;
    memset(sec + *size, 0, 8);
}
static void mut_header_only(unsigned char *sec, uint64_t *size) {
    memset(sec + 16, 0, *size - 16);
    *size = 16;
}
static void mut_rate_double(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t r;
    memcpy(&r, sec, 8);
    r *= 2;
    memcpy(sec, &r, 8);
}
static void mut_rate_zero(unsigned char *sec, uint64_t *size) {
    (void)size;
    memset(sec, 0, 8);
}
static void mut_bits(unsigned char *sec, uint64_t *size) {
    (void)size;
    sec[16] ^= 1;
}
/* First sample (row of position 0) replaced by row 1: in range, wrong. */
static void mut_row(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t bits, w;
    memcpy(&bits, sec + 16, 8);
    memcpy(&w, sec + 32, 8);
    w = (w & ~((UINT64_C(1) << bits) - 1)) | 1;
    memcpy(sec + 32, &w, 8);
}
/* Second sample set to all ones: beyond the text. */
static void mut_row_range(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t bits, w;
    memcpy(&bits, sec + 16, 8);
    memcpy(&w, sec + 32, 8);
    w |= ((UINT64_C(1) << bits) - 1) << bits;
    memcpy(sec + 32, &w, 8);
}

/* Section `sec` of a fresh index's shard changed by mut into something that
 * still loads (checksums recomputed) but is wrong: deep verify names the
 * section, and every text read errs cleanly or returns bytes (the document's
 * own when `exact`); none crashes or hangs. */
static void expect_loads_but_wrong(const char *name, uint32_t isa, const char *sec, t_mutator mut, int exact) {
    char *ix = build(name, IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, isa, 0);
    char *p = t_path(ix, "fm/shard-0000.fm");
    t_reseal(p, sec, mut);
    if (idx_index_verify(ix, 0) != IDX_OK) fail_msg("%s: %s", sec, idx_errmsg());
    assert_int_equal(idx_index_verify(ix, 1), IDX_ERR_CORRUPT);
    assert_non_null(strstr(idx_errmsg(), sec));
    idx_docs *d;
    assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
    idx_buf b = {0};
    for (size_t i = 0; i < g_c.n; i++) {
        b.len = 0;
        idx_err e = idx_docs_text(d, i, 0, UINT64_MAX / 2, &b);
        assert_true(e == IDX_OK || e == IDX_ERR_CORRUPT);
        if (exact && e == IDX_OK) {
            assert_int_equal(b.len, g_c.len[i]);
            if (b.len) assert_memory_equal(b.data, g_c.text[i], b.len);
        }
    }
    idx_buf_free(&b);
    idx_docs_close(d);
    free(p);
    free(ix);
}

static void expect_open_fails_in(const char *ix, const char *sec, const char *what) {
    idx_fm *fm = NULL;
    assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_CORRUPT);
    if (!strstr(idx_errmsg(), what) || !strstr(idx_errmsg(), sec))
        fail_msg("message '%s' lacks '%s'", idx_errmsg(), what);
    /* every reader of text fails cleanly, with the message */
    idx_docs *d;
    assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
    idx_buf b = {0};
    assert_int_equal(idx_docs_text(d, 1, 0, 10, &b), IDX_ERR_CORRUPT);
    assert_non_null(strstr(idx_errmsg(), sec));
    idx_buf_free(&b);
    idx_docs_close(d);
    assert_int_equal(t_sh("'%s' show --number '%s' 1 2>&1 >/dev/null | grep -q %s", t_idx_bin(), ix, sec), 0);
    assert_int_equal(t_sh("'%s' show --number '%s' 1 >/dev/null 2>&1", t_idx_bin(), ix), 1);
    assert_int_not_equal(idx_index_verify(ix, 1), IDX_OK);
}
static void expect_open_fails(const char *ix, const char *what) { expect_open_fails_in(ix, "isa", what); }

/* "pinv" damage (header {t, nptrs, bucket bits, 0}, bucket directory, low bits, pointers) */
static void mut_t_zero(unsigned char *sec, uint64_t *size) {
    (void)size;
    memset(sec, 0, 8);
}
static void mut_nptrs_huge(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t v = UINT64_C(1) << 40;
    memcpy(sec + 8, &v, 8);
}
static void mut_nptrs_plus(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t v;
    memcpy(&v, sec + 8, 8);
    v++;
    memcpy(sec + 8, &v, 8);
}
/* the bucket-size word */
static void mut_marks_len(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t v;
    memcpy(&v, sec + 16, 8);
    v += 1000000;
    memcpy(sec + 16, &v, 8);
}
static void mut_marks_garbage(unsigned char *sec, uint64_t *size) {
    (void)size;
    for (int i = 32; i < 48; i++) sec[i] = 0xA5;
}
/* Bit 0 of the section's last word: always a bit of some pointer (the
 * packed pointers end the section). */
static void mut_pointer(unsigned char *sec, uint64_t *size) {
    uint64_t nptrs;
    memcpy(&nptrs, sec + 8, 8);
    assert_true(nptrs > 0);
    sec[*size - 8] ^= 0x01;
}
/* t + 1: the pointers no longer match the interval */
static void mut_t_plus(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t t;
    memcpy(&t, sec, 8);
    t += 1;
    memcpy(sec, &t, 8);
}

static void test_malformed_pinv(void **state) {
    (void)state;
    struct {
        t_mutator m;
        const char *msg;
    } cases[] = {{mut_truncate, "pinv"},  {mut_header_only, "too short"}, {mut_t_zero, "shortcut interval"},
                 {mut_nptrs_huge, "pointer count"}, {mut_nptrs_plus, "pinv"}, {mut_marks_len, "pinv"},
                 {mut_marks_garbage, "pinv"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *ix = build("ix_badp", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 0, 0);
        char *p = t_path(ix, "fm/shard-0000.fm");
        t_reseal(p, "pinv", cases[k].m);
        expect_open_fails_in(ix, "pinv", cases[k].msg);
        free(p);
        free(ix);
    }
    /* loadable but wrong: deep verify names "pinv"; every text read is right or a clear error, never a hang */
    t_mutator wrong[] = {mut_pointer, mut_t_plus};
    for (int k = 0; k < 2; k++) expect_loads_but_wrong("ix_badp", 0, "pinv", wrong[k], 1);
    /* the manifest must name how the inverse samples are kept */
    {
        char *ix = build("ix_badp", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 0, 0);
        json_t *man;
        assert_int_equal(idx_manifest_load(ix, &man), IDX_OK);
        json_object_set_new(idx_manifest_part(man, "fm"), "isa", json_string("stored"));
        assert_int_equal(idx_manifest_save(ix, man), IDX_OK);
        json_decref(man);
        assert_int_equal(idx_index_verify(ix, 0), IDX_ERR_CORRUPT);
        assert_non_null(strstr(idx_errmsg(), "isa"));
        free(ix);
    }
}

static void test_malformed_isa(void **state) {
    (void)state;
    struct {
        t_mutator m;
        const char *msg;
    } cases[] = {{mut_truncate, "wrong size"},         {mut_header_only, "too short"},
                 {mut_rate_double, "rate"},            {mut_rate_zero, "bad sample rate"},
                 {mut_bits, "width"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *ix = build("ix_bad", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 32, 0);
        char *p = t_path(ix, "fm/shard-0000.fm");
        t_reseal(p, "isa", cases[k].m);
        expect_open_fails(ix, cases[k].msg);
        free(p);
        free(ix);
    }
    /* a flipped byte without a new checksum: the checksum names the section */
    {
        char *ix = build("ix_bad", IDX_FM_LAYOUT_FAST, IDX_TEXT_FM, 32, 0);
        char *p = t_path(ix, "fm/shard-0000.fm");
        idx_buf f = t_read(p);
        uint64_t off = 0, size = 0;
        t_section_at(&f, "isa", &off, &size);
        assert_true(size > 64);
        unsigned char *q = (unsigned char *)f.data + off;
        q[40] ^= 0x10;
        t_write(p, f.data, f.len);
        idx_fm *fm = NULL;
        assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_ERR_CORRUPT);
        assert_non_null(strstr(idx_errmsg(), "isa"));
        assert_int_equal(t_sh("'%s' verify '%s' 2>&1 | grep -q isa", t_idx_bin(), ix), 0);
        idx_buf_free(&f);
        free(p);
        free(ix);
    }
    /* in-range but wrong rows: loading works (checksums were recomputed), deep verify names the sample;
     * text reads never crash or hang: the whole corpus either comes back or errs */
    t_mutator rows[] = {mut_row, mut_row_range};
    for (int k = 0; k < 2; k++) expect_loads_but_wrong("ix_bad", 32, "isa", rows[k], 0);
    /* the store takes its text from shards without "isa" (shards of a --text store build) */
    {
        char *ix = build("ix_bad", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 0, 0);
        char *st = build("ix_bad_store", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_STORE, 0, 0);
        assert_int_equal(t_sh("cp '%s/fm/shard-0000.fm' '%s/fm/shard-0000.fm'", st, ix), 0);
        idx_docs *d;
        assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
        idx_buf b = {0};
        assert_int_equal(idx_docs_text(d, 1, 0, 10, &b), IDX_ERR_CORRUPT);
        assert_non_null(strstr(idx_errmsg(), "no inverse samples"));
        idx_buf_free(&b);
        idx_docs_close(d);
        assert_int_not_equal(idx_index_verify(ix, 0), IDX_OK);
        assert_int_equal(t_sh("'%s' show --number '%s' 1 >/dev/null 2>&1", t_idx_bin(), ix), 1);
        /* and a manifest that names the wrong text source */
        char *ix2 = build("ix_bad2", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 0, 0);
        json_t *man;
        assert_int_equal(idx_manifest_load(ix2, &man), IDX_OK);
        json_object_set_new(idx_manifest_part(man, "docs"), "text", json_string("store"));
        assert_int_equal(idx_manifest_save(ix2, man), IDX_OK);
        json_decref(man);
        assert_int_equal(idx_index_verify(ix2, 0), IDX_ERR_CORRUPT);
        assert_non_null(strstr(idx_errmsg(), "text"));
        free(ix2);
        free(st);
        free(ix);
    }
}

/* Stores of the same directory share one FM-index (refcounted); closing one
 * leaves the other working; an index rebuilt in place is not served from the
 * FM-index of the old one. */
static void test_shared_fm_and_rebuild(void **state) {
    (void)state;
    char *ix = build("ix_share", IDX_FM_LAYOUT_COMPACT, IDX_TEXT_FM, 16, 0);
    idx_docs *d1, *d2, *d3;
    assert_int_equal(idx_docs_open(ix, 0, &d1), IDX_OK);
    assert_int_equal(idx_docs_open(ix, 0, &d2), IDX_OK);
    idx_buf b = {0};
    assert_int_equal(idx_docs_text(d1, 5, 0, 100, &b), IDX_OK);
    assert_int_equal(idx_docs_text(d2, 5, 0, 100, &b), IDX_OK);
    assert_int_equal(b.len, 2 * g_c.len[5]);
    assert_memory_equal(b.data + g_c.len[5], g_c.text[5], g_c.len[5]);
    idx_docs_close(d1);
    b.len = 0;
    assert_int_equal(idx_docs_text(d2, 1, 0, 255, &b), IDX_OK);
    assert_int_equal(b.len, 255);
    assert_memory_equal(b.data, g_c.text[1], 255);
    /* rebuild the same directory from another corpus while d2 is open */
    char *in2 = t_path(g_dir, "other.jsonl");
    t_writes(in2, "{\"_id\":\"x\",\"text\":\"completely different text\"}\n");
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    o.force = 1;
    o.text_source = IDX_TEXT_FM;
    const char *in[1] = {in2};
    assert_int_equal(idx_index_build(ix, in, 1, &o, NULL), IDX_OK);
    assert_int_equal(idx_docs_open(ix, 0, &d3), IDX_OK);
    b.len = 0;
    assert_int_equal(idx_docs_text(d3, 0, 0, 100, &b), IDX_OK);
    assert_int_equal(b.len, 25);
    assert_memory_equal(b.data, "completely different text", 25);
    b.len = 0;
    assert_int_equal(idx_docs_text(d2, 1, 0, 255, &b), IDX_OK); /* the old one still reads its own */
    assert_memory_equal(b.data, g_c.text[1], 255);
    idx_docs_close(d3);
    idx_docs_close(d2);
    idx_buf_free(&b);
    free(in2);
    free(ix);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_every_layout_rate_and_shards),
        cmocka_unit_test(test_cli_show_and_find),
        cmocka_unit_test(test_malformed_isa),
        cmocka_unit_test(test_malformed_pinv),
        cmocka_unit_test(test_shared_fm_and_rebuild),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
