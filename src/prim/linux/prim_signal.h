/* Signal-related system calls for the fault dispatcher (src/fault/). Everything marked
 * "signal context" is async-signal-safe: a raw system call, no lock, no allocation, no
 * fault-injection counter. */
#ifndef WVM_PRIM_SIGNAL_H
#define WVM_PRIM_SIGNAL_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef void (*wvm_sig_fn)(int sig, siginfo_t *info, void *ucontext);

/* Installs fn for sig (SA_SIGINFO | SA_ONSTACK | SA_RESTART); *old receives the handler that
 * was there before. Returns 0 or errno. */
int wvm__prim_sig_install(int sig, wvm_sig_fn fn, struct sigaction *old);
/* Whether fn is sig's handler now (sigaction; another handler may have replaced it).
 * Async-signal-safe. */
bool wvm__prim_sig_is(int sig, wvm_sig_fn fn);
/* Signal context: restores the default action of sig. */
int wvm__prim_sig_default(int sig);
/* Signal context: makes sig pending for the calling thread (it is blocked while its handler
 * runs, so it is delivered when the handler returns). */
void wvm__prim_sig_raise(int sig);
/* Signal context: mprotect, not counted and never failed by fault injection. */
int wvm__prim_sig_protect(void *addr, size_t size, int prot);
/* Signal context: MADV_GUARD_REMOVE, not counted and never failed by fault injection. */
int wvm__prim_sig_guard_remove(void *addr, size_t size);
/* Signal context: MADV_DONTNEED, not counted and never failed by fault injection. */
int wvm__prim_sig_discard(void *addr, size_t size);
/* Signal context: sched_yield. */
void wvm__prim_yield(void);
/* Signal context: whether the fault ucontext describes happened inside wvm__prim_user_copy
 * or wvm__prim_user_touch; _fail makes that copy return EFAULT when the handler returns. */
bool wvm__prim_user_copy_fault(void *ucontext);
void wvm__prim_user_copy_fail(void *ucontext);
#endif
