/* Shared by the public entry points: argument rules common to several functions, the thread's
 * last error, and the debug-build invariant hook. */
#ifndef WVM_API_INTERNAL_H
#define WVM_API_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include <winvmem/vm.h>

#include "core/space.h"

/* Sets the thread's last error to err (non-zero) and returns ret. */
#define WVM_FAIL(err, ret) (wvm__set_error(err), (ret))
void wvm__set_error(uint32_t err);

/* The highest address an application can use (SYSTEM_INFO.lpMaximumApplicationAddress). */
uintptr_t wvm__max_app_address(void);

/* Whether prot is a valid protection for new private memory or for VirtualProtect:
 * exactly one base protection; PAGE_GUARD, PAGE_NOCACHE, PAGE_WRITECOMBINE only in the
 * combinations Windows allows. *clean receives prot without flags winvmem ignores. */
bool wvm__valid_prot(uint32_t prot, bool for_protect, uint32_t *clean);

/* Page range touched by [addr, addr+size): false when it wraps or passes the user limit. */
bool wvm__page_range(uintptr_t addr, size_t size, uintptr_t *start, uintptr_t *end);

/* Debug builds (WVM_CHECK_INVARIANTS): checks the model after a public call; aborts on a
 * violation. Release builds: nothing. */
#ifdef WVM_CHECK_INVARIANTS
void wvm__after_call(void);
#else
static inline void wvm__after_call(void) {}
#endif
#endif
