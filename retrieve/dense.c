/*
 * dense.c -- the vector store of an index (INDEX/dense/vectors.vec) and exact
 * top-k search over it: a blocked cblas_sgemm over the whole matrix for
 * batches of queries, a dot-product scan for single queries, both feeding a
 * size-k min-heap per query, with the rows split across threads.
 *
 * File format: the common checksummed section file (common/file.c), magic
 * "IDXDENS1", version 1, sections:
 *   "meta"     64 bytes, little-endian:
 *                0  u32 dim          1..65536
 *                4  u32 type         0 float32, 1 int8 per-dim scale, 2 int8 per-vector scale
 *                8  u64 rows         number of vectors
 *                16 u8  reserved[48] zero
 *   "vectors"  rows*dim float32 (type 0) or rows*dim int8 (types 1, 2), row-major
 *   "scales"   float32: dim values (type 1) or rows values (type 2); absent for type 0.
 *              An int8 value q of row i, dimension d stands for q * scale.
 *   "rows"     rows u64: the document id of each row (the chunk -> document map)
 * Quantisation is symmetric: scale = max |x| / 127 over the dimension (type 1)
 * or the vector (type 2), q = round(x / scale) clamped to [-127, 127].
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "dense_internal.h"

#define DENSE_MAGIC "IDXDENS1"
#define DENSE_VERSION 1u

struct idx_dense_writer {
    uint32_t dim;
    float *vecs;
    uint64_t *docs;
    size_t rows, cap;
};

struct idx_dense {
    idx_file *f;
    uint32_t dim;
    idx_dense_type type;
    uint64_t rows;
    const float *vf;   /* type 0 */
    const int8_t *vq;  /* types 1, 2 */
    const float *scales;
    const uint64_t *docs;
};

/* ------------------------------------------------------------------------ */
/* Writer                                                                     */
/* ------------------------------------------------------------------------ */

idx_err idx_dense_writer_new(uint32_t dim, idx_dense_writer **out) {
    if (dim == 0 || dim > IDX_DENSE_MAX_DIM)
        return idx_fail(IDX_ERR_INVALID, "vector dimension %u out of range 1..%u", dim, IDX_DENSE_MAX_DIM);
    idx_dense_writer *w = calloc(1, sizeof *w);
    if (!w) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    w->dim = dim;
    *out = w;
    return IDX_OK;
}

idx_err idx_dense_writer_add(idx_dense_writer *w, const float *vecs, size_t n, const uint64_t *doc_ids) {
    if (n == 0) return IDX_OK;
    size_t total = w->rows + n, bytes;
    if (total < w->rows) return idx_fail(IDX_ERR_LIMIT, "too many vectors");
    for (size_t i = 0; i < n * (size_t)w->dim; i++)
        if (!isfinite(vecs[i]))
            return idx_fail(IDX_ERR_INVALID, "vector %zu has a non-finite value at dimension %zu",
                            w->rows + i / w->dim, i % w->dim);
    if (total > w->cap) {
        size_t nc = w->cap ? w->cap : 1024;
        while (nc < total) nc *= 2;
        if (idx_mul_overflow(nc, (size_t)w->dim * sizeof(float), &bytes))
            return idx_fail(IDX_ERR_LIMIT, "too many vectors");
        idx_err e = idx_xrealloc(&w->vecs, bytes);
        if (e) return e;
        if ((e = idx_xrealloc(&w->docs, nc * sizeof(uint64_t)))) return e;
        w->cap = nc;
    }
    memcpy(w->vecs + w->rows * w->dim, vecs, n * w->dim * sizeof(float));
    memcpy(w->docs + w->rows, doc_ids, n * sizeof(uint64_t));
    w->rows = total;
    return IDX_OK;
}

uint64_t idx_dense_writer_rows(const idx_dense_writer *w) { return w->rows; }

void idx_dense_writer_free(idx_dense_writer *w) {
    if (!w) return;
    free(w->vecs);
    free(w->docs);
    free(w);
}

static int8_t quant(float x, float inv) {
    float q = roundf(x * inv);
    if (q > 127.f) q = 127.f;
    if (q < -127.f) q = -127.f;
    return (int8_t)q;
}

idx_err idx_dense_writer_commit(idx_dense_writer *w, const char *path, idx_dense_type type) {
    if (type != IDX_DENSE_F32 && type != IDX_DENSE_I8_PER_DIM && type != IDX_DENSE_I8_PER_VEC)
        return idx_fail(IDX_ERR_INVALID, "unknown vector type %d", (int)type);
    idx_file_writer *fw;
    idx_err e = idx_file_create(path, DENSE_MAGIC, DENSE_VERSION, &fw);
    if (e) return e;
    unsigned char meta[64] = {0};
    uint32_t t = (uint32_t)type;
    uint64_t rows = w->rows;
    memcpy(meta, &w->dim, 4);
    memcpy(meta + 4, &t, 4);
    memcpy(meta + 8, &rows, 8);
    size_t dim = w->dim;
    float *scales = NULL;
    int8_t *qrow = NULL;
    if ((e = idx_file_put_section(fw, "meta", meta, sizeof meta))) goto fail;
    if (type == IDX_DENSE_F32) {
        if ((e = idx_file_put_section(fw, "vectors", w->vecs, w->rows * dim * sizeof(float)))) goto fail;
    } else {
        size_t ns = type == IDX_DENSE_I8_PER_DIM ? dim : w->rows;
        if ((e = idx_xmalloc(ns * sizeof(float) + 1, &scales))) goto fail;
        if ((e = idx_xmalloc(dim, &qrow))) goto fail;
        for (size_t j = 0; j < ns; j++) scales[j] = 0;
        for (size_t i = 0; i < w->rows; i++)
            for (size_t d = 0; d < dim; d++) {
                float a = fabsf(w->vecs[i * dim + d]);
                size_t j = type == IDX_DENSE_I8_PER_DIM ? d : i;
                if (a > scales[j]) scales[j] = a;
            }
        for (size_t j = 0; j < ns; j++) scales[j] = scales[j] > 0 ? scales[j] / 127.f : 1.f;
        if ((e = idx_file_section_begin(fw, "vectors"))) goto fail;
        for (size_t i = 0; i < w->rows; i++) {
            const float *x = w->vecs + i * dim;
            for (size_t d = 0; d < dim; d++)
                qrow[d] = quant(x[d], 1.f / scales[type == IDX_DENSE_I8_PER_DIM ? d : i]);
            if ((e = idx_file_write(fw, qrow, dim))) goto fail;
        }
        if ((e = idx_file_section_end(fw))) goto fail;
        if ((e = idx_file_put_section(fw, "scales", scales, ns * sizeof(float)))) goto fail;
    }
    if ((e = idx_file_put_section(fw, "rows", w->docs, w->rows * sizeof(uint64_t)))) goto fail;
    free(scales);
    free(qrow);
    return idx_file_commit(fw);
fail:
    free(scales);
    free(qrow);
    idx_file_abort(fw);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                     */
/* ------------------------------------------------------------------------ */

static idx_err corrupt(const char *path, const char *sec, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section %s: %s", path, sec, what);
}

idx_err idx_dense_open(const char *path, unsigned flags, idx_dense **out) {
    idx_file *f;
    idx_err e = idx_file_open(path, DENSE_MAGIC, DENSE_VERSION, flags, &f);
    if (e) return e;
    idx_dense *d = calloc(1, sizeof *d);
    if (!d) {
        idx_file_close(f);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    d->f = f;
    const void *p;
    uint64_t sz;
    if ((e = idx_file_section(f, "meta", &p, &sz))) goto fail;
    if (sz != 64) { e = corrupt(path, "meta", "size is not 64 bytes"); goto fail; }
    uint32_t t;
    memcpy(&d->dim, p, 4);
    memcpy(&t, (const char *)p + 4, 4);
    memcpy(&d->rows, (const char *)p + 8, 8);
    if (d->dim == 0 || d->dim > IDX_DENSE_MAX_DIM) { e = corrupt(path, "meta", "dimension out of range"); goto fail; }
    if (t > 2) { e = corrupt(path, "meta", "unknown vector type"); goto fail; }
    d->type = (idx_dense_type)t;
    /* rows * dim * 4 must not overflow and must equal the section size. */
    uint64_t elem = d->type == IDX_DENSE_F32 ? 4 : 1, need;
    if (__builtin_mul_overflow(d->rows, (uint64_t)d->dim * elem, &need) || need > idx_file_size(f)) {
        e = corrupt(path, "meta", "row count does not fit the file");
        goto fail;
    }
    if ((e = idx_file_section(f, "vectors", &p, &sz))) goto fail;
    if (sz != need) { e = corrupt(path, "vectors", "size does not match rows * dim"); goto fail; }
    if (d->type == IDX_DENSE_F32) d->vf = p;
    else d->vq = p;
    if (d->type != IDX_DENSE_F32) {
        uint64_t ns = d->type == IDX_DENSE_I8_PER_DIM ? d->dim : d->rows;
        if ((e = idx_file_section(f, "scales", &p, &sz))) goto fail;
        if (sz != ns * 4) { e = corrupt(path, "scales", "size does not match"); goto fail; }
        d->scales = p;
        for (uint64_t j = 0; j < ns; j++)
            if (!isfinite(d->scales[j]) || d->scales[j] <= 0) {
                e = corrupt(path, "scales", "scale not positive and finite");
                goto fail;
            }
    }
    if ((e = idx_file_section(f, "rows", &p, &sz))) goto fail;
    if (sz != d->rows * 8) { e = corrupt(path, "rows", "size does not match the row count"); goto fail; }
    d->docs = p;
    *out = d;
    return IDX_OK;
fail:
    idx_dense_close(d);
    return e;
}

void idx_dense_close(idx_dense *d) {
    if (!d) return;
    idx_file_close(d->f);
    free(d);
}

uint64_t idx_dense_rows(const idx_dense *d) { return d->rows; }
uint32_t idx_dense_dim(const idx_dense *d) { return d->dim; }
idx_dense_type idx_dense_get_type(const idx_dense *d) { return d->type; }
uint64_t idx_dense_row_doc(const idx_dense *d, uint64_t row) { return row < d->rows ? d->docs[row] : UINT64_MAX; }

/* Decodes rows [r0, r0+n) into out (n*dim floats). */
static void decode_rows(const idx_dense *d, uint64_t r0, size_t n, float *out) {
    size_t dim = d->dim;
    if (d->type == IDX_DENSE_F32) {
        memcpy(out, d->vf + r0 * dim, n * dim * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const int8_t *q = d->vq + (r0 + i) * dim;
        float *o = out + i * dim;
        if (d->type == IDX_DENSE_I8_PER_DIM)
            for (size_t j = 0; j < dim; j++) o[j] = (float)q[j] * d->scales[j];
        else {
            float s = d->scales[r0 + i];
            for (size_t j = 0; j < dim; j++) o[j] = (float)q[j] * s;
        }
    }
}

idx_err idx_dense_get(const idx_dense *d, uint64_t row, float *out) {
    if (row >= d->rows) return idx_fail(IDX_ERR_INVALID, "row %llu out of range", (unsigned long long)row);
    decode_rows(d, row, 1, out);
    return IDX_OK;
}

void idx_dense_normalize(float *vecs, size_t n, uint32_t dim) {
    for (size_t i = 0; i < n; i++) {
        float *v = vecs + i * dim;
        double s = 0;
        for (uint32_t j = 0; j < dim; j++) s += (double)v[j] * v[j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (uint32_t j = 0; j < dim; j++) v[j] *= inv;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Kernels                                                                    */
/* ------------------------------------------------------------------------ */

typedef float v8f __attribute__((vector_size(32)));
typedef int8_t v8b __attribute__((vector_size(8)));

__attribute__((target_clones("avx512f", "avx2", "default")))
static float dot_f32(const float *a, const float *b, size_t n) {
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v8f a0, a1, a2, a3, b0, b1, b2, b3;
        memcpy(&a0, a + i, 32); memcpy(&b0, b + i, 32);
        memcpy(&a1, a + i + 8, 32); memcpy(&b1, b + i + 8, 32);
        memcpy(&a2, a + i + 16, 32); memcpy(&b2, b + i + 16, 32);
        memcpy(&a3, a + i + 24, 32); memcpy(&b3, b + i + 24, 32);
        s0 += a0 * b0; s1 += a1 * b1; s2 += a2 * b2; s3 += a3 * b3;
    }
    for (; i + 8 <= n; i += 8) {
        v8f a0, b0;
        memcpy(&a0, a + i, 32); memcpy(&b0, b + i, 32);
        s0 += a0 * b0;
    }
    v8f s = (s0 + s1) + (s2 + s3);
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static float dot_f32_i8(const float *a, const int8_t *b, size_t n) {
    v8f s0 = {0}, s1 = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v8f a0, a1;
        v8b q0, q1;
        memcpy(&a0, a + i, 32); memcpy(&a1, a + i + 8, 32);
        memcpy(&q0, b + i, 8); memcpy(&q1, b + i + 8, 8);
        s0 += a0 * __builtin_convertvector(q0, v8f);
        s1 += a1 * __builtin_convertvector(q1, v8f);
    }
    v8f s = s0 + s1;
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) r += a[i] * (float)b[i];
    return r;
}

float idx_dense_dot(const float *a, const float *b, size_t n) { return dot_f32(a, b, n); }
const float *idx_dense_f32_matrix(const idx_dense *d) { return d->type == IDX_DENSE_F32 ? d->vf : NULL; }

/* ------------------------------------------------------------------------ */
/* Top-k heaps                                                                */
/* ------------------------------------------------------------------------ */

/* A min-heap of size k whose root is the worst kept hit. "a worse than b":
 * lower score, or equal score and larger row. */
typedef struct {
    float *score;
    uint64_t *row;
    size_t n, k;
} heap;

static inline int worse(float sa, uint64_t ra, float sb, uint64_t rb) {
    return sa < sb || (sa == sb && ra > rb);
}

static void heap_sift_down(heap *h, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && worse(h->score[l], h->row[l], h->score[m], h->row[m])) m = l;
        if (r < h->n && worse(h->score[r], h->row[r], h->score[m], h->row[m])) m = r;
        if (m == i) return;
        float ts = h->score[i]; h->score[i] = h->score[m]; h->score[m] = ts;
        uint64_t tr = h->row[i]; h->row[i] = h->row[m]; h->row[m] = tr;
        i = m;
    }
}

static inline void heap_push(heap *h, float s, uint64_t row) {
    if (h->n < h->k) {
        size_t i = h->n++;
        h->score[i] = s;
        h->row[i] = row;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(h->score[i], h->row[i], h->score[p], h->row[p])) break;
            float ts = h->score[i]; h->score[i] = h->score[p]; h->score[p] = ts;
            uint64_t tr = h->row[i]; h->row[i] = h->row[p]; h->row[p] = tr;
            i = p;
        }
        return;
    }
    if (!worse(h->score[0], h->row[0], s, row)) return;
    h->score[0] = s;
    h->row[0] = row;
    heap_sift_down(h, 0);
}

static int hit_cmp(const void *a, const void *b) {
    const idx_dense_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* ------------------------------------------------------------------------ */
/* Search                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    const idx_dense *d;
    const float *q;
    size_t nq, k, block;
    uint64_t r0, r1;
    int scan;
    heap *heaps; /* nq heaps over storage below */
    float *hs;
    uint64_t *hr;
    idx_err err;
} job;

static void run_scan(job *j) {
    const idx_dense *d = j->d;
    size_t dim = d->dim;
    float *qs = NULL;
    if (d->type == IDX_DENSE_I8_PER_DIM && idx_xmalloc(dim * sizeof(float), &qs)) {
        j->err = IDX_ERR_NOMEM;
        return;
    }
    for (size_t qi = 0; qi < j->nq; qi++) {
        const float *q = j->q + qi * dim;
        heap *h = &j->heaps[qi];
        if (d->type == IDX_DENSE_F32) {
            for (uint64_t r = j->r0; r < j->r1; r++) {
                float s = dot_f32(q, d->vf + r * dim, dim);
                if (h->n < h->k || s >= h->score[0]) heap_push(h, s, r);
            }
        } else if (d->type == IDX_DENSE_I8_PER_DIM) {
            for (size_t t = 0; t < dim; t++) qs[t] = q[t] * d->scales[t];
            for (uint64_t r = j->r0; r < j->r1; r++) {
                float s = dot_f32_i8(qs, d->vq + r * dim, dim);
                if (h->n < h->k || s >= h->score[0]) heap_push(h, s, r);
            }
        } else {
            for (uint64_t r = j->r0; r < j->r1; r++) {
                float s = d->scales[r] * dot_f32_i8(q, d->vq + r * dim, dim);
                if (h->n < h->k || s >= h->score[0]) heap_push(h, s, r);
            }
        }
    }
    free(qs);
}

#define QBLOCK 1024

static void run_gemm(job *j) {
    const idx_dense *d = j->d;
    size_t dim = d->dim, B = j->block;
    size_t qb = j->nq < QBLOCK ? j->nq : QBLOCK;
    float *c = NULL, *xb = NULL;
    if (idx_xmalloc(qb * B * sizeof(float), &c) ||
        (d->type != IDX_DENSE_F32 && idx_xmalloc(B * dim * sizeof(float), &xb))) {
        free(c);
        j->err = IDX_ERR_NOMEM;
        return;
    }
    for (uint64_t r = j->r0; r < j->r1; r += B) {
        size_t nb = (size_t)(j->r1 - r < B ? j->r1 - r : B);
        const float *x;
        if (d->type == IDX_DENSE_F32) x = d->vf + r * dim;
        else {
            decode_rows(d, r, nb, xb);
            x = xb;
        }
        for (size_t q0 = 0; q0 < j->nq; q0 += qb) {
            size_t nqb = j->nq - q0 < qb ? j->nq - q0 : qb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)nb, (int)dim, 1.f,
                        j->q + q0 * dim, (int)dim, x, (int)dim, 0.f, c, (int)nb);
            for (size_t qi = 0; qi < nqb; qi++) {
                heap *h = &j->heaps[q0 + qi];
                const float *cr = c + qi * nb;
                size_t t = 0;
                for (; h->n < h->k && t < nb; t++) heap_push(h, cr[t], r + t);
                float thr = h->n ? h->score[0] : -INFINITY;
                for (; t < nb; t++)
                    if (cr[t] >= thr) {
                        heap_push(h, cr[t], r + t);
                        thr = h->score[0];
                    }
            }
        }
    }
    free(c);
    free(xb);
}

static void *job_main(void *arg) {
    job *j = arg;
    if (j->scan) run_scan(j);
    else run_gemm(j);
    return NULL;
}

idx_err idx_dense_search(const idx_dense *d, const float *queries, size_t nq, size_t k,
                         const idx_dense_search_opts *opts, idx_dense_hit *out) {
    if (k == 0) return idx_fail(IDX_ERR_INVALID, "k must be at least 1");
    if (nq == 0) return IDX_OK;
    int threads = opts && opts->threads > 1 ? opts->threads : 1;
    if (threads > 256) threads = 256;
    if ((uint64_t)threads > d->rows) threads = d->rows ? (int)d->rows : 1;
    size_t block = opts && opts->block_rows ? opts->block_rows : 4096;
    int scan = nq == 1 || (opts && opts->force_scan);
    size_t kk = k < d->rows ? k : (size_t)d->rows;
    size_t cells;
    if (idx_mul_overflow(nq, k, &cells) || idx_mul_overflow(cells, (size_t)threads, &cells))
        return idx_fail(IDX_ERR_LIMIT, "nq * k too large");
    for (size_t i = 0; i < nq * k; i++) out[i] = (idx_dense_hit){UINT64_MAX, UINT64_MAX, -INFINITY};
    if (kk == 0) return IDX_OK;

    job *jobs = calloc((size_t)threads, sizeof *jobs);
    heap *heaps = calloc(nq * (size_t)threads, sizeof *heaps);
    float *hs = malloc(cells * sizeof(float));
    uint64_t *hr = malloc(cells * sizeof(uint64_t));
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    idx_err e = IDX_OK;
    if (!jobs || !heaps || !hs || !hr || !tid) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for %zu queries x %zu hits", nq, k);
        goto done;
    }
    /* We parallelise over rows ourselves; nested BLAS threads would only
     * oversubscribe the cores. */
    if (!scan && openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    uint64_t per = (d->rows + (uint64_t)threads - 1) / (uint64_t)threads;
    for (int t = 0; t < threads; t++) {
        job *j = &jobs[t];
        j->d = d; j->q = queries; j->nq = nq; j->k = kk; j->block = block; j->scan = scan;
        j->r0 = per * (uint64_t)t;
        j->r1 = j->r0 + per < d->rows ? j->r0 + per : d->rows;
        if (j->r0 > j->r1) j->r0 = j->r1;
        j->heaps = heaps + (size_t)t * nq;
        for (size_t qi = 0; qi < nq; qi++) {
            heap *h = &j->heaps[qi];
            size_t base = ((size_t)t * nq + qi) * k;
            h->score = hs + base;
            h->row = hr + base;
            h->k = kk;
            h->n = 0;
        }
    }
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, job_main, &jobs[t])) jobs[t].err = IDX_ERR_INTERNAL;
    job_main(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (jobs[t].err != IDX_ERR_INTERNAL) pthread_join(tid[t], NULL);
    for (int t = 0; t < threads; t++)
        if (jobs[t].err) {
            e = jobs[t].err == IDX_ERR_NOMEM ? idx_fail(IDX_ERR_NOMEM, "out of memory in dense search")
                                             : idx_fail(IDX_ERR_INTERNAL, "could not start a search thread");
            goto done;
        }
    /* Merge the per-thread heaps of each query. */
    idx_dense_hit *tmp = malloc((size_t)threads * kk * sizeof *tmp);
    if (!tmp) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t qi = 0; qi < nq; qi++) {
        size_t m = 0;
        for (int t = 0; t < threads; t++) {
            heap *h = &heaps[(size_t)t * nq + qi];
            for (size_t i = 0; i < h->n; i++)
                tmp[m++] = (idx_dense_hit){h->row[i], d->docs[h->row[i]], h->score[i]};
        }
        qsort(tmp, m, sizeof *tmp, hit_cmp);
        if (m > kk) m = kk;
        memcpy(out + qi * k, tmp, m * sizeof *tmp);
    }
    free(tmp);
done:
    free(jobs);
    free(heaps);
    free(hs);
    free(hr);
    free(tid);
    return e;
}
