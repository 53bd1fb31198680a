/*
 * cmd_encode.c -- `idx encode` (texts -> embeddings as JSON lines) and
 * `idx score-pairs` (query<TAB>passage lines -> cross-encoder logits), both
 * on the native encoder (encoder/idx_encoder.h). Input is read from stdin,
 * one text per line (a trailing \r is dropped; \t and \n inside a text can be
 * written as the escapes \t and \n with --unescape). The encoder's own
 * threads do the parallel work, so OpenBLAS is set to one thread.
 */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "idx_cli.h"
#include "idx_encoder.h"

static const char encode_usage[] =
    "usage: idx encode MODEL_DIR [options] < texts.txt > embeddings.jsonl\n"
    "  MODEL_DIR: a Hugging Face BERT-family directory (config.json, model.safetensors,\n"
    "  vocab.txt or tokenizer.json) or the USE lite package (models/use-lite).\n"
    "  One text per input line; one JSON array of floats per output line.\n"
    "  --query               embed as queries (use --query-prefix)\n"
    "  --query-prefix S      prefix for queries (E5: 'query: ', BGE: an instruction)\n"
    "  --passage-prefix S    prefix for passages (E5: 'passage: ')\n"
    "  --pooling cls|mean    override the model's pooling\n"
    "  --normalize on|off    override the model's L2 normalisation\n"
    "  --threads N           worker threads (default: online CPUs)\n"
    "  --batch N             sequences per forward pass (default 32)\n"
    "  --max-len N           maximum tokens per text (default: the model's)\n"
    "  --tokens              print the token pieces instead of embeddings\n"
    "  --unescape            read \\t, \\n and \\\\ escapes in the input lines\n"
    "  --stats               print texts/s and tokens to stderr\n"
    "  --info                print the model's name and dimension, then exit\n";

static const char pairs_usage[] =
    "usage: idx score-pairs MODEL_DIR [options] < pairs.tsv > logits.txt\n"
    "  Each input line is QUERY<TAB>PASSAGE; prints one line of logits per pair\n"
    "  (a cross-encoder checkpoint such as ms-marco-MiniLM-L-6-v2).\n"
    "  --threads N, --batch N, --max-len N, --unescape, --stats as for idx encode\n";

typedef struct {
    char **v;
    size_t *len;
    size_t n, cap;
} lines;

static void unescape(char *s, size_t *len) {
    size_t o = 0;
    for (size_t i = 0; i < *len; i++) {
        if (s[i] == '\\' && i + 1 < *len) {
            char c = s[i + 1];
            if (c == 't' || c == 'n' || c == '\\') {
                s[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : '\\';
                i++;
                continue;
            }
        }
        s[o++] = s[i];
    }
    *len = o;
    s[o] = 0;
}

/* CPU seconds (user + system, all threads) used by this process so far. */
static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int read_lines(FILE *f, lines *L, int unesc) {
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t got;
    while ((got = getline(&buf, &bcap, f)) >= 0) {
        size_t len = (size_t)got;
        if (len && buf[len - 1] == '\n') len--;
        if (len && buf[len - 1] == '\r') len--;
        buf[len] = 0;
        if (L->n == L->cap) {
            size_t nc = L->cap ? L->cap * 2 : 256;
            char **nv = realloc(L->v, nc * sizeof *nv);
            size_t *nl = nv ? realloc(L->len, nc * sizeof *nl) : NULL;
            if (!nv || !nl) { free(buf); if (nv) L->v = nv; return -1; }
            L->v = nv;
            L->len = nl;
            L->cap = nc;
        }
        char *s = malloc(len + 1);
        if (!s) { free(buf); return -1; }
        memcpy(s, buf, len + 1);
        if (unesc) unescape(s, &len);
        L->v[L->n] = s;
        L->len[L->n++] = len;
    }
    free(buf);
    return 0;
}

static void lines_free(lines *L) {
    for (size_t i = 0; i < L->n; i++) free(L->v[i]);
    free(L->v);
    free(L->len);
}

enum { O_QUERY = 256, O_QPREFIX, O_PPREFIX, O_POOLING, O_NORM, O_THREADS, O_BATCH, O_MAXLEN, O_TOKENS, O_UNESC,
       O_STATS, O_INFO };

static int common_opts(const char *cmd, const char *usage, int argc, char **argv, idx_encoder_opts *o, int *flags,
                       const char **model) {
    static const struct option lo[] = {
        {"query", no_argument, 0, O_QUERY},       {"query-prefix", required_argument, 0, O_QPREFIX},
        {"passage-prefix", required_argument, 0, O_PPREFIX}, {"pooling", required_argument, 0, O_POOLING},
        {"normalize", required_argument, 0, O_NORM}, {"threads", required_argument, 0, O_THREADS},
        {"batch", required_argument, 0, O_BATCH}, {"max-len", required_argument, 0, O_MAXLEN},
        {"tokens", no_argument, 0, O_TOKENS},     {"unescape", no_argument, 0, O_UNESC},
        {"stats", no_argument, 0, O_STATS},       {"info", no_argument, 0, O_INFO},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = ncpu > 0 ? (int)ncpu : 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case O_QUERY: flags[0] = 1; break;
        case O_QPREFIX: o->query_prefix = optarg; break;
        case O_PPREFIX: o->passage_prefix = optarg; break;
        case O_POOLING:
            if (strcmp(optarg, "cls") == 0) o->pooling = IDX_ENCODER_POOL_CLS;
            else if (strcmp(optarg, "mean") == 0) o->pooling = IDX_ENCODER_POOL_MEAN;
            else return idx_cli_usage(cmd, "--pooling must be cls or mean");
            break;
        case O_NORM:
            if (strcmp(optarg, "on") == 0) o->normalize = IDX_ENCODER_NORM_ON;
            else if (strcmp(optarg, "off") == 0) o->normalize = IDX_ENCODER_NORM_OFF;
            else return idx_cli_usage(cmd, "--normalize must be on or off");
            break;
        case O_THREADS: case O_BATCH: case O_MAXLEN:
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000) return idx_cli_usage(cmd, "bad number '%s'", optarg);
            if (c == O_THREADS) o->threads = (int)(v > 256 ? 256 : v);
            else if (c == O_BATCH) o->batch_size = (size_t)v;
            else o->max_seq_len = (size_t)v;
            break;
        case O_TOKENS: flags[1] = 1; break;
        case O_UNESC: flags[2] = 1; break;
        case O_STATS: flags[3] = 1; break;
        case O_INFO: flags[4] = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return idx_cli_usage(cmd, "unknown option");
        }
    }
    if (optind + 1 != argc) return idx_cli_usage(cmd, "expected one MODEL_DIR");
    *model = argv[optind];
    return -1;
}

static int cmd_encode(int argc, char **argv) {
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    int flags[5] = {0};
    const char *model;
    int r = common_opts("encode", encode_usage, argc, argv, &o, flags, &model);
    if (r >= 0) return r;
    openblas_set_num_threads(1);
    idx_encoder *e;
    idx_err rc = idx_encoder_load(model, &o, &e);
    if (rc) return idx_cli_fail("encode", rc);
    if (flags[4]) {
        printf("{\"name\":\"%s\",\"dim\":%zu,\"max_seq_len\":%zu,\"num_labels\":%zu,\"normalized\":%s}\n",
               idx_encoder_name(e), idx_encoder_dim(e), idx_encoder_max_seq_len(e), idx_encoder_num_labels(e),
               idx_encoder_normalized(e) ? "true" : "false");
        idx_encoder_free(e);
        return 0;
    }
    lines L = {0};
    if (read_lines(stdin, &L, flags[2])) {
        idx_encoder_free(e);
        lines_free(&L);
        return idx_cli_fail("encode", idx_fail(IDX_ERR_NOMEM, "out of memory reading stdin"));
    }
    size_t dim = idx_encoder_dim(e);
    int ret = 0;
    if (flags[1]) { /* tokens */
        size_t cap = idx_encoder_max_seq_len(e) + 8;
        int32_t *ids = malloc(cap * sizeof *ids);
        for (size_t i = 0; ids && i < L.n; i++) {
            size_t n;
            if ((rc = idx_encoder_tokenize(e, L.v[i], L.len[i], NULL, 0, ids, cap, &n))) break;
            json_t *a = json_array();
            for (size_t k = 0; k < n; k++) {
                const char *p = idx_encoder_token(e, ids[k]);
                json_array_append_new(a, json_stringn_nocheck(p ? p : "", p ? strlen(p) : 0));
            }
            char *s = json_dumps(a, JSON_COMPACT);
            if (s) puts(s);
            free(s);
            json_decref(a);
        }
        if (!ids) rc = idx_fail(IDX_ERR_NOMEM, "out of memory");
        free(ids);
        if (rc) ret = idx_cli_fail("encode", rc);
    } else if (L.n) {
        float *out = NULL;
        size_t bytes;
        if (idx_mul_overflow(L.n, dim * sizeof(float), &bytes) || idx_xmalloc(bytes, &out)) {
            ret = idx_cli_fail("encode", IDX_ERR_NOMEM);
        } else {
            double t0 = idx_now(), c0 = cpu_seconds();
            rc = idx_encoder_embed(e, (const char *const *)L.v, L.len, L.n, flags[0], out);
            double dt = idx_now() - t0, dc = cpu_seconds() - c0;
            if (rc) ret = idx_cli_fail("encode", rc);
            else {
                for (size_t i = 0; i < L.n; i++) {
                    putchar('[');
                    for (size_t k = 0; k < dim; k++) printf(k ? ",%.7g" : "%.7g", out[i * dim + k]);
                    fputs("]\n", stdout);
                }
                if (flags[3])
                    fprintf(stderr, "idx encode: %zu texts in %.3f s: %.1f texts/s, %.3f cpu-s: %.1f texts/cpu-s "
                                    "(%d threads, %s)\n",
                            L.n, dt, dt > 0 ? (double)L.n / dt : 0.0, dc, dc > 0 ? (double)L.n / dc : 0.0, o.threads,
                            idx_encoder_name(e));
            }
        }
        free(out);
    }
    if (!ret && fflush(stdout) != 0) ret = idx_cli_fail("encode", idx_fail(IDX_ERR_IO, "write error on stdout"));
    lines_free(&L);
    idx_encoder_free(e);
    return ret;
}

static int cmd_score_pairs(int argc, char **argv) {
    idx_encoder_opts o;
    idx_encoder_opts_init(&o);
    int flags[5] = {0};
    const char *model;
    int r = common_opts("score-pairs", pairs_usage, argc, argv, &o, flags, &model);
    if (r >= 0) return r;
    openblas_set_num_threads(1);
    idx_encoder *e;
    idx_err rc = idx_encoder_load(model, &o, &e);
    if (rc) return idx_cli_fail("score-pairs", rc);
    size_t labels = idx_encoder_num_labels(e);
    if (labels == 0) {
        idx_encoder_free(e);
        return idx_cli_fail("score-pairs", idx_fail(IDX_ERR_UNSUPPORTED, "%s: not a cross-encoder (no classifier)",
                                                    model));
    }
    lines L = {0};
    int ret = 0;
    if (read_lines(stdin, &L, 0)) ret = idx_cli_fail("score-pairs", IDX_ERR_NOMEM);
    const char **q = calloc(L.n + 1, sizeof *q), **p = calloc(L.n + 1, sizeof *p);
    float *out = calloc(L.n * labels + 1, sizeof(float));
    if (!ret && (!q || !p || !out)) ret = idx_cli_fail("score-pairs", IDX_ERR_NOMEM);
    for (size_t i = 0; !ret && i < L.n; i++) {
        char *tab = memchr(L.v[i], '\t', L.len[i]);
        if (!tab) {
            ret = idx_cli_fail("score-pairs", idx_fail(IDX_ERR_PARSE, "stdin:%zu: expected QUERY<TAB>PASSAGE", i + 1));
            break;
        }
        *tab = 0;
        size_t ql = (size_t)(tab - L.v[i]), pl = L.len[i] - ql - 1;
        if (flags[2]) { unescape(L.v[i], &ql); unescape(tab + 1, &pl); }
        q[i] = L.v[i];
        p[i] = tab + 1;
    }
    if (!ret && L.n) {
        double t0 = idx_now();
        rc = idx_encoder_score_pairs(e, q, p, L.n, out);
        double dt = idx_now() - t0;
        if (rc) ret = idx_cli_fail("score-pairs", rc);
        else {
            for (size_t i = 0; i < L.n; i++) {
                for (size_t k = 0; k < labels; k++) printf(k ? "\t%.7g" : "%.7g", out[i * labels + k]);
                putchar('\n');
            }
            if (flags[3]) fprintf(stderr, "idx score-pairs: %zu pairs in %.3f s\n", L.n, dt);
        }
    }
    free(q);
    free(p);
    free(out);
    lines_free(&L);
    idx_encoder_free(e);
    return ret;
}

IDX_CLI_COMMAND(encode, cmd_encode, "embed texts (one per line) with a local encoder model", encode_usage);
IDX_CLI_COMMAND(score-pairs, cmd_score_pairs, "score query<TAB>passage pairs with a cross-encoder", pairs_usage);
