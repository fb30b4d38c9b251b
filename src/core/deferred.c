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

/* Whose steps wait, per thread: kept steps live from a staged change to the end of the same
 * operation, under the allocation's lock, on the thread that holds it (not in the descriptor:
 * a 64-byte descriptor has no room for a field this rarely set). Several entries: a vectored
 * handler staging a change meanwhile. All taken: not kept (the caller's fallback, as on
 * ENOMEM). */
enum { PENDING = 4 };
static WVM_THREAD struct {
    const wvm_alloc *a;
    wvm_deferred *d;
} pending[PENDING];

/* a's entry, or with NULL a free one; -1: none */
static int pending_of(const wvm_alloc *a)
{
    for (int i = 0; i < PENDING; i++)
        if (pending[i].a == a)
            return i;
    return -1;
}

bool wvm__deferred_pending(const wvm_alloc *a)
{
    return pending_of(a) >= 0;
}

static size_t deferred_bytes(size_t n)
{
    return sizeof(wvm_deferred) + n * sizeof(wvm_step);
}

bool wvm__deferred_keep(wvm_alloc *a, const wvm_step *s, size_t n)
{
    int slot = pending_of(NULL);
    if (slot < 0)
        return false;
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
    pending[slot].a = a;
    pending[slot].d = d;
    return true;
}

void wvm__deferred_hooks(wvm_alloc *a, bool fresh, uint64_t first, uint64_t count)
{
    wvm_deferred *d = pending[pending_of(a)].d;
    d->hooks = true;
    d->fresh = fresh;
    d->first = first;
    d->count = count;
}

/* a's pending steps, no longer pending (NULL: none); give them back with drop_deferred. */
static wvm_deferred *take_deferred(wvm_alloc *a)
{
    int slot = pending_of(a);
    if (slot < 0)
        return NULL;
    wvm_deferred *d = pending[slot].d;
    pending[slot].a = NULL;
    pending[slot].d = NULL;
    return d;
}

static void drop_deferred(wvm_deferred *d)
{
    if (d->heap)
        wvm__meta_free(d, deferred_bytes(d->n));
    else
        local_used = false;
}

uint32_t wvm__alloc_widen_deferred(wvm_alloc *a)
{
    wvm_deferred *d = take_deferred(a);
    if (!d)
        return 0;
    const wvm_backend *be = wvm__alloc_backend(a);
    uint32_t werr = wvm__err_from_errno(wvm__steps_run(d->s, d->n));
    if (!werr && d->hooks && d->fresh && be->after_commit)
        werr = be->after_commit(a, NULL, d->first, d->count);
    if (!werr && d->hooks && be->after_change)
        werr = be->after_change(a, d->first, d->count);
    drop_deferred(d);
    return werr;
}

void wvm__alloc_forget_deferred(wvm_alloc *a)
{
    wvm_deferred *d = take_deferred(a);
    if (d)
        drop_deferred(d);
}
