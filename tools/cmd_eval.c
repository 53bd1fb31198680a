/*
 * cmd_eval.c -- `idx eval`: BEIR metrics (nDCG@k, Recall@k, P@k, MRR@k, MAP)
 * with trec_eval semantics for a TREC run file, or for a run it retrieves
 * itself from an index's sparse part; a table or JSON, per query on request.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx_cli.h"
#include "idx_eval.h"
#include "idx_retrieve.h"

#define EVAL_USAGE                                                                                   \
    "usage: idx eval --qrels QRELS RUN [--metrics LIST] [--per-query] [--json]\n"                   \
    "       idx eval --qrels QRELS --index INDEX --queries FILE [-k N] [--k1 X] [--b X] [--run-out RUN]\n" \
    "QRELS: BEIR TSV (query-id corpus-id score, header optional) or TREC (qid iter docid rel).\n"     \
    "RUN: TREC run (qid Q0 docid rank score tag). LIST default: ndcg@10,recall@100,mrr@10,map.\n"     \
    "Averages over every query of the qrels (trec_eval -c); nDCG uses the grades as gains.\n"   \
    "With --index: --exhaustive, --lucene-norms as for `idx retrieve`; -k default 1000.\n"

enum { O_QRELS = 1000, O_METRICS, O_PERQ, O_JSON, O_INDEX, O_QUERIES, O_K1, O_B, O_RUNOUT, O_EXH };

typedef struct {
    const idx_sparse *s;
    uint64_t unknown;
    char example[128];
} unk_ctx;

static int count_unknown(void *ud, const char *qid, const char *docid, int rel) {
    (void)qid; (void)rel;
    unk_ctx *c = ud;
    int found;
    uint32_t sg;
    uint64_t d;
    if (idx_sparse_lookup(c->s, docid, strlen(docid), &found, &sg, &d) == IDX_OK && !found) {
        if (!c->unknown) snprintf(c->example, sizeof c->example, "%s", docid);
        c->unknown++;
    }
    return 0;
}

static int cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"qrels", required_argument, 0, O_QRELS}, {"metrics", required_argument, 0, O_METRICS},
        {"per-query", no_argument, 0, O_PERQ}, {"json", no_argument, 0, O_JSON},
        {"index", required_argument, 0, O_INDEX}, {"queries", required_argument, 0, O_QUERIES},
        {"k1", required_argument, 0, O_K1}, {"lucene-norms", no_argument, 0, 2000}, {"b", required_argument, 0, O_B},
        {"run-out", required_argument, 0, O_RUNOUT}, {"exhaustive", no_argument, 0, O_EXH}, {0, 0, 0, 0}};
    const char *qrels = NULL, *metrics = "ndcg@10,recall@100,mrr@10,map", *index = NULL, *queries = NULL,
               *runout = NULL;
    int perq = 0, json = 0, c;
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    p.k = 1000;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
        switch (c) {
        case O_QRELS: qrels = optarg; break;
        case O_METRICS: metrics = optarg; break;
        case O_PERQ: perq = 1; break;
        case O_JSON: json = 1; break;
        case O_INDEX: index = optarg; break;
        case O_QUERIES: queries = optarg; break;
        case O_RUNOUT: runout = optarg; break;
        case O_EXH: p.exhaustive = 1; break;
        case 'k': {
            long k = strtol(optarg, &end, 10);
            if (*end || k < 1 || k > 1000000) return idx_cli_usage(argv[0], "-k must be 1..1000000");
            p.k = (size_t)k;
            break;
        }
        case 2000: p.lucene_norms = 1; break;
        case O_K1: p.k1 = strtod(optarg, &end); if (*end || !(p.k1 >= 0) || p.k1 > 1000) return idx_cli_usage(argv[0], "--k1 must be a number >= 0"); break;
        case O_B: p.b = strtod(optarg, &end); if (*end || !(p.b >= 0 && p.b <= 1)) return idx_cli_usage(argv[0], "--b must be in [0, 1]"); break;
        default: return idx_cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!qrels) return idx_cli_usage(argv[0], "--qrels is required");
    if (index ? (!queries || optind != argc) : (queries || optind != argc - 1))
        return idx_cli_usage(argv[0], "give either a RUN file, or --index INDEX --queries FILE");
    idx_eval_metric m[32];
    size_t nm;
    idx_err e = idx_eval_metrics_parse(metrics, m, 32, &nm);
    if (e) return idx_cli_usage(argv[0], "%s", idx_errmsg());
    idx_eval_qrels *qr = NULL;
    idx_eval_run *run = NULL;
    idx_eval_result *res = NULL;
    idx_eval_queries *qs = NULL;
    idx_sparse *s = NULL;
    idx_sparse_searcher *sq = NULL;
    idx_sparse_hit *hits = NULL;
    FILE *ro = NULL;
    int rc = 0;
    if ((e = idx_eval_qrels_load(qrels, &qr))) goto fail;
    if (!index) {
        if ((e = idx_eval_run_load(argv[optind], &run))) goto fail;
    } else {
        if ((e = idx_sparse_open(index, IDX_FILE_VERIFY, &s)) || (e = idx_sparse_searcher_new(s, &sq)) ||
            (e = idx_xmalloc(p.k * sizeof *hits, &hits)) || (e = idx_eval_queries_load(queries, &qs)) ||
            (e = idx_eval_run_new(&run)))
            goto fail;
        unk_ctx uc = {s, 0, ""};
        idx_eval_qrels_each(qr, count_unknown, &uc);
        if (uc.unknown)
            fprintf(stderr, "idx eval: warning: %llu judged documents of the qrels are not in the index (e.g. '%s'); "
                            "they count as relevant and never retrieved\n",
                    (unsigned long long)uc.unknown, uc.example);
        if (runout && !(ro = fopen(runout, "w"))) { e = idx_fail(IDX_ERR_IO, "cannot write %s", runout); goto fail; }
        for (size_t i = 0; i < qs->n; i++) {
            size_t n;
            if ((e = idx_sparse_search(sq, qs->texts[i], strlen(qs->texts[i]), &p, hits, &n, NULL))) {
                e = idx_fail_context(e, "query %s", qs->ids[i]);
                goto fail;
            }
            for (size_t j = 0; j < n; j++) {
                const char *id;
                size_t il;
                char idb[1024];
                if ((e = idx_docs_id(idx_sparse_segment_store(s, hits[j].segment), hits[j].doc, &id, &il))) goto fail;
                snprintf(idb, sizeof idb, "%.*s", (int)il, id);
                if ((e = idx_eval_run_add(run, qs->ids[i], idb, hits[j].score))) goto fail;
                if (ro) fprintf(ro, "%s Q0 %s %zu %.6f idx-bm25\n", qs->ids[i], idb, j + 1, hits[j].score);
            }
        }
    }
    if ((e = idx_eval_compute(qr, run, m, nm, &res))) goto fail;
    char names[32][32];
    for (size_t i = 0; i < nm; i++) idx_eval_metric_name(&m[i], names[i], sizeof names[i]);
    if (res->missing)
        fprintf(stderr, "idx eval: %zu of %zu qrels queries have no results in the run (scored 0)\n", res->missing,
                res->nqueries);
    if (res->run_only) fprintf(stderr, "idx eval: %zu run queries have no qrels (ignored)\n", res->run_only);
    if (json) {
        json_t *o = json_object(), *mo = json_object();
        json_object_set_new(o, "queries", json_integer((json_int_t)res->nqueries));
        for (size_t i = 0; i < nm; i++) json_object_set_new(mo, names[i], json_real(res->mean[i]));
        json_object_set_new(o, "metrics", mo);
        if (perq) {
            json_t *pq = json_object();
            for (size_t q = 0; q < res->nqueries; q++) {
                json_t *x = json_object();
                for (size_t i = 0; i < nm; i++) json_object_set_new(x, names[i], json_real(res->values[q * nm + i]));
                json_object_set_new(pq, res->qids[q], x);
            }
            json_object_set_new(o, "per_query", pq);
        }
        json_dumpf(o, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        printf("\n");
        json_decref(o);
    } else {
        if (perq) {
            printf("%-16s", "query");
            for (size_t i = 0; i < nm; i++) printf(" %10s", names[i]);
            printf("\n");
            for (size_t q = 0; q < res->nqueries; q++) {
                printf("%-16s", res->qids[q]);
                for (size_t i = 0; i < nm; i++) printf(" %10.4f", res->values[q * nm + i]);
                printf("\n");
            }
        }
        printf("%-16s", "all");
        for (size_t i = 0; i < nm; i++) printf(" %10s", names[i]);
        printf("\n%-16zu", res->nqueries);
        for (size_t i = 0; i < nm; i++) printf(" %10.4f", res->mean[i]);
        printf("\n");
    }
    goto done;
fail:
    rc = idx_cli_fail(argv[0], e);
done:
    if (ro) fclose(ro);
    idx_eval_result_free(res);
    idx_eval_run_free(run);
    idx_eval_qrels_free(qr);
    idx_eval_queries_free(qs);
    free(hits);
    idx_sparse_searcher_free(sq);
    idx_sparse_close(s);
    return rc;
}
IDX_CLI_COMMAND(eval, cmd_eval, "evaluate a run (nDCG@k, Recall@k, MRR@k, MAP) against qrels", EVAL_USAGE);
