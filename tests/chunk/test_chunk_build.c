/*
 * test_chunk_build.c -- `idx build --chunker` end to end through the library
 * (chunk/source.c hooked into idx_index_build) on a generated corpus:
 * the chunk map covers every document exactly and each chunk document holds
 * the right bytes; FM-index counts equal the sum of naive counts over the
 * chunk texts; every located occurrence maps back through the chunk map to
 * the pattern in the original document; a BM25 index over the chunked store
 * returns chunks whose map entries point at the document holding the query
 * word. Plus the CLI: usage errors and a chunked build with `--level`-free
 * output (ids DOC#K).
 */
#include <stdarg.h>
#include <sys/wait.h>

#include "../idx_test.h"
#include "idx_chunk.h"
#include "idx_index.h"
#include "idx_retrieve.h"

#define ND 40

static char *docs[ND];
static size_t lens[ND];
static char *dir, *corpus, *index_dir;

static uint64_t rng(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t naive(const char *t, size_t n, const char *p, size_t m) {
    size_t c = 0;
    for (size_t i = 0; i + m <= n; i++) c += memcmp(t + i, p, m) == 0;
    return c;
}

static int setup(void **st) {
    (void)st;
    static const char *words[] = {"the", "cell", "protein", "gene", "of", "binding", "rate", "in",
                                  "model", "data", "tumor", "a", "expression", "and", "signal"};
    uint64_t seed = 42;
    dir = t_tmpdir();
    corpus = t_path(dir, "c.jsonl");
    index_dir = t_path(dir, "idx");
    idx_buf j = {0};
    for (int d = 0; d < ND; d++) {
        idx_buf t = {0};
        int ns = 1 + (int)(rng(&seed) % 12);
        if (d == 7) ns = 0; /* an empty document: no chunk */
        for (int s = 0; s < ns; s++) {
            int nw = 3 + (int)(rng(&seed) % 10);
            for (int w = 0; w < nw; w++) {
                const char *x = words[rng(&seed) % 15];
                char buf[64];
                snprintf(buf, sizeof buf, "%s%s", w == 0 ? "X" : " ", x);
                idx_buf_append(&t, buf, strlen(buf));
            }
            if (d == 23 && s == ns - 1) idx_buf_append(&t, " zebrafish", 10); /* a unique word */
            idx_buf_append(&t, s + 1 < ns ? ". " : ".", s + 1 < ns ? 2 : 1);
        }
        docs[d] = malloc(t.len + 1);
        memcpy(docs[d], t.data ? t.data : "", t.len);
        lens[d] = t.len;
        char head[64];
        snprintf(head, sizeof head, "{\"_id\":\"d%d\",\"text\":\"", d);
        idx_buf_append(&j, head, strlen(head));
        idx_buf_append(&j, docs[d], lens[d]);
        idx_buf_append(&j, "\"}\n", 3);
        idx_buf_free(&t);
    }
    t_write(corpus, j.data, j.len);
    idx_buf_free(&j);
    /* the chunked build: sentences merged to at most 15 words */
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_SENTENCE);
    o.merge = 15;
    idx_chunk_source *src;
    assert_int_equal(idx_chunk_source_new(&o, "--chunker sentence --merge 15", &src), IDX_OK);
    idx_index_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.next_doc = idx_chunk_source_next;
    bo.finish = idx_chunk_source_finish;
    bo.source_ud = src;
    bo.shard_size = 700; /* several shards */
    const char *in[] = {corpus};
    idx_index_build_stats bs;
    if (idx_index_build(index_dir, in, 1, &bo, &bs)) fail_msg("build: %s", idx_errmsg());
    assert_int_equal(bs.docs, idx_chunk_source_count(src));
    assert_true(bs.shards > 1);
    idx_chunk_source_free(src);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    t_sh("rm -rf '%s'", dir);
    for (int d = 0; d < ND; d++) free(docs[d]);
    free(dir);
    free(corpus);
    free(index_dir);
    return 0;
}

static idx_chunkmap *open_map(void) {
    char *p = t_path(index_dir, "chunks");
    idx_chunkmap *m;
    if (idx_chunkmap_open(p, 0, &m)) fail_msg("chunk map: %s", idx_errmsg());
    free(p);
    return m;
}

/* the chunk map covers every non-empty document exactly, and each chunk
 * document holds the original bytes, id DOC#K and the metadata */
static void test_map_and_store(void **st) {
    (void)st;
    idx_chunkmap *m = open_map();
    idx_docs *ds;
    assert_int_equal(idx_docs_open(index_dir, 0, &ds), IDX_OK);
    assert_int_equal(idx_docs_count(ds), idx_chunkmap_count(m));
    idx_buf b = {0};
    uint64_t ord = 0, total = 0;
    for (int d = 0; d < ND; d++) {
        if (lens[d] == 0) continue; /* empty: no chunk, no ordinal */
        uint64_t first, n;
        assert_int_equal(idx_chunkmap_doc_range(m, ord, &first, &n), IDX_OK);
        assert_true(n >= 1);
        assert_int_equal(first, total);
        uint64_t pos = 0;
        for (uint64_t k = 0; k < n; k++) {
            idx_chunkmap_entry e;
            assert_int_equal(idx_chunkmap_get(m, first + k, &e), IDX_OK);
            assert_int_equal(e.doc_id, ord);
            assert_int_equal(e.start, pos);
            pos = e.end;
            b.len = 0;
            assert_int_equal(idx_docs_text(ds, first + k, 0, e.end - e.start, &b), IDX_OK);
            assert_int_equal(b.len, e.end - e.start);
            assert_memory_equal(b.data, docs[d] + e.start, b.len);
            const char *id;
            size_t il;
            assert_int_equal(idx_docs_id(ds, first + k, &id, &il), IDX_OK);
            char want[64];
            snprintf(want, sizeof want, "d%d#%llu", d, (unsigned long long)k);
            assert_int_equal(il, strlen(want));
            assert_memory_equal(id, want, il);
            const char *js;
            size_t jl;
            assert_int_equal(idx_docs_meta(ds, first + k, &js, &jl), IDX_OK);
            json_t *meta = json_loadb(js, jl, 0, NULL);
            assert_non_null(meta);
            char wdoc[32];
            snprintf(wdoc, sizeof wdoc, "d%d", d);
            assert_string_equal(json_string_value(json_object_get(meta, "doc")), wdoc);
            assert_int_equal(json_integer_value(json_object_get(meta, "start")), (json_int_t)e.start);
            assert_int_equal(json_integer_value(json_object_get(meta, "end")), (json_int_t)e.end);
            json_decref(meta);
        }
        assert_int_equal(pos, lens[d]);
        total += n;
        ord++;
    }
    assert_int_equal(total, idx_chunkmap_count(m));
    assert_string_equal(idx_chunkmap_desc(m), "--chunker sentence --merge 15");
    idx_buf_free(&b);
    idx_docs_close(ds);
    idx_chunkmap_close(m);
}

/* doc ordinal -> corpus index (skipping the empty document) */
static int doc_of_ord(uint64_t ord) {
    uint64_t o = 0;
    for (int d = 0; d < ND; d++) {
        if (lens[d] == 0) continue;
        if (o++ == ord) return d;
    }
    fail_msg("no document for ordinal %llu", (unsigned long long)ord);
    return -1;
}

/* counts = sum over chunks; occurrences map back to the documents */
static void test_counts_and_locate(void **st) {
    (void)st;
    idx_chunkmap *m = open_map();
    idx_fm *fm;
    assert_int_equal(idx_fm_open(index_dir, 0, &fm), IDX_OK);
    const char *pats[] = {"e", "the", "gene", " of t", "n. X", "a", "zebrafish", "Xcell protein", ". ", "tumor."};
    size_t ns = idx_fm_shard_count(fm);
    idx_fm_range *r = calloc(ns, sizeof *r);
    for (size_t pi = 0; pi < sizeof pats / sizeof pats[0]; pi++) {
        const char *p = pats[pi];
        size_t pl = strlen(p);
        uint64_t sum = 0, whole = 0;
        for (uint64_t c = 0; c < idx_chunkmap_count(m); c++) {
            idx_chunkmap_entry e;
            assert_int_equal(idx_chunkmap_get(m, c, &e), IDX_OK);
            int d = doc_of_ord(e.doc_id);
            sum += naive(docs[d] + e.start, (size_t)(e.end - e.start), p, pl);
        }
        for (int d = 0; d < ND; d++) whole += naive(docs[d], lens[d], p, pl);
        uint64_t cnt, tot;
        assert_int_equal(idx_fm_count(fm, p, pl, &cnt), IDX_OK);
        assert_int_equal(cnt, sum);
        assert_true(cnt <= whole); /* occurrences across a chunk boundary are lost */
        assert_int_equal(idx_fm_find(fm, p, pl, r, &tot), IDX_OK);
        assert_int_equal(tot, cnt);
        for (size_t s = 0; s < ns; s++)
            for (uint64_t k = r[s].lo; k < r[s].hi; k++) {
                uint64_t chunk, off;
                assert_int_equal(idx_fm_locate(fm, s, k, &chunk, &off), IDX_OK);
                idx_chunkmap_entry e;
                assert_int_equal(idx_chunkmap_get(m, chunk, &e), IDX_OK);
                assert_true(off + pl <= e.end - e.start);
                int d = doc_of_ord(e.doc_id);
                assert_memory_equal(docs[d] + e.start + off, p, pl);
            }
    }
    free(r);
    idx_fm_close(fm);
    idx_chunkmap_close(m);
}

/* BM25 over the chunked store: the hit for a unique word is a chunk of d23 */
static void test_sparse_chunks(void **st) {
    (void)st;
    idx_text_config cfg;
    idx_text_config_default(&cfg);
    if (idx_sparse_build_from_store(index_dir, &cfg, 1, 0, NULL)) fail_msg("sparse: %s", idx_errmsg());
    idx_sparse *sp;
    assert_int_equal(idx_sparse_open(index_dir, 0, &sp), IDX_OK);
    idx_sparse_searcher *q;
    assert_int_equal(idx_sparse_searcher_new(sp, &q), IDX_OK);
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    idx_sparse_hit hits[10];
    size_t nh = 0;
    assert_int_equal(idx_sparse_search(q, "zebrafish", 9, &p, hits, &nh, NULL), IDX_OK);
    assert_int_equal(nh, 1);
    const idx_docs *ds = idx_sparse_segment_store(sp, hits[0].segment);
    const char *id;
    size_t il;
    assert_int_equal(idx_docs_id(ds, hits[0].doc, &id, &il), IDX_OK);
    assert_true(il > 4 && memcmp(id, "d23#", 4) == 0);
    /* through the chunk map (chunk id = store id: one segment built from the store) */
    idx_chunkmap *m = open_map();
    idx_chunkmap_entry e;
    assert_int_equal(idx_chunkmap_get(m, hits[0].doc, &e), IDX_OK);
    assert_int_equal(doc_of_ord(e.doc_id), 23);
    assert_int_equal(naive(docs[23] + e.start, (size_t)(e.end - e.start), "zebrafish", 9), 1);
    idx_chunkmap_close(m);
    idx_sparse_searcher_free(q);
    idx_sparse_close(sp);
}

/* the CLI: chunked build and sparse build, usage errors */
static void test_cli(void **st) {
    (void)st;
    const char *bin = t_idx_bin();
    t_require_file(bin);
    assert_int_equal(t_sh("'%s' build -q -o '%s/cli' --chunker recursive --size 12 '%s' >/dev/null 2>&1", bin, dir, corpus), 0);
    assert_int_equal(t_sh("'%s' verify '%s/cli' >/dev/null 2>&1", bin, dir), 0);
    assert_int_equal(t_sh("'%s' find '%s/cli' zebrafish | grep -q 'd23#'", bin, dir), 0);
    assert_int_equal(t_sh("'%s' index-sparse -o '%s/sp' --quiet --chunker sentence --merge 15 '%s' >/dev/null", bin, dir, corpus), 0);
    assert_int_equal(t_sh("'%s' retrieve '%s/sp' zebrafish --json | grep -q '\"id\":\"d23#'", bin, dir), 0);
    assert_int_equal(t_sh("'%s' retrieve '%s/sp' zebrafish --level doc | grep -q ' d23 '", bin, dir), 0);
    assert_int_equal(t_sh("'%s' find '%s/cli' zebrafish --level doc | grep -q '\td23\t'", bin, dir), 0);
    /* --level doc on an index without chunks: a clear error */
    assert_int_equal(t_sh("'%s' index-sparse -o '%s/plain' --quiet '%s' >/dev/null", bin, dir, corpus), 0);
    assert_int_equal(t_sh("'%s' retrieve '%s/plain' zebrafish --level doc 2>/dev/null", bin, dir), 1);
    assert_int_equal(t_sh("'%s' retrieve '%s/plain' zebrafish --level nosuch 2>/dev/null", bin, dir), 2);
    /* usage errors: unknown chunker, bad size, ppl without a model */
    assert_int_equal(t_sh("'%s' build -q -o '%s/x' --chunker nosuch '%s' 2>/dev/null", bin, dir, corpus), 2);
    assert_int_equal(t_sh("'%s' build -q -o '%s/x' --chunker fixed --size 0 '%s' 2>/dev/null", bin, dir, corpus), 2);
    assert_int_equal(t_sh("'%s' build -q -o '%s/x' --chunker ppl '%s' 2>/dev/null", bin, dir, corpus), 1);
    assert_int_equal(t_sh("'%s' build -q -o '%s/x' --chunker '%s' 2>/dev/null", bin, dir, corpus), 2);
    assert_int_equal(t_sh("test -e '%s/x'", dir), 1); /* nothing published */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_and_store),
        cmocka_unit_test(test_counts_and_locate),
        cmocka_unit_test(test_sparse_chunks),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
