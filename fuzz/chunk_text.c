/*
 * chunk_text.c -- fuzz target: arbitrary bytes as a document for every
 * chunker (first byte picks the size); the invariants (exact cover, order,
 * UTF-8 boundaries, word counts) must hold and nothing may crash or hang.
 * PPL chunking uses a deterministic model (NLL = byte value / 64), and for
 * the window rule one that depends on the context before `from`.
 */
#include <stdint.h>
#include <stdlib.h>

#include "idx_chunk.h"

static idx_err byte_lm(void *ud, const char *doc, size_t len, size_t from, size_t to, float *out) {
    (void)ud;
    (void)len;
    for (size_t j = from; j < to; j++) out[j - from] = (float)(unsigned char)doc[j] / 64.0f;
    return IDX_OK;
}

/* context-dependent: cheaper when the byte occurs in the 64 bytes before from */
static idx_err ctx_lm(void *ud, const char *doc, size_t len, size_t from, size_t to, float *out) {
    (void)ud;
    (void)len;
    size_t a = from > 64 ? from - 64 : 0;
    for (size_t j = from; j < to; j++) {
        int seen = 0;
        for (size_t i = a; i < from && !seen; i++) seen = doc[i] == doc[j];
        out[j - from] = (float)(unsigned char)doc[j] / (seen ? 128.0f : 64.0f);
    }
    return IDX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint64_t sz = 1 + data[0] % 40;
    const char *t = (const char *)data + 1;
    size_t n = size - 1;
    static const idx_chunk_kind kinds[] = {IDX_CHUNK_SENTENCE, IDX_CHUNK_FIXED_BYTES, IDX_CHUNK_FIXED_WORDS,
                                           IDX_CHUNK_RECURSIVE, IDX_CHUNK_MARKDOWN, IDX_CHUNK_RST,
                                           IDX_CHUNK_TEXTTILING, IDX_CHUNK_PPL};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int variant = 0; variant < 5; variant++) {
            idx_chunk_opts o;
            idx_chunk_opts_init(&o, kinds[k]);
            o.lm.nll = byte_lm;
            o.size = sz;
            o.max_sentence_words = 1 + data[0] % 7;
            o.max_sentence_bytes = 1 + data[0] % 13;
            if (variant == 1) o.merge = 1 + sz / 2;
            if (variant >= 3) {
                /* the ppl window rule (two-sided: builds buffers) by threshold and by K */
                if (kinds[k] != IDX_CHUNK_PPL) continue;
                o.ppl_rule = 2;
                o.ppl_window = 1 + data[0] % 4;
                o.lm.nll = ctx_lm;
                o.lm_contrast.nll = byte_lm;
                if (variant == 4) o.target_words = sz;
                else o.ppl_threshold = (double)(data[0] % 5) / 8;
            }
            if (variant == 2) {
                if (kinds[k] != IDX_CHUNK_FIXED_BYTES && kinds[k] != IDX_CHUNK_FIXED_WORDS) continue;
                o.overlap = sz / 2;
            }
            idx_chunk_list l = {0};
            if (idx_chunk_text(&o, t, n, &l) != IDX_OK) abort();
            if (idx_chunk_check(t, n, &l, o.overlap != 0) != IDX_OK) abort();
            idx_chunk_list_free(&l);
        }
    }
    return 0;
}
