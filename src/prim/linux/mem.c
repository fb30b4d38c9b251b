/* Mappings: mmap, munmap, mprotect, madvise. Counted for stats; fault injection hooks here. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <winvmem/stats.h>

#include "prim/linux/prim.h"
#include "prim/linux/section.h"

#ifndef MADV_GUARD_INSTALL /* Linux 6.13; Debian 12's headers are 6.1 */
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE  103
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static _Atomic uint64_t syscall_count[WVM_SYS_KINDS];
static _Atomic uint64_t mappings_created;

static _Atomic uint64_t calls_made;
#ifdef WVM_FAULT_INJECTION
static _Atomic uint64_t inject_at; /* value of calls_made that fails; 0 = off */
static _Atomic int inject_err;
#endif

void wvm__prim_inject_after(uint64_t n, int err)
{
#ifdef WVM_FAULT_INJECTION
    atomic_store(&inject_err, err);
    atomic_store(&inject_at, n ? atomic_load(&calls_made) + n : 0);
#else
    (void)n;
    (void)err;
#endif
}

uint64_t wvm__prim_calls(void)
{
    return atomic_load(&calls_made);
}

/* Counts a fallible call; returns the injected error for this call, or 0. */
static int fallible(enum wvm_syscall_kind kind)
{
    atomic_fetch_add_explicit(&syscall_count[kind], 1, memory_order_relaxed);
    uint64_t n = atomic_fetch_add_explicit(&calls_made, 1, memory_order_relaxed) + 1;
#ifdef WVM_FAULT_INJECTION
    uint64_t at = atomic_load(&inject_at);
    if (at && n == at) {
        atomic_store(&inject_at, 0);
        return atomic_load(&inject_err);
    }
#else
    (void)n;
#endif
    return 0;
}

int wvm__prim_fallible(int kind)
{
    return fallible((enum wvm_syscall_kind)kind);
}

static void count(enum wvm_syscall_kind kind)
{
    atomic_fetch_add_explicit(&syscall_count[kind], 1, memory_order_relaxed);
}

int wvm__prim_map_none(void *hint, size_t size, bool fixed, void **out)
{
    int err = fallible(WVM_SYS_MMAP);
    if (err)
        return err;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (fixed ? MAP_FIXED_NOREPLACE : 0);
    void *p = mmap(hint, size, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    if (fixed && p != hint) { /* kernels before 4.17 treat the flag as a hint */
        munmap(p, size);
        return EEXIST;
    }
    atomic_fetch_add_explicit(&mappings_created, 1, memory_order_relaxed);
    *out = p;
    return 0;
}

int wvm__prim_map_none_aligned(size_t size, size_t align, void **out)
{
    void *raw = NULL;
    if (size + align < size)
        return ENOMEM;
    int err = wvm__prim_map_none(NULL, size + align, false, &raw);
    if (err)
        return err;
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    uintptr_t end = start + size;
    if (start > (uintptr_t)raw)
        munmap(raw, start - (uintptr_t)raw);
    if ((uintptr_t)raw + size + align > end)
        munmap((void *)end, (uintptr_t)raw + size + align - end);
    *out = (void *)start;
    return 0;
}

int wvm__prim_replace_none(void *addr, size_t size)
{
    int err = fallible(WVM_SYS_MMAP);
    if (err)
        return err;
    void *p =
        mmap(addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return p == MAP_FAILED ? errno : 0;
}

int wvm__prim_unmap(void *addr, size_t size)
{
    count(WVM_SYS_MUNMAP);
    return munmap(addr, size) ? errno : 0;
}

int wvm__prim_map_meta(size_t size, size_t align, void **out)
{
    size_t span = align > 4096 ? size + align : size;
    if (span < size)
        return ENOMEM;
    count(WVM_SYS_MMAP);
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return errno;
    atomic_fetch_add_explicit(&mappings_created, 1, memory_order_relaxed);
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    if (span > size) { /* trim the excess on both sides */
        if (start > (uintptr_t)raw)
            munmap(raw, start - (uintptr_t)raw);
        if ((uintptr_t)raw + span > start + size)
            munmap((void *)(start + size), (uintptr_t)raw + span - (start + size));
    }
    *out = (void *)start;
    return 0;
}

int wvm__prim_reserve_meta(size_t size, void **out)
{
    count(WVM_SYS_MMAP);
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    atomic_fetch_add_explicit(&mappings_created, 1, memory_order_relaxed);
    *out = p;
    return 0;
}

int wvm__prim_grow_meta(void *addr, size_t size)
{
    count(WVM_SYS_MPROTECT);
    return mprotect(addr, size, PROT_READ | PROT_WRITE) ? errno : 0;
}

int wvm__prim_unmap_meta(void *addr, size_t size)
{
    count(WVM_SYS_MUNMAP);
    return munmap(addr, size) ? errno : 0;
}

int wvm__prim_protect(void *addr, size_t size, int prot)
{
    int err = fallible(WVM_SYS_MPROTECT);
    if (err)
        return err;
    return mprotect(addr, size, prot) ? errno : 0;
}

int wvm__prim_guard_install(void *addr, size_t size)
{
    int err = fallible(WVM_SYS_MADVISE);
    if (err)
        return err;
    /* Linux 6.13+: may return EAGAIN when it races with a page fault; retrying is the contract. */
    for (;;) {
        if (!madvise(addr, size, MADV_GUARD_INSTALL))
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno;
    }
}

int wvm__prim_guard_remove(void *addr, size_t size)
{
    count(WVM_SYS_MADVISE);
    return madvise(addr, size, MADV_GUARD_REMOVE) ? errno : 0;
}

int wvm__prim_discard(void *addr, size_t size)
{
    count(WVM_SYS_MADVISE);
    return madvise(addr, size, MADV_DONTNEED) ? errno : 0;
}

void wvm__prim_syscall_counts(uint64_t out[], int kinds)
{
    for (int i = 0; i < kinds && i < WVM_SYS_KINDS; i++)
        out[i] = atomic_load_explicit(&syscall_count[i], memory_order_relaxed);
}

uint64_t wvm__prim_mappings_created(void)
{
    return atomic_load_explicit(&mappings_created, memory_order_relaxed);
}
