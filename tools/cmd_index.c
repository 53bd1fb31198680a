/*
 * cmd_index.c -- the FM-index commands: `idx build` (corpus -> index
 * directory), `idx count`, `idx find`, `idx show`, `idx inspect` and
 * `idx verify`. Each parses its options and calls the library
 * (index/idx_index.h); nothing else lives here.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_cli.h"
#include "idx_cli.h"
#include "idx_cli_dense.h"
#include "idx_index.h"

/* ---- helpers ---------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out) { return idx_cli_parse_uint(s, UINT64_MAX, out); }

/* Decodes hex ("e2 80 94" or "e28094") into b. 0 on success. */
static int hex_decode(const char *s, idx_buf *b) {
    int hi = -1;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) continue;
        int v;
        if (*s >= '0' && *s <= '9') v = *s - '0';
        else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F') v = *s - 'A' + 10;
        else return -1;
        if (hi < 0) hi = v;
        else {
            unsigned char c = (unsigned char)(hi * 16 + v);
            if (idx_buf_append(b, &c, 1) != IDX_OK) return -1;
            hi = -1;
        }
    }
    return hi < 0 ? 0 : -1;
}

/* A JSON string of arbitrary bytes: invalid UTF-8 bytes become U+FFFD. */
static json_t *json_bytes(const char *p, size_t n) {
    if (idx_utf8_valid(p, n)) return json_stringn(p, n);
    idx_buf b = {0};
    size_t i = 0;
    while (i < n) {
        size_t l = idx_utf8_charlen((const unsigned char *)p + i, n - i);
        if (l > n - i || !idx_utf8_valid(p + i, l)) {
            idx_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            idx_buf_append(&b, p + i, l);
            i += l;
        }
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    idx_buf_free(&b);
    return j;
}

/* Writes bytes for a one-line text display: \n \t \r \\ escaped, other control bytes and 0xFF as \xHH. */
static void put_escaped(FILE *f, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c < 0x20 || c == 0x7F) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

static void print_json_line(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

/* ---- build ------------------------------------------------------------------ */

static int cmd_build(int argc, char **argv) {
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},   {"shard-size", required_argument, 0, 's'},
                                       {"mem", required_argument, 0, 'm'},      {"threads", required_argument, 0, 't'},
                                       {"layout", required_argument, 0, 'l'},   {"sa-sample", required_argument, 0, 'S'},
                                       {"text-field", required_argument, 0, 'T'}, {"id-field", required_argument, 0, 'I'},
                                       {"skip-bad", no_argument, 0, 'k'},       {"quiet", no_argument, 0, 'q'},
                                       {"force", no_argument, 0, 'f'},          {"text", required_argument, 0, 'X'},
                                       {"isa-sample", required_argument, 0, 'R'}, {0, 0, 0, 0}};
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    const char *out = NULL;
    int quiet = 0;
    idx_chunk_cli *chunker = NULL; /* --chunker: index chunks (tools/chunk_cli.h) */
    if (idx_chunk_cli_extract("build", &argc, argv, &chunker)) return 2;
    idx_dense_cli *dense = NULL; /* --dense MODEL: embed before publishing (tools/cmd_dense.c) */
    if (idx_dense_cli_extract("build", &argc, argv, &dense)) {
        idx_chunk_cli_free(chunker);
        return 2;
    }
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:qf", lo, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            if (idx_cli_parse_size(optarg, &v) || v < 2) return idx_cli_usage("build", "bad --shard-size '%s'", optarg);
            o.shard_size = v;
            break;
        case 'm':
            if (idx_cli_parse_size(optarg, &v) || v < (UINT64_C(16) << 20))
                return idx_cli_usage("build", "bad --mem '%s' (at least 16M)", optarg);
            o.mem = v;
            break;
        case 't':
            if (parse_u64(optarg, &v) || v < 1 || v > 256) return idx_cli_usage("build", "bad --threads '%s'", optarg);
            o.threads = (int)v;
            break;
        case 'l':
            if (strcmp(optarg, "compact") == 0) o.layout = IDX_FM_LAYOUT_COMPACT;
            else if (strcmp(optarg, "fast") == 0) o.layout = IDX_FM_LAYOUT_FAST;
            else if (strcmp(optarg, "sdsl") == 0) o.layout = IDX_FM_LAYOUT_SDSL;
            else return idx_cli_usage("build", "bad --layout '%s' (compact, fast or sdsl)", optarg);
            break;
        case 'S':
            if (parse_u64(optarg, &v) || v < 1 || v > 65536)
                return idx_cli_usage("build", "bad --sa-sample '%s' (1..65536)", optarg);
            o.sa_sample = (uint32_t)v;
            break;
        case 'X':
            if (strcmp(optarg, "fm") == 0) o.text_source = IDX_TEXT_FM;
            else if (strcmp(optarg, "store") == 0) o.text_source = IDX_TEXT_STORE;
            else return idx_cli_usage("build", "bad --text '%s' (fm or store)", optarg);
            break;
        case 'R':
            if (parse_u64(optarg, &v) || v < 1 || v > 65536)
                return idx_cli_usage("build", "bad --isa-sample '%s' (1..65536)", optarg);
            o.isa_sample = (uint32_t)v;
            break;
        case 'T': o.corpus.text_field = optarg; break;
        case 'I': o.corpus.id_field = optarg; break;
        case 'k': o.corpus.skip_bad = 1; break;
        case 'q': quiet = 1; break;
        case 'f': o.force = 1; break;
        default: idx_chunk_cli_free(chunker); idx_dense_cli_free(dense); return idx_cli_usage("build", "bad option");
        }
    }
    if (o.isa_sample && o.text_source == IDX_TEXT_STORE) {
        idx_chunk_cli_free(chunker);
        idx_dense_cli_free(dense);
        return idx_cli_usage("build", "--isa-sample goes with --text fm");
    }
    if (!out) { idx_chunk_cli_free(chunker); idx_dense_cli_free(dense); return idx_cli_usage("build", "missing -o INDEX"); }
    if (optind >= argc) { idx_chunk_cli_free(chunker); idx_dense_cli_free(dense); return idx_cli_usage("build", "no input given"); }
    if (!quiet) o.progress = idx_cli_progress;
    idx_index_build_stats st;
    idx_err e = chunker ? idx_chunk_cli_setup(chunker, &o) : IDX_OK;
    if (e == IDX_OK && dense) e = idx_dense_cli_setup(dense, &o);
    if (e == IDX_OK) e = idx_index_build(out, (const char *const *)(argv + optind), (size_t)(argc - optind), &o, &st);
    idx_chunk_cli_free(chunker);
    if (!quiet) fprintf(stderr, "\n");
    if (e != IDX_OK) {
        idx_dense_cli_free(dense);
        return idx_cli_fail("build", e);
    }
    if (!quiet) idx_dense_cli_report(dense);
    idx_dense_cli_free(dense);
    if (!quiet)
        fprintf(stderr,
                "built %s: %llu documents, %llu bytes, %llu shards, index %llu bytes (%.1f%% of the corpus), "
                "%.1f s; %llu skipped, %llu not valid UTF-8\n",
                out, (unsigned long long)st.docs, (unsigned long long)st.text_bytes, (unsigned long long)st.shards,
                (unsigned long long)st.index_bytes,
                st.text_bytes ? 100.0 * (double)st.index_bytes / (double)st.text_bytes : 0.0, st.seconds,
                (unsigned long long)st.skipped, (unsigned long long)st.invalid_utf8);
    return 0;
}

IDX_CLI_COMMAND(build, cmd_build, "build an index (FM-index + document store) from a corpus",
                "usage: idx build -o INDEX [options] INPUT...\n"
                "  INPUT: JSONL (.jsonl/.json/.ndjson, optionally .zst/.gz), plain files, directories\n"
                "  -o, --output INDEX     index directory to write (atomically)\n"
                "  --shard-size SIZE      corpus bytes per FM-index shard (default: from --mem)\n"
                "  --mem SIZE             memory budget (default 8G)\n"
                "  --threads N            shards built at once (default 2)\n"
                "  --layout compact|fast|sdsl  FM-index layout (default compact)\n"
                "  --sa-sample N          suffix-array sample rate (default 96 compact, 32 fast/sdsl)\n"
                "  --text fm|store        document text rebuilt from the FM-index (default with the\n"
                "                         compact and sdsl layouts) or kept zstd-compressed in the\n"
                "                         document store (default with the fast layout)\n"
                "  --isa-sample N         with --text fm: store inverse suffix-array samples at rate N\n"
                "                         (default: derived from the SA samples, ~0.2-0.4% of the corpus)\n"
                "  --text-field F         JSON field with the text (default text)\n"
                "  --id-field F           JSON field with the id (default _id, then id)\n"
                "  --skip-bad             skip malformed documents instead of failing\n"
                "  -q, --quiet            no progress on stderr\n"
                "  -f, --force            replace an existing INDEX\n"
                IDX_CHUNK_CLI_USAGE IDX_CLI_DENSE_BUILD_USAGE);

/* ---- count ------------------------------------------------------------------ */

/* Per-query latencies for --timing. */
typedef struct {
    double *v;
    size_t n, cap;
} timings;

static void timings_add(timings *t, double x) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        double *p = realloc(t->v, cap * sizeof *p);
        if (!p) return;
        t->v = p;
        t->cap = cap;
    }
    t->v[t->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void timings_report(const char *what, timings *t) {
    if (!t->n) return;
    qsort(t->v, t->n, sizeof *t->v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < t->n; i++) sum += t->v[i];
    fprintf(stderr, "%s: %zu queries, p50 %.1f us, p90 %.1f us, p99 %.1f us, mean %.1f us, max %.1f us\n", what, t->n,
            1e6 * t->v[t->n / 2], 1e6 * t->v[t->n * 9 / 10], 1e6 * t->v[t->n * 99 / 100], 1e6 * sum / (double)t->n,
            1e6 * t->v[t->n - 1]);
    free(t->v);
}

static timings g_timings;
static int g_timing;

static int count_one(const idx_fm *fm, const char *q, size_t n, int json) {
    uint64_t cnt;
    double t0 = g_timing ? idx_now() : 0;
    idx_err e = idx_fm_count(fm, q, n, &cnt);
    if (g_timing) timings_add(&g_timings, idx_now() - t0);
    if (e != IDX_OK) return idx_cli_fail("count", e);
    if (json) {
        json_t *j = json_pack("{s:o, s:I}", "query", json_bytes(q, n), "count", (json_int_t)cnt);
        print_json_line(j);
        json_decref(j);
    } else {
        printf("%llu\n", (unsigned long long)cnt);
    }
    return 0;
}

static int cmd_count(int argc, char **argv) {
    static const struct option lo[] = {{"file", required_argument, 0, 'F'}, {"json", no_argument, 0, 'j'},
                                       {"hex", no_argument, 0, 'x'},        {"timing", no_argument, 0, 'T'},
                                       {0, 0, 0, 0}};
    const char *file = NULL;
    int json = 0, hex = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'F': file = optarg; break;
        case 'j': json = 1; break;
        case 'x': hex = 1; break;
        case 'T': g_timing = 1; break;
        default: return idx_cli_usage("count", "bad option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1) return idx_cli_usage("count", "missing INDEX");
    if (!file && nargs != 2) return idx_cli_usage("count", "give one STRING, or --file");
    if (file && nargs != 1) return idx_cli_usage("count", "give either STRING or --file, not both");
    idx_fm *fm;
    idx_err e = idx_fm_open(argv[optind], 0, &fm);
    if (e != IDX_OK) return idx_cli_fail("count", e);
    int rc = 0;
    idx_buf q = {0};
    if (!file) {
        const char *s = argv[optind + 1];
        size_t n = strlen(s);
        if (hex) {
            if (hex_decode(s, &q)) {
                idx_fm_close(fm);
                return idx_cli_usage("count", "bad hex string");
            }
            s = q.data ? q.data : "";
            n = q.len;
        }
        rc = count_one(fm, s, n, json);
    } else {
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
        if (!f) {
            idx_fm_close(fm);
            idx_fail(IDX_ERR_IO, "%s: %m", file);
            return idx_cli_fail("count", IDX_ERR_IO);
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        unsigned long long lineno = 0;
        while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
            lineno++;
            size_t n = (size_t)len;
            if (n && line[n - 1] == '\n') n--;
            const char *s = line;
            if (hex) {
                q.len = 0;
                line[n] = 0;
                if (hex_decode(line, &q)) {
                    idx_fail(IDX_ERR_PARSE, "%s:%llu: bad hex string", file, lineno);
                    rc = idx_cli_fail("count", IDX_ERR_PARSE);
                    break;
                }
                s = q.data ? q.data : "";
                n = q.len;
            }
            rc = count_one(fm, s, n, json);
        }
        free(line);
        if (f != stdin) fclose(f);
    }
    idx_buf_free(&q);
    idx_fm_close(fm);
    if (g_timing) timings_report("count", &g_timings);
    if (fflush(stdout) != 0 && rc == 0) rc = 1;
    return rc;
}

IDX_CLI_COMMAND(count, cmd_count, "exact occurrence count of a byte string (FM-index)",
                "usage: idx count [--json] [--hex] [--timing] INDEX STRING\n"
                "       idx count [--json] [--hex] [--timing] --file FILE|- INDEX\n"
                "  Counts every occurrence of STRING (bytes, case-sensitive) across all shards.\n"
                "  The empty string counts the corpus bytes. --file reads one query per line\n"
                "  (the trailing newline removed); --json prints {\"query\",\"count\"} lines;\n"
                "  --hex takes queries as hex bytes (e.g. 00ff0a); --timing prints the latency\n"
                "  of the library call per query (p50/p90/p99/mean) on stderr.\n");

/* ---- find ------------------------------------------------------------------- */

typedef struct {
    uint64_t doc, off;
} hit;

static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int cmd_find(int argc, char **argv) {
    static const struct option lo[] = {{"limit", required_argument, 0, 'n'}, {"context", required_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},         {"hex", no_argument, 0, 'x'},
                                       {"timing", no_argument, 0, 'T'},       {"level", required_argument, 0, 'L'},
                                       {0, 0, 0, 0}};
    uint64_t limit = 10, context = 40;
    int doc_level = 0; /* --level doc: chunked index, report documents (tools/chunk_cli.h) */
    idx_chunkmap *cmap = NULL;
    timings tl = {0}, tc = {0};
    int json = 0, hex = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_u64(optarg, &limit)) return idx_cli_usage("find", "bad --limit '%s'", optarg);
            break;
        case 'c':
            if (parse_u64(optarg, &context) || context > (UINT64_C(1) << 24))
                return idx_cli_usage("find", "bad --context '%s'", optarg);
            break;
        case 'j': json = 1; break;
        case 'x': hex = 1; break;
        case 'T': g_timing = 1; break;
        case 'L':
            if (strcmp(optarg, "doc") && strcmp(optarg, "chunk")) return idx_cli_usage("find", "--level is doc or chunk");
            doc_level = strcmp(optarg, "doc") == 0;
            break;
        default: return idx_cli_usage("find", "bad option");
        }
    }
    if (argc - optind != 2) return idx_cli_usage("find", "need INDEX and STRING");
    const char *dir = argv[optind];
    idx_buf q = {0};
    const char *pat = argv[optind + 1];
    size_t plen = strlen(pat);
    if (hex) {
        if (hex_decode(pat, &q)) return idx_cli_usage("find", "bad hex string");
        pat = q.data ? q.data : "";
        plen = q.len;
    }
    if (plen == 0) {
        idx_buf_free(&q);
        return idx_cli_usage("find", "empty STRING");
    }
    idx_fm *fm = NULL;
    idx_docs *docs = NULL;
    idx_fm_range *ranges = NULL;
    hit *hits = NULL;
    idx_buf ctx = {0};
    int rc = 0;
    idx_err e = idx_fm_open(dir, 0, &fm);
    if (e == IDX_OK) e = idx_docs_open(dir, 0, &docs);
    if (e == IDX_OK) e = idx_docs_attach_fm(docs, fm);
    if (e == IDX_OK && doc_level) e = idx_chunk_cli_open_map(dir, &cmap);
    if (e != IDX_OK) {
        rc = idx_cli_fail("find", e);
        goto out;
    }
    size_t ns = idx_fm_shard_count(fm);
    ranges = calloc(ns, sizeof *ranges);
    uint64_t total = 0;
    if (!ranges) {
        rc = idx_cli_fail("find", idx_fail(IDX_ERR_NOMEM, "out of memory"));
        goto out;
    }
    if ((e = idx_fm_find(fm, pat, plen, ranges, &total)) != IDX_OK) {
        rc = idx_cli_fail("find", e);
        goto out;
    }
    uint64_t nh = total < limit ? total : limit;
    hits = calloc(nh ? nh : 1, sizeof *hits);
    if (!hits) {
        rc = idx_cli_fail("find", idx_fail(IDX_ERR_NOMEM, "out of memory"));
        goto out;
    }
    uint64_t k = 0;
    for (size_t s = 0; s < ns && k < nh; s++)
        for (uint64_t r = ranges[s].lo; r < ranges[s].hi && k < nh; r++, k++) {
            double t0 = g_timing ? idx_now() : 0;
            if ((e = idx_fm_locate(fm, s, r, &hits[k].doc, &hits[k].off)) != IDX_OK) {
                rc = idx_cli_fail("find", e);
                goto out;
            }
            if (g_timing) timings_add(&tl, idx_now() - t0);
        }
    qsort(hits, nh, sizeof *hits, cmp_hit);
    if (!json) {
        if (nh < total) printf("%llu occurrences (showing %llu, see --limit)\n", (unsigned long long)total, (unsigned long long)nh);
        else printf("%llu occurrences\n", (unsigned long long)total);
    }
    for (uint64_t i = 0; i < nh; i++) {
        const char *id = "", *meta = "{}";
        size_t idlen = 0, metalen = 2;
        idx_docs_id(docs, hits[i].doc, &id, &idlen);
        idx_docs_meta(docs, hits[i].doc, &meta, &metalen);
        uint64_t start = hits[i].off > context ? hits[i].off - context : 0;
        ctx.len = 0;
        double t0 = g_timing ? idx_now() : 0;
        if ((e = idx_docs_text(docs, hits[i].doc, start, hits[i].off - start + plen + context, &ctx)) != IDX_OK) {
            rc = idx_cli_fail("find", e);
            goto out;
        }
        if (g_timing) timings_add(&tc, idx_now() - t0);
        uint64_t rdoc = hits[i].doc, roff = hits[i].off, rstart = start;
        if (cmap) {
            if ((e = idx_chunk_cli_to_doc(cmap, hits[i].doc, hits[i].off, id, idlen, &rdoc, &roff, &idlen)) != IDX_OK) {
                rc = idx_cli_fail("find", e);
                goto out;
            }
            rstart = roff - (hits[i].off - start);
        }
        if (json) {
            json_error_t jerr;
            json_t *mj = json_loadb(meta, metalen, 0, &jerr);
            json_t *j = json_pack("{s:I, s:o, s:I, s:I, s:o, s:o}", "doc", (json_int_t)rdoc, "id",
                                  json_bytes(id, idlen), "offset", (json_int_t)roff, "context_offset",
                                  (json_int_t)rstart, "context", json_bytes(ctx.data ? ctx.data : "", ctx.len),
                                  "metadata", mj ? mj : json_object());
            print_json_line(j);
            json_decref(j);
        } else {
            printf("%llu\t", (unsigned long long)rdoc);
            put_escaped(stdout, id, idlen);
            printf("\t%llu\t", (unsigned long long)roff);
            put_escaped(stdout, ctx.data ? ctx.data : "", ctx.len);
            printf("\t%.*s\n", (int)metalen, meta);
        }
    }
out:
    if (g_timing) {
        timings_report("find: locate per occurrence", &tl);
        timings_report("find: context window per occurrence", &tc);
    }
    idx_buf_free(&ctx);
    idx_buf_free(&q);
    free(hits);
    free(ranges);
    idx_docs_close(docs);
    idx_fm_close(fm);
    idx_chunkmap_close(cmap);
    if (fflush(stdout) != 0 && rc == 0) rc = 1;
    return rc;
}

IDX_CLI_COMMAND(find, cmd_find, "documents containing a byte string, with offsets and context",
                "usage: idx find [--limit N] [--context N] [--json] [--hex] [--timing] INDEX STRING\n"
                "  Prints the total, then per occurrence (sorted by document and offset):\n"
                "  doc number, external id, byte offset, context window (escaped), metadata JSON.\n"
                "  --limit N (default 10) occurrences, --context N (default 40) bytes each side,\n"
                "  --json one JSON object per occurrence, --hex STRING given as hex bytes,\n"
                "  --level doc (index built with --chunker): document number, id and offset in the\n"
                "  document instead of the chunk's (context from the chunk, metadata the chunk's),\n"
                "  --timing latency of locate and of the context fetch per occurrence on stderr.\n");

/* ---- show ------------------------------------------------------------------- */

static int cmd_show(int argc, char **argv) {
    static const struct option lo[] = {{"number", no_argument, 0, 'N'}, {0, 0, 0, 0}};
    int by_number = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'N') by_number = 1;
        else return idx_cli_usage("show", "bad option");
    }
    if (argc - optind != 2) return idx_cli_usage("show", "need INDEX and DOC");
    const char *key = argv[optind + 1];
    idx_docs *docs;
    idx_err e = idx_docs_open(argv[optind], 0, &docs);
    if (e != IDX_OK) return idx_cli_fail("show", e);
    uint64_t doc = 0, len = 0;
    e = IDX_ERR_NOT_FOUND;
    if (!by_number) e = idx_docs_lookup(docs, key, strlen(key), &doc);
    if (e == IDX_ERR_NOT_FOUND) {
        if (parse_u64(key, &doc) == 0 && doc < idx_docs_count(docs)) e = IDX_OK;
        else e = idx_fail(IDX_ERR_NOT_FOUND, "no document '%s' (neither an id nor a number below %llu)", key,
                          (unsigned long long)idx_docs_count(docs));
    }
    if (e == IDX_OK) e = idx_docs_len(docs, doc, &len);
    idx_buf b = {0};
    for (uint64_t off = 0; e == IDX_OK && off < len; off += 1 << 20) {
        b.len = 0;
        e = idx_docs_text(docs, doc, off, 1 << 20, &b);
        if (e == IDX_OK && b.len && fwrite(b.data, 1, b.len, stdout) != b.len) e = idx_fail(IDX_ERR_IO, "write failed");
    }
    idx_buf_free(&b);
    idx_docs_close(docs);
    if (e != IDX_OK) return idx_cli_fail("show", e);
    if (fflush(stdout) != 0) return idx_cli_fail("show", idx_fail(IDX_ERR_IO, "write failed"));
    return 0;
}

IDX_CLI_COMMAND(show, cmd_show, "print a document byte for byte",
                "usage: idx show [--number] INDEX DOC\n"
                "  DOC is an external id, or else a document number (0-based);\n"
                "  --number takes DOC as a number only.\n");

/* ---- inspect ---------------------------------------------------------------- */

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

static int cmd_inspect(int argc, char **argv) {
    if (argc != 2) return idx_cli_usage("inspect", "need INDEX");
    const char *dir = argv[1];
    idx_fm *fm = NULL;
    idx_docs *docs = NULL;
    idx_err e = idx_fm_open(dir, 0, &fm);
    if (e == IDX_OK) e = idx_docs_open(dir, 0, &docs);
    if (e != IDX_OK) {
        idx_fm_close(fm);
        return idx_cli_fail("inspect", e);
    }
    uint64_t corpus = idx_fm_total_bytes(fm);
    size_t ns = idx_fm_shard_count(fm);
    printf("index %s\n", dir);
    printf("documents %llu, corpus bytes %llu, shards %zu\n", (unsigned long long)idx_fm_doc_count(fm),
           (unsigned long long)corpus, ns);
    printf("%-6s %-8s %12s %12s %12s %12s %12s %12s %12s %12s\n", "shard", "layout", "first_doc", "docs", "text",
           "file", "bwt", "sa-samples", "isa", "doc-starts");
    uint64_t fm_total = 0, bwt = 0, samp = 0, starts = 0, isa = 0;
    uint32_t isa_rate = 0;
    for (size_t i = 0; i < ns; i++) {
        idx_fm_shard_sizes s;
        idx_fm_get_shard_sizes(fm, i, &s);
        printf("%-6zu %-8s %12llu %12llu %12llu %12llu %12llu %12llu %12llu %12llu\n", i,
               s.layout == IDX_FM_LAYOUT_FAST ? "fast" : s.layout == IDX_FM_LAYOUT_SDSL ? "sdsl" : "compact",
               (unsigned long long)s.first_doc,
               (unsigned long long)s.docs, (unsigned long long)s.text_bytes, (unsigned long long)s.file_bytes,
               (unsigned long long)s.bwt_bytes, (unsigned long long)(s.marks_bytes + s.samples_bytes),
               (unsigned long long)s.isa_bytes, (unsigned long long)s.docs_bytes);
        isa += s.isa_bytes;
        if (s.isa_sample) isa_rate = s.isa_sample;
        fm_total += s.file_bytes;
        bwt += s.bwt_bytes;
        samp += s.marks_bytes + s.samples_bytes;
        starts += s.docs_bytes;
    }
    idx_docs_sizes ds;
    idx_docs_get_sizes(docs, &ds);
    printf("\ncomponent                 bytes   %% of corpus\n");
    printf("fm: bwt (wavelet tree) %12llu %8.2f%%\n", (unsigned long long)bwt, pct(bwt, corpus));
    printf("fm: sa samples+marks   %12llu %8.2f%%\n", (unsigned long long)samp, pct(samp, corpus));
    char isa_label[64];
    snprintf(isa_label, sizeof isa_label, "fm: isa samples r=%u", isa_rate);
    printf("%-22s %12llu %8.2f%%\n", isa_label, (unsigned long long)isa, pct(isa, corpus));
    printf("fm: doc starts         %12llu %8.2f%%\n", (unsigned long long)starts, pct(starts, corpus));
    printf("fm: files total        %12llu %8.2f%%\n", (unsigned long long)fm_total, pct(fm_total, corpus));
    printf("docs: text source      %12s\n", ds.text_source == IDX_DOCS_TEXT_FM      ? "fm"
                                             : ds.text_source == IDX_DOCS_TEXT_STORE ? "store"
                                                                                     : "none");
    printf("docs: text (zstd)      %12llu %8.2f%%\n", (unsigned long long)ds.text_compressed,
           pct(ds.text_compressed, corpus));
    printf("docs: ids+meta+offsets %12llu %8.2f%%\n", (unsigned long long)(ds.ids + ds.meta + ds.offsets),
           pct(ds.ids + ds.meta + ds.offsets, corpus));
    printf("docs: file total       %12llu %8.2f%%\n", (unsigned long long)ds.file_bytes, pct(ds.file_bytes, corpus));
    /* what count, find and show need: the FM-index and the document store */
    printf("fm + docs              %12llu %8.2f%%\n", (unsigned long long)(fm_total + ds.file_bytes),
           pct(fm_total + ds.file_bytes, corpus));
    uint64_t all = idx_du(dir);
    printf("index directory total  %12llu %8.2f%%\n", (unsigned long long)all, pct(all, corpus));
    idx_docs_close(docs);
    idx_fm_close(fm);
    return 0;
}

IDX_CLI_COMMAND(inspect, cmd_inspect, "shards, component sizes, corpus bytes and ratios of an index",
                "usage: idx inspect INDEX\n");

/* ---- verify ------------------------------------------------------------------ */

static int cmd_verify(int argc, char **argv) {
    static const struct option lo[] = {{"deep", no_argument, 0, 'd'}, {0, 0, 0, 0}};
    int deep = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'd') deep = 1;
        else return idx_cli_usage("verify", "bad option");
    }
    if (argc - optind != 1) return idx_cli_usage("verify", "need INDEX");
    idx_err e = idx_index_verify(argv[optind], deep);
    if (e != IDX_OK) return idx_cli_fail("verify", e);
    printf("%s: ok%s\n", argv[optind], deep ? " (deep)" : "");
    return 0;
}

IDX_CLI_COMMAND(verify, cmd_verify, "check an index: manifest, checksums, structure (--deep)",
                "usage: idx verify [--deep] INDEX\n"
                "  Checks the manifest against the files and every section checksum;\n"
                "  --deep adds structural checks of the document store and FM-index shards.\n");
