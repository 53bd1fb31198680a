/*
 * eval.c -- qrels and run-file parsers and the trec_eval-compatible metrics
 * (semantics in idx_eval.h). Both inputs are held as arrays of records
 * (query, document, value) with the strings in one arena, sorted by query;
 * evaluating a query is a binary search per retrieved document.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "idx_eval.h"

typedef struct {
    size_t qid, doc; /* offsets into the arena */
    double v;        /* grade (qrels) or score (run) */
} rec;

typedef struct {
    idx_buf arena;
    rec *r;
    size_t n, cap;
} recset;

struct idx_eval_qrels { recset s; };
struct idx_eval_run { recset s; };

static void recset_free(recset *s) {
    idx_buf_free(&s->arena);
    free(s->r);
}

static idx_err recset_add(recset *s, const char *q, size_t ql, const char *d, size_t dl, double v) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        idx_err e = idx_xrealloc(&s->r, nc * sizeof *s->r);
        if (e) return e;
        s->cap = nc;
    }
    rec *r = &s->r[s->n];
    r->qid = s->arena.len;
    idx_err e = idx_buf_append(&s->arena, q, ql);
    if (!e) e = idx_buf_append(&s->arena, "", 1);
    r->doc = s->arena.len;
    if (!e) e = idx_buf_append(&s->arena, d, dl);
    if (!e) e = idx_buf_append(&s->arena, "", 1);
    if (e) return e;
    r->v = v;
    s->n++;
    return IDX_OK;
}

#define S(set, off) ((set)->arena.data + (off))

static const recset *sort_set;
static int cmp_qdoc(const void *a, const void *b) {
    const rec *x = a, *y = b;
    int c = strcmp(S(sort_set, x->qid), S(sort_set, y->qid));
    return c ? c : strcmp(S(sort_set, x->doc), S(sort_set, y->doc));
}
/* trec_eval order: query, score descending, docid descending */
static int cmp_rank(const void *a, const void *b) {
    const rec *x = a, *y = b;
    int c = strcmp(S(sort_set, x->qid), S(sort_set, y->qid));
    if (c) return c;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return -strcmp(S(sort_set, x->doc), S(sort_set, y->doc));
}

/* Splits a line into whitespace-separated fields (at most max). */
static size_t split(const char *p, size_t len, const char **f, size_t *fl, size_t max) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) i++;
        if (i >= len) break;
        size_t s = i;
        while (i < len && p[i] != ' ' && p[i] != '\t' && p[i] != '\r') i++;
        if (n < max) { f[n] = p + s; fl[n] = i - s; }
        n++;
    }
    return n;
}

static int parse_long(const char *p, size_t n, long *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *p, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Checks no (query, doc) pair repeats (s sorted by cmp_qdoc). */
static idx_err check_dups(const recset *s, const char *name, const char *what) {
    for (size_t i = 1; i < s->n; i++)
        if (!strcmp(S(s, s->r[i].qid), S(s, s->r[i - 1].qid)) && !strcmp(S(s, s->r[i].doc), S(s, s->r[i - 1].doc)))
            return idx_fail(IDX_ERR_PARSE, "%s: document '%s' appears twice for query '%s' in the %s", name,
                            S(s, s->r[i].doc), S(s, s->r[i].qid), what);
    return IDX_OK;
}

idx_err idx_eval_qrels_parse(const char *data, size_t len, const char *name, idx_eval_qrels **out) {
    idx_eval_qrels *q = calloc(1, sizeof *q);
    if (!q) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = IDX_OK;
    size_t pos = 0, line = 0;
    while (pos < len && !e) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const char *p = data + pos;
        pos += ll + 1;
        line++;
        const char *f[4];
        size_t fl[4];
        size_t nf = split(p, ll, f, fl, 4);
        if (nf == 0) continue;
        long rel;
        if (nf == 3 || nf == 4) {
            int bad = parse_long(f[nf - 1], fl[nf - 1], &rel);
            if (bad && line == 1 && nf == 3) continue; /* BEIR header "query-id corpus-id score" */
            if (bad || rel < -1000000 || rel > 1000000) {
                e = idx_fail(IDX_ERR_PARSE, "%s:%zu: relevance '%.*s' is not an integer", name, line,
                             (int)(fl[nf - 1] > 40 ? 40 : fl[nf - 1]), f[nf - 1]);
                break;
            }
            size_t di = nf == 3 ? 1 : 2;
            e = recset_add(&q->s, f[0], fl[0], f[di], fl[di], (double)rel);
        } else {
            e = idx_fail(IDX_ERR_PARSE, "%s:%zu: expected 'query-id corpus-id score' or 'qid iter docid rel', got %zu fields",
                         name, line, nf);
        }
    }
    if (!e && q->s.n == 0) e = idx_fail(IDX_ERR_EMPTY, "%s: no relevance judgements", name);
    if (!e) {
        sort_set = &q->s;
        qsort(q->s.r, q->s.n, sizeof *q->s.r, cmp_qdoc);
        e = check_dups(&q->s, name, "qrels");
    }
    if (e) { idx_eval_qrels_free(q); return e; }
    *out = q;
    return IDX_OK;
}

static idx_err load_with(const char *path, idx_buf *b) {
    return idx_read_file(path, (size_t)4 << 30, b);
}

idx_err idx_eval_qrels_load(const char *path, idx_eval_qrels **out) {
    idx_buf b = {0};
    idx_err e = load_with(path, &b);
    if (!e) e = idx_eval_qrels_parse(b.data ? b.data : "", b.len, path, out);
    idx_buf_free(&b);
    return e;
}

void idx_eval_qrels_free(idx_eval_qrels *q) {
    if (!q) return;
    recset_free(&q->s);
    free(q);
}

size_t idx_eval_qrels_queries(const idx_eval_qrels *q) {
    size_t n = 0;
    for (size_t i = 0; i < q->s.n; i++)
        if (i == 0 || strcmp(S(&q->s, q->s.r[i].qid), S(&q->s, q->s.r[i - 1].qid))) n++;
    return n;
}

void idx_eval_qrels_each(const idx_eval_qrels *q, int (*fn)(void *, const char *, const char *, int), void *ud) {
    for (size_t i = 0; i < q->s.n; i++)
        if (fn(ud, S(&q->s, q->s.r[i].qid), S(&q->s, q->s.r[i].doc), (int)q->s.r[i].v)) return;
}

idx_err idx_eval_run_new(idx_eval_run **out) {
    idx_eval_run *r = calloc(1, sizeof *r);
    if (!r) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    *out = r;
    return IDX_OK;
}

idx_err idx_eval_run_add(idx_eval_run *r, const char *qid, const char *docid, double score) {
    if (!isfinite(score)) return idx_fail(IDX_ERR_INVALID, "score for %s/%s is not finite", qid, docid);
    return recset_add(&r->s, qid, strlen(qid), docid, strlen(docid), score);
}

void idx_eval_run_free(idx_eval_run *r) {
    if (!r) return;
    recset_free(&r->s);
    free(r);
}

idx_err idx_eval_run_parse(const char *data, size_t len, const char *name, idx_eval_run **out) {
    idx_eval_run *r = NULL;
    idx_err e = idx_eval_run_new(&r);
    if (e) return e;
    size_t pos = 0, line = 0;
    while (pos < len && !e) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const char *p = data + pos;
        pos += ll + 1;
        line++;
        const char *f[6];
        size_t fl[6];
        size_t nf = split(p, ll, f, fl, 6);
        if (nf == 0) continue;
        long rank;
        double score;
        if (nf != 6) {
            e = idx_fail(IDX_ERR_PARSE, "%s:%zu: expected 6 fields 'qid Q0 docid rank score tag', got %zu", name,
                         line, nf);
        } else if (parse_long(f[3], fl[3], &rank)) {
            e = idx_fail(IDX_ERR_PARSE, "%s:%zu: rank '%.*s' is not an integer", name, line,
                         (int)(fl[3] > 40 ? 40 : fl[3]), f[3]);
        } else if (parse_double(f[4], fl[4], &score)) {
            e = idx_fail(IDX_ERR_PARSE, "%s:%zu: score '%.*s' is not a finite number", name, line,
                         (int)(fl[4] > 40 ? 40 : fl[4]), f[4]);
        } else {
            e = recset_add(&r->s, f[0], fl[0], f[2], fl[2], score);
        }
    }
    if (!e && r->s.n == 0) e = idx_fail(IDX_ERR_EMPTY, "%s: the run is empty", name);
    if (!e) {
        sort_set = &r->s;
        qsort(r->s.r, r->s.n, sizeof *r->s.r, cmp_qdoc);
        e = check_dups(&r->s, name, "run");
    }
    if (e) { idx_eval_run_free(r); return e; }
    *out = r;
    return IDX_OK;
}

idx_err idx_eval_run_load(const char *path, idx_eval_run **out) {
    idx_buf b = {0};
    idx_err e = load_with(path, &b);
    if (!e) e = idx_eval_run_parse(b.data ? b.data : "", b.len, path, out);
    idx_buf_free(&b);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                    */
/* ------------------------------------------------------------------------ */

idx_err idx_eval_metrics_parse(const char *spec, idx_eval_metric *m, size_t max, size_t *n) {
    *n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        char tok[64];
        if (l == 0 || l >= sizeof tok) return idx_fail(IDX_ERR_INVALID, "bad metric list '%s'", spec);
        memcpy(tok, p, l);
        tok[l] = 0;
        for (char *c = tok; *c; c++) if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        char *at = strchr(tok, '@');
        unsigned long k = 0;
        if (at) {
            *at = 0;
            char *e2;
            k = strtoul(at + 1, &e2, 10);
            if (!at[1] || *e2 || k == 0 || k > 1000000) return idx_fail(IDX_ERR_INVALID, "bad cutoff in metric '%.*s'", (int)l, p);
        }
        idx_eval_metric mm = {0, (unsigned)k};
        if (!strcmp(tok, "ndcg")) mm.kind = IDX_METRIC_NDCG;
        else if (!strcmp(tok, "recall") || !strcmp(tok, "r")) mm.kind = IDX_METRIC_RECALL;
        else if (!strcmp(tok, "p") || !strcmp(tok, "precision")) mm.kind = IDX_METRIC_PRECISION;
        else if (!strcmp(tok, "mrr")) mm.kind = IDX_METRIC_MRR;
        else if (!strcmp(tok, "map")) mm.kind = IDX_METRIC_MAP;
        else return idx_fail(IDX_ERR_INVALID, "unknown metric '%s' (ndcg@k, recall@k, p@k, mrr@k, map[@k])", tok);
        if (mm.kind != IDX_METRIC_MAP && mm.kind != IDX_METRIC_MRR && k == 0)
            return idx_fail(IDX_ERR_INVALID, "metric '%s' needs a cutoff, e.g. %s@10", tok, tok);
        if (*n >= max) return idx_fail(IDX_ERR_LIMIT, "too many metrics (at most %zu)", max);
        m[(*n)++] = mm;
        p += l;
        if (*p == ',') p++;
    }
    if (*n == 0) return idx_fail(IDX_ERR_INVALID, "no metrics given");
    return IDX_OK;
}

void idx_eval_metric_name(const idx_eval_metric *m, char *buf, size_t n) {
    const char *b = m->kind == IDX_METRIC_NDCG ? "ndcg" : m->kind == IDX_METRIC_RECALL ? "recall"
                  : m->kind == IDX_METRIC_PRECISION ? "p" : m->kind == IDX_METRIC_MRR ? "mrr" : "map";
    if (m->k) snprintf(buf, n, "%s@%u", b, m->k);
    else snprintf(buf, n, "%s", b);
}

void idx_eval_result_free(idx_eval_result *res) {
    if (!res) return;
    for (size_t i = 0; i < res->nqueries; i++) free(res->qids[i]);
    free(res->qids);
    free(res->values);
    free(res->mean);
    free(res);
}

static int cmp_dbl_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* Grade of doc in qrels records [lo, hi) (sorted by doc); 0 if unjudged. */
static double grade(const recset *q, size_t lo, size_t hi, const char *doc) {
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(S(q, q->r[mid].doc), doc);
        if (c == 0) return q->r[mid].v;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

idx_err idx_eval_compute(const idx_eval_qrels *qr, const idx_eval_run *run, const idx_eval_metric *m, size_t nm,
                         idx_eval_result **out) {
    const recset *q = &qr->s;
    idx_eval_result *res = calloc(1, sizeof *res);
    rec *rr = NULL;
    double *ideal = NULL;
    if (!res) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t nq = idx_eval_qrels_queries(qr), ri = 0, qi = 0;
    res->nmetrics = nm;
    idx_err e = IDX_OK;
    if (!(res->qids = calloc(nq ? nq : 1, sizeof *res->qids)) ||
        !(res->values = calloc((nq ? nq : 1) * (nm ? nm : 1), sizeof *res->values)) ||
        !(res->mean = calloc(nm ? nm : 1, sizeof *res->mean)) ||
        !(ideal = malloc((q->n ? q->n : 1) * sizeof *ideal))) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* the run sorted by (qid, score desc, docid desc) */
    if (run->s.n && (e = idx_xmalloc(run->s.n * sizeof *rr, &rr))) goto fail;
    if (run->s.n) memcpy(rr, run->s.r, run->s.n * sizeof *rr);
    sort_set = &run->s;
    qsort(rr, run->s.n, sizeof *rr, cmp_rank);
    /* count run-only queries */
    for (size_t i = 0; i < run->s.n; i++) {
        if (i && !strcmp(S(&run->s, rr[i].qid), S(&run->s, rr[i - 1].qid))) continue;
        const char *rq = S(&run->s, rr[i].qid);
        size_t lo = 0, hi = q->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(S(q, q->r[mid].qid), rq) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo >= q->n || strcmp(S(q, q->r[lo].qid), rq)) res->run_only++;
    }
    for (size_t i = 0; i < q->n;) {
        size_t j = i;
        const char *qid = S(q, q->r[i].qid);
        while (j < q->n && !strcmp(S(q, q->r[j].qid), qid)) j++;
        if (!(res->qids[qi] = strdup(qid))) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
        size_t R = 0, ni = 0;
        for (size_t t = i; t < j; t++) {
            if (q->r[t].v >= 1) R++;
            ideal[ni++] = q->r[t].v > 0 ? q->r[t].v : 0;
        }
        qsort(ideal, ni, sizeof *ideal, cmp_dbl_desc);
        /* this query's run records */
        while (ri < run->s.n && strcmp(S(&run->s, rr[ri].qid), qid) < 0) ri++;
        size_t rs = ri;
        while (ri < run->s.n && !strcmp(S(&run->s, rr[ri].qid), qid)) ri++;
        size_t rn = ri - rs;
        if (rn == 0) res->missing++;
        for (size_t mi = 0; mi < nm; mi++) {
            size_t k = m[mi].k ? m[mi].k : rn;
            size_t lim = k < rn ? k : rn;
            double v = 0;
            switch (m[mi].kind) {
            case IDX_METRIC_NDCG: {
                double dcg = 0, idcg = 0;
                for (size_t t = 0; t < lim; t++) {
                    double g = grade(q, i, j, S(&run->s, rr[rs + t].doc));
                    if (g > 0) dcg += g / log2((double)t + 2.0);
                }
                for (size_t t = 0; t < ni && t < k; t++)
                    if (ideal[t] > 0) idcg += ideal[t] / log2((double)t + 2.0);
                v = idcg > 0 ? dcg / idcg : 0;
                break;
            }
            case IDX_METRIC_RECALL:
            case IDX_METRIC_PRECISION: {
                size_t hit = 0;
                for (size_t t = 0; t < lim; t++)
                    if (grade(q, i, j, S(&run->s, rr[rs + t].doc)) >= 1) hit++;
                if (m[mi].kind == IDX_METRIC_RECALL) v = R ? (double)hit / (double)R : 0;
                else v = (double)hit / (double)k;
                break;
            }
            case IDX_METRIC_MRR:
                for (size_t t = 0; t < lim; t++)
                    if (grade(q, i, j, S(&run->s, rr[rs + t].doc)) >= 1) { v = 1.0 / (double)(t + 1); break; }
                break;
            case IDX_METRIC_MAP: {
                size_t hit = 0;
                double sum = 0;
                for (size_t t = 0; t < lim; t++)
                    if (grade(q, i, j, S(&run->s, rr[rs + t].doc)) >= 1) sum += (double)++hit / (double)(t + 1);
                v = R ? sum / (double)R : 0;
                break;
            }
            }
            res->values[qi * nm + mi] = v;
            res->mean[mi] += v;
        }
        qi++;
        i = j;
    }
    res->nqueries = qi;
    for (size_t mi = 0; mi < nm; mi++) res->mean[mi] = qi ? res->mean[mi] / (double)qi : 0;
    free(rr);
    free(ideal);
    *out = res;
    return IDX_OK;
fail:
    free(rr);
    free(ideal);
    res->nqueries = qi;
    idx_eval_result_free(res);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Query files                                                                */
/* ------------------------------------------------------------------------ */

void idx_eval_queries_free(idx_eval_queries *q) {
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->ids[i]);
        free(q->texts[i]);
    }
    free(q->ids);
    free(q->texts);
    free(q);
}

static idx_err queries_add(idx_eval_queries *q, size_t *cap, const char *id, size_t il, const char *t, size_t tl) {
    if (q->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        idx_err e = idx_xrealloc(&q->ids, nc * sizeof *q->ids);
        if (!e) e = idx_xrealloc(&q->texts, nc * sizeof *q->texts);
        if (e) return e;
        *cap = nc;
    }
    char *a = strndup(id, il), *b = strndup(t, tl);
    if (!a || !b) {
        free(a);
        free(b);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    q->ids[q->n] = a;
    q->texts[q->n] = b;
    q->n++;
    return IDX_OK;
}

idx_err idx_eval_queries_parse(const char *data, size_t len, const char *name, idx_eval_queries **out) {
    idx_eval_queries *q = calloc(1, sizeof *q);
    if (!q) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t cap = 0, pos = 0, line = 0;
    size_t first = 0;
    while (first < len && (data[first] == ' ' || data[first] == '\t' || data[first] == '\r' || data[first] == '\n')) first++;
    int jsonl = first < len && data[first] == '{';
    idx_err e = IDX_OK;
    while (pos < len && !e) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const char *p = data + pos;
        pos += ll + 1;
        line++;
        while (ll && (p[ll - 1] == '\r')) ll--;
        size_t blank = 0;
        while (blank < ll && (p[blank] == ' ' || p[blank] == '\t')) blank++;
        if (blank == ll) continue;
        if (memchr(p, 0, ll)) { e = idx_fail(IDX_ERR_PARSE, "%s:%zu: NUL byte in a query line", name, line); break; }
        if (jsonl) {
            json_error_t je;
            json_t *o = json_loadb(p, ll, 0, &je);
            json_t *id = o ? json_object_get(o, "_id") : NULL;
            if (o && !id) id = json_object_get(o, "id");
            json_t *t = o ? json_object_get(o, "text") : NULL;
            if (!o || !json_is_object(o)) e = idx_fail(IDX_ERR_PARSE, "%s:%zu: malformed JSON: %s", name, line, o ? "not an object" : je.text);
            else if (!json_is_string(id) && !json_is_integer(id)) e = idx_fail(IDX_ERR_PARSE, "%s:%zu: query has no string \"_id\"", name, line);
            else if (!json_is_string(t)) e = idx_fail(IDX_ERR_PARSE, "%s:%zu: query has no string \"text\"", name, line);
            else {
                char ib[32];
                const char *ids = ib;
                if (json_is_integer(id)) snprintf(ib, sizeof ib, "%lld", (long long)json_integer_value(id));
                else ids = json_string_value(id);
                e = queries_add(q, &cap, ids, strlen(ids), json_string_value(t), json_string_length(t));
            }
            json_decref(o);
        } else {
            const char *tab = memchr(p, '\t', ll);
            if (!tab || tab == p) { e = idx_fail(IDX_ERR_PARSE, "%s:%zu: expected 'id<TAB>text'", name, line); break; }
            e = queries_add(q, &cap, p, (size_t)(tab - p), tab + 1, ll - (size_t)(tab - p) - 1);
        }
    }
    if (!e && q->n == 0) e = idx_fail(IDX_ERR_EMPTY, "%s: no queries", name);
    if (e) { idx_eval_queries_free(q); return e; }
    *out = q;
    return IDX_OK;
}

idx_err idx_eval_queries_load(const char *path, idx_eval_queries **out) {
    idx_buf b = {0};
    idx_err e = load_with(path, &b);
    if (!e) e = idx_eval_queries_parse(b.data ? b.data : "", b.len, path, out);
    idx_buf_free(&b);
    return e;
}
