#!/usr/bin/env python3
"""Checks that a screenshot is not blank: decodes the PNG (Python's zlib only, no imaging
library) and counts distinct colours, non-white pixels and the pixels of given colours.

  png-check.py SHOT.png [--min-colours N] [--min-ink FRACTION] [--colour #rrggbb[:MIN]]...

Exit 0 when the picture has at least N distinct colours, at least FRACTION of its pixels not
white, and at least MIN (default 100) pixels of each --colour; else 1 with the figures."""

import argparse
import struct
import sys
import zlib


def decode(path):
    """(width, height, rows of RGB tuples) of an 8-bit grey, RGB, grey+alpha or RGBA PNG,
    non-interlaced (what Chromium writes)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    if hdr is None:
        raise ValueError("no IHDR chunk")
    w, h, depth, ctype, _, _, interlace = hdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, interlace %d" %
                         (depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = w * channels
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
            elif f != 0:
                raise ValueError("bad filter %d on row %d" % (f, y))
        prev = line
        if channels >= 3:
            rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(w)])
        else:
            rows.append([(v, v, v) for v in line[::channels]])
    return w, h, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("png")
    ap.add_argument("--min-colours", type=int, default=6)
    ap.add_argument("--min-ink", type=float, default=0.02)
    ap.add_argument("--colour", action="append", default=[])
    a = ap.parse_args()
    w, h, rows = decode(a.png)
    counts = {}
    for row in rows:
        for px in row:
            counts[px] = counts.get(px, 0) + 1
    total = w * h
    ink = total - counts.get((255, 255, 255), 0)
    ok = True
    print("png-check: %dx%d, %d distinct colours, %.1f%% not white" %
          (w, h, len(counts), 100.0 * ink / total))
    if len(counts) < a.min_colours:
        print("png-check: FAILED: fewer than %d colours" % a.min_colours)
        ok = False
    if ink < a.min_ink * total:
        print("png-check: FAILED: less than %.1f%% of the pixels are not white" % (100 * a.min_ink))
        ok = False
    for spec in a.colour:
        hexc, _, least = spec.partition(":")
        rgb = tuple(int(hexc.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
        n = counts.get(rgb, 0)
        print("png-check: %s: %d pixels" % (hexc, n))
        if n < int(least or 100):
            print("png-check: FAILED: fewer than %s pixels of %s" % (least or 100, hexc))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
