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
 *   u64 header[4] = {t, nptrs, B = 10 (bucket bits), 0}
 *   u64 dir[nb + 1], nb = (m >> B) + 1: marked elements before bucket b
 *                     (dir[0] = 0, non-decreasing, at most 2^B per bucket,
 *                     dir[nb] = nptrs)
 *   u16 low[nptrs], zero-padded to a multiple of 8 bytes: the marked elements
 *                     e, increasing, as e & (2^B - 1) within their bucket e >> B
 *   ceil(nptrs * bits / 64) u64: the pointers in the order of the marked
 *                     elements, packed LSB-first at bits = the samples' width
 * (Own bucketed set rather than an sdsl sd_vector: every byte is checked at
 * load, where sdsl's loader would trust a damaged size; ~0.5 bits per sample
 * element at t = 32, and a membership test reads one bucket of ~t/2 entries.)
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
    uint64_t np = 0, cap = 0, *ptrs = NULL, *dir = NULL;
    uint16_t *low = NULL;
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
    ptrs = calloc(pw + 1, 8);
    if (!ptrs) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the inverse samples");
        goto done;
    }
    uint64_t nb = (m >> IDX_FM_PINV_B) + 1;
    dir = calloc(nb + 1, 8);
    low = calloc(np + 4, 2);
    if (!dir || !low) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for the inverse samples");
        goto done;
    }
    for (uint64_t i = 0; i < np; i++) {
        dir[(pairs[i].e >> IDX_FM_PINV_B) + 1]++;
        low[i] = (uint16_t)(pairs[i].e & ((1u << IDX_FM_PINV_B) - 1));
        pput(ptrs, i, bits, pairs[i].back);
    }
    for (uint64_t b = 0; b < nb; b++) dir[b + 1] += dir[b];
    uint64_t h[IDX_FM_PINV_HEADER_WORDS] = {t, np, IDX_FM_PINV_B, 0};
    if ((e = idx_buf_append(out, h, sizeof h)) != IDX_OK) goto done;
    if ((e = idx_buf_append(out, dir, (nb + 1) * 8)) != IDX_OK) goto done;
    if ((e = idx_buf_append(out, low, (np + 3) / 4 * 8)) != IDX_OK) goto done;
    e = idx_buf_append(out, ptrs, pw * 8);
done:
    free(seen);
    free(ring);
    free(pairs);
    free(ptrs);
    free(dir);
    free(low);
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
    if (h[1] > 2 * (m / h[0]) + 2 || h[1] > m) return bad(path, "bad pointer count");
    if (h[2] != IDX_FM_PINV_B || h[3] != 0) return bad(path, "bad bucket size");
    uint64_t np = h[1], nb = (m >> IDX_FM_PINV_B) + 1;
    uint64_t lw = (np + 3) / 4, pw = (np * bits + 63) / 64;
    if (sz != (IDX_FM_PINV_HEADER_WORDS + nb + 1 + lw + pw) * 8) return bad(path, "wrong size");
    const uint64_t *dir = h + IDX_FM_PINV_HEADER_WORDS;
    const uint16_t *low = (const uint16_t *)(dir + nb + 1);
    if (dir[0] != 0 || dir[nb] != np) return bad(path, "bucket directory does not add up");
    for (uint64_t b = 0; b < nb; b++) {
        if (dir[b + 1] < dir[b] || dir[b + 1] - dir[b] > (UINT64_C(1) << IDX_FM_PINV_B))
            return bad(path, "bucket directory out of order");
        for (uint64_t i = dir[b]; i < dir[b + 1]; i++)
            if ((i > dir[b] && low[i] <= low[i - 1]) || low[i] >> IDX_FM_PINV_B ||
                (b << IDX_FM_PINV_B | low[i]) >= m)
                return bad(path, "marked elements out of order or range");
    }
    out->t = (uint32_t)h[0];
    out->nptrs = np;
    out->dir = dir;
    out->low = low;
    out->ptrs = (const uint64_t *)low + lw;
    out->samples = samples;
    out->bits = bits;
    out->m = m;
    out->section = p;
    out->section_bytes = sz;
    return IDX_OK;
}

void idx_fm_pinv_free(idx_fm_pinv *pv) { (void)pv; }

/* Index of x among the marked elements, or -1. */
static inline int64_t marked(const idx_fm_pinv *pv, uint64_t x) {
    uint64_t b = x >> IDX_FM_PINV_B, lo = pv->dir[b], hi = pv->dir[b + 1];
    uint16_t l = (uint16_t)(x & ((1u << IDX_FM_PINV_B) - 1));
    for (uint64_t i = lo; i < hi; i++) {
        if (pv->low[i] == l) return (int64_t)i;
        if (pv->low[i] > l) break;
    }
    return -1;
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
        int64_t r;
        if (!jumped && (r = marked(pv, x)) >= 0) {
            x = pget(pv->ptrs, pv->bits, (uint64_t)r);
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
