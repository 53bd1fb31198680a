/*
 * chunk_internal.h -- text primitives shared by the chunkers (not public):
 * UTF-8 decoding where an invalid byte is one character, the word definition
 * every chunker uses (runs of non-space bytes; each CJK character is a word;
 * CJK punctuation separates), and character-boundary snapping.
 */
#ifndef IDX_CHUNK_INTERNAL_H
#define IDX_CHUNK_INTERNAL_H

#include "idx_chunk.h"

/* Decodes the character at p[0..avail): *cp = code point or -1 for an
 * invalid byte; returns its length (1 for invalid). avail must be > 0. */
static inline size_t chk_decode(const unsigned char *p, size_t avail, int32_t *cp) {
    size_t n = idx_utf8_charlen(p, avail);
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    if (n == 1) { *cp = -1; return 1; }
    int32_t c = p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) c = (c << 6) | (p[i] & 0x3F);
    *cp = c;
    return n;
}

static inline int chk_is_space(int32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x3000 ||
           c == 0xA0;
}

/* CJK ideographs, kana, hangul: each one is a word. */
static inline int chk_is_cjk(int32_t c) {
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FFFF);
}

/* CJK and full-width punctuation: separates words, is not a word. */
static inline int chk_is_cjk_punct(int32_t c) {
    return (c >= 0x3001 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
           (c >= 0xFF5B && c <= 0xFF65);
}

/* Start of the character containing byte pos (pos itself if it starts one). */
static inline size_t chk_char_floor(const char *text, size_t len, size_t pos) {
    const unsigned char *p = (const unsigned char *)text;
    if (pos >= len) return len;
    for (size_t k = 1; k <= 3 && k <= pos; k++) {
        unsigned c = p[pos - k];
        if (c >= 0xC2 && c <= 0xF4) {
            size_t n = idx_utf8_charlen(p + pos - k, len - (pos - k));
            return n > k ? pos - k : pos;
        }
        if ((c & 0xC0) != 0x80) return pos; /* ASCII or invalid lead: pos is a start */
    }
    return pos;
}

/* Finds the next word at or after pos: [*ws, *we). Returns 0 if none. */
static inline int chk_word_next(const char *text, size_t len, size_t pos, size_t *ws, size_t *we) {
    const unsigned char *p = (const unsigned char *)text;
    int32_t c;
    while (pos < len) {
        size_t n = chk_decode(p + pos, len - pos, &c);
        if (!chk_is_space(c) && !chk_is_cjk_punct(c)) break;
        pos += n;
    }
    if (pos >= len) return 0;
    *ws = pos;
    size_t n = chk_decode(p + pos, len - pos, &c);
    if (chk_is_cjk(c)) { *we = pos + n; return 1; }
    pos += n;
    while (pos < len) {
        n = chk_decode(p + pos, len - pos, &c);
        if (chk_is_space(c) || chk_is_cjk_punct(c) || chk_is_cjk(c)) break;
        pos += n;
    }
    *we = pos;
    return 1;
}

/* Size of [s, e) in the options' unit. */
static inline uint64_t chk_span_size(const idx_chunk_opts *o, const char *text, size_t s, size_t e) {
    return o->unit == IDX_CHUNK_UNIT_BYTES ? e - s : idx_chunk_count_words(text + s, e - s);
}

/* internal entry points between files */
idx_err idx__chunk_limit(const idx_chunk_opts *o, const char *text, size_t len, size_t s, size_t e,
                         idx_chunk_list *out, const char *head, size_t head_len);
idx_err idx__chunk_recursive(const idx_chunk_opts *o, const char *text, size_t len, size_t s,
                             size_t e, idx_chunk_list *out, const char *head, size_t head_len);
idx_err idx__chunk_structure(const idx_chunk_opts *o, const char *text, size_t len,
                             idx_chunk_list *out);
idx_err idx__chunk_texttiling(const idx_chunk_opts *o, const char *text, size_t len,
                              idx_chunk_list *out);
idx_err idx__chunk_ppl(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out);

#endif
