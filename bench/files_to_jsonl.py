#!/usr/bin/python3
"""files_to_jsonl.py -- turn a tree of text files into a JSONL corpus, one
document per file, for idx (scripts/quickstart-corpus.sh, bench/make_kernel_corpus.sh).

Files are visited in sorted order of their relative path (byte order), so the
output is deterministic. A file is skipped, and counted, when it is empty,
binary (contains a NUL byte), contains a 0xFF byte, or is not valid UTF-8.
Documents are written as {"id": REL, "text": ...} (--id-field) or
{"text": ..., "path": REL} (default) with json.dumps(ensure_ascii=False), so the
text round-trips byte for byte through any JSON reader.

  files_to_jsonl.py ROOT OUT.jsonl [--max-mb N] [--suffix .txt ...] [--id-field]

--max-mb stops before the document that would take the total text past N*10^6
bytes. A summary goes to stderr. Exit 1 on I/O errors, 2 on usage errors.
"""
import argparse
import json
import os
import sys


def walk_sorted(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for f in filenames:
            full = os.path.join(dirpath, f)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            out.append(os.path.relpath(full, root))
    out.sort(key=lambda p: p.encode("utf-8", "surrogateescape"))
    return out


def main():
    ap = argparse.ArgumentParser(description="one JSONL document per text file")
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--max-mb", type=float, default=0, help="stop at about this many 10^6 bytes of text")
    ap.add_argument("--suffix", action="append", default=[], help="only files ending with this (repeatable)")
    ap.add_argument("--id-field", action="store_true", help='write the relative path as "id" instead of "path"')
    a = ap.parse_args()
    if not os.path.isdir(a.root):
        print(f"files_to_jsonl: {a.root}: not a directory", file=sys.stderr)
        return 2
    limit = int(a.max_mb * 1_000_000) if a.max_mb > 0 else None
    n = {"docs": 0, "bytes": 0, "binary": 0, "ff": 0, "utf8": 0, "empty": 0, "other": 0}
    tmp = a.out + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for rel in walk_sorted(a.root):
                if a.suffix and not any(rel.endswith(s) for s in a.suffix):
                    n["other"] += 1
                    continue
                with open(os.path.join(a.root, rel), "rb") as f:
                    data = f.read()
                if not data:
                    n["empty"] += 1
                    continue
                if b"\0" in data:
                    n["binary"] += 1
                    continue
                if b"\xff" in data:
                    n["ff"] += 1
                    continue
                try:
                    text = data.decode("utf-8", "strict")
                except UnicodeDecodeError:
                    n["utf8"] += 1
                    continue
                if limit is not None and n["bytes"] + len(data) > limit:
                    break
                relu = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                doc = {"id": relu, "text": text} if a.id_field else {"text": text, "path": relu}
                out.write(json.dumps(doc, ensure_ascii=False))
                out.write("\n")
                n["docs"] += 1
                n["bytes"] += len(data)
        os.replace(tmp, a.out)
    except OSError as e:
        print(f"files_to_jsonl: {e}", file=sys.stderr)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return 1
    print(f"files_to_jsonl: {a.out}: {n['docs']} documents, {n['bytes']} text bytes; skipped: "
          f"{n['binary']} binary (NUL), {n['ff']} with 0xFF, {n['utf8']} invalid UTF-8, {n['empty']} empty"
          + (f", {n['other']} other suffixes" if a.suffix else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
