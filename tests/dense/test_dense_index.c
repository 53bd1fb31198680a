/*
 * test_dense_index.c -- the dense part of an index directory end to end, with
 * the tiny sentence-transformers model of the encoder tests as the "local"
 * embedder: every stored row equals the encoder's embedding of title + " " +
 * text; a document's own text finds it first (exact and HNSW); incremental
 * embedding only embeds new documents and keeps the old rows; a different
 * model is refused; a manifest pointing outside the index is corrupt; and the
 * CLI (`idx embed`, `idx dense-search`) works and fails cleanly on bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>

#include <cmocka.h>

#include "idx_dense.h"
#include "idx_encoder.h"
#include "idx_index.h"

#define MODEL IDX_SOURCE_DIR "/tests/encoder/data/tiny-st"

static char dir[256];
static char index_dir[300];

static const char *titles[] = {"Cats", "", "Rivers", "Bread", "Stars", "Music", "Chess"};
static const char *bodies[] = {
    "cats sleep most of the day. they hunt at night.",
    "an untitled document about nothing in particular",
    "rivers carry water. they flow from the mountains to the sea.",
    "bread is made from flour water salt and yeast",
    "stars are hot balls of gas far away",
    "music uses rhythm melody and harmony",
    "chess is a board game for two players",
};
#define NDOCS 7

static void make_index(size_t ndocs) {
    char docs_dir[400];
    snprintf(docs_dir, sizeof docs_dir, "%s/docs", index_dir);
    idx_mkdirs(docs_dir);
    idx_docs_writer *w;
    assert_int_equal(idx_docs_writer_open(docs_dir, NULL, &w), IDX_OK);
    for (size_t i = 0; i < ndocs; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%zu", i);
        idx_doc d = {0};
        d.text = bodies[i];
        d.text_len = strlen(bodies[i]);
        d.id = id;
        d.title = titles[i];
        d.meta_json = "{}";
        d.meta_len = 2;
        d.source = "test";
        assert_int_equal(idx_docs_writer_add(w, &d, NULL), IDX_OK);
    }
    assert_int_equal(idx_docs_writer_commit(w), IDX_OK);
    json_t *man = NULL;
    if (idx_manifest_load(index_dir, &man) != IDX_OK) man = idx_manifest_new();
    json_object_set_new(json_object_get(man, "parts"), "docs",
                        json_pack("{s:i, s:s, s:I}", "version", 1, "file", "docs/docs.idx", "docs", (json_int_t)ndocs));
    assert_int_equal(idx_manifest_save(index_dir, man), IDX_OK);
    json_decref(man);
}

static int have_model(void) {
    struct stat st;
    return stat(MODEL "/config.json", &st) == 0;
}

static idx_embedder *local_embedder(void) {
    idx_embedder_opts o = {0};
    o.provider = "local";
    o.model = MODEL;
    idx_embedder *e;
    assert_int_equal(idx_embedder_new(&o, &e), IDX_OK);
    return e;
}

static void test_build_search_incremental(void **st) {
    (void)st;
    if (!have_model()) skip();
    make_index(5);
    idx_embedder *emb = local_embedder();
    uint32_t dim = idx_embedder_dim(emb);
    assert_true(dim > 0);
    idx_dense_build_opts bo = {0};
    bo.hnsw = 1;
    bo.hnsw_params.M = 4;
    bo.incremental = 1;
    uint64_t n = 0;
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, 5);
    idx_dense_index *x;
    assert_int_equal(idx_dense_index_open(index_dir, IDX_FILE_VERIFY, &x), IDX_OK);
    assert_int_equal(idx_dense_rows(idx_dense_index_store(x)), 5);
    assert_non_null(idx_dense_index_hnsw(x));
    assert_string_equal(json_string_value(json_object_get(idx_dense_index_model(x), "provider")), "local");
    /* each row = the encoder's embedding of title + " " + text */
    idx_encoder *enc;
    assert_int_equal(idx_encoder_load(MODEL, NULL, &enc), IDX_OK);
    float *want = malloc(dim * sizeof(float)), *got = malloc(dim * sizeof(float));
    for (size_t i = 0; i < 5; i++) {
        char text[256];
        if (*titles[i]) snprintf(text, sizeof text, "%s %s", titles[i], bodies[i]);
        else snprintf(text, sizeof text, "%s", bodies[i]);
        const char *tp = text;
        assert_int_equal(idx_encoder_embed(enc, &tp, NULL, 1, 0, want), IDX_OK);
        assert_int_equal(idx_dense_get(idx_dense_index_store(x), i, got), IDX_OK);
        for (uint32_t j = 0; j < dim; j++) assert_true(fabsf(want[j] - got[j]) < 1e-5f);
        assert_int_equal(idx_dense_row_doc(idx_dense_index_store(x), i), i);
        /* the document's own text finds it first, exact and through HNSW */
        idx_fuse_cand hits[3];
        size_t nh;
        for (int h = 0; h < 2; h++) {
            assert_int_equal(idx_dense_index_search(x, want, 3, h, 0, hits, &nh), IDX_OK);
            assert_int_equal(nh, 3);
            assert_int_equal(hits[0].doc_id, i);
            assert_true(fabs(hits[0].score - 1.0) < 1e-4);
        }
    }
    idx_dense_index_close(x);
    /* two more documents: only they are embedded */
    make_index(NDOCS);
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(idx_dense_index_open(index_dir, IDX_FILE_VERIFY, &x), IDX_OK);
    assert_int_equal(idx_dense_rows(idx_dense_index_store(x)), NDOCS);
    {
        char text[256];
        snprintf(text, sizeof text, "%s %s", titles[6], bodies[6]);
        const char *tp = text;
        assert_int_equal(idx_encoder_embed(enc, &tp, NULL, 1, 0, want), IDX_OK);
        assert_int_equal(idx_dense_get(idx_dense_index_store(x), 6, got), IDX_OK);
        for (uint32_t j = 0; j < dim; j++) assert_true(fabsf(want[j] - got[j]) < 1e-5f);
    }
    idx_dense_index_close(x);
    /* nothing new: nothing embedded */
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, 0);
    /* another model (a prefix changes how texts are embedded) is refused */
    idx_embedder_opts o = {0};
    o.provider = "local";
    o.model = MODEL;
    o.doc_prefix = "passage: ";
    idx_embedder *other;
    assert_int_equal(idx_embedder_new(&o, &other), IDX_OK);
    assert_int_equal(idx_dense_index_build(index_dir, other, &bo, NULL, &n), IDX_ERR_INVALID);
    assert_non_null(strstr(idx_errmsg(), "another model"));
    /* ... unless rebuilt, with int8 storage this time */
    bo.incremental = 0;
    bo.hnsw = 0;
    bo.type = IDX_DENSE_I8_PER_VEC;
    assert_int_equal(idx_dense_index_build(index_dir, other, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, NDOCS);
    assert_int_equal(idx_dense_index_open(index_dir, 0, &x), IDX_OK);
    assert_null(idx_dense_index_hnsw(x));
    assert_int_equal(idx_dense_get_type(idx_dense_index_store(x)), IDX_DENSE_I8_PER_VEC);
    idx_fuse_cand hits[2];
    size_t nh;
    assert_int_equal(idx_dense_index_search(x, want, 2, 1, 0, hits, &nh), IDX_ERR_NOT_FOUND);
    idx_dense_index_close(x);
    idx_embedder_free(other);
    idx_encoder_free(enc);
    idx_embedder_free(emb);
    free(want);
    free(got);
}

/* Passages: title + whole sentences of at most chunk_bytes; a document scores as its best row. */
static void test_chunks(void **st) {
    (void)st;
    if (!have_model()) skip();
    make_index(NDOCS);
    idx_embedder *emb = local_embedder();
    uint32_t dim = idx_embedder_dim(emb);
    idx_dense_build_opts bo = {0};
    bo.chunk_bytes = 25;
    uint64_t n;
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, NDOCS);
    idx_dense_index *x;
    assert_int_equal(idx_dense_index_open(index_dir, IDX_FILE_VERIFY, &x), IDX_OK);
    const idx_dense *d = idx_dense_index_store(x);
    assert_int_equal(idx_dense_rows(d), NDOCS + 2); /* docs 0 and 2 have two sentences each */
    const uint64_t want_docs[] = {0, 0, 1, 2, 2, 3, 4, 5, 6};
    for (uint64_t r = 0; r < idx_dense_rows(d); r++) assert_int_equal(idx_dense_row_doc(d, r), want_docs[r]);
    idx_encoder *enc;
    assert_int_equal(idx_encoder_load(MODEL, NULL, &enc), IDX_OK);
    float *want = malloc(dim * sizeof(float)), *got = malloc(dim * sizeof(float));
    const char *texts[] = {"Cats cats sleep most of the day.", "Cats they hunt at night.",
                           "Rivers they flow from the mountains to the sea."};
    const uint64_t rows[] = {0, 1, 4};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(idx_encoder_embed(enc, &texts[i], NULL, 1, 0, want), IDX_OK);
        assert_int_equal(idx_dense_get(d, rows[i], got), IDX_OK);
        for (uint32_t j = 0; j < dim; j++) assert_true(fabsf(want[j] - got[j]) < 1e-5f);
        idx_fuse_cand hits[NDOCS];
        size_t nh;
        assert_int_equal(idx_dense_index_search(x, want, NDOCS, 0, 0, hits, &nh), IDX_OK);
        assert_int_equal(nh, NDOCS); /* every document once */
        assert_int_equal(hits[0].doc_id, want_docs[rows[i]]);
        for (size_t a = 0; a < nh; a++)
            for (size_t b = a + 1; b < nh; b++) assert_int_not_equal(hits[a].doc_id, hits[b].doc_id);
    }
    idx_dense_index_close(x);
    /* incremental with another chunk size is refused */
    bo.incremental = 1;
    bo.chunk_bytes = 100;
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_ERR_INVALID);
    bo.chunk_bytes = 25;
    assert_int_equal(idx_dense_index_build(index_dir, emb, &bo, NULL, &n), IDX_OK);
    assert_int_equal(n, 0);
    free(want);
    free(got);
    idx_encoder_free(enc);
    idx_embedder_free(emb);
}

static void test_bad_manifest(void **st) {
    (void)st;
    if (!have_model()) skip();
    json_t *man;
    assert_int_equal(idx_manifest_load(index_dir, &man), IDX_OK);
    json_t *part = idx_manifest_part(man, "dense");
    assert_non_null(part);
    json_t *saved = json_deep_copy(part);
    json_object_set_new(part, "file", json_string("../../etc/passwd"));
    assert_int_equal(idx_manifest_save(index_dir, man), IDX_OK);
    idx_dense_index *x;
    assert_int_equal(idx_dense_index_open(index_dir, 0, &x), IDX_ERR_CORRUPT);
    assert_non_null(strstr(idx_errmsg(), "parts.dense.file"));
    json_object_set_new(part, "file", json_string("dense/vectors.vec"));
    json_object_set_new(json_object_get(part, "model"), "dim", json_integer(3));
    assert_int_equal(idx_manifest_save(index_dir, man), IDX_OK);
    assert_int_equal(idx_dense_index_open(index_dir, 0, &x), IDX_ERR_CORRUPT);
    json_object_set_new(json_object_get(man, "parts"), "dense", saved);
    assert_int_equal(idx_manifest_save(index_dir, man), IDX_OK);
    assert_int_equal(idx_dense_index_open(index_dir, 0, &x), IDX_OK);
    idx_dense_index_close(x);
    json_decref(man);
}

static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **st) {
    (void)st;
    const char *bin = getenv("IDX_BIN");
    if (!bin || !have_model()) skip();
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' --model '%s' --rebuild --hnsw --quiet 2>&1", bin, index_dir, MODEL);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "7 documents embedded"));
    snprintf(cmd, sizeof cmd, "'%s' dense-search '%s' -k 3 --json 'Chess chess is a board game for two players' 2>&1",
             bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *hits = json_object_get(j, "hits");
    assert_int_equal(json_array_size(hits), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "d6");
    json_decref(j);
    snprintf(cmd, sizeof cmd, "'%s' dense-search '%s' --hnsw -k 2 'bread flour' 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    /* bad input: usage errors exit 2, failures exit 1 with a message */
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' --model /nonexistent/model --quiet 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "/nonexistent/model"));
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' --model x --provider openai --url http://127.0.0.1:1 --retries 0 --quiet --rebuild 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "127.0.0.1:1"));
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' --model x --provider openai --url http://x --api-key-env IDX_TEST_SURELY_UNSET 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "IDX_TEST_SURELY_UNSET"));
    snprintf(cmd, sizeof cmd, "'%s' embed '%s/nonexistent' --model '%s' --quiet 2>&1", bin, dir, MODEL);
    assert_int_equal(run(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "'%s' dense-search '%s' 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' dense-search '%s' --type x q 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    /* idx retrieve --mode dense|hybrid|sparse over the same index */
    snprintf(cmd, sizeof cmd, "'%s' index-sparse --into '%s' --force --quiet 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    const char *modes[] = {"dense", "hybrid", "hybrid --fusion minmax --weight 0.3", "hybrid --fusion rrf", "sparse"};
    for (int m = 0; m < 5; m++) {
        snprintf(cmd, sizeof cmd, "'%s' retrieve '%s' --mode %s -k 3 --json 'chess board game for two players' 2>&1", bin,
                 index_dir, modes[m]);
        assert_int_equal(run(cmd, out, sizeof out), 0);
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        hits = json_object_get(j, "hits");
        assert_true(json_array_size(hits) >= 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "d6");
        json_decref(j);
    }
    snprintf(cmd, sizeof cmd, "'%s' retrieve '%s' --mode bogus q 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' retrieve '%s' --mode hybrid --weight 2 q 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' retrieve '%s' --mode 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    /* batch into a TREC run */
    char qpath[400], rpath[400];
    snprintf(qpath, sizeof qpath, "%s/q.tsv", dir);
    snprintf(rpath, sizeof rpath, "%s/h.run", dir);
    FILE *qf = fopen(qpath, "w");
    fprintf(qf, "q1\tbread flour\nq2\tstars gas\n");
    fclose(qf);
    snprintf(cmd, sizeof cmd, "'%s' retrieve '%s' --mode hybrid --queries '%s' -k 2 -o '%s' 2>&1", bin, index_dir, qpath, rpath);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "cat '%s'", rpath);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "q1 Q0 d3 1 "));
    assert_non_null(strstr(out, "q2 Q0 d4 1 "));
    /* the old part is still intact after the failed rebuilds */
    snprintf(cmd, sizeof cmd, "'%s' dense-search '%s' -k 1 'stars' 2>&1", bin, index_dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
}

static int setup(void **st) {
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/idx_test_dense_index_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(index_dir, sizeof index_dir, "%s/index", dir);
    return idx_mkdirs(index_dir) == IDX_OK ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    idx_rmtree(dir);
    return 0;
}

int main(void) {
    if (!have_model()) {
        fprintf(stderr, "skipped: the tiny test model %s is absent\n", MODEL);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_search_incremental),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_bad_manifest),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
