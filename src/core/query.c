#include <string.h>

#include "core/query.h"
#include "core/space.h"

static void fill_from_snap(const wvm_snap *s, uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *m)
{
    uint64_t idx = (page - s->base) / WVM_PAGE;
    uint32_t i = wvm__snap_find(s, idx);
    uint32_t visible = s->runs[i].attr & WVM_ATTR_PROT_MASK;
    uint64_t end = wvm__snap_run_end(s, i);
    /* page flags Windows does not show (locked, reset) must not split a region */
    while (++i < s->nruns && (s->runs[i].attr & WVM_ATTR_PROT_MASK) == visible)
        end = wvm__snap_run_end(s, i);
    m->BaseAddress = (void *)page;
    m->AllocationBase = (void *)s->base;
    m->AllocationProtect = s->alloc_prot;
    m->PartitionId = 0;
    m->RegionSize = (end - idx) * WVM_PAGE;
    m->State = visible ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    m->Protect = visible;
    m->Type = WVM_MEM_PRIVATE;
}

uint32_t wvm__query(uintptr_t addr, wvm_MEMORY_BASIC_INFORMATION *out)
{
    uintptr_t page = addr & ~(uintptr_t)(WVM_PAGE - 1);
    wvm__ebr_enter();
    const wvm_snap *s = wvm__space_lookup(page);
    if (s)
        fill_from_snap(s, page, out);
    wvm__ebr_exit();
    return s ? 0 : wvm__query_foreign(page, out);
}
