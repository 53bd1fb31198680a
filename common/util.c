/*
 * util.c -- small shared pieces: hashing (XXH3), a monotonic clock, checked
 * allocation, UTF-8 validation, a growable buffer, whole-file reads with
 * .zst/.gz decompression, and progress throttling.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "idx_common.h"

uint64_t idx_hash64(const void *data, size_t len, uint64_t seed) {
    return XXH3_64bits_withSeed(data, len, seed);
}

double idx_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

idx_err idx_xmalloc(size_t n, void *out_ptr) {
    void *p = malloc(n ? n : 1);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    *(void **)out_ptr = p;
    return IDX_OK;
}

idx_err idx_xrealloc(void *inout_ptr, size_t n) {
    void *p = realloc(*(void **)inout_ptr, n ? n : 1);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    *(void **)inout_ptr = p;
    return IDX_OK;
}

int idx_mul_overflow(size_t n, size_t m, size_t *out) { return __builtin_mul_overflow(n, m, out); }

size_t idx_utf8_charlen(const unsigned char *p, size_t avail) {
    if (avail == 0) return 0;
    unsigned c = p[0];
    size_t n;
    if (c < 0x80) return 1;
    else if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3;
    else if (c >= 0xF0 && c <= 0xF4) n = 4;
    else return 1;
    if (n > avail) return 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 1;
    if (n == 3) {
        if (c == 0xE0 && p[1] < 0xA0) return 1;          /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 1;         /* surrogate */
    } else if (n == 4) {
        if (c == 0xF0 && p[1] < 0x90) return 1;          /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 1;         /* > U+10FFFF */
    }
    return n;
}

int idx_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { i++; continue; }
        size_t l = idx_utf8_charlen(p + i, n - i);
        if (l == 1) return 0;
        i += l;
    }
    return 1;
}

idx_err idx_buf_reserve(idx_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return IDX_OK;
    size_t need = b->len + extra + 1;
    if (need < b->len) return idx_fail(IDX_ERR_NOMEM, "buffer size overflow");
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return IDX_OK;
}

idx_err idx_buf_append(idx_buf *b, const void *data, size_t n) {
    idx_err e = idx_buf_reserve(b, n);
    if (e) return e;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return IDX_OK;
}

idx_err idx_buf_printf(idx_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return idx_fail(IDX_ERR_INTERNAL, "bad format");
    idx_err e = idx_buf_reserve(b, (size_t)n);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return IDX_OK;
}

void idx_buf_free(idx_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

idx_err idx_read_file(const char *path, size_t max_bytes, idx_buf *out) {
    out->len = 0;
    if (ends_with(path, ".gz")) {
        gzFile g = gzopen(path, "rb");
        if (!g) return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno ? errno : ENOENT));
        char tmp[65536];
        for (;;) {
            int n = gzread(g, tmp, sizeof tmp);
            if (n < 0) {
                int zerr;
                const char *m = gzerror(g, &zerr);
                idx_err e = idx_fail(IDX_ERR_PARSE, "%s: gzip: %s", path, m);
                gzclose(g);
                return e;
            }
            if (n == 0) break;
            if (max_bytes && out->len + (size_t)n > max_bytes) {
                gzclose(g);
                return idx_fail(IDX_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
            }
            idx_err e = idx_buf_append(out, tmp, (size_t)n);
            if (e) { gzclose(g); return e; }
        }
        /* gzread returns 0 both at a clean end and at a truncated stream. */
        int zerr;
        gzerror(g, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            gzclose(g);
            return idx_fail(IDX_ERR_PARSE, "%s: truncated or corrupt gzip stream", path);
        }
        gzclose(g);
        return idx_buf_append(out, "", 0);
    }
    FILE *f = fopen(path, "rb");
    if (!f) return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno));
    if (ends_with(path, ".zst")) {
        ZSTD_DStream *ds = ZSTD_createDStream();
        if (!ds) { fclose(f); return idx_fail(IDX_ERR_NOMEM, "zstd context"); }
        char in[65536], obuf[131072];
        size_t last = 0;
        int any = 0;
        idx_err e = IDX_OK;
        for (;;) {
            size_t n = fread(in, 1, sizeof in, f);
            if (n == 0) break;
            any = 1;
            ZSTD_inBuffer ib = {in, n, 0};
            while (ib.pos < ib.size) {
                ZSTD_outBuffer ob = {obuf, sizeof obuf, 0};
                last = ZSTD_decompressStream(ds, &ob, &ib);
                if (ZSTD_isError(last)) {
                    e = idx_fail(IDX_ERR_PARSE, "%s: zstd: %s", path, ZSTD_getErrorName(last));
                    goto zdone;
                }
                if (max_bytes && out->len + ob.pos > max_bytes) {
                    e = idx_fail(IDX_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
                    goto zdone;
                }
                if ((e = idx_buf_append(out, obuf, ob.pos))) goto zdone;
            }
        }
        if (ferror(f)) e = idx_fail(IDX_ERR_IO, "%s: read error", path);
        else if (!any || last != 0) e = idx_fail(IDX_ERR_PARSE, "%s: truncated zstd stream", path);
    zdone:
        ZSTD_freeDStream(ds);
        fclose(f);
        if (!e) e = idx_buf_append(out, "", 0);
        return e;
    }
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (max_bytes && out->len + n > max_bytes) {
            fclose(f);
            return idx_fail(IDX_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
        }
        idx_err e = idx_buf_append(out, tmp, n);
        if (e) { fclose(f); return e; }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return idx_fail(IDX_ERR_IO, "%s: read error", path);
    return idx_buf_append(out, "", 0);
}

void idx_progress_init(idx_progress *p, idx_progress_fn fn, void *ud) {
    p->fn = fn;
    p->ud = ud;
    p->start = idx_now();
    p->last = 0;
}

idx_err idx_progress_tick(idx_progress *p, const char *phase, uint64_t done, uint64_t total,
                          const char *unit, int force) {
    if (!p || !p->fn) return IDX_OK;
    double now = idx_now();
    if (!force && now - p->last < 0.5) return IDX_OK;
    p->last = now;
    idx_progress_info info = {phase, done, total, unit, now - p->start};
    if (p->fn(p->ud, &info)) return idx_fail(IDX_ERR_CANCELLED, "cancelled during %s", phase);
    return IDX_OK;
}

json_t *idx_json_text(const char *p, size_t n) {
    if (idx_utf8_valid(p, n)) return json_stringn(p, n);
    idx_buf b = {0};
    for (size_t i = 0; i < n;) {
        size_t l = idx_utf8_charlen((const unsigned char *)p + i, n - i);
        if (l > n - i || !idx_utf8_valid(p + i, l)) {
            if (idx_buf_append(&b, "\xEF\xBF\xBD", 3)) break;
            i += 1;
        } else {
            if (idx_buf_append(&b, p + i, l)) break;
            i += l;
        }
    }
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    idx_buf_free(&b);
    return s;
}
