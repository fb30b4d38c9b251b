/* Threads against one host: IHostMalloc churn with cross-thread frees and data checks; many
 * threads on one heap; heaps released while idle threads still cache their blocks; budget
 * exactness with VirtualAlloc/commit/decommit/release; callbacks registered while the host thread
 * delivers and while the host shuts down. A plain program (Criterion cannot start under
 * ThreadSanitizer: CI's TSan stage runs it); exits non-zero on any failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host_cb.h"

#define MIB     ((size_t)1 << 20)
#define THREADS 4
#define HROUNDS 20000
#define VROUNDS 600
#define SLOTS   32

static IHostMemoryManager *host;
static IHostMalloc *heap;
static void *handoff[THREADS][SLOTS];
static int failures;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, long n)
{
    pthread_mutex_lock(&fail_mu);
    failures++;
    fprintf(stderr, "stress_host: %s (%ld)\n", what, n);
    pthread_mutex_unlock(&fail_mu);
}

/* A small VirtualAlloc at the edge of a 16 MiB budget: succeeds or is refused. */
static HRESULT halloc_any(IHostMemoryManager *h, void **p)
{
    return h->lpVtbl->VirtualAlloc(h, NULL, 12 * MIB, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                   WVM_PAGE_READWRITE, eTaskCritical, p);
}

static unsigned next(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void *heap_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = 7u + (unsigned)id;
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    for (int r = 0; r < HROUNDS; r++) {
        int s = (int)(next(&seed) % SLOTS);
        unsigned char tag = (unsigned char)(id * SLOTS + s);
        if (slot[s]) {
            for (size_t i = 0; i < size[s]; i++)
                if (slot[s][i] != tag) {
                    fail("heap block overwritten", r);
                    break;
                }
            if (heap->lpVtbl->Free(heap, slot[s]) != S_OK)
                fail("Free", r);
        }
        size[s] = 1 + next(&seed) % (next(&seed) % 8 ? 256 : 8192);
        if (heap->lpVtbl->Alloc(heap, size[s], eAppDomainCritical, (void **)&slot[s]) != S_OK) {
            fail("Alloc", r);
            slot[s] = NULL;
            continue;
        }
        memset(slot[s], tag, size[s]);
    }
    memcpy(handoff[id], slot, sizeof slot);
    return NULL;
}

static void *heap_freer(void *arg)
{
    int id = (int)(intptr_t)arg, from = (id + 1) % THREADS;
    for (int s = 0; s < SLOTS; s++)
        if (handoff[from][s] && heap->lpVtbl->Free(heap, handoff[from][s]) != S_OK)
            fail("cross-thread Free", s);
    return NULL;
}

static uint64_t vm_live[THREADS];

static void *vm_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = 99u + (unsigned)id;
    char *keep[8] = {0};
    size_t ksz[8] = {0};
    for (int r = 0; r < VROUNDS; r++) {
        int s = (int)(next(&seed) % 8);
        if (keep[s]) {
            void *q;
            if (host->lpVtbl->VirtualFree(host, keep[s] + 4096, 4096, WVM_MEM_DECOMMIT) != S_OK ||
                host->lpVtbl->VirtualAlloc(host, keep[s] + 4096, 8192, WVM_MEM_COMMIT,
                                           WVM_PAGE_READWRITE, eTaskCritical, &q) != S_OK)
                fail("decommit/recommit", r);
            wvm_MEMORY_BASIC_INFORMATION mbi;
            size_t n;
            if (host->lpVtbl->VirtualQuery(host, keep[s], &mbi, sizeof mbi, &n) != S_OK ||
                mbi.AllocationBase != keep[s])
                fail("VirtualQuery", r);
            if (host->lpVtbl->VirtualFree(host, keep[s], 0, WVM_MEM_RELEASE) != S_OK)
                fail("release", r);
        }
        ksz[s] = (3 + next(&seed) % 30) * 4096;
        if (host->lpVtbl->VirtualAlloc(host, NULL, ksz[s], WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                       WVM_PAGE_READWRITE, eProcessCritical,
                                       (void **)&keep[s]) != S_OK) {
            fail("VirtualAlloc", r);
            keep[s] = NULL;
        } else {
            keep[s][0] = 1;
        }
    }
    for (int s = 0; s < 8; s++)
        if (keep[s])
            vm_live[id] += ksz[s];
    return NULL;
}

static void run(void *(*fn)(void *))
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* Many threads, each a short burst on the shared heap, every block freed by another thread. */
#define MANY 64
static void *burst[MANY][16];

static void *many_alloc(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 16; i++) {
        size_t sz = 1 + (size_t)((id * 16 + i) * 37 % 3000);
        if (heap->lpVtbl->Alloc(heap, sz, eTaskCritical, &burst[id][i]) != S_OK) {
            fail("many: Alloc", id);
            burst[id][i] = NULL;
            continue;
        }
        memset(burst[id][i], id, sz < 64 ? sz : 64);
    }
    return NULL;
}

static void *many_free(void *arg)
{
    int id = (int)(intptr_t)arg, from = (id + 7) % MANY;
    for (int i = 0; i < 16; i++)
        if (burst[from][i] && heap->lpVtbl->Free(heap, burst[from][i]) != S_OK)
            fail("many: Free", id);
    return NULL;
}

static void run_many(void *(*fn)(void *))
{
    pthread_t t[MANY];
    for (int i = 0; i < MANY; i++)
        pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i);
    for (int i = 0; i < MANY; i++)
        pthread_join(t[i], NULL);
}

/* A heap released while idle threads still hold cached blocks of it: their caches must be
 * dropped (the memory is gone), not returned into a heap that no longer exists, whether they
 * next bind another heap or exit, concurrently with the release. */
static IHostMalloc *old_heap, *new_heap;
static pthread_barrier_t cached, released;

static void *stale_cache(void *arg)
{
    int id = (int)(intptr_t)arg;
    void *p[8];
    for (int i = 0; i < 8; i++)
        if (old_heap->lpVtbl->Alloc(old_heap, 16 + (size_t)i * 16, eTaskCritical, &p[i]) != S_OK)
            fail("stale: Alloc", i);
    for (int i = 0; i < 8; i++)
        old_heap->lpVtbl->Free(old_heap, p[i]); /* into this thread's cache */
    pthread_barrier_wait(&cached);
    if (id % 2) { /* half bind another heap while the release runs, half just exit */
        void *q;
        if (new_heap->lpVtbl->Alloc(new_heap, 32, eTaskCritical, &q) != S_OK ||
            new_heap->lpVtbl->Free(new_heap, q) != S_OK)
            fail("stale: new heap", id);
    }
    pthread_barrier_wait(&released);
    return NULL;
}

static void stale_caches(void)
{
    enum { N = 8 };
    if (host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &old_heap) != S_OK ||
        host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &new_heap) != S_OK) {
        fail("stale: CreateMalloc", 0);
        return;
    }
    pthread_barrier_init(&cached, NULL, N + 1);
    pthread_barrier_init(&released, NULL, N + 1);
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, stale_cache, (void *)(intptr_t)i);
    pthread_barrier_wait(&cached);
    old_heap->lpVtbl->Release(old_heap);
    pthread_barrier_wait(&released);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    new_heap->lpVtbl->Release(new_heap);
    pthread_barrier_destroy(&cached);
    pthread_barrier_destroy(&released);
}

/* Callbacks registered and replaced while the host thread delivers, and a registration racing
 * with shutdown: every reference a host took is given back. */
typedef struct {
    test_cb_base base;
    _Atomic int calls;
} cb_t;

static HRESULT STDMETHODCALLTYPE cb_on(ICLRMemoryNotificationCallback *This, EMemoryAvailable lv)
{
    atomic_fetch_add(&((cb_t *)This)->calls, 1);
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_vtbl = {cb_qi, cb_addref, cb_release, cb_on};
static cb_t cbs[2] = {{{{&cb_vtbl}, 1}, 0}, {{{&cb_vtbl}, 1}, 0}};
static IHostMemoryManager *reg_host;

static void *registrar(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 300; i++) {
        HRESULT hr = reg_host->lpVtbl->RegisterMemoryNotificationCallback(
            reg_host, i % 3 == 2 ? NULL : &cbs[(i + id) % 2].base.iface);
        if (hr != S_OK && hr != HOST_E_CLRNOTAVAILABLE)
            fail("Register", hr);
        void *p;
        if (halloc_any(reg_host, &p) == S_OK) /* moves the load: the thread delivers */
            reg_host->lpVtbl->VirtualFree(reg_host, p, 0, WVM_MEM_RELEASE);
    }
    return NULL;
}

static void callbacks(void)
{
    for (int round = 0; round < 20; round++) {
        wvm_host_config c;
        wvm_host_config_init(&c);
        c.budget = 16 * MIB;
        c.poll_interval_ms = 1;
        c.flags = WVM_HOST_NO_PSI;
        if (wvm_host_create(&c, &reg_host) != S_OK) {
            fail("callbacks: create", round);
            return;
        }
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, registrar, (void *)(intptr_t)i);
        if (round % 2)
            wvm_host_shutdown(reg_host); /* races with the registrations */
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        reg_host->lpVtbl->Release(reg_host);
        for (int i = 0; i < 2; i++)
            if (atomic_load(&cbs[i].base.refs) != 1)
                fail("callbacks: a reference was kept", round);
    }
}

int main(void)
{
    wvm_host_config c;
    wvm_host_config_init(&c);
    c.budget = 1024 * MIB;
    c.poll_interval_ms = 10;
    if (wvm_host_create(&c, &host) != S_OK ||
        host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &heap) != S_OK) {
        fprintf(stderr, "stress_host: cannot create the host\n");
        return 1;
    }
    run(heap_worker);
    run(heap_freer);
    run_many(many_alloc);
    run_many(many_free);
    stale_caches();
    callbacks();
    wvm_host_stats st;
    wvm_host_get_stats(host, &st);
    uint64_t heap_used = st.used; /* the heap's slabs still committed */
    run(vm_worker);
    wvm_host_get_stats(host, &st);
    uint64_t live = 0;
    for (int i = 0; i < THREADS; i++)
        live += vm_live[i];
    if (st.used != live + heap_used)
        fail("budget != live allocations + heap slabs", (long)(st.used - live - heap_used));
    heap->lpVtbl->Release(heap);
    wvm_host_get_stats(host, &st);
    if (st.used != live)
        fail("heap slabs not credited", (long)(st.used - live));
    host->lpVtbl->Release(host);
    printf("stress_host: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures != 0;
}
