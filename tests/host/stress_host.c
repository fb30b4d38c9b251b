/* Threads against one host: IHostMalloc churn with cross-thread frees and data checks, budget
 * exactness with VirtualAlloc/commit/decommit/release, and waiters woken by frees. A plain
 * program (Criterion cannot start under ThreadSanitizer); exits non-zero on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winvmem/host.h"

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
