/*
 * enc_math.h -- branch-free float kernels the compiler can vectorise at -O2
 * (no libm calls in the loop): exp for softmax, erf for GELU, row softmax.
 *  - enc_expf: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a
 *    degree-6 polynomial for e^r, 2^n by exponent bits; relative error below
 *    3e-7 on [-87, 88], inputs below -87 give ~0 (softmax only needs x <= 0).
 *  - enc_erff: Abramowitz & Stegun 7.1.26 (1.5e-7), below 4e-7 in float.
 * Tested through the encoder's reference tests (cosine >= 0.9999).
 */
#ifndef IDX_ENC_MATH_H
#define IDX_ENC_MATH_H

#include <stdint.h>
#include <string.h>

static inline float enc_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    float n = t - magic;
    float r = x - n * 0.693145751953125f; /* ln2 high part */
    r = r - n * 1.428606765330187e-06f;   /* ln2 low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t pb;
    memcpy(&pb, &p, 4);
    pb += (tb - 0x4B400000u) << 23; /* + n to the exponent */
    memcpy(&p, &pb, 4);
    return p;
}

static inline float enc_erff(float x) {
    uint32_t xb;
    memcpy(&xb, &x, 4);
    uint32_t sign = xb & 0x80000000u;
    xb &= 0x7FFFFFFFu;
    float a;
    memcpy(&a, &xb, 4);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * enc_expf(-a * a);
    uint32_t yb;
    memcpy(&yb, &y, 4);
    yb |= sign;
    memcpy(&y, &yb, 4);
    return y;
}

/* In-place softmax of one row. Max and sum use 8 partial lanes so that they
 * vectorise without reassociation flags. */
static inline void enc_softmax_row(float *row, size_t n) {
    float m8[8], s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 8; k++) m8[k] = row[0];
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) m8[k] = row[j + k] > m8[k] ? row[j + k] : m8[k];
    float mx = row[0];
    for (int k = 0; k < 8; k++) mx = m8[k] > mx ? m8[k] : mx;
    for (; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    for (j = 0; j < n; j++) row[j] = enc_expf(row[j] - mx);
    for (j = 0; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) s8[k] += row[j + k];
    float sum = 0;
    for (int k = 0; k < 8; k++) sum += s8[k];
    for (; j < n; j++) sum += row[j];
    float inv = 1.0f / sum;
    for (j = 0; j < n; j++) row[j] *= inv;
}

#endif
