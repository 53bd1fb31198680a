/*
 * indexes.c -- the set of indexes a server answers from. A set is opened as a
 * whole (every directory's manifest and the parts it names), published by a
 * pointer swap under a mutex, and reference counted: a request takes a
 * reference when it starts and drops it when it ends, so a reload (SIGHUP)
 * never closes an index under a running query, and the old set is closed by
 * whoever drops the last reference.
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

static void free_searcher(void *q) { idx_sparse_searcher_free(q); }

static void index_close(idx_server_index *ix) {
    idx_server_dense_free(ix->dense);
    idx_server_pool_free(ix->searchers);
    idx_sparse_close(ix->sparse);
    idx_ngram_src_free(ix->ngram);
    idx_fm_close(ix->fm);
    idx_docs_close(ix->docs);
    json_decref(ix->manifest);
    free((char *)ix->name);
    free((char *)ix->dir);
    memset(ix, 0, sizeof *ix);
}

static void set_free(idx_server_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) index_close(&set->ix[i]);
    free(set->ix);
    free(set);
}

void idx_server_set_release(idx_server_set *set) {
    if (set && atomic_fetch_sub(&set->refs, 1) == 1) set_free(set);
}

/* The directory's base name, without trailing slashes. */
static char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    return strndup(dir + b, n - b);
}

static idx_err index_open(const idx_server_index_spec *sp, idx_server_index *ix) {
    ix->dir = strdup(sp->dir);
    ix->name = sp->name ? strdup(sp->name) : base_name(sp->dir);
    if (!ix->dir || !ix->name) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!*ix->name || strspn(ix->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._-") != strlen(ix->name))
        return idx_fail(IDX_ERR_INVALID,
                        "index name '%s' must be non-empty and use only letters, digits, '.', '_', '-'",
                        ix->name);
    idx_err e = idx_manifest_load(ix->dir, &ix->manifest);
    if (e) return e;
    if (idx_manifest_part(ix->manifest, "docs")) {
        e = idx_docs_open(ix->dir, 0, &ix->docs);
        if (e) return e;
    }
    if (idx_manifest_part(ix->manifest, "fm")) {
        e = idx_fm_open(ix->dir, 0, &ix->fm);
        if (!e) e = idx_ngram_src_fm(ix->fm, &ix->ngram);
        /* text source "fm": the store reads text through this FM-index (one copy of the tree) */
        if (!e && ix->docs) e = idx_docs_attach_fm(ix->docs, ix->fm);
        if (e) return e;
    }
    if (idx_manifest_part(ix->manifest, "sparse")) {
        e = idx_sparse_open(ix->dir, 0, &ix->sparse);
        if (!e) e = idx_server_pool_new(free_searcher, &ix->searchers);
        if (e) return e;
    }
    if ((e = idx_server_dense_open(ix))) return e;
    ix->disk_bytes = idx_du(ix->dir);
    return IDX_OK;
}

idx_err idx_server_set_open(const idx_server_index_spec *specs, size_t n, idx_server_set **out) {
    *out = NULL;
    idx_server_set *set = calloc(1, sizeof *set);
    if (!set || (n && !(set->ix = calloc(n, sizeof *set->ix)))) {
        free(set);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    atomic_init(&set->refs, 1);
    for (size_t i = 0; i < n; i++) {
        set->n = i + 1;
        if (!specs[i].dir) {
            set_free(set);
            return idx_fail(IDX_ERR_INVALID, "index %zu has no directory", i);
        }
        idx_err e = index_open(&specs[i], &set->ix[i]);
        if (e) {
            idx_fail_context(e, "index '%s' (%s)", set->ix[i].name ? set->ix[i].name : "?",
                             specs[i].dir);
            set_free(set);
            return e;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(set->ix[j].name, set->ix[i].name)) {
                e = idx_fail(IDX_ERR_INVALID,
                             "two indexes are named '%s' (%s and %s); name them with NAME=DIR",
                             set->ix[i].name, set->ix[j].dir, set->ix[i].dir);
                set_free(set);
                return e;
            }
    }
    *out = set;
    return IDX_OK;
}
