/* Helpers of the tests of the neighbours of VirtualAlloc (tests/api/test_{discard,offer,
 * prefetch,workingsetsize}.c). */
#ifndef WVM_TEST_NEIGHBOURS_H
#define WVM_TEST_NEIGHBOURS_H
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winvmem/vm.h>

/* pages committed read-write pages, every byte 0x5A */
static inline char *filled(size_t pages)
{
    char *p =
        wvm_VirtualAlloc(NULL, pages * 4096, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    memset(p, 0x5A, pages * 4096);
    return p;
}

/* QueryWorkingSetEx's block of the page holding p */
static inline uint64_t ws_flags(const void *p)
{
    wvm_PSAPI_WORKING_SET_EX_INFORMATION e = {(void *)p, {0}};
    cr_assert(wvm_QueryWorkingSetEx(wvm_GetCurrentProcess(), &e, sizeof e));
    return e.VirtualAttributes.Flags;
}

/* An unlinked file in /tmp (a disk file system here, so its pages can leave the page cache)
 * of pages pages, every byte `byte`, written to disk: its page-cache pages are clean. */
static inline int clean_file(int pages, int byte)
{
    char path[] = "/tmp/wvm_neighbours_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    char buf[4096];
    memset(buf, byte, sizeof buf);
    for (int i = 0; i < pages; i++)
        cr_assert_eq(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    cr_assert_eq(fsync(fd), 0);
    return fd;
}
#endif
