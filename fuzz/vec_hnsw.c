/*
 * vec_hnsw.c -- fuzz target for the HNSW graph loader (retrieve/hnsw.c). A
 * fixed 40-row store is built once; the input supplies the contents of the
 * graph file's sections, which the harness wraps into a well-formed section
 * file: bytes 0..63 "meta", then for "level", "link0", "upoff" a u32
 * little-endian length and that many bytes, and the rest "upper". A graph
 * that opens must answer searches without reading out of bounds or looping.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_dense.h"

#define ROWS 40
#define DIM 4

static idx_dense *store;

static void init_store(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/idxfuzz_vec_hnsw_store_%d.vec", (int)getpid());
    float v[ROWS * DIM];
    uint64_t docs[ROWS];
    for (int i = 0; i < ROWS * DIM; i++) v[i] = (float)((i * 37) % 11) - 5.f;
    for (int i = 0; i < ROWS; i++) docs[i] = (uint64_t)i;
    idx_dense_writer *w;
    if (idx_dense_writer_new(DIM, &w) || idx_dense_writer_add(w, v, ROWS, docs) ||
        idx_dense_writer_commit(w, path, IDX_DENSE_F32) || idx_dense_open(path, 0, &store))
        abort();
    idx_dense_writer_free(w);
    unlink(path);
}

static size_t take(const uint8_t **p, size_t *n, size_t want) {
    size_t k = want < *n ? want : *n;
    *p += k;
    *n -= k;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!store) init_store();
    char path[256];
    snprintf(path, sizeof path, "/tmp/idxfuzz_vec_hnsw_%d.hnsw", (int)getpid());
    const uint8_t *p = data;
    size_t n = size;
    uint8_t meta[64] = {0};
    const uint8_t *m0 = p;
    memcpy(meta, m0, take(&p, &n, 64));
    idx_file_writer *w;
    if (idx_file_create(path, "IDXHNSW1", 1, &w) != IDX_OK) return 0;
    int ok = idx_file_put_section(w, "meta", meta, 64) == IDX_OK;
    const char *names[3] = {"level", "link0", "upoff"};
    for (int s = 0; s < 3 && ok; s++) {
        uint32_t len = 0;
        const uint8_t *lp = p;
        memcpy(&len, lp, take(&p, &n, 4));
        const uint8_t *b = p;
        size_t k = take(&p, &n, len);
        ok = idx_file_put_section(w, names[s], b, k) == IDX_OK;
    }
    if (ok) ok = idx_file_put_section(w, "upper", p, n) == IDX_OK;
    if (!ok) {
        idx_file_abort(w);
        return 0;
    }
    if (idx_file_commit(w) != IDX_OK) return 0;
    idx_hnsw *h;
    if (idx_hnsw_open(path, store, IDX_FILE_VERIFY, &h) == IDX_OK) {
        float q[DIM] = {1, -2, 3, 0.5f};
        idx_dense_hit hits[5];
        idx_hnsw_search(h, q, 5, 0, hits);
        idx_hnsw_search(h, q, 2, 50, hits);
        idx_hnsw_free(h);
    }
    unlink(path);
    return 0;
}
