/*
 * ngram.c -- n-gram statistics over a count source (FM-index or memory):
 * P(next | prompt), the infinity-gram model of Liu et al. 2024 ("Infini-gram:
 * Scaling Unbounded n-gram Language Models to a Trillion Tokens", arXiv
 * 2401.17377; METHODS.md section 6) with per-unit negative log-likelihoods of
 * a whole text for the PPL chunker, and the next-unit distribution after a
 * prefix.
 *
 * The infinity-gram walk: let c(e, m) = count(text[e-m .. e)). For a unit w
 * spanning [j, e), the prompt-suffix counts are c(j, k) and the continuation
 * counts are c(e, |w| + k). One left-extension walk from every unit end e,
 * stopped at the first zero (counts only decrease as the pattern grows),
 * gives both: the walk at e serves as the continuation counts of the unit
 * ending at e and as the prompt counts of the next unit. With exclude_self a
 * second cursor over the text alone walks in lockstep and its counts are
 * subtracted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ngram_impl.h"

idx_err idx_ngram_prob(const idx_ngram_src *s, const void *prompt, size_t plen, const void *next,
                       size_t nlen, uint64_t *count_prompt, uint64_t *count_full, double *prob) {
    size_t tot;
    if (__builtin_add_overflow(plen, nlen, &tot)) return idx_fail(IDX_ERR_LIMIT, "prob: too long");
    char *buf = malloc(tot ? tot : 1);
    if (!buf) return idx_fail(IDX_ERR_NOMEM, "prob: %zu bytes", tot);
    if (plen) memcpy(buf, prompt, plen);
    if (nlen) memcpy(buf + plen, next, nlen);
    uint64_t cp = 0, cf = 0;
    idx_err e = idx_ngram_count(s, buf, plen, &cp);
    if (!e) e = idx_ngram_count(s, buf, tot, &cf);
    free(buf);
    if (e) return e;
    *count_prompt = cp;
    *count_full = cf;
    *prob = cp ? (double)cf / (double)cp : -1.0;
    return IDX_OK;
}

/* ------------------------------------------------------------ infinity-gram */

typedef struct {
    idx_ngram_cursor *cur, *self; /* corpus cursor, optional self cursor */
    uint64_t *c;                  /* c[m] for m = 1..len */
    size_t len;                   /* walk length (c[len] may be 0) */
} walk;

static idx_err walk_run(walk *w, const unsigned char *t, size_t e, size_t cap) {
    idx_ngram_cursor_reset(w->cur);
    if (w->self) idx_ngram_cursor_reset(w->self);
    w->len = 0;
    size_t lim = e < cap ? e : cap;
    for (size_t m = 1; m <= lim; m++) {
        uint64_t a = 0, b = 0;
        idx_err er = idx_ngram_cursor_prepend(w->cur, t[e - m], &a);
        if (er) return er;
        if (w->self) {
            if ((er = idx_ngram_cursor_prepend(w->self, t[e - m], &b))) return er;
        }
        uint64_t v = a > b ? a - b : 0;
        w->c[m] = v;
        w->len = m;
        if (v == 0) break;
    }
    return IDX_OK;
}

static inline uint64_t walk_get(const walk *w, size_t m, uint64_t total) {
    if (m == 0) return total;
    return m <= w->len ? w->c[m] : 0;
}

idx_err idx_ngram_infgram(const idx_ngram_src *s, const void *text, size_t len,
                          const idx_ngram_opts *opts, idx_ngram_unit **units_out, size_t *nunits,
                          double *mean_nll) {
    idx_ngram_opts o = {IDX_NGRAM_UNIT_CHAR, 0, 0};
    if (opts) o = *opts;
    *units_out = NULL;
    *nunits = 0;
    if (mean_nll) *mean_nll = 0;
    if (len > UINT32_MAX) return idx_fail(IDX_ERR_LIMIT, "infgram: text of %zu bytes (limit 4 GiB)", len);
    if (len == 0) return IDX_OK;
    const unsigned char *t = text;
    idx_err e = IDX_OK;
    idx_ngram_src *self_src = NULL;
    walk wa = {0}, wb = {0};
    idx_ngram_unit *units = NULL;
    unsigned char *is_start = calloc(len + 1, 1);
    size_t cap_max = o.max_suffix ? (o.max_suffix + 4 < len ? o.max_suffix + 4 : len) : len;
    wa.c = malloc((cap_max + 1) * sizeof(uint64_t));
    wb.c = malloc((cap_max + 1) * sizeof(uint64_t));
    size_t nu = 0;
    for (size_t i = 0; i < len;) {
        size_t l = o.unit == IDX_NGRAM_UNIT_BYTE ? 1 : idx_utf8_charlen(t + i, len - i);
        is_start[i] = 1;
        i += l;
        nu++;
    }
    is_start[len] = 1;
    units = calloc(nu, sizeof *units);
    if (!is_start || !wa.c || !wb.c || !units) {
        e = idx_fail(IDX_ERR_NOMEM, "infgram: text of %zu bytes", len);
        goto done;
    }
    uint64_t total = idx_ngram_src_total(s);
    if ((e = idx_ngram_cursor_new(s, &wa.cur)) || (e = idx_ngram_cursor_new(s, &wb.cur))) goto done;
    if (o.exclude_self) {
        if ((e = idx_ngram_src_memory(text, len, &self_src))) goto done;
        uint64_t st = idx_ngram_src_total(self_src);
        total = total > st ? total - st : 0;
        if ((e = idx_ngram_cursor_new(self_src, &wa.self)) || (e = idx_ngram_cursor_new(self_src, &wb.self)))
            goto done;
    }
    walk *prev = &wa, *cur = &wb;
    prev->len = 0; /* the walk at offset 0 is empty */
    double sum = 0;
    size_t ui = 0;
    for (size_t j = 0; j < len; ui++) {
        size_t ulen = 1;
        while (!is_start[j + ulen]) ulen++;
        size_t end = j + ulen;
        size_t cap = o.max_suffix ? ulen + o.max_suffix : end;
        if ((e = walk_run(cur, t, end, cap))) goto done;
        size_t kmax = o.max_suffix && o.max_suffix < j ? o.max_suffix : j;
        size_t n = 0;
        for (size_t k = 1; k <= kmax && walk_get(prev, k, total) > 0; k++)
            if (is_start[j - k]) n = k;
        idx_ngram_unit *u = &units[ui];
        u->offset = j;
        u->len = (uint32_t)ulen;
        u->suffix_len = (uint32_t)n;
        u->suffix_count = walk_get(prev, n, total);
        u->next_count = walk_get(cur, ulen + n, total);
        size_t k = n;
        while (k > 0 && (!is_start[j - k] || walk_get(cur, ulen + k, total) == 0)) k--;
        u->backoff_len = (uint32_t)k;
        u->backoff_suffix_count = walk_get(prev, k, total);
        u->backoff_next_count = walk_get(cur, ulen + k, total);
        if (u->backoff_next_count == 0 || u->backoff_suffix_count == 0) {
            u->unseen = 1;
            u->prob = 1.0 / ((double)total + 1.0);
        } else {
            u->prob = (double)u->backoff_next_count / (double)u->backoff_suffix_count;
        }
        u->nll = u->prob >= 1.0 ? 0.0 : -log(u->prob);
        sum += u->nll;
        walk *tmp = prev;
        prev = cur;
        cur = tmp;
        j = end;
    }
    *units_out = units;
    *nunits = nu;
    units = NULL;
    if (mean_nll) *mean_nll = sum / (double)nu;
done:
    idx_ngram_cursor_free(wa.cur);
    idx_ngram_cursor_free(wb.cur);
    idx_ngram_cursor_free(wa.self);
    idx_ngram_cursor_free(wb.self);
    idx_ngram_src_free(self_src);
    free(wa.c);
    free(wb.c);
    free(is_start);
    free(units);
    return e;
}

/* ------------------------------------------------------- next-unit distribution */

typedef struct {
    idx_ngram_cursor *cur;
    const unsigned char *prefix;
    size_t plen;
    idx_ngram_next *out;
    size_t n, cap;
} ntd_ctx;

/* count(prefix . tail[0..tlen)) by backward search starting from the tail. */
static idx_err ntd_count(ntd_ctx *x, const unsigned char *tail, size_t tlen, uint64_t *count) {
    idx_ngram_cursor_reset(x->cur);
    uint64_t c = 1;
    idx_err e;
    for (size_t i = tlen; i-- > 0 && c > 0;)
        if ((e = idx_ngram_cursor_prepend(x->cur, tail[i], &c))) return e;
    for (size_t i = x->plen; i-- > 0 && c > 0;)
        if ((e = idx_ngram_cursor_prepend(x->cur, x->prefix[i], &c))) return e;
    *count = c;
    return IDX_OK;
}

static idx_err ntd_emit(ntd_ctx *x, const unsigned char *u, size_t len, uint64_t count) {
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 64;
        idx_ngram_next *p = realloc(x->out, nc * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "ngrams: %zu continuations", nc);
        x->out = p;
        x->cap = nc;
    }
    idx_ngram_next *r = &x->out[x->n++];
    memset(r, 0, sizeof *r);
    memcpy(r->bytes, u, len);
    r->len = (uint32_t)len;
    r->count = count;
    return IDX_OK;
}

/* Extends a multi-byte character u[0..len) (count c > 0) with continuation
 * bytes until `need` bytes; what no continuation accounts for is emitted as a
 * truncated unit so that counts always add up. */
static idx_err ntd_extend(ntd_ctx *x, unsigned char *u, size_t len, size_t need, uint64_t c) {
    if (len == need) return ntd_emit(x, u, len, c);
    uint64_t sum = 0;
    for (int b = 0x80; b <= 0xBF && sum < c; b++) {
        u[len] = (unsigned char)b;
        uint64_t cc;
        idx_err e = ntd_count(x, u, len + 1, &cc);
        if (e) return e;
        if (cc == 0) continue;
        sum += cc;
        if ((e = ntd_extend(x, u, len + 1, need, cc))) return e;
    }
    if (sum < c) return ntd_emit(x, u, len, c - sum);
    return IDX_OK;
}

static int ntd_cmp(const void *a, const void *b) {
    const idx_ngram_next *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    int r = memcmp(x->bytes, y->bytes, x->len < y->len ? x->len : y->len);
    if (r) return r;
    return (int)x->len - (int)y->len;
}

idx_err idx_ngram_next_units(const idx_ngram_src *s, const void *prefix, size_t plen,
                             idx_ngram_unit_kind unit, size_t top_k, idx_ngram_next **out,
                             size_t *nout, uint64_t *prefix_count, uint64_t *total_next) {
    *out = NULL;
    *nout = 0;
    ntd_ctx x = {0};
    x.prefix = prefix;
    x.plen = plen;
    idx_err e = idx_ngram_cursor_new(s, &x.cur);
    if (e) return e;
    uint64_t pc = 0;
    if ((e = ntd_count(&x, NULL, 0, &pc))) goto fail;
    if (plen == 0) pc = idx_ngram_src_total(s);
    *prefix_count = pc;
    uint64_t sum = 0;
    for (int b = 0; b < 0xFF && pc > 0 && sum < pc; b++) {
        unsigned char u[4] = {(unsigned char)b};
        uint64_t c;
        if ((e = ntd_count(&x, u, 1, &c))) goto fail;
        if (c == 0) continue;
        sum += c;
        size_t need = 1;
        if (unit == IDX_NGRAM_UNIT_CHAR) {
            if (b >= 0xC2 && b <= 0xDF) need = 2;
            else if (b >= 0xE0 && b <= 0xEF) need = 3;
            else if (b >= 0xF0 && b <= 0xF4) need = 4;
        }
        if ((e = ntd_extend(&x, u, 1, need, c))) goto fail;
    }
    if (x.n > 1) qsort(x.out, x.n, sizeof *x.out, ntd_cmp);
    if (total_next) *total_next = sum;
    if (top_k && x.n > top_k) x.n = top_k;
    idx_ngram_cursor_free(x.cur);
    *out = x.out;
    *nout = x.n;
    return IDX_OK;
fail:
    idx_ngram_cursor_free(x.cur);
    free(x.out);
    return e;
}
