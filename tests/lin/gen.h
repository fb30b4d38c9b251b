/* The checker's random operations (tests/lin). */
#ifndef WVM_LIN_GEN_H
#define WVM_LIN_GEN_H
#include <stdint.h>

#include "refmodel.h"

typedef struct lin_gen {
    uint32_t slots, slot_pages; /* partitions and their size in pages */
    uint32_t lock_pages;        /* VirtualLock/Unlock only on the first pages of a slot */
    const uint32_t *hot;        /* slots most operations of a round go to (contention) */
    uint32_t nhot;
    uint32_t extbuf_permille; /* out-parameters placed in a slot's buffer page */
    uint32_t fork_permille;
    uint32_t skip;           /* bit per rm_kind: such calls become queries */
    int guard_prots;         /* commit/protect only with PAGE_GUARD protections (--guard-prots) */
    int no_write_watch;      /* reservations without MEM_WRITE_WATCH (--no-write-watch) */
    uint32_t mix[RM_NKINDS]; /* relative weight of each kind (lin_default_mix, or --mix) */
} lin_gen;

extern const uint32_t lin_default_mix[RM_NKINDS];

typedef struct lin_call {
    uint32_t slot;
    int32_t buf_slot; /* -1: out-parameters on the stack */
    int fork;         /* a fork(); op unused */
    rm_op op;
} lin_call;

/* What a worker last saw of each slot (from its own results): an allocation's pages, so that
 * most page operations land inside one (else almost all of them would fail with 487). */
typedef struct lin_hint {
    uint16_t base, end; /* end == 0: none */
} lin_hint;

uint64_t lin_rand(uint64_t *state);
void lin_gen_op(const lin_gen *g, uint64_t *state, const lin_hint *hints, lin_call *c);
/* Updates hints[c->slot] from the answer to c. */
void lin_gen_learn(const lin_gen *g, lin_hint *hints, const lin_call *c, const rm_res *r);
#endif
