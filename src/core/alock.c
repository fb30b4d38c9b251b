/* The allocation lock's contended paths (alock.h). */
#include "core/alock.h"
#include "prim/linux/futex.h"

void wvm__alock_wait(wvm_alock *l)
{
    /* a short spin first: allocation locks are held across one operation's system calls */
    for (int spins = 0; spins < 100; spins++) {
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 && wvm__alock_try(l))
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    /* 2 while anyone may sleep: the unlock that sees it wakes one sleeper, which takes the
     * lock as 2 again (it cannot know whether others sleep) */
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
        wvm__prim_futex_wait(&l->word, 2);
}

void wvm__alock_wake(wvm_alock *l)
{
    wvm__prim_futex_wake_one(&l->word);
}
