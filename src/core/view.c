/* Views (view.h): mapping, unmapping, and the page operations Windows allows on them. */
#include <errno.h>

#include "core/arena.h"
#include "core/credit.h"
#include "core/guard.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "core/acct.h"
#include "core/view.h"
#include "core/xview.h"
#include "prim/linux/prim.h"

static _Atomic uint64_t live_views, live_bytes, copy_charged;

static int release_span(uintptr_t base, size_t size, uintptr_t footprint, bool in_arena);
static uint32_t view_on_release(wvm_alloc *a, const wvm_snap *s);
static uint32_t view_allow(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count);
static void view_sync(wvm_alloc *a);

static const wvm_backend view_backend = {
    .name = "view",
    .mapped = true,
    .release_span = release_span,
    .on_release = view_on_release,
    .allow = view_allow,
    .reserved_fault = wvm__view_reserved_fault,
    .sync = view_sync,
};

bool wvm__alloc_is_view(const wvm_alloc *a)
{
    return wvm__alloc_backend(a) == &view_backend;
}

static bool is_wc(uint32_t attr)
{
    return attr & (WVM_PAGE_WRITECOPY | WVM_PAGE_EXECUTE_WRITECOPY);
}

/* One past the last page of the run of equal commit state that starts at section page p. */
static uint64_t run_end(const wvm_section *sec, uint64_t p, uint64_t end, bool *committed)
{
    if (sec->bits)
        return wvm__xview_run(sec->bits, p, end, committed);
    *committed = true;
    return end;
}

/* Kernel offset of view page `page`. */
static uint64_t file_off(const wvm_view *v, uint64_t page)
{
    return v->sec->data_off + v->offset + page * WVM_PAGE;
}

static bool arena_guarded(bool in_arena)
{
    return in_arena && wvm__caps()->guard_markers;
}

/* Maps v over [base, base+size) (arena space or a dedicated PROT_NONE mapping); on failure
 * the range is as it was. */
static int map_kernel(wvm_view *v, uintptr_t base, size_t size, bool in_arena)
{
    int err = arena_guarded(in_arena) ? wvm__arena_guard_chunks(base, base + size) : 0;
    if (err)
        return err;
    uint64_t pages = size / WVM_PAGE, p0 = v->offset / WVM_PAGE;
    int prot = wvm__linux_prot(wvm__view_attr(v));
    bool first_committed;
    bool all = run_end(v->sec, p0, p0 + pages, &first_committed) == p0 + pages && first_committed;
    if ((err = wvm__prim_map_fd((void *)base, size, all ? prot : WVM_P_NONE, !v->copy, v->sec->fd,
                                file_off(v, 0))))
        return err;
    for (uint64_t p = 0; !all && p < pages;) {
        bool committed;
        uint64_t end = run_end(v->sec, p0 + p, p0 + pages, &committed) - p0;
        if (committed &&
            (err = wvm__prim_protect((void *)(base + p * WVM_PAGE), (end - p) * WVM_PAGE, prot))) {
            wvm__prim_restore_idle((void *)base, size, arena_guarded(in_arena));
            return err;
        }
        p = end;
    }
    return 0;
}

static int any_reserved(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    (void)ctx;
    return !wvm__attr_committed(attr);
}

static uint32_t set_attr(uint32_t old, void *ctx)
{
    (void)old;
    return *(uint32_t *)ctx;
}

/* The view's state: committed pages of the section with the view's attribute. */
static wvm_snap *first_snap(wvm_view *v, uintptr_t base, size_t size, uint32_t type)
{
    uint32_t attr = wvm__view_attr(v);
    if (wvm__section_shared(v->sec))
        type |= WVM_TYPE_XSHARED;
    wvm_snap *s = wvm__snap_new(base, size, attr, type);
    uint64_t pages = size / WVM_PAGE, p0 = v->offset / WVM_PAGE;
    for (uint64_t p = 0; s && p < pages;) {
        bool committed;
        uint64_t end = run_end(v->sec, p0 + p, p0 + pages, &committed) - p0;
        if (committed) {
            wvm_snap *n = wvm__snap_map(s, p, end - p, set_attr, &attr);
            wvm__snap_free(s);
            s = n;
        }
        p = end;
    }
    return s;
}

typedef struct map_ctx {
    wvm_view *v;
    uintptr_t base;
} map_ctx;

static int fill(void *ctx, uintptr_t base, size_t size, bool in_arena)
{
    wvm_view *v = ((map_ctx *)ctx)->v;
    ((map_ctx *)ctx)->base = base;
    v->base = base;
    int err = wvm__view_xregister(v, base);
    if (!err && (err = map_kernel(v, base, size, in_arena)))
        wvm__view_xunregister(v, base);
    return err;
}

static wvm_snap *first(void *ctx, uintptr_t base, size_t size)
{
    return first_snap(((map_ctx *)ctx)->v, base, size, WVM_TYPE_VIEW);
}

static void list_add(wvm_view *v)
{
    pthread_mutex_lock(&wvm__section_views_lock);
    v->next = v->sec->views;
    v->sec->views = v;
    pthread_mutex_unlock(&wvm__section_views_lock);
}

static void list_remove(wvm_view *v)
{
    pthread_mutex_lock(&wvm__section_views_lock);
    wvm_view **p = &v->sec->views;
    while (*p && *p != v)
        p = &(*p)->next;
    if (*p)
        *p = v->next;
    pthread_mutex_unlock(&wvm__section_views_lock);
}

/* Gives up everything v holds (the allocation is being released or turned into a
 * placeholder; its kernel range is already idle). */
static void view_free(wvm_view *v)
{
    wvm__view_xunregister(v, v->base);
    list_remove(v);
    if (v->charged) {
        wvm__ledger_uncharge(v->charged);
        atomic_fetch_sub(&copy_charged, v->charged);
    }
    atomic_fetch_sub(&live_views, 1);
    atomic_fetch_sub(&live_bytes, v->size);
    wvm__object_unref(&v->sec->obj);
    wvm__meta_free(v, sizeof *v);
}

static int release_span(uintptr_t base, size_t size, uintptr_t footprint, bool in_arena)
{
    (void)footprint;
    if (!in_arena) /* PROT_NONE: the index's death unmaps it (or holds its pages) */
        return wvm__prim_restore_idle((void *)base, size, false);
    return wvm__prim_restore_idle((void *)base, size, arena_guarded(true));
}

static uint32_t view_on_release(wvm_alloc *a, const wvm_snap *s)
{
    (void)s;
    if (wvm__alloc_ext(a))
        view_free(wvm__alloc_ext(a));
    wvm__alloc_set_ext(a, NULL);
    return 0;
}

static uint32_t view_allow(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count)
{
    (void)a;
    (void)first;
    (void)count;
    return op == WVM_MEM_DECOMMIT ? WVM_ERROR_INVALID_PARAMETER : 0;
}

static wvm_view *view_new(const wvm_view_req *r)
{
    wvm_view *v = wvm__meta_zalloc(sizeof *v);
    if (!v)
        return NULL;
    v->sec = r->sec;
    v->offset = r->offset;
    v->prot = r->prot;
    v->copy = r->copy;
    v->size = r->size;
    if (v->copy && wvm__ledger_charge(r->size)) {
        wvm__meta_free(v, sizeof *v);
        return NULL;
    }
    v->charged = v->copy ? r->size : 0;
    atomic_fetch_add(&copy_charged, v->charged);
    wvm__object_ref(&r->sec->obj);
    return v;
}

static void view_abandon(wvm_view *v)
{
    if (v->charged) {
        wvm__ledger_uncharge(v->charged);
        atomic_fetch_sub(&copy_charged, v->charged);
    }
    wvm__object_unref(&v->sec->obj);
    wvm__meta_free(v, sizeof *v);
}

/* MEM_REPLACE_PLACEHOLDER: the placeholder at r->want becomes the view. */
static uint32_t replace_placeholder(const wvm_view_req *r, wvm_view *v)
{
    wvm_alloc *a = wvm__space_acquire(r->want);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    if (!(s->type & WVM_TYPE_PLACEHOLDER) || s->base != r->want || s->size != r->size)
        err = WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *to = err ? NULL : first_snap(v, s->base, s->size, WVM_TYPE_VIEW | WVM_TYPE_REPLACED);
    if (!err && (!to || wvm__alloc_cold_get(a))) /* (the cold part: for the backend) */
        err = WVM_ERROR_NOT_ENOUGH_MEMORY;
    if (!err && (err = wvm__err_from_errno(wvm__view_xregister(v, s->base))))
        wvm__snap_free(to);
    if (!err && (err = wvm__err_from_errno(map_kernel(v, s->base, s->size, a->in_arena)))) {
        wvm__view_xunregister(v, s->base);
        wvm__snap_free(to);
    }
    if (!err) {
        v->base = s->base;
        wvm__alloc_set_backend(a, &view_backend);
        wvm__alloc_set_ext(a, v);
        a->guard_mode = false;
        wvm__alloc_publish(a, to);
    }
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__view_map(const wvm_view_req *r, uintptr_t *out)
{
    wvm_view *v = view_new(r);
    if (!v)
        return r->copy ? WVM_ERROR_COMMITMENT_LIMIT : WVM_ERROR_NOT_ENOUGH_MEMORY;
    uint32_t err;
    uintptr_t base = r->want;
    /* SEC_RESERVE: no commit through another view between the first state (made from the
     * section's bits) and joining the section's list, which commits follow */
    if (v->sec->bits)
        pthread_mutex_lock(&wvm__section_commit_lock);
    if (r->replace) {
        err = replace_placeholder(r, v);
    } else {
        map_ctx c = {v, 0};
        wvm_reserve_req q = {.want = r->want,
                             .size = r->size,
                             .prot = r->prot,
                             .be = &view_backend,
                             .no_sparse = true,
                             .fill = fill,
                             .first = first,
                             .ctx = &c,
                             .ext = v};
        err = wvm__space_reserve_req(&q, &base);
    }
    if (!err) {
        atomic_fetch_add(&live_views, 1);
        atomic_fetch_add(&live_bytes, r->size);
        list_add(v);
    }
    if (v->sec->bits)
        pthread_mutex_unlock(&wvm__section_commit_lock);
    if (err) {
        view_abandon(v);
        return err;
    }
    *out = base;
    return 0;
}

/* ---- page operations on a view ------------------------------------------------------------- */

/* A kernel step: mprotect, or a remap of the pages shared or private (copy-on-write). */
typedef struct vstep {
    uintptr_t addr;
    size_t len;
    bool remap;
    bool shared, undo_shared;
    int prot, undo_prot;
    uint64_t off;
} vstep;

typedef struct vplan {
    wvm_view *v;
    uintptr_t base;
    const wvm_snap *to;
    uint64_t first;   /* page of copied[0] */
    uint64_t *copied; /* NULL: not needed (private view, or no copy-on-write involved) */
    vstep *steps;
    size_t n, cap;
    int err;
    uint32_t from; /* the piece being planned (diff_piece) */
} vplan;

static void add(vplan *p, vstep s)
{
    if (p->err)
        return;
    if (p->n && !s.remap && !p->steps[p->n - 1].remap && p->steps[p->n - 1].prot == s.prot &&
        p->steps[p->n - 1].undo_prot == s.undo_prot &&
        p->steps[p->n - 1].addr + p->steps[p->n - 1].len == s.addr) {
        p->steps[p->n - 1].len += s.len;
        return;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        vstep *g = wvm__meta_realloc(p->steps, p->cap * sizeof *g, cap * sizeof *g);
        if (!g) {
            p->err = ENOMEM;
            return;
        }
        p->steps = g;
        p->cap = cap;
    }
    p->steps[p->n++] = s;
}

static bool copied(const vplan *p, uint64_t page)
{
    return p->copied && (p->copied[(page - p->first) / 64] >> ((page - p->first) % 64) & 1);
}

/* The steps that take pages [pg, pg+n) from attribute from to attribute to. */
static void plan_pages(vplan *p, uint64_t pg, uint64_t n, uint32_t from, uint32_t to)
{
    bool was = wvm__attr_committed(from);
    int oldp = was ? wvm__linux_prot(from) : WVM_P_NONE;
    int newp = wvm__attr_committed(to) ? wvm__linux_prot(to) : WVM_P_NONE;
    bool shared = !p->v->copy, wcf = was && is_wc(from), wct = is_wc(to);
    for (uint64_t i = pg; i < pg + n;) {
        bool c = copied(p, i);
        uint64_t j = i + 1;
        while (j < pg + n && copied(p, j) == c)
            j++;
        vstep s = {p->base + i * WVM_PAGE, (j - i) * WVM_PAGE, false, shared, shared, newp, oldp,
                   file_off(p->v, i)};
        /* a page of a shared view is private only while it is copy-on-write or a copy */
        if (shared && !c && wcf != wct) {
            s.remap = true;
            s.shared = !wct;
            s.undo_shared = !wcf;
        }
        if (s.remap || oldp != newp)
            add(p, s);
        i = j;
    }
}

static int diff_to(uint64_t first, uint64_t count, uint32_t to, void *ctx)
{
    vplan *p = ctx;
    plan_pages(p, first, count, p->from, to);
    return p->err;
}

static int diff_piece(uint64_t first, uint64_t count, uint32_t from, void *ctx)
{
    vplan *p = ctx;
    p->from = from; /* the target state may split this piece further */
    return wvm__snap_each(p->to, first, count, diff_to, p);
}

static int piece_wc(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)first;
    (void)count;
    (void)ctx;
    return is_wc(attr);
}

/* Whether any page of [first, first+count) is or becomes copy-on-write. */
static bool wc_involved(const wvm_snap *s, const wvm_snap *to, uint64_t first, uint64_t count)
{
    return wvm__snap_each(s, first, count, piece_wc, NULL) ||
           wvm__snap_each(to, first, count, piece_wc, NULL);
}

static size_t copied_bytes(uint64_t count)
{
    return (count + 63) / 64 * sizeof(uint64_t);
}

/* Moves the kernel from a's state to `to` over [first, first+count) and publishes `to`
 * (consumed either way). */
static uint32_t view_apply(wvm_alloc *a, wvm_snap *to, uint64_t first, uint64_t count)
{
    wvm_view *v = wvm__alloc_ext(a);
    wvm_snap *s = wvm__alloc_snap(a);
    vplan p = {v, s->base, to, first, NULL, NULL, 0, 0, 0, 0};
    if (wc_involved(s, to, first, count)) {
        p.copied = wvm__meta_zalloc(copied_bytes(count));
        if (!p.copied)
            p.err = ENOMEM;
        else
            p.err = wvm__prim_pages_copied(s->base + first * WVM_PAGE, count, p.copied);
    }
    bool created = false;
    /* consumed guards are folded before any is re-armed (pages.c's apply says why) */
    uint32_t gerr = p.err                   ? 0
                    : wvm__guard_pending(s) ? WVM_ERROR_NOT_ENOUGH_MEMORY
                                            : wvm__guard_prepare(to, first, count, &created);
    if (!p.err && !gerr)
        wvm__snap_each(s, first, count, diff_piece, &p);
    size_t done = 0;
    for (; !p.err && !gerr && done < p.n; done++) {
        vstep *st = &p.steps[done];
        p.err = st->remap ? wvm__prim_map_fd((void *)st->addr, st->len, st->prot, st->shared,
                                             v->sec->fd, st->off)
                          : wvm__prim_protect((void *)st->addr, st->len, st->prot);
    }
    if (p.err)
        while (done-- > 0) {
            vstep *st = &p.steps[done];
            if (st->remap)
                wvm__prim_map_fd((void *)st->addr, st->len, st->undo_prot, st->undo_shared,
                                 v->sec->fd, st->off);
            else
                wvm__prim_protect((void *)st->addr, st->len, st->undo_prot);
        }
    wvm__meta_free(p.steps, p.cap * sizeof *p.steps);
    if (p.copied)
        wvm__meta_free(p.copied, copied_bytes(count));
    uint32_t err = gerr ? gerr : wvm__err_from_errno(p.err);
    if (err) {
        if (created)
            wvm__guard_discard(to);
        wvm__snap_free(to);
        return err;
    }
    wvm__alloc_publish(a, to);
    return 0;
}

/* What VirtualQuery and VirtualProtect show of a page with attribute attr: a copy-on-write
 * page that was written is a private page of the view now. */
static uint32_t shown(uint32_t attr, bool is_copy)
{
    if (!is_copy || !is_wc(attr))
        return attr;
    uint32_t base = attr & 0xFFu;
    return (attr & ~0xFFu) |
           (base == WVM_PAGE_WRITECOPY ? WVM_PAGE_READWRITE : WVM_PAGE_EXECUTE_READWRITE);
}

/* SECTION_MAP_* style access a protection grants: read, write, execute. */
static uint32_t access_of(uint32_t prot)
{
    switch (prot & 0xFFu) {
    case WVM_PAGE_READONLY:
    case WVM_PAGE_WRITECOPY:
        return 1;
    case WVM_PAGE_READWRITE:
        return 3;
    case WVM_PAGE_EXECUTE:
    case WVM_PAGE_EXECUTE_READ:
    case WVM_PAGE_EXECUTE_WRITECOPY:
        return 5;
    case WVM_PAGE_EXECUTE_READWRITE:
        return 7;
    default:
        return 0;
    }
}

static bool compatible(uint32_t view_prot, uint32_t prot)
{
    uint32_t want = access_of(prot);
    return (access_of(view_prot) & want) == want;
}

#define CACHING (WVM_PAGE_NOCACHE | WVM_PAGE_WRITECOMBINE)

typedef struct prot_ctx {
    uint32_t prot;
    uint32_t commit_attr; /* for pages not yet committed (commit only) */
} prot_ctx;

static uint32_t new_prot(uint32_t old, void *ctx)
{
    prot_ctx *c = ctx;
    if (!wvm__attr_committed(old))
        return (c->prot & ~CACHING) | (c->commit_attr & CACHING);
    return (old & ~WVM_ATTR_PROT_MASK) | (c->prot & ~CACHING) | (old & CACHING);
}

static uint32_t commit_attr(uint32_t old, void *ctx)
{
    return wvm__attr_committed(old) ? old : *(uint32_t *)ctx;
}

/* Pages of view w that the section has committed but w's state has not: committed with w's
 * own protection (a locked, commit lock held). */
static uint32_t bring_along(wvm_alloc *a, wvm_view *w)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uint64_t pages = wvm__snap_pages(s), p0 = w->offset / WVM_PAGE;
    uint32_t attr = wvm__view_attr(w), err = 0;
    for (uint64_t p = 0; !err && p < pages;) {
        bool committed;
        uint64_t end = run_end(w->sec, p0 + p, p0 + pages, &committed) - p0;
        if (committed && wvm__snap_each(s, p, end - p, any_reserved, NULL)) {
            wvm_snap *to = wvm__snap_map(s, p, end - p, commit_attr, &attr);
            err = to ? view_apply(a, to, p, end - p) : WVM_ERROR_NOT_ENOUGH_MEMORY;
            s = wvm__alloc_snap(a);
        }
        p = end;
    }
    return err;
}

/* The backend's sync: a view of a section other processes commit catches up with the shared
 * bits (core/xview.h); on failure the pages stay as the bits show them, reached through
 * faults. */
static void view_sync(wvm_alloc *a)
{
    wvm_view *v = wvm__alloc_ext(a);
    if (v && wvm__section_shared(v->sec))
        bring_along(a, v);
}

/* The bases of sec's views other than v (commit lock held), from core/meta.h (free with
 * others_free); *n their number. */
static uintptr_t *others(wvm_section *sec, const wvm_view *v, size_t *n)
{
    size_t count = 0;
    pthread_mutex_lock(&wvm__section_views_lock);
    for (wvm_view *w = sec->views; w; w = w->next)
        count += w != v;
    uintptr_t *bases = wvm__meta_alloc((count ? count : 1) * sizeof *bases);
    *n = 0;
    for (wvm_view *w = sec->views; bases && w; w = w->next)
        if (w != v)
            bases[(*n)++] = w->base;
    pthread_mutex_unlock(&wvm__section_views_lock);
    return bases;
}

static void others_free(uintptr_t *bases, size_t n)
{
    wvm__meta_free(bases, (n ? n : 1) * sizeof *bases);
}

/* Pages of w that this commit made the section commit (set, as wvm__section_mark records
 * them for [sp, sp+count)) go back to reserved: the commit failed further on (a locked). */
static uint32_t drop_fresh(wvm_alloc *a, wvm_view *w, uint64_t sp, uint64_t count,
                           const uint64_t *set)
{
    uint64_t p0 = w->offset / WVM_PAGE, pages = w->size / WVM_PAGE, none = 0;
    uint64_t lo = sp > p0 ? sp : p0, hi = sp + count < p0 + pages ? sp + count : p0 + pages;
    uint32_t err = 0;
#define FRESH(p) (set[(p) / 64 - sp / 64] >> ((p) % 64) & 1)
    for (uint64_t p = lo; p < hi;) {
        uint64_t e = p + 1;
        while (e < hi && FRESH(e) == FRESH(p))
            e++;
        if (FRESH(p)) {
            wvm_snap *to = wvm__snap_map(wvm__alloc_snap(a), p - p0, e - p, set_attr, &none);
            uint32_t r = to ? view_apply(a, to, p - p0, e - p) : WVM_ERROR_NOT_ENOUGH_MEMORY;
            err = err ? err : r;
        }
        p = e;
    }
#undef FRESH
    return err;
}

/* Calls fn on every other view of sec that shows pages of [sp, sp+count) (each locked in
 * turn; commit lock held, no allocation lock); stops at the first error. */
static uint32_t each_other(wvm_section *sec, const wvm_view *v, uint64_t sp, uint64_t count,
                           uint32_t (*fn)(wvm_alloc *, wvm_view *, const void *), const void *ctx)
{
    size_t n;
    uintptr_t *bases = others(sec, v, &n);
    uint32_t err = bases ? 0 : WVM_ERROR_NOT_ENOUGH_MEMORY;
    for (size_t i = 0; !err && i < n; i++) {
        wvm_alloc *a = wvm__space_acquire(bases[i]);
        if (!a)
            continue;
        wvm_view *w = wvm__alloc_is_view(a) ? wvm__alloc_ext(a) : NULL;
        uint64_t w0 = w ? w->offset / WVM_PAGE : 0, wn = w ? w->size / WVM_PAGE : 0;
        if (w && w->sec == sec && sp < w0 + wn && sp + count > w0)
            err = fn(a, w, ctx);
        wvm__space_unlock(a);
    }
    others_free(bases, n);
    return err;
}

typedef struct fresh_ctx {
    uint64_t sp, count;
    const uint64_t *set;
} fresh_ctx;

static uint32_t bring(wvm_alloc *a, wvm_view *w, const void *ctx)
{
    (void)ctx;
    return bring_along(a, w);
}

static uint32_t drop(wvm_alloc *a, wvm_view *w, const void *ctx)
{
    const fresh_ctx *c = ctx;
    drop_fresh(a, w, c->sp, c->count, c->set); /* best effort: undoing a widening */
    return 0;
}

/* The other views of sec in this process get the pages the caller just made the section
 * commit, all of them or none (commit lock held, no allocation lock). */
static uint32_t commit_others(wvm_section *sec, const wvm_view *v, const fresh_ctx *c)
{
    uint32_t err = each_other(sec, v, c->sp, c->count, bring, NULL);
    if (err)
        each_other(sec, v, c->sp, c->count, drop, c);
    return err;
}

/* What a host's commit (acct with a credit record) charged: the section remembers it for the
 * host's record, which gets it back when the section dies (commit lock held). */
static void credit_note(wvm_section *sec, wvm_acct *acct, uint64_t pages)
{
    if (!acct)
        return;
    acct->committed = pages * WVM_PAGE;
    if (!acct->credit || !pages)
        return;
    if (!sec->credit) {
        wvm__credit_ref(acct->credit);
        sec->credit = acct->credit;
    }
    sec->credit_bytes += pages * WVM_PAGE;
}

uint32_t wvm__view_commit(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot,
                          wvm_acct *acct)
{
    wvm_view *v = wvm__alloc_ext(a);
    wvm_section *sec = v->sec;
    uint32_t err = 0;
    prot_ctx c = {prot, wvm__view_attr(v)};
    if (sec->file)
        err = WVM_ERROR_ACCESS_DENIED; /* a file's view is committed by the file */
    else if (!compatible(v->prot, prot))
        err = WVM_ERROR_INVALID_PARAMETER;
    if (err || !sec->bits) { /* every page committed: only the protection changes */
        wvm_snap *to = err ? NULL : wvm__snap_map(wvm__alloc_snap(a), first, count, new_prot, &c);
        if (!err)
            err = to ? view_apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
        wvm__space_unlock(a);
        return err;
    }
    /* SEC_RESERVE: the section's lock comes before any view's. Every view of the section in
     * this process shows what the section commits: the others first (all or none), then
     * this one; a failure anywhere undoes the others and the section's bits. */
    uintptr_t base = v->base;
    uint64_t fresh = 0, kept = 0, *set = NULL;
    fresh_ctx fc = {v->offset / WVM_PAGE + first, count, NULL};
    wvm__object_ref(&sec->obj);
    wvm__space_unlock(a);
    pthread_mutex_lock(&wvm__section_commit_lock);
    err = WVM_ERROR_INVALID_ADDRESS; /* unmapped meanwhile */
    a = wvm__space_acquire(base);
    if (a && wvm__alloc_ext(a) == v && acct && acct->owner && sec->credit &&
        sec->credit != acct->credit)
        acct->foreign = true; /* another host's: it cannot account for this one's commit */
    else if (a && wvm__alloc_ext(a) == v)
        err = wvm__section_charge(sec, fc.sp, count, &fresh);
    if (!err && acct && fresh * WVM_PAGE > acct->max_commit) {
        wvm__section_uncharge(sec, fresh);
        acct->committed = fresh * WVM_PAGE;
        fresh = 0;
        err = WVM_ERROR_COMMITMENT_LIMIT;
    }
    if (!err && fresh) {
        wvm__space_unlock(a);
        a = NULL;
        fc.set = set = wvm__meta_zalloc(wvm__section_set_words(fc.sp, count) * sizeof *set);
        if (!set) {
            wvm__section_uncharge(sec, fresh);
            err = WVM_ERROR_NOT_ENOUGH_MEMORY;
        } else {
            kept = wvm__section_mark(sec, fc.sp, count, fresh, set);
            if (!(err = commit_others(sec, v, &fc))) {
                a = wvm__space_acquire(base);
                if (!a || wvm__alloc_ext(a) != v) {
                    err = WVM_ERROR_INVALID_ADDRESS;
                    if (a)
                        wvm__space_unlock(a);
                    a = NULL;
                    each_other(sec, v, fc.sp, count, drop, &fc);
                }
            }
            if (err)
                wvm__section_unmark(sec, fc.sp, count, set);
        }
    }
    if (!err) {
        wvm_snap *to = wvm__snap_map(wvm__alloc_snap(a), first, count, new_prot, &c);
        err = to ? view_apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
        if (err && set) {
            wvm__space_unlock(a);
            a = NULL;
            each_other(sec, v, fc.sp, count, drop, &fc);
            wvm__section_unmark(sec, fc.sp, count, set);
        } else if (err) {
            wvm__section_uncharge(sec, fresh);
        }
    }
    if (!err)
        credit_note(sec, acct, kept);
    if (a)
        wvm__space_unlock(a);
    pthread_mutex_unlock(&wvm__section_commit_lock);
    if (set)
        wvm__meta_free(set, wvm__section_set_words(fc.sp, count) * sizeof *set);
    wvm__object_unref(&sec->obj);
    return err;
}

uint32_t wvm__view_protect(wvm_alloc *a, uint64_t first, uint64_t count, uint32_t prot,
                           uint32_t *old)
{
    wvm_view *v = wvm__alloc_ext(a);
    wvm_snap *s = wvm__alloc_snap(a);
    if (!compatible(v->prot, prot))
        return WVM_ERROR_INVALID_PARAMETER;
    if (wvm__snap_each(s, first, count, any_reserved, NULL))
        return WVM_ERROR_INVALID_ADDRESS;
    uint32_t attr = wvm__snap_attr(s, first);
    uint64_t bit = 0;
    if (is_wc(attr) && wvm__prim_pages_copied(s->base + first * WVM_PAGE, 1, &bit))
        bit = 0;
    *old = shown(attr, bit & 1) & WVM_ATTR_PROT_MASK;
    prot_ctx c = {prot, 0};
    wvm_snap *to = wvm__snap_map(s, first, count, new_prot, &c);
    return to ? view_apply(a, to, first, count) : WVM_ERROR_NOT_ENOUGH_MEMORY;
}

uint32_t wvm__view_unmap(uintptr_t addr, bool preserve)
{
    wvm_alloc *a = wvm__space_acquire(addr & ~(uintptr_t)(WVM_PAGE - 1));
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    if (!wvm__alloc_is_view(a) || (preserve && !(s->type & WVM_TYPE_REPLACED))) {
        wvm__space_unlock(a);
        return WVM_ERROR_INVALID_ADDRESS;
    }
    if (!preserve)
        return wvm__alloc_release(a);
    /* back to the placeholder it replaced */
    wvm_snap *ph = wvm__snap_new(s->base, s->size, WVM_PAGE_NOACCESS, WVM_TYPE_PLACEHOLDER);
    uint32_t err = ph ? 0 : WVM_ERROR_NOT_ENOUGH_MEMORY;
    if (!err && (err = wvm__err_from_errno(
                     wvm__prim_restore_idle((void *)s->base, s->size, arena_guarded(a->in_arena)))))
        wvm__snap_free(ph);
    if (!err) {
        struct wvm_guardmap *guards = s->guards;
        view_free(wvm__alloc_ext(a));
        wvm__alloc_set_ext(a, NULL);
        wvm__alloc_set_backend(a, NULL);
        a->guard_mode = arena_guarded(a->in_arena);
        wvm__alloc_publish(a, ph);
        wvm__guard_release(guards);
    }
    wvm__space_unlock(a);
    return err;
}

uint32_t wvm__view_flush(uintptr_t addr, size_t size)
{
    uintptr_t start = addr & ~(uintptr_t)(WVM_PAGE - 1);
    wvm_alloc *a = wvm__space_acquire(start);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    wvm_snap *s = wvm__alloc_snap(a);
    uint32_t err = 0;
    if (!wvm__alloc_is_view(a)) {
        err = WVM_ERROR_INVALID_ADDRESS; /* NT: STATUS_NOT_MAPPED_VIEW */
    } else if (((wvm_view *)wvm__alloc_ext(a))->sec->file &&
               !((wvm_view *)wvm__alloc_ext(a))->copy) {
        uintptr_t end = s->base + s->size, want = addr + size;
        if (size && want > addr && want < end)
            end = (want + WVM_PAGE - 1) & ~(uintptr_t)(WVM_PAGE - 1);
        err = wvm__err_from_errno(wvm__prim_msync((void *)start, end - start));
    }
    wvm__space_unlock(a);
    return err;
}

void wvm__view_query(const wvm_snap *s, uint64_t idx, wvm_MEMORY_BASIC_INFORMATION *m)
{
    m->Type = WVM_MEM_MAPPED;
    if (s->type & WVM_TYPE_XSHARED)
        wvm__view_query_shared(s, idx, m);
    if (m->State != WVM_MEM_COMMIT || !is_wc(m->Protect))
        return;
    /* written copy-on-write pages are private read-write pages now: ask the kernel */
    uint64_t n = m->RegionSize / WVM_PAGE, bits[64];
    if (n > 64 * 64)
        n = 64 * 64;
    if (wvm__prim_pages_copied(s->base + idx * WVM_PAGE, n, bits))
        return;
    bool c = bits[0] & 1;
    uint64_t i = 1;
    while (i < n && ((bits[i / 64] >> (i % 64)) & 1) == c)
        i++;
    if (i < m->RegionSize / WVM_PAGE)
        m->RegionSize = i * WVM_PAGE;
    m->Protect = shown(m->Protect, c);
}

uint64_t wvm__view_live(void)
{
    return atomic_load(&live_views);
}

uint64_t wvm__view_charged(void)
{
    return atomic_load(&copy_charged);
}

uint64_t wvm__view_bytes(void)
{
    return atomic_load(&live_bytes);
}
