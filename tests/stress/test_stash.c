/* Data of pages that become PAGE_NOACCESS or PAGE_GUARD while threads read and write them
 * (issue 14 item 2, core/stash.h): with guard markers, a page holding data is copied aside,
 * marked, and put back over its marker when access returns; no access may see a byte the page
 * never held (a zero of an empty entry between the marker and the data), lose a store that got
 * through, or see a store that faulted.
 *
 * PAGES pages of one reservation, SLOTS byte slots each. Each slot has one writer, which
 * stores an increasing count (byte n % 255 + 1: never zero) through a fault-catching probe,
 * announcing the count it tries before the store and confirming it after a store that got
 * through. Two changers set random pages to PAGE_NOACCESS, PAGE_GUARD | PAGE_READWRITE or
 * PAGE_READWRITE (each page by one changer); readers probe random slots: a read that gets
 * through must return the byte of a count between the confirmed one before the read and the
 * tried one after it; queriers check that VirtualQuery shows a committed page of one of the
 * three protections, whole pages. At the end every slot holds its last confirmed count.
 * A plain program (runs under TSan too). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <winvmem/win32.h>

#include "oplang.h"

#define PAGES   32
#define SLOTS   16
#define WRITERS 2
#define READERS 2
#define SECONDS 3

static unsigned char *pages;
static _Atomic unsigned long tried[PAGES][SLOTS], confirmed[PAGES][SLOTS];
static _Atomic int stop, failed;
static _Atomic unsigned long writes, faulted, reads, changes, queries;

static unsigned char byte_of(unsigned long n)
{
    return (unsigned char)(n % 255 + 1);
}

static volatile unsigned char *slot(int p, int s)
{
    return pages + (size_t)p * 4096 + (size_t)s * 256 + (size_t)(p % 7);
}

static void fail(const char *what, int p, int s, unsigned long a, unsigned long b)
{
    if (atomic_fetch_add(&failed, 1) < 10)
        printf("FAIL: %s (page %d, slot %d: %lu %lu)\n", what, p, s, a, b);
}

static void *writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    unsigned seed = 5u + (unsigned)w;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int p = (int)(rand_r(&seed) % (PAGES / WRITERS)) * WRITERS + w, s = rand_r(&seed) % SLOTS;
        unsigned long n = atomic_load(&tried[p][s]) + 1;
        atomic_store(&tried[p][s], n);
        char f = opl_probe_write(slot(p, s), byte_of(n));
        if (!f)
            atomic_store(&confirmed[p][s], n);
        atomic_fetch_add(f ? &faulted : &writes, 1);
    }
    return NULL;
}

static void *reader(void *arg)
{
    unsigned seed = 11u + (unsigned)(intptr_t)arg;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int p = rand_r(&seed) % PAGES, s = rand_r(&seed) % SLOTS;
        unsigned long lo = atomic_load(&confirmed[p][s]);
        unsigned char b;
        char f = opl_probe_read(slot(p, s), &b);
        unsigned long hi = atomic_load(&tried[p][s]);
        if (f)
            continue;
        atomic_fetch_add(&reads, 1);
        int ok = hi - lo >= 255;
        for (unsigned long n = lo; !ok && n <= hi; n++)
            ok = byte_of(n) == b;
        if (!ok)
            fail("a read returned a byte no store between its bounds wrote", p, s, b, lo);
    }
    return NULL;
}

static void *changer(void *arg)
{
    int half = (int)(intptr_t)arg;
    unsigned seed = 23u + (unsigned)half;
    static const DWORD prots[] = {PAGE_NOACCESS, PAGE_READWRITE | PAGE_GUARD, PAGE_READWRITE};
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int p = (int)(rand_r(&seed) % (PAGES / 2)) * 2 + half;
        DWORD old;
        if (!VirtualProtect(pages + (size_t)p * 4096, 4096, prots[rand_r(&seed) % 3], &old)) {
            fail("VirtualProtect failed", p, 0, GetLastError(), 0);
            break;
        }
        atomic_fetch_add(&changes, 1);
    }
    return NULL;
}

static void *querier(void *arg)
{
    unsigned seed = 31u + (unsigned)(intptr_t)arg;
    while (!atomic_load(&stop) && !atomic_load(&failed)) {
        int p = rand_r(&seed) % PAGES;
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(pages + (size_t)p * 4096 + 100, &m, sizeof m) != sizeof m ||
            m.State != MEM_COMMIT || m.BaseAddress != pages + (size_t)p * 4096 ||
            m.RegionSize % 4096 || !m.RegionSize ||
            (m.Protect != PAGE_NOACCESS && m.Protect != PAGE_READWRITE &&
             m.Protect != (PAGE_READWRITE | PAGE_GUARD))) {
            fail("VirtualQuery shows a state no call made", p, 0, m.State, m.Protect);
            break;
        }
        atomic_fetch_add(&queries, 1);
    }
    return NULL;
}

int main(void)
{
    opl_init();
    pages = VirtualAlloc(NULL, PAGES * 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!pages) {
        printf("FAIL: setup\n");
        return 1;
    }
    for (int p = 0; p < PAGES; p++)
        for (int s = 0; s < SLOTS; s++) {
            *slot(p, s) = byte_of(0);
            if (p % 3 == 0) /* some pages hold data in every byte */
                for (int i = 0; i < 256; i++)
                    if (i != p % 7)
                        pages[(size_t)p * 4096 + (size_t)s * 256 + (size_t)i] = (unsigned char)i;
        }
    pthread_t t[WRITERS + READERS + 3];
    int n = 0;
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&t[n++], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < READERS; i++)
        pthread_create(&t[n++], NULL, reader, (void *)(intptr_t)i);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[n++], NULL, changer, (void *)(intptr_t)i);
    pthread_create(&t[n++], NULL, querier, NULL);
    struct timespec d = {SECONDS, 0};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    DWORD old;
    if (!VirtualProtect(pages, PAGES * 4096, PAGE_READWRITE, &old))
        fail("final VirtualProtect failed", 0, 0, GetLastError(), 0);
    for (int p = 0; p < PAGES && !atomic_load(&failed); p++)
        for (int s = 0; s < SLOTS; s++) {
            if (*slot(p, s) != byte_of(atomic_load(&confirmed[p][s])))
                fail("a slot lost its last store", p, s, *slot(p, s),
                     atomic_load(&confirmed[p][s]));
            if (p % 3 == 0)
                for (int i = 0; i < 256; i++)
                    if (i != p % 7 &&
                        pages[(size_t)p * 4096 + (size_t)s * 256 + (size_t)i] != (unsigned char)i) {
                        fail("a page lost its data", p, s, (unsigned long)i, 0);
                        break;
                    }
        }
    printf("%lu changes, %lu writes (%lu faulted), %lu reads, %lu queries\n", atomic_load(&changes),
           atomic_load(&writes), atomic_load(&faulted), atomic_load(&reads), atomic_load(&queries));
    if (!atomic_load(&changes) || !atomic_load(&writes) || !atomic_load(&faulted) ||
        !atomic_load(&reads)) {
        printf("FAIL: a kind of thread never got through: the test proved nothing\n");
        return 1;
    }
    if (atomic_load(&failed))
        return 1;
    printf("PASS\n");
    return 0;
}
