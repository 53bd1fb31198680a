/*
 * routes_ngram.c -- the n-gram routes over an index's FM-index
 * (index/idx_ngram.h): POST /v1/infgram (infinity-gram probability and NLL
 * of every unit of a text, the same report as `idx infgram --json`) and
 * POST /v1/contamination (benchmark entries in the body, scored like
 * `idx contam --json`: per-entry windows, matched, score, class and longest
 * matching span, plus the per-benchmark summary).
 *
 * Contamination entries are any JSON objects (as lines of a benchmark JSONL
 * file); they are handed to the library's benchmark reader as a JSONL buffer
 * named "<benchmark>.jsonl", so field selection, ids and skipping behave as
 * for files. The run is single-threaded per request (the server's thread
 * pool is the parallelism) and stops at the request deadline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Bytes of text scored per library call in /v1/infgram (deadline checks between). */
#define INFGRAM_PIECE 2048

static const idx_server_index *need_ngram(idx_server_ctx *c, const char *name) {
    const idx_server_index *ix = idx_server_index_get(c, name);
    if (!ix) return NULL;
    if (!ix->ngram) {
        idx_server_error(c, 400, "missing_part", "index '%s' has no FM-index part", ix->name);
        return NULL;
    }
    return ix;
}

static int get_bool(idx_server_ctx *c, json_t *body, const char *key, int *v) {
    json_t *j = json_object_get(body, key);
    if (!j) return 1;
    if (!json_is_boolean(j)) {
        idx_server_error(c, 400, "bad_request", "field '%s' must be true or false", key);
        return 0;
    }
    *v = json_is_true(j);
    return 1;
}

static int get_real(idx_server_ctx *c, json_t *body, const char *key, double lo, double hi, double *v) {
    json_t *j = json_object_get(body, key);
    if (!j) return 1;
    if (!json_is_number(j) || !(json_number_value(j) >= lo && json_number_value(j) <= hi)) {
        idx_server_error(c, 400, "bad_request", "field '%s' must be a number in [%g, %g]", key, lo, hi);
        return 0;
    }
    *v = json_number_value(j);
    return 1;
}

/* ---- POST /v1/infgram ----------------------------------------------------- */

void idx_server_h_infgram(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const char *name, *text, *unit = "char";
    size_t len;
    uint64_t max_suffix = 0;
    int exclude_self = 0, summary = 0;
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) ||
        !idx_server_field_str(c, body, "text", 1, &text, &len) ||
        !idx_server_field_str(c, body, "unit", 0, &unit, NULL) ||
        !idx_server_field_uint(c, body, "max_suffix", 0, 0, UINT32_MAX, &max_suffix) ||
        !get_bool(c, body, "exclude_self", &exclude_self) || !get_bool(c, body, "summary", &summary))
        return;
    if (len > idx_server_limits(c)->max_text) {
        idx_server_error(c, 400, "limit_exceeded", "'text' is %zu bytes, more than the limit max_text=%zu", len,
                         idx_server_limits(c)->max_text);
        return;
    }
    if (max_suffix > idx_server_limits(c)->max_suffix) {
        idx_server_error(c, 400, "limit_exceeded", "max_suffix %llu is more than the limit max_suffix=%zu bytes",
                         (unsigned long long)max_suffix, idx_server_limits(c)->max_suffix);
        return;
    }
    if (!max_suffix) max_suffix = idx_server_limits(c)->max_suffix;
    if (exclude_self && len > INFGRAM_PIECE) {
        idx_server_error(c, 400, "limit_exceeded",
                         "exclude_self needs the text in one piece: at most %d bytes (this one has %zu)",
                         INFGRAM_PIECE, len);
        return;
    }
    idx_ngram_opts o = {IDX_NGRAM_UNIT_CHAR, (size_t)max_suffix, exclude_self};
    if (!strcmp(unit, "byte"))
        o.unit = IDX_NGRAM_UNIT_BYTE;
    else if (strcmp(unit, "char")) {
        idx_server_error(c, 400, "bad_request", "field 'unit' must be \"byte\" or \"char\"");
        return;
    }
    const idx_server_index *ix = need_ngram(c, name);
    if (!ix) return;
    /* Pieces of INFGRAM_PIECE bytes, each scored with max_suffix bytes of the
     * text before it as context: a unit never looks further back than
     * max_suffix, so the units are exactly those of one call over the whole
     * text, and the deadline is checked between pieces. (The text is valid
     * UTF-8: it came from a JSON string.) */
    idx_ngram_unit *u = NULL;
    size_t nu = 0;
    double nll_sum = 0;
    idx_err e = IDX_OK;
    for (size_t a = 0; !e && (a < len || (len == 0 && a == 0));) {
        size_t b = len - a > INFGRAM_PIECE ? a + INFGRAM_PIECE : len;
        while (b < len && ((unsigned char)text[b] & 0xC0) == 0x80) b++;
        size_t s0 = a > max_suffix ? a - (size_t)max_suffix : 0;
        while (s0 > 0 && ((unsigned char)text[s0] & 0xC0) == 0x80) s0--;
        idx_ngram_unit *pu = NULL;
        size_t np = 0;
        double pm = 0;
        e = idx_ngram_infgram(ix->ngram, text + s0, b - s0, &o, &pu, &np, &pm);
        if (!e) {
            idx_ngram_unit *grown = realloc(u, (nu + np + 1) * sizeof *u);
            if (!grown) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
            else u = grown;
        }
        for (size_t i = 0; !e && i < np; i++) {
            if (s0 + pu[i].offset < a) continue; /* context only */
            u[nu] = pu[i];
            u[nu].offset += s0;
            nll_sum += pu[i].nll;
            nu++;
        }
        free(pu);
        if (!e && b < len && idx_server_deadline(c)) {
            free(u);
            return;
        }
        if (b == a) break;
        a = b;
    }
    double mean = nu ? nll_sum / (double)nu : 0;
    if (e) {
        free(u);
        idx_server_fail(c, e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < nu && !summary; i++) {
        const idx_ngram_unit *x = &u[i];
        json_array_append_new(
            arr, json_pack("{s:I,s:o,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:b,s:f,s:f}", "offset", (json_int_t)x->offset,
                           "unit", idx_server_json_text(text + x->offset, x->len), "suffix_len",
                           (json_int_t)x->suffix_len, "count_suffix", (json_int_t)x->suffix_count, "count_next",
                           (json_int_t)x->next_count, "p_inf",
                           x->suffix_count ? json_real((double)x->next_count / (double)x->suffix_count)
                                           : json_null(),
                           "backoff_len", (json_int_t)x->backoff_len, "backoff_count_suffix",
                           (json_int_t)x->backoff_suffix_count, "backoff_count_next",
                           (json_int_t)x->backoff_next_count, "unseen", x->unseen, "prob", x->prob, "nll", x->nll));
    }
    free(u);
    idx_server_reply(c, 200,
                     json_pack("{s:s,s:I,s:b,s:I,s:f,s:f,s:o,s:f}", "unit",
                               o.unit == IDX_NGRAM_UNIT_BYTE ? "byte" : "char", "max_suffix",
                               (json_int_t)o.max_suffix, "exclude_self", o.exclude_self, "units", (json_int_t)nu,
                               "mean_nll", mean, "perplexity", exp(mean), "per_unit", arr, "latency_ms",
                               idx_server_elapsed(c) * 1000.0));
}

/* ---- POST /v1/contamination ----------------------------------------------- */

typedef struct {
    double deadline; /* idx_now() value */
} run_state;

static int run_progress(void *ud, const idx_progress_info *p) {
    const run_state *st = ud;
    return idx_now() > st->deadline; /* non-zero cancels the run */
}

static int cmp_group(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "benchmark")), json_string_value(json_object_get(y, "benchmark")));
    if (c) return c;
    if ((c = strcmp(json_string_value(json_object_get(x, "split")), json_string_value(json_object_get(y, "split")))))
        return c;
    json_t *sx = json_object_get(x, "subject"), *sy = json_object_get(y, "subject");
    if (!json_is_string(sx)) return json_is_string(sy) ? -1 : 0;
    if (!json_is_string(sy)) return 1;
    return strcmp(json_string_value(sx), json_string_value(sy));
}

/* Per-benchmark-and-split (and per-subject) totals, as `idx contam --json` reports them. */
static json_t *summary_json(const idx_contam_set *set, const idx_contam_result *res, size_t n) {
    json_t *groups = json_object(); /* key "bench\tsubject" -> object */
    json_t *order = json_array();
    for (size_t i = 0; i < n; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(set, i);
        for (int level = 0; level < 2; level++) {
            if (level == 1 && !en->subject[0]) break;
            char key[512];
            snprintf(key, sizeof key, "%s\t%s\t%s", en->benchmark, en->split, level ? en->subject : "");
            json_t *g = json_object_get(groups, key);
            if (!g) {
                g = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "benchmark", en->benchmark, "split",
                              en->split, "subject",
                              level ? json_string(en->subject) : json_null(), "entries", (json_int_t)0, "skipped",
                              (json_int_t)0, "clean", (json_int_t)0, "suspicious", (json_int_t)0, "dirty",
                              (json_int_t)0, "windows", (json_int_t)0, "windows_matched", (json_int_t)0);
                json_object_set_new(groups, key, g);
                json_array_append(order, g);
            }
            const idx_contam_result *r = &res[i];
#define BUMP(k, v) json_object_set_new(g, k, json_integer(json_integer_value(json_object_get(g, k)) + (json_int_t)(v)))
            BUMP("entries", 1);
            if (r->skipped) {
                BUMP("skipped", 1);
                continue;
            }
            BUMP(idx_contam_class_name(r->cls), 1);
            BUMP("windows", r->windows);
            BUMP("windows_matched", r->matched);
#undef BUMP
        }
    }
    json_decref(groups);
    /* sorted by benchmark, its total first, then subjects (as the CLI) */
    size_t ng = json_array_size(order);
    json_t **v = calloc(ng ? ng : 1, sizeof *v);
    if (!v) return order;
    for (size_t i = 0; i < ng; i++) v[i] = json_incref(json_array_get(order, i));
    qsort(v, ng, sizeof *v, cmp_group);
    json_array_clear(order);
    for (size_t i = 0; i < ng; i++) json_array_append_new(order, v[i]);
    free(v);
    return order;
}

void idx_server_h_contamination(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const idx_server_opts *lim = idx_server_limits(c);
    const char *name, *bench = "request", *id_field = NULL;
    json_t *entries = json_object_get(body, "entries");
    if (!idx_server_field_str(c, body, "index", 1, &name, NULL) ||
        !idx_server_field_str(c, body, "benchmark", 0, &bench, NULL) ||
        !idx_server_field_str(c, body, "id_field", 0, &id_field, NULL))
        return;
    if (!json_is_array(entries)) {
        idx_server_error(c, 400, "bad_request", "field 'entries' must be an array of benchmark entries (objects)");
        return;
    }
    if (json_array_size(entries) > lim->max_batch) {
        idx_server_error(c, 400, "limit_exceeded", "'entries' has %zu entries, more than the limit max_batch=%zu",
                         json_array_size(entries), lim->max_batch);
        return;
    }
    if (!*bench || strpbrk(bench, "/\n")) {
        idx_server_error(c, 400, "bad_request", "field 'benchmark' must be a non-empty name without '/'");
        return;
    }
    const char *fields[16];
    size_t nfields = 0;
    json_t *jf = json_object_get(body, "fields");
    if (jf) {
        if (!json_is_array(jf) || json_array_size(jf) > 16) {
            idx_server_error(c, 400, "bad_request", "field 'fields' must be an array of at most 16 strings");
            return;
        }
        for (size_t i = 0; i < json_array_size(jf); i++) {
            if (!json_is_string(json_array_get(jf, i))) {
                idx_server_error(c, 400, "bad_request", "fields[%zu] must be a string", i);
                return;
            }
            fields[nfields++] = json_string_value(json_array_get(jf, i));
        }
    }
    idx_contam_opts co;
    idx_contam_opts_default(&co);
    co.threads = 1;
    uint64_t window = co.window_chars ? co.window_chars : 50, max_span = co.max_span ? co.max_span : 500;
    int span = 1, span_all = 0;
    double dirty = co.dirty < 0 ? 0.8 : co.dirty, susp = co.suspicious < 0 ? 0.2 : co.suspicious;
    if (!idx_server_field_uint(c, body, "window", 0, 1, 10000, &window) ||
        !idx_server_field_uint(c, body, "max_span", 0, 1, 100000, &max_span) || !get_bool(c, body, "span", &span) ||
        !get_bool(c, body, "span_all", &span_all) || !get_real(c, body, "dirty", 0, 1, &dirty) ||
        !get_real(c, body, "suspicious", 0, 1, &susp))
        return;
    if (susp > dirty) {
        idx_server_error(c, 400, "bad_request", "'suspicious' (%g) must not exceed 'dirty' (%g)", susp, dirty);
        return;
    }
    co.window_chars = (size_t)window;
    co.max_span = (size_t)max_span;
    co.no_span = !span;
    co.span_all = span_all;
    co.dirty = dirty;
    co.suspicious = susp;
    /* the entries as JSONL lines */
    idx_buf jl = {0};
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *en = json_array_get(entries, i);
        if (!json_is_object(en)) {
            idx_buf_free(&jl);
            idx_server_error(c, 400, "bad_request", "entries[%zu] must be an object", i);
            return;
        }
        char *line = json_dumps(en, JSON_COMPACT);
        if (!line || idx_buf_append(&jl, line, strlen(line)) || idx_buf_append(&jl, "\n", 1)) {
            free(line);
            idx_buf_free(&jl);
            idx_server_error(c, 500, "internal", "out of memory");
            return;
        }
        free(line);
    }
    const idx_server_index *ix = need_ngram(c, name);
    if (!ix) {
        idx_buf_free(&jl);
        return;
    }
    char source[300];
    snprintf(source, sizeof source, "%s.jsonl", bench);
    idx_contam_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.fields = nfields ? fields : NULL;
    ro.nfields = nfields;
    ro.id_field = id_field;
    ro.name = bench;
    ro.skip_bad = 1;
    ro.max_entry_bytes = lim->max_text;
    idx_contam_set *set = NULL;
    idx_err e = idx_contam_set_new(&set);
    if (!e) e = idx_contam_read_buffer(set, source, jl.data ? jl.data : "", jl.len, IDX_CONTAM_FMT_JSONL, &ro);
    idx_buf_free(&jl);
    size_t n = set ? idx_contam_set_count(set) : 0;
    idx_contam_result *res = calloc(n ? n : 1, sizeof *res);
    if (!e && !res) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    double limit_ms = lim->timeout_ms;
    json_t *t = json_object_get(body, "timeout_ms");
    if (t && json_is_number(t) && json_number_value(t) > 0 && json_number_value(t) < limit_ms)
        limit_ms = json_number_value(t);
    run_state st = {c->t0 + limit_ms / 1000.0};
    double t0 = idx_now();
    if (!e) e = idx_contam_run(ix->ngram, set, &co, res, run_progress, &st);
    double secs = idx_now() - t0;
    if (e == IDX_ERR_CANCELLED) {
        idx_server_deadline(c);
        if (!c->answered)
            idx_server_error(c, 504, "timeout", "the contamination run passed the request deadline of %g ms",
                             limit_ms);
    }
    if (e) {
        free(res);
        idx_contam_set_free(set);
        idx_server_fail(c, e);
        return;
    }
    json_t *out = json_array();
    uint64_t windows = 0;
    for (size_t i = 0; i < n; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(set, i);
        const idx_contam_result *r = &res[i];
        windows += r->windows;
        json_t *o = idx_contam_entry_json(en, r, ix->docs);
        json_array_append_new(out, o);
    }
    json_t *summary = summary_json(set, res, n);
    free(res);
    idx_contam_set_free(set);
    idx_server_reply(
        c, 200,
        json_pack("{s:s,s:{s:I,s:f,s:f,s:b},s:{s:I,s:I,s:f},s:o,s:o,s:f}", "index", ix->name, "options",
                  "window_chars", (json_int_t)co.window_chars, "dirty", co.dirty, "suspicious", co.suspicious, "span",
                  !co.no_span, "timing", "entries", (json_int_t)n, "windows", (json_int_t)windows, "seconds", secs,
                  "summary", summary, "entries", out, "latency_ms", idx_server_elapsed(c) * 1000.0));
}
