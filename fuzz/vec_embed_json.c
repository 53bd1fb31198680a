/*
 * vec_embed_json.c -- fuzz target for the embeddings-response parser
 * (retrieve/embed_client.c): arbitrary bytes as an OpenAI /v1/embeddings
 * answer for 1..4 inputs, with the dimension known or learned. The first
 * byte picks the input count and whether the dimension is given.
 */
#include <stdint.h>
#include <stdlib.h>

#include "idx_dense.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t n = (size_t)(data[0] & 3) + 1;
    uint32_t dim = (data[0] & 4) ? 3 : 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    uint32_t got = 0;
    /* validate first (learns the dimension), then parse into a buffer of that size */
    if (idx_embedder_parse_response(body, len, n, dim, NULL, &got) != IDX_OK) return 0;
    if (got == 0 || got > IDX_DENSE_MAX_DIM) abort();
    float *out = malloc(n * got * sizeof(float));
    if (!out) return 0;
    if (idx_embedder_parse_response(body, len, n, got, out, &got) != IDX_OK) abort();
    free(out);
    return 0;
}
