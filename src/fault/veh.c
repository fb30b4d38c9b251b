/* The vectored exception handler list. Writers (add, remove) take a mutex; the dispatcher
 * walks the list lock-free in signal context. Removed nodes are unlinked but never freed (a
 * dispatcher on another thread may be standing on one); they are few and small. */
#include <pthread.h>
#include <stdatomic.h>

#include "core/meta.h"
#include "core/fork.h"
#include "fault/fault.h"

typedef struct veh {
    wvm_PVECTORED_EXCEPTION_HANDLER fn;
    _Atomic(struct veh *) next;
    _Atomic int live;
} veh;

static _Atomic(veh *) head;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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
    int found = 0;
    pthread_mutex_lock(&lock);
    for (_Atomic(veh *) *link = &head; atomic_load(link); link = &atomic_load(link)->next) {
        veh *v = atomic_load(link);
        if (v == handle) {
            atomic_store(&v->live, 0);
            atomic_store_explicit(link, atomic_load(&v->next), memory_order_release);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

int32_t wvm__veh_dispatch(wvm_EXCEPTION_POINTERS *ep)
{
    for (veh *v = atomic_load_explicit(&head, memory_order_acquire); v;
         v = atomic_load_explicit(&v->next, memory_order_acquire)) {
        if (atomic_load(&v->live) && v->fn(ep) == WVM_EXCEPTION_CONTINUE_EXECUTION)
            return WVM_EXCEPTION_CONTINUE_EXECUTION;
    }
    return WVM_EXCEPTION_CONTINUE_SEARCH;
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_VEH, &lock);
}
