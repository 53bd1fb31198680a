/*
 * fuse.c -- hybrid retrieval: merging ranked candidate lists (e.g. BM25 and
 * dense) into one ranking, either by reciprocal rank fusion (Cormack, Clarke
 * & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
 * Rank Learning Methods", SIGIR 2009), which needs only ranks, or by a
 * weighted sum of per-list normalised scores (min-max or z-score), which
 * keeps score gaps. O(total candidates * log) per call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "idx_dense.h"

typedef struct {
    uint64_t doc;
    double score;
    size_t list; /* for de-duplication inside one list */
    size_t pos;
} item;

static int by_doc(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    if (x->list != y->list) return x->list < y->list ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int by_score(const void *a, const void *b) {
    const idx_fuse_cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->doc_id < y->doc_id ? -1 : x->doc_id > y->doc_id;
}

/* Gathers all (doc, contribution) items; contribution computed by fn. */
typedef double (*contrib_fn)(const idx_fuse_cand *l, size_t len, size_t pos, size_t list, void *ud);

static idx_err fuse(const idx_fuse_cand *const *lists, const size_t *lens, size_t nlists,
                    contrib_fn fn, void *ud, const double *missing, idx_fuse_cand *out, size_t cap,
                    size_t *n_out) {
    *n_out = 0;
    size_t total = 0;
    for (size_t l = 0; l < nlists; l++) {
        if (lens[l] && !lists[l]) return idx_fail(IDX_ERR_INVALID, "fusion list %zu is NULL", l);
        if (__builtin_add_overflow(total, lens[l], &total)) return idx_fail(IDX_ERR_LIMIT, "too many candidates");
    }
    if (total == 0) return IDX_OK;
    item *it;
    size_t bytes;
    if (idx_mul_overflow(total, sizeof *it, &bytes)) return idx_fail(IDX_ERR_LIMIT, "too many candidates");
    idx_err e = idx_xmalloc(bytes, &it);
    if (e) return e;
    size_t n = 0;
    for (size_t l = 0; l < nlists; l++)
        for (size_t i = 0; i < lens[l]; i++) {
            if (!isfinite(lists[l][i].score)) {
                free(it);
                return idx_fail(IDX_ERR_INVALID, "fusion list %zu: candidate %zu has a non-finite score", l, i);
            }
            it[n++] = (item){lists[l][i].doc_id, fn(lists[l], lens[l], i, l, ud), l, i};
        }
    qsort(it, n, sizeof *it, by_doc);
    idx_fuse_cand *res;
    if ((e = idx_xmalloc(n * sizeof *res, &res))) {
        free(it);
        return e;
    }
    size_t m = 0;
    unsigned char *seen = calloc(nlists ? nlists : 1, 1);
    if (!seen) {
        free(it);
        free(res);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double s = 0;
        memset(seen, 0, nlists);
        while (j < n && it[j].doc == it[i].doc) {
            /* first occurrence in each list = its best rank (lists are in rank order) */
            if (!seen[it[j].list]) {
                seen[it[j].list] = 1;
                s += it[j].score;
            }
            j++;
        }
        if (missing)
            for (size_t l = 0; l < nlists; l++)
                if (!seen[l]) s += missing[l];
        res[m++] = (idx_fuse_cand){it[i].doc, s};
        i = j;
    }
    qsort(res, m, sizeof *res, by_score);
    if (m > cap) m = cap;
    if (m) memcpy(out, res, m * sizeof *res);
    *n_out = m;
    free(seen);
    free(it);
    free(res);
    return IDX_OK;
}

static double rrf_contrib(const idx_fuse_cand *l, size_t len, size_t pos, size_t list, void *ud) {
    (void)l; (void)len; (void)list;
    return 1.0 / (*(double *)ud + (double)(pos + 1));
}

idx_err idx_fuse_rrf(const idx_fuse_cand *const *lists, const size_t *lens, size_t nlists, double k,
                     idx_fuse_cand *out, size_t cap, size_t *n_out) {
    if (k == 0) k = 60;
    if (!(k > 0) || !isfinite(k)) return idx_fail(IDX_ERR_INVALID, "RRF k must be positive");
    return fuse(lists, lens, nlists, rrf_contrib, &k, NULL, out, cap, n_out);
}

typedef struct {
    double *a, *b; /* per list: norm(s) = (s - a) * b */
    const double *w;
} norm_ctx;

static double norm_contrib(const idx_fuse_cand *l, size_t len, size_t pos, size_t list, void *ud) {
    (void)len;
    norm_ctx *c = ud;
    return c->w[list] * (l[pos].score - c->a[list]) * c->b[list];
}

idx_err idx_fuse_score(const idx_fuse_cand *const *lists, const size_t *lens, size_t nlists,
                       const double *weights, idx_fuse_norm norm, idx_fuse_cand *out, size_t cap,
                       size_t *n_out) {
    if (norm != IDX_FUSE_MINMAX && norm != IDX_FUSE_ZSCORE)
        return idx_fail(IDX_ERR_INVALID, "unknown normalisation %d", (int)norm);
    size_t nl = nlists ? nlists : 1;
    double *buf = calloc(4 * nl, sizeof(double));
    if (!buf) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    norm_ctx c = {buf, buf + nl, NULL};
    double *w = buf + 2 * nl, *missing = buf + 3 * nl;
    for (size_t l = 0; l < nlists; l++) {
        w[l] = weights ? weights[l] : 1.0;
        if (!isfinite(w[l])) {
            free(buf);
            return idx_fail(IDX_ERR_INVALID, "fusion weight %zu is not finite", l);
        }
        c.a[l] = 0;
        c.b[l] = 0;
        missing[l] = 0;
        if (lens[l] == 0 || !lists[l]) continue;
        if (norm == IDX_FUSE_MINMAX) {
            double mn = INFINITY, mx = -INFINITY;
            for (size_t i = 0; i < lens[l]; i++) {
                double s = lists[l][i].score;
                if (s < mn) mn = s;
                if (s > mx) mx = s;
            }
            if (mx > mn) {
                c.a[l] = mn;
                c.b[l] = 1.0 / (mx - mn);
            } else {
                /* all equal: every listed document gets 1 */
                c.a[l] = mn - 1.0;
                c.b[l] = 1.0;
            }
            missing[l] = 0;
        } else {
            double mean = 0, var = 0;
            for (size_t i = 0; i < lens[l]; i++) mean += lists[l][i].score;
            mean /= (double)lens[l];
            double mn = INFINITY;
            for (size_t i = 0; i < lens[l]; i++) {
                double d = lists[l][i].score - mean;
                var += d * d;
                if (lists[l][i].score < mn) mn = lists[l][i].score;
            }
            double sd = sqrt(var / (double)lens[l]);
            if (sd > 0) {
                c.a[l] = mean;
                c.b[l] = 1.0 / sd;
                missing[l] = w[l] * (mn - mean) * c.b[l];
            } else {
                /* all scores equal (e.g. one candidate): listed 1, missing 0, as min-max */
                c.a[l] = mn - 1.0;
                c.b[l] = 1.0;
                missing[l] = 0;
            }
        }
    }
    c.w = w;
    idx_err e = fuse(lists, lens, nlists, norm_contrib, &c, missing, out, cap, n_out);
    free(buf);
    return e;
}
