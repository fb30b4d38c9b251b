/* The address index: descriptors, placement (arenas, dedicated mappings), the radix index,
 * births and deaths, and the lock-free lookups (core/index.h). No page operation. */
#include <errno.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/fork.h"
#include "core/freespace.h"
#include "core/index.h"
#include "core/meta.h"
#include "core/radix.h"
#include "core/slots.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

static pthread_mutex_t placement = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t index_gen;
static wvm_alloc *free_descs;
/* Held pages: pages of a dedicated mapping (made outside the arenas) that a dead piece of a
 * placeholder split at pages left in a granule where another allocation still lives. They
 * stay mapped (PROT_NONE, as a placeholder's pages were) and their index entries name this
 * descriptor, which never holds an allocation (no snapshot: readers see free pages, placement
 * sees them taken), so that the kernel cannot hand them out while the granule is shared (a
 * piece's granule is the piece's on Windows: nobody else's mapping may appear in it). The
 * death of the last allocation in the granule unmaps them. Made by the first split of a
 * dedicated placeholder inside a granule; never freed (placement lock). */
static wvm_alloc *held;

/* Every slab of descriptors, newest first (for fork: all their locks). 1,024 slots (64 KiB)
 * of core/slots.h: the index names a descriptor by its 32-bit slot offset. */
enum { SLAB = 1024 };
typedef struct slab_node {
    wvm_alloc *descs;
    struct slab_node *next;
} slab_node;
static _Atomic(slab_node *) slabs;
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

#define GRAN_MASK ((uintptr_t)WVM_GRAN - 1)

static uintptr_t span_of(size_t size)
{
    return ((uintptr_t)size + GRAN_MASK) & ~GRAN_MASK;
}

/* The end of a's index entries, a's last page ending at end (placement held). Past that page
 * the rest of its granule is a's too, unless it is shared with later pieces of a placeholder
 * split at pages (core/placeholder.h): then a's entries end at end. An allocation's entries
 * are one contiguous range, so its granule's last page tells. */
static uintptr_t index_end(const wvm_alloc *a, uintptr_t end)
{
    uintptr_t top = (end + GRAN_MASK) & ~GRAN_MASK;
    return end == top || wvm__radix_get(top - WVM_PAGE) == a ? top : end;
}

/* Descriptors live in slabs that are never freed: a reader holding a stale pointer always
 * finds a valid mutex and snapshot pointer (type-stable memory). Placement lock held. */
static wvm_alloc *desc_get(void)
{
    if (!free_descs) {
        /* slots: each descriptor one cache line, named by a 32-bit offset in the index */
        _Static_assert(sizeof(wvm_alloc) == WVM_SLOT, "a descriptor is one slot");
        slab_node *node = wvm__meta_alloc(sizeof *node);
        wvm_alloc *slab = node ? wvm__slots_take(SLAB) : NULL;
        if (!slab) { /* (slots are never given back: the node goes, the slots stay taken) */
            wvm__meta_free(node, sizeof *node);
            return NULL;
        }
        node->descs = slab;
        node->next = atomic_load_explicit(&slabs, memory_order_relaxed);
        atomic_store_explicit(&slabs, node, memory_order_release);
        for (int i = SLAB - 1; i >= 0; i--) { /* zero-filled: unlocked, no state */
            slab[i].free_next = free_descs;
            free_descs = &slab[i];
        }
    }
    wvm_alloc *a = free_descs;
    free_descs = a->free_next;
    /* A reader that found this descriptor through a stale index entry may hold its lock (in
     * acquire(): the lock is not held here), but reads none of these before it found the
     * index entry naming a again, which only a's next placement, under that lock, sets. */
    a->cur = NULL;
    a->staged = false;
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    if (c) {
        c->backend = NULL;
        c->ext = NULL;
        atomic_store_explicit(&c->owner, 0, memory_order_relaxed);
        c->wp_registered = c->wp_refused = 0;
        c->sparse = false;
    }
    return a;
}

uint32_t wvm__alloc_cold_get(wvm_alloc *a)
{
    if (wvm__alloc_cold(a))
        return 0;
    wvm_alloc_cold *c = wvm__meta_zalloc(sizeof *c);
    if (!c)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    atomic_store_explicit(&a->cold, c, memory_order_release);
    return 0;
}

void wvm__alloc_set_backend(wvm_alloc *a, const wvm_backend *be)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    if (c)
        c->backend = be;
    else if (be)
        abort(); /* the caller did not make the cold part (wvm__alloc_cold_get) */
}

void wvm__alloc_set_ext(wvm_alloc *a, void *ext)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    if (c)
        c->ext = ext;
    else if (ext)
        abort(); /* the caller did not make the cold part (wvm__alloc_cold_get) */
}

uintptr_t wvm__alloc_footprint(const wvm_alloc *a)
{
    uintptr_t span = span_of(a->cur->size);
    return wvm__alloc_sparse(a) ? (span + WVM_CHUNK - 1) & ~(uintptr_t)(WVM_CHUNK - 1) : span;
}

/* Ends a placement section that made an allocation be born or die (placement held).
 *
 * Why one counter suffices: sections are serialised by the placement lock and each ends here,
 * so a reader that loads g, reads index entries and snapshot pointers (acquire), and loads g
 * again, has seen the effects of at most one section it could observe half done: had it seen
 * a store of the section after that one, it would also see this increment. Each section
 * changes what readers see by one store (the snapshot pointer); its other stores concern
 * pending entries, which readers treat as free. */
static void gen_advance(void)
{
    atomic_store_explicit(&index_gen, atomic_load_explicit(&index_gen, memory_order_relaxed) + 1,
                          memory_order_release);
}

uint64_t wvm__space_gen(void)
{
    return atomic_load_explicit(&index_gen, memory_order_acquire);
}

bool wvm__space_gen_is(uint64_t g)
{
    atomic_thread_fence(memory_order_acquire); /* the reads before stay before this load */
    return atomic_load_explicit(&index_gen, memory_order_relaxed) == g;
}

static void quick_update(wvm_alloc *a, const wvm_snap *s);

static void desc_put(wvm_alloc *a)
{
    a->free_next = free_descs;
    free_descs = a;
}

/* The counts of wvm__space_stats: live allocations and their reserved bytes (nothing lists
 * live allocations: wvm__space_each walks the index). Placement lock held. count_alloc: an
 * allocation of size bytes is born; uncount_alloc: one dies (size 0 for a split or a join: its
 * bytes stay counted in the other allocation). */
static void count_alloc(size_t size)
{
    live_count++;
    reserved_bytes += size;
    if (reserved_bytes > reserved_peak)
        reserved_peak = reserved_bytes;
}

static void uncount_alloc(size_t size)
{
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

/* Placement's answer when [start, end) is taken only by allocations not born yet or dying:
 * their writers will be done soon, and then the range is free or not. */
#define TAKEN_FOR_NOW 1u

/* Whether every index entry over [start, end) belongs to an allocation readers do not see
 * (pending: being made or released). Placement held: entries and births are stable. */
static bool only_pending(uintptr_t start, uintptr_t end)
{
    bool any = false;
    for (uintptr_t g = wvm__radix_next(start, end); g < end;) {
        wvm_alloc *b = wvm__radix_get(g);
        if (b == held || wvm__alloc_visible(b))
            return false; /* (held pages: until the granule's last allocation dies) */
        any = true;
        g = wvm__radix_next_other(g, end, b);
    }
    return any;
}

static uint32_t taken(uintptr_t start, uintptr_t end)
{
    return only_pending(start, end) ? TAKEN_FOR_NOW : WVM_ERROR_INVALID_ADDRESS;
}

/* Places [want, want+span): in an arena's free space, or as a dedicated mapping of size
 * bytes outside every arena (made by map when the backend has one). A dedicated mapping's
 * index entries (pending: a is not born) are set before the mapping exists (*indexed), so
 * that no reader takes it for someone else's memory. Placement lock held on entry and exit;
 * dropped around mmap. */
static uint32_t place_at(wvm_alloc *a, uintptr_t want, uintptr_t span, size_t size,
                         int (*map)(uintptr_t, size_t, void **), bool *in_arena, bool *indexed)
{
    if (wvm__radix_next(want, want + span) < want + span)
        return taken(want, want + span);
    if (wvm__arena_overlaps(want, want + span)) {
        if (map) /* a dedicated mapping cannot replace part of an arena (documented limit) */
            return WVM_ERROR_INVALID_ADDRESS;
        *in_arena = true;
        int err = wvm__free_take_at(want, span);
        return err == ENOENT ? WVM_ERROR_INVALID_ADDRESS : wvm__err_from_errno(err);
    }
    *in_arena = false;
    if (wvm__radix_set(want, want + span, a))
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    void *got;
    pthread_mutex_unlock(&placement);
    int err = (map ? map : map_none_at)(want, size, &got);
    pthread_mutex_lock(&placement);
    if (err) {
        wvm__radix_clear(want, want + span);
        return wvm__err_from_errno(err);
    }
    *indexed = true;
    return 0;
}

/* A dedicated mapping anywhere (the kernel picks an address outside the arenas). Until its
 * pending index entries are set, a reader may take the new mapping for someone else's
 * reservation (documented: doc/porting.md). */
static uint32_t place_dedicated(size_t size, int (*map)(uintptr_t, size_t, void **),
                                uintptr_t *base)
{
    void *got;
    pthread_mutex_unlock(&placement);
    int err = map(0, size, &got);
    pthread_mutex_lock(&placement);
    if (err)
        return wvm__err_from_errno(err);
    /* The kernel may hand out the range of a dedicated allocation being released, whose
     * pending entries go only after its munmap (or of a fixed-address one whose mmap will now
     * fail): wait until they are gone; the range is ours. */
    uintptr_t b = (uintptr_t)got, end = b + span_of(size);
    while (wvm__radix_next(b, end) < end) {
        pthread_mutex_unlock(&placement);
        wvm__prim_yield();
        pthread_mutex_lock(&placement);
    }
    *base = b;
    return 0;
}

/* A descriptor, locked, not yet reachable by address. The lock is taken before the placement
 * lock, the order every other path uses (allocation, then placement). */
static wvm_alloc *desc_take(void)
{
    pthread_mutex_lock(&placement);
    wvm_alloc *a = desc_get();
    pthread_mutex_unlock(&placement);
    if (a)
        wvm__alock_lock(&a->lock);
    return a;
}

static void desc_give_back(wvm_alloc *a)
{
    wvm__alock_unlock(&a->lock);
    pthread_mutex_lock(&placement);
    desc_put(a);
    pthread_mutex_unlock(&placement);
}

/* The allocation's birth: readers see it, in state s, from the store of its snapshot on.
 * Placement held. */
static void born(wvm_alloc *a, wvm_snap *s)
{
    a->staged = false;
    quick_update(a, s);
    atomic_store_explicit(&a->snap, s, memory_order_release);
    count_alloc(s->size);
    gen_advance();
}

/* Placement of one attempt; placement held. TAKEN_FOR_NOW: try again later. */
static uint32_t place(wvm_alloc *a, uintptr_t want, uintptr_t span, size_t size, uint32_t type,
                      int (*map)(uintptr_t, size_t, void **), uintptr_t footprint, bool sparse,
                      uintptr_t *base, bool *in_arena, bool *indexed)
{
    *in_arena = true;
    *indexed = false;
    *base = want;
    if (want)
        return place_at(a, want, span, size, map, in_arena, indexed);
    if (map)
        return *in_arena = false, place_dedicated(size, map, base);
    if (sparse)
        return place_sparse(footprint, type & WVM_MEM_TOP_DOWN, base);
    return place_anywhere(span, type & WVM_MEM_TOP_DOWN, base);
}

uint32_t wvm__index_stage(const wvm_reserve_req *r, bool born_now, wvm_alloc **out)
{
    uintptr_t want = r->want, span = span_of(r->size), base, footprint = span;
    size_t size = r->size;
    uint32_t type = r->type;
    const wvm_backend *be = r->be;
    bool in_arena, indexed;
    int (*map)(uintptr_t, size_t, void **) = be ? be->map : NULL;
    bool sparse = !want && !map && !r->no_sparse && span >= WVM_SPARSE_MIN;
    if (sparse)
        footprint = (span + WVM_CHUNK - 1) & ~(uintptr_t)(WVM_CHUNK - 1);
    bool cold = be || r->ext || r->owner || sparse;
    wvm_alloc *a;
    uint32_t err;
    for (;;) {
        if (!(a = desc_take()))
            return WVM_ERROR_NOT_ENOUGH_MEMORY;
        if (cold && wvm__alloc_cold_get(a)) {
            desc_give_back(a);
            return WVM_ERROR_NOT_ENOUGH_MEMORY;
        }
        pthread_mutex_lock(&placement);
        err = place(a, want, span, size, type, map, footprint, sparse, &base, &in_arena, &indexed);
        if (err != TAKEN_FOR_NOW)
            break;
        pthread_mutex_unlock(&placement);
        desc_give_back(a); /* no lock held while the other writer finishes */
        wvm__prim_yield();
    }
    wvm_snap *s = err        ? NULL
                  : r->first ? r->first(r->ctx, base, size)
                             : wvm__snap_new(base, size, r->prot, type & ~WVM_MEM_TOP_DOWN);
    if (!err && (!s || (!indexed && wvm__radix_set(base, base + span, a)))) {
        if (!in_arena) /* unmapped before its entries go: never seen as foreign */
            wvm__prim_unmap((void *)base, size);
        if (indexed)
            wvm__radix_clear(base, base + span);
        if (in_arena)
            wvm__free_add(base, footprint);
        wvm__snap_free(s);
        err = WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    if (err) {
        pthread_mutex_unlock(&placement);
        desc_give_back(a);
        return err;
    }
    a->in_arena = in_arena;
    a->guard_mode = in_arena && !sparse && wvm__caps()->guard_markers && !(be && be->mapped);
    a->under_lost = false;
    wvm_alloc_cold *c = wvm__alloc_cold(a); /* cleared by desc_get */
    if (cold) {
        c->sparse = sparse;
        c->backend = be;
        c->ext = r->ext;
        atomic_store_explicit(&c->owner, r->owner, memory_order_relaxed);
    }
    a->cur = s;
    a->staged = true;
    if (born_now)
        born(a, s);
    pthread_mutex_unlock(&placement);
    *out = a;
    return 0;
}

void wvm__index_birth(wvm_alloc *a)
{
    pthread_mutex_lock(&placement);
    born(a, a->cur);
    pthread_mutex_unlock(&placement);
}

void wvm__index_unstage(wvm_alloc *a)
{
    wvm_snap *s = a->cur;
    uintptr_t base = s->base;
    pthread_mutex_lock(&placement);
    wvm__radix_clear(base, base + span_of(s->size));
    if (a->in_arena)
        wvm__free_add(base, wvm__alloc_footprint(a));
    a->cur = NULL;
    a->staged = false;
    wvm__alock_unlock(&a->lock);
    desc_put(a);
    pthread_mutex_unlock(&placement);
}

WVM_THREAD int wvm__alloc_locks_held;

bool wvm__alloc_trylock(wvm_alloc *a)
{
    if (!wvm__alock_try(&a->lock))
        return false;
    wvm__alloc_locks_held++;
    return true;
}

void wvm__space_unlock(wvm_alloc *a)
{
    wvm__alloc_locks_held--;
    wvm__alock_unlock(&a->lock);
}

bool wvm__alloc_indexed(wvm_alloc *a, uintptr_t addr)
{
    if (wvm__radix_get(addr) == a)
        return true;
    wvm__alock_unlock(&a->lock);
    return false;
}

typedef struct quick_runs {
    uint32_t runs[WVM_QUICK_RUNS];
    uint32_t n, pieces;
} quick_runs;

/* Collects the regions (runs of equal visible protection) of a small allocation; stops (1)
 * when they do not fit, or when too many hidden flags split them to look further. */
static int quick_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)count;
    quick_runs *q = ctx;
    uint32_t visible = attr & WVM_ATTR_PROT_MASK;
    if ((visible & WVM_PAGE_GUARD) || ++q->pieces > 4 * WVM_QUICK_RUNS)
        return 1; /* consumed guards live in the guard map: snapshot path */
    if (q->n && WVM_QUICK_PROT(q->runs[q->n - 1]) == visible)
        return 0; /* hidden page flags do not split a region */
    if (q->n == WVM_QUICK_RUNS)
        return 1;
    q->runs[q->n++] = (uint32_t)first << 16 | visible;
    return 0;
}

/* Refreshes a's quick copy from s (allocation locked, or not yet visible). */
static void quick_update(wvm_alloc *a, const wvm_snap *s)
{
    quick_runs qr = {{0}, 0, 0};
    /* backends may describe their memory differently: they take the snapshot path */
    bool usable = s && !wvm__alloc_backend(a) && s->level <= WVM_QUICK_LEVEL &&
                  s->alloc_prot <= 0x7FFu && wvm__snap_pages(s) <= 8192 &&
                  !wvm__snap_each(s, 0, wvm__snap_pages(s), quick_piece, &qr);
    uint32_t *runs = qr.runs;
    uint32_t n = qr.n;
    wvm_quick *q = &a->quick;
    uint32_t seq = atomic_load_explicit(&q->seq, memory_order_relaxed);
    atomic_store_explicit(&q->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    uint32_t shape = usable ? n | s->alloc_prot << 3 | (uint32_t)wvm__snap_pages(s) << 14 : 0;
    atomic_store_explicit(&q->shape, shape, memory_order_relaxed);
    if (usable) {
        atomic_store_explicit(&q->base, s->base, memory_order_relaxed);
        for (uint32_t i = 0; i < n; i++)
            atomic_store_explicit(&q->runs[i], runs[i], memory_order_relaxed);
    }
    atomic_store_explicit(&q->seq, seq + 2, memory_order_release);
}

void wvm__alloc_publish(wvm_alloc *a, wvm_snap *s)
{
    wvm_snap *old = a->cur, *seen = atomic_load_explicit(&a->snap, memory_order_relaxed);
    a->cur = s;
    if (!a->staged) {
        quick_update(a, s);
        atomic_store_explicit(&a->snap, s, memory_order_release);
        if (seen != old)
            wvm__snap_retire(seen);
        seen = s;
    }
    if (old != seen)
        wvm__snap_retire(old);
}

wvm_snap *wvm__alloc_publish_keep(wvm_alloc *a, wvm_snap *s)
{
    wvm_snap *before = a->cur, *seen = atomic_load_explicit(&a->snap, memory_order_relaxed);
    a->cur = s;
    quick_update(a, s);
    atomic_store_explicit(&a->snap, s, memory_order_release);
    if (seen != before)
        wvm__snap_retire(seen);
    return before;
}

void wvm__alloc_settle(wvm_alloc *a, wvm_snap *before)
{
    (void)a;
    wvm__snap_retire(before);
}

void wvm__alloc_unpublish(wvm_alloc *a, wvm_snap *before)
{
    wvm_snap *s = a->cur;
    a->cur = before;
    quick_update(a, before);
    atomic_store_explicit(&a->snap, before, memory_order_release);
    wvm__snap_retire(s);
}

/* The allocation's death (placement held): readers stop seeing it at the store of NULL. */
static void died(wvm_alloc *a)
{
    quick_update(a, NULL);
    wvm_snap *seen = atomic_exchange_explicit(&a->snap, NULL, memory_order_acq_rel);
    wvm__snap_retire(seen);
    if (a->cur != seen)
        wvm__snap_retire(a->cur);
    a->cur = NULL;
    a->staged = false;
    gen_advance();
}

/* The whole granules of [start, end) that no allocation holds an entry in any more (a piece
 * of a placeholder split at pages frees its first and last granule only as the last piece in
 * them dies), given back to free space. Placement held. */
static void free_granules(uintptr_t start, uintptr_t end)
{
    uintptr_t lo = start & ~GRAN_MASK, hi = (end + GRAN_MASK) & ~GRAN_MASK;
    if (wvm__radix_next(lo, lo + WVM_GRAN) < lo + WVM_GRAN)
        lo += WVM_GRAN;
    if (hi > lo && wvm__radix_next(hi - WVM_GRAN, hi) < hi)
        hi -= WVM_GRAN;
    if (hi > lo)
        wvm__free_add(lo, hi - lo);
}

/* Page ranges of a dedicated mapping to unmap at a death: the dying allocation's pages and
 * the held pages of its granules that nothing lives in any more, in address order. */
enum { UNMAP_RUNS = WVM_GRAN / WVM_PAGE + 2 };
typedef struct unmap_list {
    uintptr_t start[UNMAP_RUNS], end[UNMAP_RUNS];
    int n;
} unmap_list;

static void unmap_add(unmap_list *l, uintptr_t start, uintptr_t end)
{
    if (start >= end)
        return;
    if (l->n && l->end[l->n - 1] == start)
        l->end[l->n - 1] = end;
    else if (l->n < UNMAP_RUNS) /* (a granule has 16 pages: at most 8 held runs per edge) */
        l->start[l->n] = start, l->end[l->n++] = end;
}

/* Whether an allocation other than a lives in granule g (a page entry naming it, visible:
 * one dying meanwhile unmaps its own pages). Placement held. */
static bool granule_lives(uintptr_t g, const wvm_alloc *a)
{
    for (uintptr_t p = g; p < g + WVM_GRAN; p += WVM_PAGE) {
        wvm_alloc *b = wvm__radix_get(p);
        if (b && b != a && b != held && wvm__alloc_visible(b))
            return true;
    }
    return false;
}

/* The held pages of [from, to) (inside one granule) become a's (dead: pending entries, which
 * placement waits for), to be unmapped with a's own; added to l. Placement held. */
static void take_held(wvm_alloc *a, uintptr_t from, uintptr_t to, unmap_list *l)
{
    for (uintptr_t p = from; p < to; p += WVM_PAGE)
        if (wvm__radix_get(p) == held) {
            wvm__radix_set(p, p + WVM_PAGE, a); /* a page entry exists: cannot fail */
            unmap_add(l, p, p + WVM_PAGE);
        }
}

/* The death of a dedicated allocation [base, end) whose entries are [base, iend), sharing its
 * first or last granule with pieces of its placeholder (shared): in a granule where another
 * allocation lives, a's pages become held pages (its entries past end go); in one where none
 * does, the held pages go with a's. Fills l with what to unmap (their entries: a's, cleared
 * after the munmap); *clear_lo/hi: a's entries left to clear then. Placement held, a dead. */
static void dedicated_edges(wvm_alloc *a, uintptr_t base, uintptr_t end, uintptr_t iend,
                            unmap_list *l, uintptr_t *clear_lo, uintptr_t *clear_hi)
{
    uintptr_t first = base & ~GRAN_MASK, last = (iend - 1) & ~GRAN_MASK;
    uintptr_t lo = base, hi = end; /* a's pages to unmap */
    bool keep_first = granule_lives(first, a);
    bool keep_last = last == first ? keep_first : granule_lives(last, a);
    uintptr_t first_end = first + WVM_GRAN < end ? first + WVM_GRAN : end;
    if (keep_first) {
        wvm__radix_set(base, first_end, held); /* page entries exist: cannot fail */
        lo = first_end;
    } else {
        take_held(a, first, base, l);
    }
    if (keep_last && last != first) {
        wvm__radix_set(last, end, held);
        hi = last;
    }
    if (keep_last) {
        wvm__radix_clear(end, iend); /* (a's entries past its pages: nothing mapped) */
        iend = end;
    }
    unmap_add(l, lo, hi > lo ? hi : lo);
    if (!keep_last)
        take_held(a, iend, last + WVM_GRAN, l);
    *clear_lo = keep_first ? (first + WVM_GRAN < iend ? first + WVM_GRAN : iend) : base;
    *clear_hi = keep_last && last != first ? last : iend;
}

void wvm__index_death(wvm_alloc *a, bool reusable)
{
    wvm_snap *s = a->cur;
    uintptr_t base = s->base;
    size_t size = s->size;
    bool in_arena = a->in_arena;
    uintptr_t footprint = wvm__alloc_footprint(a);
    pthread_mutex_lock(&placement);
    uintptr_t iend = index_end(a, base + size);
    /* a piece of a placeholder split at pages: its granules may be shared */
    bool shared = (base & GRAN_MASK) || iend != ((base + size + GRAN_MASK) & ~GRAN_MASK);
    died(a);
    uncount_alloc(size);
    if (in_arena) {
        wvm__radix_clear(base, iend);
        /* (a span with pages whose mapping under their markers stays other than read-write
         * is lost to free space: its next owner would inherit them) */
        if (reusable && shared)
            free_granules(base, iend);
        else if (reusable)
            wvm__free_add(base, footprint);
    } else {
        /* the entries stay (pending) until the mapping is gone: a mapping without them
         * would look like someone else's to readers, and its address could be reused by
         * another dedicated mapping before they are cleared. (A backend's release_span left
         * a dedicated mapping PROT_NONE, core/index.h.) */
        unmap_list l = {.n = 0};
        uintptr_t clear_lo = base, clear_hi = iend;
        if (shared)
            dedicated_edges(a, base, base + size, iend, &l, &clear_lo, &clear_hi);
        else
            unmap_add(&l, base, base + size);
        pthread_mutex_unlock(&placement);
        for (int i = 0; i < l.n; i++)
            wvm__prim_unmap((void *)l.start[i], l.end[i] - l.start[i]);
        pthread_mutex_lock(&placement);
        for (int i = 0; i < l.n; i++)
            wvm__radix_clear(l.start[i], l.end[i]);
        if (clear_hi > clear_lo)
            wvm__radix_clear(clear_lo, clear_hi);
    }
    wvm__alloc_locks_held--;
    wvm__alock_unlock(&a->lock);
    desc_put(a);
    pthread_mutex_unlock(&placement);
}

const wvm_snap *wvm__space_lookup(uintptr_t addr)
{
    wvm_alloc *a = wvm__radix_get(addr);
    if (!a)
        return NULL;
    const wvm_snap *s = wvm__alloc_visible(a);
    if (s && addr >= s->base && addr - s->base < s->size)
        return s;
    return NULL;
}

uintptr_t wvm__space_next(uintptr_t addr, uintptr_t limit)
{
    wvm__ebr_enter(); /* the snapshots read here stay valid */
    for (uintptr_t at = addr;;) {
        uintptr_t g = wvm__radix_next(at, limit);
        if (g >= limit)
            break;
        wvm_alloc *a = wvm__radix_get(g);
        const wvm_snap *s = a ? wvm__alloc_visible(a) : NULL;
        if (!s) { /* pending, or cleared meanwhile: free, as far as a's entries go */
            at = a ? wvm__radix_next_other(g, limit, a) : g;
            continue;
        }
        uintptr_t end = s->base + s->size;
        if (g < s->base || g >= ((end + GRAN_MASK) & ~GRAN_MASK))
            continue; /* a was released and born again elsewhere since: read g again */
        if (s->base >= addr) {
            limit = s->base;
            break;
        }
        /* addr lies inside s, or in the tail of its last granule (a's entries, or, past a piece
         * of a placeholder split at pages, the next piece's) */
        at = end & GRAN_MASK ? wvm__radix_next_other(end, limit, a) : end;
    }
    wvm__ebr_exit();
    return limit;
}

void wvm__space_each(void (*f)(wvm_alloc *a, void *ctx), void *ctx)
{
    /* by address, from the index: births and deaths wait for placement, and an allocation's
     * entries are one range (its pending ones, staged or dying, are skipped) */
    const uintptr_t top = (uintptr_t)1 << 47;
    pthread_mutex_lock(&placement);
    for (uintptr_t g = wvm__radix_next(0, top); g < top;) {
        wvm_alloc *a = wvm__radix_get(g);
        if (wvm__alloc_visible(a))
            f(a, ctx);
        g = wvm__radix_next_other(g, top, a);
    }
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

bool wvm__space_pending(uintptr_t addr)
{
    wvm_alloc *a = wvm__radix_get(addr);
    return a && !wvm__alloc_visible(a);
}

bool wvm__space_owns(uintptr_t addr)
{
    wvm__ebr_enter();
    bool owned = wvm__space_lookup(addr) != NULL;
    wvm__ebr_exit();
    return owned;
}

static void each_desc(slab_node *from, slab_node *to, void (*op)(wvm_alock *))
{
    for (slab_node *n = from; n != to; n = n->next)
        for (int i = 0; i < SLAB; i++)
            op(&n->descs[i].lock);
}

/* Before a fork: every descriptor's lock (the lock order: allocations first), then placement.
 * A slab made meanwhile (under placement) is locked too before placement is kept. Waiting
 * for a descriptor's lock waits for the operation its holder is in; none holds two. */
static void fork_space(enum wvm_fork_phase phase)
{
    if (phase != WVM_FORK_PREPARE) {
        pthread_mutex_unlock(&placement);
        each_desc(atomic_load(&slabs), NULL, wvm__alock_unlock);
        return;
    }
    slab_node *top = NULL;
    for (;;) {
        slab_node *head = atomic_load_explicit(&slabs, memory_order_acquire);
        each_desc(head, top, wvm__alock_lock);
        top = head;
        pthread_mutex_lock(&placement);
        if (atomic_load_explicit(&slabs, memory_order_relaxed) == top)
            return;
        pthread_mutex_unlock(&placement);
    }
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register(WVM_FORK_RANK_SPACE, fork_space);
}

uint32_t wvm__space_find(uintptr_t lo, uintptr_t hi, size_t size, size_t align, bool top_down,
                         uintptr_t *out)
{
    uintptr_t span = span_of(size);
    pthread_mutex_lock(&placement);
    int err = wvm__free_find(lo, hi, span, align, top_down, out);
    pthread_mutex_unlock(&placement);
    if (!err)
        return 0;
    /* between the kernel's mappings (an arena is one of them), lowest or highest first */
    uintptr_t best = 0, at = lo < WVM_MIN_ADDR ? WVM_MIN_ADDR : lo;
    bool found = false;
    while (at < hi) {
        wvm_vma v;
        uintptr_t gap_end = hi;
        if (!wvm__prim_vma_next(at, &v))
            gap_end = v.start < hi ? v.start : hi;
        uintptr_t s = (at + align - 1) & ~(uintptr_t)(align - 1);
        if (s >= at && gap_end > s && gap_end - s >= span) {
            uintptr_t cand = top_down ? (gap_end - span) & ~(uintptr_t)(align - 1) : s;
            best = cand;
            found = true;
            if (!top_down)
                break;
        }
        if (gap_end >= hi || v.end <= at)
            break;
        at = v.end;
    }
    if (!found)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    *out = best;
    return 0;
}

/* One placement section: b is made (unreachable), the index points to it, a shrinks, and the
 * generation moves once (readers that combine entries see the split whole or not at all). */
uint32_t wvm__space_split(wvm_alloc *a, uintptr_t at)
{
    wvm_snap *s = wvm__alloc_snap(a);
    size_t head = at - s->base, tail = s->size - head;
    wvm_snap *sa = wvm__snap_new(s->base, head, s->alloc_prot, s->type);
    wvm_snap *sb = wvm__snap_new(at, tail, s->alloc_prot, s->type);
    pthread_mutex_lock(&placement);
    uintptr_t iend = index_end(a, s->base + s->size);
    /* b is never locked here: nobody can find it before the index says so, and then it is
     * complete (a second allocation lock may not be waited for: fork.c) */
    wvm_alloc *b = sa && sb ? desc_get() : NULL;
    wvm_alloc_cold *ac = wvm__alloc_cold(a);
    bool wp = ac && (ac->wp_registered || ac->wp_refused); /* b inherits them */
    /* pieces sharing a granule of a dedicated mapping may leave held pages when they die */
    if (b && !a->in_arena && (at & GRAN_MASK) && !held && (held = desc_get()))
        held->in_arena = false;
    if (!b || (!a->in_arena && (at & GRAN_MASK) && !held) || (wp && wvm__alloc_cold_get(b)) ||
        wvm__radix_prepare(at, iend, a)) {
        if (b)
            desc_put(b);
        pthread_mutex_unlock(&placement);
        wvm__snap_free(sa);
        wvm__snap_free(sb);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    /* (a placeholder is never sparse: both footprints are their spans) */
    b->in_arena = a->in_arena;
    b->guard_mode = a->guard_mode;
    b->under_lost = a->under_lost;
    if (wp) { /* b's cold part was cleared by desc_get */
        wvm__alloc_cold(b)->wp_registered = ac->wp_registered;
        wvm__alloc_cold(b)->wp_refused = ac->wp_refused;
    }
    b->cur = sb;
    b->staged = false;
    quick_update(b, sb);
    atomic_store_explicit(&b->snap, sb, memory_order_release);
    count_alloc(0);              /* the bytes move from a to b */
    wvm__radix_set(at, iend, b); /* prepared: cannot fail */
    wvm__alloc_publish(a, sa);
    gen_advance();
    pthread_mutex_unlock(&placement);
    return 0;
}

uint32_t wvm__space_join(wvm_alloc *a, wvm_alloc *b)
{
    wvm_snap *sa = wvm__alloc_snap(a), *sb = wvm__alloc_snap(b);
    uintptr_t b_base = sb->base;
    wvm_snap *n = wvm__snap_new(sa->base, sa->size + sb->size, sa->alloc_prot, sa->type);
    pthread_mutex_lock(&placement);
    uintptr_t b_end = index_end(b, b_base + sb->size);
    if (!n || wvm__radix_prepare(b_base, b_end, b)) {
        pthread_mutex_unlock(&placement);
        wvm__snap_free(n);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    /* a claims b's range before the index says so (a reader there still finds b, whole),
     * then b dies: one section, one move of the generation */
    wvm__alloc_publish(a, n);
    wvm__radix_set(b_base, b_end, a); /* prepared: cannot fail */
    wvm_alloc_cold *ac = wvm__alloc_cold(a), *bc = wvm__alloc_cold(b);
    if (ac && ac->wp_registered != (bc ? bc->wp_registered : 0))
        ac->wp_registered = 0; /* b's part may not be registered: register again */
    died(b);
    uncount_alloc(0);
    wvm__alloc_locks_held--;
    wvm__alock_unlock(&b->lock);
    desc_put(b);
    pthread_mutex_unlock(&placement);
    return 0;
}
