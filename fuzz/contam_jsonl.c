/*
 * contam_jsonl.c -- libFuzzer target for the JSONL / JSON-array benchmark
 * reader of the contamination check (index/bench_reader.c), strict and with
 * skip_bad; input bytes are the file contents.
 */
#include <stdint.h>
#include <stdlib.h>

#include "idx_ngram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int skip = 0; skip < 2; skip++) {
        idx_contam_set *set = NULL;
        if (idx_contam_set_new(&set)) return 0;
        idx_contam_read_opts o = {0};
        o.skip_bad = skip;
        o.max_entry_bytes = 4096;
        idx_contam_read_buffer(set, "fuzz/test.jsonl", (const char *)data, size, IDX_CONTAM_FMT_JSONL, &o);
        for (size_t i = 0; i < idx_contam_set_count(set); i++) {
            const idx_contam_entry *e = idx_contam_set_entry(set, i);
            if (!e->skip && (e->len == 0 || !e->id || e->nseg == 0 || e->seg_end[e->nseg - 1] != e->len)) abort();
        }
        idx_contam_set_free(set);
    }
    return 0;
}
