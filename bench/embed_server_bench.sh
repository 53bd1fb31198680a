#!/usr/bin/env bash
# embed_server_bench.sh -- load test of the dense routes of `idx serve` with
# wrk on loopback, next to the library in-process:
#   POST /v1/embeddings   MODEL (default models/use-lite), one SciFact query per
#                         request, and batches of 32 SciFact passages (title +
#                         the first 300 bytes), at 1 and 2 connections
#   POST /v1/retrieve     mode dense and hybrid, k=10, the 1,109 SciFact
#                         queries, on SciFact embedded with DENSE_MODEL (default
#                         the tiny test BERT: the point is the server's path, not
#                         the model), at 1 and 2 connections
# and the library's rates: `idx encode MODEL --threads 1` on the same texts
# (texts per CPU-second), and hybrid_clone_bench (the cost of a retrieval
# handle per request against one query). The encoder is shared by every worker
# thread without a lock (idx_encoder_embed is thread-safe): 2 connections
# against 1 shows what a lock would cost (a lock caps the rate at the
# 1-connection figure).
# Knobs: DUR (10), THREADS (server threads, 2), PORT (18181), MODEL, DENSE_MODEL.
# Work files: $IDX_BENCH_DIR/embed (default /tmp/idx-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
IDX=${IDX:-build/idx}
W=${IDX_BENCH_DIR:-/tmp/idx-bench}/embed
DUR=${DUR:-10}
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
MODEL=${MODEL:-models/use-lite}
DENSE_MODEL=${DENSE_MODEL:-tests/encoder/data/tiny-st}
if [ -z "${IDX_SHARED_DATA:-}" ]; then
  for d in ../shared/data ../../shared/data; do [ -d "$d" ] && IDX_SHARED_DATA=$d && break; done
fi
DATA=${IDX_SHARED_DATA:-../shared/data}/beir/scifact
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
[ -x "$IDX" ] || { echo "build idx first (scripts/build.sh release)"; exit 1; }
[ -f "$DATA/corpus.jsonl" ] || { echo "SciFact is absent ($DATA)"; exit 1; }
[ -e "$MODEL" ] || { echo "no model at $MODEL (scripts/fetch_use_model.sh, or MODEL=DIR)"; exit 1; }
mkdir -p "$W"
TCK=$(getconf CLK_TCK)
MNAME=$(basename "$MODEL")

# rebuilt when idx is newer: an index of an older build would measure an older layout
if [ ! -f "$W/scifact/manifest.json" ] || ! grep -q '"dense"' "$W/scifact/manifest.json" ||
   [ "$IDX" -nt "$W/scifact/manifest.json" ]; then
  rm -rf "$W/scifact"
  "$IDX" build -q -o "$W/scifact" "$DATA/corpus.jsonl" --dense "$DENSE_MODEL"
  "$IDX" index-sparse --into "$W/scifact" >/dev/null 2>&1
fi

python3 - "$DATA" "$W" "$MNAME" <<'PY'
import json, sys
data, w, model = sys.argv[1:4]
docs = [json.loads(l) for l in open(data + "/corpus.jsonl", encoding="utf-8")]
queries = [json.loads(l)["text"] for l in open(data + "/queries.jsonl", encoding="utf-8")]
def cut(s, n):
    b = s.encode()[:n]
    return b.decode("utf-8", "ignore")
passages = [cut((d.get("title", "") + " " + d["text"]).replace("\n", " "), 300) for d in docs[:3200]]
with open(w + "/embed1.body", "w") as f:
    for q in queries: f.write(json.dumps({"model": model, "input": q}) + "\n")
with open(w + "/embed32.body", "w") as f:
    for i in range(0, len(passages), 32): f.write(json.dumps({"model": model, "input": passages[i:i + 32]}) + "\n")
with open(w + "/queries.txt", "w") as f:
    for q in queries: f.write(q.replace("\n", " ") + "\n")
with open(w + "/passages.txt", "w") as f:
    for p in passages: f.write(p + "\n")
for mode in ("dense", "hybrid"):
    with open(w + "/%s.body" % mode, "w") as f:
        for q in queries:
            f.write(json.dumps({"index": "scifact", "query": q, "k": 10, "mode": mode, "snippet": 0, "with_text": False}) + "\n")
PY
cat > "$W/post.lua" <<'LUA'
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
wait_port() { for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; done; return 1; }

"$IDX" serve --port "$PORT" --threads "$THREADS" --model "$MODEL" "$W/scifact" >/dev/null 2>"$W/serve.err" &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
wait_port "$PORT"

printf "%-34s %5s %9s %9s %9s %7s %8s %12s\n" run conns "req/s" "p50" "p99" errors "srv CPU" "req/CPU-s"
run() { # NAME CONNS PATH BODIES
  local name=$1 conns=$2 path=$3 bodies=$4 out c0 c1 rps p50 p99 errs cores per t
  t=$conns; [ "$t" -gt 2 ] && t=2
  c0=$(cpu_ticks "$SPID")
  out=$(BODIES=$bodies wrk -t"$t" -c"$conns" -d"${DUR}s" --timeout 30s --latency -s "$W/post.lua" "http://127.0.0.1:$PORT$path")
  c1=$(cpu_ticks "$SPID")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  cores=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v d="$DUR" 'BEGIN {printf "%.2f", (b - a) / t / d}')
  per=$(awk -v r="$rps" -v c="$cores" 'BEGIN {printf "%.1f", (c > 0 ? r / c : 0)}')
  printf "%-34s %5s %9.1f %9s %9s %7s %8s %12s\n" "$name" "$conns" "$rps" "$p50" "$p99" "$errs" "$cores" "$per"
  sleep 2
}
for c in 1 2; do run "embeddings $MNAME, 1 query" "$c" /v1/embeddings "$W/embed1.body"; done
for c in 1 2; do run "embeddings $MNAME, 32 passages" "$c" /v1/embeddings "$W/embed32.body"; done
for c in 1 2; do run "retrieve dense k10 ($(basename "$DENSE_MODEL"))" "$c" /v1/retrieve "$W/dense.body"; done
for c in 1 2; do run "retrieve hybrid k10" "$c" /v1/retrieve "$W/hybrid.body"; done
kill -TERM "$SPID"; wait "$SPID" || true
trap - EXIT

echo
python3 - "$IDX" "$MODEL" "$W" <<'PY'
import resource, subprocess, sys, time
idx, model, w = sys.argv[1:4]
for name, f in (("queries", "queries.txt"), ("passages (300 B)", "passages.txt")):
    n = sum(1 for _ in open(w + "/" + f))
    best_cpu = best_wall = 0
    for _ in range(2):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.time()
        subprocess.run([idx, "encode", model, "--threads", "1", "--batch", "32"], stdin=open(w + "/" + f),
                       stdout=subprocess.DEVNULL, check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN); t1 = time.time()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        best_cpu = max(best_cpu, n / cpu); best_wall = max(best_wall, n / (t1 - t0))
    print("library, idx encode --threads 1 --batch 32, %d %s: %.1f texts/CPU-s, %.1f texts/s wall (model load included)"
          % (n, name, best_cpu, best_wall))
PY
"$(dirname "$IDX")/bench/hybrid_clone_bench" "$W/scifact" 200 | sed 's/^/library, hybrid handle: /'
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), server threads $THREADS"
