/* The allocation lifecycle (core/space.h): reserve, acquire, release, over the index
 * (core/index.h) and the page operations (core/pages.h, guard.h). */
#include "core/deferred.h"
#include "core/guard.h"
#include "core/ledger.h"
#include "core/numa.h"
#include "core/radix.h"
#include "core/space.h"
#include "prim/linux/prim.h"

/* Gives back a staged allocation that was never born: its backend's setup (set_up: the hook
 * ran), its place, its pending index entries, its descriptor. Nothing of it is committed. */
static void unstage(wvm_alloc *a, bool set_up)
{
    wvm_snap *s = a->cur;
    wvm__alloc_forget_deferred(a);
    if (set_up && wvm__alloc_backend(a)->on_release)
        wvm__alloc_backend(a)->on_release(a, s);
    wvm__numa_forget(s, a->in_arena);
    if (!a->in_arena) /* first: a mapping without index entries would look foreign */
        wvm__prim_unmap((void *)s->base, s->size);
    wvm__index_unstage(a);
    wvm__guard_release(s->guards);
    wvm__snap_free(s);
}

uint32_t wvm__space_reserve_req(const wvm_reserve_req *r, uintptr_t *out)
{
    const wvm_backend *be = r->be;
    bool set_up = be && be->on_reserve;
    wvm_alloc *a;
    /* nothing to set up: born in the same placement section */
    bool born_now = !r->commit && !set_up && !r->fill;
    uint32_t err = wvm__index_stage(r, born_now, &a);
    if (err)
        return err;
    uintptr_t base = a->cur->base;
    if (born_now) {
        wvm__alock_unlock(&a->lock);
        *out = base;
        return 0;
    }
    /* staged: the kernel part, the backend's setup and the commit stay invisible until the
     * birth, so the allocation appears reserved and committed at one instant, or not at all */
    int e = r->fill ? r->fill(r->ctx, base, r->size, a->in_arena) : 0;
    if (e) {
        unstage(a, false);
        return wvm__err_from_errno(e);
    }
    err = set_up ? be->on_reserve(a) : 0;
    if (!err && r->commit)
        err = wvm__alloc_commit(a, 0, wvm__snap_pages(a->cur), r->commit);
    if (err) {
        unstage(a, set_up);
        return err;
    }
    wvm__index_birth(a);
    /* the commit's widening steps: after the birth (core/pages.c); if the kernel refuses, the
     * allocation dies again (a racing query may have seen it: pages.c says when) */
    if ((err = wvm__alloc_widen_deferred(a))) {
        /* release takes an allocation acquired (counted in wvm__alloc_locks_held), and a's
         * lock was taken by the staging, which counts nothing */
        wvm__alloc_locks_held++;
        wvm__alloc_release(a); /* it unlocks a */
        return err;
    }
    wvm__alock_unlock(&a->lock);
    *out = base;
    return 0;
}

uint32_t wvm__space_reserve_with(uintptr_t want, size_t size, uint32_t type, uint32_t prot,
                                 uint32_t commit, const wvm_backend *be, uintptr_t *out)
{
    wvm_reserve_req r = {
        .want = want, .size = size, .type = type, .prot = prot, .commit = commit, .be = be};
    return wvm__space_reserve_req(&r, out);
}

static wvm_alloc *acquire(uintptr_t addr, bool *busy)
{
    for (;;) {
        wvm_alloc *a = wvm__radix_get(addr);
        if (!a)
            return NULL;
        if (!busy) {
            wvm__alock_lock(&a->lock);
        } else if (!wvm__alock_try(&a->lock)) {
            *busy = true;
            return NULL;
        }
        if (!wvm__alloc_indexed(a, addr))
            continue; /* a stale entry: a died (and may live again) meanwhile */
        wvm_snap *s = wvm__alloc_snap(a);
        if (s && addr >= s->base && addr - s->base < s->size) {
            wvm__alloc_locks_held++;
            wvm__guard_fold(a); /* guards consumed by faults since the last operation */
            const wvm_backend *be = wvm__alloc_backend(a);
            if (be && be->sync)
                be->sync(a);
            return a;
        }
        wvm__alock_unlock(&a->lock);
        return NULL; /* the granule tail past the allocation's last page */
    }
}

wvm_alloc *wvm__space_acquire(uintptr_t addr)
{
    return acquire(addr, NULL);
}

wvm_alloc *wvm__space_try_acquire(uintptr_t addr, bool *busy)
{
    *busy = false;
    return acquire(addr, busy);
}

uint32_t wvm__space_release(uintptr_t base)
{
    wvm_alloc *a = wvm__space_acquire(base);
    if (!a)
        return WVM_ERROR_INVALID_ADDRESS;
    if (wvm__alloc_snap(a)->base != base) {
        wvm__space_unlock(a);
        return WVM_ERROR_INVALID_PARAMETER;
    }
    return wvm__alloc_release(a);
}

uint32_t wvm__alloc_release(wvm_alloc *a)
{
    wvm_snap *s = wvm__alloc_snap(a);
    uintptr_t base = s->base;
    const wvm_backend *be = wvm__alloc_backend(a);
    /* staged: readers see the allocation as it was until it dies, never half decommitted */
    a->staged = true;
    uint32_t err = 0;
    if (be && be->release_span)
        err = wvm__err_from_errno(
            be->release_span(base, s->size, wvm__alloc_footprint(a), a->in_arena));
    else if (s->committed && wvm__alloc_sparse(a) && !be &&
             !wvm__snap_any(s, 0, wvm__snap_pages(s), WVM_LOCKED) &&
             !wvm__prim_replace_none((void *)base, wvm__alloc_footprint(a)))
        wvm__ledger_uncharge(s->committed * WVM_PAGE); /* one call instead of one per run */
    else if (s->committed)
        err = wvm__alloc_decommit(a, 0, wvm__snap_pages(s));
    if (!err && be && be->on_release)
        err = be->on_release(a, wvm__alloc_snap(a));
    if (err) { /* what did happen (a hook's refusal after the decommit) becomes visible */
        a->staged = false;
        wvm__alloc_publish(a, wvm__alloc_snap(a));
        wvm__space_unlock(a);
        return err;
    }
    s = wvm__alloc_snap(a);
    wvm_guardmap *guards = s->guards;
    bool reusable = !a->guard_mode || wvm__alloc_widen_under(a);
    wvm__numa_forget(s, a->in_arena);
    wvm__index_death(a, reusable);
    wvm__guard_release(guards);
    return 0;
}
