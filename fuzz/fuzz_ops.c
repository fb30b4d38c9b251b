/* libFuzzer target: bytes -> a sequence of Windows memory operations inside a private window of
 * address space (VirtualAlloc / VirtualFree / VirtualProtect / VirtualQuery, MEM_RESET and
 * MEM_RESET_UNDO, VirtualLock / VirtualUnlock, GetWriteWatch / ResetWriteWatch, reads and
 * writes that may hit guard pages), each checked
 *   1. against the reference model of page states shared with the linearizability checker
 *      (tests/model/refmodel.h: one record per page, nothing shared with the library's data
 *      structures), through the same executor (tests/model/exec.h);
 *   2. against the kernel: every committed readable page can be read (writable: written) and
 *      holds what the model says; every reserved, decommitted, free or NOACCESS page faults;
 *      /proc/self/maps gives every committed page at least the access its protection needs.
 * Any disagreement aborts with a description and the input as an op-language script (the
 * window is `W = hole 0x400000`) that `winvmem run` replays. Build: fuzz/run_fuzz.sh. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#include "exec.h"
#include "refmodel.h"

#define NPAGE      1024u /* the window: 4 MiB = 64 granules */
#define LOCK_PAGES 256u  /* VirtualLock only here: 256 pages stay under RLIMIT_MEMLOCK (8 MiB) */

static rm_state *model;
static char *win;
/* WINVMEM_FUZZ_SKIP=name,name: operations (rm_kind_name) replaced by queries, for open findings
 * that would stop every run (run_fuzz.sh says which and why) */
static unsigned char skip[RM_NKINDS];
static int skip_ww; /* "write_watch": reservations without MEM_WRITE_WATCH */

/* The ops of the current input that change state or touch memory (queries left out),
 * replayed as a script on a mismatch. */
static rm_op history[4096];
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
    fprintf(stderr, "fuzz_ops: the input as a script (winvmem run):\nW = hole 0x%x\n",
            NPAGE * RM_PAGE);
    for (unsigned i = 0; i < nhistory; i++) {
        char line[256];
        lin_exec_format("W", &history[i], line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    if (nhistory == sizeof history / sizeof history[0])
        fprintf(stderr, "# (history truncated)\n");
    abort();
}

/* Runs op and checks the answer against the model (which then moves on). */
static void step(rm_op op)
{
    if (op.kind != RM_QUERY && nhistory < sizeof history / sizeof history[0])
        history[nhistory++] = op;
    rm_res r;
    uint64_t abs_base, abs_size;
    lin_exec(win, &op, NULL, &r, &abs_base, &abs_size);
    char why[512];
    if (!rm_apply(model, &op, &r, why, sizeof why)) {
        char d[600] = "";
        rm_describe(d, sizeof d, &op, &r);
        die("%s: %s", d, why);
    }
}

static const rm_page *page_of(unsigned i)
{
    return &model->p[i];
}

/* ---- kernel checks ------------------------------------------------------------------------ */

/* Reads page i (a guard page: the guard fires once, then the plain protection holds); if it
 * is readable, writes back what it holds (the write must fault exactly when not writable). */
static void check_kernel_page(unsigned i)
{
    const rm_page *m = page_of(i);
    int guard = m->state == RM_COMM && (m->prot & WVM_PAGE_GUARD);
    step((rm_op){.kind = RM_READ, .page = i});
    if (guard)
        step((rm_op){.kind = RM_READ, .page = i});
    if (m->state == RM_COMM && rm_readable(m->prot) && m->vstate == RM_V_KNOWN)
        step((rm_op){.kind = RM_WRITE, .page = i, .val = m->val});
}

/* Every committed page must lie in a mapping with the access its protection needs. */
static void check_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    static unsigned char have[NPAGE];
    memset(have, 0, sizeof have);
    uintptr_t lo = (uintptr_t)win, hi = lo + (uintptr_t)NPAGE * RM_PAGE, s, e;
    char perm[8];
    char line[512];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %4s", &s, &e, perm) == 3 && e > lo && s < hi)
            for (uintptr_t a = s > lo ? s : lo; a < e && a < hi; a += RM_PAGE)
                have[(a - lo) / RM_PAGE] =
                    0x80 | (perm[0] == 'r') | (perm[1] == 'w') << 1 | (perm[2] == 'x') << 2;
    fclose(f);
    for (unsigned i = 0; i < NPAGE; i++) {
        const rm_page *m = page_of(i);
        if (m->state != RM_COMM || (m->prot & WVM_PAGE_GUARD) || m->prot == WVM_PAGE_NOACCESS)
            continue;
        /* write watch on the mprotect fallback keeps unwritten pages read-only */
        unsigned need = (rm_readable(m->prot) ? 1 : 0) |
                        (rm_writable(m->prot) && !(m->flags & RM_F_WW) ? 2 : 0) |
                        (m->prot >= WVM_PAGE_EXECUTE ? 4 : 0);
        if (!(have[i] & 0x80) || (have[i] & need) != need)
            die("/proc/self/maps: page %u (prot 0x%x) has %s%s%s%s", i, m->prot,
                have[i] & 0x80 ? "" : "no mapping ", have[i] & 1 ? "r" : "-",
                have[i] & 2 ? "w" : "-", have[i] & 4 ? "x" : "-");
    }
}

static void check_query(unsigned i)
{
    step((rm_op){.kind = RM_QUERY, .page = i, .val = 7}); /* 112 bytes into the page */
}

/* ---- ops ---------------------------------------------------------------------------------- */

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

/* Decodes one 4-byte op. The first nine kinds are the original op set (the seed corpus was
 * made for it); the rest reach MEM_RESET, locks, write watch and plain reads. */
static void run_op(const uint8_t *d)
{
    unsigned kind = d[0] % 16, p = (unsigned)(d[1] * 4) % NPAGE;
    unsigned n = 1 + d[2] % 48, prot = prots[d[3] % 16];
    if (p + n > NPAGE)
        n = NPAGE - p;
    rm_op op = {.page = p, .npages = n, .prot = prot};
    switch (kind) {
    case 0: /* reserve, in pages beyond the last granule too (rounding) */
    case 1:
        op.kind = RM_RESERVE;
        op.type =
            MEM_RESERVE | (kind == 1 ? MEM_COMMIT : 0) | ((d[2] & 0x40) ? MEM_WRITE_WATCH : 0);
        if (kind == 0)
            op.npages += (d[3] >> 4) * 8u;
        if (p + op.npages > NPAGE)
            return;
        break;
    case 2:
    case 3:
        op.kind = RM_COMMIT;
        break;
    case 4:
        op.kind = RM_DECOMMIT;
        if (d[2] & 0x80)
            op.npages = 0; /* the whole allocation */
        break;
    case 5:
        op.kind = RM_RELEASE;
        op.npages = 0;
        break;
    case 6:
        op.kind = RM_PROTECT;
        break;
    case 7:
        op.kind = RM_WRITE;
        op.val = d[3] | 1;
        break;
    case 8:
        op.kind = RM_QUERY;
        break;
    case 9:
    case 10:
        op.kind = kind == 9 ? RM_RESET : RM_RESET_UNDO;
        op.prot = (d[3] & 1) ? PAGE_READWRITE : prot;
        break;
    case 11:
    case 12:
        op.kind = kind == 11 ? RM_LOCK : RM_UNLOCK;
        op.page = p % LOCK_PAGES;
        op.npages = 1 + d[2] % 8;
        if (op.page + op.npages > LOCK_PAGES)
            op.npages = LOCK_PAGES - op.page;
        break;
    case 13:
        op.kind = (d[3] & 0x80) ? RM_WW_RESET : RM_WW_GET;
        op.type = d[3] & 1;
        op.cap = 1 + (d[3] >> 1) % 48;
        break;
    default:
        op.kind = RM_READ;
        break;
    }
    if (skip[op.kind])
        op = (rm_op){.kind = RM_QUERY, .page = p};
    if (skip_ww)
        op.type &= ~(uint32_t)MEM_WRITE_WATCH;
    step(op);
}

static void reset(void)
{
    for (unsigned i = 0; i < NPAGE; i++)
        if (page_of(i)->base == i)
            step((rm_op){.kind = RM_RELEASE, .page = i});
}

static void init(void)
{
    win = VirtualAlloc(NULL, (size_t)NPAGE * RM_PAGE, MEM_RESERVE, PAGE_NOACCESS);
    if (!win || !VirtualFree(win, 0, MEM_RELEASE))
        die("cannot make the window");
    model = malloc(rm_state_size(NPAGE));
    rm_init(model, NPAGE);
    lin_exec_init();
    const char *sk = getenv("WINVMEM_FUZZ_SKIP");
    skip_ww = sk && strstr(sk, "write_watch") != NULL;
    for (unsigned k = 0; sk && k < RM_NKINDS; k++) {
        const char *name = rm_kind_name(k), *at = sk;
        size_t len = strlen(name);
        while ((at = strstr(at, name)))
            if ((at == sk || at[-1] == ',') && (at[len] == ',' || !at[len])) {
                skip[k] = 1;
                break;
            } else
                at += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    nhistory = 0;
    for (size_t k = 0; k + 4 <= size && k < 4 * 64; k += 4) {
        run_op(data + k);
        unsigned p = (unsigned)(data[k + 1] * 4) % NPAGE, n = 1 + data[k + 2] % 48;
        check_query(p);
        if (page_of(p)->base != UINT16_MAX)
            check_query(page_of(p)->base);
        /* the pages the op addressed, one granule either side */
        unsigned lo = p / RM_GRAN * RM_GRAN, hi = p + n + RM_GRAN;
        lo = lo >= RM_GRAN ? lo - RM_GRAN : 0;
        for (unsigned i = lo; i < hi && i < NPAGE; i++)
            check_kernel_page(i);
    }
    for (unsigned i = 0; i < NPAGE; i++)
        if (page_of(i)->state != RM_FREE || (i % RM_GRAN) == 0)
            check_kernel_page(i);
    for (unsigned i = 0; i < NPAGE; i += 7)
        check_query(i);
    if (wvm_check_invariants())
        die("winvmem's invariant checker failed");
    check_maps();
    reset();
    return 0;
}
