/*
 * chunkmap_load.c -- fuzz target: arbitrary bytes as PART_DIR/chunks.idx;
 * when the chunk map opens, every accessor must stay in bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "idx_chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[256], path[320];
    snprintf(dir, sizeof dir, "/tmp/idxfuzz_chunkmap_%d", (int)getpid());
    snprintf(path, sizeof path, "%s/chunks.idx", dir);
    idx_mkdirs(dir);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    idx_chunkmap *m;
    if (idx_chunkmap_open(dir, IDX_FILE_VERIFY, &m) == IDX_OK) {
        uint64_t n = idx_chunkmap_count(m), sum = 0;
        for (uint64_t i = 0; i < n && i < 100000; i++) {
            idx_chunkmap_entry e;
            if (idx_chunkmap_get(m, i, &e) == IDX_OK) {
                for (size_t k = 0; k < e.head_len; k++) sum += (unsigned char)e.head[k];
                uint64_t first, cnt;
                if (i < 100) idx_chunkmap_doc_range(m, e.doc_id, &first, &cnt);
            }
        }
        (void)sum;
        idx_chunkmap_close(m);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}
