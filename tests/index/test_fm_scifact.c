/*
 * test_fm_scifact.c -- the FM-index on real text: BEIR SciFact's 5,183
 * abstracts (../shared/data/beir/scifact/corpus.jsonl; skipped with a message
 * when absent). Counts of random substrings and of their mutations, every
 * occurrence located, and every document returned byte for byte, against a
 * naive scan of the texts read independently with jansson; one shard and
 * eight shards built in parallel, and the fast and sdsl layouts, must agree with it. External ids map back.
 */
#include "fm_naive.h"

static uint64_t seed = 42;

static void load_texts(const char *path, naive_corpus *c, char ***ids) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t nid = 0, capid = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)len, 0, &err);
        assert_non_null(j);
        json_t *t = json_object_get(j, "text");
        assert_true(json_is_string(t));
        nc_add(c, json_string_value(t), json_string_length(t));
        if (nid == capid) {
            capid = capid ? 2 * capid : 1024;
            *ids = realloc(*ids, capid * sizeof **ids);
        }
        (*ids)[nid++] = strdup(json_string_value(json_object_get(j, "_id")));
        json_decref(j);
    }
    free(line);
    fclose(f);
}

static void test_scifact(void **state) {
    (void)state;
    /* IDX_SHARED_DATA (environment) overrides the build-time default, for worktrees. */
    const char *base = getenv("IDX_SHARED_DATA") ? getenv("IDX_SHARED_DATA") : IDX_SHARED_DATA;
    char path[4096];
    snprintf(path, sizeof path, "%s/beir/scifact/corpus.jsonl", base);
    t_require_file(path);
    naive_corpus c = {0};
    char **ids = NULL;
    load_texts(path, &c, &ids);
    assert_int_equal(c.n, 5183);

    /* patterns: random substrings (present), mutations (mostly absent), words, all bytes */
    size_t np = 0;
    unsigned char *pats[800];
    size_t plen[800];
    for (int b = 0; b < 256; b++) {
        pats[np] = malloc(1);
        pats[np][0] = (unsigned char)b;
        plen[np++] = 1;
    }
    const char *words[] = {"the", "The ", "cell", "protein", "p < 0.05", "95% CI", "\xce\xb2", "β-catenin", "mice", "."};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        plen[np] = strlen(words[i]);
        pats[np] = malloc(plen[np]);
        memcpy(pats[np], words[i], plen[np]);
        np++;
    }
    while (np < 700) {
        size_t d = rnd(&seed) % c.n;
        if (c.len[d] < 2) continue;
        size_t off = rnd(&seed) % c.len[d];
        size_t len = 1 + rnd(&seed) % 80;
        if (len > c.len[d] - off) len = c.len[d] - off;
        pats[np] = malloc(len);
        memcpy(pats[np], c.text[d] + off, len);
        plen[np++] = len;
        pats[np] = malloc(len);
        memcpy(pats[np], c.text[d] + off, len);
        pats[np][rnd(&seed) % len] ^= 0x20;
        plen[np++] = len;
    }

    char *dir = t_tmpdir();
    char *ix = t_path(dir, "ix");
    for (int variant = 0; variant < 4; variant++) {
        idx_index_build_opts o;
        memset(&o, 0, sizeof o);
        o.force = 1;
        o.threads = 2;
        o.shard_size = variant == 1 ? (1u << 20) : 0;
        o.layout = variant == 2 ? IDX_FM_LAYOUT_FAST : variant == 3 ? IDX_FM_LAYOUT_SDSL : IDX_FM_LAYOUT_COMPACT;
        const char *in[1] = {path};
        assert_int_equal(idx_index_build(ix, in, 1, &o, NULL), IDX_OK);
        idx_fm *fm;
        assert_int_equal(idx_fm_open(ix, 0, &fm), IDX_OK);
        assert_true(idx_fm_shard_count(fm) >= (variant == 1 ? 7u : 1u));
        assert_int_equal(idx_fm_total_bytes(fm), c.total);
        for (size_t i = 0; i < np; i++) nc_check_pattern(&c, fm, pats[i], plen[i], 3000);
        for (size_t i = 266; i < 276; i++) nc_check_cursor(&c, fm, pats[i], plen[i]);
        idx_fm_close(fm);
    }
    nc_check_docs(&c, ix);
    idx_docs *d;
    assert_int_equal(idx_docs_open(ix, 0, &d), IDX_OK);
    for (size_t i = 0; i < c.n; i += 97) {
        uint64_t doc;
        assert_int_equal(idx_docs_lookup(d, ids[i], strlen(ids[i]), &doc), IDX_OK);
        assert_int_equal(doc, i);
    }
    idx_docs_close(d);
    assert_int_equal(idx_index_verify(ix, 1), IDX_OK);

    for (size_t i = 0; i < np; i++) free(pats[i]);
    for (size_t i = 0; i < c.n; i++) free(ids[i]);
    free(ids);
    t_sh("rm -rf '%s'", dir);
    free(ix);
    free(dir);
    nc_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_scifact)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
