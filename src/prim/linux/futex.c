/* Private futexes; see futex.h. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prim/linux/futex.h"

void wvm__prim_futex_wait(_Atomic uint32_t *word, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void wvm__prim_futex_wake_one(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
