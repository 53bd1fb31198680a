/*
 * queries.c -- fuzz target: the batch query-file parser (BEIR queries.jsonl
 * and TSV id<TAB>text).
 */
#include <stdint.h>

#include "idx_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    idx_eval_queries *q = NULL;
    if (idx_eval_queries_parse((const char *)data, size, "fuzz", &q) == IDX_OK) idx_eval_queries_free(q);
    return 0;
}
