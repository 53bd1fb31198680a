#!/usr/bin/python3
"""fm_table.py -- prints the side-by-side table of bench/fm_bench.sh from the
files one run left in OUTDIR, and checks every answer:

  OUTDIR/q/SET.q, SET.truth, windows.w      queries + naive-scan truth (qgen)
  OUTDIR/SIDE.build.time                    /usr/bin/time -v of the build
  OUTDIR/SIDE.query.out.R                   "key value" lines (sdsl_peer / fm_bench),
                                            one file per round R: medians are printed
  OUTDIR/SIDE.SET.counts, SIDE.locate, SIDE.windows   per-query answers
  OUTDIR/SIDE.bytes                         on-disk bytes of the index, then of its
                                            FM-index part (peer: the csa; idx: fm/)
  OUTDIR/text.bytes                         corpus text bytes (documents only)

SIDE is "peer" and "ours" (compact), and "sdsl" / "fast" when those layouts were built.
Every count of every side must equal the naive count, every located set of
occurrences must hash like the naive one, every window must hash like the
text: any mismatch is printed and the exit status is 1.

  fm_table.py OUTDIR
"""
import glob
import os
import statistics
import sys

SETS = ["present50", "absent50", "present10", "present200"]


def read_kv(path):
    kv = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                kv[p[0]] = p[1]
    return kv


def read_time(path):
    """wall seconds, peak RSS bytes, CPU percent from /usr/bin/time -v."""
    wall = rss = cpu = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Elapsed (wall clock)"):
                t = line.rsplit(" ", 1)[1].split(":")
                wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
            elif line.startswith("Maximum resident set size"):
                rss = int(line.rsplit(" ", 1)[1]) * 1024
            elif line.startswith("Percent of CPU"):
                cpu = line.rsplit(" ", 1)[1]
            elif line.startswith("Exit status") and line.rsplit(" ", 1)[1] != "0":
                raise SystemExit(f"fm_table: {path}: the build failed")
    return wall, rss, cpu


def lines(path):
    with open(path) as f:
        return [l.split() for l in f]


def main():
    if len(sys.argv) != 2:
        print("usage: fm_table.py OUTDIR", file=sys.stderr)
        return 2
    d = sys.argv[1]
    sides = [s for s in ("peer", "ours", "sdsl", "fast") if glob.glob(f"{d}/{s}.query.out.*")]
    names = {"peer": "sdsl peer", "ours": "idx compact", "sdsl": "idx sdsl", "fast": "idx fast"}
    text_bytes = int(open(f"{d}/text.bytes").read().split()[0])
    R = {}
    for s in sides:
        rounds = [read_kv(p) for p in sorted(glob.glob(f"{d}/{s}.query.out.*"))]
        r = {k: statistics.median(float(x[k]) for x in rounds if k in x) for k in rounds[0]}
        r["rounds"] = len(rounds)
        r["wall"], r["rss"], r["cpu"] = read_time(f"{d}/{s}.build.time")
        b = open(f"{d}/{s}.bytes").read().split()
        r["bytes"] = int(b[0])
        r["fm_bytes"] = int(b[1]) if len(b) > 1 else None
        R[s] = r

    # --- correctness -------------------------------------------------------
    bad = 0
    for st in SETS:
        truth = [int(x[0]) for x in lines(f"{d}/q/{st}.truth")]
        qs = [x[0] if x else "" for x in lines(f"{d}/q/{st}.q")]
        for s in sides:
            got = [int(x[0]) for x in lines(f"{d}/{s}.{st}.counts")]
            if len(got) != len(truth):
                print(f"MISMATCH {names[s]} {st}: {len(got)} answers for {len(truth)} queries")
                bad += 1
                continue
            nb = 0
            for i, (g, t) in enumerate(zip(got, truth)):
                if g != t:
                    nb += 1
                    if nb <= 5:
                        print(f"MISMATCH {names[s]} {st} query {i} ({qs[i][:40]}...): count {g}, naive scan {t}")
            if nb:
                print(f"MISMATCH {names[s]} {st}: {nb} of {len(truth)} counts differ from the naive scan")
            bad += nb
    truth = lines(f"{d}/q/present50.truth")
    for s in sides:
        got = lines(f"{d}/{s}.locate")
        nb = 0
        for i, (g, t) in enumerate(zip(got, truth)):
            if g[0] != "0" and (g[0] != t[0] or g[1] != t[1]):
                nb += 1
                if nb <= 5:
                    print(f"MISMATCH {names[s]} locate query {i}: {g}, naive scan {t}")
        if nb:
            print(f"MISMATCH {names[s]} locate: {nb} queries located a different set of occurrences")
        bad += nb
    wtruth = [x[3] for x in lines(f"{d}/q/windows.w")]
    for s in sides:
        got = [x[0] for x in lines(f"{d}/{s}.windows")]
        nb = sum(1 for g, t in zip(got, wtruth) if g != t) + abs(len(got) - len(wtruth))
        if nb:
            print(f"MISMATCH {names[s]} windows: {nb} of {len(wtruth)} windows differ from the text")
        bad += nb

    # --- table -------------------------------------------------------------
    rows = []

    def row(label, key, fmt, lower_better=True):
        vals = []
        for s in sides:
            v = R[s].get(key) if isinstance(key, str) else key(R[s])
            vals.append(None if v is None else float(v))
        rows.append((label, vals, fmt))

    row("build wall time (s)", "wall", "{:.1f}")
    row("build throughput (MB/s)", lambda r: text_bytes / 1e6 / r["wall"] if r["wall"] else None, "{:.2f}")
    row("build CPU (time -v)", lambda r: float(r["cpu"].rstrip("%")) if r["cpu"] else None, "{:.0f}%")
    row("build peak RSS (MiB)", lambda r: r["rss"] / 2 ** 20, "{:.0f}")
    row("on disk / corpus text", lambda r: 100.0 * r["bytes"] / text_bytes, "{:.1f}%")
    row("  FM-index part / corpus text", lambda r: 100.0 * r["fm_bytes"] / text_bytes if r["fm_bytes"] else None,
        "{:.1f}%")
    for st in SETS:
        row(f"count {st} p50 (us)", f"count.{st}.p50_us", "{:.2f}")
        row(f"count {st} p99 (us)", f"count.{st}.p99_us", "{:.2f}")
    row("locate per occurrence (us)", "locate.us_per_occ", "{:.2f}")
    row("1 KB window p50 (us)", "window.p50_us", "{:.1f}")
    row("1 KB window p99 (us)", "window.p99_us", "{:.1f}")

    ratio_sides = [s for s in sides if s != "peer"] if sides[0] == "peer" else []
    hdr = ["metric"] + [names[s] for s in sides] + [f"{names[s]}/peer" for s in ratio_sides]
    table = [hdr]
    for label, vals, fmt in rows:
        cells = [label] + ["-" if v is None else fmt.format(v) for v in vals]
        for i, s in enumerate(sides):
            if s not in ratio_sides:
                continue
            p, v = vals[0], vals[i]
            cells.append("-" if (p in (None, 0) or v is None or label.startswith("build CPU")) else f"{v / p:.2f}x")
        table.append(cells)
    w = [max(len(r[i]) for r in table) for i in range(len(hdr))]
    print(f"corpus text: {text_bytes} bytes ({text_bytes / 1e6:.1f} MB); query figures: medians over "
          f"{min(R[s]['rounds'] for s in sides)} rounds")
    for k, r in enumerate(table):
        print("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w[i] + 2) if i == 0 else "-" * (w[i] + 1) + ":" for i in range(len(hdr))) + "|")
    lq = R[sides[0]]
    print(f"locate: {int(lq.get('locate.occurrences', 0))} occurrences of the {int(lq.get('locate.queries', 0))} "
          f"present50 queries with 1..1000 occurrences; windows: {int(lq.get('window.count', 0))} windows of up "
          f"to 1,000 bytes around present50 samples")
    src = {"peer": "sdsl extract"}
    print("window text from: " + ", ".join(
        f"{names[s]} {src.get(s) or ('FM extraction (--text fm)' if R[s].get('window.text_fm') == 1 else 'zstd store (--text store)')}"
        for s in sides))
    if bad:
        print(f"FAILED: {bad} answers differ (see MISMATCH lines)")
        return 1
    print("answers: every count, located occurrence set and window identical on all sides and to the naive scan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
