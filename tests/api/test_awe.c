/* AWE: MEM_PHYSICAL windows and AllocateUserPhysicalPages / MapUserPhysicalPages /
 * FreeUserPhysicalPages. Wine rejects MEM_PHYSICAL and stubs these functions, so the tests stand
 * on Microsoft's documentation of the four functions and of VirtualAlloc. ctest runs them on
 * the UFFDIO_MOVE backend and, with WINVMEM_USERFAULTFD=0, on the memfd backend. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winvmem/stats.h>

#include <criterion/criterion.h>
#include <winvmem.h>
#include "maps.h"
#include "skip.h"

#define PG 4096u

#define WIN (16 * PG)
#define ME  wvm_GetCurrentProcess()

static char *window(size_t size)
{
    char *w = wvm_VirtualAlloc(NULL, size, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
    if (!w && wvm_GetLastError() == WVM_ERROR_NOT_SUPPORTED)
        wvm_cannot_run("AWE needs UFFDIO_MOVE (Linux >= 6.8) or memfd_create");
    cr_assert_not_null(w, "VirtualAlloc(MEM_PHYSICAL): %u", wvm_GetLastError());
    return w;
}

static void pages(uintptr_t n, uintptr_t *pfn)
{
    uintptr_t got = n;
    cr_assert(wvm_AllocateUserPhysicalPages(ME, &got, pfn), "Allocate: %u", wvm_GetLastError());
    cr_assert_eq(got, n);
}

static void expect_query(char *at, char *base, size_t size, uint32_t state, uint32_t prot)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(at, &m, sizeof m), sizeof m);
    cr_expect_eq(m.BaseAddress, at);
    cr_expect_eq(m.AllocationBase, base);
    cr_expect_eq(m.AllocationProtect, WVM_PAGE_READWRITE);
    cr_expect_eq(m.RegionSize, size, "RegionSize %#zx, expected %#zx", m.RegionSize, size);
    cr_expect_eq(m.State, state);
    cr_expect_eq(m.Protect, prot);
    cr_expect_eq(m.Type, WVM_MEM_PRIVATE);
}

Test(awe, window_rules)
{
    char *w = window(WIN);
    expect_query(w, w, WIN, WVM_MEM_RESERVE, 0);
    cr_expect(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
    struct {
        uint32_t type, prot;
    } bad[] = {
        {WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE},
        {WVM_MEM_PHYSICAL | WVM_MEM_COMMIT, WVM_PAGE_READWRITE},
        {WVM_MEM_PHYSICAL | WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE},
        {WVM_MEM_PHYSICAL | WVM_MEM_RESERVE, WVM_PAGE_READONLY},
        {WVM_MEM_PHYSICAL | WVM_MEM_RESERVE, WVM_PAGE_EXECUTE_READWRITE},
        {WVM_MEM_PHYSICAL | WVM_MEM_RESERVE | WVM_MEM_WRITE_WATCH, WVM_PAGE_READWRITE},
        {WVM_MEM_PHYSICAL | WVM_MEM_RESERVE | WVM_MEM_LARGE_PAGES, WVM_PAGE_READWRITE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wvm_SetLastError(0xdead);
        cr_expect_null(wvm_VirtualAlloc(NULL, WIN, bad[i].type, bad[i].prot), "case %zu", i);
        cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER, "case %zu", i);
    }
    w = wvm_VirtualAlloc(NULL, WIN, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL | WVM_MEM_TOP_DOWN,
                         WVM_PAGE_READWRITE);
    cr_assert_not_null(w, "TOP_DOWN is allowed");
    /* window pages are never committed, decommitted or re-protected */
    uint32_t old;
    wvm_SetLastError(0xdead);
    cr_expect_null(wvm_VirtualAlloc(w, PG, WVM_MEM_COMMIT, WVM_PAGE_READWRITE));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_ADDRESS);
    cr_expect_not(wvm_VirtualProtect(w, PG, WVM_PAGE_READONLY, &old));
    cr_expect_not(wvm_VirtualFree(w, PG, WVM_MEM_DECOMMIT));
    cr_expect(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
}

Test(awe, a_page_keeps_its_data_wherever_it_is_mapped)
{
    char *a = window(WIN), *b = window(WIN);
    uintptr_t pfn[4];
    pages(4, pfn);
    cr_assert(wvm_MapUserPhysicalPages(a, 4, pfn));
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(a[i * PG + 100], 0, "new physical pages are zero-filled");
        snprintf(a + i * PG, 32, "physical page %d", i);
    }
    expect_query(a, a, 4 * PG, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    expect_query(a + 4 * PG, a, WIN - 4 * PG, WVM_MEM_RESERVE, 0);
    cr_assert(wvm_MapUserPhysicalPages(a, 4, NULL));
    expect_query(a, a, WIN, WVM_MEM_RESERVE, 0);
    /* reversed, scattered, in another window */
    uintptr_t rev[4] = {pfn[3], pfn[2], pfn[1], pfn[0]};
    cr_assert(wvm_MapUserPhysicalPages(b + 9 * PG, 4, rev));
    for (int i = 0; i < 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "physical page %d", 3 - i);
        cr_expect_str_eq(b + (9 + i) * PG, want);
    }
    expect_query(b + 8 * PG, b, PG, WVM_MEM_RESERVE, 0);
    expect_query(b + 9 * PG, b, 4 * PG, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    /* frames mapped elsewhere (b+12, b+11) cannot be mapped at b+9 */
    cr_expect_not(wvm_MapUserPhysicalPages(b + 9 * PG, 2, pfn));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    /* frames mapped inside the range being remapped can: the old translations go first */
    uintptr_t back[2] = {pfn[2], pfn[3]};
    cr_assert(wvm_MapUserPhysicalPages(b + 9 * PG, 2, back));
    cr_expect_str_eq(b + 9 * PG, "physical page 2");
    cr_expect_str_eq(b + 10 * PG, "physical page 3");
    cr_expect_str_eq(b + 11 * PG, "physical page 1", "the mapping past the range stays");
    cr_assert(wvm_MapUserPhysicalPages(b, 16, NULL));
    cr_assert(wvm_MapUserPhysicalPages(a + 15 * PG, 1, &pfn[3]));
    cr_expect_str_eq(a + 15 * PG, "physical page 3");
    uintptr_t n = 4;
    cr_expect(wvm_FreeUserPhysicalPages(ME, &n, pfn));
    cr_expect_eq(n, 4);
    expect_query(a, a, WIN, WVM_MEM_RESERVE, 0); /* freeing unmapped the page */
    cr_expect(wvm_VirtualFree(a, 0, WVM_MEM_RELEASE));
    cr_expect(wvm_VirtualFree(b, 0, WVM_MEM_RELEASE));
    cr_expect_eq(wvm_check_invariants(), 0);
}

Test(awe, mapped_in_one_place_and_all_or_nothing)
{
    char *a = window(WIN), *b = window(WIN);
    uintptr_t pfn[3];
    pages(3, pfn);
    cr_assert(wvm_MapUserPhysicalPages(a, 1, pfn));
    a[0] = 'A';
    /* pfn[0] is mapped in a: mapping it in b fails and maps nothing else either */
    uintptr_t two[2] = {pfn[1], pfn[0]};
    wvm_SetLastError(0xdead);
    cr_expect_not(wvm_MapUserPhysicalPages(b, 2, two));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    expect_query(b, b, WIN, WVM_MEM_RESERVE, 0);
    /* a frame listed twice, an unknown frame, a range past the window, a non-window address */
    uintptr_t dup[2] = {pfn[1], pfn[1]}, bogus = pfn[2] + 1000;
    cr_expect_not(wvm_MapUserPhysicalPages(b, 2, dup));
    cr_expect_not(wvm_MapUserPhysicalPages(b, 1, &bogus));
    cr_expect_not(wvm_MapUserPhysicalPages(b + WIN - PG, 2, pfn + 1));
    char *plain = wvm_VirtualAlloc(NULL, WIN, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    wvm_SetLastError(0xdead);
    cr_expect_not(wvm_MapUserPhysicalPages(plain, 1, pfn + 1));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_expect_not(wvm_MapUserPhysicalPages(a + 1, 1, pfn + 1), "unaligned address");
    expect_query(b, b, WIN, WVM_MEM_RESERVE, 0);
    cr_expect_eq(a[0], 'A');
    /* moving within its own range is a remap, not a conflict */
    uintptr_t swap[2] = {pfn[1], pfn[0]};
    cr_expect(wvm_MapUserPhysicalPages(a, 2, swap));
    cr_expect_eq(a[PG], 'A');
    /* releasing a window unmaps its pages; they stay allocated with their data */
    cr_expect(wvm_VirtualFree(a, 0, WVM_MEM_RELEASE));
    cr_expect(wvm_MapUserPhysicalPages(b + 3 * PG, 1, pfn));
    cr_expect_eq(b[3 * PG], 'A');
    /* freeing stops at the first invalid frame and says how many it freed */
    uintptr_t list[3] = {pfn[0], bogus, pfn[1]}, n = 3;
    wvm_SetLastError(0xdead);
    cr_expect_not(wvm_FreeUserPhysicalPages(ME, &n, list));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_PARAMETER);
    cr_expect_eq(n, 1);
    cr_expect_not(wvm_MapUserPhysicalPages(b, 1, pfn), "a freed frame is gone");
    n = 2;
    cr_expect(wvm_FreeUserPhysicalPages(ME, &n, pfn + 1));
    cr_expect(wvm_VirtualFree(b, 0, WVM_MEM_RELEASE));
    cr_expect(wvm_VirtualFree(plain, 0, WVM_MEM_RELEASE));
}

Test(awe, handles_and_pointers)
{
    uintptr_t n = 1, pfn[1];
    wvm_SetLastError(0xdead);
    cr_expect_not(wvm_AllocateUserPhysicalPages((void *)(intptr_t)1234, &n, pfn));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_expect_not(wvm_FreeUserPhysicalPages(NULL, &n, pfn));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_expect_not(wvm_AllocateUserPhysicalPages(ME, NULL, pfn));
    cr_expect_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    n = 0;
    cr_expect_not(wvm_AllocateUserPhysicalPages(ME, &n, pfn));
    /* physical pages are charged to the commit ledger while allocated */
    wvm_stats s0 = {.version = WVM_STATS_VERSION, .size = sizeof s0}, s1 = s0, s2 = s0;
    wvm_stats_get(&s0);
    uintptr_t many[64];
    n = 64;
    if (!wvm_AllocateUserPhysicalPages(ME, &n, many)) {
        cr_expect_eq(wvm_GetLastError(), WVM_ERROR_NOT_SUPPORTED);
        wvm_cannot_run("AWE not supported here");
    }
    wvm_stats_get(&s1);
    cr_expect_eq(s1.committed_bytes - s0.committed_bytes, 64 * PG);
    cr_expect(wvm_FreeUserPhysicalPages(ME, &n, many));
    wvm_stats_get(&s2);
    cr_expect_eq(s2.committed_bytes, s0.committed_bytes);
    cr_expect(s1.mechanisms_in_use & (WVM_MECH_UFFDIO_MOVE | WVM_MECH_MEMFD));
}

Test(awe, unmapped_window_pages_fault)
{
    char *w = window(WIN);
    uintptr_t pfn[1];
    pages(1, pfn);
    cr_assert(wvm_MapUserPhysicalPages(w + PG, 1, pfn));
    w[PG] = 1;
    /* the kernel's own access to an empty window page fails like an access violation */
    int fd = open("/dev/zero", O_RDONLY);
    errno = 0;
    cr_expect_eq(read(fd, w + 2 * PG, 16), -1);
    cr_expect_eq(errno, EFAULT);
    cr_expect_eq(read(fd, w + PG, 16), 16, "a mapped page is ordinary memory");
    close(fd);
    w[PG] = 1;
    /* a child process (its own window: userfaultfd registrations are not inherited) dies
     * touching an empty window page */
    fflush(NULL);
    pid_t pid = fork();
    if (!pid) {
        signal(SIGBUS, SIG_DFL); /* sanitizers catch it otherwise */
        signal(SIGSEGV, SIG_DFL);
        char *cw =
            wvm_VirtualAlloc(NULL, WIN, WVM_MEM_RESERVE | WVM_MEM_PHYSICAL, WVM_PAGE_READWRITE);
        if (!cw)
            _exit(3);
        volatile char c = cw[2 * PG]; /* nothing mapped here */
        (void)c;
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFSIGNALED(st) && (WTERMSIG(st) == SIGBUS || WTERMSIG(st) == SIGSEGV),
              "touching an empty window page faults (status %#x)", st);
    /* fork left the parent's pages shared copy-on-write: moving them still works */
    cr_expect_eq(w[PG], 1);
    uintptr_t n = 1;
    cr_expect(wvm_FreeUserPhysicalPages(ME, &n, pfn));
    cr_expect(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
}

Test(awe, scattered_pages_and_kernel_mappings)
{
    enum { N = 4096 };
    char *w = window((size_t)2 * N * PG);
    static uintptr_t pfn[N];
    pages(N, pfn);
    long before = map_count();
    for (uintptr_t i = 0; i < N; i++) /* every other window page, frames in a shuffled order */
        cr_assert(wvm_MapUserPhysicalPages(w + 2 * i * PG, 1, &pfn[(i * 2654435761u) % N]));
    for (uintptr_t i = 0; i < N; i++)
        w[2 * i * PG] = (char)i;
    long after = map_count();
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    wvm_stats_get(&st);
    if (st.mechanisms_in_use & WVM_MECH_UFFDIO_MOVE)
        cr_expect_leq(after - before, 2, "%ld mappings before, %ld after", before, after);
    else /* the memfd backend's documented cost: a kernel mapping per scattered page */
        cr_expect_geq(after - before, N, "%ld mappings before, %ld after", before, after);
    cr_assert(wvm_MapUserPhysicalPages(w, 2 * N, NULL));
    uintptr_t n = N;
    cr_expect(wvm_FreeUserPhysicalPages(ME, &n, pfn));
    cr_expect(wvm_VirtualFree(w, 0, WVM_MEM_RELEASE));
    cr_expect_eq(wvm_check_invariants(), 0);
}
