/* The allocation lock: one 32-bit word (a pthread_mutex_t is 40 bytes, and every allocation
 * has a lock; see index.h, wvm_alloc). 0 free, 1 held, 2 held with sleepers (futex).
 *
 * Semantics the core relies on, the same as a default pthread mutex's: not recursive; trylock
 * and unlock are async-signal-safe (the fault dispatcher's acquire_in_signal, core/guard.c);
 * lock may sleep. Unlike a pthread mutex it has no owner: the fork handlers (index.c) lock every
 * descriptor before fork and unlock them in the parent and in the child, as before.
 * ThreadSanitizer: the edges are acquire (trylock, lock) and release (unlock) atomics, which its
 * happens-before model follows; it sees no mutex (no lock-order reports for these locks). */
#ifndef WVM_ALOCK_H
#define WVM_ALOCK_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wvm_alock {
    _Atomic uint32_t word;
} wvm_alock;

static inline bool wvm__alock_try(wvm_alock *l)
{
    uint32_t free_word = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

void wvm__alock_wait(wvm_alock *l); /* the contended path of wvm__alock_lock */
void wvm__alock_wake(wvm_alock *l); /* the contended path of wvm__alock_unlock */

static inline void wvm__alock_lock(wvm_alock *l)
{
    if (!wvm__alock_try(l))
        wvm__alock_wait(l);
}

static inline void wvm__alock_unlock(wvm_alock *l)
{
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
        wvm__alock_wake(l);
}
#endif
