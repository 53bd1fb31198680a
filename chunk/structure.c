/*
 * structure.c -- heading-structure chunking of Markdown and reStructuredText:
 * one chunk per section (from its heading line to the next heading), each
 * carrying its heading path "Title > Section > Subsection" so that a retriever
 * can prepend it. Text before the first heading is a chunk without a path.
 * Sections larger than opts->size (if set) are split further with the
 * recursive chunker, every piece keeping the section's path.
 *
 * Markdown: ATX headings ("#".."######" after at most 3 spaces, then a space
 * or the end of line; closing #'s dropped) and setext headings (a line of '='
 * for level 1 or '-' for level 2 under a non-blank line). Lines inside fenced
 * code blocks (``` or ~~~) are never headings.
 * reStructuredText: a title line followed by an underline of one repeated
 * punctuation character, at least 3 long and at least as long as the title
 * (in characters), optionally with an identical overline. Levels are assigned
 * in the order the (character, overline) styles first appear, as docutils does.
 */
#include <ctype.h>
#include <string.h>

#include "chunk_internal.h"

#define MAX_LEVELS 16

typedef struct {
    size_t start; /* byte where the section starts (heading line) */
    int level;    /* 1-based */
    size_t t0, t1; /* title bytes */
} heading;

typedef struct {
    heading *h;
    size_t n, cap;
} heading_list;

static idx_err hl_push(heading_list *l, size_t start, int level, size_t t0, size_t t1) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        idx_err e = idx_xrealloc(&l->h, nc * sizeof *l->h);
        if (e) return e;
        l->cap = nc;
    }
    l->h[l->n++] = (heading){start, level, t0, t1};
    return IDX_OK;
}

/* Line [s, e) without its newline; returns the start of the next line. */
static size_t line_at(const char *t, size_t len, size_t s, size_t *e) {
    const char *nl = memchr(t + s, '\n', len - s);
    size_t end = nl ? (size_t)(nl - t) : len;
    *e = end > s && t[end - 1] == '\r' ? end - 1 : end;
    return nl ? end + 1 : len;
}

static void trim(const char *t, size_t *a, size_t *b) {
    while (*a < *b && (t[*a] == ' ' || t[*a] == '\t')) (*a)++;
    while (*b > *a && (t[*b - 1] == ' ' || t[*b - 1] == '\t')) (*b)--;
}

static int is_blank(const char *t, size_t a, size_t b) {
    trim(t, &a, &b);
    return a == b;
}

/* A line made of one repeated character c (trailing blanks allowed), >= min long. */
static int is_adornment(const char *t, size_t a, size_t b, char *c, size_t *count) {
    size_t bb = b;
    while (bb > a && (t[bb - 1] == ' ' || t[bb - 1] == '\t')) bb--;
    if (bb - a < 3) return 0;
    char ch = t[a];
    if (!ispunct((unsigned char)ch)) return 0;
    for (size_t i = a; i < bb; i++)
        if (t[i] != ch) return 0;
    *c = ch;
    *count = bb - a;
    return 1;
}

static size_t nchars(const char *t, size_t a, size_t b) {
    size_t n = 0;
    for (size_t i = a; i < b; i++)
        if (((unsigned char)t[i] & 0xC0) != 0x80) n++;
    return n;
}

static idx_err parse_markdown(const char *t, size_t len, heading_list *hl) {
    size_t pos = 0, prev_s = 0, prev_e = 0;
    int prev_para = 0; /* previous line is a non-blank paragraph line */
    int fence = 0;
    char fch = 0;
    idx_err e;
    while (pos < len) {
        size_t le, next = line_at(t, len, pos, &le);
        size_t a = pos, b = le, ind = 0;
        while (a < b && t[a] == ' ' && ind < 4) { a++; ind++; }
        if (ind < 4 && b - a >= 3 && (t[a] == '`' || t[a] == '~') && t[a + 1] == t[a] && t[a + 2] == t[a]) {
            if (!fence) { fence = 1; fch = t[a]; }
            else if (t[a] == fch) fence = 0;
            prev_para = 0;
        } else if (fence) {
            /* inside code */
        } else if (ind < 4 && a < b && t[a] == '#') {
            size_t h = a;
            while (h < b && t[h] == '#') h++;
            int level = (int)(h - a);
            if (level <= 6 && (h == b || t[h] == ' ' || t[h] == '\t')) {
                size_t t0 = h, t1 = b;
                trim(t, &t0, &t1);
                while (t1 > t0 && t[t1 - 1] == '#') t1--;
                trim(t, &t0, &t1);
                if ((e = hl_push(hl, pos, level, t0, t1))) return e;
                prev_para = 0;
                pos = next;
                continue;
            }
            prev_para = 1;
        } else if (ind < 4 && prev_para && a < b && (t[a] == '=' || t[a] == '-')) {
            char c;
            size_t cnt;
            size_t bb = b;
            while (bb > a && (t[bb - 1] == ' ' || t[bb - 1] == '\t')) bb--;
            int ok = 1;
            for (size_t i = a; i < bb; i++) if (t[i] != t[a]) ok = 0;
            (void)c; (void)cnt;
            if (ok) {
                size_t t0 = prev_s, t1 = prev_e;
                trim(t, &t0, &t1);
                if ((e = hl_push(hl, prev_s, t[a] == '=' ? 1 : 2, t0, t1))) return e;
                prev_para = 0;
                pos = next;
                continue;
            }
            prev_para = 1;
        } else {
            prev_para = !is_blank(t, pos, le);
        }
        prev_s = pos;
        prev_e = le;
        pos = next;
    }
    return IDX_OK;
}

static idx_err parse_rst(const char *t, size_t len, heading_list *hl) {
    struct { char c; int over; } styles[MAX_LEVELS];
    int nstyles = 0;
    /* index the lines */
    size_t pos = 0, l0s = 0, l0e = 0, l1s = 0, l1e = 0; /* two previous lines */
    int have = 0;
    idx_err e;
    while (pos < len) {
        size_t le, next = line_at(t, len, pos, &le);
        char c;
        size_t cnt;
        if (have >= 1 && is_adornment(t, pos, le, &c, &cnt) && !is_blank(t, l1s, l1e) &&
            t[l1s] != ' ' && t[l1s] != '\t') {
            size_t t0 = l1s, t1 = l1e;
            trim(t, &t0, &t1);
            char c2;
            size_t cnt2;
            int over = have >= 2 && is_adornment(t, l0s, l0e, &c2, &cnt2) && c2 == c;
            int title_is_adorn = is_adornment(t, l1s, l1e, &c2, &cnt2);
            if (!title_is_adorn && cnt >= nchars(t, t0, t1)) {
                int lv = -1;
                for (int i = 0; i < nstyles; i++)
                    if (styles[i].c == c && styles[i].over == over) lv = i;
                if (lv < 0 && nstyles < MAX_LEVELS) {
                    styles[nstyles].c = c;
                    styles[nstyles].over = over;
                    lv = nstyles++;
                }
                if (lv >= 0) {
                    /* the section starts at the title (or its overline) */
                    if ((e = hl_push(hl, over ? l0s : l1s, lv + 1, t0, t1))) return e;
                    have = 0;
                    pos = next;
                    continue;
                }
            }
        }
        l0s = l1s; l0e = l1e;
        l1s = pos; l1e = le;
        if (have < 2) have++;
        pos = next;
    }
    return IDX_OK;
}

idx_err idx__chunk_structure(const idx_chunk_opts *o, const char *text, size_t len,
                             idx_chunk_list *out) {
    heading_list hl = {0};
    idx_buf path = {0};
    idx_err e = o->kind == IDX_CHUNK_RST ? parse_rst(text, len, &hl) : parse_markdown(text, len, &hl);
    size_t stack_len[MAX_LEVELS + 1] = {0}; /* path length after level i */
    int depth_level[MAX_LEVELS + 1];
    int depth = 0;
    if (e) goto done;
    size_t prev = 0;
    for (size_t i = 0; i <= hl.n && !e; i++) {
        size_t end = i < hl.n ? hl.h[i].start : len;
        if (end > prev) {
            const char *hp = path.len ? path.data : NULL;
            if (o->size && chk_span_size(o, text, prev, end) > o->size)
                e = idx__chunk_recursive(o, text, len, prev, end, out, hp, path.len);
            else
                e = idx_chunk_list_push(out, text, prev, end, hp, path.len);
            if (e) break;
        }
        if (i == hl.n) break;
        /* update the heading path */
        int lv = hl.h[i].level;
        while (depth > 0 && depth_level[depth - 1] >= lv) depth--;
        path.len = depth ? stack_len[depth - 1] : 0;
        if (depth > 0 && (e = idx_buf_append(&path, " > ", 3))) break;
        size_t tl = hl.h[i].t1 - hl.h[i].t0;
        if (tl == 0) { if ((e = idx_buf_append(&path, "-", 1))) break; }
        else if ((e = idx_buf_append(&path, text + hl.h[i].t0, tl))) break;
        if (depth < MAX_LEVELS) {
            depth_level[depth] = lv;
            stack_len[depth] = path.len;
            depth++;
        }
        prev = end;
    }
done:
    free(hl.h);
    idx_buf_free(&path);
    return e;
}
