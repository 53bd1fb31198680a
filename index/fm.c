/*
 * fm.c -- reading and querying FM-index shards: exact counts of any byte
 * string by backward search, suffix-array ranges, locating an occurrence as
 * (global document id, byte offset), and the left-extension cursor. Shard
 * construction is in fm_build.c, the build pipeline in build.c.
 *
 * Text model. A shard's text T[0..n) is its documents in corpus order, each
 * followed by the separator byte 0xFF (which the corpus reader never lets into
 * a document, so no match of a query without 0xFF crosses a document; queries
 * containing 0xFF count 0). Conceptually a sentinel $ smaller than every byte
 * ends T; the BWT of T$ has n+1 rows. Row `primary` holds $ and is removed
 * from the stored BWT, so the stored sequence has n bytes and all 256 byte
 * values are ordinary symbols (infini-gram mini's sentinel gives a real byte
 * code 0 and loses it; see METHODS.md 8.3). rank_c over the full BWT at row i
 * is rank_c over the stored sequence at i - (i > primary).
 * C[c] = 1 + #{bytes of T smaller than c} (row 0 is the suffix "$").
 *
 * Shard file fm/shard-NNNN.fm: the common section file (common/file.c: magic,
 * version, 64-byte aligned sections with XXH3 checksums), magic "IDXFMSH1",
 * version 1, sections (all integers little-endian):
 *   "meta"    265 x u64:
 *               [0] layout (0 sdsl, 1 fast, 2 compact) [1] n = |T| (separators included)
 *               [2] primary (BWT row of $)         [3] ndocs (documents in the shard)
 *               [4] first_doc (global id of the first document)
 *               [5] text_bytes = n - ndocs         [6] s = suffix-array sample rate
 *               [7] nsamples = n/s + 1             [8] sample_bits = bit width of n/s (>= 1)
 *               [9 + c] for c in 0..255: occurrences of byte c in T
 *   "block"   (compact) fixed-block boosted wavelet trees, format at the top of fm_block.c
 *   "wt"      (sdsl) sdsl wt_huff<rrr_vector<63>> over the stored BWT (n symbols),
 *             as written by its serialize()
 *   "fast"    (fast) the byte-wise rank blocks of fm_fast.c
 *   "marks"   sdsl sd_vector<> of n+1 bits: row i is sampled iff SA[i] % s == 0
 *   "samples" nsamples values SA[i] / s in row order, sample_bits each, packed
 *             LSB-first into u64 words (ceil(nsamples*sample_bits/64) words)
 *   "docs"    ndocs u64: start offset in T of each document (strictly increasing, [0]=0)
 *   "isa"     (optional: `idx build --text fm`) inverse suffix-array samples:
 *             u64 header[4] = {r, count = n/r + 1, bits = bit width of n, 0},
 *             then count values packed LSB-first at `bits` each into u64 words
 *             (ceil(count*bits/64) words): value k = the BWT row of text
 *             position k*r (row 0 is position n). idx_fm_extract starts at the
 *             first sampled position at or after the end of the wanted range
 *             and walks backward by LF steps (at most r-1 wasted steps).
 *   "pinv"    (optional, instead of "isa": the default of `idx build --text fm`)
 *             inverse samples at rate s derived from "samples" by shortcut
 *             pointers over their permutation: format at the top of fm_pinv.c.
 * Every count and offset is checked against the file at open; checksums are
 * always verified before a section is handed to sdsl (which trusts its input).
 */
#include <stdlib.h>
#include <string.h>

#include "fm_block.h"
#include "fm_fast.h"
#include "fm_internal.h"
#include "fm_pinv.h"
#include "sdsl_shim.h"

typedef struct {
    idx_file *file;
    idx_fm_layout layout;
    uint64_t n, primary, ndocs, first_doc, text_bytes;
    uint32_t s;
    uint64_t nsamples;
    unsigned sample_bits;
    uint64_t counts[256];
    uint64_t C[256];
    idx_sdsl_wt *wt;       /* sdsl layout */
    idx_fm_fast fast;      /* fast layout (in the mapped file) */
    idx_fm_block blk;      /* compact layout (in the mapped file) */
    int is_fast, is_block;
    idx_sdsl_sd *marks;
    const uint64_t *samples; /* packed, in the mapped file */
    const uint64_t *starts;  /* doc start offsets, in the mapped file */
    const uint64_t *isa;     /* packed inverse samples ("isa"), in the mapped file; NULL without */
    idx_fm_pinv pinv;        /* or derived from the SA samples ("pinv") when has_pinv */
    int has_pinv;
    uint64_t isa_r, isa_count; /* rate (s with "pinv") and count of inverse samples */
    unsigned isa_bits;
    uint64_t wt_bytes, marks_bytes, samples_bytes, docs_bytes, isa_bytes;
} fm_shard;

struct idx_fm {
    size_t nshards;
    fm_shard *shards;
    uint64_t total_bytes, ndocs;
};

struct idx_fm_cursor {
    const idx_fm *fm;
    size_t len;
    uint64_t count;
    idx_fm_range *ranges;
};

/* ---- rank primitives ---------------------------------------------------- */

/* Over the stored BWT (sentinel row removed), either layout. */
static inline uint64_t bwt_rank(const fm_shard *sh, uint64_t j, unsigned char c) {
    if (sh->is_block) return idx_fm_block_rank(&sh->blk, j, c);
    return sh->is_fast ? idx_fm_fast_rank(&sh->fast, j, c) : idx_sdsl_wt_rank(sh->wt, j, c);
}

static inline uint64_t bwt_isel(const fm_shard *sh, uint64_t j, unsigned char *c) {
    if (sh->is_block) return idx_fm_block_inverse_select(&sh->blk, j, c);
    return sh->is_fast ? idx_fm_fast_inverse_select(&sh->fast, j, c) : idx_sdsl_wt_inverse_select(sh->wt, j, c);
}

/* Occurrences of c among BWT rows [0, i) (the $ row counts for no byte). */
static inline uint64_t shard_rank(const fm_shard *sh, uint64_t i, unsigned char c) {
    if (sh->counts[c] == 0) return 0;
    uint64_t j = i - (i > sh->primary);
    return bwt_rank(sh, j, c);
}

/* One backward-search step on [*lo, *hi) for byte c. */
static inline void shard_step(const fm_shard *sh, unsigned char c, uint64_t *lo, uint64_t *hi) {
    uint64_t l = *lo, h = *hi;
    if (l >= h || sh->counts[c] == 0) {
        *lo = *hi = 0;
        return;
    }
    if (h - l == 1) {
        /* One row: a single traversal gives its byte and rank. */
        if (l == sh->primary) {
            *lo = *hi = 0;
            return;
        }
        unsigned char b;
        uint64_t r = bwt_isel(sh, l - (l > sh->primary), &b);
        if (b != c) {
            *lo = *hi = 0;
            return;
        }
        *lo = sh->C[c] + r;
        *hi = *lo + 1;
        return;
    }
    if (sh->is_block) {
        uint64_t rl, rh;
        idx_fm_block_rank2(&sh->blk, l - (l > sh->primary), h - (h > sh->primary), c, &rl, &rh);
        *lo = sh->C[c] + rl;
        *hi = sh->C[c] + rh;
        return;
    }
    if (sh->is_fast) {
        uint64_t rl, rh;
        idx_fm_fast_rank2(&sh->fast, l - (l > sh->primary), h - (h > sh->primary), c, &rl, &rh);
        *lo = sh->C[c] + rl;
        *hi = sh->C[c] + rh;
        return;
    }
    *lo = sh->C[c] + shard_rank(sh, l, c);
    *hi = sh->C[c] + shard_rank(sh, h, c);
}

static void shard_search(const fm_shard *sh, const unsigned char *p, size_t len, uint64_t *lo,
                         uint64_t *hi) {
    uint64_t l = 0, h = sh->n + 1;
    for (size_t k = len; k-- > 0 && l < h;) shard_step(sh, p[k], &l, &h);
    if (l >= h) l = h = 0;
    *lo = l;
    *hi = h;
}

static inline uint64_t packed_get(const uint64_t *a, unsigned b, uint64_t k) {
    uint64_t bit = k * b, w = bit >> 6, o = bit & 63;
    uint64_t v = a[w] >> o;
    if (o + b > 64) v |= a[w + 1] << (64 - o);
    return b == 64 ? v : (v & ((UINT64_C(1) << b) - 1));
}

static inline uint64_t sample_get(const fm_shard *sh, uint64_t k) { return packed_get(sh->samples, sh->sample_bits, k); }

/* Text position of BWT row i. */
static idx_err shard_locate_pos(const fm_shard *sh, uint64_t i, uint64_t *pos) {
    uint64_t steps = 0;
    for (;;) {
        if (i > sh->n) return idx_fail(IDX_ERR_CORRUPT, "%s: row out of range", idx_file_path(sh->file));
        if (idx_sdsl_sd_get(sh->marks, i)) break;
        if (i == sh->primary || steps >= sh->s)
            return idx_fail(IDX_ERR_CORRUPT, "%s: section \"marks\": unsampled cycle",
                            idx_file_path(sh->file));
        unsigned char b;
        uint64_t r = bwt_isel(sh, i - (i > sh->primary), &b);
        i = sh->C[b] + r;
        steps++;
    }
    uint64_t k = idx_sdsl_sd_rank(sh->marks, i);
    if (k >= sh->nsamples)
        return idx_fail(IDX_ERR_CORRUPT, "%s: section \"samples\": index out of range", idx_file_path(sh->file));
    uint64_t p = sample_get(sh, k) * sh->s + steps;
    if (p > sh->n)
        return idx_fail(IDX_ERR_CORRUPT, "%s: section \"samples\": position out of range", idx_file_path(sh->file));
    *pos = p;
    return IDX_OK;
}

/* ---- opening ------------------------------------------------------------- */

static unsigned bit_width(uint64_t v) {
    unsigned b = 1;
    while (b < 64 && (v >> b)) b++;
    return b;
}

static idx_err corrupt(const fm_shard *sh, const char *section, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section \"%s\": %s", idx_file_path(sh->file), section, what);
}

/* Every inverse sample against the suffix-array samples: row isa[k] must
 * locate to text position k*r (LF/SA relation; locating takes (k*r) mod s
 * steps, none when r is a multiple of s as with the defaults), and the last
 * one, when k*r = n, must be row 0. Distinct positions imply distinct rows. */
static idx_err isa_verify(const fm_shard *sh) {
    for (uint64_t k = 0; k < sh->isa_count; k++) {
        uint64_t row = packed_get(sh->isa, sh->isa_bits, k), want = k * sh->isa_r, pos;
        if (row > sh->n) return corrupt(sh, "isa", "row out of range");
        if (want == sh->n) {
            if (row != 0) return corrupt(sh, "isa", "the end of the text is not row 0");
            continue;
        }
        if (want > sh->n) {
            if (row != 0) return corrupt(sh, "isa", "padding sample is not zero");
            continue;
        }
        if (row == 0 || shard_locate_pos(sh, row, &pos) != IDX_OK || pos != want)
            return idx_fail(IDX_ERR_CORRUPT, "%s: section \"isa\": sample %llu (row %llu) is not text position %llu",
                            idx_file_path(sh->file), (unsigned long long)k, (unsigned long long)row,
                            (unsigned long long)want);
    }
    return IDX_OK;
}

static int has_inv(const fm_shard *sh) { return sh->isa != NULL || sh->has_pinv; }

/* The BWT row of text position k*r (k*r < n) from "isa" or "pinv". */
static idx_err inv_row(const fm_shard *sh, uint64_t k, uint64_t *row) {
    if (sh->isa) {
        *row = packed_get(sh->isa, sh->isa_bits, k);
        return IDX_OK;
    }
    uint64_t j;
    idx_err e = idx_fm_pinv_get(&sh->pinv, k, &j, idx_file_path(sh->file));
    if (e != IDX_OK) return e;
    *row = idx_sdsl_sd_select(sh->marks, j);
    return IDX_OK;
}

/* T[a, b) of the shard into dst (0 <= a <= b <= n), by LF steps backward.
 * The range is cut at multiples of r into up to EXTRACT_LANES pieces of
 * about equal length; each piece is walked from the inverse sample at or
 * after its end (the last one from the first sample at or after b, or from
 * the end of the text), all in lockstep so that their independent cache
 * misses overlap. Steps: b - a plus at most r - 1; inverse samples looked up:
 * at most EXTRACT_LANES (each ~t reads of the samples with "pinv"). */
#define EXTRACT_LANES 8
static idx_err shard_extract(const fm_shard *sh, uint64_t a, uint64_t b, unsigned char *dst) {
    const uint64_t r = sh->isa_r;
    if (a >= b) return IDX_OK;
    uint64_t row[EXTRACT_LANES], p[EXTRACT_LANES], lo[EXTRACT_LANES], end[EXTRACT_LANES];
    uint64_t ka = a / r, nb = (b - 1) / r - ka + 1;
    int nl = nb < EXTRACT_LANES ? (int)nb : EXTRACT_LANES;
    for (int j = 0; j < nl; j++) {
        uint64_t l = (ka + nb * (uint64_t)j / (uint64_t)nl) * r, h = (ka + nb * (uint64_t)(j + 1) / (uint64_t)nl) * r;
        lo[j] = l < a ? a : l;
        end[j] = h > b ? b : h;
        uint64_t k = end[j] / r + (end[j] % r != 0);
        if (k * r >= sh->n) {
            p[j] = sh->n; /* the suffix "$" */
            row[j] = 0;
        } else {
            p[j] = k * r;
            idx_err e = inv_row(sh, k, &row[j]);
            if (e != IDX_OK) return e;
        }
    }
    for (int live = nl; live;) {
        live = 0;
        if (sh->is_block) { /* the lanes' first misses in parallel, then the walks */
            uint64_t at[EXTRACT_LANES];
            int m = 0;
            for (int j = 0; j < nl; j++)
                if (p[j] > lo[j] && row[j] <= sh->n && row[j] != sh->primary)
                    at[m++] = row[j] - (row[j] > sh->primary);
            for (int stage = 0; stage < 4; stage++)
                for (int k = 0; k < m; k++) idx_fm_block_prefetch_isel(&sh->blk, at[k], stage);
        }
        for (int j = 0; j < nl; j++) {
            if (p[j] <= lo[j]) continue;
            uint64_t x = row[j];
            if (x > sh->n || x == sh->primary) return corrupt(sh, sh->isa ? "isa" : "pinv", "LF walk left the text");
            unsigned char c;
            uint64_t rk = bwt_isel(sh, x - (x > sh->primary), &c);
            uint64_t q = --p[j];
            if (q < end[j]) dst[q - a] = c;
            row[j] = sh->C[c] + rk;
            live += p[j] > lo[j];
        }
    }
    return IDX_OK;
}

static idx_err shard_load(fm_shard *sh, const char *path, uint64_t want_first_doc, unsigned flags) {
    memset(sh, 0, sizeof *sh);
    /* Always verify checksums: sdsl's loaders trust their input. */
    idx_err e = idx_file_open(path, IDX_FM_MAGIC, IDX_FM_VERSION, flags | IDX_FILE_VERIFY, &sh->file);
    if (e != IDX_OK) return e;
    const void *p;
    uint64_t sz;
    e = idx_file_section(sh->file, "meta", &p, &sz);
    if (e != IDX_OK) return e;
    if (sz != IDX_FM_META_WORDS * 8) return corrupt(sh, "meta", "wrong size");
    uint64_t m[IDX_FM_META_WORDS];
    memcpy(m, p, sizeof m);
    if (!idx_fm_layout_from_meta(m[0], &sh->layout)) return corrupt(sh, "meta", "unknown layout");
    sh->is_fast = sh->layout == IDX_FM_LAYOUT_FAST;
    sh->is_block = sh->layout == IDX_FM_LAYOUT_COMPACT;
    sh->n = m[1];
    sh->primary = m[2];
    sh->ndocs = m[3];
    sh->first_doc = m[4];
    sh->text_bytes = m[5];
    if (sh->n == 0 || sh->n > (UINT64_C(1) << 48)) return corrupt(sh, "meta", "implausible text length");
    if (sh->primary > sh->n) return corrupt(sh, "meta", "sentinel row out of range");
    if (sh->ndocs == 0 || sh->ndocs > sh->n || sh->text_bytes != sh->n - sh->ndocs)
        return corrupt(sh, "meta", "document count inconsistent with text length");
    if (sh->first_doc != want_first_doc) return corrupt(sh, "meta", "first document id disagrees with the manifest");
    if (m[6] == 0 || m[6] > IDX_FM_MAX_SAMPLE) return corrupt(sh, "meta", "bad sample rate");
    sh->s = (uint32_t)m[6];
    sh->nsamples = m[7];
    if (sh->nsamples != sh->n / sh->s + 1) return corrupt(sh, "meta", "bad sample count");
    if (m[8] != bit_width(sh->n / sh->s)) return corrupt(sh, "meta", "bad sample width");
    sh->sample_bits = (unsigned)m[8];
    uint64_t tot = 0;
    for (int c = 0; c < 256; c++) {
        sh->counts[c] = m[9 + c];
        if (sh->counts[c] > sh->n) return corrupt(sh, "meta", "byte count out of range");
        sh->C[c] = 1 + tot;
        tot += sh->counts[c];
    }
    if (tot != sh->n) return corrupt(sh, "meta", "byte counts do not add up to the text length");
    if (sh->counts[0xFF] != sh->ndocs) return corrupt(sh, "meta", "separator count differs from document count");

    /* doc starts */
    e = idx_file_section(sh->file, "docs", &p, &sz);
    if (e != IDX_OK) return e;
    if (sz != sh->ndocs * 8) return corrupt(sh, "docs", "wrong size");
    sh->starts = p;
    sh->docs_bytes = sz;
    if (sh->starts[0] != 0) return corrupt(sh, "docs", "first document does not start at 0");
    for (uint64_t d = 1; d < sh->ndocs; d++)
        if (sh->starts[d] <= sh->starts[d - 1] || sh->starts[d] >= sh->n)
            return corrupt(sh, "docs", "document starts not increasing");

    /* inverse samples (optional) */
    e = idx_file_section_opt(sh->file, "isa", &p, &sz);
    if (e != IDX_OK) return e;
    if (p) {
        const uint64_t *h = p;
        if (sz < IDX_FM_ISA_HEADER_WORDS * 8) return corrupt(sh, "isa", "too short");
        if (h[0] == 0 || h[0] > IDX_FM_MAX_SAMPLE) return corrupt(sh, "isa", "bad sample rate");
        sh->isa_r = h[0];
        sh->isa_count = h[1];
        if (sh->isa_count != sh->n / sh->isa_r + 1) return corrupt(sh, "isa", "sample count disagrees with the rate");
        if (h[2] != bit_width(sh->n) || h[3] != 0) return corrupt(sh, "isa", "bad sample width");
        sh->isa_bits = (unsigned)h[2];
        uint64_t iw = (sh->isa_count * sh->isa_bits + 63) / 64;
        if (sz != (IDX_FM_ISA_HEADER_WORDS + iw) * 8) return corrupt(sh, "isa", "wrong size");
        sh->isa = h + IDX_FM_ISA_HEADER_WORDS;
        sh->isa_bytes = sz;
    }

    /* samples */
    e = idx_file_section(sh->file, "samples", &p, &sz);
    if (e != IDX_OK) return e;
    uint64_t words = (sh->nsamples * sh->sample_bits + 63) / 64;
    if (sz != words * 8) return corrupt(sh, "samples", "wrong size");
    sh->samples = p;
    sh->samples_bytes = sz;

    /* inverse samples derived from the SA samples (optional, not with "isa") */
    e = idx_file_section_opt(sh->file, "pinv", &p, &sz);
    if (e != IDX_OK) return e;
    if (p) {
        if (sh->isa) return corrupt(sh, "pinv", "both \"isa\" and \"pinv\"");
        e = idx_fm_pinv_load(p, sz, sh->samples, sh->sample_bits, sh->nsamples, &sh->pinv, path);
        if (e != IDX_OK) return e;
        sh->has_pinv = 1;
        sh->isa_r = sh->s;
        sh->isa_count = sh->nsamples;
        sh->isa_bytes = sz;
    }

    /* marks */
    e = idx_file_section(sh->file, "marks", &p, &sz);
    if (e != IDX_OK) return e;
    sh->marks_bytes = sz;
    e = idx_sdsl_sd_load(p, (size_t)sz, &sh->marks);
    if (e != IDX_OK) return idx_fail_context(e, "%s: section \"marks\"", path);
    if (idx_sdsl_sd_size(sh->marks) != sh->n + 1 || idx_sdsl_sd_ones(sh->marks) != sh->nsamples)
        return corrupt(sh, "marks", "size or number of samples disagrees with meta");
    if (!idx_sdsl_sd_get(sh->marks, sh->primary)) return corrupt(sh, "marks", "sentinel row not sampled");

    if (sh->is_block) {
        /* fixed-block boosted wavelet trees, used in place from the mapped file */
        e = idx_file_section(sh->file, "block", &p, &sz);
        if (e != IDX_OK) return e;
        sh->wt_bytes = sz;
        e = idx_fm_block_load(p, sz, sh->n, sh->counts, &sh->blk, path);
        if (e != IDX_OK) return e;
        if ((flags & IDX_FILE_VERIFY) && (e = idx_fm_block_verify(&sh->blk, path)) != IDX_OK) return e;
    } else if (sh->is_fast) {
        /* byte-wise rank blocks, used in place from the mapped file */
        e = idx_file_section(sh->file, "fast", &p, &sz);
        if (e != IDX_OK) return e;
        sh->wt_bytes = sz;
        e = idx_fm_fast_load(p, sz, sh->n, sh->counts, &sh->fast, path);
        if (e != IDX_OK) return e;
        if ((flags & IDX_FILE_VERIFY) && (e = idx_fm_fast_verify(&sh->fast, path)) != IDX_OK) return e;
    } else {
        /* wavelet tree */
        e = idx_file_section(sh->file, "wt", &p, &sz);
        if (e != IDX_OK) return e;
        sh->wt_bytes = sz;
        e = idx_sdsl_wt_load(p, (size_t)sz, &sh->wt);
        if (e != IDX_OK) return idx_fail_context(e, "%s: section \"wt\"", path);
        if (idx_sdsl_wt_size(sh->wt) != sh->n) return corrupt(sh, "wt", "length disagrees with meta");
    }

    /* The C array must agree with the tree, or LF steps could leave [0, n]. */
    for (int c = 0; c < 256; c++) {
        uint64_t r = sh->counts[c] ? bwt_rank(sh, sh->n, (unsigned char)c) : 0;
        if (r != sh->counts[c]) return corrupt(sh, sh->is_block ? "block" : sh->is_fast ? "fast" : "wt", "byte counts disagree with meta");
    }
    if (flags & IDX_FILE_VERIFY) {
        /* Deep structural checks: samples form a permutation, docs follow separators. */
        uint64_t nb = (sh->nsamples + 63) / 64;
        uint64_t *seen = calloc(nb ? nb : 1, 8);
        if (!seen) return idx_fail(IDX_ERR_NOMEM, "out of memory verifying %s", path);
        for (uint64_t k = 0; k < sh->nsamples; k++) {
            uint64_t v = sample_get(sh, k);
            if (v >= sh->nsamples || (seen[v >> 6] >> (v & 63)) & 1) {
                free(seen);
                return corrupt(sh, "samples", "sampled positions are not a permutation");
            }
            seen[v >> 6] |= UINT64_C(1) << (v & 63);
        }
        free(seen);
        uint64_t k0 = idx_sdsl_sd_rank(sh->marks, sh->primary);
        if (sample_get(sh, k0) != 0) return corrupt(sh, "samples", "sentinel row does not hold position 0");
        uint64_t pos;
        if (shard_locate_pos(sh, 0, &pos) != IDX_OK || pos != sh->n)
            return corrupt(sh, "samples", "row 0 is not the end of the text");
        /* Every document start is preceded by a separator: locate each start
         * of a sample of rows holding 0xFF and check it is a document end. */
        uint64_t lo = sh->C[0xFF], hi = lo + sh->counts[0xFF];
        uint64_t step = (hi - lo) / 1024 + 1;
        for (uint64_t r = lo; r < hi; r += step) {
            if (shard_locate_pos(sh, r, &pos) != IDX_OK) return idx_fail_context(IDX_ERR_CORRUPT, "%s", path);
            uint64_t next = pos + 1;
            if (next < sh->n) {
                uint64_t a = 0, b = sh->ndocs;
                while (a < b) {
                    uint64_t mid = a + (b - a) / 2;
                    if (sh->starts[mid] < next) a = mid + 1;
                    else b = mid;
                }
                if (a >= sh->ndocs || sh->starts[a] != next)
                    return corrupt(sh, "docs", "document start does not follow a separator");
            }
        }
        if (sh->isa && (e = isa_verify(sh)) != IDX_OK) return e;
        if (sh->has_pinv && (e = idx_fm_pinv_verify(&sh->pinv, path)) != IDX_OK) return e;
    }
    return IDX_OK;
}

static void shard_free(fm_shard *sh) {
    idx_fm_pinv_free(&sh->pinv);
    idx_sdsl_wt_free(sh->wt);
    idx_sdsl_sd_free(sh->marks);
    idx_file_close(sh->file);
}

static idx_err json_u64(json_t *obj, const char *key, uint64_t *out, const char *ctx) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return idx_fail(IDX_ERR_CORRUPT, "%s: manifest part \"fm\": missing or bad \"%s\"", ctx, key);
    *out = (uint64_t)json_integer_value(v);
    return IDX_OK;
}

idx_err idx_fm_open(const char *index_dir, unsigned flags, idx_fm **out) {
    *out = NULL;
    json_t *man = NULL;
    idx_err e = idx_manifest_load(index_dir, &man);
    if (e != IDX_OK) return e;
    json_t *part = idx_manifest_part(man, "fm");
    if (!part) {
        json_decref(man);
        return idx_fail(IDX_ERR_NOT_FOUND, "%s: the index has no FM-index part", index_dir);
    }
    json_t *v = json_object_get(part, "version");
    if (json_is_integer(v) && json_integer_value(v) > (json_int_t)IDX_FM_VERSION) {
        json_decref(man);
        return idx_fail(IDX_ERR_VERSION, "%s: FM-index format version %lld is newer than this program (%u)",
                        index_dir, (long long)json_integer_value(v), IDX_FM_VERSION);
    }
    json_t *arr = json_object_get(part, "shards");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(man);
        return idx_fail(IDX_ERR_CORRUPT, "%s: manifest part \"fm\": no shards", index_dir);
    }
    idx_fm *fm = calloc(1, sizeof *fm);
    if (!fm) {
        json_decref(man);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    fm->nshards = json_array_size(arr);
    fm->shards = calloc(fm->nshards, sizeof *fm->shards);
    if (!fm->shards) {
        free(fm);
        json_decref(man);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    uint64_t next_doc = 0;
    size_t loaded = 0;
    for (size_t i = 0; i < fm->nshards && e == IDX_OK; i++) {
        json_t *sj = json_array_get(arr, i);
        const char *file = json_string_value(json_object_get(sj, "file"));
        if (!file || strstr(file, "..") || file[0] == '/') {
            e = idx_fail(IDX_ERR_CORRUPT, "%s: manifest part \"fm\": bad shard file name", index_dir);
            break;
        }
        char *path = idx_path_join(index_dir, file);
        if (!path) {
            e = idx_fail(IDX_ERR_NOMEM, "out of memory");
            break;
        }
        e = shard_load(&fm->shards[i], path, next_doc, flags);
        loaded = i + 1;
        free(path);
        if (e != IDX_OK) break;
        next_doc += fm->shards[i].ndocs;
        fm->total_bytes += fm->shards[i].text_bytes;
    }
    if (e == IDX_OK) {
        uint64_t want_docs = 0, want_bytes = 0;
        fm->ndocs = next_doc;
        if ((e = json_u64(part, "docs", &want_docs, index_dir)) == IDX_OK &&
            (e = json_u64(part, "corpus_bytes", &want_bytes, index_dir)) == IDX_OK &&
            (want_docs != fm->ndocs || want_bytes != fm->total_bytes))
            e = idx_fail(IDX_ERR_CORRUPT, "%s: shards disagree with the manifest on documents or bytes", index_dir);
    }
    json_decref(man);
    if (e != IDX_OK) {
        for (size_t i = 0; i < loaded; i++) shard_free(&fm->shards[i]);
        free(fm->shards);
        free(fm);
        return e;
    }
    *out = fm;
    return IDX_OK;
}

void idx_fm_close(idx_fm *fm) {
    if (!fm) return;
    for (size_t i = 0; i < fm->nshards; i++) shard_free(&fm->shards[i]);
    free(fm->shards);
    free(fm);
}

size_t idx_fm_shard_count(const idx_fm *fm) { return fm->nshards; }
uint64_t idx_fm_total_bytes(const idx_fm *fm) { return fm->total_bytes; }
uint64_t idx_fm_doc_count(const idx_fm *fm) { return fm->ndocs; }

idx_err idx_fm_get_shard_sizes(const idx_fm *fm, size_t shard, idx_fm_shard_sizes *out) {
    if (shard >= fm->nshards) return idx_fail(IDX_ERR_INVALID, "no shard %zu", shard);
    const fm_shard *sh = &fm->shards[shard];
    memset(out, 0, sizeof *out);
    out->first_doc = sh->first_doc;
    out->docs = sh->ndocs;
    out->text_bytes = sh->text_bytes;
    out->file_bytes = idx_file_size(sh->file);
    out->bwt_bytes = sh->wt_bytes;
    out->marks_bytes = sh->marks_bytes;
    out->samples_bytes = sh->samples_bytes;
    out->docs_bytes = sh->docs_bytes;
    out->isa_bytes = sh->isa_bytes;
    out->isa_sample = (uint32_t)sh->isa_r;
    out->sa_sample = sh->s;
    out->layout = sh->layout;
    return IDX_OK;
}

/* ---- text ------------------------------------------------------------------ */

int idx_fm_shard_isa_kind(const idx_fm *fm, size_t shard) {
    if (shard >= fm->nshards) return -1;
    return fm->shards[shard].has_pinv ? 2 : fm->shards[shard].isa ? 1 : 0;
}

int idx_fm_has_text(const idx_fm *fm) {
    for (size_t s = 0; s < fm->nshards; s++)
        if (!has_inv(&fm->shards[s])) return 0;
    return fm->nshards > 0;
}

/* The shard holding a global document, its local number, start and length. */
static idx_err doc_span(const idx_fm *fm, uint64_t global_doc, const fm_shard **shp, uint64_t *start, uint64_t *len) {
    if (global_doc >= fm->ndocs)
        return idx_fail(IDX_ERR_NOT_FOUND, "no document %llu (the index has %llu)", (unsigned long long)global_doc,
                        (unsigned long long)fm->ndocs);
    size_t a = 0, b = fm->nshards; /* last shard with first_doc <= global_doc */
    while (b - a > 1) {
        size_t mid = a + (b - a) / 2;
        if (fm->shards[mid].first_doc <= global_doc) a = mid;
        else b = mid;
    }
    const fm_shard *sh = &fm->shards[a];
    uint64_t d = global_doc - sh->first_doc;
    if (d >= sh->ndocs) return idx_fail(IDX_ERR_INTERNAL, "document %llu in no shard", (unsigned long long)global_doc);
    uint64_t end = d + 1 < sh->ndocs ? sh->starts[d + 1] : sh->n; /* one past the separator */
    *shp = sh;
    *start = sh->starts[d];
    *len = end - 1 - sh->starts[d];
    return IDX_OK;
}

idx_err idx_fm_doc_len(const idx_fm *fm, uint64_t global_doc, uint64_t *len) {
    const fm_shard *sh;
    uint64_t start;
    return doc_span(fm, global_doc, &sh, &start, len);
}

idx_err idx_fm_extract(const idx_fm *fm, uint64_t global_doc, uint64_t offset, uint64_t len, idx_buf *out) {
    const fm_shard *sh;
    uint64_t start, dl;
    idx_err e = doc_span(fm, global_doc, &sh, &start, &dl);
    if (e != IDX_OK) return e;
    if (!has_inv(sh))
        return idx_fail(IDX_ERR_UNSUPPORTED, "%s: built without inverse samples (\"isa\"): no text from the FM-index",
                        idx_file_path(sh->file));
    if (offset > dl) offset = dl;
    if (len > dl - offset) len = dl - offset;
    if (len > SIZE_MAX / 2) return idx_fail(IDX_ERR_NOMEM, "text range too large");
    if ((e = idx_buf_reserve(out, (size_t)len + 1)) != IDX_OK) return e;
    e = shard_extract(sh, start + offset, start + offset + len, (unsigned char *)out->data + out->len);
    if (e != IDX_OK) return e;
    out->len += (size_t)len;
    out->data[out->len] = 0;
    return IDX_OK;
}

/* ---- queries --------------------------------------------------------------- */

static int has_sep(const unsigned char *p, size_t len) { return memchr(p, 0xFF, len) != NULL; }

idx_err idx_fm_find(const idx_fm *fm, const void *pat, size_t len, idx_fm_range *ranges, uint64_t *total) {
    const unsigned char *p = pat;
    uint64_t t = 0;
    if (len > 0 && (!p || has_sep(p, len))) {
        if (!p) return idx_fail(IDX_ERR_INVALID, "NULL pattern");
        for (size_t s = 0; s < fm->nshards; s++) ranges[s].lo = ranges[s].hi = 0;
        if (total) *total = 0;
        return IDX_OK;
    }
    for (size_t s = 0; s < fm->nshards; s++) {
        const fm_shard *sh = &fm->shards[s];
        if (len == 0) {
            ranges[s].lo = 0;
            ranges[s].hi = sh->n + 1;
            t += sh->text_bytes;
            continue;
        }
        shard_search(sh, p, len, &ranges[s].lo, &ranges[s].hi);
        t += ranges[s].hi - ranges[s].lo;
    }
    if (total) *total = t;
    return IDX_OK;
}

idx_err idx_fm_count(const idx_fm *fm, const void *pat, size_t len, uint64_t *count) {
    const unsigned char *p = pat;
    if (len == 0) {
        *count = fm->total_bytes;
        return IDX_OK;
    }
    if (!p) return idx_fail(IDX_ERR_INVALID, "NULL pattern");
    *count = 0;
    if (has_sep(p, len)) return IDX_OK;
    uint64_t t = 0;
    if (fm->nshards <= 64) {
        /* All shards step together, byte by byte: their searches are
         * independent, so the out-of-order core overlaps their cache misses. */
        uint64_t lo[64], hi[64];
        for (size_t s = 0; s < fm->nshards; s++) {
            lo[s] = 0;
            hi[s] = len > fm->shards[s].text_bytes ? 0 : fm->shards[s].n + 1;
        }
        for (size_t k = len; k-- > 0;) {
            int live = 0;
            /* compact layout: first start every shard's first misses (block
             * headers and count records of both bounds), then walk */
            for (size_t s = 0; s < fm->nshards && fm->nshards > 1; s++) {
                const fm_shard *sh = &fm->shards[s];
                if (!sh->is_block || lo[s] >= hi[s]) continue;
                uint64_t l = lo[s], h = hi[s];
                idx_fm_block_prefetch(&sh->blk, l - (l > sh->primary), p[k]);
                if (h - l > 1) idx_fm_block_prefetch(&sh->blk, h - (h > sh->primary), p[k]);
            }
            for (size_t s = 0; s < fm->nshards; s++) {
                if (lo[s] >= hi[s]) continue;
                shard_step(&fm->shards[s], p[k], &lo[s], &hi[s]);
                live |= lo[s] < hi[s];
            }
            if (!live) break;
        }
        for (size_t s = 0; s < fm->nshards; s++)
            if (lo[s] < hi[s]) t += hi[s] - lo[s];
        *count = t;
        return IDX_OK;
    }
    for (size_t s = 0; s < fm->nshards; s++) {
        const fm_shard *sh = &fm->shards[s];
        if (len > sh->text_bytes) continue;
        uint64_t lo, hi;
        shard_search(sh, p, len, &lo, &hi);
        t += hi - lo;
    }
    *count = t;
    return IDX_OK;
}

idx_err idx_fm_locate(const idx_fm *fm, size_t shard, uint64_t rank, uint64_t *doc_id, uint64_t *offset) {
    if (shard >= fm->nshards) return idx_fail(IDX_ERR_INVALID, "no shard %zu", shard);
    const fm_shard *sh = &fm->shards[shard];
    if (rank == 0 || rank > sh->n)
        return idx_fail(IDX_ERR_INVALID, "rank %llu out of range for shard %zu", (unsigned long long)rank, shard);
    uint64_t pos;
    idx_err e = shard_locate_pos(sh, rank, &pos);
    if (e != IDX_OK) return e;
    if (pos >= sh->n) return corrupt(sh, "samples", "located position past the text");
    uint64_t a = 0, b = sh->ndocs; /* last start <= pos */
    while (b - a > 1) {
        uint64_t mid = a + (b - a) / 2;
        if (sh->starts[mid] <= pos) a = mid;
        else b = mid;
    }
    *doc_id = sh->first_doc + a;
    *offset = pos - sh->starts[a];
    return IDX_OK;
}

/* ---- cursor ------------------------------------------------------------------ */

idx_err idx_fm_cursor_new(const idx_fm *fm, idx_fm_cursor **out) {
    *out = NULL;
    idx_fm_cursor *c = calloc(1, sizeof *c);
    if (!c) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    c->ranges = calloc(fm->nshards ? fm->nshards : 1, sizeof *c->ranges);
    if (!c->ranges) {
        free(c);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    c->fm = fm;
    idx_fm_cursor_reset(c);
    *out = c;
    return IDX_OK;
}

void idx_fm_cursor_free(idx_fm_cursor *c) {
    if (!c) return;
    free(c->ranges);
    free(c);
}

void idx_fm_cursor_reset(idx_fm_cursor *c) {
    c->len = 0;
    c->count = c->fm->total_bytes;
    for (size_t s = 0; s < c->fm->nshards; s++) {
        c->ranges[s].lo = 0;
        c->ranges[s].hi = c->fm->shards[s].n + 1;
    }
}

idx_err idx_fm_cursor_prepend(idx_fm_cursor *c, unsigned char byte, uint64_t *count) {
    uint64_t t = 0;
    c->len++;
    for (size_t s = 0; s < c->fm->nshards; s++) {
        idx_fm_range *r = &c->ranges[s];
        if (byte == 0xFF) {
            r->lo = r->hi = 0;
            continue;
        }
        shard_step(&c->fm->shards[s], byte, &r->lo, &r->hi);
        t += r->hi - r->lo;
    }
    c->count = t;
    if (count) *count = t;
    return IDX_OK;
}

uint64_t idx_fm_cursor_count(const idx_fm_cursor *c) { return c->count; }
size_t idx_fm_cursor_length(const idx_fm_cursor *c) { return c->len; }
const idx_fm_range *idx_fm_cursor_ranges(const idx_fm_cursor *c) { return c->ranges; }
