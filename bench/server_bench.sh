#!/usr/bin/env bash
# server_bench.sh -- load test of `idx serve` with wrk on loopback, next to its
# ceiling (bench/mhd_min.c, the smallest libmicrohttpd server answering a fixed
# JSON with the same daemon flags) and next to the library itself in-process
# (bench/server_lib.c). Corpus: BEIR SciFact (5,183 abstracts,
# ../shared/data/beir/scifact), indexed once with `idx build` + `idx
# index-sparse --into`. Requests (wrk rotates through the bodies, one per line):
#   GET /healthz             and mhd_min GET /, the ceiling
#   POST /v1/count x1        one 50-byte query per request (5,000 distinct)
#   POST /v1/count x100      batches of 100 such queries (50 distinct bodies)
#   POST /v1/retrieve k10    sparse BM25, k=10, the 1,109 SciFact queries, no
#                            snippet and no text (ids, titles, offsets, scores)
#
# Two configurations, each run DUR seconds with wrk --latency at CONNS connections:
#   pinned   `idx serve --threads 1` alone on core 0 (taskset), `wrk -t1` on core 1:
#            the server has exactly one core, the client cannot steal it. This is
#            the fair comparison with the library's per-core rate.
#   shared   `idx serve --threads 2` and `wrk -t2`, unpinned (reference: both
#            share the 2 cores, as in a naive run).
# For each run: requests/s, p50/p99 latency, errors (non-2xx + socket errors),
# server CPU in cores (utime+stime of /proc/PID/stat over the run) and requests
# per server CPU-second; for count and retrieve also the library's rate on the
# same request set: `server_lib_bench` pinned to core 0 does exactly the
# route's library work (idx_fm_count of every query of a request; the BM25
# search plus each hit's id, title and length) and reports requests per
# CPU-second of its thread (median of 3 rounds of 1 s, measured right before
# each server run, as the machine's load varies); "vs lib" = server
# req/s / library req per core-second, "CPU vs lib" = server req per CPU-second
# / library req per core-second. The in-process server without HTTP
# (idx_server_handle: routing, JSON, metrics) is measured the same way and
# printed beside it, to split the overhead into JSON/dispatch and HTTP.
# Then, for each request set, the equal-work ceiling: bench/mhd_min.c with the
# same bodies, burning the library's CPU per request (1e9 / the library's
# median rate, in ns) and answering as many bytes as the route does: the best
# a server on libmicrohttpd with idx serve's daemon settings can do on that
# request here, loopback TCP included.
# "idx serve at X% of its req/s / req per CPU-s" is the server against that.
# Then a LONG-second run (shared configuration) of single counts at CONNS
# connections for errors and memory (RSS after a 5 s warm-up and at the end).
#
# Needs: build/idx and build/bench/server_lib_bench (release), wrk and taskset
# (IDX_BENCH_PKGS in scripts/install-deps.sh), python3, a C compiler. Work
# files: $IDX_BENCH_DIR/server (default /tmp/idx-bench).
# Knobs: DUR (10), LONG (60), CONNS (64), PORT (18080), CONFIGS ("pinned shared"),
# REPEAT (3: runs of each count/retrieve request set per configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
IDX=${IDX:-build/idx}
LIB=${LIB:-build/bench/server_lib_bench}
W=${IDX_BENCH_DIR:-/tmp/idx-bench}/server
DUR=${DUR:-10}
LONG=${LONG:-60}
CONNS=${CONNS:-64}
PORT=${PORT:-18080}
CONFIGS=${CONFIGS:-pinned shared}
REPEAT=${REPEAT:-3}
if [ -z "${IDX_SHARED_DATA:-}" ]; then
  for d in ../shared/data ../../shared/data; do [ -d "$d" ] && IDX_SHARED_DATA=$d && break; done
fi
DATA=${IDX_SHARED_DATA:-../shared/data}/beir/scifact
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
command -v taskset >/dev/null || { echo "needs taskset (util-linux)"; exit 1; }
[ -x "$IDX" ] && [ -x "$LIB" ] || { echo "build idx and server_lib_bench first (scripts/build.sh release)"; exit 1; }
[ -f "$DATA/corpus.jsonl" ] || { echo "SciFact is absent ($DATA)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores (server and client pinned apart)"; exit 1; }
mkdir -p "$W"
TCK=$(getconf CLK_TCK)

# (re)built whenever idx is newer than the index: an index left by an older
# build would measure an older layout
if [ ! -f "$W/scifact/manifest.json" ] || ! grep -q sparse "$W/scifact/manifest.json" ||
   [ "$IDX" -nt "$W/scifact/manifest.json" ]; then
  rm -rf "$W/scifact"
  "$IDX" build -q -o "$W/scifact" "$DATA/corpus.jsonl"
  "$IDX" index-sparse --into "$W/scifact" >/dev/null 2>&1
fi
cc -O2 -o "$W/mhd_min" bench/mhd_min.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread

# request bodies (one JSON per line), read by wrk (post.lua) and server_lib_bench
python3 - "$DATA" "$W" <<'PY'
import json, random, sys
data, w = sys.argv[1], sys.argv[2]
docs = [json.loads(l) for l in open(data + "/corpus.jsonl", encoding="utf-8")]
rng = random.Random(7)
qs = []
while len(qs) < 5000:
    t = rng.choice(docs)["text"].encode()
    if len(t) < 60: continue
    o = rng.randrange(len(t) - 50)
    q = t[o:o + 50]
    if b"\n" in q: continue
    try: qs.append(q.decode())
    except UnicodeDecodeError: continue
with open(w + "/count1.body", "w") as f:
    for q in qs: f.write(json.dumps({"index": "scifact", "query": q}) + "\n")
with open(w + "/count100.body", "w") as f:
    for i in range(0, 5000, 100): f.write(json.dumps({"index": "scifact", "queries": qs[i:i + 100]}) + "\n")
queries = [json.loads(l) for l in open(data + "/queries.jsonl", encoding="utf-8")]
with open(w + "/retrieve.body", "w") as f:
    for q in queries:
        f.write(json.dumps({"index": "scifact", "query": q["text"], "k": 10, "mode": "sparse",
                            "snippet": 0, "with_text": False}) + "\n")
PY
cat > "$W/post.lua" <<'LUA'
-- rotates through the request bodies of $BODIES, one per line
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
LUA

med() { printf "%s\n" "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

# the library per core-second on each request set (pinned to core 0 like the server)
lib_rate() { taskset -c 0 "$LIB" "$@" | sed -n 's/.* requests\/cpu-s \([0-9]*\).*/\1/p'; }
echo "library in-process, requests per CPU-second of one thread (server_lib_bench, core 0, median of 5 x 1 s):"
LIB_C1=$(lib_rate count "$W/scifact" "$W/count1.body")
LIB_C100=$(lib_rate count "$W/scifact" "$W/count100.body")
LIB_RT=$(lib_rate retrieve "$W/scifact" "$W/retrieve.body")
H_C1=$(lib_rate handle "$W/scifact" "$W/count1.body" /v1/count)
H_C100=$(lib_rate handle "$W/scifact" "$W/count100.body" /v1/count)
H_RT=$(lib_rate handle "$W/scifact" "$W/retrieve.body" /v1/retrieve)
printf "  %-20s %10s %22s\n" "" "library" "idx_server_handle"
printf "  %-20s %10s %14s (%3.0f%%)\n" "count x1" "$LIB_C1" "$H_C1" "$(awk -v a="$H_C1" -v b="$LIB_C1" 'BEGIN {print 100 * a / b}')"
printf "  %-20s %10s %14s (%3.0f%%)\n" "count x100" "$LIB_C100" "$H_C100" "$(awk -v a="$H_C100" -v b="$LIB_C100" 'BEGIN {print 100 * a / b}')"
printf "  %-20s %10s %14s (%3.0f%%)\n" "retrieve k10" "$LIB_RT" "$H_RT" "$(awk -v a="$H_RT" -v b="$LIB_RT" 'BEGIN {print 100 * a / b}')"
echo

# run NAME PID URL BODIES LIBRATE -> prints a row; sets RPS, PER_CPU, ERRS
run() {
  local name=$1 pid=$2 url=$3 bodies=$4 lib=$5 out c0 c1 rps p50 p99 errs cores per vs cvs
  c0=$(cpu_ticks "$pid")
  if [ -n "$bodies" ]; then
    out=$(BODIES=$bodies $WRK -c"$CONNS" -d"${DUR}s" --timeout 10s --latency -s "$W/post.lua" "$url")
  else
    out=$($WRK -c"$CONNS" -d"${DUR}s" --timeout 10s --latency "$url")
  fi
  c1=$(cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v d="$DUR" 'BEGIN {printf "%.2f", (b - a) / t / d}')
  per=$(awk -v r="$rps" -v c="$cores" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}')
  vs=-; cvs=-
  if [ -n "$lib" ]; then
    vs=$(awk -v r="$rps" -v l="$lib" 'BEGIN {printf "%.0f%%", 100 * r / l}')
    cvs=$(awk -v r="$per" -v l="$lib" 'BEGIN {printf "%.0f%%", 100 * r / l}')
  fi
  printf "%-26s %9.0f %9s %9s %6s %7s %9s %9s %7s %9s\n" "$name" "$rps" "$p50" "$p99" "$errs" "$cores" "$per" \
    "${lib:--}" "$vs" "$cvs"
  RPS=$rps PER_CPU=$per ERRS=$errs RATIO=${vs%\%} CRATIO=${cvs%\%}
  sleep 1 # let the server drain what the closed connections left queued
}

start_serve() { # THREADS CPUS
  $SRV_PIN "$IDX" serve --port "$PORT" --threads "$1" "$W/scifact" >/dev/null 2>"$W/serve.err" &
  SPID=$!
  trap 'kill $SPID 2>/dev/null || true' EXIT
  wait_port "$PORT"
}
stop_serve() { kill -TERM "$SPID"; wait "$SPID" || { echo "idx serve exited with $?"; }; trap - EXIT; }

printf "%-26s %9s %9s %9s %6s %7s %9s %9s %7s %9s\n" run "req/s" p50 p99 errors "srv CPU" "req/CPU-s" \
  "lib/core" "vs lib" "CPU vs lib"
for cfg in $CONFIGS; do
  if [ "$cfg" = pinned ]; then
    THREADS=1 SRV_PIN="taskset -c 0" WRK="taskset -c 1 wrk -t1"
  else
    THREADS=2 SRV_PIN="" WRK="wrk -t2"
  fi
  echo "-- $cfg: server --threads $THREADS ${SRV_PIN:-unpinned}, ${WRK}"
  # the ceiling and /healthz, alternated twice (best of each: the machine is shared)
  CEIL=0 HZ=0
  for round in 1 2; do
    $SRV_PIN "$W/mhd_min" "$PORT" "$THREADS" 16384 >/dev/null &
    MPID=$!
    wait_port "$PORT"
    run "mhd_min GET / ($round)" "$MPID" "http://127.0.0.1:$PORT/" "" ""
    CEIL=$(awk -v a="$CEIL" -v b="$RPS" 'BEGIN {print (b > a ? b : a)}')
    kill "$MPID"; wait "$MPID" 2>/dev/null || true
    start_serve "$THREADS"
    run "GET /healthz ($round)" "$SPID" "http://127.0.0.1:$PORT/healthz" "" ""
    HZ=$(awk -v a="$HZ" -v b="$RPS" 'BEGIN {print (b > a ? b : a)}')
    if [ "$round" = 1 ]; then stop_serve; fi
  done
  echo "   healthz / ceiling (best of 2 each): $(awk -v a="$HZ" -v b="$CEIL" 'BEGIN {printf "%.0f%%", 100 * a / b}') (target >= 70%)"
  # REPEAT runs of each, the library's rate measured again right before each
  # (the machine's load changes from second to second); then the medians
  for spec in "count x1|/v1/count|count1|count" "count x100|/v1/count|count100|count" \
              "retrieve k10|/v1/retrieve|retrieve|retrieve"; do
    IFS='|' read -r label path body mode <<<"$spec"
    VS="" CVS="" LIBS="" RS="" PS=""
    for rep in $(seq "$REPEAT"); do
      L=$(ROUNDS=3 lib_rate "$mode" "$W/scifact" "$W/$body.body")
      run "POST $label ($rep)" "$SPID" "http://127.0.0.1:$PORT$path" "$W/$body.body" "$L"
      VS="$VS $RATIO" CVS="$CVS $CRATIO" LIBS="$LIBS $L" RS="$RS $RPS" PS="$PS $PER_CPU"
    done
    echo "   $label, median of $REPEAT: req/s $(med $VS)% and req per server CPU-s $(med $CVS)% of the library per core-second"
    # the equal-work ceiling: mhd_min burning the library's CPU per request
    # (1e9 / its median rate, in ns) and answering as many bytes as the route
    WORK=$(awk -v l="$(med $LIBS)" 'BEGIN {printf "%.0f", 1e9 / l}')
    RESP=$(head -n1 "$W/$body.body" | curl -s -o /dev/null -w '%{size_download}' -H 'Content-Type: application/json' \
      --data-binary @- "http://127.0.0.1:$PORT$path")
    $SRV_PIN "$W/mhd_min" "$((PORT + 1))" "$THREADS" 16384 "$WORK" "$RESP" >/dev/null &
    MPID=$!
    wait_port "$((PORT + 1))"
    CR="" CP=""
    for rep in $(seq "$REPEAT"); do
      run "ceiling $label ($rep)" "$MPID" "http://127.0.0.1:$((PORT + 1))/" "$W/$body.body" "$(med $LIBS)"
      CR="$CR $RPS" CP="$CP $PER_CPU"
    done
    kill "$MPID"; wait "$MPID" 2>/dev/null || true
    echo "   $label, equal-work ceiling (mhd_min, ${WORK} ns of CPU and ${RESP} bytes a request), median of $REPEAT:" \
      "req/s $(med $CR), req per CPU-s $(med $CP);" \
      "idx serve at $(awk -v a="$(med $RS)" -v b="$(med $CR)" 'BEGIN {printf "%.0f%%", 100 * a / b}') of its req/s" \
      "and $(awk -v a="$(med $PS)" -v b="$(med $CP)" 'BEGIN {printf "%.0f%%", 100 * a / b}') of its req per CPU-s"
  done
  if [ "$cfg" != shared ] || [ "$LONG" = 0 ]; then stop_serve; continue; fi
  # stability: warm-up, then LONG seconds at CONNS connections
  DUR0=$DUR; DUR=5
  run "warm-up (count x1)" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count1.body" "" >/dev/null
  RSS0=$(rss_kb "$SPID")
  DUR=$LONG
  run "count x1, ${LONG}s" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count1.body" "$LIB_C1"
  LONGERR=$ERRS
  RSS1=$(rss_kb "$SPID")
  DUR=$DUR0
  stop_serve
  awk -v r0="$RSS0" -v r1="$RSS1" -v le="$LONGERR" -v l="$LONG" -v c="$CONNS" 'BEGIN {
    printf "   %ds at %d connections: %d errors; RSS %.1f MiB after warm-up, %.1f MiB at the end (%+.1f%%)\n",
      l, c, le, r0 / 1024, r1 / 1024, 100 * (r1 - r0) / r0 }'
done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); wrk --timeout 10s -c$CONNS -d${DUR}s"
