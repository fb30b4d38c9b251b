/* Placeholders split at pages while other threads query the pages of the same granules: the
 * index keeps page entries for a granule shared by pieces (src/core/radix.h), and a lock-free
 * VirtualQuery must see every split, replacement, coalescing and release whole. Each writer
 * owns one 64 KiB placeholder at a time and checks its own pieces; the queriers check every
 * answer against what any piece of a 64 KiB placeholder can look like; a thief reserves the
 * writers' granules (refused with 487 while a piece lives there, possible once the last piece
 * gave the granule back). Runs under TSan in CI. With --outside, the placeholders are made at
 * fixed addresses outside winvmem's arenas (dedicated mappings), and a writer checks that the
 * page of its released first piece stays mapped while the middle piece lives (held pages,
 * src/core/index.c: the kernel must not hand them out). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <winvmem/stats.h>
#include <winvmem/win32.h>

/* A plain program, not a Criterion test: Criterion cannot start under ThreadSanitizer. */
#define WRITERS  3
#define QUERIERS 2
#define ROUNDS   1000
#define PG       ((SIZE_T)0x1000)
#define GRAN     ((SIZE_T)0x10000)

static _Atomic uintptr_t granule[WRITERS]; /* each writer's placeholder, 0 between rounds */
static _Atomic int stop;
static _Atomic unsigned long queries, bad, stolen, refused, displaced;
#define SLOTS 16
static char *region; /* --outside: SLOTS granules per writer, outside the arenas */
static _Atomic int go;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static int region_is(char *at, char *abase, SIZE_T size, DWORD state, DWORD aprot)
{
    MEMORY_BASIC_INFORMATION m;
    return VirtualQuery(at, &m, sizeof m) == sizeof m && m.BaseAddress == at &&
           m.AllocationBase == abase && m.RegionSize == size && m.State == state &&
           m.AllocationProtect == aprot;
}

#define PRESERVE (MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)

/* One round: three pieces [0, c1) [c1, c2) [c2, 16) pages, the middle one replaced by a
 * committed allocation and put back, all coalesced, split again and released piece by piece. */
/* A 64 KiB placeholder: anywhere, or (--outside) at one of the writer's slots not taken by the
 * thief or by a mapping the kernel made meanwhile. */
static char *new_placeholder(unsigned id, unsigned *seed)
{
    const DWORD type = MEM_RESERVE | MEM_RESERVE_PLACEHOLDER;
    if (!region)
        return VirtualAlloc2(NULL, NULL, GRAN, type, PAGE_NOACCESS, NULL, 0);
    unsigned first = next_rand(seed) % SLOTS;
    for (unsigned k = 0; k < SLOTS; k++) {
        char *want = region + (id * SLOTS + (first + k) % SLOTS) * GRAN;
        char *p = VirtualAlloc2(NULL, want, GRAN, type, PAGE_NOACCESS, NULL, 0);
        if (p || GetLastError() != ERROR_INVALID_ADDRESS)
            return p;
        displaced++;
    }
    return NULL;
}

/* Whether the kernel keeps [p, p+PG) mapped (a mapping that may not replace one: EEXIST). */
static int kernel_maps(char *p)
{
    void *m = mmap(p, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED)
        return errno == EEXIST;
    munmap(m, PG);
    return 0;
}

static int round_of(unsigned id, unsigned *seed)
{
    char *p = new_placeholder(id, seed);
    if (!p)
        return 1;
    granule[id] = (uintptr_t)p;
    unsigned c1 = 1 + next_rand(seed) % 7, c2 = c1 + 1 + next_rand(seed) % 7;
    char *mid = p + c1 * PG, *tail = p + c2 * PG;
    SIZE_T msize = (c2 - c1) * PG;
    if (!VirtualFree(mid, msize, PRESERVE))
        return 2;
    if (!region_is(p, p, c1 * PG, MEM_RESERVE, PAGE_NOACCESS) ||
        !region_is(tail, tail, GRAN - c2 * PG, MEM_RESERVE, PAGE_NOACCESS))
        return 3;
    if (VirtualAlloc2(NULL, mid, msize, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                      PAGE_READWRITE, NULL, 0) != mid)
        return 4;
    memset(mid, (int)id + 1, msize);
    if (mid[msize - 1] != (char)(id + 1) || !region_is(mid, mid, msize, MEM_COMMIT, PAGE_READWRITE))
        return 5;
    if (!VirtualFree(mid, msize, PRESERVE))
        return 6;
    if (!VirtualFree(p, GRAN, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS))
        return 7;
    if (!region_is(p, p, GRAN, MEM_RESERVE, PAGE_NOACCESS))
        return 8;
    if (!VirtualFree(mid, GRAN - c1 * PG, PRESERVE))
        return 9;
    /* release in either order: the granule is free again only after the last piece */
    char *first = next_rand(seed) & 1 ? p : mid, *second = first == p ? mid : p;
    if (!VirtualFree(first, 0, MEM_RELEASE))
        return 10;
    if (first == p && !region_is(p, NULL, c1 * PG, MEM_FREE, 0))
        return 11;
    if (region && first == p && !kernel_maps(p))
        return 13; /* the released piece's page left to the kernel while mid lives */
    granule[id] = 0;
    if (!VirtualFree(second, 0, MEM_RELEASE))
        return 12;
    return 0;
}

static void *writer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919u + 3;
    while (!go)
        sched_yield();
    for (int r = 0; r < ROUNDS; r++) {
        int err = round_of(id, &seed);
        if (err) {
            fprintf(stderr, "writer %u round %d: step %d, last error %u\n", id, r, err,
                    GetLastError());
            return (void *)1;
        }
    }
    return NULL;
}

/* Any answer for a page of granule g: free (a region of at least one page), or a piece of a
 * placeholder of g, placeholder or committed read-write replacement, inside g. g may be stale
 * (released, taken by another writer's placeholder): that is also such a granule. */
static int plausible(uintptr_t g, char *page, const MEMORY_BASIC_INFORMATION *m)
{
    if (m->BaseAddress != page || m->RegionSize < PG || m->RegionSize % PG)
        return 0;
    if (m->State == MEM_FREE)
        return !m->AllocationBase && m->Protect == PAGE_NOACCESS;
    uintptr_t ab = (uintptr_t)m->AllocationBase, end = (uintptr_t)page + m->RegionSize;
    if (ab < g || ab > (uintptr_t)page || ab % PG || end > g + GRAN || m->Type != MEM_PRIVATE)
        return 0;
    if (m->State == MEM_RESERVE)
        return m->Protect == 0 &&
               (m->AllocationProtect == PAGE_NOACCESS || m->AllocationProtect == PAGE_READWRITE);
    return m->State == MEM_COMMIT && m->Protect == PAGE_READWRITE &&
           m->AllocationProtect == PAGE_READWRITE;
}

static void *querier(void *arg)
{
    unsigned seed = 99 + (unsigned)(uintptr_t)arg;
    while (!stop) {
        uintptr_t g = granule[next_rand(&seed) % WRITERS];
        if (!g)
            continue;
        char *page = (char *)g + (next_rand(&seed) % 16) * PG;
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(page, &m, sizeof m) != sizeof m || !plausible(g, page, &m)) {
            if (bad++ < 5)
                fprintf(stderr,
                        "query %p (granule %p): base %p abase %p size %#zx state %#lx prot %#lx "
                        "aprot %#lx\n",
                        (void *)page, (void *)g, m.BaseAddress, m.AllocationBase, m.RegionSize,
                        (unsigned long)m.State, (unsigned long)m.Protect,
                        (unsigned long)m.AllocationProtect);
        }
        queries++;
    }
    return NULL;
}

/* Reserves 64 KiB exactly at a writer's granule: success only when nothing lives there, which
 * the reservation must then show whole; else 487. */
static void *thief(void *arg)
{
    (void)arg;
    unsigned seed = 7;
    while (!stop) {
        uintptr_t g = granule[next_rand(&seed) % WRITERS];
        if (!g)
            continue;
        char *p = VirtualAlloc((void *)g, GRAN, MEM_RESERVE, PAGE_READWRITE);
        if (!p) {
            if (GetLastError() != ERROR_INVALID_ADDRESS && bad++ < 5)
                fprintf(stderr, "reserve at %p: error %u\n", (void *)g, GetLastError());
            refused++;
            continue;
        }
        if ((p != (char *)g || !region_is(p, p, GRAN, MEM_RESERVE, PAGE_READWRITE)) && bad++ < 5)
            fprintf(stderr, "reserve at %p: got %p\n", (void *)g, (void *)p);
        stolen++;
        VirtualFree(p, 0, MEM_RELEASE);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t w[WRITERS], q[QUERIERS], t;
    for (uintptr_t i = 0; i < QUERIERS; i++)
        pthread_create(&q[i], NULL, querier, (void *)i);
    pthread_create(&t, NULL, thief, NULL);
    for (uintptr_t i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, writer, (void *)i);
    if (argc > 1 && !strcmp(argv[1], "--outside")) {
        /* free address space the kernel picks (outside the arenas), once every thread's stack
         * is mapped: the bottom of 4 GiB, as the kernel maps top-down, so that what is mapped
         * meanwhile lands above the writers' slots (glibc's per-thread malloc arenas, 128 MiB
         * each, made at a thread's first malloc: with the bottom of 64 MiB one took a writer's
         * every slot, 487, under load; a mapping that still lands there only displaces a
         * writer to another slot) */
        size_t len = (size_t)4 << 30;
        char *m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || munmap(m, len))
            return 1;
        region = (char *)(((uintptr_t)m + GRAN - 1) & ~(uintptr_t)(GRAN - 1));
    }
    go = 1;
    int failed = 0;
    for (int i = 0; i < WRITERS; i++) {
        void *r;
        pthread_join(w[i], &r);
        failed |= r != NULL;
    }
    stop = 1;
    for (int i = 0; i < QUERIERS; i++)
        pthread_join(q[i], NULL);
    pthread_join(t, NULL);
    if (bad || wvm_check_invariants())
        failed = 1;
    printf("stress_page_pieces%s: %lu queries, %lu reservations in writers' granules (%lu "
           "refused), %lu placeholders displaced, %lu implausible: %s\n",
           region ? " --outside" : "", (unsigned long)queries, (unsigned long)stolen,
           (unsigned long)refused, (unsigned long)displaced, (unsigned long)bad,
           failed ? "FAILED" : "ok");
    return failed;
}
