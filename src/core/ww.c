/* Write watch on top of the kernel's async write-protect (see ww.h and prim/linux/uffd.h).
 *
 * The allocation is registered with the process's userfaultfd when it is reserved; pages are
 * write-protected ("not written") each time they become committed, before they become
 * writable (core/pages.c, WVM_STEP_WW_ARM); PAGEMAP_SCAN reads and re-arms them. Only committed
 * pages are scanned: in guard-marker mode an uncommitted page carries a guard marker that
 * PAGEMAP_SCAN would report as written.
 *
 * Decommit drops the kernel's record with the page, while Windows keeps reporting a page
 * written before its decommit: those pages are moved into `sticky`, a bitmap made on first
 * need. A racing write to a page between the scans of one call is never lost: it is either
 * returned or left "written". */
#include <errno.h>
#include <string.h>

#include "core/meta.h"
#include "core/fork.h"
#include "core/space.h"
#include "core/ww.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/uffd.h"

typedef struct ww_ext {
    uint64_t *sticky; /* one bit per page; NULL while no page is sticky */
    uint64_t nsticky;
    uint32_t fork_gen; /* the process the range is registered in (core/fork.h) */
} ww_ext;

static bool sticky_get(const ww_ext *w, uint64_t page)
{
    return w->sticky && (w->sticky[page / 64] >> (page % 64) & 1);
}

static void sticky_clear_range(ww_ext *w, uint64_t first, uint64_t end)
{
    if (!w->nsticky)
        return;
    for (uint64_t p = first; p < end; p++) {
        if (p % 64 == 0 && end - p >= 64 && !w->sticky[p / 64]) {
            p += 63;
            continue;
        }
        if (sticky_get(w, p)) {
            w->sticky[p / 64] &= ~(1ull << (p % 64));
            w->nsticky--;
        }
    }
}

/* Next sticky page in [p, end), or end. */
static uint64_t sticky_next(const ww_ext *w, uint64_t p, uint64_t end)
{
    if (!w->nsticky)
        return end;
    while (p < end) {
        uint64_t word = w->sticky[p / 64] >> (p % 64);
        if (word)
            return p + (uint64_t)__builtin_ctzll(word) < end ? p + (uint64_t)__builtin_ctzll(word)
                                                             : end;
        p = (p / 64 + 1) * 64;
    }
    return end;
}

static size_t sticky_bytes(const wvm_snap *s)
{
    return (wvm__snap_pages(s) + 63) / 64 * sizeof(uint64_t);
}

static uint32_t on_reserve(wvm_alloc *a)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    ww_ext *w = wvm__meta_zalloc(sizeof *w);
    if (!w)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    wvm__alloc_set_ext(a, w);
    w->fork_gen = wvm__fork_generation();
    int err = wvm__prim_ww_register((void *)s->base, s->size);
    return err ? wvm__err_from_errno(err) : 0;
}

/* An allocation inherited through fork lost its registration (the child's copy of the range
 * is not registered with any userfaultfd, and the parent's descriptor speaks for the parent):
 * it is registered again with the child's, at its first use there. Its pages then carry no
 * write protection: every committed page that holds data reads as written until reset (the
 * child cannot tell which the parent had written since its last reset). a locked. */
static uint32_t rebind(wvm_alloc *a)
{
    ww_ext *w = wvm__alloc_ext(a);
    uint32_t gen = wvm__fork_generation();
    if (w->fork_gen == gen)
        return 0;
    const wvm_snap *s = wvm__alloc_snap(a);
    int err = wvm__prim_ww_register((void *)s->base, s->size);
    if (!err)
        w->fork_gen = gen;
    return wvm__err_from_errno(err);
}

static uint32_t on_release(wvm_alloc *a, const wvm_snap *s)
{
    ww_ext *w = wvm__alloc_ext(a);
    if (w) {
        /* the arena's mapping must lose the registration to merge back; a dedicated one is
         * unmapped anyway (a range inherited through fork and never used is not registered) */
        if (a->in_arena && w->fork_gen == wvm__fork_generation())
            wvm__prim_ww_unregister((void *)s->base, s->size);
        wvm__meta_free(w->sticky, sticky_bytes(s));
        wvm__meta_free(w, sizeof *w);
        wvm__alloc_set_ext(a, NULL);
    }
    return 0;
}

/* Calls f on each committed piece of [first, first+count) as a byte range. */
typedef struct piece_walk {
    uintptr_t base;
    int (*f)(uintptr_t start, uintptr_t end, void *ctx);
    void *ctx;
} piece_walk;

static int walk_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    piece_walk *w = ctx;
    if (!wvm__attr_committed(attr))
        return 0;
    return w->f(w->base + first * WVM_PAGE, w->base + (first + count) * WVM_PAGE, w->ctx);
}

static int each_committed(const wvm_snap *s, uint64_t first, uint64_t count,
                          int (*f)(uintptr_t, uintptr_t, void *), void *ctx)
{
    piece_walk w = {s->base, f, ctx};
    return wvm__snap_each(s, first, count, walk_piece, &w);
}

/* --- decommit: move the kernel's record into the sticky bitmap ---------------------------- */

typedef struct harvest {
    ww_ext *w;
    uintptr_t base;
} harvest;

static void harvest_page(void *ctx, uintptr_t page)
{
    harvest *h = ctx;
    uint64_t p = (page - h->base) / WVM_PAGE;
    if (!sticky_get(h->w, p)) {
        h->w->sticky[p / 64] |= 1ull << (p % 64);
        h->w->nsticky++;
    }
}

static int harvest_range(uintptr_t start, uintptr_t end, void *ctx)
{
    return wvm__prim_ww_scan(start, end, false, UINT64_MAX, harvest_page, ctx, NULL);
}

static uint32_t ensure_bitmap(ww_ext *w, const wvm_snap *s)
{
    if (!w->sticky)
        w->sticky = wvm__meta_zalloc(sticky_bytes(s));
    return w->sticky ? 0 : WVM_ERROR_NOT_ENOUGH_MEMORY;
}

/* Before the decommit: what the harvest needs (the range bound here, the bitmap). */
static uint32_t before_decommit(wvm_alloc *a, uint64_t first, uint64_t count)
{
    (void)first;
    (void)count;
    uint32_t err = rebind(a);
    return err ? err : ensure_bitmap(wvm__alloc_ext(a), wvm__alloc_snap(a));
}

/* Once the pages are out of reach (PROT_NONE) and before they are dropped: a store that got
 * in before is in the kernel's record, a later one faults (finding q: a harvest before the
 * narrowing missed a store in between). */
static int harvest_committed(wvm_alloc *a, uint64_t first, uint64_t count)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    if (ensure_bitmap(wvm__alloc_ext(a), s)) /* made by before_decommit, unless another path zaps */
        return ENOMEM;
    harvest h = {wvm__alloc_ext(a), s->base};
    return each_committed(s, first, count, harvest_range, &h);
}

/* --- commit: fresh pages start "not written" ----------------------------------------------- */

/* core/pages.c write-protects fresh pages itself (WVM_STEP_WW_ARM), before they become
 * writable: a hook after the commit would erase the record of a store that reached a page
 * in between (finding q). The range must be registered in this process by then. */
static uint32_t allow(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count)
{
    (void)first;
    (void)count;
    return op == WVM_MEM_COMMIT ? rebind(a) : 0;
}

/* --- MEM_RESET_UNDO's pin (core/reset.c pins by the kernel's forced write) ------------------
 *
 * Any write clears a page's write protection, the kernel's forced write too (checked on 6.18:
 * GUP takes a write fault on a write-protected entry, and the fault lifts the protection).
 * So the record of the run moves into the sticky bitmap, the protection is lifted (so that the
 * forced write takes no page fault, which reset.c would count as a dropped page) and put back
 * after the pin. No store of the program may land between the harvest and the re-arm: pages
 * it may write are made read-only first (a store meanwhile faults and waits for the lock) and
 * writable again once re-armed (finding r; the order of finding q's commit). Without forced
 * writes the pin is an ordinary write, which only a writable page takes: the run's protection
 * is lifted for good (it reads "written", over-reported) so that the write takes no fault. */

static uint32_t before_pin(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t attr)
{
    uint32_t err = rebind(a);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    uintptr_t start = s->base + first * WVM_PAGE, end = start + count * WVM_PAGE;
    int prot = wvm__linux_prot(attr);
    if (!wvm__prim_forced_available()) /* the others stay unpinned */
        return prot & WVM_P_WRITE
                   ? wvm__err_from_errno(wvm__prim_ww_unprotect((void *)start, end - start))
                   : 0;
    if ((err = ensure_bitmap(wvm__alloc_ext(a), s)))
        return err;
    int e =
        prot & WVM_P_WRITE ? wvm__prim_protect((void *)start, end - start, prot & ~WVM_P_WRITE) : 0;
    if (e)
        return wvm__err_from_errno(e);
    harvest h = {wvm__alloc_ext(a), s->base};
    bool harvested = !(e = harvest_range(start, end, &h));
    if (!e)
        e = wvm__prim_ww_unprotect((void *)start, end - start);
    if (e) { /* back as it was: the record is in the bitmap, if it got there */
        if (harvested)
            wvm__prim_ww_protect((void *)start, end - start);
        if (prot & WVM_P_WRITE)
            wvm__prim_protect((void *)start, end - start, prot);
    }
    return wvm__err_from_errno(e);
}

/* A failed re-arm leaves the run "written" (over-reported, the safe side); a failed widening
 * leaves it read-only in the kernel, which the undo reports. */
static uint32_t after_pin(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t attr)
{
    if (!wvm__prim_forced_available())
        return 0;
    uintptr_t start = wvm__alloc_snap(a)->base + first * WVM_PAGE;
    int prot = wvm__linux_prot(attr);
    wvm__prim_ww_protect((void *)start, count * WVM_PAGE);
    return prot & WVM_P_WRITE
               ? wvm__err_from_errno(wvm__prim_protect((void *)start, count * WVM_PAGE, prot))
               : 0;
}

static const wvm_backend ww_backend = {
    .name = "write-watch",
    .on_reserve = on_reserve,
    .on_release = on_release,
    .before_decommit = before_decommit,
    .before_zap = harvest_committed,
    .allow = allow,
    .before_pin = before_pin,
    .after_pin = after_pin,
    .kernel_records = true,
};

const wvm_backend *wvm__ww_backend(void)
{
    return wvm__prim_ww_available() ? &ww_backend : wvm__wwp_backend();
}

/* --- GetWriteWatch / ResetWriteWatch -------------------------------------------------------- */

static wvm_alloc *acquire_watched(uintptr_t start, uintptr_t end)
{
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return NULL;
    const wvm_snap *s = wvm__alloc_snap(a);
    if ((wvm__alloc_backend(a) != &ww_backend && wvm__alloc_backend(a) != wvm__wwp_backend()) ||
        end - s->base > s->size) {
        wvm__space_unlock(a);
        return NULL;
    }
    return a;
}

/* The same, and bound to this process's userfaultfd. */
static uint32_t acquire_bound(uintptr_t start, uintptr_t end, wvm_alloc **out)
{
    wvm_alloc *a = acquire_watched(start, end);
    if (!a)
        return WVM_ERROR_INVALID_PARAMETER;
    uint32_t err = wvm__alloc_backend(a) == &ww_backend ? rebind(a) : 0;
    if (err) {
        wvm__space_unlock(a);
        return err;
    }
    *out = a;
    return 0;
}

typedef struct collect {
    uintptr_t *out;
    uint64_t n, cap;
    bool rearm;
} collect;

static void collect_page(void *ctx, uintptr_t page)
{
    collect *c = ctx;
    if (c->n < c->cap)
        c->out[c->n++] = page;
}

static int collect_range(uintptr_t start, uintptr_t end, void *ctx)
{
    collect *c = ctx;
    if (c->n == c->cap)
        return 0;
    return wvm__prim_ww_scan(start, end, c->rearm, c->cap - c->n, collect_page, c, NULL);
}

/* Pages written between the first scan and the re-arming one become sticky. */
typedef struct rearm_ctx {
    ww_ext *w;
    uintptr_t base;
    const uintptr_t *given;
    uint64_t ngiven, at;
} rearm_ctx;

static void rearm_page(void *ctx, uintptr_t page)
{
    rearm_ctx *r = ctx;
    while (r->at < r->ngiven && r->given[r->at] < page)
        r->at++;
    if (r->at < r->ngiven && r->given[r->at] == page)
        return;
    harvest h = {r->w, r->base};
    harvest_page(&h, page);
}

static int rearm_range(uintptr_t start, uintptr_t end, void *ctx)
{
    return wvm__prim_ww_scan(start, end, true, UINT64_MAX, rearm_page, ctx, NULL);
}

/* With sticky pages in play: merge the kernel's pages with the sticky ones. */
static uint32_t get_merged(wvm_alloc *a, uint64_t first, uint64_t count, bool reset, uintptr_t *out,
                           uint64_t *n)
{
    const wvm_snap *s = wvm__alloc_snap(a);
    ww_ext *w = wvm__alloc_ext(a);
    uint64_t cap = *n;
    size_t kern_bytes = (cap < count ? cap : count) * sizeof(uintptr_t);
    uintptr_t *kern = wvm__meta_alloc(kern_bytes);
    if (!kern)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    collect c = {kern, 0, cap < count ? cap : count, false};
    int err = each_committed(s, first, count, collect_range, &c);
    if (err) {
        wvm__meta_free(kern, kern_bytes);
        return wvm__err_from_errno(err);
    }
    uint64_t k = 0, got = 0, end = first + count;
    uint64_t sp = sticky_next(w, first, end);
    while (got < cap) {
        uint64_t kp = k < c.n ? (kern[k] - s->base) / WVM_PAGE : end;
        uint64_t p = kp < sp ? kp : sp;
        if (p >= end)
            break;
        out[got++] = s->base + p * WVM_PAGE;
        if (kp == p)
            k++;
        if (sp == p)
            sp = sticky_next(w, p + 1, end);
    }
    wvm__meta_free(kern, kern_bytes);
    *n = got;
    if (!reset)
        return 0;
    /* everything up to the last page returned (or the whole range) is reset */
    uint64_t cut = got == cap ? (out[got - 1] - s->base) / WVM_PAGE + 1 : end;
    sticky_clear_range(w, first, cut);
    rearm_ctx r = {w, s->base, out, got, 0};
    return wvm__err_from_errno(each_committed(s, first, cut - first, rearm_range, &r));
}

uint32_t wvm__ww_get(uintptr_t start, uintptr_t end, bool reset, void **out, uint64_t *count)
{
    wvm_alloc *a;
    uint32_t err = acquire_bound(start, end, &a);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    ww_ext *w = wvm__alloc_ext(a);
    uint64_t first = (start - s->base) / WVM_PAGE, pages = (end - start) / WVM_PAGE;
    if (wvm__alloc_backend(a) == wvm__wwp_backend())
        err = wvm__wwp_get(a, first, pages, reset, out, count);
    else if (w->nsticky && sticky_next(w, first, first + pages) < first + pages) {
        err = get_merged(a, first, pages, reset, (uintptr_t *)out, count);
    } else {
        /* the common case: one pass of the kernel's scan, re-arming what it reports */
        collect c = {(uintptr_t *)out, 0, *count, reset};
        err = wvm__err_from_errno(each_committed(s, first, pages, collect_range, &c));
        *count = c.n;
    }
    wvm__space_unlock(a);
    return err;
}

static void ignore_page(void *ctx, uintptr_t page)
{
    (void)ctx;
    (void)page;
}

static int reset_range(uintptr_t start, uintptr_t end, void *ctx)
{
    (void)ctx;
    return wvm__prim_ww_scan(start, end, true, UINT64_MAX, ignore_page, NULL, NULL);
}

uint32_t wvm__ww_reset(uintptr_t start, uintptr_t end)
{
    wvm_alloc *a;
    uint32_t err = acquire_bound(start, end, &a);
    if (err)
        return err;
    const wvm_snap *s = wvm__alloc_snap(a);
    uint64_t first = (start - s->base) / WVM_PAGE, pages = (end - start) / WVM_PAGE;
    if (wvm__alloc_backend(a) == wvm__wwp_backend()) {
        err = wvm__wwp_reset(a, first, pages);
    } else {
        sticky_clear_range(wvm__alloc_ext(a), first, first + pages);
        err = wvm__err_from_errno(each_committed(s, first, pages, reset_range, NULL));
    }
    wvm__space_unlock(a);
    return err;
}

void wvm__ww_mark_written(uintptr_t start, uintptr_t end, void *const *pages, uint64_t n)
{
    wvm_alloc *a = acquire_watched(start, end);
    if (!a)
        return;
    const wvm_snap *s = wvm__alloc_snap(a);
    if (wvm__alloc_backend(a) == wvm__wwp_backend()) {
        wvm__wwp_mark_written(a, pages, n);
    } else if (!ensure_bitmap(wvm__alloc_ext(a), s)) {
        harvest h = {wvm__alloc_ext(a), s->base};
        for (uint64_t i = 0; i < n; i++)
            harvest_page(&h, (uintptr_t)pages[i]);
    }
    wvm__space_unlock(a);
}
