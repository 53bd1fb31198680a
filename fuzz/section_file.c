/*
 * section_file.c -- fuzz target: arbitrary bytes opened as a section file
 * (with and without verification); every section handed out must lie inside
 * the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "idx_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/idxfuzz_section_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    for (unsigned flags = 0; flags < 2; flags++) {
        idx_file *x;
        if (idx_file_open(path, "IDXTEST1", 3, flags, &x) != IDX_OK) continue;
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < idx_file_section_count(x); i++) {
            const char *name;
            uint64_t n;
            idx_file_section_info(x, i, &name, &n);
            const void *p;
            if (idx_file_section(x, name, &p, &n) != IDX_OK) abort();
            for (uint64_t j = 0; j < n; j++) sink ^= ((const uint8_t *)p)[j];
        }
        (void)sink;
        idx_file_verify(x);
        idx_file_close(x);
    }
    unlink(path);
    return 0;
}
