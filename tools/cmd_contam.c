/*
 * cmd_contam.c -- `idx contam INDEX BENCHMARK...`: reads benchmark files
 * (index/bench_reader.c), scores every entry against the index's FM-index
 * (index/contam.c) and prints a summary table per benchmark and subject, or
 * the full per-entry report as JSON (--json) or CSV (--csv). Parses options
 * and calls the library; nothing else.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx_cli.h"
#include "idx_ngram.h"

typedef struct {
    const char *bench, *split, *subject; /* subject NULL = the benchmark's (split's) total */
    uint64_t entries, skipped, cls[3], windows, matched;
    double score_sum;
} group;

typedef struct {
    group *g;
    size_t n, cap;
} groups;

static group *group_get(groups *gs, const char *bench, const char *split, const char *subject) {
    for (size_t i = 0; i < gs->n; i++)
        if (strcmp(gs->g[i].bench, bench) == 0 && strcmp(gs->g[i].split, split) == 0 &&
            ((!subject && !gs->g[i].subject) || (subject && gs->g[i].subject && strcmp(gs->g[i].subject, subject) == 0)))
            return &gs->g[i];
    if (gs->n == gs->cap) {
        size_t nc = gs->cap ? gs->cap * 2 : 32;
        group *p = realloc(gs->g, nc * sizeof *p);
        if (!p) return NULL;
        gs->g = p;
        gs->cap = nc;
    }
    group *x = &gs->g[gs->n++];
    memset(x, 0, sizeof *x);
    x->bench = bench;
    x->split = split;
    x->subject = subject;
    return x;
}

static void group_add(group *x, const idx_contam_result *r) {
    x->entries++;
    if (r->skipped) {
        x->skipped++;
        return;
    }
    x->cls[r->cls]++;
    x->windows += r->windows;
    x->matched += r->matched;
    x->score_sum += r->score;
}

static int cmp_group(const void *a, const void *b) {
    const group *x = a, *y = b;
    int c = strcmp(x->bench, y->bench);
    if (c) return c;
    if ((c = strcmp(x->split, y->split))) return c;
    if (!x->subject) return y->subject ? -1 : 0;
    if (!y->subject) return 1;
    return strcmp(x->subject, y->subject);
}

static void print_group_row(const group *g, const char *label) {
    uint64_t scored = g->entries - g->skipped;
    printf("%-44s %8llu %7llu %8llu %10llu %7llu %7.2f%% %7.2f%% %7.4f\n", label,
           (unsigned long long)g->entries, (unsigned long long)g->skipped, (unsigned long long)g->cls[0],
           (unsigned long long)g->cls[1], (unsigned long long)g->cls[2],
           scored ? 100.0 * (double)g->cls[2] / (double)scored : 0.0,
           scored ? 100.0 * (double)g->cls[1] / (double)scored : 0.0,
           scored ? g->score_sum / (double)scored : 0.0);
}

static void csv_field(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || v < 0 || v > 1) return -1;
    *out = v;
    return 0;
}

static int cmd_contam(int argc, char **argv) {
    static const struct option lo[] = {
        {"field", required_argument, 0, 'f'},     {"id-field", required_argument, 0, 'I'},
        {"name", required_argument, 0, 'N'},      {"window", required_argument, 0, 'w'},
        {"dirty", required_argument, 0, 'D'},     {"suspicious", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'},   {"json", no_argument, 0, 'j'},
        {"csv", no_argument, 0, 'c'},             {"skip-bad", no_argument, 0, 'b'},
        {"max-entry-bytes", required_argument, 0, 'M'}, {"no-span", no_argument, 0, 'n'},
        {"max-span", required_argument, 0, 'P'},  {"span-all", no_argument, 0, 'A'},  {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0}};
    const char *fields[64];
    idx_contam_read_opts ro = {0};
    idx_contam_opts co;
    idx_contam_opts_default(&co);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    co.threads = nproc > 0 ? (int)nproc : 1;
    int json = 0, csv = 0, quiet = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "f:t:q", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'f':
            if (ro.nfields == 64) return idx_cli_usage("contam", "at most 64 --field options");
            fields[ro.nfields++] = optarg;
            break;
        case 'I': ro.id_field = optarg; break;
        case 'N': ro.name = optarg; break;
        case 'w': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 100000 || optarg[0] == '-') return idx_cli_usage("contam", "bad --window");
            co.window_chars = v;
            break;
        }
        case 'D':
            if (parse_double(optarg, &co.dirty)) return idx_cli_usage("contam", "--dirty is a number in [0, 1]");
            break;
        case 'S':
            if (parse_double(optarg, &co.suspicious)) return idx_cli_usage("contam", "--suspicious is a number in [0, 1]");
            break;
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) return idx_cli_usage("contam", "--threads is 1..256");
            co.threads = (int)v;
            break;
        }
        case 'j': json = 1; break;
        case 'c': csv = 1; break;
        case 'b': ro.skip_bad = 1; break;
        case 'M': {
            uint64_t v;
            if (idx_cli_parse_size(optarg, &v) || v == 0) return idx_cli_usage("contam", "bad --max-entry-bytes");
            ro.max_entry_bytes = (size_t)v;
            break;
        }
        case 'n': co.no_span = 1; break;
        case 'P': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || optarg[0] == '-') return idx_cli_usage("contam", "bad --max-span");
            co.max_span = v;
            break;
        }
        case 'q': quiet = 1; break;
        case 'A': co.span_all = 1; break;
        default: return idx_cli_usage("contam", "bad option");
        }
    }
    if (json && csv) return idx_cli_usage("contam", "--json and --csv exclude each other");
    if (co.suspicious > co.dirty) return idx_cli_usage("contam", "--suspicious must not exceed --dirty");
    if (argc - optind < 2) return idx_cli_usage("contam", "give INDEX and at least one BENCHMARK file or directory");
    ro.fields = ro.nfields ? fields : NULL;
    const char *index = argv[optind];

    idx_contam_set *set = NULL;
    idx_fm *fm = NULL;
    idx_docs *docs = NULL;
    idx_ngram_src *src = NULL;
    idx_contam_result *res = NULL;
    groups gs = {0};
    int rc = 0;
    idx_err e = idx_contam_set_new(&set);
    for (int i = optind + 1; i < argc && !e; i++) e = idx_contam_read_path(set, argv[i], &ro);
    if (e) {
        rc = idx_cli_fail("contam", e);
        goto done;
    }
    size_t n = idx_contam_set_count(set);
    if (n == 0) {
        idx_fail(IDX_ERR_EMPTY, "no benchmark entries in the given files");
        rc = idx_cli_fail("contam", IDX_ERR_EMPTY);
        goto done;
    }
    if ((e = idx_fm_open(index, 0, &fm)) || (e = idx_ngram_src_fm(fm, &src))) {
        rc = idx_cli_fail("contam", e);
        goto done;
    }
    if (idx_docs_open(index, 0, &docs) != IDX_OK) docs = NULL; /* ids then print as numbers */
    if (docs && idx_docs_attach_fm(docs, fm) != IDX_OK) {
        idx_docs_close(docs);
        docs = NULL;
    }
    res = calloc(n, sizeof *res);
    if (!res) {
        idx_fail(IDX_ERR_NOMEM, "%zu results", n);
        rc = idx_cli_fail("contam", IDX_ERR_NOMEM);
        goto done;
    }
    double t0 = idx_now();
    e = idx_contam_run(src, set, &co, res, quiet ? NULL : idx_cli_progress, NULL);
    double secs = idx_now() - t0;
    if (e) {
        rc = idx_cli_fail("contam", e);
        goto done;
    }
    uint64_t windows = 0;
    for (size_t i = 0; i < n; i++) {
        const idx_contam_entry *en = idx_contam_set_entry(set, i);
        group *a = group_get(&gs, en->benchmark, en->split, NULL);
        if (!a) { rc = idx_cli_fail("contam", idx_fail(IDX_ERR_NOMEM, "groups")); goto done; }
        group_add(a, &res[i]);
        if (en->subject[0]) {
            group *b = group_get(&gs, en->benchmark, en->split, en->subject);
            if (!b) { rc = idx_cli_fail("contam", idx_fail(IDX_ERR_NOMEM, "groups")); goto done; }
            group_add(b, &res[i]);
        }
        windows += res[i].windows;
    }
    qsort(gs.g, gs.n, sizeof *gs.g, cmp_group);
    group total = {0};
    for (size_t i = 0; i < gs.n; i++)
        if (!gs.g[i].subject) {
            total.entries += gs.g[i].entries;
            total.skipped += gs.g[i].skipped;
            for (int k = 0; k < 3; k++) total.cls[k] += gs.g[i].cls[k];
            total.windows += gs.g[i].windows;
            total.matched += gs.g[i].matched;
            total.score_sum += gs.g[i].score_sum;
        }

    if (json) {
        json_t *summary = json_array(), *entries = json_array();
        for (size_t i = 0; i < gs.n; i++) {
            const group *g = &gs.g[i];
            json_array_append_new(summary, json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "benchmark", g->bench, "split", g->split,
                "subject", g->subject ? json_string(g->subject) : json_null(), "entries", (json_int_t)g->entries,
                "skipped", (json_int_t)g->skipped, "clean", (json_int_t)g->cls[0], "suspicious", (json_int_t)g->cls[1],
                "dirty", (json_int_t)g->cls[2], "windows", (json_int_t)g->windows, "windows_matched", (json_int_t)g->matched));
        }
        for (size_t i = 0; i < n; i++) {
            const idx_contam_entry *en = idx_contam_set_entry(set, i);
            const idx_contam_result *r = &res[i];
            json_t *o = idx_contam_entry_json(en, r, docs);
            json_array_append_new(entries, o);
        }
        json_t *top = json_pack("{s:s,s:{s:I,s:f,s:f,s:I,s:b},s:{s:I,s:I,s:f},s:o,s:o}", "index", index,
            "options", "window_chars", (json_int_t)co.window_chars, "dirty", co.dirty, "suspicious", co.suspicious,
            "threads", (json_int_t)co.threads, "span", !co.no_span,
            "timing", "entries", (json_int_t)n, "windows", (json_int_t)windows, "seconds", secs,
            "summary", summary, "entries", entries);
        if (json_dumpf(top, stdout, JSON_INDENT(1)) != 0) rc = 1;
        fputc('\n', stdout);
        json_decref(top);
    } else if (csv) {
        printf("benchmark,subject,split,id,source,line,windows,matched,score,class,skipped,span_bytes,span_doc,span_doc_offset,span\n");
        for (size_t i = 0; i < n; i++) {
            const idx_contam_entry *en = idx_contam_set_entry(set, i);
            const idx_contam_result *r = &res[i];
            csv_field(stdout, en->benchmark, strlen(en->benchmark));
            putchar(',');
            csv_field(stdout, en->subject, strlen(en->subject));
            putchar(',');
            csv_field(stdout, en->split, strlen(en->split));
            putchar(',');
            csv_field(stdout, en->id, strlen(en->id));
            putchar(',');
            csv_field(stdout, en->source, strlen(en->source));
            printf(",%llu,", (unsigned long long)en->line);
            if (r->skipped) {
                printf(",,,,");
                csv_field(stdout, en->skip ? en->skip : "skipped", strlen(en->skip ? en->skip : "skipped"));
                printf(",,,,\n");
                continue;
            }
            printf("%u,%u,%.4f,%s,,%llu,", r->windows, r->matched, r->score, idx_contam_class_name(r->cls),
                   (unsigned long long)r->span_len);
            if (r->span_found) {
                const char *id = NULL;
                size_t idl = 0;
                if (docs && idx_docs_id(docs, r->span_doc, &id, &idl) == IDX_OK) csv_field(stdout, id, idl);
                else printf("%llu", (unsigned long long)r->span_doc);
                printf(",%llu,", (unsigned long long)r->span_doc_off);
            } else {
                printf(",,");
            }
            csv_field(stdout, en->text + r->span_off, (size_t)r->span_len);
            putchar('\n');
        }
    } else {
        printf("%-44s %8s %7s %8s %10s %7s %8s %8s %7s\n", "benchmark / subject", "entries", "skipped", "clean",
               "suspicious", "dirty", "dirty%", "susp%", "score");
        for (size_t i = 0; i < gs.n; i++) {
            char label[256];
            if (gs.g[i].subject) snprintf(label, sizeof label, "  %s", gs.g[i].subject);
            else if (gs.g[i].split[0]) snprintf(label, sizeof label, "%s (%s)", gs.g[i].bench, gs.g[i].split);
            else snprintf(label, sizeof label, "%s", gs.g[i].bench);
            print_group_row(&gs.g[i], label);
        }
        print_group_row(&total, "TOTAL");
        printf("\nwindow %zu chars at word starts; dirty >= %.2f, suspicious >= %.2f\n", co.window_chars, co.dirty,
               co.suspicious);
        printf("%zu entries, %llu windows in %.2f s: %.0f entries/s, %.0f windows/s (%d threads, %zu shards)\n", n,
               (unsigned long long)windows, secs, secs > 0 ? (double)n / secs : 0.0,
               secs > 0 ? (double)windows / secs : 0.0, co.threads, idx_fm_shard_count(fm));
        for (size_t i = 0; i < n; i++) {
            const idx_contam_entry *en = idx_contam_set_entry(set, i);
            if (res[i].skipped)
                fprintf(stderr, "idx contam: skipped %s:%llu: %s\n", en->source, (unsigned long long)en->line, en->skip);
        }
    }
    if (fflush(stdout) != 0) rc = 1;
done:
    free(gs.g);
    free(res);
    idx_ngram_src_free(src);
    idx_docs_close(docs);
    idx_fm_close(fm);
    idx_contam_set_free(set);
    return rc;
}

IDX_CLI_COMMAND(contam, cmd_contam, "benchmark contamination: fraction of 50-char windows found in the index",
                "usage: idx contam [options] INDEX BENCHMARK...\n"
                "  BENCHMARK: .jsonl/.json/.csv files (optionally .gz/.zst) or directories of them.\n"
                "  Every window of --window UTF-8 characters starting at a whitespace-word start\n"
                "  is counted in the index; score = fraction found; dirty >= --dirty, suspicious\n"
                "  >= --suspicious, else clean. A text shorter than one window is checked whole.\n"
                "  -f, --field F          text to check: JSON path (a.b.0) or CSV column name/number;\n"
                "                         repeatable (each field checked as its own segment).\n"
                "                         Default: question, prompt, problem, text, passage, context\n"
                "                         (first present); CSV: that column, else the first\n"
                "  --id-field F           entry id field/column (default task_id, id, _id; else file:line)\n"
                "  --name NAME            benchmark name (default: from the path)\n"
                "  --window N             window length in characters (default 50)\n"
                "  --dirty X              dirty threshold (default 0.8)\n"
                "  --suspicious X         suspicious threshold (default 0.2)\n"
                "  -t, --threads N        worker threads (default: CPUs)\n"
                "  --skip-bad             keep going past bad entries (reported as skipped)\n"
                "  --max-entry-bytes SIZE longest entry accepted (default 1M)\n"
                "  --no-span              skip the longest-matching-span search\n"
                "  --max-span N           stop the span search at N bytes (default 500)\n"
                "  --span-all             search the span in every entry (default: only in entries\n"
                "                         with a matching window)\n"
                "  --json                 full per-entry report (JSON object) on stdout\n"
                "  --csv                  per-entry CSV on stdout\n"
                "  -q, --quiet            no progress line\n");
