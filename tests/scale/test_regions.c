/* Scale: 1,000,000 live 64 KiB reservations, each with one committed page, under the default
 * vm.max_map_count (65,530), where an emulator that splits a mapping per commit fails at about
 * 32,700. Needs guard markers (Linux >= 6.13); skipped visibly on the fallback. */
#include <stdio.h>
#include <stdlib.h>

#include "mbi.h"
#include "skip.h"

#define REGIONS 1000000

static long map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

Test(scale, million_regions_one_committed_page_each, .timeout = 600)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    if (!(st.mechanisms_in_use & WVM_MECH_GUARD_MARKERS))
        wvm_cannot_run("guard markers unavailable: the mprotect fallback splits one mapping per "
                     "commit and is bounded by vm.max_map_count");
    char **p = malloc(REGIONS * sizeof *p);
    for (long i = 0; i < REGIONS; i++) {
        p[i] = VirtualAlloc(NULL, 64 * KiB, MEM_RESERVE, PAGE_READWRITE);
        cr_assert_not_null(p[i], "reservation %ld failed: %u", i, GetLastError());
        cr_assert_not_null(VirtualAlloc(p[i], 4096, MEM_COMMIT, PAGE_READWRITE),
                           "commit %ld failed: %u", i, GetLastError());
    }
    long maps = map_count();
    cr_expect_lt(maps, 1000, "kernel mappings: %ld", maps);
    for (long i = 0; i < REGIONS; i += 9973) {
        p[i][0] = 1;
        expect_region(p[i], p[i], p[i], PAGE_READWRITE, 4096, MEM_COMMIT, PAGE_READWRITE,
                      MEM_PRIVATE);
        expect_region(p[i] + 4096, p[i] + 4096, p[i], PAGE_READWRITE, 60 * KiB, MEM_RESERVE, 0,
                      MEM_PRIVATE);
    }
    wvm_stats_get(&st);
    printf("1e6 regions: %ld kernel mappings, %llu metadata bytes\n", maps,
           (unsigned long long)st.metadata_bytes);
    for (long i = 0; i < REGIONS; i++)
        cr_assert(VirtualFree(p[i], 0, MEM_RELEASE));
    free(p);
}
