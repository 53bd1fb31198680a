/*
 * test_docs.c -- the document store: byte-for-byte round trips of generated
 * documents (empty, tiny, spanning many blocks, every byte value but 0xFF),
 * windows checked against the originals, id lookups, duplicate ids, and
 * every flipped byte of the store file found by a verifying open.
 */
#include "../idx_test_sections.h"
#include "idx_index.h"

#define NDOCS 300

static char *gen_doc(unsigned seed, size_t *len) {
    size_t n = (seed % 7 == 0) ? 0 : (seed % 11 == 0 ? 5000 + seed * 13 : seed % 97);
    char *s = malloc(n + 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (char)((x >> 16) % 255); /* 0x00..0xFE */
    }
    *len = n;
    return s;
}

static void build_store(const char *index_dir, unsigned block_size) {
    char *part = t_path(index_dir, "docs");
    idx_docs_writer *w;
    idx_docs_opts o = {.block_size = block_size, .store_text = 1};
    assert_int_equal(idx_docs_writer_open(part, &o, &w), IDX_OK);
    for (unsigned i = 0; i < NDOCS; i++) {
        size_t len;
        char *t = gen_doc(i, &len);
        char id[32], title[32], meta[64];
        snprintf(id, sizeof id, "doc-%u", i);
        snprintf(title, sizeof title, "Title %u", i);
        snprintf(meta, sizeof meta, "{\"n\":%u}", i);
        idx_doc d = {.text = t, .text_len = len, .id = id, .title = title, .meta_json = meta, .meta_len = strlen(meta)};
        uint64_t got;
        assert_int_equal(idx_docs_writer_add(w, &d, &got), IDX_OK);
        assert_int_equal(got, i);
        free(t);
    }
    /* a duplicate id is refused and names the first document */
    idx_doc dup = {.text = "x", .text_len = 1, .id = "doc-5", .title = "", .meta_json = "{}", .meta_len = 2};
    assert_int_equal(idx_docs_writer_add(w, &dup, NULL), IDX_ERR_PARSE);
    assert_non_null(strstr(idx_errmsg(), "duplicate document id 'doc-5'"));
    assert_int_equal(idx_docs_writer_commit(w), IDX_OK);
    free(part);
}

static void check_store(const char *index_dir) {
    idx_docs *d;
    assert_int_equal(idx_docs_open(index_dir, IDX_FILE_VERIFY, &d), IDX_OK);
    assert_int_equal(idx_docs_count(d), NDOCS);
    assert_int_equal(idx_docs_verify(d), IDX_OK);
    idx_buf b = {0};
    for (unsigned i = 0; i < NDOCS; i++) {
        size_t len;
        char *t = gen_doc(i, &len);
        uint64_t l;
        assert_int_equal(idx_docs_len(d, i, &l), IDX_OK);
        assert_int_equal(l, len);
        b.len = 0;
        assert_int_equal(idx_docs_text(d, i, 0, UINT64_MAX, &b), IDX_OK);
        assert_int_equal(b.len, len);
        assert_memory_equal(b.data, t, len);
        /* windows, including ones running past the end */
        for (size_t off = 0; off <= len; off += 1 + len / 5) {
            b.len = 0;
            assert_int_equal(idx_docs_text(d, i, off, 100, &b), IDX_OK);
            size_t want = len - off < 100 ? len - off : 100;
            assert_int_equal(b.len, want);
            assert_memory_equal(b.data, t + off, want);
        }
        char id[32];
        snprintf(id, sizeof id, "doc-%u", i);
        uint64_t k;
        assert_int_equal(idx_docs_lookup(d, id, strlen(id), &k), IDX_OK);
        assert_int_equal(k, i);
        const char *s;
        size_t sl;
        assert_int_equal(idx_docs_title(d, i, &s, &sl), IDX_OK);
        char title[32];
        snprintf(title, sizeof title, "Title %u", i);
        assert_int_equal(sl, strlen(title));
        assert_memory_equal(s, title, sl);
        free(t);
    }
    uint64_t k;
    assert_int_equal(idx_docs_lookup(d, "nope", 4, &k), IDX_ERR_NOT_FOUND);
    assert_int_equal(idx_docs_text(d, NDOCS, 0, 1, &b), IDX_ERR_NOT_FOUND);
    idx_buf_free(&b);
    idx_docs_close(d);
}

static void test_docs_roundtrip(void **state) {
    (void)state;
    unsigned sizes[] = {256, 4096, 65536};
    for (int s = 0; s < 3; s++) {
        char *dir = t_tmpdir();
        build_store(dir, sizes[s]);
        check_store(dir);
        idx_rmtree(dir);
        free(dir);
    }
}

static void test_docs_corruption(void **state) {
    (void)state;
    char *dir = t_tmpdir();
    build_store(dir, 4096);
    char *p = t_path(dir, "docs/docs.idx");
    idx_buf orig = {0};
    assert_int_equal(idx_read_file(p, 0, &orig), IDX_OK);
    /* flip bytes across the whole file (every 13th byte, plus the last ones) */
    for (size_t i = 0; i < orig.len; i += (i < 2048 ? 1 : 13)) {
        orig.data[i] ^= 0x01;
        t_write(p, orig.data, orig.len);
        idx_docs *d;
        idx_err e = idx_docs_open(dir, IDX_FILE_VERIFY, &d);
        if (e == IDX_OK) {
            idx_docs_close(d);
            fail_msg("flipped byte %zu not detected", i);
        }
        orig.data[i] ^= 0x01;
    }
    /* truncated */
    t_write(p, orig.data, orig.len / 2);
    idx_docs *d;
    assert_int_equal(idx_docs_open(dir, 0, &d), IDX_ERR_CORRUPT);
    /* missing */
    unlink(p);
    assert_int_equal(idx_docs_open(dir, 0, &d), IDX_ERR_NOT_FOUND);
    idx_buf_free(&orig);
    idx_rmtree(dir);
    free(p);
    free(dir);
}

static void mut_raw_plus(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t v;
    memcpy(&v, sec, 8);
    v++;
    memcpy(sec, &v, 8);
}
static void mut_raw_huge(unsigned char *sec, uint64_t *size) {
    (void)size;
    uint64_t v = UINT64_C(1) << 50;
    memcpy(sec, &v, 8);
}
static void mut_frame(unsigned char *sec, uint64_t *size) {
    for (uint64_t i = 12; i < *size; i += 3) sec[i] ^= 0x5A;
}
static void mut_short(unsigned char *sec, uint64_t *size) {
    (void)size;
    memset(sec, 0xFF, 8);
}

/* ids, titles, metadata, offsets and the id hash are written as "<name>.z"
 * (zstd); damaged ones (checksums recomputed) give a clear error; a store
 * written before (raw sections) still reads. */
static void test_docs_compressed_sections(void **state) {
    (void)state;
    const char *names[] = {"ids.z", "titles.z", "meta.z", "doc_start.z", "id_off.z", "meta_off.z", "id_hash.z"};
    t_mutator muts[] = {mut_raw_plus, mut_raw_huge, mut_frame, mut_short};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        for (size_t m = 0; m < sizeof muts / sizeof muts[0]; m++) {
            char *dir = t_tmpdir();
            build_store(dir, 4096);
            char *p = t_path(dir, "docs/docs.idx");
            t_reseal(p, names[k], muts[m]);
            idx_docs *d = NULL;
            idx_err e = idx_docs_open(dir, 0, &d);
            if (e != IDX_ERR_CORRUPT) fail_msg("%s, damage %zu: opened (%d)", names[k], m, (int)e);
            assert_non_null(strstr(idx_errmsg(), names[k]));
            idx_rmtree(dir);
            free(p);
            free(dir);
        }
    /* the raw layout of stores written before */
    char *dir = t_tmpdir();
    char *sub = t_path(dir, "docs");
    idx_mkdirs(sub);
    char *p = t_path(sub, "docs.idx");
    idx_buf f = {0};
    assert_int_equal(idx_read_file(IDX_SOURCE_DIR "/fuzz/corpus/docs_load/valid-fmtext.idx", 0, &f), IDX_OK);
    t_write(p, f.data, f.len);
    idx_docs *d;
    assert_int_equal(idx_docs_open(dir, IDX_FILE_VERIFY, &d), IDX_OK);
    assert_true(idx_docs_count(d) > 0);
    assert_int_equal(idx_docs_verify(d), IDX_OK);
    idx_docs_sizes ds;
    idx_docs_get_sizes(d, &ds);
    assert_true(ds.ids > 0 && ds.offsets > 0);
    for (uint64_t i = 0; i < idx_docs_count(d); i++) {
        const char *id;
        size_t len;
        uint64_t got;
        assert_int_equal(idx_docs_id(d, i, &id, &len), IDX_OK);
        assert_int_equal(idx_docs_lookup(d, id, len, &got), IDX_OK);
        assert_int_equal(got, i);
    }
    idx_docs_close(d);
    idx_buf_free(&f);
    idx_rmtree(dir);
    free(p);
    free(sub);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_roundtrip),
        cmocka_unit_test(test_docs_corruption),
        cmocka_unit_test(test_docs_compressed_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
