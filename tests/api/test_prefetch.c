/* PrefetchVirtualMemory: file pages come into the page cache (mincore sees them) but not into
 * the working set (QueryWorkingSetEx: not valid), as Microsoft documents; ranges that are
 * not committed are skipped; the argument rules (a zero-byte entry is refused, as by Wine 8). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "neighbours.h"
#include "veh_record.h"
#include "skip.h"

typedef wvm_WIN32_MEMORY_RANGE_ENTRY range_t;

static int prefetch(range_t *r, uintptr_t n)
{
    return wvm_PrefetchVirtualMemory(wvm_GetCurrentProcess(), n, r, 0);
}

static size_t resident(void *p, size_t pages)
{
    unsigned char v[64];
    cr_assert_leq(pages, sizeof v);
    cr_assert_eq(mincore(p, pages * PAGE, v), 0);
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += v[i] & 1;
    return n;
}

Test(prefetch, file_pages_are_cached_not_added_to_the_working_set)
{
    enum { N = 16 };
    int fd = clean_file(N, 0x33);
    cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    char *p = mmap(NULL, N * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    if (resident(p, N))
        wvm_cannot_run("the kernel kept the file's pages cached: nothing to prefetch");
    range_t r[2] = {{p, 4 * PAGE}, {p + 8 * PAGE, 8 * PAGE}};
    wvm_SetLastError(0xbeef);
    cr_assert(prefetch(r, 2));
    cr_assert_eq(wvm_GetLastError(), 0xbeef, "success leaves the last error alone");
    /* the reads were started; mincore counts a page once its read completed: wait for
     * completion (bounded; no duration is asserted) */
    for (int i = 0; i < 20000 && resident(p, N) < 12; i++)
        usleep(500);
    unsigned char v[N];
    cr_assert_eq(mincore(p, N * PAGE, v), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(v[i] & 1, i < 4 || i >= 8, "page %d cached: %d", i, v[i] & 1);
    wvm_PSAPI_WORKING_SET_EX_INFORMATION e = {p, {0}};
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), &e, sizeof e));
    cr_assert_eq(e.VirtualAttributes.Flags, 1ull << 15, "cached, shared, not in the working set");
    cr_assert_eq(p[0], 0x33);
    munmap(p, N * PAGE);
    close(fd);
}

Test(prefetch, uncommitted_and_free_ranges_are_skipped)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(wvm_VirtualAlloc(p, 2 * PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    char *freed = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualFree(freed, 0, WVM_MEM_RELEASE));
    range_t r[3] = {{p, 0x10000}, {freed, 0x10000}, {p + 1, 1}};
    cr_assert(prefetch(r, 3));
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    cr_assert_eq(m.RegionSize, 2 * PAGE, "nothing committed or changed");
    cr_assert_eq(m.State, WVM_MEM_COMMIT);
    cr_assert_eq(wvm_VirtualQuery(p + 2 * PAGE, &m, sizeof m), sizeof m);
    cr_assert_eq(m.State, WVM_MEM_RESERVE);
    wvm_PSAPI_WORKING_SET_EX_INFORMATION e = {p, {0}};
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), &e, sizeof e));
    cr_assert_eq(e.VirtualAttributes.Flags, 0, "prefetching maps nothing");
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(prefetch, argument_rules)
{
    char *p = wvm_VirtualAlloc(NULL, PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    range_t r = {p, PAGE};
    cr_assert_not(wvm_PrefetchVirtualMemory((void *)(intptr_t)-2, 1, &r, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_PrefetchVirtualMemory(NULL, 1, &r, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(prefetch(&r, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_assert_not(wvm_PrefetchVirtualMemory(wvm_GetCurrentProcess(), 1, &r, 1));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "Flags is reserved");
    cr_assert_not(prefetch(NULL, 1));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    /* an array running into a page the caller cannot read */
    char *q = wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(wvm_VirtualAlloc(q, PAGE, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    range_t *edge = (range_t *)(q + PAGE) - 1;
    *edge = r;
    cr_assert(prefetch(edge, 1));
    cr_assert_not(prefetch(edge, 2));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    range_t wraps = {(void *)(UINTPTR_MAX - 10), 100};
    cr_assert_not(prefetch(&wraps, 1));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    range_t beyond = {(void *)0x7FFFFFFF0000u, PAGE};
    cr_assert_not(prefetch(&beyond, 1));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    range_t empty[2] = {{p, PAGE}, {p, 0}};
    cr_assert_not(prefetch(empty, 2));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "an entry of zero bytes");
    range_t top = {(void *)0x7FFFFFFEF000u, PAGE};
    cr_assert(prefetch(&top, 1), "the last user page is fine");
}
