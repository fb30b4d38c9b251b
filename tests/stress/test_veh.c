/* Vectored handlers added and removed in a loop while other threads fault and dispatch
 * (the list is walked lock-free in signal context; removed nodes are reclaimed through the
 * epochs). Every guard fault must reach the resolving handler exactly once, no dispatcher may
 * stand on freed memory (ASan, TSan), and the removed nodes must be given back: winvmem's
 * metadata after the churn stays within a bound far below what the nodes would hold if they
 * were kept (and LeakSanitizer sees no node lost).
 * A plain program (run under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define FAULTERS 2
#define CHURNERS 2
#define FAULTS   4000 /* per faulting thread */
#define PAIRS    8000 /* add/remove pairs of each kind per churning thread */
#define PG       4096

static char *pages; /* one committed page per faulting thread */
static _Atomic unsigned long resolved, observed, stray;
static _Atomic int faulters_done;

static LONG WINAPI resolve(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *r = ep->ExceptionRecord;
    uintptr_t at = r->ExceptionInformation[1];
    if (r->ExceptionCode != STATUS_GUARD_PAGE_VIOLATION || at < (uintptr_t)pages ||
        at >= (uintptr_t)pages + FAULTERS * PG) {
        atomic_fetch_add(&stray, 1);
        return EXCEPTION_CONTINUE_SEARCH;
    }
    atomic_fetch_add(&resolved, 1);
    return EXCEPTION_CONTINUE_EXECUTION; /* the guard is consumed: the read runs again */
}

/* Added and removed by the churners, at the head (walked before resolve) and at the tail. */
static LONG WINAPI observe(EXCEPTION_POINTERS *ep)
{
    (void)ep;
    atomic_fetch_add(&observed, 1);
    return EXCEPTION_CONTINUE_SEARCH;
}

static void *fault(void *arg)
{
    char *p = pages + (uintptr_t)arg * PG;
    DWORD old;
    for (int i = 0; i < FAULTS; i++) {
        if (!VirtualProtect(p, PG, PAGE_READWRITE | PAGE_GUARD, &old))
            return (void *)1;
        if (*(volatile char *)(p + i % PG) != 0)
            return (void *)2;
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < PAIRS || atomic_load(&faulters_done) < FAULTERS; i++) {
        void *head = AddVectoredExceptionHandler(1, observe);
        void *tail = AddVectoredExceptionHandler(0, observe);
        if (!head || !tail)
            return (void *)1;
        if (!RemoveVectoredExceptionHandler(i % 2 ? head : tail) ||
            !RemoveVectoredExceptionHandler(i % 2 ? tail : head))
            return (void *)2;
    }
    return NULL;
}

static uint64_t metadata(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    return wvm_stats_get(&s) ? 0 : s.metadata_bytes;
}

int main(void)
{
    pages = VirtualAlloc(NULL, FAULTERS * PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    void *resolver = AddVectoredExceptionHandler(0, resolve);
    if (!pages || !resolver) {
        printf("FAIL: setup\n");
        return 1;
    }
    /* warm up: every thread's first section, the first guard maps */
    for (int i = 0; i < 64; i++)
        RemoveVectoredExceptionHandler(AddVectoredExceptionHandler(1, observe));
    uint64_t before = metadata();
    pthread_t f[FAULTERS], c[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        pthread_create(&c[i], NULL, churn, NULL);
    int failed = 0;
    for (uintptr_t i = 0; i < FAULTERS; i++)
        pthread_create(&f[i], NULL, fault, (void *)i);
    for (int i = 0; i < FAULTERS; i++) {
        void *r;
        pthread_join(f[i], &r);
        atomic_fetch_add(&faulters_done, 1);
        if (r) {
            printf("FAIL: faulting thread %d: %p\n", i, r);
            failed = 1;
        }
    }
    for (int i = 0; i < CHURNERS; i++) {
        void *r;
        pthread_join(c[i], &r);
        if (r) {
            printf("FAIL: churning thread %d: %p\n", i, r);
            failed = 1;
        }
    }
    /* quiescent: enough retirements for the epochs to advance past every bag */
    for (int i = 0; i < 256; i++)
        RemoveVectoredExceptionHandler(AddVectoredExceptionHandler(1, observe));
    uint64_t after = metadata();
    void *h = AddVectoredExceptionHandler(1, observe);
    if (!RemoveVectoredExceptionHandler(h) || RemoveVectoredExceptionHandler(h)) {
        printf("FAIL: a handler removed twice\n");
        failed = 1;
    }
    unsigned long want = (unsigned long)FAULTERS * FAULTS;
    printf("%lu faults resolved, %lu observer calls, metadata %llu -> %llu bytes\n",
           atomic_load(&resolved), atomic_load(&observed), (unsigned long long)before,
           (unsigned long long)after);
    if (atomic_load(&resolved) != want || atomic_load(&stray)) {
        printf("FAIL: %lu faults resolved (want %lu), %lu stray exceptions\n",
               atomic_load(&resolved), want, atomic_load(&stray));
        failed = 1;
    }
    /* 2 * CHURNERS * PAIRS nodes were removed: kept, they would hold over 1 MiB */
    if (after > before + 64 * 1024) {
        printf("FAIL: metadata grew by %llu bytes: removed handler nodes are not reclaimed\n",
               (unsigned long long)(after - before));
        failed = 1;
    }
    if (!RemoveVectoredExceptionHandler(resolver) || !VirtualFree(pages, 0, MEM_RELEASE) ||
        wvm_check_invariants()) {
        printf("FAIL: teardown\n");
        failed = 1;
    }
    return failed;
}
