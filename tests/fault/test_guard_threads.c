/* Guard pages under contention: threads re-arm and consume guards on pages of one allocation
 * (faults and VirtualProtect compete for its lock) while another thread queries it. Every
 * arming must raise exactly one exception, and queries only ever see the two legal states. */
#include <pthread.h>
#include <stdatomic.h>

#include "veh_record.h"

enum { THREADS = 4, ROUNDS = 2000 };
static char *base;
static _Atomic int stop;
static _Thread_local int my_exceptions;
static _Atomic int bad_query;

static int32_t count_guard(wvm_EXCEPTION_POINTERS *ep)
{
    if (ep->ExceptionRecord->ExceptionCode != WVM_STATUS_GUARD_PAGE_VIOLATION)
        return WVM_EXCEPTION_CONTINUE_SEARCH;
    my_exceptions++;
    return WVM_EXCEPTION_CONTINUE_EXECUTION;
}

static void *worker(void *arg)
{
    volatile char *page = base + (uintptr_t)arg * PAGE;
    uint32_t old;
    for (int i = 0; i < ROUNDS; i++) {
        if (!wvm_VirtualProtect((void *)page, PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old))
            return (void *)1;
        page[i % PAGE] = (char)i;
        if (page[i % PAGE] != (char)i)
            return (void *)2;
    }
    return (void *)(intptr_t)(my_exceptions == ROUNDS ? 0 : 3);
}

static void *querier(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        for (int t = 0; t < THREADS; t++) {
            uint32_t p = prot_of(base + t * PAGE);
            if (p != WVM_PAGE_READWRITE && p != (WVM_PAGE_READWRITE | WVM_PAGE_GUARD))
                atomic_store(&bad_query, (int)p);
        }
    }
    return NULL;
}

Test(stress, guards_rearmed_and_consumed_concurrently, .timeout = 120)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, count_guard));
    base = wvm_VirtualAlloc(NULL, THREADS * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                            WVM_PAGE_READWRITE);
    pthread_t w[THREADS], q;
    pthread_create(&q, NULL, querier, NULL);
    for (intptr_t t = 0; t < THREADS; t++)
        pthread_create(&w[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(w[t], &r);
        cr_expect_null(r, "thread %d failed with %ld", t, (long)(intptr_t)r);
    }
    atomic_store(&stop, 1);
    pthread_join(q, NULL);
    cr_assert_eq(atomic_load(&bad_query), 0, "query saw protection %#x", bad_query);
    cr_assert_eq(wvm_check_invariants(), 0);
}
