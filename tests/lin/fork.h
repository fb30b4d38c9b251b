/* fork() as a checker operation (tests/lin/README.md, "fork"): a worker forks while the others
 * keep calling winvmem. The child, alone, (1) walks every slot with VirtualQuery and sends the
 * regions to the parent: they must be the slots' states at one instant of the fork call (RM_VIEW
 * parts), and (2) reserves, commits, writes, queries and releases memory of its own: it must
 * finish (issue 11 bug 3: a lock held by another parent thread at the fork hangs the child). */
#ifndef WVM_LIN_FORK_H
#define WVM_LIN_FORK_H
#include <stdatomic.h>
#include <stdint.h>

#include "lin.h"
#include "split.h"

/* Forks; r->res.ok = 0 when the child hung (LIN_FORK_TIMEOUT seconds without finishing; it is
 * killed), crashed or failed its own calls; lin_fork_failure says which. */
void lin_fork_call(const lin_window *w, uint32_t thread, _Atomic uint64_t *clk, lin_rec *r);
const char *lin_fork_failure(const lin_rec *r);
/* The regions the child of fork record r->view saw in slot (valid until the next round). */
void lin_fork_view(int32_t view, uint32_t slot, const rm_mbi **v, uint32_t *n);
void lin_fork_round_start(void);
void lin_fork_stats(void);
void lin_fork_done(void);

#define LIN_FORK_TIMEOUT 60
#endif
