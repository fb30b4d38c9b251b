/* The winvmem demo: reserve, commit, protect and decommit memory with the Windows API, and
 * show the address space around it after each step, as Sysinternals VMMap would.
 * `demo --json` prints the same steps as one JSON document (each step's map, then the
 * statistics), which `winvmem map --html --from FILE` draws as a page. */
#include <stdio.h>
#include <string.h>

#include <winvmem/stats.h>
#include <winvmem/win32.h>

static int json, steps;

static void show(const char *step, char *base)
{
    if (json) {
        printf("%s\n  {\"step\": \"%s\", \"map\": ", steps++ ? "," : "{\"steps\": [", step);
        wvm_print_map_ex(stdout, WVM_PRINT_JSON | WVM_PRINT_OWN);
        putchar('}');
        return;
    }
    printf("\n== %s\n", step);
    wvm_print_range(stdout, base - 0x10000, base + 0x120000);
}

static int check(BOOL ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "%s failed: error %u\n", what, GetLastError());
    return !ok;
}

int main(int argc, char **argv)
{
    json = argc > 1 && !strcmp(argv[1], "--json");
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    if (!json)
        printf("page size %u, allocation granularity %u, application addresses %p..%p\n",
               si.dwPageSize, si.dwAllocationGranularity, si.lpMinimumApplicationAddress,
               si.lpMaximumApplicationAddress);

    char *base = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    if (check(base != NULL, "VirtualAlloc(MEM_RESERVE)"))
        return 1;
    show("reserved 1 MiB: address space only, nothing committed", base);

    if (check(VirtualAlloc(base + 0x1000, 0x4000, MEM_COMMIT, PAGE_READWRITE) != NULL,
              "VirtualAlloc(MEM_COMMIT)"))
        return 1;
    strcpy(base + 0x1000, "hello from committed memory");
    show("committed 16 KiB at +0x1000 (zero-filled, now written)", base);

    DWORD old;
    if (check(VirtualProtect(base + 0x2000, 0x1000, PAGE_READONLY, &old), "VirtualProtect"))
        return 1;
    show("made +0x2000 read-only: the committed run splits in three", base);

    if (check(VirtualFree(base + 0x3000, 0x1000, MEM_DECOMMIT), "VirtualFree(MEM_DECOMMIT)"))
        return 1;
    show("decommitted +0x3000: back to reserved, its data dropped", base);

    if (check(VirtualAlloc(base + 0x3000, 0x1000, MEM_COMMIT, PAGE_READWRITE) != NULL, "recommit"))
        return 1;
    if (!json)
        printf("\nrecommitted +0x3000 reads %d (zero), +0x1000 still reads \"%s\"\n", base[0x3000],
               base + 0x1000);

    if (check(VirtualFree(base, 0, MEM_RELEASE), "VirtualFree(MEM_RELEASE)"))
        return 1;
    show("released: the range is free again", base);

    if (json) {
        printf("\n], \"stats\": ");
        wvm_print_stats(stdout, WVM_PRINT_JSON);
        printf("}\n");
        return wvm_check_invariants() ? 1 : 0;
    }
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    printf("\nkernel mappings created %llu, metadata %llu bytes, guard markers %s\n",
           (unsigned long long)st.kernel_mappings_created, (unsigned long long)st.metadata_bytes,
           st.mechanisms_in_use & WVM_MECH_GUARD_MARKERS ? "in use" : "not available");
    return wvm_check_invariants() ? 1 : 0;
}
