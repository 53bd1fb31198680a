/*
 * file.c -- the checksummed section file that every part of an index is
 * written in. A writer streams named sections one after another; a reader
 * maps the file read-only and hands out the sections as pointers, after
 * checking every count and offset against the file size.
 *
 * Byte format (all integers little-endian):
 *
 *   offset 0, 64 bytes: header
 *     0   char  magic[8]       file kind, e.g. "IDXDOCS1" (chosen by the part)
 *     8   u32   version        format version of that kind
 *     12  u32   section_count  entries in the section table (<= 4096)
 *     16  u64   table_offset   offset of the section table (64-byte aligned)
 *     24  u64   file_size      total size of the file in bytes
 *     32  u64   table_hash     XXH3-64 of the section table bytes
 *     40  u8    reserved[16]   zero
 *     56  u64   header_hash    XXH3-64 of header bytes 0..55
 *
 *   sections: each starts at a 64-byte aligned offset >= 64 (zero padding in
 *   between), so that a mapped section can be read as an array of any type.
 *
 *   section table at table_offset, section_count entries of 48 bytes:
 *     0   char  name[24]       NUL-padded, at least one NUL
 *     24  u64   offset         64-byte aligned, offset + size <= table_offset
 *     32  u64   size
 *     40  u64   hash           XXH3-64 of the section's bytes
 *
 *   file_size = table_offset + 48 * section_count.
 *
 * The writer writes to "<path>.tmp", fsyncs, and renames to <path> on commit,
 * so a reader never sees a half-written file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "idx_common.h"

#define HEADER_SIZE 64
#define ENTRY_SIZE 48
#define MAX_SECTIONS 4096
#define ALIGN 64

typedef struct {
    char name[24];
    uint64_t offset, size, hash;
} entry;

struct idx_file_writer {
    char *path, *tmp;
    FILE *f;
    uint64_t pos;
    entry *sec;
    size_t nsec, cap;
    int open_section;
    XXH3_state_t *st;
    char magic[8];
    uint32_t version;
};

struct idx_file {
    char *path;
    const unsigned char *map;
    uint64_t size;
    uint32_t version;
    entry *sec;
    size_t nsec;
};

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static idx_err wfail(idx_file_writer *w, const char *what) {
    return idx_fail(IDX_ERR_IO, "%s: %s: %s", w->tmp, what, strerror(errno));
}

static idx_err wraw(idx_file_writer *w, const void *data, size_t n) {
    if (n && fwrite(data, 1, n, w->f) != n) return wfail(w, "write");
    w->pos += n;
    return IDX_OK;
}

static idx_err wpad(idx_file_writer *w) {
    static const unsigned char zero[ALIGN];
    size_t pad = (size_t)((ALIGN - w->pos % ALIGN) % ALIGN);
    return wraw(w, zero, pad);
}

idx_err idx_file_create(const char *path, const char magic[IDX_FILE_MAGIC_LEN], uint32_t version,
                        idx_file_writer **out) {
    *out = NULL;
    idx_file_writer *w = calloc(1, sizeof *w);
    if (!w) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    w->path = strdup(path);
    size_t n = strlen(path) + 8;
    w->tmp = malloc(n);
    w->st = XXH3_createState();
    if (!w->path || !w->tmp || !w->st) {
        idx_file_abort(w);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    snprintf(w->tmp, n, "%s.tmp", path);
    memcpy(w->magic, magic, 8);
    w->version = version;
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        idx_err e = idx_fail(IDX_ERR_IO, "%s: %s", w->tmp, strerror(errno));
        free(w->path);
        free(w->tmp);
        XXH3_freeState(w->st);
        free(w);
        return e;
    }
    unsigned char hdr[HEADER_SIZE] = {0};
    idx_err e = wraw(w, hdr, sizeof hdr);
    if (e) {
        idx_file_abort(w);
        return e;
    }
    *out = w;
    return IDX_OK;
}

idx_err idx_file_section_begin(idx_file_writer *w, const char *name) {
    if (w->open_section) return idx_fail(IDX_ERR_INTERNAL, "section begun twice");
    if (strlen(name) > IDX_SECTION_NAME_MAX)
        return idx_fail(IDX_ERR_INVALID, "section name too long: %s", name);
    if (w->nsec >= MAX_SECTIONS) return idx_fail(IDX_ERR_LIMIT, "too many sections");
    for (size_t i = 0; i < w->nsec; i++)
        if (strcmp(w->sec[i].name, name) == 0)
            return idx_fail(IDX_ERR_INVALID, "duplicate section %s", name);
    if (w->nsec == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        entry *s = realloc(w->sec, cap * sizeof *s);
        if (!s) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        w->sec = s;
        w->cap = cap;
    }
    idx_err e = wpad(w);
    if (e) return e;
    entry *s = &w->sec[w->nsec];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->offset = w->pos;
    XXH3_64bits_reset(w->st);
    w->open_section = 1;
    return IDX_OK;
}

idx_err idx_file_write(idx_file_writer *w, const void *data, size_t n) {
    if (!w->open_section) return idx_fail(IDX_ERR_INTERNAL, "write outside a section");
    XXH3_64bits_update(w->st, data, n);
    return wraw(w, data, n);
}

idx_err idx_file_section_end(idx_file_writer *w) {
    if (!w->open_section) return idx_fail(IDX_ERR_INTERNAL, "section end without begin");
    entry *s = &w->sec[w->nsec];
    s->size = w->pos - s->offset;
    s->hash = XXH3_64bits_digest(w->st);
    w->nsec++;
    w->open_section = 0;
    return IDX_OK;
}

idx_err idx_file_put_section(idx_file_writer *w, const char *name, const void *data, size_t n) {
    idx_err e = idx_file_section_begin(w, name);
    if (!e) e = idx_file_write(w, data, n);
    if (!e) e = idx_file_section_end(w);
    return e;
}

idx_err idx_file_commit(idx_file_writer *w) {
    idx_err e = IDX_OK;
    if (w->open_section) {
        e = idx_fail(IDX_ERR_INTERNAL, "commit with an open section");
        goto fail;
    }
    if ((e = wpad(w))) goto fail;
    uint64_t table_offset = w->pos;
    size_t tsize = w->nsec * ENTRY_SIZE;
    unsigned char *table = calloc(1, tsize ? tsize : 1);
    if (!table) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < w->nsec; i++) {
        unsigned char *p = table + i * ENTRY_SIZE;
        memcpy(p, w->sec[i].name, 24);
        put64(p + 24, w->sec[i].offset);
        put64(p + 32, w->sec[i].size);
        put64(p + 40, w->sec[i].hash);
    }
    e = wraw(w, table, tsize);
    uint64_t thash = XXH3_64bits(table, tsize);
    free(table);
    if (e) goto fail;
    unsigned char hdr[HEADER_SIZE] = {0};
    memcpy(hdr, w->magic, 8);
    put32(hdr + 8, w->version);
    put32(hdr + 12, (uint32_t)w->nsec);
    put64(hdr + 16, table_offset);
    put64(hdr + 24, w->pos);
    put64(hdr + 32, thash);
    put64(hdr + 56, XXH3_64bits(hdr, 56));
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, w->f) != sizeof hdr) {
        e = wfail(w, "write header");
        goto fail;
    }
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        e = wfail(w, "flush");
        goto fail;
    }
    if (fclose(w->f) != 0) {
        w->f = NULL;
        e = wfail(w, "close");
        goto fail;
    }
    w->f = NULL;
    if (rename(w->tmp, w->path) != 0) {
        e = idx_fail(IDX_ERR_IO, "rename %s -> %s: %s", w->tmp, w->path, strerror(errno));
        goto fail;
    }
    free(w->path);
    free(w->tmp);
    free(w->sec);
    XXH3_freeState(w->st);
    free(w);
    return IDX_OK;
fail:
    idx_file_abort(w);
    return e;
}

void idx_file_abort(idx_file_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w->sec);
    if (w->st) XXH3_freeState(w->st);
    free(w);
}

static idx_err corrupt(const char *path, const char *what) {
    return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: %s", path, what);
}

idx_err idx_file_open(const char *path, const char magic[IDX_FILE_MAGIC_LEN], uint32_t max_version,
                      unsigned flags, idx_file **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return idx_fail(IDX_ERR_NOT_FOUND, "%s: missing file", path);
        return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        idx_err e = idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return e;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < HEADER_SIZE) {
        close(fd);
        return corrupt(path, "shorter than its header (truncated?)");
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return idx_fail(IDX_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    const unsigned char *m = map;
    idx_err e = IDX_OK;
    idx_file *f = NULL;
    if (memcmp(m, magic, 8) != 0) {
        e = corrupt(path, "wrong magic (not this kind of index file)");
        goto fail;
    }
    if (XXH3_64bits(m, 56) != get64(m + 56)) {
        e = corrupt(path, "header checksum mismatch");
        goto fail;
    }
    uint32_t version = get32(m + 8);
    if (version > max_version || version == 0) {
        e = idx_fail(IDX_ERR_VERSION, "%s: format version %u is not supported (this build reads up to %u)",
                     path, version, max_version);
        goto fail;
    }
    uint32_t nsec = get32(m + 12);
    uint64_t toff = get64(m + 16), fsize = get64(m + 24);
    if (fsize != size) {
        e = idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: size is %llu bytes, header says %llu (truncated?)",
                     path, (unsigned long long)size, (unsigned long long)fsize);
        goto fail;
    }
    if (nsec > MAX_SECTIONS || toff < HEADER_SIZE || toff % ALIGN || toff > size ||
        (size - toff) != (uint64_t)nsec * ENTRY_SIZE) {
        e = corrupt(path, "bad section table bounds");
        goto fail;
    }
    if (XXH3_64bits(m + toff, (size_t)nsec * ENTRY_SIZE) != get64(m + 32)) {
        e = corrupt(path, "section table checksum mismatch");
        goto fail;
    }
    f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path)) || !(f->sec = calloc(nsec ? nsec : 1, sizeof(entry)))) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < nsec; i++) {
        const unsigned char *p = m + toff + (uint64_t)i * ENTRY_SIZE;
        entry *s = &f->sec[i];
        memcpy(s->name, p, 24);
        s->offset = get64(p + 24);
        s->size = get64(p + 32);
        s->hash = get64(p + 40);
        if (memchr(s->name, 0, 24) == NULL || s->offset % ALIGN || s->offset < HEADER_SIZE ||
            s->offset > toff || s->size > toff - s->offset) {
            e = corrupt(path, "section entry out of bounds");
            goto fail;
        }
    }
    f->map = m;
    f->size = size;
    f->version = version;
    f->nsec = nsec;
    if (flags & IDX_FILE_VERIFY) {
        if ((e = idx_file_verify(f))) {
            f->map = NULL;
            goto fail;
        }
    }
    *out = f;
    return IDX_OK;
fail:
    if (f) {
        free(f->path);
        free(f->sec);
        free(f);
    }
    munmap(map, size);
    return e;
}

void idx_file_close(idx_file *f) {
    if (!f) return;
    if (f->map) munmap((void *)f->map, f->size);
    free(f->path);
    free(f->sec);
    free(f);
}

uint32_t idx_file_version(const idx_file *f) { return f->version; }
uint64_t idx_file_size(const idx_file *f) { return f->size; }
const char *idx_file_path(const idx_file *f) { return f->path; }
size_t idx_file_section_count(const idx_file *f) { return f->nsec; }

void idx_file_section_info(const idx_file *f, size_t i, const char **name, uint64_t *size) {
    *name = f->sec[i].name;
    *size = f->sec[i].size;
}

idx_err idx_file_section_opt(const idx_file *f, const char *name, const void **data, uint64_t *size) {
    for (size_t i = 0; i < f->nsec; i++)
        if (strcmp(f->sec[i].name, name) == 0) {
            *data = f->map + f->sec[i].offset;
            *size = f->sec[i].size;
            return IDX_OK;
        }
    *data = NULL;
    *size = 0;
    return IDX_OK;
}

idx_err idx_file_section(const idx_file *f, const char *name, const void **data, uint64_t *size) {
    idx_file_section_opt(f, name, data, size);
    if (!*data) return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: missing section '%s'", f->path, name);
    return IDX_OK;
}

/* Every byte of the file is covered: the header and table by their hashes,
 * sections by theirs, and the padding between sections must be zero. */
idx_err idx_file_verify(const idx_file *f) {
    uint64_t pos = HEADER_SIZE;
    uint64_t toff = f->size - (uint64_t)f->nsec * ENTRY_SIZE;
    for (size_t i = 0; i < f->nsec; i++) {
        const entry *s = &f->sec[i];
        if (s->offset < pos)
            return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: section '%s' overlaps another", f->path, s->name);
        for (uint64_t j = pos; j < s->offset; j++)
            if (f->map[j]) return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: non-zero padding at byte %llu",
                                           f->path, (unsigned long long)j);
        if (XXH3_64bits(f->map + s->offset, (size_t)s->size) != s->hash)
            return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: checksum mismatch in section '%s'", f->path,
                            s->name);
        pos = s->offset + s->size;
    }
    for (uint64_t j = pos; j < toff; j++)
        if (f->map[j]) return idx_fail(IDX_ERR_CORRUPT, "%s: corrupt file: non-zero padding at byte %llu",
                                       f->path, (unsigned long long)j);
    return IDX_OK;
}
