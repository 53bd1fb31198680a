/*
 * tokenizers.c -- fuzz target for the encoder's text-facing parsers: the
 * first byte picks the mode, the rest is
 *   0: a vocab.txt (WordPiece), then a fixed hard string is tokenized with it
 *   1: a tokenizer.json (WordPiece), same
 *   2: a SentencePiece vocab.json ([[piece, score], ...]), same
 *   3: text tokenized by a small built-in WordPiece vocabulary
 *   4: text tokenized by a small built-in SentencePiece vocabulary
 *   5: a Unigram tokenizer.json (XLM-R), then the fixed hard string
 *   6: text tokenized by a small built-in Unigram vocabulary
 * Every produced id must be inside the vocabulary.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc_internal.h"

static const char hard[] = "Héllo, WORLD! 中文 ﬁne \xff\xfe naïve ::) a\tb\nc unaffable ";

static char *write_tmp(const char *tag, const void *data, size_t n) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/idxfuzz_tok_%d_%s", (int)getpid(), tag);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

static void check_wp(const enc_wordpiece *wp, const char *text, size_t len) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (enc_wp_encode(wp, text, len, &ids, &n, &cap, 4096) == IDX_OK)
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= enc_wp_vocab_size(wp)) abort();
    free(ids);
}

static void check_ug(const enc_unigram *u, const char *text, size_t len) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (enc_ug_encode(u, text, len, &ids, &n, &cap, 4096) == IDX_OK)
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= enc_ug_vocab_size(u)) abort();
    free(ids);
}

static void check_spm(const enc_spm *s, const char *text, size_t len) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (enc_spm_encode(s, text, len, 0, &ids, &n, &cap) == IDX_OK)
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= enc_spm_vocab_size(s)) abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1 << 16)) return 0;
    int mode = data[0] % 7;
    const char *rest = (const char *)data + 1;
    size_t rl = size - 1;
    enc_wp_opts o = {.lower_case = 1, .strip_accents = -1, .chinese_chars = 1, .max_word_chars = 100};
    enc_wordpiece *wp = NULL;
    enc_spm *sp = NULL;
    enc_unigram *ug = NULL;
    char *p;
    switch (mode) {
    case 0:
        if ((p = write_tmp("vocab.txt", rest, rl)) && enc_wp_load_vocab_txt(p, &o, &wp) == IDX_OK)
            check_wp(wp, hard, sizeof hard - 1);
        break;
    case 1:
        if ((p = write_tmp("tokenizer.json", rest, rl)) && enc_wp_load_tokenizer_json(p, &o, &wp) == IDX_OK)
            check_wp(wp, hard, sizeof hard - 1);
        break;
    case 2:
        if ((p = write_tmp("vocab.json", rest, rl)) && enc_spm_load_json(p, &sp) == IDX_OK)
            check_spm(sp, hard, sizeof hard - 1);
        break;
    case 3: { /* built-in vocabularies are loaded once and kept (reachable, not leaked) */
        static enc_wordpiece *bw;
        static const char v[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\n!\nwor\n##ld\na\n##b\n中\n##a\nun\n##aff\n##able\n";
        if (!bw && (p = write_tmp("builtin.txt", v, sizeof v - 1))) enc_wp_load_vocab_txt(p, &o, &bw);
        if (bw) check_wp(bw, rest, rl);
        break;
    }
    case 5:
        if ((p = write_tmp("ug.json", rest, rl)) && enc_ug_load_tokenizer_json(p, &ug) == IDX_OK)
            check_ug(ug, hard, sizeof hard - 1);
        break;
    case 6: {
        static enc_unigram *bu;
        static const char v[] = "{\"model\":{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"<s>\",0],[\"<unk>\",0],"
                                "[\"\xe2\x96\x81\",-2],[\"\xe2\x96\x81he\",-3],[\"llo\",-4],[\"l\",-5],[\"o\",-5.5],"
                                "[\"\xc3\xa9\",-1],[\"\xe4\xb8\xad\",-2],[\"ab\",-1],[\"a\",-1],[\"b\",-1]]}}";
        if (!bu && (p = write_tmp("builtin_ug.json", v, sizeof v - 1))) enc_ug_load_tokenizer_json(p, &bu);
        if (bu) check_ug(bu, rest, rl);
        break;
    }
    default: {
        static const char v[] = "[[\"\xef\xbf\xbd\",0],[\"<s>\",0],[\"</s>\",0],[\"x1\",0],[\"x2\",0],[\"x3\",0],"
                                "[\"\xe2\x96\x81\",-2],[\"\xe2\x96\x81he\",-3],[\"llo\",-4],[\"l\",-5],[\"o\",-5],"
                                "[\":\",null],[\"\xe2\x96\x81:)\",null],[\"\xf0\x9f\x98\x80\",-1],[\"e\",-6]]";
        static enc_spm *bs;
        if (!bs && (p = write_tmp("builtin.json", v, sizeof v - 1))) enc_spm_load_json(p, &bs);
        if (bs) check_spm(bs, rest, rl);
        break;
    }
    }
    enc_wp_free(wp);
    enc_spm_free(sp);
    enc_ug_free(ug);
    return 0;
}
