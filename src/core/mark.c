/* NOACCESS and PAGE_GUARD by guard marker; see mark.h. */
#include "core/mark.h"
#include "core/meta.h"
#include "core/stash.h"
#include "prim/linux/uffd.h"

bool wvm__mark_wanted(const wvm_alloc *a, uint32_t attr)
{
    uint32_t prot = attr & WVM_ATTR_PROT_MASK;
    return (prot == WVM_PAGE_NOACCESS || prot == (WVM_PAGE_GUARD | WVM_PAGE_READWRITE)) &&
           !(attr & (WVM_ATTR_LOCKED | WVM_ATTR_RESET | WVM_ATTR_OFFERED)) && a->guard_mode &&
           !wvm__alloc_backend(a) && wvm__prim_mark_available();
}

/* Page ranges [lo, hi) that lose their mark. */
typedef struct strips {
    uint64_t (*r)[2];
    size_t n, cap;
    uint64_t inline_r[4][2];
    bool failed; /* ENOMEM */
} strips;

static void strip_add(strips *st, uint64_t lo, uint64_t hi)
{
    if (st->n && st->r[st->n - 1][1] == lo) {
        st->r[st->n - 1][1] = hi;
        return;
    }
    if (st->n == st->cap) {
        uint64_t(*grown)[2] = wvm__meta_alloc(2 * st->cap * sizeof *grown);
        if (!grown) {
            st->failed = true;
            return;
        }
        for (size_t i = 0; i < st->n; i++) {
            grown[i][0] = st->r[i][0];
            grown[i][1] = st->r[i][1];
        }
        if (st->r != st->inline_r)
            wvm__meta_free(st->r, st->cap * sizeof *st->r);
        st->r = grown;
        st->cap *= 2;
    }
    st->r[st->n][0] = lo;
    st->r[st->n][1] = hi;
    st->n++;
}

typedef struct prep {
    const wvm_snap *to;
    uintptr_t base;
    bool registered;
    bool stash;           /* pages with data may be stashed (core/stash.h) */
    bool asked;           /* the policy was asked (wvm__stash_policy_wants) */
    strips st;            /* lose the mark */
    strips sh;            /* keep it with their data stashed */
    unsigned zero_checks; /* left */
    int err;
} prep;

static bool writable_unprotected(uint32_t from)
{
    return !(from & WVM_ATTR_WP) && (wvm__attr_kprot(from) & WVM_P_WRITE);
}

/* Pages with data that one operation reads to find zeros: beyond them, data is data. */
#define ZERO_CHECKS 64

/* Whether the page at addr (readable, no write can reach it) reads all zero. Not
 * instrumented: the sanitizers' shadow of application pages is not ours to touch. */
__attribute__((no_sanitize("address", "thread", "undefined"))) static bool zero_page(uintptr_t addr)
{
    const uint64_t *w = (const uint64_t *)addr;
    uint64_t any = 0;
    for (size_t i = 0; i < WVM_PAGE / sizeof *w; i++)
        any |= w[i];
    return !any;
}

/* [lo, hi) may hold data: each page keeps its mark only if it reads zero (a page touched and
 * never written, or written with zeros: its contents are what a zero-fill gives back). */
static void found(void *ctx, uintptr_t lo, uintptr_t hi)
{
    prep *p = ctx;
    for (uintptr_t pg = lo; pg < hi; pg += WVM_PAGE) {
        if (p->zero_checks && zero_page(pg)) {
            p->zero_checks--;
            continue;
        }
        uint64_t i = (pg - p->base) / WVM_PAGE;
        if (p->stash && !p->asked) {
            p->asked = true;
            p->stash = wvm__stash_policy_wants();
        }
        /* a new run sent mprotect's way by the policy: counted now (an operation that fails
         * then leaves the estimate high, which only brings its next count nearer) */
        if (p->asked && !p->stash && !(p->st.n && p->st.r[p->st.n - 1][1] == i))
            wvm__stash_policy_split(1);
        strip_add(p->stash ? &p->sh : &p->st, i, i + 1);
    }
}

/* Calls fn(first, count, from_attr, ctx) for each piece of [first, first+count) that goes from
 * a committed unmarked attribute in `from` to a marked one in `to` (wvm__mark_installs);
 * stops at fn's first non-zero result and returns it. */
typedef int (*install_fn)(uint64_t first, uint64_t count, uint32_t from, void *ctx);

typedef struct walk {
    const wvm_snap *to;
    uint32_t from; /* the current attribute of the piece being walked */
    install_fn fn;
    void *ctx;
} walk;

static int walk_to(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    walk *w = ctx;
    return wvm__mark_installs(w->from, attr) ? w->fn(first, count, w->from, w->ctx) : 0;
}

static int walk_from(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    walk *w = ctx;
    if (!wvm__attr_committed(attr) || (attr & WVM_ATTR_MARK))
        return 0;
    w->from = attr;
    return wvm__snap_each(w->to, first, count, walk_to, w);
}

static int each_install(const wvm_snap *from, const wvm_snap *to, uint64_t first, uint64_t count,
                        install_fn fn, void *ctx)
{
    walk w = {to, 0, fn, ctx};
    return wvm__snap_each(from, first, count, walk_from, &w);
}

static int prepare_piece(uint64_t first, uint64_t count, uint32_t from, void *ctx)
{
    prep *p = ctx;
    uintptr_t lo = p->base + first * WVM_PAGE, len = count * WVM_PAGE;
    if (!p->registered || wvm__attr_kprot(from) != WVM_P_RW) {
        strip_add(&p->st, first, first + count);
        return p->st.failed;
    }
    bool took = writable_unprotected(from);
    if (took && (p->err = wvm__prim_ro_protect((void *)lo, len, true)))
        return 1;
    /* the ranges of this piece that lose their mark go mprotect's way: writable again. The
     * first may continue the last range of the piece before (strip_add extends it), so that
     * one is looked at too, for its part in this piece. */
    size_t before = p->st.n ? p->st.n - 1 : 0;
    p->err = wvm__prim_pages_holding(lo, lo + len, found, p);
    for (size_t i = before; took && i < p->st.n; i++) {
        uint64_t a = p->st.r[i][0] > first ? p->st.r[i][0] : first;
        uint64_t b = p->st.r[i][1] < first + count ? p->st.r[i][1] : first + count;
        if (a < b)
            wvm__prim_ro_protect_back((void *)(p->base + a * WVM_PAGE), (b - a) * WVM_PAGE, false);
    }
    if (p->err && took)
        wvm__prim_ro_protect_back((void *)lo, len, false);
    return p->err || p->st.failed || p->sh.failed;
}

static uint32_t unmark(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~WVM_ATTR_MARK;
}

static uint32_t stash(uint32_t old, void *ctx)
{
    (void)ctx;
    return old | WVM_ATTR_STASH;
}

static void strips_init(strips *st)
{
    st->r = st->inline_r;
    st->n = 0;
    st->cap = sizeof st->inline_r / sizeof *st->inline_r;
    st->failed = false;
}

static void strips_free(strips *st)
{
    if (st->r != st->inline_r)
        wvm__meta_free(st->r, st->cap * sizeof *st->r);
}

/* Applies f to each range of st in *cur (a new snapshot replaces *cur, freed unless it is
 * keep). ERROR_NOT_ENOUGH_MEMORY or 0. */
static uint32_t map_ranges(wvm_snap **cur, const wvm_snap *keep, const strips *st, wvm_attr_fn f)
{
    for (size_t i = 0; i < st->n; i++) {
        wvm_snap *next = wvm__snap_map(*cur, st->r[i][0], st->r[i][1] - st->r[i][0], f, NULL);
        if (!next)
            return WVM_ERROR_NOT_ENOUGH_MEMORY;
        if (*cur != keep)
            wvm__snap_free(*cur);
        *cur = next;
    }
    return 0;
}

uint32_t wvm__mark_prepare(wvm_alloc *a, wvm_snap **to, uint64_t first, uint64_t count,
                           bool registered)
{
    if (!wvm__snap_any(*to, first, count, WVM_MARKED))
        return 0;
    const wvm_snap *from = wvm__alloc_snap(a);
    prep p = {.base = (*to)->base, .registered = registered, .zero_checks = ZERO_CHECKS};
    p.stash = registered && wvm__stash_ready(p.base);
    strips_init(&p.st);
    strips_init(&p.sh);
    uint32_t werr = 0;
    if (each_install(from, *to, first, count, prepare_piece, &p))
        werr = p.err ? wvm__err_from_errno(p.err) : WVM_ERROR_NOT_ENOUGH_MEMORY;
    wvm_snap *cur = *to;
    if (!werr)
        werr = map_ranges(&cur, *to, &p.st, unmark);
    if (!werr)
        werr = map_ranges(&cur, *to, &p.sh, stash);
    if (werr)
        wvm__mark_undo(from, cur, first, count);
    if (werr && cur != *to)
        wvm__snap_free(cur);
    else if (!werr && cur != *to) {
        wvm__snap_free(*to);
        *to = cur;
    }
    strips_free(&p.st);
    strips_free(&p.sh);
    return werr;
}

static int undo_piece(uint64_t first, uint64_t count, uint32_t from, void *ctx)
{
    uintptr_t base = *(const uintptr_t *)ctx;
    if (writable_unprotected(from) && wvm__attr_kprot(from) == WVM_P_RW)
        wvm__prim_ro_protect_back((void *)(base + first * WVM_PAGE), count * WVM_PAGE, false);
    return 0;
}

void wvm__mark_undo(const wvm_snap *from, const wvm_snap *to, uint64_t first, uint64_t count)
{
    uintptr_t base = to->base;
    each_install(from, to, first, count, undo_piece, &base);
}
