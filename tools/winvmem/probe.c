/* Touching memory that may fault, for `winvmem run`: a SIGSEGV/SIGBUS handler jumps back to
 * the probe. When the library delivers faults to vectored exception handlers (its fault
 * dispatcher), a handler registered here tells guard-page violations from access violations;
 * the reference is weak so the tool also runs against a library without them. */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

extern void *wvm_AddVectoredExceptionHandler(uint32_t, wvm_PVECTORED_EXCEPTION_HANDLER)
    __attribute__((weak));

static sigjmp_buf probe_env;
static volatile sig_atomic_t probing;
static volatile char probe_kind;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (!probing) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    probe_kind = '-';
    siglongjmp(probe_env, 1);
}

static int32_t on_exception(wvm_EXCEPTION_POINTERS *ep)
{
    if (!probing)
        return WVM_EXCEPTION_CONTINUE_SEARCH;
    uint32_t code = ep->ExceptionRecord->ExceptionCode;
    if (code != WVM_STATUS_GUARD_PAGE_VIOLATION && code != WVM_STATUS_ACCESS_VIOLATION)
        return WVM_EXCEPTION_CONTINUE_SEARCH;
    probe_kind = code == WVM_STATUS_GUARD_PAGE_VIOLATION ? 'g' : '-';
    siglongjmp(probe_env, 1);
}

void cli_probe_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    if (wvm_AddVectoredExceptionHandler)
        wvm_AddVectoredExceptionHandler(1, on_exception);
}

/* Returns 0 when the access went through, else the kind of fault. */
static char touch(volatile unsigned char *p, unsigned char *value, bool write)
{
    probe_kind = 0;
    if (sigsetjmp(probe_env, 1) == 0) {
        probing = 1;
        if (write)
            *p = *value;
        else
            *value = *p;
    }
    probing = 0;
    return probe_kind;
}

char cli_probe_read(const volatile unsigned char *p, unsigned char *value)
{
    char k = touch((volatile unsigned char *)p, value, false);
    return k ? k : 'r';
}

char cli_probe_write(volatile unsigned char *p, unsigned char value)
{
    char k = touch(p, &value, true);
    return k ? k : 'w';
}
