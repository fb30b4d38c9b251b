#!/usr/bin/env python3
"""Differential test: run generated op sequences natively (winvmem) and under Wine, compare the
transcripts, shrink every divergence to a minimal sequence and print it.

  run_diff.py --native build/tests/diff/wvm_interp --wine build/tests/diff/interp.exe \
              --seed 1 --count 3000

Known differences between Wine and Windows (known_wine_differences.md) are normalised by
normalise() before comparing; everything else must match. Exit status 1 on any divergence."""

import argparse
import shlex
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "oplang"))
import oplang  # noqa: E402
import known_differences  # noqa: E402


def run_batch(cmd, seqs, timeout):
    """Runs seqs in one process; returns a list of transcripts (None for a sequence the process
    did not finish: crash or hang), restarting after each crash."""
    out = [None] * len(seqs)
    i = 0
    while i < len(seqs):
        with tempfile.NamedTemporaryFile("w", suffix=".ops", delete=False) as f:
            for s in seqs[i:]:
                f.write("\n".join(s) + "\n---\n")
            path = f.name
        # Output goes to a file, not a pipe: wineserver inherits the descriptors and would
        # hold a pipe open long after the program exits.
        with tempfile.TemporaryFile() as o:
            try:
                rc = subprocess.call(cmd + [path], stdout=o, stderr=subprocess.DEVNULL,
                                     timeout=timeout, env=dict(os.environ, WINEDEBUG="-all"))
            except subprocess.TimeoutExpired:
                rc = "timeout"
            finally:
                os.unlink(path)
            o.seek(0)
            text = o.read().decode(errors="replace").replace("\r\n", "\n")
        parts = text.split("---\n")
        done = parts[:-1]
        for k, t in enumerate(done):
            out[i + k] = t
        i += len(done)
        if i < len(seqs):
            out[i] = ("CRASHED rc=%s after:\n" % rc) + parts[-1]
            i += 1
    return out


class Runner:
    def __init__(self, args):
        self.native = shlex.split(args.native)
        self.wine = ["wine", args.wine]
        self.timeout = args.timeout

    def both(self, seqs):
        with ThreadPoolExecutor(2) as ex:
            fn = ex.submit(run_batch, self.native, seqs, self.timeout)
            fw = ex.submit(run_batch, self.wine, seqs, self.timeout)
            return fn.result(), fw.result()


def signature(x, y):
    op = (x.split() + ["?", "?"])[1]
    if x.startswith("CRASHED"):
        op = "crash"
    elif x.startswith(" "):
        op = "scan"
    kx = dict(t.split("=", 1) for t in x.split() if "=" in t)
    ky = dict(t.split("=", 1) for t in y.split() if "=" in t)
    keys = sorted(k for k in set(kx) | set(ky) if kx.get(k) != ky.get(k))
    rx = x.split("->")[1].split()[:1] if "->" in x else []
    ry = y.split("->")[1].split()[:1] if "->" in y else []
    return "%s:%s:%s" % (op, ",".join(keys), "ret" if rx != ry else "")


KNOWN = {}  # rule number -> sequences it applied to


def compare(seq, a, b):
    """(signature, native line, wine line) of the first difference no documented Wine
    difference explains, or None."""
    mods = any("WRITECOMBINE" in ln or "NOCACHE" in ln for ln in seq)
    sec_reserve = any(re.search(r"\bsection\b.*\bRESERVE\b", ln) for ln in seq)
    kinds = {t[0]: t[2] for t in (ln.split() for ln in seq) if len(t) > 2 and t[1] == "="}
    placeholders = known_differences.made_placeholder(seq)
    # a write that faulted: by a write op, or by the write probe of access on a read-only page
    wrote_reserved = " write -> fault" in a or any(
        "r" in ln.split("-> ", 1)[1].split()[0] for ln in a.splitlines() if " access -> " in ln)
    la = known_differences.merge_reserved_runs(a, mods).splitlines()
    lb = known_differences.merge_reserved_runs(b, mods).splitlines()
    used = set()
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else "<missing>"
        y = lb[i] if i < len(lb) else "<missing>"
        x, y = known_differences.normalise_line(x), known_differences.normalise_line(y)
        if x == y:
            continue
        m = re.match(r"(\d+) ", x)
        r = None
        if m and m.group(1) == y.split(" ", 1)[0] and int(m.group(1)) <= len(seq):
            r = known_differences.explain(seq[int(m.group(1)) - 1], x, y, mods, wrote_reserved,
                                          sec_reserve, placeholders, kinds)
        elif x.startswith("   base=") and y.startswith("   base="):
            r = known_differences.explain_fields(x, y, mods)
        if r is None:
            return signature(x, y), x, y
        used.add(r[0])
        if r[1]:
            break  # Wine changed state Windows would not: the rest is not comparable
    for k in used:
        KNOWN[k] = KNOWN.get(k, 0) + 1
    return None


def shrink(runner, seq, sig, budget):
    """Greedy delta debugging: keep the smallest variant that still diverges with sig."""
    rounds = 0
    while rounds < budget:
        rounds += 1
        cands = list(oplang.shrink_candidates(seq))
        if not cands:
            break
        tn, tw = runner.both(cands)
        best = None
        for c, a, b in zip(cands, tn, tw):
            d = compare(c, a or "", b or "")
            if d and d[0] == sig and (best is None or len(c) < len(best)):
                best = c
        if best is None:
            break
        seq = best
    return seq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", required=True)
    ap.add_argument("--wine", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--shrink", type=int, default=8, help="divergence classes to shrink")
    ap.add_argument("--out", default=None, help="write minimal divergences here")
    ap.add_argument("--file", help="run the sequences of this .ops file instead of generating")
    args = ap.parse_args()
    runner = Runner(args)
    subprocess.call(["wineserver", "-p"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    nseq = nops = 0
    classes = {}
    if args.file:
        text = open(args.file).read()
        seqs_all = [[ln for ln in s.splitlines() if ln.strip()] for s in text.split("---\n")]
        seqs_all = [s for s in seqs_all if s]
    for start in range(0, len(seqs_all) if args.file else args.count, args.batch):
        if args.file:
            seqs = seqs_all[start:start + args.batch]
        else:
            n = min(args.batch, args.count - start)
            seqs = [oplang.generate("%d/%d" % (args.seed, start + k)) for k in range(n)]
        tn, tw = runner.both(seqs)
        for s, a, b in zip(seqs, tn, tw):
            nseq += 1
            nops += len(s)
            d = compare(s, a or "", b or "")
            if d:
                c = classes.setdefault(d[0], {"count": 0, "seq": s, "diff": d})
                c["count"] += 1
        print("run_diff: %d sequences, %d ops, %d divergent classes, %.1f s" %
              (nseq, nops, len(classes), time.time() - t0), flush=True)
    report = []
    for k, (sig, c) in enumerate(sorted(classes.items(), key=lambda x: -x[1]["count"])):
        seq = c["seq"]
        if k < args.shrink:
            seq = shrink(runner, seq, sig, 40)
        tn, tw = runner.both([seq])
        d = compare(seq, tn[0] or "", tw[0] or "") or c["diff"]
        report.append("## %s (%d sequences)\n\n```\n%s\n```\nnative: `%s`\n\nwine:   `%s`\n" %
                      (sig, c["count"], "\n".join(seq), d[1], d[2]))
    text = "\n".join(report)
    if text:
        print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print("run_diff: documented Wine differences applied (rule: sequences): %s" %
          ", ".join("%d: %d" % kv for kv in sorted(KNOWN.items())))
    print("run_diff: TOTAL %d sequences, %d ops, %d divergence classes, %.1f s" %
          (nseq, nops, len(classes), time.time() - t0))
    return 1 if classes else 0


if __name__ == "__main__":
    sys.exit(main())
