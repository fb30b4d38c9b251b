/* IHostMalloc: correctness under threads (also run under TSan), foreign frees, DebugAlloc and
 * the leak report, executable heaps, budget charged per arena. */
#include <pthread.h>
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

Test(host_heap, budget_charged_per_arena)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = make_heap(h, MALLOC_THREADSAFE);
    cr_assert_eq(host_used(h), 0, "no arena before the first Alloc");
    void *p;
    cr_assert_eq(m->lpVtbl->Alloc(m, 100, eTaskCritical, &p), S_OK);
    cr_assert_eq(host_used(h), 32 * MIB);
    void *big;
    cr_assert_eq(m->lpVtbl->Alloc(m, 40 * MIB, eTaskCritical, &big), S_OK, "a bigger arena");
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.heap_arenas, 2);
    cr_assert_eq(s.used, 32 * MIB + 96 * MIB, "40 MiB needs a 96 MiB arena (32 MiB blocks)");
    memset(big, 0xAB, 40 * MIB);
    void *more;
    cr_assert_eq(m->lpVtbl->Alloc(m, 60 * MIB, eTaskCritical, &more), E_OUTOFMEMORY,
                 "task-critical: over its ceiling");
    cr_assert_eq(m->lpVtbl->Free(m, big), S_OK);
    cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
    m->lpVtbl->Release(m);
    cr_assert_eq(host_used(h), 0, "arenas are credited back when the heap goes");
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
