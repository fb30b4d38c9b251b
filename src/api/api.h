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

/* Names for printing (map.c): "READWRITE+GUARD" ("-" for 0); sizes as VMMap writes them
 * ("1,024 K"), huge ones shortened ("127.9 T"). */
void wvm__prot_name(uint32_t prot, char *buf, size_t cap);
void wvm__size_name(uint64_t bytes, char *buf, size_t cap);

/* WINVMEM_SHOW_STATS=1: prints the statistics on stderr; called once, at exit. */
void wvm__stats_at_exit(void);

/* The public calls with the host hook's accounting (core/range.h; NULL: a plain call), so
 * that api/owned.c applies exactly their argument rules. wvm_VirtualAlloc (api/alloc.c;
 * node >= 0: a new allocation prefers that NUMA node, api/numa.c);
 * MEM_RESET or MEM_RESET_UNDO (api/reset.c); VirtualFree(MEM_DECOMMIT) (api/free.c). */
struct wvm_acct;
void *wvm__virtual_alloc(void *addr, size_t size, uint32_t type, uint32_t prot, int node,
                         struct wvm_acct *acct);
void *wvm__virtual_reset(void *addr, size_t size, uint32_t type, uint32_t prot,
                         struct wvm_acct *acct);
uint32_t wvm__virtual_decommit(uintptr_t addr, size_t size, struct wvm_acct *acct);

/* Out-parameters (userptr.c): false when the caller's pointer cannot be written (or read:
 * the call then fails with ERROR_NOACCESS), also when another thread decommits or protects it
 * meanwhile. probe checks without changing the bytes. Never call these holding an
 * allocation lock: a write to a write-watch fallback page needs that page's lock. */
bool wvm__user_write(void *dst, const void *src, size_t n);
bool wvm__user_read(void *dst, const void *src, size_t n);
bool wvm__user_probe(void *dst, size_t n);

/* The MEM_EXTENDED_PARAMETERs of VirtualAlloc2 and MapViewOfFile3 (api/alloc2.c): at most one
 * of each type; address requirements give [lo, hi) (hi exclusive) and an alignment (0 or a
 * power of two >= 64 KiB). set: some requirement is not the default. view: MapViewOfFile3's
 * set of types. 0 or ERROR_INVALID_PARAMETER. */
typedef struct wvm_addr_req {
    bool set;
    uintptr_t lo, hi;
    size_t align;
    int node; /* MemExtendedParameterNumaNode: the preferred node, -1 none */
} wvm_addr_req;
uint32_t wvm__ext_params(const wvm_MEM_EXTENDED_PARAMETER *p, uint32_t n, bool view,
                         wvm_addr_req *out);

/* Debug builds (WVM_CHECK_INVARIANTS): checks the model after a public call; aborts on a
 * violation. Release builds: nothing. */
#ifdef WVM_CHECK_INVARIANTS
void wvm__after_call(void);
#else
static inline void wvm__after_call(void) {}
#endif
#endif
