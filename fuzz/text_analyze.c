/*
 * text_analyze.c -- fuzz target: the text analyser on arbitrary bytes
 * (invalid UTF-8, huge tokens, joiners at the ends); checks every term's
 * source range lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "idx_text.h"

static size_t input_len;

static int check(void *ud, const char *t, size_t len, size_t start, size_t end, uint32_t pos) {
    (void)ud; (void)t; (void)pos;
    if (len == 0 || start >= end || end > input_len) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static idx_text_analyzer *a, *b;
    if (!a) {
        idx_text_config c;
        idx_text_config_default(&c);
        if (idx_text_analyzer_new(&c, &a)) abort();
        idx_text_config_parse(&c, "stemmer=none,stopwords=none,accents=0,min_len=2,max_len=8");
        if (idx_text_analyzer_new(&c, &b)) abort();
    }
    input_len = size;
    idx_text_analyze(a, (const char *)data, size, check, NULL);
    idx_text_analyze(b, (const char *)data, size, check, NULL);
    return 0;
}
