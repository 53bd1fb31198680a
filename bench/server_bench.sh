#!/usr/bin/env bash
# server_bench.sh -- load test of `idx serve` with wrk on loopback, next to its
# ceiling: bench/mhd_min.c, the smallest libmicrohttpd server answering a fixed
# JSON with the same daemon flags. Corpus: BEIR SciFact (5,183 abstracts,
# ../shared/data/beir/scifact), indexed once with `idx build` + `idx
# index-sparse --into`. Runs (each DUR seconds, wrk -t2 -c$CONNS --latency):
#   mhd_min GET /            the ceiling
#   GET /healthz
#   POST /v1/count           one 50-byte query per request (5,000 distinct, rotating)
#   POST /v1/count           batches of 100 such queries
#   POST /v1/retrieve        sparse BM25, k=10, the 1,109 SciFact queries (rotating),
#                            no snippet and no text (what `idx retrieve --queries` does)
# then a LONG-second run of single counts at $CONNS connections for errors and
# memory (RSS after a 5 s warm-up and at the end). For each run: requests/s,
# p50/p99 latency, errors (non-2xx + socket errors), server CPU (cores) and
# requests per server CPU-second (wrk --timeout 10s: a batch of 100 counts
# queued behind 63 others on a loaded machine is slow, not lost). The library's own rate in-process on the
# same queries (queries per CPU-second of `idx count --file` and
# `idx retrieve --queries`) is printed beside them.
#
# Needs: build/idx (release), wrk (IDX_BENCH_PKGS in scripts/install-deps.sh),
# python3, a C compiler. Work files: $IDX_BENCH_DIR/server (default /tmp/idx-bench).
# Knobs: DUR (10), LONG (60), CONNS (64), THREADS (server threads, 2), PORT (18080).
set -euo pipefail
cd "$(dirname "$0")/.."
IDX=${IDX:-build/idx}
W=${IDX_BENCH_DIR:-/tmp/idx-bench}/server
DUR=${DUR:-10}
LONG=${LONG:-60}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
if [ -z "${IDX_SHARED_DATA:-}" ]; then
  for d in ../shared/data ../../shared/data; do [ -d "$d" ] && IDX_SHARED_DATA=$d && break; done
fi
DATA=${IDX_SHARED_DATA:-../shared/data}/beir/scifact
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
[ -x "$IDX" ] || { echo "build idx first (scripts/build.sh release)"; exit 1; }
[ -f "$DATA/corpus.jsonl" ] || { echo "SciFact is absent ($DATA)"; exit 1; }
mkdir -p "$W"
TCK=$(getconf CLK_TCK)

if [ ! -f "$W/scifact/manifest.json" ] || ! grep -q sparse "$W/scifact/manifest.json"; then
  rm -rf "$W/scifact"
  "$IDX" build -q -o "$W/scifact" "$DATA/corpus.jsonl"
  "$IDX" index-sparse --into "$W/scifact" >/dev/null 2>&1
fi
cc -O2 -o "$W/mhd_min" bench/mhd_min.c $(pkg-config --cflags --libs libmicrohttpd) -lpthread

# request bodies (one JSON per line) and the same queries for the library
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
with open(w + "/count.txt", "w") as f:
    for q in qs: f.write(q + "\n")
queries = [json.loads(l) for l in open(data + "/queries.jsonl", encoding="utf-8")]
with open(w + "/retrieve.body", "w") as f:
    for q in queries:
        f.write(json.dumps({"index": "scifact", "query": q["text"], "k": 10, "mode": "sparse",
                            "snippet": 0, "with_text": False}) + "\n")
with open(w + "/retrieve.tsv", "w") as f:
    for q in queries: f.write("%s\t%s\n" % (q["_id"], q["text"].replace("\t", " ").replace("\n", " ")))
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

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

printf "%-22s %10s %9s %9s %7s %8s %12s\n" run "req/s" "p50" "p99" errors "srv CPU" "req/CPU-s"
# run NAME PID URL [BODIES] -> prints a row; sets RPS and PER_CPU
run() {
  local name=$1 pid=$2 url=$3 bodies=${4:-} out c0 c1 rps p50 p99 errs
  c0=$(cpu_ticks "$pid")
  if [ -n "$bodies" ]; then
    out=$(BODIES=$bodies wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s --latency -s "$W/post.lua" "$url")
  else
    out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s --latency "$url")
  fi
  c1=$(cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  local cores per
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v d="$DUR" 'BEGIN {printf "%.2f", (b - a) / t / d}')
  per=$(awk -v r="$rps" -v c="$cores" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}')
  printf "%-22s %10.0f %9s %9s %7s %8s %12s\n" "$name" "$rps" "$p50" "$p99" "$errs" "$cores" "$per"
  RPS=$rps PER_CPU=$per ERRS=$errs
  sleep 2 # let the server drain what the closed connections left queued
}

# the ceiling and /healthz, alternated twice (best of each: the machine is shared)
CEIL=0 HZ=0
for round in 1 2; do
  "$W/mhd_min" "$PORT" "$THREADS" >/dev/null &
  MPID=$!
  wait_port "$PORT"
  run "mhd_min GET / ($round)" "$MPID" "http://127.0.0.1:$PORT/"
  CEIL=$(awk -v a="$CEIL" -v b="$RPS" 'BEGIN {print (b > a ? b : a)}')
  kill "$MPID"; wait "$MPID" 2>/dev/null || true
  "$IDX" serve --port "$PORT" --threads "$THREADS" "$W/scifact" >/dev/null 2>"$W/serve.err" &
  SPID=$!
  trap 'kill $SPID 2>/dev/null || true' EXIT
  wait_port "$PORT"
  run "GET /healthz ($round)" "$SPID" "http://127.0.0.1:$PORT/healthz"
  HZ=$(awk -v a="$HZ" -v b="$RPS" 'BEGIN {print (b > a ? b : a)}')
  if [ "$round" = 1 ]; then kill -TERM "$SPID"; wait "$SPID" || true; fi
done
run "POST /v1/count x1" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count1.body"
C1=$PER_CPU C1R=$RPS
run "POST /v1/count x100" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count100.body"
C100=$PER_CPU C100R=$RPS
run "POST /v1/retrieve k10" "$SPID" "http://127.0.0.1:$PORT/v1/retrieve" "$W/retrieve.body"
RT=$PER_CPU RTR=$RPS

# stability: warm-up, then LONG seconds at CONNS connections
DUR0=$DUR; DUR=5
run "warm-up (count x1)" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count1.body" >/dev/null
RSS0=$(rss_kb "$SPID")
DUR=$LONG
run "count x1, ${LONG}s" "$SPID" "http://127.0.0.1:$PORT/v1/count" "$W/count1.body"
LONGERR=$ERRS
RSS1=$(rss_kb "$SPID")
DUR=$DUR0
kill -TERM "$SPID"; wait "$SPID" || { echo "idx serve exited with $?"; }
trap - EXIT

# the library in-process on the same queries, per CPU-second
LIBC=$(python3 - "$IDX" "$W" <<'PY'
import resource, subprocess, sys
idx, w = sys.argv[1], sys.argv[2]
best = 0
for _ in range(3):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([idx, "count", "--file", w + "/count.txt", w + "/scifact"], stdout=subprocess.DEVNULL, check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    best = max(best, 5000 / cpu)
print("%.0f" % best)
PY
)
LIBR=$("$IDX" retrieve --queries "$W/retrieve.tsv" -k 10 -o /dev/null "$W/scifact" 2>&1 | sed -n 's/.*(\([0-9.]*\) queries\/cpu-s).*/\1/p')
echo
echo "library in-process: count $LIBC queries/CPU-s (idx count --file, 5,000 queries incl. open);" \
     "retrieve $LIBR queries/CPU-s (idx retrieve --queries, k=10)"
awk -v hz="$HZ" -v ceil="$CEIL" -v c1="$C1" -v c1r="$C1R" -v c100="$C100" -v c100r="$C100R" -v rt="$RT" -v rtr="$RTR" \
    -v lc="$LIBC" -v lr="$LIBR" -v r0="$RSS0" -v r1="$RSS1" -v le="$LONGERR" 'BEGIN {
  printf "healthz / ceiling: %.0f%% (target >= 70%%)\n", 100 * hz / ceil
  printf "count x1:   %.0f req/s = %.0f%% of the library per core-second; per server CPU-second %.0f%%\n", c1r, 100 * c1r / lc, 100 * c1 / lc
  printf "count x100: %.0f req/s = %.0f%% of the library per core-second; per server CPU-second %.0f%%\n", c100r, 100 * c100r * 100 / lc, 100 * c100 * 100 / lc
  printf "retrieve:   %.0f req/s = %.0f%% of the library per core-second; per server CPU-second %.0f%%\n", rtr, 100 * rtr / lr, 100 * rt / lr
  printf "long run: %d errors; RSS %.1f MiB after warm-up, %.1f MiB at the end (%+.1f%%)\n", le, r0 / 1024, r1 / 1024, 100 * (r1 - r0) / r0
}'
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), server threads $THREADS, wrk -t2 -c$CONNS"
