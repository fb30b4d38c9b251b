/* Snapshots and their page tree (see snap.h for the design).
 *
 * Slots: a run is (first page relative to its container) | attr << 32; an entry is a node
 * pointer (8-byte aligned, low bit clear) or attr << 32 | 1, the whole child uniform. A
 * container (the root or a node) covers [lo, top): top is the end of its span or of the
 * allocation, whichever comes first, so the last container of a level holds fewer slots and no
 * slot ever describes pages past the end. */
#include <stdlib.h>
#include <string.h>

#include "core/meta.h"
#include "core/snap.h"

struct wvm_pnode {
    wvm_retired hdr;
    uint32_t refs; /* entries pointing here; the allocation's lock (snap.h) */
    uint8_t level; /* 0: a leaf of runs */
    uint8_t pad;
    uint16_t n;
    uint64_t slot[];
};

#define UNIFORM(attr) ((uint64_t)(attr) << 32 | 1)

static inline bool is_uniform(uint64_t e)
{
    return e & 1;
}

static inline uint32_t slot_attr(uint64_t x)
{
    return (uint32_t)(x >> 32);
}

/* Runs and entries never share a container, so a run's odd first page is no uniform tag. */
static inline uint32_t run_first(uint64_t x)
{
    return (uint32_t)x;
}

#define LEAF_LOG 9
_Static_assert(1u << LEAF_LOG == WVM_LEAF_PAGES, "a leaf's pages are a power of two");

/* Pages covered by a container of `level`: 1 << span_log(level). Divisions by a span are
 * shifts (a 64-bit div costs tens of cycles on the lookup paths). */
static inline unsigned span_log(unsigned level)
{
    return LEAF_LOG + WVM_FANOUT_LOG * level;
}

static inline uint64_t span(unsigned level)
{
    return (uint64_t)1 << span_log(level);
}

/* The child of a container of `level` (> 0) holding page offset off (from the container's
 * first page). */
static inline uint64_t child(unsigned level, uint64_t off)
{
    return off >> span_log(level - 1);
}

static inline uint64_t run(uint64_t first, uint32_t attr)
{
    return first | (uint64_t)attr << 32;
}

/* A flat root: the root holds the allocation's runs, whatever its size, while they are at most
 * FLAT_RUNS (a write then copies at most FLAT_RUNS + 2 slots, a bounded chunk like a leaf) and
 * its pages fit a run's 32-bit offset. Most allocations never leave it (a reservation with a
 * few committed ranges); one that fragments past FLAT_RUNS becomes a tree (grow), and a tree
 * whose root entries are all uniform becomes flat again (flatten). */
#define FLAT_RUNS 64u

static inline bool flat_fits(uint64_t pages)
{
    return pages <= (uint64_t)UINT32_MAX + 1;
}

/* ---- memory ------------------------------------------------------------------------------ */

static size_t snap_bytes(uint32_t cap)
{
    return sizeof(wvm_snap) + cap * sizeof(uint64_t);
}

static size_t node_bytes(uint32_t n)
{
    return sizeof(wvm_pnode) + n * sizeof(uint64_t);
}

/* core/meta.c, not the C heap: a vectored handler may call winvmem inside malloc (fault.h). */
static void *block_alloc(size_t bytes)
{
    return wvm__meta_alloc(bytes);
}

static void block_free(void *p, size_t bytes)
{
    wvm__meta_free(p, bytes);
}

static wvm_snap *snap_alloc(uint32_t cap)
{
    wvm_snap *s = block_alloc(snap_bytes(cap));
    if (s)
        s->cap = (uint16_t)cap;
    return s;
}

static wvm_pnode *node_alloc(unsigned level, uint32_t n, const uint64_t *slots)
{
    wvm_pnode *nd = block_alloc(node_bytes(n));
    if (!nd)
        return NULL;
    nd->refs = 1;
    nd->level = (uint8_t)level;
    nd->pad = 0;
    nd->n = (uint16_t)n;
    memcpy(nd->slot, slots, n * sizeof *slots);
    return nd;
}

/* Objects to hand to the epochs together: one bag lock per write, not one per node. */
typedef struct chain {
    wvm_retired *first, *last;
    unsigned n;
} chain;

static void chain_add(chain *c, wvm_retired *obj, size_t bytes)
{
    obj->bytes = bytes;
    obj->next = c->first;
    if (!c->first)
        c->last = obj;
    c->first = obj;
    c->n++;
}

static void drop(wvm_pnode *nd, chain *later);

/* Drops one reference to entry e's node; a node nobody references any more releases its
 * children and is freed now (later == NULL) or joins later, for the epochs. Inline: a
 * retirement decrements every sibling on the replaced path, and recurses only into the path. */
static inline void release(uint64_t e, chain *later)
{
    if (is_uniform(e))
        return;
    wvm_pnode *nd = (wvm_pnode *)(uintptr_t)e;
    if (!--nd->refs)
        drop(nd, later);
}

/* A node without references: its children released, itself freed or chained. */
static void drop(wvm_pnode *nd, chain *later)
{
    for (uint32_t i = 0; nd->level && i < nd->n; i++)
        release(nd->slot[i], later);
    if (later)
        chain_add(later, &nd->hdr, node_bytes(nd->n));
    else
        block_free(nd, node_bytes(nd->n));
}

static void retain(uint64_t e)
{
    if (!is_uniform(e))
        ((wvm_pnode *)(uintptr_t)e)->refs++;
}

static void release_root(wvm_snap *s, chain *later)
{
    for (uint32_t i = 0; s->level && i < s->n; i++)
        release(s->slot[i], later);
}

/* ---- creation and release ----------------------------------------------------------------- */

/* The level of the root of an allocation of `pages`: 0 (runs) when it fits one leaf. */
static unsigned root_level(uint64_t pages)
{
    unsigned level = 0;
    while (span(level) < pages)
        level++;
    return level;
}

/* Slots of a container of `level` covering [lo, top). */
static uint32_t children(unsigned level, uint64_t lo, uint64_t top)
{
    uint64_t cs = span(level - 1);
    return (uint32_t)child(level, top - lo + cs - 1);
}

wvm_snap *wvm__snap_new(uintptr_t base, size_t size, uint32_t alloc_prot, uint32_t type)
{
    uint64_t pages = size / WVM_PAGE;
    unsigned level = flat_fits(pages) ? 0 : root_level(pages);
    uint32_t n = level ? children(level, 0, pages) : 1;
    wvm_snap *s = snap_alloc(n);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->cap = (uint16_t)n;
    s->base = base;
    s->size = size;
    s->alloc_prot = alloc_prot;
    s->type = type;
    s->level = (uint8_t)level;
    s->n = n;
    for (uint32_t i = 0; i < n; i++)
        s->slot[i] = level ? UNIFORM(0) : run(0, 0);
    return s;
}

void wvm__snap_free(wvm_snap *s)
{
    if (!s)
        return;
    release_root(s, NULL);
    block_free(s, snap_bytes(s->cap));
}

void wvm__snap_retire(wvm_snap *s)
{
    if (!s)
        return;
    s->retired = true;
    chain later = {NULL, NULL, 0};
    release_root(s, &later);
    chain_add(&later, &s->hdr, snap_bytes(s->cap));
    wvm__ebr_retire_chain(later.first, later.last, later.n);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Index of the run of runs[0..n) holding offset off. */
static uint32_t find_run(const uint64_t *runs, uint32_t n, uint64_t off)
{
    uint32_t lo = 0, hi = n; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (run_first(runs[mid]) <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

uint32_t wvm__snap_attr(const wvm_snap *s, uint64_t page)
{
    unsigned level = s->level;
    const uint64_t *slot = s->slot;
    uint32_t n = s->n;
    uint64_t off = page;
    while (level) {
        uint64_t e = slot[child(level, off)];
        off &= span(level - 1) - 1;
        if (is_uniform(e))
            return slot_attr(e);
        const wvm_pnode *nd = (const wvm_pnode *)(uintptr_t)e;
        level = nd->level;
        slot = nd->slot;
        n = nd->n;
    }
    return slot_attr(slot[find_run(slot, n, off)]);
}

/* In-order walk over [first, end) that merges equal neighbours into one piece before calling
 * f (pieces of one run may come from several leaves). */
typedef struct walker {
    uint64_t first, end;
    wvm_piece_fn f;
    void *ctx;
    bool pending;
    uint64_t p_first, p_count;
    uint32_t p_attr;
    int result;
} walker;

static int emit(walker *w, uint64_t first, uint64_t count, uint32_t attr)
{
    if (w->pending && w->p_attr == attr && w->p_first + w->p_count == first) {
        w->p_count += count;
        return 0;
    }
    if (w->pending && (w->result = w->f(w->p_first, w->p_count, w->p_attr, w->ctx)))
        return w->result;
    w->pending = true;
    w->p_first = first;
    w->p_count = count;
    w->p_attr = attr;
    return 0;
}

static int piece(walker *w, uint64_t from, uint64_t to, uint32_t attr)
{
    if (from < w->first)
        from = w->first;
    if (to > w->end)
        to = w->end;
    return from < to ? emit(w, from, to - from, attr) : 0;
}

__attribute__((noinline)) static int walk(walker *w, unsigned level, uint32_t n,
                                          const uint64_t *slot, uint64_t lo, uint64_t top)
{
    if (!level) {
        uint32_t i = w->first > lo ? find_run(slot, n, w->first - lo) : 0;
        for (; i < n && lo + run_first(slot[i]) < w->end; i++) {
            uint64_t to = i + 1 < n ? lo + run_first(slot[i + 1]) : top;
            if (piece(w, lo + run_first(slot[i]), to, slot_attr(slot[i])))
                return 1;
        }
        return 0;
    }
    uint64_t cs = span(level - 1);
    for (uint32_t i = w->first > lo ? (uint32_t)child(level, w->first - lo) : 0;
         i < n && lo + i * cs < w->end; i++) {
        uint64_t cl = lo + i * cs, e = slot[i];
        if (is_uniform(e)) {
            while (i + 1 < n && slot[i + 1] == e && lo + (i + 1) * cs < w->end)
                i++; /* equal neighbours: one piece */
            uint64_t ch = lo + (i + 1) * cs < top ? lo + (i + 1) * cs : top;
            if (piece(w, cl, ch, slot_attr(e)))
                return 1;
        } else {
            uint64_t ch = cl + cs < top ? cl + cs : top;
            const wvm_pnode *nd = (const wvm_pnode *)(uintptr_t)e;
            if (walk(w, nd->level, nd->n, nd->slot, cl, ch))
                return 1;
        }
    }
    return 0;
}

/* A container of the tree (or the root) covering pages [lo, top). */
typedef struct container {
    unsigned level;
    uint32_t n;
    const uint64_t *slot;
    uint64_t lo, top;
} container;

/* Descends from s's root while [first, end) lies inside one child: a point operation's range
 * is one piece or one leaf's runs, found like wvm__snap_attr finds a page. Returns a uniform
 * entry (odd) with the attribute of the whole range when one entry or one run holds it, else
 * 0 with c the smallest container holding it. */
static inline uint64_t descend(const wvm_snap *s, uint64_t first, uint64_t end, container *c)
{
    *c = (container){s->level, s->n, s->slot, 0, wvm__snap_pages(s)};
    for (;;) {
        if (!c->level) {
            uint32_t i = find_run(c->slot, c->n, first - c->lo);
            if (i + 1 < c->n && c->lo + run_first(c->slot[i + 1]) < end)
                return 0;
            return UNIFORM(slot_attr(c->slot[i]));
        }
        uint64_t cs = span(c->level - 1), i = child(c->level, first - c->lo);
        if (i != child(c->level, end - 1 - c->lo))
            return 0;
        uint64_t e = c->slot[i];
        if (is_uniform(e))
            return e;
        const wvm_pnode *nd = (const wvm_pnode *)(uintptr_t)e;
        c->lo += i * cs;
        c->top = c->lo + cs < c->top ? c->lo + cs : c->top;
        c->level = nd->level;
        c->n = nd->n;
        c->slot = nd->slot;
    }
}

bool wvm__snap_one(const wvm_snap *s, uint64_t first, uint64_t count, uint32_t *attr)
{
    container c;
    if (__builtin_expect(!count, 0))
        return false;
    uint64_t e = descend(s, first, first + count, &c);
    *attr = slot_attr(e);
    return e != 0;
}

int wvm__snap_each(const wvm_snap *s, uint64_t first, uint64_t count, wvm_piece_fn f, void *ctx)
{
    if (!count)
        return 0;
    container c;
    uint64_t end = first + count, e = descend(s, first, end, &c);
    if (e)
        return f(first, count, slot_attr(e), ctx);
    walker w = {first, end, f, ctx, false, 0, 0, 0, 0};
    if (walk(&w, c.level, c.n, c.slot, c.lo, c.top))
        return w.result;
    return w.pending ? f(w.p_first, w.p_count, w.p_attr, ctx) : 0;
}

static inline bool holds(const wvm_pred *p, uint32_t attr)
{
    return ((attr & p->mask) == p->want) == p->equal;
}

/* Pages of [first, end) inside the container [lo, top) for which p holds; with any, stops at
 * the first piece that holds (the count is then only non-zero). Pieces are not merged, as a
 * predicate does not need them whole: cheaper than wvm__snap_each with a callback. */
__attribute__((noinline)) static uint64_t pred_walk(const wvm_pred *p, bool any, unsigned level,
                                                    uint32_t n, const uint64_t *slot, uint64_t lo,
                                                    uint64_t top, uint64_t first, uint64_t end)
{
    uint64_t hits = 0;
    if (!level) {
        for (uint32_t i = first > lo ? find_run(slot, n, first - lo) : 0;
             i < n && lo + run_first(slot[i]) < end; i++) {
            if (!holds(p, slot_attr(slot[i])))
                continue;
            uint64_t a = lo + run_first(slot[i]), b = i + 1 < n ? lo + run_first(slot[i + 1]) : top;
            hits += (b < end ? b : end) - (a > first ? a : first);
            if (any)
                break;
        }
        return hits;
    }
    uint64_t cs = span(level - 1);
    for (uint32_t i = first > lo ? (uint32_t)child(level, first - lo) : 0;
         i < n && lo + i * cs < end && !(any && hits); i++) {
        uint64_t cl = lo + i * cs, ch = cl + cs < top ? cl + cs : top, e = slot[i];
        if (is_uniform(e)) {
            if (holds(p, slot_attr(e)))
                hits += (ch < end ? ch : end) - (cl > first ? cl : first);
        } else {
            const wvm_pnode *nd = (const wvm_pnode *)(uintptr_t)e;
            hits += pred_walk(p, any, nd->level, nd->n, nd->slot, cl, ch, first, end);
        }
    }
    return hits;
}

/* pred_walk from the smallest container holding [first, first+count) (descend). */
static uint64_t pred_scan(const wvm_snap *s, uint64_t first, uint64_t count, wvm_pred p, bool any)
{
    if (!count)
        return 0;
    container c;
    uint64_t end = first + count, e = descend(s, first, end, &c);
    if (e)
        return holds(&p, slot_attr(e)) ? count : 0;
    return pred_walk(&p, any, c.level, c.n, c.slot, c.lo, c.top, first, end);
}

uint64_t wvm__snap_count(const wvm_snap *s, uint64_t first, uint64_t count, wvm_pred p)
{
    return pred_scan(s, first, count, p, false);
}

bool wvm__snap_any(const wvm_snap *s, uint64_t first, uint64_t count, wvm_pred p)
{
    return pred_scan(s, first, count, p, true) != 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct mapper {
    uint64_t first, end;
    wvm_attr_fn f;
    void *ctx;
    int64_t delta; /* committed pages gained */
} mapper;

static void count_change(mapper *m, uint64_t pages, uint32_t from, uint32_t to)
{
    m->delta += (int64_t)pages * ((int)wvm__attr_committed(to) - (int)wvm__attr_committed(from));
}

/* Appends a run (offset off) unless it continues the previous one. */
static void push(uint64_t *out, uint32_t *n, uint64_t off, uint32_t attr)
{
    if (*n && slot_attr(out[*n - 1]) == attr)
        return;
    out[(*n)++] = run(off, attr);
}

/* The runs of a container [lo, top) after mapping; src: its runs (n of them). out has room for
 * n + 2. The runs before and after the mapped range are copied as they are. */
static uint32_t map_runs(mapper *m, const uint64_t *src, uint32_t n, uint64_t lo, uint64_t top,
                         uint64_t *out)
{
    uint64_t a = m->first > lo ? m->first - lo : 0;
    uint64_t b = m->end - lo < top - lo ? m->end - lo : top - lo;
    uint32_t i = find_run(src, n, a), k = i;
    memcpy(out, src, i * sizeof *out);
    for (; i < n && run_first(src[i]) < b; i++) {
        uint64_t rs = run_first(src[i]), re = i + 1 < n ? run_first(src[i + 1]) : top - lo;
        uint32_t attr = slot_attr(src[i]);
        if (rs < a)
            push(out, &k, rs, attr);
        uint64_t from = rs > a ? rs : a, to = re < b ? re : b;
        uint32_t now = m->f(attr, m->ctx);
        count_change(m, to - from, attr, now);
        push(out, &k, from, now);
        if (re > b)
            push(out, &k, b, attr);
    }
    if (i < n) { /* the rest, unless its first run continues the last one */
        if (slot_attr(out[k - 1]) == slot_attr(src[i]))
            i++;
        memcpy(out + k, src + i, (n - i) * sizeof *out);
        k += n - i;
    }
    return k;
}

static uint64_t map_entry(mapper *m, uint64_t e, unsigned level, uint64_t lo, uint64_t top);

/* The new children of a container of `level` (n of them, the old ones in src) covering
 * [lo, top): mapped where they meet the range, shared (retained) elsewhere. false on ENOMEM,
 * with nothing retained or made. */
static bool map_children(mapper *m, const uint64_t *src, uint32_t n, unsigned level, uint64_t lo,
                         uint64_t top, uint64_t *out)
{
    uint64_t cs = span(level - 1);
    uint32_t a = m->first > lo ? (uint32_t)child(level, m->first - lo) : 0;
    uint32_t b = (uint32_t)child(level, m->end - 1 - lo) + 1; /* children [a, b) meet the range */
    if (b > n)
        b = n;
    for (uint32_t i = a; i < b; i++) {
        uint64_t cl = lo + i * cs, ch = cl + cs < top ? cl + cs : top;
        if (!(out[i] = map_entry(m, src[i], level - 1, cl, ch))) {
            while (i-- > a)
                release(out[i], NULL);
            return false;
        }
    }
    for (uint32_t i = 0; i < a; i++)
        retain(out[i] = src[i]);
    for (uint32_t i = b; i < n; i++)
        retain(out[i] = src[i]);
    return true;
}

static uint64_t made_or_release(unsigned level, uint32_t k, const uint64_t *slots)
{
    wvm_pnode *made = node_alloc(level, k, slots);
    if (made)
        return (uint64_t)(uintptr_t)made;
    for (uint32_t i = 0; level && i < k; i++)
        release(slots[i], NULL);
    return 0;
}

/* map_entry for a leaf: its runs mapped; uniform when one run is left. */
static uint64_t map_leaf(mapper *m, uint64_t e, uint64_t lo, uint64_t top)
{
    const wvm_pnode *nd = is_uniform(e) ? NULL : (const wvm_pnode *)(uintptr_t)e;
    uint64_t buf[WVM_LEAF_PAGES + 2], one = run(0, slot_attr(e));
    uint32_t k =
        nd ? map_runs(m, nd->slot, nd->n, lo, top, buf) : map_runs(m, &one, 1, lo, top, buf);
    return k == 1 ? UNIFORM(slot_attr(buf[0])) : made_or_release(0, k, buf);
}

/* The new entry for e, a child of `level` covering [lo, top) that meets the mapped range:
 * uniform when the result is, else a new node (refs 1). 0 on ENOMEM. */
static uint64_t map_entry(mapper *m, uint64_t e, unsigned level, uint64_t lo, uint64_t top)
{
    if (is_uniform(e) && m->first <= lo && top <= m->end) {
        uint32_t now = m->f(slot_attr(e), m->ctx);
        count_change(m, top - lo, slot_attr(e), now);
        return UNIFORM(now);
    }
    if (!level)
        return map_leaf(m, e, lo, top);
    const wvm_pnode *nd = is_uniform(e) ? NULL : (const wvm_pnode *)(uintptr_t)e;
    uint64_t buf[WVM_FANOUT], same[WVM_FANOUT];
    uint32_t k = children(level, lo, top);
    if (!nd) /* a uniform child splits: its children are all e before the mapping */
        for (uint32_t i = 0; i < k; i++)
            same[i] = e;
    if (!map_children(m, nd ? nd->slot : same, k, level, lo, top, buf))
        return 0;
    uint32_t i = 1;
    while (i < k && buf[i] == buf[0] && is_uniform(buf[0]))
        i++;
    if (i == k && is_uniform(buf[0]))
        return buf[0]; /* every child one attribute: collapse (nothing was retained) */
    return made_or_release(level, k, buf);
}

/* The entry for the container of `level` covering [lo, top) of the pages runs[0..n) describe
 * (offsets from page 0); *i is the run holding lo, moved on as the build goes. Uniform where
 * one run covers the container, else a new node (refs 1). 0 on ENOMEM, nothing made. */
static uint64_t build(const uint64_t *runs, uint32_t n, uint32_t *i, unsigned level, uint64_t lo,
                      uint64_t top)
{
    while (*i + 1 < n && run_first(runs[*i + 1]) <= lo)
        (*i)++;
    if (*i + 1 == n || run_first(runs[*i + 1]) >= top)
        return UNIFORM(slot_attr(runs[*i]));
    uint32_t k = 0;
    if (!level) { /* the leaf's runs, rebased, written into the node (no copy on the stack) */
        while (*i + k < n && run_first(runs[*i + k]) < top)
            k++;
        wvm_pnode *nd = node_alloc(0, k, runs + *i);
        if (!nd)
            return 0;
        nd->slot[0] = run(0, slot_attr(runs[*i]));
        for (uint32_t j = 1; j < k; j++)
            nd->slot[j] -= lo;
        return (uint64_t)(uintptr_t)nd;
    }
    uint64_t buf[WVM_FANOUT], cs = span(level - 1);
    k = children(level, lo, top);
    for (uint32_t c = 0; c < k; c++) {
        uint64_t cl = lo + c * cs, ch = cl + cs < top ? cl + cs : top;
        if (!(buf[c] = build(runs, n, i, level - 1, cl, ch))) {
            while (c-- > 0)
                release(buf[c], NULL);
            return 0;
        }
    }
    return made_or_release(level, k, buf); /* (runs differ across it: no collapse) */
}

/* A new snapshot like s (fields copied, committed left to the caller) whose root is the tree
 * of runs[0..n): an allocation that fragmented past FLAT_RUNS. NULL on ENOMEM. */
static wvm_snap *grow(const wvm_snap *s, const uint64_t *runs, uint32_t n)
{
    uint64_t pages = wvm__snap_pages(s), cs;
    unsigned level = root_level(pages);
    uint32_t k = children(level, 0, pages), i = 0;
    wvm_snap *d = snap_alloc(k);
    if (!d)
        return NULL;
    memcpy(d, s, sizeof *d);
    d->cap = (uint16_t)k;
    d->level = (uint8_t)level;
    d->n = k;
    cs = span(level - 1);
    for (uint32_t c = 0; c < k; c++) {
        uint64_t cl = c * cs, ch = cl + cs < pages ? cl + cs : pages;
        if (!(d->slot[c] = build(runs, n, &i, level - 1, cl, ch))) {
            while (c-- > 0)
                release(d->slot[c], NULL);
            block_free(d, snap_bytes(d->cap));
            return NULL;
        }
    }
    return d;
}

/* A tree root whose entries are all uniform becomes runs again, in place (at most one run
 * per entry: d->cap has room). */
static void flatten(wvm_snap *d)
{
    uint64_t cs = span(d->level - 1);
    uint32_t k = 0;
    for (uint32_t c = 0; c < d->n; c++)
        if (!is_uniform(d->slot[c]))
            return;
    for (uint32_t c = 0; c < d->n; c++)
        push(d->slot, &k, c * cs, slot_attr(d->slot[c]));
    d->level = 0;
    d->n = k;
}

wvm_snap *wvm__snap_map(const wvm_snap *s, uint64_t first, uint64_t count, wvm_attr_fn f, void *ctx)
{
    if (s->retired)
        abort(); /* its replaced nodes may already wait to be freed (snap.h) */
    mapper m = {first, first + count, f, ctx, 0};
    uint64_t pages = wvm__snap_pages(s);
    wvm_snap *d;
    if (!s->level) {
        uint64_t buf[WVM_LEAF_PAGES + 2];
        uint32_t k = map_runs(&m, s->slot, s->n, 0, pages, buf);
        if (k > FLAT_RUNS && pages > WVM_LEAF_PAGES) {
            if (!(d = grow(s, buf, k)))
                return NULL;
        } else {
            if (!(d = snap_alloc(k)))
                return NULL;
            memcpy(d, s, sizeof *d);
            memcpy(d->slot, buf, k * sizeof *buf);
            d->n = k;
            d->cap = (uint16_t)k;
        }
    } else {
        if (!(d = snap_alloc(s->n)))
            return NULL;
        memcpy(d, s, sizeof *d);
        d->cap = (uint16_t)s->n;
        if (!map_children(&m, s->slot, s->n, s->level, 0, pages, d->slot)) {
            block_free(d, snap_bytes(d->cap));
            return NULL;
        }
        if (flat_fits(pages) && is_uniform(d->slot[0])) /* (fragmented: the test stops here) */
            flatten(d);
    }
    d->retired = false;
    d->committed = (uint64_t)((int64_t)s->committed + m.delta);
    return d;
}

/* ---- checking ----------------------------------------------------------------------------- */

typedef struct checker {
    wvm_refs_seen refs;
    const char *error;
    uint64_t committed, nodes, bytes;
} checker;

static void check_container(checker *c, unsigned level, uint32_t n, const uint64_t *slot,
                            uint64_t lo, uint64_t top, bool root)
{
    if (!level) {
        if (!n || run_first(slot[0]) != 0)
            c->error = "runs do not start at the container's first page";
        if (!root && n < 2)
            c->error = "a leaf with one run (should be a uniform entry)";
        for (uint32_t i = 0; i < n; i++) {
            uint64_t rs = run_first(slot[i]), re = i + 1 < n ? run_first(slot[i + 1]) : top - lo;
            if (re <= rs)
                c->error = "empty or descending run";
            if (i && slot_attr(slot[i]) == slot_attr(slot[i - 1]))
                c->error = "equal neighbouring runs";
            if (wvm__attr_committed(slot_attr(slot[i])))
                c->committed += re - rs;
        }
        return;
    }
    if (n != children(level, lo, top))
        c->error = "wrong number of entries";
    uint64_t cs = span(level - 1);
    bool all_same = !root;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t cl = lo + i * cs, ch = cl + cs < top ? cl + cs : top, e = slot[i];
        if (!is_uniform(e) || e != slot[0])
            all_same = false;
        if (is_uniform(e)) {
            if (wvm__attr_committed(slot_attr(e)))
                c->committed += ch - cl;
            continue;
        }
        const wvm_pnode *nd = (const wvm_pnode *)(uintptr_t)e;
        if (nd->level != level - 1)
            c->error = "node of the wrong level";
        else if (c->refs == WVM_REFS_SHARED && !nd->refs)
            c->error = "node without references";
        else if (c->refs == WVM_REFS_SOLE && nd->refs != 1)
            c->error = "node of the only snapshot with references other than 1";
        c->nodes++;
        c->bytes += node_bytes(nd->n);
        check_container(c, nd->level, nd->n, nd->slot, cl, ch, false);
    }
    if (all_same)
        c->error = "a node whose children are all one attribute (should be a uniform entry)";
}

const char *wvm__snap_check(const wvm_snap *s, wvm_refs_seen refs)
{
    checker c = {.refs = refs};
    uint64_t pages = wvm__snap_pages(s);
    if (s->level ? s->level != root_level(pages)
                 : pages > WVM_LEAF_PAGES && (!flat_fits(pages) || s->n > FLAT_RUNS))
        return "root level does not fit the size";
    bool uniform = s->level && flat_fits(pages);
    for (uint32_t i = 0; uniform && i < s->n; i++)
        uniform = is_uniform(s->slot[i]);
    if (uniform)
        return "a tree root of uniform entries (should be runs)";
    check_container(&c, s->level, s->n, s->slot, 0, pages, true);
    if (!c.error && c.committed != s->committed)
        c.error = "committed count differs from the pages";
    return c.error;
}

void wvm__snap_tree_size(const wvm_snap *s, uint64_t *nodes, uint64_t *bytes)
{
    checker c = {.refs = WVM_REFS_UNSEEN};
    check_container(&c, s->level, s->n, s->slot, 0, wvm__snap_pages(s), true);
    *nodes = c.nodes;
    *bytes = c.bytes;
}
