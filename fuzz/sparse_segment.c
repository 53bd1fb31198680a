/*
 * sparse_segment.c -- fuzz target: the sparse segment loader. The input is
 * written to a file and opened without checksum verification, so damaged
 * contents reach the structural checks; a segment that opens is then
 * fully decoded (idx_sparse_segment_verify) and must not crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "idx_retrieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/idx-fuzz-sparse-%d.sps", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    idx_sparse_segment *s = NULL;
    if (idx_sparse_segment_open(path, 0, &s) == IDX_OK) {
        idx_sparse_segment_verify(s);
        idx_sparse_segment_close(s);
    }
    unlink(path);
    return 0;
}
