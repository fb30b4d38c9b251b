/* Mappings for AWE (MEM_PHYSICAL): the windows and the page store. Same contract as prim.h. */
#ifndef WVM_PRIM_AWE_H
#define WVM_PRIM_AWE_H
#include <stdbool.h>
#include <stddef.h>

/* Private anonymous read-write memory: at want exactly when want != NULL (EEXIST when taken),
 * else anywhere aligned to align (a power of two). huge: advised MADV_HUGEPAGE, else never
 * backed by transparent huge pages (AWE moves pages one by one). MAP_NORESERVE. */
int wvm__prim_map_anon_rw(void *want, size_t size, size_t align, bool huge, void **out);
/* Faults the pages of [addr, addr+len) in, zero-filled, reporting ENOMEM instead of dying. */
int wvm__prim_populate(void *addr, size_t len);
#endif
