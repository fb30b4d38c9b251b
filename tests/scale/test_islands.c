/* Scale: a fragmented heap of 131,072 one-page committed islands in one 2 GiB reservation
 * (every 16 KiB), as a garbage collector leaves it. With guard markers the islands cost no
 * kernel mapping; decommitting them (all in one call, or the release of the reservation) must
 * succeed and leave the process's mapping count where it was. (a60081f narrowed every
 * decommitted run to PROT_NONE before its marker, one split mapping per island: the release
 * failed with ERROR_NOT_ENOUGH_MEMORY at vm.max_map_count, 65,530.) Needs guard markers
 * (Linux >= 6.13): the mprotect fallback splits a mapping per island already at commit. */
#include <stdio.h>
#include <stdlib.h>

#include "maps.h"
#include "mbi.h"
#include "skip.h"

#define ISLANDS 131072L
#define SPAN    (2 * GiB)
#define STRIDE  (SPAN / ISLANDS)
#define PG      4096

/* Debug builds run the invariant checker after every call over every allocation: O(islands)
 * per call here. It stops above 512 live allocations (core/check.c); these reservations take
 * it there, and the test runs the whole check (wvm_check_invariants) where it matters. */
static void quiet_checker(void)
{
    static char *extra[513];
    for (int i = 0; i < 513; i++)
        if (!extra[i])
            cr_assert_not_null(extra[i] = VirtualAlloc(NULL, PG, MEM_RESERVE, PAGE_NOACCESS));
}

static void need_guard_markers(void)
{
    quiet_checker();
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    if (!(st.mechanisms_in_use & WVM_MECH_GUARD_MARKERS))
        wvm_cannot_run("guard markers unavailable: the mprotect fallback splits one mapping per "
                       "island at commit and is bounded by vm.max_map_count");
}

/* Commits and writes every island of r; returns the mapping count afterwards. */
static long make_islands(char *r);

/* A 2 GiB reservation with its islands; *before: the mapping count before it. */
static char *reserve_islands(long *before, long *made)
{
    need_guard_markers();
    *before = map_count();
    char *r = VirtualAlloc(NULL, SPAN, MEM_RESERVE, PAGE_NOACCESS);
    cr_assert_not_null(r, "reserve 2 GiB: %u", GetLastError());
    *made = make_islands(r);
    return r;
}

static long make_islands(char *r)
{
    for (long i = 0; i < ISLANDS; i++) {
        char *pg = r + i * STRIDE;
        cr_assert_not_null(VirtualAlloc(pg, PG, MEM_COMMIT, PAGE_READWRITE),
                           "commit of island %ld failed: %u", i, GetLastError());
        pg[7] = (char)(i | 1);
    }
    return map_count();
}

Test(scale, release_of_131072_islands, .timeout = 600)
{
    long before, made;
    char *r = reserve_islands(&before, &made);
    cr_assert_eq(wvm_check_invariants(), 0);
    cr_assert(VirtualFree(r, 0, MEM_RELEASE), "release of %ld islands failed: %u", ISLANDS,
              GetLastError());
    long after = map_count();
    printf("release of %ld islands: %ld kernel mappings before, %ld with the islands, %ld after\n",
           ISLANDS, before, made, after);
    /* the islands switch the span's chunks to guard markers (arena.c): the arena's mapping is
     * split around them, once; the islands themselves cost none */
    cr_expect_leq(made - before, 4, "the islands cost %ld kernel mappings", made - before);
    cr_expect_leq(after - made, 0, "after the release: %ld kernel mappings more", after - made);
    /* the address space is usable again, and reads as fresh memory */
    char *again = VirtualAlloc(r, SPAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    cr_assert_not_null(again, "reserve and commit the released 2 GiB: %u", GetLastError());
    for (long i = 0; i < ISLANDS; i += 4099)
        cr_expect_eq(again[i * STRIDE + 7], 0, "island %ld kept its data across a release", i);
    cr_assert(VirtualFree(again, 0, MEM_RELEASE));
}

Test(scale, decommit_of_131072_islands, .timeout = 600)
{
    long before, made;
    char *r = reserve_islands(&before, &made);
    /* all at once: one call over the whole reservation */
    cr_assert(VirtualFree(r, SPAN, MEM_DECOMMIT), "decommit of %ld islands failed: %u", ISLANDS,
              GetLastError());
    long once = map_count();
    cr_assert_eq(wvm_check_invariants(), 0);
    expect_region(r, r, r, PAGE_NOACCESS, SPAN, MEM_RESERVE, 0, MEM_PRIVATE);
    /* again, and then one island at a time */
    make_islands(r);
    for (long i = 0; i < ISLANDS; i++)
        cr_assert(VirtualFree(r + i * STRIDE, PG, MEM_DECOMMIT), "decommit of island %ld: %u", i,
                  GetLastError());
    long each = map_count();
    cr_assert_eq(wvm_check_invariants(), 0);
    expect_region(r, r, r, PAGE_NOACCESS, SPAN, MEM_RESERVE, 0, MEM_PRIVATE);
    cr_assert_not_null(VirtualAlloc(r + 5 * STRIDE, PG, MEM_COMMIT, PAGE_READWRITE));
    cr_expect_eq(r[5 * STRIDE + 7], 0, "a decommitted island kept its data");
    cr_assert(VirtualFree(r, 0, MEM_RELEASE));
    long after = map_count();
    printf("decommit of %ld islands: %ld kernel mappings before, %ld with the islands, %ld after "
           "one call, %ld after one call each, %ld after the release\n",
           ISLANDS, before, made, once, each, after);
    cr_expect_leq(made - before, 4, "the islands cost %ld kernel mappings", made - before);
    cr_expect_leq(once - made, 0, "decommit in one call: %ld kernel mappings more", once - made);
    cr_expect_leq(each - made, 0, "decommit one by one: %ld kernel mappings more", each - made);
    cr_expect_leq(after - made, 0, "after the release: %ld kernel mappings more", after - made);
}
