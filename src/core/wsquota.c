/* Working-set limits and the VirtualLock quota (wsquota.h). Linux has no per-process
 * working-set floor or ceiling the kernel would enforce; what it has is the mlock limit, which
 * is what the minimum means to a Windows program (VirtualLock's quota), and MADV_PAGEOUT for
 * trimming. The hard-limit flags (QUOTA_LIMITS_HARDWS_*_ENABLE) have no Linux counterpart and
 * are refused by the API (doc/windows-semantics.md). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/fork.h"
#include "core/index.h"
#include "core/snap.h"
#include "core/wsquota.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/prim_ws.h"

#define UNSET UINT64_MAX

static pthread_mutex_t ws_lock = PTHREAD_MUTEX_INITIALIZER; /* writers, and readers of all three */
static uint64_t ws_min = UNSET, ws_max;
static uint32_t ws_flags =
    WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE;
static _Atomic uint64_t quota = UNSET; /* bytes; UNSET: follow RLIMIT_MEMLOCK */

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_PRIM, &ws_lock);
}

static uint64_t rlimit_quota(void)
{
    uint64_t limit = wvm__prim_memlock_limit();
    uint64_t ram = wvm__caps()->total_ram;
    return limit < ram ? limit : ram;
}

uint64_t wvm__ws_lock_quota(void)
{
    uint64_t q = atomic_load_explicit(&quota, memory_order_acquire);
    return q == UNSET ? wvm__prim_memlock_limit() : q;
}

static _Atomic uint64_t locked_pages;

uint32_t wvm__lock_charge(uint64_t pages)
{
    uint64_t limit = wvm__ws_lock_quota() / WVM_PAGE;
    uint64_t cur = atomic_load(&locked_pages);
    do {
        if (cur + pages > limit)
            return WVM_ERROR_WORKING_SET_QUOTA;
    } while (!atomic_compare_exchange_weak(&locked_pages, &cur, cur + pages));
    return 0;
}

void wvm__lock_uncharge(uint64_t pages)
{
    atomic_fetch_sub(&locked_pages, pages);
}

void wvm__ws_get(uint64_t *min, uint64_t *max, uint32_t *flags)
{
    const uint64_t overhead = (uint64_t)WVM_WS_OVERHEAD * WVM_PAGE;
    pthread_mutex_lock(&ws_lock);
    if (ws_min == UNSET) {
        *min = rlimit_quota() + overhead;
        uint64_t floor = (uint64_t)WVM_WS_MAX_DEFAULT * WVM_PAGE;
        *max = *min > floor ? *min : floor;
    } else {
        *min = ws_min;
        *max = ws_max;
    }
    *flags = ws_flags;
    pthread_mutex_unlock(&ws_lock);
}

uint32_t wvm__ws_set(uint64_t min, uint64_t max, uint32_t flags)
{
    uint64_t q = min - (uint64_t)WVM_WS_OVERHEAD * WVM_PAGE;
    pthread_mutex_lock(&ws_lock);
    int err = wvm__prim_memlock_raise(q);
    if (!err) {
        ws_min = min;
        ws_max = max;
        /* each limit's pair of flags replaces that limit's enforcement; unnamed ones stay */
        const uint32_t min_bits =
            WVM_QUOTA_LIMITS_HARDWS_MIN_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MIN_DISABLE;
        const uint32_t max_bits =
            WVM_QUOTA_LIMITS_HARDWS_MAX_ENABLE | WVM_QUOTA_LIMITS_HARDWS_MAX_DISABLE;
        if (flags & min_bits)
            ws_flags = (ws_flags & ~min_bits) | (flags & min_bits);
        if (flags & max_bits)
            ws_flags = (ws_flags & ~max_bits) | (flags & max_bits);
        atomic_store_explicit(&quota, q, memory_order_release);
    }
    pthread_mutex_unlock(&ws_lock);
    if (err == EPERM)
        return WVM_ERROR_PRIVILEGE_NOT_HELD;
    return wvm__err_from_errno(err);
}

uint32_t wvm__ws_trim(void)
{
    return wvm__err_from_errno(wvm__prim_trim_all());
}
