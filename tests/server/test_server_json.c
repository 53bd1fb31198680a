/*
 * test_server_json.c -- the server's direct JSON number writers against the
 * references they replace: idx_server_fmt_real / idx_server_buf_real must
 * write every double byte for byte as jansson's json_dumps(json_real(v))
 * (its "%.17g" through glibc's printf), over random bit patterns, random
 * scores and latencies, powers of ten and their neighbours, exact ties of the
 * 17th digit (round half to even) and the edges of the fast path (1e-6,
 * 2^53); idx_server_buf_uint must write what "%llu" writes; and
 * idx_server_buf_str (which scans 8 bytes at a time) must write what jansson
 * writes for the same string, on random mixes of plain ASCII, characters to
 * escape, UTF-8 and invalid bytes at every alignment.
 */
#include "../idx_test.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>

#include "server_int.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static size_t checked;

static void check(double v) {
    char got[48];
    size_t l = idx_server_fmt_real(got, v);
    json_t *j = json_real(v);
    if (!j) { /* NaN or infinity: jansson refuses them, we write null */
        assert_int_equal(l, 0);
        idx_buf b = {0};
        assert_int_equal(idx_server_buf_real(&b, v), IDX_OK);
        assert_int_equal(b.len, 4);
        assert_memory_equal(b.data, "null", 4);
        idx_buf_free(&b);
        return;
    }
    char *want = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (l != strlen(want) || memcmp(got, want, l) != 0) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        fail_msg("%.17g (bits %016" PRIx64 "): wrote '%s', jansson '%s'", v, bits, got, want);
    }
    assert_int_equal(got[l], '\0');
    idx_buf b = {0};
    assert_int_equal(idx_server_buf_real(&b, v), IDX_OK);
    assert_int_equal(b.len, l);
    assert_memory_equal(b.data, want, l);
    idx_buf_free(&b);
    free(want);
    checked++;
}

static void test_real_special(void **state) {
    (void)state;
    static const double vals[] = {0.0, -0.0, 1, -1, 2, 10, 100, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 0.5, 1e-6,
                                  1e-5, 1e-4, 1e-7, 0.001, 9.999999999999999e-5, 123.456, 6.5613190491583691,
                                  1e15, 1e16, 1e17, 1e22, 1e23, 9007199254740991.0, 9007199254740992.0,
                                  9007199254740993.0, 4503599627370495.5, 1234567890123456.25,
                                  1234567890123456.75, 1234567890123457.25, 1e-300, 1e300, DBL_MAX, -DBL_MAX,
                                  DBL_MIN, DBL_MIN / 4, DBL_TRUE_MIN, -123.456e-10, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) check(vals[i]);
    /* powers of ten and two, and their neighbours */
    for (int e = -330; e <= 310; e++) {
        double p = pow(10, e);
        check(p);
        check(nextafter(p, 0));
        check(nextafter(p, INFINITY));
        check(-p);
    }
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1, e);
        check(p);
        check(nextafter(p, 0));
        check(nextafter(p, INFINITY));
    }
}

static void test_real_random(void **state) {
    (void)state;
    for (int i = 0; i < 100000; i++) { /* any bit pattern */
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        check(v);
    }
    for (int i = 0; i < 100000; i++) { /* BM25 scores, latencies in ms, probabilities */
        check(unit() * 60);
        check(unit() * 10000);
        check(unit() * 1e-3);
    }
    for (int i = 0; i < 100000; i++) { /* every decimal exponent of the fast path and around it */
        double v = (1 + unit() * 9) * pow(10, (int)(rnd() % 30) - 9);
        check(v);
        check(-v);
    }
    for (int i = 0; i < 50000; i++) { /* exact ties of the 17th digit: 16-digit integers plus .25 / .75 */
        double base = (double)(1000000000000000ull + rnd() % 8000000000000000ull);
        if (base >= 4503599627370496.0) base = floor(base / 4); /* keep quarters representable */
        check(base + 0.25);
        check(base + 0.75);
        check(base + 0.5);
    }
    printf("checked %zu doubles against jansson\n", checked);
}

static void test_uint(void **state) {
    (void)state;
    uint64_t vals[] = {0, 1, 9, 10, 99, 100, 4294967295ull, 4294967296ull, UINT64_MAX, UINT64_MAX - 1,
                       10000000000000000000ull};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0] + 10000; i++) {
        uint64_t v = i < sizeof vals / sizeof vals[0] ? vals[i] : rnd() >> (rnd() % 64);
        char want[32];
        snprintf(want, sizeof want, "%" PRIu64, v);
        idx_buf b = {0};
        assert_int_equal(idx_server_buf_uint(&b, v), IDX_OK);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        idx_buf_free(&b);
    }
}

static void test_str(void **state) {
    (void)state;
    static const char *const pieces[] = {"a", "plain words ", "0123456789abcdef", "\"", "\\", "\n", "\t", "\x01",
                                         "\x1f", " ", "\x7f", "/", "\xC3\xA9", "\xE2\x9C\x93", "\xF0\x9F\x98\x80",
                                         "\xC3", "\xFF", "\xED\xA0\x80", "\x80", "~}|{"};
    char s[600];
    for (int it = 0; it < 20000; it++) {
        size_t n = 0, want_len = rnd() % 500;
        while (n < want_len) {
            const char *pc = pieces[rnd() % 20 < 14 ? rnd() % 3 : rnd() % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(pc);
            if (n + l > sizeof s) break;
            memcpy(s + n, pc, l);
            n += l;
        }
        if (it % 97 == 0 && n) s[rnd() % n] = '\0'; /* an embedded NUL */
        size_t off = rnd() % 8;
        if (off > n) off = 0;
        idx_buf b = {0};
        assert_int_equal(idx_server_buf_str(&b, s + off, n - off), IDX_OK);
        json_t *j = idx_server_json_text(s + off, n - off);
        assert_non_null(j);
        char *want = json_dumps(j, JSON_ENCODE_ANY);
        json_decref(j);
        if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
            size_t d = 0;
            while (d < b.len && want[d] == b.data[d]) d++;
            fail_msg("string %d of %zu bytes differs from jansson at byte %zu: wrote '%.*s', jansson '%.12s'", it,
                     n - off, d, (int)(b.len - d < 12 ? b.len - d : 12), b.data + d, want + d);
        }
        free(want);
        idx_buf_free(&b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_special),
        cmocka_unit_test(test_real_random),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
