/* VirtualLock / VirtualUnlock: mlock with Windows' rules and a working-set quota. */
#include <errno.h>

#include "core/guard.h"
#include "core/pages.h"
#include "core/residency.h"
#include "core/wsquota.h"
#include "core/ww.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"

typedef struct scan {
    uint64_t guard_page; /* first armed guard page, or UINT64_MAX */
    uint64_t unlocked;   /* pages not locked yet */
} scan;

/* Windows probes the pages in order: the first uncommitted or no-access page fails the call
 * with ERROR_NOACCESS (STATUS_ACCESS_VIOLATION), the first armed guard page with
 * STATUS_GUARD_PAGE_VIOLATION. */
static int probe_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    scan *sc = ctx;
    if (!wvm__attr_committed(attr))
        return 1;
    if (attr & WVM_PAGE_GUARD) {
        sc->guard_page = first;
        return 2;
    }
    if ((attr & 0xFFu) == WVM_PAGE_NOACCESS)
        return 1;
    if (!(attr & WVM_ATTR_LOCKED))
        sc->unlocked += count;
    return 0;
}

static uint32_t set_locked(uint32_t old, void *ctx)
{
    return *(int *)ctx ? old | WVM_ATTR_LOCKED : old & ~WVM_ATTR_LOCKED;
}

static uint32_t publish_locked(wvm_alloc *a, uint64_t first, uint64_t count, int on)
{
    wvm_snap *to = wvm__snap_map(wvm__alloc_snap(a), first, count, set_locked, &on);
    if (!to)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    wvm__alloc_publish(a, to);
    return 0;
}

uint32_t wvm__alloc_lock(wvm_alloc *a, uint64_t first, uint64_t count)
{
    wvm_snap *s = wvm__alloc_snap(a);
    scan sc = {UINT64_MAX, 0};
    int r = wvm__snap_each(s, first, count, probe_piece, &sc);
    if (r == 1)
        return WVM_ERROR_NOACCESS;
    if (r == 2) {
        wvm__guard_consume_locked(a, sc.guard_page);
        return WVM_STATUS_GUARD_PAGE_VIOLATION;
    }
    uint32_t err = wvm__lock_charge(sc.unlocked);
    if (!err && (err = wvm__alloc_wp_strip(a, first, count)))
        wvm__lock_uncharge(sc.unlocked);
    if (err)
        return err;
    s = wvm__alloc_snap(a);
    void *addr = (void *)(s->base + first * WVM_PAGE);
    /* a lock writes nothing: the write watch must not see mlock's population as writes */
    int e = wvm__ww_kernel_records(a) ? wvm__prim_mlock_no_write(addr, count * WVM_PAGE)
                                      : wvm__prim_mlock(addr, count * WVM_PAGE);
    if (!e && (err = publish_locked(a, first, count, 1)))
        wvm__prim_munlock(addr, count * WVM_PAGE);
    if (e || err) {
        wvm__lock_uncharge(sc.unlocked);
        return e ? WVM_ERROR_WORKING_SET_QUOTA : err;
    }
    return 0;
}

static int unlock_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    (void)ctx;
    if (!wvm__attr_committed(attr))
        return 1;
    return (attr & WVM_ATTR_LOCKED) ? 0 : 2;
}

uint32_t wvm__alloc_unlock(wvm_alloc *a, uint64_t first, uint64_t count)
{
    wvm_snap *s = wvm__alloc_snap(a);
    int r = wvm__snap_each(s, first, count, unlock_piece, NULL);
    if (r)
        return r == 1 ? WVM_ERROR_NOACCESS : WVM_ERROR_NOT_LOCKED;
    void *addr = (void *)(s->base + first * WVM_PAGE);
    uint32_t err = publish_locked(a, first, count, 0);
    if (err)
        return err;
    wvm__prim_munlock(addr, count * WVM_PAGE);
    wvm__lock_uncharge(count);
    return 0;
}
