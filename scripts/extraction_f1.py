#!/usr/bin/env python3
"""Token F1 of main-text extraction on the fixture pages: cllm (through `cllm ingest`) against
trafilatura (pip install trafilatura; a comparison for docs/CORPUS.md, not a dependency).

Usage: python3 scripts/extraction_f1.py [--cllm .build/release/cllm]
"""
import argparse
import collections
import glob
import json
import os
import re
import subprocess
import tempfile

PAGES = os.path.join(os.path.dirname(__file__), "..", "Tests", "CorpusTests", "Pages")


def tokens(s):
    return re.findall(r"[^\W_]+", s.lower())


def f1(got, want):
    g, w = collections.Counter(tokens(got)), collections.Counter(tokens(want))
    overlap = sum((g & w).values())
    if overlap == 0:
        return 0.0, 0.0, 0.0
    p, r = overlap / sum(g.values()), overlap / sum(w.values())
    return p, r, 2 * p * r / (p + r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cllm", default=".build/release/cllm")
    args = ap.parse_args()
    pages = sorted(glob.glob(os.path.join(PAGES, "*.html")))
    ours = {}
    with tempfile.TemporaryDirectory() as out:
        lines = subprocess.run([args.cllm, "ingest", *pages, "--out", out, "--json"], check=True, capture_output=True, text=True).stdout
        for line in lines.splitlines():
            r = json.loads(line)
            ours[os.path.basename(r["path"])] = open(os.path.join(out, r["output"])).read()
    try:
        import trafilatura
    except ImportError:
        trafilatura = None
        print("note: trafilatura is not installed (pip install trafilatura); only cllm is scored")
    print(f"{'page':10} {'cllm P':>7} {'R':>6} {'F1':>6}   {'trafilatura P':>13} {'R':>6} {'F1':>6}")
    sums = collections.defaultdict(float)
    for path in pages:
        name = os.path.basename(path)
        want = open(path[:-5] + ".txt").read()
        p, r, f = f1(ours[name], want)
        sums["cllm"] += f
        row = f"{name[:-5]:10} {p:7.3f} {r:6.3f} {f:6.3f}"
        if trafilatura:
            html = open(path).read()
            t = trafilatura.extract(html, include_comments=False, include_tables=True, with_metadata=False) or ""
            title = (trafilatura.extract_metadata(html).title or "") if trafilatura.extract_metadata(html) else ""
            tp, tr, tf = f1(title + "\n" + t, want)
            sums["trafilatura"] += tf
            row += f"   {tp:13.3f} {tr:6.3f} {tf:6.3f}"
        print(row)
    n = len(pages)
    print(f"mean F1 over {n} pages: cllm {sums['cllm'] / n:.3f}" + (f", trafilatura {sums['trafilatura'] / n:.3f}" if trafilatura else ""))


if __name__ == "__main__":
    main()
