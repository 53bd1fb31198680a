/*
 * routes_embed.c -- POST /v1/embeddings in OpenAI's format and GET /v1/models,
 * so that any OpenAI-compatible client (this project's own embedder
 * "openai", LangChain, LlamaIndex, the openai package) can embed texts with
 * the native encoder of a running `idx serve`.
 *
 * Models: the directories given with `idx serve --model [NAME=]DIR` (any
 * directory idx_encoder_load opens: BERT-family Hugging Face directories,
 * USE lite's TF.js files), loaded once at start and named NAME or the
 * directory's base name; and the local model recorded in the dense part of
 * every served index, under the base name of its directory and under the
 * index's name (borrowed from the index's retrieval handle: not loaded
 * twice, and reloaded with the index on SIGHUP).
 *
 * Request:  {"input": "text" | ["text", ...], "model": NAME,
 *            "encoding_format": "float" | "base64", "dimensions": N, "user": ...}
 *            ("model" may be left out when exactly one model is served;
 *            "dimensions" must equal the model's: these encoders cannot
 *            shorten their vectors).
 * Answer:   {"object":"list","data":[{"object":"embedding","index":i,
 *            "embedding":[floats] | "base64 of little-endian float32"}],
 *            "model":NAME,"usage":{"prompt_tokens":N,"total_tokens":N}}
 *            prompt_tokens counts the model's tokens of every input, special
 *            tokens included, after truncation to the model's maximum length.
 * Errors:   the server's {"error":{"code","message"}} plus OpenAI's "type"
 *            ("invalid_request_error" for 4xx, "server_error" for 5xx) and
 *            "param" (the offending field, or null): 400 for a missing or
 *            mistyped field, an empty string, token-id inputs; 400
 *            "limit_exceeded" naming max_batch (inputs per request) or
 *            max_text (bytes per input); 404 "model_not_found".
 *
 * The encoder is read-only once loaded and idx_encoder_embed may run on
 * several threads at once (encoder/idx_encoder.h), so every worker thread
 * shares one handle; each request embeds in batches of 32 and checks its
 * deadline between them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "idx_encoder.h"
#include "server_int.h"

#define EMBED_CHUNK 32
#define LIT(b, s) idx_buf_append((b), (s), sizeof(s) - 1)

typedef struct {
    char *name;
    char *dir;
    idx_encoder *enc;
} served_model;

struct idx_server_models {
    served_model *v;
    size_t n;
};

void idx_server_models_free(struct idx_server_models *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].dir);
        idx_encoder_free(m->v[i].enc);
    }
    free(m->v);
    free(m);
}

static char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    return strndup(dir + b, n - b);
}

idx_err idx_server_add_model(idx_server *s, const char *name, const char *dir, int threads) {
    if (!dir || !*dir) return idx_fail(IDX_ERR_INVALID, "--model needs a directory");
    if (s->daemon) return idx_fail(IDX_ERR_INVALID, "models are added before the server starts");
    char *nm = name ? strdup(name) : base_name(dir);
    if (!nm) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (!*nm || strspn(nm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/") != strlen(nm)) {
        idx_err e = idx_fail(IDX_ERR_INVALID, "model name '%s' must be non-empty and use only letters, digits, '.', '_', '-', ':', '/'", nm);
        free(nm);
        return e;
    }
    if (!s->models && !(s->models = calloc(1, sizeof *s->models))) {
        free(nm);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    struct idx_server_models *m = s->models;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].name, nm)) {
            idx_err e = idx_fail(IDX_ERR_INVALID, "two models are named '%s' (%s and %s); name them with NAME=DIR", nm,
                                 m->v[i].dir, dir);
            free(nm);
            return e;
        }
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    o.threads = threads > 0 ? threads : 1;
    idx_encoder *enc = NULL;
    idx_err e = idx_encoder_load(dir, &o, &enc);
    if (e) {
        idx_fail_context(e, "model '%s'", nm);
        free(nm);
        return e;
    }
    served_model *v = realloc(m->v, (m->n + 1) * sizeof *v);
    char *d = strdup(dir);
    if (!v || !d) {
        if (v) m->v = v;
        free(d);
        free(nm);
        idx_encoder_free(enc);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    m->v = v;
    m->v[m->n++] = (served_model){nm, d, enc};
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* Errors in OpenAI's shape                                                  */
/* ------------------------------------------------------------------------ */

static void embed_error(idx_server_ctx *c, int status, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void embed_error(idx_server_ctx *c, int status, const char *code, const char *param, const char *fmt, ...) {
    if (c->answered) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *p = param ? json_string(param) : json_null();
    json_t *err = json_pack("{s:{s:s,s:o?,s:s,s:o?}}", "error", "code", code, "message", idx_server_json_text(msg, strlen(msg)),
                            "type", status >= 500 ? "server_error" : "invalid_request_error", "param", p);
    idx_server_reply(c, status, err);
}

static void embed_fail(idx_server_ctx *c, idx_err e) {
    const char *msg = idx_errmsg();
    if (!msg || !*msg) msg = idx_strerror(e);
    switch (e) {
    case IDX_ERR_INVALID:
    case IDX_ERR_PARSE: embed_error(c, 400, "bad_request", "input", "%s", msg); break;
    case IDX_ERR_LIMIT: embed_error(c, 400, "limit_exceeded", "input", "%s", msg); break;
    case IDX_ERR_TIMEOUT: embed_error(c, 504, "timeout", NULL, "%s", msg); break;
    default: embed_error(c, 500, "internal", NULL, "%s", msg); break;
    }
}

/* ------------------------------------------------------------------------ */
/* Model lookup                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    idx_encoder *enc;
} model_ref;

/* Every model this request can use, in lookup order: --model ones, then the
 * indexes' (by model directory name and by index name). Returns the count. */
static size_t list_models(idx_server_ctx *c, model_ref *out, size_t cap, const char **index_of) {
    size_t n = 0;
    struct idx_server_models *m = c->s->models;
    for (size_t i = 0; m && i < m->n && n < cap; i++) {
        if (index_of) index_of[n] = NULL;
        out[n++] = (model_ref){m->v[i].name, m->v[i].enc};
    }
    for (size_t i = 0; i < idx_server_index_count(c) && n < cap; i++) {
        const idx_server_index *ix = idx_server_index_at(c, i);
        const char *mn = NULL;
        idx_encoder *enc = idx_server_dense_encoder(ix, &mn);
        if (!enc) continue;
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j++) dup = !strcmp(out[j].name, mn);
        if (!dup) {
            if (index_of) index_of[n] = ix->name;
            out[n++] = (model_ref){mn, enc};
        }
        dup = 0;
        for (size_t j = 0; j < n && !dup; j++) dup = !strcmp(out[j].name, ix->name);
        if (!dup && n < cap) {
            if (index_of) index_of[n] = ix->name;
            out[n++] = (model_ref){ix->name, enc};
        }
    }
    return n;
}

#define MAX_MODELS 256

void idx_server_h_models(idx_server_ctx *c) {
    model_ref refs[MAX_MODELS];
    const char *idx_of[MAX_MODELS];
    size_t n = list_models(c, refs, MAX_MODELS, idx_of);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:I,s:s,s:I,s:b}", "id", refs[i].name, "object", "model", "created", 0,
                              "owned_by", "idx", "dim", (json_int_t)idx_encoder_dim(refs[i].enc), "encoder",
                              idx_encoder_name(refs[i].enc), "max_tokens",
                              (json_int_t)idx_encoder_max_seq_len(refs[i].enc), "normalized",
                              idx_encoder_normalized(refs[i].enc));
        if (o && idx_of[i]) json_object_set_new(o, "index", json_string(idx_of[i]));
        json_array_append_new(data, o);
    }
    idx_server_reply(c, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

/* ------------------------------------------------------------------------ */
/* POST /v1/embeddings                                                        */
/* ------------------------------------------------------------------------ */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static idx_err put_base64(idx_buf *b, const unsigned char *p, size_t n) {
    idx_err e = IDX_OK;
    for (size_t i = 0; !e && i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {B64[(v >> 18) & 63], B64[(v >> 12) & 63], i + 1 < n ? B64[(v >> 6) & 63] : '=',
                     i + 2 < n ? B64[v & 63] : '='};
        e = idx_buf_append(b, q, 4);
    }
    return e;
}

/* A float32 as the shortest text that reads back to the same float (%.9g). */
static idx_err put_float(idx_buf *b, float x) {
    char num[32];
    if (!isfinite(x)) return idx_fail(IDX_ERR_INTERNAL, "the encoder produced a non-finite value");
    int l = snprintf(num, sizeof num, "%.9g", (double)x);
    return idx_buf_append(b, num, (size_t)l);
}

void idx_server_h_embeddings(idx_server_ctx *c) {
    json_t *body = idx_server_body(c);
    const idx_server_opts *lim = idx_server_limits(c);
    json_t *input = json_object_get(body, "input");
    json_t *jm = json_object_get(body, "model");
    json_t *jf = json_object_get(body, "encoding_format");
    json_t *jd = json_object_get(body, "dimensions");
    if (!input) {
        embed_error(c, 400, "bad_request", "input", "missing field 'input' (a string or an array of strings)");
        return;
    }
    if (jm && !json_is_string(jm)) {
        embed_error(c, 400, "bad_request", "model", "field 'model' must be a string");
        return;
    }
    int b64 = 0;
    if (jf && !json_is_null(jf)) {
        const char *f = json_string_value(jf);
        if (!f || (strcmp(f, "float") && strcmp(f, "base64"))) {
            embed_error(c, 400, "bad_request", "encoding_format", "field 'encoding_format' must be \"float\" or \"base64\"");
            return;
        }
        b64 = !strcmp(f, "base64");
    }
    /* the model */
    model_ref refs[MAX_MODELS];
    size_t nm = list_models(c, refs, MAX_MODELS, NULL);
    const model_ref *model = NULL;
    if (!jm) {
        if (nm == 0) {
            embed_error(c, 404, "model_not_found", "model",
                        "this server has no embedding model (start it with --model DIR, or serve an index with a dense part)");
            return;
        }
        if (nm != 1) {
            embed_error(c, 400, "bad_request", "model",
                        "missing field 'model' (this server has %zu models: GET /v1/models lists them)", nm);
            return;
        }
        model = &refs[0];
    } else {
        for (size_t i = 0; i < nm && !model; i++)
            if (!strcmp(refs[i].name, json_string_value(jm))) model = &refs[i];
        if (!model) {
            embed_error(c, 404, "model_not_found", "model", "the model '%.200s' does not exist on this server (GET /v1/models lists them)",
                        json_string_value(jm));
            return;
        }
    }
    size_t dim = idx_encoder_dim(model->enc);
    if (jd && !json_is_null(jd)) {
        if (!json_is_integer(jd) || json_integer_value(jd) != (json_int_t)dim) {
            embed_error(c, 400, "bad_request", "dimensions",
                        "field 'dimensions' must be %zu, the dimension of model '%s' (its vectors cannot be shortened)", dim,
                        model->name);
            return;
        }
    }
    /* the inputs */
    size_t n = json_is_array(input) ? json_array_size(input) : 1;
    if (!json_is_array(input) && !json_is_string(input)) {
        embed_error(c, 400, "bad_request", "input", "field 'input' must be a string or an array of strings");
        return;
    }
    if (n == 0) {
        embed_error(c, 400, "bad_request", "input", "field 'input' is an empty array");
        return;
    }
    if (n > lim->max_batch) {
        embed_error(c, 400, "limit_exceeded", "input", "'input' has %zu texts, more than the limit max_batch=%zu", n,
                    lim->max_batch);
        return;
    }
    const char **texts = NULL;
    size_t *lens = NULL;
    float *vec = NULL;
    int32_t *ids = NULL;
    idx_buf out = {0};
    idx_err e = IDX_OK;
    size_t idcap = idx_encoder_max_seq_len(model->enc) + 8;
    if ((e = idx_xmalloc(n * sizeof *texts, &texts)) || (e = idx_xmalloc(n * sizeof *lens, &lens)) ||
        (e = idx_xmalloc(EMBED_CHUNK * dim * sizeof *vec, &vec)) || (e = idx_xmalloc(idcap * sizeof *ids, &ids)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(input) ? json_array_get(input, i) : input;
        char field[40];
        snprintf(field, sizeof field, json_is_array(input) ? "input[%zu]" : "input", i);
        if (!json_is_string(v)) {
            embed_error(c, 400, json_is_integer(v) || json_is_array(v) ? "unsupported" : "bad_request", "input",
                        json_is_integer(v) || json_is_array(v)
                            ? "%s: token-id inputs are not supported; send the text"
                            : "%s must be a string",
                        field);
            goto done;
        }
        texts[i] = json_string_value(v);
        lens[i] = json_string_length(v);
        if (lens[i] == 0) {
            embed_error(c, 400, "bad_request", "input", "%s is an empty string", field);
            goto done;
        }
        if (lens[i] > lim->max_text) {
            embed_error(c, 400, "limit_exceeded", "input", "%s is %zu bytes, more than the limit max_text=%zu bytes", field,
                        lens[i], lim->max_text);
            goto done;
        }
    }
    /* tokens used, as the model counts them (after truncation) */
    uint64_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nt = 0;
        e = idx_encoder_tokenize(model->enc, texts[i], lens[i], NULL, 0, ids, idcap, &nt);
        if (e == IDX_ERR_LIMIT) { /* counted all the same */
            idx_errclear();
            e = IDX_OK;
        }
        if (e) goto fail;
        tokens += nt;
    }
    if ((e = LIT(&out, "{\"object\":\"list\",\"data\":["))) goto fail;
    for (size_t i = 0; i < n; i += EMBED_CHUNK) {
        if (i && idx_server_deadline(c)) goto done;
        size_t m = n - i < EMBED_CHUNK ? n - i : EMBED_CHUNK;
        if ((e = idx_encoder_embed(model->enc, texts + i, lens + i, m, 0, vec))) goto fail;
        for (size_t r = 0; r < m && !e; r++) {
            e = idx_buf_printf(&out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i + r ? "," : "", i + r);
            const float *x = vec + r * dim;
            for (size_t d = 0; !e && d < dim; d++)
                if (!isfinite(x[d])) e = idx_fail(IDX_ERR_INTERNAL, "the encoder produced a non-finite value");
            if (!e && b64) {
                unsigned char *raw = NULL;
                if (!(e = idx_xmalloc(dim * 4, &raw))) {
                    for (size_t d = 0; d < dim; d++) { /* little-endian float32, as numpy.frombuffer reads it */
                        uint32_t u;
                        memcpy(&u, &x[d], 4);
                        raw[4 * d] = (unsigned char)u;
                        raw[4 * d + 1] = (unsigned char)(u >> 8);
                        raw[4 * d + 2] = (unsigned char)(u >> 16);
                        raw[4 * d + 3] = (unsigned char)(u >> 24);
                    }
                    e = LIT(&out, "\"");
                    if (!e) e = put_base64(&out, raw, dim * 4);
                    if (!e) e = LIT(&out, "\"");
                    free(raw);
                }
            } else if (!e) {
                e = LIT(&out, "[");
                for (size_t d = 0; !e && d < dim; d++) {
                    if (d) e = LIT(&out, ",");
                    if (!e) e = put_float(&out, x[d]);
                }
                if (!e) e = LIT(&out, "]");
            }
            if (!e) e = LIT(&out, "}");
        }
        if (e) goto fail;
    }
    if (!(e = LIT(&out, "],\"model\":")) && !(e = idx_server_buf_str(&out, model->name, strlen(model->name))))
        e = idx_buf_printf(&out, ",\"usage\":{\"prompt_tokens\":%llu,\"total_tokens\":%llu}}", (unsigned long long)tokens,
                           (unsigned long long)tokens);
    if (e) goto fail;
    idx_server_reply_text(c, 200, "application/json", out.data, out.len);
    out.data = NULL;
    goto done;
fail:
    embed_fail(c, e);
done:
    idx_buf_free(&out);
    free(texts);
    free(lens);
    free(vec);
    free(ids);
}
