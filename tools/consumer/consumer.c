/* An out-of-tree program built against an installed winvmem (see tools/check-install.sh):
 * reserves 1 MiB, commits 64 KiB, writes, queries, releases. Exits 0 when every step behaves. */
#include <stdio.h>
#include <string.h>

#include <winvmem.h>
#include <winvmem/win32.h>

int main(void)
{
    char *p = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    if (!p || !VirtualAlloc(p, 65536, MEM_COMMIT, PAGE_READWRITE)) {
        fprintf(stderr, "consumer: VirtualAlloc failed: %u\n", GetLastError());
        return 1;
    }
    memset(p, 0xAB, 65536);
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery(p + 65536, &m, sizeof m) != sizeof m || m.State != MEM_RESERVE ||
        m.AllocationBase != p || m.RegionSize != (1 << 20) - 65536) {
        fprintf(stderr, "consumer: unexpected VirtualQuery result\n");
        return 1;
    }
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    if (wvm_stats_get(&st) || st.committed_bytes < 65536) {
        fprintf(stderr, "consumer: wvm_stats_get failed\n");
        return 1;
    }
    if (!VirtualFree(p, 0, MEM_RELEASE))
        return 1;
    printf("consumer: ok (committed peak %llu bytes)\n", (unsigned long long)st.committed_peak);
    return 0;
}
