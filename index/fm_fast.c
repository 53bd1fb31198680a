/*
 * fm_fast.c -- the rank structure of the "fast" FM-index layout (see
 * fm_fast.h for the idea). Section "fast" of a shard file, little-endian:
 *   u64 nb1                 level-1 block count = n/128 + 1
 *   u64 off2[17]            level-2 sequence h starts at block off2[h];
 *                           off2[h+1] - off2[h] = m_h/128 + 1 where m_h is the
 *                           number of BWT bytes whose high nibble is h
 *   u64 pad[14]             zero (the header is 256 bytes)
 *   nb1 blocks, then off2[16] blocks, 128 bytes each:
 *     u32 cnt[16]           occurrences of each nibble value before the block
 *     u8  sym[64]           128 nibbles, symbol j in byte j/2 (low nibble first)
 * Level 1 holds the high nibbles of the BWT; level-2 sequence h the low
 * nibbles of the bytes with high nibble h, in BWT order.
 */
#include <stdlib.h>
#include <string.h>

#include "fm_fast.h"

#define BLK 128u   /* symbols per block */
#define BLKB 128u  /* bytes per block */
#define HDR 256u
#define ONES UINT64_C(0x1111111111111111)

static inline uint32_t get_cnt(const unsigned char *blk, unsigned v) {
    uint32_t x;
    memcpy(&x, blk + 4 * v, 4);
    return x;
}

/* Nibbles equal to v among the first k (< 128) symbols of a block. */
static inline uint64_t count_in_block(const unsigned char *blk, unsigned v, unsigned k) {
    const unsigned char *sym = blk + 64;
    uint64_t pat = (uint64_t)v * ONES, total = 0;
    unsigned full = k / 16, rem = k % 16;
    for (unsigned w = 0; w < full; w++) {
        uint64_t x;
        memcpy(&x, sym + 8 * w, 8);
        x ^= pat;
        x = ~(x | (x >> 1) | (x >> 2) | (x >> 3)) & ONES;
        total += (uint64_t)__builtin_popcountll(x);
    }
    if (rem) {
        uint64_t x;
        memcpy(&x, sym + 8 * full, 8);
        x ^= pat;
        x = ~(x | (x >> 1) | (x >> 2) | (x >> 3)) & ONES & ((UINT64_C(1) << (4 * rem)) - 1);
        total += (uint64_t)__builtin_popcountll(x);
    }
    return total;
}

static inline uint64_t seq_rank(const unsigned char *blocks, uint64_t i, unsigned v) {
    const unsigned char *blk = blocks + (i / BLK) * BLKB;
    return get_cnt(blk, v) + count_in_block(blk, v, (unsigned)(i % BLK));
}

static inline unsigned seq_get(const unsigned char *blocks, uint64_t i) {
    const unsigned char *blk = blocks + (i / BLK) * BLKB;
    unsigned j = (unsigned)(i % BLK);
    unsigned char b = blk[64 + j / 2];
    return j & 1 ? b >> 4 : b & 15;
}

uint64_t idx_fm_fast_rank(const idx_fm_fast *f, uint64_t i, unsigned char c) {
    if (i > f->n) i = f->n;
    unsigned h = c >> 4;
    uint64_t r1 = seq_rank(f->l1, i, h);
    if (r1 > f->m[h]) r1 = f->m[h];
    return seq_rank(f->l2 + f->off2[h] * BLKB, r1, c & 15u);
}

void idx_fm_fast_rank2(const idx_fm_fast *f, uint64_t i, uint64_t j, unsigned char c, uint64_t *ri, uint64_t *rj) {
    if (i > f->n) i = f->n;
    if (j > f->n) j = f->n;
    unsigned h = c >> 4;
    const unsigned char *l2 = f->l2 + f->off2[h] * BLKB;
    /* Touch both level-1 blocks before using either (two misses in flight). */
    __builtin_prefetch(f->l1 + (j / BLK) * BLKB);
    __builtin_prefetch(f->l1 + (j / BLK) * BLKB + 64);
    uint64_t a = seq_rank(f->l1, i, h), b = seq_rank(f->l1, j, h);
    if (a > f->m[h]) a = f->m[h];
    if (b > f->m[h]) b = f->m[h];
    __builtin_prefetch(l2 + (b / BLK) * BLKB);
    __builtin_prefetch(l2 + (b / BLK) * BLKB + 64);
    *ri = seq_rank(l2, a, c & 15u);
    *rj = seq_rank(l2, b, c & 15u);
}

uint64_t idx_fm_fast_inverse_select(const idx_fm_fast *f, uint64_t i, unsigned char *c) {
    if (i >= f->n) i = f->n ? f->n - 1 : 0;
    unsigned h = seq_get(f->l1, i);
    uint64_t r1 = seq_rank(f->l1, i, h);
    if (r1 >= f->m[h]) { /* only on a damaged file */
        *c = (unsigned char)(h << 4);
        return 0;
    }
    const unsigned char *l2 = f->l2 + f->off2[h] * BLKB;
    unsigned l = seq_get(l2, r1);
    *c = (unsigned char)(h << 4 | l);
    return seq_rank(l2, r1, l);
}

/* Appends nibbles to a block sequence, writing each block's counts as it opens. */
typedef struct {
    unsigned char *base;
    uint64_t b, nb;
    unsigned j;
    uint32_t cnt[16];
} emitter;

static void em_open(emitter *e, unsigned char *base, uint64_t nb) {
    memset(e, 0, sizeof *e);
    e->base = base;
    e->nb = nb;
    memset(base, 0, BLKB); /* block 0: zero counts, zero symbols */
}

static inline void em_put(emitter *e, unsigned v) {
    if (e->j == BLK) {
        unsigned char *blk = e->base + ++e->b * BLKB;
        memcpy(blk, e->cnt, 64);
        memset(blk + 64, 0, 64);
        e->j = 0;
    }
    unsigned char *blk = e->base + e->b * BLKB;
    blk[64 + e->j / 2] |= (unsigned char)(e->j & 1 ? v << 4 : v);
    e->cnt[v]++;
    e->j++;
}

static void em_close(emitter *e) {
    while (e->b + 1 < e->nb) { /* a full last block is followed by one holding the totals */
        unsigned char *blk = e->base + ++e->b * BLKB;
        memcpy(blk, e->cnt, 64);
        memset(blk + 64, 0, 64);
    }
}

idx_err idx_fm_fast_build(const unsigned char *bwt, uint64_t n, unsigned char **out, uint64_t *out_len) {
    *out = NULL;
    if (n >= (UINT64_C(1) << 32)) return idx_fail(IDX_ERR_LIMIT, "the fast layout needs shards below 4 GiB");
    uint64_t m[16] = {0};
    for (uint64_t i = 0; i < n; i++) m[bwt[i] >> 4]++;
    uint64_t nb1 = n / BLK + 1, off2[17];
    off2[0] = 0;
    for (int h = 0; h < 16; h++) off2[h + 1] = off2[h] + m[h] / BLK + 1;
    uint64_t len = HDR + (nb1 + off2[16]) * BLKB;
    unsigned char *p = malloc(len);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory for the fast rank structure (%llu bytes)", (unsigned long long)len);
    memset(p, 0, HDR);
    memcpy(p, &nb1, 8);
    memcpy(p + 8, off2, sizeof off2);
    unsigned char *l1 = p + HDR, *l2 = l1 + nb1 * BLKB;
    emitter e1, e2[16];
    em_open(&e1, l1, nb1);
    for (unsigned h = 0; h < 16; h++) em_open(&e2[h], l2 + off2[h] * BLKB, off2[h + 1] - off2[h]);
    for (uint64_t i = 0; i < n; i++) {
        em_put(&e1, bwt[i] >> 4);
        em_put(&e2[bwt[i] >> 4], bwt[i] & 15u);
    }
    em_close(&e1);
    for (unsigned h = 0; h < 16; h++) em_close(&e2[h]);
    *out = p;
    *out_len = len;
    return IDX_OK;
}

idx_err idx_fm_fast_load(const void *data, uint64_t size, uint64_t n, const uint64_t counts[256], idx_fm_fast *f,
                         const char *path) {
    memset(f, 0, sizeof *f);
    if (size < HDR) return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": too short", path);
    const unsigned char *p = data;
    uint64_t nb1;
    memcpy(&nb1, p, 8);
    memcpy(f->off2, p + 8, sizeof f->off2);
    if (n >= (UINT64_C(1) << 32) || nb1 != n / BLK + 1 || f->off2[0] != 0)
        return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": bad header", path);
    for (unsigned h = 0; h < 16; h++) {
        uint64_t mh = 0;
        for (unsigned l = 0; l < 16; l++) mh += counts[h << 4 | l];
        f->m[h] = mh;
        if (f->off2[h + 1] != f->off2[h] + mh / BLK + 1)
            return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": bad sequence offsets", path);
    }
    if (size != HDR + (nb1 + f->off2[16]) * BLKB) return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": wrong size", path);
    f->n = n;
    f->nb1 = nb1;
    f->l1 = p + HDR;
    f->l2 = f->l1 + nb1 * BLKB;
    return IDX_OK;
}

static int check_seq(const unsigned char *blocks, uint64_t nb, uint64_t m) {
    uint32_t cnt[16] = {0};
    uint64_t k = 0;
    for (uint64_t b = 0; b < nb; b++) {
        const unsigned char *blk = blocks + b * BLKB;
        if (memcmp(blk, cnt, 64) != 0) return 0;
        for (unsigned j = 0; j < BLK; j++, k++) {
            unsigned char byte = blk[64 + j / 2];
            unsigned v = j & 1 ? byte >> 4 : byte & 15u;
            if (k < m) cnt[v]++;
            else if (v != 0) return 0; /* padding must be zero */
        }
    }
    return 1;
}

idx_err idx_fm_fast_verify(const idx_fm_fast *f, const char *path) {
    if (!check_seq(f->l1, f->nb1, f->n)) return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": level-1 counts", path);
    for (unsigned h = 0; h < 16; h++)
        if (!check_seq(f->l2 + f->off2[h] * BLKB, f->off2[h + 1] - f->off2[h], f->m[h]))
            return idx_fail(IDX_ERR_CORRUPT, "%s: section \"fast\": level-2 counts", path);
    return IDX_OK;
}
