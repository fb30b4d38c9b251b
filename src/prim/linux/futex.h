/* Private futexes (futex(2)) for winvmem's own 32-bit locks (core/alock.h). Both calls are
 * async-signal-safe system calls and never fail in a way the caller must handle: a wait may
 * return early (a wake, a signal, the word no longer being val), which the caller's loop
 * re-checks. */
#ifndef WVM_PRIM_FUTEX_H
#define WVM_PRIM_FUTEX_H
#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *word == val (checked atomically by the kernel). */
void wvm__prim_futex_wait(_Atomic uint32_t *word, uint32_t val);
/* Wakes one thread sleeping on word. */
void wvm__prim_futex_wake_one(_Atomic uint32_t *word);
#endif
