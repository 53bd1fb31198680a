#!/usr/bin/env bash
# Installs everything idx needs on Debian 12 (run as root, or with sudo available).
# Libraries: sdsl-lite, libdivsufsort, zstd, OpenBLAS, libmicrohttpd (required by
# design); jansson (JSON), utf8proc (Unicode folding), libstemmer (Snowball),
# xxhash, zlib (.gz), libcurl (HTTP client), cmocka (unit tests); clang for the
# fuzzers; curl for end-to-end server tests; python3-numpy for the tiny-model
# generator; python3.11-doc is the quickstart corpus.
# Extra packages: IDX_EXTRA_PKGS="..." (the quickstart uses it), and
# IDX_BENCH=1 adds the benchmark peers and corpora (never needed by the build
# or the tests): kernel sources, Xapian, wrk, perf (profiling the server), /usr/bin/time, g++, torch, bc.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS="build-essential cmake pkg-config git curl ca-certificates
  libsdsl-dev libdivsufsort-dev libzstd-dev zstd libopenblas-dev libmicrohttpd-dev
  libjansson-dev libutf8proc-dev libstemmer-dev libxxhash-dev zlib1g-dev
  libcurl4-openssl-dev libcmocka-dev clang libclang-rt-14-dev python3.11-doc
  python3-numpy"
IDX_BENCH_PKGS="linux-source-6.1 libxapian-dev wrk linux-perf time g++ bc python3-torch python3-numpy python3-faiss python3-hnswlib"
want="$PKGS ${IDX_EXTRA_PKGS:-}"
if [ "${IDX_BENCH:-0}" = 1 ]; then want="$want $IDX_BENCH_PKGS"; fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] || [ "${IDX_FORCE_APT:-0}" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y $want
fi
