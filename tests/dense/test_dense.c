/*
 * test_dense.c -- the vector store and its searches against plain loops:
 * flat top-k (scan and blocked sgemm, 1 and several threads, tiny blocks)
 * equals a naive double-precision loop; int8 stores stay within the
 * quantisation tolerance of float; HNSW reaches high recall on random data
 * and survives a save/open round trip; loaders reject truncated, corrupted
 * and inconsistent files; fusion matches hand-computed RRF and min-max /
 * z-score sums.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include <cmocka.h>

#include "idx_dense.h"

static char tmpdir[256];

static uint64_t rng_state = 12345;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float nrand(void) {
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

static float *random_vecs(size_t n, uint32_t dim, int normalize) {
    float *v = malloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n * dim; i++) v[i] = nrand();
    if (normalize) idx_dense_normalize(v, n, dim);
    return v;
}

static void assert_hits_equal(const idx_dense_hit *a, const idx_dense_hit *b, size_t k) {
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(a[i].row, b[i].row);
        assert_int_equal(a[i].doc_id, b[i].doc_id);
        assert_true(a[i].score == b[i].score || (isinf(a[i].score) && isinf(b[i].score)));
    }
}

static char *path_of(const char *name) {
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
    return buf[i];
}

static void write_store(const char *path, const float *v, size_t n, uint32_t dim, idx_dense_type t) {
    idx_dense_writer *w;
    assert_int_equal(idx_dense_writer_new(dim, &w), IDX_OK);
    uint64_t *docs = malloc(n * sizeof *docs);
    for (size_t i = 0; i < n; i++) docs[i] = 1000 + i / 2; /* two rows per document */
    /* add in two pieces to exercise growth */
    assert_int_equal(idx_dense_writer_add(w, v, n / 3, docs), IDX_OK);
    assert_int_equal(idx_dense_writer_add(w, v + (n / 3) * dim, n - n / 3, docs + n / 3), IDX_OK);
    assert_int_equal(idx_dense_writer_rows(w), n);
    assert_int_equal(idx_dense_writer_commit(w, path, t), IDX_OK);
    idx_dense_writer_free(w);
    free(docs);
}

/* Naive exact top-k in double precision over decoded rows. */
static void naive_topk(const idx_dense *d, const float *q, size_t k, uint64_t *rows, double *scores) {
    uint64_t n = idx_dense_rows(d);
    uint32_t dim = idx_dense_dim(d);
    float *x = malloc(dim * sizeof(float));
    for (size_t i = 0; i < k; i++) { rows[i] = UINT64_MAX; scores[i] = -INFINITY; }
    for (uint64_t r = 0; r < n; r++) {
        idx_dense_get(d, r, x);
        double s = 0;
        for (uint32_t j = 0; j < dim; j++) s += (double)q[j] * x[j];
        /* insertion into sorted list */
        size_t p = k;
        while (p > 0 && s > scores[p - 1]) p--;
        if (p < k) {
            memmove(rows + p + 1, rows + p, (k - p - 1) * sizeof *rows);
            memmove(scores + p + 1, scores + p, (k - p - 1) * sizeof *scores);
            rows[p] = r;
            scores[p] = s;
        }
    }
    free(x);
}

/* Results must match the naive ranking; where float rounding may swap two
 * nearly-equal scores, the scores must agree within tol. */
static void check_against_naive(const idx_dense *d, const float *q, size_t nq, size_t k,
                                const idx_dense_hit *hits) {
    uint64_t *rows = malloc(k * sizeof *rows);
    double *sc = malloc(k * sizeof *sc);
    size_t kk = k < idx_dense_rows(d) ? k : idx_dense_rows(d);
    for (size_t qi = 0; qi < nq; qi++) {
        naive_topk(d, q + qi * idx_dense_dim(d), k, rows, sc);
        for (size_t i = 0; i < k; i++) {
            const idx_dense_hit *h = &hits[qi * k + i];
            if (i >= kk) {
                assert_true(h->row == UINT64_MAX);
                continue;
            }
            assert_true(fabs(h->score - sc[i]) < 1e-4);
            if (h->row != rows[i]) assert_true(fabs(sc[i] - (i + 1 < kk ? sc[i + 1] : sc[i])) < 1e-4 || fabs(sc[i] - sc[i ? i - 1 : 0]) < 1e-4);
            assert_int_equal(h->doc_id, idx_dense_row_doc(d, h->row));
            if (i) assert_true(hits[qi * k + i - 1].score >= h->score);
        }
    }
    free(rows);
    free(sc);
}

static void test_flat_exact(void **st) {
    (void)st;
    const uint32_t dims[] = {1, 7, 64, 100};
    const size_t ns[] = {1, 5, 333, 1000};
    const idx_dense_type types[] = {IDX_DENSE_F32, IDX_DENSE_I8_PER_DIM, IDX_DENSE_I8_PER_VEC};
    for (size_t di = 0; di < 4; di++)
        for (size_t ni = 0; ni < 4; ni++)
            for (size_t ti = 0; ti < 3; ti++) {
                uint32_t dim = dims[di];
                size_t n = ns[ni], nq = 9, k = 10;
                float *v = random_vecs(n, dim, 0), *q = random_vecs(nq, dim, 0);
                const char *p = path_of("flat.vec");
                write_store(p, v, n, dim, types[ti]);
                idx_dense *d;
                assert_int_equal(idx_dense_open(p, IDX_FILE_VERIFY, &d), IDX_OK);
                assert_int_equal(idx_dense_rows(d), n);
                assert_int_equal(idx_dense_dim(d), dim);
                idx_dense_hit *hits = malloc(nq * k * sizeof *hits);
                for (int threads = 1; threads <= 3; threads++)
                    for (int mode = 0; mode < 3; mode++) {
                        idx_dense_search_opts o = {threads, mode == 2 ? 7 : 0, mode == 1};
                        assert_int_equal(idx_dense_search(d, q, nq, k, &o, hits), IDX_OK);
                        check_against_naive(d, q, nq, k, hits);
                        /* single query = scan path */
                        assert_int_equal(idx_dense_search(d, q + dim, 1, k, &o, hits), IDX_OK);
                        check_against_naive(d, q + dim, 1, k, hits);
                    }
                if (types[ti] == IDX_DENSE_F32) {
                    float *x = malloc(dim * sizeof(float));
                    assert_int_equal(idx_dense_get(d, n - 1, x), IDX_OK);
                    assert_memory_equal(x, v + (n - 1) * dim, dim * sizeof(float));
                    free(x);
                }
                free(hits);
                idx_dense_close(d);
                free(v);
                free(q);
            }
}

static void test_int8_tolerance(void **st) {
    (void)st;
    uint32_t dim = 128;
    size_t n = 2000, nq = 20, k = 10;
    float *v = random_vecs(n, dim, 1), *q = random_vecs(nq, dim, 1);
    write_store(path_of("f.vec"), v, n, dim, IDX_DENSE_F32);
    idx_dense *df;
    assert_int_equal(idx_dense_open(path_of("f.vec"), 0, &df), IDX_OK);
    idx_dense_hit *hf = malloc(nq * k * sizeof *hf), *hq = malloc(nq * k * sizeof *hq);
    assert_int_equal(idx_dense_search(df, q, nq, k, NULL, hf), IDX_OK);
    for (int t = 1; t <= 2; t++) {
        write_store(path_of("q.vec"), v, n, dim, (idx_dense_type)t);
        idx_dense *dq;
        assert_int_equal(idx_dense_open(path_of("q.vec"), IDX_FILE_VERIFY, &dq), IDX_OK);
        assert_int_equal(idx_dense_get_type(dq), t);
        /* every component within half a quantisation step */
        float *x = malloc(dim * sizeof(float));
        for (size_t r = 0; r < n; r += 97) {
            idx_dense_get(dq, r, x);
            float mx = 0;
            for (uint32_t j = 0; j < dim; j++) mx = fmaxf(mx, fabsf(v[r * dim + j]));
            for (uint32_t j = 0; j < dim; j++) {
                float tol = t == 2 ? mx / 127.f * 0.5001f : 0.05f;
                assert_true(fabsf(x[j] - v[r * dim + j]) <= tol);
            }
        }
        free(x);
        assert_int_equal(idx_dense_search(dq, q, nq, k, NULL, hq), IDX_OK);
        size_t overlap = 0;
        for (size_t qi = 0; qi < nq; qi++) {
            for (size_t i = 0; i < k; i++)
                for (size_t j = 0; j < k; j++)
                    if (hq[qi * k + i].row == hf[qi * k + j].row) {
                        overlap++;
                        /* cosine on unit vectors: int8 error well under 0.02 */
                        assert_true(fabsf(hq[qi * k + i].score - hf[qi * k + j].score) < 0.02f);
                    }
        }
        assert_true(overlap >= nq * k * 8 / 10);
        idx_dense_close(dq);
    }
    idx_dense_close(df);
    free(hf); free(hq); free(v); free(q);
}

static void test_hnsw_recall(void **st) {
    (void)st;
    uint32_t dim = 32;
    size_t n = 5000, nq = 100, k = 10;
    float *v = random_vecs(n, dim, 1), *q = random_vecs(nq, dim, 1);
    for (int t = 0; t <= 1; t++) {
        write_store(path_of("h.vec"), v, n, dim, t ? IDX_DENSE_I8_PER_DIM : IDX_DENSE_F32);
        idx_dense *d;
        assert_int_equal(idx_dense_open(path_of("h.vec"), 0, &d), IDX_OK);
        idx_hnsw_params p = {12, 100, 100, 7};
        idx_hnsw *h;
        assert_int_equal(idx_hnsw_build(d, &p, NULL, &h), IDX_OK);
        idx_dense_hit *ex = malloc(nq * k * sizeof *ex), *ap = malloc(k * sizeof *ap),
                      *ap2 = malloc(k * sizeof *ap2);
        assert_int_equal(idx_dense_search(d, q, nq, k, NULL, ex), IDX_OK);
        assert_int_equal(idx_hnsw_save(h, path_of("h.hnsw")), IDX_OK);
        idx_hnsw *h2;
        assert_int_equal(idx_hnsw_open(path_of("h.hnsw"), d, IDX_FILE_VERIFY, &h2), IDX_OK);
        idx_hnsw_params p2;
        idx_hnsw_get_params(h2, &p2);
        assert_int_equal(p2.M, 12);
        assert_int_equal(p2.ef_construction, 100);
        assert_int_equal(p2.seed, 7);
        size_t hit = 0;
        for (size_t qi = 0; qi < nq; qi++) {
            assert_int_equal(idx_hnsw_search(h, q + qi * dim, k, 0, ap), IDX_OK);
            assert_int_equal(idx_hnsw_search(h2, q + qi * dim, k, 0, ap2), IDX_OK);
            assert_hits_equal(ap, ap2, k); /* loaded graph answers identically */
            for (size_t i = 0; i < k; i++) {
                assert_int_equal(ap[i].doc_id, idx_dense_row_doc(d, ap[i].row));
                for (size_t j = 0; j < k; j++)
                    if (ap[i].row == ex[qi * k + j].row) hit++;
            }
        }
        double recall = (double)hit / (double)(nq * k);
        print_message("hnsw recall@10 (type %d) = %.3f\n", t, recall);
        assert_true(recall >= 0.95);
        /* deterministic: a second build gives the same answers */
        idx_hnsw *h3;
        assert_int_equal(idx_hnsw_build(d, &p, NULL, &h3), IDX_OK);
        assert_int_equal(idx_hnsw_search(h3, q, k, 0, ap2), IDX_OK);
        assert_int_equal(idx_hnsw_search(h, q, k, 0, ap), IDX_OK);
        assert_hits_equal(ap, ap2, k);
        /* k larger than rows of a tiny store */
        idx_hnsw_free(h); idx_hnsw_free(h2); idx_hnsw_free(h3);
        free(ex); free(ap); free(ap2);
        idx_dense_close(d);
    }
    /* one row */
    write_store(path_of("one.vec"), v, 1, dim, IDX_DENSE_F32);
    idx_dense *d;
    assert_int_equal(idx_dense_open(path_of("one.vec"), 0, &d), IDX_OK);
    idx_hnsw *h;
    assert_int_equal(idx_hnsw_build(d, NULL, NULL, &h), IDX_OK);
    idx_dense_hit out[3];
    assert_int_equal(idx_hnsw_search(h, q, 3, 0, out), IDX_OK);
    assert_int_equal(out[0].row, 0);
    assert_true(out[1].row == UINT64_MAX);
    idx_hnsw_free(h);
    idx_dense_close(d);
    free(v); free(q);
}

/* ---- corrupt and truncated files ---------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* A store file with hand-made sections (to reach the checks behind the checksums). */
static void write_custom(const char *path, uint32_t dim, uint32_t type, uint64_t rows, size_t vec_bytes,
                         size_t scale_count, float scale_val, size_t doc_count) {
    idx_file_writer *w;
    assert_int_equal(idx_file_create(path, "IDXDENS1", 1, &w), IDX_OK);
    unsigned char meta[64] = {0};
    memcpy(meta, &dim, 4);
    memcpy(meta + 4, &type, 4);
    memcpy(meta + 8, &rows, 8);
    assert_int_equal(idx_file_put_section(w, "meta", meta, 64), IDX_OK);
    void *z = calloc(vec_bytes + doc_count * 8 + scale_count * 4 + 1, 1);
    assert_int_equal(idx_file_put_section(w, "vectors", z, vec_bytes), IDX_OK);
    if (scale_count) {
        float *s = z;
        for (size_t i = 0; i < scale_count; i++) s[i] = scale_val;
        assert_int_equal(idx_file_put_section(w, "scales", s, scale_count * 4), IDX_OK);
        memset(z, 0, scale_count * 4);
    }
    assert_int_equal(idx_file_put_section(w, "rows", z, doc_count * 8), IDX_OK);
    assert_int_equal(idx_file_commit(w), IDX_OK);
    free(z);
}

static void expect_corrupt(const char *path, unsigned flags) {
    idx_dense *d = NULL;
    idx_err e = idx_dense_open(path, flags, &d);
    assert_true(e == IDX_ERR_CORRUPT || e == IDX_ERR_VERSION || e == IDX_ERR_IO);
    assert_null(d == NULL ? NULL : d);
    assert_true(strlen(idx_errmsg()) > 0);
}

static void test_store_corrupt(void **st) {
    (void)st;
    uint32_t dim = 16;
    size_t n = 50;
    float *v = random_vecs(n, dim, 0);
    const char *good = path_of("good.vec");
    write_store(good, v, n, dim, IDX_DENSE_I8_PER_VEC);
    size_t len;
    unsigned char *b = read_bytes(good, &len);
    const char *bad = path_of("bad.vec");
    /* truncations at many points */
    for (size_t cut = 0; cut < len; cut += len / 23 + 1) {
        write_bytes(bad, b, cut);
        expect_corrupt(bad, 0);
    }
    /* flipped byte inside a section: caught by verification */
    for (size_t pos = 64; pos < len; pos += len / 17 + 1) {
        b[pos] ^= 0x5a;
        write_bytes(bad, b, len);
        idx_dense *d = NULL;
        idx_err e = idx_dense_open(bad, IDX_FILE_VERIFY, &d);
        if (e == IDX_OK) idx_dense_close(d); /* padding bytes are not covered */
        else assert_true(e == IDX_ERR_CORRUPT);
        b[pos] ^= 0x5a;
    }
    free(b);
    /* valid checksums, inconsistent contents */
    write_custom(bad, 0, 0, 0, 0, 0, 1, 0);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* dim 0 */
    assert_non_null(strstr(idx_errmsg(), "meta"));
    write_custom(bad, 4, 9, 1, 16, 0, 1, 1);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* unknown type */
    write_custom(bad, 4, 0, 2, 16, 0, 1, 2);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* vectors too short */
    assert_non_null(strstr(idx_errmsg(), "vectors"));
    write_custom(bad, 4, 0, UINT64_MAX / 2, 16, 0, 1, 1);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* rows overflow */
    write_custom(bad, 4, 0, 1, 16, 0, 1, 3);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* doc map size */
    assert_non_null(strstr(idx_errmsg(), "rows"));
    write_custom(bad, 4, 1, 1, 4, 3, 1, 1);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* scales count */
    write_custom(bad, 4, 2, 1, 4, 1, NAN, 1);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* NaN scale */
    write_custom(bad, 4, 1, 1, 4, 0, 1, 1);
    expect_corrupt(bad, IDX_FILE_VERIFY); /* missing scales */
    write_custom(bad, 4, 2, 1, 4, 1, 0.5f, 1);
    idx_dense *d;
    assert_int_equal(idx_dense_open(bad, IDX_FILE_VERIFY, &d), IDX_OK); /* and a good one */
    idx_dense_close(d);
    /* wrong kind of file */
    write_bytes(bad, "hello world", 11);
    expect_corrupt(bad, 0);
    free(v);
}

static void test_hnsw_corrupt(void **st) {
    (void)st;
    uint32_t dim = 8;
    size_t n = 300;
    float *v = random_vecs(n, dim, 1);
    write_store(path_of("hc.vec"), v, n, dim, IDX_DENSE_F32);
    idx_dense *d;
    assert_int_equal(idx_dense_open(path_of("hc.vec"), 0, &d), IDX_OK);
    idx_hnsw *h;
    idx_hnsw_params p = {4, 20, 20, 3};
    assert_int_equal(idx_hnsw_build(d, &p, NULL, &h), IDX_OK);
    const char *hp = path_of("hc.hnsw");
    assert_int_equal(idx_hnsw_save(h, hp), IDX_OK);
    idx_hnsw_free(h);
    size_t len;
    unsigned char *b = read_bytes(hp, &len);
    const char *bad = path_of("bad.hnsw");
    for (size_t cut = 0; cut < len; cut += len / 19 + 1) {
        write_bytes(bad, b, cut);
        assert_int_not_equal(idx_hnsw_open(bad, d, 0, &h), IDX_OK);
    }
    /* a graph for another store */
    write_store(path_of("hc2.vec"), v, n - 1, dim, IDX_DENSE_F32);
    idx_dense *d2;
    assert_int_equal(idx_dense_open(path_of("hc2.vec"), 0, &d2), IDX_OK);
    assert_int_equal(idx_hnsw_open(hp, d2, 0, &h), IDX_ERR_CORRUPT);
    assert_non_null(strstr(idx_errmsg(), "row count"));
    idx_dense_close(d2);
    free(b);
    idx_dense_close(d);
    free(v);
}

/* ---- fusion ------------------------------------------------------------ */

static void test_fuse(void **st) {
    (void)st;
    idx_fuse_cand a[] = {{1, 9}, {2, 8}, {3, 7}, {2, 1}};
    idx_fuse_cand b[] = {{3, 0.9}, {4, 0.5}, {1, 0.1}};
    const idx_fuse_cand *lists[] = {a, b};
    size_t lens[] = {4, 3}, n;
    idx_fuse_cand out[10];
    assert_int_equal(idx_fuse_rrf(lists, lens, 2, 60, out, 10, &n), IDX_OK);
    assert_int_equal(n, 4);
    /* doc1: 1/61 + 1/63; doc3: 1/63 + 1/61 (tie -> smaller id first); doc2: 1/62; doc4: 1/62 */
    assert_int_equal(out[0].doc_id, 1);
    assert_int_equal(out[1].doc_id, 3);
    assert_true(fabs(out[0].score - (1.0 / 61 + 1.0 / 63)) < 1e-12);
    assert_int_equal(out[2].doc_id, 2);
    assert_true(fabs(out[2].score - 1.0 / 62) < 1e-12); /* duplicate counts once, best rank */
    assert_int_equal(out[3].doc_id, 4);
    assert_int_equal(idx_fuse_rrf(lists, lens, 2, 0, out, 2, &n), IDX_OK);
    assert_int_equal(n, 2);

    /* min-max with weights: a -> (9,8,7,1) -> (1, .875, .75, 0) ; b -> (1, .5, 0) */
    double w[] = {0.3, 0.7};
    assert_int_equal(idx_fuse_score(lists, lens, 2, w, IDX_FUSE_MINMAX, out, 10, &n), IDX_OK);
    assert_int_equal(n, 4);
    double e1 = 0.3 * 1 + 0.7 * 0, e2 = 0.3 * 0.875, e3 = 0.3 * 0.75 + 0.7 * 1, e4 = 0.7 * 0.5;
    assert_int_equal(out[0].doc_id, 3);
    assert_true(fabs(out[0].score - e3) < 1e-12);
    assert_int_equal(out[1].doc_id, 4);
    assert_true(fabs(out[1].score - e4) < 1e-12);
    assert_int_equal(out[2].doc_id, 1);
    assert_true(fabs(out[2].score - e1) < 1e-12);
    assert_int_equal(out[3].doc_id, 2);
    assert_true(fabs(out[3].score - e2) < 1e-12);

    /* z-score: check doc 4 (absent from a: gets a's minimum z) */
    assert_int_equal(idx_fuse_score(lists, lens, 2, NULL, IDX_FUSE_ZSCORE, out, 10, &n), IDX_OK);
    double ma = (9 + 8 + 7 + 1) / 4.0, sa = sqrt(((9 - ma) * (9 - ma) + (8 - ma) * (8 - ma) + (7 - ma) * (7 - ma) + (1 - ma) * (1 - ma)) / 4);
    double mb = 1.5 / 3, sb = sqrt(((0.9 - mb) * (0.9 - mb) + (0.5 - mb) * (0.5 - mb) + (0.1 - mb) * (0.1 - mb)) / 3);
    double z4 = (1 - ma) / sa + (0.5 - mb) / sb;
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i].doc_id == 4) {
            found = 1;
            assert_true(fabs(out[i].score - z4) < 1e-9);
        }
    assert_true(found);
    /* all-equal list, empty list, bad input */
    idx_fuse_cand c[] = {{5, 2}, {6, 2}};
    const idx_fuse_cand *l2[] = {c, NULL};
    size_t len2[] = {2, 0};
    assert_int_equal(idx_fuse_score(l2, len2, 2, NULL, IDX_FUSE_MINMAX, out, 10, &n), IDX_OK);
    assert_int_equal(n, 2);
    assert_true(fabs(out[0].score - 1) < 1e-12 && out[0].doc_id == 5);
    /* z-score of a one-candidate list: listed 1, missing 0 (BM25 evidence is kept) */
    idx_fuse_cand one[] = {{7, 3.5}};
    idx_fuse_cand two[] = {{8, 0.9}, {7, 0.1}};
    const idx_fuse_cand *l4[] = {one, two};
    size_t len4[] = {1, 2};
    assert_int_equal(idx_fuse_score(l4, len4, 2, NULL, IDX_FUSE_ZSCORE, out, 10, &n), IDX_OK);
    assert_int_equal(n, 2);
    /* doc 8: 0 + z(0.9) = 1; doc 7: 1 + z(0.1) = 0 */
    assert_int_equal(out[0].doc_id, 8);
    assert_true(fabs(out[0].score - 1.0) < 1e-12);
    assert_int_equal(out[1].doc_id, 7);
    assert_true(fabs(out[1].score) < 1e-12);
    idx_fuse_cand nanl[] = {{1, NAN}};
    const idx_fuse_cand *l3[] = {nanl};
    size_t len3[] = {1};
    assert_int_equal(idx_fuse_rrf(l3, len3, 1, 60, out, 10, &n), IDX_ERR_INVALID);
    assert_int_equal(idx_fuse_rrf(l3, len3, 1, -1, out, 10, &n), IDX_ERR_INVALID);
    assert_int_equal(idx_fuse_rrf(NULL, NULL, 0, 60, out, 10, &n), IDX_OK);
    assert_int_equal(n, 0);
}

static int setup(void **st) {
    (void)st;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/idx_test_dense_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_exact),   cmocka_unit_test(test_int8_tolerance),
        cmocka_unit_test(test_hnsw_recall),  cmocka_unit_test(test_store_corrupt),
        cmocka_unit_test(test_hnsw_corrupt), cmocka_unit_test(test_fuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
