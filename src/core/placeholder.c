/* Placeholders (placeholder.h) and VirtualFree's releasing forms. */
#include "core/guard.h"
#include "core/placeholder.h"
#include "core/view.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

#define GRAN_MASK ((uintptr_t)WVM_GRAN - 1)

uint32_t wvm__placeholder_reserve(uintptr_t want, size_t size, bool top_down, uintptr_t *out)
{
    wvm_reserve_req r = {.want = want,
                         .size = size,
                         .type = WVM_TYPE_PLACEHOLDER | (top_down ? WVM_MEM_TOP_DOWN : 0),
                         .prot = WVM_PAGE_NOACCESS,
                         .no_sparse = true};
    wvm_alloc *a;
    uint32_t err = wvm__space_reserve_req(&r, &a);
    if (!err)
        *out = wvm__alloc_snap(a)->base;
    return err;
}

/* The placeholder state of the locked allocation a (it must hold nothing committed). */
static uint32_t become_placeholder(wvm_alloc *a)
{
    wvm_snap *s = wvm__alloc_snap(a);
    wvm_snap *ph = wvm__snap_new(s->base, s->size, WVM_PAGE_NOACCESS, WVM_TYPE_PLACEHOLDER);
    if (!ph)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    struct wvm_guardmap *guards = s->guards;
    a->backend = NULL;
    a->ext = NULL;
    a->guard_mode = a->in_arena && wvm__caps()->guard_markers;
    wvm__alloc_publish(a, ph);
    wvm__guard_release(guards);
    return 0;
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
    if (!to) {
        wvm__space_unlock(a);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    a->backend = be;
    wvm__alloc_publish(a, to);
    uint32_t err = be && be->on_reserve ? be->on_reserve(a) : 0;
    if (!err && (type & WVM_MEM_COMMIT))
        err = wvm__alloc_commit(a, 0, wvm__snap_pages(to), prot);
    if (err) {
        if (be && be->on_release)
            be->on_release(a, wvm__alloc_snap(a));
        become_placeholder(a); /* on ENOMEM the replaced state stays: nothing is committed */
    }
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
    else if ((start & GRAN_MASK) || ((end & GRAN_MASK) && end != top))
        err = WVM_ERROR_NOT_SUPPORTED; /* inside a 64 KiB granule: see placeholder.h */
    if (!err && end < top)
        err = wvm__space_split(a, end);
    /* (a failure here leaves two pieces instead of three: only on ENOMEM) */
    if (!err && start > base)
        err = wvm__space_split(a, start);
    wvm__space_unlock(a);
    return err;
}

/* The next placeholder to join, at `at`: its lock is taken without waiting (the caller holds
 * the one below it; every coalescer locks upward, so whoever holds this one never waits for
 * ours), retrying while another thread holds it. */
static wvm_alloc *acquire_next(uintptr_t at)
{
    for (;;) {
        bool busy;
        wvm_alloc *a = wvm__space_try_acquire(at, &busy);
        if (a || !busy)
            return a;
        wvm__prim_yield();
    }
}

/* The placeholders that exactly cover [start, end), joined into one. */
static uint32_t coalesce(uintptr_t start, uintptr_t end)
{
    wvm_alloc *a = wvm__space_acquire(start);
    wvm_snap *s = a ? wvm__alloc_snap(a) : NULL;
    if (!a || s->base != start || !wvm__snap_is_placeholder(s) || s->base + s->size >= end) {
        if (a)
            wvm__space_unlock(a); /* one placeholder (or none) is nothing to coalesce */
        return WVM_ERROR_INVALID_ADDRESS;
    }
    /* check the whole range first: a failure must leave every piece as it was */
    uint32_t err = 0;
    for (uintptr_t at = s->base + s->size; !err && at < end;) {
        wvm_alloc *b = acquire_next(at);
        wvm_snap *t = b ? wvm__alloc_snap(b) : NULL;
        if (!b || t->base != at || !wvm__snap_is_placeholder(t) || t->base + t->size > end ||
            b->in_arena != a->in_arena)
            err = WVM_ERROR_INVALID_ADDRESS;
        else
            at = t->base + t->size;
        if (b)
            wvm__space_unlock(b);
    }
    /* then join piece by piece (a is held throughout: nobody can take the range apart) */
    for (uintptr_t at; !err && (at = wvm__alloc_snap(a)->base + wvm__alloc_snap(a)->size) < end;) {
        wvm_alloc *b = acquire_next(at);
        wvm_snap *t = b ? wvm__alloc_snap(b) : NULL;
        if (!b || !wvm__snap_is_placeholder(t) || t->base + t->size > end)
            err = WVM_ERROR_INVALID_ADDRESS; /* changed meanwhile by a racing caller */
        else if ((err = wvm__space_join(a, b)) == 0)
            continue;
        if (b)
            wvm__space_unlock(b);
    }
    wvm__space_unlock(a);
    return err;
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
    if (flags == (WVM_MEM_RELEASE | WVM_MEM_COALESCE_PLACEHOLDERS))
        return coalesce(start, end);
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    if (a->backend && a->backend->mapped)
        err = WVM_ERROR_INVALID_PARAMETER; /* a view: UnmapViewOfFile frees it */
    else if (flags == WVM_MEM_RELEASE && s->base != start)
        err = WVM_ERROR_INVALID_ADDRESS;
    else if (flags == WVM_MEM_RELEASE)
        return wvm__alloc_release(a);
    else if (wvm__snap_is_placeholder(s))
        return split(a, start, end);
    else if (!(s->type & WVM_TYPE_REPLACED) || start != s->base || end != s->base + s->size)
        err = WVM_ERROR_INVALID_ADDRESS;
    else if (!(err = s->committed ? wvm__alloc_decommit(a, 0, wvm__snap_pages(s)) : 0) &&
             a->backend && a->backend->on_release)
        err = a->backend->on_release(a, wvm__alloc_snap(a));
    if (!err && flags != WVM_MEM_RELEASE)
        err = become_placeholder(a);
    wvm__space_unlock(a);
    return err;
}
