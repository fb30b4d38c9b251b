/* The AWE page store (core-internal, used by awe.c with its pool lock held): where physical
 * pages live while not mapped, and how one moves into a window and back. Two mechanisms,
 * chosen once: UFFDIO_MOVE (Linux >= 6.8: page-table entries move, windows stay one mapping)
 * and, without it, a memfd whose pages are mapped MAP_SHARED|MAP_FIXED into the window (one
 * kernel mapping per scattered page; vm.max_map_count limits a process to ~65k of them). */
#ifndef WVM_AWE_STORE_H
#define WVM_AWE_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sets the store up (idempotent); 0 or an errno. ENOSYS: neither mechanism works. */
int wvm__store_init(void);
/* Whether some mechanism works here (probes once). */
bool wvm__store_available(void);
/* Whether windows are memfd-backed (PROT_NONE where empty) rather than moved-into. */
bool wvm__store_memfd(void);
/* Slots the store can hold. */
uint64_t wvm__store_slots(void);
/* Gives slot s a zero-filled page / takes its page away. */
int wvm__store_fill(uint64_t s);
void wvm__store_empty(uint64_t s);
/* Puts slots [s, s+n) at addr (a window) / takes them back from addr. */
int wvm__store_page_in(uintptr_t addr, uint64_t s, uint64_t n);
int wvm__store_page_out(uintptr_t addr, uint64_t s, uint64_t n);
/* Makes the kernel mapping of a new window of size bytes (at want, or anywhere 64 KiB
 * aligned) and prepares it; 0 or an errno. */
int wvm__store_window(uintptr_t want, size_t size, void **out);
int wvm__store_window_ready(uintptr_t base, size_t size);
#endif
