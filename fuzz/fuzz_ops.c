/* libFuzzer target: bytes -> a sequence of VirtualAlloc / VirtualFree / VirtualProtect /
 * VirtualQuery / memory accesses inside a private window of address space, each checked
 *   1. against a small reference model of page states (one record per page: free / reserved /
 *      committed, protection, allocation; nothing shared with the library's data structures),
 *   2. against the kernel: every committed readable page can be read (writable: written) and
 *      holds what the model says; every reserved, decommitted, free or NOACCESS page faults;
 *      /proc/self/maps gives every committed page at least the access its protection needs.
 * Any disagreement aborts with a description. Build: fuzz/run_fuzz.sh. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <stdarg.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define PG    4096u
#define NPAGE 1024u /* the window: 4 MiB = 64 granules */
#define GRAN  16u   /* pages per 64 KiB granule */

/* ---- the reference model ------------------------------------------------------------------- */

enum { FREE, RESV, COMM };
typedef struct page {
    unsigned char state;
    unsigned prot;     /* committed pages: the page protection */
    int base;          /* allocation base page, -1 when free */
    unsigned aprot;    /* the allocation's protection */
    unsigned char val; /* byte 0 of the page */
} page;

static page model[NPAGE];
static int alloc_end[NPAGE]; /* for an allocation base: one past its last page */
static char *win;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_ops: MISMATCH: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static int valid_prot(unsigned p)
{
    unsigned base = p & ~(unsigned)PAGE_GUARD;
    if (base != PAGE_NOACCESS && base != PAGE_READONLY && base != PAGE_READWRITE &&
        base != PAGE_EXECUTE && base != PAGE_EXECUTE_READ && base != PAGE_EXECUTE_READWRITE)
        return 0;
    return !(p & PAGE_GUARD) || base != PAGE_NOACCESS;
}

static const unsigned prots[] = {PAGE_NOACCESS,
                                 PAGE_READONLY,
                                 PAGE_READWRITE,
                                 PAGE_EXECUTE_READ,
                                 PAGE_EXECUTE_READWRITE,
                                 PAGE_READWRITE,
                                 PAGE_READWRITE | PAGE_GUARD,
                                 PAGE_EXECUTE,
                                 0,
                                 PAGE_READONLY | PAGE_READWRITE,
                                 PAGE_WRITECOPY,
                                 PAGE_GUARD | PAGE_NOACCESS,
                                 PAGE_READWRITE,
                                 PAGE_READONLY | PAGE_GUARD,
                                 PAGE_READWRITE,
                                 PAGE_EXECUTE_READ | PAGE_GUARD};

/* ---- probes (fault-catching single-byte accesses, as in tests/diff/interp.c) --------------- */

extern const char fz_rd_insn[], fz_wr_insn[];
static volatile int probe_fault;

__attribute__((noinline)) static unsigned probe_read(const volatile unsigned char *p)
{
    unsigned v = 0;
    __asm__ volatile(".globl fz_rd_insn\nfz_rd_insn: movb (%%rdi), %%al"
                     : "+a"(v)
                     : "D"(p)
                     : "memory");
    return v & 0xff;
}
__attribute__((noinline)) static void probe_write(volatile unsigned char *p, unsigned v)
{
    __asm__ volatile(".globl fz_wr_insn\nfz_wr_insn: movb %%al, (%%rdi)"
                     :
                     : "a"(v), "D"(p)
                     : "memory");
}

static struct sigaction old_segv;
static void on_segv(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc == (uintptr_t)fz_rd_insn || pc == (uintptr_t)fz_wr_insn) {
        probe_fault = 1;
        uc->uc_mcontext.gregs[REG_RIP] += 2;
        return;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    (void)sig;
    (void)si;
}

/* winvmem's vectored handlers see faults on its own memory first: guard-page violations
 * (probe_fault 2) and access violations (1). */
static int32_t on_exception(EXCEPTION_POINTERS *ep)
{
    ucontext_t *uc = ep->ContextRecord;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc != (uintptr_t)fz_rd_insn && pc != (uintptr_t)fz_wr_insn)
        return EXCEPTION_CONTINUE_SEARCH;
    probe_fault = ep->ExceptionRecord->ExceptionCode == STATUS_GUARD_PAGE_VIOLATION ? 2 : 1;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    return EXCEPTION_CONTINUE_EXECUTION;
}

/* ---- kernel checks ------------------------------------------------------------------------ */

static int readable(unsigned p)
{
    /* x64 page tables cannot express execute-only: PAGE_EXECUTE reads on Windows */
    return !(p & PAGE_GUARD) && (p == PAGE_READONLY || p == PAGE_READWRITE || p == PAGE_EXECUTE ||
                                 p == PAGE_EXECUTE_READ || p == PAGE_EXECUTE_READWRITE);
}
static int writable(unsigned p)
{
    return p == PAGE_READWRITE || p == PAGE_EXECUTE_READWRITE;
}

static void check_kernel_page(unsigned i)
{
    page *m = &model[i];
    unsigned char *p = (unsigned char *)win + (size_t)i * PG;
    probe_fault = 0;
    unsigned v = probe_read(p);
    if (m->state == COMM && (m->prot & PAGE_GUARD)) {
        /* one guard-page violation, then the page has its plain protection (Windows docs) */
        if (probe_fault != 2)
            die("page %u (prot 0x%x): first read gives %s, not a guard-page violation", i, m->prot,
                probe_fault ? "an access violation" : "no exception");
        m->prot &= ~(unsigned)PAGE_GUARD;
        probe_fault = 0;
        v = probe_read(p);
    }
    int should = m->state == COMM && readable(m->prot);
    if (probe_fault == 2)
        die("page %u (state %d prot 0x%x): unexpected guard-page violation", i, m->state, m->prot);
    if (should == probe_fault)
        die("page %u (state %d prot 0x%x): read %s", i, m->state, m->prot,
            probe_fault ? "faults" : "succeeds");
    if (should && v != m->val)
        die("page %u: reads 0x%x, model 0x%x", i, v, m->val);
    if (should) {
        probe_fault = 0;
        probe_write(p, v);
        if (probe_fault == writable(m->prot))
            die("page %u (prot 0x%x): write %s", i, m->prot, probe_fault ? "faults" : "succeeds");
    }
}

/* Every committed page must lie in a mapping with the access its protection needs. */
static void check_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    static unsigned char have[NPAGE];
    memset(have, 0, sizeof have);
    uintptr_t lo = (uintptr_t)win, hi = lo + (uintptr_t)NPAGE * PG, s, e;
    char perm[8];
    char line[512];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) == 3 && e > lo && s < hi)
            for (uintptr_t a = s > lo ? s : lo; a < e && a < hi; a += PG)
                have[(a - lo) / PG] =
                    0x80 | (perm[0] == 'r') | (perm[1] == 'w') << 1 | (perm[2] == 'x') << 2;
    fclose(f);
    for (unsigned i = 0; i < NPAGE; i++) {
        const page *m = &model[i];
        if (m->state != COMM || (m->prot & PAGE_GUARD) || m->prot == PAGE_NOACCESS)
            continue;
        unsigned need = (readable(m->prot) ? 1 : 0) | (writable(m->prot) ? 2 : 0) |
                        (m->prot >= PAGE_EXECUTE ? 4 : 0);
        if (!(have[i] & 0x80) || (have[i] & need) != need)
            die("/proc/self/maps: page %u (prot 0x%x) has %s%s%s%s", i, m->prot,
                have[i] & 0x80 ? "" : "no mapping ", have[i] & 1 ? "r" : "-",
                have[i] & 2 ? "w" : "-", have[i] & 4 ? "x" : "-");
    }
}

/* VirtualQuery at page i against the model's run. */
static void check_query(unsigned i)
{
    MEMORY_BASIC_INFORMATION mb;
    if (VirtualQuery(win + (size_t)i * PG + 123, &mb, sizeof mb) != sizeof mb)
        die("query page %u failed (%lu)", i, (unsigned long)GetLastError());
    const page *m = &model[i];
    unsigned j = i;
    while (j < NPAGE && model[j].state == m->state && model[j].base == m->base &&
           (m->state != COMM || model[j].prot == m->prot))
        j++;
    if (mb.BaseAddress != win + (size_t)i * PG)
        die("query page %u: BaseAddress %p", i, mb.BaseAddress);
    if (m->state == FREE) {
        if (mb.State != MEM_FREE || mb.AllocationBase || mb.Protect != PAGE_NOACCESS)
            die("query page %u: free page reported state 0x%lx prot 0x%lx", i,
                (unsigned long)mb.State, (unsigned long)mb.Protect);
        if (j < NPAGE ? mb.RegionSize != (size_t)(j - i) * PG : mb.RegionSize < (j - i) * PG)
            die("query page %u: free RegionSize 0x%zx, model %u pages", i, mb.RegionSize, j - i);
        return;
    }
    unsigned want_state = m->state == COMM ? MEM_COMMIT : MEM_RESERVE;
    unsigned want_prot = m->state == COMM ? m->prot : 0;
    if (mb.AllocationBase != win + (size_t)m->base * PG || mb.State != want_state ||
        mb.Protect != want_prot || mb.AllocationProtect != m->aprot || mb.Type != MEM_PRIVATE ||
        mb.RegionSize != (size_t)(j - i) * PG)
        die("query page %u: {abase +%ld aprot 0x%lx size 0x%zx state 0x%lx prot 0x%lx type "
            "0x%lx}, model {abase +%d aprot 0x%x size 0x%x state 0x%x prot 0x%x}",
            i, (long)((char *)mb.AllocationBase - win) / (long)PG,
            (unsigned long)mb.AllocationProtect, mb.RegionSize, (unsigned long)mb.State,
            (unsigned long)mb.Protect, (unsigned long)mb.Type, m->base, m->aprot, (j - i) * PG,
            want_state, want_prot);
}

/* ---- ops ---------------------------------------------------------------------------------- */

static unsigned cur_p, cur_n, cur_prot;

static void expect(int ok, int want_ok, unsigned want_err, const char *what)
{
    DWORD e = GetLastError();
    if (ok != want_ok)
        die("%s(page %u, %u pages, prot 0x%x): %s (error %lu), model says %s (error %u)", what,
            cur_p, cur_n, cur_prot, ok ? "succeeds" : "fails", (unsigned long)e,
            want_ok ? "success" : "failure", want_err);
    if (!ok && e != want_err)
        die("%s(page %u, %u pages, prot 0x%x): error %lu, model %u", what, cur_p, cur_n, cur_prot,
            (unsigned long)e, want_err);
}

static int range_in_alloc(unsigned p, unsigned n)
{
    int b = model[p].base;
    return b >= 0 && p + n <= (unsigned)alloc_end[b];
}

static void op_reserve(unsigned p, unsigned n, unsigned prot, int commit)
{
    unsigned b = p / GRAN * GRAN, end = p + n;
    if (end > NPAGE)
        return;
    int free_ = 1;
    for (unsigned i = b; i < end; i++)
        free_ &= model[i].state == FREE;
    int want = valid_prot(prot) && free_;
    unsigned err = !valid_prot(prot) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    void *r = VirtualAlloc(win + (size_t)p * PG, (size_t)n * PG,
                           MEM_RESERVE | (commit ? MEM_COMMIT : 0), prot);
    expect(r != NULL, want, err, "reserve");
    if (!r)
        return;
    if (r != win + (size_t)b * PG)
        die("reserve at page %u returned %p, want page %u", p, r, b);
    alloc_end[b] = (int)end;
    for (unsigned i = b; i < end; i++)
        model[i] = (page){commit ? COMM : RESV, commit ? prot : 0, (int)b, prot, 0};
}

static void op_commit(unsigned p, unsigned n, unsigned prot)
{
    int want = valid_prot(prot) && range_in_alloc(p, n);
    unsigned err = !valid_prot(prot) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    void *r = VirtualAlloc(win + (size_t)p * PG, (size_t)n * PG, MEM_COMMIT, prot);
    expect(r != NULL, want, err, "commit");
    if (!r)
        return;
    for (unsigned i = p; i < p + n; i++) {
        if (model[i].state != COMM)
            model[i].val = 0;
        model[i].state = COMM;
        model[i].prot = prot;
    }
}

static void op_decommit(unsigned p, unsigned n)
{
    int b = model[p].base;
    int whole = n == 0;
    int want = b >= 0 && (whole ? (unsigned)b == p : p + n <= (unsigned)alloc_end[b]);
    unsigned err = b < 0 || whole ? ERROR_INVALID_ADDRESS : ERROR_INVALID_PARAMETER;
    BOOL r = VirtualFree(win + (size_t)p * PG, (size_t)n * PG, MEM_DECOMMIT);
    expect(r, want, err, "decommit");
    if (!r)
        return;
    unsigned end = whole ? (unsigned)alloc_end[b] : p + n;
    for (unsigned i = p; i < end; i++) {
        model[i].state = RESV;
        model[i].prot = 0;
        model[i].val = 0;
    }
}

static void op_release(unsigned p)
{
    int b = model[p].base;
    int want = b >= 0 && (unsigned)b == p;
    BOOL r = VirtualFree(win + (size_t)p * PG, 0, MEM_RELEASE);
    expect(r, want, ERROR_INVALID_ADDRESS, "release");
    if (!r)
        return;
    for (unsigned i = p; i < (unsigned)alloc_end[b]; i++)
        model[i] = (page){FREE, 0, -1, 0, 0};
}

static void op_protect(unsigned p, unsigned n, unsigned prot)
{
    /* Order (doc/windows-semantics.md): protection, range, WRITECOPY on private, commit. */
    int wc = (prot & 0xff) == PAGE_WRITECOPY || (prot & 0xff) == PAGE_EXECUTE_WRITECOPY;
    int want = (valid_prot(prot) || wc) && range_in_alloc(p, n);
    unsigned err = !(valid_prot(prot) || wc) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    if (wc)
        return; /* winvmem accepts WRITECOPY here: divergence D2 (tests/diff/divergences.md) */
    for (unsigned i = p; want && i < p + n; i++)
        want = model[i].state == COMM;
    DWORD old = 0;
    BOOL r = VirtualProtect(win + (size_t)p * PG, (size_t)n * PG, prot, &old);
    expect(r, want, err, "protect");
    if (!r)
        return;
    if (old != model[p].prot)
        die("protect page %u: old 0x%lx, model 0x%x", p, (unsigned long)old, model[p].prot);
    for (unsigned i = p; i < p + n; i++)
        model[i].prot = prot;
}

static void op_write(unsigned p, unsigned char v)
{
    const page *m = &model[p];
    if (m->state != COMM || !writable(m->prot) || (m->prot & PAGE_GUARD))
        return;
    win[(size_t)p * PG] = (char)v;
    model[p].val = v;
}

static void reset(void)
{
    for (unsigned i = 0; i < NPAGE; i++)
        if (model[i].base == (int)i && !VirtualFree(win + (size_t)i * PG, 0, MEM_RELEASE))
            die("reset: release of page %u failed (%lu)", i, (unsigned long)GetLastError());
    for (unsigned i = 0; i < NPAGE; i++)
        model[i] = (page){FREE, 0, -1, 0, 0};
}

static void init(void)
{
    win = VirtualAlloc(NULL, (size_t)NPAGE * PG, MEM_RESERVE, PAGE_NOACCESS);
    if (!win || !VirtualFree(win, 0, MEM_RELEASE))
        die("cannot make the window");
    for (unsigned i = 0; i < NPAGE; i++)
        model[i] = (page){FREE, 0, -1, 0, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &old_segv);
    if (!AddVectoredExceptionHandler(1, on_exception))
        die("AddVectoredExceptionHandler failed (%lu)", (unsigned long)GetLastError());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    for (size_t k = 0; k + 4 <= size && k < 4 * 64; k += 4) {
        unsigned kind = data[k] % 9, p = (unsigned)(data[k + 1] * 4) % NPAGE;
        unsigned n = 1 + data[k + 2] % 48, prot = prots[data[k + 3] % 16];
        if (p + n > NPAGE)
            n = NPAGE - p;
        cur_p = p;
        cur_n = n;
        cur_prot = prot;
        switch (kind) {
        case 0:
            op_reserve(p, n + (data[k + 3] >> 4) * 8, prot, 0);
            break;
        case 1:
            op_reserve(p, n, prot, 1);
            break;
        case 2:
        case 3:
            op_commit(p, n, prot);
            break;
        case 4:
            op_decommit(p, data[k + 2] & 0x80 ? 0 : n);
            break;
        case 5:
            op_release(p);
            break;
        case 6:
            op_protect(p, n, prot);
            break;
        case 7:
            op_write(p, data[k + 3]);
            break;
        default:
            check_query(p);
            break;
        }
        check_query(p);
        if (model[p].base >= 0)
            check_query((unsigned)model[p].base);
        /* the pages the op addressed, one granule either side */
        unsigned lo = p / GRAN * GRAN, hi = p + n + GRAN;
        lo = lo >= GRAN ? lo - GRAN : 0;
        for (unsigned i = lo; i < hi && i < NPAGE; i++)
            check_kernel_page(i);
    }
    for (unsigned i = 0; i < NPAGE; i++)
        if (model[i].state != FREE || (i % GRAN) == 0)
            check_kernel_page(i);
    for (unsigned i = 0; i < NPAGE; i += 7)
        check_query(i);
    if (wvm_check_invariants())
        die("winvmem's invariant checker failed");
    check_maps();
    reset();
    return 0;
}
