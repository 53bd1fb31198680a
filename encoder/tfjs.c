/*
 * tfjs.c -- reader for TensorFlow.js model weights: the "weightsManifest" of
 * a model.json and the binary shards it names.
 *
 * Format (tfjs-converter, weights format 1):
 *   model.json = {"modelTopology": {...graph...},
 *                 "weightsManifest": [ {"paths": ["group1-shard1of7", ...],
 *                                       "weights": [ {"name": "...",
 *                                                     "shape": [d0, ...],
 *                                                     "dtype": "float32"|"int32"}, ...]}, ...]}
 * The bytes of a group are its shard files concatenated in the listed
 * order; its weights lie back to back in that byte stream, in manifest order,
 * each product(shape) * 4 bytes, little-endian. Groups follow each other.
 * Quantised weights ("quantization" key), strings and other dtypes are
 * rejected as unsupported. Every count is checked with overflow-safe
 * arithmetic; the total of a group's weights must equal the total size of
 * its shard files exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "enc_internal.h"

#define TFJS_MAX_BYTES ((uint64_t)1 << 34)

void enc_tfjs_free(enc_tfjs *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->w[i].name);
    for (size_t i = 0; i < m->npaths; i++) free(m->paths[i]);
    free(m->w);
    free(m->paths);
    free(m->data);
    memset(m, 0, sizeof *m);
}

const enc_tfjs_weight *enc_tfjs_find(const enc_tfjs *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->w[i].name, name) == 0) return &m->w[i];
    return NULL;
}

idx_err enc_tfjs_parse_manifest(const char *buf, size_t len, const char *path, enc_tfjs *m) {
    memset(m, 0, sizeof *m);
    if (!path) path = "<model.json>";
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root) return idx_fail(IDX_ERR_PARSE, "%s:%d: %s", path, jerr.line, jerr.text);
    idx_err rc = IDX_OK;
    json_t *man = json_object_get(root, "weightsManifest");
    if (!json_is_array(man) || json_array_size(man) == 0) {
        rc = idx_fail(IDX_ERR_PARSE, "%s: missing or empty 'weightsManifest' array", path);
        goto out;
    }
    size_t nw = 0, np = 0, gi;
    json_t *g;
    json_array_foreach(man, gi, g) {
        json_t *paths = json_object_get(g, "paths"), *ws = json_object_get(g, "weights");
        if (!json_is_array(paths) || !json_is_array(ws) || json_array_size(paths) == 0) {
            rc = idx_fail(IDX_ERR_PARSE, "%s: weightsManifest[%zu] needs 'paths' and 'weights' arrays", path, gi);
            goto out;
        }
        nw += json_array_size(ws);
        np += json_array_size(paths);
    }
    m->w = calloc(nw ? nw : 1, sizeof *m->w);
    m->paths = calloc(np, sizeof *m->paths);
    if (!m->w || !m->paths) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    uint64_t off = 0;
    json_array_foreach(man, gi, g) {
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(g, "paths"), k, x) {
            const char *p = json_string_value(x);
            if (!p || !p[0] || strchr(p, '/') || strcmp(p, "..") == 0) {
                rc = idx_fail(IDX_ERR_PARSE, "%s: weightsManifest[%zu].paths[%zu] must be a plain file name", path,
                              gi, k);
                goto out;
            }
            if (!(m->paths[m->npaths++] = strdup(p))) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
        }
        json_array_foreach(json_object_get(g, "weights"), k, x) {
            const char *name = json_string_value(json_object_get(x, "name"));
            const char *dt = json_string_value(json_object_get(x, "dtype"));
            json_t *shape = json_object_get(x, "shape");
            if (!name || !dt || !json_is_array(shape)) {
                rc = idx_fail(IDX_ERR_PARSE, "%s: weightsManifest[%zu].weights[%zu] needs name, shape and dtype",
                              path, gi, k);
                goto out;
            }
            if (json_object_get(x, "quantization")) {
                rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: weight '%s' is quantised (not supported)", path, name);
                goto out;
            }
            enc_tfjs_weight *w = &m->w[m->n];
            if (strcmp(dt, "float32") == 0) w->is_int = 0;
            else if (strcmp(dt, "int32") == 0) w->is_int = 1;
            else {
                rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: weight '%s' has dtype '%s' (float32 or int32 needed)", path,
                              name, dt);
                goto out;
            }
            w->ndim = json_array_size(shape);
            if (w->ndim > ENC_MAX_DIMS) {
                rc = idx_fail(IDX_ERR_PARSE, "%s: weight '%s' has %zu dimensions", path, name, w->ndim);
                goto out;
            }
            uint64_t count = 1;
            for (size_t d = 0; d < w->ndim; d++) {
                json_t *v = json_array_get(shape, d);
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    (uint64_t)json_integer_value(v) > TFJS_MAX_BYTES) {
                    rc = idx_fail(IDX_ERR_PARSE, "%s: weight '%s': bad shape entry %zu", path, name, d);
                    goto out;
                }
                w->shape[d] = (uint64_t)json_integer_value(v);
                if (w->shape[d] && count > TFJS_MAX_BYTES / 4 / w->shape[d]) {
                    rc = idx_fail(IDX_ERR_LIMIT, "%s: weight '%s' is too large", path, name);
                    goto out;
                }
                count *= w->shape[d];
            }
            w->count = count;
            w->offset = off;
            if (off > TFJS_MAX_BYTES - count * 4) {
                rc = idx_fail(IDX_ERR_LIMIT, "%s: weights exceed %llu bytes", path,
                              (unsigned long long)TFJS_MAX_BYTES);
                goto out;
            }
            off += count * 4;
            if (!(w->name = strdup(name))) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
            m->n++;
        }
    }
    m->total_bytes = off;
out:
    json_decref(root);
    if (rc) enc_tfjs_free(m);
    return rc;
}

idx_err enc_tfjs_load_shards(enc_tfjs *m, const char *dir) {
    idx_buf all = {0};
    idx_err rc = IDX_OK;
    for (size_t i = 0; i < m->npaths && !rc; i++) {
        char *p = idx_path_join(dir, m->paths[i]);
        if (!p) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
        idx_buf b = {0};
        rc = idx_read_file(p, (size_t)TFJS_MAX_BYTES, &b);
        if (rc) rc = idx_fail_context(rc, "weight shard");
        else if (all.len + b.len > m->total_bytes)
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: shards hold more bytes than the manifest's %llu", p,
                          (unsigned long long)m->total_bytes);
        else rc = idx_buf_append(&all, b.data, b.len);
        idx_buf_free(&b);
        free(p);
    }
    if (!rc && all.len != m->total_bytes)
        rc = idx_fail(IDX_ERR_CORRUPT, "%s: weight shards hold %zu bytes, the manifest needs %llu (truncated shard?)",
                      dir, all.len, (unsigned long long)m->total_bytes);
    if (rc) {
        idx_buf_free(&all);
        return rc;
    }
    m->data = (uint8_t *)all.data;
    m->data_len = all.len;
    return IDX_OK;
}
