/* Pages placed over a range without userfaultfd (core/stash.c's fallback). */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "prim/linux/prim.h"

int wvm__prim_place_copy(void *dst, const void *src, size_t len, int prot)
{
    void *t =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (t == MAP_FAILED)
        return errno;
    uint64_t *d = t;
    const uint64_t *s = src;
    for (size_t i = 0; i < len / sizeof *d; i++)
        d[i] = s[i];
    int err = mprotect(t, len, prot) ? errno : 0;
    /* one step under the mmap lock: an access sees what was there (a marker: it faults and
     * waits) or the page with its data, never an empty entry */
    if (!err && mremap(t, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED)
        err = errno;
    if (err)
        munmap(t, len);
    return err;
}
