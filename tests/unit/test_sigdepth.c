/* The dispatcher's record of a thread in signal context (core/meta.h) after a vectored handler
 * left by siglongjmp: the thread must count as in signal context inside the handler, and stop
 * counting so once it is out (its per-thread cache is then set up again), whether the handler
 * ran on the thread's stack or on an alternate signal stack. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <winvmem/win32.h>

#include "core/meta.h"

#define PG 4096

static __thread sigjmp_buf *landing;
static __thread volatile int inside_seen, inside_count;
static char *reserved; /* page 0 never committed; page 1 committed by the handler */

static LONG WINAPI handler(EXCEPTION_POINTERS *ep)
{
    char *at = (char *)ep->ExceptionRecord->ExceptionInformation[1];
    if (at < reserved || at >= reserved + 2 * PG)
        return EXCEPTION_CONTINUE_SEARCH;
    inside_count++;
    inside_seen += wvm__in_signal();
    if (at >= reserved + PG) { /* the normal way out */
        VirtualAlloc(reserved + PG, PG, MEM_COMMIT, PAGE_READWRITE);
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    siglongjmp(*landing, 1);
}

/* A read that faults; what the handler wrote is read after it, not before (a compiler may
 * move other loads across a volatile access). */
static void read_at(char *p)
{
    (void)*(volatile char *)p;
    atomic_signal_fence(memory_order_seq_cst);
}

static void setup(void)
{
    reserved = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE, PAGE_NOACCESS);
    cr_assert_not_null(reserved);
    cr_assert_not_null(AddVectoredExceptionHandler(1, handler));
}

/* n faults, each left by a jump; returns the number after which the thread still counted as
 * in signal context. */
static int jumps(int n)
{
    sigjmp_buf env;
    volatile int stuck = 0; /* (volatile: live across the jumps) */
    for (volatile int i = 0; i < n; i++) {
        landing = &env;
        if (!sigsetjmp(env, 1)) {
            read_at(reserved);
            cr_assert_fail("a read of a reserved page did not fault");
        }
        landing = NULL;
        stuck += wvm__in_signal();
    }
    return stuck;
}

Test(sigdepth, a_jump_out_of_a_handler_ends_signal_context, .init = setup)
{
    int stuck = jumps(100);
    cr_expect_eq(inside_seen, 100, "inside the handler: %d of 100 counted", inside_seen);
    cr_expect_eq(stuck, 0, "after %d of 100 jumps the thread still counted as in a handler", stuck);
    cr_expect_eq(wvm__signal_depth, 0);
}

/* The handler on an alternate stack: wherever that lies, the next fault's entry is at its top
 * again, at or above the left handler's frame. */
Test(sigdepth, a_jump_from_an_alternate_stack_ends_at_the_next_fault, .init = setup)
{
    stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
    cr_assert_not_null(ss.ss_sp);
    cr_assert_eq(sigaltstack(&ss, NULL), 0);
    jumps(100);
    cr_expect_eq(inside_seen, 100);
    read_at(reserved + PG); /* handled; the handler returns */
    cr_expect_eq(inside_count, 101, "%d faults reached the handler", inside_count);
    cr_expect_not(wvm__in_signal(), "after a fault handled normally, still in signal context");
    cr_expect_eq(wvm__signal_depth, 0);
}

/* Jumps before the thread's first winvmem call, then a fault handled normally: the thread is
 * out of signal context by then at the latest (calls deeper than the left handler's frame do
 * not see it before: under ASan's larger frames, VirtualAlloc's do not). */
static void *first_call_after_jumps(void *arg)
{
    (void)arg;
    jumps(10);
    read_at(reserved + PG);
    for (int i = 0; i < 100; i++) {
        void *p = VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (!p || !VirtualFree(p, 0, MEM_RELEASE))
            return (void *)2;
    }
    return wvm__meta_cached() ? NULL : (void *)1;
}

Test(sigdepth, a_thread_out_of_a_handler_gets_its_cache, .init = setup)
{
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, first_call_after_jumps, NULL);
    pthread_join(t, &r);
    cr_expect_neq(r, (void *)2, "VirtualAlloc/VirtualFree failed");
    cr_expect_null(r, "no per-thread cache after the jumps");
}
