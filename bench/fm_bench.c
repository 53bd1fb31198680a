/*
 * fm_bench.c -- our side of the FM-index benchmark: opens an index directory
 * built by `idx build` and measures, through the library API only, what
 * bench/sdsl_peer.cpp measures on the peer, with the same query files (made
 * by bench/qgen.c) and the same output protocol, so bench/fm_table.py can put
 * the two side by side and check that every answer agrees.
 *
 *   fm_bench INDEX QDIR OUTDIR REPS LABEL
 *
 * - count: for each set in QDIR (present50, absent50, present10, present200;
 *   one hex-encoded query per line) one untimed warm-up pass, then REPS timed
 *   passes of idx_fm_count, one clock reading around each query; prints the
 *   median over passes of p50, p99 and mean (µs); writes the counts to
 *   OUTDIR/LABEL.SET.counts.
 * - locate: for every present50 query with 1..1000 occurrences, idx_fm_find
 *   (untimed) then idx_fm_locate on every rank of every shard (timed); prints
 *   µs per occurrence (median over passes); writes per query
 *   "COUNT SUM(mix64(doc<<40 ^ offset))" to OUTDIR/LABEL.locate, the same
 *   order-independent hash qgen computes by a naive scan.
 * - window: for each "DOC OFFSET LEN HASH" line of QDIR/windows.w, a timed
 *   idx_docs_text(doc, offset, len); prints p50/p99 (µs); writes the FNV-1a
 *   hash of each window to OUTDIR/LABEL.windows. With the text source "fm"
 *   (`idx build --text fm`, the compact layout's default) that is FM
 *   extraction (idx_fm_extract via the store; "window.text_fm 1"), else one
 *   zstd block of the document store.
 * Results go to stdout as "key value" lines. Exit 1 on any library error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idx_common.h"
#include "idx_index.h"

typedef struct {
    unsigned char *bytes;
    size_t *off, *len, n;
} qfile;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
static void die(const char *what) {
    fprintf(stderr, "fm_bench: %s: %s\n", what, idx_errmsg());
    exit(1);
}
static void die_msg(const char *what) {
    fprintf(stderr, "fm_bench: %s\n", what);
    exit(1);
}
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return z ^ (z >> 33);
}
static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}
static void read_queries(const char *path, qfile *q) {
    idx_buf b = {0};
    if (idx_read_file(path, 0, &b) != IDX_OK) die(path);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++) lines += b.data[i] == '\n';
    q->bytes = malloc(b.len / 2 + 1);
    q->off = malloc((lines + 1) * sizeof(size_t));
    q->len = malloc((lines + 1) * sizeof(size_t));
    if (!q->bytes || !q->off || !q->len) die_msg("out of memory");
    q->n = 0;
    size_t w = 0, i = 0;
    while (i < b.len) {
        q->off[q->n] = w;
        for (; i < b.len && b.data[i] != '\n'; i += 2) {
            int hi = hexval((unsigned char)b.data[i]);
            int lo = i + 1 < b.len ? hexval((unsigned char)b.data[i + 1]) : -1;
            if (hi < 0 || lo < 0) die_msg("bad hex in a query file");
            q->bytes[w++] = (unsigned char)(hi << 4 | lo);
        }
        q->len[q->n] = w - q->off[q->n];
        q->n++;
        i++;
    }
    idx_buf_free(&b);
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* Percentile p of v[0..n) (sorts v). */
static double pct(double *v, size_t n, double p) {
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}
static FILE *out_file(const char *dir, const char *label, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, label, name);
    FILE *f = fopen(path, "w");
    if (!f) die_msg("cannot write an output file");
    return f;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: fm_bench INDEX QDIR OUTDIR REPS LABEL\n");
        return 2;
    }
    const char *index = argv[1], *qdir = argv[2], *outdir = argv[3], *label = argv[5];
    int reps = atoi(argv[4]);
    if (reps < 1 || reps > 16) die_msg("REPS must be 1..16");
    double t0 = now_us();
    idx_fm *fm = NULL;
    idx_docs *docs = NULL;
    if (idx_fm_open(index, 0, &fm) != IDX_OK) die("idx_fm_open");
    if (idx_docs_open(index, 0, &docs) != IDX_OK) die("idx_docs_open");
    /* text source "fm": windows are FM extraction through this FM-index */
    if (idx_docs_attach_fm(docs, fm) != IDX_OK) die("idx_docs_attach_fm");
    printf("window.text_fm %d\n", idx_docs_text_source(docs) == IDX_DOCS_TEXT_FM);
    printf("load_seconds %.3f\nshards %zu\n", (now_us() - t0) / 1e6, idx_fm_shard_count(fm));

    static const char *sets[] = {"present50", "absent50", "present10", "present200"};
    qfile p50 = {0};
    double med[3][16];
    for (size_t s = 0; s < 4; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.q", qdir, sets[s]);
        qfile q;
        read_queries(path, &q);
        uint64_t *counts = calloc(q.n + 1, 8);
        double *lat = malloc((q.n + 1) * sizeof(double)), *last = malloc((q.n + 1) * sizeof(double));
        if (!counts || !lat || !last) die_msg("out of memory");
        for (int rep = -1; rep < reps; rep++) { /* rep -1 warms up */
            double sum = 0;
            for (size_t i = 0; i < q.n; i++) {
                double a = now_us();
                if (idx_fm_count(fm, q.bytes + q.off[i], q.len[i], &counts[i]) != IDX_OK)
                    die("idx_fm_count");
                lat[i] = last[i] = now_us() - a;
                sum += lat[i];
            }
            if (rep < 0) continue;
            med[2][rep] = sum / (double)(q.n ? q.n : 1);
            med[1][rep] = pct(lat, q.n, 0.99);
            med[0][rep] = pct(lat, q.n, 0.5);
        }
        printf("count.%s.p50_us %.3f\ncount.%s.p99_us %.3f\ncount.%s.mean_us %.3f\n", sets[s],
               pct(med[0], (size_t)reps, 0.5), sets[s], pct(med[1], (size_t)reps, 0.5), sets[s],
               pct(med[2], (size_t)reps, 0.5));
        snprintf(path, sizeof path, "%s.counts", sets[s]);
        FILE *f = out_file(outdir, label, path);
        for (size_t i = 0; i < q.n; i++) fprintf(f, "%" PRIu64 "\n", counts[i]);
        fclose(f);
        snprintf(path, sizeof path, "%s.lat", sets[s]); /* last pass, query order */
        f = out_file(outdir, label, path);
        for (size_t i = 0; i < q.n; i++) fprintf(f, "%.3f\n", last[i]);
        fclose(f);
        free(counts);
        free(lat);
        free(last);
        if (s == 0) p50 = q;
        else {
            free(q.bytes);
            free(q.off);
            free(q.len);
        }
    }

    /* locate */
    size_t nshards = idx_fm_shard_count(fm);
    idx_fm_range *ranges = malloc((nshards + 1) * sizeof *ranges);
    uint64_t *hashes = calloc(p50.n + 1, 8), *nocc = calloc(p50.n + 1, 8);
    if (!ranges || !hashes || !nocc) die_msg("out of memory");
    uint64_t total_occ = 0, nq = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t = 0;
        total_occ = nq = 0;
        for (size_t i = 0; i < p50.n; i++) {
            uint64_t c = 0;
            if (idx_fm_find(fm, p50.bytes + p50.off[i], p50.len[i], ranges, &c) != IDX_OK)
                die("idx_fm_find");
            if (c == 0 || c > 1000) continue;
            uint64_t h = 0;
            double a = now_us();
            for (size_t s = 0; s < nshards; s++)
                for (uint64_t r = ranges[s].lo; r < ranges[s].hi; r++) {
                    uint64_t doc, off;
                    if (idx_fm_locate(fm, s, r, &doc, &off) != IDX_OK) die("idx_fm_locate");
                    h += mix64(doc << 40 ^ off);
                }
            t += now_us() - a;
            hashes[i] = h;
            nocc[i] = c;
            total_occ += c;
            nq++;
        }
        med[0][rep] = t / (double)(total_occ ? total_occ : 1);
    }
    printf("locate.queries %" PRIu64 "\nlocate.occurrences %" PRIu64 "\nlocate.us_per_occ %.3f\n", nq,
           total_occ, pct(med[0], (size_t)reps, 0.5));
    FILE *f = out_file(outdir, label, "locate");
    for (size_t i = 0; i < p50.n; i++) fprintf(f, "%" PRIu64 " %016" PRIx64 "\n", nocc[i], hashes[i]);
    fclose(f);

    /* windows */
    char path[4096];
    snprintf(path, sizeof path, "%s/windows.w", qdir);
    FILE *wf = fopen(path, "r");
    if (!wf) die_msg("cannot open windows.w");
    size_t nw = 0, capw = 1024;
    uint64_t(*win)[3] = malloc(capw * sizeof *win);
    unsigned long long d, o, l;
    char hx[64];
    while (win && fscanf(wf, "%llu %llu %llu %63s", &d, &o, &l, hx) == 4) {
        if (nw == capw) {
            capw *= 2;
            win = realloc(win, capw * sizeof *win);
            if (!win) break;
        }
        win[nw][0] = d;
        win[nw][1] = o;
        win[nw][2] = l;
        nw++;
    }
    fclose(wf);
    if (!win) die_msg("out of memory");
    double *lat = malloc((nw + 1) * sizeof(double));
    uint64_t *wh = calloc(nw + 1, 8);
    if (!lat || !wh) die_msg("out of memory");
    idx_buf b = {0};
    for (int rep = 0; rep < reps; rep++) {
        for (size_t i = 0; i < nw; i++) {
            b.len = 0;
            double a = now_us();
            if (idx_docs_text(docs, win[i][0], win[i][1], win[i][2], &b) != IDX_OK) die("idx_docs_text");
            lat[i] = now_us() - a;
            wh[i] = fnv1a((const unsigned char *)b.data, b.len);
        }
        med[1][rep] = pct(lat, nw, 0.99);
        med[0][rep] = pct(lat, nw, 0.5);
    }
    printf("window.count %zu\nwindow.p50_us %.3f\nwindow.p99_us %.3f\n", nw, pct(med[0], (size_t)reps, 0.5),
           pct(med[1], (size_t)reps, 0.5));
    f = out_file(outdir, label, "windows");
    for (size_t i = 0; i < nw; i++) fprintf(f, "%016" PRIx64 "\n", wh[i]);
    fclose(f);

    idx_buf_free(&b);
    free(lat);
    free(wh);
    free(win);
    free(ranges);
    free(hashes);
    free(nocc);
    free(p50.bytes);
    free(p50.off);
    free(p50.len);
    idx_docs_close(docs);
    idx_fm_close(fm);
    return 0;
}
