/* Placeholders (placeholder.h) and VirtualFree's releasing forms. */
#include "core/deferred.h"
#include "core/guard.h"
#include "core/placeholder.h"
#include "core/range.h"
#include "core/view.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

uint32_t wvm__placeholder_reserve(uintptr_t want, size_t size, bool top_down, uintptr_t *out)
{
    wvm_reserve_req r = {.want = want,
                         .size = size,
                         .type = WVM_TYPE_PLACEHOLDER | (top_down ? WVM_MEM_TOP_DOWN : 0),
                         .prot = WVM_PAGE_NOACCESS,
                         .no_sparse = true};
    return wvm__space_reserve_req(&r, out);
}

/* The placeholder state of the locked, staged allocation a (it must hold nothing committed):
 * made visible, and its old guard map given up, once readers may see it. */
static uint32_t become_placeholder(wvm_alloc *a)
{
    wvm_snap *s = wvm__alloc_snap(a);
    wvm_snap *ph = wvm__snap_new(s->base, s->size, WVM_PAGE_NOACCESS, WVM_TYPE_PLACEHOLDER);
    if (!ph)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    wvm__alloc_set_backend(a, NULL);
    wvm__alloc_set_ext(a, NULL);
    a->guard_mode = a->in_arena && wvm__caps()->guard_markers;
    wvm__alloc_publish(a, ph);
    return 0;
}

/* Ends a staged change of a: readers see its state from here on. guards: a guard map the
 * change dropped, given up now that no new reader can find it. */
static void unstage(wvm_alloc *a, struct wvm_guardmap *guards)
{
    a->staged = false;
    wvm__alloc_publish(a, wvm__alloc_snap(a));
    if (guards != wvm__alloc_snap(a)->guards)
        wvm__guard_release(guards);
}

uint32_t wvm__placeholder_replace(uintptr_t addr, size_t size, uint32_t type, uint32_t prot,
                                  const wvm_backend *be)
{
    wvm_alloc *a = wvm__space_acquire(addr);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    if (!wvm__snap_is_placeholder(s) || s->base != addr || s->size != size) {
        wvm__space_unlock(a);
        return WVM_ERROR_INVALID_ADDRESS;
    }
    uint32_t keep = type & (WVM_MEM_WRITE_WATCH | WVM_MEM_COMMIT | WVM_MEM_RESERVE);
    wvm_snap *to = wvm__snap_new(s->base, s->size, prot, keep | WVM_TYPE_REPLACED);
    if (to && be && wvm__alloc_cold_get(a)) {
        wvm__snap_free(to);
        to = NULL;
    }
    if (!to) {
        wvm__space_unlock(a);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    /* staged: readers see the placeholder until the replacement is whole (reserved and
     * committed at one instant), or, on failure, never anything else */
    a->staged = true;
    wvm__alloc_set_backend(a, be);
    wvm__alloc_publish(a, to);
    uint32_t err = be && be->on_reserve ? be->on_reserve(a) : 0;
    if (!err && (type & WVM_MEM_COMMIT))
        err = wvm__alloc_commit(a, 0, wvm__snap_pages(to), prot);
    if (!err) {
        /* Readers see the replacement, then the commit's widening steps run (core/pages.c:
         * publish before widen; an access faulting in between waits for a's lock). If the
         * kernel refuses them, the placeholder comes back: a query that ran in between may
         * have seen the replacement, no access could use it (the one window pages.c names). */
        unstage(a, wvm__alloc_snap(a)->guards);
        err = wvm__alloc_widen_deferred(a);
        if (!err) {
            wvm__space_unlock(a);
            return 0;
        }
        wvm__alloc_decommit(a, 0, wvm__snap_pages(to)); /* uncharged; nothing committed */
    }
    struct wvm_guardmap *guards = wvm__alloc_snap(a)->guards;
    if (be && be->on_release)
        be->on_release(a, wvm__alloc_snap(a));
    become_placeholder(a); /* on ENOMEM the replaced state stays: nothing is committed */
    unstage(a, guards);
    wvm__space_unlock(a);
    return err;
}

/* MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER on a placeholder: carves [start, end) out of it as a
 * placeholder of its own (a locked; unlocked on return). The tail is cut first, so that a keeps
 * every piece's start and no second lock is needed. */
static uint32_t split(wvm_alloc *a, uintptr_t start, uintptr_t end)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uintptr_t base = s->base, top = s->base + s->size;
    uint32_t err = 0;
    if (end > top || (start == base && end == top))
        err = WVM_ERROR_INVALID_ADDRESS;
    if (!err && end < top)
        err = wvm__space_split(a, end);
    /* (a failure here leaves two pieces instead of three: only on ENOMEM) */
    if (!err && start > base)
        err = wvm__space_split(a, start);
    wvm__space_unlock(a);
    return err;
}

/* A piece after the first, whose lock is taken without waiting: a thread holding two
 * allocation locks may not wait (a fork takes every allocation's lock, one by one). NULL with
 * *busy when another thread holds it: the caller lets go of everything and starts again. */
static wvm_alloc *acquire_next(uintptr_t at, bool *busy)
{
    return wvm__space_try_acquire(at, busy);
}

/* One attempt at coalescing (a, the first placeholder, locked; unlocked on return). *again:
 * a lock was busy (the pieces joined so far stay joined). */
static uint32_t coalesce_locked(wvm_alloc *a, uintptr_t end, bool *again)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    bool busy = false;
    /* check the whole range first: a failure must leave every piece as it was */
    for (uintptr_t at = s->base + s->size; !err && !busy && at < end;) {
        wvm_alloc *b = acquire_next(at, &busy);
        wvm_snap *t = b ? wvm__alloc_snap(b) : NULL;
        if (!b && !busy)
            err = WVM_ERROR_INVALID_ADDRESS;
        else if (b && (t->base != at || !wvm__snap_is_placeholder(t) || t->base + t->size > end ||
                       b->in_arena != a->in_arena))
            err = WVM_ERROR_INVALID_ADDRESS;
        else if (b)
            at = t->base + t->size;
        if (b)
            wvm__space_unlock(b);
    }
    /* then join piece by piece (a is held throughout: nobody can take the range apart) */
    for (uintptr_t at;
         !err && !busy && (at = wvm__alloc_snap(a)->base + wvm__alloc_snap(a)->size) < end;) {
        wvm_alloc *b = acquire_next(at, &busy);
        wvm_snap *t = b ? wvm__alloc_snap(b) : NULL;
        if (!b && !busy)
            err = WVM_ERROR_INVALID_ADDRESS;
        else if (b && (!wvm__snap_is_placeholder(t) || t->base + t->size > end))
            err = WVM_ERROR_INVALID_ADDRESS; /* changed meanwhile by a racing caller */
        else if (b && (err = wvm__space_join(a, b)) == 0)
            continue;
        if (b)
            wvm__space_unlock(b);
    }
    wvm__space_unlock(a);
    *again = busy;
    return err;
}

/* The placeholders that exactly cover [start, end), joined into one. */
static uint32_t coalesce(uintptr_t start, uintptr_t end)
{
    for (;;) {
        wvm_alloc *a = wvm__space_acquire(start);
        wvm_snap *s = a ? wvm__alloc_snap(a) : NULL;
        if (!a || s->base != start || !wvm__snap_is_placeholder(s) || s->base + s->size >= end) {
            if (a)
                wvm__space_unlock(a); /* one placeholder (or none) is nothing to coalesce */
            return WVM_ERROR_INVALID_ADDRESS;
        }
        bool again;
        uint32_t err = coalesce_locked(a, end, &again);
        if (!again)
            return err;
        wvm__prim_yield(); /* (pieces joined before a busy lock stay joined: each join is whole) */
    }
}

static void count_one(wvm_alloc *a, void *ctx)
{
    const wvm_snap *s = wvm__alloc_visible(a);
    *(uint64_t *)ctx += s && wvm__snap_is_placeholder(s);
}

uint64_t wvm__placeholder_count(void)
{
    uint64_t n = 0;
    wvm__ebr_enter(); /* the snapshots read stay valid */
    wvm__space_each(count_one, &n);
    wvm__ebr_exit();
    return n;
}

uint32_t wvm__virtual_release(uintptr_t addr, size_t size, uint32_t flags)
{
    uintptr_t start = addr & ~(uintptr_t)(WVM_PAGE - 1), end = start;
    if (flags != WVM_MEM_RELEASE) {
        if (!size)
            return WVM_ERROR_INVALID_PARAMETER;
        end = (addr + size + WVM_PAGE - 1) & ~(uintptr_t)(WVM_PAGE - 1);
        if (end <= start)
            return WVM_ERROR_INVALID_PARAMETER;
    }
    if (flags == WVM_MEM_RELEASE)
        return wvm__range_release(start, NULL);
    if (flags == (WVM_MEM_RELEASE | WVM_MEM_COALESCE_PLACEHOLDERS))
        return coalesce(start, end);
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    const wvm_backend *be = wvm__alloc_backend(a);
    if (be && be->mapped)
        err = WVM_ERROR_INVALID_PARAMETER; /* a view: UnmapViewOfFile frees it */
    else if (wvm__snap_is_placeholder(s))
        return split(a, start, end);
    else if (!(s->type & WVM_TYPE_REPLACED) || start != s->base || end != s->base + s->size)
        err = WVM_ERROR_INVALID_ADDRESS;
    if (err) {
        wvm__space_unlock(a);
        return err;
    }
    /* back to the placeholder, staged: readers never see it half decommitted */
    a->staged = true;
    err = s->committed ? wvm__alloc_decommit(a, 0, wvm__snap_pages(s)) : 0;
    if (!err && be && be->on_release)
        err = be->on_release(a, wvm__alloc_snap(a));
    struct wvm_guardmap *guards = wvm__alloc_snap(a)->guards;
    if (!err)
        err = become_placeholder(a);
    unstage(a, guards); /* (on a failure half way: what did happen) */
    wvm__space_unlock(a);
    return err;
}
