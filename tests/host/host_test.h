/* Shared helpers of the host tests. */
#ifndef WVM_HOST_TEST_H
#define WVM_HOST_TEST_H

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <sched.h>
#include "winvmem/host.h"

#define MIB ((size_t)1 << 20)

/* Test hooks of src/host (internal): the next fallible step reports an internal failure;
 * wait until the host thread has finished an evaluation that began after the call. */
void wvm__host_inject_failure(IHostMemoryManager *host);
void wvm__host_settle(IHostMemoryManager *host);

static inline wvm_host_config test_config(uint64_t budget, uint32_t timeout_ms)
{
    wvm_host_config c;
    wvm_host_config_init(&c);
    c.budget = budget;
    c.emergency_reserve = budget / 16;
    c.wait_timeout_ms = timeout_ms;
    c.poll_interval_ms = 20;
    return c;
}

static inline IHostMemoryManager *test_host(const wvm_host_config *c)
{
    IHostMemoryManager *h = NULL;
    cr_assert_eq(wvm_host_create(c, &h), S_OK);
    cr_assert_not_null(h);
    return h;
}

static inline uint64_t host_used(IHostMemoryManager *h)
{
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    return s.used;
}

/* Tests synchronise on events, never on time: this waits (without a deadline: ctest's timeout
 * is the bound) until n requests have started waiting for budget. */
static inline void wait_for_waiters(IHostMemoryManager *h, uint64_t n)
{
    wvm_host_stats s;
    for (wvm_host_get_stats(h, &s); s.waits < n; wvm_host_get_stats(h, &s))
        sched_yield();
}

static inline HRESULT halloc(IHostMemoryManager *h, size_t size, int level, void **p)
{
    return h->lpVtbl->VirtualAlloc(h, NULL, size, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                   WVM_PAGE_READWRITE, (EMemoryCriticalLevel)level, p);
}

static inline HRESULT hfree(IHostMemoryManager *h, void *p)
{
    return h->lpVtbl->VirtualFree(h, p, 0, WVM_MEM_RELEASE);
}

#endif
