/* AWE: MapUserPhysicalPages cost per page, scattered (one page per call, frames shuffled) and
 * batched (one call for a run), with the first touch after mapping; beside it the alternative
 * backend measured raw: a memfd page pool mapped page by page with MAP_SHARED|MAP_FIXED (which
 * is also one kernel mapping per scattered page). Linux only: Wine does not implement AWE. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <winvmem/win32.h>

#include "harness.h"

#define N 4096

static uintptr_t pfn[N];

static void fail(const char *what)
{
    printf("F %s %lu\n", what, (unsigned long)GetLastError());
    exit(1);
}

static size_t shuffled(size_t i)
{
    return (i * 2654435761u) % N;
}

int main(int argc, char **argv)
{
    if (bh_parse_args(argc, argv))
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    int reps = bh_quick ? 3 : 9;
    char *w = VirtualAlloc(NULL, (size_t)N * BH_PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    ULONG_PTR n = N;
    if (!w || !AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != N)
        fail("awe_setup");
    double map1[16], unmap1[16], touch[16], mapn[16], unmapn[16];
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            if (!MapUserPhysicalPages(w + i * BH_PAGE, 1, &pfn[shuffled(i)]))
                fail("awe_map");
        uint64_t t1 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            w[i * BH_PAGE]++;
        uint64_t t2 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            if (!MapUserPhysicalPages(w + i * BH_PAGE, 1, NULL))
                fail("awe_unmap");
        uint64_t t3 = bh_now_ns();
        if (!MapUserPhysicalPages(w, N, pfn))
            fail("awe_map_batch");
        uint64_t t4 = bh_now_ns();
        if (!MapUserPhysicalPages(w, N, NULL))
            fail("awe_unmap_batch");
        uint64_t t5 = bh_now_ns();
        map1[r] = (double)(t1 - t0) / N;
        touch[r] = (double)(t2 - t1) / N;
        unmap1[r] = (double)(t3 - t2) / N;
        mapn[r] = (double)(t4 - t3) / N;
        unmapn[r] = (double)(t5 - t4) / N;
    }
    bh_result("awe_map_scattered", bh_median(map1, reps), "ns");
    bh_result("awe_touch_after_map", bh_median(touch, reps), "ns");
    bh_result("awe_unmap_scattered", bh_median(unmap1, reps), "ns");
    bh_result("awe_map_batch", bh_median(mapn, reps), "ns");
    bh_result("awe_unmap_batch", bh_median(unmapn, reps), "ns");

    /* the memfd alternative, raw system calls */
    int fd = memfd_create("awe_bench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)N * BH_PAGE))
        fail("memfd_setup");
    char *m = mmap(NULL, (size_t)N * BH_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            if (mmap(m + i * BH_PAGE, BH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                     (off_t)shuffled(i) * BH_PAGE) == MAP_FAILED)
                fail("memfd_map");
        uint64_t t1 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            m[i * BH_PAGE]++;
        uint64_t t2 = bh_now_ns();
        for (size_t i = 0; i < N; i++)
            mmap(m + i * BH_PAGE, BH_PAGE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        uint64_t t3 = bh_now_ns();
        map1[r] = (double)(t1 - t0) / N;
        touch[r] = (double)(t2 - t1) / N;
        unmap1[r] = (double)(t3 - t2) / N;
    }
    bh_result("memfd_map_scattered", bh_median(map1, reps), "ns");
    bh_result("memfd_touch_after_map", bh_median(touch, reps), "ns");
    bh_result("memfd_unmap_scattered", bh_median(unmap1, reps), "ns");
    FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn);
    VirtualFree(w, 0, MEM_RELEASE);
    return 0;
}
