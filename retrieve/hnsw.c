/*
 * hnsw.c -- approximate top-k by inner product with a Hierarchical Navigable
 * Small World graph (Malkov & Yashunin 2016, arXiv:1603.09320): greedy
 * descent through sparse upper layers, then a best-first beam search of
 * width ef on layer 0. Construction follows the paper's Algorithm 1 with the
 * neighbour-selection heuristic (Algorithm 4, as in hnswlib), M links per node
 * on upper layers and 2M on layer 0, levels drawn with a seeded generator so
 * that a given store and parameters always give the same graph.
 *
 * The graph stores only links; vectors are read from the store (float32
 * directly, int8 stores are dequantised into memory once at open/build).
 *
 * File format: common section file, magic "IDXHNSW1", version 1, sections:
 *   "meta"   64 bytes: u32 M, u32 ef_construction, u32 ef_search, u32 max_level,
 *            u64 rows, u64 entry (row of the entry point), u64 seed,
 *            u64 upper_count (u32 words in "upper"), 16 bytes zero
 *   "level"  rows u8: the top layer of each node
 *   "link0"  rows * (2M + 1) u32: per node, the neighbour count then 2M slots
 *   "upoff"  (rows + 1) u64: start of each node's upper-layer block in "upper"
 *   "upper"  u32 words: for node i, layers 1..level[i], each (M + 1) u32
 *            (count then M slots); upoff[i+1] - upoff[i] = level[i] * (M + 1)
 * Every count and neighbour id is checked against M and rows at open.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dense_internal.h"

#define HNSW_MAGIC "IDXHNSW1"
#define HNSW_VERSION 1u
#define MAX_LEVEL 32

struct idx_hnsw {
    uint32_t M, M0, efc, efs, max_level;
    uint64_t rows, seed;
    uint32_t dim;
    uint32_t entry;
    const float *vec;  /* rows * dim */
    float *own_vec;    /* when the store is int8 */
    const idx_dense *store;
    uint8_t *level;
    uint32_t *link0;   /* rows * (M0 + 1) */
    uint64_t *upoff;   /* rows + 1 */
    uint32_t *upper;
    size_t upper_cap;
    idx_file *file;    /* when loaded: arrays above point into it */
    /* pool of visited-tag arrays for concurrent searches */
    pthread_mutex_t mu;
    struct visited **pool;
    size_t npool, cap_pool;
};

typedef struct visited {
    uint32_t *tag;
    uint32_t epoch;
} visited;

/* ------------------------------------------------------------------------ */
/* Small heaps of (similarity, id)                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    float s;
    uint32_t id;
} node;

typedef struct {
    node *a;
    size_t n, cap;
    int max; /* 1: root is the largest similarity; 0: root is the smallest */
} pq;

static inline int pq_before(const pq *q, node x, node y) {
    return q->max ? (x.s > y.s || (x.s == y.s && x.id < y.id)) : (x.s < y.s || (x.s == y.s && x.id > y.id));
}

static int pq_push(pq *q, float s, uint32_t id) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        node *a = realloc(q->a, nc * sizeof *a);
        if (!a) return -1;
        q->a = a;
        q->cap = nc;
    }
    size_t i = q->n++;
    q->a[i] = (node){s, id};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!pq_before(q, q->a[i], q->a[p])) break;
        node t = q->a[i]; q->a[i] = q->a[p]; q->a[p] = t;
        i = p;
    }
    return 0;
}

static node pq_pop(pq *q) {
    node top = q->a[0];
    q->a[0] = q->a[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && pq_before(q, q->a[l], q->a[m])) m = l;
        if (r < q->n && pq_before(q, q->a[r], q->a[m])) m = r;
        if (m == i) break;
        node t = q->a[i]; q->a[i] = q->a[m]; q->a[m] = t;
        i = m;
    }
    return top;
}

/* ------------------------------------------------------------------------ */
/* Graph access                                                               */
/* ------------------------------------------------------------------------ */

static inline uint32_t *links(const idx_hnsw *h, uint32_t id, uint32_t layer) {
    if (layer == 0) return h->link0 + (size_t)id * (h->M0 + 1);
    return h->upper + h->upoff[id] + (size_t)(layer - 1) * (h->M + 1);
}

static inline float sim(const idx_hnsw *h, const float *q, uint32_t id) {
    return idx_dense_dot(q, h->vec + (size_t)id * h->dim, h->dim);
}

static visited *visited_get(idx_hnsw *h) {
    visited *v = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->npool) v = h->pool[--h->npool];
    pthread_mutex_unlock(&h->mu);
    if (!v) {
        v = calloc(1, sizeof *v);
        if (!v) return NULL;
        v->tag = calloc(h->rows ? h->rows : 1, sizeof(uint32_t));
        if (!v->tag) {
            free(v);
            return NULL;
        }
    }
    if (++v->epoch == 0) {
        memset(v->tag, 0, h->rows * sizeof(uint32_t));
        v->epoch = 1;
    }
    return v;
}

static void visited_put(idx_hnsw *h, visited *v) {
    pthread_mutex_lock(&h->mu);
    if (h->npool == h->cap_pool) {
        size_t nc = h->cap_pool ? h->cap_pool * 2 : 4;
        visited **p = realloc(h->pool, nc * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&h->mu);
            free(v->tag);
            free(v);
            return;
        }
        h->pool = p;
        h->cap_pool = nc;
    }
    h->pool[h->npool++] = v;
    pthread_mutex_unlock(&h->mu);
}

/* Greedy walk on one layer towards q starting from *ep. */
static void greedy(const idx_hnsw *h, const float *q, uint32_t layer, uint32_t *ep, float *eps) {
    int changed = 1;
    while (changed) {
        changed = 0;
        uint32_t *l = links(h, *ep, layer);
        for (uint32_t i = 1; i <= l[0]; i++) {
            float s = sim(h, q, l[i]);
            if (s > *eps) {
                *eps = s;
                *ep = l[i];
                changed = 1;
            }
        }
    }
}

/* Beam search of width ef on one layer from ep; leaves the best <= ef nodes
 * in res (a min-heap: root = worst). */
static int search_layer(const idx_hnsw *h, const float *q, uint32_t ep, float eps, uint32_t ef,
                        uint32_t layer, visited *v, pq *cand, pq *res) {
    cand->n = res->n = 0;
    cand->max = 1;
    res->max = 0;
    v->tag[ep] = v->epoch;
    if (pq_push(cand, eps, ep) || pq_push(res, eps, ep)) return -1;
    while (cand->n) {
        node c = pq_pop(cand);
        if (res->n >= ef && c.s < res->a[0].s) break;
        uint32_t *l = links(h, c.id, layer);
        uint32_t cnt = l[0];
        for (uint32_t i = 1; i <= cnt; i++) {
            uint32_t nb = l[i];
            if (v->tag[nb] == v->epoch) continue;
            v->tag[nb] = v->epoch;
            if (i < cnt) __builtin_prefetch(h->vec + (size_t)l[i + 1] * h->dim);
            float s = sim(h, q, nb);
            if (res->n < ef || s > res->a[0].s) {
                if (pq_push(cand, s, nb) || pq_push(res, s, nb)) return -1;
                if (res->n > ef) pq_pop(res);
            }
        }
    }
    return 0;
}

/* The selection heuristic: from candidates sorted best first, keep c if it
 * is closer to the base than to every kept neighbour; at most m. */
static int node_desc(const void *a, const void *b) {
    const node *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static size_t select_heuristic(const idx_hnsw *h, node *c, size_t n, uint32_t m, uint32_t *out) {
    qsort(c, n, sizeof *c, node_desc);
    size_t k = 0;
    for (size_t i = 0; i < n && k < m; i++) {
        const float *cv = h->vec + (size_t)c[i].id * h->dim;
        int good = 1;
        for (size_t j = 0; j < k; j++)
            if (idx_dense_dot(cv, h->vec + (size_t)out[j] * h->dim, h->dim) > c[i].s) {
                good = 0;
                break;
            }
        if (good) out[k++] = c[i].id;
    }
    return k;
}

/* ------------------------------------------------------------------------ */
/* Build                                                                      */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static idx_hnsw *hnsw_alloc(void) {
    idx_hnsw *h = calloc(1, sizeof *h);
    if (h) pthread_mutex_init(&h->mu, NULL);
    return h;
}

void idx_hnsw_free(idx_hnsw *h) {
    if (!h) return;
    for (size_t i = 0; i < h->npool; i++) {
        free(h->pool[i]->tag);
        free(h->pool[i]);
    }
    free(h->pool);
    pthread_mutex_destroy(&h->mu);
    if (h->file) idx_file_close(h->file);
    else {
        free(h->level);
        free(h->link0);
        free(h->upoff);
        free(h->upper);
    }
    free(h->own_vec);
    free(h);
}

static idx_err attach_vectors(idx_hnsw *h, const idx_dense *d) {
    h->store = d;
    h->dim = idx_dense_dim(d);
    h->vec = idx_dense_f32_matrix(d);
    if (h->vec) return IDX_OK;
    size_t bytes;
    if (idx_mul_overflow((size_t)h->rows, (size_t)h->dim * sizeof(float), &bytes))
        return idx_fail(IDX_ERR_LIMIT, "store too large");
    idx_err e = idx_xmalloc(bytes, &h->own_vec);
    if (e) return e;
    for (uint64_t r = 0; r < h->rows; r++) idx_dense_get(d, r, h->own_vec + r * h->dim);
    h->vec = h->own_vec;
    return IDX_OK;
}

/* Adds `id` to the links of nb on layer lc, shrinking with the heuristic when full. */
static int connect_back(idx_hnsw *h, uint32_t nb, uint32_t id, uint32_t lc, node *scratch, uint32_t *sel) {
    uint32_t mmax = lc ? h->M : h->M0;
    uint32_t *l = links(h, nb, lc);
    for (uint32_t i = 1; i <= l[0]; i++)
        if (l[i] == id) return 0;
    if (l[0] < mmax) {
        l[++l[0]] = id;
        return 0;
    }
    const float *nv = h->vec + (size_t)nb * h->dim;
    size_t n = 0;
    for (uint32_t i = 1; i <= l[0]; i++) scratch[n++] = (node){sim(h, nv, l[i]), l[i]};
    scratch[n++] = (node){sim(h, nv, id), id};
    size_t k = select_heuristic(h, scratch, n, mmax, sel);
    l[0] = (uint32_t)k;
    memcpy(l + 1, sel, k * sizeof(uint32_t));
    return 0;
}

idx_err idx_hnsw_build(const idx_dense *d, const idx_hnsw_params *p, idx_progress *progress,
                       idx_hnsw **out) {
    uint64_t rows = idx_dense_rows(d);
    if (rows == 0) return idx_fail(IDX_ERR_EMPTY, "cannot build HNSW over an empty vector store");
    if (rows >= UINT32_MAX) return idx_fail(IDX_ERR_LIMIT, "HNSW supports fewer than 2^32 rows");
    idx_hnsw *h = hnsw_alloc();
    if (!h) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    h->M = p && p->M ? p->M : 16;
    h->efc = p && p->ef_construction ? p->ef_construction : 200;
    h->efs = p && p->ef_search ? p->ef_search : 64;
    h->seed = p && p->seed ? p->seed : 42;
    idx_err e = IDX_OK;
    if (h->M < 2 || h->M > 256) {
        e = idx_fail(IDX_ERR_INVALID, "HNSW M must be in 2..256 (got %u)", h->M);
        goto fail;
    }
    if (h->efc < h->M) h->efc = h->M;
    h->M0 = 2 * h->M;
    h->rows = rows;
    if ((e = attach_vectors(h, d))) goto fail;
    h->level = calloc(rows, 1);
    h->link0 = calloc(rows * (h->M0 + 1), sizeof(uint32_t));
    h->upoff = calloc(rows + 1, sizeof(uint64_t));
    if (!h->level || !h->link0 || !h->upoff) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the HNSW graph");
        goto fail;
    }
    /* Levels first (seeded), so upper-layer blocks can be laid out at once. */
    double ml = 1.0 / log((double)h->M);
    uint64_t st = h->seed;
    for (uint64_t i = 0; i < rows; i++) {
        double u = ((double)(splitmix(&st) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
        double lv = floor(-log(u) * ml);
        h->level[i] = (uint8_t)(lv > MAX_LEVEL ? MAX_LEVEL : lv);
        h->upoff[i + 1] = h->upoff[i] + (uint64_t)h->level[i] * (h->M + 1);
    }
    h->upper = calloc(h->upoff[rows] ? h->upoff[rows] : 1, sizeof(uint32_t));
    node *scratch = malloc((h->efc + h->M0 + 2) * sizeof(node));
    uint32_t *sel = malloc((h->efc + h->M0 + 2) * sizeof(uint32_t));
    pq cand = {0}, res = {0};
    visited *v = NULL;
    if (!h->upper || !scratch || !sel || !(v = visited_get(h))) {
        free(scratch);
        free(sel);
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the HNSW graph");
        goto fail;
    }
    h->entry = 0;
    h->max_level = h->level[0];
    for (uint64_t i = 1; i < rows && !e; i++) {
        uint32_t id = (uint32_t)i, L = h->level[i];
        const float *q = h->vec + i * h->dim;
        uint32_t ep = h->entry;
        float eps = sim(h, q, ep);
        for (uint32_t lc = h->max_level; lc > L; lc--) greedy(h, q, lc, &ep, &eps);
        for (int lc = (int)(L < h->max_level ? L : h->max_level); lc >= 0; lc--) {
            if (++v->epoch == 0) {
                memset(v->tag, 0, rows * sizeof(uint32_t));
                v->epoch = 1;
            }
            if (search_layer(h, q, ep, eps, h->efc, (uint32_t)lc, v, &cand, &res)) {
                e = idx_fail(IDX_ERR_NOMEM, "out of memory in HNSW build");
                break;
            }
            /* best of this layer is the next entry point */
            size_t n = res.n;
            memcpy(scratch, res.a, n * sizeof(node));
            for (size_t t = 0; t < n; t++)
                if (scratch[t].s > eps || (scratch[t].s == eps && scratch[t].id < ep)) {
                    eps = scratch[t].s;
                    ep = scratch[t].id;
                }
            size_t k = select_heuristic(h, scratch, n, h->M, sel);
            uint32_t *l = links(h, id, (uint32_t)lc);
            l[0] = (uint32_t)k;
            memcpy(l + 1, sel, k * sizeof(uint32_t));
            uint32_t nbs[257];
            memcpy(nbs, sel, k * sizeof(uint32_t));
            for (size_t t = 0; t < k; t++) connect_back(h, nbs[t], id, (uint32_t)lc, scratch, sel);
        }
        if (L > h->max_level) {
            h->max_level = L;
            h->entry = id;
        }
        if (progress && (i & 255) == 0)
            e = idx_progress_tick(progress, "hnsw", i, rows, "vectors", 0);
    }
    if (!e && progress) e = idx_progress_tick(progress, "hnsw", rows, rows, "vectors", 1);
    free(scratch);
    free(sel);
    free(cand.a);
    free(res.a);
    visited_put(h, v);
    if (e) goto fail;
    *out = h;
    return IDX_OK;
fail:
    idx_hnsw_free(h);
    return e;
}

void idx_hnsw_get_params(const idx_hnsw *h, idx_hnsw_params *p) {
    p->M = h->M;
    p->ef_construction = h->efc;
    p->ef_search = h->efs;
    p->seed = h->seed;
}

/* ------------------------------------------------------------------------ */
/* Search                                                                     */
/* ------------------------------------------------------------------------ */

idx_err idx_hnsw_search(const idx_hnsw *hc, const float *query, size_t k, uint32_t ef,
                        idx_dense_hit *out) {
    idx_hnsw *h = (idx_hnsw *)hc; /* only the visited pool is mutated, under its mutex */
    if (k == 0) return idx_fail(IDX_ERR_INVALID, "k must be at least 1");
    for (size_t i = 0; i < k; i++) out[i] = (idx_dense_hit){UINT64_MAX, UINT64_MAX, -INFINITY};
    if (ef == 0) ef = h->efs;
    if (ef < k) ef = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
    visited *v = visited_get(h);
    if (!v) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    uint32_t ep = h->entry;
    float eps = sim(h, query, ep);
    for (uint32_t lc = h->max_level; lc > 0; lc--) greedy(h, query, lc, &ep, &eps);
    pq cand = {0}, res = {0};
    idx_err e = IDX_OK;
    if (search_layer(h, query, ep, eps, ef, 0, v, &cand, &res)) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    visited_put(h, v);
    if (!e) {
        qsort(res.a, res.n, sizeof(node), node_desc);
        size_t m = res.n < k ? res.n : k;
        for (size_t i = 0; i < m; i++)
            out[i] = (idx_dense_hit){res.a[i].id, idx_dense_row_doc(h->store, res.a[i].id), res.a[i].s};
    }
    free(cand.a);
    free(res.a);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Save / open                                                                */
/* ------------------------------------------------------------------------ */

idx_err idx_hnsw_save(const idx_hnsw *h, const char *path) {
    idx_file_writer *w;
    idx_err e = idx_file_create(path, HNSW_MAGIC, HNSW_VERSION, &w);
    if (e) return e;
    unsigned char meta[64] = {0};
    uint64_t entry = h->entry, upc = h->upoff[h->rows];
    memcpy(meta, &h->M, 4);
    memcpy(meta + 4, &h->efc, 4);
    memcpy(meta + 8, &h->efs, 4);
    memcpy(meta + 12, &h->max_level, 4);
    memcpy(meta + 16, &h->rows, 8);
    memcpy(meta + 24, &entry, 8);
    memcpy(meta + 32, &h->seed, 8);
    memcpy(meta + 40, &upc, 8);
    if ((e = idx_file_put_section(w, "meta", meta, sizeof meta)) ||
        (e = idx_file_put_section(w, "level", h->level, h->rows)) ||
        (e = idx_file_put_section(w, "link0", h->link0, h->rows * (h->M0 + 1) * sizeof(uint32_t))) ||
        (e = idx_file_put_section(w, "upoff", h->upoff, (h->rows + 1) * sizeof(uint64_t))) ||
        (e = idx_file_put_section(w, "upper", h->upper, upc * sizeof(uint32_t)))) {
        idx_file_abort(w);
        return e;
    }
    return idx_file_commit(w);
}

static idx_err bad(const char *path, const char *sec, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section %s: %s", path, sec, what);
}

idx_err idx_hnsw_open(const char *path, const idx_dense *d, unsigned flags, idx_hnsw **out) {
    idx_file *f;
    idx_err e = idx_file_open(path, HNSW_MAGIC, HNSW_VERSION, flags, &f);
    if (e) return e;
    idx_hnsw *h = hnsw_alloc();
    if (!h) {
        idx_file_close(f);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    h->file = f;
    const void *p;
    uint64_t sz, entry, upc;
    if ((e = idx_file_section(f, "meta", &p, &sz))) goto fail;
    if (sz != 64) { e = bad(path, "meta", "size is not 64 bytes"); goto fail; }
    memcpy(&h->M, p, 4);
    memcpy(&h->efc, (const char *)p + 4, 4);
    memcpy(&h->efs, (const char *)p + 8, 4);
    memcpy(&h->max_level, (const char *)p + 12, 4);
    memcpy(&h->rows, (const char *)p + 16, 8);
    memcpy(&entry, (const char *)p + 24, 8);
    memcpy(&h->seed, (const char *)p + 32, 8);
    memcpy(&upc, (const char *)p + 40, 8);
    if (h->M < 2 || h->M > 256) { e = bad(path, "meta", "M out of range"); goto fail; }
    h->M0 = 2 * h->M;
    if (h->rows != idx_dense_rows(d)) { e = bad(path, "meta", "row count differs from the vector store"); goto fail; }
    if (h->rows == 0 || entry >= h->rows || h->max_level > MAX_LEVEL) { e = bad(path, "meta", "entry point or level out of range"); goto fail; }
    h->entry = (uint32_t)entry;
    if ((e = idx_file_section(f, "level", &p, &sz))) goto fail;
    if (sz != h->rows) { e = bad(path, "level", "size does not match rows"); goto fail; }
    h->level = (uint8_t *)p;
    if ((e = idx_file_section(f, "link0", &p, &sz))) goto fail;
    if (sz / 4 / (h->M0 + 1) != h->rows || sz != h->rows * (h->M0 + 1) * 4) { e = bad(path, "link0", "size does not match rows"); goto fail; }
    h->link0 = (uint32_t *)p;
    if ((e = idx_file_section(f, "upoff", &p, &sz))) goto fail;
    if (sz != (h->rows + 1) * 8) { e = bad(path, "upoff", "size does not match rows"); goto fail; }
    h->upoff = (uint64_t *)p;
    if ((e = idx_file_section(f, "upper", &p, &sz))) goto fail;
    if (sz != upc * 4 || upc > idx_file_size(f)) { e = bad(path, "upper", "size does not match the recorded count"); goto fail; }
    h->upper = (uint32_t *)p;
    /* Validate structure: levels, offsets, counts and ids. */
    if (h->upoff[0] != 0 || h->upoff[h->rows] != upc) { e = bad(path, "upoff", "offsets do not span the upper links"); goto fail; }
    if (h->level[entry] != h->max_level) { e = bad(path, "level", "entry point is not on the top layer"); goto fail; }
    for (uint64_t i = 0; i < h->rows; i++) {
        if (h->level[i] > h->max_level) { e = bad(path, "level", "node level above the top layer"); goto fail; }
        if (h->upoff[i + 1] < h->upoff[i] || h->upoff[i + 1] - h->upoff[i] != (uint64_t)h->level[i] * (h->M + 1)) {
            e = bad(path, "upoff", "offsets inconsistent with levels");
            goto fail;
        }
        const uint32_t *l = h->link0 + i * (h->M0 + 1);
        if (l[0] > h->M0) { e = bad(path, "link0", "neighbour count above 2M"); goto fail; }
        for (uint32_t j = 1; j <= l[0]; j++)
            if (l[j] >= h->rows) { e = bad(path, "link0", "neighbour id out of range"); goto fail; }
        for (uint32_t lc = 1; lc <= h->level[i]; lc++) {
            const uint32_t *u = links(h, (uint32_t)i, lc);
            if (u[0] > h->M) { e = bad(path, "upper", "neighbour count above M"); goto fail; }
            for (uint32_t j = 1; j <= u[0]; j++)
                if (u[j] >= h->rows || h->level[u[j]] < lc) { e = bad(path, "upper", "neighbour id out of range or not on the layer"); goto fail; }
        }
    }
    if ((e = attach_vectors(h, d))) goto fail;
    *out = h;
    return IDX_OK;
fail:
    idx_hnsw_free(h);
    return e;
}
