/*
 * test_text.c -- the text analyser: tokenization (word boundaries, joiners,
 * byte offsets, positions), case and accent folding, possessives,
 * stopwords, stemming, token length limits, invalid UTF-8, the configuration
 * parser (good and bad specs) and its JSON round trip.
 */
#include "../idx_test.h"
#include "idx_text.h"

typedef struct {
    char out[4096];
    size_t n;
    size_t starts[256], ends[256];
    uint32_t pos[256];
} collect;

static int col(void *ud, const char *t, size_t len, size_t start, size_t end, uint32_t pos) {
    collect *c = ud;
    size_t l = strlen(c->out);
    if (l) c->out[l++] = '|';
    memcpy(c->out + l, t, len);
    c->out[l + len] = 0;
    if (c->n < 256) { c->starts[c->n] = start; c->ends[c->n] = end; c->pos[c->n] = pos; }
    c->n++;
    return 0;
}

static void analyse(const char *spec, const char *text, collect *c) {
    idx_text_config cfg;
    idx_text_config_default(&cfg);
    assert_int_equal(idx_text_config_parse(&cfg, spec), IDX_OK);
    idx_text_analyzer *a;
    assert_int_equal(idx_text_analyzer_new(&cfg, &a), IDX_OK);
    memset(c, 0, sizeof *c);
    assert_int_equal(idx_text_analyze(a, text, strlen(text), col, c), IDX_OK);
    /* twice: the second run goes through the word cache and must agree */
    collect c2;
    memset(&c2, 0, sizeof c2);
    assert_int_equal(idx_text_analyze(a, text, strlen(text), col, &c2), IDX_OK);
    assert_string_equal(c->out, c2.out);
    idx_text_analyzer_free(a);
}

static void test_tokenize(void **state) {
    (void)state;
    collect c;
    analyse("stemmer=none,stopwords=none", "Hello, World! don't 3.14 1,000 a.b x_y", &c);
    assert_string_equal(c.out, "hello|world|don't|3.14|1,000|a|b|x_y");
    /* offsets point at the source token, positions count every token */
    assert_int_equal(c.starts[0], 0);
    assert_int_equal(c.ends[0], 5);
    assert_int_equal(c.starts[1], 7);
    assert_int_equal(c.ends[1], 12);
    assert_int_equal(c.pos[3], 3);
    /* trailing joiners are separators */
    analyse("stemmer=none,stopwords=none", "end. 12. it's' 'quoted'", &c);
    assert_string_equal(c.out, "end|12|it|quoted");
}

static void test_fold(void **state) {
    (void)state;
    collect c;
    analyse("stemmer=none,stopwords=none", "Café NAÏVE Straße ÉCOLE Ωmega", &c);
    assert_string_equal(c.out, "cafe|naive|strasse|ecole|ωmega");
    analyse("stemmer=none,stopwords=none,accents=0", "Café", &c);
    assert_string_equal(c.out, "café");
    analyse("stemmer=none,stopwords=none,casefold=0,accents=0", "Café", &c);
    assert_string_equal(c.out, "Café");
    /* CJK and other letters are word characters */
    analyse("stemmer=none,stopwords=none", "東京 タワー", &c);
    assert_string_equal(c.out, "東京|タワー");
}

static void test_possessive_stop_stem(void **state) {
    (void)state;
    collect c;
    analyse("stemmer=none,stopwords=none", "John's dog’s", &c);
    assert_string_equal(c.out, "john|dog");
    analyse("stemmer=none,stopwords=none,possessive=0", "John's", &c);
    assert_string_equal(c.out, "john's");
    analyse("stemmer=none", "The cat is on the mat", &c);
    assert_string_equal(c.out, "cat|mat");
    assert_int_equal(c.pos[0], 1); /* stopwords still take positions */
    analyse("stemmer=porter", "running runs connection", &c);
    assert_string_equal(c.out, "run|run|connect");
    analyse("", "generously studies", &c); /* default: Snowball english */
    assert_string_equal(c.out, "generous|studi");
    /* only stopwords: nothing */
    analyse("", "the and of", &c);
    assert_int_equal(c.n, 0);
}

static void test_limits_and_bad_utf8(void **state) {
    (void)state;
    collect c;
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char text[300];
    snprintf(text, sizeof text, "ok %s fine", big);
    analyse("stemmer=none", text, &c);
    assert_string_equal(c.out, "ok|fine");
    analyse("stemmer=none,min_len=3", "a bb ccc", &c);
    assert_string_equal(c.out, "ccc");
    analyse("stemmer=none", "ab\xff\xfe" "cd \xc3 ef \xe2\x82", &c);
    assert_string_equal(c.out, "ab|cd|ef");
    analyse("stemmer=none", "", &c);
    assert_int_equal(c.n, 0);
}

static void test_config(void **state) {
    (void)state;
    idx_text_config c, d;
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "nope=1"), IDX_ERR_INVALID);
    assert_non_null(strstr(idx_errmsg(), "unknown analyzer option 'nope'"));
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "stemmer=klingon"), IDX_ERR_INVALID);
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "casefold=maybe"), IDX_ERR_INVALID);
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "stemmer"), IDX_ERR_INVALID);
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "min_len=5,max_len=2"), IDX_ERR_INVALID);
    idx_text_config_default(&c);
    assert_int_equal(idx_text_config_parse(&c, "stemmer=french,stopwords=none,accents=0,min_len=2"), IDX_OK);
    json_t *j;
    assert_int_equal(idx_text_config_to_json(&c, &j), IDX_OK);
    assert_int_equal(idx_text_config_from_json(j, &d), IDX_OK);
    assert_memory_equal(&c, &d, sizeof c);
    json_object_set_new(j, "tokenizer", json_string("other"));
    assert_int_equal(idx_text_config_from_json(j, &d), IDX_ERR_UNSUPPORTED);
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize), cmocka_unit_test(test_fold), cmocka_unit_test(test_possessive_stop_stem),
        cmocka_unit_test(test_limits_and_bad_utf8), cmocka_unit_test(test_config)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
