/*
 * idx_eval.h -- retrieval evaluation with trec_eval semantics: qrels (BEIR
 * TSV "query-id corpus-id score" with or without its header, or TREC
 * "qid iter docid rel"), TREC run files ("qid Q0 docid rank score tag"), and
 * the BEIR metrics nDCG@k, Recall@k, P@k, MRR@k and MAP (full depth or @k).
 *
 * Semantics (trec_eval 9.x, what pytrec_eval and BEIR use):
 *  - a run's documents are ranked by score descending, ties by docid
 *    descending (strcmp); the rank column is ignored;
 *  - a document is relevant when its grade is >= 1; nDCG gains are the
 *    grades themselves (linear), discount log2(rank + 1), ideal DCG from the
 *    qrels' grades; unjudged documents are not relevant;
 *  - the average is over every query of the qrels (trec_eval -c): a query
 *    with no line in the run scores 0; run queries absent from the qrels are
 *    ignored (and counted).
 */
#ifndef IDX_EVAL_H
#define IDX_EVAL_H

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct idx_eval_qrels idx_eval_qrels;
typedef struct idx_eval_run idx_eval_run;

/* Parses qrels text (name is used in messages). Bad lines and duplicate
 * (query, document) pairs give IDX_ERR_PARSE naming the line. */
idx_err idx_eval_qrels_parse(const char *data, size_t len, const char *name, idx_eval_qrels **out);
idx_err idx_eval_qrels_load(const char *path, idx_eval_qrels **out);
void idx_eval_qrels_free(idx_eval_qrels *q);
size_t idx_eval_qrels_queries(const idx_eval_qrels *q);
/* Calls fn for every judged (query, document) pair; stops if fn returns non-zero. */
void idx_eval_qrels_each(const idx_eval_qrels *q,
                         int (*fn)(void *ud, const char *qid, const char *docid, int rel), void *ud);

/* Parses a TREC run file. Lines must have 6 fields with an integer rank and
 * a finite score; a document listed twice for one query is an error. */
idx_err idx_eval_run_parse(const char *data, size_t len, const char *name, idx_eval_run **out);
idx_err idx_eval_run_load(const char *path, idx_eval_run **out);
/* Builds a run in memory (e.g. straight from retrieval). */
idx_err idx_eval_run_new(idx_eval_run **out);
idx_err idx_eval_run_add(idx_eval_run *r, const char *qid, const char *docid, double score);
void idx_eval_run_free(idx_eval_run *r);

/* Queries for batch retrieval: BEIR queries.jsonl ({"_id": ..., "text": ...}
 * per line; detected by a first non-blank byte '{') or TSV "id<TAB>text".
 * Bad lines give IDX_ERR_PARSE naming the line; empty text is kept (it
 * retrieves nothing). */
typedef struct {
    size_t n;
    char **ids;
    char **texts;
} idx_eval_queries;
idx_err idx_eval_queries_parse(const char *data, size_t len, const char *name, idx_eval_queries **out);
idx_err idx_eval_queries_load(const char *path, idx_eval_queries **out);
void idx_eval_queries_free(idx_eval_queries *q);

typedef enum {
    IDX_METRIC_NDCG = 1,
    IDX_METRIC_RECALL = 2,
    IDX_METRIC_PRECISION = 3,
    IDX_METRIC_MRR = 4,
    IDX_METRIC_MAP = 5
} idx_metric_kind;

typedef struct {
    idx_metric_kind kind;
    unsigned k; /* cutoff; 0 = whole run (MAP) */
} idx_eval_metric;

/* Parses "ndcg@10,recall@100,p@10,mrr@10,map,map@100" into m (at most max). */
idx_err idx_eval_metrics_parse(const char *spec, idx_eval_metric *m, size_t max, size_t *n);
/* "ndcg@10" etc. into buf. */
void idx_eval_metric_name(const idx_eval_metric *m, char *buf, size_t n);

typedef struct {
    size_t nqueries;     /* queries averaged over (those of the qrels) */
    size_t nmetrics;
    char **qids;         /* nqueries, sorted */
    double *values;      /* nqueries x nmetrics, row-major */
    double *mean;        /* nmetrics */
    size_t run_only;     /* run queries with no qrels (ignored) */
    size_t missing;      /* qrels queries the run does not answer (scored 0) */
} idx_eval_result;

idx_err idx_eval_compute(const idx_eval_qrels *q, const idx_eval_run *r, const idx_eval_metric *m,
                         size_t nm, idx_eval_result **out);
void idx_eval_result_free(idx_eval_result *res);

#ifdef __cplusplus
}
#endif
#endif
