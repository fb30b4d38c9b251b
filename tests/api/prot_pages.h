/* Helpers of the per-page protection tests at scale (test_readonly_pages.c,
 * test_noaccess_pages.c): switches, a fresh read-write allocation,
 * islands of one protection among read-write pages. */
#ifndef WVM_TEST_PROT_PAGES_H
#define WVM_TEST_PROT_PAGES_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "maps.h"
#include "veh_record.h"

static int env_off(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '0';
}

/* The mechanism bit is in use exactly when expected. */
static void check_mechanism(uint32_t bit, int expected, const char *name)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    cr_assert_eq(!!(st.mechanisms_in_use & bit), expected, "%s in use: %d, expected %d", name,
                 !!(st.mechanisms_in_use & bit), expected);
}

static char *commit_rw(size_t pages)
{
    char *p =
        wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    return p;
}

static int set_prot(char *p, size_t pages, uint32_t prot)
{
    uint32_t old;
    return wvm_VirtualProtect(p, pages * PAGE, prot, &old);
}
#define ISLANDS      131072L /* one-page islands, each between two read-write pages */
#define ISLAND_PAGES (2 * ISLANDS + 1)

/* Island i of a reservation of ISLAND_PAGES pages. */
static char *island(char *r, long i)
{
    return r + (2 * i + 1) * PAGE;
}

/* Island k of a sample of `sampled(made)` spread over the first `made` islands. */
static long sampled(long made)
{
    return made < 64 ? made : 64;
}

static long sample_island(long made, long k)
{
    return k * (made / sampled(made));
}

typedef struct {
    long made;        /* islands made: ISLANDS, or the one whose VirtualProtect failed */
    long maps0, own0; /* process mappings, and those over the reservation, after the first */
    long maps1, own1; /* after the last */
} islands_t;

/* Gives every island of r (ISLAND_PAGES committed read-write pages) protection `prot`, one
 * VirtualProtect each. per_page: the mechanism in use keeps protections per page, so every
 * island is made and the reservation's kernel mappings stay as the first island left them;
 * else each island splits the mapping (mprotect) until vm.max_map_count, where VirtualProtect
 * fails with ERROR_NOT_ENOUGH_MEMORY and leaves the island read-write. Either way the first
 * island is a one-page region of `prot` between read-write pages. per_page 2: pages with data
 * under the default policy of WINVMEM_MARKER_DATA: every island made, the process's mappings
 * near 1/16 of vm.max_map_count. */
static islands_t make_islands(char *r, uint32_t prot, int per_page)
{
    islands_t is = {0};
    long limit = max_map_count();
    uint32_t err = 0;
    for (; is.made < ISLANDS; is.made++) {
        if (!set_prot(island(r, is.made), 1, prot)) {
            err = wvm_GetLastError();
            break;
        }
        if (is.made == 0) { /* after the reservation's registration */
            is.maps0 = map_count();
            is.own0 = maps_over(r, r + ISLAND_PAGES * PAGE);
        }
    }
    is.maps1 = map_count();
    is.own1 = maps_over(r, r + ISLAND_PAGES * PAGE);
    if (per_page == 2) { /* pages with data under WINVMEM_MARKER_DATA's default policy */
        cr_assert_eq(is.made, ISLANDS, "island %ld failed with error %u (maps %ld)", is.made, err,
                     is.maps1);
        /* mprotect up to 1/16 of the limit (a margin for the estimate's slack), then the stash
         * (core/stash_policy.c) */
        cr_assert_geq(is.maps1, limit / 16 - 500, "the policy stashed early: %ld", is.maps1);
        cr_assert_leq(is.maps1, limit / 16 + 500, "the policy stashed late: %ld", is.maps1);
    } else if (per_page) {
        cr_assert_eq(is.made, ISLANDS, "island %ld failed with error %u (maps %ld)", is.made, err,
                     is.maps1);
        cr_assert_eq(is.own1, is.own0,
                     "mappings of the reservation: %ld after the first island, %ld after all",
                     is.own0, is.own1);
        cr_assert_leq(is.own1, 3);
        /* the process gains only winvmem's bookkeeping for 262,145 runs */
        cr_assert_leq(is.maps1 - is.maps0, 2,
                      "kernel mappings %ld after the first island, %ld after all", is.maps0,
                      is.maps1);
    } else {
        cr_assert_lt(is.made, ISLANDS, "mprotect islands did not meet vm.max_map_count %ld", limit);
        cr_assert_eq(err, WVM_ERROR_NOT_ENOUGH_MEMORY);
        cr_assert_geq(is.maps1, limit - 2, "failed at %ld mappings, limit %ld", is.maps1, limit);
        cr_assert_eq(prot_of(island(r, is.made)), WVM_PAGE_READWRITE);
    }
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(island(r, 0), &m, sizeof m), sizeof m);
    cr_assert_eq(m.Protect, prot);
    cr_assert_eq(m.RegionSize, PAGE);
    cr_assert_eq(m.State, WVM_MEM_COMMIT);
    cr_assert_eq(prot_of(island(r, 0) + PAGE), WVM_PAGE_READWRITE);
    return is;
}

/* A kernel write into p (read(2) into it) fails. */
static void kernel_write_fails(char *p)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    cr_assert_eq(read(fds[0], p, 1), -1);
    close(fds[0]);
    close(fds[1]);
}

/* A write that must not fault. */
static void write_succeeds(char *at, char value)
{
    int before = last.count;
    *(volatile char *)at = value;
    cr_assert_eq(last.count, before, "write to %p faulted", (void *)at);
    cr_assert_eq(*at, value);
}

/* The suites' init: the recording handler, which makes a faulting page read-write. */
static void prot_pages_setup(void)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_prot = WVM_PAGE_READWRITE;
    fix_commit = 0;
    /* a NOACCESS page with data first: the arena's stash (one kernel mapping, reserved with
     * the arena and made read-write at the first such page, core/stash.h) is ready before the
     * tests count mappings */
    char *p = commit_rw(1);
    p[0] = 1;
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p, 1, WVM_PAGE_READWRITE));
    cr_assert_eq(p[0], 1);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}
#endif
