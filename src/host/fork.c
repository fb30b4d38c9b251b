/* fork(): the host's locks across a fork taken at any moment. Before the fork every lock of
 * every host and heap is taken (in the host's lock order), after it they are released in the
 * parent and made anew in the child, so that the child's one thread finds every structure whole
 * and can allocate, free, create heaps and release hosts at once.
 *
 * The host's handlers are registered with pthread_atfork when the first host is created, after
 * winvmem's own (registered when the library loads): their prepare runs first, so the host's
 * locks are outer to the core's, as in every call (a heap holding its lock commits memory).
 *
 * What the child does not get back: the host thread (threads do not survive a fork), so a
 * child's hosts deliver no notifications and poll nothing; and the blocks other threads of the
 * parent had in their caches (they stay allocated in the child's copy of the heap). */
#include <time.h>
#include "heap.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static wvm_host *hosts; /* live hosts, through fork_next */
static wvm_heap *heaps; /* every heap descriptor ever made, through all_next */
static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void heap_locks(wvm_heap *hp, bool lock)
{
    if (lock) {
        pthread_rwlock_wrlock(&hp->life);
        for (int c = 0; c < WVM_NCLASS; c++)
            pthread_mutex_lock(&hp->cls[c].mu);
        pthread_mutex_lock(&hp->mu);
        pthread_mutex_lock(&hp->dbg_mu);
    } else {
        pthread_mutex_unlock(&hp->dbg_mu);
        pthread_mutex_unlock(&hp->mu);
        for (int c = WVM_NCLASS - 1; c >= 0; c--)
            pthread_mutex_unlock(&hp->cls[c].mu);
        pthread_rwlock_unlock(&hp->life);
    }
}

static void heap_remake(wvm_heap *hp)
{
    pthread_rwlock_init(&hp->life, NULL);
    for (int c = 0; c < WVM_NCLASS; c++)
        pthread_mutex_init(&hp->cls[c].mu, NULL);
    pthread_mutex_init(&hp->mu, NULL);
    pthread_mutex_init(&hp->dbg_mu, NULL);
}

/* The host's leaf locks (nothing else is taken while one is held). */
static void host_locks(wvm_host *h, bool lock)
{
    pthread_mutex_t *leaf[] = {&h->budget.mu, &h->as_mu, &h->notify.cb_mu, &h->notify.eval_mu};
    enum { N = sizeof leaf / sizeof *leaf };
    if (lock)
        for (int i = 0; i < N; i++)
            pthread_mutex_lock(leaf[i]);
    else
        for (int i = N - 1; i >= 0; i--)
            pthread_mutex_unlock(leaf[i]);
}

static void host_remake(wvm_host *h)
{
    pthread_mutex_init(&h->budget.mu, NULL);
    pthread_mutex_init(&h->as_mu, NULL);
    pthread_mutex_init(&h->notify.cb_mu, NULL);
    pthread_mutex_init(&h->notify.eval_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->budget.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&h->notify.eval_cv, NULL);
    atomic_store(&h->budget.waiters, 0);
    /* The host thread is the parent's: nothing to stop or join here, nothing to wait for. */
    wvm_notifier *n = &h->notify;
    n->started = false;
    atomic_store(&n->stop, true);
    n->evaluations = UINT64_MAX;
}

static void prepare(void)
{
    pthread_mutex_lock(&reg_mu);
    for (wvm_heap *hp = heaps; hp; hp = hp->all_next)
        heap_locks(hp, true);
    pthread_mutex_lock(&wvm__heap_map_mu); /* under a heap's mu when a segment is made */
    for (wvm_host *h = hosts; h; h = h->fork_next)
        host_locks(h, true);
    pthread_mutex_lock(&wvm__heap_pool_mu);
}

static void parent(void)
{
    pthread_mutex_unlock(&wvm__heap_pool_mu);
    for (wvm_host *h = hosts; h; h = h->fork_next)
        host_locks(h, false);
    pthread_mutex_unlock(&wvm__heap_map_mu);
    for (wvm_heap *hp = heaps; hp; hp = hp->all_next)
        heap_locks(hp, false);
    pthread_mutex_unlock(&reg_mu);
}

static void child(void)
{
    pthread_mutex_init(&wvm__heap_pool_mu, NULL);
    pthread_mutex_init(&wvm__heap_map_mu, NULL);
    for (wvm_host *h = hosts; h; h = h->fork_next)
        host_remake(h);
    for (wvm_heap *hp = heaps; hp; hp = hp->all_next)
        heap_remake(hp);
    pthread_mutex_init(&reg_mu, NULL);
}

static void register_handlers(void)
{
    pthread_atfork(prepare, parent, child);
}

void wvm__fork_add_host(wvm_host *h)
{
    pthread_once(&registered, register_handlers);
    pthread_mutex_lock(&reg_mu);
    h->fork_next = hosts;
    hosts = h;
    pthread_mutex_unlock(&reg_mu);
}

void wvm__fork_del_host(wvm_host *h)
{
    pthread_mutex_lock(&reg_mu);
    wvm_host **pp = &hosts;
    while (*pp && *pp != h)
        pp = &(*pp)->fork_next;
    if (*pp)
        *pp = h->fork_next;
    pthread_mutex_unlock(&reg_mu);
}

void wvm__fork_add_heap(wvm_heap *hp)
{
    pthread_mutex_lock(&reg_mu);
    hp->all_next = heaps;
    heaps = hp;
    pthread_mutex_unlock(&reg_mu);
}
