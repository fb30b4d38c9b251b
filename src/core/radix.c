#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "core/meta.h"
#include "core/radix.h"

#define L1_BITS  13
#define L2_BITS  9
#define L3_BITS  9
#define L4_BITS  4 /* the pages of one granule (a granule shared by placeholder pieces) */
#define P_SHIFT  12
#define L4_SHIFT P_SHIFT
#define L3_SHIFT (L4_SHIFT + L4_BITS)
#define L2_SHIFT (L3_SHIFT + L3_BITS)
#define L1_SHIFT (L2_SHIFT + L2_BITS)

/* An entry is NULL, a child node, or an allocation with bit 0 set (a terminal). */
typedef _Atomic(uintptr_t) entry;

static entry root[1u << L1_BITS];

static const int shift_of[4] = {L1_SHIFT, L2_SHIFT, L3_SHIFT, L4_SHIFT};
static const int bits_of[4] = {L1_BITS, L2_BITS, L3_BITS, L4_BITS};

static inline bool is_terminal(uintptr_t e)
{
    return e & 1;
}

static int set_level(entry *node, int level, uintptr_t start, uintptr_t end, uintptr_t value)
{
    int shift = shift_of[level];
    uintptr_t unit = (uintptr_t)1 << shift;
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    for (uintptr_t u = start & ~(unit - 1); u < end; u += unit) {
        entry *slot = &node[(u >> shift) & mask];
        uintptr_t cur = atomic_load_explicit(slot, memory_order_relaxed);
        uintptr_t lo = u > start ? u : start, hi = u + unit < end ? u + unit : end;
        bool whole = lo == u && hi == u + unit;
        if (whole && (cur == 0 || is_terminal(cur))) {
            atomic_store_explicit(slot, value, memory_order_release);
            continue;
        }
        if (cur == 0 || is_terminal(cur)) {
            if (!value)
                continue; /* clearing part of an empty unit */
            size_t bytes = sizeof(entry) << bits_of[level + 1];
            entry *child = wvm__meta_zalloc(bytes);
            if (!child)
                return ENOMEM;
            if (cur) /* a terminal being split: copy it into every child slot */
                for (size_t i = 0; i < ((size_t)1 << bits_of[level + 1]); i++)
                    atomic_store_explicit(&child[i], cur, memory_order_relaxed);
            atomic_store_explicit(slot, (uintptr_t)child, memory_order_release);
            cur = (uintptr_t)child;
        }
        int err = set_level((entry *)cur, level + 1, lo, hi, value);
        if (err)
            return err;
    }
    return 0;
}

int wvm__radix_set(uintptr_t start, uintptr_t end, struct wvm_alloc *a)
{
    int err = set_level(root, 0, start, end, (uintptr_t)a | 1);
    if (err)
        set_level(root, 0, start, end, 0);
    return err;
}

int wvm__radix_prepare(uintptr_t start, uintptr_t end, struct wvm_alloc *cur)
{
    /* writing the value already there only splits terminals into equal children */
    return set_level(root, 0, start, end, (uintptr_t)cur | 1);
}

void wvm__radix_clear(uintptr_t start, uintptr_t end)
{
    set_level(root, 0, start, end, 0);
}

static inline uintptr_t child_entry(uintptr_t node, uintptr_t addr, int level)
{
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    return atomic_load_explicit(&((entry *)node)[(addr >> shift_of[level]) & mask],
                                memory_order_acquire);
}

/* Unrolled: the common lookup (a terminal at the granule level or above) stays three loads and
 * no loop; the page level costs a fourth load only in a shared granule. */
struct wvm_alloc *wvm__radix_get(uintptr_t addr)
{
    if (addr >> (L1_SHIFT + L1_BITS))
        return NULL;
    uintptr_t e = atomic_load_explicit(&root[addr >> L1_SHIFT], memory_order_acquire);
    if (e && !is_terminal(e)) {
        e = child_entry(e, addr, 1);
        if (e && !is_terminal(e)) {
            e = child_entry(e, addr, 2);
            /* (terminal first: the granule's allocation costs one test, as before pages) */
            if (!is_terminal(e) && e)
                e = child_entry(e, addr, 3);
        }
    }
    return (struct wvm_alloc *)(e & ~(uintptr_t)1);
}

/* First granule in [addr, limit) below node whose entry is neither empty nor skip; limit if
 * none. */
static uintptr_t next_level(entry *node, int level, uintptr_t addr, uintptr_t limit, uintptr_t skip)
{
    int shift = shift_of[level];
    uintptr_t unit = (uintptr_t)1 << shift;
    uintptr_t mask = ((uintptr_t)1 << bits_of[level]) - 1;
    for (uintptr_t u = addr & ~(unit - 1); u < limit; u += unit) {
        uintptr_t e = atomic_load_explicit(&node[(u >> shift) & mask], memory_order_acquire);
        uintptr_t from = u > addr ? u : addr;
        if (is_terminal(e) && e != skip)
            return from;
        if (e && !is_terminal(e)) {
            uintptr_t hi = u + unit < limit ? u + unit : limit;
            uintptr_t found = next_level((entry *)e, level + 1, from, hi, skip);
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
