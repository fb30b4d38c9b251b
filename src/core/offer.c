/* Contents the application gives up: DiscardVirtualMemory (at once, no way back),
 * OfferVirtualMemory / ReclaimVirtualMemory (maybe, and find out later).
 *
 * Both need every page committed (else ERROR_INVALID_ADDRESS, as for a range that is not
 * committed elsewhere) with exactly PAGE_READWRITE (else ERROR_INVALID_PARAMETER: Windows'
 * STATUS_INVALID_PAGE_PROTECTION as its Win32 layer reports it), and refuse AWE windows.
 *
 * Discard: MADV_DONTNEED on the committed pages (the next access finds zero pages: contents
 * "undefined" as Microsoft documents them, RAM returned at once); MADV_FREE on userfaultfd
 * write-watch allocations (RAM returned under pressure), where MADV_DONTNEED would make the
 * pages look written. The model does not change.
 * Locked pages keep their contents (the kernel refuses to drop mlocked memory; undefined
 * includes unchanged), and so do parts of large pages.
 *
 * Offer = MEM_RESET (core/reset.c: MADV_FREE, after recording which pages held data) and then
 * the pages become PAGE_NOACCESS with WVM_ATTR_OFFERED: inaccessible, as Microsoft documents,
 * and shown so by VirtualQuery. Offering unlocks locked pages (documented). Reclaim =
 * MEM_RESET_UNDO (the race-free pin of core/reset.c: a dropped page is never reported intact)
 * and then PAGE_READWRITE again. Pages of the range that were MEM_RESET without being offered
 * are undone too (their loss also answers ERROR_BUSY); pages neither reset nor offered are
 * left as they are. Offer's priority is not passed to the kernel: MADV_FREE pages are dropped
 * in LRU order, whatever their priority. */
#include <errno.h>

#include "core/offer.h"
#include "core/space.h"
#include "core/residency.h"
#include "core/wsquota.h"
#include "core/ww.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"

typedef struct check {
    uint32_t need; /* the page protection every page must have; 0: any */
    uint32_t err;
} check;

static int check_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    check *c = ctx;
    if (!wvm__attr_committed(attr))
        c->err = WVM_ERROR_INVALID_ADDRESS;
    else if (c->need && (attr & WVM_ATTR_PROT_MASK) != c->need)
        c->err = WVM_ERROR_INVALID_PARAMETER;
    return c->err != 0;
}

static uint32_t check_range(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t need)
{
    wvm_snap *s = wvm__alloc_snap(a);
    if (s->type & WVM_MEM_PHYSICAL)
        return WVM_ERROR_INVALID_PARAMETER;
    check c = {need, 0};
    wvm__snap_each(s, first, count, check_piece, &c);
    return c.err;
}

typedef struct discard_ctx {
    uintptr_t base;
    int (*drop)(void *addr, size_t size);
    int err;
} discard_ctx;

static int discard_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    discard_ctx *d = ctx;
    if (attr & WVM_ATTR_LOCKED)
        return 0;
    int err = d->drop((void *)(d->base + first * WVM_PAGE), count * WVM_PAGE);
    if (err && err != EINVAL) /* EINVAL: memory the kernel cannot drop (a part of a large page) */
        d->err = err;
    return d->err != 0;
}

static uint32_t discard(wvm_alloc *a, uint64_t first, uint64_t count)
{
    uint32_t err = check_range(a, first, count, WVM_PAGE_READWRITE);
    if (err)
        return err;
    wvm_snap *s = wvm__alloc_snap(a);
    /* userfaultfd write watch: MADV_DONTNEED would leave empty page-table entries, which the
     * kernel's written-page scan reports as written; lazily freed pages keep their entries */
    discard_ctx d = {s->base, wvm__ww_kernel_records(a) ? wvm__prim_free_lazy : wvm__prim_discard,
                     0};
    wvm__snap_each(s, first, count, discard_piece, &d);
    return d.err ? wvm__err_from_errno(d.err) : 0;
}

static uint32_t to_offered(uint32_t old, void *ctx)
{
    (void)ctx;
    return (old & ~(WVM_ATTR_PROT_MASK | WVM_ATTR_LOCKED)) | WVM_PAGE_NOACCESS | WVM_ATTR_OFFERED;
}

static uint32_t offer(wvm_alloc *a, uint64_t first, uint64_t count)
{
    uint32_t err = check_range(a, first, count, WVM_PAGE_READWRITE);
    if (err)
        return err;
    uint64_t locked = wvm__snap_count(wvm__alloc_snap(a), first, count, WVM_LOCKED);
    /* locked pages are left out of the reset (MADV_FREE refuses them): they stay intact */
    if ((err = wvm__alloc_reset(a, first, count)))
        return err;
    /* drops the locks (munlock) and makes the pages inaccessible; on failure nothing of it
     * happened, and the reset is undone (the pin keeps every page that still held data) */
    if ((err = wvm__alloc_protect_with(a, first, count, to_offered, NULL))) {
        wvm__alloc_reset_undo(a, first, count);
        return err;
    }
    wvm__lock_uncharge(locked);
    return 0;
}

static uint32_t to_reclaimed(uint32_t old, void *ctx)
{
    (void)ctx;
    if (!(old & WVM_ATTR_OFFERED))
        return old;
    return (old & ~(WVM_ATTR_PROT_MASK | WVM_ATTR_OFFERED)) | WVM_PAGE_READWRITE;
}

static uint32_t reclaim(wvm_alloc *a, uint64_t first, uint64_t count)
{
    uint32_t err = check_range(a, first, count, 0);
    if (err)
        return err;
    /* pinned first, while still inaccessible to everyone else: from the pin on no page can be
     * dropped, so what the pin found is what the application gets */
    uint32_t lost = wvm__alloc_reset_undo(a, first, count);
    if (lost && lost != WVM_ERROR_INVALID_ADDRESS)
        return lost; /* could not pin (no memory for the snapshot): nothing changed */
    if ((err = wvm__alloc_protect_with(a, first, count, to_reclaimed, NULL)))
        return err;
    return lost ? WVM_ERROR_BUSY : 0;
}

typedef uint32_t (*range_op)(wvm_alloc *a, uint64_t first, uint64_t count);

static uint32_t on_range(uintptr_t start, uintptr_t end, range_op op)
{
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = WVM_ERROR_INVALID_ADDRESS;
    if (end - s->base <= s->size)
        err = op(a, (start - s->base) / WVM_PAGE, (end - start) / WVM_PAGE);
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__range_discard(uintptr_t start, uintptr_t end)
{
    return on_range(start, end, discard);
}

uint32_t wvm__range_offer(uintptr_t start, uintptr_t end)
{
    return on_range(start, end, offer);
}

uint32_t wvm__range_reclaim(uintptr_t start, uintptr_t end)
{
    return on_range(start, end, reclaim);
}
