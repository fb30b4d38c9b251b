/* The SIGSEGV/SIGBUS handler: turns faults on winvmem's memory into Windows exceptions for
 * the vectored handlers and chains everything else to the previous handler (fault.h); the
 * same for another runtime's handler through wvm_handle_fault; and whether our handler is
 * still the one installed. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <ucontext.h>

#include <winvmem/stats.h>

#include "core/guard.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "prim/options.h"
#include "fault/fault.h"
#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"
#include "prim/linux/uffd.h"

static struct sigaction prev_segv, prev_bus;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint32_t install_error;
static _Atomic bool installed, displacement_said;
static _Atomic uint64_t faults_handled, faults_via_entry;

/* A fault the model says should not happen again is retried at most this many times in a
 * row at one address with nothing changed in between (wvm__guard_fault's *seen); then it is
 * reported as an access violation (the kernel and the model disagree, e.g. an execute-only
 * page read on a CPU that enforces it). Counting every retry at an address (as until session
 * 7) turned the 65th first write to one address of a write-watch allocation on the fallback,
 * one per ResetWriteWatch, into an access violation. */
enum { MAX_RETRIES = 64 };
static WVM_THREAD uintptr_t retry_addr, retry_seen;
static WVM_THREAD unsigned retries;

/* The fault's two ways in: winvmem's handler, and another runtime's through wvm_handle_fault.
 * One may chain to the other when it does not handle a fault (we chain to the handler we
 * replaced; a runtime that replaced ours may chain to it). The fault this thread last offered
 * to the vectored handlers in vain is remembered with the way it came in: arriving next by
 * the other way, it is passed on without being offered twice; arriving by the same way, it is
 * a new fault at the same place (a retry), offered again. */
enum way { BY_HANDLER = 1, BY_ENTRY };
typedef struct declined {
    int sig; /* 0: none */
    enum way way;
    bool consumed;
    uintptr_t addr;
    void *pc;
} declined;
static WVM_THREAD declined last_declined;

enum outcome { HANDLED, NOT_OURS, DECLINED };

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

/* Turns a fault into a Windows exception for the vectored handlers. HANDLED: the access is
 * retried (or winvmem's own copy fails); NOT_OURS: not on winvmem's memory; DECLINED: no
 * handler took it (*consumed: a guard was consumed, so a retry would no longer fault). */
static enum outcome dispatch(siginfo_t *si, ucontext_t *uc, bool *consumed, bool *wp)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    int access = access_of(uc);
    /* si_code <= 0: sent by kill/tgkill/sigqueue, not by a fault */
    bool copying = si->si_code > 0 && wvm__prim_user_copy_fault(uc);
    *wp = false;
    uintptr_t seen = 0;
    enum wvm_fault_kind kind =
        si->si_code > 0 ? wvm__guard_fault(addr, access, copying, wp, &seen) : WVM_FAULT_NOT_OURS;
    *consumed = false;
    if (kind == WVM_FAULT_RETRY) {
        if (retry_addr != addr || retry_seen != seen || (seen & 1))
            retries = 0; /* something changed since: not the same fault again */
        retry_addr = addr;
        retry_seen = seen;
        if (++retries <= MAX_RETRIES)
            return HANDLED;
        kind = WVM_FAULT_VIOLATION;
    }
    retry_addr = 0;
    if (copying) { /* winvmem's copy of an out-parameter: the call fails with ERROR_NOACCESS */
        wvm__prim_user_copy_fail(uc);
        return HANDLED;
    }
    if (kind == WVM_FAULT_NOT_OURS)
        return NOT_OURS;
    *consumed = kind == WVM_FAULT_GUARD;
    wvm_EXCEPTION_RECORD rec = {
        .ExceptionCode =
            kind == WVM_FAULT_GUARD ? WVM_STATUS_GUARD_PAGE_VIOLATION : WVM_STATUS_ACCESS_VIOLATION,
        .ExceptionAddress = pc_of(uc),
        .NumberParameters = 2,
        .ExceptionInformation = {(uintptr_t)access, addr},
    };
    wvm_EXCEPTION_POINTERS ep = {&rec, uc};
    return wvm__veh_dispatch(&ep) == WVM_EXCEPTION_CONTINUE_EXECUTION ? HANDLED : DECLINED;
}

/* dispatch, unless the other way in has just offered this fault in vain (see `declined`). */
static enum outcome offer(int sig, siginfo_t *si, ucontext_t *uc, enum way way, bool *consumed,
                          bool *wp)
{
    declined *d = &last_declined;
    uintptr_t addr = (uintptr_t)si->si_addr;
    void *pc = pc_of(uc);
    bool passed_on = d->sig == sig && d->way != way && d->addr == addr && d->pc == pc;
    *consumed = passed_on && d->consumed;
    *wp = false;
    d->sig = 0;
    if (passed_on)
        return DECLINED;
    enum outcome o = dispatch(si, uc, consumed, wp);
    if (o == HANDLED)
        atomic_fetch_add_explicit(&faults_handled, 1, memory_order_relaxed);
    else if (o == DECLINED)
        *d = (declined){sig, way, *consumed, addr, pc};
    return o;
}

/* A write to a page kept read-only by userfaultfd write-protect (core/wp.h) arrives as
 * SIGBUS; when no vectored handler took it, it goes on as the SIGSEGV (SEGV_ACCERR) that an
 * mprotect read-only page gives, so that the previous handler and the default action see
 * what they always saw. The retry would raise SIGBUS again: the default action is raised. */
static void chain_as_segv(siginfo_t *si, void *ctx)
{
    siginfo_t segv = *si;
    segv.si_signo = SIGSEGV;
    segv.si_code = SEGV_ACCERR;
    if (last_declined.sig == SIGBUS)
        last_declined.sig = SIGSEGV;
    chain(SIGSEGV, &segv, ctx, true);
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
    int saved_errno = errno;
    bool consumed, wp;
    wvm__signal_enter((uintptr_t)__builtin_frame_address(0));
    if (offer(sig, si, ctx, BY_HANDLER, &consumed, &wp) != HANDLED) {
        if (sig == SIGBUS && wp)
            chain_as_segv(si, ctx);
        else
            chain(sig, si, ctx, consumed);
    }
    wvm__signal_exit();
    errno = saved_errno;
}

int wvm__fault_entry(int sig, siginfo_t *si, void *ctx)
{
    if ((sig != SIGSEGV && sig != SIGBUS) || !si || !ctx)
        return 0;
    int saved_errno = errno;
    bool consumed, wp;
    wvm__signal_enter((uintptr_t)__builtin_frame_address(0));
    bool handled = offer(sig, si, ctx, BY_ENTRY, &consumed, &wp) == HANDLED;
    if (handled)
        atomic_fetch_add_explicit(&faults_via_entry, 1, memory_order_relaxed);
    wvm__signal_exit();
    errno = saved_errno;
    return handled;
}

static void install(void)
{
    /* What the calls a vectored handler may make would set up on first use, set up now in
     * normal context: kernel probes, options (a bad value is reported with stdio), ledger. */
    wvm__caps();
    wvm__prim_ro_available(); /* VirtualProtect to PAGE_READONLY asks it */
    wvm__option(WVM_OPT_VERBOSE);
    wvm__ledger_limit();
    int err = wvm__prim_sig_install(SIGSEGV, handler, &prev_segv);
    if (!err)
        err = wvm__prim_sig_install(SIGBUS, handler, &prev_bus);
    install_error = err ? WVM_ERROR_NOT_ENOUGH_MEMORY : 0;
    atomic_store_explicit(&installed, !err, memory_order_release);
}

uint32_t wvm__fault_init(void)
{
    pthread_once(&once, install);
    return install_error;
}

uint32_t wvm__fault_need(void)
{
    /* Still ours? (said once under WINVMEM_VERBOSE if not.) Two sigaction calls: asked on the
     * first need and every 64th after it, not on each PAGE_GUARD protection. */
    static _Atomic unsigned needs;
    uint32_t err = wvm__fault_init();
    if (!err && !atomic_load_explicit(&displacement_said, memory_order_relaxed) &&
        !(atomic_fetch_add_explicit(&needs, 1, memory_order_relaxed) % 64))
        wvm__fault_handler_state();
    return err;
}

uint32_t wvm__fault_need_for(uint32_t prot)
{
    if (prot & WVM_PAGE_GUARD)
        return wvm__fault_need();
    if ((prot & 0xFFu) == WVM_PAGE_READONLY && wvm__caps()->guard_markers &&
        wvm__prim_ro_available())
        return wvm__fault_init();
    return 0;
}

uint32_t wvm__fault_handler_state(void)
{
    if (!atomic_load_explicit(&installed, memory_order_acquire))
        return WVM_FAULT_HANDLER_NONE;
    bool segv = wvm__prim_sig_is(SIGSEGV, handler), bus = wvm__prim_sig_is(SIGBUS, handler);
    if (segv && bus)
        return WVM_FAULT_HANDLER_INSTALLED;
    if (!atomic_exchange(&displacement_said, true) && wvm__option(WVM_OPT_VERBOSE)) {
        char line[320];
        snprintf(line, sizeof line,
                 "another %s handler replaced winvmem's: guard pages, vectored exception "
                 "handlers and the write-watch fallback work only if it calls "
                 "wvm_handle_fault() first (doc/porting.md)",
                 segv  ? "SIGBUS"
                 : bus ? "SIGSEGV"
                       : "SIGSEGV and SIGBUS");
        wvm__prim_say(line);
    }
    return WVM_FAULT_HANDLER_DISPLACED;
}

void wvm__fault_counts(uint64_t *handled, uint64_t *via_entry)
{
    *handled = atomic_load_explicit(&faults_handled, memory_order_relaxed);
    *via_entry = atomic_load_explicit(&faults_via_entry, memory_order_relaxed);
}
