/* Widening steps of staged changes: see deferred.h. */
#include "core/deferred.h"

#include "core/meta.h"

typedef struct wvm_deferred {
    size_t n;
    bool heap;             /* else the thread's own buffer */
    bool hooks;            /* a commit's: the backend's hooks follow the widening */
    bool fresh;            /* ...and it committed pages that were not (after_commit) */
    uint64_t first, count; /* ...of this range */
    wvm_step s[];
} wvm_deferred;

/* A thread stages one change at a time, of few steps (RESERVE | MEM_COMMIT: one): those need
 * no allocation. A change staged by a vectored handler meanwhile takes the heap. */
enum { LOCAL_STEPS = 4 };
static WVM_THREAD union {
    wvm_deferred d;
    unsigned char bytes[sizeof(wvm_deferred) + LOCAL_STEPS * sizeof(wvm_step)];
} local_deferred;
static WVM_THREAD bool local_used;

static size_t deferred_bytes(size_t n)
{
    return sizeof(wvm_deferred) + n * sizeof(wvm_step);
}

bool wvm__deferred_keep(wvm_alloc *a, const wvm_step *s, size_t n)
{
    bool local = n <= LOCAL_STEPS && !local_used;
    wvm_deferred *d = local ? &local_deferred.d : wvm__meta_alloc(deferred_bytes(n));
    if (!d)
        return false;
    local_used |= local;
    d->heap = !local;
    d->hooks = d->fresh = false;
    d->n = n;
    for (size_t i = 0; i < n; i++)
        d->s[i] = s[i];
    a->deferred = d;
    return true;
}

void wvm__deferred_hooks(wvm_alloc *a, bool fresh, uint64_t first, uint64_t count)
{
    wvm_deferred *d = a->deferred;
    d->hooks = true;
    d->fresh = fresh;
    d->first = first;
    d->count = count;
}

static uint32_t take_deferred(wvm_alloc *a, bool run)
{
    wvm_deferred *d = a->deferred;
    if (!d)
        return 0;
    a->deferred = NULL;
    const wvm_backend *be = a->backend;
    int err = run ? wvm__steps_run(d->s, d->n) : 0;
    uint32_t werr = wvm__err_from_errno(err);
    if (run && !werr && d->hooks && d->fresh && be->after_commit)
        werr = be->after_commit(a, NULL, d->first, d->count);
    if (run && !werr && d->hooks && be->after_change)
        werr = be->after_change(a, d->first, d->count);
    if (d->heap)
        wvm__meta_free(d, deferred_bytes(d->n));
    else
        local_used = false;
    return werr;
}

uint32_t wvm__alloc_widen_deferred(wvm_alloc *a)
{
    return take_deferred(a, true);
}

void wvm__alloc_forget_deferred(wvm_alloc *a)
{
    take_deferred(a, false);
}
