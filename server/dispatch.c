/*
 * dispatch.c -- one HTTP request from method, path, query string, auth header
 * and body to a status and a JSON answer, with no socket involved: route
 * matching against the declarative table (405 with Allow when only the
 * method differs), bearer-token check, body size limit, JSON parsing with the
 * error position, the reference on the index set, the handler, and the
 * per-route metrics. The libmicrohttpd glue (server.c), the tests and the
 * fuzz target all go through idx_server_dispatch, so they see the same
 * behaviour. Also here: the helpers handlers use to read fields and answer.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

const double idx_server_buckets[IDX_SERVER_NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                        0.005,  0.01,    0.025,  0.05,  0.1,
                                                        0.25,   0.5,     1.0,    5.0};

/* ------------------------------------------------------------------------ */
/* Query strings and percent decoding                                         */
/* ------------------------------------------------------------------------ */

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

size_t idx_server_unescape(char *p, size_t n, int plus_is_space) {
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (p[r] == '%' && r + 2 < n && hexval((unsigned char)p[r + 1]) >= 0 &&
            hexval((unsigned char)p[r + 2]) >= 0) {
            p[w++] = (char)(hexval((unsigned char)p[r + 1]) * 16 + hexval((unsigned char)p[r + 2]));
            r += 2;
        } else if (p[r] == '+' && plus_is_space) {
            p[w++] = ' ';
        } else {
            p[w++] = p[r];
        }
    }
    if (w < n) p[w] = '\0';
    return w;
}

void idx_server_ctx_add_arg(idx_server_ctx *c, const char *key, size_t klen, const char *val,
                            size_t vlen) {
    if (c->nargs >= IDX_SERVER_MAX_ARGS) return; /* extra arguments are ignored */
    char *k = strndup(key, klen);
    char *v = strndup(val ? val : "", val ? vlen : 0);
    if (!k || !v) {
        free(k);
        free(v);
        return;
    }
    c->akey[c->nargs] = k;
    c->aval[c->nargs] = v;
    c->nargs++;
}

void idx_server_parse_query(idx_server_ctx *c, const char *qs, size_t len) {
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && qs[j] != '&') j++;
        if (j > i) {
            char *pair = strndup(qs + i, j - i);
            if (!pair) return;
            char *eq = memchr(pair, '=', j - i);
            size_t klen = eq ? (size_t)(eq - pair) : j - i;
            size_t vlen = eq ? (j - i) - klen - 1 : 0;
            klen = idx_server_unescape(pair, klen, 1);
            if (eq) vlen = idx_server_unescape(eq + 1, vlen, 1);
            /* strlen: a decoded %00 ends the string, as with libmicrohttpd */
            idx_server_ctx_add_arg(c, pair, strnlen(pair, klen), eq ? eq + 1 : "",
                                   eq ? strnlen(eq + 1, vlen) : 0);
            free(pair);
        }
        i = j + 1;
    }
}

void idx_server_ctx_clear(idx_server_ctx *c) {
    for (size_t i = 0; i < c->nparams; i++) {
        free(c->pname[i]);
        free(c->pval[i]);
    }
    for (size_t i = 0; i < c->nargs; i++) {
        free(c->akey[i]);
        free(c->aval[i]);
    }
    c->nparams = c->nargs = 0;
    json_decref(c->body);
    c->body = NULL;
    if (c->set) idx_server_set_release(c->set);
    c->set = NULL;
    free(c->out);
    c->out = NULL;
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                    */
/* ------------------------------------------------------------------------ */

void idx_server_reply_text(idx_server_ctx *c, int status, const char *content_type, char *text,
                           size_t len) {
    if (c->answered) {
        free(text);
        return;
    }
    c->answered = 1;
    c->status = status;
    c->out = text;
    c->out_len = len;
    c->ctype = content_type;
    if (!text) { /* allocation failed on the way here */
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        c->status = 500;
        c->out = strdup(oom);
        c->out_len = c->out ? sizeof oom - 1 : 0;
        c->ctype = "application/json";
    }
}

void idx_server_reply(idx_server_ctx *c, int status, json_t *body) {
    if (c->answered) {
        json_decref(body);
        return;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    idx_server_reply_text(c, status, "application/json", text, text ? strlen(text) : 0);
}

void idx_server_error(idx_server_ctx *c, int status, const char *code, const char *fmt, ...) {
    if (c->answered) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *m = idx_server_json_text(msg, strlen(msg));
    json_t *err = json_pack("{s:{s:s,s:o?}}", "error", "code", code, "message", m);
    idx_server_reply(c, status, err);
}

void idx_server_fail(idx_server_ctx *c, idx_err e) {
    const char *msg = idx_errmsg();
    if (!msg || !*msg) msg = idx_strerror(e);
    switch (e) {
    case IDX_ERR_NOT_FOUND: idx_server_error(c, 404, "not_found", "%s", msg); break;
    case IDX_ERR_INVALID:
    case IDX_ERR_PARSE: idx_server_error(c, 400, "bad_request", "%s", msg); break;
    case IDX_ERR_LIMIT: idx_server_error(c, 400, "limit_exceeded", "%s", msg); break;
    case IDX_ERR_TIMEOUT: idx_server_error(c, 504, "timeout", "%s", msg); break;
    case IDX_ERR_UNSUPPORTED: idx_server_error(c, 400, "unsupported", "%s", msg); break;
    default: idx_server_error(c, 500, "internal", "%s", msg); break;
    }
}

json_t *idx_server_json_text(const char *p, size_t n) { return idx_json_text(p, n); }

/* plain[c]: the byte is copied as is (ASCII from 0x20, DEL included, but '"' and '\\') */
static const unsigned char plain[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1, /* GNU C ranges, as gcc and clang take */
};

/* 8 bytes that are all plain: no byte >= 0x80, < 0x20, '"' or '\\' */
static int word_plain(const char *p) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t w, q, s;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    s = w ^ (ones * '\\');
    return !((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((s - ones) & ~s)) & high);
}

idx_err idx_server_buf_str(idx_buf *b, const char *p, size_t n) {
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes \u001F */
    idx_err e = idx_buf_reserve(b, n + 2);
    if (!e) e = idx_buf_append(b, "\"", 1);
    for (size_t i = 0; !e && i < n;) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x80) { /* a whole valid character, or U+FFFD for an invalid byte */
            size_t l = idx_utf8_charlen((const unsigned char *)p + i, n - i);
            if (l <= n - i && idx_utf8_valid(p + i, l)) {
                e = idx_buf_append(b, p + i, l);
                i += l;
            } else {
                e = idx_buf_append(b, "\xEF\xBF\xBD", 3);
                i++;
            }
            continue;
        }
        size_t run = i;
        while (run + 8 <= n && word_plain(p + run)) run += 8;
        while (run < n && plain[(unsigned char)p[run]]) run++;
        if (run > i) {
            e = idx_buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            el = 6;
        }
        e = idx_buf_append(b, esc, el);
        i++;
    }
    return e ? e : idx_buf_append(b, "\"", 1);
}

/* Writes the decimal digits of v (no sign); returns their number. */
static size_t u64_digits(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

idx_err idx_server_buf_uint(idx_buf *b, uint64_t v) {
    char num[24];
    return idx_buf_append(b, num, u64_digits(num, v));
}

/* printf("%.17g", v) for finite v > 0 without glibc's multi-precision
 * printf (about 0.4 us a number, most of the cost of a 10-hit answer): the 17
 * significant digits are round-half-even(mant * 10^p / 2^s), computed exactly
 * in 128 bits when 10^p < 2^75 and s < 128, i.e. for 1e-6 <= v < 2^53 (scores,
 * latencies). Returns the length written to out, or 0 when v is outside that
 * range (the caller then uses snprintf). Checked byte for byte against
 * snprintf by tests/server/test_server_json.c. */
static size_t fast_g17(char *out, double v) {
    static const uint64_t p10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
                                     10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
                                     100000000000ull, 1000000000000ull, 10000000000000ull,
                                     100000000000000ull, 1000000000000000ull, 10000000000000000ull,
                                     100000000000000000ull, 1000000000000000000ull,
                                     10000000000000000000ull};
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int bexp = (int)((bits >> 52) & 0x7ff);
    if (bexp == 0 || bexp == 0x7ff || (bits >> 63)) return 0; /* zero, subnormal, inf, nan, negative */
    uint64_t mant = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int e2 = bexp - 1075; /* v = mant * 2^e2 */
    if (e2 > 0 || v < 1e-6) return 0;
    unsigned s = (unsigned)-e2;
    int k = (int)floor(log10(v)); /* decimal exponent; corrected below */
    uint64_t q = 0;
    for (int tries = 0; tries < 3; tries++) {
        int p = 16 - k;
        if (p < 0 || p > 22 || s > 127) return 0;
        unsigned __int128 pw = p <= 19 ? (unsigned __int128)p10[p] : (unsigned __int128)p10[19] * p10[p - 19];
        unsigned __int128 n = (unsigned __int128)mant * pw;
        unsigned __int128 qq = s ? n >> s : n; /* floor(v * 10^p) decides the exponent */
        if (qq >= (unsigned __int128)p10[17]) {
            k++;
            continue;
        }
        if (qq < (unsigned __int128)p10[16]) {
            k--;
            continue;
        }
        if (s) {
            unsigned __int128 r = n & (((unsigned __int128)1 << s) - 1), half = (unsigned __int128)1 << (s - 1);
            if (r > half || (r == half && (qq & 1))) qq++;
        }
        if (qq == (unsigned __int128)p10[17]) { /* 9.99..95 rounded up to the next power of ten */
            qq = p10[16];
            k++;
        }
        q = (uint64_t)qq;
        break;
    }
    if (!q) return 0;
    char d[17];
    u64_digits(d, q); /* exactly 17 digits */
    size_t nd = 17;
    while (nd > 1 && d[nd - 1] == '0') nd--; /* %g drops trailing zeros */
    size_t o = 0;
    if (k < -4) { /* d.ddde-XX */
        out[o++] = d[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, nd - 1);
            o += nd - 1;
        }
        unsigned x = (unsigned)-k;
        out[o++] = 'e';
        out[o++] = '-';
        if (x < 10) out[o++] = '0';
        o += u64_digits(out + o, x);
    } else if (k < 0) { /* 0.000ddd */
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -k - 1; i++) out[o++] = '0';
        memcpy(out + o, d, nd);
        o += nd;
    } else { /* ddd.ddd, k <= 16 here since v < 2^53 */
        size_t ip = (size_t)k + 1;
        memcpy(out + o, d, ip);
        o += ip;
        if (nd > ip) {
            out[o++] = '.';
            memcpy(out + o, d + ip, nd - ip);
            o += nd - ip;
        }
    }
    return o;
}

size_t idx_server_fmt_real(char *out, double v) {
    if (!(v == v) || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) return 0;
    size_t l = 0;
    if (v < 0) {
        out[l++] = '-';
        l += fast_g17(out + l, -v);
        if (l == 1) l = 0;
    } else {
        l = fast_g17(out, v);
    }
    if (!l) {
        int n = snprintf(out, 40, "%.17g", v);
        if (n <= 0 || n >= 40) return 0;
        l = (size_t)n;
    }
    out[l] = '\0';
    /* as jansson writes reals: a '.' or an exponent always; no '+' and no
     * leading zeros in the exponent */
    char *ex = memchr(out, 'e', l);
    if (!ex && !memchr(out, '.', l)) {
        out[l++] = '.';
        out[l++] = '0';
        out[l] = '\0';
    } else if (ex) {
        char *st = ex + 1, *en = ex + 2;
        if (*st == '-') st++;
        while (*en == '0') en++;
        if (en != st) {
            memmove(st, en, (size_t)(out + l - en) + 1);
            l -= (size_t)(en - st);
        }
    }
    return l;
}

idx_err idx_server_buf_real(idx_buf *b, double v) {
    char num[48];
    size_t l = idx_server_fmt_real(num, v);
    return l ? idx_buf_append(b, num, l) : idx_buf_append(b, "null", 4);
}

/* ------------------------------------------------------------------------ */
/* Request accessors and field readers                                        */
/* ------------------------------------------------------------------------ */

json_t *idx_server_body(idx_server_ctx *c) { return c->body; }

const char *idx_server_param(idx_server_ctx *c, const char *name) {
    for (size_t i = 0; i < c->nparams; i++)
        if (!strcmp(c->pname[i], name)) return c->pval[i];
    return NULL;
}

const char *idx_server_arg(idx_server_ctx *c, const char *name) {
    for (size_t i = 0; i < c->nargs; i++)
        if (!strcmp(c->akey[i], name)) return c->aval[i];
    return NULL;
}

const idx_server_opts *idx_server_limits(idx_server_ctx *c) { return &c->s->o; }

size_t idx_server_index_count(idx_server_ctx *c) { return c->set ? c->set->n : 0; }

const idx_server_index *idx_server_index_at(idx_server_ctx *c, size_t i) {
    return c->set && i < c->set->n ? &c->set->ix[i] : NULL;
}

const idx_server_index *idx_server_index_get(idx_server_ctx *c, const char *name) {
    if (!name) {
        idx_server_error(c, 400, "bad_request", "missing field 'index'");
        return NULL;
    }
    for (size_t i = 0; c->set && i < c->set->n; i++)
        if (!strcmp(c->set->ix[i].name, name)) return &c->set->ix[i];
    idx_server_error(c, 404, "unknown_index", "no index named '%.200s' is loaded (GET /v1/indexes lists them)",
                     name);
    return NULL;
}

int idx_server_field_str(idx_server_ctx *c, json_t *obj, const char *key, int required,
                         const char **s, size_t *len) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) idx_server_error(c, 400, "bad_request", "missing field '%s'", key);
        return !required;
    }
    if (!json_is_string(v)) {
        idx_server_error(c, 400, "bad_request", "field '%s' must be a string", key);
        return 0;
    }
    *s = json_string_value(v);
    if (len) *len = json_string_length(v);
    return 1;
}

int idx_server_field_uint(idx_server_ctx *c, json_t *obj, const char *key, int required,
                          uint64_t min, uint64_t max, uint64_t *v) {
    json_t *j = json_object_get(obj, key);
    if (!j) {
        if (required) idx_server_error(c, 400, "bad_request", "missing field '%s'", key);
        return !required;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        (uint64_t)json_integer_value(j) < min || (uint64_t)json_integer_value(j) > max) {
        idx_server_error(c, 400, "bad_request", "field '%s' must be an integer in [%llu, %llu]", key,
                         (unsigned long long)min, (unsigned long long)max);
        return 0;
    }
    *v = (uint64_t)json_integer_value(j);
    return 1;
}

int idx_server_query_ok(idx_server_ctx *c, const char *field, size_t len) {
    if (len > c->s->o.max_query) {
        idx_server_error(c, 400, "limit_exceeded",
                         "%s is %zu bytes, more than the limit max_query=%zu bytes", field, len,
                         c->s->o.max_query);
        return 0;
    }
    return 1;
}

double idx_server_elapsed(idx_server_ctx *c) { return idx_now() - c->t0; }

int idx_server_deadline(idx_server_ctx *c) {
    double ms = idx_server_elapsed(c) * 1000.0;
    double limit = c->s->o.timeout_ms;
    json_t *t = c->body ? json_object_get(c->body, "timeout_ms") : NULL;
    if (t && json_is_number(t) && json_number_value(t) > 0 && json_number_value(t) < limit)
        limit = json_number_value(t);
    if (ms <= limit) return 0;
    idx_server_error(c, 504, "timeout",
                     "the request took more than its deadline of %g ms (server --timeout-ms or "
                     "request timeout_ms) and was stopped",
                     limit);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                    */
/* ------------------------------------------------------------------------ */

/* Matches path against pattern; on success records {name} parameters. */
static int route_match(idx_server_ctx *c, const char *pattern, const char *path) {
    const char *p = pattern, *u = path;
    size_t np = 0;
    char *names[IDX_SERVER_MAX_PARAMS], *vals[IDX_SERVER_MAX_PARAMS];
    while (*p && *u) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (!e) break;
            const char *ue = strchr(u, '/');
            if (!ue) ue = u + strlen(u);
            if (ue == u || np >= IDX_SERVER_MAX_PARAMS) break; /* empty segment */
            names[np] = strndup(p + 1, (size_t)(e - p - 1));
            vals[np] = strndup(u, (size_t)(ue - u));
            np++;
            p = e + 1;
            u = ue;
        } else if (*p == *u) {
            p++;
            u++;
        } else {
            break;
        }
    }
    int ok = !*p && !*u;
    for (size_t i = 0; i < np; i++) {
        if (ok && names[i] && vals[i] && c) {
            c->pname[c->nparams] = names[i];
            c->pval[c->nparams] = vals[i];
            c->nparams++;
        } else {
            free(names[i]);
            free(vals[i]);
        }
    }
    if (ok && c) {
        for (size_t i = 0; i < c->nparams; i++)
            if (!c->pname[i] || !c->pval[i]) return 0;
    }
    return ok;
}

static int auth_ok(const char *want, const char *got) {
    if (!want) return 1;
    if (!got || strncasecmp(got, "Bearer ", 7) != 0) return 0;
    got += 7;
    while (*got == ' ') got++;
    size_t a = strlen(want), b = strlen(got);
    while (b > 0 && (got[b - 1] == ' ' || got[b - 1] == '\t')) b--;
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned char)got[i] ^ (unsigned char)want[i % (a ? a : 1)];
    return diff == 0;
}

idx_err idx_server_metrics_alloc(idx_server *s) {
    /* one unused entry (more than 64 bytes) between slots: no cache line is shared */
    s->metrics_stride = idx_server_nroutes + 2;
    size_t bytes = IDX_SERVER_MSLOTS * s->metrics_stride * sizeof(idx_server_metrics);
    bytes = (bytes + 63) / 64 * 64;
    s->metrics = aligned_alloc(64, bytes);
    if (!s->metrics) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    memset(s->metrics, 0, bytes);
    return IDX_OK;
}

void idx_server_metrics_sum(const idx_server *s, size_t r, idx_server_metrics_total *t) {
    memset(t, 0, sizeof *t);
    for (size_t k = 0; k < IDX_SERVER_MSLOTS; k++) {
        idx_server_metrics *m = &s->metrics[k * s->metrics_stride + r];
        t->requests += atomic_load_explicit(&m->requests, memory_order_relaxed);
        t->errors_4xx += atomic_load_explicit(&m->errors_4xx, memory_order_relaxed);
        t->errors_5xx += atomic_load_explicit(&m->errors_5xx, memory_order_relaxed);
        for (size_t b = 0; b < IDX_SERVER_NBUCKETS; b++)
            t->buckets[b] += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        t->sum_us += atomic_load_explicit(&m->sum_us, memory_order_relaxed);
    }
}

/* This thread's metrics slot, taken on first use. */
static size_t thread_slot(void) {
    static atomic_uint next;
    static _Thread_local unsigned mine; /* slot + 1, 0 = none yet */
    if (!mine) mine = atomic_fetch_add(&next, 1) % IDX_SERVER_MSLOTS + 1;
    return mine - 1;
}

static void record(idx_server_ctx *c, size_t slot) {
    idx_server_metrics *m = &c->s->metrics[thread_slot() * c->s->metrics_stride + slot];
    double dt = idx_now() - c->t0;
    atomic_fetch_add_explicit(&m->requests, 1, memory_order_relaxed);
    if (c->status >= 500)
        atomic_fetch_add_explicit(&m->errors_5xx, 1, memory_order_relaxed);
    else if (c->status >= 400)
        atomic_fetch_add_explicit(&m->errors_4xx, 1, memory_order_relaxed);
    size_t b = 0;
    while (b < IDX_SERVER_NBUCKETS && dt > idx_server_buckets[b]) b++;
    if (b < IDX_SERVER_NBUCKETS) atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (unsigned long)(dt * 1e6), memory_order_relaxed);
}

void idx_server_dispatch(idx_server_ctx *c, const char *method, const char *path,
                         const char *authorization, const char *body, size_t body_len,
                         int body_too_large) {
    idx_server *s = c->s;
    size_t slot = idx_server_nroutes;
    const idx_server_route *route = NULL;
    int path_known = 0;
    c->allow[0] = '\0';
    for (size_t i = 0; i < idx_server_nroutes; i++) {
        const idx_server_route *r = &idx_server_routes[i];
        if (!route_match(NULL, r->pattern, path)) continue;
        path_known = 1;
        if (!strcmp(r->method, method)) {
            route = r;
            slot = i;
            break;
        }
        size_t l = strlen(c->allow);
        if (l + strlen(r->method) + 3 < sizeof c->allow)
            snprintf(c->allow + l, sizeof c->allow - l, "%s%s", l ? ", " : "", r->method);
    }
    if (!(route && (route->flags & IDX_ROUTE_PUBLIC)) && !auth_ok(s->api_key, authorization)) {
        c->want_auth = 1;
        idx_server_error(c, 401, "unauthorized",
                         authorization ? "the bearer token is not valid"
                                       : "this server needs 'Authorization: Bearer <key>'");
        goto done;
    }
    if (!route) {
        if (path_known)
            idx_server_error(c, 405, "method_not_allowed", "%s is not allowed on %.200s (allowed: %s)",
                             method, path, c->allow);
        else
            idx_server_error(c, 404, "not_found", "no route %.200s (see docs/openapi.yaml)", path);
        if (!path_known) c->allow[0] = '\0';
        goto done;
    }
    c->allow[0] = '\0';
    c->route = route;
    route_match(c, route->pattern, path);
    if (body_too_large) {
        idx_server_error(c, 413, "payload_too_large",
                         "the request body is larger than the limit max_body=%zu bytes", s->o.max_body);
        goto done;
    }
    if (route->flags & IDX_ROUTE_JSON) {
        json_error_t je;
        c->body = json_loadb(body ? body : "", body_len, JSON_REJECT_DUPLICATES, &je);
        if (!c->body) {
            idx_server_error(c, 400, "invalid_json",
                             "malformed JSON body at line %d, column %d (byte %d): %s", je.line,
                             je.column, je.position, je.text);
            goto done;
        }
        if (!json_is_object(c->body)) {
            idx_server_error(c, 400, "invalid_json", "the JSON body must be an object");
            goto done;
        }
    }
    pthread_mutex_lock(&s->set_mu);
    c->set = s->set;
    if (c->set) atomic_fetch_add(&c->set->refs, 1);
    pthread_mutex_unlock(&s->set_mu);
    idx_errclear();
    route->fn(c);
    if (!c->answered)
        idx_server_error(c, 500, "internal", "the handler for %s %s gave no answer", method,
                         route->pattern);
done:
    record(c, slot);
}
