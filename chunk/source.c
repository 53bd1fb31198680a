/*
 * source.c -- chunks as documents, for `idx build --chunker`: a document
 * source that wraps a corpus reader, chunks every document with one chunker
 * and yields each chunk as a document of its own, so the existing builders
 * (document store, FM-index, and through the store the sparse index) index
 * chunks without knowing about chunking. It remembers every chunk's document
 * and span, and at the end writes the chunk map part (INDEX/chunks/chunks.idx,
 * format in chunkmap.c) and the manifest part "chunks":
 *   {"version":1, "file":"chunks/chunks.idx", "chunks":C, "docs":D,
 *    "chunker":"<description>"}
 * Index document ids are then chunk ids (0..C-1, in order); the chunk map
 * gives each one's source document ordinal (0..D-1, counting only documents
 * that gave a chunk, i.e. non-empty ones) and byte span.
 *
 * A chunk document: id "<document id>#<chunk number>", the document's title,
 * text = the document bytes [start, end), metadata JSON
 *   {"doc":"<document id>","doc_ord":N,"chunk":k,"start":S,"end":E
 *    [,"heading":"A > B"]}
 * and the document's source file and line.
 */
#include <string.h>

#include "chunk_internal.h"

struct idx_chunk_source {
    idx_chunk_opts opts;
    char *desc;
    idx_chunk_list cur;     /* chunks of the current document */
    size_t next;            /* next chunk of cur to yield */
    idx_buf text, id, title, source, cid, meta; /* copies of the current document */
    uint64_t line, ndocs;
    idx_chunk_list all;     /* every chunk, in order */
    uint64_t *doc_of;       /* document ordinal of every chunk */
    size_t doc_cap;
    idx_err (*check)(void *ud, const idx_doc *d);
    void *check_ud;
};

void idx_chunk_source_set_check(idx_chunk_source *s, idx_err (*check)(void *ud, const idx_doc *d), void *ud) {
    s->check = check;
    s->check_ud = ud;
}

idx_err idx_chunk_source_new(const idx_chunk_opts *o, const char *desc, idx_chunk_source **out) {
    idx_chunk_source *s = calloc(1, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "chunk source: out of memory");
    s->opts = *o;
    s->desc = strdup(desc ? desc : "");
    if (!s->desc) {
        free(s);
        return idx_fail(IDX_ERR_NOMEM, "chunk source: out of memory");
    }
    *out = s;
    return IDX_OK;
}

void idx_chunk_source_free(idx_chunk_source *s) {
    if (!s) return;
    free(s->desc);
    idx_chunk_list_free(&s->cur);
    idx_chunk_list_free(&s->all);
    idx_buf_free(&s->text);
    idx_buf_free(&s->id);
    idx_buf_free(&s->title);
    idx_buf_free(&s->source);
    idx_buf_free(&s->cid);
    idx_buf_free(&s->meta);
    free(s->doc_of);
    free(s);
}

uint64_t idx_chunk_source_count(const idx_chunk_source *s) { return s ? s->all.n : 0; }

static idx_err set_str(idx_buf *b, const char *p, size_t n) {
    b->len = 0;
    idx_err e = idx_buf_append(b, p, n);
    if (!e) e = idx_buf_append(b, "", 1); /* NUL */
    return e;
}

idx_err idx_chunk_source_next(void *ud, idx_corpus *c, idx_doc *doc, int *got) {
    idx_chunk_source *s = ud;
    idx_err e;
    *got = 0;
    while (s->next >= s->cur.n) {
        idx_doc d;
        int g;
        if ((e = idx_corpus_next(c, &d, &g))) return e;
        if (!g) return IDX_OK;
        idx_chunk_list_clear(&s->cur);
        s->next = 0;
        if (s->check && (e = s->check(s->check_ud, &d))) return e;
        if ((e = idx_chunk_text(&s->opts, d.text, d.text_len, &s->cur)))
            return idx_fail_context(e, "%s:%llu (document %s)", d.source, (unsigned long long)d.line, d.id);
        if (s->cur.n == 0) continue;
        if ((e = set_str(&s->text, d.text, d.text_len)) || (e = set_str(&s->id, d.id, strlen(d.id))) ||
            (e = set_str(&s->title, d.title, strlen(d.title))) ||
            (e = set_str(&s->source, d.source, strlen(d.source))))
            return e;
        s->line = d.line;
        s->ndocs++;
    }
    const idx_chunk_span *sp = &s->cur.spans[s->next];
    uint64_t ord = s->ndocs - 1;
    /* remember it for the chunk map */
    if (s->all.n == s->doc_cap) {
        size_t nc = s->doc_cap ? s->doc_cap * 2 : 1024;
        if ((e = idx_xrealloc(&s->doc_of, nc * sizeof *s->doc_of))) return e;
        s->doc_cap = nc;
    }
    const char *head = sp->head_len ? s->cur.heads.data + sp->head_off : NULL;
    if ((e = idx_chunk_list_push(&s->all, s->text.data, sp->start, sp->end, head, sp->head_len))) return e;
    s->doc_of[s->all.n - 1] = ord;
    /* the chunk as a document */
    char num[32];
    int nl = snprintf(num, sizeof num, "#%zu", s->next);
    s->cid.len = 0;
    if ((e = idx_buf_append(&s->cid, s->id.data, s->id.len - 1)) || (e = idx_buf_append(&s->cid, num, (size_t)nl + 1)))
        return e;
    json_t *m = json_pack("{s:s, s:I, s:I, s:I, s:I}", "doc", s->id.data, "doc_ord", (json_int_t)ord, "chunk",
                          (json_int_t)s->next, "start", (json_int_t)sp->start, "end", (json_int_t)sp->end);
    if (m && head) {
        json_t *h = json_stringn(head, sp->head_len); /* NULL if not UTF-8: left out */
        if (h) json_object_set_new(m, "heading", h);
    }
    char *js = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!js) return idx_fail(IDX_ERR_INVALID, "%s:%llu: cannot encode the chunk metadata of document %s (id not UTF-8?)",
                             s->source.data, (unsigned long long)s->line, s->id.data);
    e = set_str(&s->meta, js, strlen(js));
    free(js);
    if (e) return e;
    memset(doc, 0, sizeof *doc);
    doc->text = s->text.data + sp->start;
    doc->text_len = (size_t)(sp->end - sp->start);
    doc->id = s->cid.data;
    doc->title = s->title.data;
    doc->meta_json = s->meta.data;
    doc->meta_len = s->meta.len - 1;
    doc->source = s->source.data;
    doc->line = s->line;
    s->next++;
    *got = 1;
    return IDX_OK;
}

idx_err idx_chunk_source_finish(void *ud, const char *tmp_dir, json_t *manifest) {
    idx_chunk_source *s = ud;
    char *dir = idx_path_join(tmp_dir, "chunks");
    if (!dir) return idx_fail(IDX_ERR_NOMEM, "chunk source: out of memory");
    idx_chunkmap_writer *w = NULL;
    idx_err e = idx_mkdirs(dir);
    if (!e) e = idx_chunkmap_writer_open(dir, s->desc, &w);
    for (size_t i = 0; !e && i < s->all.n;) {
        size_t j = i;
        while (j < s->all.n && s->doc_of[j] == s->doc_of[i]) j++;
        /* a view of the document's chunks (heading offsets into all.heads) */
        idx_chunk_list view = {s->all.spans + i, j - i, j - i, s->all.heads};
        e = idx_chunkmap_writer_add(w, s->doc_of[i], &view);
        i = j;
    }
    if (!e) {
        e = idx_chunkmap_writer_commit(w);
        w = NULL;
    }
    idx_chunkmap_writer_abort(w);
    free(dir);
    if (e) return e;
    json_t *p = json_pack("{s:i, s:s, s:I, s:I, s:s}", "version", 1, "file", "chunks/chunks.idx", "chunks",
                          (json_int_t)s->all.n, "docs", (json_int_t)s->ndocs, "chunker", s->desc);
    json_t *parts = json_object_get(manifest, "parts");
    if (!p || !parts || json_object_set_new(parts, "chunks", p))
        return idx_fail(IDX_ERR_NOMEM, "chunk source: out of memory");
    return IDX_OK;
}
