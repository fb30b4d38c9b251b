/* Allocations: descriptors, arenas, placement, and the address index. */
#include <errno.h>
#include <string.h>

#include "core/arena.h"
#include "core/freespace.h"
#include "core/guard.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "core/radix.h"
#include "core/space.h"
#include "prim/linux/prim.h"

static pthread_mutex_t placement = PTHREAD_MUTEX_INITIALIZER;
static wvm_alloc *free_descs;
static wvm_alloc live_head = {.prev = &live_head, .next = &live_head};
static uint64_t reserved_bytes, reserved_peak, live_count;

uint32_t wvm__err_from_errno(int err)
{
    switch (err) {
    case 0:
        return 0;
    case EEXIST:
    case EFAULT:
        return WVM_ERROR_INVALID_ADDRESS;
    case EINVAL:
        return WVM_ERROR_INVALID_PARAMETER;
    case EPERM:
    case EACCES:
        return WVM_ERROR_NOACCESS;
    case ENOSPC: /* a kernel pool (hugetlb) cannot supply the pages */
        return WVM_ERROR_NO_SYSTEM_RESOURCES;
    case EAGAIN:
    case ENOMEM:
    default:
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
}

static uintptr_t span_of(size_t size)
{
    return ((uintptr_t)size + WVM_GRAN - 1) & ~(uintptr_t)(WVM_GRAN - 1);
}

/* Descriptors live in slabs that are never freed: a reader holding a stale pointer always
 * finds a valid mutex and snapshot pointer (type-stable memory). Placement lock held. */
static wvm_alloc *desc_get(void)
{
    if (!free_descs) {
        enum { SLAB = 256 };
        /* a large block: page-aligned, so that each quick copy is one cache line */
        _Static_assert(SLAB * sizeof(wvm_alloc) > WVM_META_MAX_SMALL, "alignment");
        wvm_alloc *slab = wvm__meta_zalloc(SLAB * sizeof *slab);
        if (!slab)
            return NULL;
        for (int i = 0; i < SLAB; i++) {
            pthread_mutex_init(&slab[i].lock, NULL);
            slab[i].next = free_descs;
            free_descs = &slab[i];
        }
    }
    wvm_alloc *a = free_descs;
    free_descs = a->next;
    a->backend = NULL;
    a->ext = NULL;
    return a;
}

static void quick_update(wvm_alloc *a, const wvm_snap *s);

static void desc_put(wvm_alloc *a)
{
    a->next = free_descs;
    free_descs = a;
}

static void live_link(wvm_alloc *a, size_t size)
{
    wvm_alloc *pos = live_head.prev; /* creation order; introspection sorts */
    a->prev = pos;
    a->next = pos->next;
    pos->next->prev = a;
    pos->next = a;
    live_count++;
    reserved_bytes += size;
    if (reserved_bytes > reserved_peak)
        reserved_peak = reserved_bytes;
}

static void live_unlink(wvm_alloc *a, size_t size)
{
    a->prev->next = a->next;
    a->next->prev = a->prev;
    live_count--;
    reserved_bytes -= size;
}

/* Places span bytes in an arena; placement lock held. */
static uint32_t place_anywhere(uintptr_t span, bool top_down, uintptr_t *base)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int err = top_down ? wvm__free_take_high(span, base) : wvm__free_take_low(span, base);
        if (!err)
            return 0;
        if (attempt || (err = wvm__arena_grow(span)))
            return wvm__err_from_errno(err);
    }
    return WVM_ERROR_NOT_ENOUGH_MEMORY;
}

/* Places a sparse reservation on whole 2 MiB chunks of its own. */
static uint32_t place_chunks(uintptr_t footprint, bool top_down, uintptr_t *base)
{
    uintptr_t slack = WVM_CHUNK - WVM_GRAN, got;
    uint32_t err = place_anywhere(footprint + slack, top_down, &got);
    if (err)
        return err;
    uintptr_t start = (got + WVM_CHUNK - 1) & ~(uintptr_t)(WVM_CHUNK - 1);
    if (start > got)
        wvm__free_add(got, start - got);
    if (got + slack > start)
        wvm__free_add(start + footprint, got + slack - start);
    *base = start;
    return 0;
}

/* Chunk-exclusive placement, and chunks small allocations once switched to guard markers
 * switched back: a sparse reservation's uncommitted pages are plain PROT_NONE. */
static uint32_t place_sparse(uintptr_t footprint, bool top_down, uintptr_t *base)
{
    uint32_t err = place_chunks(footprint, top_down, base);
    if (!err && wvm__caps()->guard_markers &&
        (err = wvm__err_from_errno(wvm__arena_unguard_chunks(*base, *base + footprint))))
        wvm__free_add(*base, footprint);
    return err;
}

static int map_none_at(uintptr_t want, size_t size, void **out)
{
    return wvm__prim_map_none((void *)want, size, true, out);
}

/* Places [want, want+span): in an arena's free space, or as a dedicated mapping of size
 * bytes outside every arena (made by map when the backend has one). Placement lock held on
 * entry and exit; dropped around mmap. */
static uint32_t place_at(uintptr_t want, uintptr_t span, size_t size,
                         int (*map)(uintptr_t, size_t, void **), bool *in_arena)
{
    if (wvm__radix_next(want, want + span) < want + span)
        return WVM_ERROR_INVALID_ADDRESS;
    if (wvm__arena_overlaps(want, want + span)) {
        if (map) /* a dedicated mapping cannot replace part of an arena (documented limit) */
            return WVM_ERROR_INVALID_ADDRESS;
        *in_arena = true;
        int err = wvm__free_take_at(want, span);
        return err == ENOENT ? WVM_ERROR_INVALID_ADDRESS : wvm__err_from_errno(err);
    }
    *in_arena = false;
    void *got;
    pthread_mutex_unlock(&placement);
    int err = (map ? map : map_none_at)(want, size, &got);
    pthread_mutex_lock(&placement);
    if (err)
        return wvm__err_from_errno(err);
    if (wvm__radix_next(want, want + span) < want + span) { /* lost a race for the tail */
        wvm__prim_unmap(got, size);
        return WVM_ERROR_INVALID_ADDRESS;
    }
    return 0;
}

/* A dedicated mapping anywhere (the kernel picks an address outside the arenas). */
static uint32_t place_dedicated(size_t size, int (*map)(uintptr_t, size_t, void **),
                                uintptr_t *base)
{
    void *got;
    pthread_mutex_unlock(&placement);
    int err = map(0, size, &got);
    pthread_mutex_lock(&placement);
    if (err)
        return wvm__err_from_errno(err);
    *base = (uintptr_t)got;
    return 0;
}

static void unplace(uintptr_t base, uintptr_t footprint, size_t size, bool in_arena)
{
    if (in_arena)
        wvm__free_add(base, footprint);
    else
        wvm__prim_unmap((void *)base, size);
}

/* A descriptor, locked, not yet reachable by address. The lock is taken before the placement
 * lock, the order every other path uses (allocation, then placement). */
static wvm_alloc *desc_take(void)
{
    pthread_mutex_lock(&placement);
    wvm_alloc *a = desc_get();
    pthread_mutex_unlock(&placement);
    if (a)
        pthread_mutex_lock(&a->lock);
    return a;
}

static void desc_give_back(wvm_alloc *a)
{
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_lock(&placement);
    desc_put(a);
    pthread_mutex_unlock(&placement);
}

uint32_t wvm__space_reserve_with(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                                 const wvm_backend *be, wvm_alloc **out)
{
    uintptr_t span = span_of(size), base = want, footprint = span;
    bool in_arena = true;
    int (*map)(uintptr_t, size_t, void **) = be ? be->map : NULL;
    bool sparse = !want && !map && span >= WVM_SPARSE_MIN;
    if (sparse)
        footprint = (span + WVM_CHUNK - 1) & ~(uintptr_t)(WVM_CHUNK - 1);
    wvm_alloc *a = desc_take();
    if (!a)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    pthread_mutex_lock(&placement);
    uint32_t err;
    if (want)
        err = place_at(want, span, size, map, &in_arena);
    else if (map)
        err = (in_arena = false, place_dedicated(size, map, &base));
    else if (sparse)
        err = place_sparse(footprint, type & WVM_MEM_TOP_DOWN, &base);
    else
        err = place_anywhere(span, type & WVM_MEM_TOP_DOWN, &base);
    wvm_snap *s = err ? NULL : wvm__snap_new(base, size, prot, type & ~WVM_MEM_TOP_DOWN);
    if (!err && (!s || wvm__radix_set(base, base + span, a))) {
        wvm__snap_free(s);
        unplace(base, footprint, size, in_arena);
        err = WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    if (err) {
        pthread_mutex_unlock(&placement);
        desc_give_back(a);
        return err;
    }
    a->in_arena = in_arena;
    a->sparse = sparse;
    a->guard_mode = in_arena && !sparse && wvm__caps()->guard_markers;
    a->footprint = footprint;
    a->backend = be;
    quick_update(a, s);
    atomic_store_explicit(&a->snap, s, memory_order_release);
    live_link(a, size);
    pthread_mutex_unlock(&placement);
    err = be && be->on_reserve ? be->on_reserve(a) : 0;
    pthread_mutex_unlock(&a->lock);
    if (err) {
        wvm__space_release(base);
        return err;
    }
    *out = a;
    return 0;
}

WVM_THREAD int wvm__alloc_locks_held;

wvm_alloc *wvm__space_acquire(uintptr_t addr)
{
    for (;;) {
        wvm_alloc *a = wvm__radix_get(addr);
        if (!a)
            return NULL;
        pthread_mutex_lock(&a->lock);
        wvm_snap *s = wvm__alloc_snap(a);
        if (s && addr >= s->base && addr - s->base < s->size) {
            wvm__alloc_locks_held++;
            wvm__guard_fold(a); /* guards consumed by faults since the last operation */
            return a;
        }
        pthread_mutex_unlock(&a->lock);
        if (wvm__radix_get(addr) == a)
            return NULL; /* the granule tail past the allocation's last page */
    }
}

void wvm__space_unlock(wvm_alloc *a)
{
    wvm__alloc_locks_held--;
    pthread_mutex_unlock(&a->lock);
}

/* Refreshes a's quick copy from s (allocation locked, or not yet visible). */
static void quick_update(wvm_alloc *a, const wvm_snap *s)
{
    uint64_t runs[WVM_QUICK_RUNS];
    uint32_t n = 0;
    /* backends may describe their memory differently: they take the snapshot path */
    bool usable = s && !a->backend && wvm__snap_pages(s) < ((uint64_t)1 << 32);
    for (uint32_t i = 0; usable && i < s->nruns; i++) {
        uint32_t visible = s->runs[i].attr & WVM_ATTR_PROT_MASK;
        if (visible & WVM_PAGE_GUARD)
            usable = false; /* consumed guards live in the guard map: snapshot path */
        else if (n && (uint32_t)runs[n - 1] == visible)
            continue; /* hidden page flags do not split a region */
        else if (n == WVM_QUICK_RUNS)
            usable = false;
        else
            runs[n++] = s->runs[i].first << 32 | visible;
    }
    wvm_quick *q = &a->quick;
    uint32_t seq = atomic_load_explicit(&q->seq, memory_order_relaxed);
    atomic_store_explicit(&q->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&q->nruns, usable ? n : 0, memory_order_relaxed);
    if (usable) {
        atomic_store_explicit(&q->base, s->base, memory_order_relaxed);
        atomic_store_explicit(&q->size, s->size, memory_order_relaxed);
        atomic_store_explicit(&q->alloc_prot, s->alloc_prot, memory_order_relaxed);
        for (uint32_t i = 0; i < n; i++)
            atomic_store_explicit(&q->runs[i], runs[i], memory_order_relaxed);
    }
    atomic_store_explicit(&q->seq, seq + 2, memory_order_release);
}

bool wvm__space_query_quick(uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *m)
{
    wvm_alloc *a = wvm__radix_get(page);
    if (!a)
        return false;
    wvm_quick *q = &a->quick;
    uint32_t seq = atomic_load_explicit(&q->seq, memory_order_acquire);
    if (seq & 1)
        return false;
    uint32_t n = atomic_load_explicit(&q->nruns, memory_order_relaxed);
    uint64_t base = atomic_load_explicit(&q->base, memory_order_relaxed);
    uint64_t size = atomic_load_explicit(&q->size, memory_order_relaxed);
    uint64_t aprot = atomic_load_explicit(&q->alloc_prot, memory_order_relaxed);
    uint64_t runs[WVM_QUICK_RUNS];
    for (int i = 0; i < WVM_QUICK_RUNS; i++)
        runs[i] = atomic_load_explicit(&q->runs[i], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&q->seq, memory_order_relaxed) != seq || !n || n > WVM_QUICK_RUNS ||
        page < base || page - base >= size)
        return false;
    uint64_t idx = (page - base) / WVM_PAGE, pages = size / WVM_PAGE;
    uint32_t i = 0;
    while (i + 1 < n && (runs[i + 1] >> 32) <= idx)
        i++;
    uint64_t end = i + 1 < n ? runs[i + 1] >> 32 : pages;
    uint32_t visible = (uint32_t)runs[i];
    m->BaseAddress = (void *)page;
    m->AllocationBase = (void *)base;
    m->AllocationProtect = (uint32_t)aprot;
    m->PartitionId = 0;
    m->RegionSize = (end - idx) * WVM_PAGE;
    m->State = visible ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    m->Protect = visible;
    m->Type = WVM_MEM_PRIVATE;
    return true;
}

void wvm__alloc_publish(wvm_alloc *a, wvm_snap *s)
{
    quick_update(a, s);
    wvm_snap *old = atomic_exchange_explicit(&a->snap, s, memory_order_acq_rel);
    wvm__snap_retire(old);
}

static bool any_locked(const wvm_snap *s)
{
    for (uint32_t i = 0; i < s->nruns; i++)
        if (s->runs[i].attr & WVM_ATTR_LOCKED)
            return true;
    return false;
}

uint32_t wvm__space_release(uintptr_t base)
{
    wvm_alloc *a = wvm__space_acquire(base);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    if (s->base != base) {
        wvm__space_unlock(a);
        return WVM_ERROR_INVALID_PARAMETER;
    }
    uint32_t err = 0;
    if (s->committed && a->sparse && !a->backend && !any_locked(s) &&
        !wvm__prim_replace_none((void *)base, a->footprint))
        wvm__ledger_uncharge(s->committed * WVM_PAGE); /* one call instead of one per run */
    else if (s->committed)
        err = wvm__alloc_decommit(a, 0, wvm__snap_pages(s));
    if (!err && a->backend && a->backend->on_release)
        err = a->backend->on_release(a, wvm__alloc_snap(a));
    if (err) {
        wvm__space_unlock(a);
        return err;
    }
    s = wvm__alloc_snap(a);
    wvm_guardmap *guards = s->guards;
    size_t size = s->size;
    uintptr_t span = span_of(size);
    bool in_arena = a->in_arena;
    if (!in_arena)
        wvm__prim_unmap((void *)base, size);
    pthread_mutex_lock(&placement);
    wvm__radix_clear(base, base + span);
    wvm__alloc_publish(a, NULL);
    live_unlink(a, size);
    if (in_arena)
        wvm__free_add(base, a->footprint);
    wvm__alloc_locks_held--;
    pthread_mutex_unlock(&a->lock);
    desc_put(a);
    pthread_mutex_unlock(&placement);
    wvm__guard_release(guards);
    return 0;
}

const wvm_snap *wvm__space_lookup(uintptr_t addr)
{
    wvm_alloc *a = wvm__radix_get(addr);
    if (!a)
        return NULL;
    const wvm_snap *s = wvm__alloc_snap(a);
    if (s && addr >= s->base && addr - s->base < s->size)
        return s;
    return NULL;
}

uintptr_t wvm__space_next(uintptr_t addr, uintptr_t limit)
{
    wvm__ebr_enter(); /* the snapshots read here stay valid */
    for (;;) {
        uintptr_t g = wvm__radix_next(addr, limit);
        if (g >= limit)
            break;
        wvm_alloc *a = wvm__radix_get(g);
        const wvm_snap *s = a ? wvm__alloc_snap(a) : NULL;
        if (s && s->base >= addr) {
            limit = s->base;
            break;
        }
        /* addr was inside an allocation's granule tail (or a race): look past it */
        addr = (g | (WVM_GRAN - 1)) + 1;
    }
    wvm__ebr_exit();
    return limit;
}

void wvm__space_each(void (*f)(wvm_alloc *a, void *ctx), void *ctx)
{
    pthread_mutex_lock(&placement);
    for (wvm_alloc *a = live_head.next; a != &live_head; a = a->next)
        f(a, ctx);
    pthread_mutex_unlock(&placement);
}

void wvm__space_stats(wvm_space_stats *out)
{
    pthread_mutex_lock(&placement);
    out->reserved = reserved_bytes;
    out->reserved_peak = reserved_peak;
    out->live = live_count;
    pthread_mutex_unlock(&placement);
    wvm__arena_stats(&out->arenas, &out->arena_bytes, &out->chunks_guarded);
}

bool wvm__space_owns(uintptr_t addr)
{
    wvm__ebr_enter();
    bool owned = wvm__space_lookup(addr) != NULL;
    wvm__ebr_exit();
    return owned;
}
