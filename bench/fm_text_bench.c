/*
 * fm_text_bench.c -- what returning document text costs: opens an index
 * directory and measures, through idx_docs_text (so the text comes from
 * wherever the index keeps it: the zstd store or the FM-index), the latency of
 * random windows and the throughput of whole documents, and optionally checks
 * every byte against a second index of the same corpus (e.g. one built with
 * `--text store`).
 *
 *   fm_text_bench INDEX [--ref REF_INDEX] [--windows N] [--len L] [--show-mb M] [--seed S]
 *
 * - windows: N (default 2000) windows of L (default 1000) bytes at uniformly
 *   random (document, offset) among documents of at least L bytes, seeded;
 *   one untimed warm-up pass, then one timed pass; prints p50/p90/p99/mean (us).
 * - show: whole documents in id order from a seeded random start until M
 *   (default 50) MB are returned; prints MB/s.
 * - --ref: every window and every shown document compared byte for byte with
 *   REF_INDEX; any difference is printed and the exit code is 1.
 * Results go to stdout as "key value" lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idx_common.h"
#include "idx_index.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what) {
    fprintf(stderr, "fm_text_bench: %s: %s\n", what, idx_errmsg());
    exit(1);
}

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static idx_docs *open_docs(const char *dir, idx_fm **fm) {
    idx_docs *d;
    if (idx_docs_open(dir, 0, &d) != IDX_OK) die(dir);
    *fm = NULL;
    if (idx_docs_text_source(d) == IDX_DOCS_TEXT_FM) {
        if (idx_fm_open(dir, 0, fm) != IDX_OK || idx_docs_attach_fm(d, *fm) != IDX_OK) die(dir);
    }
    return d;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *ref = NULL;
    uint64_t nwin = 2000, wlen = 1000, show_mb = 50, seed = 42;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ref") && i + 1 < argc) ref = argv[++i];
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) nwin = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--len") && i + 1 < argc) wlen = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--show-mb") && i + 1 < argc) show_mb = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!dir && argv[i][0] != '-') dir = argv[i];
        else {
            fprintf(stderr, "usage: fm_text_bench INDEX [--ref REF] [--windows N] [--len L] [--show-mb M] [--seed S]\n");
            return 2;
        }
    }
    if (!dir || nwin == 0) {
        fprintf(stderr, "usage: fm_text_bench INDEX [--ref REF] [--windows N] [--len L] [--show-mb M] [--seed S]\n");
        return 2;
    }
    idx_fm *fm, *rfm = NULL;
    double t0 = now_us();
    idx_docs *d = open_docs(dir, &fm), *rd = ref ? open_docs(ref, &rfm) : NULL;
    printf("open_ms %.1f\n", (now_us() - t0) / 1e3);
    int src = idx_docs_text_source(d);
    printf("text_source %s\n", src == IDX_DOCS_TEXT_FM ? "fm" : src == IDX_DOCS_TEXT_STORE ? "store" : "none");
    uint64_t nd = idx_docs_count(d);
    if (rd && (idx_docs_count(rd) != nd || idx_docs_text_bytes(rd) != idx_docs_text_bytes(d))) {
        fprintf(stderr, "fm_text_bench: %s and %s hold different corpora\n", dir, ref);
        return 1;
    }
    /* documents long enough for a full window */
    uint64_t *cand = malloc(nd * sizeof *cand), nc = 0;
    for (uint64_t i = 0; i < nd; i++) {
        uint64_t l;
        if (idx_docs_len(d, i, &l) != IDX_OK) die("len");
        if (l >= wlen) cand[nc++] = i;
    }
    if (!nc) {
        fprintf(stderr, "fm_text_bench: no document of %" PRIu64 " bytes\n", wlen);
        return 1;
    }
    rng_state = seed;
    uint64_t (*win)[2] = malloc(nwin * sizeof *win);
    for (uint64_t i = 0; i < nwin; i++) {
        uint64_t doc = cand[rnd() % nc], l;
        idx_docs_len(d, doc, &l);
        win[i][0] = doc;
        win[i][1] = rnd() % (l - wlen + 1);
    }
    double *lat = malloc(nwin * sizeof *lat);
    idx_buf b = {0}, rb = {0};
    int bad = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < nwin; i++) {
            b.len = 0;
            double a = now_us();
            if (idx_docs_text(d, win[i][0], win[i][1], wlen, &b) != IDX_OK) die("window");
            lat[i] = now_us() - a;
            if (pass == 1 && rd) {
                rb.len = 0;
                if (idx_docs_text(rd, win[i][0], win[i][1], wlen, &rb) != IDX_OK) die("ref window");
                if (rb.len != b.len || memcmp(rb.data, b.data, b.len)) {
                    if (bad++ < 5)
                        fprintf(stderr, "window %" PRIu64 " (doc %" PRIu64 " offset %" PRIu64 ") differs\n", i,
                                win[i][0], win[i][1]);
                }
            }
        }
    double sum = 0;
    for (uint64_t i = 0; i < nwin; i++) sum += lat[i];
    qsort(lat, nwin, sizeof *lat, cmp_d);
    printf("window.len %" PRIu64 "\nwindow.count %" PRIu64 "\n", wlen, nwin);
    printf("window.p50_us %.1f\nwindow.p90_us %.1f\nwindow.p99_us %.1f\nwindow.mean_us %.1f\n", lat[nwin / 2],
           lat[nwin * 9 / 10], lat[nwin * 99 / 100], sum / (double)nwin);
    /* show: whole documents */
    uint64_t want = show_mb * 1000000, got = 0, ndoc = 0, doc = rnd() % nd;
    double ts = 0;
    while (got < want && ndoc < nd) {
        uint64_t l;
        idx_docs_len(d, doc, &l);
        b.len = 0;
        double a = now_us();
        if (idx_docs_text(d, doc, 0, l, &b) != IDX_OK) die("show");
        ts += now_us() - a;
        if (b.len != l) {
            fprintf(stderr, "document %" PRIu64 ": %zu bytes, expected %" PRIu64 "\n", doc, b.len, l);
            bad++;
        }
        if (rd) {
            rb.len = 0;
            if (idx_docs_text(rd, doc, 0, l, &rb) != IDX_OK) die("ref show");
            if (rb.len != b.len || memcmp(rb.data, b.data, b.len)) {
                if (bad++ < 5) fprintf(stderr, "document %" PRIu64 " differs\n", doc);
            }
        }
        got += l;
        ndoc++;
        doc = (doc + 1) % nd;
    }
    printf("show.docs %" PRIu64 "\nshow.bytes %" PRIu64 "\nshow.MB_per_s %.2f\n", ndoc, got,
           ts > 0 ? (double)got / ts : 0.0);
    if (rd) printf("checked_against %s: %s\n", ref, bad ? "DIFFERENCES" : "identical");
    idx_buf_free(&b);
    idx_buf_free(&rb);
    free(win);
    free(lat);
    free(cand);
    idx_docs_close(d);
    idx_docs_close(rd);
    idx_fm_close(fm);
    idx_fm_close(rfm);
    return bad ? 1 : 0;
}
