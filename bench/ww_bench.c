/* Write watch: the cost of the first write to a watched page, and of GetWriteWatch with
 * WRITE_WATCH_FLAG_RESET over 256 MiB with 1 % of the pages written. Builds natively against
 * winvmem and, unchanged, with mingw-w64 for Windows / Wine (bench/ww_run.sh runs both).
 * Output lines as harness.h describes (R key value unit). */
#ifdef _WIN32
#include <windows.h>
#else
#include <winvmem/win32.h>
#endif
#include "harness.h"

#define WW_SPAN   (256 * BH_MIB)
#define WW_PAGES  (WW_SPAN / BH_PAGE)
#define WW_STRIDE 100 /* 1 % of the pages */

static void **results;

static char *ww_region(size_t size)
{
    char *p = VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    if (!p) {
        printf("F ww_alloc %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    return p;
}

static size_t get_reset(char *p, size_t size)
{
    ULONG_PTR n = size / BH_PAGE;
    ULONG g;
    if (GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, size, results, &n, &g)) {
        printf("F ww_get %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    return (size_t)n;
}

/* ns per first write: pages resident, watch reset, then one write to each of `pages` pages. */
static double first_write(char *p, size_t pages, int resident)
{
    size_t size = pages * BH_PAGE;
    if (resident)
        memset(p, 1, size);
    else
        VirtualFree(p, size, MEM_DECOMMIT), VirtualAlloc(p, size, MEM_COMMIT, PAGE_READWRITE);
    get_reset(p, size);
    uint64_t t0 = bh_now_ns();
    for (size_t i = 0; i < pages; i++)
        p[i * BH_PAGE] = 2;
    uint64_t t1 = bh_now_ns();
    if (get_reset(p, size) != pages) {
        printf("F ww_first_write_count 0\n");
        exit(1);
    }
    return (double)(t1 - t0) / (double)pages;
}

/* The same loop on plain memory: the floor the watch adds to. */
static double plain_write(char *p, size_t pages, int resident)
{
    size_t size = pages * BH_PAGE;
    if (resident) {
        memset(p, 1, size);
        DWORD old; /* make the next write fault: read-only and back, like a watch would */
        VirtualProtect(p, size, PAGE_READONLY, &old);
        VirtualProtect(p, size, PAGE_READWRITE, &old);
    } else {
        VirtualFree(p, size, MEM_DECOMMIT), VirtualAlloc(p, size, MEM_COMMIT, PAGE_READWRITE);
    }
    uint64_t t0 = bh_now_ns();
    for (size_t i = 0; i < pages; i++)
        p[i * BH_PAGE] = 2;
    return (double)(bh_now_ns() - t0) / (double)pages;
}

int main(int argc, char **argv)
{
    if (bh_parse_args(argc, argv))
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    int reps = bh_quick ? 3 : 15;
    results = malloc(WW_PAGES * sizeof *results);

    /* first write, pages already resident (the garbage collector's case) and fresh pages */
    size_t fw_pages = bh_quick ? 1024 : 16384;
    char *p = ww_region(fw_pages * BH_PAGE);
    char *q = VirtualAlloc(NULL, fw_pages * BH_PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    double v[64];
    for (int r = 0; r < reps; r++)
        v[r] = first_write(p, fw_pages, 1);
    bh_result("ww_first_write_resident", bh_median(v, reps), "ns");
    for (int r = 0; r < reps; r++)
        v[r] = first_write(p, fw_pages, 0);
    bh_result("ww_first_write_fresh", bh_median(v, reps), "ns");
    for (int r = 0; r < reps; r++)
        v[r] = plain_write(q, fw_pages, 0);
    bh_result("plain_first_write_fresh", bh_median(v, reps), "ns");
    VirtualFree(p, 0, MEM_RELEASE);
    VirtualFree(q, 0, MEM_RELEASE);

    /* GetWriteWatch + reset over 256 MiB, 1 % written */
    p = ww_region(WW_SPAN);
    memset(p, 1, WW_SPAN);
    get_reset(p, WW_SPAN);
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < WW_PAGES; i += WW_STRIDE)
            p[i * BH_PAGE] = 3;
        uint64_t t0 = bh_now_ns();
        size_t n = get_reset(p, WW_SPAN);
        v[r] = (double)(bh_now_ns() - t0) / 1e6;
        if (n != (WW_PAGES + WW_STRIDE - 1) / WW_STRIDE) {
            printf("F ww_get_reset_count %lu\n", (unsigned long)n);
            return 1;
        }
    }
    bh_result("ww_get_reset_256m_1pct", bh_median(v, reps), "ms");
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = bh_now_ns();
        get_reset(p, WW_SPAN);
        v[r] = (double)(bh_now_ns() - t0) / 1e6;
    }
    bh_result("ww_get_reset_256m_clean", bh_median(v, reps), "ms");
    VirtualFree(p, 0, MEM_RELEASE);
    return 0;
}
