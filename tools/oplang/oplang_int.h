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

/* names.c: the flag words of MEM_ (is_prot 0), PAGE_ (1), SEC_ (2) or FILE_MAP_ (3),
 * space-separated. */
void opl__flag_words(int is_prot, char *buf, size_t cap);

/* exec.c: a name of a context. */
typedef struct opl__name {
    char id[OPL_NAME_MAX];
    uintptr_t value; /* what the op returned (0 for a failure) */
    uintptr_t span;  /* > 0: a region of this size at value (normalising, release at end) */
    int hole;        /* made by 'hole': reserved and released at once */
} opl__name_t;

/* exec.c, for exec_section.c */
int opl__add_name(opl_ctx_t *c, const char *id, uintptr_t value, uintptr_t span, int hole);
const opl__name_t *opl__find_name(const opl_ctx_t *c, const char *id);
void opl__track(opl_ctx_t *c, uintptr_t a);
void opl__untrack(opl_ctx_t *c, uintptr_t a);
char opl__range_ctx(uintptr_t a, uintptr_t size);
uint64_t opl__now_ns(void);
#define OPL_CALL(r, expr)                                                                          \
    do {                                                                                           \
        SetLastError(0);                                                                           \
        (r)->t_call = opl__now_ns();                                                               \
        expr;                                                                                      \
        (r)->t_return = opl__now_ns();                                                             \
        (r)->error = (uint32_t)GetLastError();                                                     \
    } while (0)

/* exec_section.c: runs the section, view and placeholder ops; closes the context's handles
 * (opl_ctx_end). The size of a new allocation at p (its regions added up). */
int opl__exec_section(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r);
void opl__close_handles(opl_ctx_t *c);
uintptr_t opl__alloc_span(uintptr_t p);

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
    /* handles this context opened and has not closed (opl_ctx_end closes them) */
    HANDLE *handles;
    size_t nhandles, handles_cap;
};
#endif
