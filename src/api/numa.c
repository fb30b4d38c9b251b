/* VirtualAllocExNuma for the current process: VirtualAlloc whose new allocation prefers the
 * NUMA node nndPreferred (core/numa.h). As Microsoft documents, the node is used only when a
 * new allocation is made (MEM_RESERVE, or no address); committing in an existing one ignores
 * it (the allocation keeps the node it was made with, if any). NUMA_NO_PREFERRED_NODE: plain
 * VirtualAllocEx. A node this process cannot allocate from (not online, outside its cpuset)
 * is ERROR_INVALID_PARAMETER, checked after the handle and before everything else (Windows
 * rejects a node above the highest node number; doc/windows-semantics.md). AWE windows
 * (MEM_PHYSICAL) ignore the node: their pages come from AllocateUserPhysicalPages. */
#include "api/api.h"
#include "core/numa.h"

WVM_API void *wvm_VirtualAllocExNuma(void *hProcess, void *lpAddress, size_t dwSize,
                                     uint32_t flAllocationType, uint32_t flProtect,
                                     uint32_t nndPreferred)
{
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, NULL);
    bool preferred = nndPreferred != WVM_NUMA_NO_PREFERRED_NODE;
    if (preferred && !wvm__numa_valid(nndPreferred))
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, NULL);
    bool fresh = (flAllocationType & WVM_MEM_RESERVE) || !lpAddress;
    const uint32_t no_node = WVM_MEM_RESET | WVM_MEM_RESET_UNDO | WVM_MEM_PHYSICAL;
    int node = preferred && fresh && !(flAllocationType & no_node) ? (int)nndPreferred : -1;
    return wvm__virtual_alloc(lpAddress, dwSize, flAllocationType, flProtect, node, NULL);
}
