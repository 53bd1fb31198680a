/*
 * build.c -- the `idx build` pipeline as a library call: reads the corpus
 * once, writes the document store, cuts the documents into FM-index shards
 * by a size limit and hands each full shard to a worker thread (suffix array,
 * BWT, wavelet tree, samples: fm_build.c) while reading goes on, with at most
 * `threads` shards in flight, so peak memory is bounded by the shard size and
 * not by the corpus. Everything is written into a temporary directory beside
 * the target and published by one rename when complete, manifest last.
 *
 * Manifest part "fm" (format of the shard files at the top of fm.c):
 *   {"version":1, "layout":"compact"|"fast"|"sdsl", "sa_sample":S, "isa_sample":R (0: no inverse
 *    samples), "isa":"derived" (section "pinv", R = S) | "stored" (section "isa") | "none",
 *    "corpus_bytes":N (document bytes, separators excluded), "docs":D,
 *    "shards":[{"file":"fm/shard-0000.fm","first_doc":0,"docs":d,
 *               "text_bytes":t,"file_bytes":f}, ...]}
 * Part "docs": {"version":1, "file":"docs/docs.idx", "docs":D, "text_bytes":N,
 *   "text":"store"|"fm"} ("fm": the store keeps no text; idx_docs_text rebuilds
 *   it from the shards' inverse samples, `--text fm`).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fm_internal.h"

#define MIN_AUTO_SHARD (UINT64_C(1) << 20)
#define SPLIT_MIN (UINT64_C(32) << 20)
#define FAST_MAX_SHARD ((UINT64_C(1) << 32) - (UINT64_C(1) << 20))
#define SA32_LIMIT ((UINT64_C(1) << 31) - 2)

typedef struct {
    pthread_t th;
    int started;
    atomic_int done;
    unsigned char *text;
    uint64_t n, cap;
    uint64_t *starts;
    uint64_t ndocs, cap_docs;
    uint64_t first_doc;
    size_t index;
    char *path, *scratch;
    uint32_t s, isa;
    idx_fm_layout layout;
    idx_err err;
    char msg[1024];
    idx_fm_build_info info;
} shard_job;

static void *worker(void *arg) {
    shard_job *j = arg;
    j->err = idx_fm_shard_build(j->path, j->scratch, j->text, j->n, j->starts, j->ndocs, j->first_doc, j->s,
                                j->isa, j->layout, &j->info);
    if (j->err != IDX_OK) snprintf(j->msg, sizeof j->msg, "%s", idx_errmsg());
    free(j->text);
    j->text = NULL;
    atomic_store(&j->done, 1);
    return NULL;
}

static void job_free(shard_job *j) {
    if (!j) return;
    free(j->text);
    free(j->starts);
    free(j->path);
    free(j);
}

typedef struct {
    shard_job **jobs;
    size_t njobs, cap;
    size_t joined; /* jobs [0, joined) are finished and joined */
    idx_progress *prog;
    uint64_t total_docs;
} pipeline;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Joins the oldest running job, ticking progress while waiting. */
static idx_err join_oldest(pipeline *pl, const char *phase, int allow_cancel) {
    shard_job *j = pl->jobs[pl->joined];
    idx_err pe = IDX_OK;
    while (!atomic_load(&j->done)) {
        if (pe == IDX_OK) {
            pe = idx_progress_tick(pl->prog, phase, pl->joined, pl->njobs, "shards", 0);
            if (!allow_cancel) pe = IDX_OK;
        }
        sleep_ms(50);
    }
    pthread_join(j->th, NULL);
    j->started = 0;
    pl->joined++;
    if (j->err != IDX_OK) return idx_fail(j->err, "shard %zu: %s", j->index, j->msg);
    return pe;
}

static idx_err join_all(pipeline *pl) {
    idx_err first = IDX_OK;
    while (pl->joined < pl->njobs) {
        idx_err e = join_oldest(pl, "index", 0);
        if (e != IDX_OK && first == IDX_OK) first = e;
    }
    return first;
}

static idx_err new_job(shard_job **out, size_t index, uint64_t first_doc) {
    shard_job *j = calloc(1, sizeof *j);
    if (!j) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    j->index = index;
    j->first_doc = first_doc;
    *out = j;
    return IDX_OK;
}

static idx_err job_append(shard_job *j, const char *text, size_t len, uint64_t shard_size) {
    uint64_t need = j->n + len + 1;
    if (need > j->cap) {
        uint64_t cap = j->cap ? j->cap * 2 : (UINT64_C(1) << 16);
        if (cap < need) cap = need;
        if (cap > shard_size && need <= shard_size) cap = shard_size;
        unsigned char *p = realloc(j->text, cap);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory for a shard buffer of %llu bytes", (unsigned long long)cap);
        j->text = p;
        j->cap = cap;
    }
    if (j->ndocs == j->cap_docs) {
        uint64_t cap = j->cap_docs ? j->cap_docs * 2 : 1024;
        uint64_t *p = realloc(j->starts, cap * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        j->starts = p;
        j->cap_docs = cap;
    }
    j->starts[j->ndocs++] = j->n;
    if (len) memcpy(j->text + j->n, text, len);
    j->n += len;
    j->text[j->n++] = 0xFF;
    return IDX_OK;
}

static idx_err dispatch(pipeline *pl, shard_job *j, const char *fm_dir, int threads, uint32_t s, uint32_t isa,
                        idx_fm_layout layout) {
    while (pl->njobs - pl->joined >= (size_t)threads) {
        idx_err e = join_oldest(pl, "read", 1);
        if (e != IDX_OK) return e;
    }
    if (pl->njobs == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        shard_job **p = realloc(pl->jobs, cap * sizeof *p);
        if (!p) return idx_fail(IDX_ERR_NOMEM, "out of memory");
        pl->jobs = p;
        pl->cap = cap;
    }
    char name[64];
    snprintf(name, sizeof name, "shard-%04zu.fm", j->index);
    j->path = idx_path_join(fm_dir, name);
    if (!j->path) return idx_fail(IDX_ERR_NOMEM, "out of memory");
    j->scratch = (char *)fm_dir;
    j->s = s;
    j->isa = isa;
    j->layout = layout;
    pl->jobs[pl->njobs++] = j;
    if (pthread_create(&j->th, NULL, worker, j) != 0) {
        pl->njobs--;
        return idx_fail(IDX_ERR_NOMEM, "cannot start a worker thread");
    }
    j->started = 1;
    return IDX_OK;
}

static uint64_t derive_shard_size(uint64_t mem, int threads) {
    /* per shard in flight: text n + SA 4n + samples/BWT/wavelet-tree ~1n; plus the buffer being read */
    uint64_t s = mem / ((uint64_t)threads * 6 + 1);
    if (s > SA32_LIMIT) {
        uint64_t s64 = mem / ((uint64_t)threads * 10 + 1);
        s = s64 > SA32_LIMIT ? s64 : SA32_LIMIT;
    }
    if (s < MIN_AUTO_SHARD) s = MIN_AUTO_SHARD;
    return s;
}

idx_err idx_index_build(const char *out_dir, const char *const *inputs, size_t ninputs,
                        const idx_index_build_opts *opts, idx_index_build_stats *stats) {
    idx_index_build_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (o.threads <= 0) o.threads = 2;
    if (o.threads > 256) return idx_fail(IDX_ERR_INVALID, "--threads must be 1..256");
    if (o.mem == 0) o.mem = UINT64_C(8) << 30;
    if (o.sa_sample == 0) o.sa_sample = o.layout == IDX_FM_LAYOUT_COMPACT ? 96 : 32; /* measured, README */
    if (o.sa_sample > IDX_FM_MAX_SAMPLE) return idx_fail(IDX_ERR_INVALID, "--sa-sample must be 1..%u", IDX_FM_MAX_SAMPLE);
    if (idx_fm_layout_meta(o.layout) < 0)
        return idx_fail(IDX_ERR_INVALID, "unknown layout");
    if (o.text_source == IDX_TEXT_DEFAULT) o.text_source = o.layout == IDX_FM_LAYOUT_FAST ? IDX_TEXT_STORE : IDX_TEXT_FM;
    if (o.text_source != IDX_TEXT_FM && o.text_source != IDX_TEXT_STORE) return idx_fail(IDX_ERR_INVALID, "unknown text source");
    if (o.isa_sample > IDX_FM_MAX_SAMPLE) return idx_fail(IDX_ERR_INVALID, "--isa-sample must be 1..%u", IDX_FM_MAX_SAMPLE);
    /* text fm: inverse samples derived from the SA samples by default ("pinv", rate s), stored at --isa-sample R */
    uint32_t isa = o.text_source != IDX_TEXT_FM ? 0 : o.isa_sample ? o.isa_sample : IDX_FM_ISA_DERIVE;
    uint32_t isa_rate = isa == IDX_FM_ISA_DERIVE ? o.sa_sample : isa;
    idx_docs_opts dopts = {.store_text = o.text_source == IDX_TEXT_STORE, .text_from_fm = o.text_source == IDX_TEXT_FM};
    uint64_t shard_size = o.shard_size ? o.shard_size : derive_shard_size(o.mem, o.threads);
    if (o.layout == IDX_FM_LAYOUT_FAST && shard_size > FAST_MAX_SHARD) {
        if (o.shard_size) return idx_fail(IDX_ERR_INVALID, "the fast layout needs --shard-size below 4G");
        shard_size = FAST_MAX_SHARD;
    }
    if (shard_size < 2) return idx_fail(IDX_ERR_INVALID, "--shard-size too small");
    if (ninputs == 0) return idx_fail(IDX_ERR_INVALID, "no input given");
    struct stat stt;
    if (!o.force && lstat(out_dir, &stt) == 0)
        return idx_fail(IDX_ERR_EXISTS, "%s already exists (use --force to replace it)", out_dir);

    double t0 = idx_now();
    idx_progress prog;
    idx_progress_init(&prog, o.progress, o.progress_ud);
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.prog = &prog;

    char *tmp = NULL, *docs_dir = NULL, *fm_dir = NULL;
    idx_corpus *corpus = NULL;
    idx_docs_writer *dw = NULL;
    shard_job *cur = NULL;
    json_t *man = NULL;
    idx_err e = idx_dir_make_tmp(out_dir, &tmp);
    if (e != IDX_OK) return e;
    docs_dir = idx_path_join(tmp, "docs");
    fm_dir = idx_path_join(tmp, "fm");
    if (!docs_dir || !fm_dir) {
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((e = idx_mkdirs(docs_dir)) != IDX_OK || (e = idx_mkdirs(fm_dir)) != IDX_OK) goto done;
    if ((e = idx_corpus_open(inputs, ninputs, &o.corpus, &corpus)) != IDX_OK) goto done;
    if ((e = idx_docs_writer_open(docs_dir, &dopts, &dw)) != IDX_OK) goto done;

    uint64_t ndocs = 0, text_bytes = 0;
    size_t nshards = 0;
    idx_corpus_stats cst;
    idx_corpus_get_stats(corpus, &cst);
    /* Use every core even when the corpus fits one shard: cut it into
     * `threads` shards of 85% / threads of the input (the size estimate;
     * JSON escapes and compressed inputs make the text smaller) and a last,
     * smaller shard with the rest, built by the first worker that is free.
     * Measured on the 1 GB kernel corpus, compact layout, 2 threads (shards
     * of 451/451/98 MB against 2 x 500 MB): the same wall time (39.5 s:
     * the first shard starts earlier), peak memory 4.3 GB instead of 4.9 GB
     * (only 90% of the text is in suffix-array construction at once; the
     * sdsl peer needs 4.9 GB for the whole), 50-byte counts 50-55 us
     * against 41-46 us (every shard is walked). Not for the fast layout,
     * whose counts pay most for every shard (1 GB: 22.5-25 us p50 with one
     * shard, 29 us with two). */
    if (!o.shard_size && o.threads > 1 && o.layout != IDX_FM_LAYOUT_FAST &&
        cst.bytes_total / (uint64_t)o.threads >= SPLIT_MIN) {
        uint64_t per = cst.bytes_total / 20 * 17 / (uint64_t)o.threads + (UINT64_C(1) << 20);
        if (per < shard_size) shard_size = per;
    }
    for (;;) {
        idx_doc doc;
        int got = 0;
        if ((e = o.next_doc ? o.next_doc(o.source_ud, corpus, &doc, &got) : idx_corpus_next(corpus, &doc, &got)) != IDX_OK)
            goto done;
        if (!got) break;
        if (doc.text_len && memchr(doc.text, 0xFF, doc.text_len)) {
            e = idx_fail(IDX_ERR_PARSE, "%s:%llu: document contains byte 0xFF", doc.source, (unsigned long long)doc.line);
            goto done;
        }
        uint64_t id;
        if ((e = idx_docs_writer_add(dw, &doc, &id)) != IDX_OK) goto done;
        if (id != ndocs) {
            e = idx_fail(IDX_ERR_INTERNAL, "document store gave id %llu for document %llu", (unsigned long long)id,
                         (unsigned long long)ndocs);
            goto done;
        }
        if (cur && cur->n > 0 && cur->n + doc.text_len + 1 > shard_size) {
            shard_job *j = cur;
            cur = NULL;
            e = dispatch(&pl, j, fm_dir, o.threads, o.sa_sample, isa, o.layout);
            if (e != IDX_OK) {
                if (!j->started && (pl.njobs == 0 || pl.jobs[pl.njobs - 1] != j)) job_free(j);
                goto done;
            }
        }
        if (!cur && (e = new_job(&cur, nshards++, ndocs)) != IDX_OK) goto done;
        if ((e = job_append(cur, doc.text, doc.text_len, shard_size)) != IDX_OK) goto done;
        ndocs++;
        text_bytes += doc.text_len;
        idx_corpus_get_stats(corpus, &cst);
        if ((e = idx_progress_tick(&prog, "read", cst.bytes_in, cst.bytes_total, "B", 0)) != IDX_OK) goto done;
    }
    idx_corpus_get_stats(corpus, &cst);
    if (ndocs == 0) {
        e = idx_fail(IDX_ERR_EMPTY, "the corpus has no documents");
        goto done;
    }
    {
        shard_job *j = cur;
        cur = NULL;
        e = dispatch(&pl, j, fm_dir, o.threads, o.sa_sample, isa, o.layout);
        if (e != IDX_OK) {
            if (pl.njobs == 0 || pl.jobs[pl.njobs - 1] != j) job_free(j);
            goto done;
        }
    }
    e = idx_docs_writer_commit(dw);
    dw = NULL;
    if (e != IDX_OK) goto done;
    if ((e = join_all(&pl)) != IDX_OK) goto done;

    /* Manifest, written last. Every value in it is checked by idx_index_verify
     * against the files, so a flipped byte in it is found too. */
    man = idx_manifest_new();
    json_t *shards = json_array(), *fmp = NULL, *docp = NULL;
    if (!man || !shards) {
        json_decref(shards);
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < pl.njobs; i++) {
        shard_job *j = pl.jobs[i];
        char name[64];
        snprintf(name, sizeof name, "fm/shard-%04zu.fm", j->index);
        json_array_append_new(shards, json_pack("{s:s, s:I, s:I, s:I, s:I}", "file", name, "first_doc",
                                                (json_int_t)j->first_doc, "docs", (json_int_t)j->ndocs,
                                                "text_bytes", (json_int_t)(j->n - j->ndocs), "file_bytes",
                                                (json_int_t)j->info.file_bytes));
    }
    fmp = json_pack("{s:i, s:s, s:I, s:I, s:s, s:I, s:I, s:o}", "version", (int)IDX_FM_VERSION, "layout",
                    idx_fm_layout_name(o.layout), "sa_sample", (json_int_t)o.sa_sample,
                    "isa_sample", (json_int_t)isa_rate, "isa", isa == IDX_FM_ISA_DERIVE ? "derived" : isa ? "stored" : "none",
                    "corpus_bytes", (json_int_t)text_bytes, "docs", (json_int_t)ndocs,
                    "shards", shards);
    docp = json_pack("{s:i, s:s, s:I, s:I, s:s}", "version", 1, "file", "docs/docs.idx", "docs", (json_int_t)ndocs,
                     "text_bytes", (json_int_t)text_bytes, "text", isa ? "fm" : "store");
    json_t *parts = json_object_get(man, "parts");
    if (!fmp || !docp || !parts) {
        json_decref(fmp);
        json_decref(docp);
        e = idx_fail(IDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    json_object_set_new(parts, "docs", docp);
    json_object_set_new(parts, "fm", fmp);
    if (o.finish && (e = o.finish(o.source_ud, tmp, man)) != IDX_OK) goto done;
    if ((e = idx_manifest_save(tmp, man)) != IDX_OK) goto done;
    idx_progress_tick(&prog, "index", pl.njobs, pl.njobs, "shards", 1);
    uint64_t index_bytes = idx_du(tmp);
    if ((e = idx_dir_publish(tmp, out_dir, o.force)) != IDX_OK) goto done;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->docs = ndocs;
        stats->text_bytes = text_bytes;
        stats->shards = pl.njobs;
        stats->skipped = cst.skipped;
        stats->invalid_utf8 = cst.invalid_utf8;
        stats->index_bytes = index_bytes;
        stats->seconds = idx_now() - t0;
    }
    free(tmp);
    tmp = NULL;

done:
    if (e != IDX_OK) {
        /* Keep the first message: joining may fail again. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", idx_errmsg());
        join_all(&pl);
        idx_fail(e, "%s", msg);
    }
    for (size_t i = 0; i < pl.njobs; i++) job_free(pl.jobs[i]);
    free(pl.jobs);
    job_free(cur);
    idx_docs_writer_abort(dw);
    idx_corpus_close(corpus);
    json_decref(man);
    if (tmp) idx_rmtree(tmp);
    free(tmp);
    free(docs_dir);
    free(fm_dir);
    return e;
}
