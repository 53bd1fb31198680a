/*
 * test_chunk.c -- unit tests of the chunk module: the sentence splitter on
 * hard cases, every chunker's offset invariants on hand-written, generated
 * and hostile inputs, heading paths, dynamic merging, the Meta-Chunking
 * boundary rule and PPL chunking with a deterministic model, the reference
 * infinity-gram model against a naive substring count, and Pk / WindowDiff
 * on NLTK's textbook examples.
 */
#include <math.h>

#include "../idx_test.h"
#include "idx_chunk.h"

/* Chunks and checks invariants; returns the list (caller frees). */
static idx_chunk_list run(const idx_chunk_opts *o, const char *t, size_t n) {
    idx_chunk_list l = {0};
    idx_err e = idx_chunk_text(o, t, n, &l);
    if (e) fail_msg("chunk %s: %s", idx_chunk_kind_name(o->kind), idx_errmsg());
    e = idx_chunk_check(t, n, &l, o->overlap != 0);
    if (e) fail_msg("invariant %s: %s", idx_chunk_kind_name(o->kind), idx_errmsg());
    return l;
}

/* "a|b|c": the expected sentence texts with trailing whitespace stripped. */
static void expect_sentences(const char *text, const char *expected) {
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_SENTENCE);
    idx_chunk_list l = run(&o, text, strlen(text));
    char got[4096] = "";
    for (size_t i = 0; i < l.n; i++) {
        size_t a = l.spans[i].start, b = l.spans[i].end;
        while (b > a && strchr(" \t\n\r", text[b - 1])) b--;
        if (i) strcat(got, "|");
        strncat(got, text + a, b - a);
    }
    if (strcmp(got, expected) != 0) fail_msg("sentences of [%s]\n got: %s\nwant: %s", text, got, expected);
    idx_chunk_list_free(&l);
}

static void test_sentences_hard(void **st) {
    (void)st;
    expect_sentences("Hello world. This is a test.", "Hello world.|This is a test.");
    expect_sentences("Dr. Smith went to Washington. He arrived at 3 p.m. on Monday.",
                     "Dr. Smith went to Washington.|He arrived at 3 p.m. on Monday.");
    expect_sentences("The value of pi is 3.14159. It is irrational.", "The value of pi is 3.14159.|It is irrational.");
    expect_sentences("J. R. R. Tolkien wrote it. It sold well.", "J. R. R. Tolkien wrote it.|It sold well.");
    expect_sentences("He said \"Stop.\" Then he left.", "He said \"Stop.\"|Then he left.");
    expect_sentences("(This is bracketed.) Next one.", "(This is bracketed.)|Next one.");
    expect_sentences("\"Why?\" he asked. Nobody knew!", "\"Why?\" he asked.|Nobody knew!");
    expect_sentences("Wait... what happened? I see... Later we left.", "Wait... what happened?|I see...|Later we left.");
    expect_sentences("Visit https://example.com/a.b?x=1. Then read docs.python.org/3/library. Done.",
                     "Visit https://example.com/a.b?x=1.|Then read docs.python.org/3/library.|Done.");
    expect_sentences("Mail me at john.doe@example.org. Thanks.", "Mail me at john.doe@example.org.|Thanks.");
    expect_sentences("Use e.g. this one, i.e. the best. Version v1.2.3 is out.",
                     "Use e.g. this one, i.e. the best.|Version v1.2.3 is out.");
    expect_sentences("Items:\n1. First item\n2. Second item\n- a bullet\n* another",
                     "Items:|1. First item|2. Second item|- a bullet|* another");
    expect_sentences("Para one line\ncontinues here\n\nPara two", "Para one line\ncontinues here|Para two");
    expect_sentences("See Fig. 3 and Eq. 2 for details. We also compare apples vs. oranges etc. Finally it ends.",
                     "See Fig. 3 and Eq. 2 for details.|We also compare apples vs. oranges etc.|Finally it ends.");
    expect_sentences("It is in the U.S. and the U.K. today. Really?! Yes.",
                     "It is in the U.S. and the U.K. today.|Really?!|Yes.");
    expect_sentences("我们去吃饭。你来吗？好的！走吧", "我们去吃饭。|你来吗？|好的！|走吧");
    expect_sentences("他说：「走吧。」然后离开了。", "他说：「走吧。」|然后离开了。");
    expect_sentences("No stop at the end", "No stop at the end");
    expect_sentences("   leading spaces. And more.", "   leading spaces.|And more.");
    expect_sentences("Costs were $3. Then they rose to 4.5%. Good.", "Costs were $3.|Then they rose to 4.5%.|Good.");
}

static void test_sentence_limits(void **st) {
    (void)st;
    /* 2000 words without punctuation -> pieces of at most 512 words */
    size_t n = 2000 * 5;
    char *t = malloc(n + 1);
    for (size_t i = 0; i < 2000; i++) memcpy(t + i * 5, "word ", 5);
    t[n] = 0;
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_SENTENCE);
    idx_chunk_list l = run(&o, t, n);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.spans[0].words, 512);
    assert_int_equal(l.spans[3].words, 2000 - 3 * 512);
    idx_chunk_list_free(&l);
    free(t);
    /* a 10000-byte word of multibyte characters: cut at character boundaries */
    n = 3 * 3334;
    t = malloc(n);
    for (size_t i = 0; i < n; i += 3) memcpy(t + i, "\xe4\xbd\xa0", 3); /* 你 (each a word) */
    l = run(&o, t, n);
    for (size_t i = 0; i < l.n; i++) assert_true(l.spans[i].words <= 512);
    idx_chunk_list_free(&l);
    for (size_t i = 0; i < n; i += 3) memcpy(t + i, "\xc3\xa9\x41", 3); /* éA: one long word */
    l = run(&o, t, n);
    assert_true(l.n >= 3);
    for (size_t i = 0; i < l.n; i++) assert_true(l.spans[i].end - l.spans[i].start <= 4096);
    idx_chunk_list_free(&l);
    free(t);
}

static void test_fixed(void **st) {
    (void)st;
    const char *t = "one two three four five six seven eight nine ten";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_FIXED_WORDS);
    o.size = 3;
    idx_chunk_list l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 4);
    assert_int_equal(l.spans[0].start, 0);
    assert_int_equal(l.spans[1].start, strlen("one two three "));
    assert_int_equal(l.spans[3].words, 1);
    idx_chunk_list_free(&l);
    o.overlap = 1; /* step 2: chunks start at words 0, 2, 4, 6, 8 */
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 5);
    assert_int_equal(l.spans[1].start, strlen("one two "));
    assert_int_equal(l.spans[1].words, 3);
    idx_chunk_list_free(&l);
    /* bytes: never split a character */
    const char *u = "\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac"; /* ééé€€ */
    idx_chunk_opts_init(&o, IDX_CHUNK_FIXED_BYTES);
    o.size = 4;
    l = run(&o, u, strlen(u));
    assert_int_equal(l.spans[0].end, 4);
    assert_int_equal(l.spans[1].end, 6); /* é then € does not fit */
    idx_chunk_list_free(&l);
    o.size = 1; /* smaller than one character: one character per chunk */
    l = run(&o, u, strlen(u));
    assert_int_equal(l.n, 5);
    idx_chunk_list_free(&l);
    o.size = 4;
    o.overlap = 2;
    l = run(&o, u, strlen(u));
    assert_int_equal(l.spans[1].start, 2);
    idx_chunk_list_free(&l);
    o.overlap = 4; /* overlap >= size */
    idx_chunk_list bad = {0};
    assert_int_equal(idx_chunk_text(&o, u, strlen(u), &bad), IDX_ERR_INVALID);
    o.overlap = 0;
    o.size = 0;
    assert_int_equal(idx_chunk_text(&o, u, strlen(u), &bad), IDX_ERR_INVALID);
    idx_chunk_list_free(&bad);
}

static void test_recursive(void **st) {
    (void)st;
    const char *t =
        "First paragraph has one sentence. And another one here.\n\n"
        "Second paragraph is a bit longer than the first one. It has three sentences. The last is short.\n"
        "A second line of paragraph two.\n\n"
        "Third.";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_RECURSIVE);
    for (uint64_t size = 1; size <= 40; size++) {
        o.size = size;
        idx_chunk_list l = run(&o, t, strlen(t));
        for (size_t i = 0; i < l.n; i++) assert_true(l.spans[i].words <= size);
        idx_chunk_list_free(&l);
    }
    o.size = 12;
    idx_chunk_list l = run(&o, t, strlen(t));
    /* the first paragraph (9 words) fits whole */
    assert_int_equal(l.spans[0].end, strlen("First paragraph has one sentence. And another one here.\n\n"));
    idx_chunk_list_free(&l);
    o.unit = IDX_CHUNK_UNIT_BYTES;
    for (uint64_t size = 1; size <= 80; size += 3) {
        o.size = size;
        l = run(&o, t, strlen(t));
        for (size_t i = 0; i < l.n; i++) assert_true(l.spans[i].end - l.spans[i].start <= size);
        idx_chunk_list_free(&l);
    }
}

static const char *head_of(const idx_chunk_list *l, size_t i, char *buf) {
    memcpy(buf, l->heads.data + l->spans[i].head_off, l->spans[i].head_len);
    buf[l->spans[i].head_len] = 0;
    return buf;
}

static void test_markdown(void **st) {
    (void)st;
    const char *t = "Intro text.\n"
                    "# Title\n"
                    "Body.\n"
                    "## Install\n"
                    "Run it.\n"
                    "```\n# not a heading\n```\n"
                    "### Linux ###\n"
                    "apt.\n"
                    "## Usage\n"
                    "Use it.\n"
                    "Setext Top\n"
                    "==========\n"
                    "Under setext.\n"
                    "Sub\n"
                    "---\n"
                    "x\n";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_MARKDOWN);
    idx_chunk_list l = run(&o, t, strlen(t));
    char b[256];
    assert_int_equal(l.n, 7);
    assert_int_equal(l.spans[0].head_len, 0);
    assert_string_equal(head_of(&l, 1, b), "Title");
    assert_string_equal(head_of(&l, 2, b), "Title > Install");
    assert_true(strstr(t + l.spans[2].start, "# not a heading") < t + l.spans[2].end);
    assert_string_equal(head_of(&l, 3, b), "Title > Install > Linux");
    assert_string_equal(head_of(&l, 4, b), "Title > Usage");
    assert_string_equal(head_of(&l, 5, b), "Setext Top");
    assert_string_equal(head_of(&l, 6, b), "Setext Top > Sub");
    idx_chunk_list_free(&l);
    /* with a size limit every piece keeps its path */
    o.size = 1;
    l = run(&o, t, strlen(t));
    assert_true(l.n > 7);
    for (size_t i = 0; i < l.n; i++) assert_true(l.spans[i].words <= 1);
    idx_chunk_list_free(&l);
}

static void test_rst(void **st) {
    (void)st;
    const char *t = "=====\nGuide\n=====\n\n"
                    "Intro.\n\n"
                    "Setup\n-----\n\nText.\n\n"
                    "Details\n~~~~~~~\n\nMore.\n\n"
                    "Usage\n-----\n\nEnd.\n\n"
                    "A short\n---\n\nnot a title: underline too short.\n";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_RST);
    idx_chunk_list l = run(&o, t, strlen(t));
    char b[256];
    assert_int_equal(l.n, 4);
    assert_string_equal(head_of(&l, 0, b), "Guide");
    assert_string_equal(head_of(&l, 1, b), "Guide > Setup");
    assert_string_equal(head_of(&l, 2, b), "Guide > Setup > Details");
    assert_string_equal(head_of(&l, 3, b), "Guide > Usage");
    idx_chunk_list_free(&l);
}

static void test_merge(void **st) {
    (void)st;
    const char *t = "Aa bb. Cc dd ee. Ff. Gg hh ii jj kk ll. Mm.";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_SENTENCE);
    idx_chunk_list l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 5); /* 2,3,1,6,1 words */
    assert_int_equal(idx_chunk_merge(t, strlen(t), &l, 4), IDX_OK);
    assert_int_equal(idx_chunk_check(t, strlen(t), &l, 0), IDX_OK);
    /* greedy: [2] (+3 > 4), [3+1], [6] alone (never split), [1] */
    assert_int_equal(l.n, 4);
    assert_int_equal(l.spans[0].words, 2);
    assert_int_equal(l.spans[1].words, 4);
    assert_int_equal(l.spans[2].words, 6);
    assert_int_equal(l.spans[3].words, 1);
    /* a target smaller than every sentence keeps them all, none empty */
    idx_chunk_list_clear(&l);
    assert_int_equal(idx_chunk_text(&o, t, strlen(t), &l), IDX_OK);
    assert_int_equal(idx_chunk_merge(t, strlen(t), &l, 1), IDX_OK);
    assert_int_equal(l.n, 5); /* nothing fits together under 1 word */
    assert_int_equal(idx_chunk_check(t, strlen(t), &l, 0), IDX_OK);
    assert_int_equal(idx_chunk_merge(t, strlen(t), &l, 0), IDX_ERR_INVALID);
    idx_chunk_list_free(&l);
    o.merge = 1000;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
}

/* NLTK doctests of nltk.metrics.segmentation */
static unsigned char *bits(const char *s) {
    size_t n = strlen(s);
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = s[i] == '1';
    return b;
}

static char *rep(const char *s, int times) {
    size_t n = strlen(s);
    char *r = malloc(n * times + 1);
    for (int i = 0; i < times; i++) memcpy(r + i * n, s, n);
    r[n * times] = 0;
    return r;
}

static void test_metrics(void **st) {
    (void)st;
    unsigned char *s1 = bits("000100000010"), *s2 = bits("000010000100"), *s3 = bits("100000010000");
    double v;
    assert_int_equal(idx_chunk_windowdiff(s1, s1, 12, 3, &v), IDX_OK);
    assert_true(fabs(v - 0.00) < 1e-9);
    assert_int_equal(idx_chunk_windowdiff(s1, s2, 12, 3, &v), IDX_OK);
    assert_true(fabs(v - 0.30) < 1e-9);
    assert_int_equal(idx_chunk_windowdiff(s2, s3, 12, 3, &v), IDX_OK);
    assert_true(fabs(v - 0.80) < 1e-9);
    char *r = rep("0100", 100), *ones = rep("1", 400), *zeros = rep("0", 400);
    unsigned char *br = bits(r), *b1 = bits(ones), *b0 = bits(zeros);
    assert_int_equal(idx_chunk_pk(br, b1, 400, 2, &v), IDX_OK);
    assert_true(fabs(v - 0.50) < 0.005); /* NLTK prints %.2f */
    assert_int_equal(idx_chunk_pk(br, b0, 400, 2, &v), IDX_OK);
    assert_true(fabs(v - 0.50) < 0.005); /* NLTK prints %.2f */
    assert_int_equal(idx_chunk_pk(br, br, 400, 2, &v), IDX_OK);
    assert_true(fabs(v) < 1e-9);
    /* default k = round(400 / (2 * 100)) = 2 */
    assert_int_equal(idx_chunk_pk(br, b1, 400, 0, &v), IDX_OK);
    assert_true(fabs(v - 0.50) < 0.005); /* NLTK prints %.2f */
    assert_int_equal(idx_chunk_pk(br, b1, 1, 2, &v), IDX_ERR_INVALID);
    free(s1); free(s2); free(s3); free(r); free(ones); free(zeros); free(br); free(b1); free(b0);
    /* byte cuts -> word boundaries */
    const char *t = "aa bb cc dd";
    uint64_t cuts[] = {3, 7}; /* before "bb", inside "cc" */
    unsigned char *b;
    size_t nw;
    assert_int_equal(idx_chunk_boundaries_words(t, strlen(t), cuts, 2, &b, &nw), IDX_OK);
    assert_int_equal(nw, 4);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0);
    assert_int_equal(b[2], 1);
    assert_int_equal(b[3], 0);
    free(b);
}

/* A deterministic model: every byte scores the digit after the last capital
 * letter at or before it (so sentence "A5 x." has mean NLL 5). */
static idx_err digit_lm(void *ud, const char *doc, size_t len, size_t from, size_t to, float *out) {
    (void)ud;
    for (size_t j = from; j < to; j++) {
        size_t k = j + 1;
        while (k > 0 && !(doc[k - 1] >= 'A' && doc[k - 1] <= 'Z')) k--;
        out[j - from] = (k > 0 && k < len && doc[k] >= '0' && doc[k] <= '9') ? (float)(doc[k] - '0') : 0.f;
    }
    return IDX_OK;
}

static void test_ppl_rule(void **st) {
    (void)st;
    unsigned char b[8];
    double v1[] = {5, 1, 7, 2, 9};
    assert_int_equal(idx_chunk_ppl_minima(v1, 5, 0, NULL, b), IDX_OK);
    assert_memory_equal(b, "\0\1\0\1\0", 5);
    assert_int_equal(idx_chunk_ppl_minima(v1, 5, 6, NULL, b), IDX_OK); /* drops: max(4,6)=6, max(5,7)=7 */
    assert_memory_equal(b, "\0\1\0\1\0", 5);
    assert_int_equal(idx_chunk_ppl_minima(v1, 5, 6.5, NULL, b), IDX_OK);
    assert_memory_equal(b, "\0\0\0\1\0", 5);
    double v2[] = {4, 2, 2, 3}; /* plateau: case (b) at 1, not at 2 */
    assert_int_equal(idx_chunk_ppl_minima(v2, 4, 0, NULL, b), IDX_OK);
    assert_memory_equal(b, "\0\1\0\0", 4);
    /* the rise rule: cut after i when v[i+1] - v[i] >= theta */
    assert_int_equal(idx_chunk_ppl_rises(v1, 5, 5.5, b), IDX_OK); /* rises 6 (1->7), 7 (2->9) */
    assert_memory_equal(b, "\0\1\0\1\0", 5);
    assert_int_equal(idx_chunk_ppl_rises(v1, 5, 6.5, b), IDX_OK);
    assert_memory_equal(b, "\0\0\0\1\0", 5);
    assert_int_equal(idx_chunk_ppl_rises(v1, 5, -1, b), IDX_ERR_INVALID);
    double v3[] = {1, 0}; /* first and last are never boundaries */
    assert_int_equal(idx_chunk_ppl_minima(v3, 2, 0, NULL, b), IDX_OK);
    assert_memory_equal(b, "\0\0", 2);
    /* dynamic: after 100 recorded drops theta = their minimum */
    idx_chunk_dyn dyn = {0};
    double zig[203];
    for (int i = 0; i < 203; i++) zig[i] = i % 2 ? 1.0 : 3.0 + (i == 202 ? 0 : 0);
    unsigned char *bb = malloc(203);
    assert_int_equal(idx_chunk_ppl_minima(zig, 203, 0, &dyn, bb), IDX_OK);
    assert_int_equal(dyn.n, 101);
    double small[] = {3, 2.5, 3, 1, 3}; /* drop 0.5 < theta 2 now: not a boundary */
    assert_int_equal(idx_chunk_ppl_minima(small, 5, 0, &dyn, b), IDX_OK);
    assert_memory_equal(b, "\0\0\0\1\0", 5);
    idx_chunk_dyn_free(&dyn);
    free(bb);

    const char *t = "A5 xx. B1 yy. C7 zz. D2 ww. E9 qq.";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_PPL);
    idx_chunk_list l = {0};
    assert_int_equal(idx_chunk_text(&o, t, strlen(t), &l), IDX_ERR_INVALID); /* no model */
    o.lm.nll = digit_lm;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 3);
    assert_int_equal(l.spans[0].end, strlen("A5 xx. B1 yy. "));
    assert_int_equal(l.spans[1].end, strlen("A5 xx. B1 yy. C7 zz. D2 ww. "));
    idx_chunk_list_free(&l);
    o.ppl_threshold = 8;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
    /* contrast model = the model itself: every score is 0, no boundary */
    o.ppl_threshold = 0;
    o.lm_contrast.nll = digit_lm;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
    /* rise rule: rises 1->7 and 2->9 cut after sentences 1 and 3 */
    o.lm_contrast.nll = NULL;
    o.ppl_rule = 1;
    o.ppl_threshold = 5.5;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 3);
    assert_int_equal(l.spans[0].end, strlen("A5 xx. B1 yy. "));
    idx_chunk_list_free(&l);
}

/* a "topic" model: a letter costs 1 nat unless it occurs in the text before
 * `from` (the model's context), everything else 0 */
static idx_err topic_lm(void *ud, const char *doc, size_t len, size_t from, size_t to, float *out) {
    (void)ud;
    (void)len;
    for (size_t j = from; j < to; j++) {
        int alpha = (doc[j] >= 'a' && doc[j] <= 'z');
        out[j - from] = alpha && !memchr(doc, doc[j], from) ? 1.f : 0.f;
    }
    return IDX_OK;
}

static void test_ppl_window(void **st) {
    (void)st;
    /* depth of peaks: 2 (valleys 0 and 1) = 3 + 2, 4 (valleys 1 and 0) = 1 + 2 */
    double g[] = {0, 1, 3, 1, 2, 0}, d[6];
    assert_int_equal(idx_chunk_ppl_depth(g, 6, d), IDX_OK);
    double want[] = {0, 0, 5, 0, 3, 0};
    for (int i = 0; i < 6; i++) assert_true(fabs(d[i] - want[i]) < 1e-12);
    double flat[] = {1, 1, 1};
    assert_int_equal(idx_chunk_ppl_depth(flat, 3, d), IDX_OK);
    assert_true(d[0] == 0 && d[1] == 0 && d[2] == 0);
    double bad[] = {0, NAN};
    assert_int_equal(idx_chunk_ppl_depth(bad, 2, d), IDX_ERR_INVALID);

    /* two topics of three sentences: the gap after sentence 2 is the only
     * one whose next 2 sentences the preceding text does not predict */
    const char *t = "Xx xx. Xx xx. Xx xx. Yy yy. Yy yy. Yy yy.";
    idx_chunk_opts o;
    idx_chunk_opts_init(&o, IDX_CHUNK_PPL);
    o.lm.nll = topic_lm;
    o.ppl_rule = 2;
    o.ppl_window = 2;
    idx_chunk_list l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.spans[0].end, strlen("Xx xx. Xx xx. Xx xx. "));
    idx_chunk_list_free(&l);
    /* a threshold above the depth: no cut; the K rule: 12 words / 6 -> 1 cut */
    o.ppl_threshold = 10;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
    o.target_words = 6;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.spans[0].end, strlen("Xx xx. Xx xx. Xx xx. "));
    idx_chunk_list_free(&l);
    /* forward direction only: the same cut */
    o.ppl_one_sided = 1;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.spans[0].end, strlen("Xx xx. Xx xx. Xx xx. "));
    idx_chunk_list_free(&l);
    o.ppl_one_sided = 0;
    /* the contrast model = the model: all gains 0, no peak, no cut */
    o.target_words = 0;
    o.ppl_threshold = 0;
    o.lm_contrast.nll = topic_lm;
    l = run(&o, t, strlen(t));
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
    /* short documents: one chunk */
    o.lm_contrast.nll = NULL;
    l = run(&o, "Xx. Yy.", 7);
    assert_int_equal(l.n, 1);
    idx_chunk_list_free(&l);
}

/* naive count of (possibly overlapping) occurrences of p in t */
static size_t naive_count(const char *t, size_t n, const char *p, size_t m) {
    if (m == 0) return n;
    size_t c = 0;
    for (size_t i = 0; i + m <= n; i++) c += memcmp(t + i, p, m) == 0;
    return c;
}

static void test_reflm_naive(void **st) {
    (void)st;
    srand(7);
    const char *alpha = "ab c.";
    char ref[3][300];
    idx_chunk_reflm *m;
    assert_int_equal(idx_chunk_reflm_new(6, &m), IDX_OK);
    char all[1000];
    size_t an = 0;
    for (int d = 0; d < 3; d++) {
        for (int i = 0; i < 299; i++) ref[d][i] = alpha[rand() % 5];
        assert_int_equal(idx_chunk_reflm_add(m, ref[d], 299), IDX_OK);
        memcpy(all + an, ref[d], 299);
        an += 299;
        all[an++] = (char)0xFF;
    }
    assert_int_equal(idx_chunk_reflm_add(m, "x\xff", 2), IDX_ERR_INVALID);
    assert_int_equal(idx_chunk_reflm_build(m), IDX_OK);
    assert_true(idx_chunk_reflm_contains(m, ref[1], 299));
    assert_false(idx_chunk_reflm_contains(m, ref[1], 298));
    char doc[200];
    for (int i = 0; i < 199; i++) doc[i] = alpha[rand() % 5];
    doc[199] = 'z'; /* unseen byte */
    float out[200];
    assert_int_equal(idx_chunk_reflm_nll(m, doc, 200, 0, 200, out), IDX_OK);
    for (size_t j = 0; j < 200; j++) {
        double want;
        if (naive_count(all, an, doc + j, 1) == 0) want = log((double)an + 1);
        else {
            size_t mm = j < 6 ? j : 6;
            for (;; mm--) {
                size_t cw = naive_count(all, an, doc + j - mm, mm + 1);
                if (cw > 0) {
                    want = -log((double)cw / (double)naive_count(all, an, doc + j - mm, mm));
                    break;
                }
            }
        }
        if (fabs(out[j] - want) > 1e-4) fail_msg("byte %zu: got %f want %f", j, out[j], want);
    }
    idx_chunk_reflm_free(m);
}

/* every chunker on generated and hostile texts */
static const idx_chunk_kind ALL[] = {IDX_CHUNK_SENTENCE, IDX_CHUNK_FIXED_BYTES, IDX_CHUNK_FIXED_WORDS,
                                     IDX_CHUNK_RECURSIVE, IDX_CHUNK_MARKDOWN,   IDX_CHUNK_RST,
                                     IDX_CHUNK_TEXTTILING, IDX_CHUNK_PPL};

static void check_all(const char *t, size_t n, uint64_t size) {
    for (size_t k = 0; k < sizeof ALL / sizeof ALL[0]; k++) {
        idx_chunk_opts o;
        idx_chunk_opts_init(&o, ALL[k]);
        o.lm.nll = digit_lm;
        if (size) o.size = size;
        idx_chunk_list l = run(&o, t, n);
        if (ALL[k] == IDX_CHUNK_FIXED_BYTES || ALL[k] == IDX_CHUNK_FIXED_WORDS) {
            idx_chunk_list_free(&l);
            o.overlap = o.size / 3;
            l = run(&o, t, n);
            o.overlap = 0;
        }
        idx_chunk_list_free(&l);
        o.merge = 7;
        l = run(&o, t, n);
        idx_chunk_list_free(&l);
    }
}

static void test_invariants_generated(void **st) {
    (void)st;
    static const char *const pieces[] = {
        "word ", "Word. ", "3.14 ", "e.g. ", "Dr. ", "\n", "\n\n", "# Head\n", "## Sub\n", "Title\n=====\n",
        "\xe4\xbd\xa0\xe5\xa5\xbd", "\xe3\x80\x82", "\xff", "\xc3", "\x80", "...", "? ", "\"Q.\" ", "- item\n",
        "1. one\n", "http://x.y/z. ", "```\n", "A5 ", "   ", "\t", "longlonglonglonglongword"};
    srand(42);
    char buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        int np = rand() % 120;
        for (int i = 0; i < np; i++) {
            const char *p = pieces[rand() % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(p);
            if (n + pl > sizeof buf) break;
            memcpy(buf + n, p, pl);
            n += pl;
        }
        check_all(buf, n, (uint64_t)(1 + rand() % 30));
    }
    /* edge cases */
    check_all("", 0, 0);
    check_all("x", 1, 0);
    check_all("One sentence only.", 18, 0);
    check_all("\xff\xfe\xfd", 3, 0);
    check_all("   \n\n  ", 7, 0);
    check_all("\xe4\xbd", 2, 1); /* truncated character */
}

static void test_no_punctuation_large(void **st) {
    (void)st;
    /* 8 MB without punctuation or spaces, then 8 MB of words without stops */
    size_t n = 8u << 20;
    char *t = malloc(n);
    for (size_t i = 0; i < n; i++) t[i] = (char)('a' + i % 26);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (size_t i = 5; i < n; i += 6) t[i] = ' ';
        idx_chunk_kind kinds[] = {IDX_CHUNK_SENTENCE, IDX_CHUNK_FIXED_BYTES, IDX_CHUNK_FIXED_WORDS,
                                  IDX_CHUNK_RECURSIVE, IDX_CHUNK_MARKDOWN, IDX_CHUNK_TEXTTILING};
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            idx_chunk_opts o;
            idx_chunk_opts_init(&o, kinds[k]);
            idx_chunk_list l = run(&o, t, n);
            /* markdown without headings or size, texttiling without lexical signal: one
             * chunk; in pass 0 the text is ONE word, so word-sized chunkers keep it whole */
            if (kinds[k] == IDX_CHUNK_SENTENCE || kinds[k] == IDX_CHUNK_FIXED_BYTES ||
                (pass == 1 && kinds[k] != IDX_CHUNK_MARKDOWN && kinds[k] != IDX_CHUNK_TEXTTILING))
                assert_true(l.n > 1);
            idx_chunk_list_free(&l);
        }
    }
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences_hard),   cmocka_unit_test(test_sentence_limits),
        cmocka_unit_test(test_fixed),            cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_markdown),         cmocka_unit_test(test_rst),
        cmocka_unit_test(test_merge),            cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_ppl_rule), cmocka_unit_test(test_ppl_window),         cmocka_unit_test(test_reflm_naive),
        cmocka_unit_test(test_invariants_generated), cmocka_unit_test(test_no_punctuation_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
