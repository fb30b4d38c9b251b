/* winvmem beside another SIGSEGV/SIGBUS handler (not part of the Windows API).
 *
 * Guard pages, vectored exception handlers and the write-watch fallback get their Windows
 * behaviour from a SIGSEGV/SIGBUS handler that winvmem installs the first time one of them is
 * used, chaining to the handler it finds. A runtime that installs its own handler afterwards
 * (a JVM, Go, .NET, V8) replaces winvmem's; its handler then calls wvm_handle_fault first.
 * Recipe and example: doc/porting.md, examples/foreign_runtime.c. */
#ifndef WINVMEM_FAULT_H
#define WINVMEM_FAULT_H

#include <signal.h>
#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* From a SIGSEGV or SIGBUS handler installed with SA_SIGINFO, with its three arguments, before
 * anything else. Non-zero: the fault was on winvmem's memory and is dealt with (return from
 * the handler at once: the faulting instruction runs again). 0: not winvmem's, or no vectored
 * handler took it: go on as if winvmem were not there. A fault passed on to winvmem's own
 * handler afterwards is not offered to the vectored handlers twice. Async-signal-safe;
 * preserves errno. */
WVM_API int wvm_handle_fault(int sig, siginfo_t *info, void *ucontext);

#ifdef __cplusplus
}
#endif
#endif
