/* The snapshot's page tree (core/snap.c) against a plain array of attributes: random writes on
 * allocations of every shape (one leaf, a few leaves, deep trees), every reader checked after
 * every write, old snapshots unchanged by later writes, memory returned, and the cost of a
 * write bounded whatever the fragmentation. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <winvmem/vm.h>

#include "core/meta.h"
#include "core/snap.h"

static uint32_t set_to(uint32_t old, void *ctx)
{
    (void)old;
    return *(uint32_t *)ctx;
}

static uint32_t toggle_locked(uint32_t old, void *ctx)
{
    (void)ctx;
    return wvm__attr_committed(old) ? old ^ WVM_ATTR_LOCKED : old;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct run_end_ctx {
    uint32_t mask, want;
    uint64_t end;
} run_end_ctx;

static int run_end_piece(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    (void)count;
    run_end_ctx *r = ctx;
    if ((attr & r->mask) == r->want)
        return 0;
    r->end = first;
    return 1;
}

/* One past the last page of the run of pages from page on whose attribute, masked, is page's:
 * what VirtualQuery asks of wvm__snap_each. */
static uint64_t run_end(const wvm_snap *s, uint64_t page, uint32_t mask)
{
    uint64_t pages = wvm__snap_pages(s);
    run_end_ctx r = {mask, wvm__snap_attr(s, page) & mask, pages};
    wvm__snap_each(s, page, pages - page, run_end_piece, &r);
    return r.end;
}

Test(snap, map_splits_and_merges)
{
    wvm_snap *s = wvm__snap_new(0x10000, 16 * 4096, 4, 0);
    uint32_t rw = 4, ro = 2, none = 0;
    wvm_snap *t = wvm__snap_map(s, 2, 3, set_to, &rw);
    cr_assert_eq(t->n, 3);
    cr_expect_eq(t->committed, 3);
    wvm_snap *u = wvm__snap_map(t, 3, 1, set_to, &ro);
    cr_assert_eq(u->n, 5);
    wvm_snap *v = wvm__snap_map(u, 3, 1, set_to, &rw);
    cr_expect_eq(v->n, 3);
    wvm_snap *w = wvm__snap_map(v, 0, 16, set_to, &none);
    cr_expect_eq(w->n, 1);
    cr_expect_eq(w->committed, 0);
    cr_expect_eq(wvm__snap_attr(u, 3), ro);
    cr_expect_eq(run_end(u, 3, ~0u), 4);
    cr_expect_eq(run_end(u, 3, 0), 16);
    wvm__snap_free(s);
    wvm__snap_free(t);
    wvm__snap_free(u);
    wvm__snap_free(v);
    wvm__snap_free(w);
}

/* ---- the differential test ------------------------------------------------------------------ */

typedef struct piece_list {
    uint64_t n, cap;
    uint64_t *first, *count;
    uint32_t *attr;
} piece_list;

static int collect(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    piece_list *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->first = realloc(p->first, p->cap * sizeof *p->first);
        p->count = realloc(p->count, p->cap * sizeof *p->count);
        p->attr = realloc(p->attr, p->cap * sizeof *p->attr);
    }
    p->first[p->n] = first;
    p->count[p->n] = count;
    p->attr[p->n] = attr;
    p->n++;
    return 0;
}

/* Every reader of s agrees with ref over [lo, hi) (pieces maximal and exact). */
static void agree(const wvm_snap *s, const uint32_t *ref, uint64_t lo, uint64_t hi)
{
    piece_list p = {0};
    wvm__snap_each(s, lo, hi - lo, collect, &p);
    uint64_t at = lo;
    for (uint64_t i = 0; i < p.n; i++) {
        cr_assert_eq(p.first[i], at, "piece %lu starts at %lu, not %lu", (unsigned long)i,
                     (unsigned long)p.first[i], (unsigned long)at);
        cr_assert(p.count[i] > 0);
        for (uint64_t k = 0; k < p.count[i]; k++)
            cr_assert_eq(ref[at + k], p.attr[i], "page %lu: %#x, reference %#x",
                         (unsigned long)(at + k), p.attr[i], ref[at + k]);
        if (i)
            cr_assert_neq(p.attr[i], p.attr[i - 1], "pieces not maximal at %lu", (unsigned long)at);
        at += p.count[i];
    }
    cr_assert_eq(at, hi);
    free(p.first);
    free(p.count);
    free(p.attr);
}

static void check_points(const wvm_snap *s, const uint32_t *ref, uint64_t pages, uint64_t *seed)
{
    for (int i = 0; i < 64; i++) {
        uint64_t p = rnd(seed) % pages;
        cr_assert_eq(wvm__snap_attr(s, p), ref[p], "attr of page %lu", (unsigned long)p);
        uint32_t mask = i & 1 ? WVM_ATTR_PROT_MASK : ~0u;
        uint64_t end = p + 1, limit = p + 20000; /* long runs: checked up to limit */
        while (end < pages && end < limit && (ref[end] & mask) == (ref[p] & mask))
            end++;
        uint32_t one;
        uint64_t len = 1 + rnd(seed) % 64;
        if (len > pages - p)
            len = pages - p;
        cr_assert(wvm__snap_one(s, p, 1, &one), "one page is one attribute");
        cr_assert_eq(one, ref[p]);
        if (wvm__snap_one(s, p, len, &one))
            for (uint64_t k = p; k < p + len; k++)
                cr_assert_eq(ref[k], one, "wvm__snap_one over page %lu", (unsigned long)k);
        cr_assert_not(wvm__snap_one(s, p, 0, &one));
        uint64_t got = run_end(s, p, mask);
        if (end < limit)
            cr_assert_eq(got, end, "run end from page %lu", (unsigned long)p);
        else
            cr_assert_geq(got, limit, "run end from page %lu", (unsigned long)p);
    }
}

static void differential(uint64_t pages, int ops, uint64_t seed)
{
    static const uint32_t attrs[] = {0, WVM_PAGE_READWRITE, WVM_PAGE_READONLY,
                                     WVM_PAGE_READWRITE | WVM_PAGE_GUARD,
                                     WVM_PAGE_READWRITE | WVM_ATTR_LOCKED};
    size_t meta0 = wvm__meta_bytes();
    uint32_t *ref = calloc(pages, sizeof *ref), *old_ref = malloc(pages * sizeof *ref);
    uint64_t committed = 0;
    wvm_snap *s = wvm__snap_new(0x10000, pages * WVM_PAGE, 4, 0), *kept = NULL;
    cr_assert(s);
    for (int op = 0; op < ops; op++) {
        /* mostly short ranges (fragmentation), sometimes long ones (merging, collapse) */
        uint64_t first = rnd(&seed) % pages;
        uint64_t len = rnd(&seed) % 8 ? 1 + rnd(&seed) % 8 : 1 + rnd(&seed) % pages;
        if (len > pages - first)
            len = pages - first;
        uint32_t to = attrs[rnd(&seed) % 5];
        bool tog = rnd(&seed) % 6 == 0;
        wvm_snap *t = tog ? wvm__snap_map(s, first, len, toggle_locked, NULL)
                          : wvm__snap_map(s, first, len, set_to, &to);
        cr_assert(t);
        for (uint64_t p = first; p < first + len; p++) {
            uint32_t now = tog ? toggle_locked(ref[p], NULL) : to;
            committed += wvm__attr_committed(now) - wvm__attr_committed(ref[p]);
            ref[p] = now;
        }
        const char *err = wvm__snap_check(t, WVM_REFS_SHARED); /* s (and kept) share nodes */
        cr_assert_null(err, "after op %d: %s", op, err ? err : "");
        cr_assert_eq(t->committed, committed);
        check_points(t, ref, pages, &seed);
        uint64_t end = first + len, lo = first > 3 ? first - 3 : 0;
        if (len <= 10000) {
            agree(t, ref, lo, end + 3 < pages ? end + 3 : pages);
        } else { /* both edges of a long range */
            agree(t, ref, lo, first + 3);
            agree(t, ref, end - 3, end + 3 < pages ? end + 3 : pages);
        }
        if (op % 97 == 0 && pages <= 100000)
            agree(t, ref, 0, pages);
        /* keep one old snapshot alive across later writes: it must not change */
        if (op % (pages > 100000 ? 200 : 50) == 10) {
            if (kept) {
                agree(kept, old_ref, 0, pages);
                wvm__snap_free(kept);
            }
            kept = s;
            memcpy(old_ref, ref, pages * sizeof *ref);
            for (uint64_t p = first; p < first + len; p++) /* s is the state before t */
                old_ref[p] = wvm__snap_attr(s, p);
        } else {
            wvm__snap_free(s);
        }
        s = t;
    }
    if (kept) {
        agree(kept, old_ref, 0, pages);
        wvm__snap_free(kept);
    }
    const char *err = wvm__snap_check(s, WVM_REFS_SOLE); /* the others are gone */
    cr_expect_null(err, "last snapshot: %s", err ? err : "");
    wvm__snap_free(s);
    cr_expect_eq(wvm__meta_bytes(), meta0, "snapshot memory not returned");
    free(ref);
    free(old_ref);
}

Test(snap, one_leaf)
{
    differential(16, 3000, 1);
    differential(512, 3000, 2);
}

Test(snap, a_few_leaves)
{
    differential(513, 3000, 3);
    differential(3000, 3000, 4);
}

Test(snap, two_levels)
{
    differential(40000, 2000, 5);
}

Test(snap, deep)
{
    differential((uint64_t)1 << 22, 400, 6); /* 16 GiB: three levels */
}

/* A write in a heavily fragmented allocation allocates one path and one leaf, not a copy of
 * the allocation's runs. */
Test(snap, write_cost_bounded)
{
    uint64_t pages = (uint64_t)1 << 19; /* 2 GiB */
    uint32_t rw = WVM_PAGE_READWRITE, ro = WVM_PAGE_READONLY;
    wvm_snap *s = wvm__snap_new(0x10000, pages * WVM_PAGE, 4, 0);
    for (uint64_t i = 0; i < pages; i += 4) { /* 131,072 islands, alternating */
        wvm_snap *t = wvm__snap_map(s, i, 1, set_to, i & 4 ? &ro : &rw);
        wvm__snap_free(s);
        s = t;
    }
    cr_assert_eq(s->committed, pages / 4);
    uint64_t nodes, bytes;
    wvm__snap_tree_size(s, &nodes, &bytes);
    size_t before = wvm__meta_bytes();
    wvm_snap *t = wvm__snap_map(s, 4097, 1, set_to, &rw);
    size_t made = wvm__meta_bytes() - before;
    cr_expect(made <= 8192, "one write allocated %zu bytes (tree: %lu nodes, %lu bytes)", made,
              (unsigned long)nodes, (unsigned long)bytes);
    cr_expect(bytes > 100 * made, "the tree (%lu bytes) is not much larger than a write (%zu)",
              (unsigned long)bytes, made);
    cr_expect_eq(t->committed, pages / 4 + 1);
    wvm__snap_free(s);
    wvm__snap_free(t);
}

/* A large allocation with a few runs is one block of runs (no tree): a write copies it; past
 * 64 runs it becomes a tree (same pages, nodes shared by later writes), and a tree whose root
 * entries are all uniform is runs again. */
Test(snap, flat_root_grows_and_flattens)
{
    uint64_t pages = (uint64_t)1 << 18; /* 1 GiB: a tree of three levels when it grows */
    uint32_t rw = WVM_PAGE_READWRITE, ro = WVM_PAGE_READONLY, none = 0;
    uint32_t *ref = calloc(pages, sizeof *ref);
    size_t meta0 = wvm__meta_bytes();
    wvm_snap *s = wvm__snap_new(0x10000, pages * WVM_PAGE, 4, 0);
    uint64_t nodes, bytes, i = 0;
    for (; i < 64; i++) { /* islands 4,096 pages apart: 2 runs each */
        uint32_t *to = i & 1 ? &ro : &rw;
        wvm_snap *t = wvm__snap_map(s, i * 4096 + 7, 1, set_to, to);
        ref[i * 4096 + 7] = *to;
        wvm__snap_free(s);
        s = t;
        const char *err = wvm__snap_check(s, WVM_REFS_SOLE);
        cr_assert_null(err, "island %lu: %s", (unsigned long)i, err ? err : "");
        wvm__snap_tree_size(s, &nodes, &bytes);
        if (2 * i + 3 <= 64) {
            cr_assert_eq(s->level, 0, "island %lu: %u runs, a tree", (unsigned long)i, s->n);
            cr_assert_eq(s->n, 2 * i + 3);
            cr_assert_eq(nodes, 0);
        } else {
            cr_assert_gt(s->level, 0, "island %lu: %u runs in a flat root", (unsigned long)i, s->n);
            cr_assert_gt(nodes, 0);
        }
    }
    cr_expect_eq(s->committed, 64);
    agree(s, ref, 0, pages);
    /* a write to the tree shares the untouched nodes with the snapshot before it */
    size_t before = wvm__meta_bytes();
    wvm_snap *t = wvm__snap_map(s, 100000, 2, set_to, &rw);
    ref[100000] = ref[100001] = rw;
    cr_expect_lt(wvm__meta_bytes() - before, bytes / 2, "the write copied most of the tree");
    cr_expect_null(wvm__snap_check(t, WVM_REFS_SHARED));
    agree(t, ref, 0, pages);
    wvm__snap_free(s);
    /* everything one attribute but the last leaf's pages: the root's entries are uniform */
    s = wvm__snap_map(t, 0, pages - 512, set_to, &none);
    for (uint64_t p = 0; p < pages - 512; p++)
        ref[p] = none;
    wvm__snap_free(t);
    cr_assert_null(wvm__snap_check(s, WVM_REFS_SOLE));
    cr_expect_eq(s->level, 0, "a tree of uniform entries was not flattened");
    cr_expect_eq(s->committed, 0);
    agree(s, ref, 0, pages);
    t = wvm__snap_map(s, pages - 3, 2, set_to, &ro); /* and it stays flat */
    ref[pages - 3] = ref[pages - 2] = ro;
    cr_expect_eq(t->level, 0);
    cr_expect_eq(t->n, 3);
    agree(t, ref, 0, pages);
    wvm__snap_free(s);
    wvm__snap_free(t);
    cr_expect_eq(wvm__meta_bytes(), meta0, "snapshot memory not returned");
    free(ref);
}

/* Reserving a huge allocation costs one block: untouched space is uniform entries. */
Test(snap, untouched_space_is_free)
{
    size_t before = wvm__meta_bytes();
    wvm_snap *s = wvm__snap_new(0x10000, (size_t)1 << 46, 4, 0); /* 64 TiB */
    cr_assert(s);
    cr_expect(wvm__meta_bytes() - before < 1024);
    uint64_t nodes, bytes;
    wvm__snap_tree_size(s, &nodes, &bytes);
    cr_expect_eq(nodes, 0);
    cr_expect_eq(run_end(s, 12345, ~0u), wvm__snap_pages(s));
    wvm__snap_free(s);
}

Test(snap, no_write_from_a_retired_snapshot, .signal = SIGABRT)
{
    uint32_t rw = WVM_PAGE_READWRITE;
    wvm_snap *s = wvm__snap_new(0x10000, 16 * WVM_PAGE, 4, 0);
    wvm__snap_retire(s);
    wvm__snap_map(s, 0, 1, set_to, &rw);
}

/* A reader (the invariant checker) may hold a published snapshot while its writer replaces and
 * retires it: the nodes only it held then have no reference left and wait for the epochs. The
 * shape is still whole for the reader; the counts are no longer its to check (host_fork's
 * "node ... without references" abort under the debug checker). */
Test(snap, retired_under_a_reader)
{
    uint32_t rw = WVM_PAGE_READWRITE, ro = WVM_PAGE_READONLY;
    wvm_snap *s = wvm__snap_new(0x10000, 40000 * WVM_PAGE, 4, 0); /* two levels */
    for (uint64_t p = 0; p < 40000; p += 700) {
        wvm_snap *t = wvm__snap_map(s, p, 3, set_to, &rw);
        wvm__snap_free(s);
        s = t;
    }
    cr_assert_null(wvm__snap_check(s, WVM_REFS_SOLE));
    wvm__ebr_enter();                                     /* the reader */
    wvm_snap *t = wvm__snap_map(s, 1400, 1, set_to, &ro); /* the writer: shares all but a path */
    cr_expect_str_eq(wvm__snap_check(t, WVM_REFS_SOLE),
                     "node of the only snapshot with references other than 1");
    wvm__snap_retire(s); /* published t, retired s */
    cr_expect_null(wvm__snap_check(s, WVM_REFS_UNSEEN), "the reader's view is whole");
    cr_expect_str_eq(wvm__snap_check(s, WVM_REFS_SHARED), "node without references");
    cr_expect_null(wvm__snap_check(t, WVM_REFS_SOLE));
    for (uint64_t p = 0; p < 40000; p++)
        cr_assert_eq(wvm__snap_attr(s, p), p % 700 < 3 ? rw : 0, "page %lu", (unsigned long)p);
    wvm__ebr_exit();
    wvm__snap_free(t);
}
