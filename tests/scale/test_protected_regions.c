/* Scale, issue 14 item 2: regions each with a committed page of a protection other than its
 * mapping's, holding data (PAGE_READONLY by userfaultfd write-protect, PAGE_NOACCESS and
 * PAGE_GUARD | PAGE_READWRITE by guard marker with the data in the arena's stash: no kernel
 * mapping of their own), which with mprotect costs
 * two mappings a region and meets vm.max_map_count (65,530) at about 32,700 regions (the
 * default policy uses mprotect for 1/16 of that, the stash beyond: core/stash_policy.c;
 * ctest's _stash variant stashes every page, WINVMEM_MARKER_DATA=2). Needs
 * guard markers and userfaultfd (the fallbacks are held to account by api_readonly_pages and
 * api_noaccess_pages); skipped visibly without them. PROT_REGIONS in ctest (a debug build under
 * CI's load); WINVMEM_SCALE_PROT_REGIONS=1000000 build/debug/tests/scale/scale_protected_regions
 * runs the million. */
#include <stdio.h>
#include <stdlib.h>

#include "maps.h"
#include "mbi.h"
#include "skip.h"

#define PROT_REGIONS 200000

Test(scale, regions_with_a_protected_page_each, .timeout = 1200)
{
    const uint32_t bits = WVM_MECH_GUARD_MARKERS | WVM_MECH_UFFD_WP_SIGBUS |
                          WVM_MECH_MARKER_NOACCESS | WVM_MECH_MARKER_DATA;
    char line[320];
    for (uint32_t b = 1; b <= bits; b <<= 1) /* probes what is probed at first use */
        if (b & bits)
            wvm_mechanism_explain(b, line, sizeof line);
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    if ((st.mechanisms_in_use & bits) != bits)
        wvm_cannot_run(
            "guard markers, userfaultfd write-protect or marker NOACCESS/data unavailable: "
            "protections are mprotect's, bounded by vm.max_map_count");
    const char *env = getenv("WINVMEM_SCALE_PROT_REGIONS");
    long n = env ? atol(env) : PROT_REGIONS;
    static const DWORD prots[] = {PAGE_READONLY, PAGE_NOACCESS, PAGE_READWRITE | PAGE_GUARD};
    char **p = malloc((size_t)n * sizeof *p);
    cr_assert_not_null(p);
    long base = map_count();
    for (long i = 0; i < n; i++) {
        DWORD old;
        p[i] = VirtualAlloc(NULL, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
        cr_assert_not_null(p[i], "reservation %ld failed: %u", i, GetLastError());
        cr_assert_not_null(VirtualAlloc(p[i], 2 * 4096, MEM_COMMIT, PAGE_READWRITE),
                           "commit %ld failed: %u", i, GetLastError());
        p[i][0] = (char)i;
        p[i][4096 + 8] = (char)(i | 1); /* the protected page holds data */
        cr_assert(VirtualProtect(p[i] + 4096, 4096, prots[i % 3], &old),
                  "protect %ld failed: %u (%ld kernel mappings)", i, GetLastError(), map_count());
    }
    long maps = map_count();
    wvm_stats_get(&st);
    printf("%ld regions with a read-only, no-access or guard page (with data) each: %ld kernel "
           "mappings "
           "(%ld before), %llu metadata bytes\n",
           n, maps, base, (unsigned long long)st.metadata_bytes);
    /* WINVMEM_MARKER_DATA=2: every page with data in the stash; the default policy sends them
     * mprotect's way up to 1/16 of vm.max_map_count mappings (core/stash_policy.c) */
    const char *md = getenv("WINVMEM_MARKER_DATA");
    long bound = md && md[0] == '2' ? 1000 : max_map_count() / 16 + 1000;
    cr_expect_lt(maps - base, bound, "kernel mappings: %ld more", maps - base);
    for (long i = 0; i < n; i += 997) {
        expect_region(p[i], p[i], p[i], PAGE_READWRITE, 4096, MEM_COMMIT, PAGE_READWRITE,
                      MEM_PRIVATE);
        expect_region(p[i] + 4096, p[i] + 4096, p[i], PAGE_READWRITE, 4096, MEM_COMMIT,
                      prots[i % 3], MEM_PRIVATE);
        cr_expect_eq(p[i][0], (char)i);
        DWORD old;
        cr_assert(VirtualProtect(p[i] + 4096, 4096, PAGE_READWRITE, &old));
        cr_expect_eq(p[i][4096 + 8], (char)(i | 1), "region %ld lost its data", i);
    }
    for (long i = 0; i < n; i++)
        cr_assert(VirtualFree(p[i], 0, MEM_RELEASE));
    free(p);
}
