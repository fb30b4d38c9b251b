#include <pthread.h>
#include <stdatomic.h>

#include <winvmem/vm.h>

#include "core/ledger.h"
#include "prim/options.h"
#include "prim/linux/prim.h"

static _Atomic uint64_t committed, peak, refusals, limit;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint64_t default_limit(void)
{
    const wvm_caps *c = wvm__caps();
    uint64_t sys = c->total_ram + c->total_swap;
    return c->cgroup_limit < sys ? c->cgroup_limit : sys;
}

static void init(void)
{
    int64_t opt = wvm__option(WVM_OPT_COMMIT_LIMIT);
    atomic_store(&limit, opt > 0 ? (uint64_t)opt : default_limit());
}

uint64_t wvm__ledger_limit(void)
{
    pthread_once(&once, init);
    return atomic_load_explicit(&limit, memory_order_relaxed);
}

uint32_t wvm__ledger_charge(uint64_t bytes)
{
    uint64_t lim = wvm__ledger_limit();
    uint64_t cur = atomic_load_explicit(&committed, memory_order_relaxed), next;
    do {
        next = cur + bytes;
        if (next < cur || next > lim) {
            atomic_fetch_add_explicit(&refusals, 1, memory_order_relaxed);
            return WVM_ERROR_COMMITMENT_LIMIT;
        }
    } while (!atomic_compare_exchange_weak(&committed, &cur, next));
    uint64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (next > p && !atomic_compare_exchange_weak(&peak, &p, next))
        ;
    return 0;
}

void wvm__ledger_uncharge(uint64_t bytes)
{
    atomic_fetch_sub_explicit(&committed, bytes, memory_order_relaxed);
}

uint64_t wvm__ledger_committed(void)
{
    return atomic_load_explicit(&committed, memory_order_relaxed);
}

uint64_t wvm__ledger_peak(void)
{
    return atomic_load_explicit(&peak, memory_order_relaxed);
}

uint64_t wvm__ledger_refusals(void)
{
    return atomic_load_explicit(&refusals, memory_order_relaxed);
}
