/*
 * cmd_chunk.c -- `idx chunk`: chunks every document of a corpus with one of
 * the chunkers of chunk/idx_chunk.h and writes JSONL, one chunk per line:
 *   {"doc":ID,"chunk":N,"start":B,"end":E,"words":W,"heading":"A > B","text":T}
 * (start/end are byte offsets in the original document; "heading" only when
 * the chunk has a heading path; text whose bytes are not valid UTF-8 is
 * written with U+FFFD replacements and "text_lossy":true, the offsets staying
 * exact). And `idx chunk-eval`: the boundary-recovery benchmark (concatenated
 * documents, Pk / WindowDiff at a calibrated mean chunk length, throughput).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "idx_chunk.h"
#include "idx_cli.h"
#include "chunk_cli.h"

/* ------------------------------------------------------------------------ */
/* Shared option parsing                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    idx_chunk_opts o;
    const char *chunker;
    const char **lm_ref;
    size_t nlm_ref;
    size_t max_context;
    size_t cache;
    double lambda;
    idx_chunk_cache_lm cache_lm;
    const char *lm_index;
    idx_chunk_fmlm *fmlm;
    int score_gain;
    const char *text_field;
    const char *id_field;
    int skip_bad, no_text, size_set;
} chunk_args;

enum { OPT_SIZE = 1000, OPT_UNIT, OPT_OVERLAP, OPT_MERGE, OPT_THRESHOLD, OPT_DYNAMIC, OPT_LMREF,
       OPT_CTX, OPT_BLOCK, OPT_CUTOFF, OPT_TEXTF, OPT_IDF, OPT_SKIPBAD, OPT_NOTEXT, OPT_CHUNKER,
       OPT_MAXSW, OPT_OUT, OPT_TEXTS, OPT_DPT, OPT_SEED, OPT_REFDOCS, OPT_CHUNKERS, OPT_TARGET,
       OPT_JSON, OPT_CACHE, OPT_LAMBDA, OPT_LM, OPT_DUMPREF, OPT_RULE, OPT_SCORE, OPT_WINDOW, OPT_PPLTARGET, OPT_ONESIDED };

static int parse_u64(const char *s, uint64_t *v) { return idx_cli_parse_uint(s, UINT64_MAX, v); }

static int parse_dbl(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return (!*s || *end || !isfinite(*v)) ? -1 : 0;
}

/* Handles one shared option; returns 0 if handled, 1 if not ours, 2 on a usage error. */
static int chunk_opt(const char *cmd, chunk_args *a, int c, const char *arg) {
    uint64_t v;
    double d;
    switch (c) {
    case OPT_CHUNKER: a->chunker = arg; return 0;
    case OPT_SIZE:
        if (idx_cli_parse_size(arg, &v) || v == 0) return idx_cli_usage(cmd, "bad --size '%s'", arg);
        a->o.size = v;
        a->size_set = 1;
        return 0;
    case OPT_UNIT:
        if (strcmp(arg, "words") == 0) a->o.unit = IDX_CHUNK_UNIT_WORDS;
        else if (strcmp(arg, "bytes") == 0) a->o.unit = IDX_CHUNK_UNIT_BYTES;
        else return idx_cli_usage(cmd, "--unit is words or bytes, not '%s'", arg);
        return 0;
    case OPT_OVERLAP:
        if (idx_cli_parse_size(arg, &v)) return idx_cli_usage(cmd, "bad --overlap '%s'", arg);
        a->o.overlap = v;
        return 0;
    case OPT_MERGE:
        if (parse_u64(arg, &v)) return idx_cli_usage(cmd, "bad --merge '%s'", arg);
        a->o.merge = v;
        return 0;
    case OPT_THRESHOLD:
        if (parse_dbl(arg, &d) || d < 0) return idx_cli_usage(cmd, "bad --threshold '%s' (>= 0)", arg);
        a->o.ppl_threshold = d;
        return 0;
    case OPT_DYNAMIC: a->o.ppl_dynamic = 1; return 0;
    case OPT_LMREF: {
        const char **n = realloc(a->lm_ref, (a->nlm_ref + 1) * sizeof *n);
        if (!n) return idx_cli_usage(cmd, "out of memory");
        a->lm_ref = n;
        a->lm_ref[a->nlm_ref++] = arg;
        return 0;
    }
    case OPT_CTX:
        if (parse_u64(arg, &v) || v == 0 || v > 4096) return idx_cli_usage(cmd, "bad --max-context '%s' (1..4096)", arg);
        a->max_context = (size_t)v;
        return 0;
    case OPT_LM: a->lm_index = arg; return 0;
    case OPT_SCORE:
        if (strcmp(arg, "ppl") == 0) a->score_gain = 0;
        else if (strcmp(arg, "gain") == 0) a->score_gain = 1;
        else return idx_cli_usage(cmd, "--score is ppl or gain, not '%s'", arg);
        return 0;
    case OPT_RULE:
        if (strcmp(arg, "minima") == 0) a->o.ppl_rule = 0;
        else if (strcmp(arg, "rise") == 0) a->o.ppl_rule = 1;
        else if (strcmp(arg, "window") == 0) a->o.ppl_rule = 2;
        else return idx_cli_usage(cmd, "--rule is minima, rise or window, not '%s'", arg);
        return 0;
    case OPT_WINDOW:
        if (parse_u64(arg, &v) || v == 0 || v > 1000) return idx_cli_usage(cmd, "bad --window '%s' (1..1000)", arg);
        a->o.ppl_window = (uint32_t)v;
        return 0;
    case OPT_ONESIDED: a->o.ppl_one_sided = 1; return 0;
    case OPT_PPLTARGET:
        if (parse_u64(arg, &v) || v == 0) return idx_cli_usage(cmd, "bad --target-words '%s'", arg);
        a->o.target_words = v;
        return 0;
    case OPT_CACHE:
        if (idx_cli_parse_size(arg, &v) || v > (1u << 30)) return idx_cli_usage(cmd, "bad --cache '%s'", arg);
        a->cache = (size_t)v;
        return 0;
    case OPT_LAMBDA:
        if (parse_dbl(arg, &d) || d < 0 || d > 1) return idx_cli_usage(cmd, "bad --lambda '%s' (0..1)", arg);
        a->lambda = d;
        return 0;
    case OPT_BLOCK:
        if (parse_u64(arg, &v) || v == 0 || v > 1000) return idx_cli_usage(cmd, "bad --block '%s'", arg);
        a->o.tt_block = (uint32_t)v;
        return 0;
    case OPT_CUTOFF:
        if (parse_dbl(arg, &d)) return idx_cli_usage(cmd, "bad --cutoff '%s'", arg);
        a->o.tt_cutoff = d;
        return 0;
    case OPT_MAXSW:
        if (parse_u64(arg, &v) || v == 0 || v > 1000000) return idx_cli_usage(cmd, "bad --max-sentence-words '%s'", arg);
        a->o.max_sentence_words = (uint32_t)v;
        return 0;
    case OPT_TEXTF: a->text_field = arg; return 0;
    case OPT_IDF: a->id_field = arg; return 0;
    case OPT_SKIPBAD: a->skip_bad = 1; return 0;
    case OPT_NOTEXT: a->no_text = 1; return 0;
    }
    return 1;
}

#define SHARED_LONGOPTS                                                                            \
    {"chunker", required_argument, 0, OPT_CHUNKER}, {"size", required_argument, 0, OPT_SIZE},      \
        {"unit", required_argument, 0, OPT_UNIT}, {"overlap", required_argument, 0, OPT_OVERLAP},  \
        {"merge", required_argument, 0, OPT_MERGE},                                                \
        {"threshold", required_argument, 0, OPT_THRESHOLD},                                        \
        {"dynamic", no_argument, 0, OPT_DYNAMIC}, {"lm-ref", required_argument, 0, OPT_LMREF},     \
        {"lm", required_argument, 0, OPT_LM}, {"rule", required_argument, 0, OPT_RULE},           \
        {"score", required_argument, 0, OPT_SCORE}, {"window", required_argument, 0, OPT_WINDOW},  \
        {"target-words", required_argument, 0, OPT_PPLTARGET},                                       \
        {"one-sided", no_argument, 0, OPT_ONESIDED},                                               \
        {"max-context", required_argument, 0, OPT_CTX}, {"block", required_argument, 0, OPT_BLOCK}, \
        {"cache", required_argument, 0, OPT_CACHE}, {"lambda", required_argument, 0, OPT_LAMBDA},   \
        {"cutoff", required_argument, 0, OPT_CUTOFF},                                              \
        {"max-sentence-words", required_argument, 0, OPT_MAXSW},                                   \
        {"text-field", required_argument, 0, OPT_TEXTF}, {"id-field", required_argument, 0, OPT_IDF}, \
        {"skip-bad", no_argument, 0, OPT_SKIPBAD}

#define SHARED_USAGE                                                                               \
    "  --chunker NAME        sentence | fixed (words) | fixed-bytes | recursive | markdown | rst |\n" \
    "                        texttiling | ppl   (default: recursive)\n"                           \
    "  --size N              maximum chunk size (fixed, recursive; markdown/rst: split larger\n"   \
    "                        sections), in --unit (default 200 words, fixed-bytes 1000 bytes)\n"   \
    "  --unit words|bytes    unit of --size and --overlap\n"                                       \
    "  --overlap N           overlap of consecutive fixed-size chunks\n"                           \
    "  --merge N             dynamic merging afterwards: greedy, up to N words per chunk\n"        \
    "  --threshold X         ppl: theta of the local-minimum rule (default 0)\n"                   \
    "  --dynamic             ppl: dynamic threshold (min of accepted drops after 100)\n"           \
    "  --rule minima|rise|window  ppl: Meta-Chunking's local minima (default); cut before a\n"  \
    "                        rise of >= --threshold (ours); window (ours, best on SciFact): score\n" \
    "                        each gap by the next --window sentences (5) with the context ending\n" \
    "                        at the gap, cut at peaks of depth >= --threshold, or at the deepest\n" \
    "                        peaks, round(words / --target-words) - 1 per document (default 200 when\n" \
    "                        no --threshold is given); the gap score\n"                          \
    "                        adds the --window sentences before it scored with the text after it\n" \
    "                        as context (--one-sided: forward only)\n"                            \
    "  --score ppl|gain      ppl: sentence score = mean NLL (default), or its context gain: the\n" \
    "                        NLL with the document cache minus the NLL of the reference alone\n"  \
    "  --lm INDEX            ppl: the infinity-gram of an index built by idx build (FM-index);\n" \
    "                        a document whose first 256 bytes occur in it is refused\n"           \
    "  --lm-ref PATH         ppl: or an in-memory reference corpus (repeatable);\n"               \
    "                        a document identical to a reference document is refused\n"           \
    "  --max-context N       ppl: longest context of the model in bytes (default 64)\n"            \
    "  --cache N --lambda L  ppl: interpolate (weight L, default 0.8) an infinity-gram over the\n"  \
    "                        N bytes of the document before each sentence (default 2000; 0 = off)\n" \
    "  --block N --cutoff C  texttiling: block size in sentences (3), depth cutoff (0.5)\n"        \
    "  --max-sentence-words N  cut longer sentences into pieces (default 512)\n"                   \
    "  --text-field F --id-field F --skip-bad   corpus reading, as idx build\n"

/* Builds the reference model from the --lm-ref corpora. */
static idx_err build_reflm(const chunk_args *a, idx_chunk_reflm **out) {
    idx_chunk_reflm *m = NULL;
    idx_corpus *c = NULL;
    idx_corpus_opts co = {0};
    co.text_field = a->text_field;
    co.id_field = a->id_field;
    co.skip_bad = a->skip_bad;
    idx_err e = idx_chunk_reflm_new(a->max_context, &m);
    if (!e) e = idx_corpus_open(a->lm_ref, a->nlm_ref, &co, &c);
    while (!e) {
        idx_doc d;
        int got;
        if ((e = idx_corpus_next(c, &d, &got)) || !got) break;
        e = idx_chunk_reflm_add(m, d.text, d.text_len);
    }
    idx_corpus_close(c);
    if (!e) e = idx_chunk_reflm_build(m);
    if (e) {
        idx_chunk_reflm_free(m);
        return e;
    }
    *out = m;
    return IDX_OK;
}

static idx_err finish_opts(const char *cmd, chunk_args *a, idx_chunk_reflm **lm) {
    idx_chunk_kind kind;
    idx_err e = idx_chunk_kind_parse(a->chunker ? a->chunker : "recursive", &kind);
    if (e) return e;
    idx_chunk_opts user = a->o;
    idx_chunk_opts_init(&a->o, kind);
    if (a->size_set) a->o.size = user.size;
    a->o.unit = kind == IDX_CHUNK_FIXED_BYTES ? IDX_CHUNK_UNIT_BYTES : user.unit;
    a->o.overlap = user.overlap;
    a->o.merge = user.merge;
    a->o.ppl_threshold = user.ppl_threshold;
    a->o.ppl_dynamic = user.ppl_dynamic;
    a->o.ppl_rule = user.ppl_rule;
    a->o.ppl_window = user.ppl_window;
    a->o.target_words = user.target_words;
    a->o.ppl_one_sided = user.ppl_one_sided;
    /* the window rule without --threshold: the deepest peaks, one chunk per 200 words */
    if (a->o.ppl_rule == 2 && !a->o.target_words && a->o.ppl_threshold == 0) a->o.target_words = 200;
    if (user.tt_block) a->o.tt_block = user.tt_block;
    if (user.tt_cutoff != -1e300) a->o.tt_cutoff = user.tt_cutoff; /* -1e300: not given */
    if (user.max_sentence_words) a->o.max_sentence_words = user.max_sentence_words;
    *lm = NULL;
    if (kind == IDX_CHUNK_PPL) {
        if (!a->nlm_ref == !a->lm_index)
            return idx_fail(IDX_ERR_INVALID, "--chunker ppl needs one reference: --lm INDEX or --lm-ref PATH");
        if (a->lm_index) {
            if ((e = idx_chunk_fmlm_open(a->lm_index, a->max_context, &a->fmlm)))
                return idx_fail_context(e, "--lm %s", a->lm_index);
            a->cache_lm.base.nll = idx_chunk_fmlm_nll;
            a->cache_lm.base.ud = a->fmlm;
        } else {
            if ((e = build_reflm(a, lm))) return idx_fail_context(e, "reference model");
            a->cache_lm.base.nll = idx_chunk_reflm_nll;
            a->cache_lm.base.ud = *lm;
        }
        a->cache_lm.window = a->cache;
        a->cache_lm.lambda = a->lambda;
        a->cache_lm.max_context = a->max_context;
        a->o.lm.nll = idx_chunk_cache_nll;
        a->o.lm.ud = &a->cache_lm;
        if (a->score_gain || a->o.ppl_rule == 2) a->o.lm_contrast = a->cache_lm.base;
    } else if (a->nlm_ref || a->lm_index) {
        return idx_fail(IDX_ERR_INVALID, "--lm and --lm-ref are only for --chunker ppl");
    }
    (void)cmd;
    return IDX_OK;
}

/* ------------------------------------------------------------------------ */
/* idx chunk                                                                  */
/* ------------------------------------------------------------------------ */

/* text with invalid UTF-8 bytes replaced by U+FFFD */
static idx_err lossy_utf8(const char *s, size_t n, idx_buf *out) {
    out->len = 0;
    size_t i = 0;
    idx_err e = IDX_OK;
    while (i < n && !e) {
        size_t l = idx_utf8_charlen((const unsigned char *)s + i, n - i);
        if (l == 1 && (unsigned char)s[i] >= 0x80) e = idx_buf_append(out, "\xef\xbf\xbd", 3);
        else e = idx_buf_append(out, s + i, l);
        i += l;
    }
    if (!e) e = idx_buf_append(out, "", 0);
    return e;
}

static json_t *jstr(const char *s, size_t n, idx_buf *tmp, int *lossy) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    if (lossy_utf8(s, n, tmp)) return NULL;
    if (lossy) *lossy = 1;
    return json_stringn(tmp->data, tmp->len);
}

static int cmd_chunk(int argc, char **argv) {
    chunk_args a = {0};
    a.o.tt_cutoff = -1e300;
    a.cache = 2000;
    a.lambda = 0.8;
    const char *outpath = NULL;
    static const struct option lo[] = {SHARED_LONGOPTS, {"no-text", no_argument, 0, OPT_NOTEXT},
                                       {"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c == 'o') { outpath = optarg; continue; }
        if (c == '?') return idx_cli_usage("chunk", "unknown option");
        int r = chunk_opt("chunk", &a, c, optarg);
        if (r == 2) { free(a.lm_ref); return 2; }
        if (r == 1) { free(a.lm_ref); return idx_cli_usage("chunk", "unknown option"); }
    }
    if (optind >= argc) { free(a.lm_ref); return idx_cli_usage("chunk", "no input"); }
    idx_chunk_kind kind;
    if (idx_chunk_kind_parse(a.chunker ? a.chunker : "recursive", &kind)) {
        free(a.lm_ref);
        return idx_cli_usage("chunk", "%s", idx_errmsg());
    }
    idx_chunk_reflm *lm = NULL;
    idx_err e = finish_opts("chunk", &a, &lm);
    if (e) { idx_chunk_fmlm_free(a.fmlm); free(a.lm_ref); return idx_cli_fail("chunk", e); }
    FILE *out = stdout;
    if (outpath && !(out = fopen(outpath, "w"))) {
        idx_chunk_reflm_free(lm);
        idx_chunk_fmlm_free(a.fmlm);
        free(a.lm_ref);
        e = idx_fail(IDX_ERR_IO, "%s: cannot open for writing", outpath);
        return idx_cli_fail("chunk", e);
    }
    idx_corpus_opts co = {0};
    co.text_field = a.text_field;
    co.id_field = a.id_field;
    co.skip_bad = a.skip_bad;
    idx_corpus *corp = NULL;
    idx_chunk_list l = {0};
    idx_buf tmp = {0};
    idx_chunk_dyn dyn = {0};
    a.o.dyn = &dyn;
    uint64_t ndocs = 0, nchunks = 0;
    e = idx_corpus_open((const char *const *)argv + optind, (size_t)(argc - optind), &co, &corp);
    while (!e) {
        idx_doc d;
        int got;
        if ((e = idx_corpus_next(corp, &d, &got)) || !got) break;
        if (lm && idx_chunk_reflm_contains(lm, d.text, d.text_len)) {
            e = idx_fail(IDX_ERR_INVALID, "document %s is in the --lm-ref reference corpus: it would score "
                         "itself; use a disjoint reference", d.id);
            break;
        }
        if (a.fmlm && (e = idx_chunk_fmlm_check(a.fmlm, d.text, d.text_len))) {
            e = idx_fail_context(e, "document %s", d.id);
            break;
        }
        idx_chunk_list_clear(&l);
        if ((e = idx_chunk_text(&a.o, d.text, d.text_len, &l))) {
            e = idx_fail_context(e, "%s (document %s)", d.source, d.id);
            break;
        }
        for (size_t i = 0; i < l.n && !e; i++) {
            const idx_chunk_span *s = &l.spans[i];
            int lossy = 0;
            json_t *o = json_object();
            json_t *jid = jstr(d.id, strlen(d.id), &tmp, NULL);
            json_object_set_new(o, "doc", jid ? jid : json_null());
            json_object_set_new(o, "chunk", json_integer((json_int_t)i));
            json_object_set_new(o, "start", json_integer((json_int_t)s->start));
            json_object_set_new(o, "end", json_integer((json_int_t)s->end));
            json_object_set_new(o, "words", json_integer((json_int_t)s->words));
            if (s->head_len) {
                json_t *h = jstr(l.heads.data + s->head_off, s->head_len, &tmp, NULL);
                if (h) json_object_set_new(o, "heading", h);
            }
            if (!a.no_text) {
                json_t *t = jstr(d.text + s->start, (size_t)(s->end - s->start), &tmp, &lossy);
                json_object_set_new(o, "text", t ? t : json_null());
                if (lossy) json_object_set_new(o, "text_lossy", json_true());
            }
            char *js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            if (!js) { e = idx_fail(IDX_ERR_NOMEM, "out of memory writing JSON"); break; }
            if (fputs(js, out) == EOF || fputc('\n', out) == EOF) e = idx_fail(IDX_ERR_IO, "write failed");
            free(js);
        }
        ndocs++;
        nchunks += l.n;
    }
    idx_corpus_close(corp);
    idx_chunk_list_free(&l);
    idx_buf_free(&tmp);
    idx_chunk_dyn_free(&dyn);
    idx_chunk_reflm_free(lm);
    idx_chunk_fmlm_free(a.fmlm);
    free(a.lm_ref);
    if (fflush(out) != 0 && !e) e = idx_fail(IDX_ERR_IO, "write failed");
    if (out != stdout) fclose(out);
    if (e) return idx_cli_fail("chunk", e);
    fprintf(stderr, "idx chunk: %llu documents, %llu chunks\n", (unsigned long long)ndocs,
            (unsigned long long)nchunks);
    return 0;
}

IDX_CLI_COMMAND(chunk, cmd_chunk, "split documents into chunks (JSONL with byte offsets)",
                "usage: idx chunk [options] INPUT...\n"
                "Inputs as idx build: JSONL (.zst/.gz), text files, directories. Output: JSONL, one\n"
                "chunk per line: doc, chunk, start, end (byte offsets), words, heading, text.\n"
                SHARED_USAGE
                "  --no-text             omit the text field\n"
                "  -o, --output FILE     write there instead of stdout\n");

/* ------------------------------------------------------------------------ */
/* idx chunk-eval                                                             */
/* ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    char *text;
    size_t len;
} owned_doc;

static int cmd_chunk_eval(int argc, char **argv) {
    chunk_args a = {0};
    a.cache = 2000;
    a.lambda = 0.8;
    uint64_t ntexts = 20, dpt = 10, seed = 1, refdocs = 2000;
    double target = 0;
    int as_json = 0;
    const char *dump_ref = NULL;
    const char *chunkers = "fixed,recursive,texttiling,ppl,ppl-merge";
    static const struct option lo[] = {
        {"texts", required_argument, 0, OPT_TEXTS},    {"docs-per-text", required_argument, 0, OPT_DPT},
        {"seed", required_argument, 0, OPT_SEED},      {"ref-docs", required_argument, 0, OPT_REFDOCS},
        {"chunkers", required_argument, 0, OPT_CHUNKERS}, {"target", required_argument, 0, OPT_TARGET},
        {"max-context", required_argument, 0, OPT_CTX}, {"text-field", required_argument, 0, OPT_TEXTF},
        {"threshold", required_argument, 0, OPT_THRESHOLD}, {"block", required_argument, 0, OPT_BLOCK},
        {"cache", required_argument, 0, OPT_CACHE}, {"lambda", required_argument, 0, OPT_LAMBDA},
        {"lm", required_argument, 0, OPT_LM},          {"dump-ref", required_argument, 0, OPT_DUMPREF},
        {"window", required_argument, 0, OPT_WINDOW},
        {"json", no_argument, 0, OPT_JSON},            {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_TEXTS: bad = parse_u64(optarg, &ntexts) || ntexts == 0; break;
        case OPT_DPT: bad = parse_u64(optarg, &dpt) || dpt < 2; break;
        case OPT_SEED: bad = parse_u64(optarg, &seed); break;
        case OPT_REFDOCS: bad = parse_u64(optarg, &refdocs); break;
        case OPT_CHUNKERS: chunkers = optarg; break;
        case OPT_TARGET: bad = parse_dbl(optarg, &target) || target < 0; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_DUMPREF: dump_ref = optarg; break;
        case '?': return idx_cli_usage("chunk-eval", "unknown option");
        default: {
            int r = chunk_opt("chunk-eval", &a, c, optarg);
            if (r) return 2;
        }
        }
        if (bad) return idx_cli_usage("chunk-eval", "bad value '%s'", optarg);
    }
    if (optind >= argc) return idx_cli_usage("chunk-eval", "no corpus");
    /* read all documents */
    idx_corpus_opts co = {0};
    co.text_field = a.text_field;
    idx_corpus *corp = NULL;
    owned_doc *docs = NULL;
    size_t nd = 0, cap = 0;
    idx_err e = idx_corpus_open((const char *const *)argv + optind, (size_t)(argc - optind), &co, &corp);
    while (!e) {
        idx_doc d;
        int got;
        if ((e = idx_corpus_next(corp, &d, &got)) || !got) break;
        if (d.text_len == 0) continue;
        if (nd == cap) {
            cap = cap ? cap * 2 : 1024;
            owned_doc *n = realloc(docs, cap * sizeof *n);
            if (!n) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
            docs = n;
        }
        docs[nd].text = malloc(d.text_len);
        if (!docs[nd].text) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
        memcpy(docs[nd].text, d.text, d.text_len);
        docs[nd++].len = d.text_len;
    }
    idx_corpus_close(corp);
    idx_chunk_eval_text *texts = NULL;
    uint64_t **cuts = NULL;
    idx_chunk_reflm *lm = NULL;
    size_t need = (size_t)(ntexts * dpt + refdocs);
    if (!e && nd < need)
        e = idx_fail(IDX_ERR_INVALID, "corpus has %zu documents, %zu needed (texts*docs-per-text + ref-docs)", nd, need);
    if (e) goto done;
    /* seeded shuffle; the first ntexts*dpt documents make the texts, the next refdocs the reference */
    uint64_t st = seed;
    for (size_t i = nd - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next(&st) % (i + 1));
        owned_doc t = docs[i];
        docs[i] = docs[j];
        docs[j] = t;
    }
    if (dump_ref) {
        /* the reference documents as JSONL, for `idx build` and --lm INDEX */
        FILE *f = fopen(dump_ref, "w");
        if (!f) { e = idx_fail(IDX_ERR_IO, "%s: cannot open for writing", dump_ref); goto done; }
        for (size_t i = 0; i < refdocs && !e; i++) {
            const owned_doc *d = &docs[ntexts * dpt + i];
            json_t *o = json_object(), *t = json_stringn(d->text, d->len);
            if (!t) { json_decref(o); continue; } /* not UTF-8: left out */
            json_object_set_new(o, "_id", json_integer((json_int_t)i));
            json_object_set_new(o, "text", t);
            char *js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            if (!js || fprintf(f, "%s\n", js) < 0) e = idx_fail(IDX_ERR_IO, "%s: write failed", dump_ref);
            free(js);
        }
        if (fclose(f) != 0 && !e) e = idx_fail(IDX_ERR_IO, "%s: write failed", dump_ref);
        if (e) goto done;
    }
    texts = calloc(ntexts, sizeof *texts);
    cuts = calloc(ntexts, sizeof *cuts);
    if (!texts || !cuts) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto done; }
    double words = 0;
    uint64_t total_bytes = 0;
    for (size_t t = 0; t < ntexts && !e; t++) {
        size_t len = 0;
        for (size_t k = 0; k < dpt; k++) len += docs[t * dpt + k].len + 1;
        char *buf = malloc(len);
        cuts[t] = malloc(dpt * sizeof **cuts);
        if (!buf || !cuts[t]) { free(buf); e = idx_fail(IDX_ERR_NOMEM, "out of memory"); break; }
        size_t pos = 0;
        for (size_t k = 0; k < dpt; k++) {
            const owned_doc *d = &docs[t * dpt + k];
            if (k) { buf[pos++] = ' '; cuts[t][k - 1] = pos; }
            memcpy(buf + pos, d->text, d->len);
            pos += d->len;
            words += (double)idx_chunk_count_words(d->text, d->len);
        }
        texts[t].text = buf;
        texts[t].len = pos;
        texts[t].cuts = cuts[t];
        texts[t].ncuts = dpt - 1;
        total_bytes += pos;
    }
    if (e) goto done;
    if (target == 0) target = words / (double)(ntexts * dpt);
    if (strstr(chunkers, "ppl") && a.lm_index) {
        if ((e = idx_chunk_fmlm_open(a.lm_index, a.max_context, &a.fmlm))) goto done;
        for (size_t i = 0; i < ntexts * dpt && !e; i++)
            e = idx_chunk_fmlm_check(a.fmlm, docs[i].text, docs[i].len);
        if (e) goto done;
        if (!as_json)
            printf("reference model: index %s, %.2f MB\n", a.lm_index, (double)idx_chunk_fmlm_bytes(a.fmlm) / 1e6);
    } else if (strstr(chunkers, "ppl")) {
        if ((e = idx_chunk_reflm_new(a.max_context, &lm))) goto done;
        for (size_t i = 0; i < refdocs && !e; i++) {
            const owned_doc *d = &docs[ntexts * dpt + i];
            e = idx_chunk_reflm_add(lm, d->text, d->len);
        }
        double t0 = idx_now();
        if (!e) e = idx_chunk_reflm_build(lm);
        if (e) goto done;
        if (!as_json)
            printf("reference model: %zu documents, %.2f MB, suffix array built in %.2f s\n", (size_t)refdocs,
                   (double)idx_chunk_reflm_bytes(lm) / 1e6, idx_now() - t0);
    }
    if (!as_json) {
        printf("texts: %zu x %zu documents (seed %llu), %.2f MB, target mean chunk length %.1f words\n",
               (size_t)ntexts, (size_t)dpt, (unsigned long long)seed, (double)total_bytes / 1e6, target);
        printf("%-12s %8s %8s %10s %8s %10s %10s\n", "chunker", "Pk", "WinDiff", "mean_words", "chunks",
               "MB/s", "param");
    }
    char *list = strdup(chunkers);
    if (!list) { e = idx_fail(IDX_ERR_NOMEM, "out of memory"); goto done; }
    for (char *tok = strtok(list, ","); tok && !e; tok = strtok(NULL, ",")) {
        idx_chunk_kind kind;
        idx_chunk_knob knob = IDX_CHUNK_KNOB_AUTO;
        if (strcmp(tok, "ppl-merge") == 0) { kind = IDX_CHUNK_PPL; knob = IDX_CHUNK_KNOB_MERGE; }
        else if (strncmp(tok, "ppl-", 4) == 0 && (strstr(tok, "rise") || strstr(tok, "gain") || strstr(tok, "window"))) {
            kind = IDX_CHUNK_PPL;
            knob = strstr(tok, "window") && strstr(tok, "-k") ? IDX_CHUNK_KNOB_TARGET : IDX_CHUNK_KNOB_THRESHOLD;
        }
        else if (strcmp(tok, "texttiling-k") == 0) { kind = IDX_CHUNK_TEXTTILING; knob = IDX_CHUNK_KNOB_TARGET; }
        else if (strcmp(tok, "sentence-merge") == 0) { kind = IDX_CHUNK_SENTENCE; knob = IDX_CHUNK_KNOB_MERGE; }
        else if ((e = idx_chunk_kind_parse(tok, &kind))) break;
        else if (kind == IDX_CHUNK_PPL) knob = IDX_CHUNK_KNOB_THRESHOLD;
        idx_chunk_opts o;
        idx_chunk_opts_init(&o, kind);
        if (a.o.tt_block) o.tt_block = a.o.tt_block;
        o.ppl_threshold = a.o.ppl_threshold;
        if (strstr(tok, "rise")) o.ppl_rule = 1;
        if (strstr(tok, "window")) o.ppl_rule = 2;
        if (strstr(tok, "window1")) o.ppl_one_sided = 1;
        o.ppl_window = a.o.ppl_window;
        if (kind == IDX_CHUNK_PPL) {
            a.cache_lm = a.fmlm ? (idx_chunk_cache_lm){{idx_chunk_fmlm_nll, a.fmlm}, a.cache, a.lambda, a.max_context}
                                : (idx_chunk_cache_lm){{idx_chunk_reflm_nll, lm}, a.cache, a.lambda, a.max_context};
            o.lm.nll = idx_chunk_cache_nll;
            o.lm.ud = &a.cache_lm;
            if (strstr(tok, "gain")) o.lm_contrast = a.cache_lm.base;
        }
        idx_chunk_eval_result r;
        double tgt = kind == IDX_CHUNK_FIXED_WORDS ? 0 : target;
        if (kind == IDX_CHUNK_FIXED_WORDS) o.size = (uint64_t)llround(target);
        if (kind == IDX_CHUNK_FIXED_BYTES) o.size = (uint64_t)llround((double)total_bytes / words * target);
        if ((e = idx_chunk_eval(&o, texts, ntexts, tgt, knob, &r))) break;
        if (kind == IDX_CHUNK_FIXED_WORDS || kind == IDX_CHUNK_FIXED_BYTES) r.param = (double)o.size;
        if (as_json)
            printf("{\"chunker\":\"%s\",\"pk\":%.4f,\"windowdiff\":%.4f,\"mean_words\":%.1f,\"chunks\":%llu,"
                   "\"mb_per_s\":%.3f,\"param\":%g,\"ref_bytes\":%llu,\"seed\":%llu}\n",
                   tok, r.pk, r.windowdiff, r.mean_words, (unsigned long long)r.chunks, r.mb_per_s, r.param,
                   (unsigned long long)(kind != IDX_CHUNK_PPL ? 0 : a.fmlm ? idx_chunk_fmlm_bytes(a.fmlm) : idx_chunk_reflm_bytes(lm)),
                   (unsigned long long)seed);
        else
            printf("%-12s %8.4f %8.4f %10.1f %8llu %10.3f %10g\n", tok, r.pk, r.windowdiff, r.mean_words,
                   (unsigned long long)r.chunks, r.mb_per_s, r.param);
        fflush(stdout);
    }
    free(list);
done:
    for (size_t i = 0; i < nd; i++) free(docs[i].text);
    free(docs);
    if (texts)
        for (size_t t = 0; t < ntexts; t++) free((char *)texts[t].text);
    if (cuts)
        for (size_t t = 0; t < ntexts; t++) free(cuts[t]);
    free(texts);
    free(cuts);
    idx_chunk_reflm_free(lm);
    idx_chunk_fmlm_free(a.fmlm);
    free(a.lm_ref);
    if (e) return idx_cli_fail("chunk-eval", e);
    return 0;
}

IDX_CLI_COMMAND(chunk-eval, cmd_chunk_eval, "segmentation benchmark: Pk/WindowDiff of chunkers on concatenated documents",
                "usage: idx chunk-eval [options] CORPUS...\n"
                "Shuffles the corpus documents (seeded), joins --docs-per-text of them with one space into\n"
                "each of --texts texts, builds the ppl reference model from the next --ref-docs documents\n"
                "(disjoint from the texts), and prints Pk, WindowDiff, mean chunk length, chunks and MB/s per\n"
                "chunker at the same mean chunk length (the mean document length unless --target).\n"
                "  --texts N (20) --docs-per-text N (10) --seed N (1) --ref-docs N (2000)\n"
                "  --chunkers LIST       comma-separated (fixed,recursive,texttiling,ppl,ppl-merge);\n"
                "                        ppl calibrates theta, ppl-merge merges theta=0 chunks (Meta-Chunking);\n"
                "                        ppl-rise: rise rule; ppl-gain, ppl-gain-rise: context-gain score;\n"
                "                        ppl-gain-window: window rule on the cross-gap context gain (theta\n"
                "                        calibrated); ppl-gain-window-k: the deepest peaks, K per text from\n"
                "                        the target length (no calibration); --window N sentences (5);\n"
                "                        ppl-gain-window1[-k]: forward direction only; texttiling-k: the\n"
                "                        deepest valleys, K per text like the -k rules\n"
                "  --target W            mean chunk length in words to calibrate to\n"
                "  --lm INDEX            ppl reference: an index built by idx build (its documents must not\n"
                "                        include the text documents; checked) instead of --ref-docs\n"
                "  --max-context N       ppl model context in bytes (64); --threshold X (0); --block N (3)\n"
                "  --cache N --lambda L  ppl document cache window (2000 bytes) and weight (0.8)\n"
                "  --dump-ref FILE       write the --ref-docs reference documents as JSONL (for idx build)\n"
                "  --json                one JSON object per chunker\n");

/* ------------------------------------------------------------------------ */
/* Chunking options for idx build / idx index-sparse (chunk_cli.h)            */
/* ------------------------------------------------------------------------ */

struct idx_chunk_cli {
    chunk_args a;
    idx_buf desc;
    idx_chunk_reflm *lm;
    idx_chunk_source *src;
    idx_chunk_dyn dyn;
};

void idx_chunk_cli_free(idx_chunk_cli *c) {
    if (!c) return;
    idx_chunk_source_free(c->src);
    idx_chunk_reflm_free(c->lm);
    idx_chunk_fmlm_free(c->a.fmlm);
    idx_chunk_dyn_free(&c->dyn);
    free(c->a.lm_ref);
    idx_buf_free(&c->desc);
    free(c);
}

int idx_chunk_cli_extract(const char *cmd, int *argc, char **argv, idx_chunk_cli **out) {
    static const struct option lo[] = {SHARED_LONGOPTS, {0, 0, 0, 0}};
    *out = NULL;
    int has = 0;
    for (int i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--chunker") == 0 || strncmp(argv[i], "--chunker=", 10) == 0) has = 1;
    if (!has) return 0;
    idx_chunk_cli *c = calloc(1, sizeof *c);
    if (!c) return idx_cli_usage(cmd, "out of memory");
    c->a.o.tt_cutoff = -1e300;
    c->a.cache = 2000;
    c->a.lambda = 0.8;
    int w = 1, i = 1;
    while (i < *argc) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) break;
        const struct option *op = NULL;
        size_t nl = 0;
        if (strncmp(arg, "--", 2) == 0) {
            const char *eq = strchr(arg, '=');
            nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            for (const struct option *p = lo; p->name; p++)
                if (strlen(p->name) == nl && strncmp(p->name, arg + 2, nl) == 0) op = p;
            /* the corpus options stay the command's */
            if (op && (op->val == OPT_TEXTF || op->val == OPT_IDF || op->val == OPT_SKIPBAD)) op = NULL;
        }
        if (!op) {
            argv[w++] = argv[i++];
            continue;
        }
        const char *val = NULL;
        int used = 1;
        if (op->has_arg == required_argument) {
            if (arg[2 + nl] == '=') val = arg + 3 + nl;
            else if (i + 1 < *argc) { val = argv[i + 1]; used = 2; }
            else { idx_chunk_cli_free(c); return idx_cli_usage(cmd, "--%s needs a value", op->name); }
        }
        int r = chunk_opt(cmd, &c->a, op->val, val);
        if (r) { idx_chunk_cli_free(c); return r == 2 ? 2 : idx_cli_usage(cmd, "bad option --%s", op->name); }
        if (op->val != OPT_LMREF && op->val != OPT_LM) {
            /* the description: the options as given (model paths left out) */
            if ((c->desc.len && idx_buf_append(&c->desc, " ", 1)) || idx_buf_append(&c->desc, arg, strlen(arg)) ||
                (used == 2 && (idx_buf_append(&c->desc, " ", 1) || idx_buf_append(&c->desc, val, strlen(val))))) {
                idx_chunk_cli_free(c);
                return idx_cli_usage(cmd, "out of memory");
            }
        }
        i += used;
    }
    while (i < *argc) argv[w++] = argv[i++];
    argv[w] = NULL;
    *argc = w;
    if (idx_buf_append(&c->desc, "", 1)) { idx_chunk_cli_free(c); return idx_cli_usage(cmd, "out of memory"); }
    idx_chunk_kind kind;
    if (idx_chunk_kind_parse(c->a.chunker, &kind)) {
        idx_chunk_cli_free(c);
        return idx_cli_usage(cmd, "%s", idx_errmsg());
    }
    *out = c;
    return 0;
}

static idx_err cli_check(void *ud, const idx_doc *d) {
    idx_chunk_cli *c = ud;
    if (c->lm && idx_chunk_reflm_contains(c->lm, d->text, d->text_len))
        return idx_fail(IDX_ERR_INVALID, "document %s is in the --lm-ref reference corpus: it would score "
                        "itself; use a disjoint reference", d->id);
    if (c->a.fmlm) {
        idx_err e = idx_chunk_fmlm_check(c->a.fmlm, d->text, d->text_len);
        if (e) return idx_fail_context(e, "document %s", d->id);
    }
    return IDX_OK;
}

idx_err idx_chunk_cli_setup(idx_chunk_cli *c, idx_index_build_opts *o) {
    idx_err e = finish_opts("build", &c->a, &c->lm);
    if (e) return e;
    c->a.o.dyn = &c->dyn;
    if ((e = idx_chunk_source_new(&c->a.o, c->desc.data, &c->src))) return e;
    if (c->lm || c->a.fmlm) idx_chunk_source_set_check(c->src, cli_check, c);
    o->next_doc = idx_chunk_source_next;
    o->finish = idx_chunk_source_finish;
    o->source_ud = c->src;
    return IDX_OK;
}

uint64_t idx_chunk_cli_chunks(const idx_chunk_cli *c) { return c ? idx_chunk_source_count(c->src) : 0; }

idx_err idx_chunk_cli_open_map(const char *index_dir, idx_chunkmap **out) {
    char *p = idx_path_join(index_dir, "chunks");
    if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    idx_err e = IDX_OK;
    if (access(p, F_OK) != 0)
        e = idx_fail(IDX_ERR_NOT_FOUND, "%s has no chunk map: --level doc needs an index built with --chunker", index_dir);
    else
        e = idx_chunkmap_open(p, 0, out);
    free(p);
    return e;
}

idx_err idx_chunk_cli_to_doc(const idx_chunkmap *m, uint64_t chunk, uint64_t off, const char *chunk_id,
                             size_t chunk_id_len, uint64_t *doc, uint64_t *doc_off, size_t *id_len) {
    idx_chunkmap_entry e;
    idx_err err = idx_chunkmap_get(m, chunk, &e);
    if (err) return err;
    if (off > e.end - e.start) return idx_fail(IDX_ERR_CORRUPT, "chunk %llu: offset %llu outside its span",
                                               (unsigned long long)chunk, (unsigned long long)off);
    *doc = e.doc_id;
    *doc_off = e.start + off;
    *id_len = idx_chunk_cli_doc_id_len(chunk_id, chunk_id_len);
    return IDX_OK;
}

size_t idx_chunk_cli_doc_id_len(const char *id, size_t len) {
    size_t n = len;
    while (n > 0 && id[n - 1] != '#') n--;
    return n ? n - 1 : len;
}

idx_err idx_chunk_cli_best_per_doc(const idx_sparse *s, idx_sparse_hit *hits, size_t *n, size_t k) {
    size_t cap = 16;
    while (cap < 2 * *n) cap *= 2;
    uint64_t *seen = calloc(cap, sizeof *seen); /* hashes of kept document ids (0 = empty) */
    if (!seen) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    size_t w = 0;
    for (size_t i = 0; i < *n && w < k; i++) {
        const char *id;
        size_t il;
        idx_err e = idx_docs_id(idx_sparse_segment_store(s, hits[i].segment), hits[i].doc, &id, &il);
        if (e) { free(seen); return e; }
        uint64_t h = idx_hash64(id, idx_chunk_cli_doc_id_len(id, il), 0) | 1;
        size_t j = (size_t)(h & (cap - 1));
        while (seen[j] && seen[j] != h) j = (j + 1) & (cap - 1);
        if (seen[j]) continue; /* a better chunk of this document is kept */
        seen[j] = h;
        hits[w++] = hits[i];
    }
    free(seen);
    *n = w;
    return IDX_OK;
}
