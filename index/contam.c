/*
 * contam.c -- benchmark contamination scores as in infini-gram mini's study
 * (Xu et al. 2025, "Infini-gram mini: Exact n-gram Search at the Internet
 * Scale with FM-Index", section 4.1; METHODS.md 8.4): every window of 50
 * UTF-8 characters starting at a whitespace-word start is counted in the
 * corpus; score = fraction of windows that occur; dirty >= 0.8, suspicious
 * >= 0.2. Also the longest substring of the entry that occurs, and one
 * document holding it. idx_contam_run scores a whole benchmark set with
 * worker threads (one cursor each; the sources are read-only and shared).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngram_impl.h"

void idx_contam_opts_default(idx_contam_opts *o) {
    memset(o, 0, sizeof *o);
    o->window_chars = 50;
    o->dirty = 0.8;
    o->suspicious = 0.2;
    o->threads = 1;
    o->max_span = 500;
}

const char *idx_contam_class_name(idx_contam_class c) {
    switch (c) {
    case IDX_CONTAM_DIRTY: return "dirty";
    case IDX_CONTAM_SUSPICIOUS: return "suspicious";
    default: return "clean";
    }
}

static inline int is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Segment i of the text: [start, end). */
static void segment(size_t len, const size_t *seg_end, size_t nseg, size_t i, size_t *a, size_t *b) {
    if (!seg_end || nseg == 0) {
        *a = 0;
        *b = len;
        return;
    }
    *a = i == 0 ? 0 : seg_end[i - 1] + 1;
    *b = seg_end[i] < len ? seg_end[i] : len;
    if (*a > *b) *a = *b;
}

idx_err idx_contam_windows(const char *text, size_t len, const size_t *seg_end, size_t nseg,
                           size_t window_chars, size_t **starts_out, size_t **ends_out, size_t *n_out) {
    const unsigned char *t = (const unsigned char *)text;
    size_t W = window_chars ? window_chars : 50;
    size_t n = 0, cap = 16;
    size_t *st = malloc(cap * sizeof *st), *en = malloc(cap * sizeof *en);
    *starts_out = *ends_out = NULL;
    *n_out = 0;
    if (!st || !en) goto nomem;
    size_t segs = (seg_end && nseg) ? nseg : 1;
    for (size_t s = 0; s < segs; s++) {
        size_t a, b;
        segment(len, seg_end, nseg, s, &a, &b);
        size_t before = n;
        for (size_t p = a; p < b; p++) {
            if (is_ws(t[p]) || (p > a && !is_ws(t[p - 1]))) continue;
            size_t q = p, k = 0;
            while (k < W && q < b) {
                size_t l = idx_utf8_charlen(t + q, b - q);
                q += l;
                k++;
            }
            if (k < W) break; /* later word starts give shorter windows still */
            if (n == cap) {
                cap *= 2;
                size_t *x = realloc(st, cap * sizeof *st);
                if (!x) goto nomem;
                st = x;
                if (!(x = realloc(en, cap * sizeof *en))) goto nomem;
                en = x;
            }
            st[n] = p;
            en[n++] = q;
        }
        if (n == before) { /* short segment: checked whole, without outer whitespace */
            size_t x = a, y = b;
            while (x < y && is_ws(t[x])) x++;
            while (y > x && is_ws(t[y - 1])) y--;
            if (x < y) {
                if (n == cap) {
                    cap *= 2;
                    size_t *z = realloc(st, cap * sizeof *st);
                    if (!z) goto nomem;
                    st = z;
                    if (!(z = realloc(en, cap * sizeof *en))) goto nomem;
                    en = z;
                }
                st[n] = x;
                en[n++] = y;
            }
        }
    }
    *starts_out = st;
    *ends_out = en;
    *n_out = n;
    return IDX_OK;
nomem:
    free(st);
    free(en);
    return idx_fail(IDX_ERR_NOMEM, "contamination windows");
}

/* Walks left from e over at most maxlen bytes (not before lo); returns the
 * longest length m with count(text[e-m..e)) > 0. */
static idx_err walk_left(idx_ngram_cursor *cur, const unsigned char *t, size_t lo, size_t e,
                         size_t maxlen, size_t *got) {
    idx_ngram_cursor_reset(cur);
    size_t m = 0;
    while (m < maxlen && e - m > lo) {
        uint64_t c;
        idx_err er = idx_ngram_cursor_prepend(cur, t[e - m - 1], &c);
        if (er) return er;
        if (c == 0) break;
        m++;
    }
    *got = m;
    return IDX_OK;
}

idx_err idx_contam_score(idx_ngram_cursor *cur, const char *text, size_t len,
                         const size_t *seg_end, size_t nseg, const idx_contam_opts *opts,
                         idx_contam_result *r) {
    idx_contam_opts o;
    idx_contam_opts_default(&o);
    if (opts) {
        o = *opts;
        if (!o.window_chars) o.window_chars = 50;
        if (o.dirty < 0) o.dirty = 0.8;
        if (o.suspicious < 0) o.suspicious = 0.2;
        if (!o.max_span) o.max_span = 500;
    }
    memset(r, 0, sizeof *r);
    const unsigned char *t = (const unsigned char *)text;
    size_t *st, *en, n;
    idx_err e = idx_contam_windows(text, len, seg_end, nseg, o.window_chars, &st, &en, &n);
    if (e) return e;
    /* A failed walk proves text[f, g) absent; every later window that
     * contains [f, g) is absent too and needs no search (windows come in
     * order of start and end), which skips most windows of clean text. */
    size_t matched = 0, abs_f = 0, abs_g = 0;
    int have_abs = 0;
    for (size_t i = 0; i < n && !e; i++) {
        if (have_abs && st[i] <= abs_f && abs_g <= en[i]) continue;
        size_t got;
        e = walk_left(cur, t, st[i], en[i], en[i] - st[i], &got);
        if (e) break;
        if (got == en[i] - st[i]) {
            matched++;
        } else {
            abs_f = en[i] - got - 1;
            abs_g = en[i];
            have_abs = 1;
        }
    }
    free(st);
    free(en);
    if (e) return e;
    r->windows = (uint32_t)n;
    r->matched = (uint32_t)matched;
    r->score = n ? (double)matched / (double)n : 0.0;
    r->cls = r->score >= o.dirty && n ? IDX_CONTAM_DIRTY
           : r->score >= o.suspicious && n ? IDX_CONTAM_SUSPICIOUS
                                            : IDX_CONTAM_CLEAN;
    if (o.no_span || (matched == 0 && !o.span_all)) return IDX_OK;
    r->span_searched = 1;
    size_t best = 0, best_end = 0;
    size_t segs = (seg_end && nseg) ? nseg : 1;
    for (size_t s = 0; s < segs && best < o.max_span; s++) {
        size_t a, b;
        segment(len, seg_end, nseg, s, &a, &b);
        size_t prev = a, lsegbest = 0; /* L at the previous boundary, within this segment */
        for (size_t x = a + 1; x <= b && best < o.max_span; x++) {
            if (x < b && is_cont(t[x])) continue; /* only at character boundaries */
            size_t lim = lsegbest + (x - prev);
            if (lim > o.max_span) lim = o.max_span;
            size_t got;
            if ((e = walk_left(cur, t, a, x, lim, &got))) return e;
            lsegbest = got;
            prev = x;
            if (got > best) {
                best = got;
                best_end = x;
            }
        }
    }
    if (best > 0) {
        size_t s0 = best_end - best;
        while (s0 < best_end && is_cont(t[s0])) s0++;
        if (s0 < best_end) {
            r->span_off = s0;
            r->span_len = best_end - s0;
            r->span_capped = best >= o.max_span;
            idx_ngram_cursor_reset(cur);
            uint64_t c = 1;
            for (size_t i = best_end; i-- > s0 && c > 0;)
                if ((e = idx_ngram_cursor_prepend(cur, t[i], &c))) return e;
            if (c > 0) {
                e = idx_ngram_cursor_locate(cur, &r->span_doc, &r->span_doc_off);
                if (e == IDX_OK) r->span_found = 1;
                else if (e == IDX_ERR_NOT_FOUND) e = IDX_OK;
            }
        }
    }
    return e;
}

/* ------------------------------------------------------------------ parallel run */

typedef struct {
    const idx_ngram_src *src;
    const idx_contam_set *set;
    const idx_contam_opts *o;
    idx_contam_result *res;
    atomic_size_t next, done;
    atomic_int stop;
    pthread_mutex_t mu;
    idx_err err;
    char msg[512];
} run_ctx;

static void *worker(void *arg) {
    run_ctx *x = arg;
    idx_ngram_cursor *cur = NULL;
    idx_err e = idx_ngram_cursor_new(x->src, &cur);
    size_t n = idx_contam_set_count(x->set);
    while (!e && !atomic_load(&x->stop)) {
        size_t i = atomic_fetch_add(&x->next, 1);
        if (i >= n) break;
        const idx_contam_entry *en = idx_contam_set_entry(x->set, i);
        if (en->skip) {
            memset(&x->res[i], 0, sizeof x->res[i]);
            x->res[i].skipped = 1;
        } else {
            e = idx_contam_score(cur, en->text, en->len, en->seg_end, en->nseg, x->o, &x->res[i]);
            if (e) idx_fail_context(e, "%s:%llu", en->source, (unsigned long long)en->line);
        }
        atomic_fetch_add(&x->done, 1);
    }
    if (e) {
        pthread_mutex_lock(&x->mu);
        if (!x->err) {
            x->err = e;
            snprintf(x->msg, sizeof x->msg, "%s", idx_errmsg());
        }
        pthread_mutex_unlock(&x->mu);
        atomic_store(&x->stop, 1);
    }
    idx_ngram_cursor_free(cur);
    return NULL;
}

idx_err idx_contam_run(const idx_ngram_src *s, const idx_contam_set *set, const idx_contam_opts *o,
                       idx_contam_result *results, idx_progress_fn progress, void *progress_ud) {
    idx_contam_opts def;
    idx_contam_opts_default(&def);
    if (!o) o = &def;
    int nt = o->threads > 0 ? o->threads : 1;
    if (nt > 256) nt = 256;
    size_t n = idx_contam_set_count(set);
    run_ctx *x = calloc(1, sizeof *x);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    if (!x || !th) {
        free(x);
        free(th);
        return idx_fail(IDX_ERR_NOMEM, "contam run");
    }
    x->src = s;
    x->set = set;
    x->o = o;
    x->res = results;
    atomic_init(&x->next, 0);
    atomic_init(&x->done, 0);
    atomic_init(&x->stop, 0);
    pthread_mutex_init(&x->mu, NULL);
    int started = 0;
    idx_err e = IDX_OK;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, worker, x) != 0) {
            e = idx_fail(IDX_ERR_INTERNAL, "contam run: cannot start a thread");
            atomic_store(&x->stop, 1);
            break;
        }
    idx_progress pr;
    idx_progress_init(&pr, progress, progress_ud);
    int cancelled = 0;
    while (progress && started > 0 && atomic_load(&x->done) < n && !atomic_load(&x->stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (idx_progress_tick(&pr, "contam", atomic_load(&x->done), n, "entries", 0)) {
            cancelled = 1;
            atomic_store(&x->stop, 1);
        }
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (progress && !cancelled && !e && !x->err)
        idx_progress_tick(&pr, "contam", atomic_load(&x->done), n, "entries", 1);
    if (!e && x->err) e = idx_fail(x->err, "%s", x->msg);
    if (!e && cancelled) e = idx_fail(IDX_ERR_CANCELLED, "contam run cancelled");
    pthread_mutex_destroy(&x->mu);
    free(x);
    free(th);
    return e;
}

json_t *idx_contam_entry_json(const idx_contam_entry *en, const idx_contam_result *r, const idx_docs *docs) {
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:I}", "benchmark", en->benchmark, "subject", en->subject, "split",
                          en->split, "id", idx_json_text(en->id, strlen(en->id)), "source", en->source, "line",
                          (json_int_t)en->line);
    if (!o) return NULL;
    if (r->skipped) {
        json_object_set_new(o, "skipped", json_string(en->skip ? en->skip : "skipped"));
        return o;
    }
    json_object_set_new(o, "windows", json_integer(r->windows));
    json_object_set_new(o, "matched", json_integer(r->matched));
    json_object_set_new(o, "score", json_real(r->score));
    json_object_set_new(o, "class", json_string(idx_contam_class_name(r->cls)));
    if (r->span_searched) {
        json_t *sp = json_object();
        json_object_set_new(sp, "text", idx_json_text(en->text + r->span_off, (size_t)r->span_len));
        json_object_set_new(sp, "offset", json_integer((json_int_t)r->span_off));
        json_object_set_new(sp, "bytes", json_integer((json_int_t)r->span_len));
        json_object_set_new(sp, "capped", json_boolean(r->span_capped));
        if (r->span_found) {
            const char *id = NULL;
            size_t idl = 0;
            if (docs && idx_docs_id(docs, r->span_doc, &id, &idl) == IDX_OK)
                json_object_set_new(sp, "doc", idx_json_text(id, idl));
            json_object_set_new(sp, "doc_number", json_integer((json_int_t)r->span_doc));
            json_object_set_new(sp, "doc_offset", json_integer((json_int_t)r->span_doc_off));
        }
        json_object_set_new(o, "longest_span", sp);
    }
    return o;
}
