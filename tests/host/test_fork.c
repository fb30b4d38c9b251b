/* fork() taken at any moment while other threads work the host (heaps, budget, callbacks): the
 * child's one thread must be able to use the host at once (locks free, structures whole) and
 * release it (no join of the parent's host thread). A child that deadlocks hangs this test
 * until ctest's timeout: that is its failure. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "host_cb.h"
#include "host_test.h"

static IHostMemoryManager *host;
static IHostMalloc *heap;
static _Atomic bool stop;

static void *heap_churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *slot[64] = {0};
    while (!atomic_load(&stop)) {
        int s = rand_r(&seed) % 64;
        if (slot[s])
            heap->lpVtbl->Free(heap, slot[s]);
        size_t sz = 1 + (size_t)(rand_r(&seed) % (rand_r(&seed) % 16 ? 600 : 200000));
        if (heap->lpVtbl->Alloc(heap, sz, eAppDomainCritical, &slot[s]) != S_OK)
            slot[s] = NULL;
    }
    for (int s = 0; s < 64; s++)
        if (slot[s])
            heap->lpVtbl->Free(heap, slot[s]);
    return NULL;
}

static void *host_churn(void *arg)
{
    while (!atomic_load(&stop)) {
        void *p;
        if (halloc(host, 3 * 65536, eTaskCritical, &p) == S_OK)
            hfree(host, p);
        IHostMalloc *m;
        if (host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &m) == S_OK) {
            void *b;
            if (m->lpVtbl->Alloc(m, 48, eTaskCritical, &b) == S_OK)
                m->lpVtbl->Free(m, b);
            m->lpVtbl->Release(m);
        }
    }
    return NULL;
}

static HRESULT STDMETHODCALLTYPE on_note(ICLRMemoryNotificationCallback *This, EMemoryAvailable l)
{
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_vtbl = {cb_qi, cb_addref, cb_release, on_note};

/* The child: every kind of call, then the host's release. Exit status: the failed step. */
static int child(void)
{
    void *b[32];
    for (int i = 0; i < 32; i++)
        if (heap->lpVtbl->Alloc(heap, 16 + (size_t)i * 40, eTaskCritical, &b[i]) != S_OK)
            return 10;
    for (int i = 0; i < 32; i++)
        if (heap->lpVtbl->Free(heap, b[i]) != S_OK)
            return 11;
    IHostMalloc *m;
    void *p;
    if (host->lpVtbl->CreateMalloc(host, 0, &m) != S_OK ||
        m->lpVtbl->Alloc(m, 100000, eProcessCritical, &p) != S_OK || m->lpVtbl->Free(m, p) != S_OK)
        return 12;
    m->lpVtbl->Release(m);
    if (halloc(host, 65536, eProcessCritical, &p) != S_OK || hfree(host, p) != S_OK)
        return 13;
    uint32_t load;
    size_t avail;
    if (host->lpVtbl->GetMemoryLoad(host, &load, &avail) != S_OK)
        return 14;
    heap->lpVtbl->Release(heap);
    wvm_host_shutdown(host);
    host->lpVtbl->Release(host); /* the host thread is the parent's: nothing to join here */
    return 0;
}

Test(host_fork, child_of_a_busy_host_works)
{
    wvm_host_config c = test_config(512 * MIB, 5000);
    host = test_host(&c);
    cr_assert_eq(host->lpVtbl->CreateMalloc(host, MALLOC_THREADSAFE, &heap), S_OK);
    test_cb_base cb = {{&cb_vtbl}, 1}; /* the host thread delivers while we fork */
    cr_assert_eq(host->lpVtbl->RegisterMemoryNotificationCallback(host, &cb.iface), S_OK);
    pthread_t t[3];
    pthread_create(&t[0], NULL, heap_churn, (void *)1);
    pthread_create(&t[1], NULL, heap_churn, (void *)2);
    pthread_create(&t[2], NULL, host_churn, NULL);
    for (int i = 0; i < 60; i++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            _exit(child());
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st), "fork %d: the child died (signal %d)", i, WTERMSIG(st));
        cr_assert_eq(WEXITSTATUS(st), 0, "fork %d: the child failed at step %d", i,
                     WEXITSTATUS(st));
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    heap->lpVtbl->Release(heap);
    host->lpVtbl->Release(host);
    cr_assert_eq(atomic_load(&cb.refs), 1);
}
