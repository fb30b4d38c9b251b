/* The op-language module's internal interfaces between its files. */
#ifndef OPLANG_INT_H
#define OPLANG_INT_H
#include "oplang.h"

/* printf-like checking that matches the printf in use (mingw-w64: its C99 one) */
#ifdef __MINGW_PRINTF_FORMAT
#define OPL_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define OPL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/* names.c: the flag words of MEM_ (is_prot 0) or PAGE_ (1), space-separated. */
void opl__flag_words(int is_prot, char *buf, size_t cap);

/* exec.c: a name of a context. */
typedef struct opl__name {
    char id[OPL_NAME_MAX];
    uintptr_t value; /* what the op returned (0 for a failure) */
    uintptr_t span;  /* > 0: a region of this size at value (normalising, release at end) */
    int hole;        /* made by 'hole': reserved and released at once */
} opl__name_t;

struct opl_ctx {
    unsigned flags;
    opl__name_t *names;
    size_t nnames, cap;
    /* allocations this context reserved and has not released itself (opl_ctx_end) */
    uintptr_t *allocs;
    size_t nallocs, allocs_cap;
    /* result buffers (opl_result_t.pages/.states/.regions) */
    char *pages; /* access: the page letters, then the states */
    size_t pages_cap;
    MEMORY_BASIC_INFORMATION *regions;
    size_t regions_cap;
};
#endif
