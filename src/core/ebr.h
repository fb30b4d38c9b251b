/* Epoch-based reclamation. Readers (VirtualQuery) never take a lock: they enter a critical
 * section, read immutable snapshots, and leave; writers retire old snapshots, which are freed
 * only once every reader that could hold them has left. A reader that is suspended inside its
 * section (the CLR suspends threads anywhere) delays freeing, never blocks anyone. */
#ifndef WVM_EBR_H
#define WVM_EBR_H
#include <stddef.h>

typedef struct wvm_retired {
    struct wvm_retired *next;
    size_t bytes;
} wvm_retired;

/* Sections nest (an inner exit does not end the outer section). */
void wvm__ebr_enter(void);
void wvm__ebr_exit(void);
/* obj starts with a wvm_retired header and came from wvm__meta_alloc(bytes) (core/meta.h);
 * it is freed later. */
void wvm__ebr_retire(wvm_retired *obj, size_t bytes);
/* Unmaps [addr, addr+len) (a mapping winvmem made) once every reader that may still read it
 * has left its section. Without memory for the record the mapping is kept (never unmapped
 * under a reader). */
void wvm__ebr_retire_unmap(void *addr, size_t len);
/* Several objects under one lock: first .. last linked through next (last's next is
 * overwritten), each with its bytes set; n of them. */
void wvm__ebr_retire_chain(wvm_retired *first, wvm_retired *last, unsigned n);
#endif
