/*
 * chunkmap.c -- the chunk map part of an index directory: for every chunk
 * (dense ids 0..n-1 in build order) its document id, byte span in that
 * document, word count and heading path, so that results over chunks can be
 * reported at chunk or document level.
 *
 * File PART_DIR/chunks.idx, common section-file format (common/file.c),
 * magic "IDXCHNK1", version 1, all integers little-endian:
 *   section "info"    : u64 chunk_count, u64 heads_bytes, u64 desc_len,
 *                       then desc_len bytes of chunker description (UTF-8).
 *   section "chunks"  : chunk_count records of 40 bytes:
 *                       u64 doc_id, u64 start, u64 end, u64 words,
 *                       u32 head_off, u32 head_len   (into section "heads")
 *                       doc_id non-decreasing; start < end;
 *                       head_off + head_len <= heads_bytes.
 *   section "heads"   : heads_bytes bytes: heading paths ("A > B"), shared by
 *                       consecutive chunks with the same path.
 * The reader checks every count and offset against the section sizes with
 * overflow-safe arithmetic and answers IDX_ERR_CORRUPT naming the file and
 * section; it never trusts a number from the file.
 */
#include <string.h>

#include "chunk_internal.h"

#define CHUNKMAP_MAGIC "IDXCHNK1"
#define CHUNKMAP_VERSION 1
#define REC 40

struct idx_chunkmap_writer {
    char *path;
    idx_buf recs, heads;
    char *desc;
    uint64_t count, last_doc;
};

struct idx_chunkmap {
    idx_file *f;
    const unsigned char *recs;
    const char *heads;
    uint64_t count, heads_len;
    char *desc;
};

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

idx_err idx_chunkmap_writer_open(const char *part_dir, const char *desc, idx_chunkmap_writer **out) {
    idx_chunkmap_writer *w = calloc(1, sizeof *w);
    if (!w) return idx_fail(IDX_ERR_NOMEM, "chunk map: out of memory");
    w->path = idx_path_join(part_dir, "chunks.idx");
    w->desc = strdup(desc ? desc : "");
    if (!w->path || !w->desc) {
        idx_chunkmap_writer_abort(w);
        return idx_fail(IDX_ERR_NOMEM, "chunk map: out of memory");
    }
    *out = w;
    return IDX_OK;
}

idx_err idx_chunkmap_writer_add(idx_chunkmap_writer *w, uint64_t doc_id, const idx_chunk_list *l) {
    if (w->count && doc_id < w->last_doc)
        return idx_fail(IDX_ERR_INVALID, "chunk map: document ids must not decrease (%llu after %llu)",
                        (unsigned long long)doc_id, (unsigned long long)w->last_doc);
    idx_err e;
    uint32_t prev_src_off = 0, prev_src_len = 0, prev_dst_off = 0;
    int have_prev = 0;
    for (size_t i = 0; i < l->n; i++) {
        const idx_chunk_span *s = &l->spans[i];
        if (s->start >= s->end) return idx_fail(IDX_ERR_INVALID, "chunk map: empty chunk %zu", i);
        uint32_t off = 0, len = s->head_len;
        if (len) {
            if (have_prev && prev_src_off == s->head_off && prev_src_len == len) {
                off = prev_dst_off;
            } else {
                if (w->heads.len > UINT32_MAX - len)
                    return idx_fail(IDX_ERR_LIMIT, "chunk map: heading paths exceed 4 GiB");
                off = (uint32_t)w->heads.len;
                if ((e = idx_buf_append(&w->heads, l->heads.data + s->head_off, len))) return e;
            }
            prev_src_off = s->head_off;
            prev_src_len = len;
            prev_dst_off = off;
            have_prev = 1;
        }
        unsigned char r[REC];
        put64(r, doc_id);
        put64(r + 8, s->start);
        put64(r + 16, s->end);
        put64(r + 24, s->words);
        put32(r + 32, off);
        put32(r + 36, len);
        if ((e = idx_buf_append(&w->recs, r, REC))) return e;
        w->count++;
    }
    w->last_doc = doc_id;
    return IDX_OK;
}

idx_err idx_chunkmap_writer_commit(idx_chunkmap_writer *w) {
    idx_file_writer *f = NULL;
    size_t dl = strlen(w->desc);
    unsigned char info[24];
    put64(info, w->count);
    put64(info + 8, w->heads.len);
    put64(info + 16, dl);
    idx_err e = idx_file_create(w->path, CHUNKMAP_MAGIC, CHUNKMAP_VERSION, &f);
    if (!e) e = idx_file_section_begin(f, "info");
    if (!e) e = idx_file_write(f, info, sizeof info);
    if (!e) e = idx_file_write(f, w->desc, dl);
    if (!e) e = idx_file_section_end(f);
    if (!e) e = idx_file_put_section(f, "chunks", w->recs.data ? w->recs.data : "", w->recs.len);
    if (!e) e = idx_file_put_section(f, "heads", w->heads.data ? w->heads.data : "", w->heads.len);
    if (!e) {
        e = idx_file_commit(f);
        f = NULL;
    }
    idx_file_abort(f);
    idx_chunkmap_writer_abort(w);
    return e;
}

void idx_chunkmap_writer_abort(idx_chunkmap_writer *w) {
    if (!w) return;
    free(w->path);
    free(w->desc);
    idx_buf_free(&w->recs);
    idx_buf_free(&w->heads);
    free(w);
}

idx_err idx_chunkmap_open(const char *part_dir, unsigned flags, idx_chunkmap **out) {
    char *path = idx_path_join(part_dir, "chunks.idx");
    if (!path) return idx_fail(IDX_ERR_NOMEM, "chunk map: out of memory");
    idx_chunkmap *m = calloc(1, sizeof *m);
    idx_err e = m ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "chunk map: out of memory");
    const void *info = NULL, *recs = NULL, *heads = NULL;
    uint64_t ni = 0, nr = 0, nh = 0;
    if (!e) e = idx_file_open(path, CHUNKMAP_MAGIC, CHUNKMAP_VERSION, flags, &m->f);
    if (!e) e = idx_file_section(m->f, "info", &info, &ni);
    if (!e) e = idx_file_section(m->f, "chunks", &recs, &nr);
    if (!e) e = idx_file_section(m->f, "heads", &heads, &nh);
    if (!e && ni < 24) e = idx_fail(IDX_ERR_CORRUPT, "%s: section info: %llu bytes, at least 24 expected", path, (unsigned long long)ni);
    if (!e) {
        const unsigned char *p = info;
        m->count = get64(p);
        m->heads_len = get64(p + 8);
        uint64_t dl = get64(p + 16);
        if (dl > ni - 24)
            e = idx_fail(IDX_ERR_CORRUPT, "%s: section info: description length %llu beyond the section", path, (unsigned long long)dl);
        else if (m->count > nr / REC || m->count * REC != nr)
            e = idx_fail(IDX_ERR_CORRUPT, "%s: section chunks: %llu bytes for %llu chunks", path, (unsigned long long)nr, (unsigned long long)m->count);
        else if (m->heads_len != nh)
            e = idx_fail(IDX_ERR_CORRUPT, "%s: section heads: %llu bytes, info says %llu", path, (unsigned long long)nh, (unsigned long long)m->heads_len);
        else if (!(m->desc = malloc((size_t)dl + 1)))
            e = idx_fail(IDX_ERR_NOMEM, "chunk map: out of memory");
        else {
            memcpy(m->desc, p + 24, (size_t)dl);
            m->desc[dl] = 0;
        }
    }
    if (!e) {
        m->recs = recs;
        m->heads = heads;
        /* every record in bounds and in order */
        uint64_t prev = 0;
        for (uint64_t i = 0; i < m->count && !e; i++) {
            const unsigned char *r = m->recs + i * REC;
            uint64_t doc = get64(r), s = get64(r + 8), en = get64(r + 16);
            uint64_t ho = get32(r + 32), hl = get32(r + 36);
            if (doc < prev || s >= en || ho + hl > m->heads_len)
                e = idx_fail(IDX_ERR_CORRUPT, "%s: section chunks: record %llu is invalid", path, (unsigned long long)i);
            prev = doc;
        }
    }
    free(path);
    if (e) {
        idx_chunkmap_close(m);
        return e;
    }
    *out = m;
    return IDX_OK;
}

void idx_chunkmap_close(idx_chunkmap *m) {
    if (!m) return;
    idx_file_close(m->f);
    free(m->desc);
    free(m);
}

uint64_t idx_chunkmap_count(const idx_chunkmap *m) { return m->count; }
const char *idx_chunkmap_desc(const idx_chunkmap *m) { return m->desc; }

idx_err idx_chunkmap_get(const idx_chunkmap *m, uint64_t id, idx_chunkmap_entry *e) {
    if (id >= m->count) return idx_fail(IDX_ERR_NOT_FOUND, "chunk %llu: only %llu chunks", (unsigned long long)id, (unsigned long long)m->count);
    const unsigned char *r = m->recs + id * REC;
    e->doc_id = get64(r);
    e->start = get64(r + 8);
    e->end = get64(r + 16);
    e->words = get64(r + 24);
    uint32_t ho = get32(r + 32), hl = get32(r + 36);
    e->head = hl ? m->heads + ho : NULL;
    e->head_len = hl;
    return IDX_OK;
}

idx_err idx_chunkmap_doc_range(const idx_chunkmap *m, uint64_t doc, uint64_t *first, uint64_t *count) {
    uint64_t lo = 0, hi = m->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (get64(m->recs + mid * REC) < doc) lo = mid + 1;
        else hi = mid;
    }
    uint64_t a = lo;
    hi = m->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (get64(m->recs + mid * REC) <= doc) lo = mid + 1;
        else hi = mid;
    }
    *first = a;
    *count = lo - a;
    return IDX_OK;
}
