/* PAGE_READONLY by userfaultfd write-protect; see wp.h. */
#include <errno.h>

#include "core/wp.h"
#include "core/fork.h"
#include "prim/linux/uffd.h"

static uint32_t this_process(void)
{
    return wvm__fork_generation() + 1;
}

static uint32_t registered(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c ? c->wp_registered : 0;
}

static uint32_t refused(const wvm_alloc *a)
{
    wvm_alloc_cold *c = wvm__alloc_cold(a);
    return c ? c->wp_refused : 0;
}

uint32_t wvm__wp_fix(const wvm_alloc *a, uint32_t attr)
{
    const uint32_t keep_off = WVM_PAGE_GUARD | WVM_ATTR_LOCKED | WVM_ATTR_RESET | WVM_ATTR_OFFERED;
    /* a stashed page stays so while it stays marked (wvm__mark_prepare stashes others) */
    uint32_t stashed = attr & WVM_ATTR_STASH;
    attr &= ~(WVM_ATTR_WP | WVM_ATTR_MARK | WVM_ATTR_STASH);
    if (refused(a) == this_process())
        return attr;
    if ((attr & 0xFFu) == WVM_PAGE_READONLY && !(attr & keep_off) && a->guard_mode &&
        !wvm__alloc_backend(a) && wvm__prim_ro_available())
        return attr | WVM_ATTR_WP;
    return wvm__mark_wanted(a, attr) ? attr | WVM_ATTR_MARK | stashed : attr;
}

static uint32_t strip(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~(WVM_ATTR_WP | WVM_ATTR_MARK | WVM_ATTR_STASH);
}

int wvm__wp_register(wvm_alloc *a)
{
    if (registered(a) == this_process())
        return 0;
    if (wvm__alloc_cold_get(a))
        return ENOMEM;
    const wvm_snap *s = wvm__alloc_snap(a);
    int err = wvm__prim_ro_register((void *)s->base, s->size);
    if (!err)
        wvm__alloc_cold(a)->wp_registered = this_process();
    return err;
}

uint32_t wvm__wp_prepare(wvm_alloc *a, wvm_snap **to, uint64_t first, uint64_t count)
{
    if (!wvm__snap_any(*to, first, count, (wvm_pred){WVM_ATTR_WP | WVM_ATTR_MARK, 0, false}))
        return 0; /* no page write-protected or marked: one walk */
    const wvm_snap *s = *to;
    if (registered(a) != this_process()) {
        if (wvm__alloc_cold_get(a)) /* where the registration is recorded */
            return WVM_ERROR_NOT_ENOUGH_MEMORY;
        if (wvm__prim_ro_register((void *)s->base, s->size)) {
            wvm_snap *plain = wvm__snap_map(*to, first, count, strip, NULL);
            if (!plain)
                return WVM_ERROR_NOT_ENOUGH_MEMORY;
            wvm__alloc_cold(a)->wp_refused = this_process();
            wvm__snap_free(*to);
            *to = plain;
            return 0;
        }
        wvm__alloc_cold(a)->wp_registered = this_process();
    }
    return wvm__mark_prepare(a, to, first, count, true);
}

static uint32_t strip_wp(uint32_t old, void *ctx)
{
    (void)ctx;
    return old & ~WVM_ATTR_WP;
}

static int reprotect(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    const wvm_snap *s = ctx;
    return (attr & WVM_ATTR_WP) &&
           wvm__prim_ro_protect((void *)(s->base + first * WVM_PAGE), count * WVM_PAGE, true);
}

static int read_only(uint64_t first, uint64_t count, uint32_t attr, void *ctx)
{
    const wvm_snap *s = ctx;
    if (attr & WVM_ATTR_WP)
        wvm__prim_protect((void *)(s->base + first * WVM_PAGE), count * WVM_PAGE, WVM_P_READ);
    return 0;
}

/* In the child of a fork: a's write-protected pages are protected again (the child's page
 * tables lost the bits), with mprotect where that fails. a locked. */
static void after_fork(wvm_alloc *a)
{
    wvm_snap *s = wvm__alloc_snap(a);
    if (!registered(a) || !s) /* (registered: the cold part exists) */
        return;
    uint64_t pages = wvm__snap_pages(s);
    if (!wvm__snap_any(s, 0, pages, WVM_WRITE_PROTECTED)) {
        /* stashed pages come back by UFFDIO_COPY, on a registered range (also in a signal
         * handler, which cannot register) */
        if (wvm__snap_any(s, 0, pages, WVM_STASHED) &&
            !wvm__prim_ro_register((void *)s->base, s->size))
            wvm__alloc_cold(a)->wp_registered = this_process();
        return;
    }
    if (!wvm__prim_ro_register((void *)s->base, s->size) &&
        !wvm__snap_each(s, 0, pages, reprotect, s)) {
        wvm__alloc_cold(a)->wp_registered = this_process();
        return;
    }
    /* the mprotect fallback for this allocation, in the kernel and in the model */
    wvm__alloc_cold(a)->wp_refused = this_process();
    wvm__snap_each(s, 0, pages, read_only, s);
    wvm_snap *plain = wvm__snap_map(s, 0, pages, strip_wp, NULL); /* markers survive fork */
    if (plain)
        wvm__alloc_publish(a, plain);
}

static void rearm(wvm_alloc *a, void *ctx)
{
    (void)ctx;
    if (registered(a) && wvm__alloc_trylock(a)) { /* the child's only thread: all free */
        after_fork(a);
        wvm__space_unlock(a);
    }
}

/* Runs in the child after space's handler gave the locks back, while the child still has one
 * thread (pthread_atfork's child handlers run before fork returns). */
static void wp_fork(enum wvm_fork_phase phase)
{
    if (phase == WVM_FORK_CHILD)
        wvm__space_each(rearm, NULL);
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register(WVM_FORK_RANK_WP, wp_fork);
}
