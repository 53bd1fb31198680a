#!/usr/bin/env bash
# Dense retrieval benchmarks, idx side by side with its peers on the same data:
#  - flat (exact) top-10 by inner product: idx (blocked sgemm / scan) vs FAISS
#    IndexFlatIP, 1 and 2 threads, identical results checked;
#  - HNSW: idx vs hnswlib with the same M and ef_construction, recall@10
#    against the exact answers and queries/s over an ef sweep, build times.
# Data: N random unit vectors of dimension 384 (numpy, seed 1234) and 1,000 queries.
# usage: bench/dense_bench.sh [N ...]     (default: 100000 1000000)
# env:   BUILD=build  WORK=/tmp/idx_dense_bench  HNSW_MAX_N=100000  EFS=64,256,1024,2048,4096
#        Needs python3-numpy, python3-faiss, python3-hnswlib (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/idx_dense_bench}
DIM=384; K=10; NQ=1000; SEED=1234; M=16; EFC=200
EFS=${EFS:-64,256,1024,2048,4096}
HNSW_MAX_N=${HNSW_MAX_N:-100000}
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(100000 1000000)
PY=/usr/bin/python3
$PY -c "import numpy, faiss, hnswlib" || { echo "needs python3-numpy python3-faiss python3-hnswlib"; exit 77; }
mkdir -p "$WORK"
[ -f "$BUILD/libidx.a" ] || { echo "build first: cmake -S . -B $BUILD && cmake --build $BUILD -j2"; exit 1; }
# shellcheck disable=SC2046
cc -O2 -D_GNU_SOURCE -Icommon -Iretrieve $(pkg-config --cflags jansson openblas) bench/dense_bench.c \
   -o "$WORK/dense_bench" "$BUILD/libidx.a" \
   $(pkg-config --libs openblas jansson libxxhash libzstd zlib libcurl libutf8proc) -lstemmer -lpthread -lm
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "faiss $($PY -c 'import faiss; print(faiss.__version__)'), numpy $($PY -c 'import numpy; print(numpy.__version__)')"
for N in "${SIZES[@]}"; do
  D="$WORK/n$N"; mkdir -p "$D"
  [ -f "$D/base.f32" ] || $PY bench/dense_peer.py gen "$D" "$N" $NQ $DIM $SEED
  echo "== flat, n=$N, dim=$DIM, $NQ queries, top-$K =="
  "$WORK/dense_bench" flat "$D/base.f32" "$D/queries.f32" $DIM $K "$D/idx"
  $PY bench/dense_peer.py flat "$D" $DIM $K
  for t in 1 2; do
    echo -n "threads=$t idx vs faiss: "
    $PY bench/dense_peer.py compare "$D/idx_t$t.i64" "$D/faiss_t$t.i64" $K "$D" $DIM
  done
  if [ "$N" -le "$HNSW_MAX_N" ]; then
    echo "== hnsw, n=$N, M=$M, efConstruction=$EFC =="
    "$WORK/dense_bench" hnsw "$D/base.f32" "$D/queries.f32" $DIM $K "$D/faiss_t1.i64" $M $EFC "$EFS"
    $PY bench/dense_peer.py hnsw "$D" $DIM $K $M $EFC "$EFS"
  fi
  rm -f "$D/base.f32.vec"
done
