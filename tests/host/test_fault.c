/* Internals: VirtualQuery takes no host lock; and the host when the kernel refuses
 * (WVM_FAULT_INJECTION builds: the n-th system call of the prim layer fails): every failed call
 * returns an HRESULT and leaves the budget and the address-space count as they were. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>
#include "host_test.h"
#include "host/host_internal.h"
#include "prim/linux/prim.h"

/* VirtualQuery must not wait for any lock of the host: hold them all (as threads suspended
 * inside the host would) and query from another thread. */
typedef struct {
    IHostMemoryManager *h;
    void *addr;
    HRESULT hr;
    size_t n;
} query_t;

static void *query_thread(void *arg)
{
    query_t *q = arg;
    wvm_MEMORY_BASIC_INFORMATION mbi;
    q->hr = q->h->lpVtbl->VirtualQuery(q->h, q->addr, &mbi, sizeof mbi, &q->n);
    return NULL;
}

Test(host_internal, query_takes_no_host_lock)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    void *p;
    cr_assert_eq(halloc(h, 65536, eTaskCritical, &p), S_OK);
    wvm_host *hh = (wvm_host *)(void *)h;
    pthread_mutex_lock(&hh->as_mu);
    pthread_mutex_lock(&hh->budget.mu);
    pthread_mutex_lock(&hh->notify.cb_mu);
    pthread_mutex_lock(&hh->notify.eval_mu);
    query_t q = {.h = h, .addr = p, .hr = E_FAIL};
    pthread_t t;
    pthread_create(&t, NULL, query_thread, &q);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    int joined = pthread_timedjoin_np(t, NULL, &dl);
    pthread_mutex_unlock(&hh->notify.eval_mu);
    pthread_mutex_unlock(&hh->notify.cb_mu);
    pthread_mutex_unlock(&hh->budget.mu);
    pthread_mutex_unlock(&hh->as_mu);
    if (joined)
        pthread_join(t, NULL);
    cr_assert_eq(joined, 0, "VirtualQuery waited for a host lock");
    cr_assert_eq(q.hr, S_OK);
    cr_assert_eq(q.n, sizeof(wvm_MEMORY_BASIC_INFORMATION));
    cr_assert_eq(hfree(h, p), S_OK);
    h->lpVtbl->Release(h);
}

/* Issue 16 #4: a PSI descriptor in an error state (POLLHUP, POLLERR, POLLNVAL) is dropped: the
 * host falls back to polling instead of spinning, and the errors are not pressure. The error
 * states are made with pipes and a closed descriptor put in the trigger's place (test_pressure.c
 * makes the real one: a trigger whose cgroup is removed). */
static void psi_error_state(int fd, const char *what)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    c.flags = WVM_HOST_NO_PSI; /* no real trigger: the test installs the broken one */
    IHostMemoryManager *h = test_host(&c);
    wvm_host *hh = (wvm_host *)(void *)h;
    atomic_store(&hh->notify.psi_fd, fd);
    cr_assert_str_eq(wvm_host_pressure_source(h), "psi", "%s", what);
    wvm__host_settle(h);
    wvm__host_settle(h);
    cr_assert_str_eq(wvm_host_pressure_source(h), "poll", "%s: the descriptor was dropped", what);
    cr_assert(atomic_load(&hh->notify.psi_lost), "%s", what);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.psi_events, 0, "%s: an error state is not pressure", what);
    cr_assert_eq(s.notifications[eMemoryAvailableLow], 0, "%s", what);
    h->lpVtbl->Release(h);
}

Test(host_internal, psi_error_states_fall_back_to_polling)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[1]);
    psi_error_state(p[0], "POLLHUP (a pipe whose writer is gone)"); /* the host closes p[0] */
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    psi_error_state(p[1], "POLLERR (a pipe whose reader is gone)");
    int closed = 900; /* a number no descriptor has (the host's own may reuse low ones) */
    while (fcntl(closed, F_GETFD) != -1)
        closed++;
    psi_error_state(closed, "POLLNVAL (a closed descriptor)");
}

#ifdef WVM_FAULT_INJECTION

static void assert_books(IHostMemoryManager *h, uint64_t used, uint64_t as, int n)
{
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, used, "n=%d: budget %llu", n, (unsigned long long)s.used);
    cr_assert_eq(s.address_space_used, as, "n=%d: address space %llu", n,
                 (unsigned long long)s.address_space_used);
}

Test(host_fault, fresh_allocation_rolls_back)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    int failed = 0;
    for (int n = 1; n < 40; n++) {
        void *p = (void *)1;
        wvm__prim_inject_after((uint64_t)n, ENOMEM);
        HRESULT hr = halloc(h, 256 * 1024, eProcessCritical, &p);
        wvm__prim_inject_after(0, 0);
        if (hr == S_OK) {
            cr_assert_eq(hfree(h, p), S_OK);
            break;
        }
        failed++;
        cr_assert_eq(hr, E_OUTOFMEMORY, "n=%d: hr %x", n, (unsigned)hr);
        cr_assert_null(p);
        assert_books(h, 0, 0, n);
    }
    assert_books(h, 0, 0, -1);
    h->lpVtbl->Release(h);
    if (!failed)
        cr_skip_test("the core made no fallible system call for this allocation");
}

Test(host_fault, commit_and_decommit_keep_the_books)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    char *r;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, MIB, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&r),
                 S_OK);
    int commit_failures = 0, decommit_failures = 0;
    for (int n = 1; n < 20; n++) {
        void *p;
        wvm__prim_inject_after((uint64_t)n, ENOMEM);
        HRESULT hr = h->lpVtbl->VirtualAlloc(h, r + 65536, 131072, WVM_MEM_COMMIT,
                                             WVM_PAGE_READWRITE, eTaskCritical, &p);
        wvm__prim_inject_after(0, 0);
        if (hr != S_OK) {
            commit_failures++;
            cr_assert_eq(hr, E_OUTOFMEMORY, "n=%d: hr %x", n, (unsigned)hr);
            assert_books(h, 0, MIB, n);
            continue;
        }
        assert_books(h, 131072, MIB, n);
        wvm__prim_inject_after((uint64_t)n, ENOMEM);
        hr = h->lpVtbl->VirtualFree(h, r + 65536, 65536, WVM_MEM_DECOMMIT);
        wvm__prim_inject_after(0, 0);
        if (hr != S_OK) {
            decommit_failures++;
            assert_books(h, 131072, MIB, n); /* nothing decommitted, nothing credited */
        } else {
            assert_books(h, 65536, MIB, n);
        }
        cr_assert_eq(h->lpVtbl->VirtualFree(h, r, 0, WVM_MEM_DECOMMIT), S_OK);
        assert_books(h, 0, MIB, n);
        if (hr == S_OK)
            break;
    }
    cr_assert_eq(hfree(h, r), S_OK);
    assert_books(h, 0, 0, -1);
    h->lpVtbl->Release(h);
    cr_log_info("commit failures %d, decommit failures %d", commit_failures, decommit_failures);
}

Test(host_fault, heap_arena_failure)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    IHostMalloc *m = NULL;
    cr_assert_eq(h->lpVtbl->CreateMalloc(h, MALLOC_THREADSAFE, &m), S_OK);
    void *p = (void *)1;
    wvm__prim_inject_after(1, ENOMEM);
    HRESULT hr = m->lpVtbl->Alloc(m, 64, eTaskCritical, &p);
    wvm__prim_inject_after(0, 0);
    if (hr == S_OK) {
        cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
    } else {
        cr_assert_eq(hr, E_OUTOFMEMORY);
        cr_assert_null(p);
        assert_books(h, 0, 0, 1);
        cr_assert_eq(m->lpVtbl->Alloc(m, 64, eTaskCritical, &p), S_OK, "recovers");
        cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
    }
    m->lpVtbl->Release(m);
    h->lpVtbl->Release(h);
}

#else

Test(host_fault, needs_fault_injection)
{
    cr_skip_test("built without WVM_FAULT_INJECTION (use the debug or asan-ubsan preset)");
}

#endif
