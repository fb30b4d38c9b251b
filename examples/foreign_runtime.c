/* A runtime with a SIGSEGV handler of its own, installed after winvmem's (as a JVM, Go or V8
 * embedded in a program that already uses winvmem would do), kept working beside winvmem
 * through wvm_handle_fault (winvmem/fault.h, doc/porting.md).
 *
 * winvmem side: a thread stack that grows on demand the Windows way: reserved, its top pages
 * committed, a PAGE_GUARD page below them; a vectored handler commits the next page as the new
 * guard page when the guard is touched.
 * Runtime side: implicit null checks: compiled code loads through a possibly-null reference and
 * the runtime's SIGSEGV handler turns a fault near address 0 into a NullPointerException
 * (here: a siglongjmp back to the "interpreter").
 *
 *   foreign_runtime */
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <winvmem/fault.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define PG          4096
#define STACK_BYTES (1u << 20)

static char *stack_base; /* lowest address of the reservation */
static unsigned grown;   /* pages committed by the guard handler */
static struct sigaction previous;
static sigjmp_buf npe;

/* winvmem's vectored handler: the guard page was touched (and is now an ordinary committed
 * page); the page below it becomes the guard. */
static LONG WINAPI grow_stack(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *r = ep->ExceptionRecord;
    char *at = (char *)(r->ExceptionInformation[1] & ~(uintptr_t)(PG - 1));
    if (r->ExceptionCode != STATUS_GUARD_PAGE_VIOLATION || at < stack_base ||
        at >= stack_base + STACK_BYTES)
        return EXCEPTION_CONTINUE_SEARCH;
    if (at > stack_base && !VirtualAlloc(at - PG, PG, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD))
        return EXCEPTION_CONTINUE_SEARCH; /* out of stack: a real runtime throws here */
    grown++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

/* The runtime's handler: winvmem first, then its own business, then whatever it replaced. */
static void runtime_segv(int sig, siginfo_t *info, void *uc)
{
    if (wvm_handle_fault(sig, info, uc))
        return; /* winvmem's memory, dealt with: the access runs again */
    if ((uintptr_t)info->si_addr < 4096)
        siglongjmp(npe, 1); /* an implicit null check */
    if (previous.sa_flags & SA_SIGINFO)
        previous.sa_sigaction(sig, info, uc);
    else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)
        previous.sa_handler(sig);
    else {
        signal(sig, SIG_DFL); /* a real crash: returning re-runs the access, which kills us */
    }
}

struct node {
    struct node *next;
    long value;
};

/* "Compiled code": no explicit null test, the load of n->value traps on a null n (the address
 * is computed as an integer, as generated code would: C itself has no null member access). */
static long __attribute__((noinline)) sum(const struct node *n, int count)
{
    long s = 0;
    for (int i = 0; i < count; i++) {
        uintptr_t value = (uintptr_t)n + offsetof(struct node, value);
        s += *(volatile const long *)value;
        n = n->next;
    }
    return s;
}

static const char *handler_state(void)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    if (wvm_stats_get(&st))
        return "?";
    return st.fault_handler == WVM_FAULT_HANDLER_INSTALLED   ? "installed"
           : st.fault_handler == WVM_FAULT_HANDLER_DISPLACED ? "displaced"
                                                             : "not installed";
}

int main(void)
{
    /* winvmem first: the stack and its guard handler (this installs winvmem's handler) */
    stack_base = VirtualAlloc(NULL, STACK_BYTES, MEM_RESERVE, PAGE_READWRITE);
    char *top = stack_base + STACK_BYTES;
    if (!stack_base || !VirtualAlloc(top - 2 * PG, 2 * PG, MEM_COMMIT, PAGE_READWRITE) ||
        !VirtualAlloc(top - 3 * PG, PG, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD) ||
        !AddVectoredExceptionHandler(1, grow_stack))
        return 1;
    printf("winvmem's fault handler: %s\n", handler_state());

    /* then the runtime starts and installs its handler over winvmem's */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = runtime_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous);
    printf("after the runtime's sigaction: %s (it calls wvm_handle_fault first)\n",
           handler_state());

    /* the stack grows downwards through the guard pages: 64 KiB of "frames" */
    for (char *p = top - 1; p >= top - 64 * 1024; p -= 256)
        *p = 1;
    printf("stack grew by %u pages through the guard page\n", grown);

    /* an implicit null check, caught by the runtime's own handler */
    struct node b = {NULL, 2}, a = {&b, 1};
    if (!sigsetjmp(npe, 1))
        printf("sum of 3 nodes: %ld\n", sum(&a, 3));
    else
        printf("NullPointerException caught by the runtime's handler\n");

    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    printf("faults handled by winvmem: %llu, through wvm_handle_fault: %llu\n",
           (unsigned long long)st.faults_handled, (unsigned long long)st.faults_via_entry);
    int ok = grown == 64 * 1024 / PG - 2 && st.faults_via_entry == grown;
    VirtualFree(stack_base, 0, MEM_RELEASE);
    return ok ? 0 : 1;
}
