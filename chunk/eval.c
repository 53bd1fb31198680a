/*
 * eval.c -- segmentation metrics for the chunking benchmark: Pk (Beeferman,
 * Berger and Lafferty 1999) and WindowDiff (Pevzner and Hearst 2002), in the
 * formulation of NLTK's nltk.metrics.segmentation (boundary strings, windows
 * i = 0 .. n-k), and the conversion from byte cuts to word-level boundaries.
 */
#include <math.h>
#include <string.h>

#include "chunk_internal.h"

static size_t default_k(const unsigned char *ref, size_t n) {
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) nb += ref[i] != 0;
    if (nb == 0) return n / 2 ? n / 2 : 1;
    size_t k = (size_t)llround((double)n / (2.0 * (double)nb));
    return k ? k : 1;
}

idx_err idx_chunk_pk(const unsigned char *ref, const unsigned char *hyp, size_t n, size_t k,
                     double *out) {
    if (!k) k = default_k(ref, n);
    if (n < k || n == 0) return idx_fail(IDX_ERR_INVALID, "pk: %zu units for window %zu", n, k);
    /* running boundary counts in the window [i, i+k) */
    size_t cr = 0, ch = 0, err = 0;
    for (size_t i = 0; i < k; i++) { cr += ref[i] != 0; ch += hyp[i] != 0; }
    for (size_t i = 0;; i++) {
        if ((cr > 0) != (ch > 0)) err++;
        if (i + k >= n) break;
        cr += (ref[i + k] != 0) - (ref[i] != 0);
        ch += (hyp[i + k] != 0) - (hyp[i] != 0);
    }
    *out = (double)err / (double)(n - k + 1);
    return IDX_OK;
}

idx_err idx_chunk_windowdiff(const unsigned char *ref, const unsigned char *hyp, size_t n,
                             size_t k, double *out) {
    if (!k) k = default_k(ref, n);
    if (n < k || n == 0) return idx_fail(IDX_ERR_INVALID, "windowdiff: %zu units for window %zu", n, k);
    size_t cr = 0, ch = 0, err = 0;
    for (size_t i = 0; i < k; i++) { cr += ref[i] != 0; ch += hyp[i] != 0; }
    for (size_t i = 0;; i++) {
        if (cr != ch) err++;
        if (i + k >= n) break;
        cr += (ref[i + k] != 0) - (ref[i] != 0);
        ch += (hyp[i + k] != 0) - (hyp[i] != 0);
    }
    *out = (double)err / (double)(n - k + 1);
    return IDX_OK;
}

idx_err idx_chunk_boundaries_words(const char *text, size_t len, const uint64_t *cuts,
                                   size_t ncuts, unsigned char **b, size_t *n_words) {
    size_t nw = (size_t)idx_chunk_count_words(text, len);
    unsigned char *v = calloc(nw ? nw : 1, 1);
    if (!v) return idx_fail(IDX_ERR_NOMEM, "boundaries: out of memory");
    size_t pos = 0, ws, we, w = 0, c = 0;
    while (c < ncuts && chk_word_next(text, len, pos, &ws, &we)) {
        /* every cut before the end of this word belongs to it (or, if before
         * its start, to the previous word) */
        while (c < ncuts && cuts[c] <= ws) {
            if (w > 0) v[w - 1] = 1;
            c++;
        }
        while (c < ncuts && cuts[c] < we) {
            v[w] = 1;
            c++;
        }
        w++;
        pos = we;
    }
    /* cuts after the last word start: boundary after the last word is no boundary */
    *b = v;
    *n_words = nw;
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* Boundary-recovery evaluation                                               */
/* ------------------------------------------------------------------------ */

/* Scores chunk lists (one per text) against the true cuts. */
static idx_err score_lists(const idx_chunk_eval_text *t, size_t nt, idx_chunk_list *lists,
                           idx_chunk_eval_result *r) {
    double pk = 0, wd = 0, words = 0;
    uint64_t chunks = 0;
    uint64_t *hyp = NULL;
    size_t hcap = 0;
    idx_err e = IDX_OK;
    for (size_t i = 0; i < nt && !e; i++) {
        idx_chunk_list *l = &lists[i];
        if (l->n > hcap) {
            hcap = l->n;
            if ((e = idx_xrealloc(&hyp, hcap * sizeof *hyp))) break;
        }
        for (size_t j = 0; j + 1 < l->n; j++) hyp[j] = l->spans[j].end;
        for (size_t j = 0; j < l->n; j++) words += (double)l->spans[j].words;
        chunks += l->n;
        unsigned char *br = NULL, *bh = NULL;
        size_t nw, nw2;
        if ((e = idx_chunk_boundaries_words(t[i].text, t[i].len, t[i].cuts, t[i].ncuts, &br, &nw)) ||
            (e = idx_chunk_boundaries_words(t[i].text, t[i].len, hyp, l->n ? l->n - 1 : 0, &bh, &nw2))) {
            free(br);
            break;
        }
        double a = 0, b = 0;
        e = idx_chunk_pk(br, bh, nw, 0, &a);
        if (!e) e = idx_chunk_windowdiff(br, bh, nw, 0, &b);
        pk += a;
        wd += b;
        free(br);
        free(bh);
    }
    free(hyp);
    if (e) return e;
    r->pk = pk / (double)nt;
    r->windowdiff = wd / (double)nt;
    r->chunks = chunks;
    r->mean_words = chunks ? words / (double)chunks : 0;
    return IDX_OK;
}

static void free_lists(idx_chunk_list *l, size_t n) {
    if (!l) return;
    for (size_t i = 0; i < n; i++) idx_chunk_list_free(&l[i]);
    free(l);
}

/* Runs o over all texts into lists (fresh); returns seconds. */
static idx_err run_all(const idx_chunk_opts *o, const idx_chunk_eval_text *t, size_t nt,
                       idx_chunk_list **out, double *secs) {
    idx_chunk_list *l = calloc(nt, sizeof *l);
    if (!l) return idx_fail(IDX_ERR_NOMEM, "eval: out of memory");
    double t0 = idx_now();
    for (size_t i = 0; i < nt; i++) {
        idx_err e = idx_chunk_text(o, t[i].text, t[i].len, &l[i]);
        if (e) {
            free_lists(l, nt);
            return e;
        }
    }
    *secs = idx_now() - t0;
    *out = l;
    return IDX_OK;
}

static double mean_words_of(idx_chunk_list *l, size_t nt) {
    double w = 0;
    size_t n = 0;
    for (size_t i = 0; i < nt; i++) {
        for (size_t j = 0; j < l[i].n; j++) w += (double)l[i].spans[j].words;
        n += l[i].n;
    }
    return n ? w / (double)n : 0;
}

/* merge-based calibration: copies of the base lists merged to target m */
static idx_err merged_copy(idx_chunk_list *base, const idx_chunk_eval_text *t, size_t nt, uint64_t m,
                           idx_chunk_list **out) {
    idx_chunk_list *l = calloc(nt, sizeof *l);
    if (!l) return idx_fail(IDX_ERR_NOMEM, "eval: out of memory");
    for (size_t i = 0; i < nt; i++) {
        l[i].spans = malloc((base[i].n ? base[i].n : 1) * sizeof *l[i].spans);
        if (!l[i].spans) { free_lists(l, nt); return idx_fail(IDX_ERR_NOMEM, "eval: out of memory"); }
        memcpy(l[i].spans, base[i].spans, base[i].n * sizeof *l[i].spans);
        l[i].n = l[i].cap = base[i].n;
        idx_err e = idx_chunk_merge(t[i].text, t[i].len, &l[i], m);
        if (e) { free_lists(l, nt); return e; }
    }
    *out = l;
    return IDX_OK;
}

/* memoised model: per text, the NLLs of every (from, to) range asked so far
 * (a cache model's answer depends on `from`, so ranges are the key), in a
 * chained hash table; a text that is not one of the evaluation texts (a
 * buffer built by the chunker) is keyed by its XXH3 hash. */
typedef struct memo_ent {
    struct memo_ent *next;
    uint64_t t;
    size_t from, to;
    float nll[];
} memo_ent;

typedef struct {
    idx_chunk_lm inner;
    const idx_chunk_eval_text *t;
    size_t nt;
    memo_ent **tab;
    size_t nb;
} memo_lm;

static size_t memo_hash(uint64_t t, size_t from, size_t to, size_t nb) {
    uint64_t h = t * 0x9E3779B97F4A7C15ull ^ (uint64_t)from * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)to * 0x165667B19E3779F9ull;
    h ^= h >> 29;
    return (size_t)(h % nb);
}

static idx_err memo_nll(void *ud, const char *doc, size_t len, size_t from, size_t to, float *out) {
    memo_lm *m = ud;
    size_t i = 0;
    while (i < m->nt && m->t[i].text != doc) i++;
    /* a buffer the chunker built (the two-sided window rule): its content hash */
    if (i == m->nt) i = (size_t)(idx_hash64(doc, len, 0) | 1ull << 63);
    size_t h = memo_hash(i, from, to, m->nb);
    for (memo_ent *p = m->tab[h]; p; p = p->next)
        if (p->t == i && p->from == from && p->to == to) {
            memcpy(out, p->nll, (to - from) * sizeof *out);
            return IDX_OK;
        }
    memo_ent *p = malloc(sizeof *p + (to - from + 1) * sizeof(float));
    if (!p) return idx_fail(IDX_ERR_NOMEM, "eval: out of memory");
    idx_err e = m->inner.nll(m->inner.ud, doc, len, from, to, p->nll);
    if (e) { free(p); return e; }
    p->t = i;
    p->from = from;
    p->to = to;
    p->next = m->tab[h];
    m->tab[h] = p;
    memcpy(out, p->nll, (to - from) * sizeof *out);
    return IDX_OK;
}

static void memo_free(memo_lm *m) {
    for (size_t i = 0; m->tab && i < m->nb; i++)
        for (memo_ent *p = m->tab[i], *q; p; p = q) { q = p->next; free(p); }
    free(m->tab);
}

static idx_err eval_inner(const idx_chunk_opts *o0, const idx_chunk_eval_text *t, size_t nt,
                          double target, idx_chunk_knob knob, idx_chunk_eval_result *r);

idx_err idx_chunk_eval(const idx_chunk_opts *o0, const idx_chunk_eval_text *t, size_t nt,
                       double target, idx_chunk_knob knob, idx_chunk_eval_result *r) {
    if (nt == 0) return idx_fail(IDX_ERR_EMPTY, "eval: no texts");
    if (o0->kind != IDX_CHUNK_PPL || !o0->lm.nll) return eval_inner(o0, t, nt, target, knob, r);
    size_t nb = 4096;
    memo_lm m = {o0->lm, t, nt, calloc(nb, sizeof(memo_ent *)), nb};
    memo_lm mc = {o0->lm_contrast, t, nt, calloc(nb, sizeof(memo_ent *)), nb};
    idx_err e;
    if (!m.tab || !mc.tab) e = idx_fail(IDX_ERR_NOMEM, "eval: out of memory");
    else {
        /* time one plain run with the model, then calibrate on the memo */
        idx_chunk_opts o = *o0;
        o.lm.nll = memo_nll;
        o.lm.ud = &m;
        if (o0->lm_contrast.nll) {
            o.lm_contrast.nll = memo_nll;
            o.lm_contrast.ud = &mc;
        }
        o.merge = 0;
        if (knob == IDX_CHUNK_KNOB_TARGET) o.target_words = (uint64_t)llround(target);
        idx_chunk_list tmp = {0};
        double t0 = idx_now();
        e = IDX_OK;
        for (size_t i = 0; i < nt && !e; i++) {
            idx_chunk_list_clear(&tmp);
            e = idx_chunk_text(&o, t[i].text, t[i].len, &tmp);
        }
        double secs = idx_now() - t0;
        idx_chunk_list_free(&tmp);
        if (!e) e = eval_inner(&o, t, nt, target, knob, r);
        uint64_t bytes = 0;
        for (size_t i = 0; i < nt; i++) bytes += t[i].len;
        r->seconds = secs;
        r->mb_per_s = secs > 0 ? (double)bytes / 1e6 / secs : 0;
    }
    memo_free(&m);
    memo_free(&mc);
    return e;
}

static idx_err eval_inner(const idx_chunk_opts *o0, const idx_chunk_eval_text *t, size_t nt,
                          double target, idx_chunk_knob knob, idx_chunk_eval_result *r) {
    memset(r, 0, sizeof *r);
    idx_chunk_opts o = *o0;
    idx_chunk_list *l = NULL;
    double secs = 0;
    idx_err e;
    int by_merge = knob == IDX_CHUNK_KNOB_MERGE ||
                   (knob == IDX_CHUNK_KNOB_AUTO && (o.kind == IDX_CHUNK_PPL || o.kind == IDX_CHUNK_SENTENCE));
    int by_theta = knob == IDX_CHUNK_KNOB_THRESHOLD && o.kind == IDX_CHUNK_PPL;
    if (knob == IDX_CHUNK_KNOB_THRESHOLD && !by_theta)
        return idx_fail(IDX_ERR_INVALID, "eval: the threshold knob is for ppl only");
    if (knob == IDX_CHUNK_KNOB_TARGET) {
        if ((o.kind != IDX_CHUNK_PPL || o.ppl_rule != 2) && o.kind != IDX_CHUNK_TEXTTILING)
            return idx_fail(IDX_ERR_INVALID, "eval: the target knob is for the ppl window rule and texttiling");
        o.target_words = target > 0 ? (uint64_t)llround(target) : 0;
        if ((e = run_all(&o, t, nt, &l, &secs))) return e;
        r->param = (double)o.target_words;
    } else if (target <= 0) {
        if ((e = run_all(&o, t, nt, &l, &secs))) return e;
    } else if (by_merge) {
        /* score once, merge many times: mean length grows with the merge target */
        o.merge = 0;
        idx_chunk_list *base;
        if ((e = run_all(&o, t, nt, &base, &secs))) return e;
        uint64_t lo = 1, hi = (uint64_t)(target * 4) + 1, best = lo;
        double best_d = 1e300;
        while (lo <= hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            idx_chunk_list *m;
            if ((e = merged_copy(base, t, nt, mid, &m))) { free_lists(base, nt); return e; }
            double mw = mean_words_of(m, nt);
            free_lists(m, nt);
            if (fabs(mw - target) < best_d) { best_d = fabs(mw - target); best = mid; }
            if (mw < target) lo = mid + 1;
            else if (mid == 0) break;
            else hi = mid - 1;
        }
        double t0 = idx_now();
        e = merged_copy(base, t, nt, best, &l);
        secs += idx_now() - t0;
        free_lists(base, nt);
        if (e) return e;
        r->param = (double)best;
    } else {
        /* bisection on the knob: size (integer), texttiling cutoff or ppl theta (real) */
        int real = o.kind == IDX_CHUNK_TEXTTILING || by_theta;
        double lo = real ? (by_theta ? 0.0 : -4.0) : 1.0, hi = real ? 4.0 : target * 4 + 1, best = lo,
               best_d = 1e300;
        double prev_mid = -1e300;
        for (int it = 0; it < 40; it++) {
            double mid = real ? (lo + hi) / 2 : floor((lo + hi) / 2);
            if (mid == prev_mid) break;
            prev_mid = mid;
            if (by_theta) o.ppl_threshold = mid;
            else if (real) o.tt_cutoff = mid;
            else o.size = (uint64_t)mid;
            idx_chunk_list *m;
            if ((e = run_all(&o, t, nt, &m, &secs))) return e;
            double mw = mean_words_of(m, nt);
            free_lists(m, nt);
            if (fabs(mw - target) < best_d) { best_d = fabs(mw - target); best = mid; }
            if (fabs(mw - target) <= 0.03 * target) break;
            /* size, theta: longer chunks when larger; cutoff: shorter when larger */
            int want_longer = mw < target;
            if (o.kind == IDX_CHUNK_TEXTTILING ? want_longer : !want_longer) hi = mid;
            else lo = real ? mid : mid + 1;
            if (!real && lo > hi) break;
            if (real && hi - lo < 1e-4) break;
        }
        if (by_theta) o.ppl_threshold = best;
        else if (real) o.tt_cutoff = best;
        else o.size = (uint64_t)best;
        r->param = best;
        if ((e = run_all(&o, t, nt, &l, &secs))) return e;
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < nt; i++) bytes += t[i].len;
    e = score_lists(t, nt, l, r);
    free_lists(l, nt);
    r->seconds = secs;
    r->mb_per_s = secs > 0 ? (double)bytes / 1e6 / secs : 0;
    return e;
}
