/*
 * fm_load.c -- fuzz target for the FM-index shard loader: the input is a
 * shard file (fm/shard-0000.fm) placed in an index directory whose manifest
 * agrees with the file's own meta section where readable; the loader must
 * reject anything damaged with an error (never crash), and whatever loads is
 * queried (count, find, locate, cursor, and text by idx_fm_extract when the
 * shard has inverse samples, stored "isa" or derived "pinv"). Saved inputs in
 * fuzz/corpus/fm_load/ (valid shards with and without "isa" or "pinv",
 * truncations, flipped bytes; isa-*: inverse samples cut short, with a wrong
 * rate, width or rows; pinv-*: shortcut pointers with a wrong interval, count,
 * bucket size, a garbage or inconsistent bucket directory, a wrong pointer,
 * cut short; all with their
 * checksums recomputed so that the loader's own checks are reached, and
 * pinv-flip without) are replayed by ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_index.h"

static char *g_dir, *g_shard;

static void cleanup(void) {
    if (!g_dir) return;
    char *m = idx_path_join(g_dir, "manifest.json");
    unlink(g_shard);
    unlink(m);
    free(m);
    char *fm = idx_path_join(g_dir, "fm");
    rmdir(fm);
    free(fm);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir) {
        char tmpl[] = "/tmp/fuzz_fm_load.XXXXXX";
        char *d = mkdtemp(tmpl);
        if (!d) return 0;
        g_dir = strdup(d);
        char *fm = idx_path_join(g_dir, "fm");
        idx_mkdirs(fm);
        g_shard = idx_path_join(fm, "shard-0000.fm");
        free(fm);
        atexit(cleanup);
    }
    FILE *f = fopen(g_shard, "wb");
    if (!f) return 0;
    if (size) fwrite(data, 1, size, f);
    fclose(f);

    uint64_t docs = 1, bytes = 0;
    idx_file *file = NULL;
    if (idx_file_open(g_shard, "IDXFMSH1", 1, 0, &file) == IDX_OK) {
        const void *p;
        uint64_t sz;
        if (idx_file_section(file, "meta", &p, &sz) == IDX_OK && sz >= 6 * 8) {
            const uint64_t *m = p;
            docs = m[3];
            bytes = m[5];
        }
        idx_file_close(file);
    }
    json_t *man = idx_manifest_new();
    json_t *shards = json_pack("[{s:s, s:i}]", "file", "fm/shard-0000.fm", "first_doc", 0);
    json_t *part = json_pack("{s:i, s:s, s:i, s:I, s:I, s:o}", "version", 1, "layout", "compact", "sa_sample", 32,
                             "corpus_bytes", (json_int_t)(bytes & 0x3FFFFFFFFFFFFFFF), "docs",
                             (json_int_t)(docs & 0x3FFFFFFFFFFFFFFF), "shards", shards);
    json_object_set_new(json_object_get(man, "parts"), "fm", part);
    idx_manifest_save(g_dir, man);
    json_decref(man);

    for (int deep = 0; deep < 2; deep++) {
        idx_fm *fm = NULL;
        if (idx_fm_open(g_dir, deep ? 1u : 0u, &fm) != IDX_OK) continue;
        static const char *pats[] = {"a", "e", " ", "the", "\0", "ab", "gamma"};
        for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
            uint64_t c;
            size_t len = pats[i][0] ? strlen(pats[i]) : 1;
            idx_fm_count(fm, pats[i], len, &c);
            idx_fm_range r[1];
            uint64_t total;
            if (idx_fm_shard_count(fm) == 1 && idx_fm_find(fm, pats[i], len, r, &total) == IDX_OK)
                for (uint64_t k = r[0].lo; k < r[0].hi && k < r[0].lo + 8; k++) {
                    uint64_t doc, off;
                    idx_fm_locate(fm, 0, k, &doc, &off);
                }
        }
        if (idx_fm_has_text(fm)) {
            idx_buf b = {0};
            uint64_t nd = idx_fm_doc_count(fm);
            for (uint64_t d = 0; d < nd && d < 16; d++) {
                b.len = 0;
                idx_fm_extract(fm, d, 0, 1 << 16, &b);
                b.len = 0;
                idx_fm_extract(fm, d, 3, 5, &b);
            }
            idx_buf_free(&b);
        }
        idx_fm_cursor *cur;
        if (idx_fm_cursor_new(fm, &cur) == IDX_OK) {
            for (int b = 0; b < 8; b++) idx_fm_cursor_prepend(cur, (unsigned char)"ammag ab"[b], NULL);
            idx_fm_cursor_free(cur);
        }
        idx_fm_close(fm);
    }
    return 0;
}
