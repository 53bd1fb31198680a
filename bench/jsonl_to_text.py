#!/usr/bin/python3
"""jsonl_to_text.py -- the benchmark's plain text view of a JSONL corpus: every
document's UTF-8 bytes followed by one 0xFF byte, in corpus order, so that
document k starts after the k-th 0xFF. This is the text the sdsl peer indexes
(sdsl's construct() needs a text without 0 bytes and appends its own 0
sentinel; 0xFF never occurs in UTF-8, so no match crosses a document, exactly
as in idx) and the text bench/qgen.c samples queries from and counts naively.

  jsonl_to_text.py CORPUS.jsonl OUT.bin [--text-field text]

A document whose text contains U+0000 (a 0 byte, which sdsl cannot index)
is an error: the benchmark compares exact counts, so it refuses rather than
silently changing the text. Malformed lines and missing text fields too.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--text-field", default="text")
    a = ap.parse_args()
    ndocs = nbytes = 0
    tmp = a.out + ".tmp"
    try:
        with open(a.corpus, "rb") as f, open(tmp, "wb") as out:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                    text = doc[a.text_field]
                    if not isinstance(text, str):
                        raise ValueError(f'field "{a.text_field}" is not a string')
                except (ValueError, KeyError, TypeError) as e:
                    print(f"jsonl_to_text: {a.corpus}:{lineno}: {e!r}", file=sys.stderr)
                    return 1
                data = text.encode("utf-8", "surrogatepass")
                if b"\0" in data:
                    print(f"jsonl_to_text: {a.corpus}:{lineno}: text contains a 0 byte, which the sdsl "
                          "peer cannot index", file=sys.stderr)
                    return 1
                out.write(data)
                out.write(b"\xff")
                ndocs += 1
                nbytes += len(data)
        os.replace(tmp, a.out)
    except OSError as e:
        print(f"jsonl_to_text: {e}", file=sys.stderr)
        return 1
    print(f"jsonl_to_text: {ndocs} documents, {nbytes} text bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
