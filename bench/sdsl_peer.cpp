/*
 * sdsl_peer.cpp -- the benchmark's peer: sdsl-lite's own construct() of
 * csa_wt<wt_huff<rrr_vector<127>>, 32, 64> (the structure infini-gram mini
 * uses), linked against Debian's libsdsl. Built by bench/fm_bench.sh with
 *   g++ -O2 -DNDEBUG sdsl_peer.cpp -lsdsl -ldivsufsort -ldivsufsort64
 * and not part of the CMake build.
 *
 * The text is TEXT.bin from bench/jsonl_to_text.py: every document followed by
 * one 0xFF byte. sdsl's construct(..., num_bytes = 1) needs a text without 0
 * bytes (it appends its own 0 sentinel, which keeps code 0 for the sentinel,
 * so every byte 1..255 counts correctly); jsonl_to_text.py refuses documents
 * with a 0 byte. 0xFF does not occur in UTF-8 text, so no match crosses a
 * document, as in idx. Document starts (u64 each) are kept next to the index
 * (counted in its size) to turn a text position into (document, offset).
 *
 *   sdsl_peer build TEXT.bin PREFIX         writes PREFIX.csa and PREFIX.docs
 *   sdsl_peer query PREFIX QDIR OUTDIR REPS  measures, writes OUTDIR/peer.*
 *
 * The query side is the same protocol as bench/fm_bench.c (see there): count
 * latency per query set, locate time per occurrence, 1 KB window extraction;
 * results as "key value" lines on stdout and per-query answers in OUTDIR.
 */
#include <sdsl/suffix_arrays.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace sdsl;
typedef csa_wt<wt_huff<rrr_vector<127>>, 32, 64> csa_t;

static double now_us() {
    return std::chrono::duration<double, std::micro>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
static void die(const std::string &m) {
    fprintf(stderr, "sdsl_peer: %s\n", m.c_str());
    exit(1);
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
static std::vector<std::string> read_queries(const std::string &path) {
    std::ifstream f(path);
    if (!f) die("cannot open " + path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(f, line)) {
        if (line.size() % 2) die("odd hex line in " + path);
        std::string q(line.size() / 2, '\0');
        for (size_t i = 0; i < q.size(); i++) q[i] = (char)std::stoi(line.substr(2 * i, 2), nullptr, 16);
        out.push_back(q);
    }
    return out;
}
static double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = (size_t)(p * (double)(v.size() - 1) + 0.5);
    return v[i];
}
static double median(std::vector<double> v) { return pct(v, 0.5); }

static uint64_t find(const csa_t &csa, const std::string &q, uint64_t *lo, uint64_t *hi) {
    const uint8_t *b = (const uint8_t *)q.data();
    uint64_t l = 0, r = 0;
    uint64_t c = backward_search(csa, 0, csa.size() - 1, b, b + q.size(), l, r);
    *lo = l;
    *hi = r + 1;
    return c;
}

static int cmd_build(const char *text, const std::string &prefix) {
    double t0 = now_us();
    csa_t csa;
    std::string dir = prefix.substr(0, prefix.find_last_of('/') + 1);
    if (dir.empty()) dir = "./";
    cache_config cfg(true, dir, "sdsl_peer_tmp");
    construct(csa, text, cfg, 1);
    if (!store_to_file(csa, prefix + ".csa")) die("cannot write " + prefix + ".csa");
    /* document starts: after every 0xFF */
    std::vector<uint64_t> starts{0};
    FILE *f = fopen(text, "rb");
    if (!f) die(std::string("cannot open ") + text);
    std::vector<uint8_t> buf(1 << 20);
    uint64_t pos = 0;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] == 0xFF) starts.push_back(pos + i + 1);
        pos += n;
    }
    fclose(f);
    FILE *o = fopen((prefix + ".docs").c_str(), "wb");
    if (!o || fwrite(starts.data(), 8, starts.size(), o) != starts.size() || fclose(o))
        die("cannot write " + prefix + ".docs");
    printf("build_seconds %.3f\n", (now_us() - t0) / 1e6);
    printf("csa_bytes %" PRIu64 "\n", (uint64_t)size_in_bytes(csa));
    return 0;
}

static int cmd_query(const std::string &prefix, const std::string &qdir, const std::string &outdir,
                     int reps) {
    double t0 = now_us();
    csa_t csa;
    if (!load_from_file(csa, prefix + ".csa")) die("cannot load " + prefix + ".csa");
    std::vector<uint64_t> starts;
    {
        FILE *f = fopen((prefix + ".docs").c_str(), "rb");
        if (!f) die("cannot open " + prefix + ".docs");
        uint64_t v;
        while (fread(&v, 8, 1, f) == 1) starts.push_back(v);
        fclose(f);
    }
    printf("load_seconds %.3f\n", (now_us() - t0) / 1e6);
    const char *sets[] = {"present50", "absent50", "present10", "present200"};
    std::vector<std::string> p50;
    for (const char *s : sets) {
        std::vector<std::string> qs = read_queries(qdir + "/" + s + ".q");
        if (!strcmp(s, "present50")) p50 = qs;
        std::vector<uint64_t> counts(qs.size());
        std::vector<double> p50s, p99s, means;
        for (int rep = -1; rep < reps; rep++) { /* rep -1 warms up */
            std::vector<double> lat(qs.size());
            for (size_t i = 0; i < qs.size(); i++) {
                const uint8_t *b = (const uint8_t *)qs[i].data();
                double a = now_us();
                counts[i] = count(csa, b, b + qs[i].size());
                lat[i] = now_us() - a;
            }
            if (rep < 0) continue;
            double sum = 0;
            for (double x : lat) sum += x;
            p50s.push_back(pct(lat, 0.5));
            p99s.push_back(pct(lat, 0.99));
            means.push_back(sum / (double)lat.size());
        }
        printf("count.%s.p50_us %.3f\ncount.%s.p99_us %.3f\ncount.%s.mean_us %.3f\n", s, median(p50s), s,
               median(p99s), s, median(means));
        FILE *o = fopen((outdir + "/peer." + s + ".counts").c_str(), "w");
        if (!o) die("cannot write counts");
        for (uint64_t c : counts) fprintf(o, "%" PRIu64 "\n", c);
        fclose(o);
    }
    /* locate: every occurrence of each present50 query with at most 1,000 */
    {
        std::vector<double> per_occ;
        std::vector<uint64_t> hashes(p50.size()), nocc(p50.size());
        uint64_t total_occ = 0, nq = 0;
        for (int rep = 0; rep < reps; rep++) {
            double t = 0;
            total_occ = nq = 0;
            for (size_t i = 0; i < p50.size(); i++) {
                uint64_t lo, hi;
                uint64_t c = find(csa, p50[i], &lo, &hi);
                if (c == 0 || c > 1000) continue;
                double a = now_us();
                uint64_t h = 0;
                for (uint64_t r = lo; r < hi; r++) {
                    uint64_t pos = csa[r];
                    uint64_t d = (uint64_t)(std::upper_bound(starts.begin(), starts.end(), pos) -
                                            starts.begin()) - 1;
                    h += mix64(d << 40 ^ (pos - starts[d]));
                }
                t += now_us() - a;
                hashes[i] = h;
                nocc[i] = c;
                total_occ += c;
                nq++;
            }
            per_occ.push_back(t / (double)(total_occ ? total_occ : 1));
        }
        printf("locate.queries %" PRIu64 "\nlocate.occurrences %" PRIu64 "\nlocate.us_per_occ %.3f\n", nq,
               total_occ, median(per_occ));
        FILE *o = fopen((outdir + "/peer.locate").c_str(), "w");
        if (!o) die("cannot write locate");
        for (size_t i = 0; i < p50.size(); i++)
            fprintf(o, "%" PRIu64 " %016" PRIx64 "\n", nocc[i], hashes[i]);
        fclose(o);
    }
    /* 1 KB windows */
    {
        std::ifstream f(qdir + "/windows.w");
        if (!f) die("cannot open windows.w");
        std::vector<uint64_t> wd, wo, wl;
        uint64_t d, off, len;
        std::string h;
        while (f >> d >> off >> len >> h) {
            if (d + 1 >= starts.size()) die("window document out of range");
            wd.push_back(d);
            wo.push_back(off);
            wl.push_back(len);
        }
        std::vector<uint64_t> hashes(wd.size());
        std::vector<double> p50s, p99s;
        for (int rep = 0; rep < reps; rep++) {
            std::vector<double> lat(wd.size());
            for (size_t i = 0; i < wd.size(); i++) {
                uint64_t b = starts[wd[i]] + wo[i];
                double a = now_us();
                std::string s = extract(csa, b, b + wl[i] - 1);
                lat[i] = now_us() - a;
                hashes[i] = fnv1a((const uint8_t *)s.data(), s.size());
            }
            p50s.push_back(pct(lat, 0.5));
            p99s.push_back(pct(lat, 0.99));
        }
        printf("window.count %zu\nwindow.p50_us %.3f\nwindow.p99_us %.3f\n", wd.size(), median(p50s),
               median(p99s));
        FILE *o = fopen((outdir + "/peer.windows").c_str(), "w");
        if (!o) die("cannot write windows");
        for (uint64_t x : hashes) fprintf(o, "%016" PRIx64 "\n", x);
        fclose(o);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "build")) return cmd_build(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "query")) return cmd_query(argv[2], argv[3], argv[4], atoi(argv[5]));
    fprintf(stderr, "usage: sdsl_peer build TEXT.bin PREFIX | query PREFIX QDIR OUTDIR REPS\n");
    return 2;
}
