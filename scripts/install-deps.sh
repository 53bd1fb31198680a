#!/usr/bin/env bash
# Installs everything idx needs on Debian 12 (run as root, or with sudo available).
# Libraries: sdsl-lite, libdivsufsort, zstd, OpenBLAS, libmicrohttpd (required by
# design); jansson (JSON), utf8proc (Unicode folding), libstemmer (Snowball),
# xxhash, zlib (.gz), libcurl (HTTP client), cmocka (unit tests); clang for the
# fuzzers; curl for end-to-end server tests; python3-numpy (encoder reference models,
# scripts/make_tiny_bert.py); python3-torch is a bench peer (bench/encoder_bench.sh).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS="build-essential cmake pkg-config git curl ca-certificates
  libsdsl-dev libdivsufsort-dev libzstd-dev zstd libopenblas-dev libmicrohttpd-dev
  libjansson-dev libutf8proc-dev libstemmer-dev libxxhash-dev zlib1g-dev
  libcurl4-openssl-dev libcmocka-dev clang libclang-rt-14-dev python3.11-doc
  python3-numpy"
# Optional benchmark peers and corpora (bench/*.sh): IDX_BENCH=1 scripts/install-deps.sh
IDX_BENCH_PKGS="libxapian-dev linux-source-6.1 bc time python3-torch"
if [ "${IDX_BENCH:-0}" = 1 ]; then IDX_EXTRA_PKGS="${IDX_EXTRA_PKGS:-} $IDX_BENCH_PKGS"; fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ] || [ "${IDX_FORCE_APT:-0}" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y $PKGS ${IDX_EXTRA_PKGS:-}
elif [ -n "${IDX_EXTRA_PKGS:-}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y ${IDX_EXTRA_PKGS}
fi
