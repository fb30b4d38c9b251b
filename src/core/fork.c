/* fork(): the handler table and the pthread_atfork hooks (see fork.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/fork.h"
#include "prim/linux/prim.h"

#define MAX_HANDLERS 32

typedef struct handler {
    int rank;
    void (*fn)(enum wvm_fork_phase phase); /* or NULL: */
    pthread_mutex_t *lock;
} handler;

static handler table[MAX_HANDLERS];
static _Atomic int count; /* entries below are complete */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t generation;

static void run(const handler *h, enum wvm_fork_phase phase)
{
    if (h->fn)
        h->fn(phase);
    else if (phase == WVM_FORK_PREPARE)
        pthread_mutex_lock(h->lock);
    else
        pthread_mutex_unlock(h->lock);
}

static void prepare(void)
{
    pthread_mutex_lock(&table_lock); /* no registration while the handlers run */
    int n = atomic_load(&count);
    for (int i = 0; i < n; i++)
        run(&table[i], WVM_FORK_PREPARE);
}

static void after(enum wvm_fork_phase phase)
{
    for (int i = atomic_load(&count) - 1; i >= 0; i--)
        run(&table[i], phase);
    pthread_mutex_unlock(&table_lock);
}

static void parent(void)
{
    after(WVM_FORK_PARENT);
}

static void child(void)
{
    atomic_fetch_add(&generation, 1);
    after(WVM_FORK_CHILD);
}

static void prim_fork(enum wvm_fork_phase phase)
{
    int p = phase == WVM_FORK_PREPARE  ? WVM_PRIM_FORK_PREPARE
            : phase == WVM_FORK_PARENT ? WVM_PRIM_FORK_PARENT
                                       : WVM_PRIM_FORK_CHILD;
    wvm__prim_uffd_fork(p);
    wvm__prim_ro_fork(p);
    wvm__prim_pagemap_fork(p);
    wvm__prim_maps_fork(p);
    wvm__prim_selfmem_fork(p);
}

static void install(void)
{
    if (pthread_atfork(prepare, parent, child))
        abort(); /* ENOMEM at start-up: a fork could deadlock the child; nothing to fall back to */
    table[0] = (handler){WVM_FORK_RANK_PRIM, prim_fork, NULL}; /* prim cannot register itself */
    atomic_store(&count, 1);
}

static void add(handler h)
{
    pthread_once(&hooks_once, install);
    pthread_mutex_lock(&table_lock);
    int n = atomic_load(&count), at = n;
    for (int i = 0; i < n; i++)
        if (table[i].fn == h.fn && table[i].lock == h.lock) {
            pthread_mutex_unlock(&table_lock);
            return;
        }
    if (n == MAX_HANDLERS)
        abort(); /* a fixed set of modules registers: more is a programming error */
    while (at > 0 && table[at - 1].rank > h.rank) {
        table[at] = table[at - 1];
        at--;
    }
    table[at] = h;
    atomic_store(&count, n + 1);
    pthread_mutex_unlock(&table_lock);
}

void wvm__fork_register(int rank, void (*fn)(enum wvm_fork_phase phase))
{
    add((handler){rank, fn, NULL});
}

void wvm__fork_register_lock(int rank, pthread_mutex_t *lock)
{
    add((handler){rank, NULL, lock});
}

uint32_t wvm__fork_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_relaxed);
}
