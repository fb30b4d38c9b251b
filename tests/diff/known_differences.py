"""The documented differences between Wine 8 and Windows (known_wine_differences.md, sourced
from doc/windows-semantics.md). Where a transcript line differs and a rule below explains it,
the native side must show the Windows behaviour named by the rule; the comparison then goes on
(same state on both sides) or stops for that sequence (the rule let Wine change state that
Windows would not). Everything a rule does not explain is a divergence."""

import re

MEM = {"COMMIT": 0x1000, "RESERVE": 0x2000, "DECOMMIT": 0x4000, "RELEASE": 0x8000,
       "RESET": 0x80000, "TOP_DOWN": 0x100000, "WRITE_WATCH": 0x200000,
       "PHYSICAL": 0x400000, "RESET_UNDO": 0x1000000, "LARGE_PAGES": 0x20000000,
       "RESERVE_PLACEHOLDER": 0x40000, "REPLACE_PLACEHOLDER": 0x4000,
       "PRESERVE_PLACEHOLDER": 0x2, "COALESCE_PLACEHOLDERS": 0x1}
PLACEHOLDER_FLAGS = 0x40000 | 0x4000 | 0x2 | 0x1
PROT = {"NOACCESS": 1, "READONLY": 2, "READWRITE": 4, "WRITECOPY": 8, "EXECUTE": 0x10,
        "EXECUTE_READ": 0x20, "EXECUTE_READWRITE": 0x40, "EXECUTE_WRITECOPY": 0x80,
        "GUARD": 0x100, "NOCACHE": 0x200, "WRITECOMBINE": 0x400}
USER_MAX = 0x7FFFFFFEFFFF


def flags(s, table):
    v = 0
    for t in s.split("|"):
        v |= table[t] if t in table else int(t, 0)
    return v


def windows_rejects_prot(p):
    """Protections NT's MiMakeProtectionMask rejects but Wine 8 accepts (difference 2)."""
    base, mods = p & 0xFF, p & 0x700
    if p & ~0x7FF & ~0x40000000:
        return True
    if base == 1 and mods:
        return True
    if (mods & 0x100) and (mods & 0x600):
        return True
    return (mods & 0x600) == 0x600


def windows_bad_alloc_prot(p):
    """Protections VirtualAlloc rejects with 87 on Windows (doc: VirtualAlloc table)."""
    return (p & 0xFF) not in (1, 2, 4, 0x10, 0x20, 0x40) or windows_rejects_prot(p) or \
        bin(p & 0xFF).count("1") != 1


def fields(line):
    return dict(t.split("=", 1) for t in line.split() if "=" in t)


def explain_fields(x, y, modifiers=False):
    """Rules that concern reported fields, for any line (query, scan, protect). modifiers:
    the sequence used PAGE_NOCACHE or PAGE_WRITECOMBINE somewhere."""
    fx, fy = fields(x), fields(y)
    keys = {k for k in set(fx) | set(fy) if fx.get(k) != fy.get(k)}
    if not keys:
        return None
    try:
        # 91 (unverified): whether a commit/protect inherits or drops PAGE_NOCACHE
        if keys - {"size"} and keys <= {"prot", "aprot", "old", "size"} and all(
                int(fx[k], 16) ^ int(fy[k], 16) == 0x200 for k in keys - {"size"}):
            return 91, False
        # 3: run boundaries that only a dropped PAGE_WRITECOMBINE / PAGE_NOCACHE bit made
        if keys == {"size"} and modifiers:
            return 3, False
        # 20: Wine splits reserved runs by the protection decommitted pages had
        if keys == {"size"} and fx.get("state") == "0x2000" and \
                int(fx["size"], 16) > int(fy["size"], 16):
            return 20, False
        # 28: a written copy-on-write page of a view is PAGE_READWRITE on Windows (a private
        # page now); Wine keeps reporting PAGE_WRITECOPY for the whole run
        if keys - {"size"} and keys <= {"prot", "old", "size"} and all(
                (int(fx[k], 16), int(fy[k], 16)) in ((0x4, 0x8), (0x40, 0x80))
                for k in keys - {"size"}) and fx.get("type", "0x40000") == "0x40000":
            return 28, False
    except (KeyError, ValueError):
        return None
    return None


def explain_touch(n, w):
    """19: Wine raises guard-page violations on reserved (uncommitted) pages of an allocation
    made with PAGE_GUARD; on Windows an uncommitted page is an access violation."""
    tn, tw = n.split("->", 1)[-1].split(), w.split("->", 1)[-1].split()
    if len(tn) < 2 or len(tw) < 2 or tn[1:] != tw[1:] and not tn[0].startswith(("-", "w", "r", "g")):
        return None
    if tn[0] in ("fault", "guard"):  # read/write: result, page state
        if tn[0] == "fault" and tw[0] == "guard" and tn[-1] == "r" and tw[-1] == "r":
            return 19, True
        return None
    acc_n, acc_w, st = tn[0], tw[0], tn[1]
    if len(acc_n) != len(acc_w) or tw[1] != st:
        return None
    for a, b, c in zip(acc_n, acc_w, st):
        if a != b and not (a == "-" and b == "g" and c == "r"):
            return None
    return 19, True


class Line:
    def __init__(self, text):
        self.text = text
        parts = text.split("->", 1)
        right = parts[1].split() if len(parts) > 1 else []
        self.ret = right[0] if right else None
        self.kv = dict(t.split("=", 1) for t in right if "=" in t)
        self.err = int(self.kv["err"]) if "err" in self.kv else None
        self.ctx = self.kv.get("ctx")

    @property
    def failed(self):
        return self.ret == "0" and self.err is not None


ALIASES = {"ww": "watch", "resetww": "resetwatch"}  # older spellings (tools/oplang/README.md)


def parse_op(src):
    t = src.split()
    if len(t) > 2 and t[1] == "=":
        t = t[2:]
    return ALIASES.get(t[0], t[0]), t[1:]


def made_placeholder(seq):
    """Whether an op of the sequence asked VirtualAlloc2 for a placeholder (the only way to
    make one; every other placeholder comes from splitting it)."""
    for ln in seq:
        if not ln.split():
            continue
        op, a = parse_op(ln)
        try:
            if op == "alloc2" and len(a) > 2 and flags(a[2], MEM) & MEM["RESERVE_PLACEHOLDER"]:
                return True
        except (KeyError, ValueError):
            return True  # not understood: assume the wider rule
    return False


def explain_sections(op, a, N, W, sec_reserve, placeholders=True, kinds=None):
    """Sections, views and placeholders (issue 15): rules 26-30, 92-96. placeholders: the
    sequence made a placeholder (made_placeholder); kinds: name -> the op that defined it."""
    if op in ("read", "write") and sec_reserve and N.ret in ("fault",) and \
            N.text.rstrip().endswith(" r") and W.ret != "fault":
        return 29, op == "write"
    if op == "access" and sec_reserve:
        tn, tw = N.text.split("->", 1)[1].split(), W.text.split("->", 1)[1].split()
        if len(tn) > 1 and len(tw) > 1 and len(tn[0]) == len(tw[0]) and tn[1] == tw[1] and all(
                x == y or (x == "-" and y in "rw" and s == "r")
                for x, y, s in zip(tn[0], tw[0], tn[1])):
            return 29, True
    typ = 0
    try:
        if op in ("alloc2", "free") and len(a) > 2:
            typ = flags(a[2], MEM)
        elif op == "view3" and len(a) > 4:
            typ = flags(a[4], MEM)
        elif op == "unmap" and len(a) > 1:
            typ = flags(a[1], MEM)
    except (KeyError, ValueError):
        return None
    # Wine 8.0 refuses the flags themselves; winvmem gives Windows' answer: success, or the
    # error of the range (e.g. 487: coalescing what is not two placeholders). Where the
    # sequence made no placeholder, VirtualFree(MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS or
    # MEM_PRESERVE_PLACEHOLDER) with a size can only find a range that is not placeholders:
    # Windows fails with 487 (STATUS_CONFLICTING_ADDRESSES, Wine 9's ntdll/tests/virtual.c:
    # PRESERVE on a plain MEM_RESERVE allocation, COALESCE over one placeholder or over a
    # placeholder and a plain allocation), and nothing else is accepted
    if op == "free" and typ & PLACEHOLDER_FLAGS and not placeholders:
        if W.err == 87 and N.err == 487:
            return 26, False
        return None
    if typ & PLACEHOLDER_FLAGS and W.err == 87 and (not N.failed or N.err != 87):
        return 26, not N.failed
    if op == "view" and N.err == 5 and W.err == 87:
        return 27, False
    if op == "alloc2" and len(a) >= 7 and N.err == 87 and not W.failed:
        return 30, True
    # 93, 94 (unverified, nothing decides): FlushViewOfFile where no view holds the address, or
    # past its end
    # 95 (unverified, nothing decides): VirtualProtect on a view checks the view's protection
    # before commitment
    kinds = kinds or {}
    if op == "protect" and N.err == 87 and W.err == 487 and N.ctx == "I" == W.ctx and \
            a and kinds.get(re.split(r"[+-]", a[0])[0]) == "view":
        try:
            if not windows_rejects_prot(flags(a[2], PROT)):
                return 95, False
        except (KeyError, ValueError, IndexError):
            return None
    # 96 (kernel32 test_MapViewOfFile): a view through an opened handle needs the section's
    # protection too
    if op == "view" and N.err == 5 and not W.failed and a and kinds.get(a[0]) == "open":
        return 96, True
    if op == "flush" and W.err == 87 and N.err == 487:
        return 93, False
    if op == "flush" and W.err == 87 and not N.failed and len(a) > 1 and int(a[1], 0):
        return 94, False
    if op == "section" and len(a) >= 4 and a[3].startswith("Session\\") and \
            a[3].count("\\") == 1 and N.err == 5 and not W.failed:
        return 92, True
    return None


def explain(src, n, w, modifiers=False, wrote_reserved=False, sec_reserve=False,
            placeholders=True, kinds=None):
    """(rule number, state_diverged) when a documented difference explains native line n vs
    Wine line w for op src; None otherwise. sec_reserve: the sequence made a SEC_RESERVE
    section; placeholders: it made a placeholder (made_placeholder); kinds: name -> the op
    that defined it (`view`, `open`, ...)."""
    op, a = parse_op(src)
    r = explain_sections(op, a, Line(n), Line(w), sec_reserve, placeholders, kinds)
    if r:
        return r
    if op in ("read", "write", "access"):
        return explain_touch(n, w)
    r = explain_fields(n, w, modifiers)
    if r:
        return r
    N, W = Line(n), Line(w)
    diverged = N.failed != W.failed
    if W.ret == "unsupported":
        return (32 if op in ("discard", "offer", "reclaim") else 22), True
    if op == "allocnuma" and N.err == 87 and not W.failed:
        try:
            if int(a[4], 0) != 0xFFFFFFFF:
                return 31, True  # Wine allocated where Windows refused
        except (ValueError, IndexError):
            return None
    if op in ("watch", "resetwatch") and N.err == 87 and not W.failed and len(a) > 1 and \
            int(a[1], 0) >= 1 << 47:
        return 6, False
    if op == "resetwatch" and N.err == 87 and len(a) > 1 and a[1] in ("0", "0x0"):
        return 25, False
    if op == "watch":
        nl = n.split("->", 1)[1].split()[3:] if "count=" in n else None
        wl = w.split("->", 1)[1].split()[3:] if "count=" in w else None
        if wrote_reserved and nl is not None and wl is not None and set(nl) <= set(wl):
            return 24, False
        if N.err == 87 and len(a) > 1 and a[1] in ("0", "0x0"):
            return 25, False
    try:
        if op in ("lock", "unlock"):
            if W.err == 5 or (op == "unlock" and N.err == 158 and not W.failed):
                return 21, False
        if op in ("alloc", "allocapp"):
            typ, prot, size = flags(a[2], MEM), flags(a[3], PROT), int(a[1], 0)
            if op == "allocapp" and N.err == 87 and prot & 0xF0:
                return 23, diverged
            if N.err == 87 and windows_rejects_prot(prot):
                return 2, diverged
            if N.err == 87 and W.err == 487 and windows_bad_alloc_prot(prot):
                return 17, diverged
            if N.err == 87 and prot & 0x40000000 and not prot & 0xF0:
                return 90, diverged
            if N.err == 87 and typ & MEM["RESET"] and typ & ~MEM["RESET"]:
                return 1, diverged
            if N.err == 1314 and W.err == 87 and typ & MEM["LARGE_PAGES"]:
                return 7, diverged
            if N.err == 1455 and (W.err == 8 or not W.failed) and size >= 1 << 40:
                return 8, diverged
            if N.err == 87 and typ & MEM["WRITE_WATCH"] and not typ & MEM["RESERVE"]:
                return 11, diverged
            if N.err == 87 and typ == MEM["RESET"]:
                return 12, diverged
            if W.err == 87 and typ & MEM["RESET_UNDO"]:
                return 14, diverged
            if W.err == 87 and typ & MEM["PHYSICAL"] and typ & MEM["RESERVE"]:
                return 15, diverged
        elif op == "protect":
            prot, size = flags(a[2], PROT), int(a[1], 0)
            if N.err == 87 and windows_rejects_prot(prot):
                return 2, diverged
            if N.err == 87 and prot & 0x40000000 and not prot & 0xF0:
                return 90, diverged
            if N.err == 87 and W.err in (487, 998) and windows_bad_alloc_prot(prot):
                return 17, diverged
            if N.err == 487 and W.err == 87 and N.ctx in ("F", "X") and N.ctx == W.ctx:
                return 5, diverged
            if N.err == 87 and W.err == 487 and N.ctx == "O" == W.ctx:
                return 18, diverged
            if N.err == 87 and size == 0:
                return 13, diverged
            if N.err == 87 and not W.failed and size >= 1 << 47:
                return 6, diverged
        elif op == "free":
            typ, size = flags(a[2], MEM), int(a[1], 0)
            if N.err == 487 and W.err == 87 and N.ctx == "F" and W.ctx == "F":
                return 4, diverged
            if N.err == 87 and W.err == 487 and N.ctx == "O" == W.ctx:
                return 18, diverged
            if N.err == 87 and not W.failed and typ in (MEM["DECOMMIT"], MEM["RELEASE"]) and \
                    size >= 1 << 47:
                return 6, diverged
        elif op == "query":
            if N.err == 87 and W.err == 24 and len(a) > 1 and int(a[1], 0) < 48:
                return 16, diverged
    except (ValueError, KeyError, IndexError):
        return None
    return None


WC = re.compile(r"\b(aprot|prot|old)=0x([0-9a-f]+)")


def normalise_line(line):
    """Difference 3: Wine drops PAGE_WRITECOMBINE (0x400) from every protection it reports."""
    return WC.sub(lambda m: "%s=0x%x" % (m.group(1), int(m.group(2), 16) & ~0x400), line)


def merge_reserved_runs(transcript, modifiers=False):
    """20: joins adjacent scan lines that both describe reserved pages with the same
    attributes (Wine reports them as separate runs when their former protections differ).
    3: with modifiers, also committed runs that only PAGE_WRITECOMBINE told apart."""
    out = []
    for line in transcript.splitlines():
        if line.startswith("   base="):
            f = fields(line)
            if f.get("type") == "0x40000" and f.get("state") == "0x1000" and \
                    (f.get("aprot"), f.get("prot")) in (("0x8", "0x4"), ("0x80", "0x40")):
                # 28: a written copy-on-write page is PAGE_READWRITE on Windows; Wine keeps
                # PAGE_WRITECOPY (and one run) for the view
                line = re.sub(r"(?<= )prot=0x4", "prot=0x8", line)
        if modifiers:
            line = re.sub(r"\b(aprot|prot|old)=0x([0-9a-f]+)", lambda m: "%s=0x%x" % (
                m.group(1), int(m.group(2), 16) & ~0x600), line)
        if line.startswith("   base=") and out and out[-1].startswith("   base="):
            a, b = fields(out[-1]), fields(line)
            same = all(a.get(k) == b.get(k) for k in ("abase", "aprot", "state", "prot", "type"))
            cow = a.get("aprot") in ("0x8", "0x80") and a.get("type") == "0x40000"
            if same and (a.get("state") == "0x2000" or modifiers or cow):
                size = int(a["size"], 16) + int(b["size"], 16)
                out[-1] = re.sub(r"size=0x[0-9a-f]+", "size=0x%x" % size, out[-1])
                continue
        out.append(line)
    return "\n".join(out)
