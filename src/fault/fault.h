/* The SIGSEGV/SIGBUS dispatcher and the vectored exception handler list.
 *
 * The dispatcher is installed the first time it is needed (a PAGE_GUARD protection is asked
 * for, or a vectored handler is added) and stays installed. For a fault on memory winvmem
 * manages it raises a Windows exception to the vectored handlers (in signal context, on the
 * faulting thread); EXCEPTION_CONTINUE_EXECUTION retries the faulting instruction. A fault
 * nobody handles, and every fault outside winvmem's memory, goes to the handler that was
 * installed before winvmem's, or to the default action (the process dies as it would have).
 *
 * What a vectored handler may do: it runs inside a signal handler. It may read and write
 * memory, change *ContextRecord (a ucontext_t), and call winvmem's VirtualAlloc,
 * VirtualProtect, VirtualFree, VirtualQuery and Get/SetLastError (they take only winvmem's
 * per-allocation locks, never held by code that touches user memory). It must not call
 * functions that are not async-signal-safe (malloc, printf, locks the interrupted code may
 * hold). Memory the kernel touches on the program's behalf (read(2) into a guard page, futex
 * words) does not raise an exception: the system call fails with EFAULT and, for a guard
 * page, the guard stays armed. */
#ifndef WVM_FAULT_H
#define WVM_FAULT_H
#include <winvmem/vm.h>

/* Installs the dispatcher once (thread-safe). Returns 0 or a Windows error. */
uint32_t wvm__fault_init(void);

/* Vectored handlers, first to last. Async-signal-safe. */
int32_t wvm__veh_dispatch(wvm_EXCEPTION_POINTERS *ep);
void *wvm__veh_add(int first, wvm_PVECTORED_EXCEPTION_HANDLER fn);
int wvm__veh_remove(void *handle);
#endif
