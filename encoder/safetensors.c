/*
 * safetensors.c -- reader for Hugging Face's safetensors weight files.
 *
 * Format (https://github.com/huggingface/safetensors), all little-endian:
 *   bytes 0..7      u64 N, the length of the JSON header
 *   bytes 8..8+N    UTF-8 JSON object: for each tensor name
 *                     {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...],
 *                      "data_offsets": [begin, end]}
 *                   plus an optional "__metadata__" object of strings
 *   bytes 8+N..     the data area; a tensor's bytes are [begin, end) relative
 *                   to the start of the data area, row-major.
 * Every number read from the file is checked before use: N against the file
 * size, begin <= end <= data size, and end - begin == product(shape) *
 * element size, all with overflow-checked arithmetic. A bad file is
 * IDX_ERR_CORRUPT naming the file and the tensor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enc_internal.h"

#define ST_MAX_HEADER (256u << 20) /* 256 MiB of JSON is far beyond any real model */

static int dtype_of(const char *s, size_t *elsize) {
    static const struct { const char *n; size_t sz; int dt; } tab[] = {
        {"F32", 4, ENC_DT_F32},  {"F16", 2, ENC_DT_F16},   {"BF16", 2, ENC_DT_BF16},
        {"F64", 8, ENC_DT_OTHER}, {"I64", 8, ENC_DT_OTHER}, {"I32", 4, ENC_DT_OTHER},
        {"I16", 2, ENC_DT_OTHER}, {"I8", 1, ENC_DT_OTHER},  {"U8", 1, ENC_DT_OTHER},
        {"U16", 2, ENC_DT_OTHER}, {"U32", 4, ENC_DT_OTHER}, {"U64", 8, ENC_DT_OTHER},
        {"BOOL", 1, ENC_DT_OTHER}, {"F8_E4M3", 1, ENC_DT_OTHER}, {"F8_E5M2", 1, ENC_DT_OTHER}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].n) == 0) { *elsize = tab[i].sz; return tab[i].dt; }
    return 0;
}

static void st_reset(enc_safetensors *st) {
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    st->t = NULL;
    st->n = 0;
}

idx_err enc_st_parse(const uint8_t *buf, size_t len, const char *path, enc_safetensors *st) {
    memset(st, 0, sizeof *st);
    if (!path) path = "<safetensors>";
    if (len < 8) return idx_fail(IDX_ERR_CORRUPT, "%s: truncated safetensors header (%zu bytes)", path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > len - 8)
        return idx_fail(IDX_ERR_CORRUPT, "%s: header length %llu points past the end of the file (%zu bytes)",
                        path, (unsigned long long)hlen, len);
    if (hlen > ST_MAX_HEADER || hlen < 2)
        return idx_fail(IDX_ERR_CORRUPT, "%s: implausible header length %llu", path, (unsigned long long)hlen);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return idx_fail(IDX_ERR_CORRUPT, "%s: header is not valid JSON: %s", path, jerr.text);
    idx_err rc = IDX_OK;
    if (!json_is_object(root)) {
        rc = idx_fail(IDX_ERR_CORRUPT, "%s: header is not a JSON object", path);
        goto out;
    }
    st->data = buf + 8 + hlen;
    st->data_len = len - 8 - hlen;
    size_t cap = json_object_size(root);
    st->t = calloc(cap ? cap : 1, sizeof *st->t);
    if (!st->t) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        if (!json_is_object(val)) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': entry is not an object", path, key);
            goto out;
        }
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': needs dtype, shape and data_offsets[2]", path, key);
            goto out;
        }
        enc_st_tensor *t = &st->t[st->n];
        size_t elsize = 0;
        t->dtype = dtype_of(json_string_value(jd), &elsize);
        if (!t->dtype) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': unknown dtype '%.15s'", path, key,
                          json_string_value(jd));
            goto out;
        }
        snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(jd));
        t->ndim = json_array_size(js);
        if (t->ndim > ENC_MAX_DIMS) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': %zu dimensions (max %d)", path, key, t->ndim,
                          ENC_MAX_DIMS);
            goto out;
        }
        size_t count = 1;
        for (size_t d = 0; d < t->ndim; d++) {
            json_t *x = json_array_get(js, d);
            if (!json_is_integer(x) || json_integer_value(x) < 0) {
                rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': bad shape entry %zu", path, key, d);
                goto out;
            }
            t->shape[d] = (uint64_t)json_integer_value(x);
            if (t->shape[d] > SIZE_MAX || idx_mul_overflow(count, (size_t)t->shape[d], &count)) {
                rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': shape overflows", path, key);
                goto out;
            }
        }
        json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
        if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
            json_integer_value(e) < json_integer_value(b)) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': bad data_offsets", path, key);
            goto out;
        }
        t->begin = (uint64_t)json_integer_value(b);
        t->end = (uint64_t)json_integer_value(e);
        if (t->end > st->data_len) {
            rc = idx_fail(IDX_ERR_CORRUPT,
                          "%s: tensor '%s': data_offsets end %llu past the data area (%llu bytes; file truncated?)",
                          path, key, (unsigned long long)t->end, (unsigned long long)st->data_len);
            goto out;
        }
        size_t nbytes;
        if (idx_mul_overflow(count, elsize, &nbytes) || (uint64_t)nbytes != t->end - t->begin) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s': %llu data bytes do not match shape and dtype %s",
                          path, key, (unsigned long long)(t->end - t->begin), t->dtype_name);
            goto out;
        }
        t->name = strdup(key);
        if (!t->name) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
        st->n++;
    }
out:
    json_decref(root);
    if (rc != IDX_OK) st_reset(st);
    return rc;
}

idx_err enc_st_open(const char *path, enc_safetensors *st) {
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return idx_fail(errno == ENOENT ? IDX_ERR_NOT_FOUND : IDX_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return idx_fail(IDX_ERR_IO, "%s: %s", path, strerror(e));
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return idx_fail(IDX_ERR_IO, "%s: mmap: %s", path, strerror(e));
        }
    }
    close(fd);
    idx_err rc = enc_st_parse(map ? map : (const void *)"", len, path, st);
    if (rc != IDX_OK) {
        if (map) munmap(map, len);
        return rc;
    }
    st->map = map;
    st->map_len = len;
    st->path = strdup(path);
    return IDX_OK;
}

void enc_st_close(enc_safetensors *st) {
    if (!st) return;
    st_reset(st);
    if (st->map) munmap(st->map, st->map_len);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const enc_st_tensor *enc_st_find(const enc_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 1024));
            man &= 1023;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

idx_err enc_st_get_f32(const enc_safetensors *st, const char *name, size_t ndim, const uint64_t *shape,
                       float **out) {
    *out = NULL;
    const char *path = st->path ? st->path : "<safetensors>";
    const enc_st_tensor *t = enc_st_find(st, name);
    if (!t) return idx_fail(IDX_ERR_NOT_FOUND, "%s: missing tensor '%s'", path, name);
    int ok = t->ndim == ndim;
    for (size_t d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[128] = "", got[128] = "";
        for (size_t d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", d ? "," : "",
                     (unsigned long long)shape[d]);
        for (size_t d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? "," : "",
                     (unsigned long long)t->shape[d]);
        return idx_fail(IDX_ERR_CORRUPT, "%s: tensor '%s' has shape [%s], expected [%s]", path, name, got, want);
    }
    if (t->dtype != ENC_DT_F32 && t->dtype != ENC_DT_F16 && t->dtype != ENC_DT_BF16)
        return idx_fail(IDX_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 needed)", path, name,
                        t->dtype_name);
    size_t count = 1;
    for (size_t d = 0; d < ndim; d++) count *= (size_t)shape[d]; /* checked at parse time */
    float *f;
    idx_err rc = idx_xmalloc(count ? count * sizeof(float) : 1, &f);
    if (rc) return rc;
    const uint8_t *p = st->data + t->begin;
    if (t->dtype == ENC_DT_F32) memcpy(f, p, count * sizeof(float));
    else if (t->dtype == ENC_DT_F16)
        for (size_t i = 0; i < count; i++) f[i] = half_to_float((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
    else
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = (uint32_t)(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
            memcpy(&f[i], &bits, 4);
        }
    *out = f;
    return IDX_OK;
}
