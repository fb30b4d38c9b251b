/* The invariant checker (core/check.c) running while writers change large allocations, whose
 * page trees have shared nodes (> 2 MiB): the checker reads published snapshots that writers
 * retire under it, so it must read only what is stable to a reader (regression: host_fork's
 * "node of the wrong level or without references" abort in debug builds, the checker asserting
 * on reference counts that belong to the writers). Runs under TSan too, where the debug
 * checker is not built in: a thread of its own calls it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#include "core/check.h"

/* A plain program, not a Criterion test: Criterion cannot start under ThreadSanitizer. */
#define WRITERS 3
#define ROUNDS  16000
#define PAGES   16384 /* 64 MiB: a tree of two levels below the root */

static atomic_int writers_left = WRITERS;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void *writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    char *p = NULL;
    intptr_t err = 0;
    for (int r = 0; r < ROUNDS && !err; r++) {
        if (!p && !(p = VirtualAlloc(NULL, PAGES * 4096, MEM_RESERVE, PAGE_READWRITE))) {
            err = 1;
            break;
        }
        char *page = p + (SIZE_T)(next_rand(&seed) % (PAGES - 4)) * 4096; /* room for 4 pages */
        DWORD old;
        switch (next_rand(&seed) % 8) {
        case 0: /* the allocation dies: its last snapshot is retired */
            err = VirtualFree(p, 0, MEM_RELEASE) ? 0 : 2;
            p = NULL;
            break;
        case 1:
        case 2:
            err = VirtualFree(page, 4096 * (1 + next_rand(&seed) % 4), MEM_DECOMMIT) ? 0 : 3;
            break;
        case 3:
            if (VirtualAlloc(page, 4096, MEM_COMMIT, PAGE_READWRITE))
                err = VirtualProtect(page, 4096, PAGE_READONLY, &old) ? 0 : 4;
            else
                err = 5;
            break;
        default:
            err = VirtualAlloc(page, 4096, MEM_COMMIT, PAGE_READWRITE) ? 0 : 6;
        }
    }
    if (p && !VirtualFree(p, 0, MEM_RELEASE) && !err)
        err = 7;
    atomic_fetch_sub(&writers_left, 1);
    return (void *)err;
}

static void *checker(void *arg)
{
    (void)arg;
    long runs = 0;
    while (atomic_load(&writers_left) > 0) {
        if (wvm__check(true)) /* the check after a call: no comparison with the kernel */
            return (void *)1;
        runs++;
    }
    fprintf(stderr, "stress_checker: %ld checks while the writers ran\n", runs);
    return NULL;
}

int main(void)
{
    pthread_t w[WRITERS], c;
    pthread_create(&c, NULL, checker, NULL);
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 1));
    int failed = 0;
    for (int i = 0; i < WRITERS; i++) {
        void *r;
        pthread_join(w[i], &r);
        if (r) {
            fprintf(stderr, "stress_checker: writer %d failed at step %ld\n", i, (long)(intptr_t)r);
            failed = 1;
        }
    }
    void *r;
    pthread_join(c, &r);
    if (r) {
        fprintf(stderr, "stress_checker: the checker found a violation\n");
        failed = 1;
    }
    if (wvm_check_invariants()) {
        fprintf(stderr, "stress_checker: invariants violated at the end\n");
        failed = 1;
    }
    return failed;
}
