/*
 * idx_test.h -- helpers shared by the test suites: temporary directories,
 * writing files, running the idx binary, and skipping when data is absent.
 * Header-only so each test executable stays one translation unit plus this.
 */
#ifndef IDX_TEST_H
#define IDX_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "idx_common.h"

/* A fresh temporary directory (malloc'd path). */
static inline char *t_tmpdir(void) {
    char tmpl[] = "/tmp/idxtest.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline char *t_path(const char *dir, const char *name) {
    char *p = idx_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static inline void t_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline void t_writes(const char *path, const char *s) { t_write(path, s, strlen(s)); }

/* Runs a shell command; returns its exit status (or -1). Output to files via the command. */
static inline int t_sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

/* Path of the idx binary (env IDX_BIN set by ctest). */
static inline const char *t_idx_bin(void) {
    const char *b = getenv("IDX_BIN");
    return b ? b : IDX_BINARY_DIR "/idx";
}

/* Exit 77 (ctest: skipped) with a message if path does not exist. */
static inline void t_require_file(const char *path) {
    if (access(path, R_OK) != 0) {
        printf("SKIP: %s is absent\n", path);
        exit(77);
    }
}

#endif
