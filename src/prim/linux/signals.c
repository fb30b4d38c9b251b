/* Signal-handler installation and the few system calls the fault dispatcher makes in signal
 * context. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prim/linux/prim_signal.h"

#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

int wvm__prim_sig_install(int sig, wvm_sig_fn fn, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, old) ? errno : 0;
}

bool wvm__prim_sig_is(int sig, wvm_sig_fn fn)
{
    struct sigaction cur;
    return !sigaction(sig, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == fn;
}

int wvm__prim_sig_default(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) ? errno : 0;
}

void wvm__prim_sig_raise(int sig)
{
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

int wvm__prim_sig_protect(void *addr, size_t size, int prot)
{
    return mprotect(addr, size, prot) ? errno : 0;
}

int wvm__prim_sig_guard_remove(void *addr, size_t size)
{
    return madvise(addr, size, MADV_GUARD_REMOVE) ? errno : 0;
}

int wvm__prim_sig_discard(void *addr, size_t size)
{
    return madvise(addr, size, MADV_DONTNEED) ? errno : 0;
}

void wvm__prim_yield(void)
{
    sched_yield();
}
