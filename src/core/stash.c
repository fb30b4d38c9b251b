/* Data of NOACCESS/PAGE_GUARD pages kept aside under guard markers; see stash.h. */
#include <errno.h>

#include "core/stash.h"
#include "core/arena.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"
#include "prim/linux/uffd.h"

bool wvm__stash_ready(uintptr_t base)
{
    return wvm__prim_mark_data_available() && wvm__arena_stash(base, true);
}

/* Not instrumented, and no memcpy call a sanitizer intercepts: the application's pages are
 * not ours to track (as mark.c's zero check). */
__attribute__((no_sanitize("address", "thread", "undefined")))
#if defined(__clang__)
__attribute__((no_builtin("memcpy")))
#elif defined(__GNUC__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void
copy_pages(uintptr_t to, uintptr_t from, size_t len)
{
    uint64_t *d = (uint64_t *)to;
    const uint64_t *s = (const uint64_t *)from;
    for (size_t i = 0; i < len / sizeof *d; i++)
        d[i] = s[i];
}

int wvm__stash_copy(uintptr_t addr, size_t len)
{
    uintptr_t st = wvm__arena_stash(addr, false);
    if (!st)
        return ENOMEM;
    copy_pages(st, addr, len);
    return 0;
}

void wvm__stash_put_back(uintptr_t addr, size_t len, int prot)
{
    /* stores wait for the lock from here: write-protected, or read-only where the range is
     * not registered (the fallback of wvm__stash_take) */
    if ((prot & WVM_P_WRITE) && wvm__prim_ro_protect_back((void *)addr, len, true))
        wvm__prim_protect((void *)addr, len, prot & ~WVM_P_WRITE);
    if (wvm__stash_copy(addr, len))
        return; /* (cannot happen: the data came from there) */
    bool bracket = !wvm__prim_protect((void *)addr, len, WVM_P_NONE);
    wvm__prim_guard_install((void *)addr, len);
    if (bracket)
        wvm__prim_protect((void *)addr, len, prot);
}

/* UFFDIO_COPY cannot fill a range this process has not registered (ENOENT), nor without a
 * userfaultfd of its own (ENOSYS): a fork child whose registration failed. */
static bool unregistered(int err)
{
    return err == ENOENT || err == ENOSYS;
}

static int take(uintptr_t addr, size_t len, bool wp, int prot,
                int (*fill)(void *, const void *, size_t, bool))
{
    uintptr_t st = wvm__arena_stash(addr, false);
    int err = st ? fill((void *)addr, (const void *)st, len, wp) : ENOMEM;
    if (unregistered(err) && !wp)
        err = wvm__prim_place_copy((void *)addr, (const void *)st, len, prot);
    if (!err)
        wvm__prim_discard((void *)st, len);
    return err;
}

int wvm__stash_take(uintptr_t addr, size_t len, bool wp, int prot)
{
    return take(addr, len, wp, prot, wvm__prim_ro_fill);
}

int wvm__stash_fill_back(uintptr_t addr, size_t len, bool wp)
{
    uintptr_t st = wvm__arena_stash(addr, false);
    return st ? wvm__prim_ro_fill_back((void *)addr, (const void *)st, len, wp) : ENOMEM;
}

int wvm__stash_sig_take(uintptr_t addr, size_t len)
{
    uintptr_t st = wvm__arena_stash(addr, false);
    int err = st ? wvm__prim_sig_ro_fill((void *)addr, (const void *)st, len, false) : ENOMEM;
    if (unregistered(err))
        err = wvm__prim_place_copy((void *)addr, (const void *)st, len, WVM_P_RW);
    if (!err)
        wvm__prim_sig_discard((void *)st, len);
    return err;
}

void wvm__stash_drop(uintptr_t addr, size_t len)
{
    uintptr_t st = wvm__arena_stash(addr, false);
    if (st)
        wvm__prim_discard((void *)st, len);
}
