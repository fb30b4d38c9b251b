/* QueryWorkingSetEx: argument rules, and every bit of PSAPI_WORKING_SET_EX_BLOCK for winvmem's
 * pages and for memory others mapped. Expected values follow Windows (Wine's psapi_main.c
 * ok() lines) where it says; doc/windows-semantics.md lists what winvmem chose elsewhere. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "veh_record.h"

typedef wvm_PSAPI_WORKING_SET_EX_INFORMATION info_t;

#define VALID      1ull
#define PROT(p)    ((uint64_t)(p) << 4)
#define SHARED     (1ull << 15)
#define COUNT(n)   ((uint64_t)(n) << 1)
#define NODE(n)    ((uint64_t)(n) << 16)
#define LOCKED     (1ull << 22)
#define COUNT_MASK (7ull << 1)
#define NODE_MASK  (63ull << 16)

/* The NUMA node of the frame behind p (the kernel's answer, to compare Node with). */
static uint64_t node_of(const void *p)
{
    int node = -1;
    if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, p, 3 /* MPOL_F_NODE | MPOL_F_ADDR */))
        return 0;
    return (uint64_t)(node < 0 ? 0 : node);
}

static uint64_t query(const void *p)
{
    info_t e;
    memset(&e, 0x41, sizeof e);
    e.VirtualAddress = (void *)p;
    wvm_SetLastError(0xdead);
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), &e, sizeof e), "error %u",
              wvm_GetLastError());
    cr_assert_eq(wvm_GetLastError(), 0xdead, "success changed the last error");
    cr_assert_eq(e.VirtualAddress, p, "the address is left alone");
    return e.VirtualAttributes.Flags;
}

/* Valid private page with protection prot: every other field 0 except Node. */
static void expect_valid(const void *p, uint32_t prot, uint64_t extra, const char *what)
{
    uint64_t f = query(p);
    uint64_t want = VALID | PROT(prot) | NODE(node_of(p)) | extra;
    cr_assert_eq(f, want, "%s: got %#llx want %#llx", what, (unsigned long long)f,
                 (unsigned long long)want);
}

static void expect_flags(const void *p, uint64_t want, const char *what)
{
    uint64_t f = query(p);
    cr_assert_eq(f, want, "%s: got %#llx want %#llx", what, (unsigned long long)f,
                 (unsigned long long)want);
}

Test(queryworkingsetex, argument_rules)
{
    char *p =
        wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    p[0] = 1;
    info_t e[2];
    memset(e, 0x41, sizeof e);
    e[0].VirtualAddress = p;
    cr_assert_not(wvm_QueryWorkingSetEx((void *)(intptr_t)-2, e, sizeof e));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_QueryWorkingSetEx(NULL, e, sizeof e));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_INVALID_HANDLE);
    cr_assert_not(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, 0));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_BAD_LENGTH);
    cr_assert_not(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, sizeof *e - 1));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_BAD_LENGTH);
    cr_assert_eq(e[0].VirtualAttributes.Flags, 0x4141414141414141ull, "nothing written");
    /* one entry and a half: the half is ignored and left as it was */
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, sizeof *e + sizeof *e / 2));
    cr_assert_eq(e[0].VirtualAttributes.Flags, VALID | PROT(WVM_PAGE_READWRITE) | NODE(node_of(p)));
    cr_assert_eq((uintptr_t)e[1].VirtualAddress, (uintptr_t)0x4141414141414141ull);
    cr_assert_eq(e[1].VirtualAttributes.Flags, 0x4141414141414141ull);
    cr_assert_not(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), NULL, sizeof *e));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    /* a buffer in pages the caller cannot write */
    uint32_t old;
    memcpy(p + PAGE, e, sizeof *e);
    cr_assert(wvm_VirtualProtect(p + PAGE, PAGE, WVM_PAGE_READONLY, &old));
    cr_assert_not(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), p + PAGE, sizeof *e));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert(wvm_VirtualProtect(p + PAGE, PAGE, WVM_PAGE_NOACCESS, &old));
    cr_assert_not(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), p + PAGE, sizeof *e));
    cr_assert_eq(wvm_GetLastError(), WVM_ERROR_NOACCESS);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

Test(queryworkingsetex, private_pages_follow_residency_and_protection)
{
    volatile char *p =
        wvm_VirtualAlloc(NULL, 4 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    expect_flags((char *)p, 0, "committed, never touched");
    (void)p[0];
    expect_valid((char *)p, WVM_PAGE_READWRITE, 0, "read");
    p[0] = 0x42;
    expect_valid((char *)p + 123, WVM_PAGE_READWRITE, 0, "written, unaligned address");
    expect_flags((char *)p + PAGE, 0, "the next page is untouched");
    uint32_t old;
    cr_assert(wvm_VirtualProtect((char *)p, PAGE, WVM_PAGE_NOACCESS, &old));
    expect_flags((char *)p, 0, "no access: not in the working set");
    cr_assert(wvm_VirtualProtect((char *)p, PAGE, WVM_PAGE_READONLY, &old));
    expect_valid((char *)p, WVM_PAGE_READONLY, 0, "read-only, still resident");
    cr_assert(wvm_VirtualProtect((char *)p, PAGE, WVM_PAGE_EXECUTE_READ, &old));
    expect_valid((char *)p, WVM_PAGE_EXECUTE_READ, 0, "execute-read");
    cr_assert(wvm_VirtualProtect((char *)p, PAGE, WVM_PAGE_READWRITE | WVM_PAGE_GUARD, &old));
    expect_flags((char *)p, 0, "armed guard page");
    cr_assert(wvm_VirtualProtect((char *)p, PAGE, WVM_PAGE_READWRITE, &old));
    expect_valid((char *)p, WVM_PAGE_READWRITE, 0, "guard removed");
    cr_assert(wvm_VirtualLock((char *)p, PAGE));
    expect_valid((char *)p, WVM_PAGE_READWRITE, LOCKED, "locked");
    cr_assert(wvm_VirtualUnlock((char *)p, PAGE));
    expect_valid((char *)p, WVM_PAGE_READWRITE, 0, "unlocked");
    cr_assert(wvm_VirtualFree((char *)p, PAGE, WVM_MEM_DECOMMIT));
    expect_flags((char *)p, 0, "decommitted");
    cr_assert(wvm_VirtualFree((char *)p, 0, WVM_MEM_RELEASE));
    expect_flags((char *)p, 0, "released");
}

Test(queryworkingsetex, reserved_free_and_out_of_range_are_not_valid)
{
    char *p = wvm_VirtualAlloc(NULL, 0x10000, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    expect_flags(p, 0, "reserved");
    expect_flags(NULL, 0, "page zero");
    expect_flags((void *)0x7FFFFFFEF000u, 0, "the last user page");
    expect_flags((void *)0xFFFF800000000000u, 0, "kernel space");
    expect_flags((void *)UINTPTR_MAX, 0, "the last address");
}

Test(queryworkingsetex, several_entries_in_any_order)
{
    char *a =
        wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    char *b =
        wvm_VirtualAlloc(NULL, 2 * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    a[0] = 1;
    b[PAGE] = 1;
    info_t e[4] = {{a + PAGE, {0}}, {a, {0}}, {b + PAGE, {0}}, {b, {0}}};
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, sizeof e));
    cr_assert_eq(e[0].VirtualAttributes.Flags, 0);
    cr_assert_eq(e[1].VirtualAttributes.Flags, VALID | PROT(WVM_PAGE_READWRITE) | NODE(node_of(a)));
    cr_assert_eq(e[2].VirtualAttributes.Flags,
                 VALID | PROT(WVM_PAGE_READWRITE) | NODE(node_of(b + PAGE)));
    cr_assert_eq(e[3].VirtualAttributes.Flags, 0);
    cr_assert_eq(e[1].VirtualAttributes.v.Valid, 1, "the bit-field view of the same word");
    cr_assert_eq(e[1].VirtualAttributes.v.Win32Protection, WVM_PAGE_READWRITE);
    cr_assert(wvm_VirtualFree(a, 0, WVM_MEM_RELEASE));
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, sizeof e));
    cr_assert_eq(e[1].VirtualAttributes.Flags, 0, "released");
    cr_assert_eq(e[2].VirtualAttributes.Flags,
                 VALID | PROT(WVM_PAGE_READWRITE) | NODE(node_of(b + PAGE)));
}

Test(queryworkingsetex, many_entries_span_batches)
{
    enum { N = 300 };
    char *p =
        wvm_VirtualAlloc(NULL, N * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    for (int i = 0; i < N; i += 3)
        p[i * PAGE] = 1;
    info_t *e = calloc(N, sizeof *e);
    for (int i = 0; i < N; i++)
        e[i].VirtualAddress = p + (size_t)(N - 1 - i) * PAGE; /* descending */
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), e, N * sizeof *e));
    for (int i = 0; i < N; i++) {
        int page = N - 1 - i;
        uint64_t want =
            page % 3 ? 0
                     : VALID | PROT(WVM_PAGE_READWRITE) | NODE(node_of(p + (size_t)page * PAGE));
        cr_assert_eq(e[i].VirtualAttributes.Flags, want, "page %d: %#llx", page,
                     (unsigned long long)e[i].VirtualAttributes.Flags);
    }
    free(e);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}

static bool privileged(void)
{
    return access("/proc/kpagecount", R_OK) == 0;
}

Test(queryworkingsetex, foreign_private_and_shared_memory)
{
    /* private anonymous memory winvmem did not allocate */
    volatile char *anon =
        mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)anon, MAP_FAILED);
    expect_flags((char *)anon, 0, "foreign, untouched");
    anon[0] = 1;
    expect_valid((char *)anon, WVM_PAGE_READWRITE, 0, "foreign, written");
    /* the system call itself: ASan's mlock interceptor does nothing */
    cr_assert_eq(syscall(SYS_mlock, (char *)anon, PAGE), 0);
    expect_valid((char *)anon, WVM_PAGE_READWRITE, privileged() ? LOCKED : 0,
                 "foreign, mlocked (known to privileged processes only)");
    syscall(SYS_munlock, (char *)anon, PAGE);
    cr_assert_eq(mprotect((char *)anon, PAGE, PROT_NONE), 0);
    expect_flags((char *)anon, 0, "foreign, PROT_NONE");
    munmap((char *)anon, 2 * PAGE);
    expect_flags((char *)anon, 0, "unmapped");

    /* a shared file mapping, mapped once and then twice */
    char path[] = "/tmp/wvm_wsex_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(ftruncate(fd, PAGE), 0);
    volatile char *v1 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq((void *)v1, MAP_FAILED);
    expect_flags((char *)v1, SHARED, "shared, not resident: only Shared");
    v1[0] = 7;
    expect_valid((char *)v1, WVM_PAGE_READWRITE, SHARED | COUNT(1), "shared, mapped once");
    volatile char *v2 = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_eq(v2[0], 7);
    expect_valid((char *)v1, WVM_PAGE_READWRITE, SHARED | COUNT(2), "shared, mapped twice");
    expect_valid((char *)v2, WVM_PAGE_READONLY, SHARED | COUNT(2), "the other view");
    munmap((char *)v2, PAGE);
    munmap((char *)v1, PAGE);
    close(fd);
}

Test(queryworkingsetex, image_pages_are_shared)
{
    /* this function's own code: an executable file mapping (MEM_IMAGE), resident since it runs */
    uintptr_t code = (uintptr_t)&node_of;
    uint64_t f = query((void *)code);
    cr_assert_eq(f & VALID, VALID, "running code is resident: %#llx", (unsigned long long)f);
    cr_assert_eq(f & SHARED, SHARED);
    cr_assert_eq((f >> 4) & 0x7FF, WVM_PAGE_EXECUTE_READ);
    cr_assert_geq((f & COUNT_MASK) >> 1, 1, "a valid shared page has a share count");
    cr_assert_eq(f & NODE_MASK, NODE(node_of((void *)code)));
    cr_assert_eq(f & ~(VALID | SHARED | COUNT_MASK | NODE_MASK | PROT(0x7FF) | LOCKED), 0,
                 "no other bit: %#llx", (unsigned long long)f);
}

Test(queryworkingsetex, views_of_a_section_are_shared)
{
    void *h = wvm_CreateFileMappingA(WVM_INVALID_HANDLE_VALUE, NULL, WVM_PAGE_READWRITE, 0, 0x10000,
                                     NULL);
    cr_assert_not_null(h, "error %u", wvm_GetLastError());
    volatile char *v1 = wvm_MapViewOfFile(h, WVM_FILE_MAP_WRITE, 0, 0, 0x10000);
    volatile char *v2 = wvm_MapViewOfFile(h, WVM_FILE_MAP_READ, 0, 0, 0x10000);
    cr_assert(v1 && v2);
    expect_flags((char *)v1, SHARED, "a view, not resident: only Shared");
    v1[0] = 3;
    expect_valid((char *)v1, WVM_PAGE_READWRITE, SHARED | COUNT(1), "one view maps the page");
    cr_assert_eq(v2[0], 3);
    expect_valid((char *)v1, WVM_PAGE_READWRITE, SHARED | COUNT(2), "both views map it");
    expect_valid((char *)v2, WVM_PAGE_READONLY, SHARED | COUNT(2), "the read-only view");
    cr_assert(wvm_UnmapViewOfFile((char *)v2));
    cr_assert(wvm_UnmapViewOfFile((char *)v1));
    cr_assert(wvm_CloseHandle(h));
}
