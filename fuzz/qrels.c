/*
 * qrels.c -- fuzz target: the qrels parser (BEIR TSV and TREC), then
 * evaluation of a fixed run against whatever parsed.
 */
#include <stdint.h>
#include <string.h>

#include "idx_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    idx_eval_qrels *qr = NULL;
    if (idx_eval_qrels_parse((const char *)data, size, "fuzz", &qr) != IDX_OK) return 0;
    static const char run[] = "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\n1 Q0 d3 1 1 t\n";
    idx_eval_run *r = NULL;
    if (idx_eval_run_parse(run, strlen(run), "run", &r) == IDX_OK) {
        idx_eval_metric m[5];
        size_t nm;
        idx_eval_result *res = NULL;
        if (idx_eval_metrics_parse("ndcg@10,recall@5,p@3,mrr@10,map", m, 5, &nm) == IDX_OK &&
            idx_eval_compute(qr, r, m, nm, &res) == IDX_OK)
            idx_eval_result_free(res);
        idx_eval_run_free(r);
    }
    idx_eval_qrels_free(qr);
    return 0;
}
