/* A recording vectored exception handler and small helpers, for the api and fault tiers. */
#ifndef WVM_TEST_VEH_RECORD_H
#define WVM_TEST_VEH_RECORD_H
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <winvmem/stats.h>
#include <winvmem/vm.h>

#define PAGE 4096u

typedef struct seen {
    volatile int count;
    volatile uint32_t code;
    volatile uintptr_t info0, info1;
    volatile uint32_t nparams;
} seen;

static seen last;
/* What the recording handler does after recording: fix the page with this protection
 * (0: leave it; the guard case needs nothing), then continue or search. */
static volatile uint32_t fix_prot;
static volatile int fix_commit;
static volatile int32_t verdict = WVM_EXCEPTION_CONTINUE_EXECUTION;

static inline int32_t record(wvm_EXCEPTION_POINTERS *ep)
{
    wvm_EXCEPTION_RECORD *r = ep->ExceptionRecord;
    last.count++;
    last.code = r->ExceptionCode;
    last.nparams = r->NumberParameters;
    last.info0 = r->ExceptionInformation[0];
    last.info1 = r->ExceptionInformation[1];
    void *page = (void *)(r->ExceptionInformation[1] & ~(uintptr_t)(PAGE - 1));
    uint32_t old;
    if (fix_commit)
        wvm_VirtualAlloc(page, PAGE, WVM_MEM_COMMIT, fix_prot);
    else if (fix_prot)
        wvm_VirtualProtect(page, PAGE, fix_prot, &old);
    return verdict;
}

/* x86-64: mov eax, value ; ret */
static inline void emit_return(unsigned char *p, unsigned char value)
{
    const unsigned char code[] = {0xB8, value, 0, 0, 0, 0xC3};
    memcpy(p, code, sizeof code);
}

static inline uint32_t prot_of(const void *p)
{
    wvm_MEMORY_BASIC_INFORMATION m;
    cr_assert_eq(wvm_VirtualQuery(p, &m, sizeof m), sizeof m);
    return m.Protect;
}
#endif
