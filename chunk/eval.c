/*
 * eval.c -- segmentation metrics for the chunking benchmark: Pk (Beeferman,
 * Berger and Lafferty 1999) and WindowDiff (Pevzner and Hearst 2002), in the
 * formulation of NLTK's nltk.metrics.segmentation (boundary strings, windows
 * i = 0 .. n-k), and the conversion from byte cuts to word-level boundaries.
 */
#include <math.h>
#include <string.h>

#include "chunk_internal.h"

static size_t default_k(const unsigned char *ref, size_t n) {
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) nb += ref[i] != 0;
    if (nb == 0) return n / 2 ? n / 2 : 1;
    size_t k = (size_t)llround((double)n / (2.0 * (double)nb));
    return k ? k : 1;
}

idx_err idx_chunk_pk(const unsigned char *ref, const unsigned char *hyp, size_t n, size_t k,
                     double *out) {
    if (!k) k = default_k(ref, n);
    if (n < k || n == 0) return idx_fail(IDX_ERR_INVALID, "pk: %zu units for window %zu", n, k);
    /* running boundary counts in the window [i, i+k) */
    size_t cr = 0, ch = 0, err = 0;
    for (size_t i = 0; i < k; i++) { cr += ref[i] != 0; ch += hyp[i] != 0; }
    for (size_t i = 0;; i++) {
        if ((cr > 0) != (ch > 0)) err++;
        if (i + k >= n) break;
        cr += (ref[i + k] != 0) - (ref[i] != 0);
        ch += (hyp[i + k] != 0) - (hyp[i] != 0);
    }
    *out = (double)err / (double)(n - k + 1);
    return IDX_OK;
}

idx_err idx_chunk_windowdiff(const unsigned char *ref, const unsigned char *hyp, size_t n,
                             size_t k, double *out) {
    if (!k) k = default_k(ref, n);
    if (n < k || n == 0) return idx_fail(IDX_ERR_INVALID, "windowdiff: %zu units for window %zu", n, k);
    size_t cr = 0, ch = 0, err = 0;
    for (size_t i = 0; i < k; i++) { cr += ref[i] != 0; ch += hyp[i] != 0; }
    for (size_t i = 0;; i++) {
        if (cr != ch) err++;
        if (i + k >= n) break;
        cr += (ref[i + k] != 0) - (ref[i] != 0);
        ch += (hyp[i + k] != 0) - (hyp[i] != 0);
    }
    *out = (double)err / (double)(n - k + 1);
    return IDX_OK;
}

idx_err idx_chunk_boundaries_words(const char *text, size_t len, const uint64_t *cuts,
                                   size_t ncuts, unsigned char **b, size_t *n_words) {
    size_t nw = (size_t)idx_chunk_count_words(text, len);
    unsigned char *v = calloc(nw ? nw : 1, 1);
    if (!v) return idx_fail(IDX_ERR_NOMEM, "boundaries: out of memory");
    size_t pos = 0, ws, we, w = 0, c = 0;
    while (c < ncuts && chk_word_next(text, len, pos, &ws, &we)) {
        /* every cut before the end of this word belongs to it (or, if before
         * its start, to the previous word) */
        while (c < ncuts && cuts[c] <= ws) {
            if (w > 0) v[w - 1] = 1;
            c++;
        }
        while (c < ncuts && cuts[c] < we) {
            v[w] = 1;
            c++;
        }
        w++;
        pos = we;
    }
    /* cuts after the last word start: boundary after the last word is no boundary */
    *b = v;
    *n_words = nw;
    return IDX_OK;
}
