/*
 * test_bert.c -- the BERT-family encoder against the reference outputs of
 * scripts/make_tiny_bert.py (tests/encoder/data): golden tokenizations of
 * hard strings (vocab.txt and tokenizer.json), embeddings (cosine >= 0.9999
 * per sentence, over several batch sizes and thread counts), cross-encoder
 * logits (|diff| <= 1e-4), and one bad model directory per loader failure.
 */
#include "../idx_test.h"

#include <math.h>
#include <pthread.h>

#include "idx_encoder.h"

#define DATA IDX_SOURCE_DIR "/tests/encoder/data"

static json_t *expected(void) {
    json_error_t jerr;
    json_t *j = json_load_file(DATA "/expected.json", JSON_ALLOW_NUL, &jerr);
    if (!j) fail_msg("expected.json: %s", jerr.text);
    return j;
}

static idx_encoder *load(const char *dir, const idx_encoder_opts *o) {
    idx_encoder *e = NULL;
    idx_err rc = idx_encoder_load(dir, o, &e);
    if (rc) fail_msg("load %s: %s", dir, idx_errmsg());
    return e;
}

static double cosine(const float *a, const double *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) { ab += a[i] * b[i]; aa += (double)a[i] * a[i]; bb += b[i] * b[i]; }
    return ab / sqrt(aa * bb);
}

static void check_tokens(const char *model) {
    json_t *ex = expected();
    idx_encoder *e = load(model, NULL);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ex, "tokenize"), i, t) {
        json_t *text = json_object_get(t, "text"), *ids = json_object_get(t, "ids");
        int32_t got[256];
        size_t n;
        assert_int_equal(idx_encoder_tokenize(e, json_string_value(text), json_string_length(text), NULL, 0, got,
                                              256, &n), IDX_OK);
        if (n != json_array_size(ids)) fail_msg("text %zu: %zu tokens, expected %zu", i, n, json_array_size(ids));
        for (size_t k = 0; k < n; k++)
            if (got[k] != json_integer_value(json_array_get(ids, k)))
                fail_msg("text %zu token %zu: got %d (%s), expected %lld", i, k, got[k], idx_encoder_token(e, got[k]),
                         json_integer_value(json_array_get(ids, k)));
    }
    json_array_foreach(json_object_get(ex, "tokenize_pairs"), i, t) {
        json_t *a = json_object_get(t, "a"), *b = json_object_get(t, "b"), *ids = json_object_get(t, "ids");
        int32_t got[256];
        size_t n;
        assert_int_equal(idx_encoder_tokenize(e, json_string_value(a), json_string_length(a), json_string_value(b),
                                              json_string_length(b), got, 256, &n), IDX_OK);
        assert_int_equal(n, json_array_size(ids));
        for (size_t k = 0; k < n; k++) assert_int_equal(got[k], json_integer_value(json_array_get(ids, k)));
    }
    idx_encoder_free(e);
    json_decref(ex);
}

static void test_tokenize_vocab_txt(void **s) { (void)s; check_tokens(DATA "/tiny-st"); }
static void test_tokenize_tokenizer_json(void **s) { (void)s; check_tokens(DATA "/tiny-cls"); }

static void check_embed(const char *name, int threads, size_t batch, int query) {
    json_t *ex = expected();
    json_t *m = json_object_get(json_object_get(ex, "models"), name);
    json_t *texts = json_object_get(m, "texts");
    json_t *embs = json_object_get(m, query ? "query_embeddings" : "embeddings");
    size_t n = json_array_size(texts);
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    o.threads = threads;
    o.batch_size = batch;
    if (query) o.query_prefix = json_string_value(json_object_get(m, "query_prefix"));
    char dir[512];
    snprintf(dir, sizeof dir, DATA "/%s", name);
    idx_encoder *e = load(dir, &o);
    size_t dim = idx_encoder_dim(e);
    assert_int_equal(dim, 32);
    const char **tx = calloc(n, sizeof *tx);
    size_t *lens = calloc(n, sizeof *lens);
    float *out = calloc(n * dim, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        tx[i] = json_string_value(json_array_get(texts, i));
        lens[i] = json_string_length(json_array_get(texts, i));
    }
    assert_int_equal(idx_encoder_embed(e, tx, lens, n, query, out), IDX_OK);
    for (size_t i = 0; i < n; i++) {
        double ref[32];
        json_t *row = json_array_get(embs, i);
        assert_int_equal(json_array_size(row), dim);
        for (size_t k = 0; k < dim; k++) ref[k] = json_number_value(json_array_get(row, k));
        double c = cosine(out + i * dim, ref, dim);
        if (c < 0.9999) fail_msg("%s text %zu: cosine %.6f < 0.9999", name, i, c);
        assert_int_equal(idx_encoder_normalized(e), strstr(idx_encoder_name(e), ":norm") != NULL);
        if (idx_encoder_normalized(e)) { /* normalised: same vector, not just same direction */
            for (size_t k = 0; k < dim; k++) assert_true(fabs(out[i * dim + k] - ref[k]) < 1e-4);
        }
    }
    free(tx);
    free(lens);
    free(out);
    idx_encoder_free(e);
    json_decref(ex);
}

static void test_embed_st(void **s) {
    (void)s;
    check_embed("tiny-st", 1, 32, 0);
    check_embed("tiny-st", 1, 1, 0);
    check_embed("tiny-st", 2, 3, 0);
    check_embed("tiny-st", 2, 4, 1);
}
static void test_embed_cls_f16(void **s) {
    (void)s;
    check_embed("tiny-cls", 1, 32, 0);
    check_embed("tiny-cls", 2, 2, 0);
}

static void test_cross_encoder(void **s) {
    (void)s;
    json_t *ex = expected();
    json_t *m = json_object_get(json_object_get(ex, "models"), "tiny-cross");
    json_t *pairs = json_object_get(m, "pairs"), *logits = json_object_get(m, "logits");
    size_t n = json_array_size(pairs);
    for (int threads = 1; threads <= 2; threads++) {
        idx_encoder_opts o;
        idx_encoder_opts_init(&o);
        o.threads = threads;
        o.batch_size = (size_t)threads;
        idx_encoder *e = load(DATA "/tiny-cross", &o);
        assert_int_equal(idx_encoder_num_labels(e), 1);
        const char *q[16], *p[16];
        float out[16];
        for (size_t i = 0; i < n; i++) {
            q[i] = json_string_value(json_array_get(json_array_get(pairs, i), 0));
            p[i] = json_string_value(json_array_get(json_array_get(pairs, i), 1));
        }
        assert_int_equal(idx_encoder_score_pairs(e, q, p, n, out), IDX_OK);
        for (size_t i = 0; i < n; i++) {
            double ref = json_number_value(json_array_get(json_array_get(logits, i), 0));
            if (fabs(out[i] - ref) > 1e-4) fail_msg("pair %zu: logit %.6f, expected %.6f", i, out[i], ref);
        }
        idx_encoder_free(e);
    }
    /* a bi-encoder has no classification head */
    idx_encoder *b = load(DATA "/tiny-st", NULL);
    const char *q = "a", *p = "b";
    float x;
    assert_int_equal(idx_encoder_score_pairs(b, &q, &p, 1, &x), IDX_ERR_UNSUPPORTED);
    idx_encoder_free(b);
    json_decref(ex);
}

/* XLM-RoBERTa cross-encoder (bge-reranker layout) with a Unigram tokenizer.json. */
static void test_xlmr_cross_encoder(void **s) {
    (void)s;
    json_t *ex = expected();
    idx_encoder *e = load(DATA "/tiny-xlmr-cross", NULL);
    assert_non_null(strstr(idx_encoder_name(e), "xlmr:"));
    assert_int_equal(idx_encoder_max_seq_len(e), 64);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ex, "tokenize_unigram"), i, t) {
        json_t *text = json_object_get(t, "text"), *ids = json_object_get(t, "ids");
        int32_t got[256];
        size_t n;
        assert_int_equal(idx_encoder_tokenize(e, json_string_value(text), json_string_length(text), NULL, 0, got,
                                              256, &n), IDX_OK);
        if (n != json_array_size(ids)) fail_msg("text %zu: %zu tokens, expected %zu", i, n, json_array_size(ids));
        for (size_t k = 0; k < n; k++)
            if (got[k] != json_integer_value(json_array_get(ids, k)))
                fail_msg("text %zu token %zu: got %d (%s), expected %lld", i, k, got[k], idx_encoder_token(e, got[k]),
                         json_integer_value(json_array_get(ids, k)));
    }
    json_t *m = json_object_get(json_object_get(ex, "models"), "tiny-xlmr-cross");
    json_t *pairs = json_object_get(m, "pairs"), *logits = json_object_get(m, "logits");
    size_t n = json_array_size(pairs);
    const char *q[16], *p[16];
    float out[16];
    for (i = 0; i < n; i++) {
        q[i] = json_string_value(json_array_get(json_array_get(pairs, i), 0));
        p[i] = json_string_value(json_array_get(json_array_get(pairs, i), 1));
        json_t *ids = json_array_get(json_object_get(m, "ids"), i);
        int32_t got[256];
        size_t k;
        assert_int_equal(idx_encoder_tokenize(e, q[i], strlen(q[i]), p[i], strlen(p[i]), got, 256, &k), IDX_OK);
        assert_int_equal(k, json_array_size(ids));
        for (size_t j = 0; j < k; j++) assert_int_equal(got[j], json_integer_value(json_array_get(ids, j)));
    }
    assert_int_equal(idx_encoder_score_pairs(e, q, p, n, out), IDX_OK);
    for (i = 0; i < n; i++) {
        double ref = json_number_value(json_array_get(json_array_get(logits, i), 0));
        if (fabs(out[i] - ref) > 1e-4) fail_msg("pair %zu: logit %.6f, expected %.6f", i, out[i], ref);
    }
    idx_encoder_free(e);
    /* a RoBERTa directory without tokenizer.json */
    char *d = t_tmpdir();
    assert_int_equal(t_sh("cp -r '%s/tiny-xlmr-cross/.' '%s/' && rm '%s/tokenizer.json'", DATA, d, d), 0);
    idx_encoder *bad = NULL;
    assert_int_equal(idx_encoder_load(d, NULL, &bad), IDX_ERR_NOT_FOUND);
    assert_non_null(strstr(idx_errmsg(), "tokenizer.json"));
    idx_rmtree(d);
    free(d);
    json_decref(ex);
}

/* Over-long input is truncated to max_seq_len (same as its first tokens);
 * the empty string embeds [CLS][SEP]; NULL lens means NUL-terminated. */
static void test_long_and_empty(void **s) {
    (void)s;
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    o.max_seq_len = 16;
    idx_encoder *e = load(DATA "/tiny-st", &o);
    assert_int_equal(idx_encoder_max_seq_len(e), 16);
    size_t big = 1 << 20;
    char *longtext = malloc(big + 1);
    for (size_t i = 0; i < big; i++) longtext[i] = "hello world "[i % 12];
    longtext[big] = 0;
    const char *t[3] = {longtext, "hello world hello world hello world hello world hello world hello world "
                                  "hello world hello",
                        ""};
    float out[3 * 32];
    assert_int_equal(idx_encoder_embed(e, t, NULL, 3, 0, out), IDX_OK);
    int32_t ids[64];
    size_t n;
    assert_int_equal(idx_encoder_tokenize(e, longtext, big, NULL, 0, ids, 64, &n), IDX_OK);
    assert_int_equal(n, 16);
    for (size_t k = 0; k < 32; k++) assert_true(fabs(out[k] - out[32 + k]) < 1e-6);
    double norm = 0;
    for (size_t k = 0; k < 32; k++) norm += out[64 + k] * out[64 + k];
    assert_true(fabs(norm - 1.0) < 1e-4);
    /* invalid UTF-8 bytes are dropped like U+FFFD (never a crash) */
    int32_t a[16], b[16];
    size_t na, nb;
    assert_int_equal(idx_encoder_tokenize(e, "\xff\xfehello \xc3(world\xe2\x82", 17, NULL, 0, a, 16, &na), IDX_OK);
    assert_int_equal(idx_encoder_tokenize(e, "hello (world", 12, NULL, 0, b, 16, &nb), IDX_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(int32_t));
    free(longtext);
    idx_encoder_free(e);
}

/* ---- bad model directories ---- */

static char *copy_model(const char *name) {
    char *d = t_tmpdir();
    assert_int_equal(t_sh("cp -r '%s/%s/.' '%s/'", DATA, name, d), 0);
    return d;
}

static void expect_load_error(const char *dir, idx_err code, const char *needle) {
    idx_encoder *e = NULL;
    idx_err rc = idx_encoder_load(dir, NULL, &e);
    assert_null(e);
    if (rc != code || !strstr(idx_errmsg(), needle))
        fail_msg("expected %s containing '%s', got %s: %s", idx_strerror(code), needle, idx_strerror(rc),
                 idx_errmsg());
}

/* Rewrites dir/model.safetensors with tensor `name` given a new dtype or shape. */
static void mutate_header(const char *dir, const char *name, const char *dtype, json_t *shape) {
    char *p = t_path(dir, "model.safetensors");
    idx_buf b = {0};
    assert_int_equal(idx_read_file(p, 0, &b), IDX_OK);
    uint64_t hl;
    memcpy(&hl, b.data, 8);
    json_t *h = json_loadb(b.data + 8, hl, 0, NULL);
    assert_non_null(h);
    json_t *t = json_object_get(h, name);
    assert_non_null(t);
    if (dtype) json_object_set_new(t, "dtype", json_string(dtype));
    if (shape) json_object_set_new(t, "shape", shape);
    char *nh = json_dumps(h, JSON_COMPACT);
    uint64_t nl = strlen(nh);
    FILE *f = fopen(p, "wb");
    fwrite(&nl, 8, 1, f);
    fwrite(nh, 1, nl, f);
    fwrite(b.data + 8 + hl, 1, b.len - 8 - hl, f);
    fclose(f);
    free(nh);
    json_decref(h);
    idx_buf_free(&b);
    free(p);
}

static void test_bad_models(void **s) {
    (void)s;
    char *d;
    /* not a directory / nothing recognisable */
    expect_load_error("/nonexistent/model", IDX_ERR_NOT_FOUND, "/nonexistent/model");
    d = t_tmpdir();
    expect_load_error(d, IDX_ERR_NOT_FOUND, "config.json");
    idx_rmtree(d); free(d);
    /* missing weights */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("rm '%s/model.safetensors'", d), 0);
    expect_load_error(d, IDX_ERR_NOT_FOUND, "model.safetensors");
    idx_rmtree(d); free(d);
    /* missing vocabulary */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("rm '%s/vocab.txt'", d), 0);
    expect_load_error(d, IDX_ERR_NOT_FOUND, "vocab.txt");
    idx_rmtree(d); free(d);
    /* config.json malformed / missing a field */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("printf '{\"hidden_size\": 32,' > '%s/config.json'", d), 0);
    expect_load_error(d, IDX_ERR_PARSE, "config.json");
    assert_int_equal(t_sh("printf '{\"hidden_size\": 32}' > '%s/config.json'", d), 0);
    expect_load_error(d, IDX_ERR_PARSE, "num_hidden_layers");
    assert_int_equal(t_sh("printf '{\"model_type\": \"t5\"}' > '%s/config.json'", d), 0);
    expect_load_error(d, IDX_ERR_UNSUPPORTED, "t5");
    idx_rmtree(d); free(d);
    /* a tensor of the wrong shape (same byte count) */
    d = copy_model("tiny-st");
    mutate_header(d, "embeddings.position_embeddings.weight", NULL, json_pack("[ii]", 32, 64));
    expect_load_error(d, IDX_ERR_CORRUPT, "embeddings.position_embeddings.weight' has shape [32,64], expected [64,32]");
    idx_rmtree(d); free(d);
    /* shape inconsistent with the bytes */
    d = copy_model("tiny-st");
    mutate_header(d, "embeddings.LayerNorm.bias", NULL, json_pack("[i]", 33));
    expect_load_error(d, IDX_ERR_CORRUPT, "embeddings.LayerNorm.bias");
    idx_rmtree(d); free(d);
    /* a tensor of the wrong type */
    d = copy_model("tiny-st");
    mutate_header(d, "embeddings.LayerNorm.bias", "I32", NULL);
    expect_load_error(d, IDX_ERR_UNSUPPORTED, "dtype I32");
    idx_rmtree(d); free(d);
    /* a missing tensor */
    d = copy_model("tiny-st");
    mutate_header(d, "encoder.layer.1.output.dense.bias", NULL, NULL);
    {
        char *p = t_path(d, "model.safetensors");
        idx_buf b = {0};
        assert_int_equal(idx_read_file(p, 0, &b), IDX_OK);
        char *k = memmem(b.data, b.len, "encoder.layer.1.output.dense.bias", 33);
        assert_non_null(k);
        k[0] = 'X'; /* rename the tensor */
        t_write(p, b.data, b.len);
        idx_buf_free(&b);
        free(p);
    }
    expect_load_error(d, IDX_ERR_NOT_FOUND, "missing tensor 'encoder.layer.1.output.dense.bias'");
    idx_rmtree(d); free(d);
    /* truncated header, header length past the end, truncated data */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("head -c 5 '%s/model.safetensors' > '%s/x' && mv '%s/x' '%s/model.safetensors'", d, d, d, d),
                     0);
    expect_load_error(d, IDX_ERR_CORRUPT, "truncated safetensors header");
    idx_rmtree(d); free(d);
    d = copy_model("tiny-st");
    {
        char *p = t_path(d, "model.safetensors");
        idx_buf b = {0};
        assert_int_equal(idx_read_file(p, 0, &b), IDX_OK);
        uint64_t huge = (uint64_t)1 << 40;
        memcpy(b.data, &huge, 8);
        t_write(p, b.data, b.len);
        idx_buf_free(&b);
        free(p);
    }
    expect_load_error(d, IDX_ERR_CORRUPT, "points past the end of the file");
    idx_rmtree(d); free(d);
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("head -c 50000 '%s/model.safetensors' > '%s/x' && mv '%s/x' '%s/model.safetensors'", d, d, d,
                          d), 0);
    expect_load_error(d, IDX_ERR_CORRUPT, "past the data area");
    idx_rmtree(d); free(d);
    /* a vocabulary larger than the embedding matrix */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("for i in 1 2 3; do echo extra$i >> '%s/vocab.txt'; done", d), 0);
    expect_load_error(d, IDX_ERR_CORRUPT, "vocab.txt: vocabulary has");
    idx_rmtree(d); free(d);
    /* a vocabulary without [CLS] */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("sed -i 's/^\\[CLS\\]$/[XLS]/' '%s/vocab.txt'", d), 0);
    expect_load_error(d, IDX_ERR_CORRUPT, "[CLS]");
    idx_rmtree(d); free(d);
    /* unsupported pooling */
    d = copy_model("tiny-st");
    assert_int_equal(t_sh("printf '{\"pooling_mode_max_tokens\": true}' > '%s/1_Pooling/config.json'", d), 0);
    expect_load_error(d, IDX_ERR_UNSUPPORTED, "pooling");
    idx_rmtree(d); free(d);
}

/* Concurrent calls on one handle give the same results as a lone call. */
typedef struct {
    idx_encoder *e;
    const char **t;
    size_t n;
    float *out;
    idx_err rc;
} conc_arg;
static void *conc_run(void *p) {
    conc_arg *a = p;
    for (int r = 0; r < 20 && !a->rc; r++) a->rc = idx_encoder_embed(a->e, a->t, NULL, a->n, 0, a->out);
    return NULL;
}
static void test_concurrent_calls(void **s) {
    (void)s;
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    o.threads = 2;
    o.batch_size = 2;
    idx_encoder *e = load(DATA "/tiny-st", &o);
    const char *t[5] = {"hello world", "the quick brown fox", "", "unaffable", "dense retrieval index"};
    float ref[5 * 32];
    assert_int_equal(idx_encoder_embed(e, t, NULL, 5, 0, ref), IDX_OK);
    pthread_t th[3];
    conc_arg a[3];
    float out[3][5 * 32];
    for (int i = 0; i < 3; i++) {
        a[i] = (conc_arg){e, t, 5, out[i], IDX_OK};
        assert_int_equal(pthread_create(&th[i], NULL, conc_run, &a[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].rc, IDX_OK);
        assert_memory_equal(out[i], ref, sizeof ref);
    }
    idx_encoder_free(e);
}

/* End to end: idx encode / score-pairs print what the library computes. */
static void test_cli(void **s) {
    (void)s;
    char *d = t_tmpdir();
    json_t *ex = expected();
    json_t *m = json_object_get(json_object_get(ex, "models"), "tiny-st");
    assert_int_equal(t_sh("printf 'Hello, World!\\nunaffable playing played players\\n' > '%s/in.txt'", d), 0);
    assert_int_equal(t_sh("'%s' encode '%s/tiny-st' --threads 2 < '%s/in.txt' > '%s/out.jsonl'", t_idx_bin(), DATA, d, d),
                     0);
    char *op = t_path(d, "out.jsonl");
    FILE *f = fopen(op, "r");
    assert_non_null(f);
    size_t row[2] = {0, 6}; /* indexes of these texts in expected.json */
    for (int i = 0; i < 2; i++) {
        json_error_t jerr;
        char line[65536];
        assert_non_null(fgets(line, sizeof line, f));
        json_t *a = json_loads(line, 0, &jerr);
        assert_non_null(a);
        json_t *ref = json_array_get(json_object_get(m, "embeddings"), row[i]);
        assert_int_equal(json_array_size(a), 32);
        for (size_t k = 0; k < 32; k++)
            assert_true(fabs(json_number_value(json_array_get(a, k)) - json_number_value(json_array_get(ref, k))) < 1e-5);
        json_decref(a);
    }
    fclose(f);
    free(op);
    /* pairs */
    assert_int_equal(t_sh("printf 'protein study\\tresults show that the protein is not in the cell.\\n' | "
                          "'%s' score-pairs '%s/tiny-cross' > '%s/logits.txt'", t_idx_bin(), DATA, d), 0);
    op = t_path(d, "logits.txt");
    idx_buf b = {0};
    assert_int_equal(idx_read_file(op, 0, &b), IDX_OK);
    double ref = json_number_value(json_array_get(json_array_get(
        json_object_get(json_object_get(json_object_get(ex, "models"), "tiny-cross"), "logits"), 1), 0));
    assert_true(fabs(strtod(b.data, NULL) - ref) < 1e-4);
    idx_buf_free(&b);
    free(op);
    /* errors: bad model -> 1, usage -> 2, pairs without a tab -> 1, bi-encoder pairs -> 1 */
    assert_int_equal(t_sh("'%s' encode /nonexistent < /dev/null 2>/dev/null", t_idx_bin()), 1);
    assert_int_equal(t_sh("'%s' encode 2>/dev/null", t_idx_bin()), 2);
    assert_int_equal(t_sh("'%s' encode '%s/tiny-st' --pooling max 2>/dev/null", t_idx_bin(), DATA), 2);
    assert_int_equal(t_sh("echo notab | '%s' score-pairs '%s/tiny-cross' 2>/dev/null", t_idx_bin(), DATA), 1);
    assert_int_equal(t_sh("printf 'a\\tb\\n' | '%s' score-pairs '%s/tiny-st' 2>/dev/null", t_idx_bin(), DATA), 1);
    json_decref(ex);
    idx_rmtree(d);
    free(d);
}

int main(void) {
    t_require_file(DATA "/expected.json");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_vocab_txt), cmocka_unit_test(test_tokenize_tokenizer_json),
        cmocka_unit_test(test_embed_st),           cmocka_unit_test(test_embed_cls_f16),
        cmocka_unit_test(test_cross_encoder),      cmocka_unit_test(test_long_and_empty),
        cmocka_unit_test(test_bad_models),         cmocka_unit_test(test_cli),
        cmocka_unit_test(test_concurrent_calls),   cmocka_unit_test(test_xlmr_cross_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
