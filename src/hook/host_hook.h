/* The narrow hooks the host memory manager (src/host/) stands on besides the public headers.
 * Not installed; src/host may include this header and <winvmem/...> only. Everything here is
 * exported from the library with a wvm__ name (hidden visibility). */
#ifndef WVM_HOST_HOOK_H
#define WVM_HOST_HOOK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- the pressure source and the wake-up (src/prim/linux/pressure.c) ----------------------
 * Return 0 or an errno, as every prim function. */

/* A PSI trigger ("some stall_us window_us") on our cgroup v2's memory.pressure (*cgroup = true:
 * the container's own pressure) or else on /proc/pressure/memory. ENOENT: no PSI in this
 * kernel; EOPNOTSUPP/EINVAL/EACCES: triggers refused (unprivileged windows must be multiples of
 * 2 s). *fd = -1 on failure. */
int wvm__prim_pressure_open(uint32_t stall_us, uint32_t window_us, int *fd, bool *cgroup);
/* A non-blocking eventfd; signalling never blocks, and wvm__prim_pressure_wait drains it. */
int wvm__prim_event_open(int *fd);
void wvm__prim_event_signal(int fd);

#define WVM_PRESSURE_WOKEN 0x1u /* wake_fd was signalled */
#define WVM_PRESSURE_EVENT 0x2u /* the PSI trigger fired */
#define WVM_PRESSURE_LOST  0x4u /* the PSI descriptor is in an error state (its cgroup was
                                   removed, ...): close it, it will never fire again */
/* Waits up to timeout_ms for wake_fd or psi_fd (-1: none); *events says what happened (0: the
 * timeout, or a signal interrupted the wait). */
int wvm__prim_pressure_wait(int wake_fd, int psi_fd, uint32_t timeout_ms, unsigned *events);
void wvm__prim_fd_close(int fd);
/* pthread_create with every signal blocked in the new thread (it takes no process signal). */
int wvm__prim_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
