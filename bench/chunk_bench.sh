#!/usr/bin/env bash
# chunk_bench.sh -- the chunking benchmark on SciFact (BEIR) abstracts:
#  1. boundary recovery: `idx chunk-eval` concatenates abstracts (seeded random
#     order, joined by one space) into texts and scores Pk / WindowDiff of the
#     fixed, recursive, TextTiling-style and perplexity chunkers at the same mean
#     chunk length (the mean abstract length), for SEEDS seeds, then the mean;
#  2. throughput (MB/s, median of RUNS runs) of `idx chunk` per chunker over the
#     whole corpus (7.3 MB, 5,183 abstracts), output to /dev/null;
#  3. perplexity chunking as a function of the reference size: Pk and MB/s with
#     the in-memory reference infinity-gram and with an FM-index built by
#     `idx build` from the same reference documents (--lm INDEX).
#
#   bench/chunk_bench.sh
# Env: IDX (default build/idx), SCIFACT (default ../shared/data/beir/scifact/
# corpus.jsonl or ../../shared/...), SEEDS (default "1 2 3"), RUNS (default 3),
# REF_SIZES (default "500 1000 2000 3000"), OUT (default bench/out/chunk).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
IDX="${IDX:-$root/build/idx}"
RUNS="${RUNS:-3}"
SEEDS="${SEEDS:-1 2 3}"
REF_SIZES="${REF_SIZES:-500 1000 2000 3000}"
OUT="${OUT:-$here/out/chunk}"
[ -x "$IDX" ] || { echo "chunk_bench: $IDX not built (cmake --build build)" >&2; exit 1; }
sf="${SCIFACT:-}"
for c in "$root/../shared/data/beir/scifact/corpus.jsonl" "$root/../../shared/data/beir/scifact/corpus.jsonl"; do
  [ -z "$sf" ] && [ -f "$c" ] && sf="$(cd "$(dirname "$c")" && pwd)/corpus.jsonl"
done
[ -n "$sf" ] && [ -f "$sf" ] || { echo "chunk_bench: SciFact corpus not found (set SCIFACT)" >&2; exit 1; }
mkdir -p "$OUT"

field() { # field NAME < json line
  sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

echo "== 1. boundary recovery on SciFact (20 texts x 10 abstracts per seed, reference 2000 other abstracts)"
: > "$OUT/quality.jsonl"
for s in $SEEDS; do
  "$IDX" chunk-eval --json --seed "$s" --texts 20 --docs-per-text 10 --ref-docs 2000 \
    --chunkers fixed,recursive,texttiling,texttiling-k,ppl,ppl-merge,ppl-rise,ppl-gain-rise,ppl-gain-window1,ppl-gain-window1-k,ppl-gain-window,ppl-gain-window-k "$sf" >> "$OUT/quality.jsonl"
done
printf '%-14s %8s %8s %11s %9s\n' chunker Pk WinDiff mean_words MB/s
for c in fixed recursive texttiling texttiling-k ppl ppl-merge ppl-rise ppl-gain-rise ppl-gain-window1 ppl-gain-window1-k ppl-gain-window ppl-gain-window-k; do
  grep "\"chunker\":\"$c\"" "$OUT/quality.jsonl" | awk -v c="$c" -F'[:,]' '
    { for (i = 1; i < NF; i++) { k = $i; gsub(/[{"]/, "", k); v[k] = $(i + 1) }
      pk += v["pk"]; wd += v["windowdiff"]; mw += v["mean_words"]; mb += v["mb_per_s"]; n++ }
    END { printf "%-14s %8.4f %8.4f %11.1f %9.3f   (mean of %d seeds)\n", c, pk/n, wd/n, mw/n, mb/n, n }'
done
echo "(ppl: theta calibrated to the mean length; ppl-merge: theta = 0 then dynamic merging, as Meta-Chunking;"
echo " ppl-rise: our rise rule, theta calibrated; ppl-gain-rise: rise rule on the context gain (NLL with"
echo " the cache minus NLL of the reference alone); all with the reference infinity-gram + 2000-byte"
echo " document cache, lambda 0.8; ppl-gain-window*: the window rule on the cross-gap context gain over"
echo " 5 sentences, window1 forward only, window two-sided; without -k theta is calibrated, with -k the"
echo " deepest peaks, round(words/target)-1 per text; window size, lambda and cache tuned on seeds 11-12)"

echo
echo "== 2. throughput of idx chunk on all of SciFact ($(du -m "$sf" | cut -f1) MB file), median of $RUNS runs"
bytes=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])))" "$sf" 2>/dev/null || echo 7261818)
printf '%-34s %9s %9s\n' chunker seconds MB/s
for c in "sentence" "fixed --size 200" "fixed-bytes --size 1200" "recursive --size 200" "markdown" "texttiling" "sentence --merge 200"; do
  ts=()
  for r in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$IDX" chunk --chunker $c --no-text "$sf" > /dev/null 2>&1
    t1=$(date +%s.%N)
    ts+=("$(echo "$t1 - $t0" | bc -l)")
  done
  med=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-34s %9.2f %9.2f\n' "$c" "$med" "$(echo "$bytes / 1000000 / $med" | bc -l)"
done
echo "(includes reading and parsing the JSONL; one thread)"

echo
echo "== 3. perplexity chunking vs reference size (seed 1, 20 texts x 10 abstracts)"
printf '%-8s %10s | %8s %9s | %8s %9s %9s\n' ref_docs ref_MB mem_Pk mem_MB/s fm_Pk fm_MB/s fm_build_s
for n in $REF_SIZES; do
  mem=$("$IDX" chunk-eval --json --seed 1 --texts 20 --docs-per-text 10 --ref-docs "$n" \
        --dump-ref "$OUT/ref-$n.jsonl" --chunkers ppl "$sf")
  t0=$(date +%s.%N)
  "$IDX" build -q -f --threads 1 -o "$OUT/ref-$n.idx" "$OUT/ref-$n.jsonl" > /dev/null 2>&1
  t1=$(date +%s.%N)
  fm=$("$IDX" chunk-eval --json --seed 1 --texts 20 --docs-per-text 10 --ref-docs "$n" \
       --lm "$OUT/ref-$n.idx" --chunkers ppl "$sf")
  printf '%-8s %10.2f | %8s %9s | %8s %9s %9.2f\n' "$n" "$(echo "$(echo "$mem" | field ref_bytes) / 1000000" | bc -l)" \
    "$(echo "$mem" | field pk)" "$(echo "$mem" | field mb_per_s)" \
    "$(echo "$fm" | field pk)" "$(echo "$fm" | field mb_per_s)" "$(echo "$t1 - $t0" | bc -l)"
done
echo "(MB/s: texts chunked per second including the model, one thread; ref_MB: reference bytes)"
