/*
 * idx_index.h -- the corpus side of an index directory: the document store
 * (ids, titles, metadata, and the text itself either zstd-compressed in
 * blocks with a seek table or rebuilt from the FM-index by LF steps from
 * inverse suffix-array samples) and the FM-index shards over the raw document bytes (exact
 * counts of any byte string, the documents that contain it, and the
 * left-extension cursor that n-gram / infinity-gram statistics build on).
 *
 * Layout inside INDEX/:
 *   docs/docs.idx      document store (format at the top of index/docs.c)
 *   fm/shard-NNNN.fm   one FM-index per shard (format at the top of index/fm.c)
 * Document ids are dense integers 0..n-1 in corpus order, global across shards.
 * All reads are thread-safe on a shared handle.
 */
#ifndef IDX_INDEX_H
#define IDX_INDEX_H

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Document store                                                             */
/* ------------------------------------------------------------------------ */

typedef struct idx_docs idx_docs;
typedef struct idx_docs_writer idx_docs_writer;

typedef struct {
    int zstd_level;      /* 0 = default (3) */
    uint32_t block_size; /* uncompressed bytes per compressed block; 0 = 64 KiB */
    int store_text;      /* 1 (default when opts is NULL) = keep the text */
    int text_from_fm;    /* with store_text 0: the text comes from the FM-index of the same
                            index directory (its shards have inverse samples, "pinv" or "isa") */
} idx_docs_opts;

/* Writes INDEX_PART_DIR/docs.idx (the caller gives the part directory). */
idx_err idx_docs_writer_open(const char *part_dir, const idx_docs_opts *opts, idx_docs_writer **out);
/* Appends a document; *doc_id receives its id (NULL allowed). Duplicate external
 * ids are an error (IDX_ERR_PARSE naming both). */
idx_err idx_docs_writer_add(idx_docs_writer *w, const idx_doc *doc, uint64_t *doc_id);
idx_err idx_docs_writer_commit(idx_docs_writer *w); /* frees w */
void idx_docs_writer_abort(idx_docs_writer *w);     /* frees w; NULL ok */

/* Opens INDEX/docs/docs.idx. flags: IDX_FILE_VERIFY checks all checksums. */
idx_err idx_docs_open(const char *index_dir, unsigned flags, idx_docs **out);
void idx_docs_close(idx_docs *d);
uint64_t idx_docs_count(const idx_docs *d);
uint64_t idx_docs_text_bytes(const idx_docs *d); /* sum of document lengths */
/* 1 if idx_docs_text can return text: from the store's own zstd blocks, or
 * (text source "fm") rebuilt from the FM-index of the same index directory,
 * which idx_docs_text opens on first use unless one was attached. */
int idx_docs_has_text(const idx_docs *d);
/* Where the text comes from: IDX_DOCS_TEXT_NONE, _STORE or _FM. */
enum { IDX_DOCS_TEXT_NONE = 0, IDX_DOCS_TEXT_STORE = 1, IDX_DOCS_TEXT_FM = 2 };
int idx_docs_text_source(const idx_docs *d);
/* Lends an already opened FM-index of the same directory to a store whose
 * text source is "fm" (so the wavelet tree is not loaded twice); fm must
 * outlive every later idx_docs_text call. Checks that both agree on the
 * documents and bytes; a no-op for other stores. Call before sharing d
 * between threads. */
struct idx_fm;
idx_err idx_docs_attach_fm(idx_docs *d, const struct idx_fm *fm);
/* Length in bytes of document doc_id. */
idx_err idx_docs_len(const idx_docs *d, uint64_t doc_id, uint64_t *len);
/* Appends bytes [off, off+len) of the document to out (clamped to the document).
 * Store: O(len + one block) decompression. FM: O(len + isa rate) LF steps. */
idx_err idx_docs_text(const idx_docs *d, uint64_t doc_id, uint64_t off, uint64_t len, idx_buf *out);
/* External id / title / metadata JSON (pointers into the mapped file or into
 * memory the store owns, valid while it is open; not NUL-terminated: use the
 * lengths). */
idx_err idx_docs_id(const idx_docs *d, uint64_t doc_id, const char **id, size_t *len);
idx_err idx_docs_title(const idx_docs *d, uint64_t doc_id, const char **title, size_t *len);
idx_err idx_docs_meta(const idx_docs *d, uint64_t doc_id, const char **json, size_t *len);
/* External id -> doc id (IDX_ERR_NOT_FOUND if absent). */
idx_err idx_docs_lookup(const idx_docs *d, const char *id, size_t len, uint64_t *doc_id);
/* Decompresses everything and checks lengths and checksums. */
idx_err idx_docs_verify(const idx_docs *d);
/* Bytes on disk per component, for `idx inspect`. */
typedef struct {
    uint64_t file_bytes, text_compressed, text_raw, ids, meta, offsets;
    int text_source; /* IDX_DOCS_TEXT_* */
} idx_docs_sizes;
void idx_docs_get_sizes(const idx_docs *d, idx_docs_sizes *s);

/* ------------------------------------------------------------------------ */
/* FM-index                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct idx_fm idx_fm;

/* Opens every shard listed in the manifest's "fm" part. */
idx_err idx_fm_open(const char *index_dir, unsigned flags, idx_fm **out);
void idx_fm_close(idx_fm *fm);
size_t idx_fm_shard_count(const idx_fm *fm);
/* Total corpus bytes indexed (what an empty query counts). */
uint64_t idx_fm_total_bytes(const idx_fm *fm);

/* Exact number of occurrences of pat[0..len) in the corpus, across shards.
 * len 0 gives the total byte count. No occurrence crosses a document. */
idx_err idx_fm_count(const idx_fm *fm, const void *pat, size_t len, uint64_t *count);

/* Text from the FM-index: appends bytes [offset, offset+len) of global
 * document global_doc to out (clamped to the document, which ends at its
 * 0xFF separator). Starts at the next inverse sample at or after the end of
 * the range (BWT row of the first position >= end that is a multiple of the
 * shard's isa rate r, or the end of the shard) and walks backward by LF
 * steps, one inverse-select (byte + rank in one traversal) per byte:
 * O(len + r) steps (r = the SA sample rate s when the inverse samples are
 * derived from the SA samples, "pinv": plus ~t reads of the samples for each
 * of at most 8 starting rows). IDX_ERR_UNSUPPORTED if a shard was built
 * without inverse samples (`idx build --text store`). */
idx_err idx_fm_extract(const idx_fm *fm, uint64_t global_doc, uint64_t offset, uint64_t len, idx_buf *out);
/* 1 if every shard has inverse samples, "pinv" or "isa" (idx_fm_extract works). */
int idx_fm_has_text(const idx_fm *fm);
/* Length of a global document (separator excluded). */
idx_err idx_fm_doc_len(const idx_fm *fm, uint64_t global_doc, uint64_t *len);

/* Suffix-array ranges per shard: ranges[s] = [lo, hi) in shard s.
 * ranges must hold idx_fm_shard_count() entries. */
typedef struct {
    uint64_t lo, hi;
} idx_fm_range;
idx_err idx_fm_find(const idx_fm *fm, const void *pat, size_t len, idx_fm_range *ranges,
                    uint64_t *total);
/* The occurrence at suffix-array rank `rank` of shard `shard`: its global
 * document id and byte offset inside that document. */
idx_err idx_fm_locate(const idx_fm *fm, size_t shard, uint64_t rank, uint64_t *doc_id,
                      uint64_t *offset);

/* Left-extension cursor: the ranges of a pattern P in every shard, and
 * prepending one byte c gives the ranges of cP in O(shards) rank operations.
 * This is backward search exposed one step at a time, which is what the
 * infinity-gram model and contamination windows need. */
typedef struct idx_fm_cursor idx_fm_cursor;
idx_err idx_fm_cursor_new(const idx_fm *fm, idx_fm_cursor **out); /* empty pattern */
void idx_fm_cursor_free(idx_fm_cursor *c);
void idx_fm_cursor_reset(idx_fm_cursor *c);       /* back to the empty pattern */
idx_err idx_fm_cursor_prepend(idx_fm_cursor *c, unsigned char byte, uint64_t *count);
uint64_t idx_fm_cursor_count(const idx_fm_cursor *c);
size_t idx_fm_cursor_length(const idx_fm_cursor *c); /* bytes prepended so far */
const idx_fm_range *idx_fm_cursor_ranges(const idx_fm_cursor *c);

/* Shard layouts: compact = fixed-block compression boosting, a Huffman-shaped
 * wavelet tree per BWT block (fm_block.c, the default); fast = byte-wise rank
 * blocks (fm_fast.c); sdsl = sdsl's wt_huff over rrr_vector<63>. */
typedef enum { IDX_FM_LAYOUT_COMPACT = 0, IDX_FM_LAYOUT_FAST = 1, IDX_FM_LAYOUT_SDSL = 2 } idx_fm_layout;

/* Per-shard facts and bytes on disk per component, for `idx inspect`. */
typedef struct {
    uint64_t first_doc, docs;      /* global id of the shard's first document, count */
    uint64_t text_bytes;           /* document bytes (separators excluded) */
    uint64_t file_bytes;           /* the whole shard file */
    uint64_t bwt_bytes;            /* wavelet tree or rank blocks */
    uint64_t marks_bytes, samples_bytes, docs_bytes; /* sampled SA and doc starts */
    uint64_t isa_bytes;            /* inverse samples ("isa" or "pinv"), 0 without */
    uint32_t sa_sample;
    uint32_t isa_sample;           /* their rate (s with "pinv"); 0 without */
    idx_fm_layout layout;
} idx_fm_shard_sizes;
idx_err idx_fm_get_shard_sizes(const idx_fm *fm, size_t shard, idx_fm_shard_sizes *out);
uint64_t idx_fm_doc_count(const idx_fm *fm);

/* ------------------------------------------------------------------------ */
/* Building an index directory (index/build.c)                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t shard_size;     /* corpus bytes per shard; 0 = derived from mem and threads */
    uint64_t mem;            /* memory budget in bytes; 0 = 8 GiB */
    int threads;             /* shards built at once; 0 = 2 */
    idx_fm_layout layout;
    uint32_t sa_sample;      /* suffix-array sample rate; 0 = 96 (compact) or 32 */
    idx_corpus_opts corpus;  /* text/id fields, skip_bad, ... */
    int force;               /* replace an existing index directory */
    idx_progress_fn progress; /* NULL = silent */
    void *progress_ud;
    /* Optional document source (e.g. chunks as documents, chunk/source.c):
     * called instead of idx_corpus_next; and a hook run on the temporary
     * directory before the manifest is saved (it may add files and parts). */
    idx_err (*next_doc)(void *ud, idx_corpus *c, idx_doc *doc, int *got);
    idx_err (*finish)(void *ud, const char *tmp_dir, json_t *manifest);
    void *source_ud;
    /* Where document text comes from (IDX_TEXT_*): the FM-index (shards get
     * inverse samples, "pinv" or "isa"; the document store keeps no text) or the zstd store.
     * DEFAULT = fm for the compact layout, store for the fast one. */
    int text_source;
    uint32_t isa_sample;     /* with text fm: 0 = inverse samples derived from the SA samples
                              * (section "pinv", rate = sa_sample); R = stored at rate R ("isa") */
} idx_index_build_opts;
enum { IDX_TEXT_DEFAULT = 0, IDX_TEXT_FM = 1, IDX_TEXT_STORE = 2 };

typedef struct {
    uint64_t docs, text_bytes, shards, skipped, invalid_utf8, index_bytes;
    double seconds;
} idx_index_build_stats;

/* Reads the corpus once and writes INDEX (document store + FM-index shards +
 * manifest) into a temporary directory next to out_dir, renamed into place
 * only when complete: a failed or killed build leaves nothing that loads.
 * Shards are built by up to `threads` worker threads while reading goes on;
 * peak memory is about threads * 6 * shard_size + shard_size. */
idx_err idx_index_build(const char *out_dir, const char *const *inputs, size_t ninputs,
                        const idx_index_build_opts *opts, idx_index_build_stats *stats);

/* Checks INDEX: manifest against the files, every section checksum of every
 * file; deep adds the structural checks of the document store and of every
 * FM-index shard. IDX_ERR_CORRUPT / IDX_ERR_VERSION / IDX_ERR_NOT_FOUND
 * with a message naming the file and section. */
idx_err idx_index_verify(const char *index_dir, int deep);

#ifdef __cplusplus
}
#endif
#endif
