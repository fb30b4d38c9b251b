/* VirtualAlloc2, VirtualAlloc2FromApp: VirtualAlloc with a process (the current one),
 * placeholders, and extended parameters.
 *
 * Windows' rules (ntdll's conformance tests, run on Windows): MEM_RESERVE_PLACEHOLDER needs
 * MEM_RESERVE and PAGE_NOACCESS and nothing to commit; MEM_REPLACE_PLACEHOLDER needs MEM_RESERVE
 * and an address and size that are exactly a placeholder's (ERROR_INVALID_ADDRESS otherwise);
 * a placeholder is not committed or reserved over (ERROR_INVALID_ADDRESS). Address
 * requirements: LowestStartingAddress a multiple of 64 KiB, HighestEndingAddress one byte
 * before a page boundary, both within the user address space and in order; Alignment 0 or a
 * power of two of at least 64 KiB; no address of one's own with them, and nothing but a
 * reservation (ERROR_INVALID_PARAMETER otherwise); no room: ERROR_NOT_ENOUGH_MEMORY.
 * MemExtendedParameterNumaNode: the preferred node of a new allocation, as VirtualAllocExNuma's
 * (core/numa.h; NUMA_NO_PREFERRED_NODE: none); a node this process cannot allocate from is
 * ERROR_INVALID_PARAMETER. winvmem's choices where Microsoft is silent: placeholders hold no
 * memory and take no node (nor does what replaces one); views accept node 0 only. */
#include "api/api.h"
#include "core/numa.h"
#include "core/placeholder.h"
#include "core/ww.h"
#include "fault/fault.h"

#define EXEC_PROTS                                                                                 \
    (WVM_PAGE_EXECUTE | WVM_PAGE_EXECUTE_READ | WVM_PAGE_EXECUTE_READWRITE |                       \
     WVM_PAGE_EXECUTE_WRITECOPY)

uint32_t wvm__ext_params(const wvm_MEM_EXTENDED_PARAMETER *p, uint32_t n, bool view,
                         wvm_addr_req *out)
{
    uint32_t seen = 0;
    *out = (wvm_addr_req){false, WVM_MIN_ADDR, wvm__max_app_address() + 1, 0, -1};
    if (n && !p)
        return WVM_ERROR_INVALID_PARAMETER;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t type = (uint32_t)p[i].Type;
        if (!type || type >= wvm_MemExtendedParameterMax || (seen & (1u << type)))
            return WVM_ERROR_INVALID_PARAMETER;
        seen |= 1u << type;
        if (type == wvm_MemExtendedParameterNumaNode) {
            uint32_t node = p[i].ULong;
            if (p[i].ULong64 >> 32) /* the node is a ULONG */
                return WVM_ERROR_INVALID_PARAMETER;
            if (node == WVM_NUMA_NO_PREFERRED_NODE && !view)
                continue;
            if (view ? node != 0 : !wvm__numa_valid(node))
                return WVM_ERROR_INVALID_PARAMETER;
            out->node = view ? -1 : (int)node;
            continue;
        }
        if (type == wvm_MemExtendedParameterAttributeFlags && !view && !p[i].ULong64)
            continue;
        if (type != wvm_MemExtendedParameterAddressRequirements || !p[i].Pointer)
            return WVM_ERROR_INVALID_PARAMETER;
        const wvm_MEM_ADDRESS_REQUIREMENTS *a = p[i].Pointer;
        uintptr_t lo = (uintptr_t)a->LowestStartingAddress;
        uintptr_t hi = (uintptr_t)a->HighestEndingAddress, max = wvm__max_app_address();
        if ((lo & (WVM_GRAN - 1)) || lo > max || (hi && ((hi + 1) & (WVM_PAGE - 1))) || hi > max ||
            (hi && lo > hi) ||
            (a->Alignment && ((a->Alignment & (a->Alignment - 1)) || a->Alignment < WVM_GRAN)))
            return WVM_ERROR_INVALID_PARAMETER;
        out->set = lo || hi || a->Alignment;
        if (lo > out->lo)
            out->lo = lo;
        if (hi)
            out->hi = hi + 1;
        out->align = a->Alignment;
    }
    return 0;
}

static bool current_process(void *p)
{
    return !p || p == WVM_CURRENT_PROCESS;
}

/* The node a call makes its allocation with (api/numa.c's rule): only a new allocation takes
 * one. */
static int node_for(const wvm_addr_req *q, uintptr_t addr, uint32_t type)
{
    const uint32_t no_node = WVM_MEM_RESET | WVM_MEM_RESET_UNDO | WVM_MEM_PHYSICAL;
    bool fresh = (type & WVM_MEM_RESERVE) || !addr;
    return fresh && !(type & no_node) ? q->node : -1;
}

/* A reservation placed by address requirements: candidates from wvm__space_find, retried
 * when another thread takes one first. */
static void *reserve_in(const wvm_addr_req *q, size_t size, uint32_t type, uint32_t prot,
                        uint32_t *err)
{
    size_t align = q->align ? q->align : WVM_GRAN;
    size_t need = (size + WVM_PAGE - 1) & ~(size_t)(WVM_PAGE - 1);
    if (need < size || need > q->hi - q->lo) {
        *err = need < size ? WVM_ERROR_INVALID_PARAMETER : WVM_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    for (int tries = 0; tries < 16; tries++) {
        uintptr_t at;
        if ((*err = wvm__space_find(q->lo, q->hi, need, align, type & WVM_MEM_TOP_DOWN, &at)))
            return NULL;
        void *p;
        if (type & WVM_MEM_RESERVE_PLACEHOLDER) {
            uintptr_t got;
            *err = wvm__placeholder_reserve(at, need, false, &got);
            p = *err ? NULL : (void *)got;
        } else {
            p = wvm__virtual_alloc((void *)at, size, type & ~WVM_MEM_TOP_DOWN, prot,
                                   node_for(q, at, type), NULL);
            *err = p ? 0 : wvm_GetLastError();
        }
        if (*err != WVM_ERROR_INVALID_ADDRESS)
            return p;
    }
    return NULL;
}

static void *alloc2(void *Process, void *BaseAddress, size_t Size, uint32_t type, uint32_t prot,
                    wvm_MEM_EXTENDED_PARAMETER *ext, uint32_t n)
{
    uintptr_t addr = (uintptr_t)BaseAddress;
    const uint32_t ph = WVM_MEM_RESERVE_PLACEHOLDER | WVM_MEM_REPLACE_PLACEHOLDER;
    if (!current_process(Process))
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, NULL);
    wvm_addr_req q;
    uint32_t err = wvm__ext_params(ext, n, false, &q);
    if (err)
        return WVM_FAIL(err, NULL);
    if (q.set && (addr || !(type & WVM_MEM_RESERVE)))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if (!(type & ph) && !q.set)
        return wvm__virtual_alloc(BaseAddress, Size, type, prot, node_for(&q, addr, type), NULL);
    if ((type & ph) == ph || !(type & WVM_MEM_RESERVE) || !Size)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    if (type & WVM_MEM_RESERVE_PLACEHOLDER) {
        if ((type & ~(WVM_MEM_RESERVE | WVM_MEM_RESERVE_PLACEHOLDER | WVM_MEM_TOP_DOWN)) ||
            prot != WVM_PAGE_NOACCESS)
            return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
        void *p = NULL;
        size_t need = (Size + WVM_PAGE - 1) & ~(size_t)(WVM_PAGE - 1);
        if (need < Size || need > wvm__max_app_address() + 1 - WVM_MIN_ADDR) {
            err = WVM_ERROR_INVALID_PARAMETER; /* larger than the user address space */
        } else if (q.set) {
            p = reserve_in(&q, Size, type, prot, &err);
        } else if (addr && (addr < WVM_MIN_ADDR || addr + need - 1 > wvm__max_app_address())) {
            err = WVM_ERROR_INVALID_PARAMETER;
        } else if (addr & (WVM_GRAN - 1)) {
            err = WVM_ERROR_INVALID_ADDRESS;
        } else {
            uintptr_t got;
            err = wvm__placeholder_reserve(addr, need, type & WVM_MEM_TOP_DOWN, &got);
            p = err ? NULL : (void *)got;
        }
        wvm__after_call();
        return err ? WVM_FAIL(err, NULL) : p;
    }
    if (type & WVM_MEM_REPLACE_PLACEHOLDER) {
        uint32_t clean;
        const uint32_t allowed =
            WVM_MEM_RESERVE | WVM_MEM_COMMIT | WVM_MEM_REPLACE_PLACEHOLDER | WVM_MEM_WRITE_WATCH;
        if ((type & ~allowed) || !addr || !wvm__valid_prot(prot, false, &clean))
            return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
        if ((err = wvm__fault_need_for(clean)))
            return WVM_FAIL(err, NULL);
        const wvm_backend *be = NULL;
        if (type & WVM_MEM_WRITE_WATCH) {
            be = wvm__ww_backend();
            if ((err = wvm__fault_need())) /* as api/alloc.c says */
                return WVM_FAIL(err, NULL);
        }
        uintptr_t start, end;
        if (!wvm__page_range(addr, Size, &start, &end) || start != addr)
            return WVM_FAIL(WVM_ERROR_INVALID_ADDRESS, NULL);
        err = wvm__placeholder_replace(addr, end - start, type, clean, be);
        wvm__after_call();
        return err ? WVM_FAIL(err, NULL) : BaseAddress;
    }
    void *p = reserve_in(&q, Size, type, prot, &err);
    return err ? WVM_FAIL(err, NULL) : p;
}

WVM_API void *wvm_VirtualAlloc2(void *Process, void *BaseAddress, size_t Size,
                                uint32_t AllocationType, uint32_t PageProtection,
                                wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                uint32_t ParameterCount)
{
    return alloc2(Process, BaseAddress, Size, AllocationType, PageProtection, ExtendedParameters,
                  ParameterCount);
}

WVM_API void *wvm_VirtualAlloc2FromApp(void *Process, void *BaseAddress, size_t Size,
                                       uint32_t AllocationType, uint32_t PageProtection,
                                       wvm_MEM_EXTENDED_PARAMETER *ExtendedParameters,
                                       uint32_t ParameterCount)
{
    if (PageProtection & EXEC_PROTS) /* app containers allocate nothing executable */
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    return alloc2(Process, BaseAddress, Size, AllocationType, PageProtection, ExtendedParameters,
                  ParameterCount);
}
