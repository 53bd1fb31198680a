#!/usr/bin/env bash
# fm_bench.sh -- the issue-2 FM-index benchmark: builds the same corpus with
# `idx build` (the compact layout, fixed-block boosted wavelet trees; the sdsl
# layout, sdsl's wt_huff<rrr_vector<63>> inside idx; and the fast layout) and with sdsl-lite's construct() of csa_wt<wt_huff<rrr_vector<127>>,32,64>
# (bench/sdsl_peer.cpp), then measures both in the same run with the same
# queries and prints one side-by-side table (bench/fm_table.py): build wall
# time, peak RSS, on-disk bytes / corpus text bytes, count latency p50/p99 for
# 10,000 present 50-byte substrings, 10,000 absent ones, 10,000 present of
# length 10 and of length 200, locate time per occurrence, and the time to
# return a 1 KB window (FM extraction for an index built with --text fm, the
# compact layout's default; the zstd store for --text store, the fast
# layout's default; the table's footer says which); medians over REPS passes. Every answer of every side is
# checked against a naive scan of the text (bench/qgen.c): a mismatch is
# printed and the script exits 1.
#
#   bench/fm_bench.sh CORPUS.jsonl
# Environment:
#   REPS=3            rounds; in each, every side makes one warm-up and one timed
#                     pass over every query set (medians over rounds are printed)
#   THREADS=2         idx build --threads
#   FAST_THREADS=1    idx build --threads for the fast side (one thread: one shard
#                     up to --mem/7, the fastest counts; the fast layout pays per shard)
#   IDX_BUILD_DIR=build-bench   CMake build directory used for idx and fm_bench
#   OUT=bench/out/NAME          work directory (indexes, queries, answers)
#   SEED=42  NQ=10000           query generator seed and queries per set
#   IDX_BUILD_ARGS=""           extra arguments for idx build (e.g. --mem 4G)
#   KEEP=0            1 keeps the built indexes in OUT
#   FAST_TEXT=store   --text of the fast side (store or fm)
#   SIDES="peer ours sdsl fast" which sides to build and measure (ours = compact;
#                     sdsl/fast: only when this idx build has --layout; ratios need the peer)
# Needs g++, libsdsl-dev, libdivsufsort-dev, /usr/bin/time (package time).
set -euo pipefail
if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 CORPUS.jsonl   (see the header for environment variables)" >&2
  exit 2
fi
corpus="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
name="$(basename "$corpus" .jsonl)"
out="${OUT:-$root/bench/out/$name}"
reps="${REPS:-3}"
threads="${THREADS:-2}"
bdir="${IDX_BUILD_DIR:-$root/build-bench}"
[ -x /usr/bin/time ] || { echo "fm_bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
mkdir -p "$out" "$out/q"
log() { echo "fm_bench: $(date -u +%H:%M:%S) $*" >&2; }

log "building tools (g++ sdsl_peer, cc qgen, cmake idx + fm_bench in $bdir)"
g++ -O2 -DNDEBUG -o "$out/sdsl_peer" "$here/sdsl_peer.cpp" -lsdsl -ldivsufsort -ldivsufsort64
gcc -O2 -Wall -Wextra -o "$out/qgen" "$here/qgen.c"
cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bdir" -j2 --target idx fm_bench >/dev/null
idx="$bdir/idx"

if [ ! -f "$out/text.bin" ] || [ "$corpus" -nt "$out/text.bin" ]; then
  log "joining the corpus into text.bin (documents + 0xFF)"
  /usr/bin/python3 "$here/jsonl_to_text.py" "$corpus" "$out/text.bin"
  rm -f "$out/q/present50.q"
fi
size=$(stat -c %s "$out/text.bin")
ndocs=$(tr -cd '\377' < "$out/text.bin" | wc -c)
echo "$((size - ndocs)) $ndocs" > "$out/text.bytes"
if [ ! -f "$out/q/present50.q" ]; then
  log "generating queries and their naive-scan counts"
  "$out/qgen" "$out/text.bin" "$out/q" --n "${NQ:-10000}" --seed "${SEED:-42}"
fi

sides="${SIDES:-peer ours sdsl fast}"
want() { case " $sides " in *" $1 "*) return 0;; esac; return 1; }
rm -f "$out"/{peer,ours,sdsl,fast}.query.out.* "$out"/{peer,ours,sdsl,fast}.build.time "$out"/{peer,ours,sdsl,fast}.bytes
du_bytes() { du -sb "$@" | awk '{s += $1} END {printf "%.0f\n", s}'; }

if want peer; then
  log "peer build (sdsl construct); load average $(cut -d" " -f1-3 /proc/loadavg)"
  rm -f "$out"/peer.csa "$out"/peer.docs
  /usr/bin/time -v -o "$out/peer.build.time" "$out/sdsl_peer" build "$out/text.bin" "$out/peer" > "$out/peer.build.out"
  echo "$(du_bytes "$out/peer.csa" "$out/peer.docs") $(du_bytes "$out/peer.csa")" > "$out/peer.bytes"
fi

build_ours() { # label extra-args...
  local label="$1"; shift
  rm -rf "$out/$label.idx"
  log "idx build ($label) --threads $threads $* ${IDX_BUILD_ARGS:-}"
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "$out/$label.build.time" "$idx" build --quiet --threads "$threads" \
    -o "$out/$label.idx" ${IDX_BUILD_ARGS:-} "$@" "$corpus" || return 1
  echo "$(du_bytes "$out/$label.idx") $(du_bytes "$out/$label.idx/fm")" > "$out/$label.bytes"
}
if want ours; then build_ours ours; fi
for lay in sdsl fast; do
  rm -f "$out"/$lay.*
  want $lay || continue
  if "$idx" build --help 2>&1 | grep -q -- "--layout.*$lay"; then
    if [ $lay = fast ]; then lay_args=(--layout fast --text "${FAST_TEXT:-store}" --threads "${FAST_THREADS:-1}"); else lay_args=(--layout $lay); fi
    if build_ours $lay "${lay_args[@]}"; then :; else
      log "the $lay layout failed to build; left out"; rm -rf "$out/$lay.idx" "$out"/$lay.*
    fi
  else
    log "this idx build has no --layout $lay; left out"
  fi
done

# The machine is shared and noisy: the sides take turns, one timed pass each
# per round (after a warm-up pass), and the table takes medians over rounds.
for r in $(seq 1 "$reps"); do
  if want peer; then
    log "round $r/$reps: peer queries"
    "$out/sdsl_peer" query "$out/peer" "$out/q" "$out" 1 > "$out/peer.query.out.$r"
  fi
  if want ours; then
    log "round $r/$reps: our queries (compact)"
    "$bdir/bench/fm_bench" "$out/ours.idx" "$out/q" "$out" 1 ours > "$out/ours.query.out.$r"
  fi
  for lay in sdsl fast; do
    if [ -d "$out/$lay.idx" ]; then
      log "round $r/$reps: our queries ($lay)"
      "$bdir/bench/fm_bench" "$out/$lay.idx" "$out/q" "$out" 1 $lay > "$out/$lay.query.out.$r"
    fi
  done
done

echo "== FM-index benchmark: $(basename "$corpus"), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo '+dirty'), $(nproc) cores, REPS=$reps, sides: $sides, idx build --threads $threads ${IDX_BUILD_ARGS:-}"
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg) (the machine is shared: other jobs compete for the 2 cores)"
status=0
/usr/bin/python3 "$here/fm_table.py" "$out" || status=$?
if [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$out/ours.idx" "$out/sdsl.idx" "$out/fast.idx" "$out/peer.csa" "$out/peer.docs"
fi
exit "$status"
