/*
 * bench_reader.c -- reads benchmark files for the contamination check into an
 * idx_contam_set: JSONL (also .json holding one array of objects), optionally
 * .gz/.zst compressed, and CSV (RFC 4180: comma separated, fields optionally
 * in double quotes with "" for a quote, CRLF or LF line ends, a header row).
 * A --field picks the text (JSON path "a.b.0" or CSV column name/number);
 * the default is the first present of question, prompt, problem, text,
 * passage, context, and for CSV else the first column. The benchmark name,
 * subject and split come from the path (see idx_ngram.h).
 *
 * Bad input never passes silently: a line that does not parse, a missing or
 * non-string field, an empty entry, invalid UTF-8 / binary bytes and entries
 * over the size limit fail with "file:line: reason" (IDX_ERR_PARSE), or, with
 * skip_bad, are kept in the set as skipped entries carrying that reason.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "idx_ngram.h"

struct idx_contam_set {
    idx_contam_entry *e;
    size_t n, cap;
    char **owned; /* every string the set allocated */
    size_t nowned, capowned;
};

static const char *const default_fields[] = {"question", "prompt", "problem", "text", "passage", "context"};
#define NDEFAULT (sizeof default_fields / sizeof default_fields[0])

idx_err idx_contam_set_new(idx_contam_set **out) {
    *out = calloc(1, sizeof **out);
    return *out ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "benchmark set");
}

void idx_contam_set_free(idx_contam_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->nowned; i++) free(set->owned[i]);
    free(set->owned);
    free(set->e);
    free(set);
}

size_t idx_contam_set_count(const idx_contam_set *set) { return set->n; }
const idx_contam_entry *idx_contam_set_entry(const idx_contam_set *set, size_t i) {
    return i < set->n ? &set->e[i] : NULL;
}

/* Takes ownership of p (freed now if it cannot be recorded). */
static idx_err own(idx_contam_set *set, void *p) {
    if (!p) return idx_fail(IDX_ERR_NOMEM, "benchmark set");
    if (set->nowned == set->capowned) {
        size_t nc = set->capowned ? set->capowned * 2 : 256;
        char **q = realloc(set->owned, nc * sizeof *q);
        if (!q) {
            free(p);
            return idx_fail(IDX_ERR_NOMEM, "benchmark set");
        }
        set->owned = q;
        set->capowned = nc;
    }
    set->owned[set->nowned++] = p;
    return IDX_OK;
}

static idx_err own_str(idx_contam_set *set, const char *s, size_t n, const char **out) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    idx_err e = own(set, p);
    if (!e) *out = p;
    return e;
}

/* ------------------------------------------------------------------ naming */

typedef struct {
    const char *bench, *subject, *split, *base; /* owned by the set */
} file_names;

static int is_split(const char *s, size_t n) {
    static const char *const sp[] = {"test", "dev", "val", "validation", "train"};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        if (strlen(sp[i]) == n && strncasecmp(s, sp[i], n) == 0) return 1;
    return 0;
}

static int strip_ext(const char *s, size_t *n, const char *ext) {
    size_t l = strlen(ext);
    if (*n > l && strncasecmp(s + *n - l, ext, l) == 0) {
        *n -= l;
        return 1;
    }
    return 0;
}

/* The last path component of path[0..n) (without trailing slashes). */
static void last_comp(const char *path, size_t n, size_t *start, size_t *len) {
    while (n > 1 && path[n - 1] == '/') n--;
    size_t i = n;
    while (i > 0 && path[i - 1] != '/') i--;
    *start = i;
    *len = n - i;
}

static idx_err names_from_path(idx_contam_set *set, const char *path, const char *override,
                               file_names *fn) {
    size_t plen = strlen(path), bs, bl;
    last_comp(path, plen, &bs, &bl);
    const char *base = path + bs;
    size_t n = bl;
    if (!strip_ext(base, &n, ".gz")) strip_ext(base, &n, ".zst");
    if (!strip_ext(base, &n, ".jsonl") && !strip_ext(base, &n, ".json") &&
        !strip_ext(base, &n, ".ndjson"))
        strip_ext(base, &n, ".csv");
    size_t ps = 0, pl = 0, gs = 0, gl = 0;
    if (bs > 0) last_comp(path, bs - 1, &ps, &pl);
    if (ps > 0) last_comp(path, ps - 1, &gs, &gl);
    const char *par = path + ps, *gpar = path + gs;
    const char *b = "", *subj = "", *split = "";
    size_t blen = 0, slen = 0, splen = 0;
    idx_err e;
    if (is_split(base, n)) { /* gsm8k/test.jsonl */
        split = base, splen = n;
        b = par, blen = pl;
    } else {
        size_t u = n;
        while (u > 0 && base[u - 1] != '_') u--;
        if (u > 1 && is_split(base + u, n - u)) { /* mmlu/test/anatomy_test.csv */
            subj = base, slen = u - 1;
            split = base + u, splen = n - u;
            if (is_split(par, pl)) b = gpar, blen = gl;
            else b = par, blen = pl;
        } else if (pl > 0 && is_split(par, pl)) { /* bench/test/foo.jsonl */
            subj = base, slen = n;
            split = par, splen = pl;
            b = gpar, blen = gl;
        } else { /* HumanEval.jsonl.gz */
            b = base, blen = n;
        }
    }
    if (blen == 0 || (blen == 1 && b[0] == '.')) b = base, blen = n;
    if (override) b = override, blen = strlen(override);
    if ((e = own_str(set, b, blen, &fn->bench)) || (e = own_str(set, subj, slen, &fn->subject)) ||
        (e = own_str(set, split, splen, &fn->split)) || (e = own_str(set, base, bl, &fn->base)))
        return e;
    return IDX_OK;
}

/* ------------------------------------------------------------------ entries */

static idx_err add_entry(idx_contam_set *set, const file_names *fn, const char *source, uint64_t line,
                         const char *id, size_t idlen, char *text, size_t len, size_t *seg_end,
                         size_t nseg, const char *skip) {
    /* text and seg_end are taken over (may be NULL for skipped entries). */
    idx_err e;
    if ((e = own(set, text ? (void *)text : strdup(""))) ) {
        free(seg_end);
        return e;
    }
    const char *txt = set->owned[set->nowned - 1];
    if (seg_end && (e = own(set, seg_end))) return e;
    if (set->n == set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 256;
        idx_contam_entry *p = realloc(set->e, nc * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "benchmark set: %zu entries", nc);
        set->e = p;
        set->cap = nc;
    }
    idx_contam_entry *en = &set->e[set->n];
    memset(en, 0, sizeof *en);
    en->benchmark = fn->bench;
    en->subject = fn->subject;
    en->split = fn->split;
    en->source = source;
    en->line = line;
    en->text = txt;
    en->len = text ? len : 0;
    en->seg_end = seg_end;
    en->nseg = seg_end ? nseg : 0;
    if (id) {
        if ((e = own_str(set, id, idlen, &en->id))) return e;
    } else {
        char buf[64];
        int k = snprintf(buf, sizeof buf, ":%llu", (unsigned long long)line);
        size_t bl = strlen(fn->base);
        char *p = malloc(bl + (size_t)k + 1);
        if (p) {
            memcpy(p, fn->base, bl);
            memcpy(p + bl, buf, (size_t)k + 1);
        }
        if ((e = own(set, p))) return e;
        en->id = p;
    }
    if (skip && (e = own_str(set, skip, strlen(skip), &en->skip))) return e;
    set->n++;
    return IDX_OK;
}

/* A per-entry problem: fails (strict) or records a skipped entry. */
static idx_err bad_entry(idx_contam_set *set, const file_names *fn, const char *source,
                         uint64_t line, const idx_contam_read_opts *o, const char *id, size_t idlen,
                         const char *why) {
    if (!o->skip_bad) return idx_fail(IDX_ERR_PARSE, "%s:%llu: %s", source, (unsigned long long)line, why);
    return add_entry(set, fn, source, line, id, idlen, NULL, 0, NULL, 0, why);
}

/* Checks the joined text; returns a reason or NULL. */
static const char *check_text(const char *t, size_t n, size_t max) {
    if (n > max) return "entry longer than the limit (--max-entry-bytes)";
    if (memchr(t, 0, n) || !idx_utf8_valid(t, n)) return "entry is not valid UTF-8 text (binary data?)";
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)t[i])) return NULL;
    return "empty entry";
}

typedef struct {
    idx_buf text;
    size_t *seg_end;
    size_t nseg, capseg;
} joined;

static idx_err join_add(joined *j, const char *s, size_t n) {
    idx_err e;
    if (j->nseg && (e = idx_buf_append(&j->text, "\n", 1))) return e;
    if ((e = idx_buf_append(&j->text, s, n))) return e;
    if (j->nseg == j->capseg) {
        size_t nc = j->capseg ? j->capseg * 2 : 4;
        size_t *p = realloc(j->seg_end, nc * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "benchmark entry");
        j->seg_end = p;
        j->capseg = nc;
    }
    j->seg_end[j->nseg++] = j->text.len;
    return IDX_OK;
}

static void join_reset(joined *j) {
    j->text.len = 0;
    j->nseg = 0;
}

static void join_free(joined *j) {
    idx_buf_free(&j->text);
    free(j->seg_end);
}

/* Hands the joined text to a new entry, or records why it is bad. */
static idx_err finish_entry(idx_contam_set *set, const file_names *fn, const char *source,
                            uint64_t line, const idx_contam_read_opts *o, size_t maxb,
                            const char *id, size_t idlen, joined *j) {
    const char *why = check_text(j->text.data ? j->text.data : "", j->text.len, maxb);
    if (why) return bad_entry(set, fn, source, line, o, id, idlen, why);
    char *t = malloc(j->text.len + 1);
    size_t *se = malloc(j->nseg * sizeof *se);
    if (!t || !se) {
        free(t);
        free(se);
        return idx_fail(IDX_ERR_NOMEM, "benchmark entry");
    }
    memcpy(t, j->text.data, j->text.len);
    t[j->text.len] = 0;
    memcpy(se, j->seg_end, j->nseg * sizeof *se);
    return add_entry(set, fn, source, line, id, idlen, t, j->text.len, se, j->nseg, NULL);
}

/* ------------------------------------------------------------------ JSON */

static json_t *json_path(json_t *v, const char *path) {
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (json_is_object(v)) {
            v = json_object_getn(v, p, n);
        } else if (json_is_array(v)) {
            char *end;
            unsigned long k = strtoul(p, &end, 10);
            v = (end == p + n && n > 0) ? json_array_get(v, k) : NULL;
        } else {
            v = NULL;
        }
        p += n;
        if (*p == '.') p++;
    }
    return v;
}

static idx_err json_entry(idx_contam_set *set, const file_names *fn, const char *source,
                          uint64_t line, json_t *obj, const idx_contam_read_opts *o, size_t maxb,
                          joined *j) {
    char why[256];
    const char *id = NULL;
    size_t idlen = 0;
    char idbuf[32];
    static const char *const idf[] = {"task_id", "id", "_id"};
    for (size_t i = 0; i < 3 && !id; i++) {
        json_t *v = o->id_field ? (i == 0 ? json_path(obj, o->id_field) : NULL) : json_object_get(obj, idf[i]);
        if (json_is_string(v)) {
            id = json_string_value(v);
            idlen = json_string_length(v);
        } else if (json_is_integer(v)) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(v));
            id = idbuf;
            idlen = strlen(idbuf);
        }
    }
    join_reset(j);
    if (!json_is_object(obj))
        return bad_entry(set, fn, source, line, o, id, idlen, "not a JSON object");
    idx_err e;
    if (o->nfields) {
        for (size_t i = 0; i < o->nfields; i++) {
            json_t *v = json_path(obj, o->fields[i]);
            if (!v) {
                snprintf(why, sizeof why, "missing field \"%s\"", o->fields[i]);
                return bad_entry(set, fn, source, line, o, id, idlen, why);
            }
            if (!json_is_string(v)) {
                snprintf(why, sizeof why, "field \"%s\" is not a string", o->fields[i]);
                return bad_entry(set, fn, source, line, o, id, idlen, why);
            }
            if ((e = join_add(j, json_string_value(v), json_string_length(v)))) return e;
        }
    } else {
        json_t *v = NULL;
        for (size_t i = 0; i < NDEFAULT && !v; i++) {
            v = json_object_get(obj, default_fields[i]);
            if (v && !json_is_string(v)) {
                snprintf(why, sizeof why, "field \"%s\" is not a string", default_fields[i]);
                return bad_entry(set, fn, source, line, o, id, idlen, why);
            }
        }
        if (!v)
            return bad_entry(set, fn, source, line, o, id, idlen,
                             "none of the fields question, prompt, problem, text, passage, context "
                             "is present (choose one with --field)");
        if ((e = join_add(j, json_string_value(v), json_string_length(v)))) return e;
    }
    return finish_entry(set, fn, source, line, o, maxb, id, idlen, j);
}

static idx_err read_jsonl(idx_contam_set *set, const file_names *fn, const char *source,
                          const char *data, size_t len, const idx_contam_read_opts *o, size_t maxb) {
    joined j = {0};
    idx_err e = IDX_OK;
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i])) i++;
    if (i < len && data[i] == '[') { /* a .json file with one array of entries */
        json_error_t err;
        json_t *arr = json_loadb(data, len, 0, &err);
        if (!arr) {
            if (!o->skip_bad) return idx_fail(IDX_ERR_PARSE, "%s:%d: invalid JSON: %s", source, err.line, err.text);
            return bad_entry(set, fn, source, (uint64_t)(err.line > 0 ? err.line : 1), o, NULL, 0, "invalid JSON");
        }
        size_t k;
        json_t *v;
        json_array_foreach(arr, k, v) {
            if ((e = json_entry(set, fn, source, k + 1, v, o, maxb, &j))) break;
        }
        json_decref(arr);
        join_free(&j);
        return e;
    }
    uint64_t line = 0;
    size_t p = 0;
    while (p < len && !e) {
        const char *nl = memchr(data + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - data) : len;
        line++;
        size_t a = p, b = end;
        while (a < b && isspace((unsigned char)data[a])) a++;
        while (b > a && isspace((unsigned char)data[b - 1])) b--;
        p = end + 1;
        if (a == b) continue;
        if (line == 1 && b - a >= 3 && memcmp(data + a, "\xEF\xBB\xBF", 3) == 0) a += 3;
        json_error_t err;
        json_t *obj = json_loadb(data + a, b - a, 0, &err);
        if (!obj) {
            if (!o->skip_bad) {
                e = idx_fail(IDX_ERR_PARSE, "%s:%llu: invalid JSON: %s", source, (unsigned long long)line, err.text);
            } else {
                char why[300];
                snprintf(why, sizeof why, "invalid JSON: %s", err.text);
                e = bad_entry(set, fn, source, line, o, NULL, 0, why);
            }
            continue;
        }
        e = json_entry(set, fn, source, line, obj, o, maxb, &j);
        json_decref(obj);
    }
    join_free(&j);
    return e;
}

/* ------------------------------------------------------------------ CSV */

typedef struct {
    idx_buf buf;      /* field bytes, each NUL-terminated */
    size_t *off;      /* start of each field in buf */
    size_t n, cap;
} csv_rec;

static idx_err rec_push(csv_rec *r) {
    idx_err e;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        size_t *p = realloc(r->off, nc * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "CSV record");
        r->off = p;
        r->cap = nc;
    }
    r->off[r->n++] = r->buf.len;
    (void)e;
    return IDX_OK;
}

/* Parses one record starting at *pos; advances *pos and *line. Returns
 * IDX_ERR_PARSE with a reason in why (the caller adds file:line). */
static idx_err csv_record(const char *d, size_t len, size_t *pos, uint64_t *line, csv_rec *r,
                          const char **why) {
    size_t p = *pos;
    r->n = 0;
    r->buf.len = 0;
    idx_err e;
    if ((e = rec_push(r))) return e;
    for (;;) {
        if (p < len && d[p] == '"') { /* quoted field */
            p++;
            for (;;) {
                if (p >= len) {
                    *why = "unterminated quoted field";
                    *pos = len;
                    return IDX_ERR_PARSE;
                }
                const char *q = memchr(d + p, '"', len - p);
                size_t stop = q ? (size_t)(q - d) : len;
                for (size_t k = p; k < stop; k++)
                    if (d[k] == '\n') (*line)++;
                if ((e = idx_buf_append(&r->buf, d + p, stop - p))) return e;
                p = stop;
                if (p >= len) continue;
                if (p + 1 < len && d[p + 1] == '"') {
                    if ((e = idx_buf_append(&r->buf, "\"", 1))) return e;
                    p += 2;
                    continue;
                }
                p++; /* closing quote */
                break;
            }
            if (p < len && d[p] != ',' && d[p] != '\n' && !(d[p] == '\r' && (p + 1 == len || d[p + 1] == '\n'))) {
                *why = "text after a closing quote (a quote inside a field must be doubled)";
                while (p < len && d[p] != '\n') p++;
                *pos = p < len ? p + 1 : len;
                (*line)++;
                return IDX_ERR_PARSE;
            }
        } else {
            size_t s = p;
            while (p < len && d[p] != ',' && d[p] != '\n') {
                if (d[p] == '"') {
                    *why = "quote inside an unquoted field";
                    while (p < len && d[p] != '\n') p++;
                    *pos = p < len ? p + 1 : len;
                    (*line)++;
                    return IDX_ERR_PARSE;
                }
                p++;
            }
            size_t t = p;
            if (t > s && d[t - 1] == '\r' && (p >= len || d[p] == '\n')) t--;
            if ((e = idx_buf_append(&r->buf, d + s, t - s))) return e;
        }
        if ((e = idx_buf_append(&r->buf, "", 1))) return e; /* NUL after the field */
        if (p < len && d[p] == ',') {
            p++;
            if ((e = rec_push(r))) return e;
            continue;
        }
        if (p < len && d[p] == '\r') p++;
        if (p < len && d[p] == '\n') p++;
        (*line)++;
        break;
    }
    *pos = p;
    return IDX_OK;
}

static idx_err read_csv(idx_contam_set *set, const file_names *fn, const char *source,
                        const char *d, size_t len, const idx_contam_read_opts *o, size_t maxb) {
    csv_rec r = {0};
    joined j = {0};
    size_t *cols = NULL;
    char **header = NULL;
    size_t ncols = 0, nsel = 0;
    idx_err e = IDX_OK;
    size_t pos = 0;
    uint64_t line = 1;
    const char *why = NULL;
    long idcol = -1;
    if (len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0) pos = 3;
    while (pos < len && (d[pos] == '\n' || d[pos] == '\r')) {
        if (d[pos] == '\n') line++;
        pos++;
    }
    if (pos >= len) {
        e = idx_fail(IDX_ERR_PARSE, "%s: empty CSV file (a header row is required)", source);
        goto done;
    }
    uint64_t hline = line;
    if ((e = csv_record(d, len, &pos, &line, &r, &why))) {
        if (e == IDX_ERR_PARSE) e = idx_fail(e, "%s:%llu: header row: %s", source, (unsigned long long)hline, why);
        goto done;
    }
    ncols = r.n;
    header = calloc(ncols, sizeof *header);
    cols = calloc(o->nfields ? o->nfields : 1, sizeof *cols);
    if (!header || !cols) {
        e = idx_fail(IDX_ERR_NOMEM, "CSV header");
        goto done;
    }
    for (size_t c = 0; c < ncols; c++) {
        header[c] = strdup(r.buf.data + r.off[c]);
        if (!header[c]) {
            e = idx_fail(IDX_ERR_NOMEM, "CSV header");
            goto done;
        }
    }
    if (o->nfields) {
        for (size_t f = 0; f < o->nfields; f++) {
            long found = -1;
            for (size_t c = 0; c < ncols && found < 0; c++)
                if (strcasecmp(header[c], o->fields[f]) == 0) found = (long)c;
            if (found < 0) {
                char *end;
                long k = strtol(o->fields[f], &end, 10);
                if (*o->fields[f] && !*end && k >= 1 && (size_t)k <= ncols) found = k - 1;
            }
            if (found < 0) {
                e = idx_fail(IDX_ERR_PARSE, "%s:%llu: no column \"%s\" in the header row", source,
                             (unsigned long long)hline, o->fields[f]);
                goto done;
            }
            cols[nsel++] = (size_t)found;
        }
    } else {
        long found = -1;
        for (size_t i = 0; i < NDEFAULT && found < 0; i++)
            for (size_t c = 0; c < ncols && found < 0; c++)
                if (strcasecmp(header[c], default_fields[i]) == 0) found = (long)c;
        cols[nsel++] = found < 0 ? 0 : (size_t)found;
    }
    for (size_t c = 0; c < ncols; c++) {
        if (o->id_field ? strcasecmp(header[c], o->id_field) == 0
                        : (strcasecmp(header[c], "id") == 0 || strcasecmp(header[c], "task_id") == 0)) {
            idcol = (long)c;
            break;
        }
    }
    while (pos < len && !e) {
        uint64_t start = line;
        if (d[pos] == '\n' || (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')) { /* blank line */
            pos += d[pos] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        e = csv_record(d, len, &pos, &line, &r, &why);
        if (e == IDX_ERR_PARSE) {
            e = o->skip_bad ? bad_entry(set, fn, source, start, o, NULL, 0, why)
                            : idx_fail(IDX_ERR_PARSE, "%s:%llu: %s", source, (unsigned long long)start, why);
            continue;
        }
        if (e) break;
        const char *id = idcol >= 0 && (size_t)idcol < r.n ? r.buf.data + r.off[idcol] : NULL;
        size_t idlen = id ? strlen(id) : 0;
        if (r.n != ncols) {
            char w[160];
            snprintf(w, sizeof w, "%zu fields where the header row has %zu", r.n, ncols);
            e = bad_entry(set, fn, source, start, o, id, idlen, w);
            continue;
        }
        join_reset(&j);
        for (size_t f = 0; f < nsel && !e; f++) {
            size_t c = cols[f];
            size_t fl = (c + 1 < r.n ? r.off[c + 1] - 1 : r.buf.len - 1) - r.off[c];
            e = join_add(&j, r.buf.data + r.off[c], fl);
        }
        if (!e) e = finish_entry(set, fn, source, start, o, maxb, id, idlen, &j);
    }
done:
    if (header)
        for (size_t c = 0; c < ncols; c++) free(header[c]);
    free(header);
    free(cols);
    idx_buf_free(&r.buf);
    free(r.off);
    join_free(&j);
    return e;
}

/* ------------------------------------------------------------------ files */

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static int is_bench_file(const char *name, int *csv) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", name);
    size_t n = strlen(tmp);
    if (has_suffix(tmp, ".gz")) tmp[n - 3] = 0;
    else if (has_suffix(tmp, ".zst")) tmp[n - 4] = 0;
    *csv = has_suffix(tmp, ".csv");
    return *csv || has_suffix(tmp, ".jsonl") || has_suffix(tmp, ".json") || has_suffix(tmp, ".ndjson");
}

idx_err idx_contam_read_buffer(idx_contam_set *set, const char *source, const char *data,
                               size_t len, idx_contam_format fmt, const idx_contam_read_opts *o) {
    idx_contam_read_opts def = {0};
    if (!o) o = &def;
    size_t maxb = o->max_entry_bytes ? o->max_entry_bytes : (size_t)1 << 20;
    file_names fn;
    const char *src;
    idx_err e;
    if ((e = own_str(set, source, strlen(source), &src))) return e;
    if ((e = names_from_path(set, source, o->name, &fn))) return e;
    int csv = 0;
    if (fmt == IDX_CONTAM_FMT_AUTO) is_bench_file(source, &csv);
    else csv = fmt == IDX_CONTAM_FMT_CSV;
    return csv ? read_csv(set, &fn, src, data, len, o, maxb) : read_jsonl(set, &fn, src, data, len, o, maxb);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static idx_err read_dir(idx_contam_set *set, const char *dir, const idx_contam_read_opts *o,
                        size_t *files);

static idx_err read_one(idx_contam_set *set, const char *path, const idx_contam_read_opts *o) {
    idx_buf b = {0};
    idx_err e = idx_read_file(path, 0, &b);
    if (!e) e = idx_contam_read_buffer(set, path, b.data ? b.data : "", b.len, IDX_CONTAM_FMT_AUTO, o);
    idx_buf_free(&b);
    return e;
}

static idx_err read_dir(idx_contam_set *set, const char *dir, const idx_contam_read_opts *o,
                        size_t *files) {
    DIR *dp = opendir(dir);
    if (!dp) return idx_fail(IDX_ERR_IO, "%s: cannot open directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    idx_err e = IDX_OK;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) { e = idx_fail(IDX_ERR_NOMEM, "directory listing"); break; }
            names = p;
        }
        if (!(names[n] = strdup(de->d_name))) { e = idx_fail(IDX_ERR_NOMEM, "directory listing"); break; }
        n++;
    }
    closedir(dp);
    if (!e && n > 1) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !e; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(pl);
        if (!p) { e = idx_fail(IDX_ERR_NOMEM, "path"); break; }
        snprintf(p, pl, "%s/%s", dir, names[i]);
        struct stat st;
        int csv;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) e = read_dir(set, p, o, files);
        else if (is_bench_file(names[i], &csv)) {
            e = read_one(set, p, o);
            (*files)++;
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return e;
}

idx_err idx_contam_read_path(idx_contam_set *set, const char *path, const idx_contam_read_opts *o) {
    idx_contam_read_opts def = {0};
    if (!o) o = &def;
    struct stat st;
    if (stat(path, &st) != 0) return idx_fail(IDX_ERR_NOT_FOUND, "%s: no such file or directory", path);
    if (S_ISDIR(st.st_mode)) {
        size_t files = 0;
        idx_err e = read_dir(set, path, o, &files);
        if (!e && files == 0)
            e = idx_fail(IDX_ERR_EMPTY, "%s: no benchmark files (.jsonl, .json, .csv, optionally .gz/.zst)", path);
        return e;
    }
    return read_one(set, path, o);
}
