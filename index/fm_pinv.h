/*
 * fm_pinv.h -- inverse suffix-array samples derived from a shard's
 * suffix-array samples by shortcut pointers over their permutation (section
 * "pinv", format and method at the top of fm_pinv.c). Internal to index/.
 */
#ifndef IDX_FM_PINV_H
#define IDX_FM_PINV_H

#include "idx_common.h"

#define IDX_FM_PINV_HEADER_WORDS 4u
#define IDX_FM_PINV_MAX_T 4096u
#define IDX_FM_PINV_T 32u /* default shortcut interval (measured: README, FM-index) */
#define IDX_FM_PINV_B 10u /* bucket bits of the marked-element set */

typedef struct {
    uint32_t t;
    uint64_t nptrs, m;
    unsigned bits;
    const uint64_t *dir;      /* marked elements before each bucket, in the mapped file */
    const uint16_t *low;      /* marked elements' low bits, in the mapped file */
    const uint64_t *ptrs;     /* packed, in the mapped file */
    const uint64_t *samples;  /* the shard's packed samples (pi) */
    const void *section;      /* the whole section, for verification */
    uint64_t section_bytes;
} idx_fm_pinv;

/* Appends the "pinv" section for the permutation `samples` (m values packed
 * at `bits`) with interval t to *out. Canonical: same input, same bytes.
 * Fails with IDX_ERR_CORRUPT if samples are not a permutation of [0, m). */
idx_err idx_fm_pinv_build(const uint64_t *samples, unsigned bits, uint64_t m, uint32_t t, idx_buf *out);
/* Checks the header and sizes of a section in place (p stays mapped); path names the file in errors. */
idx_err idx_fm_pinv_load(const void *p, uint64_t sz, const uint64_t *samples, unsigned bits, uint64_t m,
                         idx_fm_pinv *out, const char *path);
void idx_fm_pinv_free(idx_fm_pinv *pv);
/* *j = pi^-1(k), k < m: the sampled row number holding text position k*s.
 * Bounded: damage gives IDX_ERR_CORRUPT, never a loop. */
idx_err idx_fm_pinv_get(const idx_fm_pinv *pv, uint64_t k, uint64_t *j, const char *path);
/* Rebuilds the section from the samples and compares byte for byte. */
idx_err idx_fm_pinv_verify(const idx_fm_pinv *pv, const char *path);

#endif
