#!/usr/bin/python3
"""test_smoke.py -- ctest `bench_smoke`: the benchmark's chain for our side,
end to end on real data, small: SciFact (5,183 documents, 7.3 MB) is joined
(jsonl_to_text.py), 500 queries per set are drawn with naive-scan truth
(qgen), `idx build` writes a 4-shard index, fm_bench measures it and
fm_table.py checks every count, located occurrence set (across shards) and
1 KB window against the naive scan; fm_bench refuses malformed query and
window files and a missing index with exit 1. Exit 77 (skipped) without SciFact.

  test_smoke.py IDX_BIN FM_BENCH QGEN SHARED_DATA_DIR
(the environment variable IDX_SHARED_DATA overrides SHARED_DATA_DIR, for worktrees)
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) != 5:
        print("usage: test_smoke.py IDX_BIN FM_BENCH QGEN SHARED_DATA_DIR", file=sys.stderr)
        return 2
    idx, fm_bench, qgen, shared = sys.argv[1:]
    corpus = os.path.join(os.environ.get("IDX_SHARED_DATA") or shared, "beir", "scifact", "corpus.jsonl")
    if not os.path.exists(corpus):
        print(f"skipped: {corpus} not found (shared test data absent)")
        return 77
    with tempfile.TemporaryDirectory() as d:
        def run(*args, out=None):
            with open(out, "w") if out else open(os.devnull, "w") as f:
                r = subprocess.run(list(args), stdout=f, stderr=subprocess.PIPE)
            if r.returncode:
                print(f"FAIL: {' '.join(args)}: exit {r.returncode}: {r.stderr.decode()[-2000:]}")
                sys.exit(1)

        run(sys.executable, f"{HERE}/jsonl_to_text.py", corpus, f"{d}/text.bin")
        os.mkdir(f"{d}/q")
        run(qgen, f"{d}/text.bin", f"{d}/q", "--n", "500", "--windows", "200", "--seed", "5")
        size = os.path.getsize(f"{d}/text.bin")
        ndocs = open(f"{d}/text.bin", "rb").read().count(b"\xff")
        with open(f"{d}/text.bytes", "w") as f:
            f.write(f"{size - ndocs} {ndocs}\n")
        # time -v style record so fm_table can read the build figures
        t = subprocess.run(["/usr/bin/time", "-v", "-o", f"{d}/ours.build.time", idx, "build", "--quiet",
                            "--shard-size", "2M", "--threads", "2", "-o", f"{d}/ours.idx", corpus],
                           capture_output=True) if os.path.exists("/usr/bin/time") else None
        if t is None:
            run(idx, "build", "--quiet", "--shard-size", "2M", "-o", f"{d}/ours.idx", corpus)
            with open(f"{d}/ours.build.time", "w") as f:
                f.write("Exit status: 0\n")
        elif t.returncode:
            print(f"FAIL: idx build: {t.stderr.decode()[-2000:]}")
            return 1
        fm_bytes = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(f"{d}/ours.idx/fm") for x in fs)
        all_bytes = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(f"{d}/ours.idx") for x in fs)
        with open(f"{d}/ours.bytes", "w") as f:
            f.write(f"{all_bytes} {fm_bytes}\n")
        run(fm_bench, f"{d}/ours.idx", f"{d}/q", d, "1", "ours", out=f"{d}/ours.query.out.1")
        shards = open(f"{d}/ours.query.out.1").read().split("shards ")[1].split()[0]
        if int(shards) < 2:
            print(f"FAIL: expected several shards, got {shards}")
            return 1
        # malformed inputs: a clear message and exit 1, never a crash
        import shutil
        bad = f"{d}/bad"
        shutil.copytree(f"{d}/q", f"{bad}/q")
        cases = [("present50.q", "zz\n", "bad hex"), ("present50.q", "abc\n", "bad hex"),
                 ("windows.w", "999999999 0 10 0\n", "idx_docs_text")]
        for name, body, msg in cases:
            shutil.copy(f"{d}/q/{name}", f"{bad}/keep")
            with open(f"{bad}/q/{name}", "w") as f:
                f.write(body)
            r = subprocess.run([fm_bench, f"{d}/ours.idx", f"{bad}/q", bad, "1", "x"], capture_output=True)
            if r.returncode != 1 or msg.encode() not in r.stderr:
                print(f"FAIL: fm_bench on a malformed {name} ({body!r}): exit {r.returncode}, {r.stderr!r}")
                return 1
            shutil.copy(f"{bad}/keep", f"{bad}/q/{name}")
        r = subprocess.run([fm_bench, f"{d}/missing.idx", f"{d}/q", bad, "1", "x"], capture_output=True)
        if r.returncode != 1 or b"idx_fm_open" not in r.stderr:
            print(f"FAIL: fm_bench on a missing index: exit {r.returncode}, {r.stderr!r}")
            return 1
        r = subprocess.run([sys.executable, f"{HERE}/fm_table.py", d], capture_output=True, text=True)
        print(r.stdout, r.stderr, end="")
        if r.returncode or "answers: every count" not in r.stdout:
            print("FAIL: fm_table found mismatches")
            return 1
    print(f"bench smoke: ok ({shards} shards)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
