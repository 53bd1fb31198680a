/*
 * verify.c -- checks an index directory built by idx_index_build: the
 * manifest's parts name files that exist and agree with them, every section
 * checksum of every file (any flipped byte in a section, the padding, the
 * table or the header is found), and, deep, the structural checks of the
 * document store (every block decompressed) and of each FM-index shard (byte
 * counts of the wavelet tree, the samples form a permutation, document starts
 * follow separators, every inverse sample "isa" locates to its position) and,
 * when the text comes from the FM-index, every document's length in the
 * store against the shards'. `idx verify` is a thin wrapper.
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
    /* Where the text comes from: the manifest, the store and the shards agree. */
    {
        const char *ts = json_string_value(json_object_get(dp, "text"));
        json_t *isa = json_object_get(fp, "isa_sample");
        int src = idx_docs_text_source(docs);
        const char *want = src == IDX_DOCS_TEXT_FM ? "fm" : src == IDX_DOCS_TEXT_STORE ? "store" : "none";
        /* Both keys or neither (an index from before text source "fm": then the store keeps the text). */
        if ((ts != NULL) != (isa != NULL) || (ts ? strcmp(ts, want) != 0 : src != IDX_DOCS_TEXT_STORE)) {
            e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"docs\": \"text\" disagrees with the document store");
            goto done;
        }
        if (isa) {
            uint32_t rate = 0;
            for (size_t i = 0; i < idx_fm_shard_count(fm); i++) {
                idx_fm_shard_sizes s;
                idx_fm_get_shard_sizes(fm, i, &s);
                if (i == 0) rate = s.isa_sample;
                else if (s.isa_sample != rate) rate = UINT32_MAX;
            }
            if (rate == UINT32_MAX || (e = want_int(fp, "fm", "isa_sample", rate)) != IDX_OK) {
                if (e == IDX_OK)
                    e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": shards disagree on the inverse sample rate");
                goto done;
            }
            /* no unknown keys in part "fm" (a damaged key name is not taken for an absent one) */
            static const char *known[] = {"version", "layout", "sa_sample", "isa_sample", "isa",
                                          "corpus_bytes", "docs", "shards"};
            const char *key;
            json_t *val;
            json_object_foreach(fp, key, val) {
                size_t q = 0;
                while (q < sizeof known / sizeof known[0] && strcmp(key, known[q]) != 0) q++;
                if (q == sizeof known / sizeof known[0]) {
                    e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": unknown key \"%s\"", key);
                    goto done;
                }
            }
            /* "isa": how they are kept (absent in indexes from before "pinv": stored or none) */
            const char *kind = json_string_value(json_object_get(fp, "isa"));
            for (size_t i = 0; i < idx_fm_shard_count(fm); i++) {
                int k = idx_fm_shard_isa_kind(fm, i);
                const char *want_kind = k == 2 ? "derived" : k == 1 ? "stored" : "none";
                if (kind ? strcmp(kind, want_kind) != 0 : k == 2) {
                    e = idx_fail(IDX_ERR_CORRUPT, "manifest part \"fm\": \"isa\" disagrees with shard %zu", i);
                    goto done;
                }
            }
        }
        if (src == IDX_DOCS_TEXT_FM) {
            if (!idx_fm_has_text(fm)) {
                e = idx_fail(IDX_ERR_CORRUPT, "%s: the document store takes its text from the FM-index, whose shards "
                             "have no inverse samples (\"isa\")", index_dir);
                goto done;
            }
            for (uint64_t d = 0; deep && d < idx_docs_count(docs); d++) {
                uint64_t a, b;
                if ((e = idx_docs_len(docs, d, &a)) != IDX_OK || (e = idx_fm_doc_len(fm, d, &b)) != IDX_OK) goto done;
                if (a != b) {
                    e = idx_fail(IDX_ERR_CORRUPT, "%s: document %llu is %llu bytes in the store and %llu in the FM-index",
                                 index_dir, (unsigned long long)d, (unsigned long long)a, (unsigned long long)b);
                    goto done;
                }
            }
        }
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
