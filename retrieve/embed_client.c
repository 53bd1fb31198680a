/*
 * embed_client.c -- embedders: turning batches of texts into vectors.
 *
 * Providers:
 *   "openai"  any OpenAI-compatible embeddings endpoint (OpenAI, TEI,
 *             llama.cpp, Ollama, vLLM, this project's own server):
 *             POST {url}/v1/embeddings  {"model": M, "input": [texts]}
 *             -> {"data": [{"embedding": [floats], "index": i}, ...]}
 *             with an optional "Authorization: Bearer KEY". Requests are
 *             batched; 429, 5xx, timeouts and connection failures are
 *             retried with exponential backoff; malformed JSON, missing or
 *             duplicate indexes, non-finite values and vectors of the wrong
 *             dimension are errors naming the field.
 *   "local"   the native encoder (encoder/idx_encoder.h), when this build has it.
 *
 * The library never reads the environment: the caller passes the key (the CLI
 * reads it from an environment variable or a file it is told about).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "idx_dense.h"

#if defined(__has_include)
#if __has_include("idx_encoder.h")
#include "idx_encoder.h"
#define IDX_HAVE_ENCODER 1
#endif
#endif

#define MAX_RESPONSE (512u << 20)

struct idx_embedder {
    int local;
    char *model, *url, *key, *qprefix, *dprefix;
    uint32_t dim;
    size_t batch;
    int retries;
    double timeout, backoff;
    int normalize;
    CURL *curl;
#ifdef IDX_HAVE_ENCODER
    idx_encoder *enc;
#endif
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

void idx_embedder_free(idx_embedder *e) {
    if (!e) return;
    if (e->curl) curl_easy_cleanup(e->curl);
#ifdef IDX_HAVE_ENCODER
    idx_encoder_free(e->enc);
#endif
    free(e->model);
    free(e->url);
    if (e->key) {
        memset(e->key, 0, strlen(e->key));
        free(e->key);
    }
    free(e->qprefix);
    free(e->dprefix);
    free(e);
}

static idx_err read_key_file(const char *path, char **out) {
    idx_buf b = {0};
    idx_err e = idx_read_file(path, 1 << 16, &b);
    if (e) return idx_fail_context(e, "API key file %s", path);
    size_t n = b.len;
    while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' ' || b.data[n - 1] == '\t')) n--;
    size_t s = 0;
    while (s < n && (b.data[s] == ' ' || b.data[s] == '\t')) s++;
    if (s == n) {
        idx_buf_free(&b);
        return idx_fail(IDX_ERR_INVALID, "API key file %s is empty", path);
    }
    for (size_t i = s; i < n; i++)
        if ((unsigned char)b.data[i] < 0x20) {
            idx_buf_free(&b);
            return idx_fail(IDX_ERR_INVALID, "API key file %s: key contains control characters", path);
        }
    *out = strndup(b.data + s, n - s);
    idx_buf_free(&b);
    return *out ? IDX_OK : idx_fail(IDX_ERR_NOMEM, "out of memory");
}

idx_err idx_embedder_new(const idx_embedder_opts *o, idx_embedder **out) {
    if (!o || !o->provider) return idx_fail(IDX_ERR_INVALID, "embedder: no provider given");
    int local = strcmp(o->provider, "local") == 0;
    if (!local && strcmp(o->provider, "openai") != 0)
        return idx_fail(IDX_ERR_INVALID, "embedder: unknown provider \"%s\" (openai or local)", o->provider);
    if (!o->model || !*o->model) return idx_fail(IDX_ERR_INVALID, "embedder: no model given");
    if (!local && (!o->url || !*o->url)) return idx_fail(IDX_ERR_INVALID, "embedder openai: no URL given");
    if (o->dim > IDX_DENSE_MAX_DIM) return idx_fail(IDX_ERR_INVALID, "embedder: dimension %u too large", o->dim);
    idx_embedder *e = calloc(1, sizeof *e);
    if (!e) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    e->local = local;
    /* a local model directory is recorded absolute, so that queries find it from anywhere */
    e->model = local ? realpath(o->model, NULL) : NULL;
    if (!e->model) e->model = dupstr(o->model);
    e->url = dupstr(o->url);
    e->qprefix = dupstr(o->query_prefix);
    e->dprefix = dupstr(o->doc_prefix);
    e->dim = o->dim;
    e->batch = o->batch ? o->batch : 32;
    e->retries = o->max_retries < 0 ? 0 : o->max_retries == 0 ? 4 : o->max_retries;
    e->timeout = o->timeout > 0 ? o->timeout : 60;
    e->backoff = o->backoff > 0 ? o->backoff : 0.5;
    e->normalize = o->normalize;
    idx_err err = IDX_OK;
    if (!e->model || (o->url && !e->url) || (o->query_prefix && !e->qprefix) || (o->doc_prefix && !e->dprefix)) {
        err = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (local) {
#ifdef IDX_HAVE_ENCODER
        idx_encoder_opts eo;
        idx_encoder_opts_init(&eo);
        eo.threads = o->threads > 0 ? o->threads : 1;
        eo.batch_size = e->batch;
        /* prefixes are applied here, identically for both providers */
        if ((err = idx_encoder_load(o->model, &eo, &e->enc))) goto fail;
        uint32_t d = (uint32_t)idx_encoder_dim(e->enc);
        if (e->dim && e->dim != d) {
            err = idx_fail(IDX_ERR_INVALID, "model %s has dimension %u, expected %u", o->model, d, e->dim);
            goto fail;
        }
        e->dim = d;
#else
        err = idx_fail(IDX_ERR_UNSUPPORTED, "embedder local: this build has no native encoder (encoder/idx_encoder.h)");
        goto fail;
#endif
    } else {
        if (o->api_key && o->api_key_file) {
            err = idx_fail(IDX_ERR_INVALID, "embedder openai: give an API key or a key file, not both");
            goto fail;
        }
        if (o->api_key && !(e->key = strdup(o->api_key))) {
            err = idx_fail(IDX_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (o->api_key_file && (err = read_key_file(o->api_key_file, &e->key))) goto fail;
        pthread_once(&curl_once, curl_init_once);
        if (!(e->curl = curl_easy_init())) {
            err = idx_fail(IDX_ERR_NOMEM, "curl_easy_init failed");
            goto fail;
        }
    }
    *out = e;
    return IDX_OK;
fail:
    idx_embedder_free(e);
    return err;
}

uint32_t idx_embedder_dim(const idx_embedder *e) { return e->dim; }

int idx_embedder_shareable(const idx_embedder *e) { return e && e->local; }

struct idx_encoder *idx_embedder_encoder(const idx_embedder *e) {
#ifdef IDX_HAVE_ENCODER
    return e ? e->enc : NULL;
#else
    (void)e;
    return NULL;
#endif
}

json_t *idx_embedder_identity(const idx_embedder *e) {
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "provider", json_string(e->local ? "local" : "openai"));
    json_object_set_new(j, "model", json_string(e->model));
#ifdef IDX_HAVE_ENCODER
    if (e->enc) json_object_set_new(j, "encoder", json_string(idx_encoder_name(e->enc)));
#endif
    if (e->url) json_object_set_new(j, "url", json_string(e->url));
    json_object_set_new(j, "dim", json_integer(e->dim));
    json_object_set_new(j, "normalize", json_boolean(e->normalize));
    json_object_set_new(j, "query_prefix", json_string(e->qprefix ? e->qprefix : ""));
    json_object_set_new(j, "doc_prefix", json_string(e->dprefix ? e->dprefix : ""));
    return j;
}

/* ------------------------------------------------------------------------ */
/* Response parsing                                                           */
/* ------------------------------------------------------------------------ */

idx_err idx_embedder_parse_response(const char *body, size_t len, size_t n, uint32_t dim, float *out,
                                    uint32_t *dim_out) {
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return idx_fail(IDX_ERR_PARSE, "embeddings response is not JSON: %s at line %d column %d", jerr.text,
                        jerr.line, jerr.column);
    idx_err e = IDX_OK;
    unsigned char *seen = NULL;
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(root) || !json_is_array(data)) {
        json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
        json_t *msg = json_is_object(err) ? json_object_get(err, "message") : json_is_string(err) ? err : NULL;
        e = idx_fail(IDX_ERR_PARSE, "embeddings response has no \"data\" array%s%s",
                     json_is_string(msg) ? ": server says: " : "", json_is_string(msg) ? json_string_value(msg) : "");
        goto done;
    }
    if (json_array_size(data) != n) {
        e = idx_fail(IDX_ERR_PARSE, "embeddings response: \"data\" has %zu items for %zu inputs", json_array_size(data), n);
        goto done;
    }
    seen = calloc(n ? n : 1, 1);
    if (!seen) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(data, i);
        json_t *emb = json_is_object(item) ? json_object_get(item, "embedding") : NULL;
        json_t *ix = json_is_object(item) ? json_object_get(item, "index") : NULL;
        if (!json_is_array(emb)) {
            e = idx_fail(IDX_ERR_PARSE, "embeddings response: data[%zu].embedding is not an array", i);
            goto done;
        }
        size_t pos = i;
        if (ix) {
            if (!json_is_integer(ix) || json_integer_value(ix) < 0 || (uint64_t)json_integer_value(ix) >= n) {
                e = idx_fail(IDX_ERR_PARSE, "embeddings response: data[%zu].index is not an integer in 0..%zu", i, n - 1);
                goto done;
            }
            pos = (size_t)json_integer_value(ix);
        }
        if (seen[pos]) {
            e = idx_fail(IDX_ERR_PARSE, "embeddings response: index %zu appears twice", pos);
            goto done;
        }
        seen[pos] = 1;
        size_t d = json_array_size(emb);
        if (dim == 0) {
            if (d == 0 || d > IDX_DENSE_MAX_DIM) {
                e = idx_fail(IDX_ERR_PARSE, "embeddings response: data[%zu].embedding has %zu values", i, d);
                goto done;
            }
            dim = (uint32_t)d;
        }
        if (d != dim) {
            e = idx_fail(IDX_ERR_PARSE, "embeddings response: data[%zu].embedding has dimension %zu, expected %u", i, d, dim);
            goto done;
        }
        for (size_t j = 0; j < d; j++) {
            json_t *v = json_array_get(emb, j);
            double x = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(x) || fabs(x) > 3.0e38) {
                e = idx_fail(IDX_ERR_PARSE, "embeddings response: data[%zu].embedding[%zu] is not a finite number", i, j);
                goto done;
            }
            if (out) out[pos * dim + j] = (float)x;
        }
    }
    if (dim_out) *dim_out = dim;
done:
    free(seen);
    json_decref(root);
    return e;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                       */
/* ------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    idx_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > MAX_RESPONSE) return 0; /* aborts the transfer */
    return idx_buf_append(b, p, n) == IDX_OK ? n : 0;
}

/* Copies s as valid UTF-8 (invalid bytes become U+FFFD) into a new JSON string. */
static json_t *json_text(const char *s, size_t n) {
    if (idx_utf8_valid(s, n)) return json_stringn(s, n);
    idx_buf b = {0};
    for (size_t i = 0; i < n;) {
        size_t cl = idx_utf8_charlen((const unsigned char *)s + i, n - i);
        if (cl == 1 && (unsigned char)s[i] >= 0x80) {
            if (idx_buf_append(&b, "\xEF\xBF\xBD", 3)) goto oom;
        } else if (idx_buf_append(&b, s + i, cl)) goto oom;
        i += cl;
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    idx_buf_free(&b);
    return j;
oom:
    idx_buf_free(&b);
    return NULL;
}

static char *endpoint(const char *url) {
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    const char *suffix = "/v1/embeddings";
    if (n >= 11 && memcmp(url + n - 11, "/embeddings", 11) == 0) suffix = "";
    else if (n >= 3 && memcmp(url + n - 3, "/v1", 3) == 0) suffix = "/embeddings";
    size_t m = n + strlen(suffix) + 1;
    char *r = malloc(m);
    if (r) snprintf(r, m, "%.*s%s", (int)n, url, suffix);
    return r;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

#ifdef IDX_HAVE_ENCODER
static idx_err local_batch(idx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                           const char *prefix, float *out) {
    if (!prefix || !*prefix) return idx_encoder_embed(e->enc, texts, lens, n, 0, out);
    size_t plen = strlen(prefix);
    char **t = calloc(n, sizeof *t);
    size_t *l = calloc(n, sizeof *l);
    idx_err err = IDX_OK;
    if (!t || !l) err = idx_fail(IDX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !err; i++) {
        size_t m = lens ? lens[i] : strlen(texts[i]);
        if (!(t[i] = malloc(plen + m + 1))) {
            err = idx_fail(IDX_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(t[i], prefix, plen);
        memcpy(t[i] + plen, texts[i], m);
        t[i][plen + m] = 0;
        l[i] = plen + m;
    }
    if (!err) err = idx_encoder_embed(e->enc, (const char *const *)t, l, n, 0, out);
    for (size_t i = 0; t && i < n; i++) free(t[i]);
    free(t);
    free(l);
    return err;
}
#endif

static idx_err post_batch(idx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                          const char *prefix, float *out) {
    json_t *req = json_object(), *input = json_array();
    if (!req || !input) {
        json_decref(req);
        json_decref(input);
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(req, "model", json_string(e->model));
    json_object_set_new(req, "input", input);
    json_object_set_new(req, "encoding_format", json_string("float"));
    size_t plen = prefix ? strlen(prefix) : 0;
    idx_buf tmp = {0};
    idx_err err = IDX_OK;
    for (size_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(texts[i]);
        tmp.len = 0;
        if ((plen && idx_buf_append(&tmp, prefix, plen)) || idx_buf_append(&tmp, texts[i], l) ||
            json_array_append_new(input, json_text(tmp.data ? tmp.data : "", tmp.len))) {
            err = idx_fail(IDX_ERR_NOMEM, "out of memory building the request");
            break;
        }
    }
    idx_buf_free(&tmp);
    char *body = err ? NULL : json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (err) return err;
    if (!body) return idx_fail(IDX_ERR_NOMEM, "out of memory building the request");
    char *url = endpoint(e->url);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char *auth = NULL;
    if (e->key) {
        size_t m = strlen(e->key) + 32;
        auth = malloc(m);
        if (auth) snprintf(auth, m, "Authorization: Bearer %s", e->key);
        if (auth) hdr = curl_slist_append(hdr, auth);
    }
    if (!url || !hdr || (e->key && !auth)) {
        err = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    idx_buf resp = {0};
    double delay = e->backoff;
    for (int attempt = 0;; attempt++) {
        CURL *c = e->curl;
        curl_easy_reset(c);
        resp.len = 0;
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(e->timeout * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(e->timeout * 1000));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        int transient;
        if (rc != CURLE_OK) {
            transient = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_RECV_ERROR ||
                        rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE;
            err = idx_fail(rc == CURLE_OPERATION_TIMEDOUT ? IDX_ERR_TIMEOUT : IDX_ERR_NETWORK,
                           "embeddings request to %s failed after %d attempt(s): %s", url, attempt + 1,
                           *cerr ? cerr : curl_easy_strerror(rc));
        } else if (status != 200) {
            transient = status == 429 || status >= 500;
            int shown = resp.len > 300 ? 300 : (int)resp.len;
            err = idx_fail(IDX_ERR_NETWORK, "embeddings request to %s: HTTP %ld after %d attempt(s): %.*s", url,
                           status, attempt + 1, shown, resp.data ? resp.data : "");
        } else {
            uint32_t got = 0;
            err = idx_embedder_parse_response(resp.data ? resp.data : "", resp.len, n, e->dim, out, &got);
            if (err) idx_fail_context(err, "%s", url);
            else e->dim = got;
            break; /* a malformed answer is not retried */
        }
        if (!transient || attempt >= e->retries) break;
        sleep_s(delay);
        delay *= 2;
    }
    idx_buf_free(&resp);
done:
    curl_slist_free_all(hdr);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    free(body);
    return err;
}

idx_err idx_embedder_embed(idx_embedder *e, idx_embed_kind kind, const char *const *texts, const size_t *lens,
                           size_t n, float *out) {
    const char *prefix = kind == IDX_EMBED_QUERY ? e->qprefix : e->dprefix;
    if (n == 0) return IDX_OK;
    size_t start = 0;
    idx_err err;
    if (!e->local && e->dim == 0) {
        /* learn the dimension from the first text, then batch the rest */
        if ((err = post_batch(e, texts, lens, 1, prefix, out))) return err;
        if (e->normalize) idx_dense_normalize(out, 1, e->dim);
        start = 1;
    }
    for (size_t i = start; i < n; i += e->batch) {
        size_t m = n - i < e->batch ? n - i : e->batch;
        float *o = out + i * (size_t)e->dim;
        if (e->local) {
#ifdef IDX_HAVE_ENCODER
            err = local_batch(e, texts + i, lens ? lens + i : NULL, m, prefix, o);
#else
            err = idx_fail(IDX_ERR_UNSUPPORTED, "no native encoder");
#endif
        } else {
            err = post_batch(e, texts + i, lens ? lens + i : NULL, m, prefix, o);
        }
        if (err) return err;
        if (e->normalize) idx_dense_normalize(o, m, e->dim);
    }
    return IDX_OK;
}
