/* The checker's window of address space and the partition of a round's history into one
 * independent history per slot (tests/lin/README.md, "Partitions"). */
#ifndef WVM_LIN_SPLIT_H
#define WVM_LIN_SPLIT_H
#include <stdint.h>

#include "lin.h"

/* [fence][slot 0]...[slot n-1][fence]: slots of slot_pages pages (whole granules) between two
 * reservations that stay for the whole run, so that a free region never runs past the window. */
typedef struct lin_window {
    char *lo_fence, *base, *hi_fence; /* base: slot 0; hi_fence: the window's end */
    uint32_t slots, slot_pages;
    uint32_t lock_pages; /* see lin_window_init */
} lin_window;

/* Places the window in winvmem's arena (reserve + release a NULL-address reservation of the
 * whole size, then reserve the fences: nothing else runs yet). lock_pages: VirtualLock stays
 * on the first lock_pages pages of each slot, so that every slot locking all of them stays
 * under half of RLIMIT_MEMLOCK (the quota is process-wide; the model is per slot). */
void lin_window_init(lin_window *w, uint32_t slots, uint32_t slot_pages);
char *lin_slot_base(const lin_window *w, uint32_t slot);
/* The out-parameter buffer of `thread` in `slot`: in the slot's last page, past byte 0. */
void *lin_buffer(const lin_window *w, uint32_t slot, uint32_t thread);

typedef struct lin_history {
    uint32_t nthreads;
    const lin_rec **recs; /* per worker */
    const uint32_t *lens;
    const lin_rec *audit; /* the main thread's walk and clean-up after the workers */
    uint32_t naudit;
} lin_history;

typedef struct lin_round_result {
    uint64_t steps;
    uint32_t max_part;
    uint32_t violations; /* slots (and single calls) found violating */
} lin_round_result;

/* Splits the round's history by slot and checks every slot from an empty state. Returns 0,
 * WGL_VIOLATION or WGL_BUDGET (keep_going: after checking every slot; else after the first
 * that failed; each failure is reported on stderr, tagged
 * label-slotN; a violating slot's whole history goes to lin-history-<tag>.txt in $LIN_DUMP_DIR
 * or the current directory). */
int lin_check_round(const lin_window *w, const lin_history *h, uint64_t budget, int keep_going,
                    const char *label, lin_round_result *rr);
#endif
