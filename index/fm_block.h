/*
 * fm_block.h -- the "compact" FM-index layout's rank structure over the BWT
 * bytes: fixed-block compression boosting (Kärkkäinen & Puglisi 2011; Gog,
 * Kärkkäinen, Kempa, Petri, Puglisi, Algorithmica 2019). The BWT is cut into
 * blocks of 2^lb symbols; for each group of 7 blocks the counts of every
 * symbol of the shard before it (u32, relative to a 2^32-symbol superblock
 * with u64 counts) and inside each of its first 6 blocks (u16), 16 bytes
 * per symbol in one line, and inside the block a Huffman-shaped wavelet tree over the
 * block's own alphabet and frequencies (canonical code), its node bitvectors
 * concatenated in breadth-first order into 64-byte lines of a u16 running
 * popcount (mod 2^16, made exact by each node's own base) + 496 bits, so a rank costs one cache line per tree level plus
 * the block's count row and header; a symbol absent from the block costs no
 * tree walk. Used in place from the mapped shard file. Byte format at the
 * top of fm_block.c.
 */
#ifndef IDX_FM_BLOCK_H
#define IDX_FM_BLOCK_H

#include "idx_common.h"

#ifndef IDX_FM_BLOCK_LB_DEFAULT
#define IDX_FM_BLOCK_LB_DEFAULT 15u /* 32,768 symbols per block (measured, README) */
#endif
#define IDX_FM_BLOCK_LB_MIN 8u
#define IDX_FM_BLOCK_LB_MAX 15u /* counts inside a block fit a u16 */

typedef struct {
    const unsigned char *data;  /* first block body */
    const uint64_t *l0;         /* nsuper x sigma u64: counts before each 2^32-symbol superblock */
    const unsigned char *l1;    /* (nblocks / 7 + 1) x sigma 16-byte records: u32 count before a group of
                                   7 blocks relative to l0, u16 count inside each of its first 6 blocks */
    const uint64_t *boff;       /* nblocks + 1 body offsets from data */
    uint64_t n, nblocks, nsuper, data_bytes;
    unsigned lb, sigma;
    int16_t code[256];          /* dense code of each byte value, -1 if absent from the shard */
    unsigned char byte[256];    /* byte value of each dense code */
} idx_fm_block;

/* Builds the section bytes for bwt[0..n) with blocks of 2^lb symbols into
 * *out (malloc'd, *out_len bytes). */
idx_err idx_fm_block_build(const unsigned char *bwt, uint64_t n, unsigned lb, unsigned char **out,
                           uint64_t *out_len);
/* Checks the section's header, directories and every block header against n
 * and the byte counts (O(blocks)); sets up f. */
idx_err idx_fm_block_load(const void *data, uint64_t size, uint64_t n, const uint64_t counts[256],
                          idx_fm_block *f, const char *path);
/* Decodes every block and rebuilds it, comparing every byte of the section
 * (O(n)): deep verification. */
idx_err idx_fm_block_verify(const idx_fm_block *f, const char *path);
/* Occurrences of c in bwt[0, i), i <= n. */
uint64_t idx_fm_block_rank(const idx_fm_block *f, uint64_t i, unsigned char c);
/* bwt[i] (i < n) into *c, and its rank among bwt[0, i). */
uint64_t idx_fm_block_inverse_select(const idx_fm_block *f, uint64_t i, unsigned char *c);
/* Starts loading what a rank of c at i reads first (the block's header and
 * count record), so that several independent ranks can overlap their misses. */
void idx_fm_block_prefetch(const idx_fm_block *f, uint64_t i, unsigned char c);
/* The same for an inverse select at i (< n), in four stages that a caller
 * runs over all its independent positions before walking any, each reading
 * what the one before loaded: 0 the block's offset entry, 1 the block's first
 * header line, 2 the level tables and the root node's start, 3 the root
 * node's bit line at i. */
void idx_fm_block_prefetch_isel(const idx_fm_block *f, uint64_t i, int stage);
/* Ranks of c at i <= j, sharing the tree walk when both fall in one block. */
void idx_fm_block_rank2(const idx_fm_block *f, uint64_t i, uint64_t j, unsigned char c, uint64_t *ri, uint64_t *rj);

#endif
