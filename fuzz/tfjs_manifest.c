/*
 * tfjs_manifest.c -- fuzz target: arbitrary bytes as a TF.js model.json.
 * When the weights manifest parses, the offsets must tile [0, total_bytes)
 * exactly in manifest order.
 */
#include <stdint.h>
#include <stdlib.h>

#include "enc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enc_tfjs m;
    if (enc_tfjs_parse_manifest((const char *)data, size, "fuzz/model.json", &m) != IDX_OK) return 0;
    uint64_t off = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (m.w[i].offset != off) abort();
        off += m.w[i].count * 4;
    }
    if (off != m.total_bytes) abort();
    enc_tfjs_free(&m);
    return 0;
}
