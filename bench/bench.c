/* The winvmem benchmark, written against the Windows API. One source, two builds:
 *   natively, against winvmem through <winvmem/win32.h> (bench_winvmem, linked statically);
 *   with x86_64-w64-mingw32-gcc against <windows.h>, run under wine (Wine's implementation).
 * floor.c performs the bare Linux system calls of the same cases; run.sh runs all three and
 * prints the table. Output format and shared parameters: harness.h. */
#ifdef _WIN32
#include <windows.h>
#define BENCH_VARIANT "wine"
#else
#include <winvmem/win32.h>
#include <winvmem/stats.h>
#define BENCH_VARIANT "winvmem"
#endif
#include "harness.h"

static void die(const char *what, const char *key)
{
    fprintf(stderr, "bench(%s): %s failed in case %s: error %lu\n", BENCH_VARIANT, what, key,
            (unsigned long)GetLastError());
    exit(1);
}

static volatile uintptr_t sink; /* keeps query results alive */

/* ---- system calls per operation (winvmem only: its statistics count them) ----------------- */

#ifdef _WIN32
typedef int syscall_snapshot;
static void snapshot(syscall_snapshot *s)
{
    *s = 0;
}
static void note_syscalls(const char *key, const syscall_snapshot *before, double ops) {}
#else
typedef wvm_stats syscall_snapshot;
static void snapshot(syscall_snapshot *s)
{
    s->version = WVM_STATS_VERSION;
    s->size = sizeof *s;
    if (wvm_stats_get(s) != 0)
        memset(s, 0, sizeof *s);
}
static void note_syscalls(const char *key, const syscall_snapshot *before, double ops)
{
    static const char *const names[WVM_SYS_KINDS] = {"mmap",    "munmap", "mprotect",
                                                     "madvise", "mlock",  "other"};
    syscall_snapshot now;
    char text[256];
    int len = 0;
    snapshot(&now);
    for (int k = 0; k < WVM_SYS_KINDS; k++) {
        double per = (double)(now.syscalls[k] - before->syscalls[k]) / ops;
        if (per > 0)
            len += snprintf(text + len, sizeof text - (size_t)len, " %s=%.3g", names[k], per);
    }
    bh_note(key, "syscalls/op:%s", len ? text : " none");
}
#endif

/* ---- the cases ------------------------------------------------------------------------------- */

static void cycle64k(void)
{
    char *p = VirtualAlloc(NULL, BH_SMALL, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p)
        die("VirtualAlloc", "alloc64k or threads2");
    *(volatile char *)p = 1;
    if (!VirtualFree(p, 0, MEM_RELEASE))
        die("VirtualFree", "alloc64k or threads2");
}

static void case_alloc64k(void)
{
    syscall_snapshot s;
    snapshot(&s);
    BH_TIMED("alloc64k", bh_reps(201), 100, cycle64k());
    note_syscalls("alloc64k", &s, bh_reps(201) * 100.0);
}

static void case_reserve1m(void)
{
    syscall_snapshot s;
    snapshot(&s);
    BH_TIMED("reserve1m", bh_reps(201), 100, {
        void *p = VirtualAlloc(NULL, BH_RESERVE, MEM_RESERVE, PAGE_NOACCESS);
        if (!p)
            die("VirtualAlloc", "reserve1m");
        if (!VirtualFree(p, 0, MEM_RELEASE))
            die("VirtualFree", "reserve1m");
    });
    note_syscalls("reserve1m", &s, bh_reps(201) * 100.0);
}

static void case_commitpage(void)
{
    char *r = VirtualAlloc(NULL, BH_COMMIT_SPAN, MEM_RESERVE, PAGE_NOACCESS);
    uint64_t seed = BH_SEED;
    syscall_snapshot s;
    if (!r)
        die("VirtualAlloc", "commitpage");
    snapshot(&s);
    BH_TIMED("commitpage", bh_reps(201), 100, {
        char *pg = r + bh_rand(&seed) % (BH_COMMIT_SPAN / BH_PAGE) * BH_PAGE;
        if (!VirtualAlloc(pg, BH_PAGE, MEM_COMMIT, PAGE_READWRITE))
            die("VirtualAlloc", "commitpage");
        *(volatile char *)pg = 1;
        if (!VirtualFree(pg, BH_PAGE, MEM_DECOMMIT))
            die("VirtualFree", "commitpage");
    });
    note_syscalls("commitpage", &s, bh_reps(201) * 100.0);
    VirtualFree(r, 0, MEM_RELEASE);
}

static void case_protect(void)
{
    char *b = VirtualAlloc(NULL, BH_PROTECT_SPAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    uint64_t seed = BH_SEED;
    syscall_snapshot s;
    if (!b)
        die("VirtualAlloc", "protect");
    memset(b, 1, BH_PROTECT_SPAN); /* every page present: the toggle must rewrite its PTE */
    snapshot(&s);
    BH_TIMED("protect", bh_reps(201), 100, {
        char *pg = b + bh_rand(&seed) % (BH_PROTECT_SPAN / BH_PAGE) * BH_PAGE;
        DWORD old;
        if (!VirtualProtect(pg, BH_PAGE, PAGE_READONLY, &old))
            die("VirtualProtect", "protect");
        if (!VirtualProtect(pg, BH_PAGE, PAGE_READWRITE, &old))
            die("VirtualProtect", "protect");
    });
    note_syscalls("protect", &s, bh_reps(201) * 100.0);
    VirtualFree(b, 0, MEM_RELEASE);
}

/* Visits every region from address 0 to the top of the user address space; returns how many. */
static long walk_address_space(void)
{
    SYSTEM_INFO si;
    MEMORY_BASIC_INFORMATION m;
    uintptr_t a = 0;
    long n = 0;
    GetSystemInfo(&si);
    while (a < (uintptr_t)si.lpMaximumApplicationAddress) {
        if (!VirtualQuery((void *)a, &m, sizeof m))
            break;
        a = (uintptr_t)m.BaseAddress + m.RegionSize;
        n++;
    }
    return n;
}

/* Returns how many query results disagree with what was allocated (should be 0). */
static long check_queries(char **regions, long n)
{
    uint64_t seed = BH_SEED;
    long bad = 0;
    for (int i = 0; i < 1000; i++) {
        size_t off = bh_rand(&seed) % BH_REGION;
        char *a = regions[bh_rand(&seed) % (uint64_t)n] + off;
        MEMORY_BASIC_INFORMATION m;
        DWORD want = off < BH_PAGE ? MEM_COMMIT : MEM_RESERVE;
        if (!VirtualQuery(a, &m, sizeof m) || m.State != want || m.Type != MEM_PRIVATE ||
            (char *)m.AllocationBase != a - off)
            bad++;
    }
    return bad;
}

/* Library memory: winvmem's own count of its metadata; for Wine the resident set beyond the
 * pages the case touched. */
static int64_t library_memory(void)
{
#ifdef _WIN32
    return (int64_t)bh_rss_bytes();
#else
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    if (wvm_stats_get(&st) != 0)
        return -1;
    return (int64_t)st.metadata_bytes;
#endif
}

/* n live 64 KiB reservations, each with its first page committed: create them, query random
 * addresses among them, walk the whole address space, release them. */
static void case_regions(long n, const char *tag)
{
    char key[3][32];
    char **regions = malloc(sizeof(char *) * (size_t)n);
    char **addrs = malloc(sizeof(char *) * BH_QUERY_ADDRS);
    uint64_t seed = BH_SEED;
    long made = 0;
    syscall_snapshot s;
    snprintf(key[0], sizeof key[0], "create_%s", tag);
    snprintf(key[1], sizeof key[1], "query_%s", tag);
    snprintf(key[2], sizeof key[2], "walk_%s", tag);

    memset(regions, 0, sizeof(char *) * (size_t)n); /* resident before the memory is measured */
    uint64_t rss0 = bh_rss_bytes();
    int64_t pte0 = bh_pte_bytes(), meta0 = library_memory();
    snapshot(&s);
    uint64_t t0 = bh_now_ns();
    for (; made < n; made++) {
        char *p = VirtualAlloc(NULL, BH_REGION, MEM_RESERVE, PAGE_READWRITE);
        if (!p)
            break;
        if (!VirtualAlloc(p, BH_PAGE, MEM_COMMIT, PAGE_READWRITE)) {
            VirtualFree(p, 0, MEM_RELEASE);
            break;
        }
        regions[made] = p;
    }
    if (made < n) {
        bh_note(key[0], "VirtualAlloc failed (error %lu) after %ld regions",
                (unsigned long)GetLastError(), made);
        for (int k = 0; k < 3; k++)
            bh_fail(key[k], made);
    } else {
        bh_result(key[0], (double)(bh_now_ns() - t0) / (double)n, "ns");
        note_syscalls(key[0], &s, (double)n);
        bh_region_memory(tag, n, rss0, pte0);
#ifndef _WIN32
        char mkey[32];
        snprintf(mkey, sizeof mkey, "meta_%s", tag);
        bh_result(mkey, (double)(library_memory() - meta0) / (double)n, "B");
#else
        (void)meta0;
#endif

        long bad = check_queries(regions, n);
        if (bad)
            bh_note(key[1], "WRONG: %ld of 1000 query results disagree with the allocations", bad);
        for (int i = 0; i < BH_QUERY_ADDRS; i++) {
            size_t off = bh_rand(&seed) % BH_REGION;
            addrs[i] = regions[bh_rand(&seed) % (uint64_t)n] + off;
        }
        snapshot(&s);
        BH_TIMED(key[1], bh_reps(101), 1000, {
            MEMORY_BASIC_INFORMATION m;
            if (!VirtualQuery(addrs[bh_i & (BH_QUERY_ADDRS - 1)], &m, sizeof m))
                die("VirtualQuery", key[1]);
            sink += m.RegionSize;
        });
        note_syscalls(key[1], &s, bh_reps(101) * 1000.0);

        long regions_seen = 0;
        BH_TIMED(key[2], bh_reps(11), 1, regions_seen = walk_address_space());
        bh_note(key[2], "%ld regions per walk", regions_seen);
    }
    for (long i = 0; i < made; i++)
        VirtualFree(regions[i], 0, MEM_RELEASE);
    free(regions);
    free(addrs);
}

/* 16 x 64 GiB reserved, 1,000 scattered pages committed and touched, each queried, all
 * released: total time, and library memory at the peak. */
static void case_tib(void)
{
    uintptr_t *pages = malloc(sizeof(uintptr_t) * BH_TIB_PAGES);
    int samples = bh_reps(21) < 5 ? 3 : bh_reps(21) / 2;
    double *t = malloc(sizeof(double) * (size_t)samples);
    uint64_t seed = BH_SEED;
    syscall_snapshot s;
    snapshot(&s);
    for (int rep = 0; rep < samples; rep++) {
        char *r[BH_TIB_COUNT];
        bh_tib_pages(&seed, pages);
        int64_t mem0 = library_memory();
        uint64_t t0 = bh_now_ns();
        for (int k = 0; k < BH_TIB_COUNT; k++) {
            r[k] = VirtualAlloc(NULL, BH_TIB_SIZE, MEM_RESERVE, PAGE_NOACCESS);
            if (!r[k]) {
                bh_note("tib_time", "VirtualAlloc(64 GiB) failed: error %lu",
                        (unsigned long)GetLastError());
                bh_fail("tib_time", k);
                bh_fail("tib_mem", k);
                return;
            }
        }
        for (int j = 0; j < BH_TIB_PAGES; j++) {
            char *pg = r[pages[j] >> 40] + (pages[j] & ((1ULL << 40) - 1));
            if (!VirtualAlloc(pg, BH_PAGE, MEM_COMMIT, PAGE_READWRITE))
                die("VirtualAlloc", "tib_time");
            *(volatile char *)pg = 1;
        }
        for (int j = 0; j < BH_TIB_PAGES; j++) {
            MEMORY_BASIC_INFORMATION m;
            if (!VirtualQuery(r[pages[j] >> 40] + (pages[j] & ((1ULL << 40) - 1)), &m, sizeof m))
                die("VirtualQuery", "tib_time");
            sink += m.State;
        }
        if (rep == 0) { /* the peak: everything reserved, every page committed */
            int64_t grew = library_memory() - mem0;
#ifdef _WIN32
            grew -= (int64_t)BH_TIB_PAGES * BH_PAGE;
#endif
            bh_result("tib_mem", (double)(grew < 0 ? 0 : grew), "B");
        }
        for (int k = 0; k < BH_TIB_COUNT; k++)
            if (!VirtualFree(r[k], 0, MEM_RELEASE))
                die("VirtualFree", "tib_time");
        t[rep] = (double)(bh_now_ns() - t0);
    }
    bh_result("tib_time", bh_median(t, samples), "ns");
    note_syscalls("tib_time", &s, samples);
    free(t);
    free(pages);
}

/* Continues a guard-page violation (the guard is gone: the access runs again); anything else
 * is not the benchmark's. */
static LONG WINAPI guard_continue(EXCEPTION_POINTERS *ep)
{
    return ep->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION
               ? EXCEPTION_CONTINUE_EXECUTION
               : EXCEPTION_CONTINUE_SEARCH;
}

/* A fragmented heap (issue 14): n one-page islands committed across a 2 GiB reservation and
 * written, every other one then made read-only (mode BH_ISL_READONLY) or left untouched and
 * made NOACCESS (BH_ISL_NOACCESS): every protection boundary is a kernel mapping split where
 * protections are mprotect's. Then a random page between two islands is committed, touched
 * and decommitted. A heap in this state is what a garbage collector works on after a while;
 * the cost must not grow with the number of islands. Alternating: also a random read-only or
 * NOACCESS island made read-write and back again (two VirtualProtect calls, "islprot_N" /
 * "islnaprot_N"), and the process's mapping count noted; NOACCESS: also a random NOACCESS
 * island made PAGE_GUARD | PAGE_READWRITE, touched (one guard-page violation, continued by a
 * vectored handler) and made NOACCESS again ("islguard_N"); NOACCESS with data: the same with
 * islands written before they are made NOACCESS ("isldna_N", "isldnaprot_N", "isldguard_N"). */
static void case_islands(long n, int alternate, const char *key)
{
    char *r = VirtualAlloc(NULL, BH_ISLAND_SPAN, MEM_RESERVE, PAGE_NOACCESS);
    size_t stride = BH_ISLAND_SPAN / (size_t)n;
    uint64_t seed = BH_SEED;
    syscall_snapshot s;
    long made = 0;
    int na = alternate == BH_ISL_NOACCESS || alternate == BH_ISL_NOACCESS_DATA;
    DWORD alt_prot = na ? PAGE_NOACCESS : PAGE_READONLY;
    if (!r)
        die("VirtualAlloc", key);
    for (; made < n; made++) {
        char *pg = r + (size_t)made * stride;
        DWORD old;
        if (!VirtualAlloc(pg, BH_PAGE, MEM_COMMIT, PAGE_READWRITE))
            break;
        if (alternate != BH_ISL_NOACCESS || !(made & 1))
            *(volatile char *)pg = 1; /* data (NOACCESS islands: only with BH_ISL_NOACCESS_DATA) */
        if (alternate && (made & 1) && !VirtualProtect(pg, BH_PAGE, alt_prot, &old))
            break;
    }
    if (made < n) {
        bh_note(key, "setting up the islands failed (error %lu) after %ld",
                (unsigned long)GetLastError(), made);
        bh_fail(key, made);
    } else {
        snapshot(&s);
        BH_TIMED(key, bh_reps(101), 20, {
            char *pg = r + bh_island_gap(&seed, n, stride);
            if (!VirtualAlloc(pg, BH_PAGE, MEM_COMMIT, PAGE_READWRITE))
                die("VirtualAlloc", key);
            *(volatile char *)pg = 1;
            if (!VirtualFree(pg, BH_PAGE, MEM_DECOMMIT))
                die("VirtualFree", key);
        });
        note_syscalls(key, &s, bh_reps(101) * 20.0);
    }
    char pkey[32], gkey[32];
    bh_island_prot_key(key, pkey, sizeof pkey);
    bh_island_guard_key(key, gkey, sizeof gkey);
    if (alternate && made < n) {
        bh_fail(pkey, made);
        if (na)
            bh_fail(gkey, made);
    } else if (alternate) {
        bh_note(key, "%ld kernel mappings in the process", bh_map_count());
        snapshot(&s);
        BH_TIMED(pkey, bh_reps(101), 20, {
            char *pg = r + (2 * (bh_rand(&seed) % (uint64_t)(n / 2)) + 1) * stride;
            DWORD old;
            if (!VirtualProtect(pg, BH_PAGE, PAGE_READWRITE, &old) ||
                !VirtualProtect(pg, BH_PAGE, alt_prot, &old))
                die("VirtualProtect", pkey);
        });
        note_syscalls(pkey, &s, bh_reps(101) * 20.0);
    }
    if (na && made == n) {
        PVOID h = AddVectoredExceptionHandler(1, guard_continue);
        if (!h)
            die("AddVectoredExceptionHandler", gkey);
        snapshot(&s);
        BH_TIMED(gkey, bh_reps(101), 20, {
            char *pg = r + (2 * (bh_rand(&seed) % (uint64_t)(n / 2)) + 1) * stride;
            DWORD old;
            if (!VirtualProtect(pg, BH_PAGE, PAGE_READWRITE | PAGE_GUARD, &old))
                die("VirtualProtect", gkey);
            (void)*(volatile char *)pg; /* the guard fires once, then the read runs */
            if (!VirtualProtect(pg, BH_PAGE, PAGE_NOACCESS, &old))
                die("VirtualProtect", gkey);
        });
        note_syscalls(gkey, &s, bh_reps(101) * 20.0);
        RemoveVectoredExceptionHandler(h);
    }
    if (!VirtualFree(r, 0, MEM_RELEASE))
        bh_note(key, "releasing the islands' reservation failed (error %lu)",
                (unsigned long)GetLastError());
}

/* ---- sections, views, placeholders --------------------------------------------------------- */

/* map + touch 1 byte + unmap a 64 KiB view of a committed section (made once). */
static void case_view64k(void)
{
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT, 0,
                                  BH_VIEW, NULL);
    if (!h)
        die("CreateFileMapping", "view64k");
    syscall_snapshot s;
    snapshot(&s);
    BH_TIMED("view64k", bh_reps(201), 100, {
        char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, BH_VIEW);
        if (!p)
            die("MapViewOfFile", "view64k");
        *(volatile char *)p = 1;
        if (!UnmapViewOfFile(p))
            die("UnmapViewOfFile", "view64k");
    });
    note_syscalls("view64k", &s, bh_reps(201) * 100.0);
    CloseHandle(h);
}

#ifdef _WIN32 /* Windows 10 1803+ exports; Wine 8.0 has no placeholders */
typedef PVOID(WINAPI *valloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, void *, ULONG);
typedef PVOID(WINAPI *map3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG, void *, ULONG);
static valloc2_fn pVirtualAlloc2;
static map3_fn pMapViewOfFile3;
#define VirtualAlloc2  pVirtualAlloc2
#define MapViewOfFile3 pMapViewOfFile3
#ifndef MEM_RESERVE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER  0x00040000
#define MEM_REPLACE_PLACEHOLDER  0x00004000
#define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#endif

/* The ring: a placeholder of twice the size, split in two, the same section mapped into both
 * halves (so a write past the end lands at the start), then both views unmapped (which
 * releases the halves). Microsoft's VirtualAlloc2 example, timed whole. */
static int ring_cycle(HANDLE h)
{
    char *p = VirtualAlloc2(NULL, NULL, 2 * BH_VIEW, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    if (!p)
        return 0;
    if (!VirtualFree(p, BH_VIEW, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        die("VirtualFree(MEM_PRESERVE_PLACEHOLDER)", "ring");
    char *a = MapViewOfFile3(h, GetCurrentProcess(), p, 0, BH_VIEW, MEM_REPLACE_PLACEHOLDER,
                             PAGE_READWRITE, NULL, 0);
    char *b = MapViewOfFile3(h, GetCurrentProcess(), p + BH_VIEW, 0, BH_VIEW,
                             MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    if (!a || !b)
        die("MapViewOfFile3", "ring");
    a[BH_VIEW - 1] = 1;
    sink += (unsigned char)b[BH_VIEW - 1];
    if (!UnmapViewOfFile(a) || !UnmapViewOfFile(b))
        die("UnmapViewOfFile", "ring");
    return 1;
}

static void case_ring(void)
{
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT, 0,
                                  BH_VIEW, NULL);
    if (!h)
        die("CreateFileMapping", "ring");
#ifdef _WIN32
    HMODULE kb = GetModuleHandleW(L"kernelbase.dll");
    pVirtualAlloc2 = kb ? (valloc2_fn)(void (*)(void))GetProcAddress(kb, "VirtualAlloc2") : NULL;
    pMapViewOfFile3 = kb ? (map3_fn)(void (*)(void))GetProcAddress(kb, "MapViewOfFile3") : NULL;
    if (!pVirtualAlloc2 || !pMapViewOfFile3) {
        bh_unsupported("ring", "no VirtualAlloc2/MapViewOfFile3 exported");
        CloseHandle(h);
        return;
    }
#endif
    if (!ring_cycle(h)) {
        char why[96];
        snprintf(why, sizeof why, "VirtualAlloc2(MEM_RESERVE_PLACEHOLDER) fails (error %lu)",
                 (unsigned long)GetLastError());
        bh_unsupported("ring", why);
        CloseHandle(h);
        return;
    }
    syscall_snapshot s;
    snapshot(&s);
    BH_TIMED("ring", bh_reps(201), 50, {
        if (!ring_cycle(h))
            die("VirtualAlloc2", "ring");
    });
    note_syscalls("ring", &s, bh_reps(201) * 50.0);
    CloseHandle(h);
}

int main(int argc, char **argv)
{
    if (bh_parse_args(argc, argv) != 0)
        return 2;
    static const bh_cases cases = {case_alloc64k, case_reserve1m, case_commitpage, case_protect,
                                   case_regions,  case_tib,       cycle64k,        case_islands,
                                   case_view64k,  case_ring};
    bh_run_cases(&cases);
#ifndef _WIN32
    syscall_snapshot st;
    snapshot(&st);
    bh_note("variant", "winvmem mechanisms available=0x%x in use=0x%x", st.mechanisms_available,
            st.mechanisms_in_use);
#endif
    return 0;
}
