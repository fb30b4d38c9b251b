/* VirtualQuery while other threads reserve, commit, release and consume guard pages: every
 * answer must be one consistent state (issue 11, bugs 1, 2, 4 and 6).
 *   - every region has a size, starts at the address asked, and a free region holds no
 *     allocation that lived through the whole query;
 *   - an allocation made by VirtualAlloc(MEM_RESERVE | MEM_COMMIT) is never seen reserved
 *     and not committed (not while it is made, not while it is released);
 *   - a region of a guard allocation has a size and stays inside the allocation.
 * A plain program (run under TSan too): exits non-zero on the first inconsistent answer. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define GRAN          ((SIZE_T)65536)
#define STABLE        64
#define CHURNERS      2
#define WALKERS       2
#define CHURN_ROUNDS  4000
#define GUARD_PAGES   64
#define HOT_PAGES     2              /* the guard pages consumed, re-armed and asked about */
#define RESERVED_ONLY PAGE_READWRITE /* allocation protections tell the kinds apart */
#define COMMITTED     PAGE_READONLY
#define STABLE_PROT   PAGE_EXECUTE
#define GUARD_ALLOC   PAGE_EXECUTE_READWRITE

static char *stable[STABLE];
static char *guarded;
static uintptr_t lo, hi;
static _Atomic int stop, bad;
static _Atomic unsigned long queries, frees;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void fail(const char *what, const void *at, const MEMORY_BASIC_INFORMATION *m)
{
    if (atomic_exchange(&bad, 1))
        return;
    printf("FAIL: %s at %p: base %p alloc %p aprot %#x size %#zx state %#x prot %#x\n", what, at,
           m->BaseAddress, m->AllocationBase, (unsigned)m->AllocationProtect, (size_t)m->RegionSize,
           (unsigned)m->State, (unsigned)m->Protect);
}

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    char *ring[8] = {0};
    for (int r = 0; r < CHURN_ROUNDS && !atomic_load(&bad); r++) {
        int i = (int)(next_rand(&seed) % 8);
        if (ring[i] && !VirtualFree(ring[i], 0, MEM_RELEASE))
            return (void *)1;
        SIZE_T size = (1 + next_rand(&seed) % 4) * GRAN;
        if (next_rand(&seed) % 2) {
            ring[i] = VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, COMMITTED);
        } else {
            ring[i] = VirtualAlloc(NULL, size, MEM_RESERVE, RESERVED_ONLY);
        }
        if (!ring[i])
            return (void *)2;
    }
    for (int i = 0; i < 8; i++)
        if (ring[i] && !VirtualFree(ring[i], 0, MEM_RELEASE))
            return (void *)3;
    return NULL;
}

static int is_stable(uintptr_t p)
{
    for (int i = 0; i < STABLE; i++)
        if (stable[i] && (uintptr_t)stable[i] == p)
            return 1;
    return 0;
}

static void check(const char *at, const MEMORY_BASIC_INFORMATION *m)
{
    uintptr_t base = (uintptr_t)m->BaseAddress, end = base + m->RegionSize;
    atomic_fetch_add_explicit(&queries, 1, memory_order_relaxed);
    if (base != ((uintptr_t)at & ~(uintptr_t)4095) || !m->RegionSize || m->RegionSize % 4096) {
        fail("region without a size or not at the address asked", at, m);
        return;
    }
    if (m->State == MEM_FREE) {
        atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
        for (int i = 0; i < STABLE; i++)
            if (stable[i] && (uintptr_t)stable[i] < end && (uintptr_t)stable[i] + GRAN > base)
                fail("free region covers an allocation that lived throughout", at, m);
        if ((uintptr_t)guarded < end && (uintptr_t)guarded + GUARD_PAGES * 4096 > base)
            fail("free region covers the guard allocation", at, m);
        return;
    }
    uintptr_t ab = (uintptr_t)m->AllocationBase;
    switch (m->AllocationProtect) {
    case COMMITTED:
        if (m->State != MEM_COMMIT || m->Protect != PAGE_READONLY)
            fail("reserve+commit allocation seen not committed", at, m);
        break;
    case RESERVED_ONLY:
        if (m->State != MEM_RESERVE)
            fail("reserved allocation seen committed", at, m);
        break;
    case STABLE_PROT:
        if (m->State != MEM_RESERVE || !is_stable(ab) || end > ab + GRAN)
            fail("stable allocation seen wrong", at, m);
        break;
    case GUARD_ALLOC:
        if (ab != (uintptr_t)guarded || end > ab + GUARD_PAGES * 4096 || m->State != MEM_COMMIT ||
            (m->Protect != (PAGE_READWRITE | PAGE_GUARD) && m->Protect != PAGE_READWRITE))
            fail("guard allocation seen wrong", at, m);
        break;
    default:
        break; /* memory of others (the heap, stacks) */
    }
}

static void *walk(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    MEMORY_BASIC_INFORMATION m;
    while (!atomic_load(&stop) && !atomic_load(&bad)) {
        for (uintptr_t at = lo; at < hi && !atomic_load(&bad);) {
            if (VirtualQuery((void *)at, &m, sizeof m) != sizeof m) {
                fail("VirtualQuery failed", (void *)at, &m);
                break;
            }
            check((void *)at, &m);
            /* a hole's first granule is where the next reserve goes (lowest fit): ask again
             * while the churners take it */
            for (int again = 0; m.State == MEM_FREE && again < 4; again++) {
                MEMORY_BASIC_INFORMATION n;
                if (VirtualQuery((void *)at, &n, sizeof n) == sizeof n)
                    check((void *)at, &n);
            }
            at = (uintptr_t)m.BaseAddress + (m.RegionSize ? m.RegionSize : 4096);
        }
        for (int i = 0; i < 256; i++) { /* the guard pages being consumed and re-armed */
            char *p = guarded + (next_rand(&seed) % HOT_PAGES) * 4096;
            if (VirtualQuery(p, &m, sizeof m) != sizeof m)
                fail("VirtualQuery failed", p, &m);
            else
                check(p, &m);
        }
    }
    return NULL;
}

/* A touched guard page raises STATUS_GUARD_PAGE_VIOLATION once; continuing retries the read. */
static LONG WINAPI on_guard(EXCEPTION_POINTERS *ep)
{
    return ep->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION
               ? EXCEPTION_CONTINUE_EXECUTION
               : EXCEPTION_CONTINUE_SEARCH;
}

static void *consume_guards(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    DWORD old;
    while (!atomic_load(&stop) && !atomic_load(&bad)) {
        for (int i = 0; i < HOT_PAGES; i++) {
            volatile char *p = guarded + next_rand(&seed) % HOT_PAGES * 4096;
            if (next_rand(&seed) % 4)
                (void)*p; /* consumed by the fault */
            else
                VirtualLock((void *)p, 1); /* consumed by the call (fails: guard page) */
        }
        if (!VirtualProtect(guarded, HOT_PAGES * 4096, PAGE_READWRITE | PAGE_GUARD, &old))
            return (void *)1;
    }
    return NULL;
}

int main(void)
{
    /* stable allocations interleaved with the holes the churners fill */
    char *all[2 * STABLE];
    for (int i = 0; i < 2 * STABLE; i++)
        all[i] = VirtualAlloc(NULL, GRAN, MEM_RESERVE, STABLE_PROT);
    guarded = VirtualAlloc(NULL, GUARD_PAGES * 4096, MEM_RESERVE, GUARD_ALLOC);
    if (!guarded ||
        !VirtualAlloc(guarded, GUARD_PAGES * 4096, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD)) {
        printf("FAIL: setup\n");
        return 1;
    }
    lo = UINTPTR_MAX;
    for (int i = 0; i < 2 * STABLE; i++) {
        if (!all[i]) {
            printf("FAIL: setup\n");
            return 1;
        }
        if ((uintptr_t)all[i] < lo)
            lo = (uintptr_t)all[i];
        if ((uintptr_t)all[i] + GRAN > hi)
            hi = (uintptr_t)all[i] + GRAN;
        if (i % 2)
            stable[i / 2] = all[i];
        else
            VirtualFree(all[i], 0, MEM_RELEASE);
    }
    /* the lowest stable allocation is the lowest of the arena (placement is lowest fit);
     * above the highest, the churners' allocations once the holes are full */
    hi += 256 * GRAN;
    void *veh = AddVectoredExceptionHandler(1, on_guard);
    pthread_t c[CHURNERS], w[WALKERS], g;
    for (uintptr_t i = 0; i < WALKERS; i++)
        pthread_create(&w[i], NULL, walk, (void *)(i + 11));
    pthread_create(&g, NULL, consume_guards, (void *)7);
    for (uintptr_t i = 0; i < CHURNERS; i++)
        pthread_create(&c[i], NULL, churn, (void *)(i + 1));
    int failed = 0;
    for (int i = 0; i < CHURNERS; i++) {
        void *r;
        pthread_join(c[i], &r);
        if (r) {
            printf("FAIL: churner %d at step %lu\n", i, (unsigned long)(uintptr_t)r);
            failed = 1;
        }
    }
    atomic_store(&stop, 1);
    void *r;
    pthread_join(g, &r);
    if (r) {
        printf("FAIL: guard consumer\n");
        failed = 1;
    }
    for (int i = 0; i < WALKERS; i++)
        pthread_join(w[i], NULL);
    RemoveVectoredExceptionHandler(veh);
    printf("%lu queries (%lu free regions) checked\n", atomic_load(&queries), atomic_load(&frees));
    if (wvm_check_invariants()) {
        printf("FAIL: invariants\n");
        failed = 1;
    }
    return failed || atomic_load(&bad);
}
