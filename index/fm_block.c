/*
 * fm_block.c -- the rank structure of the "compact" FM-index layout (idea in
 * fm_block.h): fixed-block compression boosting, a Huffman-shaped wavelet
 * tree over each block's local alphabet. Section "block" of a shard file,
 * little-endian, every part starting on a 64-byte boundary of the section:
 *   header   8 x u64: n, lb (block = 2^lb symbols, lb <= 15), sigma
 *            (distinct bytes of the shard; dense code g = rank of the byte
 *            among them), nblocks = ceil(n / 2^lb), nsuper = ((nblocks <<
 *            lb) >> 32) + 1, data_bytes, format (2), 0; ngroups = nblocks /
 *            7 + 1
 *   L0       nsuper x sigma u64: occurrences of each code before position
 *            s * 2^32, then zeros to a multiple of 64 bytes
 *   L1       ngroups x sigma records of 16 bytes (group G = blocks 7G ..
 *            7G+6, record of code g at (G * sigma + g) * 16, so one aligned
 *            16 bytes of one line): u32 occurrences of g before block 7G
 *            minus L0 of block 7G's superblock, then u16 c[6]: occurrences
 *            of g inside block 7G+k (k < 6; <= 2^15); count before block
 *            7G+k = L0 + u32 + c[0] + .. + c[k-1]; zeros past block nblocks
 *   boff     (nblocks + 1) u64: offset of block b's body from the first
 *            body; boff[0] = 0, boff[nblocks] = data_bytes; zeros
 *   bodies   nblocks bodies, each a multiple of 64 bytes:
 *     u16 nloc (distinct codes in the block), u8 maxlen (longest code, 0 iff
 *     nloc = 1), u8 0, u32 nlines
 *     u8  present[32]      bit g set iff code g occurs in the block
 *     i32 nodeoff[maxlen+1] internal node at depth d with code prefix p has
 *                           id p + nodeoff[d] (ids breadth-first, root 0)
 *     u32 lim[maxlen+1]     a prefix p at depth d is a leaf iff p < lim[d]
 *     i32 leafoff[maxlen+1] the leaf p at depth d has canonical index p + leafoff[d]
 *     u32 code[nloc]        (length << 24) | codeword of the k-th present
 *                           code (increasing g): canonical Huffman code of
 *                           the block's frequencies, lengths <= 24
 *     u8  sym[nloc]         dense code of canonical index ci (order: length, g)
 *     zeros to a multiple of 4
 *     u32 noff[nloc]        start of internal node v's bits in the bit area
 *                           (nodes in id order; noff[nloc-1] = total bits T)
 *     u16 nones[nloc-1]     ones in the bit area before noff[v], mod 2^16
 *     zeros to a multiple of 64
 *     nlines (= T/496 + 1, or 0 when nloc = 1) lines of 64 bytes: read as 8
 *     u64 words, the low 16 bits of word 0 hold the ones of the bit area
 *     before the line mod 2^16, line bits 16..511 hold area bits
 *     496*line .. +495
 *     (bit k of word w = line bit 64w + k); unused bits are zero.
 * Node v's bitvector holds, for each symbol of the block passing through v
 * in block order, the next bit of its codeword (0 = left). A rank at
 * position j of the block walks the codeword of c: one line per level; the
 * rank inside node v is (line count + popcount - nones[v]) mod 2^16, exact
 * because a position inside a node (< 2^lb <= 2^15) is below 2^16, so the
 * node's own base replaces a 32-bit running count at no extra read.
 * Format 1 (word 6 = 0) had u32 line counts (480 bits a line) and u32 nones.
 * The build is deterministic, so deep verification decodes every block,
 * rebuilds it and compares every byte.
 */
#include <stdlib.h>
#include <string.h>

#include "fm_block.h"

#define LINE_BITS 496u
#define GROUP 7u /* blocks per count record */
#define BLOCK_FORMAT 2u /* header word 6; version 1 (word 6 = 0) had u32 line counts and u32 nones */
#define MAXLEN 24u

static inline uint64_t align64(uint64_t x) { return (x + 63) & ~UINT64_C(63); }

/* ---- block body access ---------------------------------------------------- */

typedef struct {
    unsigned nloc, maxlen, nint;
    uint32_t nlines;
    const uint64_t *present;
    const int32_t *nodeoff;
    const uint32_t *lim;
    const int32_t *leafoff;
    const uint32_t *code;
    const unsigned char *sym;
    const uint32_t *noff;
    const uint16_t *nones;
    const unsigned char *lines;
    uint64_t hdr; /* header bytes (lines start here) */
} body_view;

static uint64_t header_bytes(unsigned nloc, unsigned maxlen) {
    uint64_t o = 8 + 32 + 12 * (uint64_t)(maxlen + 1) + 5 * (uint64_t)nloc;
    o = (o + 3) & ~UINT64_C(3);
    o += 4 * (uint64_t)nloc + 2 * (uint64_t)(nloc - 1);
    return align64(o);
}

static inline void body_parse(const unsigned char *b, body_view *v) {
    uint16_t nl;
    memcpy(&nl, b, 2);
    v->nloc = nl;
    v->maxlen = b[2];
    v->nint = v->nloc ? v->nloc - 1 : 0;
    memcpy(&v->nlines, b + 4, 4);
    v->present = (const uint64_t *)(const void *)(b + 8);
    v->nodeoff = (const int32_t *)(const void *)(b + 40);
    v->lim = (const uint32_t *)(v->nodeoff + v->maxlen + 1);
    v->leafoff = (const int32_t *)(v->lim + v->maxlen + 1);
    v->code = (const uint32_t *)(v->leafoff + v->maxlen + 1);
    v->sym = (const unsigned char *)(v->code + v->nloc);
    uint64_t o = (uint64_t)(v->sym + v->nloc - b);
    o = (o + 3) & ~UINT64_C(3);
    v->noff = (const uint32_t *)(const void *)(b + o);
    v->nones = (const uint16_t *)(const void *)(v->noff + v->nloc);
    v->hdr = header_bytes(v->nloc, v->maxlen);
    v->lines = b + v->hdr;
}

/* Ones among bits [0, q) of the bit area modulo 2^16 (exact rank inside a
 * node is this minus the node's nones, mod 2^16, as no node position
 * exceeds 2^16 - 1); *bit = bit q. */
static inline uint32_t line_rank(const unsigned char *lines, uint32_t q, unsigned *bit) {
    const uint64_t *w = (const uint64_t *)(const void *)(lines + (size_t)(q / LINE_BITS) * 64);
    unsigned e = 16 + q % LINE_BITS, wi = e >> 6, o = e & 63;
    uint32_t ones = (uint32_t)(w[0] & 0xFFFFu);
    uint64_t x = w[0] & ~UINT64_C(0xFFFF);
    for (unsigned k = 0; k < wi; k++) {
        ones += (uint32_t)__builtin_popcountll(x);
        x = w[k + 1];
    }
    ones += (uint32_t)__builtin_popcountll(x & ((UINT64_C(1) << o) - 1));
    *bit = (unsigned)(x >> o) & 1u;
    return ones;
}

/* Local index of dense code g among the present codes, or -1. */
static inline int local_index(const uint64_t *present, unsigned g) {
    unsigned wi = g >> 6;
    uint64_t w = present[wi];
    if (!((w >> (g & 63)) & 1)) return -1;
    int k = __builtin_popcountll(w & ((UINT64_C(1) << (g & 63)) - 1));
    for (unsigned i = 0; i < wi; i++) k += __builtin_popcountll(present[i]);
    return k;
}

/* One level: position pos in internal node v -> position in the child on `bit`'s side. */
static inline uint32_t node_step(const body_view *bv, unsigned v, uint32_t pos, unsigned want, int access,
                                 unsigned *got) {
    uint32_t start = bv->noff[v], size = bv->noff[v + 1] - start;
    if (pos > size) pos = size;
    if (access && pos == size) { /* only on damaged data */
        *got = 0;
        return 0;
    }
    unsigned b;
    uint32_t r = line_rank(bv->lines, start + pos, &b);
    uint32_t r1 = (r - bv->nones[v]) & 0xFFFFu; /* pos < 2^16: exact */
    if (r1 > pos) r1 = pos;                      /* only on damaged data */
    unsigned side = access ? b : want;
    if (got) *got = b;
    return side ? r1 : pos - r1;
}

static inline const unsigned char *count_rec(const idx_fm_block *f, uint64_t b, unsigned g) {
    return f->l1 + ((b / GROUP) * f->sigma + g) * 16;
}

static inline uint64_t count_before(const idx_fm_block *f, uint64_t b, unsigned g) {
    uint64_t G = b / GROUP, k = b - G * GROUP;
    uint64_t sb = ((G * GROUP) << f->lb) >> 32;
    const unsigned char *r = f->l1 + (G * f->sigma + g) * 16;
    uint32_t base;
    uint16_t c[6];
    memcpy(&base, r, 4);
    memcpy(c, r + 4, 12);
    uint64_t x = f->l0[sb * f->sigma + g] + base;
    for (unsigned t = 0; t < k; t++) x += c[t];
    return x;
}

/* Occurrences of local code g among the first j symbols of a block. */
static inline uint64_t block_rank(const unsigned char *body, unsigned g, uint32_t j) {
    body_view bv;
    body_parse(body, &bv);
    int k = local_index(bv.present, g);
    if (k < 0) return 0;
    if (bv.nloc == 1) return j;
    uint32_t cw = bv.code[k], len = cw >> 24;
    cw &= 0xFFFFFFu;
    uint32_t pos = j;
    for (unsigned d = 0; d < len && d < bv.maxlen; d++) {
        int64_t v = (int64_t)(cw >> (len - d)) + bv.nodeoff[d];
        if (v < 0 || v >= (int64_t)bv.nint) return 0;
        pos = node_step(&bv, (unsigned)v, pos, (cw >> (len - 1 - d)) & 1u, 0, NULL);
    }
    return pos;
}

uint64_t idx_fm_block_rank(const idx_fm_block *f, uint64_t i, unsigned char c) {
    int g = f->code[c];
    if (g < 0) return 0;
    if (i > f->n) i = f->n;
    uint64_t b = i >> f->lb;
    uint32_t j = (uint32_t)(i & ((UINT64_C(1) << f->lb) - 1));
    uint64_t r = count_before(f, b, (unsigned)g);
    if (j == 0) return r;
    return r + block_rank(f->data + f->boff[b], (unsigned)g, j);
}

void idx_fm_block_prefetch(const idx_fm_block *f, uint64_t i, unsigned char c) {
    int g = f->code[c];
    if (g < 0) return;
    if (i > f->n) i = f->n;
    uint64_t b = i >> f->lb;
    __builtin_prefetch(f->data + f->boff[b]);
    __builtin_prefetch(count_rec(f, b, (unsigned)g));
}

void idx_fm_block_prefetch_isel(const idx_fm_block *f, uint64_t i, int stage) {
    if (i >= f->n) i = f->n - 1;
    uint64_t b = i >> f->lb;
    if (stage == 0) {
        __builtin_prefetch(&f->boff[b]);
        return;
    }
    const unsigned char *body = f->data + f->boff[b];
    if (stage == 1) {
        __builtin_prefetch(body);
        return;
    }
    body_view bv;
    body_parse(body, &bv);
    if (bv.nloc < 2) return;
    int64_t v = bv.nodeoff[0];
    if (v < 0 || v >= (int64_t)bv.nint) return; /* damaged: the walk reports it */
    if (stage == 2) { /* the root node's start */
        __builtin_prefetch(&bv.noff[v]);
        __builtin_prefetch(&bv.noff[v + 1]);
        return;
    }
    uint32_t j = (uint32_t)(i & ((UINT64_C(1) << f->lb) - 1)); /* stage 3: the root's line at i */
    __builtin_prefetch(bv.lines + (size_t)((bv.noff[v] + j) / LINE_BITS) * 64);
}

void idx_fm_block_rank2(const idx_fm_block *f, uint64_t i, uint64_t j, unsigned char c, uint64_t *ri, uint64_t *rj) {
    int g = f->code[c];
    if (g < 0) {
        *ri = *rj = 0;
        return;
    }
    if (i > f->n) i = f->n;
    if (j > f->n) j = f->n;
    uint64_t bi = i >> f->lb, bj = j >> f->lb, mask = (UINT64_C(1) << f->lb) - 1;
    uint32_t oi = (uint32_t)(i & mask), oj = (uint32_t)(j & mask);
    if (bi != bj || oi == 0) {
        /* Different blocks: start both walks' first misses together. */
        __builtin_prefetch(f->data + f->boff[bj]);
        __builtin_prefetch(count_rec(f, bj, (unsigned)g));
        *ri = idx_fm_block_rank(f, i, c);
        *rj = idx_fm_block_rank(f, j, c);
        return;
    }
    uint64_t base = count_before(f, bi, (unsigned)g);
    const unsigned char *body = f->data + f->boff[bi];
    body_view bv;
    body_parse(body, &bv);
    int k = local_index(bv.present, (unsigned)g);
    if (k < 0) {
        *ri = *rj = base;
        return;
    }
    if (bv.nloc == 1) {
        *ri = base + oi;
        *rj = base + oj;
        return;
    }
    uint32_t cw = bv.code[k], len = cw >> 24;
    cw &= 0xFFFFFFu;
    uint32_t pi = oi, pj = oj;
    for (unsigned d = 0; d < len && d < bv.maxlen; d++) {
        int64_t v = (int64_t)(cw >> (len - d)) + bv.nodeoff[d];
        if (v < 0 || v >= (int64_t)bv.nint) {
            pi = pj = 0;
            break;
        }
        unsigned bit = (cw >> (len - 1 - d)) & 1u;
        __builtin_prefetch(bv.lines + (size_t)((bv.noff[v] + pj) / LINE_BITS) * 64);
        pi = node_step(&bv, (unsigned)v, pi, bit, 0, NULL);
        pj = node_step(&bv, (unsigned)v, pj, bit, 0, NULL);
    }
    *ri = base + pi;
    *rj = base + pj;
}

uint64_t idx_fm_block_inverse_select(const idx_fm_block *f, uint64_t i, unsigned char *c) {
    if (i >= f->n) i = f->n - 1;
    uint64_t b = i >> f->lb;
    uint32_t j = (uint32_t)(i & ((UINT64_C(1) << f->lb) - 1));
    const unsigned char *body = f->data + f->boff[b];
    body_view bv;
    body_parse(body, &bv);
    unsigned g;
    uint32_t pos = j;
    if (bv.nloc == 1) {
        g = bv.sym[0];
    } else {
        uint32_t p = 0;
        unsigned d = 0;
        g = bv.sym[0];
        for (;;) {
            int64_t v = (int64_t)p + bv.nodeoff[d];
            if (v < 0 || v >= (int64_t)bv.nint) { /* only on damaged data */
                pos = 0;
                break;
            }
            unsigned bit;
            pos = node_step(&bv, (unsigned)v, pos, 0, 1, &bit);
            p = 2 * p + bit;
            d++;
            if (d > bv.maxlen) {
                pos = 0;
                break;
            }
            if (p < bv.lim[d]) {
                int64_t ci = (int64_t)p + bv.leafoff[d];
                if (ci >= 0 && ci < (int64_t)bv.nloc) g = bv.sym[ci];
                else pos = 0;
                break;
            }
        }
    }
    if (g >= f->sigma) g = 0;
    *c = f->byte[g];
    return count_before(f, b, g) + pos;
}

/* ---- building ---------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    uint64_t len, cap;
} dynbuf;

static unsigned char *dyn_grow(dynbuf *d, uint64_t add) {
    if (d->len + add > d->cap) {
        uint64_t cap = d->cap + d->cap / 2 + add + 4096;
        unsigned char *q = realloc(d->p, cap);
        if (!q) return NULL;
        d->p = q;
        d->cap = cap;
    }
    unsigned char *r = d->p + d->len;
    memset(r, 0, add);
    d->len += add;
    return r;
}

typedef struct {
    uint64_t w;
    unsigned id;
} hitem;

static int hitem_cmp(const void *a, const void *b) {
    const hitem *x = a, *y = b;
    if (x->w != y->w) return x->w < y->w ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Huffman code lengths of freq[0..m) (m >= 2, all > 0) into len[]. */
static unsigned huffman_lengths(const uint64_t *freq, unsigned m, unsigned *len) {
    hitem leaves[256];
    uint64_t w[512];
    unsigned parent[512], depth[512];
    for (unsigned k = 0; k < m; k++) {
        leaves[k].w = freq[k];
        leaves[k].id = k;
    }
    qsort(leaves, m, sizeof *leaves, hitem_cmp);
    unsigned a = 0, q = m, qend = m; /* leaf queue position; internal queue [q, qend) */
    for (unsigned k = 0; k < m; k++) w[k] = freq[k];
    for (unsigned it = 0; it + 1 < m; it++) {
        unsigned pick[2];
        for (int t = 0; t < 2; t++) {
            if (a < m && (q == qend || leaves[a].w <= w[q])) pick[t] = leaves[a++].id;
            else pick[t] = q++;
        }
        w[qend] = w[pick[0]] + w[pick[1]];
        parent[pick[0]] = parent[pick[1]] = qend;
        qend++;
    }
    unsigned root = qend - 1, maxlen = 0;
    depth[root] = 0;
    for (unsigned v = root; v-- > 0;) depth[v] = depth[parent[v]] + 1;
    for (unsigned k = 0; k < m; k++) {
        len[k] = depth[k];
        if (len[k] > maxlen) maxlen = len[k];
    }
    return maxlen;
}

/* Canonical code tables from the lengths of the nloc local symbols (dense
 * codes gl[k]). Fills the header arrays; returns 0 if the lengths are not a
 * complete prefix code of at most MAXLEN bits. */
typedef struct {
    unsigned maxlen;
    int32_t nodeoff[MAXLEN + 1];
    uint32_t lim[MAXLEN + 1];
    int32_t leafoff[MAXLEN + 1];
    uint32_t code[256];
    unsigned char sym[256];
} canon;

static int canon_make(const unsigned *len, const unsigned char *gl, unsigned nloc, canon *cn) {
    memset(cn, 0, sizeof *cn);
    if (nloc == 1) {
        if (len[0] != 0) return 0;
        cn->lim[0] = 1;
        cn->sym[0] = gl[0];
        return 1;
    }
    unsigned numl[MAXLEN + 1] = {0}, maxlen = 0;
    for (unsigned k = 0; k < nloc; k++) {
        if (len[k] == 0 || len[k] > MAXLEN) return 0;
        numl[len[k]]++;
        if (len[k] > maxlen) maxlen = len[k];
    }
    cn->maxlen = maxlen;
    uint64_t code = 0, idx = 0, base = 0;
    uint64_t fc[MAXLEN + 1], first[MAXLEN + 1];
    for (unsigned l = 0; l <= maxlen; l++) {
        fc[l] = code;
        first[l] = idx;
        if (code + numl[l] > (UINT64_C(1) << l)) return 0; /* over-full */
        uint64_t nint = (UINT64_C(1) << l) - code - numl[l];
        cn->nodeoff[l] = (int32_t)((int64_t)base - (int64_t)code - (int64_t)numl[l]);
        cn->lim[l] = (uint32_t)(code + numl[l]);
        cn->leafoff[l] = (int32_t)((int64_t)idx - (int64_t)code);
        base += nint;
        idx += numl[l];
        code = (code + numl[l]) << 1;
    }
    if (code != (UINT64_C(1) << (maxlen + 1)) || base != nloc - 1) return 0; /* not complete */
    uint64_t next[MAXLEN + 1];
    memcpy(next, first, sizeof next);
    for (unsigned k = 0; k < nloc; k++) {
        uint64_t ci = next[len[k]]++;
        cn->code[k] = (uint32_t)(len[k] << 24 | (uint32_t)(fc[len[k]] + ci - first[len[k]]));
        cn->sym[ci] = gl[k];
    }
    return 1;
}

/* Appends the body of block s[0..m) (dense codes) to d. */
static idx_err build_body(const unsigned char *s, uint32_t m, dynbuf *d) {
    uint64_t freq[256] = {0};
    for (uint32_t i = 0; i < m; i++) freq[s[i]]++;
    unsigned char gl[256];
    int loc[256];
    uint64_t fl[256];
    uint64_t present[4] = {0};
    unsigned nloc = 0;
    for (unsigned g = 0; g < 256; g++) {
        loc[g] = -1;
        if (freq[g]) {
            loc[g] = (int)nloc;
            gl[nloc] = (unsigned char)g;
            fl[nloc++] = freq[g];
            present[g >> 6] |= UINT64_C(1) << (g & 63);
        }
    }
    unsigned len[256] = {0};
    if (nloc > 1 && huffman_lengths(fl, nloc, len) > MAXLEN)
        return idx_fail(IDX_ERR_INTERNAL, "Huffman code longer than %u bits", MAXLEN);
    canon cn;
    if (!canon_make(len, gl, nloc, &cn)) return idx_fail(IDX_ERR_INTERNAL, "bad Huffman code");
    unsigned nint = nloc - 1, maxlen = cn.maxlen;
    uint32_t noff[256] = {0};
    uint64_t size[256] = {0};
    for (unsigned k = 0; k < nloc; k++) {
        uint32_t cw = cn.code[k] & 0xFFFFFFu, l = cn.code[k] >> 24;
        for (unsigned dd = 0; dd < l; dd++) size[(cw >> (l - dd)) + cn.nodeoff[dd]] += fl[k];
    }
    for (unsigned v = 0; v < nint; v++) noff[v + 1] = noff[v] + (uint32_t)size[v];
    uint32_t total = noff[nint];
    uint32_t nlines = nloc > 1 ? total / LINE_BITS + 1 : 0;
    uint64_t hdr = header_bytes(nloc, maxlen);
    uint64_t off = d->len;
    if (!dyn_grow(d, hdr + (uint64_t)nlines * 64)) return idx_fail(IDX_ERR_NOMEM, "out of memory building rank blocks");
    unsigned char *b = d->p + off;
    uint16_t nl = (uint16_t)nloc;
    memcpy(b, &nl, 2);
    b[2] = (unsigned char)maxlen;
    memcpy(b + 4, &nlines, 4);
    memcpy(b + 8, present, 32);
    unsigned char *q = b + 40;
    memcpy(q, cn.nodeoff, 4 * (maxlen + 1));
    q += 4 * (maxlen + 1);
    memcpy(q, cn.lim, 4 * (maxlen + 1));
    q += 4 * (maxlen + 1);
    memcpy(q, cn.leafoff, 4 * (maxlen + 1));
    q += 4 * (maxlen + 1);
    memcpy(q, cn.code, 4 * nloc);
    q += 4 * nloc;
    memcpy(q, cn.sym, nloc);
    q += nloc;
    q = b + (((uint64_t)(q - b) + 3) & ~UINT64_C(3));
    memcpy(q, noff, 4 * (uint64_t)nloc);
    unsigned char *nones_p = q + 4 * (uint64_t)nloc;
    unsigned char *lines = b + hdr;
    if (nloc > 1) {
        uint32_t cur[256];
        memcpy(cur, noff, sizeof cur);
        for (uint32_t i = 0; i < m; i++) {
            unsigned k = (unsigned)loc[s[i]];
            uint32_t cw = cn.code[k] & 0xFFFFFFu, l = cn.code[k] >> 24;
            for (unsigned dd = 0; dd < l; dd++) {
                unsigned v = (unsigned)((int32_t)(cw >> (l - dd)) + cn.nodeoff[dd]);
                uint32_t pos = cur[v]++;
                if ((cw >> (l - 1 - dd)) & 1u) {
                    uint32_t lb = 16 + pos % LINE_BITS;
                    lines[(size_t)(pos / LINE_BITS) * 64 + lb / 8] |= (unsigned char)(1u << (lb % 8));
                }
            }
        }
        uint32_t ones = 0;
        for (uint32_t L = 0; L < nlines; L++) {
            uint64_t *w = (uint64_t *)(void *)(lines + (size_t)L * 64);
            w[0] |= ones & 0xFFFFu;
            ones += (uint32_t)__builtin_popcountll(w[0] >> 16);
            for (int k = 1; k < 8; k++) ones += (uint32_t)__builtin_popcountll(w[k]);
        }
        for (unsigned v = 0; v < nint; v++) {
            unsigned bit;
            uint16_t r = (uint16_t)line_rank(lines, noff[v], &bit);
            memcpy(nones_p + 2 * v, &r, 2);
        }
    }
    return IDX_OK;
}

typedef struct {
    uint64_t n, nblocks, nsuper, ngroups;
    unsigned lb, sigma;
    uint64_t l0_bytes, l1_bytes, bo_bytes, prefix;
} geom;

static void geom_make(geom *g, uint64_t n, unsigned lb, unsigned sigma) {
    g->n = n;
    g->lb = lb;
    g->sigma = sigma;
    g->nblocks = (n + (UINT64_C(1) << lb) - 1) >> lb;
    g->ngroups = g->nblocks / GROUP + 1;
    g->nsuper = ((g->nblocks << lb) >> 32) + 1;
    g->l0_bytes = align64(g->nsuper * sigma * 8);
    g->l1_bytes = align64(g->ngroups * sigma * 16);
    g->bo_bytes = align64((g->nblocks + 1) * 8);
    g->prefix = 64 + g->l0_bytes + g->l1_bytes + g->bo_bytes;
}

/* Writes the counts before block b from running totals run[] (counts before
 * block b) and prev[] (counts before block b - 1; unused for b = 0). */
static void put_counts(const geom *gm, unsigned char *prefix, uint64_t b, const uint64_t *run, const uint64_t *prev) {
    uint64_t *l0 = (uint64_t *)(void *)(prefix + 64);
    unsigned char *l1 = prefix + 64 + gm->l0_bytes;
    uint64_t start = b << gm->lb, sb = start >> 32, G = b / GROUP, k = b - G * GROUP;
    if ((start & UINT64_C(0xFFFFFFFF)) == 0)
        for (unsigned g = 0; g < gm->sigma; g++) l0[sb * gm->sigma + g] = run[g];
    for (unsigned g = 0; g < gm->sigma; g++) {
        unsigned char *r = l1 + (G * gm->sigma + g) * 16;
        if (k == 0) {
            uint32_t base = (uint32_t)(run[g] - l0[sb * gm->sigma + g]);
            memcpy(r, &base, 4);
        } else {
            uint16_t c = (uint16_t)(run[g] - prev[g]);
            memcpy(r + 4 + 2 * (k - 1), &c, 2);
        }
    }
}

idx_err idx_fm_block_build(const unsigned char *bwt, uint64_t n, unsigned lb, unsigned char **out,
                           uint64_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (n == 0) return idx_fail(IDX_ERR_INVALID, "empty BWT");
    if (lb < IDX_FM_BLOCK_LB_MIN || lb > IDX_FM_BLOCK_LB_MAX) return idx_fail(IDX_ERR_INVALID, "bad block size");
    uint64_t cnt[256] = {0};
    for (uint64_t i = 0; i < n; i++) cnt[bwt[i]]++;
    unsigned char dense[256];
    unsigned sigma = 0;
    for (unsigned c = 0; c < 256; c++)
        if (cnt[c]) dense[c] = (unsigned char)sigma++;
    geom gm;
    geom_make(&gm, n, lb, sigma);
    dynbuf d = {0};
    if (!dyn_grow(&d, gm.prefix)) return idx_fail(IDX_ERR_NOMEM, "out of memory building rank blocks");
    d.len = gm.prefix;
    uint64_t B = UINT64_C(1) << lb, run[256] = {0}, prev[256] = {0};
    unsigned char *tmp = malloc(B);
    if (!tmp) {
        free(d.p);
        return idx_fail(IDX_ERR_NOMEM, "out of memory building rank blocks");
    }
    idx_err e = IDX_OK;
    uint64_t *boff = malloc((gm.nblocks + 1) * 8);
    if (!boff) e = idx_fail(IDX_ERR_NOMEM, "out of memory building rank blocks");
    for (uint64_t b = 0; b < gm.nblocks && e == IDX_OK; b++) {
        put_counts(&gm, d.p, b, run, prev);
        memcpy(prev, run, sizeof prev);
        uint64_t s = b << lb, m = n - s < B ? n - s : B;
        for (uint64_t i = 0; i < m; i++) {
            tmp[i] = dense[bwt[s + i]];
            run[tmp[i]]++;
        }
        boff[b] = d.len - gm.prefix;
        e = build_body(tmp, (uint32_t)m, &d);
    }
    free(tmp);
    if (e != IDX_OK) {
        free(boff);
        free(d.p);
        return e;
    }
    put_counts(&gm, d.p, gm.nblocks, run, prev);
    boff[gm.nblocks] = d.len - gm.prefix;
    memcpy(d.p + 64 + gm.l0_bytes + gm.l1_bytes, boff, (gm.nblocks + 1) * 8);
    free(boff);
    uint64_t h[8] = {n, lb, sigma, gm.nblocks, gm.nsuper, d.len - gm.prefix, BLOCK_FORMAT, 0};
    memcpy(d.p, h, 64);
    *out = d.p;
    *out_len = d.len;
    return IDX_OK;
}

/* ---- loading and verification ----------------------------------------------- */

static idx_err bad(const char *path, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section \"block\": %s", path, what);
}

/* Structure of one block body of `size` bytes: sizes, tables recomputed from
 * the code lengths, node offsets; so that queries stay inside the body. */
static int body_check(const unsigned char *b, uint64_t size, unsigned sigma) {
    if (size < 64) return 0;
    body_view bv;
    uint16_t nl;
    memcpy(&nl, b, 2);
    if (nl == 0 || nl > sigma || b[2] > MAXLEN || b[3] != 0) return 0;
    if ((nl == 1) != (b[2] == 0)) return 0;
    if (header_bytes(nl, b[2]) > size) return 0;
    body_parse(b, &bv);
    if (bv.hdr + (uint64_t)bv.nlines * 64 != size) return 0;
    unsigned pc = 0;
    for (unsigned i = 0; i < 4; i++) pc += (unsigned)__builtin_popcountll(bv.present[i]);
    if (pc != bv.nloc) return 0;
    unsigned char gl[256];
    unsigned len[256], k = 0;
    for (unsigned g = 0; g < 256; g++)
        if ((bv.present[g >> 6] >> (g & 63)) & 1) {
            if (g >= sigma) return 0;
            gl[k] = (unsigned char)g;
            len[k] = bv.code[k] >> 24;
            k++;
        }
    canon cn;
    if (!canon_make(len, gl, bv.nloc, &cn) || cn.maxlen != bv.maxlen) return 0;
    unsigned ml = bv.maxlen + 1;
    if (memcmp(cn.nodeoff, bv.nodeoff, 4 * ml) || memcmp(cn.lim, bv.lim, 4 * ml) ||
        memcmp(cn.leafoff, bv.leafoff, 4 * ml) || memcmp(cn.code, bv.code, 4 * (uint64_t)bv.nloc) ||
        memcmp(cn.sym, bv.sym, bv.nloc))
        return 0;
    if (bv.noff[0] != 0) return 0;
    for (unsigned v = 0; v < bv.nint; v++)
        if (bv.noff[v + 1] < bv.noff[v]) return 0;
    if (bv.nloc > 1 && bv.nlines != bv.noff[bv.nint] / LINE_BITS + 1) return 0;
    if (bv.nloc == 1 && bv.nlines != 0) return 0;
    return 1;
}

idx_err idx_fm_block_load(const void *data, uint64_t size, uint64_t n, const uint64_t counts[256],
                          idx_fm_block *f, const char *path) {
    memset(f, 0, sizeof *f);
    if (size < 64) return bad(path, "too short");
    const unsigned char *p = data;
    uint64_t h[8];
    memcpy(h, p, 64);
    unsigned sigma = 0;
    for (unsigned c = 0; c < 256; c++) {
        f->code[c] = -1;
        if (counts[c]) {
            f->code[c] = (int16_t)sigma;
            f->byte[sigma++] = (unsigned char)c;
        }
    }
    if (h[6] != BLOCK_FORMAT)
        return idx_fail(IDX_ERR_VERSION, "%s: section \"block\": format %llu, this program reads %u: rebuild the index",
                        path, (unsigned long long)h[6], BLOCK_FORMAT);
    if (h[0] != n || n == 0 || h[1] < IDX_FM_BLOCK_LB_MIN || h[1] > IDX_FM_BLOCK_LB_MAX || h[2] != sigma || h[7])
        return bad(path, "bad header");
    geom gm;
    geom_make(&gm, n, (unsigned)h[1], sigma);
    if (h[3] != gm.nblocks || h[4] != gm.nsuper) return bad(path, "bad block count");
    if (gm.prefix > size || h[5] != size - gm.prefix) return bad(path, "wrong size");
    f->n = n;
    f->lb = gm.lb;
    f->sigma = sigma;
    f->nblocks = gm.nblocks;
    f->nsuper = gm.nsuper;
    f->data_bytes = h[5];
    f->l0 = (const uint64_t *)(const void *)(p + 64);
    f->l1 = p + 64 + gm.l0_bytes;
    f->boff = (const uint64_t *)(const void *)(p + 64 + gm.l0_bytes + gm.l1_bytes);
    f->data = p + gm.prefix;
    if (f->boff[0] != 0 || f->boff[gm.nblocks] != f->data_bytes) return bad(path, "bad block offsets");
    uint64_t B = UINT64_C(1) << gm.lb;
    for (uint64_t b = 0; b < gm.nblocks; b++) {
        uint64_t o = f->boff[b], e = f->boff[b + 1];
        if (e <= o || e > f->data_bytes || (o & 63) || (e & 63)) return bad(path, "bad block offsets");
        if (!body_check(f->data + o, e - o, sigma)) return bad(path, "bad block header");
        /* nodes must not claim more bits than the block has symbols at each level */
        body_view bv;
        body_parse(f->data + o, &bv);
        uint64_t m = n - (b << gm.lb) < B ? n - (b << gm.lb) : B;
        if (bv.nloc > 1 && (uint64_t)bv.noff[1] != m) return bad(path, "bad block header");
    }
    /* The last count row holds the totals. */
    for (unsigned g = 0; g < sigma; g++)
        if (count_before(f, gm.nblocks, g) != counts[f->byte[g]]) return bad(path, "counts disagree with meta");
    return IDX_OK;
}

idx_err idx_fm_block_verify(const idx_fm_block *f, const char *path) {
    geom gm;
    geom_make(&gm, f->n, f->lb, f->sigma);
    const unsigned char *base = (const unsigned char *)f->l0 - 64;
    unsigned char *pre = calloc(1, gm.prefix);
    uint64_t B = UINT64_C(1) << f->lb;
    unsigned char *sym = malloc(B);
    dynbuf d = {0};
    uint64_t run[256] = {0}, prev[256] = {0};
    idx_err e = IDX_OK;
    if (!pre || !sym) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory verifying %s", path);
        goto out;
    }
    uint64_t *boff = (uint64_t *)(void *)(pre + 64 + gm.l0_bytes + gm.l1_bytes);
    for (uint64_t b = 0; b < gm.nblocks; b++) {
        put_counts(&gm, pre, b, run, prev);
        memcpy(prev, run, sizeof prev);
        boff[b] = f->boff[b];
        uint64_t s = b << f->lb, m = f->n - s < B ? f->n - s : B;
        const unsigned char *body = f->data + f->boff[b];
        body_view bv;
        body_parse(body, &bv);
        if (bv.nloc == 1) {
            memset(sym, bv.sym[0], m);
        } else {
            uint32_t cur[256];
            memcpy(cur, bv.noff, 4 * (uint64_t)bv.nloc);
            for (uint64_t i = 0; i < m; i++) {
                uint32_t pfx = 0;
                unsigned dd = 0;
                for (;;) {
                    int64_t v = (int64_t)pfx + bv.nodeoff[dd];
                    if (v < 0 || v >= (int64_t)bv.nint || cur[v] >= bv.noff[v + 1]) {
                        e = bad(path, "block bits inconsistent with its tree");
                        goto out;
                    }
                    uint32_t q = cur[v]++;
                    uint32_t lbit = 16 + q % LINE_BITS;
                    unsigned bit = (bv.lines[(size_t)(q / LINE_BITS) * 64 + lbit / 8] >> (lbit % 8)) & 1u;
                    pfx = 2 * pfx + bit;
                    dd++;
                    if (dd > bv.maxlen) {
                        e = bad(path, "block bits inconsistent with its tree");
                        goto out;
                    }
                    if (pfx < bv.lim[dd]) {
                        sym[i] = bv.sym[pfx + bv.leafoff[dd]];
                        break;
                    }
                }
            }
        }
        for (uint64_t i = 0; i < m; i++) run[sym[i]]++;
        d.len = 0;
        if ((e = build_body(sym, (uint32_t)m, &d)) != IDX_OK) goto out;
        if (d.len != f->boff[b + 1] - f->boff[b] || memcmp(d.p, body, d.len) != 0) {
            e = bad(path, "a block differs from its rebuilt contents");
            goto out;
        }
    }
    put_counts(&gm, pre, gm.nblocks, run, prev);
    boff[gm.nblocks] = f->data_bytes;
    uint64_t h[8] = {f->n, f->lb, f->sigma, gm.nblocks, gm.nsuper, f->data_bytes, BLOCK_FORMAT, 0};
    memcpy(pre, h, 64);
    if (memcmp(pre, base, gm.prefix) != 0) e = bad(path, "counts or block offsets differ from the blocks");
out:
    free(pre);
    free(sym);
    free(d.p);
    return e;
}
