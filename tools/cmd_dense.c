/*
 * cmd_dense.c -- `idx embed` (add or update the dense part of an index: embed
 * every document with the native encoder or an OpenAI-compatible service,
 * optionally build the HNSW graph) and `idx dense-search` (top-k documents
 * for a query by vector similarity, exact or HNSW). API keys are read here,
 * from an environment variable or a file named on the command line; the
 * library never reads the environment.
 */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_cli.h"
#include "idx_cli_dense.h"
#include "idx_eval.h"
#include "idx_hybrid.h"
#include "idx_dense.h"
#include "idx_index.h"

static const char embed_usage[] =
    "usage: idx embed INDEX --model MODEL [options]\n"
    "  Embeds every document (title + text) of INDEX into INDEX/dense and records\n"
    "  the model in the manifest. Run again after adding documents: only new\n"
    "  documents are embedded when the model is the same (--rebuild re-embeds all).\n"
    "  --provider local|openai  local = native encoder (default), openai = HTTP service\n"
    "  --model M               local: model directory (e.g. models/use-lite);\n"
    "                          openai: model name sent to the service\n"
    "  --url URL               openai: base URL (POST URL/v1/embeddings)\n"
    "  --api-key-env VAR       openai: read the API key from environment variable VAR\n"
    "  --api-key-file FILE     openai: read the API key from FILE\n"
    "  --dim N                 expected dimension (default: learned)\n"
    "  --batch N               texts per request / forward pass (default 32)\n"
    "  --threads N             local encoder threads (default: online CPUs)\n"
    "  --timeout S, --retries N  openai: per-request timeout (60) and retries (4)\n"
    "  --normalize             L2-normalise the vectors (the native models already do)\n"
    "  --query-prefix S, --doc-prefix S  text prepended to queries / documents\n"
    "  --type f32|i8-dim|i8-vec  storage (default f32; int8 keeps a scale per dimension or vector)\n"
    "  --hnsw                  also build an HNSW graph (--M 16 --ef-construction 200 --ef-search 64 --seed 42)\n"
    "  --max-doc-bytes N       bytes of each document embedded (default 16384)\n"
    "  --chunk-bytes N         embed passages (title + whole sentences, at most N bytes each) instead\n"
    "                          of whole documents; a document scores as its best passage (default 0: off)\n"
    "  --rebuild               re-embed every document\n"
    "  --quiet                 no progress line\n";

static const char search_usage[] =
    "usage: idx dense-search INDEX [options] QUERY...\n"
    "  Top-k documents by vector similarity, the query embedded with the model\n"
    "  recorded in the index.\n"
    "  -k N                    hits (default 10)\n"
    "  --hnsw                  search the HNSW graph instead of the exact scan\n"
    "  --ef N                  HNSW search breadth (default: recorded)\n"
    "  --api-key-env VAR, --api-key-file FILE, --url URL   for an openai model\n"
    "  --json                  JSON output\n";

enum {
    O_PROVIDER = 256, O_MODEL, O_URL, O_KEYENV, O_KEYFILE, O_DIM, O_BATCH, O_THREADS, O_TIMEOUT, O_RETRIES,
    O_NORM, O_QP, O_DP, O_TYPE, O_HNSW, O_M, O_EFC, O_EFS, O_SEED, O_MAXB, O_REBUILD, O_QUIET, O_EF, O_JSON,
    O_MODE, O_FUSION, O_RRFK, O_WEIGHT, O_DEPTH, O_K1, O_B, O_QUERIES, O_TAG
};

static int parse_u64(const char *s, uint64_t max, uint64_t *out) { return idx_cli_parse_uint(s, max, out); }

/* Reads the key named by --api-key-env (the CLI's job, not the library's). */
static int key_from_env(const char *cmd, const char *var, const char **key) {
    if (!var) return 0;
    const char *v = getenv(var);
    if (!v || !*v) {
        fprintf(stderr, "idx %s: environment variable %s (--api-key-env) is not set\n", cmd, var);
        return -1;
    }
    *key = v;
    return 0;
}

static int cmd_embed(int argc, char **argv) {
    static const struct option lo[] = {
        {"provider", required_argument, 0, O_PROVIDER}, {"model", required_argument, 0, O_MODEL},
        {"url", required_argument, 0, O_URL}, {"api-key-env", required_argument, 0, O_KEYENV},
        {"api-key-file", required_argument, 0, O_KEYFILE}, {"dim", required_argument, 0, O_DIM},
        {"batch", required_argument, 0, O_BATCH}, {"threads", required_argument, 0, O_THREADS},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"retries", required_argument, 0, O_RETRIES},
        {"normalize", no_argument, 0, O_NORM}, {"query-prefix", required_argument, 0, O_QP},
        {"doc-prefix", required_argument, 0, O_DP}, {"type", required_argument, 0, O_TYPE},
        {"hnsw", no_argument, 0, O_HNSW}, {"M", required_argument, 0, O_M},
        {"ef-construction", required_argument, 0, O_EFC}, {"ef-search", required_argument, 0, O_EFS},
        {"seed", required_argument, 0, O_SEED}, {"max-doc-bytes", required_argument, 0, O_MAXB},
        {"rebuild", no_argument, 0, O_REBUILD}, {"quiet", no_argument, 0, O_QUIET},
        {"chunk-bytes", required_argument, 0, O_DEPTH}, {0, 0, 0, 0}};
    idx_embedder_opts eo = {0};
    eo.provider = "local";
    idx_dense_build_opts bo = {0};
    bo.incremental = 1;
    const char *keyenv = NULL;
    int quiet = 0, c;
    uint64_t v;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    eo.threads = ncpu > 0 ? (int)ncpu : 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_PROVIDER: eo.provider = optarg; break;
        case O_MODEL: eo.model = optarg; break;
        case O_URL: eo.url = optarg; break;
        case O_KEYENV: keyenv = optarg; break;
        case O_KEYFILE: eo.api_key_file = optarg; break;
        case O_DIM: if (parse_u64(optarg, IDX_DENSE_MAX_DIM, &v) || !v) return idx_cli_usage(argv[0], "bad --dim %s", optarg); eo.dim = (uint32_t)v; break;
        case O_BATCH: if (parse_u64(optarg, 1 << 16, &v) || !v) return idx_cli_usage(argv[0], "bad --batch %s", optarg); eo.batch = v; break;
        case O_THREADS: if (parse_u64(optarg, 256, &v) || !v) return idx_cli_usage(argv[0], "bad --threads %s", optarg); eo.threads = (int)v; break;
        case O_TIMEOUT: eo.timeout = atof(optarg); if (eo.timeout <= 0) return idx_cli_usage(argv[0], "bad --timeout %s", optarg); break;
        case O_RETRIES: if (parse_u64(optarg, 100, &v)) return idx_cli_usage(argv[0], "bad --retries %s", optarg); eo.max_retries = v ? (int)v : -1; break;
        case O_NORM: eo.normalize = 1; break;
        case O_QP: eo.query_prefix = optarg; break;
        case O_DP: eo.doc_prefix = optarg; break;
        case O_TYPE:
            if (!strcmp(optarg, "f32")) bo.type = IDX_DENSE_F32;
            else if (!strcmp(optarg, "i8-dim") || !strcmp(optarg, "i8")) bo.type = IDX_DENSE_I8_PER_DIM;
            else if (!strcmp(optarg, "i8-vec")) bo.type = IDX_DENSE_I8_PER_VEC;
            else return idx_cli_usage(argv[0], "bad --type %s (f32, i8-dim or i8-vec)", optarg);
            break;
        case O_HNSW: bo.hnsw = 1; break;
        case O_M: if (parse_u64(optarg, 256, &v) || v < 2) return idx_cli_usage(argv[0], "bad --M %s (2..256)", optarg); bo.hnsw_params.M = (uint32_t)v; break;
        case O_EFC: if (parse_u64(optarg, 1 << 20, &v) || !v) return idx_cli_usage(argv[0], "bad --ef-construction %s", optarg); bo.hnsw_params.ef_construction = (uint32_t)v; break;
        case O_EFS: if (parse_u64(optarg, 1 << 20, &v) || !v) return idx_cli_usage(argv[0], "bad --ef-search %s", optarg); bo.hnsw_params.ef_search = (uint32_t)v; break;
        case O_SEED: if (parse_u64(optarg, UINT64_MAX, &v) || !v) return idx_cli_usage(argv[0], "bad --seed %s", optarg); bo.hnsw_params.seed = v; break;
        case O_MAXB: if (idx_cli_parse_size(optarg, &v) || !v) return idx_cli_usage(argv[0], "bad --max-doc-bytes %s", optarg); bo.max_doc_bytes = v; break;
        case O_REBUILD: bo.incremental = 0; break;
        case O_DEPTH: if (idx_cli_parse_size(optarg, &v)) return idx_cli_usage(argv[0], "bad --chunk-bytes %s", optarg); bo.chunk_bytes = v; break;
        case O_QUIET: quiet = 1; break;
        default: return idx_cli_usage(argv[0], "unknown option");
        }
    }
    if (optind != argc - 1) return idx_cli_usage(argv[0], "expected one INDEX directory");
    if (!eo.model) return idx_cli_usage(argv[0], "--model is required");
    if (keyenv && eo.api_key_file) return idx_cli_usage(argv[0], "give --api-key-env or --api-key-file, not both");
    if (key_from_env(argv[0], keyenv, &eo.api_key)) return 2;
    const char *index = argv[optind];
    /* The encoder parallelises over the batch itself. */
    openblas_set_num_threads(1);
    idx_embedder *emb;
    idx_err e = idx_embedder_new(&eo, &emb);
    if (e) return idx_cli_fail(argv[0], e);
    idx_progress prog;
    idx_progress_init(&prog, quiet ? NULL : idx_cli_progress, NULL);
    uint64_t n = 0;
    double t0 = idx_now();
    e = idx_dense_index_build(index, emb, &bo, &prog, &n);
    double dt = idx_now() - t0;
    if (!quiet && isatty(2)) fprintf(stderr, "\n");
    if (e) {
        idx_embedder_free(emb);
        return idx_cli_fail(argv[0], e);
    }
    fprintf(stderr, "idx embed: %llu documents embedded (dim %u) in %.1f s (%.1f docs/s)%s\n", (unsigned long long)n,
            idx_embedder_dim(emb), dt, dt > 0 ? (double)n / dt : 0.0, bo.hnsw ? ", HNSW graph built" : "");
    idx_embedder_free(emb);
    return 0;
}
IDX_CLI_COMMAND(embed, cmd_embed, "embed the documents of an index into its dense part (vectors + model)", embed_usage);

static void print_json_str(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(t ? t : "\"\"", stdout);
    free(t);
    json_decref(j);
}

static int cmd_dense_search(int argc, char **argv) {
    static const struct option lo[] = {
        {"hnsw", no_argument, 0, O_HNSW}, {"ef", required_argument, 0, O_EF},
        {"api-key-env", required_argument, 0, O_KEYENV}, {"api-key-file", required_argument, 0, O_KEYFILE},
        {"url", required_argument, 0, O_URL}, {"json", no_argument, 0, O_JSON}, {0, 0, 0, 0}};
    uint64_t k = 10, v;
    int use_hnsw = 0, json = 0, c;
    uint32_t ef = 0;
    const char *keyenv = NULL, *keyfile = NULL, *url = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:", lo, NULL)) != -1) {
        switch (c) {
        case 'k': if (parse_u64(optarg, 100000, &k) || !k) return idx_cli_usage(argv[0], "bad -k %s", optarg); break;
        case O_HNSW: use_hnsw = 1; break;
        case O_EF: if (parse_u64(optarg, 1 << 20, &v) || !v) return idx_cli_usage(argv[0], "bad --ef %s", optarg); ef = (uint32_t)v; break;
        case O_KEYENV: keyenv = optarg; break;
        case O_KEYFILE: keyfile = optarg; break;
        case O_URL: url = optarg; break;
        case O_JSON: json = 1; break;
        default: return idx_cli_usage(argv[0], "unknown option");
        }
    }
    if (argc - optind < 2) return idx_cli_usage(argv[0], "expected INDEX and a query");
    const char *index = argv[optind];
    idx_buf q = {0};
    for (int i = optind + 1; i < argc; i++)
        if ((i > optind + 1 && idx_buf_append(&q, " ", 1)) || idx_buf_append(&q, argv[i], strlen(argv[i])) ||
            idx_buf_append(&q, "", 0))
            return idx_cli_fail(argv[0], IDX_ERR_NOMEM);
    idx_dense_index *x = NULL;
    idx_embedder *emb = NULL;
    idx_docs *docs = NULL;
    float *qv = NULL;
    idx_fuse_cand *hits = NULL;
    int rc = 0;
    idx_err e = idx_dense_index_open(index, 0, &x);
    idx_embedder_opts eo;
    if (!e) e = idx_docs_open(index, 0, &docs);
    if (!e) e = idx_embedder_opts_from_identity(idx_dense_index_model(x), &eo);
    if (e) { rc = idx_cli_fail(argv[0], e); goto done; }
    if (url) eo.url = url;
    eo.api_key_file = keyfile;
    if (key_from_env(argv[0], keyenv, &eo.api_key)) { rc = 2; goto done; }
    openblas_set_num_threads(1);
    if ((e = idx_embedder_new(&eo, &emb))) { rc = idx_cli_fail(argv[0], e); goto done; }
    qv = malloc(eo.dim * sizeof(float));
    hits = malloc(k * sizeof *hits);
    if (!qv || !hits) { rc = idx_cli_fail(argv[0], idx_fail(IDX_ERR_NOMEM, "out of memory")); goto done; }
    const char *qt = q.data;
    size_t ql = q.len;
    double t0 = idx_now();
    size_t n = 0;
    if ((e = idx_embedder_embed(emb, IDX_EMBED_QUERY, &qt, &ql, 1, qv)) ||
        (e = idx_dense_index_search(x, qv, k, use_hnsw, ef, hits, &n))) {
        rc = idx_cli_fail(argv[0], e);
        goto done;
    }
    double ms = (idx_now() - t0) * 1000;
    if (json) printf("{\"query\":"), print_json_str(q.data, q.len), printf(",\"took_ms\":%.3f,\"hits\":[", ms);
    for (size_t i = 0; i < n; i++) {
        const char *id = "", *title = "";
        size_t il = 0, tl = 0;
        if ((e = idx_docs_id(docs, hits[i].doc_id, &id, &il)) || (e = idx_docs_title(docs, hits[i].doc_id, &title, &tl))) {
            rc = idx_cli_fail(argv[0], e);
            goto done;
        }
        if (json) {
            printf("%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
            print_json_str(id, il);
            printf(",\"score\":%.6f,\"title\":", hits[i].score);
            print_json_str(title, tl);
            printf("}");
        } else
            printf("%2zu  %-16.*s %8.4f  %.*s\n", i + 1, (int)il, id, hits[i].score, (int)tl, title);
    }
    if (json) printf("]}\n");
done:
    idx_buf_free(&q);
    free(qv);
    free(hits);
    idx_embedder_free(emb);
    idx_docs_close(docs);
    idx_dense_index_close(x);
    return rc;
}
IDX_CLI_COMMAND(dense-search, cmd_dense_search, "top-k documents by vector similarity (exact or HNSW)", search_usage);

/* ------------------------------------------------------------------------ */
/* idx retrieve --mode dense|hybrid                                           */
/* ------------------------------------------------------------------------ */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int retrieve_dense(int argc, char **argv) {
    static const struct option lo[] = {
        {"mode", required_argument, 0, O_MODE}, {"fusion", required_argument, 0, O_FUSION},
        {"rrf-k", required_argument, 0, O_RRFK}, {"weight", required_argument, 0, O_WEIGHT},
        {"depth", required_argument, 0, O_DEPTH}, {"hnsw", no_argument, 0, O_HNSW},
        {"ef", required_argument, 0, O_EF}, {"k1", required_argument, 0, O_K1}, {"b", required_argument, 0, O_B},
        {"api-key-env", required_argument, 0, O_KEYENV}, {"api-key-file", required_argument, 0, O_KEYFILE},
        {"url", required_argument, 0, O_URL}, {"json", no_argument, 0, O_JSON},
        {"queries", required_argument, 0, O_QUERIES}, {"output", required_argument, 0, 'o'},
        {"tag", required_argument, 0, O_TAG}, {0, 0, 0, 0}};
    idx_hybrid_opts ho = {0};
    uint64_t k = 10, v;
    int json = 0, ksetd = 0, c;
    const char *keyenv = NULL, *keyfile = NULL, *url = NULL, *queries = NULL, *outp = NULL, *tag = NULL;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'k': if (parse_u64(optarg, 1000000, &k) || !k) return idx_cli_usage(argv[0], "-k must be 1..1000000"); ksetd = 1; break;
        case O_MODE:
            if (!strcmp(optarg, "dense")) ho.mode = IDX_RETRIEVE_DENSE;
            else if (!strcmp(optarg, "hybrid")) ho.mode = IDX_RETRIEVE_HYBRID;
            else return idx_cli_usage(argv[0], "--mode must be sparse, dense or hybrid");
            break;
        case O_FUSION:
            if (!strcmp(optarg, "rrf")) ho.fusion = IDX_FUSION_RRF;
            else if (!strcmp(optarg, "minmax")) ho.fusion = IDX_FUSION_MINMAX;
            else if (!strcmp(optarg, "zscore")) ho.fusion = IDX_FUSION_ZSCORE;
            else return idx_cli_usage(argv[0], "--fusion must be rrf, minmax or zscore");
            break;
        case O_RRFK: ho.rrf_k = strtod(optarg, &end); if (*end || !(ho.rrf_k > 0) || ho.rrf_k > 1e9) return idx_cli_usage(argv[0], "--rrf-k must be > 0"); break;
        case O_WEIGHT: ho.dense_weight = strtod(optarg, &end); if (*end || !(ho.dense_weight > 0 && ho.dense_weight <= 1)) return idx_cli_usage(argv[0], "--weight must be in (0, 1]"); break;
        case O_DEPTH: if (parse_u64(optarg, 1000000, &v) || !v) return idx_cli_usage(argv[0], "bad --depth"); ho.depth = v; break;
        case O_HNSW: ho.use_hnsw = 1; break;
        case O_EF: if (parse_u64(optarg, 1 << 20, &v) || !v) return idx_cli_usage(argv[0], "bad --ef"); ho.ef = (uint32_t)v; break;
        case O_K1: ho.bm25_k1 = strtod(optarg, &end); if (*end || !(ho.bm25_k1 >= 0) || ho.bm25_k1 > 1000) return idx_cli_usage(argv[0], "bad --k1"); break;
        case O_B: ho.bm25_b = strtod(optarg, &end); if (*end || !(ho.bm25_b >= 0 && ho.bm25_b <= 1)) return idx_cli_usage(argv[0], "bad --b"); break;
        case O_KEYENV: keyenv = optarg; break;
        case O_KEYFILE: keyfile = optarg; break;
        case O_URL: url = optarg; break;
        case O_JSON: json = 1; break;
        case O_QUERIES: queries = optarg; break;
        case 'o': outp = optarg; break;
        case O_TAG: tag = optarg; break;
        default: return idx_cli_usage(argv[0], "unknown option '%s' for --mode dense|hybrid", argv[optind - 1]);
        }
    }
    if (optind >= argc) return idx_cli_usage(argv[0], "no index given");
    const char *index = argv[optind++];
    if (!queries && optind >= argc) return idx_cli_usage(argv[0], "no query given (or use --queries FILE)");
    if (queries && optind < argc) return idx_cli_usage(argv[0], "give either a QUERY or --queries FILE");
    if (queries && !ksetd) k = 1000;
    if (!tag) tag = ho.mode == IDX_RETRIEVE_DENSE ? "idx-dense" : "idx-hybrid";
    const char *key = NULL;
    if (key_from_env(argv[0], keyenv, &key)) return 2;
    openblas_set_num_threads(1);
    idx_hybrid *h = NULL;
    idx_eval_queries *qs = NULL;
    idx_fuse_cand *res = NULL;
    size_t *counts = NULL;
    FILE *out = NULL;
    idx_buf qb = {0};
    int rc = 0;
    idx_err e = idx_hybrid_open(index, ho.mode, url, key, keyfile, &h);
    if (e) return idx_cli_fail(argv[0], e);
    if (!queries) {
        for (int i = optind; i < argc; i++)
            if ((i > optind && idx_buf_append(&qb, " ", 1)) || idx_buf_append(&qb, argv[i], strlen(argv[i])) ||
                idx_buf_append(&qb, "", 0)) {
                rc = idx_cli_fail(argv[0], IDX_ERR_NOMEM);
                goto done;
            }
        const char *qt = qb.data;
        size_t n = 0;
        if (!(res = malloc(k * sizeof *res))) { rc = idx_cli_fail(argv[0], IDX_ERR_NOMEM); goto done; }
        double t0 = idx_now();
        if ((e = idx_hybrid_search(h, &qt, 1, k, &ho, res, &n))) { rc = idx_cli_fail(argv[0], e); goto done; }
        double ms = (idx_now() - t0) * 1000;
        if (json) printf("{\"query\":"), print_json_str(qb.data, qb.len), printf(",\"mode\":\"%s\",\"took_ms\":%.3f,\"hits\":[", ho.mode == IDX_RETRIEVE_DENSE ? "dense" : "hybrid", ms);
        for (size_t i = 0; i < n; i++) {
            const char *id = "", *title = "";
            size_t il = 0, tl = 0;
            if ((e = idx_hybrid_doc_id(h, res[i].doc_id, &id, &il))) { rc = idx_cli_fail(argv[0], e); goto done; }
            if (res[i].doc_id < idx_docs_count(idx_hybrid_docs(h)) &&
                (e = idx_docs_title(idx_hybrid_docs(h), res[i].doc_id, &title, &tl))) { rc = idx_cli_fail(argv[0], e); goto done; }
            if (json) {
                printf("%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
                print_json_str(id, il);
                printf(",\"score\":%.6f,\"title\":", res[i].score);
                print_json_str(title, tl);
                printf("}");
            } else
                printf("%2zu  %-16.*s %8.4f  %.*s\n", i + 1, (int)il, id, res[i].score, (int)tl, title);
        }
        if (json) printf("]}\n");
        goto done;
    }
    if ((e = idx_eval_queries_load(queries, &qs))) { rc = idx_cli_fail(argv[0], e); goto done; }
    out = outp ? fopen(outp, "w") : stdout;
    if (!out) { fprintf(stderr, "idx retrieve: cannot write %s\n", outp); rc = 1; goto done; }
    const size_t B = 256;
    if (!(res = malloc(B * k * sizeof *res)) || !(counts = malloc(B * sizeof *counts))) {
        rc = idx_cli_fail(argv[0], IDX_ERR_NOMEM);
        goto done;
    }
    double t0 = idx_now();
    for (size_t i = 0; i < qs->n; i += B) {
        size_t m = qs->n - i < B ? qs->n - i : B;
        if ((e = idx_hybrid_search(h, (const char *const *)qs->texts + i, m, k, &ho, res, counts))) {
            rc = idx_cli_fail(argv[0], e);
            goto done;
        }
        for (size_t q = 0; q < m; q++)
            for (size_t j = 0; j < counts[q]; j++) {
                const char *id;
                size_t il;
                if ((e = idx_hybrid_doc_id(h, res[q * k + j].doc_id, &id, &il))) { rc = idx_cli_fail(argv[0], e); goto done; }
                fprintf(out, "%s Q0 %.*s %zu %.6f %s\n", qs->ids[i + q], (int)il, id, j + 1, res[q * k + j].score, tag);
            }
    }
    double total = idx_now() - t0;
    fprintf(stderr, "%zu queries in %.3f s: %.1f queries/s (%s%s, embedding included)\n", qs->n, total,
            total > 0 ? (double)qs->n / total : 0.0, ho.mode == IDX_RETRIEVE_DENSE ? "dense" : "hybrid",
            ho.use_hnsw ? ", HNSW" : "");
    (void)cmp_dbl;
done:
    if (out && out != stdout && fclose(out) != 0) { fprintf(stderr, "idx retrieve: cannot write %s\n", outp); rc = 1; }
    idx_buf_free(&qb);
    free(res);
    free(counts);
    idx_eval_queries_free(qs);
    idx_hybrid_close(h);
    return rc;
}

int idx_cli_retrieve_mode_hook(int *argc, char **argv, int *rc) {
    const char *mode = NULL;
    int at = -1, span = 0;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--mode")) {
            if (i + 1 >= *argc) {
                *rc = idx_cli_usage(argv[0], "--mode needs a value: sparse, dense or hybrid");
                return 1;
            }
            mode = argv[i + 1];
            at = i;
            span = 2;
        } else if (!strncmp(argv[i], "--mode=", 7)) {
            mode = argv[i] + 7;
            at = i;
            span = 1;
        }
    }
    if (!mode || !strcmp(mode, "sparse")) {
        if (at >= 0) {
            memmove(argv + at, argv + at + span, (size_t)(*argc - at - span + 1) * sizeof *argv);
            *argc -= span;
        }
        return 0;
    }
    if (strcmp(mode, "dense") && strcmp(mode, "hybrid")) {
        *rc = idx_cli_usage(argv[0], "--mode must be sparse, dense or hybrid (got '%s')", mode);
        return 1;
    }
    *rc = retrieve_dense(*argc, argv);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* idx build --dense MODEL                                                    */
/* ------------------------------------------------------------------------ */

struct idx_dense_cli {
    idx_embedder_opts eo;
    idx_dense_build_opts bo;
    const char *keyenv;
    idx_embedder *emb;
    /* the hooks found in the build options before ours (the chunker's) */
    idx_err (*prev_next)(void *ud, idx_corpus *c, idx_doc *doc, int *got);
    idx_err (*prev_finish)(void *ud, const char *tmp_dir, json_t *manifest);
    void *prev_ud;
    idx_progress_fn progress;
    void *progress_ud;
    uint64_t embedded;
    double seconds;
};

void idx_dense_cli_free(idx_dense_cli *d) {
    if (!d) return;
    idx_embedder_free(d->emb);
    free(d);
}

/* Removes argv[i] .. argv[i + n - 1]. */
static void drop_args(int *argc, char **argv, int i, int n) {
    memmove(argv + i, argv + i + n, (size_t)(*argc - i - n + 1) * sizeof *argv);
    *argc -= n;
}

int idx_dense_cli_extract(const char *cmd, int *argc, char **argv, idx_dense_cli **out) {
    *out = NULL;
    idx_dense_cli *d = NULL;
    for (int i = 1; i < *argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (strncmp(a, "--dense", 7) || (a[7] && a[7] != '-' && a[7] != '=')) {
            i++;
            continue;
        }
        const char *name = a + 2, *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        int flag = !strncmp(name, "dense-hnsw", nl) && nl == 10;
        flag |= !strncmp(name, "dense-normalize", nl) && nl == 15;
        int used = 1;
        if (!flag) {
            if (eq) val = eq + 1;
            else if (i + 1 < *argc) {
                val = argv[i + 1];
                used = 2;
            } else {
                idx_dense_cli_free(d);
                return idx_cli_usage(cmd, "%s needs a value", a);
            }
        }
        if (!d) {
            if (!(d = calloc(1, sizeof *d))) {
                fprintf(stderr, "idx %s: out of memory\n", cmd);
                return 2;
            }
            d->eo.provider = "local";
            long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
            d->eo.threads = ncpu > 0 ? (int)ncpu : 1;
        }
        uint64_t v;
        char key[32];
        snprintf(key, sizeof key, "%.*s", (int)(nl < 31 ? nl : 31), name);
        int bad = 0;
        if (!strcmp(key, "dense")) d->eo.model = val;
        else if (!strcmp(key, "dense-provider")) {
            if (strcmp(val, "local") && strcmp(val, "openai")) bad = 1;
            d->eo.provider = val;
        } else if (!strcmp(key, "dense-url")) d->eo.url = val;
        else if (!strcmp(key, "dense-api-key-env")) d->keyenv = val;
        else if (!strcmp(key, "dense-api-key-file")) d->eo.api_key_file = val;
        else if (!strcmp(key, "dense-batch")) {
            bad = parse_u64(val, 1 << 16, &v) || !v;
            d->eo.batch = v;
        } else if (!strcmp(key, "dense-threads")) {
            bad = parse_u64(val, 256, &v) || !v;
            d->eo.threads = (int)v;
        } else if (!strcmp(key, "dense-retries")) {
            bad = parse_u64(val, 100, &v) != 0;
            d->eo.max_retries = v ? (int)v : -1;
        } else if (!strcmp(key, "dense-timeout")) {
            d->eo.timeout = atof(val);
            bad = !(d->eo.timeout > 0);
        } else if (!strcmp(key, "dense-query-prefix")) d->eo.query_prefix = val;
        else if (!strcmp(key, "dense-doc-prefix")) d->eo.doc_prefix = val;
        else if (!strcmp(key, "dense-normalize")) d->eo.normalize = 1;
        else if (!strcmp(key, "dense-hnsw")) d->bo.hnsw = 1;
        else if (!strcmp(key, "dense-chunk-bytes")) {
            bad = idx_cli_parse_size(val, &v) != 0;
            d->bo.chunk_bytes = v;
        } else if (!strcmp(key, "dense-max-doc-bytes")) {
            bad = idx_cli_parse_size(val, &v) || !v;
            d->bo.max_doc_bytes = v;
        } else if (!strcmp(key, "dense-type")) {
            if (!strcmp(val, "f32")) d->bo.type = IDX_DENSE_F32;
            else if (!strcmp(val, "i8-dim") || !strcmp(val, "i8")) d->bo.type = IDX_DENSE_I8_PER_DIM;
            else if (!strcmp(val, "i8-vec")) d->bo.type = IDX_DENSE_I8_PER_VEC;
            else bad = 1;
        } else {
            idx_dense_cli_free(d);
            return idx_cli_usage(cmd, "unknown option %s", a);
        }
        if (bad) {
            idx_dense_cli_free(d);
            return idx_cli_usage(cmd, "bad %s", a);
        }
        drop_args(argc, argv, i, used);
    }
    if (d && !d->eo.model) {
        idx_dense_cli_free(d);
        return idx_cli_usage(cmd, "the --dense-* options need --dense MODEL");
    }
    if (d && d->keyenv && d->eo.api_key_file) {
        idx_dense_cli_free(d);
        return idx_cli_usage(cmd, "give --dense-api-key-env or --dense-api-key-file, not both");
    }
    if (d && key_from_env(cmd, d->keyenv, &d->eo.api_key)) {
        idx_dense_cli_free(d);
        return 2;
    }
    *out = d;
    return 0;
}

static idx_err dense_next(void *ud, idx_corpus *c, idx_doc *doc, int *got) {
    idx_dense_cli *d = ud;
    return d->prev_next(d->prev_ud, c, doc, got);
}

/* Runs on the build's temporary directory once the document store (and the
 * FM-index) are written, before the manifest is saved and the directory
 * published: the dense part goes in with the rest, or nothing is published. */
static idx_err dense_finish(void *ud, const char *tmp_dir, json_t *man) {
    idx_dense_cli *d = ud;
    idx_err e = d->prev_finish ? d->prev_finish(d->prev_ud, tmp_dir, man) : IDX_OK;
    if (e) return e;
    /* the dense builder reads the manifest of the directory it adds to */
    if ((e = idx_manifest_save(tmp_dir, man))) return e;
    idx_progress prog;
    idx_progress_init(&prog, d->progress, d->progress_ud);
    double t0 = idx_now();
    if ((e = idx_dense_index_build(tmp_dir, d->emb, &d->bo, &prog, &d->embedded)))
        return idx_fail_context(e, "--dense");
    d->seconds = idx_now() - t0;
    json_t *m2 = NULL;
    if ((e = idx_manifest_load(tmp_dir, &m2))) return e;
    json_t *part = idx_manifest_part(m2, "dense"), *parts = json_object_get(man, "parts");
    if (!part || !json_is_object(parts)) e = idx_fail(IDX_ERR_INTERNAL, "the dense part is missing from the manifest");
    else json_object_set(parts, "dense", part);
    json_decref(m2);
    return e;
}

idx_err idx_dense_cli_setup(idx_dense_cli *d, idx_index_build_opts *o) {
    /* the model is loaded (or the service's URL checked) before the corpus is read */
    openblas_set_num_threads(1);
    idx_err e = idx_embedder_new(&d->eo, &d->emb);
    if (e) return idx_fail_context(e, "--dense");
    d->prev_next = o->next_doc;
    d->prev_finish = o->finish;
    d->prev_ud = o->source_ud;
    d->progress = o->progress;
    d->progress_ud = o->progress_ud;
    if (o->next_doc) o->next_doc = dense_next;
    o->finish = dense_finish;
    o->source_ud = d;
    return IDX_OK;
}

void idx_dense_cli_report(const idx_dense_cli *d) {
    if (!d) return;
    fprintf(stderr, "dense part: %llu documents embedded (dim %u) in %.1f s (%.1f docs/s)%s\n",
            (unsigned long long)d->embedded, idx_embedder_dim(d->emb), d->seconds,
            d->seconds > 0 ? (double)d->embedded / d->seconds : 0.0, d->bo.hnsw ? ", HNSW graph built" : "");
}
