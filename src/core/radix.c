#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "core/meta.h"
#include "core/radix.h"
#include "core/slots.h"

#define L1_BITS  13
#define L2_BITS  9
#define L3_BITS  9
#define L4_BITS  4 /* the pages of one granule (a granule shared by placeholder pieces) */
#define P_SHIFT  12
#define L4_SHIFT P_SHIFT
#define L3_SHIFT (L4_SHIFT + L4_BITS)
#define L2_SHIFT (L3_SHIFT + L3_BITS)
#define L1_SHIFT (L2_SHIFT + L2_BITS)

/* Levels 0 and 1 (16 GiB, 32 MiB units) hold wide entries: NULL, a child node, or an
 * allocation's address with bit 0 set (a terminal). Levels 2 and 3 (granules, pages) hold
 * narrow ones, 32-bit slot offsets (core/slots.h): 0, a page node's offset (level 2 only), or
 * an allocation's offset with bit 0 set. One granule entry per 64 KiB region: 4 bytes. */
typedef _Atomic(uintptr_t) entry;
typedef _Atomic(uint32_t) narrow;
#define NARROW_LEVEL 2

static entry root[1u << L1_BITS];

static const int shift_of[4] = {L1_SHIFT, L2_SHIFT, L3_SHIFT, L4_SHIFT};
static const int bits_of[4] = {L1_BITS, L2_BITS, L3_BITS, L4_BITS};

static inline bool is_terminal(uintptr_t e)
{
    return e & 1;
}

/* A terminal of either width as the other width wants it. */
static uintptr_t to_narrow(uintptr_t wide)
{
    return wide ? wvm__slot_of((void *)(wide & ~(uintptr_t)1)) | 1u : 0;
}

static void *child_node(uintptr_t e, int level)
{
    return level >= NARROW_LEVEL ? wvm__slot_at((uint32_t)e) : (void *)e;
}

static uintptr_t load(void *node, int level, size_t i)
{
    if (level >= NARROW_LEVEL)
        return atomic_load_explicit(&((narrow *)node)[i], memory_order_acquire);
    return atomic_load_explicit(&((entry *)node)[i], memory_order_acquire);
}

/* A new child node of a level-`level` entry, holding copies of the terminal cur (or empty):
 * page nodes are slots (a granule entry names them by offset). NULL: ENOMEM. */
static void *split_terminal(int level, uintptr_t cur)
{
    int bits = bits_of[level + 1];
    if (level + 1 < NARROW_LEVEL) {
        entry *child = wvm__meta_zalloc(sizeof(entry) << bits);
        for (size_t j = 0; child && cur && j < ((size_t)1 << bits); j++)
            atomic_store_explicit(&child[j], cur, memory_order_relaxed);
        return child;
    }
    narrow *child =
        level + 1 == NARROW_LEVEL ? wvm__meta_zalloc(sizeof(narrow) << bits) : wvm__slots_take(1);
    uint32_t copy = level + 1 == NARROW_LEVEL ? (uint32_t)to_narrow(cur) : (uint32_t)cur;
    for (size_t j = 0; child && copy && j < ((size_t)1 << bits); j++)
        atomic_store_explicit(&child[j], copy, memory_order_relaxed);
    return child;
}

/* The entries of node (level `level`, a constant in each instance below) over [start, end)
 * get value (0 clears): a wide terminal or 0 at the wide levels, its narrow form below. */
#define SET_LEVEL(name, T, level, next, next_value)                                                \
    static int name(T *node, uintptr_t start, uintptr_t end, uintptr_t value)                      \
    {                                                                                              \
        const int shift = shift_of[level];                                                         \
        const uintptr_t unit = (uintptr_t)1 << shift, mask = ((uintptr_t)1 << bits_of[level]) - 1; \
        for (uintptr_t u = start & ~(unit - 1); u < end; u += unit) {                              \
            T *slot = &node[(u >> shift) & mask];                                                  \
            uintptr_t cur = atomic_load_explicit(slot, memory_order_relaxed);                      \
            uintptr_t lo = u > start ? u : start, hi = u + unit < end ? u + unit : end;            \
            if (lo == u && hi == u + unit && (cur == 0 || is_terminal(cur))) {                     \
                atomic_store_explicit(slot, value, memory_order_release);                          \
                continue;                                                                          \
            }                                                                                      \
            if (cur == 0 || is_terminal(cur)) {                                                    \
                if (!value)                                                                        \
                    continue; /* clearing part of an empty unit */                                 \
                void *child = split_terminal(level, cur);                                          \
                if (!child)                                                                        \
                    return ENOMEM;                                                                 \
                cur = level >= NARROW_LEVEL ? wvm__slot_of(child) : (uintptr_t)child;              \
                atomic_store_explicit(slot, cur, memory_order_release);                            \
            }                                                                                      \
            int err = next(child_node(cur, level), lo, hi, next_value);                            \
            if (err)                                                                               \
                return err;                                                                        \
        }                                                                                          \
        return 0;                                                                                  \
    }

static int set_none(void *node, uintptr_t start, uintptr_t end, uintptr_t value)
{
    (void)node, (void)start, (void)end, (void)value;
    return EINVAL; /* below pages: never reached (a page entry is whole or not touched) */
}
SET_LEVEL(set_pages, narrow, 3, set_none, value)
SET_LEVEL(set_granules, narrow, 2, set_pages, value)
SET_LEVEL(set_middle, entry, 1, set_granules, to_narrow(value))
SET_LEVEL(set_top, entry, 0, set_middle, value)

static inline uintptr_t child_entry(uintptr_t node, uintptr_t addr, int level)
{
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    return atomic_load_explicit(&((entry *)node)[(addr >> shift_of[level]) & mask],
                                memory_order_acquire);
}

static uintptr_t wide_of(struct wvm_alloc *a)
{
    return a ? (uintptr_t)a | 1 : 0;
}

/* The common case without the descent: whole granules of one 32 MiB unit whose granule node
 * exists, none of them split into pages. false: not that case, nothing written. */
static bool set_granules_fast(uintptr_t start, uintptr_t end, uintptr_t value)
{
    const uintptr_t gmask = ((uintptr_t)1 << L3_SHIFT) - 1;
    if (((start | end) & gmask) || (end - 1) >> L2_SHIFT != start >> L2_SHIFT)
        return false;
    uintptr_t e = atomic_load_explicit(&root[start >> L1_SHIFT], memory_order_relaxed);
    if (!e || is_terminal(e))
        return false;
    e = child_entry(e, start, 1);
    if (!e || is_terminal(e))
        return false;
    narrow *node = (narrow *)e;
    const uintptr_t mask = ((uintptr_t)1 << L3_BITS) - 1;
    size_t first = (start >> L3_SHIFT) & mask, last = ((end - 1) >> L3_SHIFT) & mask;
    for (size_t i = first; i <= last; i++) {
        uint32_t cur = atomic_load_explicit(&node[i], memory_order_relaxed);
        if (cur && !is_terminal(cur))
            return false;
    }
    uint32_t mine = (uint32_t)to_narrow(value);
    for (size_t i = first; i <= last; i++)
        atomic_store_explicit(&node[i], mine, memory_order_release);
    return true;
}

int wvm__radix_set(uintptr_t start, uintptr_t end, struct wvm_alloc *a)
{
    if (set_granules_fast(start, end, wide_of(a)))
        return 0;
    int err = set_top(root, start, end, wide_of(a));
    if (err)
        set_top(root, start, end, 0);
    return err;
}

int wvm__radix_prepare(uintptr_t start, uintptr_t end, struct wvm_alloc *cur)
{
    /* writing the value already there only splits terminals into equal children */
    return set_top(root, start, end, wide_of(cur));
}

void wvm__radix_clear(uintptr_t start, uintptr_t end)
{
    if (set_granules_fast(start, end, 0))
        return;
    set_top(root, start, end, 0);
}

static inline uint32_t narrow_entry(const void *node, uintptr_t addr, int level)
{
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    return atomic_load_explicit(&((narrow *)node)[(addr >> shift_of[level]) & mask],
                                memory_order_acquire);
}

/* Unrolled: the common lookup (a terminal at the granule level or above) stays three loads and
 * no loop; the page level costs a fourth load only in a shared granule. */
struct wvm_alloc *wvm__radix_get(uintptr_t addr)
{
    if (addr >> (L1_SHIFT + L1_BITS))
        return NULL;
    uintptr_t e = atomic_load_explicit(&root[addr >> L1_SHIFT], memory_order_acquire);
    if (e && !is_terminal(e))
        e = child_entry(e, addr, 1);
    if (!e || is_terminal(e))
        return (struct wvm_alloc *)(e & ~(uintptr_t)1);
    uint32_t n = narrow_entry((const void *)e, addr, 2);
    /* (terminal first: the granule's allocation costs one test, as before pages) */
    if (n & 1)
        return (struct wvm_alloc *)((char *)wvm__slot_at(n) - 1);
    if (n && (n = narrow_entry(wvm__slot_at(n), addr, 3)))
        return (struct wvm_alloc *)((char *)wvm__slot_at(n) - 1);
    return NULL;
}

/* First granule in [addr, limit) below node whose entry is neither empty nor skip (a wide
 * terminal); limit if none. */
static uintptr_t next_level(void *node, int level, uintptr_t addr, uintptr_t limit, uintptr_t skip)
{
    int shift = shift_of[level];
    uintptr_t unit = (uintptr_t)1 << shift;
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    uintptr_t mine = level >= NARROW_LEVEL ? to_narrow(skip) : skip;
    for (uintptr_t u = addr & ~(unit - 1); u < limit; u += unit) {
        uintptr_t e = load(node, level, (u >> shift) & mask);
        uintptr_t from = u > addr ? u : addr;
        if (is_terminal(e) && e != mine)
            return from;
        if (e && !is_terminal(e)) {
            uintptr_t hi = u + unit < limit ? u + unit : limit;
            uintptr_t found = next_level(child_node(e, level), level + 1, from, hi, skip);
            if (found < hi)
                return found;
        }
        if (((u >> shift) & mask) == mask && level > 0)
            break; /* end of this node */
    }
    return limit;
}

uintptr_t wvm__radix_next_other(uintptr_t addr, uintptr_t limit, const struct wvm_alloc *skip)
{
    uintptr_t top = (uintptr_t)1 << (L1_SHIFT + L1_BITS);
    if (limit > top)
        limit = top;
    if (addr >= limit)
        return limit;
    uintptr_t r = next_level(root, 0, addr & ~(((uintptr_t)1 << P_SHIFT) - 1), limit,
                             skip ? (uintptr_t)skip | 1 : 0);
    return r < addr ? addr : r;
}

uintptr_t wvm__radix_next(uintptr_t addr, uintptr_t limit)
{
    return wvm__radix_next_other(addr, limit, NULL);
}
