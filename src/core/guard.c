/* Guard pages consumed by faults; see guard.h for the design. */
#include <errno.h>

#include "core/guard.h"
#include "core/meta.h"
#include "core/radix.h"
#include "core/stash.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

static size_t map_bytes(uint64_t npages)
{
    return sizeof(wvm_guardmap) + 2 * ((npages + 63) / 64) * sizeof(uint64_t);
}

typedef struct region {
    const wvm_snap *s;
    uint64_t start; /* its bit is read once: a fault may consume it meanwhile */
    uint32_t visible;
    uint64_t end;
} region;

static int region_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    region *r = ctx;
    if ((attr & WVM_PAGE_GUARD) && r->s->guards) { /* page by page: some may be consumed */
        for (uint64_t p = first > r->start ? first : r->start + 1; p < first + count; p++)
            if ((wvm__guard_attr(r->s, attr, p) & WVM_ATTR_PROT_MASK) != r->visible) {
                r->end = p;
                return 1;
            }
        return 0;
    }
    if ((attr & WVM_ATTR_PROT_MASK) != r->visible) {
        r->end = first;
        return 1;
    }
    return 0;
}

uint64_t wvm__guard_region_end(const wvm_snap *s, uint64_t page, uint32_t *visible)
{
    uint64_t pages = wvm__snap_pages(s);
    region r = {s, page, wvm__guard_attr(s, wvm__snap_attr(s, page), page) & WVM_ATTR_PROT_MASK,
                pages};
    *visible = r.visible;
    wvm__snap_each(s, page, pages - page, region_piece, &r);
    return r.end;
}

bool wvm__guard_pending(const wvm_snap *s)
{
    return s->guards && atomic_load(&s->guards->pending);
}

static void clear_bits(wvm_guardmap *g, uint64_t first, uint64_t count)
{
    for (uint64_t p = first, end = first + count; p < end;) {
        uint64_t w = p / 64, lo = p % 64, n = end - p < 64 - lo ? end - p : 64 - lo;
        uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
        if (atomic_load_explicit(&g->bits[w], memory_order_relaxed) & mask)
            atomic_fetch_and(&g->bits[w], ~mask);
        p += n;
    }
}

uint32_t wvm__guard_prepare(wvm_snap *to, uint64_t first, uint64_t count, bool *created)
{
    *created = false;
    if (!wvm__snap_any(to, first, count, WVM_GUARDED))
        return 0;
    if (!to->guards)
        return wvm__guard_map(to, created) ? 0 : WVM_ERROR_NOT_ENOUGH_MEMORY;
    clear_bits(to->guards, first, count);
    return 0;
}

wvm_guardmap *wvm__guard_map(wvm_snap *to, bool *created)
{
    *created = false;
    if (to->guards)
        return to->guards;
    uint64_t n = wvm__snap_pages(to);
    wvm_guardmap *g = wvm__meta_zalloc(map_bytes(n)); /* large: untouched pages stay virtual */
    if (!g)
        return NULL;
    g->npages = n;
    g->held = g->bits + (n + 63) / 64;
    to->guards = g;
    *created = true;
    return g;
}

void wvm__guard_discard(wvm_snap *to)
{
    wvm__meta_free(to->guards, map_bytes(to->guards->npages));
    to->guards = NULL;
}

static uint32_t clear_guard(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~(WVM_PAGE_GUARD | WVM_ATTR_MARK | WVM_ATTR_STASH);
}

typedef struct fold {
    const wvm_snap *s; /* read: the published state */
    wvm_snap *cur;     /* built: s with consumed guards cleared (unpublished unless == s) */
} fold;

static int fold_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    fold *f = ctx;
    if (!(attr & WVM_PAGE_GUARD))
        return 0;
    for (uint64_t p = first, end = first + count; p < end;) {
        if (!wvm__guard_consumed(f->s, p)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < end && wvm__guard_consumed(f->s, q))
            q++;
        wvm_snap *next = wvm__snap_map(f->cur, p, q - p, clear_guard, NULL);
        if (!next)
            return 1;
        if (f->cur != f->s)
            wvm__snap_free(f->cur);
        f->cur = next;
        p = q;
    }
    return 0;
}

void wvm__guard_fold(wvm_alloc *a)
{
    wvm_snap *s = wvm__alloc_snap(a);
    if (!wvm__guard_pending(s))
        return;
    wvm_guardmap *g = s->guards;
    atomic_store(&g->pending, 0); /* we hold the lock: no fault marks meanwhile */
    fold f = {s, s};
    int failed = 0;
    if (g->nrecent <= WVM_GUARD_RECENT)
        for (uint32_t i = 0; i < g->nrecent && !failed; i++)
            failed = fold_piece(g->recent[i], 1, wvm__snap_attr(s, g->recent[i]), &f);
    else
        failed = wvm__snap_each(s, 0, wvm__snap_pages(s), fold_piece, &f);
    if (failed) { /* the marks stay, and so does the way to find them */
        if (f.cur != s)
            wvm__snap_free(f.cur);
        atomic_store(&g->pending, 1);
        return;
    }
    g->nrecent = 0;
    if (f.cur != s)
        wvm__alloc_publish(a, f.cur);
}

static void mark(wvm_guardmap *g, uint64_t page)
{
    atomic_fetch_or_explicit(&g->bits[page / 64], 1ull << (page % 64), memory_order_release);
    if (g->nrecent < WVM_GUARD_RECENT)
        g->recent[g->nrecent] = page;
    g->nrecent++;
    atomic_fetch_add(&g->pending, 1);
}

/* Takes back a mark whose mprotect the kernel refused (allocation locked: no fold between). */
static void unmark(wvm_guardmap *g, uint64_t page)
{
    atomic_fetch_and_explicit(&g->bits[page / 64], ~(1ull << (page % 64)), memory_order_release);
    g->nrecent--;
    atomic_fetch_sub(&g->pending, 1);
}

/* The kernel protection of committed page `page` once its guard is gone: its own, or what
 * the backend keeps there (the write-watch fallback: read-only until written). a locked. */
static int unguarded_prot(wvm_alloc *a, uint64_t page, uint32_t attr)
{
    attr &= ~WVM_PAGE_GUARD;
    const wvm_backend *be = wvm__alloc_backend(a);
    return be && be->page_prot ? be->page_prot(a, page, attr) : wvm__linux_prot(attr);
}

/* Makes an armed guard page accessible as its protection without the guard says; in_signal:
 * with the calls fault injection never fails. 0 or an errno. */
static int unguard(wvm_alloc *a, const wvm_snap *s, uint64_t page, uint32_t attr, bool in_signal)
{
    void *addr = (void *)(s->base + page * WVM_PAGE);
    if (attr & WVM_ATTR_STASH) /* PAGE_READWRITE under a marker, its data in the stash */
        return in_signal ? wvm__stash_sig_take((uintptr_t)addr, WVM_PAGE)
                         : wvm__stash_take((uintptr_t)addr, WVM_PAGE, false, WVM_P_RW);
    if (attr & WVM_ATTR_MARK) /* PAGE_READWRITE under a marker: the page holds zeros */
        return in_signal ? wvm__prim_sig_guard_remove(addr, WVM_PAGE)
                         : wvm__prim_guard_remove(addr, WVM_PAGE);
    int prot = unguarded_prot(a, page, attr);
    return in_signal ? wvm__prim_sig_protect(addr, WVM_PAGE, prot)
                     : wvm__prim_protect(addr, WVM_PAGE, prot);
}

void wvm__guard_consume_locked(wvm_alloc *a, uint64_t page)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t attr = wvm__snap_attr(s, page);
    /* the mark first (see wvm__guard_fault); a refused mprotect takes it back */
    mark(s->guards, page);
    if (unguard(a, s, page, attr, false))
        unmark(s->guards, page);
    wvm__guard_fold(a);
}

void wvm__guard_release(wvm_guardmap *g)
{
    if (g)
        wvm__ebr_retire(&g->hdr, map_bytes(g->npages));
}

/* Like wvm__space_acquire, but async-signal-safe: no epoch, trylock. Descriptors and index
 * nodes are never freed, so the loads before the lock are safe; the index is read again once
 * the lock is held (wvm__alloc_indexed). A thread that itself holds allocation locks (winvmem wrote
 * into the caller's buffer, e.g. GetWriteWatch's address array, and that buffer faulted) may be
 * waiting for itself: it gives up after a while and the fault is not handled (not ours). */
static wvm_alloc *acquire_in_signal(uintptr_t addr, bool *waited)
{
    for (;;) {
        wvm_alloc *a = wvm__radix_get(addr);
        if (!a)
            return NULL;
        for (unsigned spins = 0; !wvm__alock_try(&a->lock); spins++) {
            if (wvm__alloc_locks_held && spins > 10000)
                return NULL;
            *waited = true;
            wvm__prim_yield();
        }
        if (!wvm__alloc_indexed(a, addr))
            continue;
        wvm_snap *s = wvm__alloc_snap(a);
        if (s && addr >= s->base && addr - s->base < s->size)
            return a;
        wvm__alock_unlock(&a->lock);
        return NULL;
    }
}

static bool allows(int prot, int access)
{
    switch (access) {
    case 1:
        return prot & WVM_P_WRITE;
    case 8:
        return prot & WVM_P_EXEC;
    default:
        return prot & (WVM_P_READ | WVM_P_EXEC); /* x86: executable pages are readable */
    }
}

enum wvm_fault_kind wvm__guard_fault(uintptr_t addr, int access, bool probe, bool *write_protected,
                                     uintptr_t *seen)
{
    *write_protected = false;
    bool waited = false;
    wvm_alloc *a = acquire_in_signal(addr, &waited);
    if (!a)
        return WVM_FAULT_NOT_OURS;
    wvm_snap *s = wvm__alloc_snap(a);
    const wvm_backend *be = wvm__alloc_backend(a);
    uint64_t page = (addr - s->base) / WVM_PAGE;
    uint32_t attr = wvm__guard_attr(s, wvm__snap_attr(s, page), page);
    enum wvm_fault_kind kind = WVM_FAULT_VIOLATION;
    *write_protected = (attr & WVM_ATTR_WP) != 0;
    if (!wvm__attr_committed(attr)) {
        if (be && be->reserved_fault && be->reserved_fault(a, page, access))
            kind = WVM_FAULT_RETRY; /* committed by another process: now accessible */
    } else if ((attr & WVM_PAGE_GUARD) && s->guards && !probe) {
        /* The mark is the linearization point: set before the page becomes accessible, so
         * an access that succeeds is never followed by a query that still shows the guard.
         * Meanwhile queries show it consumed and other threads' faults wait for our lock,
         * then retry. If the kernel refuses, the mark is taken back: a query in between saw
         * the guard consumed while no access could get through (only a racing query). */
        mark(s->guards, page);
        if (unguard(a, s, page, attr, true))
            unmark(s->guards, page);
        else
            kind = WVM_FAULT_GUARD;
    } else if (access == 1 && be && be->write_fault && be->write_fault(a, page, attr)) {
        kind = WVM_FAULT_RETRY; /* the write-watch fallback recorded the first write */
        waited = true;
    } else if (allows(wvm__linux_prot(attr), access)) {
        kind = WVM_FAULT_RETRY;
    }
    *seen = (uintptr_t)s | waited;
    wvm__alock_unlock(&a->lock);
    return kind;
}
