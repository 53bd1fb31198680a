/*
 * fm_build.c -- builds one FM-index shard file (format at the top of fm.c)
 * from the shard's text: suffix array by libdivsufsort (32-bit while the shard
 * is below 2^31 bytes, divsufsort64 beyond), then one pass over the suffix
 * array that streams the BWT (sentinel row removed) to a scratch file and
 * collects the text-order suffix-array samples and the inverse samples (the
 * row of every r-th text position, section "isa", with --isa-sample r; by
 * default they are derived from the SA samples instead, section "pinv",
 * fm_pinv.c, after the pass), then the rank structure from
 * that file (compact: fm_block.c and fast: fm_fast.c over the mapped file;
 * sdsl: its wavelet tree built by sdsl), and finally the file written section
 * by section.
 * Peak memory: n (text, the caller's) + 4n or 8n (suffix array) + 8n/s + n/r*8;
 * the suffix array is freed before the wavelet tree is built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <divsufsort.h>
#include <divsufsort64.h>

#include "fm_block.h"
#include "fm_fast.h"
#include "fm_internal.h"
#include "fm_pinv.h"
#include "sdsl_shim.h"

static unsigned bit_width(uint64_t v) {
    unsigned b = 1;
    while (b < 64 && (v >> b)) b++;
    return b;
}

static idx_err file_sink(void *ud, const void *data, size_t n) {
    return idx_file_write((idx_file_writer *)ud, data, n);
}

typedef struct {
    FILE *f;
    unsigned char buf[1 << 16];
    size_t len;
    const char *path;
} bwt_out;

static idx_err bwt_put(bwt_out *o, unsigned char c) {
    o->buf[o->len++] = c;
    if (o->len == sizeof o->buf) {
        if (fwrite(o->buf, 1, o->len, o->f) != o->len)
            return idx_fail(IDX_ERR_IO, "%s: write failed", o->path);
        o->len = 0;
    }
    return IDX_OK;
}

/* The suffix array is either 32- or 64-bit; one pass over rows 0..n. */
typedef struct {
    const unsigned char *text;
    uint64_t n, s, primary;
    uint64_t *marks;   /* rows sampled, increasing */
    uint64_t *samples; /* packed SA/s */
    uint64_t nmarks;
    unsigned bits;
    uint64_t r;        /* inverse sample rate; 0 = none */
    uint64_t *isa;     /* packed rows of positions k*r */
    unsigned isa_bits;
    bwt_out *out;
} pass_state;

static inline void put_packed(uint64_t *a, uint64_t k, unsigned bits, uint64_t v) {
    uint64_t bit = k * bits, w = bit >> 6, o = bit & 63;
    a[w] |= v << o;
    if (o + bits > 64) a[w + 1] |= v >> (64 - o);
}

static inline idx_err pass_row(pass_state *st, uint64_t row, uint64_t sa) {
    if (sa == 0) st->primary = row;
    else {
        idx_err e = bwt_put(st->out, st->text[sa - 1]);
        if (e != IDX_OK) return e;
    }
    if (sa % st->s == 0) {
        uint64_t k = st->nmarks++;
        st->marks[k] = row;
        put_packed(st->samples, k, st->bits, sa / st->s);
    }
    if (st->r && sa % st->r == 0) put_packed(st->isa + IDX_FM_ISA_HEADER_WORDS, sa / st->r, st->isa_bits, row);
    return IDX_OK;
}

/* Divisibility of a 32-bit value by d without a division (Lemire, Kaser and
 * Kurz, "Faster remainder by direct computation", 2019): with
 * M = floor((2^64 - 1) / d) + 1, d divides a iff (M * a mod 2^64) <= M - 1
 * (d = 1 gives M = 0, always true). The pass tests every row, and a 64-bit
 * division per row was a fifth of its time. */
static inline int divides32(uint64_t M, uint32_t a) { return M * a <= M - 1; }

/* The pass for a 32-bit suffix array: pass_row's work with the text byte of
 * row i + 64 prefetched (each is a random access into the shard's text) and
 * the sample tests done by multiplication. */
static idx_err pass_sa32(pass_state *st, const int32_t *sa, uint64_t n) {
    idx_err e = pass_row(st, 0, n);
    const uint64_t Ms = UINT64_MAX / st->s + 1, Mr = st->r ? UINT64_MAX / st->r + 1 : 0;
    bwt_out *o = st->out;
    const unsigned char *text = st->text;
    for (uint64_t i = 0; i < n && e == IDX_OK; i++) {
        if (i + 64 < n) __builtin_prefetch(text + (sa[i + 64] ? sa[i + 64] - 1 : 0));
        uint32_t v = (uint32_t)sa[i];
        uint64_t row = i + 1;
        if (v == 0) st->primary = row;
        else {
            o->buf[o->len++] = text[v - 1];
            if (o->len == sizeof o->buf) {
                if (fwrite(o->buf, 1, o->len, o->f) != o->len) return idx_fail(IDX_ERR_IO, "%s: write failed", o->path);
                o->len = 0;
            }
        }
        if (divides32(Ms, v)) {
            uint64_t k = st->nmarks++;
            st->marks[k] = row;
            put_packed(st->samples, k, st->bits, v / st->s);
        }
        if (st->r && divides32(Mr, v)) put_packed(st->isa + IDX_FM_ISA_HEADER_WORDS, v / st->r, st->isa_bits, row);
    }
    return e;
}

idx_err idx_fm_shard_build(const char *path, const char *scratch_dir, const unsigned char *text,
                           uint64_t n, const uint64_t *starts, uint64_t ndocs, uint64_t first_doc,
                           uint32_t sa_sample, uint32_t isa_sample, idx_fm_layout layout,
                           idx_fm_build_info *info) {
    double t0 = idx_now();
    if (idx_fm_layout_meta(layout) < 0) return idx_fail(IDX_ERR_INVALID, "unknown layout");
    if (layout == IDX_FM_LAYOUT_FAST && n >= (UINT64_C(1) << 32))
        return idx_fail(IDX_ERR_LIMIT, "the fast layout needs shards below 4 GiB (use --shard-size)");
    if (n == 0 || ndocs == 0 || text[n - 1] != 0xFF)
        return idx_fail(IDX_ERR_INTERNAL, "shard text must end with a separator");
    if (sa_sample == 0 || sa_sample > IDX_FM_MAX_SAMPLE)
        return idx_fail(IDX_ERR_INVALID, "suffix-array sample rate must be 1..%u", IDX_FM_MAX_SAMPLE);
    int derive = isa_sample == IDX_FM_ISA_DERIVE;
    if (derive) isa_sample = 0;
    if (isa_sample > IDX_FM_MAX_SAMPLE)
        return idx_fail(IDX_ERR_INVALID, "inverse sample rate must be 0..%u", IDX_FM_MAX_SAMPLE);
    if (n >= (UINT64_C(1) << 48)) return idx_fail(IDX_ERR_LIMIT, "shard too large");

    uint64_t counts[256] = {0};
    for (uint64_t i = 0; i < n; i++) counts[text[i]]++;
    if (counts[0xFF] != ndocs) return idx_fail(IDX_ERR_INTERNAL, "separator count differs from document count");

    idx_err e = IDX_OK;
    pass_state st;
    memset(&st, 0, sizeof st);
    st.text = text;
    st.n = n;
    st.s = sa_sample;
    st.bits = bit_width(n / sa_sample);
    uint64_t nsamples = n / sa_sample + 1;
    uint64_t words = (nsamples * st.bits + 63) / 64;
    st.marks = malloc(nsamples * sizeof(uint64_t));
    st.samples = calloc(words + 1, sizeof(uint64_t));
    /* "isa": header {r, count, bits, 0}, then count rows packed at bits each. */
    uint64_t isa_count = 0, isa_words = 0;
    if (isa_sample) {
        st.r = isa_sample;
        st.isa_bits = bit_width(n);
        isa_count = n / isa_sample + 1;
        isa_words = (isa_count * st.isa_bits + 63) / 64;
        st.isa = calloc(IDX_FM_ISA_HEADER_WORDS + isa_words + 1, sizeof(uint64_t));
        if (st.isa) {
            st.isa[0] = isa_sample;
            st.isa[1] = isa_count;
            st.isa[2] = st.isa_bits;
        }
    }
    char *bwt_path = NULL;
    bwt_out *bo = malloc(sizeof *bo);
    idx_sdsl_wt *wt = NULL;
    idx_sdsl_sd *sd = NULL;
    unsigned char *fast = NULL;
    uint64_t fast_len = 0;
    idx_file_writer *w = NULL;
    idx_buf pinv = {0};
    if (!st.marks || !st.samples || !bo || (isa_sample && !st.isa)) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory for suffix-array samples");
        goto done;
    }
    {
        char name[64];
        snprintf(name, sizeof name, "bwt-%llu.tmp", (unsigned long long)first_doc);
        bwt_path = idx_path_join(scratch_dir, name);
    }
    if (!bwt_path) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    bo->path = bwt_path;
    bo->len = 0;
    bo->f = fopen(bwt_path, "wb");
    if (!bo->f) {
        e = idx_fail(IDX_ERR_IO, "%s: cannot create: %m", bwt_path);
        goto done;
    }
    st.out = bo;

    /* Suffix array, and the pass over rows: row 0 is the sentinel suffix (position n). */
    double ts = idx_now();
    if (n < (UINT64_C(1) << 31) - 1) {
        int32_t *sa = malloc(n * sizeof(int32_t));
        if (!sa) {
            e = idx_fail(IDX_ERR_NOMEM, "out of memory for the suffix array (%llu bytes)", (unsigned long long)(n * 4));
            goto done;
        }
        if (divsufsort(text, sa, (int32_t)n) != 0) {
            free(sa);
            e = idx_fail(IDX_ERR_INTERNAL, "divsufsort failed");
            goto done;
        }
        if (info) info->sa_seconds = idx_now() - ts;
        e = pass_sa32(&st, sa, n);
        free(sa);
    } else {
        int64_t *sa = malloc(n * sizeof(int64_t));
        if (!sa) {
            e = idx_fail(IDX_ERR_NOMEM, "out of memory for the suffix array (%llu bytes)", (unsigned long long)(n * 8));
            goto done;
        }
        if (divsufsort64(text, sa, (int64_t)n) != 0) {
            free(sa);
            e = idx_fail(IDX_ERR_INTERNAL, "divsufsort64 failed");
            goto done;
        }
        if (info) info->sa_seconds = idx_now() - ts;
        e = pass_row(&st, 0, n);
        for (uint64_t i = 0; i < n && e == IDX_OK; i++) e = pass_row(&st, i + 1, (uint64_t)sa[i]);
        free(sa);
    }
    if (e != IDX_OK) goto done;
    if (bo->len && fwrite(bo->buf, 1, bo->len, bo->f) != bo->len) e = idx_fail(IDX_ERR_IO, "%s: write failed", bwt_path);
    if (fclose(bo->f) != 0 && e == IDX_OK) e = idx_fail(IDX_ERR_IO, "%s: write failed", bwt_path);
    bo->f = NULL;
    if (e != IDX_OK) goto done;
    if (st.nmarks != nsamples) {
        e = idx_fail(IDX_ERR_INTERNAL, "sample count mismatch");
        goto done;
    }
    if (derive && (e = idx_fm_pinv_build(st.samples, st.bits, nsamples, IDX_FM_PINV_T, &pinv)) != IDX_OK) goto done;

    double tw = idx_now();
    if (layout == IDX_FM_LAYOUT_FAST || layout == IDX_FM_LAYOUT_COMPACT) {
        int fd = open(bwt_path, O_RDONLY | O_CLOEXEC);
        void *map = fd >= 0 ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        if (fd >= 0) close(fd);
        if (map == MAP_FAILED) e = idx_fail(IDX_ERR_IO, "%s: cannot map: %m", bwt_path);
        else {
            e = layout == IDX_FM_LAYOUT_FAST ? idx_fm_fast_build(map, n, &fast, &fast_len)
                                             : idx_fm_block_build(map, n, IDX_FM_BLOCK_LB_DEFAULT, &fast, &fast_len);
            munmap(map, n);
        }
    } else {
        e = idx_sdsl_wt_build(bwt_path, n, &wt);
    }
    unlink(bwt_path);
    if (e != IDX_OK) goto done;
    e = idx_sdsl_sd_build(n + 1, st.marks, nsamples, &sd);
    if (e != IDX_OK) goto done;
    free(st.marks);
    st.marks = NULL;
    if (info) info->wt_seconds = idx_now() - tw;

    uint64_t meta[IDX_FM_META_WORDS];
    memset(meta, 0, sizeof meta);
    meta[0] = (uint64_t)idx_fm_layout_meta(layout);
    meta[1] = n;
    meta[2] = st.primary;
    meta[3] = ndocs;
    meta[4] = first_doc;
    meta[5] = n - ndocs;
    meta[6] = sa_sample;
    meta[7] = nsamples;
    meta[8] = st.bits;
    for (int c = 0; c < 256; c++) meta[9 + c] = counts[c];

    uint64_t wt_bytes = 0, sd_bytes = 0;
    if ((e = idx_file_create(path, IDX_FM_MAGIC, IDX_FM_VERSION, &w)) != IDX_OK) goto done;
    if ((e = idx_file_put_section(w, "meta", meta, sizeof meta)) != IDX_OK) goto done;
    if (fast) {
        if ((e = idx_file_put_section(w, layout == IDX_FM_LAYOUT_FAST ? "fast" : "block", fast, fast_len)) != IDX_OK)
            goto done;
        wt_bytes = fast_len;
        free(fast);
        fast = NULL;
    } else {
        if ((e = idx_file_section_begin(w, "wt")) != IDX_OK) goto done;
        if ((e = idx_sdsl_wt_write(wt, file_sink, w, &wt_bytes)) != IDX_OK) goto done;
        if ((e = idx_file_section_end(w)) != IDX_OK) goto done;
    }
    if ((e = idx_file_section_begin(w, "marks")) != IDX_OK) goto done;
    if ((e = idx_sdsl_sd_write(sd, file_sink, w, &sd_bytes)) != IDX_OK) goto done;
    if ((e = idx_file_section_end(w)) != IDX_OK) goto done;
    if ((e = idx_file_put_section(w, "samples", st.samples, words * 8)) != IDX_OK) goto done;
    if ((e = idx_file_put_section(w, "docs", starts, ndocs * 8)) != IDX_OK) goto done;
    if (st.isa && (e = idx_file_put_section(w, "isa", st.isa, (IDX_FM_ISA_HEADER_WORDS + isa_words) * 8)) != IDX_OK)
        goto done;
    if (derive && (e = idx_file_put_section(w, "pinv", pinv.data, pinv.len)) != IDX_OK) goto done;
    e = idx_file_commit(w);
    w = NULL;
    if (e != IDX_OK) goto done;
    if (info) {
        info->wt_bytes = wt_bytes;
        info->marks_bytes = sd_bytes;
        info->samples_bytes = words * 8;
        info->docs_bytes = ndocs * 8;
        info->isa_bytes = st.isa ? (IDX_FM_ISA_HEADER_WORDS + isa_words) * 8 : pinv.len;
        info->file_bytes = idx_du(path);
        info->total_seconds = idx_now() - t0;
    }
done:
    if (w) idx_file_abort(w);
    if (bo && bo->f) {
        fclose(bo->f);
        unlink(bwt_path);
    }
    free(bo);
    free(bwt_path);
    free(st.marks);
    free(st.samples);
    free(st.isa);
    idx_buf_free(&pinv);
    idx_sdsl_wt_free(wt);
    idx_sdsl_sd_free(sd);
    free(fast);
    return e;
}
