/*
 * routes_chunk.c -- POST /v1/chunk: text in, chunks out (byte offsets into
 * the given text, word counts, heading paths, and the chunk text), with any
 * chunker of chunk/idx_chunk.h except perplexity chunking, which needs a
 * language model the server does not load. One text ("text") or a batch
 * ("texts", at most max_batch).
 */
#include <stdlib.h>
#include <string.h>

#include "idx_chunk.h"
#include "server_int.h"

/* Reads the chunker options of the request into o; 0 after answering 400. */
static int chunk_opts(idx_server_ctx *c, json_t *body, idx_chunk_opts *o, const char **name) {
    *name = "recursive";
    if (!idx_server_field_str(c, body, "chunker", 0, name, NULL)) return 0;
    idx_chunk_kind kind;
    if (idx_chunk_kind_parse(*name, &kind)) {
        idx_server_error(c, 400, "bad_request",
                         "unknown chunker '%.100s' (sentence, fixed, fixed-bytes, recursive, markdown, rst, "
                         "texttiling)",
                         *name);
        return 0;
    }
    if (kind == IDX_CHUNK_PPL) {
        idx_server_error(c, 400, "unsupported",
                         "perplexity chunking needs a language model; use `idx chunk` for it");
        return 0;
    }
    idx_chunk_opts_init(o, kind);
    const char *unit = NULL;
    uint64_t v;
    if (!idx_server_field_str(c, body, "unit", 0, &unit, NULL)) return 0;
    if (unit) {
        if (!strcmp(unit, "words"))
            o->unit = IDX_CHUNK_UNIT_WORDS;
        else if (!strcmp(unit, "bytes"))
            o->unit = IDX_CHUNK_UNIT_BYTES;
        else {
            idx_server_error(c, 400, "bad_request", "field 'unit' must be \"words\" or \"bytes\"");
            return 0;
        }
    }
    v = o->size;
    if (!idx_server_field_uint(c, body, "size", 0, 0, 1u << 30, &v)) return 0;
    o->size = v;
    v = o->overlap;
    if (!idx_server_field_uint(c, body, "overlap", 0, 0, 1u << 30, &v)) return 0;
    o->overlap = v;
    v = o->merge;
    if (!idx_server_field_uint(c, body, "merge", 0, 0, 1u << 30, &v)) return 0;
    o->merge = v;
    v = o->max_sentence_words;
    if (!idx_server_field_uint(c, body, "max_sentence_words", 0, 0, 1u << 20, &v)) return 0;
    o->max_sentence_words = (uint32_t)v;
    v = o->tt_block;
    if (!idx_server_field_uint(c, body, "tt_block", 0, 0, 1000, &v)) return 0;
    o->tt_block = (uint32_t)v;
    return 1;
}

static json_t *chunks_json(const char *text, size_t len, const idx_chunk_list *l) {
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const idx_chunk_span *sp = &l->spans[i];
        json_t *o = json_pack("{s:I,s:I,s:I,s:o}", "start", (json_int_t)sp->start, "end", (json_int_t)sp->end,
                              "words", (json_int_t)sp->words, "text",
                              idx_server_json_text(text + sp->start, (size_t)(sp->end - sp->start)));
        if (sp->head_len && l->heads.data)
            json_object_set_new(o, "heading", idx_server_json_text(l->heads.data + sp->head_off, sp->head_len));
        json_array_append_new(arr, o);
    }
    (void)len;
    return arr;
}

void idx_server_h_chunk(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    json_t *one = json_object_get(body, "text"), *many = json_object_get(body, "texts");
    if (!!one == !!many) {
        idx_server_error(c, 400, "bad_request", "give either 'text' (a string) or 'texts' (an array of strings)");
        return;
    }
    if (one && !json_is_string(one)) {
        idx_server_error(c, 400, "bad_request", "field 'text' must be a string");
        return;
    }
    if (many) {
        if (!json_is_array(many)) {
            idx_server_error(c, 400, "bad_request", "field 'texts' must be an array of strings");
            return;
        }
        if (json_array_size(many) > idx_server_limits(c)->max_batch) {
            idx_server_error(c, 400, "limit_exceeded", "'texts' has %zu entries, more than the limit max_batch=%zu",
                             json_array_size(many), idx_server_limits(c)->max_batch);
            return;
        }
        for (size_t i = 0; i < json_array_size(many); i++)
            if (!json_is_string(json_array_get(many, i))) {
                idx_server_error(c, 400, "bad_request", "texts[%zu] must be a string", i);
                return;
            }
    }
    idx_chunk_opts o;
    const char *name;
    if (!chunk_opts(c, body, &o, &name)) return;
    idx_chunk_list l = {0};
    json_t *results = json_array();
    size_t n = many ? json_array_size(many) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *t = many ? json_array_get(many, i) : one;
        const char *text = json_string_value(t);
        size_t len = json_string_length(t);
        idx_chunk_list_clear(&l);
        idx_err e = idx_chunk_text(&o, text, len, &l);
        if (e) {
            idx_chunk_list_free(&l);
            json_decref(results);
            idx_server_fail(c, e);
            return;
        }
        json_array_append_new(results, chunks_json(text, len, &l));
        if (idx_server_deadline(c)) {
            idx_chunk_list_free(&l);
            json_decref(results);
            return;
        }
    }
    idx_chunk_list_free(&l);
    json_t *ans = json_pack("{s:s,s:f}", "chunker", idx_chunk_kind_name(o.kind), "latency_ms",
                            idx_server_elapsed(c) * 1000.0);
    if (many)
        json_object_set_new(ans, "results", results);
    else {
        json_object_set(ans, "chunks", json_array_get(results, 0));
        json_decref(results);
    }
    idx_server_reply(c, 200, ans);
}
