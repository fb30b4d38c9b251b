/* Stash or mprotect for a page with data becoming NOACCESS/PAGE_GUARD; see stash.h.
 *
 * mprotect costs two system calls a toggle and up to two kernel mappings a run; the stash
 * costs no mapping but ~8 system calls and as many TLB flushes (bench/RESULTS.md). So pages
 * go mprotect's way while the process holds fewer than 1/16 of vm.max_map_count kernel
 * mappings, the stash's beyond. The count is an estimate: the mappings of the last read of
 * /proc/self/maps (O(mappings)) plus two for each run mprotect'ed since (a run splits its
 * mapping in three at most; widenings that merge them back are not subtracted). It is read
 * again when the estimate reaches the threshold and as many splits were added since as the
 * count held (RECOUNT at least), or after twice as many stash decisions (RECOUNT_STASH at
 * least; the count may have gone down: releases, merges): a read costs ~0.4 µs per mapping
 * (6.4 ms at 16,000 under load), so spread over the operations in between it adds < 1 µs to
 * each. Pages once
 * mprotect'ed stay so; an operation whose mprotect the kernel refuses (ENOMEM: the estimate
 * missed mappings made by others) is retried with the stash (wvm__stash_policy_refused).
 * Threads race on the counters with relaxed atomics: the estimate is an estimate. */
#include <stdatomic.h>

#include "core/meta.h"
#include "core/stash.h"
#include "prim/linux/prim.h"
#include "prim/options.h"

#define RECOUNT       1024
#define RECOUNT_STASH 4096
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

static _Atomic long counted = -1; /* mappings at the last count; -1: never counted */
static _Atomic long added;        /* splits estimated since the count */
static _Atomic long stashes;      /* stash decisions since the count */
static _Atomic bool counting;
static WVM_THREAD bool chose_mprotect; /* this thread's last decision was mprotect */

static long threshold(void)
{
    return wvm__prim_max_map_count() / 16;
}

static void recount(void)
{
    if (atomic_exchange_explicit(&counting, true, memory_order_acquire))
        return; /* another thread counts: this decision goes by the old figures */
    long n = wvm__prim_map_count();
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    atomic_store_explicit(&stashes, 0, memory_order_relaxed);
    /* unreadable: as at the threshold, i.e. the stash (its cost, never an ENOMEM) */
    atomic_store_explicit(&counted, n < 0 ? threshold() : n, memory_order_relaxed);
    atomic_store_explicit(&counting, false, memory_order_release);
}

static bool below(void)
{
    long c = atomic_load_explicit(&counted, memory_order_relaxed);
    return c >= 0 && c + atomic_load_explicit(&added, memory_order_relaxed) < threshold();
}

bool wvm__stash_policy_wants(void)
{
    int64_t mode = wvm__option(WVM_OPT_MARKER_DATA);
    if (mode != 1) /* 0 never comes here (the stash is not available) */
        return true;
    if (!below()) {
        long c = atomic_load_explicit(&counted, memory_order_relaxed);
        if (c < 0 || atomic_load_explicit(&added, memory_order_relaxed) >= MAX(RECOUNT, c) ||
            atomic_fetch_add_explicit(&stashes, 1, memory_order_relaxed) + 1 >=
                MAX(RECOUNT_STASH, 2 * c))
            recount();
    }
    chose_mprotect = below();
    return !chose_mprotect;
}

void wvm__stash_policy_split(unsigned long runs)
{
    atomic_fetch_add_explicit(&added, 2 * (long)runs, memory_order_relaxed);
}

bool wvm__stash_policy_refused(void)
{
    if (!chose_mprotect)
        return false;
    chose_mprotect = false;
    /* at the threshold with nothing added: the stash until RECOUNT_STASH decisions recount */
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    atomic_store_explicit(&stashes, 0, memory_order_relaxed);
    atomic_store_explicit(&counted, threshold(), memory_order_relaxed);
    return true;
}
