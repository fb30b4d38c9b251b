/* 64-byte slots in one reserved range, named by 32-bit offsets from its base: what the radix
 * index's granule and page entries point to (allocation descriptors, page-entry nodes), so
 * that an entry is 4 bytes instead of an 8-byte pointer (issue 14: metadata per region).
 *
 * The range (WVM_SLOTS_SPAN bytes of address space, PROT_NONE) is reserved at load and
 * made read-write from its start as slots are taken; slots are never given back (their owners
 * reuse them: descriptors are type-stable, index nodes are never freed), so a lock-free
 * reader holding a stale offset always reads winvmem memory. Offset 0 is never handed out:
 * a zero entry means "none". Full (64 Mi slots) or refused by the kernel: NULL.
 *
 * Async-signal-safe and lock-free (a vectored handler may call VirtualAlloc); fork needs
 * nothing (the child inherits the range). */
#ifndef WVM_SLOTS_H
#define WVM_SLOTS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WVM_SLOT       64u
#define WVM_SLOTS_SPAN ((uint64_t)1 << 32) /* every offset fits 32 bits */

/* Set once, before the first slot is handed out: a reader that found an offset (published
 * with release) sees it. */
extern _Atomic(char *) wvm__slots_base __attribute__((visibility("hidden")));

/* n contiguous zero-filled slots, 64-byte aligned; NULL when the range is full or the kernel
 * refuses memory. */
void *wvm__slots_take(size_t n);

static inline uint32_t wvm__slot_of(const void *p)
{
    return (uint32_t)((const char *)p -
                      atomic_load_explicit(&wvm__slots_base, memory_order_relaxed));
}
static inline void *wvm__slot_at(uint32_t off)
{
    return atomic_load_explicit(&wvm__slots_base, memory_order_relaxed) + off;
}

/* Bytes of slots handed out, and bytes made read-write (the stats' metadata figures). */
size_t wvm__slots_bytes(void);
size_t wvm__slots_held(void);
#endif
