#!/usr/bin/env bash
# make_kernel_corpus.sh -- the benchmark corpora: real text from Debian's
# linux-source-6.1 package, one JSONL document per source or documentation
# file, {"text": ..., "path": RELATIVE_PATH}, in sorted path order (so the
# 100 MB corpus is a prefix of the 1000 MB one), stopping before the file that
# would take the text past SIZE_MB * 10^6 bytes. Empty files, binary files
# (NUL bytes), files containing 0xFF and files that are not valid UTF-8 are
# skipped and counted (summary on stderr).
#
# Installs linux-source-6.1 with apt-get if /usr/src/linux-source-6.1.tar.xz is
# missing, and unpacks it once into bench/data/linux-source-6.1/.
#
#   bench/make_kernel_corpus.sh [SIZE_MB] OUT.jsonl     (SIZE_MB default 100)
set -euo pipefail
if [ "$#" -eq 1 ]; then size=100; out="$1"
elif [ "$#" -eq 2 ]; then size="$1"; out="$2"
else echo "usage: $0 [SIZE_MB] OUT.jsonl" >&2; exit 2; fi
case "$size" in ''|*[!0-9]*) echo "make_kernel_corpus: SIZE_MB must be a positive integer" >&2; exit 2;; esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tarball=/usr/src/linux-source-6.1.tar.xz
data="$here/data"
tree="$data/linux-source-6.1"
if [ ! -f "$tarball" ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "make_kernel_corpus: installing linux-source-6.1" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq linux-source-6.1 >&2
fi
if [ ! -f "$data/.linux-source-6.1.unpacked" ]; then
  echo "make_kernel_corpus: unpacking $tarball into $data" >&2
  rm -rf "$tree"
  mkdir -p "$data"
  tar -xJf "$tarball" -C "$data"
  touch "$data/.linux-source-6.1.unpacked"
fi
exec /usr/bin/python3 "$here/files_to_jsonl.py" "$tree" "$out" --max-mb "$size"
