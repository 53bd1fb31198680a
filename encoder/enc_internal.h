/*
 * enc_internal.h -- what the files of the encoder module share and nobody
 * else sees: the safetensors reader, the TF.js weights-manifest reader, the
 * WordPiece and SentencePiece tokenizers, the BERT and USE forward passes.
 * Prefix enc_ (module-private); the public API is idx_encoder.h.
 */
#ifndef IDX_ENC_INTERNAL_H
#define IDX_ENC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "idx_common.h"
#include "idx_encoder.h"

/* ---------------- safetensors (safetensors.c) ---------------- */

enum { ENC_DT_F32 = 1, ENC_DT_F16 = 2, ENC_DT_BF16 = 3, ENC_DT_OTHER = 9 };
#define ENC_MAX_DIMS 8

typedef struct {
    char *name;
    int dtype;
    char dtype_name[16];
    size_t ndim;
    uint64_t shape[ENC_MAX_DIMS];
    uint64_t begin, end; /* byte offsets into the data area, checked */
} enc_st_tensor;

typedef struct {
    enc_st_tensor *t;
    size_t n;
    const uint8_t *data; /* start of the data area */
    uint64_t data_len;
    void *map; /* mmap of the file when opened by path */
    size_t map_len;
    char *path;
} enc_safetensors;

/* Parses a safetensors image [buf, buf+len) (not copied: buf must outlive
 * st). Every offset, shape and size is checked against len with
 * overflow-safe arithmetic; errors are IDX_ERR_CORRUPT naming `path`. */
idx_err enc_st_parse(const uint8_t *buf, size_t len, const char *path, enc_safetensors *st);
/* Maps a file and parses it. */
idx_err enc_st_open(const char *path, enc_safetensors *st);
void enc_st_close(enc_safetensors *st);
const enc_st_tensor *enc_st_find(const enc_safetensors *st, const char *name);
/* Copies a tensor as float32 (converting F16/BF16) after checking its shape
 * equals the expected one (ndim dims). *out is malloc'd. */
idx_err enc_st_get_f32(const enc_safetensors *st, const char *name, size_t ndim,
                       const uint64_t *shape, float **out);

/* ---------------- TF.js weights (tfjs.c) ---------------- */

typedef struct {
    char *name;
    int is_int; /* int32 data, else float32 */
    size_t ndim;
    uint64_t shape[ENC_MAX_DIMS];
    uint64_t count; /* elements */
    uint64_t offset; /* byte offset in the concatenated shards */
} enc_tfjs_weight;

typedef struct {
    enc_tfjs_weight *w;
    size_t n;
    uint64_t total_bytes; /* sum of the weights' sizes */
    char **paths;         /* shard file names, in order */
    size_t npaths;
    uint8_t *data;        /* concatenated shard bytes once loaded */
    uint64_t data_len;
} enc_tfjs;

/* Parses the weightsManifest of a TF.js model.json document (the JSON text
 * [buf, buf+len)); `path` names the file in messages. */
idx_err enc_tfjs_parse_manifest(const char *buf, size_t len, const char *path, enc_tfjs *m);
/* Reads the shards from dir and checks their total size against the manifest. */
idx_err enc_tfjs_load_shards(enc_tfjs *m, const char *dir);
void enc_tfjs_free(enc_tfjs *m);
const enc_tfjs_weight *enc_tfjs_find(const enc_tfjs *m, const char *name);

/* ---------------- WordPiece (wordpiece.c) ---------------- */

typedef struct enc_wordpiece enc_wordpiece;
typedef struct {
    int lower_case;      /* BasicTokenizer do_lower_case */
    int strip_accents;   /* -1 = follow lower_case */
    int chinese_chars;   /* split CJK ideographs into separate tokens */
    size_t max_word_chars; /* longer words become [UNK]; 0 = 100 */
} enc_wp_opts;

/* Vocabulary from vocab.txt lines (one piece per line, id = line number). */
idx_err enc_wp_load_vocab_txt(const char *path, const enc_wp_opts *o, enc_wordpiece **out);
/* Vocabulary and options from a tokenizers tokenizer.json (model.type WordPiece). */
idx_err enc_wp_load_tokenizer_json(const char *path, enc_wp_opts *o, enc_wordpiece **out);
void enc_wp_free(enc_wordpiece *wp);
size_t enc_wp_vocab_size(const enc_wordpiece *wp);
int32_t enc_wp_id(const enc_wordpiece *wp, const char *piece, size_t len); /* -1 if absent */
const char *enc_wp_piece(const enc_wordpiece *wp, int32_t id);
int32_t enc_wp_special(const enc_wordpiece *wp, int which); /* 0 CLS 1 SEP 2 UNK 3 PAD */
/* Appends the word-piece ids of text (no special tokens) to *ids (growable
 * int32 array with *n used, *cap capacity). Stops adding once *n reaches
 * limit (limit = SIZE_MAX for no limit). */
idx_err enc_wp_encode(const enc_wordpiece *wp, const char *text, size_t len, int32_t **ids,
                      size_t *n, size_t *cap, size_t limit);

/* ---------------- Unigram from tokenizer.json (unigram.c) ---------------- */

typedef struct enc_unigram enc_unigram;
idx_err enc_ug_load_tokenizer_json(const char *path, enc_unigram **out);
void enc_ug_free(enc_unigram *u);
size_t enc_ug_vocab_size(const enc_unigram *u);
const char *enc_ug_piece(const enc_unigram *u, int32_t id);
int32_t enc_ug_id(const enc_unigram *u, const char *p, size_t n); /* -1 if absent */
/* Appends the ids of text (no special tokens), at most up to limit ids. */
idx_err enc_ug_encode(const enc_unigram *u, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap,
                      size_t limit);

/* ---------------- SentencePiece unigram (sentencepiece.c) ---------------- */

typedef struct enc_spm enc_spm;
/* vocab.json of the USE package: [["piece", score], ...]. */
idx_err enc_spm_load_json(const char *path, enc_spm **out);
void enc_spm_free(enc_spm *s);
size_t enc_spm_vocab_size(const enc_spm *s);
const char *enc_spm_piece(const enc_spm *s, int32_t id);
/* Viterbi segmentation of text (whitespace -> U+2581, a leading U+2581
 * added); unknown characters get unk_id. Appends ids as enc_wp_encode does. */
idx_err enc_spm_encode(const enc_spm *s, const char *text, size_t len, int32_t unk_id,
                       int32_t **ids, size_t *n, size_t *cap);

/* ---------------- models ---------------- */

/* A tokenized sequence ready for the forward pass. */
typedef struct {
    const int32_t *ids;
    const int32_t *types; /* token type ids (NULL = all 0) */
    size_t len;
} enc_seq;

typedef struct enc_bert enc_bert;
typedef struct {
    size_t hidden, layers, heads, inter, max_pos, type_vocab, vocab, labels;
    int roberta;       /* RoBERTa/XLM-R: positions start at pad_token_id + 1, classifier.dense + out_proj */
    size_t pos_offset; /* first position id (0 for BERT, pad_token_id + 1 for RoBERTa) */
    float ln_eps;
    int pooling;   /* IDX_ENCODER_POOL_CLS or _MEAN (resolved) */
    int normalize; /* 1 or 0 (resolved) */
    int lower_case;
} enc_bert_cfg;
const enc_bert_cfg *enc_bert_config(const enc_bert *m);
idx_err enc_bert_load(const char *dir, const idx_encoder_opts *o, enc_bert **out);
void enc_bert_free(enc_bert *m);
/* Runs the forward pass over n packed sequences; writes the pooled (and
 * normalised as configured) vectors into pooled[n*dim] if non-NULL and the
 * classifier logits into logits[n*labels] if non-NULL. Thread-safe. */
idx_err enc_bert_forward(const enc_bert *m, const enc_seq *seqs, size_t n, float *pooled,
                         float *logits);

typedef struct enc_use enc_use;
idx_err enc_use_load(const char *dir, enc_use **out);
void enc_use_free(enc_use *m);
size_t enc_use_vocab_rows(const enc_use *m);
idx_err enc_use_forward(const enc_use *m, const enc_seq *seqs, size_t n, float *out);

#endif
