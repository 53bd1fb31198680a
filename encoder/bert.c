/*
 * bert.c -- the BERT-family encoder (BERT, MiniLM, BGE, E5, GTE and
 * BertForSequenceClassification cross-encoders): loading from a Hugging Face
 * model directory and the forward pass on cblas_sgemm.
 *
 * Loading: config.json gives the shape (hidden_size, num_hidden_layers,
 * num_attention_heads, intermediate_size, max_position_embeddings,
 * type_vocab_size, vocab_size, layer_norm_eps, hidden_act); the tensors come
 * from model.safetensors under the standard names, with or without the
 * "bert." prefix (BertModel vs BertFor* checkpoints), LayerNorm weight/bias
 * or gamma/beta. Every tensor's shape is checked against config.json.
 * RoBERTa / XLM-RoBERTa (bge-reranker) differ only in the "roberta." prefix,
 * position ids that start at pad_token_id + 1, and the classification head
 * (classifier.dense + tanh on the first token, then classifier.out_proj,
 * instead of BERT's pooler + classifier).
 * sentence-transformers files choose pooling and normalisation: modules.json
 * (a Normalize module => L2), 1_Pooling/config.json (pooling_mode_cls_token /
 * pooling_mode_mean_tokens), sentence_bert_config.json (max_seq_length).
 * Without them: mean pooling (sentence-transformers' default for a plain
 * model) and L2 normalisation.
 *
 * Forward pass over a batch of sequences packed back to back (T rows in all,
 * no padding): the projections are one sgemm each over all T rows (Q, K and V
 * fused into one [3H x H] matrix), attention is computed per sequence and
 * head over that sequence's own rows only. Packing is exactly equivalent to
 * padding with an additive -inf mask on padded keys, and costs no work for
 * padding. GELU is the erf form ("gelu"; "gelu_new"/"gelu_pytorch_tanh" use
 * the tanh form), LayerNorm uses the config's eps.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enc_internal.h"
#include "enc_math.h"

typedef struct {
    float *qkv_w, *qkv_b; /* [3H, H], [3H] */
    float *ao_w, *ao_b;   /* [H, H] */
    float *ln1_g, *ln1_b;
    float *in_w, *in_b;   /* [I, H] */
    float *out_w, *out_b; /* [H, I] */
    float *ln2_g, *ln2_b;
} bert_layer;

struct enc_bert {
    enc_bert_cfg c;
    int gelu_tanh;
    float *word, *pos, *type, *eln_g, *eln_b;
    bert_layer *L;
    float *pool_w, *pool_b; /* pooler (optional) */
    float *cls_w, *cls_b;   /* classifier (optional) */
};

const enc_bert_cfg *enc_bert_config(const enc_bert *m) { return &m->c; }

void enc_bert_free(enc_bert *m) {
    if (!m) return;
    free(m->word); free(m->pos); free(m->type); free(m->eln_g); free(m->eln_b);
    if (m->L)
        for (size_t i = 0; i < m->c.layers; i++) {
            bert_layer *l = &m->L[i];
            free(l->qkv_w); free(l->qkv_b); free(l->ao_w); free(l->ao_b); free(l->ln1_g); free(l->ln1_b);
            free(l->in_w); free(l->in_b); free(l->out_w); free(l->out_b); free(l->ln2_g); free(l->ln2_b);
        }
    free(m->L);
    free(m->pool_w); free(m->pool_b); free(m->cls_w); free(m->cls_b);
    free(m);
}

static idx_err cfg_size(json_t *cfg, const char *path, const char *key, size_t dflt, size_t max, size_t *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v) {
        if (dflt == 0) return idx_fail(IDX_ERR_PARSE, "%s: missing field '%s'", path, key);
        *out = dflt;
        return IDX_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || (uint64_t)json_integer_value(v) > max)
        return idx_fail(IDX_ERR_PARSE, "%s: field '%s' must be an integer in [1, %zu]", path, key, max);
    *out = (size_t)json_integer_value(v);
    return IDX_OK;
}

/* Loads tensor prefix+name with the given shape. */
static idx_err get(const enc_safetensors *st, const char *prefix, const char *name, size_t ndim, uint64_t d0,
                   uint64_t d1, float **out) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    uint64_t shape[2] = {d0, d1};
    return enc_st_get_f32(st, full, ndim, shape, out);
}

/* LayerNorm parameters: ".weight"/".bias" or the older ".gamma"/".beta". */
static idx_err get_ln(const enc_safetensors *st, const char *prefix, const char *base, uint64_t h, float **g,
                      float **b) {
    char n1[256], n2[256], full[300];
    snprintf(n1, sizeof n1, "%s.weight", base);
    snprintf(n2, sizeof n2, "%s.bias", base);
    snprintf(full, sizeof full, "%s%s", prefix, n1);
    if (!enc_st_find(st, full)) {
        snprintf(n1, sizeof n1, "%s.gamma", base);
        snprintf(n2, sizeof n2, "%s.beta", base);
    }
    idx_err rc = get(st, prefix, n1, 1, h, 0, g);
    return rc ? rc : get(st, prefix, n2, 1, h, 0, b);
}

static json_t *load_json_opt(const char *dir, const char *name, idx_err *rc) {
    char *p = idx_path_join(dir, name);
    *rc = IDX_OK;
    if (!p) { *rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); return NULL; }
    FILE *f = fopen(p, "rb");
    if (!f) { free(p); return NULL; }
    json_error_t jerr;
    json_t *j = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!j) *rc = idx_fail(IDX_ERR_PARSE, "%s:%d: %s", p, jerr.line, jerr.text);
    free(p);
    return j;
}

/* sentence-transformers configuration: pooling, normalisation, max length. */
static idx_err st_config(const char *dir, int *pooling, int *normalize, size_t *max_len) {
    idx_err rc;
    *pooling = IDX_ENCODER_POOL_MEAN;
    *normalize = 1;
    *max_len = 0;
    json_t *mods = load_json_opt(dir, "modules.json", &rc);
    if (rc) return rc;
    const char *pool_dir = "1_Pooling";
    if (mods) {
        if (!json_is_array(mods)) {
            json_decref(mods);
            return idx_fail(IDX_ERR_PARSE, "%s/modules.json: not a JSON array", dir);
        }
        *normalize = 0;
        size_t i;
        json_t *m;
        json_array_foreach(mods, i, m) {
            const char *type = json_string_value(json_object_get(m, "type"));
            const char *path = json_string_value(json_object_get(m, "path"));
            if (!type) continue;
            if (strstr(type, "Normalize")) *normalize = 1;
            if (strstr(type, "Pooling") && path && path[0]) pool_dir = path;
        }
    }
    char pc[512];
    snprintf(pc, sizeof pc, "%s/config.json", pool_dir);
    json_t *pool = load_json_opt(dir, pc, &rc);
    json_decref(mods);
    if (rc) return rc;
    if (pool) {
        int cls = json_is_true(json_object_get(pool, "pooling_mode_cls_token"));
        int mean = json_is_true(json_object_get(pool, "pooling_mode_mean_tokens"));
        int other = json_is_true(json_object_get(pool, "pooling_mode_max_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_mean_sqrt_len_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_weightedmean_tokens")) ||
                    json_is_true(json_object_get(pool, "pooling_mode_lasttoken"));
        json_decref(pool);
        if (other || cls + mean != 1)
            return idx_fail(IDX_ERR_UNSUPPORTED, "%s/%s: only one of CLS or mean pooling is supported", dir, pc);
        *pooling = cls ? IDX_ENCODER_POOL_CLS : IDX_ENCODER_POOL_MEAN;
    }
    json_t *sb = load_json_opt(dir, "sentence_bert_config.json", &rc);
    if (rc) return rc;
    if (sb) {
        json_t *v = json_object_get(sb, "max_seq_length");
        if (json_is_integer(v) && json_integer_value(v) > 0) *max_len = (size_t)json_integer_value(v);
        json_decref(sb);
    }
    return IDX_OK;
}

idx_err enc_bert_load(const char *dir, const idx_encoder_opts *o, enc_bert **out) {
    *out = NULL;
    char *cpath = idx_path_join(dir, "config.json"), *wpath = idx_path_join(dir, "model.safetensors");
    idx_err rc = IDX_OK;
    json_t *cfg = NULL;
    enc_safetensors st;
    memset(&st, 0, sizeof st);
    enc_bert *m = calloc(1, sizeof *m);
    if (!cpath || !wpath || !m) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    json_error_t jerr;
    cfg = json_load_file(cpath, 0, &jerr);
    if (!cfg) {
        rc = idx_fail(strstr(jerr.text, "unable to open") ? IDX_ERR_NOT_FOUND : IDX_ERR_PARSE, "%s: %s", cpath,
                      jerr.text);
        goto out;
    }
    if (!json_is_object(cfg)) { rc = idx_fail(IDX_ERR_PARSE, "%s: not a JSON object", cpath); goto out; }
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    if (mt && strcmp(mt, "bert") != 0 && strcmp(mt, "xlm-roberta") != 0 && strcmp(mt, "roberta") != 0) {
        rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: model_type '%s' (bert, roberta or xlm-roberta supported)", cpath, mt);
        goto out;
    }
    m->c.roberta = mt && strcmp(mt, "bert") != 0;
    const char *pe = json_string_value(json_object_get(cfg, "position_embedding_type"));
    if (pe && strcmp(pe, "absolute") != 0)
        { rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: position_embedding_type '%s'", cpath, pe); goto out; }
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    if (act && strcmp(act, "gelu") != 0) {
        if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0) m->gelu_tanh = 1;
        else { rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: hidden_act '%s'", cpath, act); goto out; }
    }
    enc_bert_cfg *c = &m->c;
    if ((rc = cfg_size(cfg, cpath, "hidden_size", 0, 1 << 16, &c->hidden)) ||
        (rc = cfg_size(cfg, cpath, "num_hidden_layers", 0, 256, &c->layers)) ||
        (rc = cfg_size(cfg, cpath, "num_attention_heads", 0, 1024, &c->heads)) ||
        (rc = cfg_size(cfg, cpath, "intermediate_size", 0, 1 << 18, &c->inter)) ||
        (rc = cfg_size(cfg, cpath, "vocab_size", 0, 1 << 24, &c->vocab)) ||
        (rc = cfg_size(cfg, cpath, "max_position_embeddings", 512, 1 << 20, &c->max_pos)) ||
        (rc = cfg_size(cfg, cpath, "type_vocab_size", 2, 1 << 16, &c->type_vocab)))
        goto out;
    if (c->hidden % c->heads) {
        rc = idx_fail(IDX_ERR_PARSE, "%s: hidden_size %zu is not a multiple of num_attention_heads %zu", cpath,
                      c->hidden, c->heads);
        goto out;
    }
    if (c->roberta) { /* position ids run from pad_token_id + 1 (fairseq convention) */
        size_t pad = 1;
        if (json_object_get(cfg, "pad_token_id") &&
            (rc = cfg_size(cfg, cpath, "pad_token_id", 1, 1 << 24, &pad)))
            goto out;
        c->pos_offset = pad + 1;
        if (c->max_pos <= c->pos_offset + 2) {
            rc = idx_fail(IDX_ERR_PARSE, "%s: max_position_embeddings %zu too small", cpath, c->max_pos);
            goto out;
        }
    }
    json_t *eps = json_object_get(cfg, "layer_norm_eps");
    c->ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    if (!(c->ln_eps >= 0 && c->ln_eps < 1)) { rc = idx_fail(IDX_ERR_PARSE, "%s: bad layer_norm_eps", cpath); goto out; }

    if ((rc = enc_st_open(wpath, &st))) goto out;
    const char *px = enc_st_find(&st, "bert.embeddings.word_embeddings.weight")      ? "bert."
                     : enc_st_find(&st, "roberta.embeddings.word_embeddings.weight") ? "roberta."
                                                                                     : "";
    uint64_t H = c->hidden, IM = c->inter;
    if ((rc = get(&st, px, "embeddings.word_embeddings.weight", 2, c->vocab, H, &m->word)) ||
        (rc = get(&st, px, "embeddings.position_embeddings.weight", 2, c->max_pos, H, &m->pos)) ||
        (rc = get(&st, px, "embeddings.token_type_embeddings.weight", 2, c->type_vocab, H, &m->type)) ||
        (rc = get_ln(&st, px, "embeddings.LayerNorm", H, &m->eln_g, &m->eln_b)))
        goto out;
    m->L = calloc(c->layers, sizeof *m->L);
    if (!m->L) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < c->layers; i++) {
        bert_layer *l = &m->L[i];
        char n[200];
        float *q = NULL, *k = NULL, *v = NULL, *qb = NULL, *kb = NULL, *vb = NULL;
#define LN(fmt) (snprintf(n, sizeof n, "encoder.layer.%zu." fmt, i), n)
        if (!(rc = get(&st, px, LN("attention.self.query.weight"), 2, H, H, &q)) &&
            !(rc = get(&st, px, LN("attention.self.key.weight"), 2, H, H, &k)) &&
            !(rc = get(&st, px, LN("attention.self.value.weight"), 2, H, H, &v)) &&
            !(rc = get(&st, px, LN("attention.self.query.bias"), 1, H, 0, &qb)) &&
            !(rc = get(&st, px, LN("attention.self.key.bias"), 1, H, 0, &kb)) &&
            !(rc = get(&st, px, LN("attention.self.value.bias"), 1, H, 0, &vb)) &&
            !(rc = idx_xmalloc(3 * H * H * sizeof(float), &l->qkv_w)) &&
            !(rc = idx_xmalloc(3 * H * sizeof(float), &l->qkv_b))) {
            memcpy(l->qkv_w, q, H * H * sizeof(float));
            memcpy(l->qkv_w + H * H, k, H * H * sizeof(float));
            memcpy(l->qkv_w + 2 * H * H, v, H * H * sizeof(float));
            memcpy(l->qkv_b, qb, H * sizeof(float));
            memcpy(l->qkv_b + H, kb, H * sizeof(float));
            memcpy(l->qkv_b + 2 * H, vb, H * sizeof(float));
        }
        free(q); free(k); free(v); free(qb); free(kb); free(vb);
        if (rc) goto out;
        char lnb[200];
        if ((rc = get(&st, px, LN("attention.output.dense.weight"), 2, H, H, &l->ao_w)) ||
            (rc = get(&st, px, LN("attention.output.dense.bias"), 1, H, 0, &l->ao_b)) ||
            (rc = get_ln(&st, px, (snprintf(lnb, sizeof lnb, "encoder.layer.%zu.attention.output.LayerNorm", i), lnb),
                         H, &l->ln1_g, &l->ln1_b)) ||
            (rc = get(&st, px, LN("intermediate.dense.weight"), 2, IM, H, &l->in_w)) ||
            (rc = get(&st, px, LN("intermediate.dense.bias"), 1, IM, 0, &l->in_b)) ||
            (rc = get(&st, px, LN("output.dense.weight"), 2, H, IM, &l->out_w)) ||
            (rc = get(&st, px, LN("output.dense.bias"), 1, H, 0, &l->out_b)) ||
            (rc = get_ln(&st, px, (snprintf(lnb, sizeof lnb, "encoder.layer.%zu.output.LayerNorm", i), lnb), H,
                         &l->ln2_g, &l->ln2_b)))
            goto out;
#undef LN
    }
    char pn[64];
    snprintf(pn, sizeof pn, "%spooler.dense.weight", px);
    if (enc_st_find(&st, pn)) {
        if ((rc = get(&st, px, "pooler.dense.weight", 2, H, H, &m->pool_w)) ||
            (rc = get(&st, px, "pooler.dense.bias", 1, H, 0, &m->pool_b)))
            goto out;
    }
    const enc_st_tensor *rt = enc_st_find(&st, "classifier.out_proj.weight");
    if (rt) { /* RobertaClassificationHead: dense + tanh on the first token, then out_proj */
        if (rt->ndim != 2 || rt->shape[0] == 0 || rt->shape[0] > 4096) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor 'classifier.out_proj.weight' must be [num_labels, %llu]", wpath,
                          (unsigned long long)H);
            goto out;
        }
        c->labels = (size_t)rt->shape[0];
        free(m->pool_w);
        free(m->pool_b);
        m->pool_w = m->pool_b = NULL;
        if ((rc = get(&st, "", "classifier.dense.weight", 2, H, H, &m->pool_w)) ||
            (rc = get(&st, "", "classifier.dense.bias", 1, H, 0, &m->pool_b)) ||
            (rc = get(&st, "", "classifier.out_proj.weight", 2, c->labels, H, &m->cls_w)) ||
            (rc = get(&st, "", "classifier.out_proj.bias", 1, c->labels, 0, &m->cls_b)))
            goto out;
    }
    const enc_st_tensor *ct = rt ? NULL : enc_st_find(&st, "classifier.weight");
    if (ct) {
        if (ct->ndim != 2 || ct->shape[0] == 0 || ct->shape[0] > 4096) {
            rc = idx_fail(IDX_ERR_CORRUPT, "%s: tensor 'classifier.weight' must be [num_labels, %llu]", wpath,
                          (unsigned long long)H);
            goto out;
        }
        c->labels = (size_t)ct->shape[0];
        if (!m->pool_w) {
            rc = idx_fail(IDX_ERR_NOT_FOUND, "%s: classifier present but tensor '%spooler.dense.weight' missing",
                          wpath, px);
            goto out;
        }
        if ((rc = get(&st, "", "classifier.weight", 2, c->labels, H, &m->cls_w)) ||
            (rc = get(&st, "", "classifier.bias", 1, c->labels, 0, &m->cls_b)))
            goto out;
    }
    int pooling, norm;
    size_t st_max;
    if ((rc = st_config(dir, &pooling, &norm, &st_max))) goto out;
    c->pooling = o && o->pooling ? (int)o->pooling : pooling;
    c->normalize = o && o->normalize ? o->normalize == IDX_ENCODER_NORM_ON : norm;
    c->max_pos -= c->pos_offset; /* usable positions */
    if (st_max && st_max < c->max_pos) c->max_pos = st_max; /* the model was trained up to this length */
out:
    enc_st_close(&st);
    json_decref(cfg);
    free(cpath);
    free(wpath);
    if (rc) enc_bert_free(m);
    else *out = m;
    return rc;
}

/* ---- forward pass ---- */

/* Y[T, n] = X[T, k] W[n, k]^T + b */
static void linear(const float *X, size_t T, size_t k, const float *W, const float *b, size_t n, float *Y) {
    for (size_t t = 0; t < T; t++) memcpy(Y + t * n, b, n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n, (int)k, 1.0f, X, (int)k, W, (int)k, 1.0f, Y,
                (int)n);
}

/* X = LayerNorm(X + R) row-wise (R may be NULL). */
static void add_ln(float *X, const float *R, size_t T, size_t H, const float *g, const float *b, float eps) {
    for (size_t t = 0; t < T; t++) {
        float *x = X + t * H;
        if (R)
            for (size_t j = 0; j < H; j++) x[j] += R[t * H + j];
        double mean = 0, var = 0;
        for (size_t j = 0; j < H; j++) mean += x[j];
        mean /= (double)H;
        for (size_t j = 0; j < H; j++) { double d = x[j] - mean; var += d * d; }
        var /= (double)H;
        float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (size_t j = 0; j < H; j++) x[j] = (x[j] - mu) * inv * g[j] + b[j];
    }
}

static void gelu(float *x, size_t n, int tanh_form) {
    if (tanh_form)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
    else
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + enc_erff(x[i] * 0.70710678118654752f));
}

idx_err enc_bert_forward(const enc_bert *m, const enc_seq *seqs, size_t n, float *pooled, float *logits) {
    const enc_bert_cfg *c = &m->c;
    size_t H = c->hidden, IM = c->inter, nh = c->heads, dh = H / nh, T = 0, Lmax = 0;
    if (logits && !m->cls_w) return idx_fail(IDX_ERR_UNSUPPORTED, "model has no classification head");
    for (size_t s = 0; s < n; s++) {
        if (seqs[s].len == 0 || seqs[s].len > c->max_pos)
            return idx_fail(IDX_ERR_LIMIT, "sequence of %zu tokens (1..%zu allowed)", seqs[s].len, c->max_pos);
        T += seqs[s].len;
        if (seqs[s].len > Lmax) Lmax = seqs[s].len;
        for (size_t t = 0; t < seqs[s].len; t++) {
            if (seqs[s].ids[t] < 0 || (size_t)seqs[s].ids[t] >= c->vocab)
                return idx_fail(IDX_ERR_INVALID, "token id %d outside the vocabulary", seqs[s].ids[t]);
            if (seqs[s].types && (seqs[s].types[t] < 0 || (size_t)seqs[s].types[t] >= c->type_vocab))
                return idx_fail(IDX_ERR_INVALID, "token type %d outside [0, %zu)", seqs[s].types[t], c->type_vocab);
        }
    }
    if (n == 0) return IDX_OK;
    size_t wide = 3 * H > IM ? 3 * H : IM;
    float *X = NULL, *W = NULL, *C = NULL, *S = NULL;
    idx_err rc;
    if ((rc = idx_xmalloc(T * H * sizeof(float), &X)) || (rc = idx_xmalloc(T * wide * sizeof(float), &W)) ||
        (rc = idx_xmalloc(T * H * sizeof(float), &C)) || (rc = idx_xmalloc(Lmax * Lmax * sizeof(float), &S)))
        goto out;
    /* embeddings */
    for (size_t s = 0, r = 0; s < n; s++)
        for (size_t t = 0; t < seqs[s].len; t++, r++) {
            const float *we = m->word + (size_t)seqs[s].ids[t] * H, *pe = m->pos + (t + c->pos_offset) * H,
                        *te = m->type + (size_t)(seqs[s].types ? seqs[s].types[t] : 0) * H;
            for (size_t j = 0; j < H; j++) X[r * H + j] = we[j] + pe[j] + te[j];
        }
    add_ln(X, NULL, T, H, m->eln_g, m->eln_b, c->ln_eps);
    float scale = 1.0f / sqrtf((float)dh);
    for (size_t li = 0; li < c->layers; li++) {
        const bert_layer *l = &m->L[li];
        linear(X, T, H, l->qkv_w, l->qkv_b, 3 * H, W); /* W = [Q | K | V] per row */
        for (size_t s = 0, r0 = 0; s < n; r0 += seqs[s].len, s++) {
            size_t L = seqs[s].len;
            for (size_t h = 0; h < nh; h++) {
                const float *Q = W + r0 * 3 * H + h * dh, *K = Q + H, *V = Q + 2 * H;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L, (int)L, (int)dh, scale, Q, (int)(3 * H),
                            K, (int)(3 * H), 0.0f, S, (int)L);
                for (size_t i = 0; i < L; i++) enc_softmax_row(S + i * L, L);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L, (int)dh, (int)L, 1.0f, S, (int)L, V,
                            (int)(3 * H), 0.0f, C + r0 * H + h * dh, (int)H);
            }
        }
        linear(C, T, H, l->ao_w, l->ao_b, H, W);
        add_ln(X, W, T, H, l->ln1_g, l->ln1_b, c->ln_eps);
        linear(X, T, H, l->in_w, l->in_b, IM, W);
        gelu(W, T * IM, m->gelu_tanh);
        linear(W, T, IM, l->out_w, l->out_b, H, C);
        add_ln(X, C, T, H, l->ln2_g, l->ln2_b, c->ln_eps);
    }
    for (size_t s = 0, r0 = 0; s < n; r0 += seqs[s].len, s++) {
        size_t L = seqs[s].len;
        if (pooled) {
            float *p = pooled + s * H;
            if (c->pooling == IDX_ENCODER_POOL_CLS) memcpy(p, X + r0 * H, H * sizeof(float));
            else {
                for (size_t j = 0; j < H; j++) p[j] = 0;
                for (size_t t = 0; t < L; t++)
                    for (size_t j = 0; j < H; j++) p[j] += X[(r0 + t) * H + j];
                for (size_t j = 0; j < H; j++) p[j] /= (float)L;
            }
            if (c->normalize) {
                double ss = 0;
                for (size_t j = 0; j < H; j++) ss += (double)p[j] * p[j];
                float inv = (float)(1.0 / (sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12));
                for (size_t j = 0; j < H; j++) p[j] *= inv;
            }
        }
        if (logits) {
            float *pv = C; /* reuse: pooler output of this sequence */
            linear(X + r0 * H, 1, H, m->pool_w, m->pool_b, H, pv);
            for (size_t j = 0; j < H; j++) pv[j] = tanhf(pv[j]);
            linear(pv, 1, H, m->cls_w, m->cls_b, c->labels, logits + s * c->labels);
        }
    }
out:
    free(X);
    free(W);
    free(C);
    free(S);
    return rc;
}
