/*
 * test_math.c -- the vectorisable exp/erf/softmax kernels of enc_math.h
 * against libm over dense grids (fast path vs naive).
 */
#include "../idx_test.h"

#include <math.h>

#include "enc_math.h"

static void test_expf(void **s) {
    (void)s;
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.001953125f) {
        double ref = exp((double)x), got = enc_expf(x);
        double rel = fabs(got - ref) / ref;
        if (rel > worst) worst = rel;
    }
    printf("enc_expf worst relative error %.3g\n", worst);
    assert_true(worst < 5e-7);
    assert_true(enc_expf(-1000.0f) < 1e-37f);
    assert_true(enc_expf(-INFINITY) < 1e-37f);
    assert_true(enc_expf(0.0f) == 1.0f);
}

static void test_erff(void **s) {
    (void)s;
    double worst = 0;
    for (float x = -8.0f; x <= 8.0f; x += 0.0009765625f) {
        double e = fabs((double)enc_erff(x) - erf((double)x));
        if (e > worst) worst = e;
    }
    printf("enc_erff worst absolute error %.3g\n", worst);
    assert_true(worst < 5e-7);
    assert_true(enc_erff(0.0f) == 0.0f || fabsf(enc_erff(0.0f)) < 1e-9f);
    assert_true(fabsf(enc_erff(1e6f) - 1.0f) < 1e-6f && fabsf(enc_erff(-1e6f) + 1.0f) < 1e-6f);
}

static void test_softmax(void **s) {
    (void)s;
    float row[300];
    double ref[300];
    for (size_t n = 1; n <= 300; n += 7) {
        double mx = -1e30, sum = 0;
        for (size_t j = 0; j < n; j++) {
            row[j] = (float)(sin((double)j * 1.7 + (double)n) * 30.0);
            if (row[j] > mx) mx = row[j];
        }
        for (size_t j = 0; j < n; j++) sum += ref[j] = exp(row[j] - mx);
        enc_softmax_row(row, n);
        for (size_t j = 0; j < n; j++) assert_true(fabs(row[j] - ref[j] / sum) < 1e-6);
    }
    float masked[3] = {0.0f, -1e9f, 1.0f}; /* a -1e9 bias weighs exactly 0 */
    enc_softmax_row(masked, 3);
    assert_true(masked[1] < 1e-30f);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expf), cmocka_unit_test(test_erff),
                                       cmocka_unit_test(test_softmax)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
