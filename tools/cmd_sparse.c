/*
 * cmd_sparse.c -- the BM25 commands: `idx index-sparse` (build the sparse
 * part from a corpus or from an index's document store), `idx retrieve`
 * (top-k for one query, or a batch of queries into a TREC run file),
 * `idx sparse-add`, `idx sparse-delete` and `idx sparse-merge`.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_cli.h"
#include "idx_cli.h"
#include "idx_cli_dense.h"
#include "idx_eval.h"
#include "idx_retrieve.h"

/* Shared corpus options (same spelling as `idx build`). */
enum { O_TEXT = 1000, O_ID, O_TITLE, O_SKIP, O_ANALYZER, O_INTO, O_FORCE, O_K1, O_B, O_JSON, O_EXH, O_QUERIES,
       O_TAG, O_SNIP, O_IDS, O_QUIET, O_MAXQ };

#define INDEX_SPARSE_USAGE \
    "usage: idx index-sparse -o INDEX [--force] [--analyzer SPEC] [--text-field F] [--id-field F]\n" \
    "                        [--title-field F] [--skip-bad] [--memory SIZE] CORPUS...\n" \
    "       idx index-sparse --into INDEX [--force] [--analyzer SPEC]\n" \
    "Builds a BM25 inverted index. With -o, a new index directory with the document store and\n" \
    "the sparse part; with --into, a sparse part over an existing index's document store.\n" \
    "Title and text are both indexed. SPEC: comma-separated key=value, keys stemmer (porter,\n" \
    "english, none, any Snowball language), stopwords (lucene, none), casefold, accents,\n" \
    "possessive (0/1), min_len, max_len. Default: stemmer=english,stopwords=lucene.\n" \
    "--memory bounds the postings held in memory (default 1G); past it a new segment starts.\n" \
    "--chunker NAME [chunker options] (with -o): index chunks; also writes the document store, FM-index\n" \
    "and chunk map of `idx build --chunker` (results are chunks: ids DOC#K, metadata doc/start/end).\n"

static int cmd_index_sparse(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"into", required_argument, 0, O_INTO},
        {"force", no_argument, 0, O_FORCE},    {"analyzer", required_argument, 0, O_ANALYZER},
        {"text-field", required_argument, 0, O_TEXT}, {"id-field", required_argument, 0, O_ID},
        {"title-field", required_argument, 0, O_TITLE}, {"skip-bad", no_argument, 0, O_SKIP},
        {"quiet", no_argument, 0, O_QUIET}, {"memory", required_argument, 0, O_MAXQ}, {0, 0, 0, 0}};
    const char *out = NULL, *into = NULL;
    uint64_t memory = 0;
    int force = 0, quiet = 0, c;
    idx_text_config cfg;
    idx_text_config_default(&cfg);
    idx_corpus_opts co = {0};
    idx_chunk_cli *chunker = NULL; /* --chunker: index chunks (tools/chunk_cli.h) */
    if (idx_chunk_cli_extract(argv[0], &argc, argv, &chunker)) return 2;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_INTO: into = optarg; break;
        case O_FORCE: force = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_ANALYZER:
            if (idx_text_config_parse(&cfg, optarg)) return idx_cli_usage(argv[0], "%s", idx_errmsg());
            break;
        case O_TEXT: co.text_field = optarg; break;
        case O_ID: co.id_field = optarg; break;
        case O_TITLE: co.title_field = optarg; break;
        case O_SKIP: co.skip_bad = 1; break;
        case O_MAXQ:
            if (idx_cli_parse_size(optarg, &memory) || memory < 4096) return idx_cli_usage(argv[0], "bad --memory '%s'", optarg);
            break;
        default: return idx_cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!!out == !!into) return idx_cli_usage(argv[0], "give exactly one of -o INDEX and --into INDEX");
    if (out && optind >= argc) return idx_cli_usage(argv[0], "no corpus given");
    if (into && optind < argc) return idx_cli_usage(argv[0], "--into takes no corpus (it reads the document store)");
    idx_progress prog;
    idx_progress_init(&prog, quiet ? NULL : idx_cli_progress, NULL);
    double t0 = idx_now();
    idx_err e;
    if (chunker && out) {
        /* chunks: the document store (and FM-index) of `idx build --chunker`, then the sparse part over it */
        idx_index_build_opts bo;
        memset(&bo, 0, sizeof bo);
        bo.corpus = co;
        bo.force = force;
        /* every chunk is read back at once to build the sparse part: the zstd store returns whole
         * documents 20-90x faster than extraction from the FM-index (README, FM-index section) */
        bo.text_source = IDX_TEXT_STORE;
        e = idx_chunk_cli_setup(chunker, &bo);
        if (!e) e = idx_index_build(out, (const char *const *)argv + optind, (size_t)(argc - optind), &bo, NULL);
        if (!e) e = idx_sparse_build_from_store(out, &cfg, 1, memory, &prog);
    } else if (chunker) {
        e = idx_fail(IDX_ERR_INVALID, "--chunker needs -o (with --into, build the index with idx build --chunker)");
    } else {
        e = out ? idx_sparse_build_from_corpus(out, (const char *const *)argv + optind, (size_t)(argc - optind), &co,
                                               &cfg, force, memory, &prog)
                : idx_sparse_build_from_store(into, &cfg, force, memory, &prog);
    }
    idx_chunk_cli_free(chunker);
    if (!quiet) fprintf(stderr, "\n");
    if (e) return idx_cli_fail(argv[0], e);
    idx_sparse *s;
    if ((e = idx_sparse_open(out ? out : into, 0, &s))) return idx_cli_fail(argv[0], e);
    printf("indexed %llu documents in %.2f s; sparse part %.1f MiB\n", (unsigned long long)idx_sparse_doc_count(s),
           idx_now() - t0, (double)idx_sparse_bytes(s) / 1048576.0);
    idx_sparse_close(s);
    return 0;
}
IDX_CLI_COMMAND(index-sparse, cmd_index_sparse, "build a BM25 inverted index (sparse part)", INDEX_SPARSE_USAGE);

/* ------------------------------------------------------------------------ */

#define RETRIEVE_USAGE \
    "usage: idx retrieve INDEX QUERY... [-k N] [--k1 X] [--b X] [--json] [--snippet BYTES] [--exhaustive]\n" \
    "       idx retrieve INDEX --queries FILE [-o RUN] [-k N] [--tag TAG] [--k1 X] [--b X] [--exhaustive]\n" \
    "Top-k BM25 (Lucene variant, exact document lengths; defaults k1=0.9 b=0.4, k=10; 1000 in batch).\n" \
    "Batch: FILE is BEIR queries.jsonl or TSV id<TAB>text; writes a TREC run 'qid Q0 docid rank score tag'\n" \
    "to RUN (default stdout) and throughput and latency figures to stderr.\n" \
    "--lucene-norms: quantise document lengths like Lucene's 1-byte norms (to compare);\n" \
    "--max-query-terms N: distinct analysed terms allowed (default 1024).\n" \
    "--level doc: on an index of chunks (--chunker), the best chunk per document (ids without #K).\n" \
    IDX_CLI_RETRIEVE_MODE_USAGE

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Appends the decimal digits of v to p; returns the new end. */
static char *put_u64(char *p, uint64_t v) {
    char t[24];
    int n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = t[--n];
    return p;
}

/* One TREC run line, as fprintf "%s Q0 %.*s %zu %.6f %s\n" would write it
 * (scores are rounded to 6 decimals), without printf's float formatting,
 * which costs about as much as a BM25 query. */
static void put_run_line(FILE *out, const char *qid, const char *id, size_t il, size_t rank, double score,
                         const char *tag) {
    if (!(score >= 0 && score < 1e12)) {
        fprintf(out, "%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, rank, score, tag);
        return;
    }
    char num[64], *p = num;
    uint64_t micro = (uint64_t)llround(score * 1e6);
    p = put_u64(p, rank);
    *p++ = ' ';
    p = put_u64(p, micro / 1000000);
    *p++ = '.';
    uint64_t frac = micro % 1000000;
    for (uint64_t d = 100000; d; d /= 10) *p++ = (char)('0' + (frac / d) % 10);
    *p++ = ' ';
    fputs(qid, out);
    fputs(" Q0 ", out);
    fwrite(id, 1, il, out);
    fputc(' ', out);
    fwrite(num, 1, (size_t)(p - num), out);
    fputs(tag, out);
    fputc('\n', out);
}

static void print_json_str(FILE *f, const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (!j) { fputs("\"\"", f); return; }
    char *d = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    fputs(d ? d : "\"\"", f);
    free(d);
    json_decref(j);
}

static int cmd_retrieve(int argc, char **argv) {
    int mode_rc;
    if (idx_cli_retrieve_mode_hook(&argc, argv, &mode_rc)) return mode_rc; /* --mode dense|hybrid: tools/cmd_dense.c */
    static const struct option opts[] = {
        {"k1", required_argument, 0, O_K1}, {"lucene-norms", no_argument, 0, 2000}, {"b", required_argument, 0, O_B}, {"json", no_argument, 0, O_JSON},
        {"exhaustive", no_argument, 0, O_EXH}, {"queries", required_argument, 0, O_QUERIES},
        {"output", required_argument, 0, 'o'}, {"tag", required_argument, 0, O_TAG},
        {"snippet", required_argument, 0, O_SNIP}, {"max-query-terms", required_argument, 0, O_MAXQ},
        {"level", required_argument, 0, 2001}, {0, 0, 0, 0}};
    idx_sparse_params p;
    idx_sparse_params_default(&p);
    int json = 0, c, ksetd = 0;
    int doc_level = 0; /* --level doc: index of chunks, best chunk per document (tools/chunk_cli.h) */
    const char *queries = NULL, *outp = NULL, *tag = "idx-bm25";
    long snip = 200;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'k': {
            long k = strtol(optarg, &end, 10);
            if (*end || k < 1 || k > 1000000) return idx_cli_usage(argv[0], "-k must be 1..1000000");
            p.k = (size_t)k;
            ksetd = 1;
            break;
        }
        case 2000: p.lucene_norms = 1; break;
        case 2001:
            if (strcmp(optarg, "doc") && strcmp(optarg, "chunk")) return idx_cli_usage(argv[0], "--level is doc or chunk");
            doc_level = strcmp(optarg, "doc") == 0;
            break;
        case O_K1: p.k1 = strtod(optarg, &end); if (*end || !(p.k1 >= 0) || p.k1 > 1000) return idx_cli_usage(argv[0], "--k1 must be a number >= 0"); break;
        case O_B: p.b = strtod(optarg, &end); if (*end || !(p.b >= 0 && p.b <= 1)) return idx_cli_usage(argv[0], "--b must be in [0, 1]"); break;
        case O_JSON: json = 1; break;
        case O_EXH: p.exhaustive = 1; break;
        case O_QUERIES: queries = optarg; break;
        case 'o': outp = optarg; break;
        case O_TAG: tag = optarg; break;
        case O_SNIP: snip = strtol(optarg, &end, 10); if (*end || snip < 0 || snip > 100000) return idx_cli_usage(argv[0], "bad --snippet"); break;
        case O_MAXQ: { long m = strtol(optarg, &end, 10); if (*end || m < 1 || m > 1000000) return idx_cli_usage(argv[0], "bad --max-query-terms"); p.max_query_terms = (size_t)m; break; }
        default: return idx_cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return idx_cli_usage(argv[0], "no index given");
    const char *index = argv[optind++];
    if (!queries && optind >= argc) return idx_cli_usage(argv[0], "no query given (or use --queries FILE)");
    if (queries && optind < argc) return idx_cli_usage(argv[0], "give either a QUERY or --queries FILE");
    if (queries && !ksetd) p.k = 1000;
    size_t want = p.k;
    if (doc_level) p.k = p.k * 8 < 1000000 ? p.k * 8 : 1000000; /* chunks fetched to fill k documents */
    idx_sparse *s = NULL;
    idx_sparse_searcher *q = NULL;
    idx_sparse_hit *hits = NULL;
    idx_eval_queries *qs = NULL;
    FILE *out = NULL;
    double *lat = NULL;
    int rc = 0;
    idx_err e = idx_sparse_open(index, IDX_FILE_VERIFY, &s);
    if (!e && doc_level) { /* only on an index of chunks */
        idx_chunkmap *cm = NULL;
        e = idx_chunk_cli_open_map(index, &cm);
        idx_chunkmap_close(cm);
    }
    if (!e) e = idx_sparse_searcher_new(s, &q);
    if (!e) e = idx_xmalloc(p.k * sizeof *hits, &hits);
    if (e) { rc = idx_cli_fail(argv[0], e); goto done; }
    if (!queries) {
        /* one query: the remaining arguments joined by spaces */
        idx_buf qb = {0};
        for (int i = optind; i < argc && !e; i++) {
            if (i > optind) e = idx_buf_append(&qb, " ", 1);
            if (!e) e = idx_buf_append(&qb, argv[i], strlen(argv[i]));
        }
        size_t n = 0;
        idx_sparse_stats st;
        double t0 = idx_now();
        if (!e) e = idx_sparse_search(q, qb.data ? qb.data : "", qb.len, &p, hits, &n, &st);
        if (!e && doc_level) e = idx_chunk_cli_best_per_doc(s, hits, &n, want);
        double ms = (idx_now() - t0) * 1000;
        if (e) { idx_buf_free(&qb); rc = idx_cli_fail(argv[0], e); goto done; }
        if (json) printf("{\"query\":"), print_json_str(stdout, qb.data ? qb.data : "", qb.len), printf(",\"took_ms\":%.3f,\"hits\":[", ms);
        else if (n == 0) fprintf(stderr, "idx retrieve: no document matches (the query has %zu indexed terms)\n", st.query_terms);
        idx_buf text = {0};
        for (size_t i = 0; i < n; i++) {
            const idx_docs *d = idx_sparse_segment_store(s, hits[i].segment);
            const char *id = "", *title = "";
            size_t il = 0, tl = 0;
            uint64_t dl = 0;
            text.len = 0;
            if ((e = idx_docs_id(d, hits[i].doc, &id, &il)) || (e = idx_docs_title(d, hits[i].doc, &title, &tl)) ||
                (e = idx_docs_len(d, hits[i].doc, &dl)) || (e = idx_docs_text(d, hits[i].doc, 0, dl, &text)))
                break;
            if (doc_level) il = idx_chunk_cli_doc_id_len(id, il);
            size_t so = snip ? idx_sparse_snippet_start(q, text.data ? text.data : "", text.len, (size_t)snip) : 0;
            size_t sl = text.len - so < (size_t)snip ? text.len - so : (size_t)snip;
            while (sl > 0 && so + sl < text.len && ((unsigned char)text.data[so + sl] & 0xC0) == 0x80) sl--;
            char *sn = malloc(sl + 1);
            if (!sn) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
            for (size_t j = 0; j < sl; j++) {
                char ch = text.data[so + j];
                sn[j] = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : ch;
            }
            sn[sl] = 0;
            if (json) {
                printf("%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
                print_json_str(stdout, id, il);
                printf(",\"score\":%.6f,\"title\":", hits[i].score);
                print_json_str(stdout, title, tl);
                printf(",\"snippet\":");
                print_json_str(stdout, sn, sl);
                printf("}");
            } else {
                printf("%2zu  %-16.*s %8.4f  %.*s\n", i + 1, (int)il, id, hits[i].score, (int)tl, title);
                if (sl) printf("    %s%s\n", so ? "..." : "", sn);
            }
            free(sn);
        }
        idx_buf_free(&text);
        idx_buf_free(&qb);
        if (json) printf("]}\n");
        if (e) rc = idx_cli_fail(argv[0], e);
        goto done;
    }
    /* batch */
    if ((e = idx_eval_queries_load(queries, &qs))) { rc = idx_cli_fail(argv[0], e); goto done; }
    out = outp ? fopen(outp, "w") : stdout;
    if (!out) { fprintf(stderr, "idx retrieve: cannot write %s\n", outp); rc = 1; goto done; }
    if (!(lat = malloc(qs->n * sizeof *lat))) { rc = idx_cli_fail(argv[0], idx_fail(IDX_ERR_NOMEM, "out of memory")); goto done; }
    double t0 = idx_now();
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    size_t empty = 0, failed = 0;
    for (size_t i = 0; i < qs->n; i++) {
        size_t n = 0;
        double a = idx_now();
        e = idx_sparse_search(q, qs->texts[i], strlen(qs->texts[i]), &p, hits, &n, NULL);
        if (!e && doc_level) e = idx_chunk_cli_best_per_doc(s, hits, &n, want);
        if (e) {
            fprintf(stderr, "idx retrieve: query %s: %s\n", qs->ids[i], idx_errmsg());
            failed++;
            lat[i] = idx_now() - a;
            continue;
        }
        if (n == 0) empty++;
        for (size_t j = 0; j < n; j++) {
            const char *id;
            size_t il;
            if ((e = idx_docs_id(idx_sparse_segment_store(s, hits[j].segment), hits[j].doc, &id, &il))) break;
            if (doc_level) il = idx_chunk_cli_doc_id_len(id, il);
            put_run_line(out, qs->ids[i], id, il, j + 1, hits[j].score, tag);
        }
        lat[i] = idx_now() - a; /* search + id lookups + output, like the Xapian peer's get_mset + get_data */
        if (e) { rc = idx_cli_fail(argv[0], e); goto done; }
    }
    double total = idx_now() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
    qsort(lat, qs->n, sizeof *lat, cmp_double);
    fprintf(stderr, "%zu queries in %.3f s: %.1f queries/s, latency p50 %.3f ms p99 %.3f ms, cpu %.3f s (%.1f queries/cpu-s); "
                    "%zu without hits, %zu failed\n",
            qs->n, total, (double)qs->n / total, lat[qs->n / 2] * 1000, lat[(size_t)((double)qs->n * 0.99)] * 1000,
            cpu, cpu > 0 ? (double)qs->n / cpu : 0.0, empty, failed);
    if (failed) rc = 1;
done:
    if (out && out != stdout && fclose(out) != 0) { fprintf(stderr, "idx retrieve: cannot write %s\n", outp); rc = 1; }
    free(lat);
    idx_eval_queries_free(qs);
    free(hits);
    idx_sparse_searcher_free(q);
    idx_sparse_close(s);
    return rc;
}
IDX_CLI_COMMAND(retrieve, cmd_retrieve, "BM25 top-k for a query, or a batch of queries into a TREC run", RETRIEVE_USAGE);

/* ------------------------------------------------------------------------ */

static int cmd_sparse_add(int argc, char **argv) {
    static const struct option opts[] = {
        {"text-field", required_argument, 0, O_TEXT}, {"id-field", required_argument, 0, O_ID},
        {"title-field", required_argument, 0, O_TITLE}, {"skip-bad", no_argument, 0, O_SKIP},
        {"quiet", no_argument, 0, O_QUIET}, {0, 0, 0, 0}};
    idx_corpus_opts co = {0};
    int c, quiet = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_TEXT: co.text_field = optarg; break;
        case O_ID: co.id_field = optarg; break;
        case O_TITLE: co.title_field = optarg; break;
        case O_SKIP: co.skip_bad = 1; break;
        case O_QUIET: quiet = 1; break;
        default: return idx_cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind < 2) return idx_cli_usage(argv[0], "need INDEX and at least one CORPUS");
    idx_progress prog;
    idx_progress_init(&prog, quiet ? NULL : idx_cli_progress, NULL);
    uint64_t n = 0;
    idx_err e = idx_sparse_add(argv[optind], (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), &co,
                               &prog, &n);
    if (!quiet) fprintf(stderr, "\n");
    if (e) return idx_cli_fail(argv[0], e);
    printf("added %llu documents as a new segment\n", (unsigned long long)n);
    return 0;
}
IDX_CLI_COMMAND(sparse-add, cmd_sparse_add, "add documents to a sparse index as a new segment",
                "usage: idx sparse-add INDEX [--text-field F] [--id-field F] [--title-field F] [--skip-bad] CORPUS...\n"
                "Indexes the documents into a new segment (with its own document store); ids already in the\n"
                "index are refused. Segments are searched together; `idx sparse-merge` joins them.\n");

static int cmd_sparse_delete(int argc, char **argv) {
    static const struct option opts[] = {{"ids-file", required_argument, 0, O_IDS}, {0, 0, 0, 0}};
    const char *idsfile = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == O_IDS) idsfile = optarg;
        else return idx_cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc) return idx_cli_usage(argv[0], "no index given");
    const char *index = argv[optind++];
    size_t n = (size_t)(argc - optind);
    char **ids = calloc(n + 1, sizeof *ids);
    idx_buf fb = {0};
    if (!ids) return idx_cli_fail(argv[0], idx_fail(IDX_ERR_NOMEM, "out of memory"));
    for (size_t i = 0; i < n; i++) ids[i] = argv[optind + (int)i];
    idx_err e = IDX_OK;
    if (idsfile) {
        if ((e = idx_read_file(idsfile, 0, &fb))) { free(ids); return idx_cli_fail(argv[0], e); }
        for (char *save = NULL, *t = strtok_r(fb.data ? fb.data : (char *)"", "\r\n", &save); t && !e;
             t = strtok_r(NULL, "\r\n", &save)) {
            if (!*t) continue;
            if ((e = idx_xrealloc(&ids, (n + 2) * sizeof *ids))) break;
            ids[n++] = t;
        }
    }
    if (!e && n == 0) { free(ids); idx_buf_free(&fb); return idx_cli_usage(argv[0], "no ids given"); }
    uint64_t del = 0, missing = 0;
    if (!e) e = idx_sparse_delete(index, (const char *const *)ids, n, &del, &missing);
    free(ids);
    idx_buf_free(&fb);
    if (e) return idx_cli_fail(argv[0], e);
    printf("deleted %llu documents; %llu ids not found (or already deleted)\n", (unsigned long long)del,
           (unsigned long long)missing);
    return 0;
}
IDX_CLI_COMMAND(sparse-delete, cmd_sparse_delete, "delete documents from a sparse index by id",
                "usage: idx sparse-delete INDEX [ID...] [--ids-file FILE]\n"
                "Marks documents deleted (they stop being returned at once; BM25 statistics keep\n"
                "counting them until `idx sparse-merge`, as in Lucene). Unknown ids are reported, not fatal.\n");

static int cmd_sparse_merge(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') return idx_cli_usage(argv[0], "usage: idx sparse-merge INDEX");
    idx_progress prog;
    idx_progress_init(&prog, idx_cli_progress, NULL);
    idx_err e = idx_sparse_merge(argv[1], &prog);
    fprintf(stderr, "\n");
    if (e) return idx_cli_fail(argv[0], e);
    idx_sparse *s;
    if ((e = idx_sparse_open(argv[1], 0, &s))) return idx_cli_fail(argv[0], e);
    printf("merged into 1 segment of %llu documents\n", (unsigned long long)idx_sparse_doc_count(s));
    idx_sparse_close(s);
    return 0;
}
IDX_CLI_COMMAND(sparse-merge, cmd_sparse_merge, "merge the segments of a sparse index (drops deleted documents)",
                "usage: idx sparse-merge INDEX\n");
