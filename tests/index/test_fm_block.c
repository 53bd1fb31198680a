/*
 * test_fm_block.c -- the compact layout's rank structure (index/fm_block.c)
 * against a naive running count: rank at every position (the symbol there, a
 * random one, an absent one; every symbol at block boundaries),
 * inverse_select at every position, rank2 on pairs in one block and across
 * blocks; on random, skewed (deep Huffman codes), run-heavy (single-symbol
 * blocks) sequences and one block holding all 256 byte values, with block
 * sizes 2^8..2^15 and lengths around block boundaries. Deep verification
 * accepts every built section and finds every single-bit flip (masks 0x01 and
 * 0x80 of every byte) without help from checksums (load or verify fails), and
 * queries on a damaged section that still loads stay in bounds (ASan run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fm_block.h"

static uint64_t seed = 0x243F6A8885A308D3ULL;

static uint64_t rnd(void) {
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return seed * UINT64_C(2685821657736338717);
}

typedef struct {
    unsigned char *sec;
    uint64_t len;
    idx_fm_block f;
    uint64_t counts[256];
} built;

static void build_load(const unsigned char *s, uint64_t n, unsigned lb, built *b) {
    memset(b, 0, sizeof *b);
    for (uint64_t i = 0; i < n; i++) b->counts[s[i]]++;
    if (idx_fm_block_build(s, n, lb, &b->sec, &b->len) != IDX_OK) fail_msg("build: %s", idx_errmsg());
    /* a copy on a 64-byte boundary, as in a mapped shard file */
    unsigned char *a = aligned_alloc(64, (b->len + 63) / 64 * 64);
    assert_non_null(a);
    memcpy(a, b->sec, b->len);
    free(b->sec);
    b->sec = a;
    if (idx_fm_block_load(b->sec, b->len, n, b->counts, &b->f, "t") != IDX_OK) fail_msg("load: %s", idx_errmsg());
    if (idx_fm_block_verify(&b->f, "t") != IDX_OK) fail_msg("verify: %s", idx_errmsg());
}

/* Every query against a running count. */
static void check_seq(const unsigned char *s, uint64_t n, unsigned lb) {
    built b;
    build_load(s, n, lb, &b);
    uint64_t cnt[256] = {0};
    uint64_t B = UINT64_C(1) << lb;
    unsigned char absent = 0;
    while (absent < 255 && b.counts[absent]) absent++;
    uint64_t *prev = malloc((n + 1) * sizeof *prev); /* rank of s[i] at i */
    assert_non_null(prev);
    for (uint64_t i = 0; i <= n; i++) {
        if (i % B == 0 || i == n || i % B == B - 1) {
            for (unsigned c = 0; c < 256; c++)
                if (idx_fm_block_rank(&b.f, i, (unsigned char)c) != cnt[c])
                    fail_msg("rank(%llu, %u) n=%llu lb=%u", (unsigned long long)i, c, (unsigned long long)n, lb);
        }
        unsigned char r = (unsigned char)rnd();
        assert_int_equal(idx_fm_block_rank(&b.f, i, r), cnt[r]);
        assert_int_equal(idx_fm_block_rank(&b.f, i, absent), cnt[absent]);
        if (i < n) {
            assert_int_equal(idx_fm_block_rank(&b.f, i, s[i]), cnt[s[i]]);
            unsigned char c = 0;
            uint64_t rr = idx_fm_block_inverse_select(&b.f, i, &c);
            if (c != s[i] || rr != cnt[s[i]])
                fail_msg("inverse_select(%llu) = (%u, %llu), want (%u, %llu)", (unsigned long long)i, c,
                         (unsigned long long)rr, s[i], (unsigned long long)cnt[s[i]]);
            prev[i] = cnt[s[i]];
            cnt[s[i]]++;
        }
    }
    /* rank2: pairs in one block, and across blocks */
    for (int t = 0; t < 2000; t++) {
        uint64_t i = rnd() % (n + 1), j = t % 2 ? i + rnd() % 64 : rnd() % (n + 1);
        if (j > n) j = n;
        if (j < i) {
            uint64_t x = i;
            i = j;
            j = x;
        }
        unsigned char c = i < n ? s[i] : (unsigned char)rnd();
        uint64_t ri, rj;
        idx_fm_block_rank2(&b.f, i, j, c, &ri, &rj);
        assert_int_equal(ri, idx_fm_block_rank(&b.f, i, c));
        assert_int_equal(rj, idx_fm_block_rank(&b.f, j, c));
        if (i < n) assert_int_equal(ri, prev[i]);
    }
    free(prev);
    free(b.sec);
}

static void test_random(void **state) {
    (void)state;
    const unsigned lbs[] = {8, 10, 14};
    for (size_t k = 0; k < 3; k++) {
        uint64_t B = UINT64_C(1) << lbs[k];
        /* 7 and 14 blocks: count records of 7 blocks, full and one past */
        const uint64_t lens[] = {1, 2, B - 1, B, B + 1, 3 * B + 17, 5 * B, 7 * B, 14 * B + 1, 17 * B + 5};
        for (size_t l = 0; l < 10; l++) {
            uint64_t n = lens[l];
            unsigned char *s = malloc(n);
            unsigned sig = l % 2 ? 256 : 7;
            for (uint64_t i = 0; i < n; i++) s[i] = (unsigned char)(rnd() % sig);
            check_seq(s, n, lbs[k]);
            free(s);
        }
    }
}

static void test_skewed(void **state) {
    (void)state;
    /* geometric frequencies: deep codes; at 2^15 the longest codes reach ~20 bits */
    const unsigned lbs[] = {12, 15};
    for (size_t k = 0; k < 2; k++) {
        uint64_t n = (UINT64_C(3) << lbs[k]) + 5;
        unsigned char *s = malloc(n);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t x = rnd();
            unsigned c = x ? (unsigned)__builtin_ctzll(x) : 63;
            s[i] = (unsigned char)(c * 3 + 1);
        }
        check_seq(s, n, lbs[k]);
        /* Fibonacci-like frequencies in one block: the deepest Huffman tree a 2^15 block allows */
        uint64_t fib[24] = {1, 1};
        for (int t = 2; t < 24; t++) fib[t] = fib[t - 1] + fib[t - 2];
        uint64_t m = 0;
        for (int t = 0; t < 23 && m < n; t++)
            for (uint64_t r = 0; r < fib[t] && m < n; r++) s[m++] = (unsigned char)(200 + t);
        while (m < n) s[m++] = 'x';
        for (uint64_t i = n - 1; i > 0; i--) { /* shuffle */
            uint64_t j = rnd() % (i + 1);
            unsigned char t = s[i];
            s[i] = s[j];
            s[j] = t;
        }
        check_seq(s, n, lbs[k]);
        free(s);
    }
}

static void test_runs_and_single_symbol_blocks(void **state) {
    (void)state;
    unsigned lb = 9;
    uint64_t B = UINT64_C(1) << lb, n = 20 * B + 3;
    unsigned char *s = malloc(n);
    for (uint64_t i = 0; i < n; i++) s[i] = i < 3 * B ? 'a' : i < 5 * B + 7 ? 0 : i < 9 * B ? 0xFF : (i / 37) % 2 ? 'b' : 'c';
    check_seq(s, n, lb);
    memset(s, 'q', n); /* one symbol in the whole shard */
    check_seq(s, n, lb);
    free(s);
}

static void test_all_bytes_one_block(void **state) {
    (void)state;
    uint64_t n = 4096;
    unsigned char *s = malloc(n);
    for (uint64_t i = 0; i < n; i++) s[i] = (unsigned char)(i < 256 ? i : rnd() % 256);
    check_seq(s, n, 12);
    check_seq(s, 256, 12);
    free(s);
}

/* Blocks of 2^14 and 2^15 symbols over 256 values: the bit area holds
 * ~2^19 bits, so the u16 line counts and node ones wrap many times; and a
 * block whose root node is all ones but one bit (a node rank of 2^15 - 1). */
static void test_wide_blocks_wrap(void **state) {
    (void)state;
    for (unsigned lb = 14; lb <= 15; lb++) {
        uint64_t B = UINT64_C(1) << lb, n = 2 * B + 77;
        unsigned char *s = malloc(n);
        for (uint64_t i = 0; i < n; i++) s[i] = (unsigned char)rnd();
        check_seq(s, n, lb);
        memset(s, 'b', n);
        s[12345] = 'a';
        check_seq(s, n, lb);
        free(s);
    }
}

/* A section of another format version is refused as such. */
static void test_format_version(void **state) {
    (void)state;
    uint64_t n = 1000;
    unsigned char *s = malloc(n);
    for (uint64_t i = 0; i < n; i++) s[i] = (unsigned char)('a' + rnd() % 5);
    built b;
    build_load(s, n, 8, &b);
    uint64_t v;
    memcpy(&v, b.sec + 48, 8);
    assert_int_equal(v, 2);
    for (uint64_t w = 0; w < 4; w += 3) { /* 0 = format 1 (u32 line counts), 3 = unknown */
        memcpy(b.sec + 48, &w, 8);
        idx_fm_block f;
        assert_int_equal(idx_fm_block_load(b.sec, b.len, n, b.counts, &f, "t"), IDX_ERR_VERSION);
    }
    free(b.sec);
    free(s);
}

/* Every single-bit flip is found by load or by deep verification, never a crash. */
static void test_flipped_bytes(void **state) {
    (void)state;
    uint64_t n = 3000;
    unsigned char *s = malloc(n);
    for (uint64_t i = 0; i < n; i++) s[i] = i % 400 < 30 ? 'z' : (unsigned char)("ab\ncd e"[rnd() % 7] + (rnd() % 50 == 0));
    built b;
    build_load(s, n, 10, &b);
    unsigned char *copy = aligned_alloc(64, (b.len + 63) / 64 * 64);
    assert_non_null(copy);
    size_t found = 0;
    for (uint64_t k = 0; k < b.len; k++)
        for (int m = 0; m < 2; m++) {
            memcpy(copy, b.sec, b.len);
            copy[k] ^= m ? 0x01 : 0x80;
            idx_fm_block f;
            if (idx_fm_block_load(copy, b.len, n, b.counts, &f, "t") != IDX_OK) {
                found++;
                continue;
            }
            /* loaded: queries must stay in bounds, and verify must object */
            for (uint64_t i = 0; i <= n; i += 7) {
                unsigned char c;
                (void)idx_fm_block_rank(&f, i, s[i < n ? i : 0]);
                if (i < n) (void)idx_fm_block_inverse_select(&f, i, &c);
                uint64_t r1, r2;
                idx_fm_block_rank2(&f, i, i + 3 <= n ? i + 3 : n, 'a', &r1, &r2);
            }
            if (idx_fm_block_verify(&f, "t") == IDX_OK)
                fail_msg("flipped byte %llu (mask %d) of %llu not found", (unsigned long long)k, m,
                         (unsigned long long)b.len);
            found++;
        }
    assert_int_equal(found, 2 * b.len);
    /* truncated or padded sections, and disagreeing counts */
    for (uint64_t len = 0; len < b.len; len += 61) {
        idx_fm_block f;
        assert_int_equal(idx_fm_block_load(b.sec, len, n, b.counts, &f, "t"), IDX_ERR_CORRUPT);
    }
    idx_fm_block f;
    assert_int_equal(idx_fm_block_load(b.sec, b.len, n + 1, b.counts, &f, "t"), IDX_ERR_CORRUPT);
    uint64_t counts[256];
    memcpy(counts, b.counts, sizeof counts);
    counts['a']--;
    counts['b']++;
    assert_int_equal(idx_fm_block_load(b.sec, b.len, n, counts, &f, "t"), IDX_ERR_CORRUPT);
    free(copy);
    free(b.sec);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_skewed),
        cmocka_unit_test(test_runs_and_single_symbol_blocks),
        cmocka_unit_test(test_all_bytes_one_block),
        cmocka_unit_test(test_wide_blocks_wrap),
        cmocka_unit_test(test_format_version),
        cmocka_unit_test(test_flipped_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
