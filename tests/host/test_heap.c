/* IHostMalloc: correctness under threads (also run under TSan), foreign frees, DebugAlloc and
 * the leak report, executable heaps, budget charged per slab; hundreds of threads on one heap,
 * released heaps, waiting growth, impossible sizes, the address-space budget, [out] values. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "host_test.h"

static IHostMalloc *make_heap(IHostMemoryManager *h, uint32_t type)
{
    IHostMalloc *m = NULL;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, type, &m), S_OK);
    return m;
}

static void fill(unsigned char *p, size_t n, unsigned char v)
{
    memset(p, v, n);
}

static bool check(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

Test(host_heap, arguments)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = NULL;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, MALLOC_THREADSAFE, NULL), E_POINTER);
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, 4, &m), E_INVALIDARG);
    m = make_heap(h, MALLOC_THREADSAFE);
    void *p = (void *)1;
    cr_assert_eq(m->lpVtbl->Alloc(m, 16, eTaskCritical, NULL), E_POINTER);
    cr_assert_eq(m->lpVtbl->Alloc(m, 16, 7, &p), E_INVALIDARG);
    cr_assert_null(p);
    cr_assert_eq(m->lpVtbl->Alloc(m, 0, eTaskCritical, &p), S_OK, "zero bytes: a unique block");
    cr_assert_not_null(p);
    cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
    cr_assert_eq(m->lpVtbl->Free(m, NULL), S_OK);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

Test(host_heap, foreign_frees)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *a = make_heap(h, MALLOC_THREADSAFE), *b = make_heap(h, MALLOC_THREADSAFE);
    void *pa, *pb;
    cr_assert_eq(a->lpVtbl->Alloc(a, 64, eTaskCritical, &pa), S_OK);
    cr_assert_eq(b->lpVtbl->Alloc(b, 64, eTaskCritical, &pb), S_OK);
    char *libc = malloc(64);
    int local;
    cr_assert_eq(a->lpVtbl->Free(a, pb), HOST_E_INVALIDOPERATION, "another heap's block");
    cr_assert_eq(a->lpVtbl->Free(a, libc), HOST_E_INVALIDOPERATION);
    cr_assert_eq(a->lpVtbl->Free(a, &local), HOST_E_INVALIDOPERATION);
    void *v;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &v), S_OK);
    cr_assert_eq(a->lpVtbl->Free(a, v), HOST_E_INVALIDOPERATION, "VirtualAlloc memory");
    cr_assert_eq(hfree(h, pa), HOST_E_INVALIDOPERATION, "heap blocks are not VirtualFree'd");
    cr_assert_eq(a->lpVtbl->Free(a, (char *)pa + 16), HOST_E_INVALIDOPERATION, "interior pointer");
    cr_assert_eq(a->lpVtbl->Free(a, pa), S_OK);
    cr_assert_eq(a->lpVtbl->Free(a, pa), HOST_E_INVALIDOPERATION, "double free");
    cr_assert_eq(b->lpVtbl->Free(b, pb), S_OK);
    cr_assert_eq(hfree(h, v), S_OK);
    free(libc);
    a->lpVtbl->Release(a);
    b->lpVtbl->Release(b);
    h->lpVtbl->Release(h);
}

Test(host_heap, alignment_sizes_and_heap_switching)
{
    wvm_host_config c = test_config(512 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *a = make_heap(h, MALLOC_THREADSAFE), *b = make_heap(h, MALLOC_THREADSAFE);
    size_t sizes[] = {1, 15, 16, 17, 1000, 1024, 1025, 4096, 100000, 3 * MIB};
    for (int round = 0; round < 3; round++) {
        void *pa[10], *pb[10];
        for (int i = 0; i < 10; i++) { /* alternate heaps on one thread */
            cr_assert_eq(a->lpVtbl->Alloc(a, sizes[i], eTaskCritical, &pa[i]), S_OK);
            cr_assert_eq(b->lpVtbl->Alloc(b, sizes[i], eTaskCritical, &pb[i]), S_OK);
            cr_assert_eq((uintptr_t)pa[i] % 16, 0, "16-byte alignment, as Windows heaps");
            cr_assert_eq((uintptr_t)pb[i] % 16, 0);
            memset(pa[i], 0xA0 + i, sizes[i]);
            memset(pb[i], 0xB0 + i, sizes[i]);
        }
        for (int i = 0; i < 10; i++) {
            cr_assert(check(pa[i], sizes[i], (unsigned char)(0xA0 + i)), "size %zu", sizes[i]);
            cr_assert(check(pb[i], sizes[i], (unsigned char)(0xB0 + i)), "size %zu", sizes[i]);
            cr_assert_eq(b->lpVtbl->Free(b, pa[i]), HOST_E_INVALIDOPERATION);
            cr_assert_eq(a->lpVtbl->Free(a, pa[i]), S_OK);
            cr_assert_eq(b->lpVtbl->Free(b, pb[i]), S_OK);
        }
    }
    a->lpVtbl->Release(a);
    b->lpVtbl->Release(b);
    h->lpVtbl->Release(h);
}

Test(host_heap, budget_charged_per_slab)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    cr_assert_eq(host_used(h), 0, "no commit before the first Alloc");
    void *p;
    cr_assert_eq(m->lpVtbl->Alloc(m, 100, eTaskCritical, &p), S_OK);
    cr_assert_eq(host_used(h), 64 * 1024, "one 64 KiB slab, not a whole segment");
    void *big;
    cr_assert_eq(m->lpVtbl->Alloc(m, 40 * MIB, eTaskCritical, &big), S_OK, "a segment of its own");
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.heap_arenas, 2);
    cr_assert_eq(s.used, 64 * 1024 + 40 * MIB + 64 * 1024, "40 MiB + its header: 641 slabs");
    memset(big, 0xAB, 40 * MIB);
    void *more;
    cr_assert_eq(m->lpVtbl->Alloc(m, 160 * MIB, eTaskCritical, &more), E_OUTOFMEMORY,
                 "task-critical: over its ceiling");
    cr_assert_eq(m->lpVtbl->Free(m, big), S_OK);
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, 64 * 1024, "a big block's segment goes with it");
    cr_assert_eq(s.heap_arenas, 1);
    cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
    m->lpVtbl->Release(m);
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, 0, "slabs are credited back when the heap goes");
    cr_assert_eq(s.address_space_used, 0, "and its segments' address space");
    cr_assert_eq(s.heap_arenas, 0);
    h->lpVtbl->Release(h);
}

Test(host_heap, debug_alloc_leak_report)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, 0);
    void *p[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(
            m->lpVtbl->DebugAlloc(m, 10 + (size_t)i, eTaskCritical, (char *)"gc.c", 100 + i, &p[i]),
            S_OK);
    cr_assert_eq(m->lpVtbl->Free(m, p[1]), S_OK);
    char buf[512] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cr_assert_eq(wvm_host_heap_leak_report(m, f), 2);
    fclose(f);
    cr_assert_not_null(strstr(buf, "gc.c:100: 10 bytes"));
    cr_assert_not_null(strstr(buf, "gc.c:102: 12 bytes"));
    cr_assert_null(strstr(buf, "gc.c:101"));
    cr_assert_eq(m->lpVtbl->Free(m, p[0]), S_OK);
    cr_assert_eq(m->lpVtbl->Free(m, p[2]), S_OK);
    cr_assert_eq(wvm_host_heap_leak_report(m, NULL), 0);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

Test(host_heap, executable_heap_runs_code)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE | MALLOC_EXECUTABLE);
    unsigned char *code;
    cr_assert_eq(m->lpVtbl->Alloc(m, 16, eTaskCritical, (void **)&code), S_OK);
#if defined(__x86_64__)
    const unsigned char ret42[] = {0xB8, 42, 0, 0, 0, 0xC3}; /* mov eax, 42; ret */
    memcpy(code, ret42, sizeof ret42);
    int (*fn)(void);
    memcpy(&fn, &code, sizeof fn);
    cr_assert_eq(fn(), 42);
#endif
    wvm_MEMORY_BASIC_INFORMATION mbi;
    size_t n;
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, code, &mbi, sizeof mbi, &n), S_OK);
    cr_assert_eq(mbi.Protect, WVM_PAGE_EXECUTE_READWRITE);
    cr_assert_eq(m->lpVtbl->Free(m, code), S_OK);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

#define HT      4
#define HROUNDS 20000
#define HSLOTS  64

typedef struct {
    IHostMalloc *m;
    unsigned seed;
    int bad;
    void *handoff[HSLOTS]; /* freed by the next thread: cross-thread frees */
} hworker_t;

static hworker_t hw[HT];

static void *heap_churn(void *arg)
{
    hworker_t *w = arg;
    IHostMalloc *m = w->m;
    void *slot[HSLOTS] = {0};
    size_t sz[HSLOTS] = {0};
    for (int i = 0; i < HROUNDS; i++) {
        int s = rand_r(&w->seed) % HSLOTS;
        if (slot[s]) {
            if (!check(slot[s], sz[s], (unsigned char)(s ^ (uintptr_t)w)))
                w->bad++;
            if (m->lpVtbl->Free(m, slot[s]) != S_OK)
                w->bad++;
        }
        sz[s] = 1 + (size_t)(rand_r(&w->seed) % (rand_r(&w->seed) % 8 == 0 ? 20000 : 300));
        if (m->lpVtbl->Alloc(m, sz[s], eAppDomainCritical, &slot[s]) != S_OK) {
            w->bad++;
            slot[s] = NULL;
            continue;
        }
        fill(slot[s], sz[s], (unsigned char)(s ^ (uintptr_t)w));
    }
    for (int s = 0; s < HSLOTS; s++)
        w->handoff[s] = slot[s];
    return NULL;
}

static void *heap_free_other(void *arg)
{
    hworker_t *w = arg;
    hworker_t *prev = &hw[(w - hw + HT - 1) % HT];
    for (int s = 0; s < HSLOTS; s++)
        if (prev->handoff[s] && w->m->lpVtbl->Free(w->m, prev->handoff[s]) != S_OK)
            w->bad++;
    return NULL;
}

Test(host_heap, threads_and_cross_thread_frees)
{
    wvm_host_config c = test_config(1024 * MIB, 1000);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    pthread_t t[HT];
    for (int i = 0; i < HT; i++) {
        hw[i] = (hworker_t){.m = m, .seed = 99u + (unsigned)i};
        pthread_create(&t[i], NULL, heap_churn, &hw[i]);
    }
    for (int i = 0; i < HT; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < HT; i++)
        pthread_create(&t[i], NULL, heap_free_other, &hw[i]);
    for (int i = 0; i < HT; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(hw[i].bad, 0, "worker %d: %d errors", i, hw[i].bad);
    }
    m->lpVtbl->Release(m);
    cr_assert_eq(host_used(h), 0);
    h->lpVtbl->Release(h);
}

/* Issue 16 #1: every thread of a heap shares its slabs; a thread costs its cached blocks, not
 * an arena. THREADS_MANY threads hold a block each at the same time. */
#define THREADS_MANY 300

typedef struct {
    IHostMalloc *m;
    pthread_barrier_t *held, *checked;
    HRESULT hr;
    void *p;
} many_t;

static void *hold_one(void *arg)
{
    many_t *w = arg;
    w->hr = w->m->lpVtbl->Alloc(w->m, 16, eTaskCritical, &w->p);
    if (w->hr == S_OK)
        memset(w->p, 0x5A, 16);
    pthread_barrier_wait(w->held);    /* every thread holds its block now */
    pthread_barrier_wait(w->checked); /* the main thread has counted */
    if (w->hr == S_OK && w->m->lpVtbl->Free(w->m, w->p) != S_OK)
        w->hr = E_FAIL;
    return NULL;
}

static void many_threads_one_heap(uint64_t budget, int nthreads)
{
    wvm_host_config c = test_config(budget, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    static many_t w[THREADS_MANY];
    static pthread_t t[THREADS_MANY];
    pthread_barrier_t held, checked;
    pthread_barrier_init(&held, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&checked, NULL, (unsigned)nthreads + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < nthreads; i++) {
        w[i] = (many_t){.m = m, .held = &held, .checked = &checked};
        cr_assert_eq(pthread_create(&t[i], &attr, hold_one, &w[i]), 0);
    }
    pthread_barrier_wait(&held);
    int ok = 0;
    for (int i = 0; i < nthreads; i++)
        ok += w[i].hr == S_OK;
    uint64_t used = host_used(h);
    pthread_barrier_wait(&checked);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].hr, S_OK, "thread %d of %d: hr %x", i, nthreads, (unsigned)w[i].hr);
    }
    cr_assert_eq(ok, nthreads, "%d of %d threads got their 16 bytes", ok, nthreads);
    /* A block of 16 bytes comes from a 64 KiB slab that all threads share (2048 blocks); each
     * thread's cache takes a batch of 16 blocks from it. */
    cr_assert_leq(used, (uint64_t)(nthreads * 16 / 2048 + 1) * 65536,
                  "%d threads charged %llu bytes", nthreads, (unsigned long long)used);
    m->lpVtbl->Release(m);
    cr_assert_eq(host_used(h), 0);
    h->lpVtbl->Release(h);
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&held);
    pthread_barrier_destroy(&checked);
}

Test(host_heap, threads_per_heap_in_the_hundreds)
{
    many_threads_one_heap(512 * MIB, 24);
    many_threads_one_heap(256 * MIB, THREADS_MANY);
    many_threads_one_heap(4 * MIB, THREADS_MANY); /* 3 MiB for task-critical: still plenty */
}

/* Issue 16 #2: what a released heap had is gone with it; the next small heap is charged for
 * what it uses. */
Test(host_heap, released_heap_leaves_nothing_for_the_next)
{
    wvm_host_config c = test_config(1024 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *a = make_heap(h, MALLOC_THREADSAFE);
    enum { N = 3000 };
    static void *blk[N];
    for (int i = 0; i < N; i++) /* 600 MiB in blocks of 200 KiB (spans of 4 slabs) */
        cr_assert_eq(a->lpVtbl->Alloc(a, 200 * 1024, eProcessCritical, &blk[i]), S_OK, "%d", i);
    void *big;
    cr_assert_eq(a->lpVtbl->Alloc(a, 100 * MIB, eProcessCritical, &big), S_OK);
    cr_assert_geq(host_used(h), 700 * MIB);
    a->lpVtbl->Release(a); /* without freeing: the heap's memory goes with it */
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, 0);
    cr_assert_eq(s.address_space_used, 0);
    cr_assert_eq(s.heap_arenas, 0);
    IHostMalloc *b = make_heap(h, MALLOC_THREADSAFE);
    void *p;
    cr_assert_eq(b->lpVtbl->Alloc(b, 16, eProcessCritical, &p), S_OK);
    cr_assert_eq(host_used(h), 65536, "the next heap's first block costs one slab");
    cr_assert_eq(b->lpVtbl->Free(b, p), S_OK);
    b->lpVtbl->Release(b);
    h->lpVtbl->Release(h);

    wvm_host_config small = test_config(256 * MIB, 50);
    h = test_host(&small);
    b = make_heap(h, MALLOC_THREADSAFE);
    cr_assert_eq(b->lpVtbl->Alloc(b, 16, eProcessCritical, &p), S_OK,
                 "another host's released heap costs this one nothing");
    cr_assert_eq(host_used(h), 65536);
    cr_assert_eq(b->lpVtbl->Free(b, p), S_OK);
    b->lpVtbl->Release(b);
    h->lpVtbl->Release(h);
}

/* Issue 16 #3: a heap that waits for budget holds no lock another caller of the same heap
 * needs. Ordering only: the waiter has a 120 s timeout and is seen waiting (stats.waits); the
 * task-critical caller must be refused, and a DebugAlloc block freed, while it still waits. */
typedef struct {
    IHostMalloc *m;
    size_t size;
    HRESULT hr;
    void *p;
    _Atomic bool done;
} hwaiter_t;

static void *heap_wait_alloc(void *arg)
{
    hwaiter_t *w = arg;
    w->hr = w->m->lpVtbl->Alloc(w->m, w->size, eAppDomainCritical, &w->p);
    atomic_store(&w->done, true);
    return NULL;
}

Test(host_heap, waiter_and_task_critical_caller_on_one_heap)
{
    wvm_host_config c = test_config(64 * MIB, 120000);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    void *dbg;
    cr_assert_eq(m->lpVtbl->DebugAlloc(m, 16, eTaskCritical, (char *)"t.c", 1, &dbg), S_OK);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    void *fill; /* up to one slab below the app-domain ceiling */
    size_t room = (size_t)(s.ceiling[eAppDomainCritical] - s.used) / 65536 * 65536;
    cr_assert_eq(halloc(h, room, eProcessCritical, &fill), S_OK);
    hwaiter_t w = {.m = m, .size = 5000}; /* a class without a slab yet: the heap must grow */
    pthread_t t;
    pthread_create(&t, NULL, heap_wait_alloc, &w);
    wait_for_waiters(h, 1);
    void *p = (void *)1;
    cr_assert_eq(m->lpVtbl->Alloc(m, 3000, eTaskCritical, &p), E_OUTOFMEMORY,
                 "task-critical growth fails at once");
    cr_assert_null(p);
    cr_assert_eq(m->lpVtbl->Free(m, dbg), S_OK, "a DebugAlloc block is freed meanwhile");
    cr_assert_eq(wvm_host_heap_leak_report(m, NULL), 0);
    cr_assert(!atomic_load(&w.done), "the waiter still waits: nothing was serialised behind it");
    cr_assert_eq(hfree(h, fill), S_OK); /* budget comes back: the waiter gets its slab */
    pthread_join(t, NULL);
    cr_assert_eq(w.hr, S_OK);
    cr_assert_eq(host_used(h), 2 * 65536, "the 16-byte class's slab and the waiter's");
    cr_assert_eq(m->lpVtbl->Free(m, w.p), S_OK);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

/* Issue 11: a size no heap can hold is E_OUTOFMEMORY, the documented result. */
Test(host_heap, impossible_size_is_out_of_memory)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 4 + 1, (size_t)1 << 47, 257 * MIB};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = (void *)1;
        cr_assert_eq(m->lpVtbl->Alloc(m, sizes[i], eProcessCritical, &p), E_OUTOFMEMORY, "size %zx",
                     sizes[i]);
        cr_assert_null(p);
        p = (void *)1;
        cr_assert_eq(m->lpVtbl->DebugAlloc(m, sizes[i], eTaskCritical, (char *)"t.c", 2, &p),
                     E_OUTOFMEMORY);
        cr_assert_null(p);
    }
    cr_assert_eq(host_used(h), 0);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

/* Issue 16 #7: heap segments are the host's own reservations: they count against the
 * address-space budget that NeedsVirtualAddressSpace answers from. */
Test(host_heap, address_space_budget_counts_heaps)
{
    wvm_host_config c = test_config(512 * MIB, 50);
    c.address_space_budget = 100 * MIB;
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    void *p = (void *)1;
    cr_assert_eq(m->lpVtbl->Alloc(m, 200 * MIB, eProcessCritical, &p), E_OUTOFMEMORY,
                 "200 MiB of heap does not fit 100 MiB of address space");
    cr_assert_null(p);
    cr_assert_eq(m->lpVtbl->Alloc(m, 16, eProcessCritical, &p), S_OK);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 32 * MIB, "one segment of heap_arena_size");
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, NULL, 69 * MIB), E_OUTOFMEMORY);
    cr_assert_eq(h->lpVtbl->NeedsVirtualAddressSpace(h, NULL, 68 * MIB), S_OK);
    void *big;
    cr_assert_eq(m->lpVtbl->Alloc(m, 60 * MIB, eProcessCritical, &big), S_OK);
    cr_assert_eq(m->lpVtbl->Alloc(m, 20 * MIB, eProcessCritical, &p), E_OUTOFMEMORY);
    cr_assert_eq(m->lpVtbl->Free(m, big), S_OK);
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 32 * MIB, "a big block's segment goes with it");
    m->lpVtbl->Release(m);
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 0);
    h->lpVtbl->Release(h);
}

/* Issue 16 #8: every [out] is NULL (or 0) when the call fails, after shutdown too. */
Test(host_heap, out_parameters_after_shutdown)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    void *live;
    cr_assert_eq(m->lpVtbl->Alloc(m, 64, eTaskCritical, &live), S_OK);
    wvm_host_shutdown(h);
    void *p = (void *)1;
    cr_assert_eq(m->lpVtbl->Alloc(m, 64, eTaskCritical, &p), HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(p);
    p = (void *)1;
    cr_assert_eq(m->lpVtbl->DebugAlloc(m, 64, eTaskCritical, (char *)"t.c", 3, &p),
                 HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(p);
    p = (void *)1;
    cr_assert_eq(halloc(h, 4096, eProcessCritical, &p), HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(p);
    IHostMalloc *m2 = (IHostMalloc *)1;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, 0, &m2), HOST_E_CLRNOTAVAILABLE);
    cr_assert_null(m2);
    wvm_MEMORY_BASIC_INFORMATION mbi;
    size_t n = 1;
    cr_assert_eq(h->lpVtbl->VirtualQuery(h, live, &mbi, sizeof mbi, &n), HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(n, 0);
    uint32_t load = 7;
    size_t avail = 7;
    cr_assert_eq(h->lpVtbl->GetMemoryLoad(h, &load, &avail), HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(load, 0);
    cr_assert_eq(avail, 0);
    cr_assert_eq(m->lpVtbl->Free(m, live), HOST_E_CLRNOTAVAILABLE);
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}
