/* The metadata allocator (core/meta.h): classes, block integrity, accounting, threads, fork,
 * signal context. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/meta.h"

Test(meta, classes_fit_tightly)
{
    size_t prev = 0;
    for (unsigned c = 0; c < WVM_META_CLASSES; c++) {
        size_t sz = wvm__meta_class_size(c);
        cr_assert_gt(sz, prev);
        cr_assert_eq(sz % 16, 0, "class %u: %zu", c, sz);
        prev = sz;
    }
    cr_assert_eq(prev, WVM_META_MAX_SMALL);
    for (size_t n = 1; n <= WVM_META_MAX_SMALL; n++) {
        unsigned c = wvm__meta_class(n);
        cr_assert_lt(c, WVM_META_CLASSES);
        cr_assert_geq(wvm__meta_class_size(c), n, "%zu", n);
        if (c)
            cr_assert_lt(wvm__meta_class_size(c - 1), n, "%zu: not the smallest class", n);
        /* at most a quarter wasted above 128 bytes, 15 bytes below */
        cr_assert_leq(wvm__meta_class_size(c) - n, n > 128 ? n / 4 + 16 : 15, "%zu", n);
    }
}

static size_t sizes[] = {1,    16,    17,    24,    48,    64,     80,     100,  128,
                         129,  160,   200,   256,   300,   512,    1000,   4096, 4097,
                         9000, 16384, 16385, 20000, 65536, 100000, 1 << 20};
#define NSIZES (sizeof sizes / sizeof *sizes)

Test(meta, blocks_are_distinct_aligned_and_keep_their_bytes)
{
    enum { PER = 40 };
    static unsigned char *p[NSIZES][PER];
    for (size_t i = 0; i < NSIZES; i++)
        for (int j = 0; j < PER; j++) {
            p[i][j] = wvm__meta_alloc(sizes[i]);
            cr_assert_not_null(p[i][j]);
            cr_assert_eq((uintptr_t)p[i][j] % 16, 0);
            if (sizes[i] <= WVM_META_MAX_SMALL &&
                wvm__meta_class_size(wvm__meta_class(sizes[i])) % 64 == 0)
                cr_assert_eq((uintptr_t)p[i][j] % 64, 0, "size %zu", sizes[i]);
            memset(p[i][j], (int)(i * PER + j) & 0xFF, sizes[i]);
        }
    for (size_t i = 0; i < NSIZES; i++)
        for (int j = 0; j < PER; j++) {
            for (size_t k = 0; k < sizes[i]; k++)
                if (p[i][j][k] != ((i * PER + j) & 0xFF))
                    cr_assert_fail("size %zu block %d byte %zu overwritten", sizes[i], j, k);
            wvm__meta_free(p[i][j], sizes[i]);
        }
}

Test(meta, zalloc_is_zero_after_reuse)
{
    for (size_t i = 0; i < NSIZES; i++) {
        unsigned char *a = wvm__meta_alloc(sizes[i]);
        memset(a, 0xAB, sizes[i]);
        wvm__meta_free(a, sizes[i]);
        unsigned char *b = wvm__meta_zalloc(sizes[i]);
        cr_assert_not_null(b);
        for (size_t k = 0; k < sizes[i]; k++)
            if (b[k])
                cr_assert_fail("size %zu: byte %zu not zero", sizes[i], k);
        wvm__meta_free(b, sizes[i]);
    }
}

Test(meta, realloc_keeps_the_prefix)
{
    size_t old = 24;
    unsigned char *p = wvm__meta_alloc(old);
    for (size_t k = 0; k < old; k++)
        p[k] = (unsigned char)k;
    size_t steps[] = {30, 200, 5000, 40000, 300000, 100, 8};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        size_t n = steps[s];
        p = wvm__meta_realloc(p, old, n);
        cr_assert_not_null(p);
        size_t keep = old < n ? old : n;
        for (size_t k = 0; k < keep; k++)
            cr_assert_eq(p[k], (unsigned char)k, "after %zu -> %zu, byte %zu", old, n, k);
        for (size_t k = keep; k < n; k++)
            p[k] = (unsigned char)k;
        old = n;
    }
    wvm__meta_free(p, old);
}

Test(meta, accounts_class_sizes)
{
    size_t before = wvm__meta_bytes(); /* thread caches are the allocator's: not counted */
    void *a = wvm__meta_alloc(100);    /* class 112 */
    void *b = wvm__meta_alloc(40000);
    cr_expect_eq(wvm__meta_bytes() - before, 112 + 40960);
    cr_expect_geq(wvm__meta_held(), wvm__meta_bytes());
    wvm__meta_free(a, 100);
    wvm__meta_free(b, 40000);
    cr_expect_eq(wvm__meta_bytes(), before);
}

/* ---- threads --------------------------------------------------------------------------- */

enum { NT = 4, ROUNDS = 20000, LIVE = 64 };
static void *handoff[NT][LIVE];
/* all NT threads of a phase hold a cache at once: the most a round can need */
static pthread_barrier_t all_have_caches;

static void *churn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = id * 7919 + 1;
    void *mine[LIVE] = {0};
    size_t msz[LIVE] = {0};
    wvm__meta_free(wvm__meta_alloc(16), 16);
    pthread_barrier_wait(&all_have_caches);
    for (int r = 0; r < ROUNDS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int slot = (int)(x % LIVE);
        wvm__meta_free(mine[slot], msz[slot]);
        msz[slot] = 16 + x % 600;
        mine[slot] = wvm__meta_alloc(msz[slot]);
        if (!mine[slot])
            return (void *)1;
        memset(mine[slot], (int)id, msz[slot]);
    }
    for (int s = 0; s < LIVE; s++) { /* check, then leave the blocks to another thread */
        for (size_t k = 0; k < msz[s]; k++)
            if (((unsigned char *)mine[s])[k] != (unsigned char)id)
                return (void *)2;
        wvm__meta_free(mine[s], msz[s]);
        handoff[id][s] = wvm__meta_alloc(64);
    }
    return NULL;
}

static void *drain(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    wvm__meta_free(wvm__meta_alloc(16), 16);
    pthread_barrier_wait(&all_have_caches);
    for (int s = 0; s < LIVE; s++)
        wvm__meta_free(handoff[id][s], 64);
    return NULL;
}

static void churn_round(void)
{
    pthread_t t[NT];
    for (uintptr_t i = 0; i < NT; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    for (int i = 0; i < NT; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "thread %d: %p", i, r);
    }
    for (uintptr_t i = 0; i < NT; i++) /* freed by threads that did not allocate them */
        pthread_create(&t[i], NULL, drain, (void *)((i + 1) % NT));
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
}

Test(meta, threads_churn_and_free_each_others_blocks)
{
    pthread_barrier_init(&all_have_caches, NULL, NT);
    size_t before = wvm__meta_bytes();
    churn_round();
    cr_expect_eq(wvm__meta_bytes(), before, "every block came back: %zu -> %zu", before,
                 wvm__meta_bytes());
    churn_round(); /* the caches the first round's threads left behind serve the second's */
    cr_expect_eq(wvm__meta_bytes(), before, "every block came back: %zu -> %zu", before,
                 wvm__meta_bytes());
}

/* A thread in signal context without a cache uses the shared lists: no cache is set up. */
static void *in_signal(void *arg)
{
    (void)arg;
    wvm__signal_enter(UINTPTR_MAX); /* a frame above every other: inside a handler */
    void *p = wvm__meta_alloc(48);
    memset(p, 1, 48);
    wvm__meta_free(p, 48);
    wvm__signal_exit();
    return p;
}

Test(meta, signal_context_without_a_cache)
{
    size_t before = wvm__meta_bytes();
    pthread_t t;
    void *p;
    pthread_create(&t, NULL, in_signal, NULL);
    pthread_join(t, &p);
    cr_expect_not_null(p);
    cr_expect_eq(wvm__meta_bytes(), before);
}

/* ---- fork ------------------------------------------------------------------------------ */

static _Atomic int stop;

static void *churn_until_stopped(void *arg)
{
    (void)arg;
    void *p[16] = {0};
    for (unsigned i = 0; !stop; i++) {
        wvm__meta_free(p[i % 16], 16 + (i % 16) * 100);
        p[i % 16] = wvm__meta_alloc(16 + (i % 16) * 100);
    }
    for (unsigned i = 0; i < 16; i++)
        wvm__meta_free(p[i], 16 + i * 100);
    return NULL;
}

Test(meta, fork_while_other_threads_allocate)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn_until_stopped, NULL);
    for (int f = 0; f < 100; f++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a lock left held at the fork would hang here */
            for (unsigned i = 0; i < 5000; i++) {
                size_t n = 16 + (i * 37) % 3000;
                void *p = wvm__meta_alloc(n);
                if (!p)
                    _exit(2);
                memset(p, 0, n);
                wvm__meta_free(p, n);
            }
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", f, status);
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}
