#!/usr/bin/env bash
# sparse_bench.sh -- idx's BM25 index against Xapian (the peer) on real prose:
# the Linux kernel Documentation/ (Debian linux-source-6.1) and the Python 3.11
# documentation sources (python3.11-doc), split at paragraph boundaries into
# ~1 KB documents (about 36,000), and 1,000 queries of 2-5
# consecutive words drawn from random documents. One run prints, for each
# engine: indexing time and throughput (MB/s of document text), index size,
# and single-thread top-10 query throughput with p50/p99 latency (median of
# 3 runs of the query set). Both engines: title + text, Snowball English
# stemming, the same 33 stopwords, BM25 k1=0.9 b=0.4, no positions.
#
# Needs: build/idx (release), linux-source-6.1, python3.11-doc, libxapian-dev (see IDX_BENCH_PKGS
# in scripts/install-deps.sh). Work files go to $IDX_BENCH_DIR (default /tmp/idx-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
IDX=${IDX:-build/idx}
W=${IDX_BENCH_DIR:-/tmp/idx-bench}
NDOCS=${NDOCS:-40000}
mkdir -p "$W"
[ -x "$IDX" ] || { echo "build idx first (scripts/build.sh release)"; exit 1; }
TAR=/usr/src/linux-source-6.1.tar.xz
[ -f "$TAR" ] || { echo "needs linux-source-6.1 (apt-get install linux-source-6.1)"; exit 1; }

if [ ! -d "$W/linux-source-6.1/Documentation" ]; then
  echo "extracting Documentation/ from $TAR ..."
  tar -xJf "$TAR" -C "$W" linux-source-6.1/Documentation
fi
if [ ! -s "$W/corpus.jsonl" ] || [ ! -s "$W/queries.tsv" ]; then
  python3 - "$W" "$NDOCS" <<'PY'
import json, os, random, re, sys
w, ndocs = sys.argv[1], int(sys.argv[2])
roots = [os.path.join(w, "linux-source-6.1", "Documentation"), "/usr/share/doc/python3.11/html/_sources"]
docs = []
for root, dp, dn, fn in ((r, *t) for r in roots for t in sorted(os.walk(r))):
    dn.sort()
    for f in sorted(fn):
        if not (f.endswith(".rst") or f.endswith(".txt")): continue
        rel = ("linux/" if "linux-source" in root else "python/") + os.path.relpath(os.path.join(dp, f), root)
        text = open(os.path.join(dp, f), encoding="utf-8", errors="replace").read()
        buf, part = [], 0
        for para in re.split(r"\n\s*\n", text):
            para = para.strip()
            if not para: continue
            buf.append(para)
            if sum(len(p) for p in buf) >= 1000:
                docs.append({"_id": "%s#%d" % (rel, part), "title": rel, "text": "\n\n".join(buf)})
                buf, part = [], part + 1
        if buf:
            docs.append({"_id": "%s#%d" % (rel, part), "title": rel, "text": "\n\n".join(buf)})
        if len(docs) >= ndocs: break
    if len(docs) >= ndocs: break
docs = docs[:ndocs]
with open(os.path.join(w, "corpus.jsonl"), "w") as f:
    for d in docs: f.write(json.dumps(d) + "\n")
rng = random.Random(42)
with open(os.path.join(w, "queries.tsv"), "w") as f:
    n = 0
    while n < 1000:
        words = re.findall(r"[A-Za-z]{3,}", rng.choice(docs)["text"])
        k = rng.randint(2, 5)
        if len(words) < k: continue
        s = rng.randrange(len(words) - k + 1)
        f.write("q%d\t%s\n" % (n, " ".join(words[s:s + k])))
        n += 1
print("corpus: %d documents, %.1f MB of text" % (len(docs), sum(len(d["title"]) + len(d["text"]) for d in docs) / 1e6))
PY
fi
PEER=$W/xapian_peer
if [ ! -x "$PEER" ] || [ bench/xapian_peer.cc -nt "$PEER" ]; then
  g++ -O2 -o "$PEER" bench/xapian_peer.cc $(pkg-config --cflags --libs xapian-core)
fi
MB=$(python3 -c "import json,sys; print(sum(len(d['title'].encode())+len(d['text'].encode()) for d in map(json.loads, open('$W/corpus.jsonl')))/1e6)")
NDOC=$(wc -l < "$W/corpus.jsonl")
echo "corpus: $NDOC documents, $MB MB of title+text; 1000 queries of 2-5 words"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---- indexing (median of 3) ----
ti=(); tx=(); ci=(); cx=()
for r in 1 2 3; do
  rm -rf "$W/idx.idx" "$W/xapian.db"
  /usr/bin/time -f "%e %U %S" -o "$W/t" "$IDX" index-sparse --quiet -o "$W/idx.idx" "$W/corpus.jsonl" >/dev/null
  ti+=("$(awk '{print $1}' "$W/t")"); ci+=("$(awk '{print $2 + $3}' "$W/t")")
  /usr/bin/time -f "%e %U %S" -o "$W/t" "$PEER" index "$W/xapian.db" "$W/corpus.jsonl" >/dev/null
  tx+=("$(awk '{print $1}' "$W/t")"); cx+=("$(awk '{print $2 + $3}' "$W/t")")
done
TI=$(printf '%s\n' "${ti[@]}" | median); TX=$(printf '%s\n' "${tx[@]}" | median)
CI=$(printf '%s\n' "${ci[@]}" | median); CX=$(printf '%s\n' "${cx[@]}" | median)
SI=$(du -sb "$W/idx.idx/sparse" | cut -f1); SD=$(du -sb "$W/idx.idx/docs" | cut -f1)
SX=$(du -sb "$W/xapian.db" | cut -f1)

# ---- queries (median of 3 runs of the 1,000 queries; top 10; single thread) ----
qi=(); pi50=(); pi99=(); qx=(); px50=(); px99=(); qci=(); qcx=()
for r in 1 2 3; do
  l=$("$IDX" retrieve "$W/idx.idx" --queries "$W/queries.tsv" -k 10 -o "$W/idx.run" 2>&1 >/dev/null | tail -1)
  qi+=("$(echo "$l" | sed -E 's/.*: ([0-9.]+) queries\/s.*/\1/')"); pi50+=("$(echo "$l" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/')"); pi99+=("$(echo "$l" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')")
  qci+=("$(echo "$l" | sed -E 's/.*\(([0-9.]+) queries\/cpu-s.*/\1/')")
  l=$("$PEER" search "$W/xapian.db" "$W/queries.tsv" "$W/xapian.run" 0.9 0.4 2>&1 | tail -1)
  qx+=("$(echo "$l" | sed -E 's/.*: ([0-9.]+) queries\/s.*/\1/')"); px50+=("$(echo "$l" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/')"); px99+=("$(echo "$l" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')")
  qcx+=("$(echo "$l" | sed -E 's/.*\(([0-9.]+) queries\/cpu-s.*/\1/')")
done
QCI=$(printf '%s\n' "${qci[@]}" | median); QCX=$(printf '%s\n' "${qcx[@]}" | median)
QI=$(printf '%s\n' "${qi[@]}" | median); QX=$(printf '%s\n' "${qx[@]}" | median)
P50I=$(printf '%s\n' "${pi50[@]}" | median); P50X=$(printf '%s\n' "${px50[@]}" | median)
P99I=$(printf '%s\n' "${pi99[@]}" | median); P99X=$(printf '%s\n' "${px99[@]}" | median)
# overlap of the two top-10 lists (same analysis and BM25 parameters, so most should agree)
OV=$(python3 - "$W/idx.run" "$W/xapian.run" <<'PY'
import sys, collections
def load(p):
    r = collections.defaultdict(set)
    for l in open(p):
        q, _, d, *_ = l.split(); r[q].add(d)
    return r
a, b = load(sys.argv[1]), load(sys.argv[2])
qs = set(a) | set(b)
print("%.3f" % (sum(len(a[q] & b[q]) / max(1, len(a[q] | b[q])) for q in qs) / max(1, len(qs))))
PY
)
printf '\n%-28s %14s %14s %8s\n' "" "idx" "xapian" "ratio"
printf '%-28s %14.2f %14.2f %8.2f\n' "index time (s)" "$TI" "$TX" "$(echo "$TX / $TI" | bc -l)"
printf '%-28s %14.2f %14.2f %8.2f\n' "indexing MB/s" "$(echo "$MB / $TI" | bc -l)" "$(echo "$MB / $TX" | bc -l)" "$(echo "$TX / $TI" | bc -l)"
printf '%-28s %14.2f %14.2f %8.2f\n' "indexing MB/cpu-s" "$(echo "$MB / $CI" | bc -l)" "$(echo "$MB / $CX" | bc -l)" "$(echo "$CX / $CI" | bc -l)"
printf '%-28s %14.1f %14.1f %8.2f\n' "index size MiB (sparse part)" "$(echo "$SI / 1048576" | bc -l)" "$(echo "$SX / 1048576" | bc -l)" "$(echo "$SI / $SX" | bc -l)"
printf '%-28s %14.1f %14s\n' "  + idx document store MiB" "$(echo "$SD / 1048576" | bc -l)" "-"
printf '%-28s %14.1f %14.1f %8.2f\n' "queries/s (top-10, 1 thread)" "$QI" "$QX" "$(echo "$QI / $QX" | bc -l)"
printf '%-28s %14.1f %14.1f %8.2f\n' "queries/cpu-s" "$QCI" "$QCX" "$(echo "$QCI / $QCX" | bc -l)"
printf '%-28s %14.3f %14.3f %8.2f\n' "latency p50 (ms)" "$P50I" "$P50X" "$(echo "$P50X / $P50I" | bc -l)"
printf '%-28s %14.3f %14.3f\n' "latency p99 (ms)" "$P99I" "$P99X"
echo "top-10 overlap (mean Jaccard per query): $OV"
echo "(idx index time includes writing the zstd document store; medians of 3 runs; wall-clock figures"
echo " swing with other load on the machine, the cpu-s figures less so)"
