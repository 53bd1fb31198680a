/*
 * qgen.c -- the benchmark's query sets and their ground truth, computed by a
 * naive scan of the text (independent of both FM-indexes under test).
 *
 * Input: TEXT.bin from bench/jsonl_to_text.py (documents, each followed by a
 * 0xFF byte). Output, in OUTDIR:
 *   present50.q present10.q present200.q  N random substrings of that length
 *                      lying inside one document (uniform over text positions)
 *   absent50.q         N 50-byte strings: a present one with one byte changed
 *                      to another byte value that occurs in the corpus,
 *                      checked absent by the scan
 *   SET.truth          per query: "COUNT POSHASH", the exact occurrence count
 *                      and the sum over occurrences of mix64(doc<<40 ^ offset)
 *                      (doc = document number, offset = byte offset inside it),
 *                      so that located occurrences can be checked as a set
 *   windows.w          per line "DOC OFFSET LEN FNV1A64": a window of up to
 *                      1,000 bytes around the first W present50 samples,
 *                      clamped to the document, with the hash of its bytes
 * Query files hold one query per line in lowercase hex (queries contain
 * newlines and any byte).
 *
 * The counts come from one Rabin-Karp pass per query length: a rolling
 * polynomial hash, a 2 MiB bitmap filter, then a binary search in the sorted
 * query hashes and memcmp, so every count is exact.
 *
 *   qgen TEXT.bin OUTDIR [--n 10000] [--windows 2000] [--seed 42]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEP 0xFF
#define BASE 0x100000001b3ULL
#define FILTER_BITS 24

static const uint8_t *T;
static uint64_t N;
static uint64_t *starts; /* document start offsets, ndocs + 1 entries */
static uint64_t ndocs;

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return z ^ (z >> 33);
}
static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
static void die(const char *msg) {
    fprintf(stderr, "qgen: %s\n", msg);
    exit(1);
}

typedef struct {
    uint8_t *bytes; /* n * len */
    uint64_t n, len;
    uint64_t *count, *poshash;
    uint64_t *doc, *off; /* where it was sampled (present sets) */
} qset;

static void qset_free(qset *q) {
    free(q->bytes);
    free(q->count);
    free(q->poshash);
    free(q->doc);
    free(q->off);
}

static void qset_init(qset *q, uint64_t n, uint64_t len) {
    q->n = n;
    q->len = len;
    q->bytes = calloc(n, len);
    q->count = calloc(n, 8);
    q->poshash = calloc(n, 8);
    q->doc = calloc(n, 8);
    q->off = calloc(n, 8);
    if (!q->bytes || !q->count || !q->poshash || !q->doc || !q->off) die("out of memory");
}

static uint64_t doc_of(uint64_t pos) { /* last start <= pos */
    uint64_t lo = 0, hi = ndocs;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= pos) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* A uniformly random position p with T[p..p+len) inside one document. */
static uint64_t sample_pos(uint64_t len) {
    for (int tries = 0; tries < 100000000; tries++) {
        uint64_t p = rng() % N;
        if (p + len > N) continue;
        if (memchr(T + p, SEP, len)) continue;
        return p;
    }
    die("no document is long enough for the query length");
    return 0;
}

static void sample_present(qset *q, uint64_t i) {
    uint64_t p = sample_pos(q->len);
    memcpy(q->bytes + i * q->len, T + p, q->len);
    q->doc[i] = doc_of(p);
    q->off[i] = p - starts[q->doc[i]];
}

/* Rabin-Karp over the whole text for several sets of the same length. */
typedef struct {
    uint64_t h;
    qset *set;
    uint64_t i;
} entry;
static uint64_t cmp_len; /* query length for cmp_entry */
static int cmp_entry(const void *a, const void *b) {
    const entry *p = a, *q = b;
    if (p->h != q->h) return p->h < q->h ? -1 : 1;
    return memcmp(p->set->bytes + p->i * cmp_len, q->set->bytes + q->i * cmp_len, cmp_len);
}
static uint64_t hash_of(const uint8_t *p, uint64_t len) {
    uint64_t h = 0;
    for (uint64_t i = 0; i < len; i++) h = h * BASE + p[i];
    return h;
}
static void count_naive(qset **sets, int nsets) {
    uint64_t len = sets[0]->len, total = 0;
    for (int s = 0; s < nsets; s++) total += sets[s]->n;
    entry *e = malloc(total * sizeof *e);
    uint64_t *filter = calloc((1u << FILTER_BITS) / 64, 8);
    if (!e || !filter) die("out of memory");
    uint64_t k = 0;
    for (int s = 0; s < nsets; s++)
        for (uint64_t i = 0; i < sets[s]->n; i++) {
            sets[s]->count[i] = sets[s]->poshash[i] = 0;
            e[k].h = hash_of(sets[s]->bytes + i * len, len);
            e[k].set = sets[s];
            e[k].i = i;
            filter[(e[k].h >> (64 - FILTER_BITS)) / 64] |= 1ULL << ((e[k].h >> (64 - FILTER_BITS)) % 64);
            k++;
        }
    /* identical queries (short ones are often drawn many times) are scanned for
     * once: u[] holds one entry per distinct query, sorted by hash */
    cmp_len = len;
    qsort(e, total, sizeof *e, cmp_entry);
    entry *u = malloc(total * sizeof *u);
    if (!u) die("out of memory");
    uint64_t nu = 0;
    for (uint64_t k2 = 0; k2 < total; k2++)
        if (nu == 0 || cmp_entry(&u[nu - 1], &e[k2]) != 0) u[nu++] = e[k2];
    if (N < len) goto done;
    uint64_t pw = 1; /* BASE^len */
    for (uint64_t i = 0; i < len; i++) pw *= BASE;
    uint64_t h = hash_of(T, len), doc = 0;
    for (uint64_t p = 0;; p++) {
        /* doc = document of position p (T[p] may be a separator: then no match) */
        uint64_t f = h >> (64 - FILTER_BITS);
        if (filter[f / 64] >> (f % 64) & 1) {
            uint64_t lo = 0, hi = nu;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (u[mid].h < h) lo = mid + 1;
                else hi = mid;
            }
            for (; lo < nu && u[lo].h == h; lo++) {
                qset *q = u[lo].set;
                if (memcmp(q->bytes + u[lo].i * len, T + p, len) == 0) {
                    q->count[u[lo].i]++;
                    q->poshash[u[lo].i] += mix64(doc << 40 ^ (p - starts[doc]));
                }
            }
        }
        if (p + len >= N) break;
        if (T[p] == SEP) doc++;
        h = h * BASE + T[p + len] - pw * T[p];
    }
done:
    /* copy each distinct query's answer to its duplicates */
    for (uint64_t k2 = 0, r = 0; k2 < total; k2++) {
        while (cmp_entry(&u[r], &e[k2]) != 0) r++;
        e[k2].set->count[e[k2].i] = u[r].set->count[u[r].i];
        e[k2].set->poshash[e[k2].i] = u[r].set->poshash[u[r].i];
    }
    free(u);
    free(e);
    free(filter);
}

static void write_set(const char *dir, const char *name, const qset *q) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.q", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) die(strerror(errno));
    static const char hx[] = "0123456789abcdef";
    for (uint64_t i = 0; i < q->n; i++) {
        const uint8_t *b = q->bytes + i * q->len;
        for (uint64_t j = 0; j < q->len; j++) {
            fputc(hx[b[j] >> 4], f);
            fputc(hx[b[j] & 15], f);
        }
        fputc('\n', f);
    }
    if (fclose(f)) die(strerror(errno));
    snprintf(path, sizeof path, "%s/%s.truth", dir, name);
    f = fopen(path, "w");
    if (!f) die(strerror(errno));
    for (uint64_t i = 0; i < q->n; i++)
        fprintf(f, "%llu %016llx\n", (unsigned long long)q->count[i], (unsigned long long)q->poshash[i]);
    if (fclose(f)) die(strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: qgen TEXT.bin OUTDIR [--n 10000] [--windows 2000] [--seed 42]\n");
        return 2;
    }
    uint64_t n = 10000, nwin = 2000, seed = 42;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--windows")) nwin = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "qgen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n == 0 || nwin > n) die("need --n > 0 and --windows <= --n");
    rng_state = seed;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) die(strerror(errno));
    N = (uint64_t)st.st_size;
    if (N == 0) die("empty text");
    T = mmap(NULL, N, PROT_READ, MAP_PRIVATE, fd, 0);
    if (T == MAP_FAILED) die(strerror(errno));
    madvise((void *)T, N, MADV_SEQUENTIAL);
    for (uint64_t p = 0; p < N; p++) ndocs += T[p] == SEP;
    if (T[N - 1] != SEP) die("text does not end with a 0xFF separator (make it with jsonl_to_text.py)");
    starts = malloc((ndocs + 1) * 8);
    if (!starts) die("out of memory");
    starts[0] = 0;
    for (uint64_t p = 0, d = 1; p < N; p++)
        if (T[p] == SEP) starts[d++] = p + 1;
    int present[256] = {0};
    for (uint64_t p = 0; p < N; p++) present[T[p]] = 1;
    present[SEP] = 0;
    uint8_t alpha[256];
    int nalpha = 0;
    for (int c = 0; c < 256; c++)
        if (present[c]) alpha[nalpha++] = (uint8_t)c;
    if (nalpha < 2) die("the corpus has fewer than two distinct bytes");
    fprintf(stderr, "qgen: %llu bytes, %llu documents, %d distinct bytes\n", (unsigned long long)N,
            (unsigned long long)ndocs, nalpha);

    qset p50, p10, p200, a50;
    qset_init(&p50, n, 50);
    qset_init(&p10, n, 10);
    qset_init(&p200, n, 200);
    qset_init(&a50, n, 50);
    for (uint64_t i = 0; i < n; i++) sample_present(&p50, i);
    for (uint64_t i = 0; i < n; i++) sample_present(&p10, i);
    for (uint64_t i = 0; i < n; i++) sample_present(&p200, i);
    /* absent: mutate, count, redo the present ones until all are absent */
    uint64_t *redo = malloc(n * 8), nredo = n;
    if (!redo) die("out of memory");
    for (uint64_t i = 0; i < n; i++) redo[i] = i;
    for (int round = 0; nredo > 0; round++) {
        if (round > 50) die("cannot find enough absent 50-byte strings");
        for (uint64_t r = 0; r < nredo; r++) {
            uint64_t i = redo[r];
            sample_present(&a50, i);
            uint8_t *b = a50.bytes + i * 50, *c = b + rng() % 50, old = *c;
            while (*c == old) *c = alpha[rng() % (uint64_t)nalpha];
        }
        qset *s50[2] = {&p50, &a50};
        count_naive(round == 0 ? s50 : s50 + 1, round == 0 ? 2 : 1);
        uint64_t k = 0;
        for (uint64_t i = 0; i < n; i++)
            if (a50.count[i] != 0) redo[k++] = i;
        fprintf(stderr, "qgen: absent round %d: %llu of %llu mutated strings were present, redrawn\n",
                round, (unsigned long long)k, (unsigned long long)nredo);
        nredo = k;
    }
    free(redo);
    qset *s10[1] = {&p10}, *s200[1] = {&p200};
    count_naive(s10, 1);
    count_naive(s200, 1);
    qset *all[3] = {&p50, &p10, &p200};
    for (int s = 0; s < 3; s++)
        for (uint64_t i = 0; i < n; i++)
            if (all[s]->count[i] == 0) die("internal error: a present query has count 0");

    const char *dir = argv[2];
    write_set(dir, "present50", &p50);
    write_set(dir, "absent50", &a50);
    write_set(dir, "present10", &p10);
    write_set(dir, "present200", &p200);
    char path[4096];
    snprintf(path, sizeof path, "%s/windows.w", dir);
    FILE *f = fopen(path, "w");
    if (!f) die(strerror(errno));
    for (uint64_t i = 0; i < nwin; i++) {
        uint64_t d = p50.doc[i], dlen = starts[d + 1] - 1 - starts[d];
        uint64_t mid = p50.off[i] + 25, lo = mid > 500 ? mid - 500 : 0;
        uint64_t hi = lo + 1000 < dlen ? lo + 1000 : dlen;
        if (hi - lo < 1000 && hi >= 1000) lo = hi - 1000;
        else if (hi - lo < 1000) lo = 0;
        fprintf(f, "%llu %llu %llu %016llx\n", (unsigned long long)d, (unsigned long long)lo,
                (unsigned long long)(hi - lo), (unsigned long long)fnv1a(T + starts[d] + lo, hi - lo));
    }
    if (fclose(f)) die(strerror(errno));
    uint64_t sum[4] = {0}, mx[4] = {0};
    qset *sets4[4] = {&p50, &a50, &p10, &p200};
    for (int s = 0; s < 4; s++)
        for (uint64_t i = 0; i < n; i++) {
            sum[s] += sets4[s]->count[i];
            if (sets4[s]->count[i] > mx[s]) mx[s] = sets4[s]->count[i];
        }
    fprintf(stderr,
            "qgen: wrote %llu queries per set; total occurrences (max): present50 %llu (%llu), "
            "absent50 %llu, present10 %llu (%llu), present200 %llu (%llu)\n",
            (unsigned long long)n, (unsigned long long)sum[0], (unsigned long long)mx[0],
            (unsigned long long)sum[1], (unsigned long long)sum[2], (unsigned long long)mx[2],
            (unsigned long long)sum[3], (unsigned long long)mx[3]);
    for (int s = 0; s < 4; s++) qset_free(sets4[s]);
    free(starts);
    munmap((void *)T, N);
    close(fd);
    return 0;
}
