/*
 * fm_pinv.c -- inverse suffix-array samples derived from the suffix-array
 * samples a shard already has, instead of stored (section "pinv" of a shard,
 * written by `idx build --text fm` by default; `--isa-sample R` stores them
 * instead, section "isa", see fm.c).
 *
 * The shard's "samples" are a permutation pi of [0, m), m = n/s + 1: sampled
 * row number j (in row order) -> text position / s. The BWT row of text
 * position k*s is select(marks, pi^-1(k)), so inverse samples at rate s cost
 * only pi^-1. That is answered with Munro, Raman, Raman and Rao's shortcut
 * pointers (Succinct representations of permutations, ICALP 2003): on every
 * cycle of pi longer than t+1, the elements at cycle indices 0, t, 2t, ...
 * (the cycle starting at its smallest element) carry a pointer to the element
 * t+1 steps back. pi^-1(k) follows pi from k until it meets a marked element
 * (at most t steps), jumps back t+1 steps (to or before pi^-1(k)), and follows
 * pi until the next value is k: at most about 2t+2 reads of the packed samples.
 *
 * Section "pinv" (all integers little-endian):
 *   u64 header[4] = {t, nptrs, marks_bytes, 0}
 *   marks_bytes bytes: sdsl sd_vector<> of m bits, bit e set iff element e
 *                     carries a pointer (nptrs ones), as written by its
 *                     serialize(); zero-padded to a multiple of 8 bytes
 *   ceil(nptrs * bits / 64) u64: the pointers in the order of the marked
 *                     elements, packed LSB-first at bits = the samples' width
 * The section is a function of the samples and t: the builder is canonical,
 * and deep verification rebuilds it and compares byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "fm_pinv.h"

static inline uint64_t pget(const uint64_t *a, unsigned b, uint64_t k) {
    uint64_t bit = k * b, w = bit >> 6, o = bit & 63;
    uint64_t v = a[w] >> o;
    if (o + b > 64) v |= a[w + 1] << (64 - o);
    return v & (b >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << b) - 1);
}

static inline void pput(uint64_t *a, uint64_t k, unsigned b, uint64_t v) {
    uint64_t bit = k * b, w = bit >> 6, o = bit & 63;
    a[w] |= v << o;
    if (o + b > 64) a[w + 1] |= v >> (64 - o);
}

static idx_err buf_sink(void *ud, const void *data, size_t n) { return idx_buf_append(ud, data, n); }

typedef struct {
    uint64_t e, back;
} pair;

static int cmp_pair(const void *a, const void *b) {
    uint64_t x = ((const pair *)a)->e, y = ((const pair *)b)->e;
    return x < y ? -1 : x > y;
}

idx_err idx_fm_pinv_build(const uint64_t *samples, unsigned bits, uint64_t m, uint32_t t, idx_buf *out) {
    if (t < 1 || t > IDX_FM_PINV_MAX_T) return idx_fail(IDX_ERR_INVALID, "shortcut interval must be 1..%u", IDX_FM_PINV_MAX_T);
    uint64_t *seen = calloc(m / 64 + 1, 8);
    uint64_t *ring = malloc(((size_t)t + 2) * sizeof *ring);
    pair *pairs = NULL;
    uint64_t np = 0, cap = 0, *pos = NULL, *ptrs = NULL;
    idx_sdsl_sd *sd = NULL;
    idx_err e = IDX_OK;
    if (!seen || !ring) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the inverse samples");
        goto done;
    }
    for (uint64_t j = 0; j < m; j++) {
        if ((seen[j >> 6] >> (j & 63)) & 1) continue;
        uint64_t len = 0, x = j;
        do { /* first lap: the length, and every element seen */
            if (x >= m || ((seen[x >> 6] >> (x & 63)) & 1)) {
                e = idx_fail(IDX_ERR_CORRUPT, "suffix-array samples are not a permutation");
                goto done;
            }
            seen[x >> 6] |= UINT64_C(1) << (x & 63);
            x = pget(samples, bits, x);
            len++;
        } while (x != j);
        if (len <= (uint64_t)t + 1) continue;
        /* second and third laps: element at cycle index i (i = 0, t, 2t, ... < len)
         * points at the element at index i - t - 1 (mod len) */
        x = j;
        for (uint64_t i = 0; i < len + len; i++) {
            ring[i % (t + 2)] = x;
            if (i >= len && (i - len) % t == 0) {
                if (np == cap) {
                    cap = cap ? 2 * cap : 1024;
                    pair *q = realloc(pairs, cap * sizeof *pairs);
                    if (!q) {
                        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the inverse samples");
                        goto done;
                    }
                    pairs = q;
                }
                pairs[np].e = x;
                pairs[np].back = ring[(i - t - 1) % (t + 2)];
                np++;
            }
            x = pget(samples, bits, x);
        }
    }
    if (np) qsort(pairs, np, sizeof *pairs, cmp_pair);
    uint64_t pw = (np * bits + 63) / 64;
    pos = malloc((np ? np : 1) * sizeof *pos);
    ptrs = calloc(pw + 1, 8);
    if (!pos || !ptrs) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the inverse samples");
        goto done;
    }
    for (uint64_t i = 0; i < np; i++) {
        pos[i] = pairs[i].e;
        pput(ptrs, i, bits, pairs[i].back);
    }
    if ((e = idx_sdsl_sd_build(m, pos, np, &sd)) != IDX_OK) goto done;
    uint64_t h[IDX_FM_PINV_HEADER_WORDS] = {t, np, 0, 0};
    size_t h_at = out->len;
    if ((e = idx_buf_append(out, h, sizeof h)) != IDX_OK) goto done;
    uint64_t sd_bytes = 0;
    if ((e = idx_sdsl_sd_write(sd, buf_sink, out, &sd_bytes)) != IDX_OK) goto done;
    static const unsigned char zero[8];
    if (sd_bytes % 8 && (e = idx_buf_append(out, zero, 8 - sd_bytes % 8)) != IDX_OK) goto done;
    h[2] = sd_bytes;
    memcpy(out->data + h_at, h, sizeof h);
    e = idx_buf_append(out, ptrs, pw * 8);
done:
    free(seen);
    free(ring);
    free(pairs);
    free(pos);
    free(ptrs);
    idx_sdsl_sd_free(sd);
    return e;
}

static idx_err bad(const char *path, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section \"pinv\": %s", path, what);
}

idx_err idx_fm_pinv_load(const void *p, uint64_t sz, const uint64_t *samples, unsigned bits, uint64_t m,
                         idx_fm_pinv *out, const char *path) {
    memset(out, 0, sizeof *out);
    if (((uintptr_t)p & 7) || sz < IDX_FM_PINV_HEADER_WORDS * 8) return bad(path, "too short");
    const uint64_t *h = p;
    if (h[0] < 1 || h[0] > IDX_FM_PINV_MAX_T) return bad(path, "bad shortcut interval");
    if (h[1] > 2 * (m / h[0]) + 2 || h[1] > m || h[3] != 0) return bad(path, "bad pointer count");
    uint64_t body = sz - IDX_FM_PINV_HEADER_WORDS * 8;
    if (h[2] > body) return bad(path, "marks longer than the section");
    uint64_t sdp = (h[2] + 7) / 8 * 8, pw = (h[1] * bits + 63) / 64;
    if (sdp > body || body - sdp != pw * 8) return bad(path, "wrong size");
    idx_err e = idx_sdsl_sd_load(h + IDX_FM_PINV_HEADER_WORDS, (size_t)h[2], &out->marks);
    if (e != IDX_OK) return idx_fail_context(e, "%s: section \"pinv\"", path);
    if (idx_sdsl_sd_size(out->marks) != m || idx_sdsl_sd_ones(out->marks) != h[1]) {
        idx_sdsl_sd_free(out->marks);
        out->marks = NULL;
        return bad(path, "marks disagree with the samples or the pointer count");
    }
    out->t = (uint32_t)h[0];
    out->nptrs = h[1];
    out->ptrs = h + IDX_FM_PINV_HEADER_WORDS + sdp / 8;
    out->samples = samples;
    out->bits = bits;
    out->m = m;
    out->section = p;
    out->section_bytes = sz;
    return IDX_OK;
}

void idx_fm_pinv_free(idx_fm_pinv *pv) {
    if (!pv) return;
    idx_sdsl_sd_free(pv->marks);
    pv->marks = NULL;
}

idx_err idx_fm_pinv_get(const idx_fm_pinv *pv, uint64_t k, uint64_t *j, const char *path) {
    if (k >= pv->m) return bad(path, "position out of range");
    uint64_t x = k;
    int jumped = 0;
    /* a walk longer than a cycle can be only means damage: bounded */
    for (uint64_t steps = 0; steps <= pv->m + 1; steps++) {
        uint64_t y = pget(pv->samples, pv->bits, x);
        if (y >= pv->m) return idx_fail(IDX_ERR_CORRUPT, "%s: section \"samples\": value out of range", path);
        if (y == k) {
            *j = x;
            return IDX_OK;
        }
        if (!jumped && pv->nptrs && idx_sdsl_sd_get(pv->marks, x)) {
            uint64_t r = idx_sdsl_sd_rank(pv->marks, x);
            if (r >= pv->nptrs) return bad(path, "pointer out of range");
            x = pget(pv->ptrs, pv->bits, r);
            if (x >= pv->m) return bad(path, "pointer out of range");
            jumped = 1;
        } else {
            x = y;
        }
    }
    return bad(path, "walk does not return (damaged samples or pointers)");
}

idx_err idx_fm_pinv_verify(const idx_fm_pinv *pv, const char *path) {
    idx_buf b = {0};
    idx_err e = idx_fm_pinv_build(pv->samples, pv->bits, pv->m, pv->t, &b);
    if (e != IDX_OK) {
        idx_buf_free(&b);
        return idx_fail_context(e, "%s: section \"pinv\"", path);
    }
    int same = b.len == pv->section_bytes && memcmp(b.data, pv->section, b.len) == 0;
    idx_buf_free(&b);
    return same ? IDX_OK : bad(path, "differs from the pointers derived from the samples");
}
