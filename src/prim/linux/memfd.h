/* A memfd page pool: the AWE backend for kernels without UFFDIO_MOVE. Same contract as
 * prim.h: 0 or a positive errno. */
#ifndef WVM_PRIM_MEMFD_H
#define WVM_PRIM_MEMFD_H
#include <stddef.h>
#include <stdint.h>

int wvm__prim_memfd_open(int *fd);
/* Makes [off, off+len) exist and allocates its pages (zero-filled): ENOSPC/ENOMEM up front. */
int wvm__prim_memfd_alloc(int fd, uint64_t off, size_t len);
/* Gives the pages back (the range reads zeros afterwards). */
int wvm__prim_memfd_free(int fd, uint64_t off, size_t len);
/* Maps [off, off+len) of fd read-write MAP_SHARED exactly at addr, replacing what was there. */
int wvm__prim_map_shared_fixed(void *addr, size_t len, int fd, uint64_t off);
#endif
