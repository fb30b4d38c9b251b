/* Budget accounting: exactness under threads, ceilings per critical level, the emergency
 * reserve, waiting, timeout and abandonment. */
#include <pthread.h>
#include <stdlib.h>
#include "host_test.h"

Test(host_budget, level_ordering_and_reserve)
{
    wvm_host_config c = test_config(64 * MIB, 400);
    IHostMemoryManager *h = test_host(&c);
    void *big, *p = (void *)1;
    cr_assert_eq(halloc(h, 48 * MIB, eProcessCritical, &big), S_OK);
    cr_assert_eq(halloc(h, MIB, eTaskCritical, &p), E_OUTOFMEMORY);
    cr_assert_null(p);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.waits, 0, "task-critical fails at once: it never waits");
    void *a1, *a2, *r1, *r2;
    cr_assert_eq(halloc(h, 8 * MIB, eAppDomainCritical, &a1), S_OK);
    cr_assert_eq(halloc(h, 4 * MIB, eAppDomainCritical, &a2), HOST_E_TIMEOUT);
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.waits, 1, "app-domain-critical waits ...");
    cr_assert_eq(s.timeouts, 1, "... until its timeout");
    cr_assert_eq(halloc(h, 4 * MIB, eProcessCritical, &r1), S_OK); /* 60 MiB: at the reserve */
    cr_assert_eq(halloc(h, 2 * MIB, eProcessCritical, &r2), S_OK); /* 62 MiB: in the reserve */
    cr_assert_eq(halloc(h, 4 * MIB, eProcessCritical, &p), HOST_E_TIMEOUT); /* 66 > 64 */
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, 62 * MIB);
    cr_assert_eq(s.reserve_draws, 1);
    cr_assert_eq(s.refused[eTaskCritical], 1);
    cr_assert_eq(s.refused[eAppDomainCritical], 1);
    cr_assert_eq(s.refused[eProcessCritical], 1);
    cr_assert_eq(s.timeouts, 2);
    cr_assert_eq(halloc(h, 65 * MIB, eProcessCritical, &p), E_OUTOFMEMORY, "can never fit");
    void *all[] = {big, a1, r1, r2};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(hfree(h, all[i]), S_OK);
    cr_assert_eq(host_used(h), 0);
    cr_assert_eq(halloc(h, MIB, eTaskCritical, &p), S_OK);
    cr_assert_eq(hfree(h, p), S_OK);
    h->lpVtbl->Release(h);
}

Test(host_budget, commit_in_place_charges_new_pages_only)
{
    wvm_host_config c = test_config(64 * MIB, 100);
    IHostMemoryManager *h = test_host(&c);
    char *r, *p;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, NULL, MIB, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS,
                                         eTaskCritical, (void **)&r),
                 S_OK);
    cr_assert_eq(host_used(h), 0);
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, r, 65536, WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                         eTaskCritical, (void **)&p),
                 S_OK);
    cr_assert_eq(p, r);
    cr_assert_eq(host_used(h), 65536);
    r[0] = 1;
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, r + 100, 131072 - 100, WVM_MEM_COMMIT,
                                         WVM_PAGE_READWRITE, eTaskCritical, (void **)&p),
                 S_OK);
    cr_assert_eq(host_used(h), 131072);
    cr_assert_eq(r[0], 1, "re-commit keeps data");
    cr_assert_eq(h->lpVtbl->VirtualFree(h, r + 16384, 32768, WVM_MEM_DECOMMIT), S_OK);
    cr_assert_eq(host_used(h), 131072 - 32768);
    cr_assert_eq(h->lpVtbl->VirtualFree(h, r + 16384, 32768, WVM_MEM_DECOMMIT), S_OK);
    cr_assert_eq(host_used(h), 131072 - 32768, "decommitting twice frees nothing twice");
    cr_assert_eq(h->lpVtbl->VirtualFree(h, r, 0, WVM_MEM_DECOMMIT), S_OK);
    cr_assert_eq(host_used(h), 0);
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, r + MIB - 4096, 8192, WVM_MEM_COMMIT,
                                         WVM_PAGE_READWRITE, eTaskCritical, (void **)&p),
                 E_INVALIDARG, "past the end of the reservation");
    cr_assert_eq(host_used(h), 0);
    cr_assert_eq(h->lpVtbl->VirtualAlloc(h, r, 512 * 1024, WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                         eTaskCritical, (void **)&p),
                 S_OK);
    cr_assert_eq(hfree(h, r), S_OK);
    cr_assert_eq(host_used(h), 0);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.address_space_used, 0);
    h->lpVtbl->Release(h);
}

#define THREADS 4
#define ROUNDS  1500

typedef struct {
    IHostMemoryManager *h;
    unsigned seed;
    uint64_t live; /* bytes this thread holds committed at the end */
    int failures;
} worker_t;

static void *churn(void *arg)
{
    worker_t *w = arg;
    IHostMemoryManager *h = w->h;
    void *keep[8] = {0};
    size_t keep_sz[8] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        size_t pages = 1 + rand_r(&w->seed) % 32;
        int slot = rand_r(&w->seed) % 8;
        if (keep[slot]) {
            if (rand_r(&w->seed) % 3 == 0) { /* decommit the first page, then re-commit it */
                void *q;
                if (h->lpVtbl->VirtualFree(h, keep[slot], 4096, WVM_MEM_DECOMMIT) != S_OK ||
                    h->lpVtbl->VirtualAlloc(h, keep[slot], 4096, WVM_MEM_COMMIT, WVM_PAGE_READWRITE,
                                            eTaskCritical, &q) != S_OK)
                    w->failures++;
            }
            if (hfree(h, keep[slot]) != S_OK)
                w->failures++;
            keep[slot] = NULL;
        }
        if (halloc(h, pages * 4096, eAppDomainCritical, &keep[slot]) == S_OK)
            keep_sz[slot] = pages * 4096;
        else
            w->failures++;
    }
    for (int s = 0; s < 8; s++)
        if (keep[s])
            w->live += keep_sz[s];
    return NULL;
}

Test(host_budget, exact_under_threads)
{
    wvm_host_config c = test_config(1024 * MIB, 1000);
    IHostMemoryManager *h = test_host(&c);
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.h = h, .seed = 1234u + (unsigned)i};
        pthread_create(&t[i], NULL, churn, &w[i]);
    }
    uint64_t live = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0);
        live += w[i].live;
    }
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.used, live, "budget %llu, held %llu", (unsigned long long)s.used,
                 (unsigned long long)live);
    cr_assert_eq(s.address_space_used, live);
    cr_assert_leq(s.peak, (uint64_t)THREADS * 8 * 32 * 4096);
    h->lpVtbl->Release(h); /* releases what the workers still hold */
}

typedef struct {
    IHostMemoryManager *h;
    size_t size;
    int level;
    HRESULT hr;
    void *p;
} waiter_t;

static void *wait_alloc(void *arg)
{
    waiter_t *w = arg;
    w->hr = halloc(w->h, w->size, w->level, &w->p);
    return NULL;
}

Test(host_budget, wait_and_wake)
{
    /* The timeout (2 min) is longer than ctest's: only the free can end this wait. */
    wvm_host_config c = test_config(64 * MIB, 120000);
    IHostMemoryManager *h = test_host(&c);
    void *big;
    cr_assert_eq(halloc(h, 56 * MIB, eProcessCritical, &big), S_OK);
    waiter_t w = {.h = h, .size = 8 * MIB, .level = eAppDomainCritical};
    pthread_t t;
    pthread_create(&t, NULL, wait_alloc, &w);
    wait_for_waiters(h, 1);
    cr_assert_eq(hfree(h, big), S_OK);
    pthread_join(t, NULL);
    cr_assert_eq(w.hr, S_OK, "woken by the free");
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.waits, 1);
    cr_assert_eq(s.used, 8 * MIB);
    cr_assert_eq(hfree(h, w.p), S_OK);
    h->lpVtbl->Release(h);
}

Test(host_budget, abandoned_on_shutdown)
{
    wvm_host_config c = test_config(64 * MIB, 120000);
    IHostMemoryManager *h = test_host(&c);
    void *big;
    cr_assert_eq(halloc(h, 60 * MIB, eProcessCritical, &big), S_OK);
    waiter_t w[2] = {{.h = h, .size = 8 * MIB, .level = eAppDomainCritical},
                     {.h = h, .size = 8 * MIB, .level = eProcessCritical}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, wait_alloc, &w[i]);
    wait_for_waiters(h, 2);
    wvm_host_shutdown(h);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].hr, HOST_E_ABANDONED);
        cr_assert_null(w[i].p);
    }
    void *p;
    cr_assert_eq(halloc(h, 4096, eProcessCritical, &p), HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(hfree(h, big), HOST_E_CLRNOTAVAILABLE);
    h->lpVtbl->Release(h); /* releases big */
}

Test(host_budget, memory_load)
{
    wvm_host_config c = test_config(64 * MIB, 100);
    IHostMemoryManager *h = test_host(&c);
    uint32_t load = 99;
    size_t avail = 0;
    cr_assert_eq(h->lpVtbl->GetMemoryLoad(h, &load, &avail), S_OK);
    cr_assert_eq(load, 0);
    cr_assert_eq(avail, 60 * MIB);
    void *p;
    cr_assert_eq(halloc(h, 32 * MIB, eTaskCritical, &p), S_OK);
    cr_assert_eq(h->lpVtbl->GetMemoryLoad(h, &load, &avail), S_OK);
    cr_assert_eq(load, 50);
    cr_assert_eq(avail, 28 * MIB);
    cr_assert_eq(h->lpVtbl->GetMemoryLoad(h, NULL, &avail), E_POINTER);
    cr_assert_eq(hfree(h, p), S_OK);
    h->lpVtbl->Release(h);
}
