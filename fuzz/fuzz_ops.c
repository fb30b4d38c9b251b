/* libFuzzer target: bytes -> a sequence of op-language ops (tools/oplang: VirtualAlloc /
 * VirtualFree / VirtualProtect / VirtualQuery / memory touches; views of two sections:
 * MapViewOfFileEx (FILE_MAP_READ, _WRITE, _COPY) / UnmapViewOfFile, VirtualAlloc(MEM_COMMIT)
 * on views; placeholders: VirtualAlloc2 MEM_RESERVE_PLACEHOLDER / MEM_REPLACE_PLACEHOLDER,
 * MapViewOfFile3 MEM_REPLACE_PLACEHOLDER, VirtualFree MEM_PRESERVE_PLACEHOLDER (split, back to
 * a placeholder) / MEM_COALESCE_PLACEHOLDERS, UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER)
 * inside a private window of address space, run through the op-language executor, each checked
 *   1. against a small reference model of page states (one record per page: free / reserved /
 *      committed, protection, allocation, placeholder, the section page a view shows and
 *      whether a copy-on-write write made it private; the sections' contents and which pages
 *      of the SEC_RESERVE one are committed; nothing shared with the library's data
 *      structures). Where Windows' rules are not known (Microsoft's documentation and Wine's
 *      conformance tests are silent) the op is not run. Placeholders split and coalesce at
 *      pages, and pages pieces are replaced (Wine 9's ntdll/tests/virtual.c; Wine 8 has no
 *      placeholders, so only this model and tests/api/test_virtualalloc2.c check them),
 *   2. against the kernel: every committed readable page can be read (writable: written) and
 *      holds what the model says; every reserved, decommitted, free or NOACCESS page faults;
 *      /proc/self/maps gives every committed page at least the access its protection needs.
 * Any disagreement aborts with a description and the input as an op-language script (the
 * window is `W = hole 0x400000`) that `winvmem run` replays. An input of odd length runs in a
 * second window, O, at a fixed address outside winvmem's arenas, where every reservation,
 * placeholder and view is a mapping of its own (placeholders split at pages there keep the
 * pages of released pieces as held pages, src/core/index.c); the model is the same (Windows
 * knows no arenas). Build: fuzz/run_fuzz.sh. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <winvmem/stats.h>

#include "oplang.h"

#define PG    4096u
#define NPAGE 1024u /* the window: 4 MiB = 64 granules */
#define GRAN  16u   /* pages per 64 KiB granule */
#define SPAGE 128u  /* each section: 512 KiB, PAGE_READWRITE */
/* The sections of each input: S is SEC_COMMIT, R is SEC_RESERVE (committed through views). */
enum { SEC_S, SEC_R, NSEC };
static const char *const sec_name[NSEC] = {"S", "R"};

/* ---- the reference model ------------------------------------------------------------------- */

enum { FREE, RESV, COMM };
typedef struct page {
    unsigned char state;
    unsigned prot;     /* committed pages: the page protection */
    int base;          /* allocation base page, -1 when free */
    unsigned aprot;    /* the allocation's protection */
    unsigned char val; /* byte 0 of the page (a view's page: sval[sec][spage]) */
    int spage;         /* a view's page: the section page it shows; -1 private memory */
    unsigned char sec; /* a view's section */
    unsigned char cow; /* a FILE_MAP_COPY view's page written: private, val holds byte 0 */
    unsigned char ph;  /* PH_* */
} page;
enum { PH_NONE, PH_HOLDER, PH_REPLACED }; /* a placeholder; what replaced one */

static page model[NPAGE];
static unsigned char sval[NSEC][SPAGE]; /* byte 0 of each page of each section */
static unsigned char rcommitted[SPAGE]; /* R's pages a view committed */
#define FREE_PAGE ((page){FREE, 0, -1, 0, 0, -1, 0, 0, PH_NONE})
static int alloc_end[NPAGE];         /* for an allocation base: one past its last page */
static char *win, *win_in, *win_out; /* this input's window: in an arena, or outside them */
static const char *wname = "W";

/* The executor, and the ops of the current input (replayed on a mismatch). */
static opl_ctx_t *ctx;
static opl_op_t history[1024]; /* state changes only: queries are left out */
static unsigned nhistory;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_ops: MISMATCH: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fprintf(stderr, "fuzz_ops: the input as a script (winvmem run):\n");
    if (win == win_in)
        fprintf(stderr, "W = hole 0x%x\n", NPAGE * PG);
    else /* (free in the replaying process too, most likely: a fresh process's layout) */
        fprintf(stderr, "O = alloc %p 0x%x RESERVE NOACCESS\nfree O 0 RELEASE\n", (void *)win,
                NPAGE * PG);
    for (unsigned i = 0; i < nhistory; i++) {
        char line[256];
        opl_op_format(&history[i], line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    if (nhistory == sizeof history / sizeof history[0])
        fprintf(stderr, "# (history truncated)\n");
    abort();
}

static opl_op_t make(opl_kind_t kind, unsigned p, size_t size, unsigned type, unsigned prot)
{
    opl_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    strcpy(op.addr.name, wname);
    op.addr.off = (uint64_t)p * PG;
    op.size = size;
    op.type = type;
    op.prot = prot;
    return op;
}

static void remember(const opl_op_t *op)
{
    if (nhistory < sizeof history / sizeof history[0])
        history[nhistory++] = *op;
}

/* Runs one op on page p of the window (as W+offset) through the executor. */
static opl_result_t run(opl_kind_t kind, unsigned p, size_t size, unsigned type, unsigned prot)
{
    opl_op_t op = make(kind, p, size, type, prot);
    if (kind != OPL_QUERY)
        remember(&op);
    opl_result_t r;
    if (opl_exec(ctx, &op, &r) != OPL_DONE)
        die("the executor did not run %s (status %d)", opl_kind_name(kind), (int)r.status);
    return r;
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

/* ---- kernel checks ------------------------------------------------------------------------ */

static int readable(unsigned p)
{
    /* x64 page tables cannot express execute-only: PAGE_EXECUTE reads on Windows */
    return !(p & PAGE_GUARD) &&
           (p == PAGE_READONLY || p == PAGE_READWRITE || p == PAGE_EXECUTE ||
            p == PAGE_EXECUTE_READ || p == PAGE_EXECUTE_READWRITE || p == PAGE_WRITECOPY);
}
static int writable(unsigned p)
{
    return p == PAGE_READWRITE || p == PAGE_EXECUTE_READWRITE;
}

static void check_kernel_page(unsigned i)
{
    page *m = &model[i];
    unsigned char *p = (unsigned char *)win + (size_t)i * PG, v = 0;
    char fault = opl_probe_read(p, &v);
    if (m->state == COMM && (m->prot & PAGE_GUARD)) {
        /* one guard-page violation, then the page has its plain protection (Windows docs) */
        opl_op_t touch = make(OPL_READ, i, 1, 0, 0); /* consumed the guard: part of the history */
        remember(&touch);
        if (fault != 'g')
            die("page %u (prot 0x%x): first read gives %s, not a guard-page violation", i, m->prot,
                fault ? "an access violation" : "no exception");
        m->prot &= ~(unsigned)PAGE_GUARD;
        fault = opl_probe_read(p, &v);
    }
    int should = m->state == COMM && readable(m->prot);
    unsigned char want = m->spage >= 0 && !m->cow ? sval[m->sec][m->spage] : m->val;
    if (fault == 'g')
        die("page %u (state %d prot 0x%x): unexpected guard-page violation", i, m->state, m->prot);
    if (should == !!fault)
        die("page %u (state %d prot 0x%x): read %s", i, m->state, m->prot,
            fault ? "faults" : "succeeds");
    if (should && v != want)
        die("page %u: reads 0x%x, model 0x%x", i, v, want);
    if (should && m->prot != PAGE_WRITECOPY) { /* a write would copy the page: op_write's */
        fault = opl_probe_write(p, v);
        if (!!fault == writable(m->prot))
            die("page %u (prot 0x%x): write %s", i, m->prot, fault ? "faults" : "succeeds");
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
    opl_result_t r = run(OPL_QUERY, i, 0, 0, 0);
    MEMORY_BASIC_INFORMATION mb = r.mbi;
    if (r.ret != sizeof mb)
        die("query page %u failed (%lu)", i, (unsigned long)r.error);
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
    unsigned want_type = m->spage >= 0 ? MEM_MAPPED : MEM_PRIVATE;
    if (mb.AllocationBase != win + (size_t)m->base * PG || mb.State != want_state ||
        mb.Protect != want_prot || mb.AllocationProtect != m->aprot || mb.Type != want_type ||
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

static void expect(const opl_result_t *r, int want_ok, unsigned want_err, const char *what)
{
    int ok = !r->failed;
    DWORD e = r->error;
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
    int free_ = 1, rest = 1;
    for (unsigned i = b; i < end; i++)
        free_ &= model[i].state == FREE;
    for (unsigned i = end; i % GRAN && i < NPAGE; i++)
        rest &= model[i].state == FREE;
    if (free_ && !rest)
        return; /* free pages before a placeholder piece in their granule: not documented */
    int want = valid_prot(prot) && free_;
    unsigned err = !valid_prot(prot) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    opl_result_t r =
        run(OPL_ALLOC, p, (size_t)n * PG, MEM_RESERVE | (commit ? MEM_COMMIT : 0), prot);
    expect(&r, want, err, "reserve");
    if (r.failed)
        return;
    if (r.ret != (uintptr_t)(win + (size_t)b * PG))
        die("reserve at page %u returned %p, want page %u", p, (void *)(uintptr_t)r.ret, b);
    alloc_end[b] = (int)end;
    for (unsigned i = b; i < end; i++)
        model[i] =
            (page){commit ? COMM : RESV, commit ? prot : 0, (int)b, prot, 0, -1, 0, 0, PH_NONE};
}

static int is_view(unsigned p)
{
    return model[p].spage >= 0;
}

static int touches_view(unsigned p, unsigned n)
{
    for (unsigned i = p; i < p + n && i < NPAGE; i++)
        if (is_view(i))
            return 1;
    return 0;
}

/* What a view's protection allows (doc: a view's pages never get more access than the view;
 * PAGE_WRITECOPY counts as read): READ views READONLY / NOACCESS, WRITE views READWRITE too. */
static int view_allows(unsigned aprot, unsigned prot)
{
    unsigned base = prot & 0xff;
    return base < PAGE_EXECUTE && (!writable(base) || aprot == PAGE_READWRITE);
}

static void commit_view(unsigned p, unsigned n, unsigned prot);

static void op_commit(unsigned p, unsigned n, unsigned prot)
{
    if (touches_view(p, n)) {
        commit_view(p, n, prot);
        return;
    }
    int want = valid_prot(prot) && range_in_alloc(p, n) && model[p].ph != PH_HOLDER;
    unsigned err = !valid_prot(prot) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    opl_result_t r = run(OPL_ALLOC, p, (size_t)n * PG, MEM_COMMIT, prot);
    expect(&r, want, err, "commit");
    if (r.failed)
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
    if (model[p].ph == PH_HOLDER)
        return; /* Windows' answer for a placeholder is not documented */
    int b = model[p].base;
    int whole = n == 0;
    int want = b >= 0 && (whole ? (unsigned)b == p : p + n <= (unsigned)alloc_end[b]);
    unsigned err = b < 0 || whole ? ERROR_INVALID_ADDRESS : ERROR_INVALID_PARAMETER;
    if (is_view(p)) /* VirtualFree refuses views: 87; size 0 away from the base: 487 first */
        want = 0, err = whole && (unsigned)b != p ? ERROR_INVALID_ADDRESS : ERROR_INVALID_PARAMETER;
    opl_result_t r = run(OPL_FREE, p, (size_t)n * PG, MEM_DECOMMIT, 0);
    expect(&r, want, err, "decommit");
    if (r.failed)
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
    int want = b >= 0 && (unsigned)b == p && !is_view(p);
    opl_result_t r = run(OPL_FREE, p, 0, MEM_RELEASE, 0);
    expect(&r, want, is_view(p) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS, "release");
    if (r.failed)
        return;
    for (unsigned i = p; i < (unsigned)alloc_end[b]; i++)
        model[i] = FREE_PAGE;
}

static void op_protect(unsigned p, unsigned n, unsigned prot)
{
    /* Order (doc/windows-semantics.md): protection, range, WRITECOPY on private, commit. */
    int wc = (prot & 0xff) == PAGE_WRITECOPY || (prot & 0xff) == PAGE_EXECUTE_WRITECOPY;
    int want = (valid_prot(prot) || wc) && range_in_alloc(p, n);
    unsigned err = !(valid_prot(prot) || wc) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS;
    if (wc)
        return; /* winvmem accepts WRITECOPY here: divergence D2 (tests/diff/divergences.md) */
    if (want && is_view(p)) {
        /* a view: only what its access allows; no view is executable here */
        if (!view_allows(model[p].aprot, prot))
            want = 0, err = ERROR_INVALID_PARAMETER;
    } else if (!range_in_alloc(p, n) && is_view(p)) {
        return; /* which of 87 and 487 wins is not modelled */
    }
    for (unsigned i = p; want && i < p + n; i++)
        want = model[i].state == COMM;
    opl_result_t r = run(OPL_PROTECT, p, (size_t)n * PG, 0, prot);
    expect(&r, want, err, "protect");
    if (r.failed)
        return;
    if (r.old_prot != model[p].prot)
        die("protect page %u: old 0x%lx, model 0x%x", p, (unsigned long)r.old_prot, model[p].prot);
    for (unsigned i = p; i < p + n; i++)
        model[i].prot = prot;
}

/* A write to an unwritten page of a FILE_MAP_COPY view copies it: the page is private from
 * then on, and VirtualQuery says PAGE_READWRITE (Windows; Wine differs: rule 28). */
static void op_write(unsigned p, unsigned char v)
{
    page *m = &model[p];
    int copy = m->prot == PAGE_WRITECOPY;
    if (m->state != COMM || !(writable(m->prot) || copy) || (m->prot & PAGE_GUARD))
        return;
    opl_result_t r = run(OPL_WRITE, p, v, 0, 0);
    if (r.fault)
        die("write page %u (prot 0x%x): %s", p, m->prot,
            r.fault == 'g' ? "guard-page violation" : "access violation");
    if (copy)
        m->cow = 1, m->prot = PAGE_READWRITE;
    if (m->spage >= 0 && !m->cow)
        sval[m->sec][m->spage] = v; /* every view of that section page shows it */
    else
        m->val = v;
}

/* ---- views of the sections S and R ------------------------------------------------------ */

/* S = CreateFileMapping(INVALID_HANDLE_VALUE, PAGE_READWRITE | SEC_COMMIT, 512 KiB), R the same
 * with SEC_RESERVE. */
static void make_section(int sec)
{
    opl_op_t op = make(OPL_SECTION, 0, (size_t)SPAGE * PG, 0, PAGE_READWRITE);
    op.addr.name[0] = 0;
    op.addr.off = 0;
    op.attrs = sec == SEC_R ? SEC_RESERVE : SEC_COMMIT;
    strcpy(op.def, sec_name[sec]);
    remember(&op);
    opl_result_t r;
    if (opl_exec(ctx, &op, &r) != OPL_DONE || r.failed)
        die("CreateFileMapping %s failed (%lu)", sec_name[sec], (unsigned long)r.error);
    memset(sval[sec], 0, sizeof sval[sec]);
    if (sec == SEC_R)
        memset(rcommitted, 0, sizeof rcommitted);
}

/* The pages p.. of a new view of sec from section page sp, with protection aprot. */
static void view_pages(unsigned p, unsigned np, int sec, unsigned sp, unsigned aprot, int ph)
{
    alloc_end[p] = (int)(p + np);
    for (unsigned i = 0; i < np; i++) {
        int comm = sec != SEC_R || rcommitted[sp + i];
        model[p + i] = (page){comm ? COMM : RESV,
                              comm ? aprot : 0,
                              (int)p,
                              aprot,
                              0,
                              (int)(sp + i),
                              (unsigned char)sec,
                              0,
                              (unsigned char)ph};
    }
}

static opl_result_t exec_op(opl_op_t *op)
{
    remember(op);
    opl_result_t r;
    if (opl_exec(ctx, op, &r) != OPL_DONE)
        die("the executor did not run %s (status %d)", opl_kind_name(op->kind), (int)r.status);
    return r;
}

/* MapViewOfFileEx(sec, access, offset o granules, n granules, at granule g of the window);
 * access 0 READ, 1 WRITE, 2 COPY (S only: a SEC_RESERVE section's reserved pages under
 * copy-on-write are not modelled). */
static void op_view(unsigned g, unsigned o, unsigned n, int sec, int access)
{
    unsigned p = g * GRAN, np = n * GRAN;
    if (p + np > NPAGE || (access == 2 && sec == SEC_R))
        return;
    int free_ = 1;
    for (unsigned i = p; i < p + np; i++)
        free_ &= model[i].state == FREE;
    int past = (o + n) * GRAN > SPAGE; /* STATUS_INVALID_VIEW_SIZE, checked before the range */
    opl_op_t op = make(OPL_VIEW, p, (size_t)np * PG, 0, 0);
    strcpy(op.handle, sec_name[sec]);
    static const unsigned acc[] = {FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY};
    op.access = acc[access];
    op.offset = (uint64_t)o * GRAN * PG;
    opl_result_t r = exec_op(&op);
    cur_p = p, cur_n = np, cur_prot = op.access;
    expect(&r, !past && free_, past ? ERROR_ACCESS_DENIED : ERROR_INVALID_ADDRESS, "view");
    if (r.failed)
        return;
    if (r.ret != (uintptr_t)(win + (size_t)p * PG))
        die("view at page %u returned %p", p, (void *)(uintptr_t)r.ret);
    static const unsigned prot[] = {PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY};
    view_pages(p, np, sec, o * GRAN, prot[access], PH_NONE);
}

/* VirtualAlloc(MEM_COMMIT) on pages of one view: the protection rules of VirtualProtect; a
 * page of R it commits is committed in the section, so every view of that page shows it
 * committed, with its own view's protection (zero-filled); this view's pages get prot. */
static void commit_view(unsigned p, unsigned n, unsigned prot)
{
    unsigned base = prot & 0xff;
    if (base == PAGE_WRITECOPY || base == PAGE_EXECUTE_WRITECOPY || !range_in_alloc(p, n))
        return; /* which error wins is not modelled */
    int want = valid_prot(prot) && view_allows(model[p].aprot, prot);
    opl_result_t r = run(OPL_ALLOC, p, (size_t)n * PG, MEM_COMMIT, prot);
    expect(&r, want, ERROR_INVALID_PARAMETER, "commit on a view");
    if (r.failed)
        return;
    for (unsigned i = p; i < p + n; i++) {
        page *m = &model[i];
        if (m->sec == SEC_R && !rcommitted[m->spage]) {
            rcommitted[m->spage] = 1;
            sval[SEC_R][m->spage] = 0;
            for (unsigned j = 0; j < NPAGE; j++)
                if (model[j].spage == m->spage && model[j].sec == SEC_R && model[j].state == RESV)
                    model[j].state = COMM, model[j].prot = model[j].aprot;
        }
        m->state = COMM;
        m->prot = prot;
    }
}

/* UnmapViewOfFile at page p: any address inside a view unmaps the whole view; else 487.
 * UnmapViewOfFile2(MEM_PRESERVE_PLACEHOLDER) at a view's base: a view that replaced a
 * placeholder becomes that placeholder again; any other: 487 (Wine's conformance tests). */
static void op_unmap(unsigned p, int preserve)
{
    int b = model[p].base;
    if (preserve && b != (int)p)
        return; /* an address inside the view: not documented */
    opl_op_t op = make(OPL_UNMAP, p, 0, preserve ? MEM_PRESERVE_PLACEHOLDER : 0, 0);
    if (preserve)
        op.flags |= OPL_F_TYPE;
    opl_result_t r = exec_op(&op);
    cur_p = p, cur_n = 0, cur_prot = 0;
    expect(&r, is_view(p) && (!preserve || model[p].ph == PH_REPLACED), ERROR_INVALID_ADDRESS,
           preserve ? "unmap2" : "unmap");
    if (r.failed)
        return;
    for (unsigned i = (unsigned)b; i < (unsigned)alloc_end[b]; i++)
        model[i] = preserve ? (page){RESV, 0, b, PAGE_NOACCESS, 0, -1, 0, 0, PH_HOLDER} : FREE_PAGE;
}

/* ---- placeholders ------------------------------------------------------------------------ */

static void holder_pages(unsigned p, unsigned end)
{
    alloc_end[p] = (int)end;
    for (unsigned i = p; i < end; i++)
        model[i] = (page){RESV, 0, (int)p, PAGE_NOACCESS, 0, -1, 0, 0, PH_HOLDER};
}

/* VirtualAlloc2(W+g granules, n granules, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, NOACCESS). */
static void op_placeholder(unsigned g, unsigned n)
{
    unsigned p = g * GRAN, end = p + n * GRAN;
    if (end > NPAGE)
        return;
    int free_ = 1;
    for (unsigned i = p; i < end; i++)
        free_ &= model[i].state == FREE;
    opl_result_t r = run(OPL_ALLOC2, p, (size_t)(end - p) * PG,
                         MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS);
    expect(&r, free_, ERROR_INVALID_ADDRESS, "placeholder");
    if (!r.failed)
        holder_pages(p, end);
}

/* VirtualFree(W+p, n pages, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER): splits a placeholder in
 * two or three at pages (the whole of one: 487); an allocation that replaced a placeholder,
 * whole, becomes a placeholder again; a view: 87; anything else: 487 (Wine's conformance
 * tests). */
static void op_split(unsigned p, unsigned n)
{
    unsigned end = p + n;
    if (end > NPAGE)
        return;
    int b = model[p].base;
    if ((b >= 0 && (model[p].ph == PH_REPLACED || is_view(p)) &&
         (b != (int)p || end != (unsigned)alloc_end[b])))
        return; /* a part of a replaced allocation or of a view: not documented */
    int holder = b >= 0 && model[p].ph == PH_HOLDER && end <= (unsigned)alloc_end[b] &&
                 !(b == (int)p && end == (unsigned)alloc_end[b]);
    int back = b >= 0 && model[p].ph == PH_REPLACED && !is_view(p);
    opl_result_t r =
        run(OPL_FREE, p, (size_t)(end - p) * PG, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER, 0);
    expect(&r, holder || back,
           b >= 0 && is_view(p) ? ERROR_INVALID_PARAMETER : ERROR_INVALID_ADDRESS, "split");
    if (r.failed)
        return;
    if (back) {
        holder_pages(p, end);
        return;
    }
    unsigned top = (unsigned)alloc_end[b];
    if ((unsigned)b < p)
        holder_pages((unsigned)b, p);
    holder_pages(p, end);
    if (end < top)
        holder_pages(end, top);
}

/* VirtualFree(W+p, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS) over k pieces from the placeholder
 * holding page p (its base), the end moved by off pages: exactly two or more adjacent whole
 * placeholders become one; anything else 487. */
static void op_coalesce(unsigned p, unsigned k, int off)
{
    if (model[p].ph == PH_HOLDER)
        p = (unsigned)model[p].base;
    unsigned end = p;
    for (unsigned i = 0; i < k && end < NPAGE && model[end].base == (int)end; i++)
        end = (unsigned)alloc_end[end];
    if ((int)end + off <= (int)p || (int)end + off > (int)NPAGE)
        return;
    end = (unsigned)((int)end + off);
    unsigned pieces = 0, i = p;
    while (i < end && model[i].ph == PH_HOLDER && model[i].base == (int)i &&
           (unsigned)alloc_end[i] <= end)
        i = (unsigned)alloc_end[i], pieces++;
    int want = i == end && pieces >= 2;
    opl_result_t r =
        run(OPL_FREE, p, (size_t)(end - p) * PG, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS, 0);
    expect(&r, want, ERROR_INVALID_ADDRESS, "coalesce");
    if (!r.failed)
        holder_pages(p, end);
}

/* The placeholder at page p (moved to the base of the placeholder holding it) replaced, whole:
 * by VirtualAlloc2(MEM_RESERVE [| MEM_COMMIT] | MEM_REPLACE_PLACEHOLDER, prot), or by
 * MapViewOfFile3(sec, offset o granules, MEM_REPLACE_PLACEHOLDER, READWRITE or READONLY). Not
 * exactly a placeholder: 487. */
static void op_replace(unsigned p, unsigned what, unsigned o, unsigned prot, int write)
{
    if (p >= NPAGE) /* a page offset from the input may step past the window */
        return;
    if (model[p].ph == PH_HOLDER)
        p = (unsigned)model[p].base;
    int b = model[p].base;
    int holder = b == (int)p && model[p].ph == PH_HOLDER;
    unsigned np = holder ? (unsigned)alloc_end[b] - p : GRAN;
    if (p + np > NPAGE)
        return;
    if (what < 2) {
        int commit = what == 1;
        if (!valid_prot(prot) || (prot & PAGE_GUARD))
            return; /* which error wins is not modelled */
        opl_result_t r =
            run(OPL_ALLOC2, p, (size_t)np * PG,
                MEM_RESERVE | MEM_REPLACE_PLACEHOLDER | (commit ? MEM_COMMIT : 0), prot);
        expect(&r, holder, ERROR_INVALID_ADDRESS, "replace");
        if (r.failed)
            return;
        alloc_end[p] = (int)(p + np);
        for (unsigned i = p; i < p + np; i++)
            model[i] = (page){commit ? COMM : RESV, commit ? prot : 0, (int)p, prot, 0, -1, 0, 0,
                              PH_REPLACED};
        return;
    }
    int sec = what == 2 ? SEC_S : SEC_R;
    unsigned vprot = write ? PAGE_READWRITE : PAGE_READONLY;
    if (!holder || (o * GRAN + np) > SPAGE)
        return; /* which error wins is not modelled */
    opl_op_t op = make(OPL_VIEW3, p, (size_t)np * PG, MEM_REPLACE_PLACEHOLDER, vprot);
    strcpy(op.handle, sec_name[sec]);
    op.offset = (uint64_t)o * GRAN * PG;
    opl_result_t r = exec_op(&op);
    cur_p = p, cur_n = np, cur_prot = vprot;
    expect(&r, 1, 0, "view3");
    if (r.ret != (uintptr_t)(win + (size_t)p * PG))
        die("view3 at page %u returned %p", p, (void *)(uintptr_t)r.ret);
    view_pages(p, np, sec, o * GRAN, vprot, PH_REPLACED);
}

static void reset(void)
{
    for (unsigned i = 0; i < NPAGE; i++)
        if (model[i].base == (int)i) {
            opl_result_t r =
                run(is_view(i) ? OPL_UNMAP : OPL_FREE, i, 0, is_view(i) ? 0 : MEM_RELEASE, 0);
            if (r.failed)
                die("reset: release of page %u failed (%lu)", i, (unsigned long)r.error);
        }
    for (int sec = 0; sec < NSEC; sec++) {
        opl_op_t close = make(OPL_CLOSE, 0, 0, 0, 0);
        close.addr.name[0] = 0;
        strcpy(close.handle, sec_name[sec]);
        opl_result_t r;
        if (opl_exec(ctx, &close, &r) != OPL_DONE || r.failed)
            die("reset: CloseHandle(%s) failed (%lu)", sec_name[sec], (unsigned long)r.error);
    }
    for (unsigned i = 0; i < NPAGE; i++)
        model[i] = FREE_PAGE;
    nhistory = 0;
}

static void init(void)
{
    /* call-only: every op is one Windows call, the checks query what they need. First, so
     * that the probes' handlers are in place before winvmem installs its dispatcher. */
    ctx = opl_ctx_new(OPL_CTX_CALL_ONLY);
    win = win_in = VirtualAlloc(NULL, (size_t)NPAGE * PG, MEM_RESERVE, PAGE_NOACCESS);
    if (!win || !VirtualFree(win, 0, MEM_RELEASE))
        die("cannot make the window");
    /* (The arena's stash, a mapping as large as the arena, has its address space reserved
     * with the arena, made by the window's VirtualAlloc: it cannot land over O later.) */
    /* O: the bottom of 512 GiB of free address space the kernel picks (outside the arenas,
     * made first). The kernel maps top-down from the top of the highest gap that fits, so a
     * later mapping lands above O unless the mappings made after it add up to 512 GiB (an
     * arena is 64 GiB, and the one in place stays big enough for W's inputs). */
    size_t probe = (size_t)512 << 30;
    char *m = mmap(NULL, probe, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED || munmap(m, probe))
        die("cannot find address space outside the arenas");
    win_out = (char *)(((uintptr_t)m + GRAN * PG - 1) & ~(uintptr_t)(GRAN * PG - 1));
    for (unsigned i = 0; i < NPAGE; i++)
        model[i] = FREE_PAGE;
    if (!ctx || opl_name_set(ctx, "W", (uintptr_t)win_in, (uintptr_t)NPAGE * PG) ||
        opl_name_set(ctx, "O", (uintptr_t)win_out, (uintptr_t)NPAGE * PG))
        die("cannot make the executor's context");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    win = size & 1 ? win_out : win_in;
    wname = size & 1 ? "O" : "W";
    make_section(SEC_S);
    make_section(SEC_R);
    for (size_t k = 0; k + 4 <= size && k < 4 * 64; k += 4) {
        unsigned kind = data[k] % 16, p = (unsigned)(data[k + 1] * 4) % NPAGE;
        unsigned n = 1 + data[k + 2] % 48, prot = prots[data[k + 3] % 16];
        unsigned x = data[k + 2], g = p / GRAN;
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
        case 8: /* granule, offset 0-7 granules, 1-4 granules (some past the end), section,
                 * access READ / WRITE / COPY */
            op_view(g, x & 7, 1 + (x >> 3 & 3), x >> 5 & 1, data[k + 3] % 3);
            break;
        case 9:
            op_unmap(p, 0);
            break;
        case 10: /* 1-8 granules */
            op_placeholder(g, 1 + (x & 7));
            break;
        case 11: /* at pages or granules, 1-16 pages or 1-4 granules */
            if (x & 0x80)
                op_split((g + (x >> 5 & 3)) * GRAN, (1 + (x & 3)) * GRAN);
            else
                op_split(g * GRAN + (data[k + 3] & 15), 1 + (x & 15));
            break;
        case 12: /* 2-5 pieces, the end exact or a page off */
            op_coalesce(p + (data[k + 3] & 3), 2 + (x & 3), (x >> 2 & 3) == 3 ? 1 : -(x >> 2 & 1));
            break;
        case 13: /* by a private allocation, reserved or committed, or by a view of S or R */
            op_replace(x & 0x80 ? g * GRAN : p + (data[k + 3] >> 5), x & 3, x >> 2 & 3,
                       data[k + 3] & 0x10 ? prot : PAGE_READWRITE, x >> 4 & 1);
            break;
        case 14: /* at a view's base (pieces start at pages), else at a granule */
            op_unmap(is_view(p) ? (unsigned)model[p].base : p / GRAN * GRAN, 1);
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
