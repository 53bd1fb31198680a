/*
 * idx_cli_dense.h -- the hook through which `idx retrieve` (tools/cmd_sparse.c)
 * hands --mode dense|hybrid to tools/cmd_dense.c.
 */
#ifndef IDX_CLI_DENSE_H
#define IDX_CLI_DENSE_H

/* Looks for --mode in argv. Absent or "sparse": removes it from argv
 * (updating *argc) and returns 0 so BM25 retrieval proceeds. "dense" or
 * "hybrid": runs that retrieval, stores the exit code in *rc and returns 1. */
int idx_cli_retrieve_mode_hook(int *argc, char **argv, int *rc);

#define IDX_CLI_RETRIEVE_MODE_USAGE \
    "Modes (--mode sparse|dense|hybrid, default sparse): dense embeds the query with the index's model;\n" \
    "hybrid fuses BM25 and dense: --fusion zscore|minmax|rrf (default zscore; --rrf-k 60), --weight W (dense\n" \
    "weight for score fusion, 0.5), --depth N (candidates per side, max(k,100)), --hnsw [--ef N],\n" \
    "--api-key-env VAR | --api-key-file F, --url URL for an openai model.\n"
#endif
