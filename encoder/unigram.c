/*
 * unigram.c -- the SentencePiece Unigram tokenizer of Hugging Face
 * tokenizers' tokenizer.json files (model.type "Unigram"), as used by
 * XLM-RoBERTa checkpoints (bge-reranker-base/-large, multilingual E5).
 *
 * Steps for one text:
 *  1. normalise: NFKC, control characters (category Cc/Cf except \t \n \r)
 *     removed, Unicode whitespace mapped to ' '. This approximates the
 *     "Precompiled" normaliser of those files (SentencePiece's nmt_nfkc
 *     charsmap, which is NFKC plus these clean-ups) without reading its
 *     binary trie; texts where the two differ are rare (some compatibility
 *     characters, unusual spaces);
 *  2. split on whitespace (WhitespaceSplit) and prefix each word with U+2581
 *     (Metaspace, add_prefix_space);
 *  3. per word, Viterbi over the vocabulary pieces (maximum total log
 *     probability; on equal scores the path found first, i.e. with the
 *     earlier start, wins, as in tokenizers' encode_optimized); a character
 *     no piece covers becomes unk_id with score min_score - 10, and
 *     consecutive unknowns are fused into one.
 * Pieces are found by hashing substrings up to the longest piece's length.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "enc_internal.h"

struct enc_unigram {
    char **piece;
    double *score;
    size_t n;
    int32_t *table;
    size_t mask;
    size_t maxlen; /* code points */
    int32_t unk;
    double unk_score;
    char *store;
};

size_t enc_ug_vocab_size(const enc_unigram *u) { return u->n; }
const char *enc_ug_piece(const enc_unigram *u, int32_t id) {
    return (u && id >= 0 && (size_t)id < u->n) ? u->piece[id] : NULL;
}

void enc_ug_free(enc_unigram *u) {
    if (!u) return;
    free(u->piece);
    free(u->score);
    free(u->table);
    free(u->store);
    free(u);
}

static uint64_t hh(const char *p, size_t n) { return idx_hash64(p, n, 0x756e69ull); }

int32_t enc_ug_id(const enc_unigram *u, const char *p, size_t n) {
    size_t i = (size_t)hh(p, n) & u->mask;
    for (;;) {
        int32_t id = u->table[i];
        if (id < 0) return -1;
        if (strlen(u->piece[id]) == n && memcmp(u->piece[id], p, n) == 0) return id;
        i = (i + 1) & u->mask;
    }
}

idx_err enc_ug_load_tokenizer_json(const char *path, enc_unigram **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return idx_fail(IDX_ERR_PARSE, "%s:%d: %s", path, jerr.line, jerr.text);
    idx_err rc = IDX_OK;
    enc_unigram *u = calloc(1, sizeof *u);
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    json_t *unk = json_object_get(model, "unk_id");
    size_t n = json_array_size(vocab), total = 0, i;
    json_t *e;
    if (!u) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "Unigram") != 0) {
        rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: model.type '%s' (only Unigram for RoBERTa-family models)", path, type);
        goto out;
    }
    if (!json_is_array(vocab) || n == 0 || n > (1u << 24) || !json_is_integer(unk) || json_integer_value(unk) < 0 ||
        (size_t)json_integer_value(unk) >= n) {
        rc = idx_fail(IDX_ERR_PARSE, "%s: Unigram model needs a non-empty model.vocab array and a valid model.unk_id",
                      path);
        goto out;
    }
    json_array_foreach(vocab, i, e) {
        json_t *p = json_array_get(e, 0);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || json_string_length(p) == 0 ||
            strlen(json_string_value(p)) != json_string_length(p) || !json_is_number(json_array_get(e, 1))) {
            rc = idx_fail(IDX_ERR_PARSE, "%s: model.vocab[%zu] is not a [piece, score] pair", path, i);
            goto out;
        }
        total += json_string_length(p) + 1;
    }
    u->n = n;
    u->unk = (int32_t)json_integer_value(unk);
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    u->piece = calloc(n, sizeof *u->piece);
    u->score = calloc(n, sizeof *u->score);
    u->store = malloc(total);
    u->table = malloc(cap * sizeof *u->table);
    if (!u->piece || !u->score || !u->store || !u->table) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    memset(u->table, 0xff, cap * sizeof *u->table);
    u->mask = cap - 1;
    char *w = u->store;
    double min_score = json_number_value(json_array_get(json_array_get(vocab, 0), 1));
    json_array_foreach(vocab, i, e) {
        const char *p = json_string_value(json_array_get(e, 0));
        size_t l = strlen(p);
        if (!idx_utf8_valid(p, l)) {
            rc = idx_fail(IDX_ERR_PARSE, "%s: model.vocab[%zu] is not valid UTF-8", path, i);
            goto out;
        }
        memcpy(w, p, l + 1);
        u->piece[i] = w;
        w += l + 1;
        u->score[i] = json_number_value(json_array_get(e, 1));
        if (u->score[i] < min_score) min_score = u->score[i];
        size_t cps = 0;
        for (size_t k = 0; k < l; k++) cps += ((unsigned char)p[k] & 0xC0) != 0x80;
        if (cps > u->maxlen) u->maxlen = cps;
        int32_t old = enc_ug_id(u, p, l); /* a later duplicate wins, as in tokenizers' token_to_ids */
        size_t j = (size_t)hh(p, l) & u->mask;
        while (u->table[j] >= 0 && u->table[j] != old) j = (j + 1) & u->mask;
        u->table[j] = (int32_t)i;
    }
    u->unk_score = min_score - 10.0;
out:
    json_decref(root);
    if (rc) enc_ug_free(u);
    else *out = u;
    return rc;
}

static idx_err push(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        idx_err rc = idx_xrealloc(ids, nc * sizeof(int32_t));
        if (rc) return rc;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return IDX_OK;
}

/* Viterbi over one word w (starting with U+2581): appends its ids. */
static idx_err viterbi(const enc_unigram *u, const char *w, size_t wl, uint32_t *off, double *best, int32_t *from,
                       int32_t *pid, int32_t *rev, int32_t **ids, size_t *n, size_t *cap, size_t limit) {
    size_t ncp = 0;
    for (size_t i = 0; i < wl;) {
        off[ncp++] = (uint32_t)i;
        i += idx_utf8_charlen((const unsigned char *)w + i, wl - i);
    }
    off[ncp] = (uint32_t)wl;
    for (size_t i = 0; i <= ncp; i++) { best[i] = 0; from[i] = -1; pid[i] = -1; }
    from[0] = 0;
    for (size_t st = 0; st < ncp; st++) {
        if (from[st] < 0) continue; /* unreachable */
        int single = 0;
        for (size_t l = 1; l <= u->maxlen && st + l <= ncp; l++) {
            int32_t id = enc_ug_id(u, w + off[st], off[st + l] - off[st]);
            if (id < 0) continue;
            if (l == 1) single = 1;
            double sc = best[st] + u->score[id];
            if (from[st + l] < 0 || sc > best[st + l]) {
                best[st + l] = sc;
                from[st + l] = (int32_t)st;
                pid[st + l] = id;
            }
        }
        if (!single) {
            double sc = best[st] + u->unk_score;
            if (from[st + 1] < 0 || sc > best[st + 1]) {
                best[st + 1] = sc;
                from[st + 1] = (int32_t)st;
                pid[st + 1] = u->unk;
            }
        }
    }
    size_t nr = 0;
    for (size_t e = ncp; e > 0; e = (size_t)from[e]) rev[nr++] = pid[e];
    int prev_unk = 0;
    idx_err rc = IDX_OK;
    for (size_t i = nr; i-- > 0 && !rc && *n < limit;) {
        int is_unk = rev[i] == u->unk;
        if (!(prev_unk && is_unk)) rc = push(ids, n, cap, rev[i]);
        prev_unk = is_unk;
    }
    return rc;
}

idx_err enc_ug_encode(const enc_unigram *u, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap,
                      size_t limit) {
    if (*n >= limit) return IDX_OK;
    size_t cl;
    if (idx_mul_overflow(len, 3, &cl) || cl > SIZE_MAX - 8) return idx_fail(IDX_ERR_LIMIT, "text too long");
    char *clean = malloc(cl + 8);
    if (!clean) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (m <= 0) { c = 0xFFFD; m = 1; }
        i += (size_t)m;
        o += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)clean + o);
    }
    utf8proc_uint8_t *nf = NULL;
    utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)clean, (utf8proc_ssize_t)o, &nf,
                                       UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE);
    free(clean);
    if (nl < 0) return idx_fail(IDX_ERR_INVALID, "text cannot be normalised: %s", utf8proc_errmsg(nl));
    /* words: whitespace-separated, each as U+2581 + word */
    size_t wcap = (size_t)nl + 4;
    char *word = malloc(wcap);
    uint32_t *off = malloc((wcap + 1) * sizeof *off);
    double *best = malloc((wcap + 1) * sizeof *best);
    int32_t *from = malloc((wcap + 1) * sizeof *from), *pid = malloc((wcap + 1) * sizeof *pid);
    int32_t *rev = malloc((wcap + 1) * sizeof *rev);
    idx_err rc = (word && off && best && from && pid && rev) ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t wl = 0;
    for (utf8proc_ssize_t i = 0; !rc && i <= nl && *n < limit;) {
        utf8proc_int32_t c = ' ';
        utf8proc_ssize_t m = 1;
        if (i < nl) {
            m = utf8proc_iterate(nf + i, nl - i, &c);
            if (m <= 0) { c = 0xFFFD; m = 1; }
        }
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || utf8proc_category(c) == UTF8PROC_CATEGORY_ZS ||
                 utf8proc_category(c) == UTF8PROC_CATEGORY_ZL || utf8proc_category(c) == UTF8PROC_CATEGORY_ZP;
        utf8proc_category_t k = utf8proc_category(c);
        int ctrl = !ws && (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF);
        if (ws) {
            if (wl > 3) rc = viterbi(u, word, wl, off, best, from, pid, rev, ids, n, cap, limit);
            wl = 0;
        } else if (!ctrl) {
            if (wl == 0) {
                memcpy(word, "\xe2\x96\x81", 3);
                wl = 3;
            }
            memcpy(word + wl, nf + i, (size_t)m);
            wl += (size_t)m;
        }
        i += m;
    }
    free(nf);
    free(word);
    free(off);
    free(best);
    free(from);
    free(pid);
    free(rev);
    return rc;
}
