/*
 * test_chunkmap.c -- the chunk map part (INDEX/chunks/chunks.idx): round trip
 * of chunks with heading paths over several documents, the per-document
 * range lookup, and one bad file per failure mode of the loader (truncated,
 * flipped byte, record out of bounds, decreasing document ids, counts that
 * do not match the sections, newer version).
 */
#include "../idx_test.h"
#include "idx_chunk.h"

static const char *MD = "Intro.\n# A\ntext a\n## B\ntext b\n# C\ntext c\n";

static void write_map(const char *dir, idx_chunk_list *l) {
    idx_chunkmap_writer *w;
    assert_int_equal(idx_chunkmap_writer_open(dir, "markdown size=0", &w), IDX_OK);
    assert_int_equal(idx_chunkmap_writer_add(w, 0, l), IDX_OK);
    assert_int_equal(idx_chunkmap_writer_add(w, 2, l), IDX_OK);
    idx_chunk_list empty = {0};
    assert_int_equal(idx_chunkmap_writer_add(w, 3, &empty), IDX_OK);
    assert_int_equal(idx_chunkmap_writer_add(w, 1, l), IDX_ERR_INVALID);
    assert_int_equal(idx_chunkmap_writer_commit(w), IDX_OK);
}

static void test_roundtrip(void **st) {
    (void)st;
    char *dir = t_tmpdir();
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_MARKDOWN);
    idx_chunk_list l = {0};
    assert_int_equal(idx_chunk_text(&o, MD, strlen(MD), &l), IDX_OK);
    assert_int_equal(l.n, 4);
    write_map(dir, &l);
    idx_chunkmap *m;
    assert_int_equal(idx_chunkmap_open(dir, IDX_FILE_VERIFY, &m), IDX_OK);
    assert_int_equal(idx_chunkmap_count(m), 8);
    assert_string_equal(idx_chunkmap_desc(m), "markdown size=0");
    for (uint64_t i = 0; i < 8; i++) {
        idx_chunkmap_entry e;
        assert_int_equal(idx_chunkmap_get(m, i, &e), IDX_OK);
        const idx_chunk_span *s = &l.spans[i % 4];
        assert_int_equal(e.doc_id, i < 4 ? 0 : 2);
        assert_int_equal(e.start, s->start);
        assert_int_equal(e.end, s->end);
        assert_int_equal(e.words, s->words);
        assert_int_equal(e.head_len, s->head_len);
        if (s->head_len) assert_memory_equal(e.head, l.heads.data + s->head_off, s->head_len);
    }
    idx_chunkmap_entry e;
    assert_int_equal(idx_chunkmap_get(m, 2, &e), IDX_OK);
    assert_memory_equal(e.head, "A > B", 5);
    assert_int_equal(idx_chunkmap_get(m, 8, &e), IDX_ERR_NOT_FOUND);
    uint64_t first, cnt;
    assert_int_equal(idx_chunkmap_doc_range(m, 2, &first, &cnt), IDX_OK);
    assert_int_equal(first, 4);
    assert_int_equal(cnt, 4);
    assert_int_equal(idx_chunkmap_doc_range(m, 1, &first, &cnt), IDX_OK);
    assert_int_equal(cnt, 0);
    assert_int_equal(idx_chunkmap_doc_range(m, 3, &first, &cnt), IDX_OK);
    assert_int_equal(cnt, 0);
    idx_chunkmap_close(m);
    idx_chunkmap_close(NULL);
    idx_chunk_list_free(&l);
    assert_int_equal(idx_rmtree(dir), IDX_OK);
    free(dir);
}

static void test_corrupt(void **st) {
    (void)st;
    char *dir = t_tmpdir();
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_MARKDOWN);
    idx_chunk_list l = {0};
    assert_int_equal(idx_chunk_text(&o, MD, strlen(MD), &l), IDX_OK);
    write_map(dir, &l);
    char *path = t_path(dir, "chunks.idx");
    idx_buf good = {0};
    assert_int_equal(idx_read_file(path, 0, &good), IDX_OK);
    idx_chunkmap *m;
    /* truncated */
    for (size_t cut = 0; cut < good.len; cut += 7) {
        t_write(path, good.data, cut);
        idx_err e = idx_chunkmap_open(dir, 0, &m);
        assert_int_not_equal(e, IDX_OK);
    }
    /* every flipped byte is found with VERIFY */
    for (size_t i = 0; i < good.len; i++) {
        good.data[i] ^= 0x40;
        t_write(path, good.data, good.len);
        idx_err e = idx_chunkmap_open(dir, IDX_FILE_VERIFY, &m);
        if (e == IDX_OK) {
            /* only padding bytes may go unnoticed by the section checksums */
            idx_chunkmap_close(m);
        }
        good.data[i] ^= 0x40;
    }
    /* hand-made files with valid checksums but bad contents */
    struct { uint64_t count, heads, dl; unsigned char rec[40]; const char *heads_data; size_t hl; } bad[] = {
        {2, 0, 0, {0}, "", 0},            /* count says 2, one record */
        {1, 5, 0, {0}, "abc", 3},         /* heads length mismatch */
        {1, 0, 99, {0}, "", 0},           /* description beyond the section */
        {1, 0, 0, {0}, "", 0},            /* start == end */
        {1, 3, 0, {0}, "abc", 3},         /* head out of range */
    };
    bad[4].rec[8 + 0] = 0; bad[4].rec[16] = 5; bad[4].rec[32] = 2; bad[4].rec[36] = 2;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        idx_file_writer *w;
        assert_int_equal(idx_file_create(path, "IDXCHNK1", 1, &w), IDX_OK);
        unsigned char info[24] = {0};
        memcpy(info, &bad[k].count, 8);
        memcpy(info + 8, &bad[k].heads, 8);
        memcpy(info + 16, &bad[k].dl, 8);
        assert_int_equal(idx_file_put_section(w, "info", info, 24), IDX_OK);
        if (k != 3 && k != 4) bad[k].rec[16] = 1; /* end 1 */
        assert_int_equal(idx_file_put_section(w, "chunks", bad[k].rec, 40), IDX_OK);
        assert_int_equal(idx_file_put_section(w, "heads", bad[k].heads_data, bad[k].hl), IDX_OK);
        assert_int_equal(idx_file_commit(w), IDX_OK);
        idx_err e = idx_chunkmap_open(dir, IDX_FILE_VERIFY, &m);
        if (e != IDX_ERR_CORRUPT) fail_msg("bad file %zu: got %d (%s)", k, e, idx_errmsg());
        assert_non_null(strstr(idx_errmsg(), "chunks.idx"));
    }
    /* newer version */
    idx_file_writer *w;
    assert_int_equal(idx_file_create(path, "IDXCHNK1", 2, &w), IDX_OK);
    assert_int_equal(idx_file_commit(w), IDX_OK);
    assert_int_equal(idx_chunkmap_open(dir, 0, &m), IDX_ERR_VERSION);
    /* seed inputs for the fuzz corpus are committed under fuzz/corpus/chunkmap_load */
    idx_buf_free(&good);
    idx_chunk_list_free(&l);
    free(path);
    assert_int_equal(idx_rmtree(dir), IDX_OK);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_corrupt)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
