/* Residency system calls: locking pages in RAM (VirtualLock), lazy freeing (MEM_RESET) and
 * the per-thread fault counter MEM_RESET_UNDO uses to notice pages the kernel dropped. */
#ifndef WVM_PRIM_RESIDENCY_H
#define WVM_PRIM_RESIDENCY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int wvm__prim_mlock(void *addr, size_t size);
/* mlock without write faults: for pages whose writes the kernel records (userfaultfd write
 * watch). The pages end up resident and locked, absent ones as the zero page; errors as mlock
 * (a failure may leave the range locked on fault, as mlock leaves it locked). */
int wvm__prim_mlock_no_write(void *addr, size_t size);
int wvm__prim_munlock(void *addr, size_t size);
/* RLIMIT_MEMLOCK's soft limit in bytes; UINT64_MAX when unlimited. */
uint64_t wvm__prim_memlock_limit(void);
/* MADV_FREE: the kernel may drop the pages' contents under memory pressure unless they are
 * written first. */
int wvm__prim_free_lazy(void *addr, size_t size);
/* Calls fn(ctx, i) for every page i of the npages pages at start that holds data MADV_FREE
 * could make the kernel drop: present and mapped only by this process (pagemap's
 * exclusive bit: the shared zero page and pages shared copy-on-write after fork are never
 * freed lazily), or swapped out (MADV_FREE drops swapped pages at once). Returns 0 or errno. */
int wvm__prim_pages_holding_data(uintptr_t start, uint64_t npages,
                                 void (*fn)(void *ctx, uint64_t i), void *ctx);
/* Page faults (minor + major) the calling thread has taken so far (getrusage RUSAGE_THREAD). */
uint64_t wvm__prim_thread_faults(void);
/* Whether forced writes through /proc/self/mem work here and are wanted (WINVMEM_PROC_MEM);
 * probed once (mechanism WVM_MECH_PROC_MEM). */
bool wvm__prim_forced_available(void);
/* Writes every byte of [addr, addr+len) (whole pages) back unchanged with the kernel's forced
 * write (prim/linux/selfmem.c), whatever the pages' protection: each present page becomes
 * dirty without a fault, each dropped one is faulted in (counted by wvm__prim_thread_faults).
 * readable: the program may read the range (the kernel copies it from itself); else one byte
 * per page is read and written through /proc/self/mem. Nothing may write the range
 * meanwhile. 0 or errno; ENOSYS when forced writes are not available. */
int wvm__prim_forced_rewrite(void *addr, size_t len, bool readable);
#endif
