/*
 * idx_text.h -- text analysis shared by the sparse index, the chunker and the
 * dense side: Unicode word tokenization (utf8proc categories), case folding
 * and accent folding, English possessive removal, a stopword list and
 * Snowball stemming (libstemmer). The configuration is a small struct that
 * serialises to JSON, so an index records how it was analysed and queries are
 * analysed the same way.
 *
 * Tokenization: a token is a maximal run of word characters (Unicode letters,
 * digits, combining marks, connector punctuation such as '_'); an apostrophe
 * (' or U+2019) between two letters, and '.' or ',' between two digits, stay
 * inside the token ("don't", "3.14", "1,000"). Everything else separates.
 * Invalid UTF-8 bytes separate too. Tokens longer than max_len bytes (after
 * folding) are dropped, as Lucene's StandardTokenizer does with huge tokens.
 */
#ifndef IDX_TEXT_H
#define IDX_TEXT_H

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IDX_TEXT_NAME_MAX 32

typedef struct {
    int casefold;     /* Unicode case folding (default 1) */
    int fold_accents; /* NFD + strip combining marks: "café" -> "cafe" (default 1) */
    int possessive;   /* drop a trailing 's / ’s (default 1) */
    uint32_t min_len; /* drop shorter tokens, in bytes after folding (default 1) */
    uint32_t max_len; /* drop longer tokens (default 64) */
    char stopwords[IDX_TEXT_NAME_MAX]; /* "lucene" (33 words, Anserini's), "none" */
    char stemmer[IDX_TEXT_NAME_MAX];   /* a libstemmer algorithm ("porter", "english", ...) or "none" */
} idx_text_config;

/* Defaults: casefold, accents, possessive, min_len 1, max_len 64, the Lucene
 * stopwords (Anserini's) and the Snowball English stemmer (bm25s's). */
void idx_text_config_default(idx_text_config *c);
/* Applies "key=value,key=value" over *c (keys: casefold, accents, possessive,
 * min_len, max_len, stopwords, stemmer). IDX_ERR_INVALID names a bad key or value. */
idx_err idx_text_config_parse(idx_text_config *c, const char *spec);
/* JSON object with every field (new reference). */
idx_err idx_text_config_to_json(const idx_text_config *c, json_t **out);
/* Reads the object written by idx_text_config_to_json; absent keys keep defaults. */
idx_err idx_text_config_from_json(const json_t *obj, idx_text_config *c);

/* An analyser holds the stemmer and a cache of analysed words; one per thread. */
typedef struct idx_text_analyzer idx_text_analyzer;

idx_err idx_text_analyzer_new(const idx_text_config *c, idx_text_analyzer **out);
void idx_text_analyzer_free(idx_text_analyzer *a);
const idx_text_config *idx_text_analyzer_config(const idx_text_analyzer *a);

/* One output term: bytes (not NUL-terminated, valid during the callback),
 * byte range [start, end) of the source token in the input, and the token's
 * position (counting every token, stopwords included). Return non-zero to stop. */
typedef int (*idx_text_term_fn)(void *ud, const char *term, size_t len, size_t start, size_t end,
                                uint32_t pos);

/* Analyses text[0..len) calling fn once per term, in order. O(len). Returns
 * IDX_ERR_CANCELLED if fn stopped it, IDX_ERR_NOMEM on allocation failure. */
idx_err idx_text_analyze(idx_text_analyzer *a, const char *text, size_t len, idx_text_term_fn fn,
                         void *ud);

/* 1 if the folded word is a stopword of the configured list. */
int idx_text_is_stopword(const idx_text_analyzer *a, const char *w, size_t len);

#ifdef __cplusplus
}
#endif
#endif
