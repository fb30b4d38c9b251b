/* Sections (file-mapping objects): what a view maps, and the rules of access between a
 * section's page protection, a handle's access and a view's protection.
 *
 * A section is a file: a memfd (pagefile-backed, unnamed), a file in the per-user directory
 * (pagefile-backed, named: prim/linux/section.h), or the caller's file (wvm_handle_from_fd).
 * Pagefile-backed SEC_COMMIT sections charge their size to the commit ledger when created;
 * SEC_RESERVE sections charge each page when a view commits it (VirtualAlloc on the view),
 * keeping one bit per committed page with the section, shared by every process for a named
 * one. A section lives while a handle or a view refers to it (wvm_object's reference count);
 * its name lives while a handle to it is open in any process.
 *
 * A named section over the caller's file is reached from other processes through a record in
 * the per-user directory (the same file name a pagefile-backed section of that name would have):
 * the section's size, protection and name, the file's identity (dev, ino), its path at creation,
 * and the processes holding it open (pid, descriptor). Another process reopens the file through
 * /proc/<pid>/fd/<n> of a holder, else through the path, with the access the section's
 * protection needs, and accepts it only when it is the same file (dev, ino): the kernel checks
 * the file's permissions for this process at that open, so an opener never gets more than the
 * file itself allows it, and a file swapped under the path is refused (ERROR_ACCESS_DENIED). */
#ifndef WVM_SECTION_H
#define WVM_SECTION_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/handle.h"
#include "core/secname.h"
#include "prim/linux/section.h"

/* SECTION_MAP_* rights a page protection needs (views) or allows (sections). */
uint32_t wvm__prot_rights(uint32_t prot);

/* A file wrapped by wvm_handle_from_fd. */
typedef struct wvm_file {
    wvm_object obj;
    int fd;
    wvm_fdinfo info; /* from when the handle was made: the permission check Windows makes at
                      * CreateFile time, kept for every section made from this handle */
} wvm_file;

uint32_t wvm__file_new(int fd, wvm_file **out);

struct wvm_view;

typedef struct wvm_section {
    wvm_object obj;   /* refs: handles + views in this process */
    uint32_t handles; /* open handles in this process (registry lock) */
    int fd;
    uint64_t data_off;         /* file offset of the section's first byte */
    uint64_t size;             /* bytes: page-rounded for pagefile sections, exact for files */
    uint32_t prot;             /* PAGE_* given at creation (base protection only) */
    uint32_t attrs;            /* SEC_* as NtQuerySection reports them */
    bool file;                 /* the caller's file: views cannot be committed or decommitted */
    _Atomic uint64_t *bits;    /* SEC_RESERVE: committed pages; NULL when everything is */
    uint64_t charged;          /* bytes this process charged to the ledger for it (lock) */
    struct wvm_credit *credit; /* the host that committed through a view, one reference */
    uint64_t credit_bytes;     /* of charged, what that host charged (commit lock) */
    pthread_mutex_t lock;      /* SEC_RESERVE commits, and views joining (held over mprotect) */
    pthread_mutex_t list_lock; /* the list of views, never held while taking another lock */
    struct wvm_view *views;
    /* named sections */
    wvm_secname name; /* units NULL: unnamed */
    void *header;     /* the file's header, mapped shared (named) */
    size_t header_len;
    int rec_fd;          /* named file-backed: the record in the per-user directory (-1: none;
                          * a named pagefile-backed section's record is fd itself) */
    struct wvm_frec *at; /* named file-backed: where the file is (in the header) */
    int fork_fd;         /* during a fork: the child's own description of the name's file */
    struct wvm_section *next_named;
} wvm_section;

/* Creates a section over file (NULL: pagefile-backed) of size bytes (0: the file's size),
 * protection prot (PAGE_*, validated by the caller), attributes sec (SEC_*, validated), named
 * name (units NULL: unnamed). If a section of that name exists, *out is it and *existed is set
 * (size, prot and file are then ignored, as on Windows). The caller owns one reference and one
 * handle count (wvm__section_handle_opened was done). 0 or a Windows error. */
uint32_t wvm__section_create(wvm_file *file, uint64_t size, uint32_t prot, uint32_t sec,
                             const wvm_secname *name, wvm_section **out, bool *existed);
/* Opens the named section: as create, ERROR_FILE_NOT_FOUND when there is none. */
uint32_t wvm__section_open(const wvm_secname *name, wvm_section **out);
/* One more handle to s (DuplicateHandle). */
void wvm__section_handle_opened(wvm_section *s);

/* Whether other processes commit pages of s (a named SEC_RESERVE section): its views are
 * registered for VirtualQuery and follow the shared bits (core/xview.h). */
static inline bool wvm__section_shared(const wvm_section *s)
{
    return s->bits && s->header;
}

/* SEC_RESERVE: whether page (of the section) is committed. */
static inline bool wvm__section_committed(const wvm_section *s, uint64_t page)
{
    return !s->bits ||
           (atomic_load_explicit(&s->bits[page / 64], memory_order_acquire) >> (page % 64) & 1);
}
/* SEC_RESERVE commits and views joining a SEC_RESERVE section's list: one lock for every
 * section (rare, and fork-safe as one lock), taken before any allocation lock. The lists of
 * views: one leaf lock, taken under an allocation lock, holding nothing else. */
extern pthread_mutex_t wvm__section_commit_lock;
extern pthread_mutex_t wvm__section_views_lock;

/* SEC_RESERVE commits, in steps around the kernel's part (commit lock held): charge counts the
 * pages of [first, first+count) not yet committed (*fresh) and charges them to the ledger
 * (0 or ERROR_COMMITMENT_LIMIT); mark sets their bits, giving back the charge of any page
 * another process committed meanwhile (it returns the pages still charged), and (set not NULL)
 * records the bits it set: word w - first / 64 for word w of the section,
 * wvm__section_set_words(first, count) words. unmark clears the bits mark recorded and gives back
 * their charge (the kernel's part failed after mark); uncharge undoes a charge whose kernel part
 * failed before mark. */
uint32_t wvm__section_charge(wvm_section *s, uint64_t first, uint64_t count, uint64_t *fresh);
uint64_t wvm__section_mark(wvm_section *s, uint64_t first, uint64_t count, uint64_t fresh,
                           uint64_t *set);
void wvm__section_unmark(wvm_section *s, uint64_t first, uint64_t count, const uint64_t *set);
void wvm__section_uncharge(wvm_section *s, uint64_t pages);
static inline uint64_t wvm__section_set_words(uint64_t first, uint64_t count)
{
    return (first + count + 63) / 64 - first / 64;
}

/* Bytes all live sections of this process charged to the ledger (invariant checker). */
uint64_t wvm__section_charged(void);
uint64_t wvm__section_live(void);
#endif
