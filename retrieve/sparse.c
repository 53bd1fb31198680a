/*
 * sparse.c -- the BM25 inverted index: the in-memory segment builder, the
 * segment file format (writer and validating reader), and top-k search by
 * block-max MaxScore with an exhaustive reference path.
 *
 * Segment file (common checksummed section format, magic "IDXSPSG1",
 * version 1; all integers little-endian, as the host writes them):
 *   "meta"      sparse_meta: ndocs, nterms, nblocks, total_len (sum of
 *               document lengths), npostings, postings_bytes (u64 each)
 *   "analyzer"  the analyser configuration as JSON (idx_text_config_to_json)
 *   "doclen"    u32[ndocs]: exact document length in analysed terms
 *   "termoff"   u64[nterms + 1]: term t is terms[termoff[t] .. termoff[t+1])
 *   "terms"     term bytes, terms sorted by memcmp order (shorter first on ties)
 *   "terminfo"  sparse_terminfo[nterms] (24 bytes): first_block (u64), nblocks,
 *               df, max_tf (u32), min_ratio (f32) -- the list's bound inputs
 *   "blocks"    sparse_block[nblocks] (32 bytes): last_doc, max_tf, min_len (u32),
 *               min_ratio (f32: smallest dl/tf, rounded down), off (u64 into
 *               "postings"), count, doc_bits, tf_bits (u8), 5 zero bytes
 *   "postings"  per block: count values (doc - previous doc - 1) packed LSB-first
 *               in doc_bits bits each, padded to a byte, then count values
 *               (tf - 1) in tf_bits bits, padded to a byte; the previous doc of
 *               a term's first posting is -1. SPARSE_PAD zero bytes follow.
 * A term's blocks are consecutive; every block but the last holds 128
 * postings. A block's BM25 upper bound: the tf part is
 * tf/(tf + A + B dl) = 1/(1 + A/tf + B dl/tf) with A, B >= 0 fixed per query,
 * so 1/(1 + A/max_tf + B min_ratio) bounds every posting of the block, for
 * any k1 and b (with Lucene's lossy norms, (max_tf, min_len) is used).
 *
 * Search (idx_sparse_search): one shared top-k heap across segments. Per
 * segment, MaxScore over the query terms sorted by their upper bound: the
 * lists whose bounds together cannot beat the heap's threshold are
 * "non-essential" and only probed for candidates found in the essential
 * lists; before a probe decodes a block, the block's own bound is checked
 * (block-max). A candidate's final score is summed in query-term order, the
 * same order the exhaustive term-at-a-time path adds them, so both paths give
 * bit-identical scores; docs are visited in increasing order and a doc enters
 * the heap only if it beats the threshold strictly, so ties go to the
 * earlier document in both paths.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparse_internal.h"

/* ------------------------------------------------------------------------ */
/* Builder                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t hash;
    uint32_t off, len; /* in termbuf */
    uint32_t last_doc; /* UINT32_MAX = none yet */
    uint32_t n, cap;   /* postings (pairs) */
    uint32_t *p;       /* doc, tf interleaved */
} bterm;

struct idx_sparse_builder {
    idx_text_config cfg;
    idx_text_analyzer *an;
    uint32_t *slots; /* term index + 1, 0 = empty */
    size_t nslots;
    bterm *terms;
    size_t nterms, capterms;
    idx_buf termbuf;
    uint32_t *doclen;
    size_t ndocs, capdocs;
    uint64_t total_len, mem, npostings;
    uint32_t cur_len;
    idx_err cb_err;
};

idx_err idx_sparse_builder_new(const idx_text_config *cfg, idx_sparse_builder **out) {
    idx_sparse_builder *b = calloc(1, sizeof *b);
    if (!b) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    b->cfg = *cfg;
    idx_err e = idx_text_analyzer_new(cfg, &b->an);
    if (e) { free(b); return e; }
    b->nslots = 1 << 14;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    if (!b->slots) { idx_sparse_builder_free(b); return idx_fail(IDX_ERR_NOMEM, "out of memory"); }
    *out = b;
    return IDX_OK;
}

void idx_sparse_builder_free(idx_sparse_builder *b) {
    if (!b) return;
    idx_text_analyzer_free(b->an);
    for (size_t i = 0; i < b->nterms; i++) free(b->terms[i].p);
    free(b->terms);
    free(b->slots);
    idx_buf_free(&b->termbuf);
    free(b->doclen);
    free(b);
}

uint64_t idx_sparse_builder_count(const idx_sparse_builder *b) { return b->ndocs; }
uint64_t idx_sparse_builder_memory(const idx_sparse_builder *b) {
    return b->mem + b->termbuf.len + b->nterms * sizeof(bterm) + b->nslots * 4;
}

static idx_err builder_grow_slots(idx_sparse_builder *b) {
    size_t n = b->nslots * 2;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->nslots; i++) {
        if (!b->slots[i]) continue;
        size_t j = b->terms[b->slots[i] - 1].hash & (n - 1);
        while (s[j]) j = (j + 1) & (n - 1);
        s[j] = b->slots[i];
    }
    free(b->slots);
    b->slots = s;
    b->nslots = n;
    return IDX_OK;
}

static int builder_term(void *ud, const char *w, size_t len, size_t start, size_t end, uint32_t pos) {
    (void)start; (void)end; (void)pos;
    idx_sparse_builder *b = ud;
    uint64_t h = idx_hash64(w, len, 0x7e57);
    size_t mask = b->nslots - 1, j = h & mask;
    bterm *t = NULL;
    while (b->slots[j]) {
        bterm *c = &b->terms[b->slots[j] - 1];
        if (c->hash == h && c->len == len && !memcmp(b->termbuf.data + c->off, w, len)) { t = c; break; }
        j = (j + 1) & mask;
    }
    if (!t) {
        if (b->nterms >= UINT32_MAX - 1 || b->termbuf.len + len > UINT32_MAX) {
            b->cb_err = idx_fail(IDX_ERR_LIMIT, "too many distinct terms for one segment");
            return 1;
        }
        if (b->nterms == b->capterms) {
            size_t nc = b->capterms ? b->capterms * 2 : 1024;
            if ((b->cb_err = idx_xrealloc(&b->terms, nc * sizeof *b->terms))) return 1;
            b->capterms = nc;
        }
        size_t off = b->termbuf.len;
        if ((b->cb_err = idx_buf_append(&b->termbuf, w, len))) return 1;
        t = &b->terms[b->nterms];
        *t = (bterm){h, (uint32_t)off, (uint32_t)len, UINT32_MAX, 0, 0, NULL};
        b->slots[j] = (uint32_t)++b->nterms;
        if (b->nterms * 2 > b->nslots && (b->cb_err = builder_grow_slots(b))) return 1;
    }
    uint32_t doc = (uint32_t)b->ndocs;
    if (t->last_doc == doc) {
        t->p[2 * (t->n - 1) + 1]++;
    } else {
        if (t->n == t->cap) {
            uint32_t nc = t->cap ? t->cap * 2 : 2;
            if ((b->cb_err = idx_xrealloc(&t->p, (size_t)nc * 2 * sizeof(uint32_t)))) return 1;
            b->mem += (uint64_t)(nc - t->cap) * 8;
            t->cap = nc;
        }
        t->p[2 * t->n] = doc;
        t->p[2 * t->n + 1] = 1;
        t->n++;
        t->last_doc = doc;
        b->npostings++;
    }
    b->cur_len++;
    return 0;
}

idx_err idx_sparse_builder_add(idx_sparse_builder *b, const char *title, size_t title_len,
                               const char *text, size_t text_len) {
    if (b->ndocs >= UINT32_MAX - 1)
        return idx_fail(IDX_ERR_LIMIT, "a segment holds at most %u documents", UINT32_MAX - 2);
    if (b->ndocs == b->capdocs) {
        size_t nc = b->capdocs ? b->capdocs * 2 : 1024;
        idx_err e = idx_xrealloc(&b->doclen, nc * sizeof *b->doclen);
        if (e) return e;
        b->capdocs = nc;
    }
    b->cur_len = 0;
    b->cb_err = IDX_OK;
    idx_err e = IDX_OK;
    if (title_len) e = idx_text_analyze(b->an, title, title_len, builder_term, b);
    if (!e && text_len) e = idx_text_analyze(b->an, text, text_len, builder_term, b);
    if (e == IDX_ERR_CANCELLED && b->cb_err) e = b->cb_err;
    if (e) return e;
    b->doclen[b->ndocs++] = b->cur_len;
    b->total_len += b->cur_len;
    return IDX_OK;
}

static const char *sort_base;
static const bterm *sort_terms;
static int cmp_term_idx(const void *a, const void *b) {
    const bterm *x = &sort_terms[*(const uint32_t *)a], *y = &sort_terms[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(sort_base + x->off, sort_base + y->off, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static unsigned bits_for(uint32_t v) { return v ? 32u - (unsigned)__builtin_clz(v) : 0u; }

/* Packs n values of `bits` bits LSB-first, appending ceil(n*bits/8) bytes. */
static idx_err pack_bits(idx_buf *out, const uint32_t *v, size_t n, unsigned bits) {
    if (!bits) return IDX_OK;
    size_t nbytes = (n * bits + 7) / 8;
    idx_err e = idx_buf_reserve(out, nbytes);
    if (e) return e;
    uint8_t *p = (uint8_t *)out->data + out->len;
    memset(p, 0, nbytes);
    size_t bitpos = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        for (unsigned k = 0; k < bits;) {
            size_t byte = bitpos >> 3;
            unsigned sh = bitpos & 7, take = 8 - sh;
            if (take > bits - k) take = bits - k;
            p[byte] |= (uint8_t)(((x >> k) & ((1u << take) - 1)) << sh);
            k += take;
            bitpos += take;
        }
    }
    out->len += nbytes;
    return IDX_OK;
}

/* Reads n values of `bits` bits; p must have 8 readable bytes past the data. */
static void unpack_bits(const uint8_t *p, size_t n, unsigned bits, uint32_t *out) {
    if (!bits) { memset(out, 0, n * sizeof *out); return; }
    uint64_t mask = (bits == 32) ? 0xffffffffull : ((1ull << bits) - 1);
    size_t bitpos = 0;
    for (size_t i = 0; i < n; i++, bitpos += bits) {
        uint64_t w;
        memcpy(&w, p + (bitpos >> 3), 8);
        out[i] = (uint32_t)((w >> (bitpos & 7)) & mask);
    }
}

static idx_err write_segment(idx_sparse_builder *b, const char *path) {
    uint32_t *order = NULL;
    idx_buf post = {0}, blocks = {0}, tinfo = {0}, toff = {0}, tbytes = {0};
    idx_file_writer *w = NULL;
    json_t *aj = NULL;
    char *ajs = NULL;
    idx_err e = idx_xmalloc((b->nterms ? b->nterms : 1) * sizeof *order, &order);
    if (e) goto out;
    for (size_t i = 0; i < b->nterms; i++) order[i] = (uint32_t)i;
    sort_base = b->termbuf.data;
    sort_terms = b->terms;
    qsort(order, b->nterms, sizeof *order, cmp_term_idx);
    uint64_t nblocks = 0, zero = 0;
    if ((e = idx_buf_append(&toff, &zero, 8))) goto out;
    uint32_t gaps[IDX_SPARSE_BLOCK], tfs[IDX_SPARSE_BLOCK];
    for (size_t oi = 0; oi < b->nterms; oi++) {
        bterm *t = &b->terms[order[oi]];
        if ((e = idx_buf_append(&tbytes, b->termbuf.data + t->off, t->len))) goto out;
        uint64_t end = tbytes.len;
        if ((e = idx_buf_append(&toff, &end, 8))) goto out;
        sparse_terminfo ti = {nblocks, 0, t->n, 0, INFINITY};
        int64_t prev = -1;
        for (uint32_t i = 0; i < t->n; i += IDX_SPARSE_BLOCK) {
            uint32_t cnt = t->n - i < IDX_SPARSE_BLOCK ? t->n - i : IDX_SPARSE_BLOCK;
            sparse_block bl = {0};
            bl.count = (uint8_t)cnt;
            bl.min_len = UINT32_MAX;
            double minr = INFINITY;
            uint32_t maxgap = 0, maxtf = 0;
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t d = t->p[2 * (i + j)], tf = t->p[2 * (i + j) + 1];
                gaps[j] = (uint32_t)((int64_t)d - prev - 1);
                prev = d;
                tfs[j] = tf - 1;
                if (gaps[j] > maxgap) maxgap = gaps[j];
                if (tf > maxtf) maxtf = tf;
                if (b->doclen[d] < bl.min_len) bl.min_len = b->doclen[d];
                double ratio = (double)b->doclen[d] / (double)tf;
                if (ratio < minr) minr = ratio;
            }
            bl.min_ratio = (float)minr;
            if ((double)bl.min_ratio > minr) bl.min_ratio = nextafterf(bl.min_ratio, 0.0f);
            bl.last_doc = (uint32_t)prev;
            bl.max_tf = maxtf;
            bl.doc_bits = (uint8_t)bits_for(maxgap);
            bl.tf_bits = (uint8_t)bits_for(maxtf - 1);
            bl.off = post.len;
            if ((e = pack_bits(&post, gaps, cnt, bl.doc_bits))) goto out;
            if ((e = pack_bits(&post, tfs, cnt, bl.tf_bits))) goto out;
            if ((e = idx_buf_append(&blocks, &bl, sizeof bl))) goto out;
            if (bl.max_tf > ti.max_tf) ti.max_tf = bl.max_tf;
            if (bl.min_ratio < ti.min_ratio) ti.min_ratio = bl.min_ratio;
            ti.nblocks++;
            nblocks++;
        }
        if ((e = idx_buf_append(&tinfo, &ti, sizeof ti))) goto out;
    }
    uint64_t post_bytes = post.len;
    uint8_t pad[SPARSE_PAD] = {0};
    if ((e = idx_buf_append(&post, pad, SPARSE_PAD))) goto out;
    sparse_meta m = {b->ndocs, b->nterms, nblocks, b->total_len, b->npostings, post_bytes};
    if ((e = idx_text_config_to_json(&b->cfg, &aj))) goto out;
    ajs = json_dumps(aj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!ajs) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    if ((e = idx_file_create(path, SPARSE_SEG_MAGIC, SPARSE_SEG_VERSION, &w))) goto out;
    if ((e = idx_file_put_section(w, "meta", &m, sizeof m))) goto out;
    if ((e = idx_file_put_section(w, "analyzer", ajs, strlen(ajs)))) goto out;
    if ((e = idx_file_put_section(w, "doclen", b->doclen, b->ndocs * sizeof *b->doclen))) goto out;
    if ((e = idx_file_put_section(w, "termoff", toff.data, toff.len))) goto out;
    if ((e = idx_file_put_section(w, "terms", tbytes.data, tbytes.len))) goto out;
    if ((e = idx_file_put_section(w, "terminfo", tinfo.data, tinfo.len))) goto out;
    if ((e = idx_file_put_section(w, "blocks", blocks.data, blocks.len))) goto out;
    if ((e = idx_file_put_section(w, "postings", post.data, post.len))) goto out;
    e = idx_file_commit(w);
    w = NULL;
out:
    idx_file_abort(w);
    free(order);
    free(ajs);
    json_decref(aj);
    idx_buf_free(&post);
    idx_buf_free(&blocks);
    idx_buf_free(&tinfo);
    idx_buf_free(&toff);
    idx_buf_free(&tbytes);
    return e;
}

idx_err idx_sparse_builder_write(idx_sparse_builder *b, const char *path) {
    return write_segment(b, path);
}

/* ------------------------------------------------------------------------ */
/* Segment reader                                                             */
/* ------------------------------------------------------------------------ */

static idx_err corrupt(const idx_sparse_segment *s, const char *section, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section %s: %s", idx_file_path(s->f), section, what);
}

static idx_err get_sec(idx_sparse_segment *s, const char *name, uint64_t want, const void **p,
                       uint64_t *size) {
    idx_err e = idx_file_section(s->f, name, p, size);
    if (e) return e;
    if (want != UINT64_MAX && *size != want) return corrupt(s, name, "unexpected size");
    return IDX_OK;
}

idx_err idx_sparse_segment_open(const char *path, unsigned flags, idx_sparse_segment **out) {
    idx_sparse_segment *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = idx_file_open(path, SPARSE_SEG_MAGIC, SPARSE_SEG_VERSION, flags, &s->f);
    if (e) { free(s); return e; }
    const void *p;
    uint64_t sz;
    if ((e = get_sec(s, "meta", sizeof(sparse_meta), &p, &sz))) goto fail;
    memcpy(&s->meta, p, sizeof s->meta);
    sparse_meta *m = &s->meta;
    if (m->ndocs >= UINT32_MAX || m->nterms >= UINT32_MAX || m->nblocks > (UINT64_MAX / 64) ||
        m->postings_bytes > (UINT64_MAX / 2)) {
        e = corrupt(s, "meta", "counts out of range");
        goto fail;
    }
    if ((e = get_sec(s, "analyzer", UINT64_MAX, &p, &sz))) goto fail;
    if (sz > (1 << 20)) { e = corrupt(s, "analyzer", "too large"); goto fail; }
    s->analyzer_json = malloc(sz + 1);
    if (!s->analyzer_json) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
    memcpy(s->analyzer_json, p, sz);
    s->analyzer_json[sz] = 0;
    if ((e = get_sec(s, "doclen", m->ndocs * 4, &p, &sz))) goto fail;
    s->doclen = p;
    if ((e = get_sec(s, "termoff", (m->nterms + 1) * 8, &p, &sz))) goto fail;
    s->termoff = p;
    uint64_t tsz;
    if ((e = get_sec(s, "terms", UINT64_MAX, &p, &tsz))) goto fail;
    s->terms = p;
    if ((e = get_sec(s, "terminfo", m->nterms * sizeof(sparse_terminfo), &p, &sz))) goto fail;
    s->tinfo = p;
    if ((e = get_sec(s, "blocks", m->nblocks * sizeof(sparse_block), &p, &sz))) goto fail;
    s->blocks = p;
    if ((e = get_sec(s, "postings", m->postings_bytes + SPARSE_PAD, &p, &sz))) goto fail;
    s->postings = p;
    s->postings_size = m->postings_bytes;
    /* doc lengths */
    uint64_t tl = 0;
    for (uint64_t d = 0; d < m->ndocs; d++) tl += s->doclen[d];
    if (tl != m->total_len) { e = corrupt(s, "doclen", "lengths do not sum to the total"); goto fail; }
    /* term dictionary */
    if (s->termoff[0] != 0 || s->termoff[m->nterms] != tsz) { e = corrupt(s, "termoff", "bad bounds"); goto fail; }
    for (uint64_t t = 0; t < m->nterms; t++) {
        uint64_t a = s->termoff[t], b = s->termoff[t + 1];
        if (b <= a || b > tsz) { e = corrupt(s, "termoff", "offsets not increasing"); goto fail; }
        if (t > 0) {
            uint64_t pa = s->termoff[t - 1], la = a - pa, lb = b - a;
            int c = memcmp(s->terms + pa, s->terms + a, la < lb ? la : lb);
            if (c > 0 || (c == 0 && la >= lb)) { e = corrupt(s, "terms", "terms not sorted"); goto fail; }
        }
    }
    /* term infos and blocks */
    uint64_t nextb = 0, npost = 0;
    for (uint64_t t = 0; t < m->nterms; t++) {
        const sparse_terminfo *ti = &s->tinfo[t];
        if (ti->first_block != nextb || ti->nblocks == 0 || ti->nblocks > m->nblocks - nextb ||
            ti->df == 0 || ti->df > m->ndocs) {
            e = corrupt(s, "terminfo", "block range or df out of bounds");
            goto fail;
        }
        uint64_t cnt = 0;
        int64_t prev = -1;
        for (uint32_t i = 0; i < ti->nblocks; i++) {
            const sparse_block *bl = &s->blocks[nextb + i];
            if (bl->count == 0 || bl->count > IDX_SPARSE_BLOCK || bl->doc_bits > 32 || bl->tf_bits > 32 ||
                (i + 1 < ti->nblocks && bl->count != IDX_SPARSE_BLOCK) || (int64_t)bl->last_doc <= prev ||
                bl->last_doc >= m->ndocs || bl->max_tf == 0 || !(bl->min_ratio >= 0.0f) || isinf(bl->min_ratio) ||
                (uint64_t)bl->last_doc - (uint64_t)(prev + 1) + 1 < bl->count) {
                e = corrupt(s, "blocks", "bad block header");
                goto fail;
            }
            uint64_t need = ((uint64_t)bl->count * bl->doc_bits + 7) / 8 + ((uint64_t)bl->count * bl->tf_bits + 7) / 8;
            if (bl->off > s->postings_size || need > s->postings_size - bl->off) {
                e = corrupt(s, "blocks", "block outside the postings");
                goto fail;
            }
            if (bl->max_tf > ti->max_tf || bl->min_ratio < ti->min_ratio) {
                e = corrupt(s, "terminfo", "list bound below a block's bound");
                goto fail;
            }
            cnt += bl->count;
            prev = bl->last_doc;
        }
        if (cnt != ti->df) { e = corrupt(s, "terminfo", "df does not match the blocks"); goto fail; }
        nextb += ti->nblocks;
        npost += cnt;
    }
    if (nextb != m->nblocks || npost != m->npostings) { e = corrupt(s, "blocks", "block count mismatch"); goto fail; }
    *out = s;
    return IDX_OK;
fail:
    idx_sparse_segment_close(s);
    return e;
}

void idx_sparse_segment_close(idx_sparse_segment *s) {
    if (!s) return;
    idx_file_close(s->f);
    free(s->analyzer_json);
    free(s);
}

uint64_t idx_sparse_segment_docs(const idx_sparse_segment *s) { return s->meta.ndocs; }
uint64_t idx_sparse_segment_terms(const idx_sparse_segment *s) { return s->meta.nterms; }

static idx_err bad_block(const idx_sparse_segment *s, const sparse_block *b) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: section postings: block at offset %llu does not match its header",
                    idx_file_path(s->f), (unsigned long long)b->off);
}

/* Decodes a block's document ids only (the search reads tfs one at a time). */
static idx_err decode_docs(const idx_sparse_segment *s, const sparse_block *b, uint32_t prev_last, int first,
                           uint32_t *docs) {
    /* unpack and prefix-sum in one pass; d only grows, so one check at the
     * end catches any value past last_doc (and no u64 overflow: 128 gaps < 2^32) */
    const uint8_t *p = s->postings + b->off;
    unsigned bits = b->doc_bits, n = b->count;
    uint64_t mask = bits == 32 ? 0xffffffffull : ((1ull << bits) - 1);
    uint64_t d = first ? 0 : (uint64_t)prev_last + 1;
    size_t bitpos = 0;
    for (unsigned i = 0; i < n; i++, bitpos += bits) {
        uint64_t w;
        memcpy(&w, p + (bitpos >> 3), 8);
        d += (w >> (bitpos & 7)) & mask;
        docs[i] = (uint32_t)d;
        d++;
    }
    if (d != (uint64_t)b->last_doc + 1) return bad_block(s, b);
    return IDX_OK;
}

/* The tf of posting i of a block, clamped to the block's max_tf (a damaged
 * file then gives wrong scores, never an unbounded one). */
static inline uint32_t block_tf(const idx_sparse_segment *s, const sparse_block *b, unsigned i) {
    if (!b->tf_bits) return 1;
    const uint8_t *p = s->postings + b->off + ((size_t)b->count * b->doc_bits + 7) / 8;
    size_t bitpos = (size_t)i * b->tf_bits;
    uint64_t w;
    memcpy(&w, p + (bitpos >> 3), 8);
    uint64_t mask = b->tf_bits == 32 ? 0xffffffffull : ((1ull << b->tf_bits) - 1);
    uint64_t tf = ((w >> (bitpos & 7)) & mask) + 1;
    return tf > b->max_tf ? b->max_tf : (uint32_t)tf;
}

idx_err sparse_decode_block(const idx_sparse_segment *s, const sparse_block *b, uint32_t prev_last,
                            int first, uint32_t *docs, uint32_t *tfs) {
    idx_err e = decode_docs(s, b, prev_last, first, docs);
    if (e) return e;
    unpack_bits(s->postings + b->off + ((size_t)b->count * b->doc_bits + 7) / 8, b->count, b->tf_bits, tfs);
    for (unsigned i = 0; i < b->count; i++) {
        tfs[i] += 1;
        if (tfs[i] == 0 || tfs[i] > b->max_tf) return bad_block(s, b);
    }
    return IDX_OK;
}

idx_err idx_sparse_segment_verify(const idx_sparse_segment *s) {
    uint32_t docs[IDX_SPARSE_BLOCK], tfs[IDX_SPARSE_BLOCK];
    for (uint64_t t = 0; t < s->meta.nterms; t++) {
        const sparse_terminfo *ti = &s->tinfo[t];
        for (uint32_t i = 0; i < ti->nblocks; i++) {
            const sparse_block *b = &s->blocks[ti->first_block + i];
            idx_err e = sparse_decode_block(s, b, i ? b[-1].last_doc : 0, i == 0, docs, tfs);
            if (e) return e;
            for (unsigned j = 0; j < b->count; j++)
                if (s->doclen[docs[j]] < b->min_len || (double)b->min_ratio > (double)s->doclen[docs[j]] / tfs[j])
                    return corrupt(s, "blocks", "min_len or min_ratio larger than a document's");
        }
    }
    return IDX_OK;
}

void sparse_find_term(const idx_sparse_segment *s, const char *w, size_t len, uint64_t *t) {
    uint64_t lo = 0, hi = s->meta.nterms;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t a = s->termoff[mid], l = s->termoff[mid + 1] - a;
        int c = memcmp(s->terms + a, w, l < len ? l : len);
        if (c == 0) c = l < len ? -1 : l > len;
        if (c == 0) { *t = mid; return; }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *t = UINT64_MAX;
}

int sparse_is_deleted(const sparse_segref *r, uint64_t doc) {
    return r->deleted && ((r->deleted[doc >> 3] >> (doc & 7)) & 1);
}

/* ------------------------------------------------------------------------ */
/* Search                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *term;
    size_t len;
    uint32_t qtf;
    double w; /* qtf * idf */
} qterm;

typedef struct {
    const idx_sparse_segment *seg;
    const sparse_block *blk;
    uint32_t nblk, bi;
    int64_t dec; /* decoded block index, -1 none */
    uint32_t pos, doc; /* doc = UINT32_MAX at end */
    uint32_t qi;
    double w, ub;
    double bm;                /* bound of block bmi (block-max) */
    uint32_t bmi;
    double kb0, kb1;
    int lucene;
    uint32_t docs[IDX_SPARSE_BLOCK];
} cursor;

typedef struct {
    double score;
    uint32_t seg;
    uint64_t doc;
} hentry;

struct idx_sparse_searcher {
    const idx_sparse *s;
    idx_text_analyzer *an;
    qterm *q;
    size_t nq, capq;
    idx_buf qbuf;
    cursor *cur;
    size_t capcur;
    cursor **ord;
    double *contrib, *prefix;
    double *acc;
    size_t capacc;
    hentry *heap;
    size_t heapn, capheap;
    idx_err cb_err;
    size_t maxq;
    idx_sparse_stats st;
};

void idx_sparse_params_default(idx_sparse_params *p) {
    p->k1 = 0.9;
    p->b = 0.4;
    p->k = 10;
    p->exhaustive = 0;
    p->max_query_terms = 0;
    p->lucene_norms = 0;
}

idx_err idx_sparse_searcher_new(const idx_sparse *s, idx_sparse_searcher **out) {
    idx_sparse_searcher *q = calloc(1, sizeof *q);
    if (!q) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    q->s = s;
    idx_err e = idx_text_analyzer_new(&s->cfg, &q->an);
    if (e) { free(q); return e; }
    *out = q;
    return IDX_OK;
}

void idx_sparse_searcher_free(idx_sparse_searcher *q) {
    if (!q) return;
    idx_text_analyzer_free(q->an);
    for (size_t i = 0; i < q->nq; i++) free(q->q[i].term);
    free(q->q);
    idx_buf_free(&q->qbuf);
    free(q->cur);
    free(q->ord);
    free(q->contrib);
    free(q->prefix);
    free(q->acc);
    free(q->heap);
    free(q);
}

static int query_term(void *ud, const char *w, size_t len, size_t start, size_t end, uint32_t pos) {
    (void)start; (void)end; (void)pos;
    idx_sparse_searcher *q = ud;
    for (size_t i = 0; i < q->nq; i++)
        if (q->q[i].len == len && !memcmp(q->q[i].term, w, len)) { q->q[i].qtf++; return 0; }
    if (q->nq >= q->maxq) {
        q->cb_err = idx_fail(IDX_ERR_LIMIT, "query has more than %zu distinct terms", q->maxq);
        return 1;
    }
    if (q->nq == q->capq) {
        size_t nc = q->capq ? q->capq * 2 : 16;
        if ((q->cb_err = idx_xrealloc(&q->q, nc * sizeof *q->q))) return 1;
        q->capq = nc;
    }
    char *t = malloc(len);
    if (!t) { q->cb_err = idx_fail(IDX_ERR_NOMEM, "out of memory"); return 1; }
    memcpy(t, w, len);
    q->q[q->nq++] = (qterm){t, len, 1, 0};
    return 0;
}

/* The BM25 contribution. This file is compiled with -ffp-contract=off so the
 * skipping and exhaustive paths round identically. */
static inline double bm25(double w, uint32_t tf, uint32_t dl, double kb0, double kb1) {
    double t = (double)tf;
    return w * (t / (t + (kb0 + kb1 * (double)dl)));
}
#define UB_SLACK (1.0 + 1e-9)

/* Lucene's lossy one-byte length norm (SmallFloat.intToByte4 then
 * byte4ToInt), for measuring what exact lengths buy. Monotone, so block
 * bounds stay valid. */
static uint32_t lucene_len(uint32_t len) {
    const uint32_t free_values = 24; /* 255 - longToInt4(INT_MAX) */
    if (len < free_values) return len;
    uint64_t i = len - free_values;
    unsigned bits = 64 - (unsigned)__builtin_clzll(i);
    uint32_t enc;
    if (bits < 4) enc = (uint32_t)i;
    else {
        unsigned shift = bits - 4;
        enc = (uint32_t)((i >> shift) & 7) | ((shift + 1) << 3);
    }
    uint64_t bitsv = enc & 7;
    int sh = (int)(enc >> 3) - 1;
    uint64_t dec = sh < 0 ? bitsv : (bitsv | 8) << sh;
    return (uint32_t)(free_values + dec);
}
#define DL(x) (lucene ? lucene_len(x) : (x))

/* Upper bound of bm25() over a block's postings (see the top of the file). */
static inline double block_bound(double w, const sparse_block *b, double kb0, double kb1, int lucene) {
    if (lucene) return bm25(w, b->max_tf, lucene_len(b->min_len), kb0, kb1) * UB_SLACK;
    return w / (1.0 + kb0 / (double)b->max_tf + kb1 * (double)b->min_ratio) * UB_SLACK;
}

/* heap: min-heap by (score, then later doc is smaller) */
static int h_less(const hentry *a, const hentry *b) {
    if (a->score != b->score) return a->score < b->score;
    if (a->seg != b->seg) return a->seg > b->seg;
    return a->doc > b->doc;
}
static void h_down(hentry *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h_less(&h[l], &h[m])) m = l;
        if (r < n && h_less(&h[r], &h[m])) m = r;
        if (m == i) return;
        hentry t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}
static void h_up(hentry *h, size_t i) {
    while (i) {
        size_t p = (i - 1) / 2;
        if (!h_less(&h[i], &h[p])) return;
        hentry t = h[i]; h[i] = h[p]; h[p] = t;
        i = p;
    }
}
/* Offers a document visited in increasing (seg, doc) order. */
static inline void h_offer(idx_sparse_searcher *q, size_t k, double score, uint32_t seg, uint64_t doc) {
    if (q->heapn < k) {
        q->heap[q->heapn] = (hentry){score, seg, doc};
        h_up(q->heap, q->heapn++);
    } else if (score > q->heap[0].score) {
        q->heap[0] = (hentry){score, seg, doc};
        h_down(q->heap, q->heapn, 0);
    }
}
static inline double h_theta(const idx_sparse_searcher *q, size_t k) {
    return q->heapn < k ? 0.0 : q->heap[0].score;
}

static idx_err cur_decode(cursor *c) {
    const sparse_block *b = &c->blk[c->bi];
    idx_err e = decode_docs(c->seg, b, c->bi ? b[-1].last_doc : 0, c->bi == 0, c->docs);
    c->dec = c->bi;
    if (c->bmi != c->bi) {
        c->bm = block_bound(c->w, b, c->kb0, c->kb1, c->lucene);
        c->bmi = c->bi;
    }
    return e;
}

/* Moves to the first posting >= d (decoding at most the target block). */
static idx_err cur_seek(cursor *c, uint32_t d, idx_sparse_stats *st) {
    if (c->doc != UINT32_MAX && c->dec == c->bi && c->doc >= d) return IDX_OK;
    while (c->bi < c->nblk && c->blk[c->bi].last_doc < d) c->bi++;
    if (c->bi == c->nblk) { c->doc = UINT32_MAX; return IDX_OK; }
    if (c->dec != c->bi) {
        idx_err e = cur_decode(c);
        if (e) return e;
        st->blocks_decoded++;
        c->pos = 0;
    }
    while (c->docs[c->pos] < d) c->pos++;
    c->doc = c->docs[c->pos];
    return IDX_OK;
}

static idx_err cur_next(cursor *c, idx_sparse_stats *st) {
    if (++c->pos < c->blk[c->bi].count) { c->doc = c->docs[c->pos]; return IDX_OK; }
    if (++c->bi == c->nblk) { c->doc = UINT32_MAX; return IDX_OK; }
    idx_err e = cur_decode(c);
    if (e) return e;
    st->blocks_decoded++;
    c->pos = 0;
    c->doc = c->docs[0];
    return IDX_OK;
}

static int cmp_cur_ub(const void *a, const void *b) {
    const cursor *x = *(cursor *const *)a, *y = *(cursor *const *)b;
    if (x->ub != y->ub) return x->ub < y->ub ? -1 : 1;
    return x->qi < y->qi ? -1 : x->qi > y->qi;
}

static idx_err search_segment_exhaustive(idx_sparse_searcher *q, uint32_t si, const idx_sparse_params *p,
                                         double kb0, double kb1) {
    const sparse_segref *r = &q->s->segs[si];
    const idx_sparse_segment *seg = r->seg;
    uint64_t nd = seg->meta.ndocs;
    if (nd > q->capacc) {
        idx_err e = idx_xrealloc(&q->acc, nd * sizeof *q->acc);
        if (e) return e;
        q->capacc = nd;
    }
    memset(q->acc, 0, nd * sizeof *q->acc);
    uint32_t docs[IDX_SPARSE_BLOCK], tfs[IDX_SPARSE_BLOCK];
    int lucene = p->lucene_norms;
    for (size_t i = 0; i < q->nq; i++) {
        uint64_t t;
        sparse_find_term(seg, q->q[i].term, q->q[i].len, &t);
        if (t == UINT64_MAX) continue;
        const sparse_terminfo *ti = &seg->tinfo[t];
        for (uint32_t bi = 0; bi < ti->nblocks; bi++) {
            const sparse_block *b = &seg->blocks[ti->first_block + bi];
            idx_err e = sparse_decode_block(seg, b, bi ? b[-1].last_doc : 0, bi == 0, docs, tfs);
            if (e) return e;
            q->st.blocks_decoded++;
            for (unsigned j = 0; j < b->count; j++)
                q->acc[docs[j]] += bm25(q->q[i].w, tfs[j], DL(seg->doclen[docs[j]]), kb0, kb1);
            q->st.postings_scored += b->count;
        }
    }
    for (uint64_t d = 0; d < nd; d++) {
        if (q->acc[d] > 0 && !sparse_is_deleted(r, d)) {
            q->st.docs_evaluated++;
            h_offer(q, p->k, q->acc[d], si, d);
        }
    }
    return IDX_OK;
}

static idx_err search_segment(idx_sparse_searcher *q, uint32_t si, const idx_sparse_params *p, double kb0,
                              double kb1) {
    const sparse_segref *r = &q->s->segs[si];
    const idx_sparse_segment *seg = r->seg;
    size_t n = 0;
    idx_sparse_stats *st = &q->st;
    int lucene = p->lucene_norms;
    for (size_t i = 0; i < q->nq; i++) {
        uint64_t t;
        sparse_find_term(seg, q->q[i].term, q->q[i].len, &t);
        if (t == UINT64_MAX) continue;
        const sparse_terminfo *ti = &seg->tinfo[t];
        cursor *c = &q->cur[n];
        c->seg = seg;
        c->blk = &seg->blocks[ti->first_block];
        c->nblk = ti->nblocks;
        c->bi = 0;
        c->dec = -1;
        c->pos = 0;
        c->doc = 0;
        c->qi = (uint32_t)i;
        c->w = q->q[i].w;
        c->bmi = UINT32_MAX;
        c->kb0 = kb0;
        c->kb1 = kb1;
        c->lucene = lucene;
        if (lucene) {
            double ub = 0;
            for (uint32_t b = 0; b < c->nblk; b++) {
                double v = block_bound(c->w, &c->blk[b], kb0, kb1, lucene);
                if (v > ub) ub = v;
            }
            c->ub = ub;
        } else {
            sparse_block whole = {0};
            whole.max_tf = ti->max_tf;
            whole.min_ratio = ti->min_ratio;
            c->ub = block_bound(c->w, &whole, kb0, kb1, 0);
        }
        idx_err e = cur_seek(c, 0, st);
        if (e) return e;
        q->ord[n] = c;
        n++;
    }
    if (!n) return IDX_OK;
    qsort(q->ord, n, sizeof *q->ord, cmp_cur_ub);
    double acc = 0;
    for (size_t i = 0; i < n; i++) { acc += q->ord[i]->ub; q->prefix[i] = acc * UB_SLACK; }
    size_t ess = 0; /* ord[ess..n) are essential */
    double theta = h_theta(q, p->k);
    while (ess < n && q->prefix[ess] <= theta) ess++;
    double *contrib = q->contrib;
    uint32_t chk_bound = UINT32_MAX;
    double chk_theta = -1.0;
    int shallow = 0;
    for (;;) {
        if (ess >= n) break;
        /* block-max skip: while the current blocks of the essential lists plus
         * the whole non-essential lists cannot beat theta, no document up to
         * the first block end can enter; jump past it without decoding. */
        uint32_t bound = UINT32_MAX, d = UINT32_MAX;
        for (size_t i = ess; i < n; i++) {
            cursor *c = q->ord[i];
            if (c->doc == UINT32_MAX) continue;
            if (c->doc < d) d = c->doc;
            if (c->blk[c->bi].last_doc < bound) bound = c->blk[c->bi].last_doc;
        }
        if (d == UINT32_MAX) break;
        /* in [d, bound] every essential list stays in its current block, and
         * one whose next document is past bound contributes nothing there */
        /* (re)checked when the block range or the threshold changes: in
         * between, cursors only move forward, which can only lower the sum */
        int skip = 0;
        if (bound != chk_bound || theta != chk_theta) {
            chk_bound = bound;
            chk_theta = theta;
            double sumbm = ess ? q->prefix[ess - 1] : 0;
            for (size_t i = ess; i < n; i++) {
                cursor *c = q->ord[i];
                if (c->doc > bound) continue;
                if (c->bmi != c->bi) {
                    c->bm = block_bound(c->w, &c->blk[c->bi], kb0, kb1, lucene);
                    c->bmi = c->bi;
                }
                sumbm += c->bm;
            }
            skip = sumbm <= theta && bound != UINT32_MAX;
        }
        if (skip) {
            /* shallow move: past the blocks ending at or before bound,
             * without decoding; doc becomes a lower bound (bound + 1) */
            for (size_t i = ess; i < n; i++) {
                cursor *c = q->ord[i];
                if (c->doc > bound) continue;
                while (c->bi < c->nblk && c->blk[c->bi].last_doc <= bound) c->bi++;
                c->doc = c->bi == c->nblk ? UINT32_MAX : bound + 1;
            }
            shallow = 1;
            continue;
        }
        /* a list moved shallowly is decoded before its documents are used */
        if (shallow) {
            int redo = 0;
            shallow = 0;
            for (size_t i = ess; i < n; i++) {
                cursor *c = q->ord[i];
                if (c->doc == UINT32_MAX || c->dec == c->bi) continue;
                if (c->doc == d) {
                    idx_err e = cur_seek(c, d, st);
                    if (e) return e;
                    redo = 1;
                } else {
                    shallow = 1;
                }
            }
            if (redo) { shallow = 1; continue; }
        }
        st->docs_evaluated++;
        double partial = 0;
        uint64_t touched = 0;
        int deleted = sparse_is_deleted(r, d);
        for (size_t i = ess; i < n; i++) {
            cursor *c = q->ord[i];
            if (c->doc != d) continue;
            if (!deleted) {
                double v = bm25(c->w, block_tf(seg, &c->blk[c->bi], c->pos), DL(seg->doclen[d]), kb0, kb1);
                contrib[c->qi] = v;
                touched |= 1ull << (c->qi & 63);
                partial += v;
                st->postings_scored++;
            }
            idx_err e = cur_next(c, st);
            if (e) return e;
        }
        if (deleted) continue;
        int pruned = 0;
        for (size_t j = ess; j-- > 0;) {
            if (partial + q->prefix[j] <= theta) { pruned = 1; break; }
            cursor *c = q->ord[j];
            /* block-max: the bound of the block that could hold d */
            while (c->bi < c->nblk && c->blk[c->bi].last_doc < d) c->bi++;
            if (c->bi == c->nblk) { c->doc = UINT32_MAX; continue; }
            if (c->bmi != c->bi) {
                c->bm = block_bound(c->w, &c->blk[c->bi], kb0, kb1, lucene);
                c->bmi = c->bi;
            }
            double bm = c->bm;
            double rest = j ? q->prefix[j - 1] : 0;
            if (partial + bm + rest <= theta) { pruned = 1; break; }
            idx_err e = cur_seek(c, d, st);
            if (e) return e;
            if (c->doc == d) {
                double v = bm25(c->w, block_tf(seg, &c->blk[c->bi], c->pos), DL(seg->doclen[d]), kb0, kb1);
                contrib[c->qi] = v;
                touched |= 1ull << (c->qi & 63);
                partial += v;
                st->postings_scored++;
            }
        }
        /* canonical sum in query-term order (and reset) */
        double score = 0;
        if (q->nq <= 64) { /* only touched terms, in ascending order: adding 0.0 changes nothing */
            for (uint64_t m = touched; m; m &= m - 1) {
                unsigned i = (unsigned)__builtin_ctzll(m);
                score += contrib[i];
                contrib[i] = 0;
            }
        } else {
            for (size_t i = 0; i < q->nq; i++) {
                score += contrib[i];
                contrib[i] = 0;
            }
        }
        if (pruned) continue;
        h_offer(q, p->k, score, si, d);
        double nt = h_theta(q, p->k);
        if (nt > theta) {
            theta = nt;
            while (ess < n && q->prefix[ess] <= theta) ess++;
        }
    }
    return IDX_OK;
}

static int cmp_hit(const void *a, const void *b) {
    const hentry *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

idx_err idx_sparse_search(idx_sparse_searcher *q, const char *query, size_t len,
                          const idx_sparse_params *p, idx_sparse_hit *hits, size_t *nhits,
                          idx_sparse_stats *st) {
    *nhits = 0;
    memset(&q->st, 0, sizeof q->st);
    if (!(p->k1 >= 0) || !(p->b >= 0 && p->b <= 1) || !isfinite(p->k1))
        return idx_fail(IDX_ERR_INVALID, "BM25 parameters out of range (k1 >= 0, 0 <= b <= 1)");
    if (p->k == 0) return IDX_OK;
    for (size_t i = 0; i < q->nq; i++) free(q->q[i].term);
    q->nq = 0;
    q->maxq = p->max_query_terms ? p->max_query_terms : IDX_SPARSE_MAX_QUERY_TERMS;
    q->cb_err = IDX_OK;
    idx_err e = idx_text_analyze(q->an, query, len, query_term, q);
    if (e == IDX_ERR_CANCELLED && q->cb_err) e = q->cb_err;
    if (e) return e;
    q->st.query_terms = q->nq;
    if (st) *st = q->st;
    const idx_sparse *s = q->s;
    if (!q->nq || !s->ndocs) return IDX_OK;
    /* global statistics */
    double N = (double)s->ndocs, avgdl = s->total_len ? (double)s->total_len / N : 1.0;
    for (size_t i = 0; i < q->nq; i++) {
        uint64_t df = 0;
        for (size_t g = 0; g < s->nsegs; g++) {
            uint64_t t;
            sparse_find_term(s->segs[g].seg, q->q[i].term, q->q[i].len, &t);
            if (t != UINT64_MAX) df += s->segs[g].seg->tinfo[t].df;
        }
        double idf = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
        q->q[i].w = (double)q->q[i].qtf * idf;
    }
    double kb0 = p->k1 * (1.0 - p->b), kb1 = p->k1 * p->b / avgdl;
    if (q->nq > q->capcur) {
        size_t nc = q->nq;
        if ((e = idx_xrealloc(&q->cur, nc * sizeof *q->cur)) || (e = idx_xrealloc(&q->ord, nc * sizeof *q->ord)) ||
            (e = idx_xrealloc(&q->contrib, nc * sizeof *q->contrib)) ||
            (e = idx_xrealloc(&q->prefix, nc * sizeof *q->prefix)))
            return e;
        q->capcur = nc;
    }
    memset(q->contrib, 0, q->nq * sizeof *q->contrib);
    if (p->k > q->capheap) {
        size_t nk;
        if (idx_mul_overflow(p->k, sizeof *q->heap, &nk) || p->k > (1u << 28))
            return idx_fail(IDX_ERR_LIMIT, "k = %zu is too large", p->k);
        if ((e = idx_xrealloc(&q->heap, nk))) return e;
        q->capheap = p->k;
    }
    q->heapn = 0;
    for (uint32_t g = 0; g < s->nsegs; g++) {
        e = p->exhaustive ? search_segment_exhaustive(q, g, p, kb0, kb1) : search_segment(q, g, p, kb0, kb1);
        if (e) return e;
    }
    qsort(q->heap, q->heapn, sizeof *q->heap, cmp_hit);
    for (size_t i = 0; i < q->heapn; i++) hits[i] = (idx_sparse_hit){q->heap[i].seg, q->heap[i].doc + s->segs[q->heap[i].seg].doc_base, q->heap[i].score};
    *nhits = q->heapn;
    if (st) *st = q->st;
    return IDX_OK;
}

typedef struct {
    idx_sparse_searcher *q;
    size_t start;
    int found;
} snip_ctx;

static int snip_term(void *ud, const char *w, size_t len, size_t start, size_t end, uint32_t pos) {
    (void)end; (void)pos;
    snip_ctx *c = ud;
    for (size_t i = 0; i < c->q->nq; i++)
        if (c->q->q[i].len == len && !memcmp(c->q->q[i].term, w, len)) {
            c->start = start;
            c->found = 1;
            return 1;
        }
    return 0;
}

size_t idx_sparse_snippet_start(idx_sparse_searcher *q, const char *text, size_t len, size_t width) {
    snip_ctx c = {q, 0, 0};
    idx_text_analyze(q->an, text, len, snip_term, &c);
    idx_errclear();
    if (!c.found || len <= width) return 0;
    size_t s = c.start > width / 4 ? c.start - width / 4 : 0;
    if (s + width > len) s = len - width;
    while (s > 0 && ((unsigned char)text[s] & 0xC0) == 0x80) s--;
    return s;
}
