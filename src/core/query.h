/* VirtualQuery's model: one MEMORY_BASIC_INFORMATION for the region holding an address, over
 * the whole address space: winvmem's allocations (lock-free), memory others mapped (as the
 * kernel reports it), and free space between them. */
#ifndef WVM_QUERY_H
#define WVM_QUERY_H
#include <stdbool.h>
#include <stdint.h>

#include <winvmem/vm.h>

struct wvm_snap;

/* addr < the user limit. Returns 0 or a Windows error. Takes no lock. */
uint32_t wvm__query(uintptr_t addr, wvm_MEMORY_BASIC_INFORMATION *out);
/* The answer for addr when it lies in a winvmem allocation (false otherwise), without the
 * consistency checks of wvm__query: a hint for out-parameter copies. Lock-free. */
bool wvm__query_owned(uintptr_t addr, wvm_MEMORY_BASIC_INFORMATION *out);
/* Lock-free, wait-free, without an epoch: fills *out for page from its descriptor's quick
 * copy (core/index.h: wvm_quick); false when the snapshot path must answer. */
bool wvm__query_quick(uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *out);
/* The answer for page, which lies in snapshot s (the reference the quick path must match). */
void wvm__query_snap(const struct wvm_snap *s, uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *m);
/* Memory not in any winvmem allocation: free space or another mapping. */
uint32_t wvm__query_foreign(uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *out);
/* Whether addr lies in a winvmem allocation (*ours), and its kind (WVM_TYPE_* bits: view,
 * placeholder, replaced placeholder) for introspection. Lock-free. */
uint32_t wvm__query_kind(uintptr_t addr, bool *ours);
/* Windows protection for Linux protection bits; private file mappings are copy-on-write. */
uint32_t wvm__windows_prot(int prot, int copy_on_write);
#endif
