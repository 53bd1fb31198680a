/*
 * verify.c -- checks an index directory built by idx_index_build: the
 * manifest's parts name files that exist and agree with them, every section
 * checksum of every file (any flipped byte in a section, the padding, the
 * table or the header is found), and, deep, the structural checks of the
 * document store (every block decompressed) and of each FM-index shard (byte
 * counts of the wavelet tree, the samples form a permutation, document starts
 * follow separators). `idx verify` is a thin wrapper.
 */
#include <string.h>

#include "fm_internal.h"

static idx_err want_int(json_t *obj, const char *part, const char *key, uint64_t want) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != want)
        return idx_fail(IDX_ERR_CORRUPT, "manifest part \"%s\": \"%s\" disagrees with the index files", part, key);
    return IDX_OK;
}

idx_err idx_index_verify(const char *index_dir, int deep) {
    json_t *man = NULL;
    idx_docs *docs = NULL;
    idx_fm *fm = NULL;
    idx_err e = idx_manifest_load(index_dir, &man);
    if (e != IDX_OK) return e;
    unsigned flags = deep ? IDX_FILE_VERIFY : 0;
    if ((e = idx_docs_open(index_dir, IDX_FILE_VERIFY, &docs)) != IDX_OK) goto done;
    if (deep && (e = idx_docs_verify(docs)) != IDX_OK) goto done;
    if ((e = idx_fm_open(index_dir, flags, &fm)) != IDX_OK) goto done;
    json_t *dp = idx_manifest_part(man, "docs"), *fp = idx_manifest_part(man, "fm");
    if (!dp || !fp) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: manifest lacks the docs or fm part", index_dir);
        goto done;
    }
    if ((e = want_int(dp, "docs", "docs", idx_docs_count(docs))) != IDX_OK ||
        (e = want_int(dp, "docs", "text_bytes", idx_docs_text_bytes(docs))) != IDX_OK ||
        (e = want_int(dp, "docs", "version", 1)) != IDX_OK ||
        (e = want_int(fp, "fm", "docs", idx_fm_doc_count(fm))) != IDX_OK ||
        (e = want_int(fp, "fm", "corpus_bytes", idx_fm_total_bytes(fm))) != IDX_OK ||
        (e = want_int(fp, "fm", "version", IDX_FM_VERSION)) != IDX_OK)
        goto done;
    const char *df = json_string_value(json_object_get(dp, "file"));
    if (!df || strcmp(df, "docs/docs.idx") != 0) {
        e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"docs\": bad \"file\"");
        goto done;
    }
    if (idx_docs_count(docs) != idx_fm_doc_count(fm) || idx_docs_text_bytes(docs) != idx_fm_total_bytes(fm)) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: the document store and the FM-index disagree on documents or bytes",
                     index_dir);
        goto done;
    }
    json_t *shards = json_object_get(fp, "shards");
    size_t ns = idx_fm_shard_count(fm);
    const char *layout = json_string_value(json_object_get(fp, "layout"));
    if (!layout || json_array_size(shards) != ns) {
        e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": missing layout or shards");
        goto done;
    }
    for (size_t i = 0; i < ns; i++) {
        idx_fm_shard_sizes s;
        idx_fm_get_shard_sizes(fm, i, &s);
        json_t *sj = json_array_get(shards, i);
        char want[64];
        snprintf(want, sizeof want, "fm/shard-%04zu.fm", i);
        const char *file = json_string_value(json_object_get(sj, "file"));
        if (!file || strcmp(file, want) != 0) {
            e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": shard %zu: bad file name", i);
            goto done;
        }
        if ((e = want_int(sj, "fm", "docs", s.docs)) != IDX_OK ||
            (e = want_int(sj, "fm", "first_doc", s.first_doc)) != IDX_OK ||
            (e = want_int(sj, "fm", "text_bytes", s.text_bytes)) != IDX_OK ||
            (e = want_int(sj, "fm", "file_bytes", s.file_bytes)) != IDX_OK ||
            (e = want_int(fp, "fm", "sa_sample", s.sa_sample)) != IDX_OK)
            goto done;
        const char *want_layout = idx_fm_layout_name(s.layout);
        /* Indexes built before fm_block called the sdsl tree (meta code 0) "compact". */
        int legacy = s.layout == IDX_FM_LAYOUT_SDSL && strcmp(layout, "compact") == 0;
        if (strcmp(layout, want_layout) != 0 && !legacy) {
            e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": layout disagrees with shard %zu", i);
            goto done;
        }
    }
done:
    idx_fm_close(fm);
    idx_docs_close(docs);
    json_decref(man);
    return e;
}
