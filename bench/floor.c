/* The floor: for each case of bench.c, the bare Linux system calls that any emulation of the
 * Windows calls must make, with nothing around them (no bookkeeping, no alignment, no error
 * mapping). An emulation can only beat a floor by not making a system call at all (e.g. reserve
 * as bookkeeping in a pre-reserved arena); each case says why its calls are the minimum.
 * Same cases, parameters, random sequence and output as bench.c (see harness.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "harness.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux >= 6.13 */
#define MADV_GUARD_REMOVE  103
#endif

/* PROCMAP_QUERY (Linux >= 6.11); Debian 12's headers are 6.1, so the ABI is spelled here. */
struct bench_procmap_query {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define BENCH_PROCMAP_QUERY                _IOWR('f', 17, struct bench_procmap_query)
#define BENCH_PROCMAP_COVERING_OR_NEXT_VMA 0x10

static int maps_fd = -1;

static void die(const char *what, const char *key)
{
    fprintf(stderr, "floor: %s failed in case %s: %s\n", what, key, strerror(errno));
    exit(1);
}

static volatile uintptr_t sink;

/* reserve+commit 64 KiB, touch, release: the pages must come from the kernel zero-filled and
 * go back, so mmap(RW) + the first-touch fault + munmap is the least any emulation does. (The
 * floor skips the 64 KiB alignment Windows guarantees; that makes it only cheaper.)
 * Run on two threads at once (threads2), both serialise on the kernel's mmap_lock, which no
 * emulation avoids for calls that change mappings. */
static void cycle64k(void)
{
    char *p = mmap(NULL, BH_SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap", "alloc64k or threads2");
    *(volatile char *)p = 1;
    munmap(p, BH_SMALL);
}

static void case_alloc64k(void)
{
    BH_TIMED("alloc64k", bh_reps(201), 100, cycle64k());
}

/* reserve 1 MiB + release: the address range must be kept from other users of mmap, so a
 * PROT_NONE, MAP_NORESERVE mapping and its munmap. An emulation that reserves inside an arena
 * it mapped once makes no call at all here: the target is a fraction of this floor. */
static void case_reserve1m(void)
{
    BH_TIMED("reserve1m", bh_reps(201), 100, {
        void *p =
            mmap(NULL, BH_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            die("mmap", "reserve1m");
        munmap(p, BH_RESERVE);
    });
}

/* commit one page of a 1 GiB reservation, touch, decommit: commit makes the page accessible
 * (mprotect RW); decommit must drop its contents so that a re-commit reads zeros (madvise
 * DONTNEED) and make it inaccessible again (mprotect NONE). Three calls and a fault.
 * Two cheaper sequences exist and are measured as reference floors: mprotect + mmap(MAP_FIXED,
 * PROT_NONE) (commitpage_mmap, Wine's decommit), and with guard markers (Linux >= 6.13) two
 * madvise calls (commitpage_guard: GUARD_INSTALL also drops the contents). */
static void case_commitpage(void)
{
    char *r =
        mmap(NULL, BH_COMMIT_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint64_t seed = BH_SEED;
    if (r == MAP_FAILED)
        die("mmap", "commitpage");
    BH_TIMED("commitpage", bh_reps(201), 100, {
        char *pg = r + bh_rand(&seed) % (BH_COMMIT_SPAN / BH_PAGE) * BH_PAGE;
        if (mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
            die("mprotect", "commitpage");
        *(volatile char *)pg = 1;
        madvise(pg, BH_PAGE, MADV_DONTNEED);
        if (mprotect(pg, BH_PAGE, PROT_NONE))
            die("mprotect", "commitpage");
    });

    /* Wine's way: decommit by mapping fresh PROT_NONE memory over the page (MAP_FIXED), which
     * drops the contents and the access in one call. */
    seed = BH_SEED;
    BH_TIMED("commitpage_mmap", bh_reps(201), 100, {
        char *pg = r + bh_rand(&seed) % (BH_COMMIT_SPAN / BH_PAGE) * BH_PAGE;
        if (mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
            die("mprotect", "commitpage_mmap");
        *(volatile char *)pg = 1;
        if (mmap(pg, BH_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0) == MAP_FAILED)
            die("mmap", "commitpage_mmap");
    });
    munmap(r, BH_COMMIT_SPAN);

    r = mmap(NULL, BH_COMMIT_SPAN, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        die("mmap", "commitpage_guard");
    if (madvise(r, BH_COMMIT_SPAN, MADV_GUARD_INSTALL) != 0) {
        bh_note("commitpage_guard", "MADV_GUARD_INSTALL unavailable: %s", strerror(errno));
    } else {
        seed = BH_SEED;
        BH_TIMED("commitpage_guard", bh_reps(201), 100, {
            char *pg = r + bh_rand(&seed) % (BH_COMMIT_SPAN / BH_PAGE) * BH_PAGE;
            if (madvise(pg, BH_PAGE, MADV_GUARD_REMOVE))
                die("madvise", "commitpage_guard");
            *(volatile char *)pg = 1;
            if (madvise(pg, BH_PAGE, MADV_GUARD_INSTALL))
                die("madvise", "commitpage_guard");
        });
    }
    munmap(r, BH_COMMIT_SPAN);
}

/* toggle one page's protection in a committed 64 MiB block: two mprotect calls, nothing less
 * changes a page-table entry's permissions. */
static void case_protect(void)
{
    char *b =
        mmap(NULL, BH_PROTECT_SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t seed = BH_SEED;
    if (b == MAP_FAILED)
        die("mmap", "protect");
    memset(b, 1, BH_PROTECT_SPAN);
    BH_TIMED("protect", bh_reps(201), 100, {
        char *pg = b + bh_rand(&seed) % (BH_PROTECT_SPAN / BH_PAGE) * BH_PAGE;
        if (mprotect(pg, BH_PAGE, PROT_READ) || mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
            die("mprotect", "protect");
    });
    munmap(b, BH_PROTECT_SPAN);
}

/* The cheapest kernel lookup of one address: the PROCMAP_QUERY ioctl (Linux >= 6.11), an
 * O(log n) search of the process's mappings without formatting /proc/self/maps text. It only
 * knows mappings, not Windows allocations; an emulation that keeps its own table need not
 * call it at all, so the query target is absolute (ns), not a ratio. */
static int procmap_query(uintptr_t addr, unsigned flags, struct bench_procmap_query *q)
{
    memset(q, 0, sizeof *q);
    q->size = sizeof *q;
    q->query_flags = flags;
    q->query_addr = addr;
    return ioctl(maps_fd, BENCH_PROCMAP_QUERY, q);
}

static long walk_address_space(void)
{
    struct bench_procmap_query q;
    uintptr_t a = 0;
    long n = 0;
    while (procmap_query(a, BENCH_PROCMAP_COVERING_OR_NEXT_VMA, &q) == 0) {
        a = q.vma_end;
        n++;
    }
    return n;
}

/* n live 64 KiB regions, first page committed: each needs its own PROT_NONE mapping with the
 * first page made accessible, i.e. mmap + mprotect and two kernel mappings per region, so the
 * floor meets vm.max_map_count (65,530 by default) at ~32,700 regions, like Wine does. */
static void case_regions(long n, const char *tag)
{
    char key[3][32];
    char **regions = malloc(sizeof(char *) * (size_t)n);
    uintptr_t *addrs = malloc(sizeof(uintptr_t) * BH_QUERY_ADDRS);
    uint64_t seed = BH_SEED;
    long made = 0;
    snprintf(key[0], sizeof key[0], "create_%s", tag);
    snprintf(key[1], sizeof key[1], "query_%s", tag);
    snprintf(key[2], sizeof key[2], "walk_%s", tag);

    memset(regions, 0, sizeof(char *) * (size_t)n); /* resident before the memory is measured */
    uint64_t rss0 = bh_rss_bytes();
    int64_t pte0 = bh_pte_bytes();
    uint64_t t0 = bh_now_ns();
    for (; made < n; made++) {
        char *p =
            mmap(NULL, BH_REGION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            break;
        if (mprotect(p, BH_PAGE, PROT_READ | PROT_WRITE)) {
            munmap(p, BH_REGION);
            break;
        }
        regions[made] = p;
    }
    if (made < n) {
        bh_note(key[0], "mmap/mprotect failed (%s) after %ld regions", strerror(errno), made);
        for (int k = 0; k < 3; k++)
            bh_fail(key[k], made);
    } else {
        bh_result(key[0], (double)(bh_now_ns() - t0) / (double)n, "ns");
        bh_region_memory(tag, n, rss0, pte0);
        for (int i = 0; i < BH_QUERY_ADDRS; i++) {
            size_t off = bh_rand(&seed) % BH_REGION;
            addrs[i] = (uintptr_t)regions[bh_rand(&seed) % (uint64_t)n] + off;
        }
        BH_TIMED(key[1], bh_reps(101), 1000, {
            struct bench_procmap_query q;
            if (procmap_query(addrs[bh_i & (BH_QUERY_ADDRS - 1)], 0, &q))
                die("PROCMAP_QUERY", key[1]);
            sink += q.vma_end;
        });
        long seen = 0;
        BH_TIMED(key[2], bh_reps(11), 1, seen = walk_address_space());
        bh_note(key[2], "%ld mappings per walk", seen);
    }
    for (long i = 0; i < made; i++)
        munmap(regions[i], BH_REGION);
    free(regions);
    free(addrs);
}

/* 16 x 64 GiB reserved (16 PROT_NONE mappings), 1,000 pages committed by mprotect and touched,
 * each looked up with PROCMAP_QUERY, all unmapped. Memory: resident set growth beyond the
 * 1,000 touched pages (page tables are not counted by anyone's RSS). */
static void case_tib(void)
{
    uintptr_t *pages = malloc(sizeof(uintptr_t) * BH_TIB_PAGES);
    int samples = bh_reps(21) < 5 ? 3 : bh_reps(21) / 2;
    double *t = malloc(sizeof(double) * (size_t)samples);
    uint64_t seed = BH_SEED;
    for (int rep = 0; rep < samples; rep++) {
        char *r[BH_TIB_COUNT];
        bh_tib_pages(&seed, pages);
        int64_t rss0 = (int64_t)bh_rss_bytes();
        uint64_t t0 = bh_now_ns();
        for (int k = 0; k < BH_TIB_COUNT; k++) {
            r[k] = mmap(NULL, BH_TIB_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
            if (r[k] == MAP_FAILED)
                die("mmap", "tib_time");
        }
        for (int j = 0; j < BH_TIB_PAGES; j++) {
            char *pg = r[pages[j] >> 40] + (pages[j] & ((1ULL << 40) - 1));
            if (mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
                die("mprotect", "tib_time");
            *(volatile char *)pg = 1;
        }
        for (int j = 0; j < BH_TIB_PAGES; j++) {
            struct bench_procmap_query q;
            if (procmap_query((uintptr_t)r[pages[j] >> 40] + (pages[j] & ((1ULL << 40) - 1)), 0,
                              &q))
                die("PROCMAP_QUERY", "tib_time");
            sink += q.vma_flags;
        }
        if (rep == 0) {
            int64_t grew = (int64_t)bh_rss_bytes() - rss0 - (int64_t)BH_TIB_PAGES * BH_PAGE;
            bh_result("tib_mem", (double)(grew < 0 ? 0 : grew), "B");
        }
        for (int k = 0; k < BH_TIB_COUNT; k++)
            munmap(r[k], BH_TIB_SIZE);
        t[rep] = (double)(bh_now_ns() - t0);
    }
    bh_result("tib_time", bh_median(t, samples), "ns");
    free(t);
    free(pages);
}

/* A userfaultfd for write-protect with SIGBUS on a write (Linux >= 6.4) with [p, p+len)
 * registered, or -1: read-only pages without a mapping split. */
static int wp_uffd(char *p, size_t len)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_SIGBUS | (1 << 13)};
    struct uffdio_register reg = {.range = {(uintptr_t)p, len}, .mode = UFFDIO_REGISTER_MODE_WP};
    if (fd >= 0 && !ioctl(fd, UFFDIO_API, &api) && !ioctl(fd, UFFDIO_REGISTER, &reg))
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Makes [pg, pg+len) read-only (ro) or read-write: one write-protect ioctl, else mprotect. */
static int set_read_only(int fd, char *pg, size_t len, int ro)
{
    if (fd < 0)
        return mprotect(pg, len, ro ? PROT_READ : PROT_READ | PROT_WRITE);
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)pg, len},
                                     .mode = ro ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    return ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
}

/* The guard toggle's SIGSEGV handler: the faulting page becomes accessible (its marker
 * removed, or read-write), and the access runs again. */
static int guard_markers;
static void disarm(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    void *pg = (void *)((uintptr_t)si->si_addr & ~(uintptr_t)(BH_PAGE - 1));
    if (guard_markers)
        madvise(pg, BH_PAGE, MADV_GUARD_REMOVE);
    else
        mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE);
}

/* The fragmented heap of bench.c's case_islands with the cheapest kernel calls: with guard
 * markers (Linux >= 6.13) the 2 GiB is one read-write mapping whose uncommitted pages carry
 * markers, an island is a MADV_GUARD_REMOVE, and the cycle is GUARD_REMOVE + touch +
 * GUARD_INSTALL (which drops the contents): no split for uniform islands. Read-only islands
 * are userfaultfd write-protect where the kernel has it (no split), else mprotect, and each
 * splits the mapping: alternating islands meet vm.max_map_count. NOACCESS islands (never
 * touched) are markers, or PROT_NONE pages of the PROT_NONE reservation: no call. Without
 * markers: mprotect islands in a PROT_NONE mapping and commitpage's three-call cycle. The
 * read-only toggle (islprot_N) is two write-protect ioctls, or two mprotect calls; the
 * NOACCESS toggle (islnaprot_N) GUARD_REMOVE + GUARD_INSTALL, or two mprotect calls; the
 * guard toggle (islguard_N) the touch's SIGSEGV, whose handler removes the marker (or
 * mprotects), and GUARD_INSTALL (or mprotect) again. NOACCESS islands with data (isldna_N):
 * the data must stay, which a marker alone does not do: mprotect(PROT_NONE) (a split each,
 * meeting vm.max_map_count), toggled and guarded by mprotect. */
static void case_islands(long n, int alternate, const char *key)
{
    size_t stride = BH_ISLAND_SPAN / (size_t)n;
    uint64_t seed = BH_SEED;
    long made = 0;
    char *r = mmap(NULL, BH_ISLAND_SPAN, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        die("mmap", key);
    int markers = madvise(r, BH_ISLAND_SPAN, MADV_GUARD_INSTALL) == 0;
    if (!markers && mprotect(r, BH_ISLAND_SPAN, PROT_NONE))
        die("mprotect", key);
    int ro = alternate == BH_ISL_READONLY, data = alternate == BH_ISL_NOACCESS_DATA;
    int na = alternate == BH_ISL_NOACCESS || data;
    int fd = ro && markers ? wp_uffd(r, BH_ISLAND_SPAN) : -1;
    for (; made < n; made++) {
        char *pg = r + (size_t)made * stride;
        if (na && !data && (made & 1))
            continue; /* a NOACCESS island that was never touched: as it is */
        if (markers ? madvise(pg, BH_PAGE, MADV_GUARD_REMOVE)
                    : mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
            break;
        *(volatile char *)pg = 1;
        if (data && (made & 1) && mprotect(pg, BH_PAGE, PROT_NONE))
            break;
        if (ro && (made & 1) && set_read_only(fd, pg, BH_PAGE, 1))
            break;
    }
    if (made < n) {
        bh_note(key, "setting up the islands failed (%s) after %ld", strerror(errno), made);
        bh_fail(key, made);
    } else {
        bh_note(key, "%s", markers ? "guard markers" : "mprotect");
        BH_TIMED(key, bh_reps(101), 20, {
            char *pg = r + bh_island_gap(&seed, n, stride);
            if (markers) {
                if (madvise(pg, BH_PAGE, MADV_GUARD_REMOVE))
                    die("madvise", key);
                *(volatile char *)pg = 1;
                if (madvise(pg, BH_PAGE, MADV_GUARD_INSTALL))
                    die("madvise", key);
            } else {
                if (mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE))
                    die("mprotect", key);
                *(volatile char *)pg = 1;
                madvise(pg, BH_PAGE, MADV_DONTNEED);
                if (mprotect(pg, BH_PAGE, PROT_NONE))
                    die("mprotect", key);
            }
        });
    }
    char pkey[32], gkey[32];
    bh_island_prot_key(key, pkey, sizeof pkey);
    bh_island_guard_key(key, gkey, sizeof gkey);
    if (alternate && made < n) {
        bh_fail(pkey, made);
        if (na)
            bh_fail(gkey, made);
    } else if (ro) {
        bh_note(key, "read-only islands by %s; %ld kernel mappings in the process",
                fd >= 0 ? "userfaultfd write-protect" : "mprotect", bh_map_count());
        BH_TIMED(pkey, bh_reps(101), 20, {
            char *pg = r + (2 * (bh_rand(&seed) % (uint64_t)(n / 2)) + 1) * stride;
            if (set_read_only(fd, pg, BH_PAGE, 0) || set_read_only(fd, pg, BH_PAGE, 1))
                die("write-protect", pkey);
        });
    } else if (na) {
        bh_note(key, "NOACCESS islands by %s; %ld kernel mappings in the process",
                markers && !data ? "guard markers" : "PROT_NONE", bh_map_count());
        int by_marker = markers && !data;
        BH_TIMED(pkey, bh_reps(101), 20, {
            char *pg = r + (2 * (bh_rand(&seed) % (uint64_t)(n / 2)) + 1) * stride;
            if (by_marker ? madvise(pg, BH_PAGE, MADV_GUARD_REMOVE) ||
                                madvise(pg, BH_PAGE, MADV_GUARD_INSTALL)
                          : mprotect(pg, BH_PAGE, PROT_READ | PROT_WRITE) ||
                                mprotect(pg, BH_PAGE, PROT_NONE))
                die("NOACCESS toggle", pkey);
        });
        struct sigaction sa = {.sa_sigaction = disarm, .sa_flags = SA_SIGINFO}, old;
        sigemptyset(&sa.sa_mask);
        guard_markers = by_marker;
        if (sigaction(SIGSEGV, &sa, &old))
            die("sigaction", gkey);
        BH_TIMED(gkey, bh_reps(101), 20, {
            char *pg = r + (2 * (bh_rand(&seed) % (uint64_t)(n / 2)) + 1) * stride;
            (void)*(volatile char *)pg; /* faults: the handler disarms */
            if (by_marker ? madvise(pg, BH_PAGE, MADV_GUARD_INSTALL)
                          : mprotect(pg, BH_PAGE, PROT_NONE))
                die("guard toggle", gkey);
        });
        sigaction(SIGSEGV, &old, NULL);
    }
    if (fd >= 0)
        close(fd);
    munmap(r, BH_ISLAND_SPAN);
}

/* map + touch + unmap a 64 KiB view: a shared mapping of the section's memfd (made once), the
 * fault that maps its page, and munmap, is what any emulation of a view does. */
static void case_view64k(void)
{
    int fd = memfd_create("bench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, BH_VIEW) != 0)
        die("memfd_create", "view64k");
    BH_TIMED("view64k", bh_reps(201), 100, {
        char *p = mmap(NULL, BH_VIEW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            die("mmap", "view64k");
        *(volatile char *)p = 1;
        munmap(p, BH_VIEW);
    });
    close(fd);
}

/* The ring: reserve twice the size (PROT_NONE), map the memfd over each half (MAP_FIXED), touch
 * the last byte through one half and read it through the other, unmap the whole. */
static void case_ring(void)
{
    int fd = memfd_create("bench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, BH_VIEW) != 0)
        die("memfd_create", "ring");
    BH_TIMED("ring", bh_reps(201), 50, {
        char *p =
            mmap(NULL, 2 * BH_VIEW, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED ||
            mmap(p, BH_VIEW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
            mmap(p + BH_VIEW, BH_VIEW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
                MAP_FAILED)
            die("mmap", "ring");
        p[BH_VIEW - 1] = 1;
        sink += (unsigned char)p[2 * BH_VIEW - 1];
        munmap(p, 2 * BH_VIEW);
    });
    close(fd);
}

int main(int argc, char **argv)
{
    struct bench_procmap_query q;
    if (bh_parse_args(argc, argv) != 0)
        return 2;
    maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps_fd < 0 || procmap_query((uintptr_t)&q, 0, &q) != 0) {
        bh_note("variant", "floor without PROCMAP_QUERY (Linux >= 6.11): %s", strerror(errno));
        maps_fd = -1;
    } else {
        bh_note("variant", "floor");
    }
    bh_cases cases = {case_alloc64k, case_reserve1m, case_commitpage, case_protect, case_regions,
                      case_tib,      cycle64k,       case_islands,    case_view64k, case_ring};
    if (maps_fd < 0) /* the query cases have no floor without PROCMAP_QUERY */
        cases.regions = NULL, cases.tib = NULL;
    bh_run_cases(&cases);
    return 0;
}
