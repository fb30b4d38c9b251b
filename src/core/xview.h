/* Views of SEC_RESERVE sections that other processes commit too (named, pagefile-backed): where
 * VirtualQuery finds the section's shared commit bits for such a view.
 *
 * Another process's commit sets the section's bits and nothing in this process: the view's
 * snapshot still shows those pages reserved and the kernel keeps them PROT_NONE. The page state
 * is the union: a page is committed when the snapshot or the bit says so (bits are only ever
 * set, but by a commit whose kernel part failed, which clears its own again), with the view's
 * protection. VirtualQuery reads the bits through this registry (lock-free: a fixed set of
 * entries in chunks that are never freed, each read under its sequence number); the fault
 * dispatcher widens such a page's kernel protection on its first access (view.c); every
 * operation that locks the view first brings its snapshot up to the bits (view.c, sync). The
 * bits stay mapped while a reader may use them (the header is unmapped through the epochs). */
#ifndef WVM_XVIEW_H
#define WVM_XVIEW_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What a registered view tells a reader. */
typedef struct wvm_xview {
    const _Atomic uint64_t *bits; /* the section's commit bits */
    uint64_t p0;                  /* the section page of the view's first page */
    uint64_t pages;               /* of the view */
    uint32_t attr;                /* a committed page's visible protection */
} wvm_xview;

/* Registers the view at base (0 or ERROR_NOT_ENOUGH_MEMORY); removes it. */
uint32_t wvm__xview_add(uintptr_t base, const wvm_xview *x);
void wvm__xview_remove(uintptr_t base);
/* The registration of the view at base, read consistently; false when there is none. Lock-free
 * and allocation-free; the caller is in an epoch section and checks afterwards that the view's
 * snapshot is still current (the registration then belongs to it). */
bool wvm__xview_find(uintptr_t base, wvm_xview *out);
/* Whether section page p is committed in bits. */
static inline bool wvm__xview_bit(const _Atomic uint64_t *bits, uint64_t p)
{
    return atomic_load_explicit(&bits[p / 64], memory_order_acquire) >> (p % 64) & 1;
}
/* One past the last page of the run of pages whose bit equals bit p's (*committed), at most
 * end. Lock-free. */
uint64_t wvm__xview_run(const _Atomic uint64_t *bits, uint64_t p, uint64_t end, bool *committed);
#endif
