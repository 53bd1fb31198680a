/*
 * run_file.c -- fuzz target: the TREC run-file parser, then evaluation of
 * whatever parsed against fixed qrels.
 */
#include <stdint.h>
#include <string.h>

#include "idx_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    idx_eval_run *r = NULL;
    if (idx_eval_run_parse((const char *)data, size, "fuzz", &r) != IDX_OK) return 0;
    static const char q[] = "q1\td1\t1\nq1\td2\t2\nq2\td3\t1\n";
    idx_eval_qrels *qr = NULL;
    if (idx_eval_qrels_parse(q, strlen(q), "qrels", &qr) == IDX_OK) {
        idx_eval_metric m[4];
        size_t nm;
        idx_eval_result *res = NULL;
        if (idx_eval_metrics_parse("ndcg@10,recall@5,mrr@10,map", m, 4, &nm) == IDX_OK &&
            idx_eval_compute(qr, r, m, nm, &res) == IDX_OK)
            idx_eval_result_free(res);
        idx_eval_qrels_free(qr);
    }
    idx_eval_run_free(r);
    return 0;
}
