/*
 * manifest.c -- the index directory: manifest.json naming its parts, and the
 * directory operations that make building atomic (build in a temporary
 * directory beside the target, then rename it into place), so that a build
 * that is killed or fails never leaves something that loads as an index.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idx_common.h"

#define MANIFEST "manifest.json"
#define MANIFEST_MAX (16u << 20)

char *idx_path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/') p[o++] = '/';
    memcpy(p + o, b, lb + 1);
    return p;
}

json_t *idx_manifest_new(void) {
    return json_pack("{s:s, s:i, s:{}}", "format", "idx-index", "version", IDX_MANIFEST_VERSION, "parts");
}

json_t *idx_manifest_part(json_t *manifest, const char *part) {
    json_t *parts = json_object_get(manifest, "parts");
    return parts ? json_object_get(parts, part) : NULL;
}

idx_err idx_manifest_load(const char *index_dir, json_t **out) {
    *out = NULL;
    struct stat st;
    if (stat(index_dir, &st) != 0)
        return idx_fail(IDX_ERR_NOT_FOUND, "%s: no such index directory", index_dir);
    if (!S_ISDIR(st.st_mode)) return idx_fail(IDX_ERR_INVALID, "%s: not a directory", index_dir);
    char *p = idx_path_join(index_dir, MANIFEST);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_buf b = {0};
    idx_err e = idx_read_file(p, MANIFEST_MAX, &b);
    if (e) {
        if (access(p, F_OK) != 0)
            e = idx_fail(IDX_ERR_NOT_FOUND, "%s: not an index (no %s)", index_dir, MANIFEST);
        free(p);
        return e;
    }
    json_error_t jerr;
    json_t *m = json_loadb(b.data, b.len, 0, &jerr);
    idx_buf_free(&b);
    if (!m) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt manifest (line %d: %s)", p, jerr.line, jerr.text);
        free(p);
        return e;
    }
    json_t *fmt = json_object_get(m, "format"), *ver = json_object_get(m, "version");
    if (!json_is_object(m) || !json_is_string(fmt) || strcmp(json_string_value(fmt), "idx-index") != 0 ||
        !json_is_integer(ver) || !json_is_object(json_object_get(m, "parts"))) {
        json_decref(m);
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt manifest (missing format, version or parts)", p);
        free(p);
        return e;
    }
    if (json_integer_value(ver) > IDX_MANIFEST_VERSION || json_integer_value(ver) < 1) {
        e = idx_fail(IDX_ERR_VERSION, "%s: manifest version %lld is not supported (this build reads up to %d)", p,
                     (long long)json_integer_value(ver), IDX_MANIFEST_VERSION);
        json_decref(m);
        free(p);
        return e;
    }
    free(p);
    *out = m;
    return IDX_OK;
}

idx_err idx_manifest_save(const char *index_dir, json_t *manifest) {
    char *p = idx_path_join(index_dir, MANIFEST);
    char *tmp = idx_path_join(index_dir, "." MANIFEST ".tmp");
    idx_err e = IDX_OK;
    if (!p || !tmp) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    char *s = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        e = idx_fail(IDX_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(s);
        goto done;
    }
    size_t n = strlen(s);
    int bad = fwrite(s, 1, n, f) != n || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    free(s);
    if (bad) {
        e = idx_fail(IDX_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, p) != 0) {
        e = idx_fail(IDX_ERR_IO, "rename %s: %s", p, strerror(errno));
        unlink(tmp);
    }
done:
    free(p);
    free(tmp);
    return e;
}

idx_err idx_mkdirs(const char *path) {
    char *p = strdup(path);
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                idx_err e = idx_fail(IDX_ERR_IO, "mkdir %s: %s", p, strerror(errno));
                free(p);
                return e;
            }
            *s = '/';
        }
    }
    idx_err e = IDX_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) e = idx_fail(IDX_ERR_IO, "mkdir %s: %s", p, strerror(errno));
    free(p);
    return e;
}

idx_err idx_dir_make_tmp(const char *final_path, char **out) {
    static atomic_uint counter;
    *out = NULL;
    char *copy = strdup(final_path);
    if (!copy) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    const char *dir = ".", *base = copy;
    if (slash) {
        *slash = 0;
        dir = slash == copy ? "/" : copy;
        base = slash + 1;
    }
    size_t len = strlen(dir) + strlen(base) + 64;
    char *tmp = malloc(len);
    if (!tmp) {
        free(copy);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    unsigned k = atomic_fetch_add(&counter, 1);
    snprintf(tmp, len, "%s/.%s.tmp.%ld.%u", dir, base, (long)getpid(), k);
    free(copy);
    idx_rmtree(tmp);
    if (mkdir(tmp, 0755) != 0) {
        idx_err e = idx_fail(IDX_ERR_IO, "mkdir %s: %s", tmp, strerror(errno));
        free(tmp);
        return e;
    }
    *out = tmp;
    return IDX_OK;
}

idx_err idx_dir_publish(const char *tmp, const char *final_path, int replace) {
    struct stat st;
    if (lstat(final_path, &st) == 0) {
        if (!replace) return idx_fail(IDX_ERR_EXISTS, "%s already exists (use --force to replace it)", final_path);
        size_t len = strlen(final_path) + 32;
        char *old = malloc(len);
        if (!old) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        snprintf(old, len, "%s.old.%ld", final_path, (long)getpid());
        idx_rmtree(old);
        if (rename(final_path, old) != 0) {
            idx_err e = idx_fail(IDX_ERR_IO, "rename %s: %s", final_path, strerror(errno));
            free(old);
            return e;
        }
        if (rename(tmp, final_path) != 0) {
            idx_err e = idx_fail(IDX_ERR_IO, "rename %s -> %s: %s", tmp, final_path, strerror(errno));
            rename(old, final_path);
            free(old);
            return e;
        }
        idx_rmtree(old);
        free(old);
        return IDX_OK;
    }
    if (rename(tmp, final_path) != 0)
        return idx_fail(IDX_ERR_IO, "rename %s -> %s: %s", tmp, final_path, strerror(errno));
    return IDX_OK;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

idx_err idx_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return IDX_OK;
    if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return idx_fail(IDX_ERR_IO, "remove %s: %s", path, strerror(errno));
    return IDX_OK;
}

static _Thread_local uint64_t du_total;
static int du_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)path;
    (void)ftw;
    if (flag == FTW_F) du_total += (uint64_t)sb->st_size;
    return 0;
}

uint64_t idx_du(const char *path) {
    du_total = 0;
    nftw(path, du_cb, 32, FTW_PHYS);
    return du_total;
}
