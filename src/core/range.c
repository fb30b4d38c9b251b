/* Byte-range operations for src/api (range.h): the allocation lock is taken and given back
 * here and nowhere above. Each operation checks in Windows' order (which error wins when
 * several apply is part of the contract: the differential test compares it). */
#include "core/arena.h"
#include "core/range.h"
#include "core/residency.h"
#include "core/view.h"

static void acct_begin(wvm_acct *acct)
{
    if (acct) {
        acct->committed = acct->reserved = 0;
        acct->foreign = false;
    }
}

/* The allocation holding start, locked (acct's outs cleared); NULL when no allocation of acct's
 * owner holds it (acct->foreign), or, views_too and acct has a credit record, no view. */
static wvm_alloc *acquire_in(uintptr_t start, wvm_acct *acct, bool views_too)
{
    acct_begin(acct);
    wvm_alloc *a = wvm__space_acquire(start);
    if (a && acct && acct->owner && wvm__alloc_owner(a) != acct->owner &&
        !(views_too && acct->credit && wvm__alloc_is_view(a))) {
        wvm__space_unlock(a);
        a = NULL;
    }
    if (!a && acct && acct->owner)
        acct->foreign = true;
    return a;
}

static wvm_alloc *acquire(uintptr_t start, wvm_acct *acct)
{
    return acquire_in(start, acct, false);
}

/* Whether [.., end) ends inside s. */
static bool fits(const wvm_snap *s, uintptr_t end)
{
    return end - s->base <= s->size;
}

static uint64_t page_of(const wvm_snap *s, uintptr_t addr)
{
    return (addr - s->base) / WVM_PAGE;
}

static bool copy_on_write(uint32_t prot)
{
    return prot & (WVM_PAGE_WRITECOPY | WVM_PAGE_EXECUTE_WRITECOPY);
}

uint32_t wvm__range_reserve(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                            uint32_t commit, const wvm_backend *be, wvm_acct *acct, uintptr_t *base)
{
    acct_begin(acct);
    if (acct && commit && size > acct->max_commit) {
        acct->committed = size;
        return WVM_ERROR_COMMITMENT_LIMIT;
    }
    wvm_reserve_req r = {.want = want,
                         .size = size,
                         .type = type,
                         .prot = prot,
                         .commit = commit,
                         .be = be,
                         .owner = acct ? acct->owner : 0};
    uint32_t err = wvm__space_reserve_req(&r, base);
    if (!err && acct) {
        acct->reserved = size;
        acct->committed = commit ? size : 0;
    }
    return err;
}

uint32_t wvm__range_commit(uintptr_t start, uintptr_t end, uint32_t prot, wvm_acct *acct)
{
    wvm_alloc *a = acquire_in(start, acct, true);
    if (!a) /* a copy-on-write protection is wrong before the address counts */
        return copy_on_write(prot) ? WVM_ERROR_INVALID_PARAMETER : WVM_ERROR_INVALID_ADDRESS;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = page_of(s, start), count = (end - start) / WVM_PAGE, before = s->committed;
    uint64_t fresh = 0;
    uint32_t err;
    if (copy_on_write(prot) && !wvm__alloc_is_view(a))
        err = WVM_ERROR_INVALID_PARAMETER; /* for views only */
    else if (!fits(s, end) || wvm__snap_is_placeholder(s))
        err = WVM_ERROR_INVALID_ADDRESS; /* a placeholder is replaced, never committed */
    else if (wvm__alloc_is_view(a))
        return wvm__view_commit(a, first, count, prot, acct); /* it unlocks a */
    else if (acct && (fresh = wvm__snap_count(s, first, count, WVM_UNCOMMITTED)) * WVM_PAGE >
                         acct->max_commit)
        err = (acct->committed = fresh * WVM_PAGE, WVM_ERROR_COMMITMENT_LIMIT);
    else if (!(err = wvm__alloc_commit(a, first, count, prot)) && acct)
        acct->committed = (wvm__alloc_snap(a)->committed - before) * WVM_PAGE;
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_decommit(uintptr_t start, uintptr_t end, wvm_acct *acct)
{
    wvm_alloc *a = acquire(start, acct);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t before = s->committed;
    uint32_t err = 0;
    if (wvm__snap_is_placeholder(s))
        err = WVM_ERROR_INVALID_ADDRESS; /* nothing to decommit: it is replaced or freed */
    else if (!end) /* the whole allocation, and only when start is its first page */
        err = start != s->base ? WVM_ERROR_INVALID_ADDRESS : 0, end = s->base + s->size;
    else if (!fits(s, end))
        err = WVM_ERROR_INVALID_PARAMETER; /* NT: STATUS_UNABLE_TO_FREE_VM */
    if (!err)
        err = wvm__alloc_decommit(a, page_of(s, start), (end - start) / WVM_PAGE);
    if (!err && acct)
        acct->committed = (before - wvm__alloc_snap(a)->committed) * WVM_PAGE;
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_release(uintptr_t start, wvm_acct *acct)
{
    wvm_alloc *a = acquire(start, acct);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    const wvm_backend *be = wvm__alloc_backend(a);
    if (be && be->mapped)
        err = WVM_ERROR_INVALID_PARAMETER; /* a view: UnmapViewOfFile frees it */
    else if (s->base != start)
        err = WVM_ERROR_INVALID_ADDRESS; /* inside an allocation, not at its base */
    if (err) {
        wvm__space_unlock(a);
        return err;
    }
    uint64_t committed = s->committed * WVM_PAGE, reserved = s->size;
    err = wvm__alloc_release(a); /* it unlocks a */
    if (!err && acct) {
        acct->committed = committed;
        acct->reserved = reserved;
    }
    return err;
}

/* The caching modifiers belong to the memory, not to the call: VirtualProtect keeps the page's
 * PAGE_NOCACHE / PAGE_WRITECOMBINE and ignores new ones (Windows 8 and later; Wine's
 * conformance tests check it). */
#define CACHING (WVM_PAGE_NOCACHE | WVM_PAGE_WRITECOMBINE)

static uint32_t keep_caching(uint32_t old, void *ctx)
{
    uint32_t prot = *(uint32_t *)ctx;
    return (old & ~WVM_ATTR_PROT_MASK) | (prot & ~CACHING) | (old & CACHING);
}

uint32_t wvm__range_protect(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t *old)
{
    wvm_alloc *a = acquire(start, NULL);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = page_of(s, start), count = (end - start) / WVM_PAGE;
    uint32_t err = WVM_ERROR_INVALID_ADDRESS, got = 0;
    bool past = !fits(s, end);
    if (past) {
        err = WVM_ERROR_INVALID_ADDRESS;
    } else if (wvm__alloc_is_view(a)) {
        err = wvm__view_protect(a, first, count, prot, &got); /* Windows' rules for views */
    } else if (copy_on_write(prot)) {
        err = WVM_ERROR_INVALID_PARAMETER; /* private memory has no copy-on-write */
    } else if (!wvm__snap_any(s, first, count, WVM_UNCOMMITTED)) {
        got = wvm__snap_attr(s, first) & WVM_ATTR_PROT_MASK;
        err = wvm__alloc_protect_with(a, first, count, keep_caching, &prot);
    }
    wvm__space_unlock(a);
    if (!err)
        *old = got;
    else if (past)
        *old = WVM_PAGE_NOACCESS;
    return err;
}

uint32_t wvm__range_lock(uintptr_t start, uintptr_t end, bool lock)
{
    wvm_alloc *a = acquire(start, NULL);
    if (!a) { /* a range that runs into a winvmem allocation is no one else's either */
        if (wvm__space_next(start, end) < end)
            return WVM_ERROR_INVALID_ADDRESS;
        /* Free space in winvmem's arenas is free address space, as at NULL: nothing can be
         * locked or unlocked there. (mlock would also leave the range VM_LOCKED after its
         * ENOMEM, for the next allocation at those addresses to inherit.) */
        return wvm__arena_overlaps(start, end) ? WVM_ERROR_NOACCESS : WVM_NOT_OURS;
    }
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = page_of(s, start), count = (end - start) / WVM_PAGE;
    uint32_t err = WVM_ERROR_INVALID_ADDRESS;
    if (fits(s, end))
        err = lock ? wvm__alloc_lock(a, first, count) : wvm__alloc_unlock(a, first, count);
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_reset(uintptr_t start, uintptr_t end, bool undo, wvm_acct *acct)
{
    wvm_alloc *a = acquire(start, acct);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = page_of(s, start), count = (end - start) / WVM_PAGE;
    uint32_t err = WVM_ERROR_INVALID_ADDRESS;
    if (fits(s, end) && wvm__alloc_is_view(a))
        err = 0; /* a section's pages are shared: nothing to drop (Windows succeeds too) */
    else if (fits(s, end))
        err = undo ? wvm__alloc_reset_undo(a, first, count) : wvm__alloc_reset(a, first, count);
    wvm__space_unlock(a);
    return err;
}
