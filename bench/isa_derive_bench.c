/*
 * isa_derive_bench.c -- could the inverse suffix-array samples be derived
 * from the text-order SA samples a shard already has, instead of stored in
 * the "isa" section? The samples are a permutation pi (row-order index j ->
 * text position / s) of the m = n/s + 1 sampled rows; the row of position
 * k*s is select(marks, pi^-1(k)). This measures pi^-1 answered with Munro et
 * al.'s shortcut pointers (Succinct representations of permutations, ICALP
 * 2003): on every cycle longer than t, every t-th element gets a pointer t+1
 * steps back; pi^-1(k) follows pi from k until a marked element, jumps back,
 * and follows pi to k's predecessor (at most ~2t+2 reads of the packed
 * samples). It reports, for one shard file: the cycle structure, the size of
 * the shortcut structure (pointers at ceil(log2 m) bits + a sparse bit vector
 * of the marked elements estimated at 2 + log2(m / marks) bits each, as an
 * Elias-Fano sd_vector costs) as % of the shard's text, and the latency of
 * pi^-1 for random k (checked against the plain inverse). The sd_vector
 * select that turns pi^-1(k) into a row is not included.
 *
 *   isa_derive_bench SHARD.fm [T...]      (default T = 8 16 32 64)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idx_common.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static const uint64_t *g_s;
static unsigned g_bits;
static inline uint64_t pi(uint64_t k) {
    uint64_t bit = k * g_bits, w = bit >> 6, o = bit & 63;
    uint64_t v = g_s[w] >> o;
    if (o + g_bits > 64) v |= g_s[w + 1] << (64 - o);
    return v & ((UINT64_C(1) << g_bits) - 1);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: isa_derive_bench SHARD.fm [T...]\n");
        return 2;
    }
    idx_file *f;
    if (idx_file_open(argv[1], "IDXFMSH1", 1, 0, &f) != IDX_OK) {
        fprintf(stderr, "%s\n", idx_errmsg());
        return 1;
    }
    const void *p;
    uint64_t sz;
    if (idx_file_section(f, "meta", &p, &sz) != IDX_OK || sz < 9 * 8) return 1;
    const uint64_t *meta = p;
    uint64_t n = meta[1], s = meta[6], m = meta[7];
    g_bits = (unsigned)meta[8];
    if (idx_file_section(f, "samples", &p, &sz) != IDX_OK) return 1;
    g_s = p;
    printf("shard %s: n %" PRIu64 ", s %" PRIu64 ", m %" PRIu64 " samples of %u bits (%.2f%% of the text)\n", argv[1],
           n, s, m, g_bits, 100.0 * (double)(m * g_bits) / 8 / (double)n);
    /* the plain inverse, for checking, and the cycles */
    uint32_t *inv = malloc(m * sizeof *inv);
    uint8_t *seen = calloc(m, 1);
    uint64_t *cyc_start = NULL, ncyc = 0, cap = 0, longest = 0;
    for (uint64_t j = 0; j < m; j++) inv[pi(j)] = (uint32_t)j;
    for (uint64_t j = 0; j < m; j++) {
        if (seen[j]) continue;
        uint64_t len = 0, x = j;
        do {
            seen[x] = 1;
            x = pi(x);
            len++;
        } while (x != j);
        if (ncyc == cap) {
            cap = cap ? 2 * cap : 1024;
            cyc_start = realloc(cyc_start, cap * 2 * sizeof *cyc_start);
        }
        cyc_start[2 * ncyc] = j;
        cyc_start[2 * ncyc + 1] = len;
        ncyc++;
        if (len > longest) longest = len;
    }
    printf("cycles %" PRIu64 ", longest %" PRIu64 "\n", ncyc, longest);
    int nt = argc > 2 ? argc - 2 : 4;
    for (int ti = 0; ti < nt; ti++) {
        uint64_t t = argc > 2 ? strtoull(argv[2 + ti], NULL, 10) : (uint64_t[]){8, 16, 32, 64}[ti];
        if (t < 1) continue;
        /* marks and back pointers (a hash-free layout for the experiment: a
         * dense array indexed by element; only the counts give the size) */
        uint32_t *back = malloc(m * sizeof *back);
        uint8_t *mark = calloc(m, 1);
        uint64_t nmarks = 0;
        for (uint64_t c = 0; c < ncyc; c++) {
            uint64_t start = cyc_start[2 * c], len = cyc_start[2 * c + 1];
            if (len <= t + 1) continue;
            /* ring of the last t+2 elements walked */
            uint64_t *ring = malloc((t + 2) * sizeof *ring);
            uint64_t x = start;
            for (uint64_t i = 0; i < 2 * len; i++) { /* two laps: the second one marks */
                ring[i % (t + 2)] = x;
                if (i >= len && (i - len) % t == 0 && i - len < len) {
                    /* element at cycle index i - len gets a pointer t+1 back */
                    uint64_t e = x, b = ring[(i - t - 1) % (t + 2)];
                    if (!mark[e]) {
                        mark[e] = 1;
                        back[e] = (uint32_t)b;
                        nmarks++;
                    }
                }
                x = pi(x);
            }
            free(ring);
        }
        double ptr_bits = (double)nmarks * g_bits;
        double sd_bits = nmarks ? (double)nmarks * (2.0 + log2((double)m / (double)nmarks)) : 0;
        /* queries */
        uint64_t nq = 100000, rs = 42, maxsteps = 0, totsteps = 0;
        double *lat = malloc(nq * sizeof *lat);
        for (uint64_t q = 0; q < nq; q++) {
            rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t k = (rs >> 11) % m;
            double a = now_us();
            uint64_t x = k, steps = 0;
            int jumped = 0;
            for (;;) {
                uint64_t y = pi(x);
                steps++;
                if (y == k) break;
                if (!jumped && mark[x]) {
                    x = back[x];
                    jumped = 1;
                } else {
                    x = y;
                }
            }
            lat[q] = now_us() - a;
            if (x != inv[k]) {
                fprintf(stderr, "wrong inverse for %" PRIu64 "\n", k);
                return 1;
            }
            totsteps += steps;
            if (steps > maxsteps) maxsteps = steps;
        }
        qsort(lat, nq, sizeof *lat, cmp_d);
        printf("t %3" PRIu64 ": marks %9" PRIu64 ", pointers %.3f%% + marks %.3f%% = %.3f%% of the text; pi^-1: "
               "steps mean %.1f max %" PRIu64 ", p50 %.2f us, p99 %.2f us\n",
               t, nmarks, 100.0 * ptr_bits / 8 / (double)n, 100.0 * sd_bits / 8 / (double)n,
               100.0 * (ptr_bits + sd_bits) / 8 / (double)n, (double)totsteps / (double)nq, maxsteps, lat[nq / 2],
               lat[nq * 99 / 100]);
        free(lat);
        free(back);
        free(mark);
    }
    printf("stored isa at r: %u bits per r bytes (r = 128: %.3f%% of the text)\n", 64 - __builtin_clzll(n),
           100.0 * (64 - __builtin_clzll(n)) / 8 / 128);
    free(inv);
    free(seen);
    free(cyc_start);
    idx_file_close(f);
    return 0;
}
