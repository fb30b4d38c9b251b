/* The linearizability checker (tests/lin/README.md): shared types. */
#ifndef WVM_LIN_H
#define WVM_LIN_H
#include <stdint.h>

#include "refmodel.h"

/* One call as a worker made it: what, where, when, and what the library answered. */
typedef struct lin_rec {
    uint64_t inv, resp; /* global counter just before the call and just after it returned */
    rm_op op;           /* pages relative to the slot */
    rm_res res;
    uint32_t slot;     /* partition of the call */
    int32_t buf_slot;  /* out-parameters placed in this slot's buffer page (-1: local) */
    uint64_t abs_base; /* RM_QUERY: BaseAddress and RegionSize as returned (absolute) */
    uint64_t abs_size;
    int32_t view; /* RM_VIEW (fork): index of the child's regions in the view table */
} lin_rec;

/* One operation of one partition, ready for the search. */
typedef struct lin_pop {
    uint64_t inv, resp;
    rm_op op;
    rm_res res;
    uint32_t thread; /* for reports */
    uint32_t seq;    /* the call's index in its thread's record */
} lin_pop;

enum { WGL_OK, WGL_VIOLATION, WGL_BUDGET };

typedef struct wgl_stats {
    uint64_t steps; /* model applications tried */
    uint64_t cache; /* distinct (linearized set, state) pairs seen */
    uint32_t best;  /* the longest linearizable prefix found */
} wgl_stats;

/* Searches for an order of ops[0..n) that respects real time (resp < inv means before) and
 * that the model accepts from state `init` (npages pages). budget bounds the number of model
 * applications; WGL_BUDGET when it runs out (the history is then NOT checked). On
 * WGL_VIOLATION an explanation is printed to stderr (tag names the partition). */
int wgl_check(const lin_pop *ops, uint32_t n, const rm_state *init, uint64_t budget,
              const char *tag, wgl_stats *st);
#endif
