/* Fault-catching one-byte probes.
 *
 * Each probe is one instruction at a known address with a known length (2 bytes). A fault on
 * it is caught by a handler that skips the instruction and writes the kind of fault into RCX
 * of the interrupted context, which the probe returns. No global or thread-local state is
 * involved, so probes are safe from any number of threads at once, and while other threads
 * change the page under them.
 *
 * Windows (and Wine): a vectored exception handler. Natively: a SIGSEGV/SIGBUS handler for
 * faults winvmem does not own, and a winvmem vectored handler for those it does (guard-page
 * violations reach only the latter). The signal handler gives every fault to winvmem first
 * (wvm_handle_fault, winvmem/fault.h), so the order in which the two handlers are installed
 * does not matter: opl_init may run before or after the program has made winvmem install its
 * own (by a PAGE_GUARD protection or a vectored handler). */
#include <stdlib.h>
#include <string.h>

#include "oplang.h"

#ifndef _WIN32
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <winvmem/fault.h>
#endif

#if defined(__clang__)
#define OPL_PROBE __attribute__((noinline, used))
#else
#define OPL_PROBE __attribute__((noinline, noclone, used))
#endif

extern const char opl_rd_insn[], opl_wr_insn[];

/* RCX: 0 in, 1 (access violation) or 2 (guard page) after a fault. */
OPL_PROBE uint64_t opl__probe_rd(const volatile unsigned char *p, uint64_t *value)
{
    uint64_t v = 0, fault = 0;
    __asm__ volatile(".globl opl_rd_insn\nopl_rd_insn: movb (%%rdi), %%al"
                     : "+a"(v), "+c"(fault)
                     : "D"(p)
                     : "memory");
    *value = v & 0xff;
    return fault;
}

OPL_PROBE uint64_t opl__probe_wr(volatile unsigned char *p, uint64_t v)
{
    uint64_t fault = 0;
    __asm__ volatile(".globl opl_wr_insn\nopl_wr_insn: movb %%al, (%%rdi)"
                     : "+c"(fault)
                     : "a"(v), "D"(p)
                     : "memory");
    return fault;
}

static int probe_len(uintptr_t pc)
{
    return pc == (uintptr_t)opl_rd_insn || pc == (uintptr_t)opl_wr_insn ? 2 : 0; /* 8a 07, 88 07 */
}

char opl_probe_read(const volatile unsigned char *p, unsigned char *value)
{
    uint64_t v;
    uint64_t f = opl__probe_rd(p, &v);
    *value = (unsigned char)v;
    return f == 2 ? 'g' : f ? 'f' : 0;
}

char opl_probe_write(volatile unsigned char *p, unsigned char value)
{
    uint64_t f = opl__probe_wr(p, value);
    return f == 2 ? 'g' : f ? 'f' : 0;
}

#ifdef _WIN32
static LONG CALLBACK on_exception(PEXCEPTION_POINTERS ep)
{
    CONTEXT *c = ep->ContextRecord;
    DWORD code = ep->ExceptionRecord->ExceptionCode;
    int n = probe_len((uintptr_t)c->Rip);
    if (!n || (code != STATUS_ACCESS_VIOLATION && code != STATUS_GUARD_PAGE_VIOLATION))
        return EXCEPTION_CONTINUE_SEARCH;
    c->Rcx = code == STATUS_GUARD_PAGE_VIOLATION ? 2 : 1;
    c->Rip += n;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static BOOL CALLBACK install(PINIT_ONCE once, PVOID arg, PVOID *ctx)
{
    AddVectoredExceptionHandler(1, on_exception);
    return TRUE;
}

void opl_init(void)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    InitOnceExecuteOnce(&once, install, NULL, NULL);
}
#else
static struct sigaction old_segv, old_bus;

static void on_signal(int sig, siginfo_t *si, void *uc_)
{
    if (wvm_handle_fault(sig, si, uc_))
        return; /* winvmem's memory: its vectored handlers (on_exception) had the fault */
    ucontext_t *uc = uc_;
    int n = probe_len((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    if (n) {
        uc->uc_mcontext.gregs[REG_RCX] = 1;
        uc->uc_mcontext.gregs[REG_RIP] += n;
        return;
    }
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO)
        old->sa_sigaction(sig, si, uc_);
    else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL)
        old->sa_handler(sig);
    else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

static int32_t on_exception(EXCEPTION_POINTERS *ep)
{
    ucontext_t *uc = ep->ContextRecord;
    uint32_t code = ep->ExceptionRecord->ExceptionCode;
    int n = uc ? probe_len((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]) : 0;
    if (!n || (code != STATUS_ACCESS_VIOLATION && code != STATUS_GUARD_PAGE_VIOLATION))
        return EXCEPTION_CONTINUE_SEARCH;
    uc->uc_mcontext.gregs[REG_RCX] = code == STATUS_GUARD_PAGE_VIOLATION ? 2 : 1;
    uc->uc_mcontext.gregs[REG_RIP] += n;
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    /* OPLANG_NO_VEH=1: leave winvmem's dispatcher out (every probe fault reads as 'f') */
    const char *e = getenv("OPLANG_NO_VEH");
    if (!e || strcmp(e, "1"))
        AddVectoredExceptionHandler(1, on_exception);
}

void opl_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install);
}
#endif
