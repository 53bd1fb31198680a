/*
 * sdsl_shim.h -- the one door from C into sdsl-lite (C++). The FM-index
 * (index/fm.c) keeps its BWT in a Huffman-shaped wavelet tree
 * (sdsl::wt_huff over rrr_vector<63>) and marks its sampled suffix-array rows
 * in an Elias-Fano bit vector (sdsl::sd_vector). This shim builds them,
 * serializes them into a caller-supplied sink (an index file section), loads
 * them back from memory, and answers rank / inverse-select. Every C++
 * exception is caught here and turned into an idx_err with a message; nothing
 * C++ leaks past this header.
 */
#ifndef IDX_SDSL_SHIM_H
#define IDX_SDSL_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "idx_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sink for serialization: called with consecutive chunks; non-IDX_OK aborts. */
typedef idx_err (*idx_sdsl_sink)(void *ud, const void *data, size_t n);

/* ---- wavelet tree over bytes (all 256 values are ordinary symbols) ---- */
typedef struct idx_sdsl_wt idx_sdsl_wt;

/* Builds the tree over the n bytes of the plain file bwt_path (streamed). */
idx_err idx_sdsl_wt_build(const char *bwt_path, uint64_t n, idx_sdsl_wt **out);
/* Loads a tree serialized by idx_sdsl_wt_write from memory (copied). */
idx_err idx_sdsl_wt_load(const void *data, size_t n, idx_sdsl_wt **out);
idx_err idx_sdsl_wt_write(const idx_sdsl_wt *wt, idx_sdsl_sink sink, void *ud, uint64_t *bytes);
void idx_sdsl_wt_free(idx_sdsl_wt *wt);
uint64_t idx_sdsl_wt_size(const idx_sdsl_wt *wt);
/* Occurrences of c in [0, i), i <= size. */
uint64_t idx_sdsl_wt_rank(const idx_sdsl_wt *wt, uint64_t i, unsigned char c);
/* The byte at i (< size) and its rank in [0, i): one traversal. */
uint64_t idx_sdsl_wt_inverse_select(const idx_sdsl_wt *wt, uint64_t i, unsigned char *c);

/* ---- sparse bit vector (Elias-Fano) with rank ---- */
typedef struct idx_sdsl_sd idx_sdsl_sd;

/* n bits, the m strictly increasing positions pos[0..m) set. */
idx_err idx_sdsl_sd_build(uint64_t n, const uint64_t *pos, uint64_t m, idx_sdsl_sd **out);
idx_err idx_sdsl_sd_load(const void *data, size_t n, idx_sdsl_sd **out);
idx_err idx_sdsl_sd_write(const idx_sdsl_sd *sd, idx_sdsl_sink sink, void *ud, uint64_t *bytes);
void idx_sdsl_sd_free(idx_sdsl_sd *sd);
uint64_t idx_sdsl_sd_size(const idx_sdsl_sd *sd);
uint64_t idx_sdsl_sd_ones(const idx_sdsl_sd *sd);
int idx_sdsl_sd_get(const idx_sdsl_sd *sd, uint64_t i); /* bit i (< size) */
uint64_t idx_sdsl_sd_rank(const idx_sdsl_sd *sd, uint64_t i); /* ones in [0, i) */
uint64_t idx_sdsl_sd_select(const idx_sdsl_sd *sd, uint64_t k); /* position of the k-th one, k < ones (0-based) */

#ifdef __cplusplus
}
#endif
#endif
