/*
 * test_chunk_cli.c -- `idx chunk` end to end: the JSONL output reassembles
 * every document byte for byte (offsets and text agree with the input),
 * heading paths come out for Markdown, invalid UTF-8 is written lossy with
 * exact offsets, usage errors exit 2 and bad input exits 1 with a message,
 * perplexity chunking with --lm INDEX (an index built by `idx build`) works
 * and refuses a document the index contains. With argument "big": a 100 MB
 * document without punctuation (labelled slow).
 */
#include <jansson.h>

#include "../idx_test.h"
#include "idx_chunk.h"

static char *dir;

/* Reads OUT (JSONL of chunks) and checks that, per document in order, the
 * chunks tile [0, len) and their text equals the original bytes. */
static size_t check_output(const char *out, const char *const *texts, size_t ndocs) {
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, n = 0, doc = 0;
    uint64_t pos = 0;
    const char *prev_id = NULL;
    char idbuf[64] = "";
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        assert_non_null(o);
        const char *id = json_string_value(json_object_get(o, "doc"));
        assert_non_null(id);
        if (prev_id && strcmp(idbuf, id) != 0) {
            assert_int_equal(pos, strlen(texts[doc]));
            doc++;
            pos = 0;
        }
        snprintf(idbuf, sizeof idbuf, "%s", id);
        prev_id = idbuf;
        assert_true(doc < ndocs);
        uint64_t s = (uint64_t)json_integer_value(json_object_get(o, "start"));
        uint64_t e = (uint64_t)json_integer_value(json_object_get(o, "end"));
        assert_int_equal(s, pos);
        assert_true(e > s && e <= strlen(texts[doc]));
        json_t *t = json_object_get(o, "text");
        if (!json_is_true(json_object_get(o, "text_lossy"))) {
            assert_int_equal(json_string_length(t), e - s);
            assert_memory_equal(json_string_value(t), texts[doc] + s, e - s);
        }
        pos = e;
        n++;
        json_decref(o);
    }
    if (prev_id) assert_int_equal(pos, strlen(texts[doc]));
    free(line);
    fclose(f);
    return n;
}

static const char *const DOCS[] = {
    "# Guide\nIntro text. Dr. Smith said so.\n## Install\nRun make. Then test.\n## Use\nCall it.",
    "Plain text without headings. It has two sentences.",
    "Bad \xfe\xc3 bytes. Still chunked.",
};

static void write_jsonl(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_pack("{s:i,s:s}", "_id", (int)i, "text", DOCS[i]);
        char *js = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", js);
        free(js);
        json_decref(o);
    }
    fclose(f);
}

static void test_roundtrip(void **st) {
    (void)st;
    char *in = t_path(dir, "in.jsonl"), *out = t_path(dir, "out.jsonl");
    write_jsonl(in);
    const char *chunkers[] = {"sentence", "fixed --size 3", "fixed-bytes --size 7 --overlap 0", "recursive --size 4",
                              "markdown", "rst", "texttiling", "sentence --merge 6"};
    for (size_t k = 0; k < sizeof chunkers / sizeof chunkers[0]; k++) {
        assert_int_equal(t_sh("%s chunk --chunker %s -o %s %s 2>/dev/null", t_idx_bin(), chunkers[k], out, in), 0);
        assert_true(check_output(out, DOCS, 2) >= 2);
    }
    /* heading paths */
    assert_int_equal(t_sh("%s chunk --chunker markdown %s 2>/dev/null | grep -c '\"heading\":\"Guide > Install\"' "
                          "| grep -qx 1", t_idx_bin(), in), 0);
    /* a plain text file with invalid UTF-8: lossy text, exact offsets */
    char *txt = t_path(dir, "bad.txt");
    t_writes(txt, DOCS[2]);
    assert_int_equal(t_sh("%s chunk --chunker sentence -o %s %s 2>/dev/null", t_idx_bin(), out, txt), 0);
    assert_int_equal(check_output(out, DOCS + 2, 1), 2);
    assert_int_equal(t_sh("grep -q text_lossy %s", out), 0);
    free(txt);
    free(in);
    free(out);
}

static void test_errors(void **st) {
    (void)st;
    char *in = t_path(dir, "in.jsonl");
    write_jsonl(in);
    const char *b = t_idx_bin();
    assert_int_equal(t_sh("%s chunk --chunker nope %s 2>/dev/null", b, in), 2);
    assert_int_equal(t_sh("%s chunk 2>/dev/null", b), 2);
    assert_int_equal(t_sh("%s chunk --size 0 %s 2>/dev/null", b, in), 2);
    assert_int_equal(t_sh("%s chunk --chunker fixed --size 5 --overlap 5 %s >/dev/null 2>&1", b, in), 1);
    assert_int_equal(t_sh("%s chunk --chunker ppl %s >/dev/null 2>&1", b, in), 1); /* no model */
    assert_int_equal(t_sh("%s chunk --chunker recursive --lm-ref %s %s >/dev/null 2>&1", b, in, in), 1);
    assert_int_equal(t_sh("%s chunk /nonexistent.jsonl >/dev/null 2>&1", b), 1);
    char *bad = t_path(dir, "bad.jsonl");
    t_writes(bad, "{\"text\": \"ok\"}\n{not json\n");
    assert_int_equal(t_sh("%s chunk %s 2>%s/err >/dev/null", b, bad, dir), 1);
    assert_int_equal(t_sh("grep -q 'bad.jsonl:2' %s/err", dir), 0);
    /* ppl against a reference corpus containing the document: refused */
    assert_int_equal(t_sh("%s chunk --chunker ppl --lm-ref %s %s >/dev/null 2>%s/err", b, in, in, dir), 1);
    assert_int_equal(t_sh("grep -q 'score' %s/err", dir), 0);
    free(bad);
    free(in);
}

static void test_lm_index(void **st) {
    (void)st;
    const char *b = t_idx_bin();
    /* reference: 40 generated abstracts; chunked: other text */
    char *ref = t_path(dir, "ref.jsonl"), *idxd = t_path(dir, "ref.idx"), *doc = t_path(dir, "doc.txt");
    FILE *f = fopen(ref, "w");
    for (int i = 0; i < 40; i++)
        fprintf(f, "{\"_id\":\"r%d\",\"text\":\"Cells of type %d divide quickly. The protein binds the receptor. "
                   "Patients improved after treatment number %d.\"}\n", i, i, i * 7);
    fclose(f);
    assert_int_equal(t_sh("%s build -q -o %s %s >/dev/null 2>&1", b, idxd, ref), 0);
    t_writes(doc, "The protein binds the receptor in cells. Patients improved. A new topic begins here. "
                  "Stars form in clouds of gas. Galaxies merge over time. The protein binds again.");
    char *out = t_path(dir, "out.jsonl");
    assert_int_equal(t_sh("%s chunk --chunker ppl --lm %s -o %s %s 2>/dev/null", b, idxd, out, doc), 0);
    idx_buf text = {0};
    assert_int_equal(idx_read_file(doc, 0, &text), IDX_OK);
    const char *texts[] = {text.data};
    assert_true(check_output(out, texts, 1) >= 1);
    idx_buf_free(&text);
    /* a document the index contains is refused */
    char *own = t_path(dir, "own.txt");
    t_writes(own, "Cells of type 3 divide quickly. The protein binds the receptor. Patients improved after "
                  "treatment number 21.");
    assert_int_equal(t_sh("%s chunk --chunker ppl --lm %s %s >/dev/null 2>%s/err", b, idxd, own, dir), 1);
    assert_int_equal(t_sh("grep -q 'score itself' %s/err", dir), 0);
    /* not an index */
    assert_int_equal(t_sh("%s chunk --chunker ppl --lm %s %s >/dev/null 2>&1", b, dir, doc), 1);
    free(ref);
    free(idxd);
    free(doc);
    free(out);
    free(own);
}

/* 100 MB without punctuation: bounded chunks, exact cover, no crash */
static void test_big(void **st) {
    (void)st;
    char *p = t_path(dir, "big.txt");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    char block[1 << 16];
    for (size_t i = 0; i < sizeof block; i++) block[i] = (i % 9 == 8) ? ' ' : (char)('a' + i % 26);
    for (int i = 0; i < 1600; i++) fwrite(block, 1, sizeof block, f); /* 104.9 MB */
    fclose(f);
    const char *chunkers[] = {"sentence", "recursive", "fixed", "fixed-bytes"};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(t_sh("%s chunk --chunker %s --no-text %s 2>/dev/null | tail -1 | "
                              "grep -q '\"end\":104857600'", t_idx_bin(), chunkers[k], p), 0);
    }
    free(p);
}

int main(int argc, char **argv) {
    dir = t_tmpdir();
    int rc;
    if (argc > 1 && strcmp(argv[1], "big") == 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_big)};
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    } else {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_errors),
                                           cmocka_unit_test(test_lm_index)};
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    idx_rmtree(dir);
    free(dir);
    return rc;
}
