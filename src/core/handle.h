/* Handles: winvmem's own table of kernel-object handles (sections, and files wrapped by
 * wvm_handle_from_fd). A handle names an object and the access it was granted; objects are
 * reference counted (every handle and every other user, e.g. a view, holds one).
 *
 * Handle values are multiples of 4 like Windows' (never NULL, never the pseudo-handle -1),
 * below 2^31 (they survive truncation to 32 bits and sign extension, as Microsoft documents for
 * Windows' handles), with a 7-bit generation in the high bits so that a closed handle is
 * refused rather than naming a new object (Windows reuses a closed handle's value at once: a
 * double close there may close someone else's object; here it fails with
 * ERROR_INVALID_HANDLE until the slot was reused 128 times). The table is under one mutex, held
 * only for the table operation itself (never across a system call); it survives fork (core/fork.h).
 */
#ifndef WVM_HANDLE_H
#define WVM_HANDLE_H
#include <stdatomic.h>
#include <stdint.h>

enum wvm_object_kind { WVM_OBJ_FILE = 1, WVM_OBJ_SECTION = 2 };

typedef struct wvm_object {
    _Atomic uint32_t refs;
    uint32_t kind;
    void (*destroy)(struct wvm_object *o); /* refs reached 0 */
    /* a handle to the object was closed (before its reference is dropped) */
    void (*handle_closed)(struct wvm_object *o);
} wvm_object;

static inline void wvm__object_ref(wvm_object *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}
void wvm__object_unref(wvm_object *o);

/* A new handle to o with access; the handle takes over one reference the caller holds.
 * ERROR_NOT_ENOUGH_MEMORY (the reference is then still the caller's) or 0. */
uint32_t wvm__handle_new(wvm_object *o, uint32_t access, void **out);
/* The object h names, with one reference for the caller, and the handle's access; NULL when h
 * is not an open handle of that kind (kind 0: any). */
wvm_object *wvm__handle_get(void *h, uint32_t kind, uint32_t *access);
/* Closes h: 0 or ERROR_INVALID_HANDLE. */
uint32_t wvm__handle_close(void *h);
/* Open handles (stats, tests). */
uint64_t wvm__handle_count(void);
#endif
