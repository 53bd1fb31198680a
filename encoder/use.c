/*
 * use.c -- Universal Sentence Encoder lite (TF.js graph) forward pass.
 * Not implemented yet: loading reports IDX_ERR_UNSUPPORTED.
 */
#include <stdlib.h>

#include "enc_internal.h"

struct enc_use { int unused; };
struct enc_spm { int unused; };

idx_err enc_use_load(const char *dir, enc_use **out) {
    *out = NULL;
    return idx_fail(IDX_ERR_UNSUPPORTED, "%s: Universal Sentence Encoder models are not supported yet", dir);
}
void enc_use_free(enc_use *m) { free(m); }
idx_err enc_use_forward(const enc_use *m, const enc_seq *seqs, size_t n, float *out) {
    return idx_fail(IDX_ERR_UNSUPPORTED, "Universal Sentence Encoder not supported yet");
}
idx_err enc_spm_load_json(const char *path, enc_spm **out) {
    *out = NULL;
    return idx_fail(IDX_ERR_UNSUPPORTED, "%s: SentencePiece vocabularies are not supported yet", path);
}
void enc_spm_free(enc_spm *s) { free(s); }
size_t enc_spm_vocab_size(const enc_spm *s) { return 0; }
const char *enc_spm_piece(const enc_spm *s, int32_t id) { return NULL; }
idx_err enc_spm_encode(const enc_spm *s, const char *text, size_t len, int32_t unk_id, int32_t **ids, size_t *n,
                       size_t *cap) {
    return idx_fail(IDX_ERR_UNSUPPORTED, "SentencePiece not supported yet");
}
