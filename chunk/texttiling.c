/*
 * texttiling.c -- a TextTiling-style lexical-cohesion chunker (Hearst 1997),
 * the model-free baseline of the segmentation benchmark.
 *
 * Units are sentences (our splitter) instead of Hearst's 20-token
 * pseudo-sentences, so that cuts fall on sentence ends like the other
 * sentence-based chunkers. For every gap between sentences i and i+1 the
 * score is the cosine similarity of the term-frequency vectors of the k
 * sentences before and the k after (k = tt_block); terms are lower-cased ASCII
 * alphanumeric words of 2+ characters minus a short stop list (CJK characters
 * are terms too). The depth of a gap is (left peak - score) + (right peak -
 * score), climbing while the score rises; a gap is a boundary when it is a
 * local minimum with depth > mean - c * sd of the depths (c = tt_cutoff;
 * Hearst's "liberal" cutoff is c = 0.5). Larger c gives more chunks.
 * O(len * k) time.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "chunk_internal.h"

static const char *const STOP[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had",
    "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if",
    "more", "when", "will", "would", "who", "so", "no", "its", "our", "these", "than", "these",
    "those", "into", "also", "may", "such", "between", "both", "after", "we", "than", "other", NULL};

/* open-addressing term dictionary */
typedef struct {
    uint64_t *keys; /* hash+1, 0 = empty */
    uint32_t *ids;
    size_t cap, n;
} dict;

static idx_err dict_id(dict *d, uint64_t h, uint32_t *id) {
    h = h ? h : 1;
    if ((d->n + 1) * 2 > d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4096;
        uint64_t *nk = calloc(nc, sizeof *nk);
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!nk || !ni) {
            free(nk);
            free(ni);
            return idx_fail(IDX_ERR_NOMEM, "texttiling: out of memory");
        }
        for (size_t i = 0; i < d->cap; i++)
            if (d->keys[i]) {
                size_t j = d->keys[i] & (nc - 1);
                while (nk[j]) j = (j + 1) & (nc - 1);
                nk[j] = d->keys[i];
                ni[j] = d->ids[i];
            }
        free(d->keys);
        free(d->ids);
        d->keys = nk;
        d->ids = ni;
        d->cap = nc;
    }
    size_t j = h & (d->cap - 1);
    while (d->keys[j] && d->keys[j] != h) j = (j + 1) & (d->cap - 1);
    if (!d->keys[j]) {
        d->keys[j] = h;
        d->ids[j] = (uint32_t)d->n++;
    }
    *id = d->ids[j];
    return IDX_OK;
}

static int is_stop(const char *w, size_t n) {
    for (size_t i = 0; STOP[i]; i++)
        if (strlen(STOP[i]) == n && memcmp(STOP[i], w, n) == 0) return 1;
    return 0;
}

typedef struct {
    uint32_t *terms; /* all term ids, sentence after sentence */
    size_t n, cap;
} termbuf;

static idx_err tb_push(termbuf *b, uint32_t id) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        idx_err e = idx_xrealloc(&b->terms, nc * sizeof *b->terms);
        if (e) return e;
        b->cap = nc;
    }
    b->terms[b->n++] = id;
    return IDX_OK;
}

/* Terms of text[s, e) appended to tb. */
static idx_err terms_of(const char *t, size_t s, size_t e, dict *d, termbuf *tb) {
    char w[64];
    size_t pos = s;
    idx_err err;
    while (pos < e) {
        unsigned char c = (unsigned char)t[pos];
        if (c >= 0x80) {
            int32_t cp;
            size_t n = chk_decode((const unsigned char *)t + pos, e - pos, &cp);
            if (cp >= 0 && chk_is_cjk(cp)) {
                uint32_t id;
                if ((err = dict_id(d, idx_hash64(t + pos, n, 7), &id)) || (err = tb_push(tb, id))) return err;
            }
            pos += n;
            continue;
        }
        if (!isalnum(c)) { pos++; continue; }
        size_t a = pos, wl = 0;
        while (pos < e && (unsigned char)t[pos] < 0x80 && isalnum((unsigned char)t[pos])) {
            if (wl < sizeof w) w[wl++] = (char)tolower((unsigned char)t[pos]);
            pos++;
        }
        if (pos - a < 2 || is_stop(w, wl)) continue;
        uint32_t id;
        if ((err = dict_id(d, idx_hash64(w, wl, 7), &id)) || (err = tb_push(tb, id))) return err;
    }
    return IDX_OK;
}

idx_err idx__chunk_texttiling(const idx_chunk_opts *o, const char *text, size_t len,
                              idx_chunk_list *out) {
    idx_chunk_list sents = {0};
    dict d = {0};
    termbuf tb = {0};
    size_t *toff = NULL;
    double *score = NULL, *depth = NULL, *va = NULL, *vb = NULL;
    uint32_t *touched = NULL;
    idx_err e = idx_chunk_sentences(o, text, len, &sents);
    size_t n = sents.n;
    if (e) goto done;
    if (n < 3) {
        e = idx_chunk_list_push(out, text, 0, len, NULL, 0);
        goto done;
    }
    if ((e = idx_xmalloc((n + 1) * sizeof *toff, &toff))) goto done;
    for (size_t i = 0; i < n; i++) {
        toff[i] = tb.n;
        if ((e = terms_of(text, sents.spans[i].start, sents.spans[i].end, &d, &tb))) goto done;
    }
    toff[n] = tb.n;
    size_t V = d.n ? d.n : 1;
    va = calloc(V, sizeof *va);
    vb = calloc(V, sizeof *vb);
    score = calloc(n, sizeof *score);
    depth = calloc(n, sizeof *depth);
    if (!va || !vb || !score || !depth) { e = idx_fail(IDX_ERR_NOMEM, "texttiling: out of memory"); goto done; }
    size_t k = o->tt_block ? o->tt_block : 3;
    for (size_t g = 0; g + 1 < n; g++) {
        size_t l0 = g + 1 >= k ? g + 1 - k : 0, r1 = g + 1 + k < n ? g + 1 + k : n;
        size_t la = toff[l0], lb = toff[g + 1], ra = toff[g + 1], rb = toff[r1];
        for (size_t i = la; i < lb; i++) va[tb.terms[i]] += 1;
        for (size_t i = ra; i < rb; i++) vb[tb.terms[i]] += 1;
        double dot = 0, na = 0, nb = 0;
        for (size_t i = la; i < lb; i++) {
            uint32_t t = tb.terms[i];
            if (va[t] > 0) { dot += va[t] * vb[t]; na += va[t] * va[t]; va[t] = -va[t]; }
        }
        for (size_t i = ra; i < rb; i++) {
            uint32_t t = tb.terms[i];
            if (vb[t] > 0) { nb += vb[t] * vb[t]; vb[t] = -vb[t]; }
        }
        for (size_t i = la; i < lb; i++) va[tb.terms[i]] = 0;
        for (size_t i = ra; i < rb; i++) vb[tb.terms[i]] = 0;
        score[g] = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
    }
    size_t ng = n - 1;
    double sum = 0, sum2 = 0;
    for (size_t g = 0; g < ng; g++) {
        size_t a = g;
        while (a > 0 && score[a - 1] >= score[a]) a--;
        size_t b = g;
        while (b + 1 < ng && score[b + 1] >= score[b]) b++;
        depth[g] = (score[a] - score[g]) + (score[b] - score[g]);
        sum += depth[g];
        sum2 += depth[g] * depth[g];
    }
    double mean = sum / (double)ng, var = sum2 / (double)ng - mean * mean;
    double cut = mean - o->tt_cutoff * sqrt(var > 0 ? var : 0);
    size_t prev = 0;
    for (size_t g = 0; g < ng; g++) {
        int is_min = (g == 0 || score[g] <= score[g - 1]) && (g + 1 == ng || score[g] <= score[g + 1]);
        if (!is_min) depth[g] = 0;
    }
    if (o->target_words) {
        /* the K deepest valleys, K = round(words / target) - 1 */
        uint64_t words = idx_chunk_count_words(text, len);
        size_t want = (size_t)((words + o->target_words / 2) / o->target_words);
        want = want ? want - 1 : 0;
        for (size_t got = 0; got < want; got++) {
            size_t best = ng;
            for (size_t g = 0; g < ng; g++)
                if (depth[g] > 0 && (best == ng || depth[g] > depth[best])) best = g;
            if (best == ng) break;
            depth[best] = -1; /* chosen */
        }
        for (size_t g = 0; g < ng; g++) depth[g] = depth[g] == -1 ? 1 : 0;
        cut = 0;
    }
    for (size_t g = 0; g < ng; g++) {
        if (depth[g] > 0 && depth[g] > cut) {
            size_t at = (size_t)sents.spans[g].end;
            if ((e = idx_chunk_list_push(out, text, prev, at, NULL, 0))) goto done;
            prev = at;
        }
    }
    e = idx_chunk_list_push(out, text, prev, len, NULL, 0);
done:
    idx_chunk_list_free(&sents);
    free(d.keys);
    free(d.ids);
    free(tb.terms);
    free(toff);
    free(score);
    free(depth);
    free(va);
    free(vb);
    free(touched);
    return e;
}
