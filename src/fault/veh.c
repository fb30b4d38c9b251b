/* The vectored exception handler list. Writers (add, remove) take a mutex; the dispatcher
 * reads the list lock-free in signal context, inside epoch sections (core/ebr.h). A removed
 * node is unlinked, then retired: it is freed once every dispatcher that could be standing on
 * it has left its section. A dispatcher may still call a handler that another thread removes
 * during the walk (as on Windows); it never calls one removed before the walk reached it.
 *
 * Handlers are called outside any section, holding nothing of winvmem's: a handler may leave
 * by siglongjmp (runtimes throw out of faults; fault.h). The dispatcher copies a batch of
 * handlers inside a section, leaves it, and calls them; a handler of the batch is called only
 * if no removal happened since the copy, or if it is still listed (looked up by address, never
 * read: its node may be freed). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/ebr.h"
#include "core/fork.h"
#include "core/meta.h"
#include "fault/fault.h"

typedef struct veh {
    wvm_retired retired; /* first: the node is given to wvm__ebr_retire */
    wvm_PVECTORED_EXCEPTION_HANDLER fn;
    _Atomic(struct veh *) next;
    _Atomic int live;
} veh;

static _Atomic(veh *) head;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Incremented by every removal before it returns: a dispatcher that sees it unchanged since
 * its copy knows every handler of the copy is still listed. */
static _Atomic uint64_t removals;

void *wvm__veh_add(int first, wvm_PVECTORED_EXCEPTION_HANDLER fn)
{
    veh *v = wvm__meta_alloc(sizeof *v);
    if (!v)
        return NULL;
    v->fn = fn;
    atomic_init(&v->live, 1);
    atomic_init(&v->next, NULL);
    pthread_mutex_lock(&lock);
    _Atomic(veh *) *link = &head;
    if (first)
        atomic_store(&v->next, atomic_load(&head));
    else
        while (atomic_load(link))
            link = &atomic_load(link)->next;
    atomic_store_explicit(link, v, memory_order_release);
    pthread_mutex_unlock(&lock);
    return v;
}

int wvm__veh_remove(void *handle)
{
    veh *found = NULL;
    pthread_mutex_lock(&lock);
    for (_Atomic(veh *) *link = &head; atomic_load(link); link = &atomic_load(link)->next) {
        veh *v = atomic_load(link);
        if (v == handle) {
            atomic_store(&v->live, 0);
            /* v->next stays: a dispatcher standing on v walks on from it */
            atomic_store_explicit(link, atomic_load(&v->next), memory_order_release);
            found = v;
            break;
        }
    }
    if (found)
        atomic_fetch_add(&removals, 1);
    pthread_mutex_unlock(&lock);
    /* Unlinked: no later walk reaches it, and remove no longer finds it. Retired outside the
     * lock (the epochs' own lock is not nested in ours). */
    if (found)
        wvm__ebr_retire(&found->retired, sizeof *found);
    return found != NULL;
}

enum { BATCH = 8 };

typedef struct pick {
    const veh *node; /* compared, never read outside a section */
    wvm_PVECTORED_EXCEPTION_HANDLER fn;
} pick;

/* The node listed at p's address with p's handler, or NULL. Inside a section. */
static veh *find(const pick *p)
{
    for (veh *v = atomic_load_explicit(&head, memory_order_acquire); v;
         v = atomic_load_explicit(&v->next, memory_order_acquire))
        if (v == p->node)
            return v->fn == p->fn && atomic_load(&v->live) ? v : NULL;
    return NULL;
}

static bool still_listed(const pick *p)
{
    wvm__ebr_enter();
    bool listed = find(p) != NULL;
    wvm__ebr_exit();
    return listed;
}

/* Copies up to BATCH live handlers into out: from the head, or after `last` (the final one of
 * the previous batch; when it was removed since, after the first `taken` handlers). */
static unsigned collect(pick *out, const pick *last, unsigned taken)
{
    unsigned n = 0;
    wvm__ebr_enter();
    veh *v = atomic_load_explicit(&head, memory_order_acquire);
    if (last) {
        veh *at = find(last);
        if (at) {
            v = atomic_load_explicit(&at->next, memory_order_acquire);
        } else {
            for (unsigned i = 0; v && i < taken; i++)
                v = atomic_load_explicit(&v->next, memory_order_acquire);
        }
    }
    for (; v && n < BATCH; v = atomic_load_explicit(&v->next, memory_order_acquire))
        if (atomic_load(&v->live))
            out[n++] = (pick){v, v->fn};
    wvm__ebr_exit();
    return n;
}

int32_t wvm__veh_dispatch(wvm_EXCEPTION_POINTERS *ep)
{
    pick batch[BATCH], last;
    unsigned n, taken = 0;
    do {
        uint64_t seen = atomic_load(&removals);
        n = collect(batch, taken ? &last : NULL, taken);
        for (unsigned i = 0; i < n; i++) {
            if (atomic_load(&removals) != seen && !still_listed(&batch[i]))
                continue; /* removed since the copy */
            if (batch[i].fn(ep) == WVM_EXCEPTION_CONTINUE_EXECUTION)
                return WVM_EXCEPTION_CONTINUE_EXECUTION;
        }
        taken += n;
        if (n)
            last = batch[n - 1];
    } while (n == BATCH);
    return WVM_EXCEPTION_CONTINUE_SEARCH;
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_VEH, &lock);
}
