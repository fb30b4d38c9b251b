/* Fault injection: the prim layer fails its N-th system call (ENOMEM, EAGAIN, EPERM as the
 * kernel would). For every op of a long script and every N that lands inside the op, the op
 * must either fail with the Windows error for that errno and leave every allocation exactly
 * as before (VirtualQuery over each, contents, stats, invariants; for sections also the open
 * descriptors and the per-user directory of named sections), or succeed and leave exactly the
 * state a clean run leaves. Needs a WVM_FAULT_INJECTION build (debug and asan-ubsan presets);
 * otherwise the test says so and is skipped. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#include "core/secname.h"

/* Internal (hidden) functions of the prim layer; reachable because this test links the object
 * library. */
extern void wvm__prim_inject_after(uint64_t n, int err);
extern uint64_t wvm__prim_calls(void);
/* Allocation locks this thread holds (core/index.h): none between calls. */
extern __thread int wvm__alloc_locks_held;

enum kind {
    NEW,
    AT,
    FIXED,
    FREE,
    PROTECT,
    TOUCH,
    LOCK,
    UNLOCK,
    /* sections (handle slot h), views (into slot), placeholders (at the area's offset off) */
    SEC,   /* CreateFileMapping(INVALID_HANDLE_VALUE, prot | type, size); named when sec */
    OPEN,  /* OpenFileMapping(type = access) of the named section */
    CLOSE, /* CloseHandle(h) */
    VIEW,  /* MapViewOfFileEx(h, type = access, sec, size, off ? area + off : NULL) */
    MAP3,  /* MapViewOfFile3(h, area + off, sec, size, type, prot) */
    UNMAP, /* UnmapViewOfFile2(slot, type) */
    FLUSH, /* FlushViewOfFile(slot + off, size) */
    PH,    /* VirtualAlloc2(area + off, size, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER) */
    AFREE, /* VirtualFree(area + off, size, type): split, coalesce, release */
    REPL,  /* VirtualAlloc2(area + off, size, type, prot) into slot */
    /* the neighbours of VirtualAlloc */
    NUMA,    /* VirtualAllocExNuma(NULL, size, type, prot, node 0) into slot */
    OFFER,   /* OfferVirtualMemory(slot + off, size, normal) */
    RECLAIM, /* ReclaimVirtualMemory(slot + off, size) */
    DISCARD, /* DiscardVirtualMemory(slot + off, size) */
};
/* Scripts are positional tables; ops that leave h and sec out mean 0. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
typedef struct op {
    enum kind k;
    int slot; /* NEW/FIXED/VIEW/MAP3/REPL: slot that receives the result; others: slot addressed */
    size_t off; /* offset from the slot's base (FIXED: from the hole; PH/AFREE/MAP3/REPL: area) */
    size_t size;
    DWORD type; /* alloc / free type; section attributes; view access */
    DWORD prot;
    int h;      /* SEC/OPEN/CLOSE/VIEW/MAP3: handle slot */
    size_t sec; /* VIEW/MAP3: offset in the section; SEC: 1 = named */
} op;

#define G   0x10000u
#define PG  0x1000u
#define GIB ((size_t)1 << 30)

/* Slot 0..5 are allocations, slot 7 a hole (reserved + released at start). */
static const op fixed_script[] = {
    {NEW, 0, 0, 64 * PG, MEM_RESERVE, PAGE_READWRITE},
    {AT, 0, 4 * PG, 8 * PG, MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 0, 4 * PG, 8 * PG, 0, 0},
    {AT, 0, 6 * PG, 2 * PG, MEM_COMMIT, PAGE_READONLY},
    {PROTECT, 0, 5 * PG, 3 * PG, 0, PAGE_EXECUTE_READ},
    {PROTECT, 0, 4 * PG, PG, 0, PAGE_READWRITE | PAGE_GUARD},
    {PROTECT, 0, 4 * PG, 8 * PG, 0, PAGE_NOACCESS},
    {PROTECT, 0, 4 * PG, 8 * PG, 0, PAGE_READWRITE},
    {FREE, 0, 5 * PG, 2 * PG, MEM_DECOMMIT, 0},
    {AT, 0, 0, 64 * PG, MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 0, 0, 64 * PG, 0, 0},
    {FREE, 0, 0, 0, MEM_DECOMMIT, 0},
    {NEW, 1, 0, 0x12345, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 1, 0, 0x13000, 0, 0},
    {NEW, 2, 0, 16 * G, MEM_RESERVE | MEM_TOP_DOWN, PAGE_NOACCESS},
    {AT, 2, 3 * G + 0x800, 5 * G, MEM_COMMIT, PAGE_EXECUTE_READWRITE},
    {FREE, 2, 4 * G, G, MEM_DECOMMIT, 0},
    {AT, 2, 0, 16 * G, MEM_COMMIT, PAGE_READONLY | PAGE_NOCACHE},
    {FIXED, 3, 2 * GIB, 8 * GIB, MEM_RESERVE, PAGE_READWRITE},
    {FIXED, 4, 10 * GIB + 0x1234, 3 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE},
    {AT, 3, G, 2 * G, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD},
    {AT, 3, 2 * G, 6 * G, MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 3, 2 * G, 6 * G, 0, 0},
    {FREE, 3, 0, 0, MEM_RELEASE, 0},
    {NEW, 5, 0, 8 * GIB, MEM_RESERVE, PAGE_READWRITE}, /* sparse reservation path */
    {AT, 5, GIB, 16 * PG, MEM_COMMIT, PAGE_READWRITE},
    {AT, 5, 5 * GIB + 3 * PG, 2 * G, MEM_COMMIT, PAGE_READONLY},
    {TOUCH, 5, GIB, 16 * PG, 0, 0},
    {PROTECT, 5, GIB + PG, 2 * PG, 0, PAGE_NOACCESS},
    {FREE, 5, GIB, 8 * PG, MEM_DECOMMIT, 0},
    {FREE, 5, 0, 0, MEM_DECOMMIT, 0},
    {AT, 5, 7 * GIB, 4 * PG, MEM_COMMIT, PAGE_READWRITE},
    {FREE, 5, 0, 0, MEM_RELEASE, 0},
    {NEW, 6, 0, 32 * PG, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE},
    {AT, 6, 2 * PG, 20 * PG, MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 6, 2 * PG, 20 * PG, 0, 0},
    {PROTECT, 6, 4 * PG, 4 * PG, 0, PAGE_READONLY},
    {FREE, 6, 3 * PG, 2 * PG, MEM_DECOMMIT, 0},
    {FREE, 6, 0, 0, MEM_RELEASE, 0},
    /* the neighbours: a NUMA allocation born whole or not at all; offered pages made
     * inaccessible, or left as they were (the reset undone); reclaimed, or left offered */
    {NUMA, 6, 0, 16 * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 6, 0, 16 * PG, 0, 0},
    {OFFER, 6, 2 * PG, 6 * PG, 0, 0},
    {RECLAIM, 6, 0, 16 * PG, 0, 0},
    {DISCARD, 6, 8 * PG, 4 * PG, 0, 0},
    {OFFER, 1, 0, 0x12000, 0, 0},
    {RECLAIM, 1, PG, 0x10000, 0, 0},
    {FREE, 6, 0, 0, MEM_RELEASE, 0},
    {FREE, 1, 0, 0, MEM_RELEASE, 0},
    {FREE, 0, 0, 0, MEM_RELEASE, 0},
    {FREE, 2, 0, 0, MEM_RELEASE, 0},
    {FREE, 4, 0, 0, MEM_RELEASE, 0},
};
#define NFIXED (sizeof fixed_script / sizeof fixed_script[0])

/* Sections, views and placeholders. The area is the hole + 12 GiB (AREA_SIZE walked whole by
 * the snapshot); handle slots 0-3. */
#define AREA      ((size_t)12 << 30)
#define AREA_SIZE (64 * G)
static const op section_script[] = {
    {SEC, 0, 0, 8 * G, SEC_COMMIT, PAGE_READWRITE, .h = 0},
    {VIEW, 0, 0, 8 * G, FILE_MAP_WRITE, 0, .h = 0},
    {TOUCH, 0, 0, 8 * G, 0, 0},
    {VIEW, 1, 4 * G, 4 * G, FILE_MAP_READ, 0, .h = 0, .sec = 2 * G},
    {PROTECT, 0, G, 2 * G, 0, PAGE_READONLY},
    {PROTECT, 0, 0, 2 * G, 0, PAGE_WRITECOPY},
    {TOUCH, 0, 0, 2 * G, 0, 0}, /* private copies of every 7th page */
    {PROTECT, 0, 0, 4 * G, 0, PAGE_READWRITE},
    {PROTECT, 1, 0, G, 0, PAGE_NOACCESS},
    {FLUSH, 0, 0, 8 * G, 0, 0},
    {VIEW, 6, 0, 4 * G, FILE_MAP_COPY, 0, .h = 0, .sec = 4 * G}, /* private copies */
    {TOUCH, 6, 0, 4 * G, 0, 0},
    {PROTECT, 6, 0, 2 * G, 0, PAGE_READONLY},
    {UNMAP, 6, 0, 0, 0, 0},
    {UNMAP, 1, 0, 0, 0, 0},
    {SEC, 0, 1, 16 * G, SEC_RESERVE, PAGE_READWRITE, .h = 1, .sec = 1},
    {OPEN, 0, 0, 0, FILE_MAP_ALL_ACCESS, 0, .h = 2},
    {VIEW, 2, 8 * G, 16 * G, FILE_MAP_WRITE, 0, .h = 1},
    {VIEW, 3, 0, 8 * G, FILE_MAP_READ, 0, .h = 2, .sec = 8 * G},
    {AT, 2, 2 * G, 8 * G, MEM_COMMIT, PAGE_READWRITE}, /* shows in view 3 too */
    {TOUCH, 2, 0, 16 * G, 0, 0},
    {PROTECT, 2, 9 * G, G, 0, PAGE_NOACCESS},
    {AT, 3, 4 * G, 4 * G, MEM_COMMIT, PAGE_READONLY}, /* through a read-only view */
    {CLOSE, 0, 0, 0, 0, 0, .h = 1},
    {FREE, 2, 0, 0, MEM_RELEASE, 0}, /* refused: a view */
    {CLOSE, 0, 0, 0, 0, 0, .h = 2},
    {UNMAP, 2, 0, 0, 0, 0},
    {UNMAP, 3, 0, 0, 0, 0}, /* the named section dies */
    {PH, 0, 16 * G, 16 * G, 0, 0},
    {AFREE, 0, 16 * G, 4 * G, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER, 0},
    {AFREE, 0, 24 * G, 4 * G, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER, 0},
    {SEC, 0, 0, 4 * G, SEC_COMMIT, PAGE_READWRITE, .h = 3},
    {MAP3, 4, 16 * G, 4 * G, MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, .h = 3},
    {TOUCH, 4, 0, 4 * G, 0, 0},
    {MAP3, 5, 24 * G, 4 * G, MEM_REPLACE_PLACEHOLDER, PAGE_READONLY, .h = 3},
    {UNMAP, 4, 0, 0, MEM_PRESERVE_PLACEHOLDER, 0},
    {REPL, 6, 20 * G, 4 * G, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER | MEM_COMMIT, PAGE_READWRITE},
    {TOUCH, 6, 0, 4 * G, 0, 0},
    {PROTECT, 6, G, G, 0, PAGE_READONLY},
    {FREE, 6, 0, 4 * G, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER, 0},
    {UNMAP, 5, 0, 0, MEM_PRESERVE_PLACEHOLDER, 0},
    {AFREE, 0, 16 * G, 16 * G, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS, 0},
    {REPL, 6, 16 * G, 16 * G, MEM_RESERVE | MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE},
    {AT, 6, 3 * G, G, MEM_COMMIT, PAGE_READWRITE},
    {FREE, 6, 0, 0, MEM_RELEASE, 0},
    {CLOSE, 0, 0, 0, 0, 0, .h = 3},
    {CLOSE, 0, 0, 0, 0, 0, .h = 0},
    {UNMAP, 0, 0, 0, 0, 0},
};
#define NSECTION (sizeof section_script / sizeof section_script[0])

static const op *script; /* the script being swept */
static size_t nops;
#define NSLOT 8

static char *slot[NSLOT];
static size_t slot_size[NSLOT];
#define NHANDLE 4
static HANDLE hslot[NHANDLE];
static char section_name[64];

/* ---- state snapshots --------------------------------------------------------------------------
 */

typedef struct snap {
    char text[1 << 16];
    size_t len;
    wvm_stats st;
    int fds; /* open descriptors (compared before/after a failed op only: some open lazily) */
} snap;

static void put(snap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(snap *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->text + s->len, sizeof s->text - s->len, fmt, ap);
    va_end(ap);
    if (n > 0 && s->len + (size_t)n < sizeof s->text)
        s->len += (size_t)n;
}

static int readable(DWORD p)
{
    if (p & PAGE_GUARD)
        return 0;
    p &= 0xff;
    return p == PAGE_READONLY || p == PAGE_READWRITE || p == PAGE_EXECUTE_READ ||
           p == PAGE_EXECUTE_READWRITE || p == PAGE_WRITECOPY || p == PAGE_EXECUTE_WRITECOPY;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Whether the file that stands for section_name is in the per-user directory. Only this
 * process's own name is looked at: the directory is shared by every process of the user (the
 * other variants of this sweep under ctest -j, other tests), so its entry count is not this
 * process's state. Files are made unnamed (O_TMPFILE) and linked under the name's hash, so the
 * name's file is the only entry a failed operation of this script could leave behind. */
static int own_name_exists(void)
{
    wvm_secname n;
    char path[128];
    cr_assert_eq(wvm__secname_a(section_name, &n), 0);
    snprintf(path, sizeof path, "/dev/shm/winvmem-%u/%s", (unsigned)geteuid(), n.file);
    wvm__secname_free(&n);
    return access(path, F_OK) == 0;
}

static void put_region(snap *s, char *p, char *origin, const MEMORY_BASIC_INFORMATION *m)
{
    put(s, " [+%zx %zx %lx %lx %lx %lx", (size_t)(p - origin), (size_t)m->RegionSize,
        (unsigned long)m->State, (unsigned long)m->Protect, (unsigned long)m->AllocationProtect,
        (unsigned long)m->Type);
    if (m->State != MEM_FREE && (char *)m->AllocationBase != p)
        put(s, " @+%zx", (size_t)(p - (char *)m->AllocationBase));
    if (m->State == MEM_COMMIT && readable(m->Protect)) {
        unsigned sum = 0;
        size_t step = m->RegionSize / 64 > PG ? m->RegionSize / 64 / PG * PG : PG;
        for (size_t o = 0; o < m->RegionSize; o += step)
            sum = sum * 31 + (unsigned char)p[o] + (unsigned char)p[o + PG - 1];
        put(s, " sum %x", sum);
    }
    put(s, "]");
}

/* Every region of every live slot (offsets relative to the slot), a checksum of each readable
 * committed region (at most 64 pages sampled), and the library's own counters. */
static void take(snap *s)
{
    s->len = 0;
    s->text[0] = 0;
    for (int i = 0; i < NSLOT - 1; i++) {
        if (!slot[i])
            continue;
        MEMORY_BASIC_INFORMATION m;
        put(s, "slot %d:", i);
        for (char *p = slot[i]; VirtualQuery(p, &m, sizeof m); p += m.RegionSize) {
            if (m.AllocationBase != slot[i] || m.State == MEM_FREE)
                break;
            put_region(s, p, slot[i], &m);
        }
        put(s, "\n");
    }
    if (script == section_script) { /* the area, free regions too; handles; names */
        char *area = slot[NSLOT - 1] + AREA, *p = area;
        MEMORY_BASIC_INFORMATION m;
        put(s, "area:");
        while (p < area + AREA_SIZE && VirtualQuery(p, &m, sizeof m)) {
            if ((char *)m.BaseAddress + m.RegionSize > area + AREA_SIZE)
                m.RegionSize = (size_t)(area + AREA_SIZE - p);
            put_region(s, p, area, &m);
            p += m.RegionSize;
        }
        put(s, "\nhandles:");
        for (int i = 0; i < NHANDLE; i++)
            put(s, " %d", hslot[i] != NULL);
        put(s, "\nname: %s\n", own_name_exists() ? "linked" : "absent");
    }
    s->fds = count_entries("/proc/self/fd");
    memset(&s->st, 0, sizeof s->st);
    s->st.version = WVM_STATS_VERSION;
    s->st.size = sizeof s->st;
    cr_assert_eq(wvm_stats_get(&s->st), 0);
}

static void same(const snap *a, const snap *b, const char *what, size_t k, uint64_t n, int err)
{
    if (strcmp(a->text, b->text))
        fprintf(stderr, "expected:\n%sgot:\n%s", a->text, b->text);
    cr_assert_str_eq(a->text, b->text, "op %zu, call %llu fails with errno %d: %s differs\n", k,
                     (unsigned long long)n, err, what);
    if (a->st.reserved_bytes != b->st.reserved_bytes ||
        a->st.committed_bytes != b->st.committed_bytes)
        fprintf(stderr, "expected reserved %llu committed %llu live %llu, got %llu %llu %llu\n",
                (unsigned long long)a->st.reserved_bytes, (unsigned long long)a->st.committed_bytes,
                (unsigned long long)a->st.live_allocations,
                (unsigned long long)b->st.reserved_bytes, (unsigned long long)b->st.committed_bytes,
                (unsigned long long)b->st.live_allocations);
    cr_assert_eq(a->st.reserved_bytes, b->st.reserved_bytes, "op %zu n %llu: reserved bytes", k,
                 (unsigned long long)n);
    cr_assert_eq(a->st.committed_bytes, b->st.committed_bytes, "op %zu n %llu: committed", k,
                 (unsigned long long)n);
    cr_assert_eq(a->st.live_allocations, b->st.live_allocations, "op %zu n %llu: allocations", k,
                 (unsigned long long)n);
    const uint64_t *x = &a->st.sections_live, *y = &b->st.sections_live;
    for (int i = 0; i < 5; i++) /* sections, views, view bytes, placeholders, handles */
        cr_assert_eq(x[i], y[i], "op %zu n %llu: stats field %d of version 2: %llu, expected %llu",
                     k, (unsigned long long)n, i, (unsigned long long)y[i],
                     (unsigned long long)x[i]);
}

/* ---- running ops ---------------------------------------------------------------------------- */

/* Writes every 7th page of the range that is committed, writable and not a guard page. */
static void touch(char *p, size_t size)
{
    MEMORY_BASIC_INFORMATION m;
    for (size_t o = 0; o < size; o += PG * 7)
        if (VirtualQuery(p + o, &m, sizeof m) && m.State == MEM_COMMIT &&
            (m.Protect == PAGE_READWRITE || m.Protect == PAGE_EXECUTE_READWRITE ||
             m.Protect == PAGE_WRITECOPY || m.Protect == PAGE_EXECUTE_WRITECOPY))
            p[o] = (char)(o / PG + 1);
}

/* Runs op k; returns 1 on success, 0 on failure (GetLastError tells why). */
static int run(size_t k)
{
    const op *o = &script[k];
    DWORD old;
    switch (o->k) {
    case NEW: {
        void *p = VirtualAlloc(NULL, o->size, o->type, o->prot);
        if (p) {
            slot[o->slot] = p;
            slot_size[o->slot] = o->size;
        }
        return p != NULL;
    }
    case FIXED: {
        void *p = VirtualAlloc(slot[7] + o->off, o->size, o->type, o->prot);
        if (p) {
            slot[o->slot] = p;
            slot_size[o->slot] = o->size;
        }
        return p != NULL;
    }
    case AT:
        return VirtualAlloc(slot[o->slot] + o->off, o->size, o->type, o->prot) != NULL;
    case FREE: {
        BOOL r = VirtualFree(slot[o->slot] + o->off, o->size, o->type);
        if (!r && o->type == MEM_RELEASE && getenv("WINVMEM_FI_VERBOSE")) {
            DWORD e = GetLastError();
            MEMORY_BASIC_INFORMATION m;
            VirtualQuery(slot[o->slot], &m, sizeof m);
            fprintf(stderr, "release of %p failed (%lu): base %p abase %p size 0x%zx state 0x%lx\n",
                    (void *)slot[o->slot], (unsigned long)e, m.BaseAddress, m.AllocationBase,
                    m.RegionSize, (unsigned long)m.State);
            SetLastError(e);
        }
        if (r && (o->type & MEM_RELEASE))
            slot[o->slot] = NULL;
        return r;
    }
    case SEC:
        hslot[o->h] = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, o->prot | o->type,
                                         (DWORD)((uint64_t)o->size >> 32), (DWORD)o->size,
                                         o->sec ? section_name : NULL);
        return hslot[o->h] != NULL;
    case OPEN:
        hslot[o->h] = OpenFileMappingA(o->type, FALSE, section_name);
        return hslot[o->h] != NULL;
    case CLOSE: {
        BOOL r = CloseHandle(hslot[o->h]);
        if (r)
            hslot[o->h] = NULL;
        return r;
    }
    case VIEW:
    case MAP3:
    case REPL: {
        char *at = o->off ? slot[NSLOT - 1] + AREA + o->off : NULL;
        void *p = o->k == VIEW   ? MapViewOfFileEx(hslot[o->h], o->type, (DWORD)(o->sec >> 32),
                                                   (DWORD)o->sec, o->size, at)
                  : o->k == MAP3 ? MapViewOfFile3(hslot[o->h], GetCurrentProcess(), at, o->sec,
                                                  o->size, o->type, o->prot, NULL, 0)
                                 : VirtualAlloc2(NULL, at, o->size, o->type, o->prot, NULL, 0);
        if (p) {
            slot[o->slot] = p;
            slot_size[o->slot] = o->size;
        }
        return p != NULL;
    }
    case UNMAP: {
        BOOL r = UnmapViewOfFile2(GetCurrentProcess(), slot[o->slot], o->type);
        if (r)
            slot[o->slot] = NULL;
        return r;
    }
    case FLUSH:
        return FlushViewOfFile(slot[o->slot] + o->off, o->size);
    case PH:
        return VirtualAlloc2(NULL, slot[NSLOT - 1] + AREA + o->off, o->size,
                             MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0) != NULL;
    case AFREE:
        return VirtualFree(slot[NSLOT - 1] + AREA + o->off, o->size, o->type);
    case PROTECT:
        return VirtualProtect(slot[o->slot] + o->off, o->size, o->prot, &old);
    case TOUCH:
        touch(slot[o->slot] + o->off, o->size);
        return 1;
    case LOCK:
        return VirtualLock(slot[o->slot] + o->off, o->size);
    case UNLOCK:
        return VirtualUnlock(slot[o->slot] + o->off, o->size);
    case NUMA: {
        void *p = VirtualAllocExNuma(GetCurrentProcess(), NULL, o->size, o->type, o->prot, 0);
        if (p) {
            slot[o->slot] = p;
            slot_size[o->slot] = o->size;
        }
        return p != NULL;
    }
    case OFFER:
    case RECLAIM:
    case DISCARD: { /* these return the error; the harness reads it as the last error */
        char *a = slot[o->slot] + o->off;
        DWORD e = o->k == OFFER     ? OfferVirtualMemory(a, o->size, VmOfferPriorityNormal)
                  : o->k == RECLAIM ? ReclaimVirtualMemory(a, o->size)
                                    : DiscardVirtualMemory(a, o->size);
        SetLastError(e);
        return e == ERROR_SUCCESS;
    }
    }
    return 0;
}

static DWORD windows_error(int err, enum kind k)
{
    switch (err) {
    case EPERM: /* a section's object (its descriptor) refused: access denied */
        return k == SEC || k == OPEN ? ERROR_ACCESS_DENIED : ERROR_NOACCESS;
    default: /* ENOMEM, EAGAIN */
        return ERROR_NOT_ENOUGH_MEMORY;
    }
}

static snap *ref;
static int ref_ok[256];
static DWORD ref_err[256];

static void make_hole(void)
{
    void *hole = VirtualAlloc(NULL, 16 * GIB, MEM_RESERVE, PAGE_NOACCESS);
    cr_assert(hole && VirtualFree(hole, 0, MEM_RELEASE));
    slot[7] = hole;
}

static void release_all(void)
{
    MEMORY_BASIC_INFORMATION m;
    for (int i = 0; i < NSLOT - 1; i++)
        if (slot[i]) {
            if (VirtualQuery(slot[i], &m, sizeof m) && m.Type == MEM_MAPPED)
                UnmapViewOfFile(slot[i]);
            else
                VirtualFree(slot[i], 0, MEM_RELEASE);
            slot[i] = NULL;
        }
    for (int i = 0; i < NHANDLE; i++)
        if (hslot[i]) {
            CloseHandle(hslot[i]);
            hslot[i] = NULL;
        }
    char *area = slot[NSLOT - 1] + AREA; /* placeholders left in the area */
    for (char *p = area; p < area + AREA_SIZE && VirtualQuery(p, &m, sizeof m); p += m.RegionSize)
        if (m.State == MEM_RESERVE && m.AllocationBase == p)
            VirtualFree(p, 0, MEM_RELEASE);
}

/* A clean pass: each op's result and the state after it. */
static void reference(int must_succeed)
{
    make_hole();
    for (size_t k = 0; k < nops; k++) {
        SetLastError(0);
        ref_ok[k] = run(k);
        ref_err[k] = GetLastError();
        if (getenv("WINVMEM_FI_VERBOSE"))
            fprintf(stderr,
                    "  ref op %zu (kind %d slot %d off 0x%zx size 0x%zx type 0x%lx prot "
                    "0x%lx): ok %d error %lu\n",
                    k, script[k].k, script[k].slot, script[k].off, script[k].size,
                    (unsigned long)script[k].type, (unsigned long)script[k].prot, ref_ok[k],
                    (unsigned long)ref_err[k]);
        cr_assert(ref_ok[k] || !must_succeed, "op %zu fails without injection (error %lu)", k,
                  (unsigned long)ref_err[k]);
        take(&ref[k]);
    }
    release_all();
}

/* Fails the 1st, 2nd, ... fallible system call of every op of ops[0..n) in turn. */
static void sweep(int err, const op *ops, size_t n_ops, int must_succeed, unsigned long *total)
{
    script = ops;
    nops = n_ops;
    cr_assert(nops <= 256);
    ref = calloc(nops, sizeof *ref);
    cr_assert(ref);
    reference(must_succeed);
    make_hole();
    static snap before, after;
    unsigned long injected = 0, failed = 0, recovered = 0;
    for (size_t k = 0; k < nops; k++) {
        if (script[k].k == TOUCH) {
            run(k);
            continue;
        }
        take(&before);
        for (uint64_t n = 1;; n++) {
            char *saved[NSLOT];
            HANDLE hsaved[NHANDLE];
            memcpy(saved, slot, sizeof slot);
            memcpy(hsaved, hslot, sizeof hslot);
            uint64_t c0 = wvm__prim_calls();
            wvm__prim_inject_after(n, err);
            SetLastError(0xdead);
            int ok = run(k);
            DWORD e = GetLastError();
            uint64_t used = wvm__prim_calls() - c0;
            wvm__prim_inject_after(0, 0);
            cr_assert_eq(wvm_check_invariants(), 0, "op %zu n %llu: invariants", k,
                         (unsigned long long)n);
            cr_assert_eq(wvm__alloc_locks_held, 0, "op %zu n %llu: %d allocation locks held", k,
                         (unsigned long long)n, wvm__alloc_locks_held);
            take(&after);
            if (getenv("WINVMEM_FI_VERBOSE"))
                fprintf(stderr,
                        "  op %zu (kind %d type 0x%lx prot 0x%lx size 0x%zx) n %llu: ok %d "
                        "error %lu calls %llu\n",
                        k, script[k].k, (unsigned long)script[k].type,
                        (unsigned long)script[k].prot, script[k].size, (unsigned long long)n, ok,
                        (unsigned long)e, (unsigned long long)used);
            if (used < n) { /* the injected failure was not reached: a clean run */
                cr_assert_eq(ok, ref_ok[k], "op %zu: clean result %d, reference %d (error %lu)", k,
                             ok, ref_ok[k], (unsigned long)e);
                same(&ref[k], &after, "the state after a clean run", k, n, err);
                break;
            }
            injected++;
            if (ok) { /* a fallback path absorbed the failure: the state must be the clean one */
                recovered++;
                cr_assert(ref_ok[k], "op %zu succeeds only when call %llu fails", k,
                          (unsigned long long)n);
                same(&ref[k], &after, "the state after a call that absorbed the failure", k, n,
                     err);
                break;
            }
            failed++;
            cr_assert(e == windows_error(err, script[k].k) || (!ref_ok[k] && e == ref_err[k]),
                      "op %zu, call %llu failed with errno %d: error %lu, expected %lu", k,
                      (unsigned long long)n, err, (unsigned long)e,
                      (unsigned long)windows_error(err, script[k].k));
            same(&before, &after, "the state after the failed call", k, n, err);
            cr_assert_eq(before.fds, after.fds,
                         "op %zu, call %llu failed: %d descriptors open, %d before", k,
                         (unsigned long long)n, after.fds, before.fds);
            memcpy(slot, saved, sizeof slot);
            memcpy(hslot, hsaved, sizeof hslot);
        }
    }
    release_all();
    free(ref);
    if (total)
        *total += injected;
    else
        fprintf(stderr,
                "fault_injection errno %d: %zu ops, %lu injected failures: %lu failed cleanly, "
                "%lu absorbed by a fallback\n",
                err, nops, injected, failed, recovered);
    cr_assert(total || injected > 20, "the script made too few system calls to be a test");
}

/* A random script over slots 0-3 (seeded, reproducible): reservations of 1-96 pages, commits,
 * decommits, protections and touches at random places, also across the ends. */
static size_t random_script(unsigned seed, op *out, size_t cap)
{
    static const DWORD prots[] = {PAGE_NOACCESS,
                                  PAGE_READONLY,
                                  PAGE_READWRITE,
                                  PAGE_EXECUTE_READ,
                                  PAGE_EXECUTE_READWRITE,
                                  PAGE_READWRITE | PAGE_GUARD,
                                  PAGE_READONLY | PAGE_NOCACHE};
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
#define RND(n) ((x = x * 6364136223846793005ull + 1442695040888963407ull), (x >> 33) % (n))
    size_t pages[4] = {0};
    size_t n = 0;
    while (n < cap) {
        int s = (int)RND(4);
        DWORD prot = prots[RND(sizeof prots / sizeof prots[0])];
        if (!pages[s]) {
            pages[s] = 1 + RND(96);
            DWORD t = RND(3) ? MEM_RESERVE : MEM_RESERVE | MEM_COMMIT;
            if (!RND(8))
                t |= MEM_WRITE_WATCH;
            out[n++] = (op){NEW, s, 0, pages[s] * PG, t, prot};
            continue;
        }
        size_t off = RND(pages[s] + 4) * PG, len = (1 + RND(32)) * PG;
        switch (RND(9)) {
        case 0:
        case 1:
            out[n++] = (op){AT, s, off, len, MEM_COMMIT, prot};
            break;
        case 2:
            out[n++] = (op){FREE, s, off, len, MEM_DECOMMIT, 0};
            break;
        case 3:
            out[n++] = (op){FREE, s, 0, 0, RND(2) ? MEM_DECOMMIT : MEM_RELEASE, 0};
            if (out[n - 1].type == MEM_RELEASE)
                pages[s] = 0;
            break;
        case 4:
        case 5:
            out[n++] = (op){PROTECT, s, off, len, 0, prot};
            break;
        case 6:
            out[n++] = (op){RND(2) ? LOCK : UNLOCK, s, off, (1 + RND(8)) * PG, 0, 0};
            break;
        default:
            out[n++] = (op){TOUCH, s, 0, pages[s] * PG, 0, 0};
            break;
        }
    }
#undef RND
    return n;
}

static int enabled(void)
{
    /* Without WVM_FAULT_INJECTION the hook is a no-op: the next call does not fail. A change
     * of protection always needs the kernel. */
    DWORD old;
    char *p = VirtualAlloc(NULL, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    cr_assert(p);
    wvm__prim_inject_after(1, ENOMEM);
    int on = !VirtualProtect(p, PG, PAGE_READONLY, &old);
    wvm__prim_inject_after(0, 0);
    VirtualFree(p, 0, MEM_RELEASE);
    return on;
}

Test(fault_injection, enomem)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build (use the debug or asan-ubsan preset)");
    sweep(ENOMEM, fixed_script, NFIXED, 1, NULL);
}

Test(fault_injection, eagain)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    sweep(EAGAIN, fixed_script, NFIXED, 1, NULL);
}

Test(fault_injection, sections_enomem)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    snprintf(section_name, sizeof section_name, "Local\\wvm-fi-%d", (int)getpid());
    sweep(ENOMEM, section_script, NSECTION, 0, NULL);
}

Test(fault_injection, sections_eperm)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    snprintf(section_name, sizeof section_name, "Local\\wvm-fi-%d", (int)getpid());
    sweep(EPERM, section_script, NSECTION, 0, NULL);
}

Test(fault_injection, eperm)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    sweep(EPERM, fixed_script, NFIXED, 1, NULL);
}

/* WINVMEM_FI_SCRIPTS random scripts of 60 ops (default 40; a local long run: 2000). */
Test(fault_injection, random_scripts, .timeout = 600)
{
    if (!enabled())
        cr_skip_test("not a WVM_FAULT_INJECTION build");
    const char *env = getenv("WINVMEM_FI_SCRIPTS");
    unsigned count = env ? (unsigned)atoi(env) : 40;
    unsigned long injected = 0;
    static op ops[60];
    for (unsigned seed = 0; seed < count; seed++) {
        size_t n = random_script(seed, ops, 60);
        if (getenv("WINVMEM_FI_VERBOSE"))
            fprintf(stderr, "fault_injection: random script %u\n", seed);
        sweep(seed % 3 == 0 ? EAGAIN : ENOMEM, ops, n, 0, &injected);
    }
    fprintf(stderr, "fault_injection: %u random scripts of 60 ops, %lu injected failures\n", count,
            injected);
    cr_assert_gt(injected, count, "too few system calls to be a test");
}
