#!/usr/bin/env bash
# contam_bench.sh -- times `idx contam` on real benchmarks against a large
# index and prints the figures (median of RUNS runs): all 14,042 MMLU test
# questions alone (the target is < 30 s on 2 cores), then MMLU + GSM8K +
# HumanEval together, with and without the longest-span search; entries/s
# and windows/s.
#
#   bench/contam_bench.sh [INDEX]
#
# INDEX defaults to $IDX_CONTAM_INDEX, else bench/out/kernel-100.idx, which is
# built (once) from the 100 MB Linux-kernel corpus of the FM-index benchmark:
# $KERNEL_JSONL, else bench/data/kernel-100.jsonl, else the bench engineer's
# copy (made by bench/make_kernel_corpus.sh 100 OUT.jsonl on that branch).
# Env: IDX (the binary, default build/idx), RUNS (default 3), THREADS (default 2),
# BENCH_DATA (default ../shared/data/bench, or ../../shared/data/bench).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
IDX="${IDX:-$root/build/idx}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
[ -x "$IDX" ] || { echo "contam_bench: $IDX not built (cmake --build build)" >&2; exit 1; }
data="${BENCH_DATA:-}"
if [ -z "$data" ]; then
  for d in "$root/../shared/data/bench" "$root/../../shared/data/bench"; do
    [ -d "$d" ] && { data="$(cd "$d" && pwd)"; break; }
  done
fi
[ -n "$data" ] && [ -d "$data/mmlu/test" ] || { echo "contam_bench: benchmark data not found (set BENCH_DATA)" >&2; exit 1; }

index="${1:-${IDX_CONTAM_INDEX:-}}"
if [ -z "$index" ]; then
  index="$here/out/kernel-100.idx"
  # rebuilt when idx is newer: an index of an older build would measure an older layout
  if [ ! -f "$index/manifest.json" ] || [ "$IDX" -nt "$index/manifest.json" ]; then
    rm -rf "$index"
    corpus="${KERNEL_JSONL:-}"
    for c in "$here/data/kernel-100.jsonl" "$root/../bench/bench/data/kernel-100.jsonl"; do
      [ -z "$corpus" ] && [ -f "$c" ] && corpus="$c"
    done
    if [ -z "$corpus" ]; then
      [ -x "$here/make_kernel_corpus.sh" ] || { echo "contam_bench: no kernel corpus; set KERNEL_JSONL or give INDEX" >&2; exit 1; }
      corpus="$here/data/kernel-100.jsonl"
      "$here/make_kernel_corpus.sh" 100 "$corpus"
    fi
    mkdir -p "$here/out"
    echo "contam_bench: building $index from $corpus" >&2
    "$IDX" build -q -f -o "$index" "$corpus"
  fi
fi
"$IDX" inspect "$index" | head -2

# runs NAME ARGS...: median of RUNS runs of the check phase (as idx reports it),
# entries, windows, whole-command wall seconds and CPU seconds (user+sys; on a
# shared machine CPU time is the steadier figure).
runs() {
  local name="$1"; shift
  local lines=() tf of TIMEFORMAT='%R %U %S'
  tf="$(mktemp)"
  of="$(mktemp)"
  for _ in $(seq "$RUNS"); do
    { time "$IDX" contam -q --threads "$THREADS" "$@" > "$of"; } 2> "$tf"
    lines+=("$(awk -v t="$(tail -n 1 "$tf")" '/ entries, .* windows in /{split(t, a, " "); print $6, $1, $3, a[1], a[2] + a[3]}' "$of")")
  done
  rm -f "$tf" "$of"
  printf '%s\n' "${lines[@]}" | sort -n | awk -v n="$RUNS" -v name="$name" '
    { t[NR]=$1; e=$2; w=$3; wall[NR]=$4; cpu[NR]=$5 }
    END { k=int((n+1)/2); m=t[k];
          printf "%-36s %6d entries %7d windows  check %6.2f s (min %.2f, max %.2f)  wall %6.2f s  cpu %6.2f s  %7.0f entries/s %8.0f windows/s\n",
          name, e, w, m, t[1], t[n], wall[k], cpu[k], e/m, w/m }'
}

echo "threads $THREADS, $RUNS runs each, index $index"
runs "MMLU test (57 files)" "$index" "$data/mmlu/test"
runs "MMLU test, --no-span" --no-span "$index" "$data/mmlu/test"
runs "MMLU + GSM8K + HumanEval" "$index" "$data"
runs "MMLU + GSM8K + HumanEval, 1 thread" --threads 1 "$index" "$data"
echo
echo "summary table (one run):"
"$IDX" contam -q --threads "$THREADS" "$index" "$data" | awk 'NR==1 || !/^  /'
