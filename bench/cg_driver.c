/* Driver for bench/callgrind.sh: each core operation of winvmem sits alone in a noinline
 * function named op_*, called a known number of times; callgrind's inclusive instruction count
 * of op_X divided by its calls is the library's instructions per operation X. User-space
 * instructions only: the kernel's work inside a system call is not counted, which is what
 * makes the figures repeatable on a noisy machine. Prints "C <op> <calls>" for each op. */
#include <winvmem/win32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N       1000
#define REGIONS 10000
#define PAGE    4096u
#define NOINL   __attribute__((noinline, noclone, used))

static volatile uintptr_t sink;

NOINL void *op_reserve(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_NOACCESS);
}
NOINL void *op_reserve_commit(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}
NOINL BOOL op_release(void *p)
{
    return VirtualFree(p, 0, MEM_RELEASE);
}
NOINL void *op_commit(void *p)
{
    return VirtualAlloc(p, PAGE, MEM_COMMIT, PAGE_READWRITE);
}
NOINL BOOL op_decommit(void *p)
{
    return VirtualFree(p, PAGE, MEM_DECOMMIT);
}
NOINL BOOL op_protect(void *p, DWORD prot)
{
    DWORD old;
    return VirtualProtect(p, PAGE, prot, &old);
}
NOINL SIZE_T op_query(const void *p, MEMORY_BASIC_INFORMATION *m)
{
    return VirtualQuery(p, m, sizeof *m);
}
NOINL SIZE_T op_query_foreign(const void *p, MEMORY_BASIC_INFORMATION *m)
{
    return VirtualQuery(p, m, sizeof *m);
}

/* commit + decommit of one page between islands (bench.c's case_islands) */
NOINL void op_isl_few(char *pg)
{
    if (VirtualAlloc(pg, PAGE, MEM_COMMIT, PAGE_READWRITE))
        VirtualFree(pg, PAGE, MEM_DECOMMIT);
}
NOINL void op_isl_many(char *pg)
{
    if (VirtualAlloc(pg, PAGE, MEM_COMMIT, PAGE_READWRITE))
        VirtualFree(pg, PAGE, MEM_DECOMMIT);
}

/* MEM_RESET and MEM_RESET_UNDO of one page that holds data */
NOINL void *op_reset(void *p, DWORD prot)
{
    return VirtualAlloc(p, PAGE, MEM_RESET, prot);
}
NOINL void *op_reset_undo(void *p, DWORD prot)
{
    return VirtualAlloc(p, PAGE, MEM_RESET_UNDO, prot);
}
NOINL void *op_reset_undo_ro(void *p, DWORD prot)
{
    return VirtualAlloc(p, PAGE, MEM_RESET_UNDO, prot);
}
NOINL void *op_reset_undo_ww(void *p, DWORD prot)
{
    return VirtualAlloc(p, PAGE, MEM_RESET_UNDO, prot);
}

/* a 64 KiB view of a committed section: map, unmap (bench.c's case_view64k) */
NOINL void *op_map_view(HANDLE h)
{
    return MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 64u << 10);
}
NOINL BOOL op_unmap_view(void *p)
{
    return UnmapViewOfFile(p);
}
/* the placeholder ring buffer of 2 x 64 KiB, made and undone (bench.c's case_ring) */
NOINL BOOL op_ring(HANDLE h)
{
    const SIZE_T half = 64u << 10;
    char *p = VirtualAlloc2(NULL, NULL, 2 * half, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    if (!p || !VirtualFree(p, half, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        return FALSE;
    char *a = MapViewOfFile3(h, GetCurrentProcess(), p, 0, half, MEM_REPLACE_PLACEHOLDER,
                             PAGE_READWRITE, NULL, 0);
    char *b = MapViewOfFile3(h, GetCurrentProcess(), p + half, 0, half, MEM_REPLACE_PLACEHOLDER,
                             PAGE_READWRITE, NULL, 0);
    return a && b && UnmapViewOfFile(a) && UnmapViewOfFile(b);
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "cg_driver: %s failed: error %lu\n", what, (unsigned long)GetLastError());
        exit(1);
    }
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* N resets and undos of the pages of a 64 KiB allocation of type (MEM_WRITE_WATCH or 0),
 * protection prot after the page is written */
static void reset_undo(DWORD type, DWORD prot, void *(*undo)(void *, DWORD))
{
    char *r = VirtualAlloc(NULL, 64u << 10, MEM_RESERVE | MEM_COMMIT | type, PAGE_READWRITE);
    DWORD old;
    check(r != NULL, "reserve+commit for reset");
    for (int i = 0; i < 16; i++) {
        r[i * PAGE] = 1;
        check(VirtualProtect(r + i * PAGE, PAGE, prot, &old), "protect for reset");
    }
    for (int i = 0; i < N; i++) {
        char *pg = r + (i % 16) * PAGE;
        check(op_reset(pg, prot) == pg, "MEM_RESET");
        sink += (uintptr_t)undo(pg, prot); /* fails under valgrind: its own page faults
                                            * count as pages the kernel dropped */
    }
    VirtualFree(r, 0, MEM_RELEASE);
}

/* n one-page islands across 2 GiB, alternately read-only and read-write; ISL_OPS cycles of
 * op between them. */
#define ISL_OPS 200
static void islands(long n, void (*op)(char *), const char *name, uint64_t *seed)
{
    size_t span = (size_t)2 << 30, stride = span / (size_t)n;
    char *r = VirtualAlloc(NULL, span, MEM_RESERVE, PAGE_NOACCESS);
    DWORD old;
    check(r != NULL, "reserve 2 GiB");
    for (long i = 0; i < n; i++) {
        check(VirtualAlloc(r + i * stride, PAGE, MEM_COMMIT, PAGE_READWRITE) != NULL, "island");
        if (i & 1)
            check(VirtualProtect(r + i * stride, PAGE, PAGE_READONLY, &old), "island protect");
    }
    for (int i = 0; i < ISL_OPS; i++)
        op(r + rnd(seed) % (uint64_t)n * stride + (1 + rnd(seed) % (stride / PAGE - 1)) * PAGE);
    printf("C %s %d\n", name, ISL_OPS);
    VirtualFree(r, 0, MEM_RELEASE);
}

int main(void)
{
    static void *p[N];
    static char *regions[REGIONS];
    MEMORY_BASIC_INFORMATION m;
    uint64_t seed = 42;

    /* warm-up outside the op_ functions: one-time initialisation is not an operation's cost */
    check(VirtualFree(VirtualAlloc(NULL, PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), 0,
                      MEM_RELEASE),
          "warm-up");

    for (int i = 0; i < N; i++)
        check((p[i] = op_reserve(1u << 20)) != NULL, "reserve");
    for (int i = 0; i < N; i++)
        check(op_release(p[i]), "release");
    printf("C op_reserve %d\n", N);

    for (int i = 0; i < N; i++) {
        char *q = op_reserve_commit(64u << 10);
        check(q != NULL, "reserve+commit");
        *(volatile char *)q = 1;
        check(op_release(q), "release");
    }
    printf("C op_reserve_commit %d\nC op_release %d\n", N, 2 * N);

    char *big = VirtualAlloc(NULL, (size_t)1 << 30, MEM_RESERVE, PAGE_NOACCESS);
    check(big != NULL, "reserve 1 GiB");
    for (int i = 0; i < N; i++) {
        char *pg = big + rnd(&seed) % (((size_t)1 << 30) / PAGE) * PAGE;
        check(op_commit(pg) != NULL, "commit");
        *(volatile char *)pg = 1;
        check(op_decommit(pg), "decommit");
    }
    printf("C op_commit %d\nC op_decommit %d\n", N, N);

    /* protect in the same (committed) 1 GiB-style block: 64 MiB, every page present */
    char *blk = VirtualAlloc(NULL, 64u << 20, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    check(blk != NULL, "commit 64 MiB");
    memset(blk, 1, 64u << 20);
    for (int i = 0; i < N; i++) {
        char *pg = blk + rnd(&seed) % ((64u << 20) / PAGE) * PAGE;
        check(op_protect(pg, PAGE_READONLY), "protect");
        check(op_protect(pg, PAGE_READWRITE), "protect");
    }
    printf("C op_protect %d\n", 2 * N);

    for (int i = 0; i < REGIONS; i++) {
        regions[i] = VirtualAlloc(NULL, 64u << 10, MEM_RESERVE, PAGE_READWRITE);
        check(regions[i] != NULL, "reserve region");
        check(VirtualAlloc(regions[i], PAGE, MEM_COMMIT, PAGE_READWRITE) != NULL, "commit");
    }
    for (int i = 0; i < N; i++) {
        check(op_query(regions[rnd(&seed) % REGIONS] + rnd(&seed) % (64u << 10), &m) != 0, "query");
        sink += m.RegionSize;
    }
    printf("C op_query %d\n", N);
    for (int i = 0; i < N; i++) {
        check(op_query_foreign(&m, &m) != 0, "query of the stack");
        sink += m.RegionSize;
    }
    printf("C op_query_foreign %d\n", N);

    for (int i = 0; i < REGIONS; i++)
        VirtualFree(regions[i], 0, MEM_RELEASE);
    islands(256, op_isl_few, "op_isl_few", &seed);
    islands(16384, op_isl_many, "op_isl_many", &seed);

    reset_undo(0, PAGE_READWRITE, op_reset_undo);
    reset_undo(0, PAGE_READONLY, op_reset_undo_ro);
    reset_undo(MEM_WRITE_WATCH, PAGE_READWRITE, op_reset_undo_ww);
    printf("C op_reset %d\nC op_reset_undo %d\nC op_reset_undo_ro %d\nC op_reset_undo_ww %d\n",
           3 * N, N, N, N);

    HANDLE sec = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT, 0,
                                    64u << 10, NULL);
    check(sec != NULL, "CreateFileMapping");
    for (int i = 0; i < N; i++) {
        char *v = op_map_view(sec);
        check(v != NULL, "MapViewOfFile");
        *(volatile char *)v = 1;
        check(op_unmap_view(v), "UnmapViewOfFile");
    }
    printf("C op_map_view %d\nC op_unmap_view %d\n", N, N);
    for (int i = 0; i < N; i++)
        check(op_ring(sec), "ring buffer");
    printf("C op_ring %d\n", N);
    CloseHandle(sec);
    VirtualFree(blk, 0, MEM_RELEASE);
    VirtualFree(big, 0, MEM_RELEASE);
    return 0;
}
