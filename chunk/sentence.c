/*
 * sentence.c -- the rule-based sentence splitter every chunker builds on, for
 * English and CJK punctuation, keeping exact byte offsets: a sentence owns the
 * whitespace that follows it, so sentences cover the text exactly.
 *
 * Rules, in order, for a candidate stop ('.', '!', '?', '…', or a run of them):
 *  - the run and any closing quotes/brackets after it must be followed by
 *    whitespace or the end (so 3.14, v1.2.3, example.com/a.b, e-mail and
 *    U.S.A never split inside);
 *  - the next word must not start with a lower-case letter (so "approx. three",
 *    '"Why?" he asked' and "e.g. this" stay together);
 *  - a single '.' after a known abbreviation (Dr, Mr, e.g, i.e, Fig, vs, al,
 *    ...), after a single letter (initials: J. R. R. Tolkien), or after a number
 *    that opens its line (a numbered list marker "1. ") is not a stop;
 *    "etc." is a stop when the next word is capitalised;
 *  - an ellipsis ("..." or "…") ends a sentence only before a capital letter.
 * CJK stops (。！？； and full-width ！？；, optionally followed by closing
 * quotes 」』”) end a sentence without needing whitespace. A blank line always
 * ends a sentence; a single newline does when the next line is a list item
 * ("- ", "* ", "+ ", "1. ", "1) ", "a) ") or a Markdown heading ("#").
 * Sentences longer than max_sentence_words words or with a run of more than
 * max_sentence_bytes bytes without whitespace are cut into pieces (see
 * idx__chunk_limit), so a 100 MB text without punctuation still yields
 * bounded sentences.
 */
#include <ctype.h>
#include <string.h>

#include "chunk_internal.h"

static const char *const ABBREV[] = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "v", "e.g", "i.e", "cf", "al", "fig",
    "figs", "eq", "eqs", "no", "nos", "vol", "vols", "approx", "inc", "ltd", "co", "corp", "dept",
    "univ", "ca", "ph.d", "u.s", "u.k", "u.s.a", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "gen",
    "col", "lt", "sgt", "capt", "rev", "hon", "gov", "sen", "rep", "est", "ref", "refs", "p", "pp",
    "sec", "ch", "ed", "eds", "resp", "min", "max", "avg", "dia", "mt", "ft", "no", "op", "viz",
    "ie", "eg", "et", "incl", "a.m", "p.m", "b.c", "a.d", "mins", "hrs", "wk", "wks", "yr", "yrs",
    "sq", "approx", "tel", "ext", "vii", "ibid", "n.b", NULL};

static int is_abbrev(const char *w, size_t n) {
    char low[16];
    if (n == 0 || n >= sizeof low) return 0;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)w[i]);
    low[n] = 0;
    for (size_t i = 0; ABBREV[i]; i++)
        if (strcmp(low, ABBREV[i]) == 0) return 1;
    return 0;
}

/* Closing quotes / brackets that may follow a stop. Returns byte length or 0. */
static size_t closer_len(const unsigned char *p, size_t avail) {
    if (avail == 0) return 0;
    if (p[0] == '"' || p[0] == '\'' || p[0] == ')' || p[0] == ']' || p[0] == '}') return 1;
    int32_t c;
    size_t n = chk_decode(p, avail, &c);
    if (c == 0x201D || c == 0x2019 || c == 0x00BB || c == 0x300D || c == 0x300F || c == 0xFF09 ||
        c == 0x3011 || c == 0xFF63)
        return n;
    return 0;
}

static int is_cjk_stop(int32_t c) {
    return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF1B || c == 0xFF0E;
}

/* Is the line starting at pos (after leading blanks) a list item or heading? */
static int line_is_item(const char *t, size_t len, size_t pos) {
    while (pos < len && (t[pos] == ' ' || t[pos] == '\t')) pos++;
    if (pos >= len) return 0;
    char c = t[pos];
    if (c == '#') return 1;
    if ((c == '-' || c == '*' || c == '+') && pos + 1 < len && (t[pos + 1] == ' ' || t[pos + 1] == '\t'))
        return 1;
    size_t q = pos;
    while (q < len && q - pos < 4 && isdigit((unsigned char)t[q])) q++;
    if (q == pos && q < len && isalpha((unsigned char)t[q]) && q + 1 < len && t[q + 1] == ')') q++;
    if (q > pos && q + 1 < len && (t[q] == '.' || t[q] == ')') && (t[q + 1] == ' ' || t[q + 1] == '\t'))
        return 1;
    return 0;
}

/* Position after whitespace starting at pos. Sets *blank if it holds >= 2 newlines,
 * *nl if it holds a newline. */
static size_t skip_space(const char *t, size_t len, size_t pos, int *nl, int *blank) {
    int nls = 0;
    const unsigned char *p = (const unsigned char *)t;
    int32_t c;
    while (pos < len) {
        size_t n = chk_decode(p + pos, len - pos, &c);
        if (!chk_is_space(c)) break;
        if (c == '\n') nls++;
        pos += n;
    }
    if (nl) *nl = nls > 0;
    if (blank) *blank = nls >= 2;
    return pos;
}

/* Does a stop at [.., stop_end) end a sentence? next = start of the next word. */
static int period_ends(const char *t, size_t len, size_t wstart, size_t stop_pos, size_t run,
                       size_t next) {
    const unsigned char *p = (const unsigned char *)t;
    if (next >= len) return 1;
    int32_t c;
    chk_decode(p + next, len - next, &c);
    int next_lower = c >= 0 && c < 0x80 ? islower(c) : 0;
    int next_upper = c >= 0 && c < 0x80 ? isupper(c) : 1; /* non-ASCII: treat as capital */
    if (next_lower) return 0;
    if (run > 1) return next_upper || (c >= 0 && chk_is_cjk(c)) || c == '"' || c == '(';
    if (t[stop_pos] != '.') return 1;
    /* the word before the '.', without opening quotes/brackets */
    size_t ws = wstart;
    while (ws < stop_pos && strchr("\"'([{", t[ws])) ws++;
    size_t wl = stop_pos - ws;
    if (wl == 0) return 1;
    if (wl == 1 && isalpha((unsigned char)t[ws])) return 0; /* initial or single letter */
    if (wl == 3 && strncasecmp(t + ws, "etc", 3) == 0) return next_upper;
    if (is_abbrev(t + ws, wl)) return 0;
    /* dotted acronyms (U.S., Ph.D.): stop only before a capital */
    int dotted = 0;
    for (size_t i = ws; i < stop_pos; i++) if (t[i] == '.') dotted = 1;
    if (dotted && wl <= 8) return next_upper;
    /* a number opening its line: list marker "12. Item" */
    int digits = 1;
    for (size_t i = ws; i < stop_pos; i++) if (!isdigit((unsigned char)t[i])) digits = 0;
    if (digits && wl <= 3) {
        size_t b = ws;
        while (b > 0 && (t[b - 1] == ' ' || t[b - 1] == '\t')) b--;
        if (b == 0 || t[b - 1] == '\n') return 0;
    }
    return 1;
}

idx_err idx_chunk_sentences(const idx_chunk_opts *o, const char *text, size_t len,
                            idx_chunk_list *out) {
    const unsigned char *p = (const unsigned char *)text;
    size_t sent = 0;   /* start of the current sentence */
    size_t wstart = 0; /* start of the current whitespace-delimited token */
    size_t pos = skip_space(text, len, 0, NULL, NULL);
    wstart = pos;
    idx_err e;
    while (pos < len) {
        int32_t c;
        size_t n = chk_decode(p + pos, len - pos, &c);
        size_t cut = 0; /* sentence end (exclusive) if a boundary is found */
        if (c == '.' || c == '!' || c == '?' || c == 0x2026) {
            size_t q = pos, run = 0, stop_pos = pos;
            int dots = 1;
            for (;;) {
                if (q < len && (p[q] == '.' || p[q] == '!' || p[q] == '?')) {
                    if (p[q] != '.') dots = 0;
                    q++; run++; continue;
                }
                if (q + 2 < len && p[q] == 0xE2 && p[q + 1] == 0x80 && p[q + 2] == 0xA6) {
                    q += 3; run += 3; continue;
                }
                break;
            }
            if (!dots) run = 1; /* "?!" is one stop, not an ellipsis */
            size_t cl;
            while ((cl = closer_len(p + q, len - q)) > 0) q += cl;
            int32_t nc = ' ';
            if (q < len) chk_decode(p + q, len - q, &nc);
            if (q >= len || chk_is_space(nc)) {
                size_t next = skip_space(text, len, q, NULL, NULL);
                if (period_ends(text, len, wstart, stop_pos, run, next)) cut = next;
            }
            if (!cut) { pos = q > pos ? q : pos + n; continue; }
        } else if (c >= 0 && is_cjk_stop(c)) {
            size_t q = pos + n, cl;
            while (q < len) {
                int32_t c2;
                size_t n2 = chk_decode(p + q, len - q, &c2);
                if (!is_cjk_stop(c2)) break;
                q += n2;
            }
            while ((cl = closer_len(p + q, len - q)) > 0) q += cl;
            cut = skip_space(text, len, q, NULL, NULL);
        } else if (chk_is_space(c)) {
            int nl, blank;
            size_t next = skip_space(text, len, pos, &nl, &blank);
            if (next < len && (blank || (nl && line_is_item(text, len, next)))) cut = next;
            else {
                pos = next;
                wstart = next;
                continue;
            }
        } else {
            pos += n;
            continue;
        }
        if (cut >= len) break;
        if ((e = idx__chunk_limit(o, text, len, sent, cut, out, NULL, 0))) return e;
        sent = pos = wstart = cut;
    }
    if (sent < len) return idx__chunk_limit(o, text, len, sent, len, out, NULL, 0);
    return IDX_OK;
}

/* Emits [s, e) as one or more pieces of at most max_sentence_words words and
 * with no run of more than max_sentence_bytes bytes without a word start. */
idx_err idx__chunk_limit(const idx_chunk_opts *o, const char *text, size_t len, size_t s, size_t e,
                         idx_chunk_list *out, const char *head, size_t head_len) {
    size_t maxw = o && o->max_sentence_words ? o->max_sentence_words : 512;
    size_t maxb = o && o->max_sentence_bytes ? o->max_sentence_bytes : 4096;
    size_t piece = s, words = 0, pos = s, ws, we;
    idx_err err;
    while (pos < e && chk_word_next(text, e, pos, &ws, &we)) {
        if (words >= maxw && ws > piece) {
            if ((err = idx_chunk_list_push(out, text, piece, ws, head, head_len))) return err;
            piece = ws;
            words = 0;
        }
        /* a long run: cut at character boundaries every maxb bytes */
        while (we - piece > maxb) {
            size_t cut = ws > piece ? ws : chk_char_floor(text, len, piece + maxb);
            if (cut <= piece) cut = piece + idx_utf8_charlen((const unsigned char *)text + piece, len - piece);
            if ((err = idx_chunk_list_push(out, text, piece, cut, head, head_len))) return err;
            piece = cut;
            words = 0;
            if (ws < piece) ws = piece;
        }
        words++;
        pos = we;
    }
    if (piece < e) return idx_chunk_list_push(out, text, piece, e, head, head_len);
    return IDX_OK;
}
