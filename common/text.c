/*
 * text.c -- text analysis: Unicode word tokenization, case and accent folding
 * (utf8proc), English possessive removal, stopwords and Snowball stemming
 * (libstemmer). Rules are in idx_text.h. The analyser caches the analysis of
 * each distinct folded word (stopword or stem) in an open-addressing table,
 * so stemming costs once per vocabulary word rather than once per token;
 * the cache is dropped and restarted when it reaches 1M words.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "idx_text.h"

/* Lucene EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (the list Anserini uses). */
static const char *const lucene_stop[] = {
    "a",    "an",   "and",   "are",  "as",    "at",   "be",   "but",  "by",
    "for",  "if",   "in",    "into", "is",    "it",   "no",   "not",  "of",
    "on",   "or",   "such",  "that", "the",   "their", "then", "there", "these",
    "they", "this", "to",    "was",  "will",  "with"};

void idx_text_config_default(idx_text_config *c) {
    memset(c, 0, sizeof *c);
    c->casefold = 1;
    c->fold_accents = 1;
    c->possessive = 1;
    c->min_len = 1;
    c->max_len = 64;
    strcpy(c->stopwords, "lucene");
    strcpy(c->stemmer, "english");
}

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) { *out = 1; return 0; }
    if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) { *out = 0; return 0; }
    return -1;
}

static idx_err check_config(const idx_text_config *c) {
    if (strcmp(c->stopwords, "lucene") && strcmp(c->stopwords, "none"))
        return idx_fail(IDX_ERR_INVALID, "unknown stopword list '%s' (lucene, none)", c->stopwords);
    if (strcmp(c->stemmer, "none")) {
        struct sb_stemmer *s = sb_stemmer_new(c->stemmer, "UTF_8");
        if (!s) return idx_fail(IDX_ERR_INVALID, "unknown stemmer '%s' (porter, english, none, ...)", c->stemmer);
        sb_stemmer_delete(s);
    }
    if (c->min_len < 1 || c->max_len < c->min_len || c->max_len > 4096)
        return idx_fail(IDX_ERR_INVALID, "token lengths must satisfy 1 <= min_len <= max_len <= 4096");
    return IDX_OK;
}

idx_err idx_text_config_parse(idx_text_config *c, const char *spec) {
    if (!spec) return IDX_OK;
    char *copy = strdup(spec);
    if (!copy) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = IDX_OK;
    char *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv && !e; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) { e = idx_fail(IDX_ERR_INVALID, "analyzer option '%s' is not key=value", kv); break; }
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        int b;
        char *end;
        if (!strcmp(k, "casefold") || !strcmp(k, "accents") || !strcmp(k, "possessive")) {
            if (parse_bool(v, &b)) { e = idx_fail(IDX_ERR_INVALID, "analyzer option %s: '%s' is not a boolean", k, v); break; }
            if (!strcmp(k, "casefold")) c->casefold = b;
            else if (!strcmp(k, "accents")) c->fold_accents = b;
            else c->possessive = b;
        } else if (!strcmp(k, "min_len") || !strcmp(k, "max_len")) {
            unsigned long n = strtoul(v, &end, 10);
            if (!*v || *end || n > 4096) { e = idx_fail(IDX_ERR_INVALID, "analyzer option %s: bad number '%s'", k, v); break; }
            if (!strcmp(k, "min_len")) c->min_len = (uint32_t)n;
            else c->max_len = (uint32_t)n;
        } else if (!strcmp(k, "stopwords") || !strcmp(k, "stemmer")) {
            if (strlen(v) >= IDX_TEXT_NAME_MAX) { e = idx_fail(IDX_ERR_INVALID, "analyzer option %s: name too long", k); break; }
            strcpy(!strcmp(k, "stopwords") ? c->stopwords : c->stemmer, v);
        } else {
            e = idx_fail(IDX_ERR_INVALID, "unknown analyzer option '%s' (casefold, accents, possessive, min_len, max_len, stopwords, stemmer)", k);
        }
    }
    free(copy);
    if (!e) e = check_config(c);
    return e;
}

idx_err idx_text_config_to_json(const idx_text_config *c, json_t **out) {
    json_t *o = json_pack("{s:s,s:b,s:b,s:b,s:I,s:I,s:s,s:s}", "tokenizer", "unicode-words-v1",
                          "casefold", c->casefold, "accents", c->fold_accents, "possessive",
                          c->possessive, "min_len", (json_int_t)c->min_len, "max_len",
                          (json_int_t)c->max_len, "stopwords", c->stopwords, "stemmer", c->stemmer);
    if (!o) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    *out = o;
    return IDX_OK;
}

idx_err idx_text_config_from_json(const json_t *obj, idx_text_config *c) {
    idx_text_config_default(c);
    if (!json_is_object(obj)) return idx_fail(IDX_ERR_CORRUPT, "analyzer configuration is not a JSON object");
    json_t *v;
    if ((v = json_object_get(obj, "tokenizer")) && (!json_is_string(v) || strcmp(json_string_value(v), "unicode-words-v1")))
        return idx_fail(IDX_ERR_UNSUPPORTED, "unknown tokenizer in analyzer configuration");
    if ((v = json_object_get(obj, "casefold"))) c->casefold = json_is_true(v);
    if ((v = json_object_get(obj, "accents"))) c->fold_accents = json_is_true(v);
    if ((v = json_object_get(obj, "possessive"))) c->possessive = json_is_true(v);
    if ((v = json_object_get(obj, "min_len"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4096)
            return idx_fail(IDX_ERR_CORRUPT, "analyzer min_len is not a small integer");
        c->min_len = (uint32_t)json_integer_value(v);
    }
    if ((v = json_object_get(obj, "max_len"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4096)
            return idx_fail(IDX_ERR_CORRUPT, "analyzer max_len is not a small integer");
        c->max_len = (uint32_t)json_integer_value(v);
    }
    const char *keys[2] = {"stopwords", "stemmer"};
    char *dst[2] = {c->stopwords, c->stemmer};
    for (int i = 0; i < 2; i++) {
        if (!(v = json_object_get(obj, keys[i]))) continue;
        if (!json_is_string(v) || strlen(json_string_value(v)) >= IDX_TEXT_NAME_MAX)
            return idx_fail(IDX_ERR_CORRUPT, "analyzer %s is not a short string", keys[i]);
        strcpy(dst[i], json_string_value(v));
    }
    return check_config(c);
}

/* ------------------------------------------------------------------------ */
/* Analyser                                                                   */
/* ------------------------------------------------------------------------ */

#define CACHE_MAX_WORDS (1u << 20)

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len; /* folded word in arena */
    uint32_t out_off, out_len; /* analysed term in arena; out_len UINT32_MAX = stopword */
} cache_slot;

struct idx_text_analyzer {
    idx_text_config cfg;
    struct sb_stemmer *stem;
    cache_slot *slots; /* key_len 0 = empty */
    size_t nslots, nused;
    idx_buf arena;
    idx_buf tok;         /* the folded token being built */
    idx_buf stop_arena;  /* unused placeholder for symmetry */
};

idx_err idx_text_analyzer_new(const idx_text_config *c, idx_text_analyzer **out) {
    idx_err e = check_config(c);
    if (e) return e;
    idx_text_analyzer *a = calloc(1, sizeof *a);
    if (!a) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    a->cfg = *c;
    if (strcmp(c->stemmer, "none")) {
        a->stem = sb_stemmer_new(c->stemmer, "UTF_8");
        if (!a->stem) { free(a); return idx_fail(IDX_ERR_INVALID, "unknown stemmer '%s'", c->stemmer); }
    }
    a->nslots = 4096;
    a->slots = calloc(a->nslots, sizeof *a->slots);
    if (!a->slots) { idx_text_analyzer_free(a); return idx_fail(IDX_ERR_NOMEM, "out of memory"); }
    *out = a;
    return IDX_OK;
}

void idx_text_analyzer_free(idx_text_analyzer *a) {
    if (!a) return;
    if (a->stem) sb_stemmer_delete(a->stem);
    free(a->slots);
    idx_buf_free(&a->arena);
    idx_buf_free(&a->tok);
    idx_buf_free(&a->stop_arena);
    free(a);
}

const idx_text_config *idx_text_analyzer_config(const idx_text_analyzer *a) { return &a->cfg; }

int idx_text_is_stopword(const idx_text_analyzer *a, const char *w, size_t len) {
    if (strcmp(a->cfg.stopwords, "lucene")) return 0;
    for (size_t i = 0; i < sizeof lucene_stop / sizeof *lucene_stop; i++)
        if (strlen(lucene_stop[i]) == len && !memcmp(lucene_stop[i], w, len)) return 1;
    return 0;
}

static void cache_clear(idx_text_analyzer *a) {
    memset(a->slots, 0, a->nslots * sizeof *a->slots);
    a->nused = 0;
    a->arena.len = 0;
}

static idx_err cache_grow(idx_text_analyzer *a) {
    size_t n = a->nslots * 2;
    cache_slot *s = calloc(n, sizeof *s);
    if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->nslots; i++) {
        if (!a->slots[i].key_len) continue;
        size_t j = a->slots[i].hash & (n - 1);
        while (s[j].key_len) j = (j + 1) & (n - 1);
        s[j] = a->slots[i];
    }
    free(a->slots);
    a->slots = s;
    a->nslots = n;
    return IDX_OK;
}

/* Analyses one folded word (stopword test + stem) through the cache.
 * *out_len UINT32_MAX means "stopword". */
static idx_err analyse_word(idx_text_analyzer *a, const char *w, size_t len, const char **out,
                            uint32_t *out_len) {
    uint64_t h = idx_hash64(w, len, 0x5eed);
    size_t mask = a->nslots - 1, j = h & mask;
    while (a->slots[j].key_len) {
        cache_slot *s = &a->slots[j];
        if (s->hash == h && s->key_len == len && !memcmp(a->arena.data + s->key_off, w, len)) {
            *out = a->arena.data + s->out_off;
            *out_len = s->out_len;
            return IDX_OK;
        }
        j = (j + 1) & mask;
    }
    /* miss: compute */
    const char *res = w;
    size_t rlen = len;
    uint32_t olen;
    if (idx_text_is_stopword(a, w, len)) {
        olen = UINT32_MAX;
        rlen = 0;
    } else {
        if (a->stem) {
            const sb_symbol *r = sb_stemmer_stem(a->stem, (const sb_symbol *)w, (int)len);
            if (!r) return idx_fail(IDX_ERR_NOMEM, "stemmer out of memory");
            res = (const char *)r;
            rlen = (size_t)sb_stemmer_length(a->stem);
        }
        olen = (uint32_t)rlen;
    }
    if (a->nused >= CACHE_MAX_WORDS || a->arena.len > (1u << 30)) cache_clear(a);
    if ((a->nused + 1) * 2 > a->nslots) {
        idx_err e = cache_grow(a);
        if (e) return e;
    }
    /* res may point into the stemmer's buffer: copy key then result */
    size_t koff = a->arena.len;
    idx_err e = idx_buf_append(&a->arena, w, len);
    if (e) return e;
    size_t ooff = a->arena.len;
    if (rlen && (e = idx_buf_append(&a->arena, res, rlen))) return e;
    mask = a->nslots - 1;
    j = h & mask;
    while (a->slots[j].key_len) j = (j + 1) & mask;
    a->slots[j] = (cache_slot){h, (uint32_t)koff, (uint32_t)len, (uint32_t)ooff, olen};
    a->nused++;
    *out = a->arena.data + ooff;
    *out_len = olen;
    return IDX_OK;
}

/* Character classes for tokenization. */
enum { C_SEP = 0, C_LETTER = 1, C_DIGIT = 2, C_WORD = 3 };

static int cp_class(int32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return C_LETTER;
        if (cp >= '0' && cp <= '9') return C_DIGIT;
        if (cp == '_') return C_WORD;
        return C_SEP;
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return C_DIGIT;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_PC:
        return C_WORD;
    default:
        return C_SEP;
    }
}

/* Decodes the code point at p (len avail); invalid bytes give cp -1, 1 byte. */
static size_t next_cp(const unsigned char *p, size_t avail, int32_t *cp) {
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)(avail > 4 ? 4 : avail), &c);
    if (n <= 0) { *cp = -1; return 1; }
    *cp = c;
    return (size_t)n;
}

/* Appends the folded form of cp to a->tok. */
static idx_err append_folded(idx_text_analyzer *a, int32_t cp) {
    if (cp < 0x80) {
        char ch = (char)cp;
        if (a->cfg.casefold && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        return idx_buf_append(&a->tok, &ch, 1);
    }
    int opts = 0;
    if (a->cfg.casefold) opts |= UTF8PROC_CASEFOLD;
    if (a->cfg.fold_accents) opts |= UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK;
    utf8proc_int32_t buf[32];
    utf8proc_ssize_t n = 1;
    buf[0] = cp;
    if (opts) {
        int last = 0;
        n = utf8proc_decompose_char(cp, buf, 32, (utf8proc_option_t)opts, &last);
        if (n < 0 || n > 32) { n = 1; buf[0] = cp; }
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(buf[i], enc);
        idx_err e = idx_buf_append(&a->tok, enc, (size_t)m);
        if (e) return e;
    }
    return IDX_OK;
}

idx_err idx_text_analyze(idx_text_analyzer *a, const char *text, size_t len, idx_text_term_fn fn,
                         void *ud) {
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    uint32_t pos = 0;
    while (i < len) {
        int32_t cp;
        size_t n = next_cp(p + i, len - i, &cp);
        int cls = cp < 0 ? C_SEP : cp_class(cp);
        if (cls == C_SEP) { i += n; continue; }
        /* a token starts at i */
        size_t start = i;
        a->tok.len = 0;
        int prev = cls;
        for (;;) {
            idx_err e = append_folded(a, cp);
            if (e) return e;
            i += n;
            if (i >= len) break;
            n = next_cp(p + i, len - i, &cp);
            cls = cp < 0 ? C_SEP : cp_class(cp);
            if (cls != C_SEP) { prev = cls; continue; }
            /* joiners: apostrophe between letters, . or , between digits */
            int is_apos = cp == '\'' || cp == 0x2019;
            int is_num = cp == '.' || cp == ',';
            if (!is_apos && !is_num) break;
            if (i + n >= len) break;
            int32_t cp2;
            size_t n2 = next_cp(p + i + n, len - i - n, &cp2);
            int cls2 = cp2 < 0 ? C_SEP : cp_class(cp2);
            if (is_apos && !(prev == C_LETTER && cls2 == C_LETTER)) break;
            if (is_num && !(prev == C_DIGIT && cls2 == C_DIGIT)) break;
            char j = is_apos ? '\'' : (char)cp;
            if ((e = idx_buf_append(&a->tok, &j, 1))) return e;
            i += n;
            cp = cp2;
            n = n2;
            cls = cls2;
            prev = cls2;
        }
        size_t end = i;
        uint32_t mypos = pos++;
        char *w = a->tok.data;
        size_t wl = a->tok.len;
        if (a->cfg.possessive && wl >= 2 && w[wl - 1] == 's' && w[wl - 2] == '\'') wl -= 2;
        if (wl < a->cfg.min_len || wl > a->cfg.max_len) continue;
        const char *term = NULL;
        uint32_t tl = 0;
        idx_err e = analyse_word(a, w, wl, &term, &tl);
        if (e) return e;
        if (tl == UINT32_MAX || tl == 0) continue;
        if (fn(ud, term, tl, start, end, mypos)) return IDX_ERR_CANCELLED;
    }
    return IDX_OK;
}
