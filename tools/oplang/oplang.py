"""The op language of winvmem's differential test: a seeded generator of random but
meaningful sequences, and a shrinker. The format is described in tools/oplang/README.md and
run by the op-language module (tools/oplang/*.c: `winvmem run`, tests/diff/interp.c).

Layout rules that keep a sequence deterministic on any address-space layout:
  * allocations with a NULL address come first (their neighbourhood is unknown, so only offsets
    inside them are used);
  * then a hole H (reserved and released at once) provides free address space; every later
    reservation names an address inside H, and addresses around those reservations (before,
    across, beyond) are known to be free or ours;
  * a name whose allocation may have been released is not used after a later allocation that
    could reuse its addresses.
"""

import random

PAGE = 0x1000
GRAN = 0x10000
HOLE = 0x1000000

PROTS = ["NOACCESS", "READONLY", "READWRITE", "EXECUTE", "EXECUTE_READ", "EXECUTE_READWRITE"]
BAD_PROTS = ["WRITECOPY", "EXECUTE_WRITECOPY", "0", "0x3", "0x6", "GUARD", "NOCACHE",
             "WRITECOMBINE", "READWRITE|NOCACHE|WRITECOMBINE", "GUARD|NOCACHE|READWRITE",
             "0x800", "0x1000", "0x40000000", "0x40000004", "0x80000000", "0xffffffff"]
MODS = ["GUARD", "NOCACHE", "WRITECOMBINE"]
BAD_TYPES = ["0", "RESET", "RESET_UNDO", "COMMIT|DECOMMIT", "RESERVE|RELEASE", "0x1",
             "0x800", "PHYSICAL", "COMMIT|PHYSICAL", "RESERVE|PHYSICAL", "LARGE_PAGES",
             "COMMIT|RESERVE|LARGE_PAGES", "0x40000000", "0xffffffff", "COMMIT|0x10000000",
             "RESERVE|0x4000000", "COMMIT|RESERVE|RESET"]
FREE_TYPES = ["RELEASE", "DECOMMIT"]
BAD_FREE_TYPES = ["0", "RELEASE|DECOMMIT", "0x1", "RELEASE|0x1", "DECOMMIT|0x100",
                  "COMMIT", "RESERVE", "0x10000", "0x4000|0x80000000", "0x8003"]
# Sections, views (tools/oplang/exec_section.c): pagefile-backed only. Placeholders are not
# generated: Wine 8.0 has none (rule 26 stops the comparison at the first success), so the
# fuzzer and tests/api/test_virtualalloc2.c cover them against Windows' documentation.
SEC_PROTS = ["READWRITE", "READWRITE", "READWRITE", "READONLY", "WRITECOPY", "EXECUTE_READWRITE",
             "EXECUTE_READ", "EXECUTE_WRITECOPY"]
BAD_SEC_PROTS = ["NOACCESS", "EXECUTE", "0", "READWRITE|GUARD", "READWRITE|NOCACHE", "0x3",
                 "READONLY|READWRITE", "0x800"]
SEC_ATTRS = ["COMMIT", "COMMIT", "COMMIT", "RESERVE", "RESERVE"]
BAD_SEC_ATTRS = ["COMMIT|RESERVE", "0x1", "NOCACHE", "COMMIT|NOCACHE", "COMMIT|WRITECOMBINE",
                 "RESERVE|LARGE_PAGES", "IMAGE", "IMAGE_NO_EXECUTE"]
VIEW_ACCESS = ["WRITE", "WRITE", "READ", "ALL_ACCESS", "COPY", "READ|COPY", "READ|EXECUTE",
               "WRITE|EXECUTE", "COPY|EXECUTE"]
BAD_VIEW_ACCESS = ["0", "EXECUTE", "0x40", "0x80000000", "LARGE_PAGES|WRITE", "0x10000"]
HUGE = ["0xffffffffffffffff", "0xfffffffffffff000", "0x8000000000000000", "0x800000000000",
        "0x7ffffffff000"]


class Gen:
    def __init__(self, rng, max_ops):
        self.r = rng
        self.max_ops = max_ops
        self.ops = []
        self.names = []      # (name, size, in_hole) of allocations that may be new regions
        self.hole_off = {}   # name -> requested offset inside H
        self.ww_names = set()  # allocations requested with MEM_WRITE_WATCH
        self.stale = set()   # names whose addresses may be reused
        self.maybe_freed = set()
        self.hole = False
        self.n = 0
        self.hole_used = []  # (offset, size) requested inside H
        self.sections = []   # (name, size) of section handles not closed
        self.nsec = 0
        self.views = set()   # names of views

    # ---- argument choices ----
    def prot(self):
        x = self.r.random()
        if x < 0.75:
            p = self.r.choice(PROTS)
            if self.r.random() < 0.12:
                p += "|" + self.r.choice(MODS)
            return p
        if x < 0.9:
            return self.r.choice(BAD_PROTS)
        return hex(self.r.randrange(0, 0x10000))

    def size(self, region=0x40000):
        x = self.r.random()
        if x < 0.45:
            return hex(PAGE * self.r.randint(1, max(1, region // PAGE)))
        if x < 0.7:
            return hex(self.r.randint(1, region))
        if x < 0.78:
            return "0"
        if x < 0.9:
            return hex(GRAN * self.r.randint(1, 8))
        if x < 0.97:
            return self.r.choice(["0x1", "0xfff", "0x1001", "0xffff", "0x10001"])
        return self.r.choice(HUGE)

    def live(self):
        return [n for n in self.names if n[0] not in self.stale]

    def offset(self, size, beyond=True):
        x = self.r.random()
        hi = size + (0x20000 if beyond else 0)
        if x < 0.55:
            return PAGE * self.r.randint(0, max(0, hi // PAGE))
        if x < 0.7:
            return 0
        if x < 0.8:
            return max(0, size - PAGE)
        if x < 0.9:
            return self.r.randint(0, max(0, hi))
        return size if beyond else 0

    @staticmethod
    def inside(size, in_hole, off):
        """Offsets from a NULL allocation stay inside its own granules: what lies after them
        depends on the layout (another allocation, the hole, or nothing)."""
        if in_hole:
            return off
        return min(off, max(GRAN, (size + GRAN - 1) // GRAN * GRAN) - PAGE)

    def addr(self, beyond=True):
        """An address relative to a live allocation (or H), page-aligned mostly."""
        live = self.live()
        if self.hole and (not live or self.r.random() < 0.15):
            self.last_addr = (HOLE, True, 0)
            return "H+" + hex(self.r.randrange(0, HOLE, PAGE))
        if not live:
            return None
        name, size, in_hole = self.r.choice(live)
        off = self.inside(size, in_hole, self.offset(size, beyond and in_hole))
        self.last_addr = (size, in_hole, off)
        if in_hole and beyond and self.r.random() < 0.05:
            back = self.r.choice([PAGE, GRAN])
            if self.hole_off.get(name, 0) >= 2 * GRAN:  # stays inside H
                return "%s-%s" % (name, hex(back))
        return "%s+%s" % (name, hex(off))

    def emit(self, s):
        self.ops.append(s)

    def newname(self):
        self.n += 1
        return "A%d" % self.n

    # ---- ops ----
    def op_reserve(self):
        t = self.r.random()
        if t < 0.6:
            typ = "RESERVE"
        elif t < 0.85:
            typ = "RESERVE|COMMIT"
        elif t < 0.92:
            typ = "COMMIT"
        else:
            typ = self.r.choice(["RESERVE|TOP_DOWN", "RESERVE|COMMIT|TOP_DOWN",
                                 "RESERVE|WRITE_WATCH"] + BAD_TYPES)
        if self.r.random() < 0.12 and "RESERVE" in typ and "WRITE_WATCH" not in typ:
            typ += "|WRITE_WATCH"
        size = self.size(0x80000)
        nbytes = int(size, 16)
        if self.hole and nbytes > HOLE - 0x100000:
            # larger than the hole: only sizes no layout can satisfy, with a NULL address
            if nbytes >= 0x800000000000:
                self.emit("alloc 0 %s %s %s" % (size, typ, self.prot()))
            return
        name = self.newname()
        if not self.hole:
            self.emit("%s = alloc 0 %s %s %s" % (name, size, typ, self.prot()))
            self.names.append((name, int(size, 16), False))
            if "WRITE_WATCH" in typ:
                self.ww_names.add(name)
            return
        x = self.r.random()
        if x < 0.7:
            off = self.r.randrange(0, HOLE - 0x100000, GRAN)
        elif x < 0.85:
            off = self.r.randrange(0, HOLE - 0x100000, PAGE)
        else:
            off = self.r.randrange(0, HOLE - 0x100000)
        op = "allocapp" if self.r.random() < 0.05 else "alloc"  # VirtualAllocFromApp
        self.emit("%s = %s @H+%s %s %s %s" % (name, op, hex(off), size, typ, self.prot()))
        self.names.append((name, int(size, 16), True))
        self.hole_off[name] = off
        if "WRITE_WATCH" in typ:
            self.ww_names.add(name)

    def op_commit(self):
        a = self.addr()
        if a is None:
            return
        typ = "COMMIT"
        x = self.r.random()
        if x < 0.1:
            typ = self.r.choice(["RESERVE", "COMMIT|RESERVE", "COMMIT|WRITE_WATCH",
                                 "RESET", "RESET_UNDO", "COMMIT|TOP_DOWN"] + BAD_TYPES[:6])
        name = self.newname()
        size = self.size(0x30000)
        base_size, in_hole, off = self.last_addr
        if "RESERVE" in typ and not in_hole:
            # a reservation at a NULL allocation's address stays inside its granules
            room = max(GRAN, (base_size + GRAN - 1) // GRAN * GRAN) - off
            if int(size, 16) > room:
                size = hex(room)
        self.emit("%s = alloc @%s %s %s %s" % (name, a, size, typ, self.prot()))

    def op_free(self):
        live = self.live()
        if not live:
            return
        name, size, in_hole = self.r.choice(live)
        x = self.r.random()
        if x < 0.3:
            self.emit("free %s 0 RELEASE" % name)
            self.maybe_freed.add(name)
            return
        if x < 0.4:
            self.emit("free %s 0 DECOMMIT" % name)
            return
        a = self.addr()
        if a is None:
            return
        if x < 0.75:
            typ = "DECOMMIT"
            sz = self.size(0x30000)
        elif x < 0.9:
            typ = "RELEASE"
            sz = self.r.choice(["0", hex(size), self.size(0x30000)])
        else:
            typ = self.r.choice(BAD_FREE_TYPES)
            sz = self.size(0x30000)
        self.emit("free %s %s %s" % (a, sz, typ))
        if "RELEASE" in typ or typ.startswith("0x8"):
            for n in live:
                self.maybe_freed.add(n[0])

    def op_protect(self):
        a = self.addr()
        if a is None:
            return
        tail = " noold" if self.r.random() < 0.03 else ""
        self.emit("protect %s %s %s%s" % (a, self.size(0x30000), self.prot(), tail))

    def op_query(self):
        x = self.r.random()
        if x < 0.04:
            a = self.r.choice(["0", "0x1000", "0xffff", "0x800000000000",
                               "0xffffffffffffffff", "0xffff800000000000"])
        else:
            a = self.addr()
        if a is None:
            return
        if self.r.random() < 0.03:
            self.emit("query %s %s" % (a, self.r.choice(["0", "1", "47", "48", "49", "96"])))
        else:
            self.emit("query %s" % a)

    def op_touch(self):
        live = self.live()
        if not live:
            return
        name, size, in_hole = self.r.choice(live)
        off = self.offset(size, False)
        if not in_hole and off >= size:  # past the end of a NULL allocation: layout-dependent
            off = max(0, size - 1) // PAGE * PAGE
        a = "%s+%s" % (name, hex(off))
        x = self.r.random()
        if x < 0.45:
            self.emit("write %s %s" % (a, hex(self.r.randrange(1, 256))))
        elif x < 0.8:
            self.emit("read %s %d" % (a, self.r.choice([1, 4, 16])))
        else:
            # outside the hole only the allocation's own pages have a known state
            room = max(PAGE, (size - off + PAGE - 1) // PAGE * PAGE)
            n = PAGE * self.r.randint(1, 8)
            self.emit("access %s %s" % (a, hex(n if in_hole else min(n, room))))

    def op_ww(self):
        """GetWriteWatch / ResetWriteWatch, mostly on write-watch allocations."""
        live = self.live()
        ww = [n for n in live if n[0] in self.ww_names]
        pool = ww if ww and self.r.random() < 0.85 else live
        if not pool:
            return
        name, size, in_hole = self.r.choice(pool)
        off = self.inside(size, in_hole, self.offset(size, in_hole))
        a = "%s+%s" % (name, hex(off))
        n = hex(max(PAGE, size - off)) if self.r.random() < 0.5 else self.size(0x30000)
        if self.r.random() < 0.25:
            self.emit("resetwatch %s %s" % (a, n))
        else:
            self.emit("watch %s %s%s" % (a, n, " reset" if self.r.random() < 0.3 else ""))

    def op_section(self):
        """CreateFileMapping(INVALID_HANDLE_VALUE, ...), now and then named and opened."""
        x = self.r.random()
        if x < 0.5:
            size = GRAN * self.r.randint(1, 8)
        elif x < 0.8:
            size = PAGE * self.r.randint(1, 0x60)
        elif x < 0.92:
            size = self.r.randint(1, 0x60000)
        else:
            size = self.r.choice([0, 0x100000000])
        prot = self.r.choice(SEC_PROTS) if self.r.random() < 0.9 else self.r.choice(BAD_SEC_PROTS)
        attrs = self.r.choice(SEC_ATTRS) if self.r.random() < 0.92 else \
            self.r.choice(BAD_SEC_ATTRS)
        self.nsec += 1
        name = "S%d" % self.nsec
        named = self.r.random() < 0.15
        obj = " Local\\wvm-g%d" % self.nsec if named else ""
        self.emit("%s = section %s %s %s%s" % (name, hex(size), prot, attrs, obj))
        self.sections.append((name, size))
        if named and self.r.random() < 0.6:
            self.nsec += 1
            other = "S%d" % self.nsec
            acc = self.r.choice(["ALL_ACCESS", "READ", "WRITE", "COPY", "READ|WRITE"])
            self.emit("%s = open %s%s" % (other, acc, obj))
            self.sections.append((other, size))

    def op_view(self):
        """MapViewOfFile(Ex): before H anywhere, after it at an address inside H."""
        if not self.sections:
            return
        sec, ssize = self.r.choice(self.sections)
        acc = self.r.choice(VIEW_ACCESS) if self.r.random() < 0.92 else \
            self.r.choice(BAD_VIEW_ACCESS)
        x = self.r.random()
        if x < 0.7:
            off = 0
        elif x < 0.85:
            off = GRAN * self.r.randint(1, 4)
        else:
            off = self.r.choice([PAGE, ssize, ssize + GRAN])
        x = self.r.random()
        if x < 0.55:
            size = 0
        elif x < 0.85:
            size = PAGE * self.r.randint(1, max(1, (ssize - off) // PAGE or 1))
        else:
            size = self.r.choice([ssize + PAGE, 1, GRAN * 16])
        mapped = size or max(0, ssize - off)
        mapped = (mapped + PAGE - 1) // PAGE * PAGE
        name = self.newname()
        if not self.hole:
            self.emit("%s = view %s %s %s %s" % (name, sec, acc, hex(off), hex(size)))
            in_hole = False
        else:
            x = self.r.random()
            if x < 0.85:
                at = self.r.randrange(0, HOLE - 0x100000, GRAN)
            else:
                at = self.r.randrange(0, HOLE - 0x100000, PAGE)
            if at + mapped > HOLE:  # what lies past H depends on the layout
                size = mapped = GRAN
            self.emit("%s = view %s %s %s %s H+%s" % (name, sec, acc, hex(off), hex(size), hex(at)))
            self.hole_off[name] = at
            in_hole = True
        if 0 < mapped <= 0x800000:
            self.names.append((name, mapped, in_hole))
            self.views.add(name)

    def op_unmap(self):
        views = [n for n in self.live() if n[0] in self.views]
        if not views:
            return
        name, size, in_hole = self.r.choice(views)
        off = PAGE * self.r.randint(0, max(0, size // PAGE - 1)) if self.r.random() < 0.3 else 0
        self.emit("unmap %s+%s" % (name, hex(off)))
        self.maybe_freed.add(name)

    def op_close(self):
        if not self.sections:
            return
        i = self.r.randrange(len(self.sections))
        self.emit("close %s" % self.sections[i][0])
        if self.r.random() < 0.1:
            # closed twice (ERROR_INVALID_HANDLE) at once: after a later section or open the
            # handle value may name the new object (handle values are reused on Windows)
            self.emit("close %s" % self.sections[i][0])
        del self.sections[i]

    def op_flush(self):
        views = [n for n in self.live() if n[0] in self.views]
        if not views:
            return
        name, size, in_hole = self.r.choice(views)
        off = PAGE * self.r.randint(0, max(0, size // PAGE - 1))
        self.emit("flush %s+%s %s" % (name, hex(off), self.r.choice(["0", "0x1", hex(PAGE),
                                                                      hex(size)])))

    def after_alloc(self):
        """Names maybe released become stale once another allocation could reuse them."""
        self.stale |= self.maybe_freed
        self.maybe_freed = set()

    def run(self):
        sections = self.r.random() < 0.35
        nnull = self.r.choice([0, 0, 1, 1, 2, 3])
        for _ in range(nnull):
            if sections and self.r.random() < 0.4:
                self.op_section()
                self.op_view()
            else:
                self.op_reserve()
        if self.r.random() < 0.8:
            self.emit("H = hole %s" % hex(HOLE))
            self.hole = True
        weights = [(self.op_reserve, 2.2), (self.op_commit, 3), (self.op_free, 2),
                   (self.op_protect, 2.5), (self.op_query, 2.5), (self.op_touch, 2),
                   (self.op_ww, 1)]
        if sections:
            weights += [(self.op_section, 0.7), (self.op_view, 1.6), (self.op_unmap, 0.6),
                        (self.op_close, 0.4), (self.op_flush, 0.3)]
        fns, ws = zip(*weights)
        tries = 0
        while len(self.ops) < self.max_ops and tries < 4 * self.max_ops:
            tries += 1
            f = self.r.choices(fns, ws)[0]
            if f in (self.op_reserve, self.op_view) and not self.hole:
                continue
            before = len(self.ops)
            f()
            if f in (self.op_reserve, self.op_commit, self.op_view) and len(self.ops) > before:
                self.after_alloc()
        for name, size, in_hole in self.names:
            if name not in self.stale:
                self.emit("scan %s" % name)
        return self.ops


def generate(seed, max_ops=None):
    r = random.Random(seed)
    return Gen(r, max_ops or r.randint(4, 40)).run()


def names_defined(line):
    parts = line.split()
    return parts[0] if len(parts) > 2 and parts[1] == "=" else None


def uses(line, name):
    for tok in line.split()[1:]:
        t = tok.lstrip("@")
        base = t.split("+")[0].split("-")[0]
        if base == name:
            return True
    return False


def remove(seq, idxs):
    """seq without the ops at idxs and without every op that uses a name they define."""
    gone = set(idxs)
    dead = {names_defined(seq[i]) for i in idxs} - {None}
    out = []
    for i, line in enumerate(seq):
        if i in gone:
            continue
        if any(uses(line, d) for d in dead):
            d2 = names_defined(line)
            if d2:
                dead.add(d2)
            continue
        out.append(line)
    return out


def shrink_candidates(seq):
    """Smaller variants of seq: chunks removed (largest first), then single ops."""
    n = len(seq)
    seen = set()
    chunk = n // 2
    while chunk >= 1:
        for start in range(0, n, chunk):
            c = remove(seq, range(start, min(n, start + chunk)))
            if c and len(c) < n and tuple(c) not in seen:
                seen.add(tuple(c))
                yield c
        chunk //= 2
