/* Large pages: the hugetlb pool (MAP_HUGETLB), and transparent huge pages as an explicit
 * fallback. Same contract as prim.h: 0 or a positive errno, no C heap. */
#ifndef WVM_PRIM_HUGETLB_H
#define WVM_PRIM_HUGETLB_H
#include <stdbool.h>
#include <stddef.h>

/* The default hugetlb page size (Hugepagesize in /proc/meminfo), 0 when the kernel has no
 * hugetlb support. Read once. */
size_t wvm__prim_huge_size(void);

/* Maps size bytes (a multiple of wvm__prim_huge_size()) of private hugetlb memory, read-write,
 * every page faulted in before returning: at want exactly when want != NULL (EEXIST when
 * taken), else anywhere. ENOSPC when the pool cannot supply the pages: the call fails instead
 * of a later SIGBUS. */
int wvm__prim_map_huge(void *want, size_t size, void **out);

/* The fallback: private anonymous memory aligned to align, advised MADV_HUGEPAGE and faulted
 * in (the kernel may or may not back it with huge pages). */
int wvm__prim_map_thp(void *want, size_t size, size_t align, void **out);
#endif
