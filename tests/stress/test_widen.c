/* Accesses racing page operations that grant and take away access (issue 11, finding (g) of
 * tests/lin/README.md): a widening call publishes its new state before the kernel allows the
 * access, a narrowing one after the kernel forbids it, and an access that faults in between
 * waits for the call and is retried.
 *
 * Two threads widen and narrow targets, each target by one thread only, counting a version per
 * target: 4k reserved/forbidding, 4k+1 widening, 4k+2 allowing, 4k+3 narrowing. Targets: pages
 * committed and decommitted, pages protected NOACCESS <-> READWRITE and READONLY <-> READWRITE,
 * 64 KiB granules reserved+committed at their address (half of them with MEM_WRITE_WATCH) and
 * released, and 64 KiB placeholders replaced by reserved+committed memory (VirtualAlloc2
 * MEM_REPLACE_PLACEHOLDER | MEM_RESERVE | MEM_COMMIT) and released back to placeholders
 * (MEM_PRESERVE_PLACEHOLDER). Three threads read or write a target through fault-catching
 * probes, between two VirtualQuery calls, reading the version before (v0), after the access
 * (v1) and after the second query (v2). With w the version the target's last widening started
 * from (v0 rounded down to 4k) and n the one its last narrowing started from (4k+2), each is a
 * failure:
 *   - a fault although the widening had finished before the access and no narrowing began
 *     until after it (v0 = v1 = 4k+2);
 *   - a fault after a query (taken before the access) showed the access allowed, with no
 *     narrowing begun by the end of the access (v0 in {4k, 4k+1}, v1 <= w+2): the query saw the
 *     widening, so the access came after it;
 *   - an access that got through while the query after it still shows the access forbidden,
 *     with no narrowing begun by the end of that query (v0 in {4k, 4k+1}, v2 <= w+2);
 *   - an access that got through after a query showed it forbidden, no widening begun by the
 *     end of the access (v0 in {4k+2, 4k+3}, v1 <= n+2): the query saw the narrowing.
 * A plain program (runs under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <winvmem/win32.h>

#include "oplang.h"

#define PAGES     48 /* page targets, in one reservation */
#define GRANULES  8  /* granule targets, reserved+committed and released at their address */
#define HOLDERS   8  /* placeholder targets, replaced and given back */
#define TARGETS   (PAGES + GRANULES + HOLDERS)
#define ACCESSORS 3
#define SECONDS   3

enum kind { COMMIT, PROTECT_NOACCESS, PROTECT_READONLY, RESERVE, PLACEHOLDER };

static char *pages, *granules, *holders;
static _Atomic unsigned long ver[TARGETS];
static _Atomic int stop, failed;
static _Atomic unsigned long accesses, raced, raced_ok, raced_fault;

static enum kind kind_of(int t)
{
    return t >= PAGES + GRANULES ? PLACEHOLDER : t >= PAGES ? RESERVE : (enum kind)(t % 3);
}

static char *addr_of(int t)
{
    if (t >= PAGES + GRANULES)
        return holders + (size_t)(t - PAGES - GRANULES) * 65536;
    return t < PAGES ? pages + (size_t)t * 4096 : granules + (size_t)(t - PAGES) * 65536;
}

static int fail(const char *what, int t, unsigned long v0, unsigned long v1, unsigned long v2)
{
    if (atomic_fetch_add(&failed, 1) < 10)
        printf("FAIL: %s (target %d, kind %d, versions %lu %lu %lu)\n", what, t, kind_of(t), v0, v1,
               v2);
    return 1;
}

/* Widens (grant) or narrows target t; false and a message when the call fails. */
static int change(int t, int grant)
{
    char *p = addr_of(t);
    DWORD old;
    BOOL ok = TRUE;
    switch (kind_of(t)) {
    case COMMIT:
        ok = grant ? VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE) != NULL
                   : VirtualFree(p, 4096, MEM_DECOMMIT);
        break;
    case PROTECT_NOACCESS:
        ok = VirtualProtect(p, 4096, grant ? PAGE_READWRITE : PAGE_NOACCESS, &old);
        break;
    case PROTECT_READONLY:
        ok = VirtualProtect(p, 4096, grant ? PAGE_READWRITE : PAGE_READONLY, &old);
        break;
    case RESERVE:
        ok = grant
                 ? VirtualAlloc(p, 65536, MEM_RESERVE | MEM_COMMIT | (t % 2 ? MEM_WRITE_WATCH : 0),
                                PAGE_READWRITE) == p
                 : VirtualFree(p, 0, MEM_RELEASE);
        break;
    case PLACEHOLDER:
        ok = grant
                 ? VirtualAlloc2(NULL, p, 65536, MEM_REPLACE_PLACEHOLDER | MEM_RESERVE | MEM_COMMIT,
                                 PAGE_READWRITE, NULL, 0) == p
                 : VirtualFree(p, 65536, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER);
        break;
    }
    if (!ok) {
        printf("FAIL: %s of target %d: error %u\n", grant ? "widening" : "narrowing", t,
               (unsigned)GetLastError());
        atomic_fetch_add(&failed, 1);
    }
    return ok;
}

static void *changer(void *arg)
{
    int half = (int)(intptr_t)arg;
    unsigned seed = 17u + (unsigned)half;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int t = 2 * (rand_r(&seed) % (TARGETS / 2)) + half;
        int grant = atomic_load(&ver[t]) % 4 == 0;
        atomic_fetch_add(&ver[t], 1);
        if (!change(t, grant))
            break;
        atomic_fetch_add(&ver[t], 1);
    }
    return NULL;
}

/* Whether the query of target t shows `write` (else a read) allowed. */
static int allowed(int t, int write)
{
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(addr_of(t), &m, sizeof m) != sizeof m || m.State != MEM_COMMIT)
        return 0;
    return m.Protect == PAGE_READWRITE || (!write && m.Protect == PAGE_READONLY);
}

/* A target whose read is always allowed (READONLY <-> READWRITE) is only written. */
static void check(int t, int write, unsigned seed)
{
    unsigned long v0 = atomic_load(&ver[t]);
    int before = allowed(t, write);
    unsigned char b = (unsigned char)seed;
    char f = write ? opl_probe_write((unsigned char *)addr_of(t) + 8, b)
                   : opl_probe_read((unsigned char *)addr_of(t) + 8, &b);
    unsigned long v1 = atomic_load(&ver[t]);
    int after = allowed(t, write);
    unsigned long v2 = atomic_load(&ver[t]);
    atomic_fetch_add(&accesses, 1);
    unsigned long w = v0 & ~3ul, n = w + 2;
    int widening = v0 % 4 < 2, quiet = v0 == v1;
    if (f == 'g') {
        fail("a guard-page violation on a target that never has a guard", t, v0, v1, v2);
        return;
    }
    if (widening && (v0 % 4 == 1 || v1 != v0)) {
        atomic_fetch_add(&raced, 1);
        atomic_fetch_add(f ? &raced_fault : &raced_ok, 1);
    }
    if (f && quiet && v0 % 4 == 2)
        fail("a fault although the widening had finished before the access", t, v0, v1, v2);
    else if (f && widening && before && v1 <= w + 2)
        fail("a fault after a query showed the access allowed (widening)", t, v0, v1, v2);
    else if (!f && widening && !after && v2 <= w + 2)
        fail("an access got through, a query after it shows it forbidden", t, v0, v1, v2);
    else if (!f && !widening && !before && v1 <= n + 2)
        fail("an access got through after a query showed the narrowing", t, v0, v1, v2);
}

static void *accessor(void *arg)
{
    unsigned seed = 91u + (unsigned)(intptr_t)arg;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int t = rand_r(&seed) % TARGETS;
        check(t, kind_of(t) == PROTECT_READONLY || rand_r(&seed) % 2, seed);
    }
    return NULL;
}

int main(void)
{
    opl_init();
    pages = VirtualAlloc(NULL, PAGES * 4096, MEM_RESERVE, PAGE_NOACCESS);
    /* the granules: an address range found free, released for the targets to take */
    granules = VirtualAlloc(NULL, GRANULES * 65536, MEM_RESERVE, PAGE_NOACCESS);
    /* the placeholders: one, split into 64 KiB pieces */
    holders = VirtualAlloc2(NULL, NULL, HOLDERS * 65536, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    if (!pages || !granules || !VirtualFree(granules, 0, MEM_RELEASE) || !holders) {
        printf("FAIL: setup\n");
        return 1;
    }
    for (int i = 0; i + 1 < HOLDERS; i++)
        if (!VirtualFree(holders + (size_t)i * 65536, 65536,
                         MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)) {
            printf("FAIL: setup split: error %u\n", (unsigned)GetLastError());
            return 1;
        }
    for (int t = 0; t < PAGES; t++) { /* every target starts forbidding (version 0) */
        DWORD prot = kind_of(t) == PROTECT_NOACCESS ? PAGE_NOACCESS : PAGE_READONLY;
        if (kind_of(t) != COMMIT && !VirtualAlloc(addr_of(t), 4096, MEM_COMMIT, prot)) {
            printf("FAIL: setup commit\n");
            return 1;
        }
    }
    pthread_t ch[2], ac[ACCESSORS];
    for (int i = 0; i < 2; i++)
        pthread_create(&ch[i], NULL, changer, (void *)(intptr_t)i);
    for (int i = 0; i < ACCESSORS; i++)
        pthread_create(&ac[i], NULL, accessor, (void *)(intptr_t)i);
    struct timespec d = {SECONDS, 0};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(ch[i], NULL);
    for (int i = 0; i < ACCESSORS; i++)
        pthread_join(ac[i], NULL);
    unsigned long changes = 0;
    for (int t = 0; t < TARGETS; t++)
        changes += atomic_load(&ver[t]) / 2;
    printf("%lu changes, %lu accesses, %lu racing a widening (%lu got through, %lu faulted)\n",
           changes, atomic_load(&accesses), atomic_load(&raced), atomic_load(&raced_ok),
           atomic_load(&raced_fault));
    if (!atomic_load(&raced)) {
        printf("FAIL: no access raced a widening: the test proved nothing\n");
        return 1;
    }
    if (atomic_load(&failed))
        return 1;
    printf("PASS\n");
    return 0;
}
