/* Three-bag epoch scheme: objects retired during epoch E go to bag E % 3; the epoch advances
 * only when every active reader has seen it, and on the advance to E + 1 the bag retired at
 * E - 2 is freed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/ebr.h"
#include "core/fork.h"
#include "core/meta.h"
#include "prim/linux/prim.h"

typedef struct reader {
    _Atomic uint64_t epoch; /* 0 = outside any critical section */
    _Atomic int taken;
    unsigned depth; /* sections nest; only the outermost announces and retracts */
    struct reader *next;
} reader;

static _Atomic uint64_t global_epoch = 1;
static _Atomic(reader *) readers;
static pthread_mutex_t bag_lock = PTHREAD_MUTEX_INITIALIZER;
static wvm_retired *bags[3];
static unsigned retired_since_advance;

static pthread_key_t reader_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static WVM_THREAD reader *self;
static WVM_THREAD bool keyed; /* self is the value of reader_key (released at thread exit) */

static void reader_exit(void *r)
{
    self = NULL; /* runs on the exiting thread: a later call takes a record again */
    keyed = false;
    ((reader *)r)->depth = 0;
    atomic_store(&((reader *)r)->epoch, 0);
    atomic_store(&((reader *)r)->taken, 0);
}

static void make_key(void)
{
    pthread_key_create(&reader_key, reader_exit);
}

/* pthread_setspecific may calloc (glibc, keys >= 32): in signal context the record is taken
 * without it, only for the section (wvm__ebr_exit gives it back), since nothing would give it
 * back at thread exit. The thread's next section in normal context keys one. */
static reader *register_reader(void)
{
    pthread_once(&key_once, make_key);
    for (reader *r = atomic_load(&readers); r && !self; r = r->next) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&r->taken, &zero, 1))
            self = r;
    }
    if (!self) {
        reader *r = wvm__meta_zalloc(sizeof *r);
        if (!r)
            abort(); /* 32 bytes once per thread; nothing sensible to fall back to */
        atomic_store(&r->taken, 1);
        reader *head = atomic_load(&readers);
        do
            r->next = head;
        while (!atomic_compare_exchange_weak(&readers, &head, r));
        self = r;
    }
    if (!wvm__in_signal())
        keyed = !pthread_setspecific(reader_key, self);
    return self;
}

void wvm__ebr_enter(void)
{
    reader *r = self;
    if (__builtin_expect(!keyed, 0))
        r = register_reader();
    if (r->depth++)
        return;
    uint64_t e;
    do { /* seq_cst store, then re-check: the epoch we announce is one the writers can see */
        e = atomic_load(&global_epoch);
        atomic_store(&r->epoch, e);
    } while (atomic_load(&global_epoch) != e);
}

void wvm__ebr_exit(void)
{
    reader *r = self;
    if (--r->depth)
        return;
    atomic_store_explicit(&r->epoch, 0, memory_order_release);
    if (__builtin_expect(!keyed, 0)) { /* taken in signal context: see register_reader */
        self = NULL;
        atomic_store_explicit(&r->taken, 0, memory_order_release);
    }
}

/* A mapping to unmap (wvm__ebr_retire_unmap): its record's bytes carry UNMAP. */
#define UNMAP ((size_t)1 << (8 * sizeof(size_t) - 1))
typedef struct unmap_rec {
    wvm_retired hdr;
    void *addr;
    size_t len;
} unmap_rec;

static void free_bag(wvm_retired *list)
{
    while (list) {
        wvm_retired *next = list->next;
        if (list->bytes & UNMAP) {
            unmap_rec *u = (unmap_rec *)list;
            wvm__prim_unmap(u->addr, u->len);
            list->bytes &= ~UNMAP;
        }
        wvm__meta_free(list, list->bytes);
        list = next;
    }
}

/* Called with bag_lock held. */
static void try_advance(void)
{
    uint64_t e = atomic_load(&global_epoch);
    for (reader *r = atomic_load(&readers); r; r = r->next) {
        uint64_t re = atomic_load(&r->epoch);
        if (re && re != e)
            return;
    }
    wvm_retired *old = bags[(e + 1) % 3];
    bags[(e + 1) % 3] = NULL;
    atomic_store(&global_epoch, e + 1);
    retired_since_advance = 0;
    free_bag(old);
}

void wvm__ebr_retire_chain(wvm_retired *first, wvm_retired *last, unsigned n)
{
    pthread_mutex_lock(&bag_lock);
    uint64_t e = atomic_load(&global_epoch);
    last->next = bags[e % 3];
    bags[e % 3] = first;
    retired_since_advance += n;
    if (retired_since_advance >= 32)
        try_advance();
    pthread_mutex_unlock(&bag_lock);
}

void wvm__ebr_retire(wvm_retired *obj, size_t bytes)
{
    obj->bytes = bytes;
    wvm__ebr_retire_chain(obj, obj, 1);
}

void wvm__ebr_retire_unmap(void *addr, size_t len)
{
    unmap_rec *u = wvm__meta_alloc(sizeof *u);
    if (!u)
        return;
    u->addr = addr;
    u->len = len;
    u->hdr.bytes = sizeof *u | UNMAP;
    wvm__ebr_retire_chain(&u->hdr, &u->hdr, 1);
}

/* The child has one thread: the records of the others are free again (one of them may have
 * been inside a section at the fork, which would hold the epoch back for good). */
static void fork_epochs(enum wvm_fork_phase phase)
{
    if (phase == WVM_FORK_PREPARE) {
        pthread_mutex_lock(&bag_lock);
        return;
    }
    if (phase == WVM_FORK_CHILD)
        for (reader *r = atomic_load(&readers); r; r = r->next)
            if (r != self) {
                r->depth = 0;
                atomic_store(&r->epoch, 0);
                atomic_store(&r->taken, 0);
            }
    pthread_mutex_unlock(&bag_lock);
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register(WVM_FORK_RANK_EPOCHS, fork_epochs);
}
