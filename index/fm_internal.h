/*
 * fm_internal.h -- what index/fm.c (reading and querying FM-index shards),
 * index/fm_build.c (building one shard) and index/build.c (the `idx build`
 * pipeline) share: the shard file's magic, version and section names, the
 * layout codes, and the shard builder. Not a public header.
 */
#ifndef IDX_FM_INTERNAL_H
#define IDX_FM_INTERNAL_H

#include "idx_index.h"

#define IDX_FM_MAGIC "IDXFMSH1"
#define IDX_FM_VERSION 1u
#define IDX_FM_META_WORDS 265u /* see the format at the top of fm.c */
#define IDX_FM_MAX_SAMPLE 65536u
#define IDX_FM_ISA_HEADER_WORDS 4u /* see the "isa" section at the top of fm.c */
#define IDX_FM_ISA_DERIVE 0xFFFFFFFFu /* isa_sample of idx_fm_shard_build: derive, section "pinv" */

/* Layout code in a shard's meta section (0 sdsl, 1 fast, 2 compact) and name
 * in the manifest, from the API's idx_fm_layout; -1 / NULL if unknown. */
static inline int idx_fm_layout_meta(idx_fm_layout l) {
    return l == IDX_FM_LAYOUT_SDSL ? 0 : l == IDX_FM_LAYOUT_FAST ? 1 : l == IDX_FM_LAYOUT_COMPACT ? 2 : -1;
}
static inline int idx_fm_layout_from_meta(uint64_t m, idx_fm_layout *l) {
    if (m > 2) return 0;
    *l = m == 0 ? IDX_FM_LAYOUT_SDSL : m == 1 ? IDX_FM_LAYOUT_FAST : IDX_FM_LAYOUT_COMPACT;
    return 1;
}
static inline const char *idx_fm_layout_name(idx_fm_layout l) {
    return l == IDX_FM_LAYOUT_SDSL ? "sdsl" : l == IDX_FM_LAYOUT_FAST ? "fast" : l == IDX_FM_LAYOUT_COMPACT ? "compact" : NULL;
}

/* Where a shard's inverse samples come from: 0 none, 1 stored ("isa"),
 * 2 derived ("pinv"); -1 no such shard. */
int idx_fm_shard_isa_kind(const idx_fm *fm, size_t shard);

/* Builds one shard file at `path` from text[0..n): the shard's documents,
 * each followed by the separator byte 0xFF (so text[n-1] == 0xFF), whose
 * start offsets are starts[0..ndocs). scratch_dir holds a temporary BWT file.
 * text is not modified. isa_sample r > 0 adds the "isa" section (the BWT row
 * of every text position that is a multiple of r) from which idx_fm_extract
 * rebuilds text; IDX_FM_ISA_DERIVE adds the "pinv" section instead (inverse
 * samples at rate s derived from the SA samples, fm_pinv.c); 0 leaves both out. Reports sizes through *info (may be NULL).
 * Memory: 4n (or 8n past 2^31 bytes) for the suffix array plus about n. */
typedef struct {
    uint64_t file_bytes, wt_bytes, marks_bytes, samples_bytes, docs_bytes, isa_bytes;
    double sa_seconds, wt_seconds, total_seconds;
} idx_fm_build_info;
idx_err idx_fm_shard_build(const char *path, const char *scratch_dir, const unsigned char *text,
                           uint64_t n, const uint64_t *starts, uint64_t ndocs, uint64_t first_doc,
                           uint32_t sa_sample, uint32_t isa_sample, idx_fm_layout layout,
                           idx_fm_build_info *info);

#endif
