/*
 * safetensors.c -- fuzz target: arbitrary bytes as a safetensors file. When
 * the header parses, every tensor is read back as float32 with its own
 * shape, which must stay inside the buffer (ASan checks).
 */
#include <stdint.h>
#include <stdlib.h>

#include "enc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enc_safetensors st;
    if (enc_st_parse(data, size, "fuzz.safetensors", &st) != IDX_OK) return 0;
    for (size_t i = 0; i < st.n; i++) {
        const enc_st_tensor *t = &st.t[i];
        uint64_t count = 1;
        for (size_t d = 0; d < t->ndim; d++) count *= t->shape[d];
        if (count > (1u << 22)) continue; /* keep the fuzzer fast; bounds were checked anyway */
        float *f = NULL;
        if (enc_st_get_f32(&st, t->name, t->ndim, t->shape, &f) == IDX_OK) {
            volatile float sink = 0;
            for (uint64_t k = 0; k < count; k++) sink += f[k];
            (void)sink;
        }
        free(f);
    }
    enc_st_close(&st);
    return 0;
}
