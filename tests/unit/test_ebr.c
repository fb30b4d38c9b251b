/* Epoch records (core/ebr.c): a thread that enters only in signal context gives its record
 * back at the end of each section, so threads that use winvmem only from handlers leave none
 * behind; in normal context the record stays with the thread until it exits. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "core/ebr.h"
#include "core/meta.h"

static void *section(void *in_signal)
{
    if (in_signal) /* a frame above every other: inside a handler throughout */
        wvm__signal_enter(UINTPTR_MAX);
    wvm__ebr_enter();
    wvm__ebr_enter(); /* nested */
    wvm__ebr_exit();
    wvm__ebr_exit();
    if (in_signal)
        wvm__signal_exit();
    return NULL;
}

static size_t after_threads(int n, void *in_signal)
{
    for (int i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, NULL, section, in_signal);
        pthread_join(t, NULL);
    }
    return wvm__meta_bytes();
}

Test(ebr, records_are_reused_across_threads)
{
    after_threads(1, NULL); /* the first record, and this thread's cache */
    size_t base = wvm__meta_bytes();
    cr_expect_eq(after_threads(50, NULL), base, "normal threads: released at thread exit");
    cr_expect_eq(after_threads(50, (void *)1), base, "signal-only threads: released per section");
}

static pthread_barrier_t both_inside;

static void *hold(void *in_signal)
{
    if (in_signal) /* a frame above every other: inside a handler throughout */
        wvm__signal_enter(UINTPTR_MAX);
    wvm__ebr_enter();
    pthread_barrier_wait(&both_inside);
    pthread_barrier_wait(&both_inside);
    wvm__ebr_exit();
    if (in_signal)
        wvm__signal_exit();
    return NULL;
}

Test(ebr, concurrent_sections_get_their_own_records)
{
    after_threads(1, NULL);
    pthread_barrier_init(&both_inside, NULL, 3);
    pthread_t a, b;
    size_t base = wvm__meta_bytes();
    pthread_create(&a, NULL, hold, NULL);
    pthread_create(&b, NULL, hold, (void *)1);
    pthread_barrier_wait(&both_inside);
    size_t inside = wvm__meta_bytes();
    pthread_barrier_wait(&both_inside);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    cr_expect_gt(inside, base, "a second record was needed while both were inside");
    size_t two = wvm__meta_bytes();
    cr_expect_eq(after_threads(20, (void *)1), two);
}
