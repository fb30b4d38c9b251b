/* VirtualQuery of AWE windows while other threads map pages into them, release them and reuse
 * their descriptors and addresses (windows again, plain and write-watch allocations). The
 * query reads a window's page table without a lock (core/awe.c): it must find the window of
 * the allocation it reports, never another one's or a freed one. Checks every answer: the
 * region starts at the page and is not empty; a reserved page of the window (or of what took
 * its address since: another allocation, or a kernel mapping of someone else's, reported as
 * it is) has protection 0. A plain program: the TSan stage runs it (a data race with a release
 * or a reuse is a report there). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <winvmem/stats.h>
#include <winvmem/vm.h>

#define PG      4096u
#define PAGES   16u
#define SLOTS   8
#define CYCLERS 2
#define QUERIES 2
#define SECONDS 2

static _Atomic(uintptr_t) slot[SLOTS]; /* windows live now or a moment ago */
static _Atomic int stop, failed;
static _Atomic unsigned long queries, mapped_seen, cycles;

static int fail(const char *what, uintptr_t w, uintptr_t at, const wvm_MEMORY_BASIC_INFORMATION *m)
{
    if (atomic_fetch_add(&failed, 1) < 10)
        printf("FAIL: %s (window %#lx, page %#lx: base %p alloc %p size %#zx state %#x prot %#x "
               "type %#x)\n",
               what, (unsigned long)w, (unsigned long)at, m->BaseAddress, m->AllocationBase,
               m->RegionSize, m->State, m->Protect, m->Type);
    return 1;
}

static void *cycler(void *arg)
{
    unsigned seed = 7u + (unsigned)(uintptr_t)arg;
    uintptr_t pfn[PAGES], n = PAGES;
    if (!wvm_AllocateUserPhysicalPages(wvm_GetCurrentProcess(), &n, pfn) || n != PAGES) {
        printf("FAIL: AllocateUserPhysicalPages: error %u\n", wvm_GetLastError());
        atomic_fetch_add(&failed, 1);
        return NULL;
    }
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int k = (int)(rand_r(&seed) % SLOTS);
        uint32_t kind = rand_r(&seed) % 4;
        size_t size = (size_t)PG * (PAGES - (rand_r(&seed) % 2) * (PAGES / 2));
        /* windows most of the time; else a plain or write-watch allocation, which reuses
         * descriptors (and maybe the address) with other backend data */
        uint32_t type = kind < 2    ? WVM_MEM_RESERVE | WVM_MEM_PHYSICAL
                        : kind == 2 ? WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_WRITE_WATCH
                                    : WVM_MEM_RESERVE;
        char *p = wvm_VirtualAlloc(NULL, size, type, WVM_PAGE_READWRITE);
        if (!p) {
            printf("FAIL: VirtualAlloc(%#x): error %u\n", type, wvm_GetLastError());
            atomic_fetch_add(&failed, 1);
            break;
        }
        if (type & WVM_MEM_PHYSICAL) {
            uintptr_t first = rand_r(&seed) % (size / PG), count = 1 + rand_r(&seed) % 4;
            if (first + count > size / PG)
                count = size / PG - first;
            if (!wvm_MapUserPhysicalPages(p + first * PG, count, pfn)) {
                printf("FAIL: MapUserPhysicalPages: error %u\n", wvm_GetLastError());
                atomic_fetch_add(&failed, 1);
            }
            atomic_store(&slot[k], (uintptr_t)p);
            for (int i = 0; i < 20; i++) /* queries meet it mapped, then released */
                sched_yield();
            wvm_MapUserPhysicalPages(p + first * PG, count, NULL);
        }
        if (!wvm_VirtualFree(p, 0, WVM_MEM_RELEASE)) {
            printf("FAIL: VirtualFree: error %u\n", wvm_GetLastError());
            atomic_fetch_add(&failed, 1);
            break;
        }
        atomic_fetch_add_explicit(&cycles, 1, memory_order_relaxed);
    }
    n = PAGES;
    if (!wvm_FreeUserPhysicalPages(wvm_GetCurrentProcess(), &n, pfn) || n != PAGES) {
        printf("FAIL: FreeUserPhysicalPages: error %u\n", wvm_GetLastError());
        atomic_fetch_add(&failed, 1);
    }
    return NULL;
}

static void check(uintptr_t w, uintptr_t at)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    if (wvm_VirtualQuery((void *)at, &m, sizeof m) != sizeof m) {
        fail("VirtualQuery failed", w, at, &m);
        return;
    }
    atomic_fetch_add_explicit(&queries, 1, memory_order_relaxed);
    if ((uintptr_t)m.BaseAddress != at || !m.RegionSize)
        fail("a region that does not start at the page, or is empty", w, at, &m);
    if (m.State == WVM_MEM_RESERVE && m.Protect != 0)
        fail("a reserved page with a protection", w, at, &m);
    if ((uintptr_t)m.AllocationBase == w && m.State == WVM_MEM_COMMIT &&
        m.Protect == WVM_PAGE_READWRITE)
        atomic_fetch_add_explicit(&mapped_seen, 1, memory_order_relaxed);
}

static void *querier(void *arg)
{
    unsigned seed = 31u + (unsigned)(uintptr_t)arg;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        uintptr_t w = atomic_load(&slot[rand_r(&seed) % SLOTS]);
        if (w)
            check(w, w + (rand_r(&seed) % PAGES) * PG);
    }
    return NULL;
}

int main(void)
{
    char *probe =
        wvm_VirtualAlloc(NULL, PAGES * PG, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
    if (!probe) {
        printf("FAIL: AWE windows unavailable: error %u\n", wvm_GetLastError());
        return 1;
    }
    wvm_VirtualFree(probe, 0, WVM_MEM_RELEASE);
    pthread_t c[CYCLERS], q[QUERIES];
    for (int i = 0; i < CYCLERS; i++)
        pthread_create(&c[i], NULL, cycler, (void *)(uintptr_t)i);
    for (int i = 0; i < QUERIES; i++)
        pthread_create(&q[i], NULL, querier, (void *)(uintptr_t)i);
    struct timespec d = {SECONDS, 0};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < CYCLERS; i++)
        pthread_join(c[i], NULL);
    for (int i = 0; i < QUERIES; i++)
        pthread_join(q[i], NULL);
    if (wvm_check_invariants())
        atomic_fetch_add(&failed, 1);
    printf("%lu allocations made and released, %lu queries (%lu saw a committed page)\n",
           atomic_load(&cycles), atomic_load(&queries), atomic_load(&mapped_seen));
    if (!atomic_load(&mapped_seen) && !atomic_load(&failed)) {
        printf("FAIL: no query met a committed page: the test proved nothing\n");
        return 1;
    }
    printf("%s\n", atomic_load(&failed) ? "FAILED" : "PASS");
    return atomic_load(&failed) != 0;
}
