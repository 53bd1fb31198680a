/*
 * dense_internal.h -- pieces of the dense module shared between its own
 * files (dense.c, hnsw.c) and not part of the public API: the dot-product
 * kernel and direct access to a float32 store's matrix.
 */
#ifndef IDX_DENSE_INTERNAL_H
#define IDX_DENSE_INTERNAL_H

#include "idx_dense.h"

/* Inner product of two float vectors of length n (runtime-dispatched SIMD). */
float idx_dense_dot(const float *a, const float *b, size_t n);
/* The row-major float32 matrix of a type-0 store, else NULL. */
const float *idx_dense_f32_matrix(const idx_dense *d);

#endif
