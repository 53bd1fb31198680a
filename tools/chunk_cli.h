/*
 * chunk_cli.h -- the chunking options of `idx chunk` for other commands
 * (`idx build --chunker`, `idx index-sparse --chunker`): pulled out of argv
 * before the command parses its own options, then turned into the document
 * source of chunk/source.c hooked into the index builder.
 */
#ifndef IDX_CHUNK_CLI_H
#define IDX_CHUNK_CLI_H

#include "idx_chunk.h"
#include "idx_index.h"
#include "idx_retrieve.h"

typedef struct idx_chunk_cli idx_chunk_cli;

/* If argv has --chunker, removes it and every chunking option (--size,
 * --merge, --lm, ... as in `idx chunk`, except the corpus options, which stay
 * the command's) from argv, updating *argc, and sets *out; else *out = NULL
 * and argv is untouched. Returns 0, or 2 after printing a usage error. */
int idx_chunk_cli_extract(const char *cmd, int *argc, char **argv, idx_chunk_cli **out);
/* Loads the chunker's model (ppl) and hooks the chunk source into o
 * (next_doc, finish, source_ud). */
idx_err idx_chunk_cli_setup(idx_chunk_cli *c, idx_index_build_opts *o);
uint64_t idx_chunk_cli_chunks(const idx_chunk_cli *c);
void idx_chunk_cli_free(idx_chunk_cli *c);

/* --level doc support: opens INDEX/chunks (IDX_ERR_NOT_FOUND with a clear
 * message when the index was not built with --chunker). */
idx_err idx_chunk_cli_open_map(const char *index_dir, idx_chunkmap **out);
/* Maps an occurrence in chunk `chunk` at byte `off` of the chunk to its
 * document: ordinal, byte offset in the document, and the external id (the
 * chunk's id "DOC#K" without "#K"). */
idx_err idx_chunk_cli_to_doc(const idx_chunkmap *m, uint64_t chunk, uint64_t off, const char *chunk_id,
                             size_t chunk_id_len, uint64_t *doc, uint64_t *doc_off, size_t *id_len);

/* The external id of a chunk's document: the length of id without "#K". */
size_t idx_chunk_cli_doc_id_len(const char *id, size_t len);
/* --level doc for BM25 hits over chunks (sorted by score): keeps the best
 * chunk of each document (max-passage), at most k; *n is updated. */
idx_err idx_chunk_cli_best_per_doc(const idx_sparse *s, idx_sparse_hit *hits, size_t *n, size_t k);

#define IDX_CHUNK_CLI_USAGE \
    "  --chunker NAME [chunker options]  index chunks instead of whole documents (options as in\n" \
    "                         `idx chunk`); writes the chunk map part INDEX/chunks/chunks.idx\n"

#endif
