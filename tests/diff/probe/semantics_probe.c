/* semantics_probe.c - edge-case probe of the Windows virtual-memory API.
 *
 * A plain Windows program.  Build and run (Wine or Windows):
 *   x86_64-w64-mingw32-gcc -O1 -o probe.exe semantics_probe.c
 *   wine probe.exe            (all cases)
 *   wine probe.exe NAME       (one isolated case, used internally for cases that may fault)
 *
 * One line per case:
 *   NAME | ret=... | err=... | mbi{...} [| note]
 * Addresses are printed relative to the case's reference allocation "B" (B+0x1000);
 * addresses elsewhere are printed as abs=0x....  err=unchanged means the call did not
 * touch the last error (it is set to 0xdeadbeef before every call).
 * MBI fields: base, ab (AllocationBase), ap (AllocationProtect), rs (RegionSize),
 * st (State), pr (Protect), ty (Type).
 * The doc that interprets the output: doc/windows-semantics.md
 */
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SENTINEL 0xdeadbeefu
#define KB       ((SIZE_T)1024)
#define GRAN     ((SIZE_T)0x10000)

static char *B; /* reference base of the current case */
static SYSTEM_INFO SI;

static const char *errname(DWORD e)
{
    switch (e) {
    case SENTINEL:
        return "unchanged";
    case 0:
        return "0";
    case ERROR_NOT_ENOUGH_MEMORY:
        return "ERROR_NOT_ENOUGH_MEMORY(8)";
    case ERROR_OUTOFMEMORY:
        return "ERROR_OUTOFMEMORY(14)";
    case ERROR_BAD_LENGTH:
        return "ERROR_BAD_LENGTH(24)";
    case ERROR_INVALID_PARAMETER:
        return "ERROR_INVALID_PARAMETER(87)";
    case ERROR_INVALID_ADDRESS:
        return "ERROR_INVALID_ADDRESS(487)";
    case ERROR_NOACCESS:
        return "ERROR_NOACCESS(998)";
    case ERROR_PRIVILEGE_NOT_HELD:
        return "ERROR_PRIVILEGE_NOT_HELD(1314)";
    case ERROR_COMMITMENT_LIMIT:
        return "ERROR_COMMITMENT_LIMIT(1455)";
    case ERROR_INVALID_FLAGS:
        return "ERROR_INVALID_FLAGS(1004)";
    case 1015:
        return "1015(INVALID_PAGE_PROTECTION?)";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "%lu", (unsigned long)e);
        return buf;
    }
    }
}

/* Format an address relative to B into one of two rotating buffers. */
static const char *rel(const void *p)
{
    static char bufs[4][48];
    static int n;
    char *b = bufs[n++ & 3];
    intptr_t d = (char *)p - B;
    if (!p)
        snprintf(b, 48, "NULL");
    else if (B && d >= -(intptr_t)(64 * GRAN) && d < (intptr_t)(64 * GRAN))
        snprintf(b, 48, d < 0 ? "B-0x%llx" : "B+0x%llx", (unsigned long long)(d < 0 ? -d : d));
    else
        snprintf(b, 48, "abs=0x%llx", (unsigned long long)(uintptr_t)p);
    return b;
}

static const char *st(DWORD s)
{
    switch (s) {
    case MEM_COMMIT:
        return "COMMIT";
    case MEM_RESERVE:
        return "RESERVE";
    case MEM_FREE:
        return "FREE";
    case 0:
        return "0";
    default:
        return "?";
    }
}

static const char *ty(DWORD t)
{
    switch (t) {
    case MEM_PRIVATE:
        return "PRIVATE";
    case MEM_MAPPED:
        return "MAPPED";
    case MEM_IMAGE:
        return "IMAGE";
    case 0:
        return "0";
    default:
        return "?";
    }
}

static void mbi_str(char *out, size_t n, const void *q)
{
    MEMORY_BASIC_INFORMATION m;
    memset(&m, 0xcc, sizeof m);
    SIZE_T r = VirtualQuery(q, &m, sizeof m);
    if (!r) {
        snprintf(out, n, "mbi{query failed err=%s}", errname(GetLastError()));
        return;
    }
    snprintf(out, n, "mbi@%s{base=%s ab=%s ap=0x%lx rs=0x%llx st=%s pr=0x%lx ty=%s}", rel(q),
             rel(m.BaseAddress), rel(m.AllocationBase), (unsigned long)m.AllocationProtect,
             (unsigned long long)m.RegionSize, st(m.State), (unsigned long)m.Protect, ty(m.Type));
}

/* Print one case line.  kind: 'p' pointer, 'b' BOOL, 'z' SIZE_T. */
static void out(const char *name, char kind, uintptr_t ret, DWORD err, const void *q,
                const char *note)
{
    char mb[256] = "";
    char rs[64];
    if (kind == 'p')
        snprintf(rs, sizeof rs, "%s", rel((void *)ret));
    else if (kind == 'b')
        snprintf(rs, sizeof rs, "%s", ret ? "TRUE" : "FALSE");
    else
        snprintf(rs, sizeof rs, "0x%llx", (unsigned long long)ret);
    if (q)
        mbi_str(mb, sizeof mb, q);
    printf("%-34s | ret=%-12s | err=%-28s | %s%s%s\n", name, rs, errname(err), mb,
           note ? " | " : "", note ? note : "");
    fflush(stdout);
}

/* ---- call wrappers: set sentinel, call, print ---- */
static void *va(const char *name, void *a, SIZE_T s, DWORD t, DWORD p, const void *q)
{
    SetLastError(SENTINEL);
    void *r = VirtualAlloc(a, s, t, p);
    DWORD e = GetLastError();
    out(name, 'p', (uintptr_t)r, e, q ? q : r, NULL);
    return r;
}

/* Allocation probe whose result is released again right away. */
static void va_tmp(const char *name, void *a, SIZE_T s, DWORD t, DWORD p)
{
    void *r = va(name, a, s, t, p, NULL);
    if (r)
        VirtualFree(r, 0, MEM_RELEASE);
}

static BOOL vf(const char *name, void *a, SIZE_T s, DWORD t, const void *q)
{
    SetLastError(SENTINEL);
    BOOL r = VirtualFree(a, s, t);
    DWORD e = GetLastError();
    out(name, 'b', r, e, q, NULL);
    return r;
}

static BOOL vp(const char *name, void *a, SIZE_T s, DWORD p, const void *q)
{
    DWORD old = SENTINEL;
    char note[48];
    SetLastError(SENTINEL);
    BOOL r = VirtualProtect(a, s, p, &old);
    DWORD e = GetLastError();
    snprintf(note, sizeof note, "old=0x%lx", (unsigned long)old);
    out(name, 'b', r, e, q, note);
    return r;
}

static void vq(const char *name, const void *a, SIZE_T len)
{
    MEMORY_BASIC_INFORMATION m[2];
    char note[256];
    memset(m, 0xcc, sizeof m);
    SetLastError(SENTINEL);
    SIZE_T r = VirtualQuery(a, m, len);
    DWORD e = GetLastError();
    if (r)
        snprintf(note, sizeof note, "{base=%s ab=%s ap=0x%lx rs=0x%llx st=%s pr=0x%lx ty=%s}",
                 rel(m[0].BaseAddress), rel(m[0].AllocationBase),
                 (unsigned long)m[0].AllocationProtect, (unsigned long long)m[0].RegionSize,
                 st(m[0].State), (unsigned long)m[0].Protect, ty(m[0].Type));
    else
        snprintf(note, sizeof note, "buffer first byte 0x%02x (0xcc = untouched)",
                 ((unsigned char *)m)[0]);
    out(name, 'z', r, e, NULL, note);
}

/* Reserve a fresh region with the system, make it the reference base. */
static char *fresh(SIZE_T size, DWORD type, DWORD prot)
{
    B = VirtualAlloc(NULL, size, type, prot);
    if (!B) {
        printf("!! setup allocation failed err=%lu\n", (unsigned long)GetLastError());
        ExitProcess(2);
    }
    return B;
}

/* A free, 64 KiB aligned address with `span` free bytes (reserve + release). */
static char *free_addr(SIZE_T span)
{
    B = VirtualAlloc(NULL, span, MEM_RESERVE, PAGE_NOACCESS);
    VirtualFree(B, 0, MEM_RELEASE);
    return B;
}

static void rel_all(void)
{
    if (B)
        VirtualFree(B, 0, MEM_RELEASE);
}

/* ============================ VirtualAlloc ============================ */
static void alloc_cases(void)
{
    char *p, *r;
    puts("## VirtualAlloc");

    B = NULL;
    va_tmp("A.size0.reserve", NULL, 0, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size0.reserve_commit", NULL, 0, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fresh(GRAN, MEM_RESERVE, PAGE_NOACCESS);
    va("A.size0.commit_in_reservation", B, 0, MEM_COMMIT, PAGE_READWRITE, B);
    rel_all();

    B = NULL;
    p = va("A.null_addr.commit_only", NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE, NULL);
    if (p) {
        B = p;
        out("A.null_addr.commit_only.query", 'p', (uintptr_t)p, 0, p, NULL);
        out("A.null_addr.commit_only.query+0x1000", 'p', (uintptr_t)p, 0, p + 0x1000, NULL);
        rel_all();
    }
    B = NULL;
    p = fresh(0x1234, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    out("A.null.rc.size0x1234", 'p', (uintptr_t)p, 0, p, NULL);
    out("A.null.rc.size0x1234.tail", 'p', (uintptr_t)p, 0, p + 0x2000, NULL);
    rel_all();

    /* unaligned reserve: base rounded down to 64 KiB, end rounded up to a page */
    free_addr(4 * GRAN);
    r = va("A.reserve@B+0x1234.size0x1000", B + 0x1234, 0x1000, MEM_RESERVE, PAGE_READWRITE, B);
    if (r) {
        out("A.reserve@B+0x1234.tail", 'p', (uintptr_t)r, 0, B + 0x3000, NULL);
        VirtualFree(r, 0, MEM_RELEASE);
    }
    free_addr(4 * GRAN);
    r = va("A.reserve@B+0x1fff.size2", B + 0x1fff, 2, MEM_RESERVE, PAGE_READWRITE, B);
    if (r)
        VirtualFree(r, 0, MEM_RELEASE);
    free_addr(4 * GRAN);
    r = va("A.rc@B+0x1234.size0x1000", B + 0x1234, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE,
           B);
    if (r) {
        out("A.rc@B+0x1234.q+0x1000", 'p', (uintptr_t)r, 0, B + 0x1000, NULL);
        out("A.rc@B+0x1234.q+0x3000", 'p', (uintptr_t)r, 0, B + 0x3000, NULL);
        VirtualFree(r, 0, MEM_RELEASE);
    }
    free_addr(4 * GRAN);
    r = va("A.reserve@B+0x11234.size0x20000", B + 0x11234, 0x20000, MEM_RESERVE, PAGE_READWRITE,
           B + 0x10000);
    if (r)
        VirtualFree(r, 0, MEM_RELEASE);

    /* commit on free memory */
    free_addr(GRAN);
    va("A.commit_on_free", B, 0x1000, MEM_COMMIT, PAGE_READWRITE, B);

    /* commit spanning two adjacent reservations */
    free_addr(2 * GRAN);
    {
        char *r1 = VirtualAlloc(B, GRAN, MEM_RESERVE, PAGE_READWRITE);
        char *r2 = VirtualAlloc(B + GRAN, GRAN, MEM_RESERVE, PAGE_READWRITE);
        if (r1 && r2) {
            va("A.commit_span_two_reservations", B + 0xf000, 0x2000, MEM_COMMIT, PAGE_READWRITE,
               B + 0xf000);
            out("A.commit_span_two.q_second", 'p', 0, 0, B + GRAN, NULL);
            vf("F.decommit_span_two_reservations", B + 0xf000, 0x2000, MEM_DECOMMIT, B + 0xf000);
            vp("V.protect_span_two_reservations", B + 0xf000, 0x2000, PAGE_READONLY, B + 0xf000);
            VirtualAlloc(B + 0xf000, 0x1000, MEM_COMMIT, PAGE_READWRITE);
            VirtualAlloc(B + GRAN, 0x1000, MEM_COMMIT, PAGE_READWRITE);
            vp("V.protect_span_two_committed", B + 0xf000, 0x2000, PAGE_READONLY, B + 0xf000);
            vq("Q.run_stops_at_allocation", B + 0xf000, sizeof(MEMORY_BASIC_INFORMATION));
        } else
            puts("!! adjacent reservations failed");
        if (r1)
            VirtualFree(r1, 0, MEM_RELEASE);
        if (r2)
            VirtualFree(r2, 0, MEM_RELEASE);
    }

    /* commit partially beyond reservation end (followed by free memory) */
    free_addr(2 * GRAN);
    VirtualAlloc(B, GRAN, MEM_RESERVE, PAGE_READWRITE);
    va("A.commit_beyond_end", B + 0xf000, 0x2000, MEM_COMMIT, PAGE_READWRITE, B + 0xf000);
    va("A.commit_unaligned_in_res", B + 0x1234, 0x10, MEM_COMMIT, PAGE_READWRITE, B + 0x1000);
    va("A.commit_straddle_page", B + 0x3ff0, 0x20, MEM_COMMIT, PAGE_READWRITE, B + 0x3000);
    rel_all();

    /* commit already committed pages with different protection */
    fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    B[0] = 0x42;
    B[0x1000] = 0x43;
    va("A.recommit_RO_over_RW", B, 0x1000, MEM_COMMIT, PAGE_READONLY, B);
    printf("%-34s | contents kept: B[0]=0x%02x (0x42 = kept)\n", "A.recommit_RO_over_RW.data",
           (unsigned char)B[0]);
    vf("(setup decommit 0x2000)", B + 0x2000, 0x1000, MEM_DECOMMIT, B + 0x2000);
    va("A.recommit_mixed_committed_reserved", B + 0x1000, 0x2000, MEM_COMMIT, PAGE_EXECUTE_READ,
       B + 0x1000);
    out("A.recommit_mixed.q+0x2000", 'p', 0, 0, B + 0x2000, NULL);
    printf("%-34s | B[0x1000]=0x%02x (0x43 = kept)\n", "A.recommit_mixed.data",
           (unsigned char)B[0x1000]);
    rel_all();

    /* allocation type oddities */
    B = NULL;
    va_tmp("A.type0", NULL, 0x1000, 0, PAGE_READWRITE);
    va_tmp("A.type.reserve|0x1", NULL, 0x1000, MEM_RESERVE | 0x1, PAGE_READWRITE);
    va_tmp("A.type.reserve|0x10000000", NULL, 0x1000, MEM_RESERVE | 0x10000000, PAGE_READWRITE);
    va_tmp("A.type.reserve|reset", NULL, 0x1000, MEM_RESERVE | MEM_RESET, PAGE_READWRITE);
    va_tmp("A.type.commit|reset", NULL, 0x1000, MEM_COMMIT | MEM_RESET, PAGE_READWRITE);
    va_tmp("A.type.top_down_alone", NULL, 0x1000, MEM_TOP_DOWN, PAGE_READWRITE);
    va_tmp("A.type.reserve|top_down", NULL, 0x1000, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    va_tmp("A.type.decommit", NULL, 0x1000, MEM_DECOMMIT, PAGE_READWRITE);
    va_tmp("A.type.release", NULL, 0x1000, MEM_RELEASE, PAGE_READWRITE);
    va_tmp("A.type.reserve|decommit", NULL, 0x1000, MEM_RESERVE | MEM_DECOMMIT, PAGE_READWRITE);
    va_tmp("A.type.reserve|physical", NULL, 0x1000, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    va_tmp("A.type.physical_alone", NULL, 0x1000, MEM_PHYSICAL, PAGE_READWRITE);
    va_tmp("A.type.rc|large_pages", NULL, 0x200000, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES,
           PAGE_READWRITE);
    va_tmp("A.type.reserve|write_watch", NULL, 0x1000, MEM_RESERVE | MEM_WRITE_WATCH,
           PAGE_READWRITE);
    va_tmp("A.type.commit|write_watch(null)", NULL, 0x1000, MEM_COMMIT | MEM_WRITE_WATCH,
           PAGE_READWRITE);
    va_tmp("A.type.reset_undo(null)", NULL, 0x1000, MEM_RESET_UNDO, PAGE_READWRITE);

    /* MEM_RESET on existing memory */
    fresh(GRAN, MEM_RESERVE, PAGE_READWRITE);
    VirtualAlloc(B, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    va("A.reset_on_committed", B, 0x2000, MEM_RESET, PAGE_NOACCESS, B);
    va("A.reset_on_committed_prot0", B, 0x2000, MEM_RESET, 0, B);
    va("A.reset_unaligned", B + 0x10, 0x1000, MEM_RESET, PAGE_NOACCESS, B);
    va("A.reset_on_reserved", B + 0x4000, 0x1000, MEM_RESET, PAGE_NOACCESS, B + 0x4000);
    va("A.reset_mixed", B + 0x1000, 0x2000, MEM_RESET, PAGE_NOACCESS, B + 0x1000);
    va("A.reset_undo_on_committed", B, 0x2000, MEM_RESET_UNDO, PAGE_NOACCESS, B);
    va("A.reset_undo_on_reserved", B + 0x4000, 0x1000, MEM_RESET_UNDO, PAGE_NOACCESS, B + 0x4000);
    va("A.reset|reset_undo", B, 0x1000, MEM_RESET | MEM_RESET_UNDO, PAGE_NOACCESS, B);
    rel_all();
    free_addr(GRAN);
    va("A.reset_on_free", B, 0x1000, MEM_RESET, PAGE_NOACCESS, B);

    /* protections with reserve|commit */
    static const struct {
        const char *n;
        DWORD p;
    } prots[] = {
        {"0", 0},
        {"NOACCESS", PAGE_NOACCESS},
        {"READONLY", PAGE_READONLY},
        {"READWRITE", PAGE_READWRITE},
        {"WRITECOPY", PAGE_WRITECOPY},
        {"EXECUTE", PAGE_EXECUTE},
        {"EXECUTE_READ", PAGE_EXECUTE_READ},
        {"EXECUTE_READWRITE", PAGE_EXECUTE_READWRITE},
        {"EXECUTE_WRITECOPY", PAGE_EXECUTE_WRITECOPY},
        {"READONLY|READWRITE", PAGE_READONLY | PAGE_READWRITE},
        {"NOACCESS|READONLY", PAGE_NOACCESS | PAGE_READONLY},
        {"GUARD|NOACCESS", PAGE_GUARD | PAGE_NOACCESS},
        {"GUARD|READWRITE", PAGE_GUARD | PAGE_READWRITE},
        {"GUARD alone", PAGE_GUARD},
        {"NOCACHE|READWRITE", PAGE_NOCACHE | PAGE_READWRITE},
        {"WRITECOMBINE|READWRITE", PAGE_WRITECOMBINE | PAGE_READWRITE},
        {"NOCACHE|WRITECOMBINE|RW", PAGE_NOCACHE | PAGE_WRITECOMBINE | PAGE_READWRITE},
        {"NOCACHE|NOACCESS", PAGE_NOCACHE | PAGE_NOACCESS},
        {"WRITECOMBINE|NOACCESS", PAGE_WRITECOMBINE | PAGE_NOACCESS},
        {"GUARD|NOCACHE|RW", PAGE_GUARD | PAGE_NOCACHE | PAGE_READWRITE},
        {"GUARD|WRITECOMBINE|RW", PAGE_GUARD | PAGE_WRITECOMBINE | PAGE_READWRITE},
        {"TARGETS_INVALID|EXEC_RW", PAGE_TARGETS_INVALID | PAGE_EXECUTE_READWRITE},
        {"TARGETS_INVALID|RW", PAGE_TARGETS_INVALID | PAGE_READWRITE},
        {"0x800|RW (unknown bit)", 0x800 | PAGE_READWRITE},
        {"0x10000|RW (unknown bit)", 0x10000 | PAGE_READWRITE},
        {"0x80000000|RW", 0x80000000u | PAGE_READWRITE},
    };
    char name[80];
    for (size_t i = 0; i < sizeof prots / sizeof prots[0]; i++) {
        B = NULL;
        snprintf(name, sizeof name, "A.prot.rc.%s", prots[i].n);
        va_tmp(name, NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, prots[i].p);
    }
    for (size_t i = 0; i < sizeof prots / sizeof prots[0]; i++) {
        B = NULL;
        snprintf(name, sizeof name, "A.prot.reserve.%s", prots[i].n);
        va_tmp(name, NULL, 0x1000, MEM_RESERVE, prots[i].p);
    }
    /* commit into a reservation with a protection other than the reservation's */
    fresh(GRAN, MEM_RESERVE, PAGE_READONLY);
    va("A.commit_prot_differs_from_res", B, 0x1000, MEM_COMMIT, PAGE_EXECUTE_READWRITE, B);
    va("A.commit_prot0_in_res", B + 0x1000, 0x1000, MEM_COMMIT, 0, B + 0x1000);
    va("A.commit_writecopy_in_res", B + 0x1000, 0x1000, MEM_COMMIT, PAGE_WRITECOPY, B + 0x1000);
    va("A.commit_guard_in_res", B + 0x2000, 0x1000, MEM_COMMIT, PAGE_GUARD | PAGE_READWRITE,
       B + 0x2000);
    rel_all();

    /* addresses */
    B = NULL;
    va("A.addr0x1000.reserve", (void *)0x1000, 0x1000, MEM_RESERVE, PAGE_READWRITE, NULL);
    va("A.addr0xffff.reserve", (void *)0xffff, 0x1000, MEM_RESERVE, PAGE_READWRITE, NULL);
    va("A.addr0x1000.commit", (void *)0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE, NULL);
    {
        char *mx = (char *)SI.lpMaximumApplicationAddress;
        va_tmp("A.addr=max+1", mx + 1, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        va_tmp("A.addr=0x800000000000", (void *)0x800000000000ull, 0x1000, MEM_RESERVE,
               PAGE_READWRITE);
        va_tmp("A.addr=max_granule.size0x10000", mx + 1 - GRAN, GRAN, MEM_RESERVE, PAGE_READWRITE);
        va_tmp("A.addr=max_granule.size0x20000", mx + 1 - GRAN, 2 * GRAN, MEM_RESERVE,
               PAGE_READWRITE);
        va_tmp("A.addr=max-0xfff.size0x2000", mx - 0xfff, 0x2000, MEM_RESERVE, PAGE_READWRITE);
        va_tmp("A.addr_plus_size_overflow", (void *)0x7ff000000000ull, (SIZE_T)-0x7ff000000000ll,
               MEM_RESERVE, PAGE_READWRITE);
        va_tmp("A.addr0x10000.size_max", (void *)0x10000, (SIZE_T)-1, MEM_RESERVE, PAGE_READWRITE);
    }
    va_tmp("A.size=SIZE_MAX.reserve", NULL, (SIZE_T)-1, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size=SIZE_MAX-0xffff.reserve", NULL, (SIZE_T)-0x10000, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size=1<<47.reserve", NULL, (SIZE_T)1 << 47, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size=1<<46.reserve", NULL, (SIZE_T)1 << 46, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size=1<<40.reserve", NULL, (SIZE_T)1 << 40, MEM_RESERVE, PAGE_READWRITE);
    va_tmp("A.size=1<<47.rc", NULL, (SIZE_T)1 << 47, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    va_tmp("A.size=1<<44.rc(commit limit)", NULL, (SIZE_T)1 << 44, MEM_RESERVE | MEM_COMMIT,
           PAGE_READWRITE);

    /* exhaust the address space with 64 TiB reservations: the failing one's error */
    {
        void *big[4] = {0};
        char name[48];
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "A.reserve_64TiB#%d", i);
            big[i] = va(name, NULL, (SIZE_T)1 << 46, MEM_RESERVE, PAGE_NOACCESS, NULL);
        }
        for (int i = 0; i < 4; i++)
            if (big[i])
                VirtualFree(big[i], 0, MEM_RELEASE);
    }

    /* reserve at an already reserved address */
    fresh(4 * GRAN, MEM_RESERVE, PAGE_READWRITE);
    va("A.reserve_again_exact", B, GRAN, MEM_RESERVE, PAGE_READWRITE, B);
    va("A.reserve_again_inside", B + GRAN, GRAN, MEM_RESERVE, PAGE_READWRITE, B + GRAN);
    va("A.rc_inside_reserved", B + 0x1000, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE,
       B + 0x1000);
    rel_all();
    free_addr(2 * GRAN);
    VirtualAlloc(B + GRAN, GRAN, MEM_RESERVE, PAGE_READWRITE);
    va("A.reserve_overlapping_next", B, 2 * GRAN, MEM_RESERVE, PAGE_READWRITE, B);
    VirtualFree(B + GRAN, 0, MEM_RELEASE);
}

/* ============================ VirtualFree ============================ */
static void free_cases(void)
{
    puts("## VirtualFree");
    /* every failing case runs on a live 2-granule committed region */
#define LIVE() (rel_all(), fresh(2 * GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE))
    LIVE();
    vf("F.release_size!=0", B, 0x1000, MEM_RELEASE, B);
    vf("F.release_size=full", B, 2 * GRAN, MEM_RELEASE, B);
    vf("F.release_not_at_base(+0x1000)", B + 0x1000, 0, MEM_RELEASE, B);
    vf("F.release_next_granule", B + GRAN, 0, MEM_RELEASE, B);
    vf("F.decommit|release", B, 0, MEM_DECOMMIT | MEM_RELEASE, B);
    vf("F.flags0", B, 0, 0, B);
    vf("F.flags=release|0x1(coalesce)", B, 0, MEM_RELEASE | 0x1, B);
    vf("F.flags=release|0x2(preserve_ph)", B, 0, MEM_RELEASE | 0x2, B);
    vf("F.flags=decommit|0x10000000", B, 0x1000, MEM_DECOMMIT | 0x10000000, B);
    vf("F.flags=reserve", B, 0x1000, MEM_RESERVE, B);
    vf("F.flags=decommit|0x1", B, 0x1000, MEM_DECOMMIT | 0x1, B);
    vf("F.release_base+0x10", B + 0x10, 0, MEM_RELEASE, B);
    LIVE();
    vf("F.release_base+0xfff", B + 0xfff, 0, MEM_RELEASE, B);
    LIVE();
    vf("F.decommit_size0_not_base", B + 0x1000, 0, MEM_DECOMMIT, B);
    out("F.decommit_size0_not_base.q+0x1000", 'b', 1, 0, B + 0x1000, NULL);
    LIVE();
    vf("F.decommit_size0_base+0x10", B + 0x10, 0, MEM_DECOMMIT, B);
    LIVE();
    vf("F.decommit_size0_at_base", B, 0, MEM_DECOMMIT, B);
    out("F.decommit_size0_at_base.q", 'b', 1, 0, B + GRAN, NULL);
    LIVE();
    vf("F.decommit_unaligned(+0x1234,0x10)", B + 0x1234, 0x10, MEM_DECOMMIT, B + 0x1000);
    out("F.decommit_unaligned.q0", 'b', 1, 0, B, NULL);
    vf("F.decommit_straddle(+0x3ff0,0x20)", B + 0x3ff0, 0x20, MEM_DECOMMIT, B + 0x3000);
    vf("F.decommit_reserved_only", B + 0x1000, 0x1000, MEM_DECOMMIT, B + 0x1000);
    vf("F.decommit_mixed", B, 0x3000, MEM_DECOMMIT, B);
    vf("F.decommit_past_end", B + GRAN, 2 * GRAN, MEM_DECOMMIT, B + GRAN);
    vf("F.decommit_exact_to_end", B + GRAN, GRAN, MEM_DECOMMIT, B + GRAN);
    vf("F.decommit_size_huge", B, (SIZE_T)-1, MEM_DECOMMIT, B + GRAN);
    LIVE();
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    vf("F.decommit_guard_page", B, 0x1000, MEM_DECOMMIT, B);
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    out("F.recommit_after_guard_decommit", 'b', 1, 0, B, NULL);
    {
        /* two adjacent allocations, decommit size 0 at the first base: stops at its end? */
        free_addr(2 * GRAN);
        char *r1 = VirtualAlloc(B, GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        char *r2 = VirtualAlloc(B + GRAN, GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        vf("F.decommit_size0_adjacent_alloc", B, 0, MEM_DECOMMIT, B);
        out("F.decommit_size0_adjacent.q2", 'b', 1, 0, B + GRAN, NULL);
        vf("F.release_span_adjacent(size!=0)", B, 2 * GRAN, MEM_RELEASE, B);
        if (r2)
            VirtualFree(r2, 0, MEM_RELEASE);
        (void)r1;
    }
    LIVE();
    vf("F.release_ok", B, 0, MEM_RELEASE, B);
    vf("F.release_twice", B, 0, MEM_RELEASE, B);
    vf("F.decommit_on_free", B, 0x1000, MEM_DECOMMIT, B);
    vf("F.decommit_size0_on_free", B, 0, MEM_DECOMMIT, B);
    B = NULL;
    vf("F.release_NULL", NULL, 0, MEM_RELEASE, NULL);
    vf("F.decommit_NULL_size0", NULL, 0, MEM_DECOMMIT, NULL);
    vf("F.decommit_NULL_size0x1000", NULL, 0x1000, MEM_DECOMMIT, NULL);
    vf("F.release_addr_above_max", (char *)SI.lpMaximumApplicationAddress + 1, 0, MEM_RELEASE,
       NULL);
    /* size 0 decommit at base on a reserve-only region, and re-commit reads zeros */
    fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    B[0] = 0x55;
    vf("F.decommit_then", B, 0x1000, MEM_DECOMMIT, B);
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    printf("%-34s | recommit reads B[0]=0x%02x (0 = zeroed)\n", "F.decommit_recommit.data",
           (unsigned char)B[0]);
    rel_all();
    /* release of a region made by two commits at different protections */
    fresh(GRAN, MEM_RESERVE, PAGE_READWRITE);
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READONLY);
    vf("F.release_partially_committed", B, 0, MEM_RELEASE, B);
}

/* ============================ VirtualProtect ============================ */
static void protect_cases(void)
{
    puts("## VirtualProtect");
    fresh(GRAN, MEM_RESERVE, PAGE_READWRITE);
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    VirtualAlloc(B + 0x1000, 0x1000, MEM_COMMIT, PAGE_READONLY);
    VirtualAlloc(B + 0x2000, 0x1000, MEM_COMMIT, PAGE_EXECUTE_READ);
    vp("V.reserved_pages", B + 0x4000, 0x1000, PAGE_READWRITE, B + 0x4000);
    vp("V.mixed_committed_reserved", B + 0x2000, 0x2000, PAGE_READWRITE, B + 0x2000);
    vp("V.mixed_prot_RW_RO_XR", B, 0x3000, PAGE_READWRITE, B);
    vp("V.mixed_prot_again(all RW)", B, 0x3000, PAGE_READONLY, B);
    VirtualProtect(B + 0x1000, 0x1000, PAGE_EXECUTE, &(DWORD){0});
    vp("V.mixed_start_2nd_page", B + 0x1000, 0x2000, PAGE_READWRITE, B + 0x1000);
    vp("V.unaligned(+0x123,1)", B + 0x123, 1, PAGE_READONLY, B);
    vp("V.straddle(+0xff0,0x20)", B + 0xff0, 0x20, PAGE_EXECUTE_READ, B);
    vp("V.size0", B, 0, PAGE_READWRITE, B);
    vp("V.size0_unaligned", B + 0x10, 0, PAGE_READWRITE, B);
    vp("V.guard|RW", B, 0x1000, PAGE_GUARD | PAGE_READWRITE, B);
    vp("V.from_guard_to_RW(old?)", B, 0x1000, PAGE_READWRITE, B);
    vp("V.nocache|RW", B, 0x1000, PAGE_NOCACHE | PAGE_READWRITE, B);
    vp("V.from_nocache(old?)", B, 0x1000, PAGE_READWRITE, B);
    vp("V.writecombine|RW", B, 0x1000, PAGE_WRITECOMBINE | PAGE_READWRITE, B);
    vp("V.from_writecombine(old?)", B, 0x1000, PAGE_READWRITE, B);
    vp("V.guard|noaccess", B, 0x1000, PAGE_GUARD | PAGE_NOACCESS, B);
    vp("V.nocache|noaccess", B, 0x1000, PAGE_NOCACHE | PAGE_NOACCESS, B);
    vp("V.nocache|writecombine|RW", B, 0x1000, PAGE_NOCACHE | PAGE_WRITECOMBINE | PAGE_READWRITE,
       B);
    vp("V.prot0", B, 0x1000, 0, B);
    vp("V.two_base(RO|RW)", B, 0x1000, PAGE_READONLY | PAGE_READWRITE, B);
    vp("V.guard_alone", B, 0x1000, PAGE_GUARD, B);
    vp("V.unknown_bit_0x800|RW", B, 0x1000, 0x800 | PAGE_READWRITE, B);
    vp("V.writecopy_on_private", B, 0x1000, PAGE_WRITECOPY, B);
    vp("V.exec_writecopy_on_private", B, 0x1000, PAGE_EXECUTE_WRITECOPY, B);
    vp("V.targets_no_update|XRW", B, 0x1000, PAGE_TARGETS_NO_UPDATE | PAGE_EXECUTE_READWRITE, B);
    vp("V.noaccess", B, 0x1000, PAGE_NOACCESS, B);
    vp("V.from_noaccess", B, 0x1000, PAGE_READWRITE, B);

    /* NULL old-protect pointer: does the protection still change? */
    SetLastError(SENTINEL);
    BOOL r = VirtualProtect(B, 0x1000, PAGE_READONLY, NULL);
    out("V.null_oldprot", 'b', r, GetLastError(), B, "RW->RO requested");
    vp("V.past_end_of_region", B + 0xf000, 0x2000, PAGE_READWRITE, B + 0xf000);
    rel_all();
    vp("V.free_memory", B, 0x1000, PAGE_READWRITE, B);
    B = NULL;
    vp("V.NULL_addr", NULL, 0x1000, PAGE_READWRITE, NULL);
    vp("V.above_max", (char *)SI.lpMaximumApplicationAddress + 1, 0x1000, PAGE_READWRITE, NULL);
}

/* ============================ VirtualQuery ============================ */
static void query_cases(void)
{
    const SIZE_T M = sizeof(MEMORY_BASIC_INFORMATION);
    puts("## VirtualQuery");
    printf("sizeof(MEMORY_BASIC_INFORMATION)=%zu\n", (size_t)M);
    free_addr(4 * GRAN);
    vq("Q.free_memory", B + 0x1234, M);
    /* 4 KiB reservation: tail of its 64 KiB granule */
    VirtualAlloc(B, 0x1000, MEM_RESERVE, PAGE_EXECUTE_READ);
    vq("Q.reserved_4k", B, M);
    vq("Q.granule_tail_after_4k_res", B + 0x1000, M);
    vq("Q.granule_tail_mid", B + 0x8000, M);
    va("A.reserve_in_granule_tail", B + 0x8000, 0x1000, MEM_RESERVE, PAGE_READWRITE, B + 0x8000);
    va("A.commit_in_granule_tail", B + 0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE, B + 0x1000);
    vf("F.release_in_granule_tail", B + 0x1000, 0, MEM_RELEASE, B + 0x1000);
    vq("Q.granule_tail_after_failures", B + 0x1000, M);
    VirtualFree(B, 0, MEM_RELEASE);
    fresh(GRAN, MEM_RESERVE, PAGE_READWRITE);
    vq("Q.reserved_mid", B + 0x3000, M);
    VirtualAlloc(B, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    VirtualAlloc(B + 0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    VirtualAlloc(B + 0x2000, 0x1000, MEM_COMMIT, PAGE_READONLY);
    VirtualAlloc(B + 0x3000, 0x1000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    VirtualAlloc(B + 0x4000, 0x1000, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE);
    vq("Q.merge_two_RW_commits", B, M);
    vq("Q.merge_from_mid", B + 0x1800, M);
    vq("Q.RO_run", B + 0x2000, M);
    vq("Q.guard_run", B + 0x3000, M);
    vq("Q.nocache_run", B + 0x4000, M);
    vq("Q.reserved_tail", B + 0x5000, M);
    vq("Q.len0", B, 0);
    vq("Q.len=M-1", B, M - 1);
    vq("Q.len=1", B, 1);
    vq("Q.len=M+1", B, M + 1);
    vq("Q.len=2M", B, 2 * M);
    rel_all();
    B = NULL;
    vq("Q.addr0", NULL, M);
    vq("Q.addr0x1000", (void *)0x1000, M);
    vq("Q.addr=max", SI.lpMaximumApplicationAddress, M);
    vq("Q.addr=max_granule", (char *)SI.lpMaximumApplicationAddress + 1 - GRAN, M);
    vq("Q.addr=max-0x1000", (char *)SI.lpMaximumApplicationAddress - 0x1000, M);
    vq("Q.addr=max+1", (char *)SI.lpMaximumApplicationAddress + 1, M);
    vq("Q.addr=max+1.len0(order)", (char *)SI.lpMaximumApplicationAddress + 1, 0);
    vq("Q.addr=0x800000000000", (void *)0x800000000000ull, M);
    vq("Q.addr=0xffff800000000000", (void *)0xffff800000000000ull, M);
    /* the probe's own image */
    vq("Q.own_code(main)", (void *)&query_cases, M);
    {
        int local;
        vq("Q.stack", &local, M);
    }
}

/* ===================== cases that may fault: run isolated ===================== */
static LONG CALLBACK veh(EXCEPTION_POINTERS *ep)
{
    DWORD c = ep->ExceptionRecord->ExceptionCode;
    if (c == STATUS_GUARD_PAGE_VIOLATION) {
        printf("%-34s | exception 0x%08lx GUARD_PAGE_VIOLATION at %s, continuing\n", "  (veh)",
               (unsigned long)c, rel((void *)ep->ExceptionRecord->ExceptionInformation[1]));
        fflush(stdout);
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    printf("%-34s | exception 0x%08lx info[0]=%llu addr=%s -> exit\n", "  (veh)", (unsigned long)c,
           (unsigned long long)ep->ExceptionRecord->ExceptionInformation[0],
           rel((void *)ep->ExceptionRecord->ExceptionInformation[1]));
    fflush(stdout);
    ExitProcess(3);
    return EXCEPTION_CONTINUE_SEARCH;
}

static int child(const char *name)
{
    AddVectoredExceptionHandler(1, veh);
    if (!strcmp(name, "Q.null_buffer")) {
        B = NULL;
        SetLastError(SENTINEL);
        SIZE_T r = VirtualQuery(&B, NULL, sizeof(MEMORY_BASIC_INFORMATION));
        out(name, 'z', r, GetLastError(), NULL, NULL);
    } else if (!strcmp(name, "Q.bad_buffer(0x1000)")) {
        SetLastError(SENTINEL);
        SIZE_T r = VirtualQuery(&B, (void *)0x1000, sizeof(MEMORY_BASIC_INFORMATION));
        out(name, 'z', r, GetLastError(), NULL, NULL);
    } else if (!strcmp(name, "Q.readonly_buffer")) {
        char *ro = fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY);
        SetLastError(SENTINEL);
        SIZE_T r =
            VirtualQuery(ro, (MEMORY_BASIC_INFORMATION *)ro, sizeof(MEMORY_BASIC_INFORMATION));
        out(name, 'z', r, GetLastError(), NULL, NULL);
    } else if (!strcmp(name, "V.bad_oldprot_ptr")) {
        fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        SetLastError(SENTINEL);
        BOOL r = VirtualProtect(B, 0x1000, PAGE_READONLY, (DWORD *)0x1000);
        out(name, 'b', r, GetLastError(), B, "RW->RO requested");
    } else if (!strcmp(name, "G.guard_touch")) {
        fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
        out("G.guard_before", 'p', (uintptr_t)B, 0, B, NULL);
        volatile char c = B[0x10];
        (void)c;
        out("G.guard_after_first_touch", 'p', (uintptr_t)B, 0, B, NULL);
        c = B[0x10];
        out("G.guard_second_touch_ok", 'p', (uintptr_t)B, 0, B, NULL);
    } else if (!strcmp(name, "G.guard_noaccess_touch")) {
        fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY | PAGE_GUARD);
        B[0x10] = 1; /* guard fires first, then write to RO -> AV */
    } else if (!strcmp(name, "G.write_readonly")) {
        fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY);
        B[0x10] = 1;
    } else if (!strcmp(name, "G.read_reserved")) {
        fresh(GRAN, MEM_RESERVE, PAGE_READWRITE);
        volatile char c = B[0x10];
        (void)c;
    } else if (!strcmp(name, "G.write_after_protect_RO_with_NULL_old")) {
        fresh(GRAN, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        VirtualProtect(B, 0x1000, PAGE_READONLY, NULL);
        B[0x10] = 1;
        out(name, 'p', (uintptr_t)B, 0, B, "write succeeded");
    } else if (!strcmp(name, "M.status_null")) {
        SetLastError(SENTINEL);
        BOOL r = GlobalMemoryStatusEx(NULL);
        out(name, 'b', r, GetLastError(), NULL, NULL);
    } else {
        printf("unknown case %s\n", name);
        return 1;
    }
    return 0;
}

static void isolated(const char *self, const char *name)
{
    char cmd[MAX_PATH + 64];
    STARTUPINFOA si = {sizeof si};
    PROCESS_INFORMATION pi;
    DWORD code = 0;
    snprintf(cmd, sizeof cmd, "\"%s\" %s", self, name);
    fflush(stdout);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        printf("%-34s | CreateProcess failed %lu\n", name, (unsigned long)GetLastError());
        return;
    }
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    printf("%-34s | child exit code 0x%lx\n", name, (unsigned long)code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
}

/* NTSTATUS -> Win32 error mapping used by the kernel32 wrappers (ntdll table) */
static void status_map(void)
{
    typedef ULONG(WINAPI * map_fn)(LONG);
    map_fn map =
        (map_fn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "RtlNtStatusToDosError");
    static const struct {
        const char *n;
        LONG s;
    } st[] = {
        {"STATUS_INVALID_PARAMETER", (LONG)0xC000000D},
        {"STATUS_CONFLICTING_ADDRESSES", (LONG)0xC0000018},
        {"STATUS_UNABLE_TO_FREE_VM", (LONG)0xC000001A},
        {"STATUS_INVALID_PAGE_PROTECTION", (LONG)0xC0000045},
        {"STATUS_FREE_VM_NOT_AT_BASE", (LONG)0xC000009F},
        {"STATUS_MEMORY_NOT_ALLOCATED", (LONG)0xC00000A0},
        {"STATUS_NO_MEMORY", (LONG)0xC0000017},
        {"STATUS_COMMITMENT_LIMIT", (LONG)0xC000012D},
        {"STATUS_ACCESS_VIOLATION", (LONG)0xC0000005},
        {"STATUS_INFO_LENGTH_MISMATCH", (LONG)0xC0000004},
        {"STATUS_INVALID_PARAMETER_2", (LONG)0xC00000F0},
        {"STATUS_INVALID_PARAMETER_3", (LONG)0xC00000F1},
        {"STATUS_INVALID_PARAMETER_4", (LONG)0xC00000F2},
        {"STATUS_INVALID_PARAMETER_5", (LONG)0xC00000F3},
        {"STATUS_PRIVILEGE_NOT_HELD", (LONG)0xC0000061},
        {"STATUS_NOT_COMMITTED", (LONG)0xC000002D},
        {"STATUS_ALREADY_COMMITTED", (LONG)0xC0000021},
        {"STATUS_INVALID_ADDRESS", (LONG)0xC0000141},
        {"STATUS_SECTION_PROTECTION", (LONG)0xC000004E},
    };
    puts("## RtlNtStatusToDosError");
    for (size_t i = 0; map && i < sizeof st / sizeof st[0]; i++)
        printf("%-34s | 0x%08lx -> %s\n", st[i].n, (unsigned long)st[i].s, errname(map(st[i].s)));
}

/* ============================ system info ============================ */
static void sysinfo_cases(void)
{
    SYSTEM_INFO n;
    MEMORYSTATUSEX ms;
    puts("## GetSystemInfo / GlobalMemoryStatusEx");
    printf("SI.wProcessorArchitecture=%u dwPageSize=0x%lx lpMinimumApplicationAddress=%p\n"
           "SI.lpMaximumApplicationAddress=%p dwActiveProcessorMask=0x%llx "
           "dwNumberOfProcessors=%lu\n"
           "SI.dwProcessorType=%lu dwAllocationGranularity=0x%lx wProcessorLevel=%u "
           "wProcessorRevision=0x%x\n",
           SI.wProcessorArchitecture, (unsigned long)SI.dwPageSize, SI.lpMinimumApplicationAddress,
           SI.lpMaximumApplicationAddress, (unsigned long long)SI.dwActiveProcessorMask,
           (unsigned long)SI.dwNumberOfProcessors, (unsigned long)SI.dwProcessorType,
           (unsigned long)SI.dwAllocationGranularity, SI.wProcessorLevel, SI.wProcessorRevision);
    GetNativeSystemInfo(&n);
    printf("GetNativeSystemInfo equal to GetSystemInfo: %s\n",
           memcmp(&n, &SI, sizeof n) ? "no" : "yes");

    memset(&ms, 0, sizeof ms);
    ms.dwLength = sizeof ms;
    SetLastError(SENTINEL);
    BOOL r = GlobalMemoryStatusEx(&ms);
    out("M.status_ok", 'b', r, GetLastError(), NULL, NULL);
    printf("M.fields dwLength=%lu dwMemoryLoad=%lu%% TotalPhys=%lluMiB AvailPhys=%lluMiB\n"
           "M.fields TotalPageFile=%lluMiB AvailPageFile=%lluMiB TotalVirtual=0x%llx "
           "AvailVirtual=0x%llx AvailExtendedVirtual=%llu\n",
           (unsigned long)ms.dwLength, (unsigned long)ms.dwMemoryLoad, ms.ullTotalPhys >> 20,
           ms.ullAvailPhys >> 20, ms.ullTotalPageFile >> 20, ms.ullAvailPageFile >> 20,
           ms.ullTotalVirtual, ms.ullAvailVirtual, ms.ullAvailExtendedVirtual);
    printf("M.TotalVirtual == max-min+1 ? %s (max+1-0x10000 = 0x%llx)\n",
           ms.ullTotalVirtual == (uintptr_t)SI.lpMaximumApplicationAddress + 1 -
                                     (uintptr_t)SI.lpMinimumApplicationAddress
               ? "yes"
               : "no",
           (unsigned long long)((uintptr_t)SI.lpMaximumApplicationAddress + 1 -
                                (uintptr_t)SI.lpMinimumApplicationAddress));
    static const DWORD lens[] = {0, sizeof(MEMORYSTATUSEX) - 1, sizeof(MEMORYSTATUSEX) + 1,
                                 sizeof(MEMORYSTATUS)};
    for (size_t i = 0; i < 4; i++) {
        char name[48];
        memset(&ms, 0xcc, sizeof ms);
        ms.dwLength = lens[i];
        snprintf(name, sizeof name, "M.status_dwLength=%lu", (unsigned long)lens[i]);
        SetLastError(SENTINEL);
        r = GlobalMemoryStatusEx(&ms);
        out(name, 'b', r, GetLastError(), NULL, NULL);
    }
    {
        MEMORYSTATUS o;
        memset(&o, 0, sizeof o);
        GlobalMemoryStatus(&o);
        printf("M.GlobalMemoryStatus dwLength=%lu TotalVirtual=0x%llx AvailVirtual=0x%llx\n",
               (unsigned long)o.dwLength, (unsigned long long)o.dwTotalVirtual,
               (unsigned long long)o.dwAvailVirtual);
    }
}

int main(int argc, char **argv)
{
    char self[MAX_PATH];
    GetSystemInfo(&SI);
    if (argc > 1)
        return child(argv[1]);
    GetModuleFileNameA(NULL, self, sizeof self);
    alloc_cases();
    free_cases();
    protect_cases();
    query_cases();
    puts("## isolated (may fault)");
    static const char *iso[] = {
        "Q.null_buffer",     "Q.bad_buffer(0x1000)", "Q.readonly_buffer",
        "V.bad_oldprot_ptr", "G.guard_touch",        "G.guard_noaccess_touch",
        "G.write_readonly",  "G.read_reserved",      "G.write_after_protect_RO_with_NULL_old",
        "M.status_null"};
    for (size_t i = 0; i < sizeof iso / sizeof iso[0]; i++)
        isolated(self, iso[i]);
    sysinfo_cases();
    status_map();
    return 0;
}
