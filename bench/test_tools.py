#!/usr/bin/python3
"""test_tools.py -- ctest check of the benchmark's own tools, so that the
ground truth the benchmark compares both FM-indexes against is itself
checked (bench/CMakeLists.txt registers it as `bench_tools`, ~1 s):

- files_to_jsonl.py: sorted paths, byte-for-byte text round trip, binary /
  0xFF / invalid-UTF-8 / empty files skipped and counted, --max-mb cut-off,
  --id-field; a missing root is a usage error.
- jsonl_to_text.py: documents + 0xFF; malformed JSON, a missing text field and
  a 0 byte are refused with the line number.
- qgen: every count and located-occurrence hash of every query set equals a
  naive Python scan on a generated text that has every byte value 1..254,
  long runs of one byte, tiny documents and one large document; absent
  queries are absent; window hashes match the text; same seed, same output.

  test_tools.py QGEN_BINARY
"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, **kw)


def mix64(z):
    M = (1 << 64) - 1
    z = ((z ^ (z >> 33)) * 0xFF51AFD7ED558CCD) & M
    z = ((z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53) & M
    return z ^ (z >> 33)


def fnv1a(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def test_files_to_jsonl(tmp):
    root = os.path.join(tmp, "tree")
    os.makedirs(os.path.join(root, "b", "c"))
    files = {
        "a.txt": "hello\tworld\n\"quoted\" \\ back\x01\x1f ünï ✓ 𝄞\n".encode(),
        "b/c/z.c": b"int main(void) { return 0; }\n",
        "b/y.rst": ("x" * 5000).encode(),
        "B.md": b"upper case sorts first\r\n",
        "bin.o": b"ELF\x00\x01\x02",
        "ff.txt": b"abc\xffdef",
        "bad.txt": b"abc\xc3(def",
        "empty.txt": b"",
    }
    for rel, data in files.items():
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    out = os.path.join(tmp, "t.jsonl")
    r = run([PY, os.path.join(HERE, "files_to_jsonl.py"), root, out])
    check(r.returncode == 0, f"files_to_jsonl failed: {r.stderr!r}")
    docs = [json.loads(l) for l in open(out, "rb")]
    check([d["path"] for d in docs] == ["B.md", "a.txt", "b/c/z.c", "b/y.rst"], f"order {docs!r}")
    for d in docs:
        check(d["text"].encode() == files[d["path"]], f"round trip of {d['path']}")
    err = r.stderr.decode()
    check("4 documents" in err and "1 binary" in err and "1 with 0xFF" in err and "1 invalid UTF-8" in err
          and "1 empty" in err, f"summary: {err}")
    # size cut-off: stops before the file that would pass the limit (B.md 24 + a.txt ~50 + z.c 29 bytes)
    r = run([PY, os.path.join(HERE, "files_to_jsonl.py"), root, out, "--max-mb", "0.0001"])
    docs = [json.loads(l) for l in open(out, "rb")]
    check(r.returncode == 0 and [d["path"] for d in docs] == ["B.md", "a.txt", "b/c/z.c"], f"max-mb {docs!r}")
    r = run([PY, os.path.join(HERE, "files_to_jsonl.py"), root, out, "--id-field", "--suffix", ".rst"])
    docs = [json.loads(l) for l in open(out, "rb")]
    check(r.returncode == 0 and docs == [{"id": "b/y.rst", "text": "x" * 5000}], f"id-field {docs!r}")
    r = run([PY, os.path.join(HERE, "files_to_jsonl.py"), os.path.join(tmp, "nope"), out])
    check(r.returncode == 2 and b"not a directory" in r.stderr, "missing root")


def test_jsonl_to_text(tmp):
    good = os.path.join(tmp, "g.jsonl")
    with open(good, "w") as f:
        f.write('{"text": "ab\\u00e9"}\n\n{"text": "", "x": 1}\n{"text": "\\t\\n"}\n')
    out = os.path.join(tmp, "g.bin")
    r = run([PY, os.path.join(HERE, "jsonl_to_text.py"), good, out])
    check(r.returncode == 0 and open(out, "rb").read() == b"ab\xc3\xa9\xff\xff\t\n\xff", "jsonl_to_text output")
    for body, what in (('{"text": "a"}\n{"text": \n', ":2:"), ('{"txt": "a"}\n', ":1:"),
                       ('{"text": "a\\u0000b"}\n', "0 byte"), ('{"text": 5}\n', "not a string")):
        bad = os.path.join(tmp, "b.jsonl")
        with open(bad, "w") as f:
            f.write(body)
        r = run([PY, os.path.join(HERE, "jsonl_to_text.py"), bad, out + "2"])
        check(r.returncode == 1 and what.encode() in r.stderr, f"malformed {body!r}: {r.stderr!r}")
        check(not os.path.exists(out + "2"), "no output after an error")


def test_qgen(tmp, qgen):
    rnd = random.Random(7)
    docs = []
    docs.append(bytes(range(1, 255)) * 3)                          # every byte value but 0 and 0xFF
    docs.append(b"a" * 3000)                                       # a long run
    docs += [bytes([rnd.choice(b"ab\n")]) for _ in range(300)]     # tiny documents
    docs.append(bytes(rnd.choice(b"abc\t\n ") for _ in range(20000)))  # one larger, repetitive
    docs.append(bytes(rnd.randrange(1, 255) for _ in range(5000)))
    text = b"".join(d + b"\xff" for d in docs)
    tb = os.path.join(tmp, "q.bin")
    open(tb, "wb").write(text)
    starts = [0]
    for d in docs:
        starts.append(starts[-1] + len(d) + 1)
    qd = os.path.join(tmp, "q")
    os.makedirs(qd)
    r = run([qgen, tb, qd, "--n", "300", "--windows", "50", "--seed", "3"])
    check(r.returncode == 0, f"qgen failed: {r.stderr!r}")
    if r.returncode:
        return
    import bisect

    def naive(q):
        c = h = 0
        i = text.find(q)
        while i >= 0:
            d = bisect.bisect_right(starts, i) - 1
            c += 1
            h = (h + mix64((d << 40) ^ (i - starts[d]))) & ((1 << 64) - 1)
            i = text.find(q, i + 1)
        return c, h

    for s, L in (("present50", 50), ("absent50", 50), ("present10", 10), ("present200", 200)):
        qs = [bytes.fromhex(l.strip()) for l in open(os.path.join(qd, s + ".q"))]
        tr = [l.split() for l in open(os.path.join(qd, s + ".truth"))]
        check(len(qs) == 300 and len(tr) == 300, f"{s}: {len(qs)} queries")
        for q, t in zip(qs, tr):
            c, h = naive(q)
            check(len(q) == L and b"\xff" not in q, f"{s}: bad query {q!r}")
            check(int(t[0]) == c and int(t[1], 16) == h, f"{s}: {q!r}: qgen {t}, naive {c} {h:016x}")
            check((c == 0) == (s == "absent50"), f"{s}: {q!r} has count {c}")
    for l in open(os.path.join(qd, "windows.w")):
        d, o, n, h = l.split()
        d, o, n = int(d), int(o), int(n)
        check(o + n <= len(docs[d]) and (n == 1000 or n == len(docs[d])), f"window {l!r}")
        check(fnv1a(docs[d][o:o + n]) == int(h, 16), f"window hash {l!r}")
    qd2 = os.path.join(tmp, "q2")
    os.makedirs(qd2)
    run([qgen, tb, qd2, "--n", "300", "--windows", "50", "--seed", "3"])
    for f in os.listdir(qd):
        check(open(os.path.join(qd, f), "rb").read() == open(os.path.join(qd2, f), "rb").read(),
              f"qgen is not deterministic ({f})")
    open(tb, "wb").write(b"abc")  # no trailing separator
    r = run([qgen, tb, qd2])
    check(r.returncode == 1 and b"separator" in r.stderr, "qgen accepts a text without separators")
    r = run([qgen, tb])
    check(r.returncode == 2, "qgen usage")


def main():
    if len(sys.argv) != 2:
        print("usage: test_tools.py QGEN_BINARY", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        test_files_to_jsonl(tmp)
        test_jsonl_to_text(tmp)
        test_qgen(tmp, sys.argv[1])
    print("bench tools:", "FAILED" if failures else "ok", f"({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
