/* The SIGSEGV/SIGBUS handler: turns faults on winvmem's memory into Windows exceptions for
 * the vectored handlers and chains everything else to the previous handler (fault.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "core/guard.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "prim/options.h"
#include "fault/fault.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

static struct sigaction prev_segv, prev_bus;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint32_t install_error;

/* A fault the model says should not happen again is retried at most this many times in a
 * row at one address; then it is reported as an access violation (the kernel and the model
 * disagree, e.g. an execute-only page read on a CPU that enforces it). */
enum { MAX_RETRIES = 64 };
static WVM_THREAD uintptr_t retry_addr;
static WVM_THREAD unsigned retries;

/* ExceptionInformation[0]: 0 read, 1 write, 8 execute, from the page-fault error code. */
static int access_of(const ucontext_t *uc)
{
#if defined(__x86_64__)
    unsigned long err = (unsigned long)uc->uc_mcontext.gregs[REG_ERR];
    if (err & 0x10) /* instruction fetch */
        return 8;
    return (err & 0x2) ? 1 : 0;
#else
    (void)uc;
    return 0;
#endif
}

static void *pc_of(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)uc->uc_mcontext.pc;
#else
    (void)uc;
    return NULL;
#endif
}

/* Hands the fault to whoever was there before us. consumed: the faulting access would now
 * succeed (a guard was consumed), so the default action cannot rely on the retry faulting. */
static void chain(int sig, siginfo_t *si, void *uc, bool consumed)
{
    struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
    if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN) {
        wvm__prim_sig_default(sig); /* a synchronous fault cannot be ignored */
        if (consumed)
            wvm__prim_sig_raise(sig);
        return; /* otherwise the access runs again, faults, and the default action follows */
    }
    if (p->sa_flags & SA_SIGINFO)
        p->sa_sigaction(sig, si, uc);
    else
        p->sa_handler(sig);
}

/* Turns a fault into a Windows exception for the vectored handlers. true: handled, the
 * access is retried; false: not on winvmem's memory, or no handler took it (*consumed: a
 * guard was consumed, so a retry would no longer fault). */
static bool dispatch(siginfo_t *si, ucontext_t *uc, bool *consumed)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    int access = access_of(uc);
    /* si_code <= 0: sent by kill/tgkill/sigqueue, not by a fault */
    bool copying = si->si_code > 0 && wvm__prim_user_copy_fault(uc);
    enum wvm_fault_kind kind =
        si->si_code > 0 ? wvm__guard_fault(addr, access, copying) : WVM_FAULT_NOT_OURS;
    *consumed = false;
    if (kind == WVM_FAULT_RETRY) {
        if (retry_addr != addr)
            retries = 0;
        retry_addr = addr;
        if (++retries <= MAX_RETRIES)
            return true;
        kind = WVM_FAULT_VIOLATION;
    }
    retry_addr = 0;
    if (copying) { /* winvmem's copy of an out-parameter: the call fails with ERROR_NOACCESS */
        wvm__prim_user_copy_fail(uc);
        return true;
    }
    if (kind == WVM_FAULT_NOT_OURS)
        return false;
    *consumed = kind == WVM_FAULT_GUARD;
    wvm_EXCEPTION_RECORD rec = {
        .ExceptionCode =
            kind == WVM_FAULT_GUARD ? WVM_STATUS_GUARD_PAGE_VIOLATION : WVM_STATUS_ACCESS_VIOLATION,
        .ExceptionAddress = pc_of(uc),
        .NumberParameters = 2,
        .ExceptionInformation = {(uintptr_t)access, addr},
    };
    wvm_EXCEPTION_POINTERS ep = {&rec, uc};
    return wvm__veh_dispatch(&ep) == WVM_EXCEPTION_CONTINUE_EXECUTION;
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
    int saved_errno = errno;
    bool consumed;
    wvm__signal_depth++;
    if (!dispatch(si, ctx, &consumed))
        chain(sig, si, ctx, consumed);
    wvm__signal_depth--;
    errno = saved_errno;
}

static void install(void)
{
    /* What the calls a vectored handler may make would set up on first use, set up now in
     * normal context: kernel probes, options (a bad value is reported with stdio), ledger. */
    wvm__caps();
    wvm__option(WVM_OPT_VERBOSE);
    wvm__ledger_limit();
    int err = wvm__prim_sig_install(SIGSEGV, handler, &prev_segv);
    if (!err)
        err = wvm__prim_sig_install(SIGBUS, handler, &prev_bus);
    install_error = err ? WVM_ERROR_NOT_ENOUGH_MEMORY : 0;
}

uint32_t wvm__fault_init(void)
{
    pthread_once(&once, install);
    return install_error;
}
