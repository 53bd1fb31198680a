/*
 * ppl.c -- perplexity chunking (Meta-Chunking PPL, METHODS.md 1.2-1.3) over
 * any language model given as a per-byte NLL callback, and a reference
 * infinity-gram model (METHODS.md 6.2-6.3) over an in-memory reference text.
 *
 * PPL chunking: split into sentences; v[i] = mean per-byte NLL (nats) of
 * sentence i's bytes up to its last non-space byte, each byte conditioned on
 * the whole document before it (the model decides how much context it uses);
 * sentence i is a boundary by find_minima (a local minimum whose larger drop
 * is >= theta, or a left drop onto a plateau); the low-PPL sentence closes its
 * chunk. Deviations from the authors' code: bytes instead of tokens (the
 * infinity-gram model works on raw bytes); sentences are never truncated (a
 * long one is cut into pieces that are scored separately); chunks are the
 * original bytes, not sentences re-joined with "".
 *
 * Reference model: the reference documents, each followed by byte 0xFF, are
 * reversed into T and suffix-sorted (libdivsufsort). A suffix s of the context
 * read backwards is a prefix of suffixes of T, so extending s to the left is
 * narrowing an SA interval by one binary search per byte. For byte w after
 * context x: m = the largest length (<= max_context) with cnt(x[-m:] w) > 0,
 * P = cnt(x[-m:] w) / cnt(x[-m:]); m = 0 gives cnt(w) / N; an unseen byte
 * scores ln(N + 1). This is back-off option (a) of METHODS.md 6.3: P is never
 * zero. The reference must not contain the documents being chunked; the model
 * remembers the XXH3 hash of every reference document so callers can refuse
 * one that is (idx_chunk_reflm_contains).
 *
 * Cache model (idx_chunk_cache_nll, around any base model): P = (1 - lambda)
 * P_base + lambda P_cache, where P_cache is the same infinity-gram estimate
 * over the window of the document's own bytes before the scored range (the
 * text a causal LM has in its context; never the scored bytes). It gives an
 * n-gram model the topical memory it otherwise lacks (Kuhn & De Mori's cache
 * LM, 1990).
 */
#include <math.h>
#include <string.h>

#include <divsufsort.h>

#include "chunk_internal.h"

/* ------------------------------------------------------------------------ */
/* Boundary rule                                                              */
/* ------------------------------------------------------------------------ */

void idx_chunk_dyn_free(idx_chunk_dyn *d) {
    if (!d) return;
    free(d->drops);
    memset(d, 0, sizeof *d);
}

static idx_err dyn_record(idx_chunk_dyn *d, double drop, double *theta) {
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 128;
        idx_err e = idx_xrealloc(&d->drops, nc * sizeof *d->drops);
        if (e) return e;
        d->cap = nc;
    }
    d->drops[d->n++] = drop;
    if (d->n >= 100) {
        double m = d->drops[0];
        for (size_t i = 1; i < d->n; i++) if (d->drops[i] < m) m = d->drops[i];
        *theta = m;
    }
    return IDX_OK;
}

idx_err idx_chunk_ppl_minima(const double *v, size_t n, double theta, idx_chunk_dyn *dyn,
                             unsigned char *b) {
    if (n) memset(b, 0, n);
    if (dyn && dyn->n >= 100) {
        double m = dyn->drops[0];
        for (size_t i = 1; i < dyn->n; i++) if (dyn->drops[i] < m) m = dyn->drops[i];
        theta = m;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        double l = v[i - 1] - v[i], r = v[i + 1] - v[i];
        idx_err e;
        if (v[i] < v[i - 1] && v[i] < v[i + 1]) {
            if ((l > r ? l : r) >= theta) {
                b[i] = 1;
                if (dyn && (e = dyn_record(dyn, l < r ? l : r, &theta))) return e;
            }
        } else if (v[i] < v[i - 1] && v[i] == v[i + 1]) {
            if (l >= theta) {
                b[i] = 1;
                if (dyn && (e = dyn_record(dyn, l, &theta))) return e;
            }
        }
    }
    return IDX_OK;
}

idx_err idx_chunk_ppl_rises(const double *v, size_t n, double theta, unsigned char *b) {
    if (n) memset(b, 0, n);
    if (!(theta >= 0)) return idx_fail(IDX_ERR_INVALID, "ppl rise rule: threshold must be >= 0");
    for (size_t i = 1; i + 1 < n; i++)
        if (v[i + 1] > v[i] && v[i + 1] - v[i] >= theta) b[i] = 1;
    return IDX_OK;
}

idx_err idx_chunk_ppl_depth(const double *g, size_t n, double *depth) {
    for (size_t i = 0; i < n; i++) {
        depth[i] = 0;
        if (!isfinite(g[i])) return idx_fail(IDX_ERR_INVALID, "ppl depth: score %zu is not finite", i);
    }
    for (size_t i = 0; i < n; i++) {
        /* a peak: not below either neighbour, strictly above at least one */
        int ge_l = i == 0 || g[i] >= g[i - 1], ge_r = i + 1 == n || g[i] >= g[i + 1];
        int gt = (i > 0 && g[i] > g[i - 1]) || (i + 1 < n && g[i] > g[i + 1]);
        if (!ge_l || !ge_r || !gt) continue;
        double lv = g[i], rv = g[i];
        for (size_t j = i; j > 0 && g[j - 1] <= g[j]; j--) lv = g[j - 1];
        for (size_t j = i; j + 1 < n && g[j + 1] <= g[j]; j++) rv = g[j + 1];
        depth[i] = (g[i] - lv) + (g[i] - rv);
    }
    return IDX_OK;
}

/* Mean per-byte NLL of text[from..to) under lm (minus the contrast model's
 * when given); to > from. */
static idx_err range_score(const idx_chunk_opts *o, const char *text, size_t len, size_t from, size_t to,
                           float **nll, size_t *cap, double *out) {
    if (to - from > *cap) {
        idx_err e = idx_xrealloc(nll, (to - from) * sizeof **nll);
        if (e) return e;
        *cap = to - from;
    }
    idx_err e = o->lm.nll(o->lm.ud, text, len, from, to, *nll);
    if (e) return e;
    double sum = 0;
    for (size_t j = 0; j < to - from; j++) sum += (*nll)[j];
    if (o->lm_contrast.nll) {
        if ((e = o->lm_contrast.nll(o->lm_contrast.ud, text, len, from, to, *nll))) return e;
        for (size_t j = 0; j < to - from; j++) sum -= (*nll)[j];
    }
    *out = sum / (double)(to - from);
    if (!isfinite(*out)) return idx_fail(IDX_ERR_INVALID, "ppl: the language model returned a bad NLL");
    return IDX_OK;
}

/* The window rule (ppl_rule 2): g[i] = score of sentences i+1 .. i+W (the
 * model's context ends at the gap, so a cache model sees only the text before
 * it), depth-scored peaks, cut where depth >= theta or at the K deepest peaks
 * (K from target_words). b[i] = 1 cuts after sentence i. */
static idx_err window_rule(const idx_chunk_opts *o, const char *text, size_t len, const idx_chunk_list *s,
                           unsigned char *b) {
    size_t n = s->n, W = o->ppl_window ? o->ppl_window : 5;
    double *g = NULL, *depth = NULL;
    float *nll = NULL;
    char *tmp = NULL;
    size_t cap = 0, tmp_cap = 0;
    idx_err e;
    memset(b, 0, n);
    if ((e = idx_xmalloc(n * sizeof *g, &g)) || (e = idx_xmalloc(n * sizeof *depth, &depth))) goto done;
    /* gaps after sentences 0 .. n-2 */
    for (size_t i = 0; i + 1 < n; i++) {
        size_t a = (size_t)s->spans[i + 1].start, last = i + W < n - 1 ? i + W : n - 1;
        size_t z = (size_t)s->spans[last].end;
        while (z > a && chk_is_space((unsigned char)text[z - 1])) z--;
        if (z == a) { g[i] = i ? g[i - 1] : 0; continue; }
        if ((e = range_score(o, text, len, a, z, &nll, &cap, &g[i]))) goto done;
        if (!o->ppl_one_sided) {
            /* the W sentences before the gap, with the text after it as the
             * model's context: a buffer of (up to 2000 bytes after the gap)
             * followed by those sentences */
            size_t bz = (size_t)s->spans[i + 1].start, ba = (size_t)s->spans[i + 1 > W ? i + 1 - W : 0].start;
            while (bz > ba && chk_is_space((unsigned char)text[bz - 1])) bz--;
            size_t fl = len - a < 2000 ? len - a : 2000;
            if (bz == ba) continue;
            if (bz - ba + fl > tmp_cap) {
                if ((e = idx_xrealloc(&tmp, bz - ba + fl))) goto done;
                tmp_cap = bz - ba + fl;
            }
            memcpy(tmp, text + a, fl);
            memcpy(tmp + fl, text + ba, bz - ba);
            double back;
            if ((e = range_score(o, tmp, fl + bz - ba, fl, fl + bz - ba, &nll, &cap, &back))) goto done;
            g[i] += back;
        }
    }
    if ((e = idx_chunk_ppl_depth(g, n - 1, depth))) goto done;
    if (o->target_words) {
        uint64_t words = idx_chunk_count_words(text, len);
        size_t k = (size_t)((words + o->target_words / 2) / o->target_words);
        k = k ? k - 1 : 0;
        for (size_t got = 0; got < k; got++) {
            size_t best = n;
            for (size_t i = 0; i + 1 < n; i++)
                if (!b[i] && depth[i] > 0 && (best == n || depth[i] > depth[best])) best = i;
            if (best == n) break;
            b[best] = 1;
        }
    } else {
        for (size_t i = 0; i + 1 < n; i++)
            if (depth[i] > 0 && depth[i] >= o->ppl_threshold) b[i] = 1;
    }
done:
    free(g);
    free(depth);
    free(nll);
    free(tmp);
    return e;
}

idx_err idx__chunk_ppl(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out) {
    if (!o->lm.nll) return idx_fail(IDX_ERR_INVALID, "ppl chunking needs a language model (--lm)");
    if (o->ppl_threshold < 0 || isnan(o->ppl_threshold))
        return idx_fail(IDX_ERR_INVALID, "ppl threshold must be >= 0");
    idx_chunk_list s = {0};
    double *v = NULL;
    float *nll = NULL;
    unsigned char *b = NULL;
    size_t nll_cap = 0;
    idx_err e = idx_chunk_sentences(o, text, len, &s);
    if (e) goto done;
    if (s.n < 3) {
        e = idx_chunk_list_push(out, text, 0, len, NULL, 0);
        goto done;
    }
    if ((e = idx_xmalloc(s.n * sizeof *v, &v)) || (e = idx_xmalloc(s.n, &b))) goto done;
    if (o->ppl_rule == 2) {
        if ((e = window_rule(o, text, len, &s, b))) goto done;
        goto cut;
    }
    for (size_t i = 0; i < s.n; i++) {
        size_t a = (size_t)s.spans[i].start, z = (size_t)s.spans[i].end;
        while (z > a && chk_is_space((unsigned char)text[z - 1])) z--;
        if (z == a) { v[i] = i ? v[i - 1] : 0; continue; }
        if (z - a > nll_cap) {
            nll_cap = z - a;
            if ((e = idx_xrealloc(&nll, nll_cap * sizeof *nll))) goto done;
        }
        if ((e = o->lm.nll(o->lm.ud, text, len, a, z, nll))) goto done;
        double sum = 0;
        for (size_t j = 0; j < z - a; j++) sum += nll[j];
        if (!isfinite(sum) || sum < 0) {
            e = idx_fail(IDX_ERR_INVALID, "ppl: the language model returned a bad NLL for sentence %zu", i);
            goto done;
        }
        if (o->lm_contrast.nll) {
            /* context gain: minus the NLL without the document context */
            if ((e = o->lm_contrast.nll(o->lm_contrast.ud, text, len, a, z, nll))) goto done;
            for (size_t j = 0; j < z - a; j++) sum -= nll[j];
        }
        v[i] = sum / (double)(z - a);
        if (!isfinite(v[i])) {
            e = idx_fail(IDX_ERR_INVALID, "ppl: the language model returned a bad NLL for sentence %zu", i);
            goto done;
        }
    }
    idx_chunk_dyn local = {0};
    idx_chunk_dyn *dyn = o->ppl_dynamic ? (o->dyn ? o->dyn : &local) : NULL;
    e = o->ppl_rule == 1 ? idx_chunk_ppl_rises(v, s.n, o->ppl_threshold, b)
                         : idx_chunk_ppl_minima(v, s.n, o->ppl_threshold, dyn, b);
    idx_chunk_dyn_free(&local);
    if (e) goto done;
cut:;
    size_t prev = 0;
    for (size_t i = 0; i < s.n; i++)
        if (b[i]) {
            if ((e = idx_chunk_list_push(out, text, prev, s.spans[i].end, NULL, 0))) goto done;
            prev = (size_t)s.spans[i].end;
        }
    e = idx_chunk_list_push(out, text, prev, len, NULL, 0);
done:
    idx_chunk_list_free(&s);
    free(v);
    free(nll);
    free(b);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Reference infinity-gram model                                              */
/* ------------------------------------------------------------------------ */

struct idx_chunk_reflm {
    idx_buf text;     /* reference bytes (reversed after build) */
    saidx_t *sa;
    size_t max_ctx;
    uint64_t *hashes; /* XXH3 of every reference document, sorted after build */
    size_t nh, caph;
    int built;
};

idx_err idx_chunk_reflm_new(size_t max_context, idx_chunk_reflm **out) {
    idx_chunk_reflm *m = calloc(1, sizeof *m);
    if (!m) return idx_fail(IDX_ERR_NOMEM, "reflm: out of memory");
    m->max_ctx = max_context ? max_context : 64;
    *out = m;
    return IDX_OK;
}

idx_err idx_chunk_reflm_add(idx_chunk_reflm *m, const char *text, size_t len) {
    if (m->built) return idx_fail(IDX_ERR_INVALID, "reflm: add after build");
    if (memchr(text, 0xFF, len)) return idx_fail(IDX_ERR_INVALID, "reflm: reference text contains byte 0xFF");
    if (m->text.len + len + 1 > (size_t)INT32_MAX - 1)
        return idx_fail(IDX_ERR_LIMIT, "reflm: reference text over 2 GiB");
    if (m->nh == m->caph) {
        size_t nc = m->caph ? m->caph * 2 : 1024;
        idx_err e = idx_xrealloc(&m->hashes, nc * sizeof *m->hashes);
        if (e) return e;
        m->caph = nc;
    }
    m->hashes[m->nh++] = idx_hash64(text, len, 0);
    idx_err e = idx_buf_append(&m->text, text, len);
    if (!e) e = idx_buf_append(&m->text, "\xff", 1);
    return e;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

idx_err idx_chunk_reflm_build(idx_chunk_reflm *m) {
    if (m->built) return IDX_OK;
    size_t n = m->text.len;
    if (n == 0) return idx_fail(IDX_ERR_EMPTY, "reflm: empty reference");
    unsigned char *t = (unsigned char *)m->text.data;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned char c = t[i];
        t[i] = t[n - 1 - i];
        t[n - 1 - i] = c;
    }
    idx_err e = idx_xmalloc(n * sizeof *m->sa, &m->sa);
    if (e) return e;
    if (divsufsort(t, m->sa, (saidx_t)n) != 0) return idx_fail(IDX_ERR_INTERNAL, "reflm: divsufsort failed");
    qsort(m->hashes, m->nh, sizeof *m->hashes, cmp_u64);
    m->built = 1;
    return IDX_OK;
}

uint64_t idx_chunk_reflm_bytes(const idx_chunk_reflm *m) { return m ? m->text.len : 0; }

int idx_chunk_reflm_contains(const idx_chunk_reflm *m, const char *text, size_t len) {
    uint64_t h = idx_hash64(text, len, 0);
    return m->built && bsearch(&h, m->hashes, m->nh, sizeof h, cmp_u64) != NULL;
}

void idx_chunk_reflm_free(idx_chunk_reflm *m) {
    if (!m) return;
    idx_buf_free(&m->text);
    free(m->sa);
    free(m->hashes);
    free(m);
}

/* A reversed text with its suffix array. */
typedef struct {
    const unsigned char *t;
    size_t n;
    const saidx_t *sa;
} rsa;

/* Narrows [*lo, *hi) (suffixes sharing their first d bytes) to those whose
 * byte d is c. Returns the new size. */
static size_t narrow(const rsa *r, size_t *lo, size_t *hi, size_t d, unsigned char c) {
    const unsigned char *t = r->t;
    size_t n = r->n;
    size_t a = *lo, b = *hi;
    /* first rank with byte d >= c (past the end counts as smaller than any byte) */
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        size_t p = (size_t)r->sa[mid] + d;
        if (p >= n || t[p] < c) a = mid + 1;
        else b = mid;
    }
    size_t first = a;
    b = *hi;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        size_t p = (size_t)r->sa[mid] + d;
        if (p >= n || t[p] <= c) a = mid + 1;
        else b = mid;
    }
    *lo = first;
    *hi = a;
    return a - first;
}

/* Infinity-gram with back-off (a): counts cnt(s.w) and cnt(s) for the longest
 * suffix s (<= maxctx bytes) of d[0..j) with cnt(s.w) > 0. Returns 0 if w was
 * never seen (*cw = 0). */
static int infgram(const rsa *r, const unsigned char *d, size_t j, size_t maxctx, size_t *cw, size_t *cs) {
    size_t wlo = 0, whi = r->n;
    if (narrow(r, &wlo, &whi, 0, d[j]) == 0) {
        *cw = 0;
        *cs = r->n;
        return 0;
    }
    size_t slo = 0, shi = r->n;
    for (size_t k = 1; k <= maxctx && k <= j; k++) {
        unsigned char c = d[j - k];
        size_t l2 = wlo, h2 = whi;
        if (narrow(r, &l2, &h2, k, c) == 0) break;
        wlo = l2;
        whi = h2;
        narrow(r, &slo, &shi, k - 1, c);
    }
    *cw = whi - wlo;
    *cs = shi - slo;
    return 1;
}

idx_err idx_chunk_reflm_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                            float *out) {
    const idx_chunk_reflm *m = ud;
    if (!m || !m->built) return idx_fail(IDX_ERR_INVALID, "reflm: model not built");
    if (from > to || to > doc_len) return idx_fail(IDX_ERR_INVALID, "reflm: bad range");
    const unsigned char *d = (const unsigned char *)doc;
    rsa ref = {(const unsigned char *)m->text.data, m->text.len, m->sa};
    double N = (double)m->text.len;
    for (size_t j = from; j < to; j++) {
        size_t cw, cs;
        double p = infgram(&ref, d, j, m->max_ctx, &cw, &cs) ? (double)cw / (double)cs : 1.0 / (N + 1);
        out[j - from] = (float)-log(p);
    }
    return IDX_OK;
}

idx_err idx_chunk_cache_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                            float *out) {
    const idx_chunk_cache_lm *c = ud;
    if (!c || !c->base.nll) return idx_fail(IDX_ERR_INVALID, "cache model: no base model");
    if (c->lambda < 0 || c->lambda > 1 || isnan(c->lambda))
        return idx_fail(IDX_ERR_INVALID, "cache model: weight must be in [0, 1]");
    idx_err e = c->base.nll(c->base.ud, doc, doc_len, from, to, out);
    if (e) return e;
    size_t w = c->window && c->lambda > 0 ? (from < c->window ? from : c->window) : 0;
    if (w == 0) return IDX_OK;
    const unsigned char *d = (const unsigned char *)doc;
    unsigned char *cbuf = malloc(w);
    saidx_t *csa = malloc(w * sizeof *csa);
    if (!cbuf || !csa) {
        free(cbuf);
        free(csa);
        return idx_fail(IDX_ERR_NOMEM, "cache model: out of memory");
    }
    for (size_t i = 0; i < w; i++) cbuf[i] = d[from - 1 - i]; /* reversed window */
    if (divsufsort(cbuf, csa, (saidx_t)w) != 0) {
        free(cbuf);
        free(csa);
        return idx_fail(IDX_ERR_INTERNAL, "cache model: divsufsort failed");
    }
    rsa cache = {cbuf, w, csa};
    size_t mc = c->max_context ? c->max_context : 64;
    for (size_t j = from; j < to; j++) {
        size_t cw, cs;
        double pc = infgram(&cache, d, j, mc, &cw, &cs) ? (double)cw / (double)cs : 0;
        double p = (1 - c->lambda) * exp(-(double)out[j - from]) + c->lambda * pc;
        out[j - from] = (float)-log(p);
    }
    free(cbuf);
    free(csa);
    return IDX_OK;
}
