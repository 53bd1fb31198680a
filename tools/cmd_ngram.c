/*
 * cmd_ngram.c -- n-gram statistics on an index: `idx prob` (P(next | prompt)
 * with both counts), `idx infgram` (infinity-gram probability and NLL of
 * every unit of a text) and `idx ngrams` (the next-unit distribution after a
 * prefix). Parses options and calls index/idx_ngram.h; nothing else.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx_cli.h"
#include "idx_ngram.h"

/* Decodes \n \t \r \\ \xHH in s into b when esc is set; else copies s. */
static int arg_bytes(const char *s, int esc, idx_buf *b) {
    b->len = 0;
    if (!esc) return idx_buf_append(b, s, strlen(s)) == IDX_OK ? 0 : -1;
    for (; *s; s++) {
        char c = *s;
        if (c == '\\' && s[1]) {
            s++;
            switch (*s) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': c = '\\'; break;
            case 'x': {
                int v = 0;
                for (int k = 0; k < 2; k++) {
                    char h = s[1];
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return -1;
                    v = v * 16 + d;
                    s++;
                }
                c = (char)v;
                break;
            }
            default: return -1;
            }
        }
        if (idx_buf_append(b, &c, 1)) return -1;
    }
    return idx_buf_append(b, "", 0) == IDX_OK ? 0 : -1;
}

static void put_escaped(FILE *f, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c < 0x20 || c == 0x7F) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

/* A JSON string of arbitrary bytes (invalid UTF-8 bytes become U+FFFD). */
static json_t *json_bytes(const void *data, size_t n) {
    const char *p = data;
    if (idx_utf8_valid(p, n)) return json_stringn(p, n);
    idx_buf b = {0};
    for (size_t i = 0; i < n;) {
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

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) puts(s);
    free(s);
}

typedef struct {
    idx_fm *fm;
    idx_ngram_src *src;
} opened;

static idx_err open_index(const char *dir, opened *o) {
    memset(o, 0, sizeof *o);
    idx_err e = idx_fm_open(dir, 0, &o->fm);
    if (e) return e;
    if ((e = idx_ngram_src_fm(o->fm, &o->src))) {
        idx_fm_close(o->fm);
        o->fm = NULL;
    }
    return e;
}

static void close_index(opened *o) {
    idx_ngram_src_free(o->src);
    idx_fm_close(o->fm);
}

static int parse_unit(const char *s, idx_ngram_unit_kind *u) {
    if (strcmp(s, "byte") == 0) *u = IDX_NGRAM_UNIT_BYTE;
    else if (strcmp(s, "char") == 0) *u = IDX_NGRAM_UNIT_CHAR;
    else return -1;
    return 0;
}

/* ------------------------------------------------------------------ prob */

static int cmd_prob(int argc, char **argv) {
    static const struct option lo[] = {{"json", no_argument, 0, 'j'}, {"escapes", no_argument, 0, 'e'}, {0, 0, 0, 0}};
    int json = 0, esc = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "e", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'e': esc = 1; break;
        default: return idx_cli_usage("prob", "bad option");
        }
    }
    if (argc - optind != 3) return idx_cli_usage("prob", "give INDEX PROMPT NEXT");
    idx_buf p = {0}, n = {0};
    if (arg_bytes(argv[optind + 1], esc, &p) || arg_bytes(argv[optind + 2], esc, &n)) {
        idx_buf_free(&p);
        idx_buf_free(&n);
        return idx_cli_usage("prob", "bad escape sequence");
    }
    opened ix;
    idx_err e = open_index(argv[optind], &ix);
    uint64_t cp = 0, cf = 0;
    double pr = 0;
    if (!e) e = idx_ngram_prob(ix.src, p.data, p.len, n.data, n.len, &cp, &cf, &pr);
    int rc = 0;
    if (e) rc = idx_cli_fail("prob", e);
    else if (json) {
        json_t *j = json_pack("{s:o,s:o,s:I,s:I,s:o}", "prompt", json_bytes(p.data, p.len), "next",
                              json_bytes(n.data, n.len), "count_prompt", (json_int_t)cp, "count_full",
                              (json_int_t)cf, "prob", cp ? json_real(pr) : json_null());
        print_json(j);
        json_decref(j);
    } else {
        printf("count(prompt)      %llu\ncount(prompt+next) %llu\n", (unsigned long long)cp, (unsigned long long)cf);
        if (cp) printf("P(next | prompt)   %.6g\n", pr);
        else printf("P(next | prompt)   undefined (the prompt does not occur)\n");
    }
    if (!e) close_index(&ix);
    idx_buf_free(&p);
    idx_buf_free(&n);
    return rc;
}

IDX_CLI_COMMAND(prob, cmd_prob, "P(next | prompt) = count(prompt+next) / count(prompt) on the FM-index",
                "usage: idx prob [--json] [-e] INDEX PROMPT NEXT\n"
                "  Prints count(PROMPT), count(PROMPT NEXT) and their ratio (undefined when\n"
                "  PROMPT does not occur). Counts are exact, over raw bytes.\n"
                "  -e, --escapes   decode \\n \\t \\r \\\\ \\xHH in PROMPT and NEXT\n"
                "  --json          one JSON object\n");

/* ------------------------------------------------------------------ infgram */

static int cmd_infgram(int argc, char **argv) {
    static const struct option lo[] = {{"json", no_argument, 0, 'j'},       {"escapes", no_argument, 0, 'e'},
                                       {"file", required_argument, 0, 'F'}, {"unit", required_argument, 0, 'u'},
                                       {"max-suffix", required_argument, 0, 'm'},
                                       {"exclude-self", no_argument, 0, 'x'}, {"summary", no_argument, 0, 's'},
                                       {0, 0, 0, 0}};
    int json = 0, esc = 0, summary = 0, c;
    const char *file = NULL;
    idx_ngram_opts o = {IDX_NGRAM_UNIT_CHAR, 0, 0};
    optind = 0;
    while ((c = getopt_long(argc, argv, "eF:", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'e': esc = 1; break;
        case 's': summary = 1; break;
        case 'F': file = optarg; break;
        case 'x': o.exclude_self = 1; break;
        case 'u':
            if (parse_unit(optarg, &o.unit)) return idx_cli_usage("infgram", "--unit is byte or char");
            break;
        case 'm': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-') return idx_cli_usage("infgram", "bad --max-suffix");
            o.max_suffix = (size_t)v;
            break;
        }
        default: return idx_cli_usage("infgram", "bad option");
        }
    }
    int nargs = argc - optind;
    if (nargs < 1) return idx_cli_usage("infgram", "missing INDEX");
    if (file ? nargs != 1 : nargs != 2) return idx_cli_usage("infgram", "give INDEX and TEXT, or INDEX and --file");
    idx_buf t = {0};
    idx_err e;
    if (file) {
        if ((e = idx_read_file(file, 0, &t))) return idx_cli_fail("infgram", e);
    } else if (arg_bytes(argv[optind + 1], esc, &t)) {
        return idx_cli_usage("infgram", "bad escape sequence");
    }
    opened ix;
    if ((e = open_index(argv[optind], &ix))) {
        idx_buf_free(&t);
        return idx_cli_fail("infgram", e);
    }
    idx_ngram_unit *u = NULL;
    size_t nu = 0;
    double mean = 0;
    e = idx_ngram_infgram(ix.src, t.data ? t.data : "", t.len, &o, &u, &nu, &mean);
    int rc = 0;
    const unsigned char *tx = (const unsigned char *)(t.data ? t.data : "");
    if (e) rc = idx_cli_fail("infgram", e);
    else if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < nu && !summary; i++) {
            const idx_ngram_unit *x = &u[i];
            json_array_append_new(arr, json_pack("{s:I,s:o,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:b,s:f,s:f}",
                "offset", (json_int_t)x->offset, "unit", json_bytes(tx + x->offset, x->len),
                "suffix_len", (json_int_t)x->suffix_len, "count_suffix", (json_int_t)x->suffix_count,
                "count_next", (json_int_t)x->next_count,
                "p_inf", x->suffix_count ? json_real((double)x->next_count / (double)x->suffix_count) : json_null(),
                "backoff_len", (json_int_t)x->backoff_len, "backoff_count_suffix", (json_int_t)x->backoff_suffix_count,
                "backoff_count_next", (json_int_t)x->backoff_next_count, "unseen", x->unseen,
                "prob", x->prob, "nll", x->nll));
        }
        json_t *j = json_pack("{s:s,s:I,s:b,s:I,s:f,s:f,s:o}", "unit", o.unit == IDX_NGRAM_UNIT_BYTE ? "byte" : "char",
                              "max_suffix", (json_int_t)o.max_suffix, "exclude_self", o.exclude_self,
                              "units", (json_int_t)nu, "mean_nll", mean, "perplexity", exp(mean), "per_unit", arr);
        print_json(j);
        json_decref(j);
    } else {
        if (!summary) {
            printf("%8s  %-6s %7s %12s %12s %10s %7s %10s %8s\n", "offset", "unit", "suffix", "cnt(suffix)",
                   "cnt(+unit)", "P_inf", "backoff", "P", "nll");
            for (size_t i = 0; i < nu; i++) {
                const idx_ngram_unit *x = &u[i];
                printf("%8llu  ", (unsigned long long)x->offset);
                put_escaped(stdout, tx + x->offset, x->len);
                int w = x->len == 1 && tx[x->offset] >= 0x20 && tx[x->offset] != '\\' && tx[x->offset] != 0x7F ? 1 : 2;
                printf("%*s %7u %12llu %12llu %10.4g %7u %10.4g %8.3f%s\n", 6 - w, "", x->suffix_len,
                       (unsigned long long)x->suffix_count, (unsigned long long)x->next_count,
                       x->suffix_count ? (double)x->next_count / (double)x->suffix_count : 0.0, x->backoff_len,
                       x->prob, x->nll, x->unseen ? "  (unseen: floor)" : "");
            }
        }
        printf("units %zu (%s), mean NLL %.4f nats, perplexity %.3f\n", nu,
               o.unit == IDX_NGRAM_UNIT_BYTE ? "bytes" : "UTF-8 characters", mean, exp(mean));
    }
    free(u);
    close_index(&ix);
    idx_buf_free(&t);
    return rc;
}

IDX_CLI_COMMAND(infgram, cmd_infgram, "infinity-gram probability and NLL of every unit of a text",
                "usage: idx infgram [options] INDEX TEXT | idx infgram [options] INDEX --file FILE\n"
                "  For every unit w of TEXT: the longest suffix of the preceding text that\n"
                "  occurs in the index (suffix, bytes), its count and count(suffix w), the\n"
                "  infinity-gram P_inf = count(suffix w) / count(suffix) (may be 0), and the\n"
                "  NLL of the back-off estimate: the longest suffix with count(suffix w) > 0\n"
                "  (unigram count(w)/N at length 0; a unit never seen gets P = 1/(N+1)).\n"
                "  --unit byte|char    unit (default char: UTF-8 characters)\n"
                "  --max-suffix N      longest suffix considered, in bytes (default unlimited)\n"
                "  --exclude-self      do not count occurrences inside TEXT itself (use when\n"
                "                      TEXT is a document of the index)\n"
                "  --summary           only the mean NLL and perplexity\n"
                "  -e, --escapes       decode \\n \\t \\r \\\\ \\xHH in TEXT\n"
                "  -F, --file FILE     read TEXT from FILE\n"
                "  --json              one JSON object with a per_unit array\n");

/* ------------------------------------------------------------------ ngrams */

static int cmd_ngrams(int argc, char **argv) {
    static const struct option lo[] = {{"json", no_argument, 0, 'j'}, {"escapes", no_argument, 0, 'e'},
                                       {"unit", required_argument, 0, 'u'}, {"top", required_argument, 0, 'k'},
                                       {0, 0, 0, 0}};
    int json = 0, esc = 0, c;
    size_t top = 10;
    idx_ngram_unit_kind unit = IDX_NGRAM_UNIT_CHAR;
    optind = 0;
    while ((c = getopt_long(argc, argv, "ek:", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'e': esc = 1; break;
        case 'u':
            if (parse_unit(optarg, &unit)) return idx_cli_usage("ngrams", "--unit is byte or char");
            break;
        case 'k': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-') return idx_cli_usage("ngrams", "bad --top");
            top = (size_t)v;
            break;
        }
        default: return idx_cli_usage("ngrams", "bad option");
        }
    }
    if (argc - optind != 2) return idx_cli_usage("ngrams", "give INDEX PREFIX");
    idx_buf p = {0};
    if (arg_bytes(argv[optind + 1], esc, &p)) return idx_cli_usage("ngrams", "bad escape sequence");
    opened ix;
    idx_err e = open_index(argv[optind], &ix);
    if (e) {
        idx_buf_free(&p);
        return idx_cli_fail("ngrams", e);
    }
    idx_ngram_next *nx = NULL;
    size_t n = 0;
    uint64_t pc = 0, tn = 0;
    e = idx_ngram_next_units(ix.src, p.data, p.len, unit, top, &nx, &n, &pc, &tn);
    int rc = 0;
    if (e) rc = idx_cli_fail("ngrams", e);
    else if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:o,s:I,s:f}", "unit", json_bytes(nx[i].bytes, nx[i].len),
                                                 "count", (json_int_t)nx[i].count,
                                                 "prob", tn ? (double)nx[i].count / (double)tn : 0.0));
        json_t *j = json_pack("{s:o,s:s,s:I,s:I,s:b,s:o}", "prefix", json_bytes(p.data, p.len), "unit",
                              unit == IDX_NGRAM_UNIT_BYTE ? "byte" : "char", "count_prefix", (json_int_t)pc,
                              "count_continued", (json_int_t)tn, "approx", 0, "next", arr);
        print_json(j);
        json_decref(j);
    } else {
        printf("count(prefix) %llu, followed by a unit %llu (exact)\n", (unsigned long long)pc, (unsigned long long)tn);
        for (size_t i = 0; i < n; i++) {
            printf("%4zu  ", i + 1);
            put_escaped(stdout, nx[i].bytes, nx[i].len);
            printf("\t%llu\t%.4f\n", (unsigned long long)nx[i].count, tn ? (double)nx[i].count / (double)tn : 0.0);
        }
    }
    free(nx);
    close_index(&ix);
    idx_buf_free(&p);
    return rc;
}

IDX_CLI_COMMAND(ngrams, cmd_ngrams, "the next-unit distribution after a prefix (top-k, exact counts)",
                "usage: idx ngrams [--unit byte|char] [-k N] [--json] [-e] INDEX PREFIX\n"
                "  Every unit that follows PREFIX in the corpus with its count and share,\n"
                "  the top N (default 10; 0 = all). Always exact: each candidate unit w is\n"
                "  counted by a backward search of PREFIX w (no sampling, so \"approx\" is\n"
                "  always false).\n"
                "  --unit byte|char    unit (default char: UTF-8 characters)\n"
                "  -e, --escapes       decode \\n \\t \\r \\\\ \\xHH in PREFIX\n");
