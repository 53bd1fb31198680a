/*
 * lm_fm.c -- the language model of perplexity chunking on an index built by
 * `idx build` (--lm INDEX): the byte-level infinity-gram of index/idx_ngram.h
 * (longest suffix of the context, at most max_context bytes, back-off to the
 * longest suffix that was followed by the byte, floor ln(N+1) for a byte never
 * seen) adapted to the chunker's per-range callback.
 *
 * Self-scoring: the reference index must not contain the document being
 * chunked (METHODS.md 6.3: its own copy would predict it perfectly and flatten
 * the curve). idx_chunk_fmlm_check refuses a document whose first 256 bytes
 * (documents of 64 bytes or more) occur in the index; the infinity-gram API's
 * exclude_self is not used because it is exact only for a whole document and
 * we score sentence ranges.
 */
#include <string.h>

#include "chunk_internal.h"
#include "idx_index.h"
#include "idx_ngram.h"

struct idx_chunk_fmlm {
    idx_fm *fm;
    idx_ngram_src *src;
    size_t max_ctx;
};

idx_err idx_chunk_fmlm_open(const char *index_dir, size_t max_context, idx_chunk_fmlm **out) {
    idx_chunk_fmlm *m = calloc(1, sizeof *m);
    if (!m) return idx_fail(IDX_ERR_NOMEM, "fm model: out of memory");
    m->max_ctx = max_context ? max_context : 64;
    idx_err e = idx_fm_open(index_dir, 0, &m->fm);
    if (!e) e = idx_ngram_src_fm(m->fm, &m->src);
    if (e) {
        idx_chunk_fmlm_free(m);
        return e;
    }
    *out = m;
    return IDX_OK;
}

void idx_chunk_fmlm_free(idx_chunk_fmlm *m) {
    if (!m) return;
    idx_ngram_src_free(m->src);
    idx_fm_close(m->fm);
    free(m);
}

uint64_t idx_chunk_fmlm_bytes(const idx_chunk_fmlm *m) { return idx_fm_total_bytes(m->fm); }

idx_err idx_chunk_fmlm_check(const idx_chunk_fmlm *m, const char *doc, size_t len) {
    if (len < 64) return IDX_OK;
    uint64_t c = 0;
    idx_err e = idx_fm_count(m->fm, doc, len < 256 ? len : 256, &c);
    if (e) return e;
    if (c > 0)
        return idx_fail(IDX_ERR_INVALID, "the document's first %zu bytes occur %llu time(s) in the --lm "
                        "index: it would score itself; use a reference index without it",
                        len < 256 ? len : (size_t)256, (unsigned long long)c);
    return IDX_OK;
}

idx_err idx_chunk_fmlm_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                           float *out) {
    const idx_chunk_fmlm *m = ud;
    if (from > to || to > doc_len) return idx_fail(IDX_ERR_INVALID, "fm model: bad range");
    if (from == to) return IDX_OK;
    size_t ctx = from < m->max_ctx ? from : m->max_ctx;
    idx_ngram_opts o;
    memset(&o, 0, sizeof o);
    o.unit = IDX_NGRAM_UNIT_BYTE;
    o.max_suffix = m->max_ctx;
    idx_ngram_unit *u = NULL;
    size_t n = 0;
    idx_err e = idx_ngram_infgram(m->src, doc + from - ctx, to - from + ctx, &o, &u, &n, NULL);
    if (e) return e;
    for (size_t i = 0; i < n; i++) {
        if (u[i].offset < ctx) continue;
        size_t j = (size_t)u[i].offset - ctx;
        if (j < to - from) out[j] = (float)u[i].nll;
    }
    free(u);
    return IDX_OK;
}
