/*
 * corpus.c -- reads documents from the inputs a user points idx at: JSONL
 * files (one JSON object per line, text in a configurable field, the other
 * fields kept as metadata), the same compressed with zstd or gzip, plain files
 * (one document per file, also .zst/.gz), and directories of them walked
 * recursively in sorted order. Every index part is built from this stream.
 *
 * Errors name the file and line. Under skip_bad a malformed line or document
 * is skipped and counted instead. Documents containing byte 0xFF are rejected:
 * 0xFF never occurs in UTF-8 and separates documents inside the FM-index.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>
#include <zstd.h>

#include "idx_common.h"

enum { SRC_PLAIN, SRC_GZ, SRC_ZST };

typedef struct {
    int kind;
    FILE *f;
    gzFile gz;
    ZSTD_DStream *zs;
    unsigned char *zin;
    ZSTD_inBuffer zib;
    size_t zlast;
    int eof, zany;
    uint64_t consumed; /* compressed bytes read from disk */
    const char *path;
} source;

typedef struct {
    char *path;  /* as opened */
    char *rel;   /* relative to the input directory (for ids) */
    uint64_t size;
} input_file;

struct idx_corpus {
    idx_corpus_opts o;
    input_file *files;
    size_t nfiles, cap, cur;
    int file_open, is_jsonl;
    source src;
    /* line reader */
    char *rbuf;
    size_t rlen, rpos, rcap;
    uint64_t line;
    /* current document storage */
    idx_buf text, id, title, meta;
    idx_corpus_stats st;
    uint64_t bytes_done_files;
};

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static idx_err add_file(idx_corpus *c, const char *path, const char *rel, uint64_t size) {
    if (c->nfiles == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        input_file *p = realloc(c->files, cap * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        c->files = p;
        c->cap = cap;
    }
    input_file *f = &c->files[c->nfiles];
    f->path = strdup(path);
    f->rel = strdup(rel);
    f->size = size;
    if (!f->path || !f->rel) {
        free(f->path);
        free(f->rel);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    c->nfiles++;
    c->st.bytes_total += size;
    return IDX_OK;
}

static int ext_ok(const idx_corpus *c, const char *name) {
    if (!c->o.extensions) return 1;
    for (const char *const *e = c->o.extensions; *e; e++)
        if (has_suffix(name, *e)) return 1;
    return 0;
}

static idx_err walk(idx_corpus *c, const char *dir, const char *rel) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return idx_fail(IDX_ERR_IO, "%s: %s", dir, strerror(errno));
    idx_err e = IDX_OK;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (!e && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            char *p = idx_path_join(dir, nm);
            char *r = *rel ? idx_path_join(rel, nm) : strdup(nm);
            struct stat st;
            if (!p || !r) e = idx_fail(IDX_ERR_NOMEM, "out of memory");
            else if (stat(p, &st) != 0) e = idx_fail(IDX_ERR_IO, "%s: %s", p, strerror(errno));
            else if (S_ISDIR(st.st_mode)) e = walk(c, p, r);
            else if (S_ISREG(st.st_mode) && ext_ok(c, nm)) e = add_file(c, p, r, (uint64_t)st.st_size);
            free(p);
            free(r);
        }
        free(names[i]);
    }
    free(names);
    return e;
}

static void source_close(source *s) {
    if (s->f) fclose(s->f);
    if (s->gz) gzclose(s->gz);
    if (s->zs) ZSTD_freeDStream(s->zs);
    free(s->zin);
    memset(s, 0, sizeof *s);
}

static idx_err source_open(source *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (has_suffix(path, ".gz")) {
        s->kind = SRC_GZ;
        s->gz = gzopen(path, "rb");
        if (!s->gz) return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno ? errno : ENOENT));
        gzbuffer(s->gz, 1 << 17);
        return IDX_OK;
    }
    s->f = fopen(path, "rb");
    if (!s->f) return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno));
    if (has_suffix(path, ".zst")) {
        s->kind = SRC_ZST;
        s->zs = ZSTD_createDStream();
        s->zin = malloc(1 << 17);
        if (!s->zs || !s->zin) {
            source_close(s);
            return idx_fail(IDX_ERR_NOMEM, "out of memory");
        }
        s->zib.src = s->zin;
    }
    return IDX_OK;
}

/* Reads up to cap bytes; *n = 0 at the end. */
static idx_err source_read(source *s, char *buf, size_t cap, size_t *n) {
    *n = 0;
    if (s->kind == SRC_PLAIN) {
        size_t r = fread(buf, 1, cap, s->f);
        if (r == 0 && ferror(s->f)) return idx_fail(IDX_ERR_IO, "%s: read error", s->path);
        s->consumed += r;
        *n = r;
        return IDX_OK;
    }
    if (s->kind == SRC_GZ) {
        int r = gzread(s->gz, buf, (unsigned)(cap > (1u << 30) ? (1u << 30) : cap));
        int zerr;
        const char *m = gzerror(s->gz, &zerr);
        if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
            return idx_fail(IDX_ERR_PARSE, "%s: truncated or corrupt gzip stream (%s)", s->path, m);
        s->consumed = (uint64_t)gzoffset(s->gz);
        *n = (size_t)r;
        return IDX_OK;
    }
    /* zstd */
    while (*n == 0) {
        if (s->zib.pos == s->zib.size) {
            if (s->eof) {
                if (!s->zany || s->zlast != 0)
                    return idx_fail(IDX_ERR_PARSE, "%s: truncated zstd stream", s->path);
                return IDX_OK;
            }
            size_t r = fread(s->zin, 1, 1 << 17, s->f);
            if (r == 0) {
                if (ferror(s->f)) return idx_fail(IDX_ERR_IO, "%s: read error", s->path);
                s->eof = 1;
                continue;
            }
            s->zany = 1;
            s->consumed += r;
            s->zib.size = r;
            s->zib.pos = 0;
        }
        ZSTD_outBuffer ob = {buf, cap, 0};
        s->zlast = ZSTD_decompressStream(s->zs, &ob, &s->zib);
        if (ZSTD_isError(s->zlast))
            return idx_fail(IDX_ERR_PARSE, "%s: corrupt zstd stream: %s", s->path, ZSTD_getErrorName(s->zlast));
        *n = ob.pos;
    }
    return IDX_OK;
}

idx_err idx_corpus_open(const char *const *paths, size_t npaths, const idx_corpus_opts *opts,
                        idx_corpus **out) {
    *out = NULL;
    idx_corpus *c = calloc(1, sizeof *c);
    if (!c) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (opts) c->o = *opts;
    if (!c->o.text_field) c->o.text_field = "text";
    if (!c->o.title_field) c->o.title_field = "title";
    if (!c->o.max_doc_bytes) c->o.max_doc_bytes = (size_t)1 << 30;
    idx_err e = IDX_OK;
    if (npaths == 0) e = idx_fail(IDX_ERR_INVALID, "no input files given");
    for (size_t i = 0; !e && i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            e = idx_fail(IDX_ERR_IO, "%s: %s", paths[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            size_t before = c->nfiles;
            e = walk(c, paths[i], "");
            if (!e && c->nfiles == before)
                e = idx_fail(IDX_ERR_EMPTY, "%s: directory holds no input files", paths[i]);
        } else {
            e = add_file(c, paths[i], paths[i], (uint64_t)st.st_size);
        }
    }
    if (e) {
        idx_corpus_close(c);
        return e;
    }
    *out = c;
    return IDX_OK;
}

static int is_jsonl_name(const char *p) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", p);
    size_t n = strlen(tmp);
    if (has_suffix(tmp, ".gz")) tmp[n - 3] = 0;
    else if (has_suffix(tmp, ".zst")) tmp[n - 4] = 0;
    return has_suffix(tmp, ".jsonl") || has_suffix(tmp, ".ndjson") || has_suffix(tmp, ".json");
}

/* Reads the next line into [*line, *len) (without the newline); *got = 0 at EOF. */
static idx_err read_line(idx_corpus *c, char **line, size_t *len, int *got) {
    *got = 0;
    size_t start = c->rpos;
    for (;;) {
        char *nl = c->rlen > c->rpos ? memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos) : NULL;
        if (nl) {
            *line = c->rbuf + start;
            *len = (size_t)(nl - (c->rbuf + start));
            c->rpos = (size_t)(nl - c->rbuf) + 1;
            *got = 1;
            return IDX_OK;
        }
        c->rpos = c->rlen;
        /* compact, then read more */
        if (start > 0) {
            memmove(c->rbuf, c->rbuf + start, c->rlen - start);
            c->rlen -= start;
            c->rpos = c->rlen;
            start = 0;
        }
        if (c->rlen > c->o.max_doc_bytes)
            return idx_fail(IDX_ERR_LIMIT, "%s:%llu: line longer than %zu bytes", c->files[c->cur].path,
                            (unsigned long long)(c->line + 1), c->o.max_doc_bytes);
        if (c->rcap - c->rlen < (1 << 16)) {
            size_t cap = c->rcap ? c->rcap * 2 : (1 << 20);
            char *p = realloc(c->rbuf, cap);
            if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
            c->rbuf = p;
            c->rcap = cap;
        }
        size_t n;
        idx_err e = source_read(&c->src, c->rbuf + c->rlen, c->rcap - c->rlen, &n);
        if (e) return e;
        if (n == 0) {
            if (c->rlen == 0) return IDX_OK;
            *line = c->rbuf;
            *len = c->rlen;
            c->rpos = c->rlen = 0;
            *got = 1;
            return IDX_OK;
        }
        c->rlen += n;
    }
}

static idx_err set_str(idx_buf *b, const char *s, size_t n) {
    b->len = 0;
    return idx_buf_append(b, s, n);
}

/* Parses one JSONL line into the current document. Returns IDX_ERR_PARSE for
 * a bad line (message set), *blank = 1 for an empty line. */
static idx_err parse_jsonl(idx_corpus *c, const char *line, size_t len, int *blank) {
    const char *path = c->files[c->cur].path;
    unsigned long long ln = (unsigned long long)c->line;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    *blank = (i == len);
    if (*blank) return IDX_OK;
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
    if (!obj) return idx_fail(IDX_ERR_PARSE, "%s:%llu: malformed JSON at column %d: %s", path, ln, jerr.column,
                              jerr.text);
    idx_err e = IDX_OK;
    if (!json_is_object(obj)) {
        e = idx_fail(IDX_ERR_PARSE, "%s:%llu: line is not a JSON object", path, ln);
        goto done;
    }
    json_t *t = json_object_get(obj, c->o.text_field);
    if (!t) {
        e = idx_fail(IDX_ERR_PARSE, "%s:%llu: missing text field '%s'", path, ln, c->o.text_field);
        goto done;
    }
    if (!json_is_string(t)) {
        e = idx_fail(IDX_ERR_PARSE, "%s:%llu: text field '%s' is not a string", path, ln, c->o.text_field);
        goto done;
    }
    if ((e = set_str(&c->text, json_string_value(t), json_string_length(t)))) goto done;
    /* id */
    json_t *id = NULL;
    if (c->o.id_field) id = json_object_get(obj, c->o.id_field);
    else if (!(id = json_object_get(obj, "_id"))) id = json_object_get(obj, "id");
    c->id.len = 0;
    if (id && json_is_string(id)) e = set_str(&c->id, json_string_value(id), json_string_length(id));
    else if (id && json_is_integer(id)) e = idx_buf_printf(&c->id, "%lld", (long long)json_integer_value(id));
    else if (c->o.id_field && !id) e = idx_fail(IDX_ERR_PARSE, "%s:%llu: missing id field '%s'", path, ln, c->o.id_field);
    else e = idx_buf_printf(&c->id, "%s:%llu", c->files[c->cur].rel, ln);
    if (e) goto done;
    /* title */
    json_t *ti = json_object_get(obj, c->o.title_field);
    if ((e = set_str(&c->title, ti && json_is_string(ti) ? json_string_value(ti) : "",
                     ti && json_is_string(ti) ? json_string_length(ti) : 0)))
        goto done;
    /* metadata: everything but the text */
    json_object_del(obj, c->o.text_field);
    char *m = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!m) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    e = set_str(&c->meta, m, strlen(m));
    free(m);
done:
    json_decref(obj);
    return e;
}

static idx_err read_whole(idx_corpus *c) {
    c->text.len = 0;
    char tmp[1 << 16];
    for (;;) {
        size_t n;
        idx_err e = source_read(&c->src, tmp, sizeof tmp, &n);
        if (e) return e;
        if (n == 0) break;
        if (c->text.len + n > c->o.max_doc_bytes)
            return idx_fail(IDX_ERR_LIMIT, "%s: document larger than %zu bytes", c->files[c->cur].path,
                            c->o.max_doc_bytes);
        if ((e = idx_buf_append(&c->text, tmp, n))) return e;
    }
    const char *rel = c->files[c->cur].rel;
    idx_err e = set_str(&c->id, rel, strlen(rel));
    if (!e) e = set_str(&c->title, "", 0);
    if (!e) {
        json_t *o = json_pack("{s:s}", "path", rel);
        char *m = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(o);
        if (!m) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        e = set_str(&c->meta, m, strlen(m));
        free(m);
    }
    return e;
}

static void fill_doc(idx_corpus *c, idx_doc *d) {
    if (!c->text.data) idx_buf_append(&c->text, "", 0);
    d->text = c->text.data;
    d->text_len = c->text.len;
    d->id = c->id.data;
    d->title = c->title.data ? c->title.data : "";
    d->meta_json = c->meta.data;
    d->meta_len = c->meta.len;
    d->source = c->files[c->cur].path;
    d->line = c->is_jsonl ? c->line : 0;
}

idx_err idx_corpus_next(idx_corpus *c, idx_doc *doc, int *got) {
    *got = 0;
    while (c->cur < c->nfiles) {
        input_file *f = &c->files[c->cur];
        if (!c->file_open) {
            idx_err e = source_open(&c->src, f->path);
            if (e) return e;
            c->file_open = 1;
            c->is_jsonl = is_jsonl_name(f->path);
            c->line = 0;
            c->rlen = c->rpos = 0;
            if (!c->is_jsonl) {
                e = read_whole(c);
                c->st.bytes_in = c->bytes_done_files + c->src.consumed;
                source_close(&c->src);
                c->file_open = 0;
                if (e) return e;
                if (c->text.len && memchr(c->text.data, 0xFF, c->text.len)) {
                    e = idx_fail(IDX_ERR_PARSE, "%s: document contains byte 0xFF (not UTF-8 text)", f->path);
                    c->bytes_done_files += f->size;
                    c->cur++;
                    if (!c->o.skip_bad) return e;
                    c->st.skipped++;
                    continue;
                }
                fill_doc(c, doc);
                c->bytes_done_files += f->size;
                if (!idx_utf8_valid(doc->text, doc->text_len)) c->st.invalid_utf8++;
                c->st.docs++;
                c->st.text_bytes += doc->text_len;
                c->cur++;
                /* the document buffers stay valid until the next call */
                doc->source = f->path;
                *got = 1;
                return IDX_OK;
            }
        }
        char *line;
        size_t len;
        int have;
        idx_err e = read_line(c, &line, &len, &have);
        c->st.bytes_in = c->bytes_done_files + c->src.consumed;
        if (e) return e;
        if (!have) {
            source_close(&c->src);
            c->file_open = 0;
            c->bytes_done_files += f->size;
            c->cur++;
            continue;
        }
        c->line++;
        int blank;
        e = parse_jsonl(c, line, len, &blank);
        if (!e && !blank && c->text.len && memchr(c->text.data, 0xFF, c->text.len))
            e = idx_fail(IDX_ERR_PARSE, "%s:%llu: document contains byte 0xFF (not UTF-8 text)", f->path,
                         (unsigned long long)c->line);
        if (e) {
            if (e == IDX_ERR_PARSE && c->o.skip_bad) {
                c->st.skipped++;
                continue;
            }
            return e;
        }
        if (blank) continue;
        fill_doc(c, doc);
        if (!idx_utf8_valid(doc->text, doc->text_len)) c->st.invalid_utf8++;
        c->st.docs++;
        c->st.text_bytes += doc->text_len;
        *got = 1;
        return IDX_OK;
    }
    return IDX_OK;
}

void idx_corpus_get_stats(const idx_corpus *c, idx_corpus_stats *st) { *st = c->st; }

void idx_corpus_close(idx_corpus *c) {
    if (!c) return;
    if (c->file_open) source_close(&c->src);
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].path);
        free(c->files[i].rel);
    }
    free(c->files);
    free(c->rbuf);
    idx_buf_free(&c->text);
    idx_buf_free(&c->id);
    idx_buf_free(&c->title);
    idx_buf_free(&c->meta);
    free(c);
}
