/*
 * docs.c -- the document store: every document's external id, title,
 * metadata and text, by dense document id. The text of all documents is one
 * stream cut into fixed-size blocks, each compressed with zstd on its own,
 * with a seek table, so that a window of any document costs one or two block
 * decompressions (about 64 KiB each) and nothing else. Or the store keeps no
 * text (text source "fm", `idx build --text fm`): idx_docs_text then asks the
 * FM-index of the same index directory (idx_fm_extract), opened on first use
 * or lent by idx_docs_attach_fm, so that every reader of document text (show,
 * find, the server, retrieval, chunk maps, contamination) gets it unchanged.
 *
 * File INDEX/docs/docs.idx, section file (common/file.c), magic "IDXDOCS1",
 * version 1. Sections (u64 little-endian arrays unless said otherwise):
 *   info       u64 ndocs, u64 text_bytes, u64 nblocks, u64 block_size,
 *              u64 has_text, u64 id_hash_slots, u64 text_from_fm, u64 reserved
 *              (text_from_fm = 1 only with has_text = 0 and no blocks: the
 *              text is in the FM-index of the index directory)
 *   doc_start  ndocs+1 offsets of each document in the uncompressed stream
 *              (non-decreasing, doc_start[ndocs] = text_bytes)
 *   blk_off    nblocks+1 offsets of each compressed block in `blocks`
 *   blocks     the zstd frames; block b holds stream bytes
 *              [b*block_size, min((b+1)*block_size, text_bytes))
 *   id_off, ids        ndocs+1 offsets into the concatenated external ids
 *   title_off, titles  the same for titles
 *   meta_off, meta     the same for metadata (compact JSON objects)
 *   id_hash    id_hash_slots (a power of two >= 2*ndocs) entries: 0 = empty,
 *              else doc id + 1; slot = XXH3(id) & (slots-1), linear probing
 * Every section but info and blocks may instead be stored compressed as
 * "<name>.z": u64 raw length, then one zstd frame of the raw bytes (level 9;
 * what the writer does since the text-less store: ids, titles, metadata and
 * offsets were ~1% of the corpus raw, the whole index of `--text fm` ~40%).
 * The reader decompresses those at open into memory owned by the store (the
 * pointers idx_docs_id/title/meta hand out stay valid while it is open);
 * stores written before keep their raw sections and read as before.
 * Offsets are checked at open (monotone, within their section) so a damaged
 * file gives IDX_ERR_CORRUPT rather than a wild read.
 */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include "idx_index.h"

#include <stdatomic.h>

#define DOCS_MAGIC "IDXDOCS1"
#define DOCS_VERSION 1
#define DOCS_FILE "docs.idx"

/* ---------------------------------------------------------------- writer */

typedef struct {
    uint64_t *v;
    size_t n, cap;
} u64vec;

static idx_err vpush(u64vec *a, uint64_t x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        uint64_t *p = realloc(a->v, cap * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        a->v = p;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return IDX_OK;
}

struct idx_docs_writer {
    idx_file_writer *fw;
    idx_docs_opts o;
    ZSTD_CCtx *cctx;
    char *blk;          /* pending uncompressed block */
    size_t blk_len;
    char *cbuf;
    size_t cbuf_cap;
    uint64_t text_bytes, comp_bytes;
    u64vec doc_start, blk_off, id_off, title_off, meta_off;
    idx_buf ids, titles, meta;
    /* duplicate detection: open addressing over doc ids + 1 */
    uint64_t *hash;
    size_t hash_cap;
};

static idx_err flush_block(idx_docs_writer *w) {
    if (w->blk_len == 0) return IDX_OK;
    size_t n = ZSTD_compressCCtx(w->cctx, w->cbuf, w->cbuf_cap, w->blk, w->blk_len, w->o.zstd_level);
    if (ZSTD_isError(n)) return idx_fail(IDX_ERR_INTERNAL, "zstd compress: %s", ZSTD_getErrorName(n));
    idx_err e = idx_file_write(w->fw, w->cbuf, n);
    if (e) return e;
    w->comp_bytes += n;
    w->blk_len = 0;
    return vpush(&w->blk_off, w->comp_bytes);
}

idx_err idx_docs_writer_open(const char *part_dir, const idx_docs_opts *opts, idx_docs_writer **out) {
    *out = NULL;
    idx_docs_writer *w = calloc(1, sizeof *w);
    if (!w) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (opts) w->o = *opts;
    else w->o.store_text = 1;
    if (w->o.zstd_level == 0) w->o.zstd_level = 3;
    if (w->o.block_size == 0) w->o.block_size = 64 * 1024;
    if (w->o.block_size < 256 || w->o.block_size > (64u << 20)) {
        uint32_t bs = w->o.block_size;
        free(w);
        return idx_fail(IDX_ERR_INVALID, "document store block size %u out of range", bs);
    }
    idx_err e = idx_mkdirs(part_dir);
    char *path = e ? NULL : idx_path_join(part_dir, DOCS_FILE);
    if (!e && !path) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = idx_file_create(path, DOCS_MAGIC, DOCS_VERSION, &w->fw);
    free(path);
    w->cctx = ZSTD_createCCtx();
    w->blk = malloc(w->o.block_size);
    w->cbuf_cap = ZSTD_compressBound(w->o.block_size);
    w->cbuf = malloc(w->cbuf_cap);
    if (!e && (!w->cctx || !w->blk || !w->cbuf)) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = vpush(&w->doc_start, 0);
    if (!e) e = vpush(&w->blk_off, 0);
    if (!e) e = vpush(&w->id_off, 0);
    if (!e) e = vpush(&w->title_off, 0);
    if (!e) e = vpush(&w->meta_off, 0);
    if (!e) e = idx_file_section_begin(w->fw, "blocks");
    if (e) {
        idx_docs_writer_abort(w);
        return e;
    }
    *out = w;
    return IDX_OK;
}

static idx_err grow_hash(idx_docs_writer *w) {
    size_t cap = w->hash_cap ? w->hash_cap * 2 : 1024;
    uint64_t *h = calloc(cap, sizeof *h);
    if (!h) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < w->hash_cap; i++) {
        if (!w->hash[i]) continue;
        uint64_t d = w->hash[i] - 1;
        const char *id = w->ids.data + w->id_off.v[d];
        size_t len = (size_t)(w->id_off.v[d + 1] - w->id_off.v[d]);
        size_t s = idx_hash64(id, len, 0) & (cap - 1);
        while (h[s]) s = (s + 1) & (cap - 1);
        h[s] = w->hash[i];
    }
    free(w->hash);
    w->hash = h;
    w->hash_cap = cap;
    return IDX_OK;
}

idx_err idx_docs_writer_add(idx_docs_writer *w, const idx_doc *doc, uint64_t *doc_id) {
    uint64_t id = w->doc_start.n - 1;
    size_t idlen = strlen(doc->id);
    /* duplicate id check */
    if ((id + 1) * 2 > w->hash_cap) {
        idx_err e = grow_hash(w);
        if (e) return e;
    }
    size_t s = idx_hash64(doc->id, idlen, 0) & (w->hash_cap - 1);
    while (w->hash[s]) {
        uint64_t d = w->hash[s] - 1;
        size_t l = (size_t)(w->id_off.v[d + 1] - w->id_off.v[d]);
        if (l == idlen && memcmp(w->ids.data + w->id_off.v[d], doc->id, idlen) == 0)
            return idx_fail(IDX_ERR_PARSE, "%s%s%.0llu: duplicate document id '%s' (first seen as document %llu)",
                            doc->source ? doc->source : "", doc->line ? ":" : "", (unsigned long long)doc->line,
                            doc->id, (unsigned long long)d);
        s = (s + 1) & (w->hash_cap - 1);
    }
    idx_err e = IDX_OK;
    if (w->o.store_text) {
        const char *p = doc->text;
        size_t left = doc->text_len;
        while (left) {
            size_t take = w->o.block_size - w->blk_len;
            if (take > left) take = left;
            memcpy(w->blk + w->blk_len, p, take);
            w->blk_len += take;
            p += take;
            left -= take;
            if (w->blk_len == w->o.block_size && (e = flush_block(w))) return e;
        }
    }
    w->text_bytes += doc->text_len;
    if ((e = vpush(&w->doc_start, w->text_bytes))) return e;
    if ((e = idx_buf_append(&w->ids, doc->id, idlen))) return e;
    if ((e = vpush(&w->id_off, w->ids.len))) return e;
    const char *title = doc->title ? doc->title : "";
    if ((e = idx_buf_append(&w->titles, title, strlen(title)))) return e;
    if ((e = vpush(&w->title_off, w->titles.len))) return e;
    const char *meta = doc->meta_json ? doc->meta_json : "{}";
    size_t mlen = doc->meta_json ? doc->meta_len : 2;
    if ((e = idx_buf_append(&w->meta, meta, mlen))) return e;
    if ((e = vpush(&w->meta_off, w->meta.len))) return e;
    w->hash[s] = id + 1;
    if (doc_id) *doc_id = id;
    return IDX_OK;
}

/* Section `name` as "<name>.z": u64 raw length + one zstd frame. */
#define DOCS_META_LEVEL 9 /* as small as 19 on these sections (measured), 15x faster */
static idx_err put_z(idx_file_writer *fw, const char *name, const void *data, size_t n) {
    size_t cap = ZSTD_compressBound(n) + 8;
    char *buf = malloc(cap);
    if (!buf) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    uint64_t raw = n;
    memcpy(buf, &raw, 8);
    size_t c = ZSTD_compress(buf + 8, cap - 8, n ? data : "", n, DOCS_META_LEVEL);
    idx_err e;
    if (ZSTD_isError(c)) e = idx_fail(IDX_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(c));
    else {
        char zname[32];
        snprintf(zname, sizeof zname, "%s.z", name);
        e = idx_file_put_section(fw, zname, buf, c + 8);
    }
    free(buf);
    return e;
}

static idx_err put_vec(idx_file_writer *fw, const char *name, const u64vec *v) {
    return put_z(fw, name, v->v, v->n * sizeof(uint64_t));
}

idx_err idx_docs_writer_commit(idx_docs_writer *w) {
    idx_err e = IDX_OK;
    if (w->o.store_text) e = flush_block(w);
    if (!e) e = idx_file_section_end(w->fw);
    uint64_t ndocs = w->doc_start.n - 1;
    uint64_t slots = 16;
    while (slots < 2 * ndocs) slots *= 2;
    uint64_t info[8] = {ndocs, w->text_bytes, w->blk_off.n - 1, w->o.block_size, (uint64_t)w->o.store_text, slots,
                        (uint64_t)(!w->o.store_text && w->o.text_from_fm), 0};
    if (!e) e = idx_file_put_section(w->fw, "info", info, sizeof info);
    if (!e) e = put_vec(w->fw, "doc_start", &w->doc_start);
    if (!e) e = put_vec(w->fw, "blk_off", &w->blk_off);
    if (!e) e = put_vec(w->fw, "id_off", &w->id_off);
    if (!e) e = put_z(w->fw, "ids", w->ids.data, w->ids.len);
    if (!e) e = put_vec(w->fw, "title_off", &w->title_off);
    if (!e) e = put_z(w->fw, "titles", w->titles.data, w->titles.len);
    if (!e) e = put_vec(w->fw, "meta_off", &w->meta_off);
    if (!e) e = put_z(w->fw, "meta", w->meta.data, w->meta.len);
    if (!e) {
        uint64_t *tab = calloc(slots, sizeof *tab);
        if (!tab) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        for (uint64_t d = 0; !e && d < ndocs; d++) {
            size_t s = idx_hash64(w->ids.data + w->id_off.v[d], (size_t)(w->id_off.v[d + 1] - w->id_off.v[d]), 0) &
                       (slots - 1);
            while (tab[s]) s = (s + 1) & (slots - 1);
            tab[s] = d + 1;
        }
        if (!e) e = put_z(w->fw, "id_hash", tab, slots * sizeof *tab);
        free(tab);
    }
    if (!e) {
        e = idx_file_commit(w->fw);
        w->fw = NULL;
    }
    idx_docs_writer_abort(w);
    return e;
}

void idx_docs_writer_abort(idx_docs_writer *w) {
    if (!w) return;
    idx_file_abort(w->fw);
    ZSTD_freeCCtx(w->cctx);
    free(w->blk);
    free(w->cbuf);
    free(w->doc_start.v);
    free(w->blk_off.v);
    free(w->id_off.v);
    free(w->title_off.v);
    free(w->meta_off.v);
    idx_buf_free(&w->ids);
    idx_buf_free(&w->titles);
    idx_buf_free(&w->meta);
    free(w->hash);
    free(w);
}

/* ---------------------------------------------------------------- reader */

struct idx_docs {
    idx_file *f;
    uint64_t ndocs, text_bytes, nblocks, block_size, has_text, slots, text_fm;
    char *dir;                   /* index directory (for the FM-index) */
    _Atomic(const idx_fm *) fm;  /* text source "fm": opened on first use or lent */
    idx_fm *own_fm;              /* the one we opened */
    pthread_mutex_t fm_lock;
    const uint64_t *doc_start, *blk_off, *id_off, *title_off, *meta_off, *id_hash;
    const unsigned char *blocks;
    const char *ids, *titles, *meta;
    uint64_t blocks_size, ids_size, titles_size, meta_size;
    uint64_t gen;
    void *heap[16];              /* decompressed "<name>.z" sections */
    int nheap;
    uint64_t disk_ids, disk_meta, disk_offsets; /* on-disk bytes (compressed or not) */
};

/* Per-thread cache of the last decompressed block, freed at thread exit.
 * Each opened store gets a generation number so that a cache entry of a
 * closed store whose address is reused is never mistaken for the new one. */
typedef struct {
    uint64_t gen, block;
    char *buf;
    size_t cap;
    ZSTD_DCtx *dctx;
} block_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t docs_generation = 1;

static void cache_free(void *p) {
    block_cache *c = p;
    if (!c) return;
    ZSTD_freeDCtx(c->dctx);
    free(c->buf);
    free(c);
}
static void cache_init(void) { pthread_key_create(&cache_key, cache_free); }

static block_cache *get_cache(void) {
    pthread_once(&cache_once, cache_init);
    block_cache *c = pthread_getspecific(cache_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c && pthread_setspecific(cache_key, c) != 0) {
            free(c);
            c = NULL;
        }
    }
    return c;
}

static idx_err check_offsets(const idx_docs *d, const uint64_t *off, uint64_t n, uint64_t limit, const char *name) {
    if (off[0] != 0) goto bad;
    for (uint64_t i = 1; i <= n; i++)
        if (off[i] < off[i - 1] || off[i] > limit) goto bad;
    return IDX_OK;
bad:
    return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: offsets in section '%s' out of order or out of bounds",
                    idx_file_path(d->f), name);
}

/* Section `name`, raw or as "<name>.z" (decompressed into memory owned by d);
 * *disk += its bytes in the file. */
static idx_err get_sec(idx_docs *d, const char *name, const void **out, uint64_t *size, uint64_t *disk) {
    const void *p;
    uint64_t sz;
    idx_err e = idx_file_section_opt(d->f, name, &p, &sz);
    if (e) return e;
    if (p) {
        *out = p;
        *size = sz;
        if (disk) *disk += sz;
        return IDX_OK;
    }
    char zname[32];
    snprintf(zname, sizeof zname, "%s.z", name);
    if ((e = idx_file_section_opt(d->f, zname, &p, &sz))) return e;
    if (!p) return idx_file_section(d->f, name, out, size); /* the usual "missing section" error */
    uint64_t raw;
    if (sz < 8) goto bad;
    memcpy(&raw, p, 8);
    /* zstd expands at most ~32000x; a larger claim is damage, not data */
    unsigned long long fcs = ZSTD_getFrameContentSize((const char *)p + 8, sz - 8);
    if (fcs != raw || raw > (sz - 8) * UINT64_C(32768) || raw > (UINT64_C(1) << 40) || d->nheap == 16) goto bad;
    void *buf = malloc(raw ? raw : 1);
    if (!buf) return idx_fail(IDX_ERR_NOMEM, "%s: out of memory for section '%s'", idx_file_path(d->f), zname);
    d->heap[d->nheap++] = buf;
    size_t got = ZSTD_decompress(buf, raw, (const char *)p + 8, sz - 8);
    if (ZSTD_isError(got) || got != raw) goto bad;
    *out = buf;
    *size = raw;
    if (disk) *disk += sz;
    return IDX_OK;
bad:
    return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: section '%s' does not decompress", idx_file_path(d->f), zname);
}

static idx_err get_u64s(idx_docs *d, const char *name, uint64_t count, const uint64_t **out) {
    const void *p;
    uint64_t sz;
    idx_err e = get_sec(d, name, &p, &sz, &d->disk_offsets);
    if (e) return e;
    if (count > UINT64_MAX / 8 || sz != count * 8)
        return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: section '%s' has %llu bytes, expected %llu",
                        idx_file_path(d->f), name, (unsigned long long)sz, (unsigned long long)(count * 8));
    *out = p;
    return IDX_OK;
}

idx_err idx_docs_open(const char *index_dir, unsigned flags, idx_docs **out) {
    *out = NULL;
    char *dir = idx_path_join(index_dir, "docs");
    char *path = dir ? idx_path_join(dir, DOCS_FILE) : NULL;
    free(dir);
    if (!path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_docs *d = calloc(1, sizeof *d);
    if (!d) {
        free(path);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    d->gen = docs_generation++;
    pthread_mutex_init(&d->fm_lock, NULL);
    d->dir = strdup(index_dir);
    if (!d->dir) {
        free(path);
        free(d);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    idx_err e = idx_file_open(path, DOCS_MAGIC, DOCS_VERSION, flags, &d->f);
    free(path);
    if (e) goto fail;
    const void *p;
    uint64_t sz;
    if ((e = idx_file_section(d->f, "info", &p, &sz))) goto fail;
    if (sz < 64) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: short info section", idx_file_path(d->f));
        goto fail;
    }
    const uint64_t *info = p;
    d->ndocs = info[0];
    d->text_bytes = info[1];
    d->nblocks = info[2];
    d->block_size = info[3];
    d->has_text = info[4];
    d->slots = info[5];
    d->text_fm = info[6];
    uint64_t fsz = idx_file_size(d->f);
    if (d->ndocs > fsz || d->nblocks > fsz || d->block_size < 256 || d->block_size > (64u << 20) ||
        d->has_text > 1 || d->text_fm > 1 || (d->text_fm && (d->has_text || d->nblocks)) || d->slots == 0 || (d->slots & (d->slots - 1)) || d->slots > fsz ||
        (d->ndocs && d->slots < d->ndocs + 1) ||
        (d->has_text && d->nblocks != (d->text_bytes + d->block_size - 1) / d->block_size)) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: inconsistent info section", idx_file_path(d->f));
        goto fail;
    }
    if ((e = get_u64s(d, "doc_start", d->ndocs + 1, &d->doc_start))) goto fail;
    if ((e = get_u64s(d, "blk_off", d->nblocks + 1, &d->blk_off))) goto fail;
    if ((e = get_u64s(d, "id_off", d->ndocs + 1, &d->id_off))) goto fail;
    if ((e = get_u64s(d, "title_off", d->ndocs + 1, &d->title_off))) goto fail;
    if ((e = get_u64s(d, "meta_off", d->ndocs + 1, &d->meta_off))) goto fail;
    if ((e = get_u64s(d, "id_hash", d->slots, &d->id_hash))) goto fail;
    if ((e = idx_file_section(d->f, "blocks", &p, &d->blocks_size))) goto fail;
    d->blocks = p;
    if ((e = get_sec(d, "ids", &p, &d->ids_size, &d->disk_ids))) goto fail;
    d->ids = p;
    if ((e = get_sec(d, "titles", &p, &d->titles_size, &d->disk_meta))) goto fail;
    d->titles = p;
    if ((e = get_sec(d, "meta", &p, &d->meta_size, &d->disk_meta))) goto fail;
    d->meta = p;
    if ((e = check_offsets(d, d->doc_start, d->ndocs, d->text_bytes, "doc_start"))) goto fail;
    if (d->doc_start[d->ndocs] != d->text_bytes) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: document offsets do not add up", idx_file_path(d->f));
        goto fail;
    }
    if ((e = check_offsets(d, d->blk_off, d->nblocks, d->blocks_size, "blk_off"))) goto fail;
    if ((e = check_offsets(d, d->id_off, d->ndocs, d->ids_size, "id_off"))) goto fail;
    if ((e = check_offsets(d, d->title_off, d->ndocs, d->titles_size, "title_off"))) goto fail;
    if ((e = check_offsets(d, d->meta_off, d->ndocs, d->meta_size, "meta_off"))) goto fail;
    for (uint64_t i = 0; i < d->slots; i++)
        if (d->id_hash[i] > d->ndocs) {
            e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: id hash entry out of range", idx_file_path(d->f));
            goto fail;
        }
    *out = d;
    return IDX_OK;
fail:
    idx_docs_close(d);
    return e;
}

static void fm_release(idx_fm *fm);

void idx_docs_close(idx_docs *d) {
    if (!d) return;
    fm_release(d->own_fm);
    pthread_mutex_destroy(&d->fm_lock);
    idx_file_close(d->f);
    for (int i = 0; i < d->nheap; i++) free(d->heap[i]);
    free(d->dir);
    free(d);
}

uint64_t idx_docs_count(const idx_docs *d) { return d->ndocs; }
uint64_t idx_docs_text_bytes(const idx_docs *d) { return d->text_bytes; }
int idx_docs_has_text(const idx_docs *d) { return d->has_text || d->text_fm; }
int idx_docs_text_source(const idx_docs *d) {
    return d->has_text ? IDX_DOCS_TEXT_STORE : d->text_fm ? IDX_DOCS_TEXT_FM : IDX_DOCS_TEXT_NONE;
}

/* The FM-index must hold exactly this store's documents. */
static idx_err fm_agrees(const idx_docs *d, const idx_fm *fm) {
    if (idx_fm_doc_count(fm) != d->ndocs || idx_fm_total_bytes(fm) != d->text_bytes)
        return idx_fail(IDX_ERR_CORRUPT, "%s: the document store and the FM-index disagree on documents or bytes",
                        d->dir);
    if (!idx_fm_has_text(fm))
        return idx_fail(IDX_ERR_CORRUPT, "%s: the document store takes its text from the FM-index, whose shards "
                        "have no inverse samples (\"isa\")", d->dir);
    return IDX_OK;
}

idx_err idx_docs_attach_fm(idx_docs *d, const idx_fm *fm) {
    if (!d->text_fm || !fm) return IDX_OK;
    idx_err e = fm_agrees(d, fm);
    if (e) return e;
    pthread_mutex_lock(&d->fm_lock);
    atomic_store(&d->fm, fm);
    pthread_mutex_unlock(&d->fm_lock);
    return IDX_OK;
}

/* FM-indexes opened for text, shared by every store of the same directory in
 * the process (the server's sparse, dense and document routes each open the
 * store; the compact layout's tree is loaded into memory once), refcounted. */
typedef struct fm_entry {
    struct fm_entry *next;
    char *key;
    idx_fm *fm;
    int refs;
} fm_entry;
static pthread_mutex_t fm_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fm_entry *fm_reg;

static idx_err fm_acquire(const char *dir, idx_fm **out) {
    /* Keyed by the directory's path and inode: an index rebuilt in place
     * (published by a rename) is a new directory and gets its own entry. */
    char *rp = realpath(dir, NULL);
    struct stat st;
    memset(&st, 0, sizeof st);
    stat(dir, &st);
    idx_buf kb = {0};
    if (idx_buf_printf(&kb, "%llu:%llu:%s", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                       rp ? rp : dir) != IDX_OK) {
        free(rp);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    free(rp);
    char *key = kb.data;
    idx_err e = IDX_OK;
    pthread_mutex_lock(&fm_reg_lock);
    fm_entry *x = fm_reg;
    while (x && strcmp(x->key, key) != 0) x = x->next;
    if (x) {
        x->refs++;
        free(key);
    } else if ((x = calloc(1, sizeof *x)) == NULL) {
        free(key);
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    } else if ((e = idx_fm_open(dir, 0, &x->fm)) != IDX_OK) {
        free(key);
        free(x);
        x = NULL;
    } else {
        x->key = key;
        x->refs = 1;
        x->next = fm_reg;
        fm_reg = x;
    }
    pthread_mutex_unlock(&fm_reg_lock);
    *out = x ? x->fm : NULL;
    return e;
}

static void fm_release(idx_fm *fm) {
    if (!fm) return;
    pthread_mutex_lock(&fm_reg_lock);
    for (fm_entry **pp = &fm_reg; *pp; pp = &(*pp)->next) {
        fm_entry *x = *pp;
        if (x->fm != fm) continue;
        if (--x->refs == 0) {
            *pp = x->next;
            idx_fm_close(x->fm);
            free(x->key);
            free(x);
        }
        break;
    }
    pthread_mutex_unlock(&fm_reg_lock);
}

/* The FM-index that holds the text, opened once on first use. */
static idx_err text_fm(const idx_docs *cd, const idx_fm **out) {
    idx_docs *d = (idx_docs *)cd; /* lazily filled; guarded by fm_lock */
    const idx_fm *fm = atomic_load(&d->fm);
    if (fm) {
        *out = fm;
        return IDX_OK;
    }
    idx_err e = IDX_OK;
    pthread_mutex_lock(&d->fm_lock);
    fm = atomic_load(&d->fm);
    if (!fm) {
        idx_fm *own = NULL;
        e = fm_acquire(d->dir, &own);
        if (!e) e = fm_agrees(d, own);
        if (e) {
            fm_release(own);
            e = idx_fail_context(e, "%s: document text", d->dir);
        } else {
            d->own_fm = own;
            fm = own;
            atomic_store(&d->fm, fm);
        }
    }
    pthread_mutex_unlock(&d->fm_lock);
    *out = fm;
    return e;
}

static idx_err check_id(const idx_docs *d, uint64_t doc_id) {
    if (doc_id >= d->ndocs)
        return idx_fail(IDX_ERR_NOT_FOUND, "no document %llu (the index has %llu)", (unsigned long long)doc_id,
                        (unsigned long long)d->ndocs);
    return IDX_OK;
}

idx_err idx_docs_len(const idx_docs *d, uint64_t doc_id, uint64_t *len) {
    idx_err e = check_id(d, doc_id);
    if (e) return e;
    *len = d->doc_start[doc_id + 1] - d->doc_start[doc_id];
    return IDX_OK;
}

/* Decompresses block b into the thread's cache. */
static idx_err load_block(const idx_docs *d, uint64_t b, const char **data, size_t *len) {
    size_t want = (size_t)((b + 1) * d->block_size <= d->text_bytes ? d->block_size : d->text_bytes - b * d->block_size);
    block_cache *c = get_cache();
    if (!c) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (c->gen == d->gen && c->block == b) {
        *data = c->buf;
        *len = want;
        return IDX_OK;
    }
    if (!c->dctx && !(c->dctx = ZSTD_createDCtx())) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (c->cap < d->block_size) {
        char *p = realloc(c->buf, (size_t)d->block_size);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        c->buf = p;
        c->cap = (size_t)d->block_size;
    }
    c->gen = 0;
    size_t n = ZSTD_decompressDCtx(c->dctx, c->buf, c->cap, d->blocks + d->blk_off[b],
                                   (size_t)(d->blk_off[b + 1] - d->blk_off[b]));
    if (ZSTD_isError(n) || n != want)
        return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: text block %llu does not decompress (%s)",
                        idx_file_path(d->f), (unsigned long long)b,
                        ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
    c->gen = d->gen;
    c->block = b;
    *data = c->buf;
    *len = n;
    return IDX_OK;
}

idx_err idx_docs_text(const idx_docs *d, uint64_t doc_id, uint64_t off, uint64_t len, idx_buf *out) {
    idx_err e = check_id(d, doc_id);
    if (e) return e;
    if (!d->has_text && d->text_fm) {
        const idx_fm *fm;
        if ((e = text_fm(d, &fm))) return e;
        return idx_fm_extract(fm, doc_id, off, len, out);
    }
    if (!d->has_text) return idx_fail(IDX_ERR_UNSUPPORTED, "this index was built without document text");
    uint64_t dl = d->doc_start[doc_id + 1] - d->doc_start[doc_id];
    if (off > dl) off = dl;
    if (len > dl - off) len = dl - off;
    uint64_t pos = d->doc_start[doc_id] + off, end = pos + len;
    if ((e = idx_buf_reserve(out, (size_t)len))) return e;
    while (pos < end) {
        uint64_t b = pos / d->block_size;
        const char *data;
        size_t blen;
        if ((e = load_block(d, b, &data, &blen))) return e;
        uint64_t in = pos - b * d->block_size;
        uint64_t take = blen - in;
        if (take > end - pos) take = end - pos;
        if ((e = idx_buf_append(out, data + in, (size_t)take))) return e;
        pos += take;
    }
    return idx_buf_append(out, "", 0);
}

idx_err idx_docs_id(const idx_docs *d, uint64_t doc_id, const char **id, size_t *len) {
    idx_err e = check_id(d, doc_id);
    if (e) return e;
    *id = d->ids + d->id_off[doc_id];
    *len = (size_t)(d->id_off[doc_id + 1] - d->id_off[doc_id]);
    return IDX_OK;
}

idx_err idx_docs_title(const idx_docs *d, uint64_t doc_id, const char **title, size_t *len) {
    idx_err e = check_id(d, doc_id);
    if (e) return e;
    *title = d->titles + d->title_off[doc_id];
    *len = (size_t)(d->title_off[doc_id + 1] - d->title_off[doc_id]);
    return IDX_OK;
}

idx_err idx_docs_meta(const idx_docs *d, uint64_t doc_id, const char **json, size_t *len) {
    idx_err e = check_id(d, doc_id);
    if (e) return e;
    *json = d->meta + d->meta_off[doc_id];
    *len = (size_t)(d->meta_off[doc_id + 1] - d->meta_off[doc_id]);
    return IDX_OK;
}

idx_err idx_docs_lookup(const idx_docs *d, const char *id, size_t len, uint64_t *doc_id) {
    uint64_t s = idx_hash64(id, len, 0) & (d->slots - 1);
    for (uint64_t probes = 0; probes < d->slots; probes++) {
        uint64_t v = d->id_hash[s];
        if (!v) break;
        uint64_t k = v - 1;
        size_t l = (size_t)(d->id_off[k + 1] - d->id_off[k]);
        if (l == len && memcmp(d->ids + d->id_off[k], id, len) == 0) {
            *doc_id = k;
            return IDX_OK;
        }
        s = (s + 1) & (d->slots - 1);
    }
    return idx_fail(IDX_ERR_NOT_FOUND, "no document with id '%.*s'", (int)(len > 200 ? 200 : len), id);
}

idx_err idx_docs_verify(const idx_docs *d) {
    idx_err e = idx_file_verify(d->f);
    if (e) return e;
    for (uint64_t b = 0; d->has_text && b < d->nblocks; b++) {
        const char *data;
        size_t len;
        if ((e = load_block(d, b, &data, &len))) return e;
    }
    for (uint64_t k = 0; k < d->ndocs; k++) {
        uint64_t got;
        if ((e = idx_docs_lookup(d, d->ids + d->id_off[k], (size_t)(d->id_off[k + 1] - d->id_off[k]), &got)))
            return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: id hash does not find document %llu",
                            idx_file_path(d->f), (unsigned long long)k);
        if (got != k)
            return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: duplicate id for documents %llu and %llu",
                            idx_file_path(d->f), (unsigned long long)got, (unsigned long long)k);
    }
    return IDX_OK;
}

void idx_docs_get_sizes(const idx_docs *d, idx_docs_sizes *s) {
    s->file_bytes = idx_file_size(d->f);
    s->text_compressed = d->blocks_size;
    s->text_raw = d->text_bytes;
    s->ids = d->disk_ids; /* bytes in the file, compressed or not */
    s->meta = d->disk_meta;
    s->offsets = d->disk_offsets;
    s->text_source = idx_docs_text_source(d);
}
