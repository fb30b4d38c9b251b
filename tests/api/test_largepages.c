/* GetLargePageMinimum and MEM_LARGE_PAGES. Wine rejects MEM_LARGE_PAGES, so these stand on
 * Microsoft's documentation ("Large-Page Support", VirtualAlloc): size and address multiples of
 * the minimum, MEM_RESERVE | MEM_COMMIT in one call, memory resident from the start, and a
 * shortage reported by VirtualAlloc. As root the tests give the hugetlb pool a few pages for
 * their duration (vm.nr_hugepages, restored afterwards); without root they cannot run (skip.h).
 * The pool is one per machine: every test here holds an exclusive lock on HUGETLB_LOCK while it
 * reads, grows or uses the pool, so that concurrent runs (other ctest jobs, other checkouts on
 * the same machine) never see each other's pages. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <winvmem.h>
#include "skip.h"

#define PG 4096u

#define NR_PATH      "/proc/sys/vm/nr_hugepages"
#define HUGETLB_LOCK "/tmp/winvmem-hugetlb.lock"

static long saved_nr = -1;

static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static int write_long(const char *path, long v)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%ld\n", v) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Free pages of the pool, from /proc/meminfo. */
static long pool_free(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* Makes the pool hold `extra` more free pages than now; false when that is impossible. The
 * kernel grows the pool only as far as it finds free huge pages: when memory is fragmented it
 * gets one compaction before the answer counts. */
static bool grow_pool(long extra)
{
    if (geteuid() != 0)
        return false;
    saved_nr = read_long(NR_PATH);
    if (saved_nr < 0 || write_long(NR_PATH, saved_nr + extra))
        return false;
    if (read_long(NR_PATH) != saved_nr + extra) {
        write_long("/proc/sys/vm/compact_memory", 1);
        write_long(NR_PATH, saved_nr + extra);
    }
    return read_long(NR_PATH) == saved_nr + extra;
}

/* Held until the test's process exits (Criterion runs each test in its own process). */
static void lock_pool(void)
{
    int fd = open(HUGETLB_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    cr_assert_geq(fd, 0, "open %s", HUGETLB_LOCK);
    cr_assert_eq(flock(fd, LOCK_EX), 0, "flock %s", HUGETLB_LOCK);
}

static void restore_pool(void)
{
    if (saved_nr >= 0)
        write_long(NR_PATH, saved_nr);
    saved_nr = -1;
}

#define NEED_POOL(n)                                                                               \
    do {                                                                                           \
        if (!wvm_GetLargePageMinimum())                                                            \
            wvm_cannot_run("no hugetlb support in this kernel");                                   \
        if (!grow_pool(n))                                                                         \
            wvm_cannot_run("needs root to give the hugetlb pool %d pages", n);                     \
    } while (0)

TestSuite(largepages, .init = lock_pool, .fini = restore_pool);

Test(largepages, minimum_is_the_hugetlb_page_size)
{
    size_t min = wvm_GetLargePageMinimum();
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Hugepagesize: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    cr_expect_eq(min, (size_t)kb * 1024);
    if (min) {
        cr_expect_eq(min & (min - 1), 0, "a power of two");
        cr_expect_eq(min % WVM_ALLOCATION_GRANULARITY, 0);
    }
}

Test(largepages, argument_rules)
{
    size_t min = wvm_GetLargePageMinimum();
    if (!min)
        wvm_cannot_run("no hugetlb support in this kernel");
    const uint32_t lp = WVM_MEM_LARGE_PAGES, rw = WVM_PAGE_READWRITE;
    struct {
        void *addr;
        size_t size;
        uint32_t type;
    } bad[] = {
        {NULL, min, WVM_MEM_RESERVE | lp},                      /* no MEM_COMMIT */
        {NULL, min, WVM_MEM_COMMIT | lp},                       /* no MEM_RESERVE */
        {NULL, min / 2, WVM_MEM_RESERVE | WVM_MEM_COMMIT | lp}, /* size not a multiple */
        {NULL, min + PG, WVM_MEM_RESERVE | WVM_MEM_COMMIT | lp},
        {(void *)(0x7e0000000000ull + 0x10000), min, WVM_MEM_RESERVE | WVM_MEM_COMMIT | lp},
        {NULL, min, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH | lp},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wvm_SetLastError(0xdead);
        cr_expect_null(wvm_VirtualAlloc(bad[i].addr, bad[i].size, bad[i].type, rw), "case %zu", i);
        cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "case %zu: %u", i,
                     wvm_GetLastError());
    }
}

Test(largepages, shortage_fails_the_call)
{
    size_t min = wvm_GetLargePageMinimum();
    if (!min)
        wvm_cannot_run("no hugetlb support in this kernel");
    long free_pages = pool_free();
    cr_assert_geq(free_pages, 0);
    size_t size = (size_t)(free_pages + 1) * min; /* one more than the pool holds */
    wvm_SetLastError(0xdead);
    char *p = wvm_VirtualAlloc(NULL, size, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_LARGE_PAGES,
                               WVM_PAGE_READWRITE);
    const char *thp = getenv("WINVMEM_LARGE_PAGES_THP");
    if (thp && !strcmp(thp, "1")) { /* the explicit fallback: transparent huge pages */
        cr_assert_not_null(p, "THP fallback: %u", wvm_GetLastError());
        cr_expect_eq((uintptr_t)p % min, 0);
        static unsigned char vec[(64u << 20) / PG];
        cr_assert_leq(size / PG, sizeof vec);
        cr_expect_eq(mincore(p, size, vec), 0);
        cr_expect(vec[0] & vec[size / PG - 1] & 1, "faulted in up front");
        cr_expect_eq(pool_free(), free_pages);
        cr_expect(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
        return;
    }
    cr_expect_null(p);
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_NO_SYSTEM_RESOURCES, "error %u", wvm_GetLastError());
    cr_expect_eq(pool_free(), free_pages, "nothing taken from the pool");
    cr_expect_eq(wvm_check_invariants(), 0);
}

Test(largepages, allocated_from_the_pool_up_front)
{
    NEED_POOL(2);
    size_t min = wvm_GetLargePageMinimum();
    long before = pool_free();
    char *p = wvm_VirtualAlloc(
        NULL, 2 * min, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_LARGE_PAGES, WVM_PAGE_READWRITE);
    cr_assert_not_null(p, "VirtualAlloc: %u", wvm_GetLastError());
    cr_expect_eq((uintptr_t)p % min, 0);
    cr_expect_eq(pool_free(), before - 2, "both pages taken before the first touch");
    static unsigned char vec[(8u << 20) / PG];
    cr_assert_leq(2 * min / PG, sizeof vec);
    cr_expect_eq(mincore(p, 2 * min, vec), 0);
    cr_expect(vec[0] & vec[2 * min / PG - 1] & 1, "resident");
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p + 5 * PG, &m, sizeof m), sizeof m);
    cr_expect_eq(m.BaseAddress, p + 5 * PG);
    cr_expect_eq(m.AllocationBase, p);
    cr_expect_eq(m.AllocationProtect, WVM_PAGE_READWRITE);
    cr_expect_eq(m.RegionSize, 2 * min - 5 * PG);
    cr_expect_eq(m.State, WVM_MEM_COMMIT);
    cr_expect_eq(m.Protect, WVM_PAGE_READWRITE);
    cr_expect_eq(m.Type, WVM_MEM_PRIVATE);
    memset(p, 0x5a, 2 * min);
    cr_expect_eq(p[2 * min - 1], 0x5a);
    /* whole large pages can change protection; a part of one cannot */
    uint32_t old;
    cr_expect(wvm_VirtualProtect(p, min, WVM_PAGE_READONLY, &old));
    cr_expect_eq(old, WVM_PAGE_READWRITE);
    wvm_SetLastError(0xdead);
    cr_expect_not(wvm_VirtualProtect(p + min, PG, WVM_PAGE_READONLY, &old));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_expect_eq(p[0], 0x5a);
    /* decommitted large pages cannot be committed again ("reserved and committed as a single
     * operation") */
    cr_expect(wvm_VirtualFree(p + min, min, WVM_MEM_DECOMMIT));
    wvm_SetLastError(0xdead);
    cr_expect_null(wvm_VirtualAlloc(p + min, min, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    /* committing committed large pages is a no-op that succeeds */
    cr_expect_eq(wvm_VirtualAlloc(p, PG, WVM_MEM_COMMIT, WVM_PAGE_READONLY), p);
    cr_expect_eq(wvm_check_invariants(), 0);
    cr_expect(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
    cr_expect_eq(pool_free(), before, "the pages went back to the pool");
}

Test(largepages, at_a_chosen_address)
{
    NEED_POOL(1);
    size_t min = wvm_GetLargePageMinimum();
    char *want = (char *)0x7d0000000000ull;
    char *p = wvm_VirtualAlloc(want, min, WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_LARGE_PAGES,
                               WVM_PAGE_READWRITE);
    cr_assert_eq(p, want, "VirtualAlloc: %u", wvm_GetLastError());
    p[min - 1] = 1;
    /* the address is taken now */
    wvm_SetLastError(0xdead);
    cr_expect_null(wvm_VirtualAlloc(want, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_expect(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}
