/* The large-page backend (see largepage.h).
 *
 * Windows' rules (Microsoft, "Large-Page Support"): size and address are multiples of
 * GetLargePageMinimum(); the memory is reserved and committed as one operation, so pages of a
 * large-page allocation can never be committed later. winvmem accepts VirtualProtect and
 * MEM_DECOMMIT on whole large pages (the kernel cannot split a hugetlb page) and refuses a
 * re-commit of decommitted large pages with ERROR_INVALID_PARAMETER. */
#include <errno.h>

#include "core/largepage.h"
#include "prim/options.h"
#include "prim/linux/hugetlb.h"

/* wvm__alloc_ext(a) is NULL until the initial commit has happened, then SETTLED */
#define SETTLED ((void *)1)

static int map(uintptr_t want, size_t size, void **out)
{
    int err = wvm__prim_map_huge((void *)want, size, out);
    if (err == ENOSPC && wvm__option(WVM_OPT_THP_FALLBACK))
        err = wvm__prim_map_thp((void *)want, size, wvm__prim_huge_size(), out);
    return err;
}

static uint32_t allow(wvm_alloc *a, uint32_t op, uint64_t first, uint64_t count)
{
    uint64_t per = wvm__prim_huge_size() / WVM_PAGE;
    if (op == WVM_MEM_COMMIT) {
        if (wvm__alloc_ext(a) != SETTLED)
            return 0;
        return wvm__snap_any(wvm__alloc_snap(a), first, count, WVM_UNCOMMITTED)
                   ? WVM_ERROR_INVALID_PARAMETER
                   : 0;
    }
    return first % per || count % per ? WVM_ERROR_INVALID_PARAMETER : 0;
}

static uint32_t after_commit(wvm_alloc *a, const wvm_snap *old, uint64_t first, uint64_t count)
{
    (void)old;
    (void)first;
    (void)count;
    wvm__alloc_set_ext(a, SETTLED);
    return 0;
}

static uint32_t on_release(wvm_alloc *a, const wvm_snap *s)
{
    (void)s;
    wvm__alloc_set_ext(a, NULL);
    return 0;
}

static const wvm_backend largepage_backend = {
    .name = "large-pages",
    .map = map,
    .on_release = on_release,
    .after_commit = after_commit,
    .allow = allow,
};

const wvm_backend *wvm__largepage_backend(void)
{
    return wvm__prim_huge_size() ? &largepage_backend : NULL;
}
