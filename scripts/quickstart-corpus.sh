#!/usr/bin/env bash
# quickstart-corpus.sh -- writes the README's default corpus: the Python 3.11
# documentation sources shipped by Debian's python3.11-doc package
# (/usr/share/doc/python3.11/html/_sources/**/*.txt, reStructuredText, ~500
# files, ~11 MB), one JSONL document per file, {"id": RELATIVE_PATH, "text": ...},
# in sorted path order. Installs python3.11-doc with apt-get if it is missing.
#
#   scripts/quickstart-corpus.sh [OUT.jsonl]      (default: python-docs.jsonl)
set -euo pipefail
out="${1:-python-docs.jsonl}"
if [ "$#" -gt 1 ] || [ "${out#-}" != "$out" ]; then
  echo "usage: $0 [OUT.jsonl]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src=/usr/share/doc/python3.11/html/_sources
if [ ! -d "$src" ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "quickstart-corpus: installing python3.11-doc" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3.11-doc >&2
fi
if [ ! -d "$src" ]; then
  echo "quickstart-corpus: $src not found after installing python3.11-doc" >&2
  exit 1
fi
exec /usr/bin/python3 "$here/bench/files_to_jsonl.py" "$src" "$out" --suffix .txt --id-field
