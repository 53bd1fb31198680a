/*
 * idx_cli_dense.h -- the hook through which `idx retrieve` (tools/cmd_sparse.c)
 * hands --mode dense|hybrid to tools/cmd_dense.c, and through which
 * `idx build` (tools/cmd_index.c) takes --dense MODEL.
 */
#ifndef IDX_CLI_DENSE_H
#define IDX_CLI_DENSE_H

#include "idx_index.h"

/* Looks for --mode in argv. Absent or "sparse": removes it from argv
 * (updating *argc) and returns 0 so BM25 retrieval proceeds. "dense" or
 * "hybrid": runs that retrieval, stores the exit code in *rc and returns 1. */
int idx_cli_retrieve_mode_hook(int *argc, char **argv, int *rc);

/* `idx build --dense MODEL`: if argv has --dense or --dense-* options,
 * removes them (updating *argc) and sets *out; else *out = NULL. Returns 0,
 * or 2 after printing a usage error. */
typedef struct idx_dense_cli idx_dense_cli;
int idx_dense_cli_extract(const char *cmd, int *argc, char **argv, idx_dense_cli **out);
/* Opens the embedder (fails before the corpus is read) and chains a finish
 * hook into the build options (after a chunker's hooks, if any): the
 * documents are embedded into the temporary index directory before it is
 * published. */
idx_err idx_dense_cli_setup(idx_dense_cli *d, idx_index_build_opts *o);
void idx_dense_cli_free(idx_dense_cli *d);
/* One line on stderr: documents embedded, docs/s. */
void idx_dense_cli_report(const idx_dense_cli *d);

#define IDX_CLI_DENSE_BUILD_USAGE \
    "  --dense MODEL          also embed every document (or chunk) into the dense part, after the\n" \
    "                         document store, before the index is published (as `idx embed`; with\n" \
    "                         --dense-provider local|openai, --dense-url, --dense-api-key-env VAR,\n" \
    "                         --dense-api-key-file F, --dense-batch N, --dense-threads N, --dense-timeout S,\n" \
    "                         --dense-retries N, --dense-type\n" \
    "                         f32|i8-dim|i8-vec, --dense-hnsw, --dense-chunk-bytes N, --dense-max-doc-bytes N,\n" \
    "                         --dense-query-prefix S, --dense-doc-prefix S, --dense-normalize)\n"

#define IDX_CLI_RETRIEVE_MODE_USAGE \
    "Modes (--mode sparse|dense|hybrid, default sparse): dense embeds the query with the index's model;\n" \
    "hybrid fuses BM25 and dense: --fusion zscore|minmax|rrf (default zscore; --rrf-k 60), --weight W (dense\n" \
    "weight for score fusion, 0.5), --depth N (candidates per side, max(k,100)), --hnsw [--ef N],\n" \
    "--api-key-env VAR | --api-key-file F, --url URL for an openai model.\n"
#endif
