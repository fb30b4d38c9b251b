/* PrefetchVirtualMemory for the current process: MADV_WILLNEED on each range, which starts
 * reading file pages into the page cache and swapped pages into the swap cache without
 * mapping them: as Microsoft documents, the pages are cached in physical memory but not added
 * to the working set (MADV_POPULATE_READ would add them, so it is not used). A hint: pages
 * that are not committed, free, or not backed by anything that could be read are skipped
 * without an error (as Wine 8 does; Microsoft: ranges "may cover any part of the process
 * address space").
 *
 * Arguments: Flags is reserved and must be 0, NumberOfEntries must not be 0 (both
 * ERROR_INVALID_PARAMETER; Wine 8 accepts any Flags); the array is read as an in-parameter
 * (ERROR_NOACCESS when it cannot be); an entry of zero bytes (Wine 8 refuses it, the only
 * answer found) or whose range wraps or passes the highest user address is
 * ERROR_INVALID_PARAMETER (entries before it may have been prefetched). */
#include "api/api.h"
#include "prim/linux/prim_ws.h"

#define BATCH 64

WVM_API int wvm_PrefetchVirtualMemory(void *hProcess, uintptr_t NumberOfEntries,
                                      wvm_WIN32_MEMORY_RANGE_ENTRY *VirtualAddresses,
                                      uint32_t Flags)
{
    wvm_WIN32_MEMORY_RANGE_ENTRY e[BATCH];
    if (hProcess != WVM_CURRENT_PROCESS)
        return WVM_FAIL(WVM_ERROR_INVALID_HANDLE, 0);
    if (!NumberOfEntries || Flags)
        return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
    for (uintptr_t done = 0; done < NumberOfEntries;) {
        size_t k = NumberOfEntries - done < BATCH ? (size_t)(NumberOfEntries - done) : BATCH;
        if (!wvm__user_read(e, VirtualAddresses + done, k * sizeof *e))
            return WVM_FAIL(WVM_ERROR_NOACCESS, 0);
        for (size_t i = 0; i < k; i++) {
            uintptr_t start, end;
            if (!e[i].NumberOfBytes ||
                !wvm__page_range((uintptr_t)e[i].VirtualAddress, e[i].NumberOfBytes, &start, &end))
                return WVM_FAIL(WVM_ERROR_INVALID_PARAMETER, 0);
            /* ENOMEM: holes in the range; others: mappings that cannot be read ahead */
            (void)wvm__prim_prefetch((void *)start, end - start);
        }
        done += k;
    }
    return 1;
}
