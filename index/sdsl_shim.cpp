/*
 * sdsl_shim.cpp -- the only C++ in the tree: wraps sdsl-lite's wt_huff
 * (Huffman-shaped wavelet tree over rrr_vector<63>) and sd_vector (Elias-Fano
 * bit vector) behind the C interface of sdsl_shim.h. Serialization goes
 * through a streambuf that forwards to a C sink (so a tree is written straight
 * into an index file section without a second copy in memory), loading through
 * a read-only streambuf over the mapped section. Exceptions become idx_err.
 */
#include "sdsl_shim.h"

#include <cstring>
#include <istream>
#include <new>
#include <ostream>
#include <streambuf>

#include <sdsl/bit_vectors.hpp>
#include <sdsl/int_vector_buffer.hpp>
#include <sdsl/wavelet_trees.hpp>

namespace {

/* Block size of the RRR bit vectors (63 measured best; see docs/fm-index.md). */
#ifndef IDX_WT_RRR
#define IDX_WT_RRR 63
#endif
typedef sdsl::wt_huff<sdsl::rrr_vector<IDX_WT_RRR>> wt_type;
typedef sdsl::sd_vector<> sd_type;

/* Output streambuf forwarding to an idx_sdsl_sink, buffered. */
class sink_buf : public std::streambuf {
  public:
    sink_buf(idx_sdsl_sink s, void *ud) : sink_(s), ud_(ud), err_(IDX_OK), total_(0) {
        setp(buf_, buf_ + sizeof buf_);
    }
    idx_err finish() {
        flush_buf();
        return err_;
    }
    uint64_t total() const { return total_; }

  protected:
    int_type overflow(int_type ch) override {
        if (!flush_buf()) return traits_type::eof();
        if (ch != traits_type::eof()) {
            *pptr() = (char)ch;
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return flush_buf() ? 0 : -1; }

  private:
    bool flush_buf() {
        size_t n = (size_t)(pptr() - pbase());
        if (n && err_ == IDX_OK) {
            err_ = sink_(ud_, pbase(), n);
            total_ += n;
        }
        setp(buf_, buf_ + sizeof buf_);
        return err_ == IDX_OK;
    }
    idx_sdsl_sink sink_;
    void *ud_;
    idx_err err_;
    uint64_t total_;
    char buf_[1 << 16];
};

/* Read-only streambuf over memory. */
class mem_buf : public std::streambuf {
  public:
    mem_buf(const void *data, size_t n) {
        char *p = const_cast<char *>(static_cast<const char *>(data));
        setg(p, p, p + n);
    }
};

template <class T> idx_err write_obj(const T &obj, idx_sdsl_sink sink, void *ud, uint64_t *bytes) {
    try {
        sink_buf sb(sink, ud);
        std::ostream os(&sb);
        obj.serialize(os);
        os.flush();
        idx_err e = sb.finish();
        if (e != IDX_OK) return e;
        if (!os) return idx_fail(IDX_ERR_IO, "sdsl serialization failed");
        if (bytes) *bytes = sb.total();
        return IDX_OK;
    } catch (const std::bad_alloc &) {
        return idx_fail(IDX_ERR_NOMEM, "out of memory serializing a succinct structure");
    } catch (const std::exception &ex) {
        return idx_fail(IDX_ERR_INTERNAL, "sdsl: %s", ex.what());
    }
}

template <class T> idx_err load_obj(const void *data, size_t n, T **out, const char *what) {
    *out = nullptr;
    T *obj = nullptr;
    try {
        obj = new T();
        mem_buf mb(data, n);
        std::istream is(&mb);
        obj->load(is);
        if (!is) {
            delete obj;
            return idx_fail(IDX_ERR_CORRUPT, "%s: truncated serialized data", what);
        }
        *out = obj;
        return IDX_OK;
    } catch (const std::bad_alloc &) {
        delete obj;
        return idx_fail(IDX_ERR_CORRUPT, "%s: implausible sizes (allocation failed)", what);
    } catch (const std::exception &ex) {
        delete obj;
        return idx_fail(IDX_ERR_CORRUPT, "%s: %s", what, ex.what());
    }
}

} // namespace

struct idx_sdsl_wt {
    wt_type wt;
};
struct idx_sdsl_sd {
    sd_type sd;
    sd_type::rank_1_type rank;
    sd_type::select_1_type select;
};

extern "C" {

idx_err idx_sdsl_wt_build(const char *bwt_path, uint64_t n, idx_sdsl_wt **out) {
    *out = nullptr;
    idx_sdsl_wt *w = nullptr;
    try {
        w = new idx_sdsl_wt();
        if (n > 0) {
            sdsl::int_vector_buffer<8> buf(bwt_path, std::ios::in, 1 << 20, 8, true);
            if (buf.size() < n) {
                delete w;
                return idx_fail(IDX_ERR_IO, "%s: BWT file shorter than expected", bwt_path);
            }
            wt_type t(buf, n);
            w->wt.swap(t);
        }
        *out = w;
        return IDX_OK;
    } catch (const std::bad_alloc &) {
        delete w;
        return idx_fail(IDX_ERR_NOMEM, "out of memory building the wavelet tree");
    } catch (const std::exception &ex) {
        delete w;
        return idx_fail(IDX_ERR_INTERNAL, "building the wavelet tree: %s", ex.what());
    }
}

idx_err idx_sdsl_wt_load(const void *data, size_t n, idx_sdsl_wt **out) {
    idx_sdsl_wt *w = nullptr;
    *out = nullptr;
    try {
        w = new idx_sdsl_wt();
    } catch (...) {
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    wt_type *t = nullptr;
    idx_err e = load_obj(data, n, &t, "wavelet tree");
    if (e != IDX_OK) {
        delete w;
        return e;
    }
    w->wt.swap(*t);
    delete t;
    *out = w;
    return IDX_OK;
}

idx_err idx_sdsl_wt_write(const idx_sdsl_wt *wt, idx_sdsl_sink sink, void *ud, uint64_t *bytes) {
    return write_obj(wt->wt, sink, ud, bytes);
}

void idx_sdsl_wt_free(idx_sdsl_wt *wt) { delete wt; }

uint64_t idx_sdsl_wt_size(const idx_sdsl_wt *wt) { return wt->wt.size(); }

uint64_t idx_sdsl_wt_rank(const idx_sdsl_wt *wt, uint64_t i, unsigned char c) {
    return wt->wt.rank(i, c);
}

uint64_t idx_sdsl_wt_inverse_select(const idx_sdsl_wt *wt, uint64_t i, unsigned char *c) {
    auto rc = wt->wt.inverse_select(i);
    *c = (unsigned char)rc.second;
    return rc.first;
}

idx_err idx_sdsl_sd_build(uint64_t n, const uint64_t *pos, uint64_t m, idx_sdsl_sd **out) {
    *out = nullptr;
    idx_sdsl_sd *s = nullptr;
    try {
        s = new idx_sdsl_sd();
        sdsl::sd_vector_builder b(n, m);
        for (uint64_t k = 0; k < m; k++) b.set(pos[k]);
        sd_type t(b);
        s->sd.swap(t);
        s->rank = sd_type::rank_1_type(&s->sd);
        s->select = sd_type::select_1_type(&s->sd);
        *out = s;
        return IDX_OK;
    } catch (const std::bad_alloc &) {
        delete s;
        return idx_fail(IDX_ERR_NOMEM, "out of memory building the sample marks");
    } catch (const std::exception &ex) {
        delete s;
        return idx_fail(IDX_ERR_INTERNAL, "building the sample marks: %s", ex.what());
    }
}

idx_err idx_sdsl_sd_load(const void *data, size_t n, idx_sdsl_sd **out) {
    idx_sdsl_sd *s = nullptr;
    *out = nullptr;
    try {
        s = new idx_sdsl_sd();
    } catch (...) {
        return idx_fail(IDX_ERR_NOMEM, "out of memory");
    }
    sd_type *t = nullptr;
    idx_err e = load_obj(data, n, &t, "sample marks");
    if (e != IDX_OK) {
        delete s;
        return e;
    }
    s->sd.swap(*t);
    delete t;
    s->rank = sd_type::rank_1_type(&s->sd);
    s->select = sd_type::select_1_type(&s->sd);
    *out = s;
    return IDX_OK;
}

idx_err idx_sdsl_sd_write(const idx_sdsl_sd *sd, idx_sdsl_sink sink, void *ud, uint64_t *bytes) {
    return write_obj(sd->sd, sink, ud, bytes);
}

void idx_sdsl_sd_free(idx_sdsl_sd *sd) { delete sd; }

uint64_t idx_sdsl_sd_size(const idx_sdsl_sd *sd) { return sd->sd.size(); }

uint64_t idx_sdsl_sd_ones(const idx_sdsl_sd *sd) { return sd->rank(sd->sd.size()); }

int idx_sdsl_sd_get(const idx_sdsl_sd *sd, uint64_t i) { return sd->sd[i] ? 1 : 0; }

uint64_t idx_sdsl_sd_rank(const idx_sdsl_sd *sd, uint64_t i) { return sd->rank(i); }

uint64_t idx_sdsl_sd_select(const idx_sdsl_sd *sd, uint64_t k) { return sd->select(k + 1); }

} /* extern "C" */
