#!/usr/bin/env python3
"""winvmem map --html draws exactly the JSON it was made from.

  test-map-html.py WINVMEM_CLI DEMO SCRIPTS_DIR

For saved documents (winvmem map --json --all, winvmem run --json, demo --json) the page is
parsed and every map section compared with its JSON map: one table row per region with the
same numbers and names, one bar segment per region in address order with the colour the legend
gives its state and type, widths in proportion to size (free space shortened), a mark under
each of winvmem's own regions, the totals bar's bytes by class, the statistics table. The
live forms (map --html, run --html) and the errors (not JSON, no map) are checked too."""

import json
import os
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

CLI, DEMO, SCRIPTS = sys.argv[1:4]
BAR_W = 1200.0
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
    return cond


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.legend = {}
        self.sections = []
        self.stats = {}
        self.headings = []
        self.h2 = False
        self.cells = None
        self.stat_row = None
        self.in_stats = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "").split()
        if tag == "span" and "key" in cls:
            self.legend[a["data-class"]] = a["data-colour"]
        elif tag == "section" and "map" in cls:
            self.sections.append({"rects": [], "own": [], "totals": [], "rows": [], "empty": False})
        elif tag == "section" and "stats" in cls:
            self.in_stats = True
        elif tag == "h2":
            self.h2 = True
            self.headings.append("")
        elif tag == "rect" and "region" in cls:
            self.sections[-1]["rects"].append(a)
        elif tag == "rect" and "own" in cls:
            self.sections[-1]["own"].append(a)
        elif tag == "rect" and "total" in cls:
            self.sections[-1]["totals"].append(a)
        elif tag == "p" and "empty" in cls:
            self.sections[-1]["empty"] = True
        elif tag == "tr" and "data-base" in a:
            self.sections[-1]["rows"].append(a)
            self.cells = a.setdefault("cells", [])
        elif tag == "tr" and self.in_stats:
            self.stat_row = []
        elif tag == "td":
            if self.cells is not None:
                self.cells.append("")
            if self.stat_row is not None:
                self.stat_row.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self.h2 = False
        elif tag == "tr":
            self.cells = None
            if self.stat_row is not None and len(self.stat_row) == 2:
                self.stats[self.stat_row[0]] = self.stat_row[1]
            self.stat_row = None
        elif tag == "section":
            self.in_stats = False

    def handle_data(self, data):
        if self.h2:
            self.headings[-1] += data
        if self.cells is not None and self.cells:
            self.cells[-1] += data
        if self.stat_row is not None and self.stat_row:
            self.stat_row[-1] += data


def klass(r):
    if r["state"] == "Free":
        return "free"
    t = {"Private": "private", "Mapped": "mapped", "Image": "image"}.get(r["type"], "other")
    return ("commit-" if r["state"] == "Commit" else "reserve-") + t


def flatten(prefix, obj, out):
    for k, v in obj.items():
        key = prefix + "." + k if prefix else k
        if isinstance(v, dict):
            flatten(key, v, out)
        elif isinstance(v, list):
            out[key] = ", ".join(str(x) for x in v)
        elif isinstance(v, bool):
            out[key] = "true" if v else "false"
        else:
            out[key] = str(v)


def compare(sec, regions, what):
    rows, rects = sec["rows"], sec["rects"]
    if not regions:
        check(sec["empty"] and not rows and not rects, what + ": an empty map shows 'No regions'")
        return
    if not check(len(rows) == len(regions), "%s: %d rows, %d regions" % (what, len(rows), len(regions))):
        return
    check(len(rects) == len(regions), "%s: %d bar segments, %d regions" % (what, len(rects), len(regions)))
    for i, (row, r) in enumerate(zip(rows, regions)):
        w = "%s region %d" % (what, i)
        check(int(row["data-base"], 16) == int(r["base"], 16), w + ": base")
        check(int(row["data-size"]) == r["size"], w + ": size")
        check(row["data-state"] == r["state"] and row["data-protect"] == r["protect"] and
              row["data-type"] == r["type"], w + ": state/protect/type")
        check(int(row["data-allocation-base"], 16) == int(r["allocation_base"], 16), w + ": alloc base")
        check(row["data-allocation-protect"] == r["allocation_protect"], w + ": alloc protect")
        check(row["data-winvmem"] == ("1" if r["winvmem"] else "0"), w + ": winvmem")
        check(row["class"] == klass(r), w + ": row class %s" % row["class"])
        check(row["cells"][1] == "%012x" % int(r["base"], 16), w + ": address cell %r" % row["cells"][1])
        check(row["cells"][3] == r["state"], w + ": state cell")
    x = 0.0
    for i, (rect, r) in enumerate(zip(rects, regions)):
        w = "%s segment %d" % (what, i)
        k = klass(r)
        check(k in rect["class"].split(), w + ": class %s, want %s" % (rect["class"], k))
        check(rect["fill"] == sec_legend[k], w + ": colour %s, legend %s" % (rect["fill"], sec_legend[k]))
        check(int(rect["data-base"], 16) == int(r["base"], 16) and int(rect["data-size"]) == r["size"],
              w + ": numbers")
        check(abs(float(rect["x"]) - x) < 0.01, w + ": not right after the previous one")
        check(float(rect["width"]) > 0, w + ": no width")
        x = float(rect["x"]) + float(rect["width"])
    check(abs(x - BAR_W) < 0.5, what + ": the bar is %.2f px wide" % x)
    # proportions: a larger region (drawn unshortened) is never narrower
    full = [(r["size"], float(s["width"])) for r, s in zip(regions, rects)
            if "shortened" not in s["class"].split()]
    for (s1, w1), (s2, w2) in zip(sorted(full), sorted(full)[1:]):
        check(w2 >= w1 - 1e-3, what + ": %d bytes drawn narrower than %d bytes" % (s2, s1))
    used = [r["size"] for r in regions if r["state"] != "Free"]
    for r, s in zip(regions, rects):
        if "shortened" in s["class"].split():
            check(r["state"] == "Free" and r["size"] > max(used or [0]), what + ": shortened a region in use")
    own = [int(r["base"], 16) for r in regions if r["winvmem"]]
    check([int(o["data-base"], 16) for o in sec["own"]] == own, what + ": winvmem marks")
    sums = {}
    for r in regions:
        if r["state"] != "Free":
            sums[klass(r)] = sums.get(klass(r), 0) + r["size"]
    got = {t["class"].split()[1]: int(t["data-bytes"]) for t in sec["totals"]}
    check(all(got.get(k, 0) == v for k, v in sums.items()) and sum(got.values()) == sum(sums.values()),
          what + ": totals %s, want %s" % (got, sums))


def page_of(args, stdin=None):
    p = subprocess.run([CLI] + args, capture_output=True, text=True, input=stdin)
    check(p.returncode == 0, "winvmem %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    pg = Page()
    pg.feed(p.stdout)
    pg.close()
    check(p.stdout.startswith("<!DOCTYPE html>") and p.stdout.rstrip().endswith("</html>"),
          "winvmem %s: not a whole page" % " ".join(args))
    check("http" not in p.stdout.replace("http://www.w3.org/2000/svg", ""),
          "winvmem %s: the page refers to something outside itself" % " ".join(args))
    return pg


def run_json(args):
    p = subprocess.run(args, capture_output=True, text=True)
    check(p.returncode == 0, "%s: exit %d %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


with tempfile.TemporaryDirectory() as tmp:
    def saved(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # the whole address space of one process, saved, then drawn
    text = run_json([CLI, "map", "--json", "--all"])
    regions = json.loads(text)
    check(len(regions) >= 5, "map --json --all: only %d regions" % len(regions))
    pg = page_of(["map", "--html", "--from", saved("all.json", text)])
    sec_legend = pg.legend
    check(len(pg.legend) == 9, "legend: %s" % pg.legend)
    check(len(pg.sections) == 1, "all: %d sections" % len(pg.sections))
    compare(pg.sections[0], regions, "map --all")

    # run --json: one map per sequence
    script = os.path.join(SCRIPTS, "reserve-commit.ops")
    text = run_json([CLI, "run", "--json", script])
    doc = json.loads(text)
    pg = page_of(["map", "--html", "--from", saved("run.json", text)])
    check(len(pg.sections) == len(doc["sequences"]), "run: %d sections" % len(pg.sections))
    for i, (sec, seq) in enumerate(zip(pg.sections, doc["sequences"])):
        compare(sec, seq["map"], "run sequence %d" % (i + 1))
    check(any(r["state"] == "Commit" for s in doc["sequences"] for r in s["map"]), "run: nothing committed")

    # the demo's steps and statistics
    text = run_json([DEMO, "--json"])
    doc = json.loads(text)
    pg = page_of(["map", "--html", "--from", "-"], stdin=text)
    check(len(pg.sections) == len(doc["steps"]) == 5, "demo: %d sections" % len(pg.sections))
    for i, (sec, st) in enumerate(zip(pg.sections, doc["steps"])):
        compare(sec, st["map"], "demo step %d" % (i + 1))
        check(pg.headings[i] == "%d. %s" % (i + 1, st["step"]), "demo heading %r" % pg.headings[i])
    want = {}
    flatten("", doc["stats"], want)
    check(pg.stats == want, "demo statistics: %s, want %s" % (pg.stats, want))
    check(any(len(s["map"]) >= 5 for s in doc["steps"]), "demo: no split runs")

    # live forms: this process, a script's sequences
    pg = page_of(["map", "--html", "--all"])
    sec = pg.sections[0]
    check(len(sec["rows"]) == len(sec["rects"]) >= 5, "map --html --all: %d rows" % len(sec["rows"]))
    check("version" in pg.stats and "committed_bytes" in pg.stats, "map --html: no statistics")
    pg = page_of(["run", "--html", script])
    check(len(pg.sections) == 2 and all(s["rows"] for s in pg.sections), "run --html: sections")

    # errors name the file and the reason
    p = subprocess.run([CLI, "map", "--html", "--from", saved("bad.json", '[{"base": "0x10",\n x')],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "bad.json: not JSON: line 2, column 2: expected a key" in p.stderr,
          "bad JSON: %d %r" % (p.returncode, p.stderr))
    p = subprocess.run([CLI, "map", "--html", "--from", saved("none.json", '{"a": 1}')],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "none.json: no map in it" in p.stderr, "no map: %r" % p.stderr)

for f in FAILS:
    print("test-map-html:", f)
print("test-map-html: %s" % ("ok" if not FAILS else "%d failures" % len(FAILS)))
sys.exit(1 if FAILS else 0)
