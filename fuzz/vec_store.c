/*
 * vec_store.c -- fuzz target for the vector-store loader (retrieve/dense.c).
 * Random bytes rarely get past the section checksums, so the input is split
 * into section contents that this harness writes into a well-formed section
 * file: bytes 0..63 are "meta", then u32 little-endian lengths for "vectors"
 * and "scales" (a length of 0xFFFFFFFF omits the section) followed by their
 * bytes, and the rest is "rows". The raw input is also opened as a file.
 * Whatever opens must answer searches without reading out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_dense.h"

static size_t take(const uint8_t **p, size_t *n, size_t want) {
    size_t k = want < *n ? want : *n;
    *p += k;
    *n -= k;
    return k;
}

static void exercise(const char *path) {
    idx_dense *d;
    if (idx_dense_open(path, IDX_FILE_VERIFY, &d) != IDX_OK) return;
    uint32_t dim = idx_dense_dim(d);
    if (dim <= 4096 && idx_dense_rows(d) <= 100000) {
        float *q = calloc(2 * (size_t)dim, sizeof(float));
        idx_dense_hit hits[2 * 3];
        if (q) {
            for (uint32_t i = 0; i < 2 * dim; i++) q[i] = (float)(i % 7) - 3.f;
            idx_dense_search(d, q, 1, 3, NULL, hits);
            idx_dense_search_opts o = {2, 3, 0};
            idx_dense_search(d, q, 2, 3, &o, hits);
            if (idx_dense_rows(d)) idx_dense_get(d, idx_dense_rows(d) - 1, q);
            free(q);
        }
    }
    idx_dense_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/idxfuzz_vec_store_%d.vec", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    exercise(path);

    const uint8_t *p = data;
    size_t n = size;
    uint8_t meta[64] = {0};
    const uint8_t *m0 = p;
    memcpy(meta, m0, take(&p, &n, 64));
    idx_file_writer *w;
    if (idx_file_create(path, "IDXDENS1", 1, &w) != IDX_OK) return 0;
    int ok = idx_file_put_section(w, "meta", meta, 64) == IDX_OK;
    const char *names[2] = {"vectors", "scales"};
    for (int s = 0; s < 2 && ok; s++) {
        uint32_t len = 0;
        const uint8_t *lp = p;
        size_t got = take(&p, &n, 4);
        memcpy(&len, lp, got);
        if (len == 0xFFFFFFFFu) continue;
        const uint8_t *b = p;
        size_t k = take(&p, &n, len);
        ok = idx_file_put_section(w, names[s], b, k) == IDX_OK;
    }
    if (ok) ok = idx_file_put_section(w, "rows", p, n) == IDX_OK;
    if (!ok || idx_file_commit(w) != IDX_OK) {
        if (!ok) idx_file_abort(w);
        unlink(path);
        return 0;
    }
    exercise(path);
    unlink(path);
    return 0;
}
