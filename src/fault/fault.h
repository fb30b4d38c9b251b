/* The SIGSEGV/SIGBUS dispatcher and the vectored exception handler list.
 *
 * The dispatcher is installed the first time it is needed (a PAGE_GUARD protection is asked
 * for, or a vectored handler is added) and stays installed. For a fault on memory winvmem
 * manages it raises a Windows exception to the vectored handlers (in signal context, on the
 * faulting thread); EXCEPTION_CONTINUE_EXECUTION retries the faulting instruction. A fault
 * nobody handles, and every fault outside winvmem's memory, goes to the handler that was
 * installed before winvmem's, or to the default action (the process dies as it would have).
 *
 * What a vectored handler may do: it runs inside a signal handler, on the faulting thread. It
 * may read and write memory, change *ContextRecord (a ucontext_t), and call winvmem's
 * VirtualAlloc (reserve, commit, both; plain, write-watch, AWE and large-page allocations),
 * VirtualProtect, VirtualFree, VirtualQuery, VirtualLock/Unlock, GetWriteWatch/ResetWriteWatch,
 * file mappings (CreateFileMapping, OpenFileMapping, MapViewOfFile*, UnmapViewOfFile*,
 * FlushViewOfFile, CloseHandle, VirtualAlloc2 and placeholders, the calls above on a view),
 * Add/RemoveVectoredExceptionHandler and Get/SetLastError -- also when the fault interrupted
 * malloc or another libc function. Those paths take only winvmem's own locks, which no thread
 * holds while it runs code that can fault on winvmem's memory, and never call the malloc family:
 * winvmem's bookkeeping comes from core/meta.c, and libc functions that may allocate
 * (pthread_setspecific, pthread_getattr_np) are avoided in signal context.
 * tests/fault/stress_signal_context.c holds this to account (it interposes malloc).
 * Not covered: the host API (src/host) and the wvm_print_* functions (stdio).
 * A handler itself must not call what is not async-signal-safe (malloc, printf, locks the
 * interrupted code may hold).
 *
 * A handler may leave by siglongjmp instead of returning (runtimes throw out of faults): the
 * dispatcher calls the vectored handlers, and chains to the previous handler, holding no lock,
 * no epoch section and no other record of winvmem's (fault/veh.c copies the handlers inside a
 * section and calls them after it). The one thing left behind is the dispatcher's record of
 * the entry (core/meta.h, wvm__in_signal), which the jump skips: it is dropped at the
 * thread's next check made above the handler's frame, or at its next fault; until then the
 * thread only sets up no per-thread caches (slower, never wrong).
 *
 * Another runtime's handler installed after ours replaces it; it then gives each fault to
 * wvm_handle_fault (winvmem/fault.h) first, which does what our handler does. When one of the
 * two chains to the other, a fault the vectored handlers declined is not offered to them a
 * second time (dispatch.c). wvm__fault_handler_state asks the kernel whether ours is still
 * installed.
 *
 * Memory the kernel touches on the program's behalf (read(2) into a guard page, futex words)
 * does not raise an exception: the system call fails with EFAULT and, for a guard page, the
 * guard stays armed. */
#ifndef WVM_FAULT_H
#define WVM_FAULT_H
#include <signal.h>
#include <winvmem/vm.h>

/* Installs the dispatcher once (thread-safe). Returns 0 or a Windows error. */
uint32_t wvm__fault_init(void);
/* The same, from a feature that needs the dispatcher to work (PAGE_GUARD, a vectored handler,
 * the write-watch fallback): also checks that it is still the installed handler. */
uint32_t wvm__fault_need(void);
/* What a page protection prot needs of the dispatcher before it is applied: PAGE_GUARD
 * wvm__fault_need; PAGE_READONLY, where userfaultfd write-protect may keep it (its writes
 * raise SIGBUS, turned into the SIGSEGV of an mprotect page when unhandled), the dispatcher
 * installed. 0 or a Windows error. */
uint32_t wvm__fault_need_for(uint32_t prot);
/* WVM_FAULT_HANDLER_* (winvmem/stats.h), asking the kernel (sigaction) whether winvmem's
 * handler is still installed for SIGSEGV and SIGBUS; the first time it is not, one line under
 * WINVMEM_VERBOSE. Faults handled, and of those through wvm_handle_fault. */
uint32_t wvm__fault_handler_state(void);
void wvm__fault_counts(uint64_t *handled, uint64_t *via_entry);
/* wvm_handle_fault (winvmem/fault.h). Async-signal-safe. */
int wvm__fault_entry(int sig, siginfo_t *info, void *ucontext);

/* Vectored handlers, first to last. Async-signal-safe. */
int32_t wvm__veh_dispatch(wvm_EXCEPTION_POINTERS *ep);
void *wvm__veh_add(int first, wvm_PVECTORED_EXCEPTION_HANDLER fn);
int wvm__veh_remove(void *handle);
#endif
