/* fork(): winvmem's locks and per-thread records across a fork taken at any moment.
 *
 * Each module with a lock registers one handler with a rank; before the fork the handlers
 * run in ascending rank and take their locks (all of them: every allocation's too), after it
 * in descending rank and release them, in the parent and in the child alike. A lock whose
 * holder may go on to take another module's lock has the lower rank (the lock order, outer
 * first). No thread of the parent can then be half way through an operation at the fork: the
 * child's one thread finds every structure whole and every lock free, and can allocate, query
 * and release at once. The child's handlers also give back the records of threads that do
 * not exist there (epoch readers) and reset what named the parent (cached descriptors).
 *
 * Nothing of this is on a hot path: the handlers take locks the operations take anyway.
 * Cost at fork: one lock and unlock per allocation descriptor ever made (they are never freed).
 *
 * Registration (wvm__fork_register) is cheap, idempotent per handler, and safe from library
 * constructors; pthread_atfork is called once, at the first registration, so that a program's
 * own handlers registered later run their prepare first (their locks are outer to ours: a
 * host holding its lock may call winvmem). pthread_once is fork-safe in glibc (a once
 * interrupted by the fork starts again in the child); malloc is glibc's own affair. */
#ifndef WVM_FORK_H
#define WVM_FORK_H
#include <pthread.h>
#include <stdint.h>

enum wvm_fork_phase { WVM_FORK_PREPARE, WVM_FORK_PARENT, WVM_FORK_CHILD };

/* Ranks, outer first. */
enum {
    WVM_FORK_RANK_SECTIONS = 5,        /* named sections (section.c): its holder takes no other */
    WVM_FORK_RANK_VEH = 10,            /* the vectored handler list (fault/veh.c) */
    WVM_FORK_RANK_SECTION_COMMIT = 15, /* SEC_RESERVE commits: before allocation locks */
    WVM_FORK_RANK_WP = 18,             /* child: READONLY pages protected again (wp.c) */
    WVM_FORK_RANK_SPACE = 20,          /* every allocation's lock, then placement (index.c) */
    WVM_FORK_RANK_SECTION_VIEWS = 25,  /* sections' view lists: under allocation locks */
    WVM_FORK_RANK_HANDLES = 26,        /* the handle table (handle.c): a leaf */
    WVM_FORK_RANK_XVIEWS = 27,         /* shared SEC_RESERVE views' registry (xview.c): a leaf */
    WVM_FORK_RANK_CHUNKS = 40,         /* arena chunk conversion (arena.c) */
    WVM_FORK_RANK_AWE = 50,            /* the AWE page pool (awe.c) */
    WVM_FORK_RANK_PRIM = 60,           /* prim's descriptor caches (userfaultfd, pagemap, maps) */
    WVM_FORK_RANK_EPOCHS = 80,         /* epoch bags and reader records (ebr.c) */
    WVM_FORK_RANK_META = 90, /* metadata allocators (leaves: taken under everything else) */
};

/* Registers fn(phase) at rank (several handlers may share a rank: their order is then the
 * order of registration for prepare, and the reverse after). */
void wvm__fork_register(int rank, void (*fn)(enum wvm_fork_phase phase));
/* The handler of a module whose only state at risk is one mutex: taken before, released
 * after. */
void wvm__fork_register_lock(int rank, pthread_mutex_t *lock);

/* How many forks this process is the child of (0 in the first process): state bound to a
 * process (a userfaultfd registration) compares it with the value it was made at. */
uint32_t wvm__fork_generation(void);
#endif
