/* AWE windows and physical pages (see awe.h).
 *
 * One mutex (`pool`) guards the page store and every window's page table; map and unmap run
 * under it (AWE programs remap from few threads; the kernel's mmap_lock serialises the moves
 * anyway). Window descriptors are found through the core's index and locked first (lock order:
 * allocation, then pool). VirtualQuery finds a window without either lock, through a table of
 * live windows of its own (not the descriptor, whose fields a release or a reuse rewrites). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/awe.h"
#include "core/awe_store.h"
#include "core/fork.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "core/radix.h"
#include "prim/linux/awe.h"
#include "prim/linux/prim.h"
#include "prim/linux/uffd.h"

#define NO_PAGE UINTPTR_MAX

typedef struct window {
    wvm_retired hdr; /* freed through the epochs: VirtualQuery reads it without a lock */
    uintptr_t base;
    uint64_t pages;
    struct window *_Atomic next; /* in its bucket of `live` */
    uintptr_t slot[];            /* per window page: the slot mapped there, or NO_PAGE */
} window;

/* The live windows by base, for VirtualQuery: added (on_reserve) and removed (on_release)
 * under the pool lock, read lock-free inside an epoch section; a removed window keeps its
 * next link (a reader standing on it walks on) until the epochs free it. */
enum { BUCKETS = 256 };
static window *_Atomic live[BUCKETS];

static unsigned bucket_of(uintptr_t base)
{
    return (unsigned)((base >> 16) * 0x9E3779B97F4A7C15ull >> 56) % BUCKETS;
}

static void live_add(window *w)
{
    window *_Atomic *head = &live[bucket_of(w->base)];
    atomic_store_explicit(&w->next, atomic_load_explicit(head, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(head, w, memory_order_release);
}

static void live_remove(window *w)
{
    for (window *_Atomic *link = &live[bucket_of(w->base)];;) {
        window *v = atomic_load_explicit(link, memory_order_relaxed);
        if (!v)
            return;
        if (v == w) {
            atomic_store_explicit(link, atomic_load_explicit(&w->next, memory_order_relaxed),
                                  memory_order_release);
            return;
        }
        link = &v->next;
    }
}

/* The live window at base, or NULL. Inside an epoch section. */
static window *live_at(uintptr_t base)
{
    window *w = atomic_load_explicit(&live[bucket_of(base)], memory_order_acquire);
    while (w && w->base != base)
        w = atomic_load_explicit(&w->next, memory_order_acquire);
    return w;
}

/* Writers hold the pool lock; VirtualQuery reads without it, hence the atomic accesses. */
static void set_slot(window *w, uint64_t i, uintptr_t v)
{
    __atomic_store_n(&w->slot[i], v, __ATOMIC_RELAXED);
}

static uintptr_t get_slot(window *w, uint64_t i)
{
    return __atomic_load_n(&w->slot[i], __ATOMIC_RELAXED);
}

static pthread_mutex_t pool = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *where;     /* per slot: NO_PAGE = in the store, else the window address */
static uint8_t *in_use;      /* per slot */
static uint64_t nslots, cap; /* slots handed out so far (high water), array capacity */
static uint64_t *free_slots; /* stack of freed slots */
static uint64_t nfree;

/* Pool held: room for `more` slots beyond nslots. */
static int grow(uint64_t more)
{
    uint64_t need = nslots + more;
    if (need > wvm__store_slots())
        return ENOMEM;
    if (need <= cap)
        return 0;
    uint64_t ncap = cap ? cap : 1024;
    while (ncap < need)
        ncap *= 2;
    /* all three grow, or none: their sizes follow cap */
    uintptr_t *w = wvm__meta_alloc(ncap * sizeof *w);
    uint8_t *u = wvm__meta_alloc(ncap);
    uint64_t *f = wvm__meta_alloc(ncap * sizeof *f);
    if (!w || !u || !f) {
        wvm__meta_free(w, ncap * sizeof *w);
        wvm__meta_free(u, ncap);
        wvm__meta_free(f, ncap * sizeof *f);
        return ENOMEM;
    }
    if (cap) {
        memcpy(w, where, cap * sizeof *w);
        memcpy(u, in_use, cap);
        memcpy(f, free_slots, cap * sizeof *f);
        wvm__meta_free(where, cap * sizeof *w);
        wvm__meta_free(in_use, cap);
        wvm__meta_free(free_slots, cap * sizeof *f);
    }
    where = w;
    in_use = u;
    free_slots = f;
    cap = ncap;
    return 0;
}

/* --- physical pages ------------------------------------------------------------------------ */

static uint32_t allocate_locked(uint64_t n, uintptr_t *pfns)
{
    int err = wvm__store_init();
    if (!err)
        err = grow(n > nfree ? n - nfree : 0);
    if (err)
        return wvm__err_from_errno(err);
    uint64_t got = 0;
    for (; got < n; got++) {
        uint64_t s = nfree ? free_slots[--nfree] : nslots++;
        /* zero-filled and allocated now, so that a later touch can never fail */
        if ((err = wvm__store_fill(s))) {
            free_slots[nfree++] = s;
            break;
        }
        in_use[s] = 1;
        where[s] = NO_PAGE;
        pfns[got] = (uintptr_t)s + 1;
    }
    if (got == n)
        return 0;
    while (got-- > 0) { /* undo: this call gives all or nothing */
        uint64_t s = pfns[got] - 1;
        in_use[s] = 0;
        wvm__store_empty(s);
        free_slots[nfree++] = s;
    }
    return wvm__err_from_errno(err);
}

uint32_t wvm__awe_allocate(uint64_t *n, uintptr_t *pfns)
{
    uint64_t want = *n;
    /* Windows may hand out fewer pages than asked: halve until the commit limit agrees */
    while (want && wvm__ledger_charge(want * WVM_PAGE))
        want /= 2;
    if (!want)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    pthread_mutex_lock(&pool);
    uint32_t err = allocate_locked(want, pfns);
    pthread_mutex_unlock(&pool);
    if (err) {
        wvm__ledger_uncharge(want * WVM_PAGE);
        return err;
    }
    *n = want;
    return 0;
}

static bool valid_pfn(uintptr_t pfn)
{
    return pfn && pfn <= nslots && in_use[pfn - 1];
}

/* --- windows -------------------------------------------------------------------------------- */

/* Moves every mapped page of [first, first+count) of w back to its slot. Pool held. */
static int unmap_locked(window *w, uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count;) {
        uintptr_t s = w->slot[i];
        if (s == NO_PAGE) {
            i++;
            continue;
        }
        uint64_t run = 1; /* consecutive window pages holding consecutive slots: one move */
        while (i + run < first + count && w->slot[i + run] == s + run)
            run++;
        int err = wvm__store_page_out(w->base + i * WVM_PAGE, s, run);
        if (err)
            return err;
        for (uint64_t k = 0; k < run; k++) {
            where[s + k] = NO_PAGE;
            set_slot(w, i + k, NO_PAGE);
        }
        i += run;
    }
    return 0;
}

static int map_locked(window *w, uint64_t first, uint64_t count, const uintptr_t *pfns)
{
    int err = unmap_locked(w, first, count);
    for (uint64_t i = 0; !err && i < count;) {
        uint64_t s = pfns[i] - 1, run = 1;
        while (i + run < count && pfns[i + run] == pfns[i] + run)
            run++;
        err = wvm__store_page_in(w->base + (first + i) * WVM_PAGE, s, run);
        for (uint64_t k = 0; !err && k < run; k++) {
            where[s + k] = w->base + (first + i + k) * WVM_PAGE;
            set_slot(w, first + i + k, s + k);
        }
        i += run;
    }
    return err;
}

/* Checks a page array before anything moves ("no mapping is done, partial or otherwise"):
 * every frame allocated, listed once, and not mapped outside the range being remapped. */
static uint32_t check_pfns(window *w, uint64_t first, uint64_t count, const uintptr_t *pfns)
{
    uintptr_t lo = w->base + first * WVM_PAGE, hi = lo + count * WVM_PAGE;
    uint32_t err = 0;
    uint64_t i = 0;
    for (; i < count && !err; i++) {
        uintptr_t p = pfns[i];
        if (!valid_pfn(p) || (where[p - 1] != NO_PAGE && (where[p - 1] < lo || where[p - 1] >= hi)))
            err = WVM_ERROR_INVALID_PARAMETER;
        else if (in_use[p - 1] == 2)
            err = WVM_ERROR_INVALID_PARAMETER; /* listed twice */
        else
            in_use[p - 1] = 2;
    }
    while (i-- > 0) /* unmark */
        if (valid_pfn(pfns[i]))
            in_use[pfns[i] - 1] = 1;
    return err;
}

uint32_t wvm__awe_map(uintptr_t addr, uint64_t n, const uintptr_t *pfns)
{
    wvm_alloc *a = wvm__space_acquire(addr);
    if (!a)
        return WVM_ERROR_INVALID_PARAMETER;
    const wvm_snap *s = wvm__alloc_snap(a);
    window *w = a->ext;
    uint64_t first = (addr - s->base) / WVM_PAGE;
    uint32_t err = 0;
    if (a->backend != wvm__awe_backend() || !w || n > w->pages - first)
        err = WVM_ERROR_INVALID_PARAMETER;
    if (!err) {
        pthread_mutex_lock(&pool);
        err = pfns ? check_pfns(w, first, n, pfns) : 0;
        if (!err)
            err = wvm__err_from_errno(pfns ? map_locked(w, first, n, pfns)
                                           : unmap_locked(w, first, n));
        pthread_mutex_unlock(&pool);
    }
    wvm__space_unlock(a);
    return err;
}

static const wvm_backend awe_backend;

/* The window a mapped page lives in (where[] only names live windows: releasing a window
 * unmaps its pages first). Pool held. */
static window *window_of(uintptr_t at)
{
    wvm_alloc *a = wvm__radix_get(at);
    return a && a->backend == &awe_backend ? a->ext : NULL;
}

uint32_t wvm__awe_free(uint64_t *n, const uintptr_t *pfns)
{
    uint64_t done = 0;
    uint32_t err = 0;
    pthread_mutex_lock(&pool);
    for (; done < *n; done++) {
        uintptr_t p = pfns[done];
        if (!valid_pfn(p)) {
            err = WVM_ERROR_INVALID_PARAMETER;
            break;
        }
        uint64_t s = p - 1;
        if (where[s] != NO_PAGE) { /* mapped: unmap first (Windows does) */
            window *w = window_of(where[s]);
            if (w && unmap_locked(w, (where[s] - w->base) / WVM_PAGE, 1)) {
                err = WVM_ERROR_NOT_ENOUGH_MEMORY;
                break;
            }
        }
        wvm__store_empty(s);
        in_use[s] = 0;
        free_slots[nfree++] = s;
    }
    pthread_mutex_unlock(&pool);
    wvm__ledger_uncharge(done * WVM_PAGE);
    *n = done;
    return err;
}

/* --- the backend ---------------------------------------------------------------------------- */

static int map(uintptr_t want, size_t size, void **out)
{
    return wvm__store_window(want, size, out);
}

static uint32_t on_reserve(wvm_alloc *a)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t pages = wvm__snap_pages(s);
    window *w = wvm__meta_alloc(sizeof *w + pages * sizeof *w->slot);
    if (!w)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    w->base = s->base;
    w->pages = pages;
    for (uint64_t i = 0; i < pages; i++)
        w->slot[i] = NO_PAGE;
    int err = wvm__store_window_ready(s->base, s->size);
    if (err) {
        wvm__meta_free(w, sizeof *w + pages * sizeof *w->slot);
        return wvm__err_from_errno(err);
    }
    pthread_mutex_lock(&pool);
    a->ext = w;
    live_add(w);
    pthread_mutex_unlock(&pool);
    return 0;
}

/* Releasing a window unmaps its pages; they stay allocated with their data. */
static uint32_t on_release(wvm_alloc *a, const wvm_snap *s)
{
    (void)s;
    window *w = a->ext;
    if (!w)
        return 0;
    pthread_mutex_lock(&pool);
    int err = unmap_locked(w, 0, w->pages);
    if (!err) {
        a->ext = NULL;
        live_remove(w);
    }
    pthread_mutex_unlock(&pool);
    if (err)
        return wvm__err_from_errno(err);
    wvm__ebr_retire(&w->hdr, sizeof *w + w->pages * sizeof *w->slot);
    return 0;
}

/* Window pages are never committed, decommitted or re-protected through VirtualAlloc,
 * VirtualFree or VirtualProtect. */
static uint32_t allow(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count)
{
    (void)a;
    (void)op;
    (void)first;
    (void)count;
    return WVM_ERROR_INVALID_ADDRESS;
}

static const wvm_backend awe_backend = {
    .name = "awe-window",
    .map = map,
    .on_reserve = on_reserve,
    .on_release = on_release,
    .allow = allow,
};

const wvm_backend *wvm__awe_backend(void)
{
    return wvm__store_available() ? &awe_backend : NULL;
}

bool wvm__awe_query(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m)
{
    /* The window live at s's base now: s's own, or (s's allocation released since) that of a
     * window made at the same place and of the same size, whose answer is one a query made
     * now would give. None: a window being set up or released, reported reserved. */
    window *w = live_at(s->base);
    if (!w || w->pages != wvm__snap_pages(s) || idx >= w->pages)
        return false;
    /* without the pool lock: a map in flight may show either way, as on Windows */
    bool mapped = get_slot(w, idx) != NO_PAGE;
    uint64_t end = idx + 1;
    while (end < w->pages && (get_slot(w, end) != NO_PAGE) == mapped)
        end++;
    m->RegionSize = (end - idx) * WVM_PAGE;
    m->State = mapped ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    m->Protect = mapped ? WVM_PAGE_READWRITE : 0;
    return true;
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_AWE, &pool);
}
