#include "core/slots.h"
#include "prim/linux/prim.h"

_Atomic(char *) wvm__slots_base;
static _Atomic uint64_t used = WVM_SLOT; /* offset 0 stays unused */
static _Atomic uint64_t writable;

enum { GROW = 1 << 20 }; /* read-write in steps of 1 MiB: 16,384 slots */

static char *base(void)
{
    char *b = atomic_load_explicit(&wvm__slots_base, memory_order_acquire);
    if (b)
        return b;
    void *p;
    if (wvm__prim_reserve_meta(WVM_SLOTS_SPAN, &p))
        return NULL;
    if (atomic_compare_exchange_strong_explicit(&wvm__slots_base, &b, p, memory_order_acq_rel,
                                                memory_order_acquire))
        return p;
    wvm__prim_unmap_meta(p, WVM_SLOTS_SPAN); /* another thread's reservation won */
    return b;
}

/* At load: a range reserved at the first allocation would land wherever the kernel puts new
 * mappings, possibly over address space the program had just found free and is about to
 * reserve with VirtualAlloc at a fixed address (stress_page_pieces --outside). */
__attribute__((constructor)) static void reserve_early(void)
{
    base();
}

void *wvm__slots_take(size_t n)
{
    char *b = base();
    if (!b || n > WVM_SLOTS_SPAN / WVM_SLOT)
        return NULL;
    uint64_t bytes = (uint64_t)n * WVM_SLOT;
    uint64_t off = atomic_fetch_add_explicit(&used, bytes, memory_order_relaxed);
    if (off + bytes > WVM_SLOTS_SPAN) /* full: the slots past the end are never handed out */
        return NULL;
    for (uint64_t w = atomic_load_explicit(&writable, memory_order_acquire); w < off + bytes;) {
        uint64_t want = (off + bytes + GROW - 1) & ~(uint64_t)(GROW - 1);
        /* racing growers make overlapping ranges read-write: harmless */
        if (wvm__prim_grow_meta(b + w, want - w))
            return NULL; /* those slots stay unused */
        if (atomic_compare_exchange_weak_explicit(&writable, &w, want, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    return b + off;
}

size_t wvm__slots_bytes(void)
{
    uint64_t u = atomic_load_explicit(&used, memory_order_relaxed);
    return u > WVM_SLOTS_SPAN ? WVM_SLOTS_SPAN : u - WVM_SLOT;
}

size_t wvm__slots_held(void)
{
    return atomic_load_explicit(&writable, memory_order_relaxed);
}
