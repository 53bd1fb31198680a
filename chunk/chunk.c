/*
 * chunk.c -- the chunker interface (options, dispatch by kind, span lists,
 * the invariant checker) and the size-based chunkers: fixed size in bytes or
 * words with overlap, LangChain-style recursive splitting (paragraph > line >
 * sentence > word > character, greedily packing pieces up to the maximum
 * size), and Meta-Chunking's dynamic merging as a separate step.
 *
 * Every chunker here works on byte offsets of the original text: pieces keep
 * the separators that follow them, so concatenating the chunks gives the text
 * back byte for byte (LangChain drops or re-inserts separators; we do not).
 */
#include <string.h>

#include "chunk_internal.h"

/* ------------------------------------------------------------------------ */
/* Span lists                                                                 */
/* ------------------------------------------------------------------------ */

void idx_chunk_list_clear(idx_chunk_list *l) {
    l->n = 0;
    l->heads.len = 0;
}

void idx_chunk_list_free(idx_chunk_list *l) {
    if (!l) return;
    free(l->spans);
    idx_buf_free(&l->heads);
    memset(l, 0, sizeof *l);
}

uint64_t idx_chunk_count_words(const char *text, size_t len) {
    uint64_t n = 0;
    size_t pos = 0, ws, we;
    while (chk_word_next(text, len, pos, &ws, &we)) {
        n++;
        pos = we;
    }
    return n;
}

idx_err idx_chunk_list_push(idx_chunk_list *l, const char *text, uint64_t start, uint64_t end,
                            const char *head, size_t head_len) {
    if (end <= start) return idx_fail(IDX_ERR_INTERNAL, "chunk: empty span [%llu,%llu)",
                                      (unsigned long long)start, (unsigned long long)end);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        idx_chunk_span *ns = realloc(l->spans, nc * sizeof *ns);
        if (!ns) return idx_fail(IDX_ERR_NOMEM, "chunk: out of memory for %zu spans", nc);
        l->spans = ns;
        l->cap = nc;
    }
    idx_chunk_span *s = &l->spans[l->n];
    s->start = start;
    s->end = end;
    s->words = idx_chunk_count_words(text + start, (size_t)(end - start));
    s->head_off = s->head_len = 0;
    if (head && head_len) {
        if (head_len > UINT32_MAX || l->heads.len > UINT32_MAX - head_len)
            return idx_fail(IDX_ERR_LIMIT, "chunk: heading paths exceed 4 GiB");
        /* reuse the previous span's path when it is the same */
        if (l->n > 0 && l->spans[l->n - 1].head_len == head_len &&
            memcmp(l->heads.data + l->spans[l->n - 1].head_off, head, head_len) == 0) {
            s->head_off = l->spans[l->n - 1].head_off;
        } else {
            s->head_off = (uint32_t)l->heads.len;
            idx_err e = idx_buf_append(&l->heads, head, head_len);
            if (e) return e;
        }
        s->head_len = (uint32_t)head_len;
    }
    l->n++;
    return IDX_OK;
}

idx_err idx_chunk_check(const char *text, size_t len, const idx_chunk_list *l, int overlap) {
    uint64_t covered = 0;
    if (len == 0 && l->n != 0) return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunks for an empty text");
    if (len > 0 && l->n == 0) return idx_fail(IDX_ERR_INTERNAL, "chunk check: no chunk for %zu bytes", len);
    for (size_t i = 0; i < l->n; i++) {
        const idx_chunk_span *s = &l->spans[i];
        if (s->start >= s->end || s->end > len)
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu [%llu,%llu) bad for length %zu", i,
                            (unsigned long long)s->start, (unsigned long long)s->end, len);
        if (overlap ? s->start > covered : s->start != covered)
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu starts at %llu, expected %llu", i,
                            (unsigned long long)s->start, (unsigned long long)covered);
        if (i > 0 && s->start < l->spans[i - 1].start)
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu out of order", i);
        if (chk_char_floor(text, len, s->start) != s->start ||
            chk_char_floor(text, len, s->end) != s->end)
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu splits a UTF-8 character", i);
        if (s->words != idx_chunk_count_words(text + s->start, (size_t)(s->end - s->start)))
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu word count wrong", i);
        if (s->head_len && (uint64_t)s->head_off + s->head_len > l->heads.len)
            return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunk %zu heading out of range", i);
        if (s->end > covered) covered = s->end;
    }
    if (covered != len)
        return idx_fail(IDX_ERR_INTERNAL, "chunk check: chunks cover %llu of %zu bytes",
                        (unsigned long long)covered, len);
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                    */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    idx_chunk_kind kind;
} KINDS[] = {{"sentence", IDX_CHUNK_SENTENCE},     {"fixed", IDX_CHUNK_FIXED_WORDS},
             {"fixed-words", IDX_CHUNK_FIXED_WORDS}, {"fixed-bytes", IDX_CHUNK_FIXED_BYTES},
             {"recursive", IDX_CHUNK_RECURSIVE},   {"markdown", IDX_CHUNK_MARKDOWN},
             {"rst", IDX_CHUNK_RST},               {"texttiling", IDX_CHUNK_TEXTTILING},
             {"ppl", IDX_CHUNK_PPL}};

idx_err idx_chunk_kind_parse(const char *name, idx_chunk_kind *out) {
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(name, KINDS[i].name) == 0) {
            *out = KINDS[i].kind;
            return IDX_OK;
        }
    return idx_fail(IDX_ERR_INVALID,
                    "unknown chunker '%s' (sentence, fixed, fixed-bytes, recursive, markdown, rst, "
                    "texttiling, ppl)", name);
}

const char *idx_chunk_kind_name(idx_chunk_kind kind) {
    switch (kind) {
    case IDX_CHUNK_SENTENCE: return "sentence";
    case IDX_CHUNK_FIXED_BYTES: return "fixed-bytes";
    case IDX_CHUNK_FIXED_WORDS: return "fixed";
    case IDX_CHUNK_RECURSIVE: return "recursive";
    case IDX_CHUNK_MARKDOWN: return "markdown";
    case IDX_CHUNK_RST: return "rst";
    case IDX_CHUNK_TEXTTILING: return "texttiling";
    case IDX_CHUNK_PPL: return "ppl";
    }
    return "?";
}

void idx_chunk_opts_init(idx_chunk_opts *o, idx_chunk_kind kind) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->unit = kind == IDX_CHUNK_FIXED_BYTES ? IDX_CHUNK_UNIT_BYTES : IDX_CHUNK_UNIT_WORDS;
    o->size = (kind == IDX_CHUNK_MARKDOWN || kind == IDX_CHUNK_RST) ? 0
              : kind == IDX_CHUNK_FIXED_BYTES                      ? 1000
                                                                   : 200;
    o->max_sentence_words = 512;
    o->max_sentence_bytes = 4096;
    o->tt_block = 3;
    o->tt_cutoff = 0.5;
}

/* ------------------------------------------------------------------------ */
/* Fixed size                                                                 */
/* ------------------------------------------------------------------------ */

static idx_err fixed_bytes(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out) {
    size_t start = 0;
    idx_err e;
    while (start < len) {
        size_t end = len - start <= o->size ? len : chk_char_floor(text, len, start + o->size);
        if (end <= start) end = start + idx_utf8_charlen((const unsigned char *)text + start, len - start);
        if ((e = idx_chunk_list_push(out, text, start, end, NULL, 0))) return e;
        if (end >= len) break;
        size_t next = end;
        if (o->overlap) {
            next = chk_char_floor(text, len, end - o->overlap);
            if (next <= start) next = end;
        }
        start = next;
    }
    return IDX_OK;
}

static idx_err fixed_words(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out) {
    size_t *ws = NULL, n = 0, cap = 0, pos = 0, a, b;
    idx_err e = IDX_OK;
    while (chk_word_next(text, len, pos, &a, &b)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            if ((e = idx_xrealloc(&ws, cap * sizeof *ws))) goto done;
        }
        ws[n++] = a;
        pos = b;
    }
    if (n == 0) {
        if (len) e = idx_chunk_list_push(out, text, 0, len, NULL, 0);
        goto done;
    }
    size_t step = (size_t)(o->size - o->overlap);
    for (size_t i = 0; i < n; i += step) {
        size_t s = i == 0 ? 0 : ws[i];
        size_t end = i + o->size >= n ? len : ws[i + o->size];
        if ((e = idx_chunk_list_push(out, text, s, end, NULL, 0))) goto done;
        if (end == len) break;
    }
done:
    free(ws);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Recursive                                                                  */
/* ------------------------------------------------------------------------ */

enum { LV_PARA = 0, LV_LINE = 1, LV_SENT = 2, LV_WORD = 3, LV_CHAR = 4 };

/* Piece ends of [s, e) at a level (the last one is e). */
static idx_err split_level(const idx_chunk_opts *o, const char *text, size_t len, size_t s, size_t e,
                           int level, size_t **cuts, size_t *n) {
    size_t cap = 0;
    *n = 0;
    *cuts = NULL;
    idx_err err = IDX_OK;
#define PUSH(x)                                                                                    \
    do {                                                                                           \
        if (*n == cap) {                                                                           \
            cap = cap ? cap * 2 : 64;                                                              \
            if ((err = idx_xrealloc(cuts, cap * sizeof **cuts))) return err;                       \
        }                                                                                          \
        (*cuts)[(*n)++] = (x);                                                                     \
    } while (0)
    if (level == LV_SENT) {
        idx_chunk_list tmp = {0};
        if ((err = idx_chunk_sentences(o, text + s, e - s, &tmp))) {
            idx_chunk_list_free(&tmp);
            return err;
        }
        for (size_t i = 0; i < tmp.n; i++) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                if ((err = idx_xrealloc(cuts, cap * sizeof **cuts))) break;
            }
            (*cuts)[(*n)++] = s + tmp.spans[i].end;
        }
        idx_chunk_list_free(&tmp);
        return err;
    }
    size_t pos = s;
    if (level == LV_WORD) {
        size_t a, b, prev_end = 0;
        int first = 1;
        while (chk_word_next(text, e, pos, &a, &b)) {
            if (!first && a > s) PUSH(a);
            first = 0;
            prev_end = b;
            pos = b;
        }
        (void)prev_end;
        PUSH(e);
        return IDX_OK;
    }
    /* paragraph / line */
    while (pos < e) {
        const char *nl = memchr(text + pos, '\n', e - pos);
        if (!nl) break;
        size_t q = (size_t)(nl - text) + 1;
        if (level == LV_LINE) {
            if (q < e) PUSH(q);
            pos = q;
            continue;
        }
        size_t r = q;
        int blank = 0;
        while (r < e && (text[r] == ' ' || text[r] == '\t' || text[r] == '\r' || text[r] == '\n')) {
            if (text[r] == '\n') blank = 1;
            r++;
        }
        if (blank && r < e) PUSH(r);
        pos = r > q ? r : q;
    }
    PUSH(e);
    (void)len;
    return IDX_OK;
#undef PUSH
}

idx_err idx__chunk_recursive(const idx_chunk_opts *o, const char *text, size_t len, size_t s,
                             size_t e, idx_chunk_list *out, const char *head, size_t head_len) {
    uint64_t max = o->size;
    if (chk_span_size(o, text, s, e) <= max) return idx_chunk_list_push(out, text, s, e, head, head_len);
    int level = LV_PARA;
    size_t *cuts = NULL, n = 0;
    idx_err err;
    for (;; level++) {
        if (level == LV_CHAR) {
            /* only reachable for byte units: a single word longer than max */
            size_t a = s;
            while (a < e) {
                size_t b = e - a <= max ? e : chk_char_floor(text, len, a + max);
                if (b <= a) b = a + idx_utf8_charlen((const unsigned char *)text + a, len - a);
                if ((err = idx_chunk_list_push(out, text, a, b, head, head_len))) return err;
                a = b;
            }
            return IDX_OK;
        }
        if ((err = split_level(o, text, len, s, e, level, &cuts, &n))) { free(cuts); return err; }
        if (n > 1) break;
        free(cuts);
        cuts = NULL;
    }
    /* greedy packing of the pieces; oversized pieces go one level down */
    size_t cur = s, prev = s;
    uint64_t cur_size = 0;
    err = IDX_OK;
    for (size_t i = 0; i < n && !err; i++) {
        size_t pe = cuts[i];
        uint64_t sz = chk_span_size(o, text, prev, pe);
        if (sz > max) {
            if (prev > cur) err = idx_chunk_list_push(out, text, cur, prev, head, head_len);
            if (!err) err = idx__chunk_recursive(o, text, len, prev, pe, out, head, head_len);
            cur = pe;
            cur_size = 0;
        } else if (cur_size + sz > max && prev > cur) {
            err = idx_chunk_list_push(out, text, cur, prev, head, head_len);
            cur = prev;
            cur_size = sz;
        } else {
            cur_size += sz;
        }
        prev = pe;
    }
    if (!err && prev > cur) err = idx_chunk_list_push(out, text, cur, prev, head, head_len);
    free(cuts);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Dynamic merging                                                            */
/* ------------------------------------------------------------------------ */

idx_err idx_chunk_merge(const char *text, size_t len, idx_chunk_list *l, uint64_t target) {
    if (target == 0) return idx_fail(IDX_ERR_INVALID, "merge: target length must be > 0 words");
    if (l->n == 0) return IDX_OK;
    for (size_t i = 1; i < l->n; i++)
        if (l->spans[i].start != l->spans[i - 1].end)
            return idx_fail(IDX_ERR_INVALID, "merge: chunks %zu and %zu are not adjacent (overlap?)", i - 1, i);
    if (l->spans[l->n - 1].end > len) return idx_fail(IDX_ERR_INVALID, "merge: chunk beyond the text");
    size_t w = 0, parts = 1;
    for (size_t i = 1; i < l->n; i++) {
        idx_chunk_span *cur = &l->spans[w];
        const idx_chunk_span *c = &l->spans[i];
        if (cur->words + c->words <= target) {
            cur->end = c->end;
            cur->words += c->words;
            parts++;
        } else {
            if (parts > 1) cur->words = idx_chunk_count_words(text + cur->start, (size_t)(cur->end - cur->start));
            l->spans[++w] = *c;
            parts = 1;
        }
    }
    if (parts > 1)
        l->spans[w].words = idx_chunk_count_words(text + l->spans[w].start, (size_t)(l->spans[w].end - l->spans[w].start));
    l->n = w + 1;
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                   */
/* ------------------------------------------------------------------------ */

idx_err idx_chunk_text(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out) {
    if (!o || (!text && len)) return idx_fail(IDX_ERR_INVALID, "chunk: no options or text");
    int sized = o->kind == IDX_CHUNK_FIXED_BYTES || o->kind == IDX_CHUNK_FIXED_WORDS ||
                o->kind == IDX_CHUNK_RECURSIVE;
    if (sized && o->size == 0) return idx_fail(IDX_ERR_INVALID, "chunk: size must be > 0");
    if (o->overlap && o->kind != IDX_CHUNK_FIXED_BYTES && o->kind != IDX_CHUNK_FIXED_WORDS)
        return idx_fail(IDX_ERR_INVALID, "chunk: overlap is only for the fixed-size chunkers");
    if (o->overlap >= o->size && o->overlap)
        return idx_fail(IDX_ERR_INVALID, "chunk: overlap (%llu) must be smaller than size (%llu)",
                        (unsigned long long)o->overlap, (unsigned long long)o->size);
    if (o->merge && o->overlap)
        return idx_fail(IDX_ERR_INVALID, "chunk: merging needs chunks without overlap");
    if (len == 0) return IDX_OK;
    size_t first = out->n;
    idx_err e;
    switch (o->kind) {
    case IDX_CHUNK_SENTENCE: e = idx_chunk_sentences(o, text, len, out); break;
    case IDX_CHUNK_FIXED_BYTES: e = fixed_bytes(o, text, len, out); break;
    case IDX_CHUNK_FIXED_WORDS: e = fixed_words(o, text, len, out); break;
    case IDX_CHUNK_RECURSIVE: e = idx__chunk_recursive(o, text, len, 0, len, out, NULL, 0); break;
    case IDX_CHUNK_MARKDOWN:
    case IDX_CHUNK_RST: e = idx__chunk_structure(o, text, len, out); break;
    case IDX_CHUNK_TEXTTILING: e = idx__chunk_texttiling(o, text, len, out); break;
    case IDX_CHUNK_PPL: e = idx__chunk_ppl(o, text, len, out); break;
    default: return idx_fail(IDX_ERR_INVALID, "chunk: unknown chunker kind %d", (int)o->kind);
    }
    if (e || !o->merge) return e;
    /* merge only this document's spans */
    idx_chunk_list view = *out;
    view.spans = out->spans + first;
    view.n = out->n - first;
    e = idx_chunk_merge(text, len, &view, o->merge);
    out->n = first + view.n;
    return e;
}
