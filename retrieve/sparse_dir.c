/*
 * sparse_dir.c -- the sparse part of an index directory: opening it (the
 * segments, their delete bitmaps and document stores), building it from the
 * document store or from a corpus, adding segments, deleting documents by
 * id and merging segments.
 *
 * Layout of INDEX/sparse/:
 *   segments.json   {"format":"idx-sparse-segments","version":1,
 *                    "analyzer":{...},"next":N,"segments":[{"name":"seg-0000",
 *                    "docs":"index"|"own","doc_base":0,"ndocs":N,
 *                    "deletes":"seg-0000.del"|null}, ...]}
 *   seg-NNNN.sps    a segment (format at the top of retrieve/sparse.c)
 *   seg-NNNN.del    delete bitmap: checksummed section file, magic "IDXSPDL1",
 *                   version 1, section "bitmap" = ceil(ndocs/8) bytes, bit d
 *                   (LSB-first) set when local document d is deleted
 *   seg-NNNN/docs/  the segment's own document store when "docs" is "own"
 * "docs":"index" means local document i is document doc_base + i of
 * INDEX/docs. Every change builds a complete new sparse/ next to the old
 * one (unchanged files hard-linked), then publishes it with one rename, so a
 * reader sees either the old or the new state. manifest.json records the
 * part ("sparse": {"format":"idx-sparse","version":1,"analyzer":{...}}).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sparse_internal.h"

#define SEGMENTS_FILE "segments.json"

static char *pjoin3(const char *a, const char *b, const char *c) {
    char *ab = idx_path_join(a, b);
    if (!ab) return NULL;
    char *r = idx_path_join(ab, c);
    free(ab);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Open                                                                       */
/* ------------------------------------------------------------------------ */

void idx_sparse_close(idx_sparse *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nsegs; i++) {
        sparse_segref *r = &s->segs[i];
        idx_sparse_segment_close(r->seg);
        idx_file_close(r->delf);
        if (r->own_docs) idx_docs_close(r->docs);
        free(r->name);
    }
    free(s->segs);
    idx_docs_close(s->main_docs);
    free(s->dir);
    free(s);
}

static idx_err load_segments_json(const char *sparse_dir, json_t **out) {
    char *path = idx_path_join(sparse_dir, SEGMENTS_FILE);
    if (!path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_buf b = {0};
    idx_err e = idx_read_file(path, 64u << 20, &b);
    if (e) {
        free(path);
        return e;
    }
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    idx_buf_free(&b);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        e = idx_fail(IDX_ERR_CORRUPT, "%s: not a segments list (%s)", path, j ? "not an object" : je.text);
        free(path);
        return e;
    }
    free(path);
    *out = j;
    return IDX_OK;
}

idx_err idx_sparse_open(const char *index_dir, unsigned flags, idx_sparse **out) {
    idx_sparse *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    json_t *j = NULL;
    char *sdir = idx_path_join(index_dir, "sparse");
    s->dir = strdup(index_dir);
    idx_err e = IDX_OK;
    if (!sdir || !s->dir) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
    struct stat sb;
    if (stat(sdir, &sb) != 0) {
        e = idx_fail(IDX_ERR_NOT_FOUND, "%s has no sparse index (build one with `idx index-sparse`)", index_dir);
        goto fail;
    }
    if ((e = load_segments_json(sdir, &j))) goto fail;
    json_t *fmt = json_object_get(j, "format"), *ver = json_object_get(j, "version");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "idx-sparse-segments") || !json_is_integer(ver)) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s/segments.json: not an idx sparse segment list", sdir);
        goto fail;
    }
    if (json_integer_value(ver) > 1) {
        e = idx_fail(IDX_ERR_VERSION, "%s/segments.json: version %lld is newer than this program", sdir,
                     (long long)json_integer_value(ver));
        goto fail;
    }
    if ((e = idx_text_config_from_json(json_object_get(j, "analyzer"), &s->cfg))) {
        e = idx_fail_context(e, "%s/segments.json", sdir);
        goto fail;
    }
    json_t *next = json_object_get(j, "next"), *segs = json_object_get(j, "segments");
    if (!json_is_integer(next) || json_integer_value(next) < 0 || !json_is_array(segs) ||
        json_array_size(segs) > 100000) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s/segments.json: bad 'next' or 'segments'", sdir);
        goto fail;
    }
    s->next_seg = (uint64_t)json_integer_value(next);
    size_t n = json_array_size(segs);
    s->segs = calloc(n ? n : 1, sizeof *s->segs);
    if (!s->segs) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(segs, i);
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *docs = json_string_value(json_object_get(o, "docs"));
        json_t *base = json_object_get(o, "doc_base"), *nd = json_object_get(o, "ndocs");
        json_t *del = json_object_get(o, "deletes");
        if (!name || !docs || strchr(name, '/') || name[0] == '.' || !json_is_integer(base) ||
            !json_is_integer(nd) || json_integer_value(base) < 0 || json_integer_value(nd) < 0 ||
            (del && !json_is_null(del) && (!json_is_string(del) || strchr(json_string_value(del), '/')))) {
            e = idx_fail(IDX_ERR_CORRUPT, "%s/segments.json: segment %zu is malformed", sdir, i);
            goto fail;
        }
        sparse_segref *r = &s->segs[s->nsegs++];
        r->name = strdup(name);
        r->doc_base = (uint64_t)json_integer_value(base);
        char fname[300];
        snprintf(fname, sizeof fname, "%s.sps", name);
        char *path = idx_path_join(sdir, fname);
        if (!r->name || !path) { free(path); e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
        e = idx_sparse_segment_open(path, flags, &r->seg);
        free(path);
        if (e) goto fail;
        uint64_t sd = r->seg->meta.ndocs;
        if (sd != (uint64_t)json_integer_value(nd)) {
            e = idx_fail(IDX_ERR_CORRUPT, "%s/segments.json: segment %s has %llu documents, the list says %lld", sdir,
                         name, (unsigned long long)sd, (long long)json_integer_value(nd));
            goto fail;
        }
        idx_text_config sc;
        json_error_t je;
        json_t *aj = json_loads(r->seg->analyzer_json, 0, &je);
        e = aj ? idx_text_config_from_json(aj, &sc) : idx_fail(IDX_ERR_CORRUPT, "bad analyzer JSON");
        json_decref(aj);
        if (e || memcmp(&sc, &s->cfg, sizeof sc)) {
            e = idx_fail(IDX_ERR_CORRUPT, "%s: segment %s was analysed differently from the index", sdir, name);
            goto fail;
        }
        if (!strcmp(docs, "index")) {
            if (!s->main_docs && (e = idx_docs_open(index_dir, flags, &s->main_docs))) goto fail;
            r->docs = s->main_docs;
            if (r->doc_base > idx_docs_count(r->docs) || sd > idx_docs_count(r->docs) - r->doc_base) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: segment %s names documents beyond the document store", sdir, name);
                goto fail;
            }
        } else if (!strcmp(docs, "own")) {
            char *d = idx_path_join(sdir, name);
            if (!d) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
            e = idx_docs_open(d, flags, &r->docs);
            free(d);
            if (e) goto fail;
            r->own_docs = 1;
            if (idx_docs_count(r->docs) != sd || r->doc_base != 0) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: segment %s and its document store disagree", sdir, name);
                goto fail;
            }
        } else {
            e = idx_fail(IDX_ERR_CORRUPT, "%s/segments.json: segment %s: unknown docs '%s'", sdir, name, docs);
            goto fail;
        }
        if (json_is_string(del)) {
            char *dp = idx_path_join(sdir, json_string_value(del));
            if (!dp) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
            e = idx_file_open(dp, SPARSE_DEL_MAGIC, SPARSE_DEL_VERSION, IDX_FILE_VERIFY, &r->delf);
            free(dp);
            if (e) goto fail;
            const void *p;
            uint64_t sz;
            if ((e = idx_file_section(r->delf, "bitmap", &p, &sz))) goto fail;
            if (sz != (sd + 7) / 8) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: section bitmap: wrong size", idx_file_path(r->delf));
                goto fail;
            }
            r->deleted = p;
            for (uint64_t d = 0; d < sd; d++) r->ndeleted += sparse_is_deleted(r, d);
        }
        s->ndocs += sd;
        s->total_len += r->seg->meta.total_len;
        s->ndeleted += r->ndeleted;
    }
    json_decref(j);
    free(sdir);
    *out = s;
    return IDX_OK;
fail:
    json_decref(j);
    free(sdir);
    idx_sparse_close(s);
    return e;
}

const idx_text_config *idx_sparse_config(const idx_sparse *s) { return &s->cfg; }
size_t idx_sparse_segment_count(const idx_sparse *s) { return s->nsegs; }
uint64_t idx_sparse_doc_count(const idx_sparse *s) { return s->ndocs; }
uint64_t idx_sparse_live_count(const idx_sparse *s) { return s->ndocs - s->ndeleted; }
uint64_t idx_sparse_bytes(const idx_sparse *s) {
    char *d = idx_path_join(s->dir, "sparse");
    uint64_t n = d ? idx_du(d) : 0;
    free(d);
    return n;
}
const idx_docs *idx_sparse_segment_store(const idx_sparse *s, uint32_t segment) {
    return segment < s->nsegs ? s->segs[segment].docs : NULL;
}

idx_err idx_sparse_lookup(const idx_sparse *s, const char *id, size_t len, int *found, uint32_t *segment,
                          uint64_t *doc) {
    *found = 0;
    for (size_t i = s->nsegs; i-- > 0;) {
        const sparse_segref *r = &s->segs[i];
        uint64_t d;
        idx_err e = idx_docs_lookup(r->docs, id, len, &d);
        if (e == IDX_ERR_NOT_FOUND) { idx_errclear(); continue; }
        if (e) return e;
        if (d < r->doc_base || d - r->doc_base >= r->seg->meta.ndocs) continue;
        if (sparse_is_deleted(r, d - r->doc_base)) continue;
        *found = 1;
        *segment = (uint32_t)i;
        *doc = d;
        return IDX_OK;
    }
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                    */
/* ------------------------------------------------------------------------ */

/* Hard-links (or copies) every file of src into dst recursively, skipping
 * names in `skip`. */
static idx_err link_tree(const char *src, const char *dst, const char *const *skip, size_t nskip) {
    DIR *d = opendir(src);
    if (!d) return idx_fail(IDX_ERR_IO, "%s: %s", src, strerror(errno));
    idx_err e = IDX_OK;
    struct dirent *de;
    while (!e && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int sk = 0;
        for (size_t i = 0; i < nskip; i++)
            if (!strcmp(skip[i], de->d_name)) sk = 1;
        if (sk) continue;
        char *a = idx_path_join(src, de->d_name), *b = idx_path_join(dst, de->d_name);
        struct stat st;
        if (!a || !b) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        else if (lstat(a, &st) != 0) e = idx_fail(IDX_ERR_IO, "%s: %s", a, strerror(errno));
        else if (S_ISDIR(st.st_mode)) {
            if (mkdir(b, 0755) != 0) e = idx_fail(IDX_ERR_IO, "%s: %s", b, strerror(errno));
            else e = link_tree(a, b, NULL, 0);
        } else if (S_ISREG(st.st_mode) && link(a, b) != 0) {
            e = idx_fail(IDX_ERR_IO, "link %s -> %s: %s", a, b, strerror(errno));
        }
        free(a);
        free(b);
    }
    closedir(d);
    return e;
}

static idx_err save_json_file(const char *dir, const char *name, json_t *j) {
    char *path = idx_path_join(dir, name);
    if (!path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = IDX_OK;
    if (json_dump_file(j, path, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
        e = idx_fail(IDX_ERR_IO, "%s: cannot write", path);
    free(path);
    return e;
}

static json_t *seg_entry(const char *name, const char *docs, uint64_t base, uint64_t ndocs, const char *del) {
    return json_pack("{s:s,s:s,s:I,s:I,s:s?}", "name", name, "docs", docs, "doc_base", (json_int_t)base, "ndocs",
                     (json_int_t)ndocs, "deletes", del);
}

static json_t *new_segments_json(const idx_text_config *cfg, uint64_t next) {
    json_t *aj;
    if (idx_text_config_to_json(cfg, &aj)) return NULL;
    return json_pack("{s:s,s:i,s:o,s:I,s:[]}", "format", "idx-sparse-segments", "version", 1, "analyzer", aj,
                     "next", (json_int_t)next, "segments");
}

/* Records the sparse part in INDEX/manifest.json (creating one if absent). */
static idx_err record_manifest(const char *index_dir, const idx_text_config *cfg, int creating_manifest) {
    json_t *m = NULL;
    idx_err e = creating_manifest ? IDX_OK : idx_manifest_load(index_dir, &m);
    if (e) return e;
    if (!m) m = idx_manifest_new();
    json_t *aj = NULL;
    if (!m || (e = idx_text_config_to_json(cfg, &aj))) {
        json_decref(m);
        return e ? e : idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    json_t *parts = json_object_get(m, "parts");
    if (!json_is_object(parts)) {
        parts = json_object();
        json_object_set_new(m, "parts", parts);
    }
    json_object_set_new(parts, "sparse",
                        json_pack("{s:s,s:i,s:s,s:o}", "format", "idx-sparse", "version", 1, "dir", "sparse",
                                  "analyzer", aj));
    e = idx_manifest_save(index_dir, m);
    json_decref(m);
    return e;
}

static idx_err write_seg_file(idx_sparse_builder *b, const char *dir, const char *name) {
    char fname[300];
    snprintf(fname, sizeof fname, "%s.sps", name);
    char *p = idx_path_join(dir, fname);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = idx_sparse_builder_write(b, p);
    free(p);
    return e;
}


/* Collects documents into segments of dir: a new segment starts whenever the
 * builder holds more than `budget` bytes (0 = never), each reading its
 * documents from the index's store at doc_base. */
typedef struct {
    idx_text_config cfg;
    idx_sparse_builder *b;
    const char *dir;
    json_t *sj;
    uint64_t base, budget;
    unsigned next;
} seg_sink;

static idx_err sink_init(seg_sink *k, const idx_text_config *cfg, const char *dir, uint64_t budget) {
    memset(k, 0, sizeof *k);
    k->cfg = *cfg;
    k->dir = dir;
    k->budget = budget;
    k->sj = new_segments_json(cfg, 0);
    if (!k->sj) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    return idx_sparse_builder_new(cfg, &k->b);
}

static idx_err sink_flush(seg_sink *k) {
    uint64_t n = idx_sparse_builder_count(k->b);
    if (n == 0) return IDX_OK;
    char name[32];
    snprintf(name, sizeof name, "seg-%04u", k->next);
    idx_err e = write_seg_file(k->b, k->dir, name);
    if (e) return e;
    json_t *ent = seg_entry(name, "index", k->base, n, NULL);
    if (!ent || json_array_append_new(json_object_get(k->sj, "segments"), ent))
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    k->base += n;
    k->next++;
    json_object_set_new(k->sj, "next", json_integer(k->next));
    idx_sparse_builder_free(k->b);
    k->b = NULL;
    return idx_sparse_builder_new(&k->cfg, &k->b);
}

static idx_err sink_add(seg_sink *k, const char *title, size_t tl, const char *text, size_t len) {
    idx_err e = idx_sparse_builder_add(k->b, title, tl, text, len);
    if (!e && k->budget && idx_sparse_builder_memory(k->b) > k->budget) e = sink_flush(k);
    return e;
}

static void sink_free(seg_sink *k) {
    idx_sparse_builder_free(k->b);
    json_decref(k->sj);
}

/* Reads one document of a store into the builder. */
static idx_err add_from_store(seg_sink *k, const idx_docs *d, uint64_t id, idx_buf *text) {
    const char *title;
    size_t tl;
    uint64_t len;
    idx_err e = idx_docs_title(d, id, &title, &tl);
    if (!e) e = idx_docs_len(d, id, &len);
    if (e) return e;
    text->len = 0;
    if ((e = idx_docs_text(d, id, 0, len, text))) return e;
    return sink_add(k, title, tl, text->data ? text->data : "", text->len);
}

idx_err idx_sparse_build_from_store(const char *index_dir, const idx_text_config *cfg, int replace,
                                    uint64_t memory, idx_progress *prog) {
    idx_docs *d = NULL;
    seg_sink k;
    int sink_ok = 0;
    char *sdir = idx_path_join(index_dir, "sparse"), *tmp = NULL;
    idx_buf text = {0};
    idx_err e = sdir ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
    struct stat st;
    if (!e && !replace && stat(sdir, &st) == 0)
        e = idx_fail(IDX_ERR_EXISTS, "%s already exists (use --force to rebuild it)", sdir);
    if (!e) e = idx_docs_open(index_dir, 0, &d);
    if (!e && !idx_docs_has_text(d))
        e = idx_fail(IDX_ERR_UNSUPPORTED, "%s: the document store keeps no text to index", index_dir);
    if (!e) e = idx_dir_make_tmp(sdir, &tmp);
    if (!e) { e = sink_init(&k, cfg, tmp, memory ? memory : IDX_SPARSE_BUILD_MEMORY); sink_ok = 1; }
    uint64_t n = e ? 0 : idx_docs_count(d);
    for (uint64_t i = 0; !e && i < n; i++) {
        e = add_from_store(&k, d, i, &text);
        if (!e && prog) e = idx_progress_tick(prog, "index-sparse", i + 1, n, "docs", i + 1 == n);
    }
    if (!e && n == 0) e = idx_fail(IDX_ERR_EMPTY, "%s: the document store is empty", index_dir);
    if (!e) e = sink_flush(&k);
    if (!e) e = save_json_file(tmp, SEGMENTS_FILE, k.sj);
    if (!e) e = idx_dir_publish(tmp, sdir, replace);
    if (e && tmp) idx_rmtree(tmp);
    if (!e) e = record_manifest(index_dir, cfg, 0);
    idx_buf_free(&text);
    if (sink_ok) sink_free(&k);
    idx_docs_close(d);
    free(tmp);
    free(sdir);
    return e;
}

/* Copies the corpus into a document store at docs_part_dir and a segment
 * builder; check (may be NULL) rejects ids already live elsewhere. */
static idx_err ingest_corpus(const char *const *paths, size_t npaths, const idx_corpus_opts *copts,
                             const char *docs_part_dir, idx_sparse_builder *b, seg_sink *k,
                             const idx_sparse *check, idx_progress *prog, uint64_t *count,
                             uint64_t *text_bytes) {
    idx_corpus *c = NULL;
    idx_docs_writer *w = NULL;
    idx_err e = idx_corpus_open(paths, npaths, copts, &c);
    if (!e) e = idx_docs_writer_open(docs_part_dir, NULL, &w);
    uint64_t n = 0;
    while (!e) {
        idx_doc doc;
        int got = 0;
        if ((e = idx_corpus_next(c, &doc, &got)) || !got) break;
        if (check) {
            int found;
            uint32_t sg;
            uint64_t dd;
            if ((e = idx_sparse_lookup(check, doc.id, strlen(doc.id), &found, &sg, &dd))) break;
            if (found) {
                e = idx_fail(IDX_ERR_PARSE, "%s:%llu: document id '%s' is already in the index", doc.source,
                             (unsigned long long)doc.line, doc.id);
                break;
            }
        }
        if ((e = idx_docs_writer_add(w, &doc, NULL))) break;
        if (k) e = sink_add(k, doc.title, strlen(doc.title), doc.text, doc.text_len);
        else e = idx_sparse_builder_add(b, doc.title, strlen(doc.title), doc.text, doc.text_len);
        if (e) break;
        n++;
        if (prog) {
            idx_corpus_stats cs;
            idx_corpus_get_stats(c, &cs);
            e = idx_progress_tick(prog, "index-sparse", cs.bytes_in, cs.bytes_total, "B", 0);
        }
    }
    if (!e && n == 0) e = idx_fail(IDX_ERR_EMPTY, "the corpus has no documents");
    if (!e) {
        e = idx_docs_writer_commit(w);
        w = NULL;
    }
    idx_docs_writer_abort(w);
    if (text_bytes && c) {
        idx_corpus_stats cs;
        idx_corpus_get_stats(c, &cs);
        *text_bytes = cs.text_bytes;
    }
    idx_corpus_close(c);
    *count = n;
    return e;
}

idx_err idx_sparse_build_from_corpus(const char *index_dir, const char *const *paths, size_t npaths,
                                     const idx_corpus_opts *copts, const idx_text_config *cfg, int replace,
                                     uint64_t memory, idx_progress *prog) {
    char *tmp = NULL, *docs_dir = NULL, *sdir = NULL;
    seg_sink k;
    int sink_ok = 0;
    struct stat st;
    idx_err e = IDX_OK;
    if (!replace && stat(index_dir, &st) == 0)
        return idx_fail(IDX_ERR_EXISTS, "%s already exists (use --force to replace it)", index_dir);
    if ((e = idx_dir_make_tmp(index_dir, &tmp))) goto out;
    docs_dir = idx_path_join(tmp, "docs");
    sdir = idx_path_join(tmp, "sparse");
    if (!docs_dir || !sdir) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    if ((e = idx_mkdirs(docs_dir)) || (e = idx_mkdirs(sdir))) goto out;
    sink_ok = 1;
    if ((e = sink_init(&k, cfg, sdir, memory ? memory : IDX_SPARSE_BUILD_MEMORY))) goto out;
    uint64_t n, tbytes = 0;
    if ((e = ingest_corpus(paths, npaths, copts, docs_dir, NULL, &k, NULL, prog, &n, &tbytes))) goto out;
    if ((e = sink_flush(&k))) goto out;
    if ((e = save_json_file(sdir, SEGMENTS_FILE, k.sj))) goto out;
    json_t *m = idx_manifest_new();
    if (!m) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    json_t *parts = json_object_get(m, "parts");
    if (!json_is_object(parts)) {
        parts = json_object();
        json_object_set_new(m, "parts", parts);
    }
    /* the same record `idx build` writes for its document store */
    json_object_set_new(parts, "docs", json_pack("{s:i,s:s,s:I,s:I}", "version", 1, "file", "docs/docs.idx", "docs",
                                                 (json_int_t)n, "text_bytes", (json_int_t)tbytes));
    e = idx_manifest_save(tmp, m);
    json_decref(m);
    if (e) goto out;
    if ((e = record_manifest(tmp, cfg, 0))) goto out;
    e = idx_dir_publish(tmp, index_dir, replace);
out:
    if (e && tmp) idx_rmtree(tmp);
    if (sink_ok) sink_free(&k);
    free(tmp);
    free(docs_dir);
    free(sdir);
    return e;
}

/* Writes the segment list of s (with changes) into dir. segs_json entries
 * are built by the caller. */
static json_t *segments_of(const idx_sparse *s, uint64_t next) {
    json_t *sj = new_segments_json(&s->cfg, next);
    if (!sj) return NULL;
    json_t *arr = json_object_get(sj, "segments");
    for (size_t i = 0; i < s->nsegs; i++) {
        const sparse_segref *r = &s->segs[i];
        char del[300];
        snprintf(del, sizeof del, "%s.del", r->name);
        if (json_array_append_new(arr, seg_entry(r->name, r->own_docs ? "own" : "index", r->doc_base,
                                                 r->seg->meta.ndocs, r->delf ? del : NULL))) {
            json_decref(sj);
            return NULL;
        }
    }
    return sj;
}

idx_err idx_sparse_add(const char *index_dir, const char *const *paths, size_t npaths, const idx_corpus_opts *copts,
                       idx_progress *prog, uint64_t *added) {
    idx_sparse *s = NULL;
    idx_sparse_builder *b = NULL;
    char *sdir = idx_path_join(index_dir, "sparse"), *tmp = NULL, *docs_dir = NULL;
    json_t *sj = NULL;
    idx_err e = sdir ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = idx_sparse_open(index_dir, 0, &s);
    if (!e) e = idx_sparse_builder_new(&s->cfg, &b);
    if (!e) e = idx_dir_make_tmp(sdir, &tmp);
    if (!e) e = link_tree(sdir, tmp, NULL, 0);
    char name[64];
    snprintf(name, sizeof name, "seg-%04llu", s ? (unsigned long long)s->next_seg : 0ULL);
    if (!e) {
        docs_dir = pjoin3(tmp, name, "docs");
        if (!docs_dir) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    if (!e) e = idx_mkdirs(docs_dir);
    uint64_t n = 0;
    if (!e) e = ingest_corpus(paths, npaths, copts, docs_dir, b, NULL, s, prog, &n, NULL);
    if (!e) e = write_seg_file(b, tmp, name);
    if (!e) {
        sj = segments_of(s, s->next_seg + 1);
        if (!sj || json_array_append_new(json_object_get(sj, "segments"), seg_entry(name, "own", 0, n, NULL)))
            e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    if (!e) e = save_json_file(tmp, SEGMENTS_FILE, sj);
    idx_sparse_close(s);
    s = NULL;
    if (!e) e = idx_dir_publish(tmp, sdir, 1);
    if (e && tmp) idx_rmtree(tmp);
    if (added) *added = e ? 0 : n;
    json_decref(sj);
    idx_sparse_builder_free(b);
    free(tmp);
    free(docs_dir);
    free(sdir);
    return e;
}

static idx_err write_bitmap(const char *dir, const char *name, const uint8_t *bits, size_t nbytes) {
    char *p = idx_path_join(dir, name);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_file_writer *w = NULL;
    idx_err e = idx_file_create(p, SPARSE_DEL_MAGIC, SPARSE_DEL_VERSION, &w);
    if (!e) e = idx_file_put_section(w, "bitmap", bits, nbytes);
    if (!e) { e = idx_file_commit(w); w = NULL; }
    idx_file_abort(w);
    free(p);
    return e;
}

idx_err idx_sparse_delete(const char *index_dir, const char *const *ids, size_t nids, uint64_t *deleted,
                          uint64_t *missing) {
    idx_sparse *s = NULL;
    uint8_t **maps = NULL;
    char *sdir = idx_path_join(index_dir, "sparse"), *tmp = NULL;
    char **skip = NULL;
    json_t *sj = NULL;
    size_t nsegs = 0, nskip = 0;
    *deleted = *missing = 0;
    idx_err e = sdir ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = idx_sparse_open(index_dir, 0, &s);
    if (!e) nsegs = s->nsegs;
    if (!e && (!(maps = calloc(s->nsegs ? s->nsegs : 1, sizeof *maps)) ||
               !(skip = calloc(s->nsegs ? s->nsegs : 1, sizeof *skip))))
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !e && i < nids; i++) {
        int found;
        uint32_t sg;
        uint64_t d;
        if ((e = idx_sparse_lookup(s, ids[i], strlen(ids[i]), &found, &sg, &d))) break;
        if (!found) { (*missing)++; continue; }
        sparse_segref *r = &s->segs[sg];
        uint64_t local = d - r->doc_base, nb = (r->seg->meta.ndocs + 7) / 8;
        if (!maps[sg]) {
            if (!(maps[sg] = calloc(nb ? nb : 1, 1))) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
            if (r->deleted) memcpy(maps[sg], r->deleted, nb);
        }
        if (!((maps[sg][local >> 3] >> (local & 7)) & 1)) {
            maps[sg][local >> 3] |= (uint8_t)(1u << (local & 7));
            (*deleted)++;
        }
    }
    if (!e && *deleted == 0) goto out; /* nothing changes */
    for (size_t i = 0; !e && i < s->nsegs; i++) {
        if (!maps[i]) continue;
        char del[300];
        snprintf(del, sizeof del, "%s.del", s->segs[i].name);
        if (!(skip[nskip++] = strdup(del))) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    if (!e) e = idx_dir_make_tmp(sdir, &tmp);
    if (!e) e = link_tree(sdir, tmp, (const char *const *)skip, nskip);
    for (size_t i = 0; !e && i < s->nsegs; i++) {
        if (!maps[i]) continue;
        char del[300];
        snprintf(del, sizeof del, "%s.del", s->segs[i].name);
        e = write_bitmap(tmp, del, maps[i], (s->segs[i].seg->meta.ndocs + 7) / 8);
        if (!e && !s->segs[i].delf) s->segs[i].delf = (idx_file *)1; /* marks "has deletes" for segments_of */
    }
    if (!e) {
        sj = segments_of(s, s->next_seg);
        if (!sj) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; s && i < s->nsegs; i++)
        if (s->segs[i].delf == (idx_file *)1) s->segs[i].delf = NULL;
    if (!e) e = save_json_file(tmp, SEGMENTS_FILE, sj);
    idx_sparse_close(s);
    s = NULL;
    if (!e) e = idx_dir_publish(tmp, sdir, 1);
    if (e && tmp) idx_rmtree(tmp);
out:
    for (size_t i = 0; maps && i < nsegs; i++) free(maps[i]);
    for (size_t i = 0; skip && i < nskip; i++) free(skip[i]);
    idx_sparse_close(s);
    json_decref(sj);
    free(maps);
    free(skip);
    free(tmp);
    free(sdir);
    return e;
}

idx_err idx_sparse_merge(const char *index_dir, idx_progress *prog) {
    idx_sparse *s = NULL;
    idx_sparse_builder *b = NULL;
    idx_docs_writer *w = NULL;
    char *sdir = idx_path_join(index_dir, "sparse"), *tmp = NULL, *docs_dir = NULL;
    json_t *sj = NULL;
    idx_buf text = {0}, idb = {0}, tb = {0}, mb = {0};
    idx_err e = sdir ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = idx_sparse_open(index_dir, 0, &s);
    if (!e) e = idx_sparse_builder_new(&s->cfg, &b);
    if (!e) e = idx_dir_make_tmp(sdir, &tmp);
    char name[64];
    snprintf(name, sizeof name, "seg-%04llu", s ? (unsigned long long)s->next_seg : 0ULL);
    if (!e && !(docs_dir = pjoin3(tmp, name, "docs"))) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!e) e = idx_mkdirs(docs_dir);
    if (!e) e = idx_docs_writer_open(docs_dir, NULL, &w);
    uint64_t n = 0, total = s ? s->ndocs : 0, done = 0;
    for (size_t g = 0; !e && g < s->nsegs; g++) {
        sparse_segref *r = &s->segs[g];
        for (uint64_t l = 0; !e && l < r->seg->meta.ndocs; l++, done++) {
            if (sparse_is_deleted(r, l)) continue;
            uint64_t d = r->doc_base + l, len;
            const char *id, *title, *meta;
            size_t il, tl, ml;
            if ((e = idx_docs_id(r->docs, d, &id, &il)) || (e = idx_docs_title(r->docs, d, &title, &tl)) ||
                (e = idx_docs_meta(r->docs, d, &meta, &ml)) || (e = idx_docs_len(r->docs, d, &len)))
                break;
            text.len = idb.len = tb.len = mb.len = 0;
            if ((e = idx_docs_text(r->docs, d, 0, len, &text)) || (e = idx_buf_append(&idb, id, il)) ||
                (e = idx_buf_append(&idb, "", 1)) || (e = idx_buf_append(&tb, title, tl)) ||
                (e = idx_buf_append(&tb, "", 1)) || (e = idx_buf_append(&mb, meta, ml)) ||
                (e = idx_buf_append(&mb, "", 1)))
                break;
            idx_doc doc = {text.data ? text.data : "", text.len, idb.data, tb.data, mb.data, ml, "merge", 0};
            if ((e = idx_docs_writer_add(w, &doc, NULL))) break;
            if ((e = idx_sparse_builder_add(b, tb.data, tl, doc.text, doc.text_len))) break;
            n++;
            if (prog) e = idx_progress_tick(prog, "merge", done + 1, total, "docs", 0);
        }
    }
    if (!e && n == 0) e = idx_fail(IDX_ERR_EMPTY, "every document is deleted; nothing to merge");
    if (!e) { e = idx_docs_writer_commit(w); w = NULL; }
    if (!e) e = write_seg_file(b, tmp, name);
    if (!e) {
        sj = new_segments_json(&s->cfg, s->next_seg + 1);
        if (!sj || json_array_append_new(json_object_get(sj, "segments"), seg_entry(name, "own", 0, n, NULL)))
            e = idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    if (!e) e = save_json_file(tmp, SEGMENTS_FILE, sj);
    idx_sparse_close(s);
    s = NULL;
    if (!e) e = idx_dir_publish(tmp, sdir, 1);
    if (e && tmp) idx_rmtree(tmp);
    idx_docs_writer_abort(w);
    idx_sparse_close(s);
    idx_sparse_builder_free(b);
    json_decref(sj);
    idx_buf_free(&text);
    idx_buf_free(&idb);
    idx_buf_free(&tb);
    idx_buf_free(&mb);
    free(tmp);
    free(docs_dir);
    free(sdir);
    return e;
}
