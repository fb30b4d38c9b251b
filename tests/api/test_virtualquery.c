#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "mbi.h"

Test(virtualquery, free_memory)
{
    char *p = reserve(64 * KiB);
    cr_assert(VirtualFree(p, 0, MEM_RELEASE));
    MEMORY_BASIC_INFORMATION m = query(p + 5);
    cr_expect_eq(m.BaseAddress, p);
    cr_expect_null(m.AllocationBase);
    cr_expect_eq(m.AllocationProtect, 0);
    cr_expect_eq(m.State, MEM_FREE);
    cr_expect_eq(m.Protect, PAGE_NOACCESS);
    cr_expect_eq(m.Type, 0);
    cr_expect_geq(m.RegionSize, 64 * KiB);
}

Test(virtualquery, equal_neighbours_merge)
{
    char *p = reserve_commit(64 * KiB, PAGE_READWRITE);
    DWORD old;
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READONLY, &old));
    cr_assert(VirtualProtect(p + 0x1000, 0x1000, PAGE_READWRITE, &old));
    expect_region(p + 0x800, p, p, PAGE_READWRITE, 64 * KiB, MEM_COMMIT, PAGE_READWRITE,
                  MEM_PRIVATE);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

Test(virtualquery, bad_arguments)
{
    MEMORY_BASIC_INFORMATION m;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    expect_error(VirtualQuery((char *)si.lpMaximumApplicationAddress + 1, &m, sizeof m),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualQuery(&m, &m, sizeof m - 1), ERROR_BAD_LENGTH);
    cr_expect_eq(VirtualQuery(&m, &m, sizeof m + 16), sizeof m);
}

Test(virtualquery, foreign_memory_is_reported_truthfully)
{
    int local = 0;
    MEMORY_BASIC_INFORMATION m = query(&local);
    cr_expect_eq(m.State, MEM_COMMIT);
    cr_expect_eq(m.Protect, PAGE_READWRITE);
    cr_expect_eq(m.Type, MEM_PRIVATE);
    m = query((void *)(uintptr_t)&query);
    cr_expect_eq(m.Type, MEM_IMAGE);
    cr_expect_eq(m.Protect, PAGE_EXECUTE_READ);
    void *heap = malloc(100);
    m = query(heap);
    cr_expect_eq(m.State, MEM_COMMIT);
    cr_expect(m.Protect == PAGE_READWRITE);
    free(heap);
}

Test(virtualquery, walk_is_contiguous_to_the_top)
{
    char *p = reserve(1 * MiB);
    cr_assert_not_null(VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE));
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    uintptr_t at = 0, max = (uintptr_t)si.lpMaximumApplicationAddress;
    int regions = 0, saw_ours = 0;
    MEMORY_BASIC_INFORMATION m, prev = {0};
    while (at <= max) {
        cr_assert_eq(VirtualQuery((void *)at, &m, sizeof m), sizeof m, "at %#lx",
                     (unsigned long)at);
        cr_assert_eq((uintptr_t)m.BaseAddress, at);
        cr_assert_gt(m.RegionSize, 0);
        if (regions && prev.State == MEM_FREE)
            cr_expect_neq(m.State, MEM_FREE, "two free regions in a row at %#lx",
                          (unsigned long)at);
        if (m.BaseAddress == p)
            saw_ours = 1;
        prev = m;
        at += m.RegionSize;
        regions++;
    }
    cr_expect_eq(at, max + 1);
    cr_expect(saw_ours);
    cr_expect_lt(regions, 10000);
    cr_expect(VirtualFree(p, 0, MEM_RELEASE));
}

/* Finding (l) of tests/lin/README.md: an out-parameter in memory that is free throughout the
 * call is never written (ERROR_NOACCESS), also while another thread commits the first page of
 * the 2 MiB arena chunk around it (the commit switches the chunk to guard markers; it once made
 * the whole chunk read-write for a moment before installing the markers). One thread queries
 * with its buffer in a free page of a fresh chunk while the main thread makes that chunk's
 * first commit, chunk after chunk (before the fix: 4 of 5 debug runs failed; a run in which
 * the two threads never overlap cannot see it). */
typedef struct free_probe {
    char *_Atomic target; /* a free page; NULL: wait */
    _Atomic int stop;
    _Atomic long written, tries;
} free_probe;

static void *query_into_free_memory(void *arg)
{
    free_probe *f = arg;
    while (!atomic_load(&f->stop)) {
        char *t = atomic_load(&f->target);
        if (!t)
            continue;
        atomic_fetch_add(&f->tries, 1);
        if (VirtualQuery(t, (MEMORY_BASIC_INFORMATION *)t, sizeof(MEMORY_BASIC_INFORMATION)))
            atomic_fetch_add(&f->written, 1);
    }
    return NULL;
}

Test(virtualquery, out_parameter_in_free_memory_next_to_a_first_commit)
{
    enum { CHUNK = 2 << 20, CHUNKS = 256 };
    /* a sparse reservation takes whole chunks and leaves them without guard markers: once
     * released, its chunks are fresh for small allocations */
    char *r = VirtualAlloc(NULL, 4 * GiB, MEM_RESERVE, PAGE_READWRITE);
    cr_assert_not_null(r, "error %u", GetLastError());
    cr_assert(VirtualFree(r, 0, MEM_RELEASE));
    free_probe f = {0};
    pthread_t t;
    pthread_create(&t, NULL, query_into_free_memory, &f);
    char *small[CHUNKS];
    for (int i = 0; i < CHUNKS; i++) {
        char *c = r + (size_t)i * CHUNK;
        small[i] = VirtualAlloc(c, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
        cr_assert_eq(small[i], c, "error %u", GetLastError());
        atomic_store(&f.target, c + CHUNK / 2);
        for (long seen = atomic_load(&f.tries); atomic_load(&f.tries) < seen + 2;)
            ; /* the querying thread is running */
        cr_assert_eq(VirtualAlloc(c, 4 * KiB, MEM_COMMIT, PAGE_READWRITE), c);
        atomic_store(&f.target, NULL);
    }
    atomic_store(&f.stop, 1);
    pthread_join(t, NULL);
    cr_expect_eq(atomic_load(&f.written), 0, "%ld of %ld queries wrote into free memory",
                 atomic_load(&f.written), atomic_load(&f.tries));
    for (int i = 0; i < CHUNKS; i++)
        cr_expect(VirtualFree(small[i], 0, MEM_RELEASE));
}
