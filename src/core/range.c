/* Byte-range operations for src/api (range.h): the allocation lock is taken and given back
 * here and nowhere above. */
#include "core/range.h"
#include "core/residency.h"

static void acct_begin(wvm_acct *acct)
{
    if (acct) {
        acct->committed = acct->reserved = 0;
        acct->foreign = false;
    }
}

/* The allocation holding [start, end), locked, and the pages of the range in it (acct's outs
 * cleared). Errors: no
 * allocation of acct's owner holds start (ERROR_INVALID_ADDRESS, acct->foreign); the range
 * runs past the allocation's end (past_end). */
static uint32_t acquire(uintptr_t start, uintptr_t end, wvm_acct *acct, uint32_t past_end,
                        wvm_alloc **out, uint64_t *first, uint64_t *count)
{
    acct_begin(acct);
    wvm_alloc *a = wvm__space_acquire(start);
    if (a && acct && acct->owner &&
        atomic_load_explicit(&a->owner, memory_order_relaxed) != acct->owner) {
        wvm__space_unlock(a);
        a = NULL;
    }
    if (!a) {
        if (acct && acct->owner)
            acct->foreign = true;
        return WVM_ERROR_INVALID_ADDRESS;
    }
    const wvm_snap *s = wvm__alloc_snap(a);
    if (end - s->base > s->size) {
        wvm__space_unlock(a);
        return past_end;
    }
    *out = a;
    *first = (start - s->base) / WVM_PAGE;
    *count = (end - start) / WVM_PAGE;
    return 0;
}

uint32_t wvm__range_reserve(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                            uint32_t commit, const wvm_backend *be, wvm_acct *acct, uintptr_t *base)
{
    acct_begin(acct);
    if (acct && commit && size > acct->max_commit) {
        acct->committed = size;
        return WVM_ERROR_COMMITMENT_LIMIT;
    }
    uint32_t err =
        wvm__space_reserve_with(want, size, type, prot, commit, be, acct ? acct->owner : 0, base);
    if (!err && acct) {
        acct->reserved = size;
        acct->committed = commit ? size : 0;
    }
    return err;
}

uint32_t wvm__range_commit(uintptr_t start, uintptr_t end, uint32_t prot, wvm_acct *acct)
{
    wvm_alloc *a;
    uint64_t first, count;
    uint32_t err = acquire(start, end, acct, WVM_ERROR_INVALID_ADDRESS, &a, &first, &count);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t before = s->committed;
    uint64_t fresh = acct ? wvm__snap_count(s, first, count, WVM_UNCOMMITTED) : 0;
    if (acct && fresh * WVM_PAGE > acct->max_commit) {
        acct->committed = fresh * WVM_PAGE;
        err = WVM_ERROR_COMMITMENT_LIMIT;
    } else if (!(err = wvm__alloc_commit(a, first, count, prot)) && acct) {
        acct->committed = (wvm__alloc_snap(a)->committed - before) * WVM_PAGE;
    }
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_decommit(uintptr_t start, uintptr_t end, wvm_acct *acct)
{
    wvm_alloc *a;
    uint64_t first, count;
    uint32_t err = acquire(start, end ? end : start + WVM_PAGE, acct, WVM_ERROR_INVALID_PARAMETER,
                           &a, &first, &count);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    if (!end) { /* the whole allocation, and only when start is its first page */
        if (start != s->base) {
            wvm__space_unlock(a);
            return WVM_ERROR_INVALID_ADDRESS;
        }
        count = wvm__snap_pages(s);
    }
    uint64_t before = s->committed;
    err = wvm__alloc_decommit(a, first, count);
    if (!err && acct)
        acct->committed = (before - wvm__alloc_snap(a)->committed) * WVM_PAGE;
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_release(uintptr_t start, wvm_acct *acct)
{
    acct_begin(acct);
    uint32_t err = wvm__space_release(start, acct ? acct->owner : 0, acct ? &acct->committed : NULL,
                                      acct ? &acct->reserved : NULL);
    if (err == WVM_ERROR_INVALID_ADDRESS && acct && acct->owner)
        acct->foreign = true;
    if (err == WVM_ERROR_INVALID_PARAMETER) /* inside an allocation, not at its base */
        err = WVM_ERROR_INVALID_ADDRESS;
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
    wvm_alloc *a;
    uint64_t first, count;
    uint32_t err = acquire(start, end, NULL, WVM_ERROR_INVALID_ADDRESS, &a, &first, &count);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    if (prot & (WVM_PAGE_WRITECOPY | WVM_PAGE_EXECUTE_WRITECOPY)) {
        err = WVM_ERROR_INVALID_PARAMETER; /* private memory has no copy-on-write */
    } else if (wvm__snap_any(s, first, count, WVM_UNCOMMITTED)) {
        err = WVM_ERROR_INVALID_ADDRESS;
    } else {
        *old = wvm__snap_attr(s, first) & WVM_ATTR_PROT_MASK;
        err = wvm__alloc_protect_with(a, first, count, keep_caching, &prot);
    }
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_lock(uintptr_t start, uintptr_t end, bool lock)
{
    wvm_alloc *a;
    uint64_t first, count;
    uint32_t err = acquire(start, end, NULL, WVM_ERROR_INVALID_ADDRESS, &a, &first, &count);
    if (err == WVM_ERROR_INVALID_ADDRESS && !wvm__space_owns(start) &&
        wvm__space_next(start, end) >= end)
        return WVM_NOT_OURS;
    if (err)
        return err;
    err = lock ? wvm__alloc_lock(a, first, count) : wvm__alloc_unlock(a, first, count);
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_reset(uintptr_t start, uintptr_t end, bool undo, wvm_acct *acct)
{
    wvm_alloc *a;
    uint64_t first, count;
    uint32_t err = acquire(start, end, acct, WVM_ERROR_INVALID_ADDRESS, &a, &first, &count);
    if (err)
        return err;
    err = undo ? wvm__alloc_reset_undo(a, first, count) : wvm__alloc_reset(a, first, count);
    wvm__space_unlock(a);
    return err;
}
