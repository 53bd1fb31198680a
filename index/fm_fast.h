/*
 * fm_fast.h -- the "fast" FM-index layout's rank structure over the BWT
 * bytes: a two-level 16-ary wavelet tree on nibbles (high nibble, then the
 * low nibble within the sequence of bytes sharing that high nibble). Each
 * level is cut into 128-symbol blocks of 128 bytes: 16 u32 counts of each
 * nibble value before the block, then the block's 128 nibbles. A rank is one
 * block (two adjacent cache lines) per level, so a backward-search step costs
 * about two cache misses per bound instead of one per level of a binary
 * Huffman tree (~5.5). Size: about 2 bytes per corpus byte. Shards must be
 * below 2^32 bytes. Format of the section at the top of fm_fast.c.
 */
#ifndef IDX_FM_FAST_H
#define IDX_FM_FAST_H

#include "idx_common.h"

typedef struct {
    const unsigned char *l1;   /* level-1 blocks */
    const unsigned char *l2;   /* level-2 blocks (16 sequences one after another) */
    uint64_t n;                /* symbols */
    uint64_t nb1;              /* level-1 blocks */
    uint64_t off2[17];         /* first block of each level-2 sequence; off2[16] = total */
    uint64_t m[16];            /* symbols in each level-2 sequence */
} idx_fm_fast;

/* Builds the section bytes for bwt[0..n) into *out (malloc'd, *out_len bytes). */
idx_err idx_fm_fast_build(const unsigned char *bwt, uint64_t n, unsigned char **out, uint64_t *out_len);
/* Checks the section's header against n and the byte counts; sets up f. */
idx_err idx_fm_fast_load(const void *data, uint64_t size, uint64_t n, const uint64_t counts[256],
                         idx_fm_fast *f, const char *path);
/* Recomputes every block count (O(n)): deep verification. */
idx_err idx_fm_fast_verify(const idx_fm_fast *f, const char *path);
uint64_t idx_fm_fast_rank(const idx_fm_fast *f, uint64_t i, unsigned char c);
uint64_t idx_fm_fast_inverse_select(const idx_fm_fast *f, uint64_t i, unsigned char *c);
/* Rank of c at two positions i <= j, sharing the level-1 work when close. */
void idx_fm_fast_rank2(const idx_fm_fast *f, uint64_t i, uint64_t j, unsigned char c, uint64_t *ri, uint64_t *rj);

#endif
