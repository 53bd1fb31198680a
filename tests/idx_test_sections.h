/*
 * idx_test_sections.h -- surgery on section files (common/idx_file.h's
 * format: header, table of 48-byte entries name/offset/size/XXH3) for the
 * tests that damage an index on purpose: find a section, and rewrite one
 * with its checksums recomputed so that the loader's own checks, not the
 * checksum, must catch the damage. Header-only, like idx_test.h.
 */
#ifndef IDX_TEST_SECTIONS_H
#define IDX_TEST_SECTIONS_H

#include <xxhash.h>

#include "idx_test.h"

/* The whole file at `path` (fails the test if it cannot be read). */
static inline idx_buf t_read(const char *path) {
    idx_buf b = {0};
    if (idx_read_file(path, 0, &b) != IDX_OK) fail_msg("cannot read %s: %s", path, idx_errmsg());
    return b;
}

/* The table entry of section `name` in a file read into memory, or NULL. */
static inline unsigned char *t_section_entry(unsigned char *h, const char *name) {
    uint32_t count;
    uint64_t table;
    memcpy(&count, h + 12, 4);
    memcpy(&table, h + 16, 8);
    for (uint32_t i = 0; i < count; i++) {
        unsigned char *e = h + table + 48 * (uint64_t)i;
        if (strcmp((const char *)e, name) == 0) return e;
    }
    return NULL;
}

/* Offset and size of section `name` in a file read into memory. */
static inline void t_section_at(const idx_buf *f, const char *name, uint64_t *off, uint64_t *size) {
    const unsigned char *e = t_section_entry((unsigned char *)f->data, name);
    if (!e) fail_msg("no section %s", name);
    memcpy(off, e + 24, 8);
    memcpy(size, e + 32, 8);
}

/* Rewrites section `name` of the section file at `path` through mut (which
 * may shrink it) and recomputes the section, table and header checksums. */
typedef void (*t_mutator)(unsigned char *sec, uint64_t *size);
static inline void t_reseal(const char *path, const char *name, t_mutator mut) {
    idx_buf f = t_read(path);
    unsigned char *h = (unsigned char *)f.data;
    unsigned char *e = t_section_entry(h, name);
    if (!e) fail_msg("%s: no section %s", path, name);
    uint32_t count;
    uint64_t table, off, size;
    memcpy(&count, h + 12, 4);
    memcpy(&table, h + 16, 8);
    memcpy(&off, e + 24, 8);
    memcpy(&size, e + 32, 8);
    mut(h + off, &size);
    uint64_t hash = XXH3_64bits(h + off, size);
    memcpy(e + 32, &size, 8);
    memcpy(e + 40, &hash, 8);
    uint64_t th = XXH3_64bits(h + table, 48 * (uint64_t)count);
    memcpy(h + 32, &th, 8);
    uint64_t hh = XXH3_64bits(h, 56);
    memcpy(h + 56, &hh, 8);
    t_write(path, f.data, f.len);
    idx_buf_free(&f);
}

#endif
