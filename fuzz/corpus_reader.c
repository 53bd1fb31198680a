/*
 * corpus_reader.c -- fuzz target: arbitrary bytes as a JSONL file, a gzip
 * file and a zstd file (chosen by the first byte), read to the end with and
 * without skip_bad. Must never crash, hang or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *names[] = {"/tmp/idxfuzz_corpus_%d.jsonl", "/tmp/idxfuzz_corpus_%d.jsonl.gz",
                                  "/tmp/idxfuzz_corpus_%d.jsonl.zst", "/tmp/idxfuzz_corpus_%d.txt"};
    if (size < 1) return 0;
    char path[256];
    snprintf(path, sizeof path, names[data[0] % 4], (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    for (int skip = 0; skip < 2; skip++) {
        idx_corpus_opts o = {.skip_bad = skip, .max_doc_bytes = 1 << 20};
        const char *paths[1] = {path};
        idx_corpus *c;
        if (idx_corpus_open(paths, 1, &o, &c) != IDX_OK) continue;
        for (int i = 0; i < 100000; i++) {
            idx_doc d;
            int got;
            if (idx_corpus_next(c, &d, &got) != IDX_OK || !got) break;
            if (d.text_len && memchr(d.text, 0xFF, d.text_len)) abort(); /* must have been rejected */
        }
        idx_corpus_close(c);
    }
    unlink(path);
    return 0;
}
