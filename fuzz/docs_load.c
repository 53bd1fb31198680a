/*
 * docs_load.c -- fuzz target: arbitrary bytes as INDEX/docs/docs.idx; when
 * the store opens, every accessor on every document must stay in bounds.
 * Saved inputs include the compressed sections ("<name>.z": valid-zdocs.idx,
 * a flipped frame byte, a wrong or huge raw length) and the raw layout of
 * stores written before (valid-fmtext.idx).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idx_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[256], sub[300], path[320];
    snprintf(dir, sizeof dir, "/tmp/idxfuzz_docs_%d", (int)getpid());
    snprintf(sub, sizeof sub, "%s/docs", dir);
    snprintf(path, sizeof path, "%s/docs.idx", sub);
    idx_mkdirs(sub);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    idx_docs *d;
    if (idx_docs_open(dir, 0, &d) == IDX_OK) {
        idx_buf b = {0};
        uint64_t n = idx_docs_count(d);
        for (uint64_t i = 0; i < n && i < 1000; i++) {
            b.len = 0;
            idx_docs_text(d, i, 0, 1 << 16, &b);
            const char *s;
            size_t l;
            if (idx_docs_id(d, i, &s, &l) == IDX_OK) {
                uint64_t k;
                idx_docs_lookup(d, s, l, &k);
            }
            idx_docs_meta(d, i, &s, &l);
        }
        idx_docs_verify(d);
        idx_buf_free(&b);
        idx_docs_close(d);
    }
    idx_rmtree(dir);
    return 0;
}
