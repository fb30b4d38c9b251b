/* Internals: VirtualQuery takes no host lock; and the host when the kernel refuses
 * (WVM_FAULT_INJECTION builds: the n-th system call of the prim layer fails): every failed call
 * returns an HRESULT and leaves the budget and the address-space count as they were. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>
#include "host_test.h"
#include "winvmem/stats.h"
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

/* The core's live allocations and reserved bytes, to see that a refused call left nothing. */
static void core_books(uint64_t *live, uint64_t *reserved)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    *live = st.live_allocations;
    *reserved = st.reserved_bytes;
}

/* Whether the core commits arena pages by removing guard markers (probed by then). */
static bool guard_markers(void)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    return st.mechanisms_in_use & WVM_MECH_GUARD_MARKERS;
}

/* Every fallible system call of a fresh reserve+commit fails once, in turn (n = 1, 2, ... until
 * an attempt makes fewer than n calls): each refusal returns E_OUTOFMEMORY with a null pointer and
 * leaves the budget, the address-space count and the core's allocations as they were; the attempt
 * that succeeds is one whose injected failure never fired (a swallowed failure fails the test),
 * unless !strict: the first allocation of a process grows the arena, and when that mapping fails
 * the core places the allocation in a mapping of its own (a fallback, not a swallowed error).
 * With guard markers a READWRITE commit in the arena removes markers, which cannot fail (not
 * counted); a READONLY commit needs mprotect whatever the mechanism, and without markers (the
 * _fallback variant) READWRITE needs it too. Returns the number of refused attempts. */
static int fail_each_call(IHostMemoryManager *h, uint32_t prot, bool strict)
{
    uint64_t live0, res0, live, res;
    core_books(&live0, &res0);
    for (uint64_t n = 1;; n++) {
        void *p = (void *)1;
        uint64_t before = wvm__prim_calls();
        wvm__prim_inject_after(n, ENOMEM);
        HRESULT hr = h->lpVtbl->VirtualAlloc(h, NULL, 256 * 1024, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                             prot, eProcessCritical, &p);
        wvm__prim_inject_after(0, 0);
        uint64_t made = wvm__prim_calls() - before;
        if (hr == S_OK) {
            if (strict)
                cr_assert_lt(made, n, "prot %x: call %llu of %llu failed, yet it succeeded", prot,
                             (unsigned long long)n, (unsigned long long)made);
            cr_assert_eq(hfree(h, p), S_OK);
            assert_books(h, 0, 0, (int)n);
            return (int)n - 1;
        }
        cr_assert_eq(hr, E_OUTOFMEMORY, "prot %x, call %llu: hr %x", prot, (unsigned long long)n,
                     (unsigned)hr);
        cr_assert_geq(made, n, "prot %x: refused with no failed call", prot);
        cr_assert_null(p);
        assert_books(h, 0, 0, (int)n);
        core_books(&live, &res);
        cr_assert_eq(live, live0, "prot %x, call %llu: the core kept an allocation", prot,
                     (unsigned long long)n);
        cr_assert_eq(res, res0, "prot %x, call %llu: reserved bytes", prot, (unsigned long long)n);
        cr_assert_lt(n, 64, "prot %x: never succeeds", prot);
    }
}

Test(host_fault, fresh_allocation_rolls_back)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    int cold = fail_each_call(h, WVM_PAGE_READONLY, false); /* the arena may grow */
    int ro = fail_each_call(h, WVM_PAGE_READONLY, true);
    int rw = fail_each_call(h, WVM_PAGE_READWRITE, true);
    cr_log_info("refused attempts: READONLY %d (first use %d), READWRITE %d", ro, cold, rw);
    cr_assert_gt(ro, 0, "a READONLY commit makes no fallible call: nothing was tested");
    if (!guard_markers())
        cr_assert_gt(rw, 0, "without guard markers a READWRITE commit is an mprotect");
    h->lpVtbl->Release(h);
}

/* Commit, then decommit, in place in a host reservation, each fallible call failing in turn: a
 * refused commit charges nothing, a refused decommit credits nothing, and both counts move by the
 * exact bytes once the call goes through. */
Test(host_fault, commit_and_decommit_keep_the_books)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    char *r;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, MIB, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&r),
                 S_OK);
    int commit_failures = 0, decommit_failures = 0;
    for (int n = 1;; n++) {
        void *p;
        wvm__prim_inject_after((uint64_t)n, ENOMEM);
        HRESULT hr = h->lpVtbl->VirtualAlloc(h, r + 65536, 131072, WVM_MEM_COMMIT,
                                             WVM_PAGE_READWRITE, eTaskCritical, &p);
        wvm__prim_inject_after(0, 0);
        if (hr == S_OK)
            break;
        commit_failures++;
        cr_assert_eq(hr, E_OUTOFMEMORY, "n=%d: hr %x", n, (unsigned)hr);
        assert_books(h, 0, MIB, n);
        cr_assert_lt(n, 64, "commit never succeeds");
    }
    assert_books(h, 131072, MIB, 0);
    for (int n = 1;; n++) {
        wvm__prim_inject_after((uint64_t)n, ENOMEM);
        HRESULT hr = h->lpVtbl->VirtualFree(h, r + 65536, 65536, WVM_MEM_DECOMMIT);
        wvm__prim_inject_after(0, 0);
        if (hr == S_OK)
            break;
        decommit_failures++;
        assert_books(h, 131072, MIB, n); /* nothing decommitted, nothing credited */
        cr_assert_lt(n, 64, "decommit never succeeds");
    }
    assert_books(h, 65536, MIB, 0);
    cr_assert_eq(hfree(h, r), S_OK);
    assert_books(h, 0, 0, -1);
    h->lpVtbl->Release(h);
    cr_log_info("commit failures %d, decommit failures %d", commit_failures, decommit_failures);
    /* mprotect (fallback) or a marker install (guard markers): a decommit is always fallible. */
    cr_assert_gt(decommit_failures, 0, "no decommit call failed: nothing was tested");
    if (!guard_markers())
        cr_assert_gt(commit_failures, 0, "without guard markers a commit is an mprotect");
}

/* A new heap's first block reserves a segment and commits its first slab; each fallible call of
 * that fails once, in turn (the arena already grown, so no fallback path): each refusal is
 * E_OUTOFMEMORY with a null pointer and no charge, and the heap recovers; its release gives
 * everything back.
 * An executable heap's commit is an mprotect whatever the mechanism; a plain heap's only without
 * guard markers (the _fallback variant). Returns the number of refused attempts. */
static int heap_fail_each_call(IHostMemoryManager *h, const wvm_host_config *c, uint32_t flags)
{
    for (uint64_t n = 1;; n++) {
        IHostMalloc *m = NULL;
        cr_assert_eq(h->lpVtbl->CreateMalloc(h, flags, &m), S_OK);
        void *p = (void *)1;
        uint64_t before = wvm__prim_calls();
        wvm__prim_inject_after(n, ENOMEM);
        HRESULT hr = m->lpVtbl->Alloc(m, 64, eTaskCritical, &p);
        wvm__prim_inject_after(0, 0);
        uint64_t made = wvm__prim_calls() - before;
        if (hr == S_OK) {
            cr_assert_lt(made, n, "flags %x: call %llu of %llu failed, yet Alloc succeeded", flags,
                         (unsigned long long)n, (unsigned long long)made);
            cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
            m->lpVtbl->Release(m);
            assert_books(h, 0, 0, (int)n);
            return (int)n - 1;
        }
        cr_assert_eq(hr, E_OUTOFMEMORY, "flags %x, n=%llu: hr %x", flags, (unsigned long long)n,
                     (unsigned)hr);
        cr_assert_geq(made, n, "flags %x: refused with no failed call", flags);
        cr_assert_null(p);
        /* Nothing charged; the heap may keep the segment it reserved (uncommitted, released
         * with the heap) for its next Alloc. */
        wvm_host_stats s;
        wvm_host_get_stats(h, &s);
        cr_assert_eq(s.used, 0, "n=%llu: budget %llu", (unsigned long long)n,
                     (unsigned long long)s.used);
        cr_assert(s.address_space_used == 0 || s.address_space_used == c->heap_arena_size,
                  "n=%llu: address space %llu", (unsigned long long)n,
                  (unsigned long long)s.address_space_used);
        cr_assert_eq(m->lpVtbl->Alloc(m, 64, eTaskCritical, &p), S_OK, "n=%llu: recovers",
                     (unsigned long long)n);
        cr_assert_eq(m->lpVtbl->Free(m, p), S_OK);
        m->lpVtbl->Release(m);
        assert_books(h, 0, 0, (int)n);
        cr_assert_lt(n, 64, "flags %x: the first block never succeeds", flags);
    }
}

Test(host_fault, heap_segment_failure)
{
    wvm_host_config c = test_config(256 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    void *warm;
    cr_assert_eq(halloc(h, 65536, eTaskCritical, &warm), S_OK); /* the arena exists */
    cr_assert_eq(hfree(h, warm), S_OK);
    int plain = heap_fail_each_call(h, &c, MALLOC_THREADSAFE);
    int exec = heap_fail_each_call(h, &c, MALLOC_THREADSAFE | MALLOC_EXECUTABLE);
    cr_log_info("refused attempts: plain heap %d, executable heap %d", plain, exec);
    cr_assert_gt(exec, 0, "an executable heap's first block made no fallible call");
    if (!guard_markers())
        cr_assert_gt(plain, 0, "without guard markers a heap's commit is an mprotect");
    h->lpVtbl->Release(h);
}

#else

Test(host_fault, needs_fault_injection)
{
    cr_skip_test("built without WVM_FAULT_INJECTION (use the debug or asan-ubsan preset)");
}

#endif
