/*
 * sentencepiece.c -- SentencePiece unigram tokenization (Kudo 2018,
 * arXiv:1804.10959) over the USE lite vocabulary (vocab.json: a JSON array of
 * [piece, log-probability] pairs, 8,000 entries, the first 6 reserved).
 *
 * This reproduces the tokenizer that TensorFlow.js's universal-sentence-
 * encoder package applies before the graph (tokenizer/index.ts), quirks
 * included, because the model was run that way:
 *  - NFKC, then "\u2581" prepended and every ASCII space replaced by "\u2581"
 *    (nothing is prepended to an empty text);
 *  - the lattice holds every vocabulary piece (reserved ids 0-5 excluded;
 *    a later duplicate wins) that starts at each code point; where none
 *    does, an unknown one-character node with id 0 and score 0;
 *  - Viterbi in order of end position, then start position: a candidate
 *    replaces the best when the best is still 0 or the candidate's score is
 *    >= the best (so ties go to the later start, and an all-unknown path of
 *    score 0 beats real pieces, as in the original);
 *  - a null score (the shipped vocabulary has 7, all pieces with ':')
 *    counts as 0, as JavaScript's null + x does;
 *  - the backward pass steps back by each piece's UTF-16 length;
 *  - consecutive unknown ids (0) are merged into one.
 * Pieces are found by hashing every substring of up to the longest piece's
 * length in code points: O(n * maxlen) lookups for n code points.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "enc_internal.h"

#define SPM_RESERVED 6

struct enc_spm {
    char **piece;
    double *score;
    uint32_t *u16len; /* UTF-16 length of each piece */
    size_t n;
    int32_t *table; /* open addressing over pieces, -1 empty */
    size_t mask;
    size_t maxlen; /* longest piece in code points */
    char *store;
};

size_t enc_spm_vocab_size(const enc_spm *s) { return s->n; }
const char *enc_spm_piece(const enc_spm *s, int32_t id) {
    return (s && id >= 0 && (size_t)id < s->n) ? s->piece[id] : NULL;
}

void enc_spm_free(enc_spm *s) {
    if (!s) return;
    free(s->piece);
    free(s->score);
    free(s->u16len);
    free(s->table);
    free(s->store);
    free(s);
}

static uint64_t h(const char *p, size_t n) { return idx_hash64(p, n, 0x5eedull); }

static int32_t spm_find(const enc_spm *s, const char *p, size_t n) {
    size_t i = (size_t)h(p, n) & s->mask;
    for (;;) {
        int32_t id = s->table[i];
        if (id < 0) return -1;
        if (strlen(s->piece[id]) == n && memcmp(s->piece[id], p, n) == 0) return id;
        i = (i + 1) & s->mask;
    }
}

idx_err enc_spm_load_json(const char *path, enc_spm **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return idx_fail(strstr(jerr.text, "unable to open") ? IDX_ERR_NOT_FOUND : IDX_ERR_PARSE, "%s:%d: %s", path,
                        jerr.line, jerr.text);
    idx_err rc = IDX_OK;
    enc_spm *s = calloc(1, sizeof *s);
    size_t n = json_array_size(root), total = 0, i;
    json_t *e;
    if (!s) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    if (!json_is_array(root) || n <= SPM_RESERVED || n > (1u << 24)) {
        rc = idx_fail(IDX_ERR_PARSE, "%s: expected a JSON array of more than %d [piece, score] pairs", path,
                      SPM_RESERVED);
        goto out;
    }
    json_array_foreach(root, i, e) {
        json_t *p = json_array_get(e, 0), *sc = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || !(json_is_number(sc) || json_is_null(sc)) ||
            json_string_length(p) == 0 || strlen(json_string_value(p)) != json_string_length(p)) {
            rc = idx_fail(IDX_ERR_PARSE, "%s: entry %zu is not a [non-empty piece, score] pair", path, i);
            goto out;
        }
        total += json_string_length(p) + 1;
    }
    s->n = n;
    s->piece = calloc(n, sizeof *s->piece);
    s->score = calloc(n, sizeof *s->score);
    s->u16len = calloc(n, sizeof *s->u16len);
    s->store = malloc(total);
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    s->table = malloc(cap * sizeof *s->table);
    if (!s->piece || !s->score || !s->u16len || !s->store || !s->table) {
        rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto out;
    }
    memset(s->table, 0xff, cap * sizeof *s->table);
    s->mask = cap - 1;
    char *w = s->store;
    json_array_foreach(root, i, e) {
        const char *p = json_string_value(json_array_get(e, 0));
        size_t l = strlen(p);
        memcpy(w, p, l + 1);
        s->piece[i] = w;
        w += l + 1;
        s->score[i] = json_number_value(json_array_get(e, 1)); /* null counts as 0, as in JavaScript */
        size_t cps = 0, u16 = 0, k = 0;
        while (k < l) {
            utf8proc_int32_t c;
            utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)p + k, (utf8proc_ssize_t)(l - k), &c);
            if (m <= 0) {
                rc = idx_fail(IDX_ERR_PARSE, "%s: entry %zu is not valid UTF-8", path, i);
                goto out;
            }
            k += (size_t)m;
            cps++;
            u16 += c >= 0x10000 ? 2 : 1;
        }
        s->u16len[i] = (uint32_t)u16;
        if (i < SPM_RESERVED) continue;
        if (cps > s->maxlen) s->maxlen = cps;
        int32_t old = spm_find(s, p, l);
        if (old >= 0) { /* a later duplicate replaces the earlier one */
            size_t j = (size_t)h(p, l) & s->mask;
            while (s->table[j] != old) j = (j + 1) & s->mask;
            s->table[j] = (int32_t)i;
        } else {
            size_t j = (size_t)h(p, l) & s->mask;
            while (s->table[j] >= 0) j = (j + 1) & s->mask;
            s->table[j] = (int32_t)i;
        }
    }
out:
    json_decref(root);
    if (rc) enc_spm_free(s);
    else *out = s;
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

typedef struct {
    uint32_t start, end;
    int32_t id;
    double score;
} edge;

idx_err enc_spm_encode(const enc_spm *s, const char *text, size_t len, int32_t unk_id, int32_t **ids, size_t *n,
                       size_t *cap) {
    (void)unk_id; /* the unknown id is 0 in this vocabulary, as in the original */
    idx_err rc = IDX_OK;
    /* invalid UTF-8 bytes become U+FFFD (as a JavaScript string would hold them) */
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
    utf8proc_uint8_t *nfkc = NULL;
    utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)clean, (utf8proc_ssize_t)o, &nfkc,
                                       UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE);
    free(clean);
    if (nl < 0) return idx_fail(IDX_ERR_INVALID, "text cannot be normalised: %s", utf8proc_errmsg(nl));
    /* code points with "\u2581" for spaces and in front; byte offsets of each */
    size_t ncp = 0;
    for (utf8proc_ssize_t i = 0; i < nl; i++) ncp += (nfkc[i] & 0xC0) != 0x80;
    if (ncp == 0) { free(nfkc); return IDX_OK; }
    ncp++;
    char *buf = malloc((size_t)nl * 3 + 8);
    uint32_t *off = malloc((ncp + 1) * sizeof *off);
    double *best = calloc(ncp + 1, sizeof *best);
    int32_t *word = calloc(ncp + 1, sizeof *word);
    uint32_t *nend = calloc(ncp + 2, sizeof *nend);
    edge *ed = NULL, *sorted = NULL;
    size_t ne = 0, ecap = 0;
    int32_t *rev = NULL;
    if (!buf || !off || !best || !word || !nend) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    size_t bl = 0, k = 0;
    static const char sep[] = "\xe2\x96\x81";
    off[k++] = 0;
    memcpy(buf, sep, 3);
    bl = 3;
    for (utf8proc_ssize_t i = 0; i < nl;) {
        off[k++] = (uint32_t)bl;
        if (nfkc[i] == ' ') {
            memcpy(buf + bl, sep, 3);
            bl += 3;
            i++;
        } else {
            size_t m = idx_utf8_charlen(nfkc + i, (size_t)(nl - i));
            memcpy(buf + bl, nfkc + i, m);
            bl += m;
            i += (utf8proc_ssize_t)m;
        }
    }
    off[k] = (uint32_t)bl;
    /* lattice edges, by start then length */
    for (size_t st = 0; st < ncp; st++) {
        int any = 0;
        for (size_t l = 1; l <= s->maxlen && st + l <= ncp; l++) {
            int32_t id = spm_find(s, buf + off[st], off[st + l] - off[st]);
            if (id < 0) continue;
            any = 1;
            if (ne == ecap) {
                ecap = ecap ? ecap * 2 : 256;
                if ((rc = idx_xrealloc(&ed, ecap * sizeof *ed))) goto out;
            }
            ed[ne++] = (edge){(uint32_t)st, (uint32_t)(st + l), id, s->score[id]};
        }
        if (!any) {
            if (ne == ecap) {
                ecap = ecap ? ecap * 2 : 256;
                if ((rc = idx_xrealloc(&ed, ecap * sizeof *ed))) goto out;
            }
            ed[ne++] = (edge){(uint32_t)st, (uint32_t)(st + 1), 0, 0.0};
        }
    }
    /* stable counting sort by end keeps starts ascending within an end */
    if ((rc = idx_xmalloc((ne ? ne : 1) * sizeof *sorted, &sorted))) goto out;
    for (size_t i = 0; i < ne; i++) nend[ed[i].end + 1]++;
    for (size_t i = 1; i <= ncp + 1; i++) nend[i] += nend[i - 1];
    for (size_t i = 0; i < ne; i++) sorted[nend[ed[i].end]++] = ed[i];
    for (size_t i = 0; i < ne; i++) {
        const edge *x = &sorted[i];
        double sc = x->score + best[x->start];
        if (best[x->end] == 0 || sc >= best[x->end]) {
            best[x->end] = sc;
            word[x->end] = x->id;
        }
    }
    /* backward pass (UTF-16 steps, as in JavaScript), merge unknowns, reverse */
    if ((rc = idx_xmalloc((ncp + 1) * sizeof *rev, &rev))) goto out;
    size_t nr = 0;
    long it = (long)ncp;
    while (it > 0) {
        rev[nr++] = word[it];
        it -= (long)s->u16len[word[it]];
    }
    int prev_unk = 0;
    size_t nm = 0;
    for (size_t i = 0; i < nr; i++) {
        int unk = rev[i] == 0;
        if (!(prev_unk && unk)) rev[nm++] = rev[i];
        prev_unk = unk;
    }
    for (size_t i = nm; i-- > 0 && !rc;) rc = push(ids, n, cap, rev[i]);
out:
    free(nfkc);
    free(buf);
    free(off);
    free(best);
    free(word);
    free(nend);
    free(ed);
    free(sorted);
    free(rev);
    return rc;
}
