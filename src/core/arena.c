#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/arena.h"
#include "core/freespace.h"
#include "core/meta.h"
#include "core/fork.h"
#include "prim/linux/prim.h"

/* 64 GiB: large enough that most programs need one, small enough to fit the application
 * ranges of ThreadSanitizer's memory layout. */
#define ARENA_MIN  ((size_t)64 << 30)
#define MAX_ARENAS 1024

typedef struct arena {
    uintptr_t start, end;
    _Atomic uint64_t *guarded; /* one bit per chunk */
    _Atomic uintptr_t stash;   /* wvm__arena_stash: its start once read-write, or 0 */
    uintptr_t stash_space;     /* its address space, reserved with the arena, or 0 */
} arena;

static arena arenas[MAX_ARENAS];
static _Atomic unsigned narenas; /* entries below are immutable once published */
static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t chunks_guarded;

int wvm__arena_grow(size_t need)
{
    unsigned n = atomic_load(&narenas);
    if (n == MAX_ARENAS)
        return ENOMEM;
    size_t size = need < ARENA_MIN ? ARENA_MIN : (need + WVM_CHUNK - 1) & ~(size_t)(WVM_CHUNK - 1);
    size_t bytes = (size / WVM_CHUNK + 63) / 64 * sizeof(uint64_t);
    _Atomic uint64_t *bits = wvm__meta_zalloc(bytes); /* kept at this size if the map shrinks */
    if (!bits)
        return ENOMEM;
    void *p;
    int err = wvm__prim_map_none_aligned(size, WVM_CHUNK, &p);
    /* Some environments refuse one huge mapping (valgrind: > 32 GiB, ENOMEM or EINVAL);
     * halve down to what the request needs. */
    while ((err == ENOMEM || err == EINVAL) && size / 2 >= need && size / 2 >= WVM_CHUNK) {
        size /= 2;
        err = wvm__prim_map_none_aligned(size, WVM_CHUNK, &p);
    }
    if (!err && (err = wvm__free_add((uintptr_t)p, size)))
        wvm__prim_unmap(p, size);
    if (err) {
        wvm__meta_free(bits, bytes);
        return err;
    }
    /* the stash's address space now, next to the arena if the kernel agrees: reserved later,
     * it could land where the program is about to place a view or a VirtualAlloc2 at a fixed
     * address (as it once did on fuzz_ops' window: 8bb736a). PROT_NONE and MAP_NORESERVE, it
     * costs one kernel mapping and nothing else; without it there is no stash (mprotect's
     * way for pages holding data). */
    void *st = NULL;
    if (wvm__prim_map_none((char *)p + size, size, false, &st))
        st = NULL;
    arenas[n] = (arena){(uintptr_t)p, (uintptr_t)p + size, bits, 0, (uintptr_t)st};
    atomic_store_explicit(&narenas, n + 1, memory_order_release);
    return 0;
}

static arena *find(uintptr_t addr)
{
    unsigned n = atomic_load_explicit(&narenas, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (addr >= arenas[i].start && addr < arenas[i].end)
            return &arenas[i];
    return NULL;
}

bool wvm__space_in_arena(uintptr_t addr, uintptr_t *end)
{
    arena *ar = find(addr);
    if (ar && end)
        *end = ar->end;
    return ar != NULL;
}

uintptr_t wvm__arena_stash(uintptr_t addr, bool make)
{
    arena *ar = find(addr);
    if (!ar)
        return 0;
    uintptr_t st = atomic_load_explicit(&ar->stash, memory_order_acquire);
    if (!st && make) {
        pthread_mutex_lock(&chunk_lock);
        st = atomic_load_explicit(&ar->stash, memory_order_relaxed);
        if (!st && ar->stash_space &&
            !wvm__prim_protect((void *)ar->stash_space, ar->end - ar->start, WVM_P_RW)) {
            st = ar->stash_space;
            atomic_store_explicit(&ar->stash, st, memory_order_release);
        }
        pthread_mutex_unlock(&chunk_lock);
    }
    return st ? st + (addr - ar->start) : 0;
}

bool wvm__arena_overlaps(uintptr_t start, uintptr_t end)
{
    unsigned n = atomic_load_explicit(&narenas, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (start < arenas[i].end && end > arenas[i].start)
            return true;
    return false;
}

static bool is_guarded(arena *ar, size_t chunk)
{
    return atomic_load_explicit(&ar->guarded[chunk / 64], memory_order_acquire) >> (chunk % 64) & 1;
}

bool wvm__arena_guarded(uintptr_t start, uintptr_t end)
{
    arena *ar = find(start);
    if (!ar || end > ar->end || end <= start)
        return false;
    size_t c1 = (end - 1 - ar->start) / WVM_CHUNK + 1;
    for (size_t c = (start - ar->start) / WVM_CHUNK; c < c1; c++)
        if (!is_guarded(ar, c))
            return false;
    return true;
}

/* Converts chunks [c0, c1) (all unguarded: PROT_NONE, nothing committed) with two system calls;
 * chunk_lock held. The chunks hold free space and other allocations' reserved pages, none of
 * which may be accessible at any moment: the markers go in while the chunks are still PROT_NONE
 * (a PROT_NONE mapping takes them, and mprotect keeps them), then the chunks become read-write. */
static int convert(arena *ar, size_t c0, size_t c1)
{
    void *addr = (void *)(ar->start + c0 * WVM_CHUNK);
    size_t len = (c1 - c0) * WVM_CHUNK;
    int err = wvm__prim_guard_install(addr, len);
    if (err)
        return err;
    if ((err = wvm__prim_protect(addr, len, WVM_P_RW))) {
        wvm__prim_guard_remove(addr, len);
        return err;
    }
    for (size_t c = c0; c < c1; c++)
        atomic_fetch_or_explicit(&ar->guarded[c / 64], (uint64_t)1 << (c % 64),
                                 memory_order_release);
    atomic_fetch_add(&chunks_guarded, c1 - c0);
    return 0;
}

int wvm__arena_guard_chunks(uintptr_t start, uintptr_t end)
{
    arena *ar = find(start);
    if (!ar)
        return EINVAL;
    size_t c0 = (start - ar->start) / WVM_CHUNK, c1 = (end - 1 - ar->start) / WVM_CHUNK + 1;
    size_t c = c0;
    while (c < c1 && is_guarded(ar, c))
        c++;
    if (c == c1)
        return 0;
    pthread_mutex_lock(&chunk_lock);
    int err = 0;
    while (!err && c < c1) {
        if (is_guarded(ar, c)) {
            c++;
            continue;
        }
        size_t run = c;
        while (run < c1 && !is_guarded(ar, run))
            run++;
        err = convert(ar, c, run);
        c = run;
    }
    pthread_mutex_unlock(&chunk_lock);
    return err;
}

int wvm__arena_unguard_chunks(uintptr_t start, uintptr_t end)
{
    arena *ar = find(start);
    if (!ar)
        return EINVAL;
    size_t c0 = (start - ar->start) / WVM_CHUNK, c1 = (end - ar->start) / WVM_CHUNK;
    int err = 0;
    pthread_mutex_lock(&chunk_lock);
    for (size_t c = c0; c < c1 && !err;) {
        if (!is_guarded(ar, c)) {
            c++;
            continue;
        }
        size_t run = c;
        while (run < c1 && is_guarded(ar, run))
            run++;
        err = wvm__prim_replace_none((void *)(ar->start + c * WVM_CHUNK), (run - c) * WVM_CHUNK);
        for (size_t i = c; i < run && !err; i++)
            atomic_fetch_and_explicit(&ar->guarded[i / 64], ~((uint64_t)1 << (i % 64)),
                                      memory_order_release);
        if (!err)
            atomic_fetch_sub(&chunks_guarded, run - c);
        c = run;
    }
    pthread_mutex_unlock(&chunk_lock);
    return err;
}

void wvm__arena_stats(uint64_t *count, uint64_t *bytes, uint64_t *guarded)
{
    unsigned n = atomic_load_explicit(&narenas, memory_order_acquire);
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += arenas[i].end - arenas[i].start;
    *count = n;
    *bytes = total;
    *guarded = atomic_load(&chunks_guarded);
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_CHUNKS, &chunk_lock);
}
