/*
 * wordpiece.c -- BERT's tokenizer: the BasicTokenizer (clean-up, CJK
 * splitting, NFC, lower-casing, NFD accent stripping, punctuation splitting)
 * followed by greedy longest-match-first WordPiece over the vocabulary, as in
 * Hugging Face transformers' BertTokenizer (tokenization_bert.py) and the
 * tokenizers library's BertNormalizer + BertPreTokenizer + WordPiece model.
 *
 * Steps for one text, per code point (invalid UTF-8 bytes count as U+FFFD):
 *  1. drop U+0000, U+FFFD and control characters (general category C*, but
 *     not \t \n \r); map whitespace (\t \n \r, category Zs) to ' ';
 *  2. surround CJK ideographs with spaces (one token each);
 *  3. NFC, split on whitespace (also Zl/Zp, as Python's str.split does);
 *  4. per word: lower-case and strip accents (NFD, drop category Mn) when
 *     the vocabulary is uncased; split before and after each punctuation
 *     character (ASCII symbols 33-47, 58-64, 91-96, 123-126, category P*);
 *  5. WordPiece: a piece longer than max_word_chars (100) code points is
 *     [UNK]; otherwise the longest vocabulary prefix, then "##"-prefixed
 *     continuations; if some remainder matches nothing, the whole piece is
 *     [UNK].
 * The vocabulary is a hash table over piece bytes (XXH3, open addressing).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "enc_internal.h"

struct enc_wordpiece {
    char **pieces;
    size_t n;
    int32_t *table; /* open addressing, -1 empty */
    size_t mask;
    enc_wp_opts o;
    int32_t cls, sep, unk, pad;
    char *store; /* backing memory of pieces */
};

static uint64_t hstr(const char *s, size_t n) { return idx_hash64(s, n, 0x9e3779b97f4a7c15ull); }

int32_t enc_wp_id(const enc_wordpiece *wp, const char *piece, size_t len) {
    size_t i = (size_t)hstr(piece, len) & wp->mask;
    for (;;) {
        int32_t id = wp->table[i];
        if (id < 0) return -1;
        const char *p = wp->pieces[id];
        if (strlen(p) == len && memcmp(p, piece, len) == 0) return id;
        i = (i + 1) & wp->mask;
    }
}

const char *enc_wp_piece(const enc_wordpiece *wp, int32_t id) {
    return (id >= 0 && (size_t)id < wp->n) ? wp->pieces[id] : NULL;
}
size_t enc_wp_vocab_size(const enc_wordpiece *wp) { return wp->n; }
int32_t enc_wp_special(const enc_wordpiece *wp, int which) {
    switch (which) {
    case 0: return wp->cls;
    case 1: return wp->sep;
    case 2: return wp->unk;
    default: return wp->pad;
    }
}

void enc_wp_free(enc_wordpiece *wp) {
    if (!wp) return;
    free(wp->pieces);
    free(wp->table);
    free(wp->store);
    free(wp);
}

/* Builds the hash table and finds the special tokens. Duplicate pieces keep
 * the first id (as vocab.txt loading in transformers keeps the last; real
 * vocabularies have none). */
static idx_err wp_index(enc_wordpiece *wp, const char *path) {
    size_t cap = 16;
    while (cap < wp->n * 2) cap <<= 1;
    wp->table = malloc(cap * sizeof(int32_t));
    if (!wp->table) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    memset(wp->table, 0xff, cap * sizeof(int32_t));
    wp->mask = cap - 1;
    for (size_t id = 0; id < wp->n; id++) {
        const char *p = wp->pieces[id];
        size_t len = strlen(p);
        if (enc_wp_id(wp, p, len) >= 0) continue;
        size_t i = (size_t)hstr(p, len) & wp->mask;
        while (wp->table[i] >= 0) i = (i + 1) & wp->mask;
        wp->table[i] = (int32_t)id;
    }
    wp->cls = enc_wp_id(wp, "[CLS]", 5);
    wp->sep = enc_wp_id(wp, "[SEP]", 5);
    wp->unk = enc_wp_id(wp, "[UNK]", 5);
    wp->pad = enc_wp_id(wp, "[PAD]", 5);
    if (wp->cls < 0 || wp->sep < 0 || wp->unk < 0)
        return idx_fail(IDX_ERR_CORRUPT, "%s: vocabulary lacks [CLS], [SEP] or [UNK]", path);
    if (wp->pad < 0) wp->pad = 0;
    return IDX_OK;
}

static void wp_opts_default(enc_wp_opts *o) {
    if (o->max_word_chars == 0) o->max_word_chars = 100;
    if (o->strip_accents < 0) o->strip_accents = o->lower_case;
}

idx_err enc_wp_load_vocab_txt(const char *path, const enc_wp_opts *o, enc_wordpiece **out) {
    *out = NULL;
    idx_buf b = {0};
    idx_err rc = idx_read_file(path, (size_t)1 << 30, &b);
    if (rc) return rc;
    enc_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) { idx_buf_free(&b); return idx_fail(IDX_ERR_NOMEM, "out of memory"); }
    wp->o = *o;
    wp_opts_default(&wp->o);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++) lines += b.data[i] == '\n';
    lines++;
    wp->pieces = malloc(lines * sizeof(char *));
    if (!wp->pieces) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto fail; }
    wp->store = b.data; /* take ownership; split in place */
    b.data = NULL;
    char *s = wp->store, *end = wp->store + b.len;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        char *t = e;
        if (t > s && t[-1] == '\r') t--;
        *t = 0;
        if (!idx_utf8_valid(s, (size_t)(t - s))) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s:%zu: vocabulary line is not valid UTF-8", path, wp->n + 1);
            goto fail;
        }
        wp->pieces[wp->n++] = s;
        s = nl ? nl + 1 : end;
    }
    if (wp->n == 0) { rc = idx_fail(IDX_ERR_CORRUPT, "%s: empty vocabulary", path); goto fail; }
    if ((rc = wp_index(wp, path))) goto fail;
    idx_buf_free(&b);
    *out = wp;
    return IDX_OK;
fail:
    idx_buf_free(&b);
    enc_wp_free(wp);
    return rc;
}

idx_err enc_wp_load_tokenizer_json(const char *path, enc_wp_opts *o, enc_wordpiece **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return idx_fail(IDX_ERR_PARSE, "%s:%d: %s", path, jerr.line, jerr.text);
    idx_err rc = IDX_OK;
    enc_wordpiece *wp = NULL;
    json_t *model = json_object_get(root, "model");
    json_t *type = json_object_get(model, "type");
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(model) || !json_is_string(type) || !json_is_object(vocab)) {
        rc = idx_fail(IDX_ERR_PARSE, "%s: needs model.type and a model.vocab object", path);
        goto out;
    }
    if (strcmp(json_string_value(type), "WordPiece") != 0) {
        rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: model.type '%s' (only WordPiece is supported)", path,
                      json_string_value(type));
        goto out;
    }
    json_t *norm = json_object_get(root, "normalizer");
    if (json_is_object(norm)) {
        json_t *lc = json_object_get(norm, "lowercase"), *sa = json_object_get(norm, "strip_accents"),
               *cc = json_object_get(norm, "handle_chinese_chars");
        if (json_is_boolean(lc)) o->lower_case = json_is_true(lc);
        if (json_is_boolean(sa)) o->strip_accents = json_is_true(sa);
        if (json_is_boolean(cc)) o->chinese_chars = json_is_true(cc);
    }
    json_t *mx = json_object_get(model, "max_input_chars_per_word");
    if (json_is_integer(mx) && json_integer_value(mx) > 0) o->max_word_chars = (size_t)json_integer_value(mx);
    size_t n = json_object_size(vocab), total = 0;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || (size_t)json_integer_value(val) >= n) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: model.vocab['%s']: id must be in [0, %zu)", path, key, n);
            goto out;
        }
        total += strlen(key) + 1;
    }
    wp = calloc(1, sizeof *wp);
    if (!wp || !(wp->pieces = calloc(n ? n : 1, sizeof(char *))) || !(wp->store = malloc(total ? total : 1))) {
        rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto out;
    }
    wp->o = *o;
    wp_opts_default(&wp->o);
    wp->n = n;
    char *s = wp->store;
    json_object_foreach(vocab, key, val) {
        size_t id = (size_t)json_integer_value(val);
        if (wp->pieces[id]) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: model.vocab: id %zu used twice", path, id);
            goto out;
        }
        size_t l = strlen(key) + 1;
        memcpy(s, key, l);
        wp->pieces[id] = s;
        s += l;
    }
    if (n == 0) { rc = idx_fail(IDX_ERR_CORRUPT, "%s: empty vocabulary", path); goto out; }
    rc = wp_index(wp, path);
out:
    json_decref(root);
    if (rc) enc_wp_free(wp);
    else *out = wp;
    return rc;
}

/* ---- character classes (as in transformers' tokenization_bert.py) ---- */

static int is_ws(int32_t c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}
static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS: return 1;
    default: return 0;
    }
}
static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO: return 1;
    default: return 0;
    }
}
static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
static int is_split_ws(int32_t c) {
    if (c == ' ') return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* Decodes one code point; invalid bytes give U+FFFD and advance by one. */
static int32_t next_cp(const uint8_t *s, size_t len, size_t *i) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(s + *i, (utf8proc_ssize_t)(len - *i), &c);
    if (k <= 0) { (*i)++; return 0xFFFD; }
    *i += (size_t)k;
    return c;
}

static idx_err push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        idx_err rc = idx_xrealloc(ids, nc * sizeof(int32_t));
        if (rc) return rc;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return IDX_OK;
}

/* WordPiece over one punctuation-free (or single punctuation) piece. */
static idx_err wordpiece(const enc_wordpiece *wp, const char *w, size_t wl, int32_t **ids, size_t *n,
                         size_t *cap, size_t limit, char *tmp) {
    size_t nchars = 0;
    for (size_t i = 0; i < wl; i++) nchars += ((unsigned char)w[i] & 0xC0) != 0x80;
    if (nchars > wp->o.max_word_chars) return *n < limit ? push_id(ids, n, cap, wp->unk) : IDX_OK;
    size_t n0 = *n, start = 0;
    while (start < wl) {
        size_t end = wl;
        int32_t found = -1;
        while (start < end) {
            const char *q;
            size_t ql;
            if (start > 0) {
                tmp[0] = '#';
                tmp[1] = '#';
                memcpy(tmp + 2, w + start, end - start);
                q = tmp;
                ql = end - start + 2;
            } else {
                q = w;
                ql = end;
            }
            found = enc_wp_id(wp, q, ql);
            if (found >= 0) break;
            do end--; while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (found < 0) {
            *n = n0; /* the whole piece is unknown */
            return *n < limit ? push_id(ids, n, cap, wp->unk) : IDX_OK;
        }
        if (*n < limit) {
            idx_err rc = push_id(ids, n, cap, found);
            if (rc) return rc;
        }
        start = end;
    }
    return IDX_OK;
}

static int append_cp(char *buf, size_t *bl, int32_t c) {
    utf8proc_ssize_t k = utf8proc_encode_char(c, (utf8proc_uint8_t *)buf + *bl);
    *bl += (size_t)k;
    return (int)k;
}

/* One whitespace-delimited word: lower/strip, punctuation split, WordPiece. */
static idx_err do_word(const enc_wordpiece *wp, const char *w, size_t wl, int32_t **ids, size_t *n,
                       size_t *cap, size_t limit) {
    const char *text = w;
    size_t tl = wl;
    utf8proc_uint8_t *mapped = NULL;
    char *low = NULL, *scratch = NULL;
    idx_err rc = IDX_OK;
    if (wp->o.lower_case || wp->o.strip_accents) {
        /* worst case: lower-casing grows a code point to 4 bytes */
        low = malloc(wl * 4 + 4);
        if (!low) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        size_t ll = 0, i = 0;
        while (i < wl) {
            int32_t c = next_cp((const uint8_t *)w, wl, &i);
            if (wp->o.lower_case) c = utf8proc_tolower(c);
            append_cp(low, &ll, c);
        }
        text = low;
        tl = ll;
        if (wp->o.strip_accents) {
            int ascii = 1;
            for (size_t j = 0; j < tl && ascii; j++) ascii = (unsigned char)text[j] < 0x80;
            if (!ascii) {
                utf8proc_ssize_t ml = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)tl, &mapped,
                                                   UTF8PROC_DECOMPOSE | UTF8PROC_STABLE);
                if (ml < 0) {
                    mapped = NULL; /* keep the undecomposed text */
                } else {
                    size_t ol = 0, k = 0;
                    while (k < (size_t)ml) {
                        int32_t c = next_cp(mapped, (size_t)ml, &k);
                        if (utf8proc_category(c) == UTF8PROC_CATEGORY_MN) continue;
                        append_cp((char *)mapped, &ol, c); /* never outruns k */
                    }
                    text = (const char *)mapped;
                    tl = ol;
                }
            }
        }
    }
    /* scratch for "##" + piece: sized after lower-casing/NFD, which can make
     * the word longer than it was (e.g. U+023A is 2 bytes, its lower case 3) */
    scratch = malloc(tl + 8);
    if (!scratch) {
        rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* punctuation split */
    size_t i = 0, run = 0;
    while (i < tl && *n < limit) {
        size_t at = i;
        int32_t c = next_cp((const uint8_t *)text, tl, &i);
        if (is_punct(c)) {
            if (at > run && (rc = wordpiece(wp, text + run, at - run, ids, n, cap, limit, scratch))) goto out;
            if ((rc = wordpiece(wp, text + at, i - at, ids, n, cap, limit, scratch))) goto out;
            run = i;
        }
    }
    if (tl > run && *n < limit) rc = wordpiece(wp, text + run, tl - run, ids, n, cap, limit, scratch);
out:
    free(scratch);
    free(low);
    free(mapped);
    return rc;
}

idx_err enc_wp_encode(const enc_wordpiece *wp, const char *text, size_t len, int32_t **ids, size_t *n,
                      size_t *cap, size_t limit) {
    if (*n >= limit) return IDX_OK;
    /* 1-2: clean and space out CJK (output at most 3x + 4 bytes per code point) */
    size_t bcap;
    if (idx_mul_overflow(len, 3, &bcap) || bcap > SIZE_MAX - 16) return idx_fail(IDX_ERR_LIMIT, "text too long");
    char *buf = malloc(bcap + 16);
    if (!buf) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t bl = 0, i = 0;
    int ascii = 1;
    while (i < len) {
        int32_t c = next_cp((const uint8_t *)text, len, &i);
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_ws(c)) { buf[bl++] = ' '; continue; }
        if (c >= 0x80) ascii = 0;
        if (wp->o.chinese_chars && is_cjk(c)) {
            buf[bl++] = ' ';
            append_cp(buf, &bl, c);
            buf[bl++] = ' ';
        } else append_cp(buf, &bl, c);
    }
    /* 3: NFC */
    const char *t = buf;
    size_t tl = bl;
    utf8proc_uint8_t *nfc = NULL;
    if (!ascii) {
        utf8proc_ssize_t ml =
            utf8proc_map((const utf8proc_uint8_t *)buf, (utf8proc_ssize_t)bl, &nfc, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
        if (ml >= 0) {
            t = (const char *)nfc;
            tl = (size_t)ml;
        } else nfc = NULL;
    }
    idx_err rc = IDX_OK;
    size_t ws = 0;
    i = 0;
    while (rc == IDX_OK && i <= tl && *n < limit) {
        size_t at = i;
        int32_t c = i < tl ? next_cp((const uint8_t *)t, tl, &i) : ' ';
        if (at == tl) i = tl + 1;
        if (is_split_ws(c)) {
            if (at > ws) rc = do_word(wp, t + ws, at - ws, ids, n, cap, limit);
            ws = i;
        }
    }
    free(nfc);
    free(buf);
    return rc;
}
