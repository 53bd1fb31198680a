/*
 * contam_score.c -- libFuzzer target for the text side of the n-gram and
 * contamination code on arbitrary bytes (invalid UTF-8, NULs, whitespace
 * runs): the window rule, the contamination score and span, the
 * infinity-gram walk (char and byte units, exclude_self) and the next-unit
 * distribution, against a small fixed in-memory corpus. Byte 0 picks the
 * window length and max_suffix; the rest is the text. Invariants abort.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idx_ngram.h"

static const char corpus[] = "the cat sat on the mat\xff" "héllo wörld 日本語 the cat\xff" "a b c d e f g the mat sat";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    size_t W = 1 + data[0] % 60, maxs = data[0] % 5;
    const char *t = (const char *)data + 1;
    size_t n = size - 1;
    static idx_ngram_src *src;
    if (!src && idx_ngram_src_memory(corpus, sizeof corpus - 1, &src)) abort();
    size_t *st, *en, nw;
    if (idx_contam_windows(t, n, NULL, 0, W, &st, &en, &nw)) abort();
    for (size_t i = 0; i < nw; i++)
        if (st[i] >= en[i] || en[i] > n || (i && st[i] <= st[i - 1])) abort();
    free(st);
    free(en);
    idx_ngram_cursor *cur;
    if (idx_ngram_cursor_new(src, &cur)) abort();
    idx_contam_opts o;
    idx_contam_opts_default(&o);
    o.window_chars = W;
    o.span_all = 1;
    idx_contam_result r;
    if (idx_contam_score(cur, t, n, NULL, 0, &o, &r)) abort();
    if (r.windows != nw || r.matched > r.windows || r.score < 0 || r.score > 1) abort();
    if (r.span_off + r.span_len > n) abort();
    idx_ngram_cursor_free(cur);
    for (int kind = 0; kind < 2; kind++) {
        idx_ngram_opts io = {(idx_ngram_unit_kind)kind, maxs, kind};
        idx_ngram_unit *u;
        size_t nu;
        double mean;
        if (idx_ngram_infgram(src, t, n, &io, &u, &nu, &mean)) abort();
        uint64_t off = 0;
        for (size_t i = 0; i < nu; i++) {
            if (u[i].offset != off || u[i].len == 0 || !(u[i].nll >= 0) || u[i].backoff_len > u[i].suffix_len) abort();
            off += u[i].len;
        }
        if (off != n) abort();
        free(u);
        idx_ngram_next *nx;
        size_t nn;
        uint64_t pc, tn;
        if (idx_ngram_next_units(src, t, n < 6 ? n : 6, (idx_ngram_unit_kind)kind, 0, &nx, &nn, &pc, &tn)) abort();
        if (tn > pc) abort();
        free(nx);
    }
    return 0;
}
