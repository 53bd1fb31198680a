/*
 * idx_chunk.h -- chunking for RAG: one interface for every chunker, each
 * returning byte spans [start, end) over the ORIGINAL document (never copies,
 * never rewritten text) with a word count and, for structured documents, a
 * heading path ("Title > Section > Subsection").
 *
 * Chunkers: sentences (English + CJK punctuation), fixed size in bytes or
 * words with overlap, recursive (paragraph > line > sentence > word > char,
 * as LangChain's RecursiveCharacterTextSplitter), Markdown / reStructuredText
 * headings, a TextTiling-style lexical chunker, and perplexity chunking
 * (Meta-Chunking PPL, ../shared/METHODS.md section 1) over any language model
 * given as a callback. Dynamic merging is a separate step usable after any
 * chunker. Segmentation metrics Pk and WindowDiff live here too, and the
 * chunk map part of an index directory (INDEX/chunks/chunks.idx).
 *
 * Invariants (tested for every chunker): without overlap, the chunks of a
 * document are in order and cover its bytes exactly; every span starts and
 * ends on a UTF-8 character boundary (invalid bytes count as one character);
 * no chunk is empty unless the document is (an empty document has no chunk).
 */
#ifndef IDX_CHUNK_H
#define IDX_CHUNK_H

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Results                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t start, end; /* byte span [start, end) of the document */
    uint64_t words;      /* whitespace-separated words in the span (CJK: characters count as words) */
    uint32_t head_off;   /* heading path: bytes [head_off, head_off+head_len) of list->heads */
    uint32_t head_len;   /* 0 = no heading path */
} idx_chunk_span;

/* A growable list of spans plus the heading-path strings they refer to.
 * Zero-initialise ({0}) before first use; idx_chunk_list_free releases it. */
typedef struct {
    idx_chunk_span *spans;
    size_t n, cap;
    idx_buf heads; /* heading paths, joined with " > " */
} idx_chunk_list;

void idx_chunk_list_clear(idx_chunk_list *l); /* n = 0, keeps memory */
void idx_chunk_list_free(idx_chunk_list *l);
/* Appends a span (words computed from text). head may be NULL. */
idx_err idx_chunk_list_push(idx_chunk_list *l, const char *text, uint64_t start, uint64_t end,
                            const char *head, size_t head_len);

/* Word count of text[0..len): maximal runs of non-space bytes, except that each
 * CJK ideograph / kana / hangul character counts as one word. */
uint64_t idx_chunk_count_words(const char *text, size_t len);

/* Checks the invariants of a chunk list for a document: in order, exact cover
 * (if !overlap; with overlap: starts non-decreasing and the union covers),
 * non-empty, UTF-8 character boundaries, word counts right. IDX_ERR_INTERNAL
 * with a message naming the first bad chunk. */
idx_err idx_chunk_check(const char *text, size_t len, const idx_chunk_list *l, int overlap);

/* ------------------------------------------------------------------------ */
/* Language model for perplexity chunking                                     */
/* ------------------------------------------------------------------------ */

/* Fills out[i] = -ln P(doc[from+i] | doc[0 .. from+i)) in nats for every byte
 * of [from, to), i.e. a per-byte negative log-likelihood conditioned on the
 * document text before it (the model chooses how much of it to use). Must
 * return finite, non-negative values. */
typedef idx_err (*idx_chunk_lm_fn)(void *ud, const char *doc, size_t doc_len, size_t from,
                                   size_t to, float *out);

typedef struct {
    idx_chunk_lm_fn nll;
    void *ud;
} idx_chunk_lm;

/* A byte-level infinity-gram model (METHODS.md section 6.2) over a reference
 * text held in memory, with a suffix array of the reversed text (libdivsufsort).
 * P(w | x) = cnt(s.w) / cnt(s) for the longest suffix s of the context (at most
 * max_context bytes) with cnt(s.w) > 0 (back-off option (a) of section 6.3); a
 * byte never seen scores ln(N + 1). Documents in the reference are separated by
 * 0xFF so that no context crosses them. Reference texts must not contain the
 * documents being chunked (the caller's duty; the CLI builds it from other files).
 * Build is O(N log N); scoring a byte costs O(m log N) for a match of length m. */
typedef struct idx_chunk_reflm idx_chunk_reflm;
idx_err idx_chunk_reflm_new(size_t max_context, idx_chunk_reflm **out);
/* Appends one reference document (bytes 0xFF are rejected). */
idx_err idx_chunk_reflm_add(idx_chunk_reflm *m, const char *text, size_t len);
/* Builds the suffix array; after this, no more add. */
idx_err idx_chunk_reflm_build(idx_chunk_reflm *m);
uint64_t idx_chunk_reflm_bytes(const idx_chunk_reflm *m);
/* 1 if a reference document identical to text[0..len) was added (XXH3 match). */
int idx_chunk_reflm_contains(const idx_chunk_reflm *m, const char *text, size_t len);
/* The callback for idx_chunk_lm (ud = the model). Thread-safe after build. */
idx_err idx_chunk_reflm_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                            float *out);
void idx_chunk_reflm_free(idx_chunk_reflm *m);

/* The byte-level infinity-gram of an index built by `idx build` (FM-index,
 * index/idx_ngram.h), at most max_context bytes of context (0 = 64).
 * idx_chunk_fmlm_check refuses (IDX_ERR_INVALID) a document of 64+ bytes whose
 * first 256 bytes occur in the index: the reference must not contain the
 * document being chunked. */
typedef struct idx_chunk_fmlm idx_chunk_fmlm;
idx_err idx_chunk_fmlm_open(const char *index_dir, size_t max_context, idx_chunk_fmlm **out);
idx_err idx_chunk_fmlm_check(const idx_chunk_fmlm *m, const char *doc, size_t len);
uint64_t idx_chunk_fmlm_bytes(const idx_chunk_fmlm *m);
/* The callback (ud = the model). */
idx_err idx_chunk_fmlm_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                           float *out);
void idx_chunk_fmlm_free(idx_chunk_fmlm *m);

/* A cache model around any base model (a cache LM, Kuhn & De Mori 1990):
 * P = (1 - lambda) * P_base + lambda * P_cache, where P_cache is the
 * infinity-gram estimate (same back-off, 0 if unseen) over the `window` bytes
 * of the document just before the scored range -- the text a causal LM has in
 * its context, never the scored bytes. It gives the n-gram model the topical
 * memory that the per-sentence perplexity of Meta-Chunking relies on.
 * window 0 or lambda 0 = the base model alone. Cost per call: a suffix sort
 * of the window, then O(m log window) per byte. */
typedef struct {
    idx_chunk_lm base;
    size_t window;      /* bytes (e.g. 2000) */
    double lambda;      /* in [0, 1] (e.g. 0.8) */
    size_t max_context; /* longest cache context in bytes (0 = 64) */
} idx_chunk_cache_lm;
/* The callback (ud = an idx_chunk_cache_lm). */
idx_err idx_chunk_cache_nll(void *ud, const char *doc, size_t doc_len, size_t from, size_t to,
                            float *out);

/* ------------------------------------------------------------------------ */
/* Chunkers                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum {
    IDX_CHUNK_SENTENCE = 1,    /* one chunk per sentence */
    IDX_CHUNK_FIXED_BYTES = 2, /* size bytes (at character boundaries), overlap bytes */
    IDX_CHUNK_FIXED_WORDS = 3, /* size words, overlap words */
    IDX_CHUNK_RECURSIVE = 4,   /* paragraph > line > sentence > word > char, to size (unit) */
    IDX_CHUNK_MARKDOWN = 5,    /* one chunk per heading section; larger ones split recursively */
    IDX_CHUNK_RST = 6,         /* same for reStructuredText section titles */
    IDX_CHUNK_TEXTTILING = 7,  /* lexical cohesion valleys between sentence blocks */
    IDX_CHUNK_PPL = 8          /* Meta-Chunking perplexity minima (needs lm) */
} idx_chunk_kind;

typedef enum { IDX_CHUNK_UNIT_WORDS = 0, IDX_CHUNK_UNIT_BYTES = 1 } idx_chunk_unit;

typedef struct {
    idx_chunk_kind kind;
    /* fixed / recursive / markdown / rst: maximum chunk size (0 = no limit for
     * markdown/rst, 200 for the others) in `unit`; fixed: overlap in the same unit. */
    uint64_t size;
    uint64_t overlap;
    idx_chunk_unit unit;
    /* sentence splitting: sentences over max_sentence_words words are cut at a
     * word boundary into pieces of that many words (0 = 512; Meta-Chunking
     * truncates there instead, losing text), and any run of more than
     * max_sentence_bytes bytes without a space is cut at a character boundary
     * (0 = 4096). */
    uint32_t max_sentence_words;
    uint32_t max_sentence_bytes;
    /* texttiling: block size in sentences (0 = 3) and depth cutoff in standard
     * deviations below the mean depth (Hearst: boundary if depth > mean - c*sd;
     * c = tt_cutoff, default 0.5 when 0). */
    uint32_t tt_block;
    double tt_cutoff;
    /* ppl: the model, the threshold theta (>= 0), and the dynamic threshold
     * (theta := min of all accepted drops once >= 100 are recorded; the record
     * persists across documents through `dyn` if given). */
    idx_chunk_lm lm;
    /* ppl, optional (ours): a contrast model; the score becomes the mean NLL
     * under lm minus the mean NLL under lm_contrast (e.g. lm = reference +
     * document cache, lm_contrast = the reference alone: how little the
     * preceding document helps to predict the sentence). NULL = plain PPL. */
    idx_chunk_lm lm_contrast;
    double ppl_threshold;
    int ppl_dynamic;
    /* ppl rule: 0 = Meta-Chunking find_minima (default); 1 = "rise" (ours): cut
     * after sentence i (1 <= i <= n-2) when v[i+1] - v[i] >= theta (> 0), i.e. before a
     * sentence that the context predicts much worse than the one before it. */
    int ppl_rule;
    /* ppl rule 2 = "window" (ours): the score of the gap after sentence i is
     * the mean NLL of the next ppl_window sentences (0 = 5) with the model's
     * context ending at the gap (minus lm_contrast's NLL when given: the
     * cross-boundary context gain); TextTiling-style depth of its peaks;
     * cut where depth >= ppl_threshold, or, with target_words > 0 (also
     * used by texttiling instead of its cutoff), at the
     * round(words / target) - 1 deepest peaks of the document. */
    uint32_t ppl_window;
    uint64_t target_words;
    /* window rule: by default the gap score also adds the score of the
     * ppl_window sentences before the gap with the (up to 2000) bytes after
     * the gap as the model's context (a buffer: those bytes, then the
     * sentences); ppl_one_sided = 1 uses the forward direction only. */
    int ppl_one_sided;
    struct idx_chunk_dyn *dyn;
    /* any chunker: dynamic merging to this many words afterwards (0 = none). */
    uint64_t merge;
} idx_chunk_opts;

/* Fills opts with the defaults for kind. */
void idx_chunk_opts_init(idx_chunk_opts *o, idx_chunk_kind kind);
/* "sentence", "fixed" (= fixed words; "fixed-bytes"), "recursive", "markdown",
 * "rst", "texttiling", "ppl" -> kind. IDX_ERR_INVALID for an unknown name. */
idx_err idx_chunk_kind_parse(const char *name, idx_chunk_kind *out);
const char *idx_chunk_kind_name(idx_chunk_kind kind);

/* Chunks text[0..len) and appends the spans to out (which is not cleared).
 * Any bytes are accepted (invalid UTF-8 included); the empty text gives no
 * chunk. Errors: IDX_ERR_INVALID for bad options (size 0 where needed,
 * overlap >= size, ppl without a model), the model's error otherwise. */
idx_err idx_chunk_text(const idx_chunk_opts *o, const char *text, size_t len, idx_chunk_list *out);

/* Sentence splitting alone (the same splitter every chunker uses): appends one
 * span per sentence; the whitespace after a sentence belongs to it. Handles
 * abbreviations (Dr., e.g., U.S.), decimals and versions (3.14, v1.2.3),
 * initials (J. R. R. Tolkien), closing quotes and brackets after the stop
 * ('He left." Then'), ellipses, numbered and bulleted list items on their own
 * lines, URLs and e-mail addresses, and CJK stops (。！？ and full-width ！？；).
 * O(len). */
idx_err idx_chunk_sentences(const idx_chunk_opts *o, const char *text, size_t len,
                            idx_chunk_list *out);

/* Dynamic merging (Meta-Chunking 1.5): greedy, order-preserving; adjacent
 * chunks are joined while the sum of their word counts stays <= target;
 * a chunk is never split (a chunk above target stays alone) and no empty chunk
 * is emitted. Heading paths: a merged chunk keeps the path of its first part.
 * The decision sums the parts' word counts (as Meta-Chunking sums lengths);
 * the merged span's count is then recounted on text[0..len) (a word cut by a
 * byte chunker would otherwise count twice).
 * Rewrites list in place; spans must be contiguous (no overlap) for the
 * result to cover the document. target 0 is IDX_ERR_INVALID. */
idx_err idx_chunk_merge(const char *text, size_t len, idx_chunk_list *list, uint64_t target_words);

/* Dynamic threshold state (persists across documents). */
typedef struct idx_chunk_dyn {
    double *drops;
    size_t n, cap;
} idx_chunk_dyn;
void idx_chunk_dyn_free(idx_chunk_dyn *d);

/* The Meta-Chunking boundary rule `find_minima` on per-sentence scores v[0..n):
 * sets is_boundary[i] = 1 when sentence i closes a chunk (its cut is after it).
 * Sentences 0 and n-1 are never boundaries. With dyn != NULL the dynamic rule
 * is used: accepted drops are recorded and, once >= 100 are recorded,
 * theta := their minimum. */
idx_err idx_chunk_ppl_minima(const double *v, size_t n, double theta, idx_chunk_dyn *dyn,
                             unsigned char *is_boundary);

/* The "rise" rule (ppl_rule 1): is_boundary[i] = 1 for 1 <= i <= n-2 with
 * v[i+1] > v[i] and v[i+1] - v[i] >= theta (theta >= 0). */
idx_err idx_chunk_ppl_rises(const double *v, size_t n, double theta, unsigned char *is_boundary);

/* TextTiling depth of the peaks of g[0..n) (g high = likely boundary): for a
 * peak i (>= both neighbours, > one), (g[i] - lowest point reached going left
 * while g descends) + (same to the right); 0 elsewhere. */
idx_err idx_chunk_ppl_depth(const double *g, size_t n, double *depth);

/* ------------------------------------------------------------------------ */
/* Segmentation metrics                                                       */
/* ------------------------------------------------------------------------ */

/* Segmentations as boundary strings over n units: b[i] != 0 means a boundary
 * after unit i (NLTK's convention: '1' marks a boundary position). k = 0 uses
 * half the mean reference segment length, rounded (NLTK's default).
 * Pk (Beeferman et al. 1999): share of windows [i, i+k) over which reference
 * and hypothesis disagree on "contains a boundary". WindowDiff (Pevzner &
 * Hearst 2002): share of windows in which their boundary counts differ.
 * Both are in [0, 1]; lower is better. n < k is IDX_ERR_INVALID. */
idx_err idx_chunk_pk(const unsigned char *ref, const unsigned char *hyp, size_t n, size_t k,
                     double *out);
idx_err idx_chunk_windowdiff(const unsigned char *ref, const unsigned char *hyp, size_t n,
                             size_t k, double *out);
/* Converts byte boundaries (each chunk end except the last) of a text into a
 * boundary string over its words: b[w] = 1 if a boundary falls after word w
 * (a boundary inside a word is attributed to that word). *n_words receives the
 * word count; b is malloc'd. */
idx_err idx_chunk_boundaries_words(const char *text, size_t len, const uint64_t *cuts,
                                   size_t ncuts, unsigned char **b, size_t *n_words);

/* Boundary-recovery evaluation: texts made of concatenated documents whose
 * true cuts (byte offsets where a document starts, except the first) are
 * known. The chunker runs on each text; its chunk ends (except the last) are
 * the hypothesis. Pk and WindowDiff are computed per text over words with the
 * default k and averaged. With target_words > 0 the chunker's length knob is
 * first calibrated by bisection so that the mean chunk length is within 3% of
 * target_words (fixed: size; recursive, markdown, rst: size; texttiling:
 * tt_cutoff; sentence and ppl: merge target, with the sentence scores computed
 * once). mb_per_s is the throughput of the final run (all texts, one thread). */
typedef struct {
    const char *text;
    size_t len;
    const uint64_t *cuts;
    size_t ncuts;
} idx_chunk_eval_text;

typedef struct {
    double pk, windowdiff;  /* mean over texts */
    double mean_words;      /* mean chunk length in words */
    uint64_t chunks;
    double seconds, mb_per_s;
    double param;           /* the calibrated knob's value */
} idx_chunk_eval_result;

typedef enum {
    IDX_CHUNK_KNOB_AUTO = 0,      /* as listed above */
    IDX_CHUNK_KNOB_MERGE = 1,     /* the merge target (any chunker) */
    IDX_CHUNK_KNOB_THRESHOLD = 2, /* ppl: theta, no merging */
    IDX_CHUNK_KNOB_TARGET = 3     /* ppl window rule, texttiling: K deepest per text, no calibration */
} idx_chunk_knob;

/* With ppl, the model's answers are memoised per text during calibration
 * (the sentence ranges do not change), and the reported time is the one full
 * run with the model. */
idx_err idx_chunk_eval(const idx_chunk_opts *o, const idx_chunk_eval_text *texts, size_t ntexts,
                       double target_words, idx_chunk_knob knob, idx_chunk_eval_result *r);

/* ------------------------------------------------------------------------ */
/* Chunk map (INDEX/chunks/chunks.idx; format at the top of chunk/chunkmap.c)  */
/* ------------------------------------------------------------------------ */

typedef struct idx_chunkmap_writer idx_chunkmap_writer;
typedef struct idx_chunkmap idx_chunkmap;

/* Starts PART_DIR/chunks.idx; chunker_desc is a short text describing the
 * chunker and options (stored for the manifest and `idx inspect`). */
idx_err idx_chunkmap_writer_open(const char *part_dir, const char *chunker_desc,
                                 idx_chunkmap_writer **out);
/* Adds the chunks of document doc_id (doc ids must be non-decreasing); the
 * chunk ids are consecutive in call order. */
idx_err idx_chunkmap_writer_add(idx_chunkmap_writer *w, uint64_t doc_id, const idx_chunk_list *l);
idx_err idx_chunkmap_writer_commit(idx_chunkmap_writer *w); /* frees w */
void idx_chunkmap_writer_abort(idx_chunkmap_writer *w);     /* frees w; NULL ok */

typedef struct {
    uint64_t doc_id, start, end, words;
    const char *head; /* heading path (not NUL-terminated), head_len 0 = none */
    size_t head_len;
} idx_chunkmap_entry;

/* Opens PART_DIR/chunks.idx and checks every count and offset. */
idx_err idx_chunkmap_open(const char *part_dir, unsigned flags, idx_chunkmap **out);
void idx_chunkmap_close(idx_chunkmap *m);
uint64_t idx_chunkmap_count(const idx_chunkmap *m);
const char *idx_chunkmap_desc(const idx_chunkmap *m);
idx_err idx_chunkmap_get(const idx_chunkmap *m, uint64_t chunk_id, idx_chunkmap_entry *e);
/* The chunks of a document: [*first, *first + *count). O(log chunks). */
idx_err idx_chunkmap_doc_range(const idx_chunkmap *m, uint64_t doc_id, uint64_t *first,
                               uint64_t *count);

/* ------------------------------------------------------------------------ */
/* Chunks as documents (chunk/source.c), for `idx build --chunker`            */
/* ------------------------------------------------------------------------ */

/* A document source for idx_index_build_opts.next_doc/finish: every document
 * of the corpus is chunked with opts and each chunk is yielded as a document
 * (id "<doc id>#<k>", the document's title, metadata {"doc","doc_ord","chunk",
 * "start","end"[,"heading"]}); finish writes TMP/chunks/chunks.idx and the
 * manifest part "chunks". desc describes the chunker (stored in the map). */
typedef struct idx_chunk_source idx_chunk_source;
idx_err idx_chunk_source_new(const idx_chunk_opts *opts, const char *desc, idx_chunk_source **out);
idx_err idx_chunk_source_next(void *ud, idx_corpus *c, idx_doc *doc, int *got);
idx_err idx_chunk_source_finish(void *ud, const char *tmp_dir, json_t *manifest);
uint64_t idx_chunk_source_count(const idx_chunk_source *s);
/* Optional: called on every document before chunking; an error stops the
 * build (e.g. the ppl model's "the reference contains this document"). */
void idx_chunk_source_set_check(idx_chunk_source *s, idx_err (*check)(void *ud, const idx_doc *d), void *ud);
void idx_chunk_source_free(idx_chunk_source *s);

#ifdef __cplusplus
}
#endif
#endif
