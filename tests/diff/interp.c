/* Op-language interpreter for the differential test (see tools/oplang/README.md).
 *
 * One source, two builds: natively against winvmem (win32.h names), and with
 * x86_64-w64-mingw32-gcc against <windows.h>, run under Wine. Both print the same canonical
 * transcript: every address is written relative to a named allocation (A1+0x1000), free-region
 * sizes (which depend on the address-space layout) are written as '*', and memory is touched
 * through two probe instructions whose faults are caught and reported, never fatal.
 *
 * Input: one op per line; a line "---" ends a sequence and releases everything it made. */
#ifdef _WIN32
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#else
#include <winvmem/win32.h>
#include <signal.h>
#include <ucontext.h>
#endif
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 256
#define MAX_TOK   16

/* ---- fault-catching probes ------------------------------------------------------------------
 * The probe instructions use fixed registers so their encodings have known lengths: the
 * handler skips a faulting probe instead of unwinding. */
extern const char interp_rd_insn[], interp_wr_insn[];
static volatile int probe_fault; /* 0 none, 1 access violation, 2 guard page */

__attribute__((noinline)) static unsigned probe_read(const volatile unsigned char *p)
{
    unsigned v = 0;
    __asm__ volatile(".globl interp_rd_insn\ninterp_rd_insn: movb (%%rdi), %%al"
                     : "+a"(v)
                     : "D"(p)
                     : "memory");
    return v & 0xff;
}
__attribute__((noinline)) static void probe_write(volatile unsigned char *p, unsigned v)
{
    __asm__ volatile(".globl interp_wr_insn\ninterp_wr_insn: movb %%al, (%%rdi)"
                     :
                     : "a"(v), "D"(p)
                     : "memory");
}

/* Returns the length of the probe instruction at pc, 0 when pc is not a probe. */
static int probe_len(uintptr_t pc)
{
    if (pc == (uintptr_t)interp_rd_insn)
        return 2; /* 8a 07 */
    if (pc == (uintptr_t)interp_wr_insn)
        return 2; /* 88 07 */
    return 0;
}

#ifdef _WIN32
static LONG CALLBACK probe_handler(PEXCEPTION_POINTERS ep)
{
    int n = probe_len((uintptr_t)ep->ContextRecord->Rip);
    DWORD code = ep->ExceptionRecord->ExceptionCode;
    if (!n || (code != STATUS_ACCESS_VIOLATION && code != STATUS_GUARD_PAGE_VIOLATION))
        return EXCEPTION_CONTINUE_SEARCH;
    probe_fault = code == STATUS_GUARD_PAGE_VIOLATION ? 2 : 1;
    ep->ContextRecord->Rip += n;
    return EXCEPTION_CONTINUE_EXECUTION;
}
static void probe_init(void)
{
    AddVectoredExceptionHandler(1, probe_handler);
}
#else
static struct sigaction old_segv, old_bus;
static void probe_signal(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    int n = probe_len((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    if (!n) {
        struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
        if (old->sa_flags & SA_SIGINFO)
            old->sa_sigaction(sig, si, uc_);
        else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL)
            old->sa_handler(sig);
        else {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return;
    }
    probe_fault = 1;
    uc->uc_mcontext.gregs[REG_RIP] += n;
}
/* Guard-page violations arrive through winvmem's vectored handlers, when it supports them. */
static int32_t probe_veh(EXCEPTION_POINTERS *ep)
{
    ucontext_t *uc = ep->ContextRecord;
    int n = uc ? probe_len((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]) : 0;
    uint32_t code = ep->ExceptionRecord->ExceptionCode;
    if (!n || (code != STATUS_ACCESS_VIOLATION && code != STATUS_GUARD_PAGE_VIOLATION))
        return EXCEPTION_CONTINUE_SEARCH;
    probe_fault = code == STATUS_GUARD_PAGE_VIOLATION ? 2 : 1;
    uc->uc_mcontext.gregs[REG_RIP] += n;
    return EXCEPTION_CONTINUE_EXECUTION;
}
static void probe_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    if (!getenv("INTERP_NO_VEH"))
        AddVectoredExceptionHandler(1, probe_veh);
}
#endif

/* 'w' writable, 'r' read-only, '-' faults, 'g' guard page (the guard is consumed). */
/* The page's state as VirtualQuery reports it: c committed, r reserved, f free, ? error. */
static char page_state(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    if (!VirtualQuery(p, &m, sizeof m))
        return '?';
    return m.State == MEM_COMMIT ? 'c' : m.State == MEM_RESERVE ? 'r' : 'f';
}

static char probe_page(unsigned char *p)
{
    probe_fault = 0;
    unsigned v = probe_read(p);
    if (probe_fault)
        return probe_fault == 2 ? 'g' : '-';
    probe_write(p, v);
    if (probe_fault)
        return probe_fault == 2 ? 'g' : 'r';
    return 'w';
}

/* ---- app-container variants: Windows 10 kernelbase exports; looked up at run time so that the
 * program still starts on a Wine without them ("unsupported" in the transcript). */
typedef PVOID(WINAPI *alloc_app_fn)(PVOID, SIZE_T, ULONG, ULONG);
typedef BOOL(WINAPI *protect_app_fn)(PVOID, SIZE_T, ULONG, PULONG);
static alloc_app_fn alloc_app;
static protect_app_fn protect_app;

static void app_init(void)
{
#ifdef _WIN32
    HMODULE k = GetModuleHandleA("kernelbase.dll");
    if (k) {
        alloc_app = (alloc_app_fn)(void (*)(void))GetProcAddress(k, "VirtualAllocFromApp");
        protect_app = (protect_app_fn)(void (*)(void))GetProcAddress(k, "VirtualProtectFromApp");
    }
#else
    alloc_app = VirtualAllocFromApp;
    protect_app = VirtualProtectFromApp;
#endif
}

/* ---- names and address normalisation -------------------------------------------------------- */

typedef struct name {
    char id[16];
    uintptr_t value; /* what the op returned (0 for a failed alloc) */
    uintptr_t span;  /* > 0: a region of this size starting at value, used for normalising */
    int hole;        /* reserved then released by 'hole': not released at reset */
} name;

static name names[MAX_NAMES];
static int nnames;
static unsigned long lineno;

static name *find_name(const char *id)
{
    for (int i = nnames - 1; i >= 0; i--)
        if (!strcmp(names[i].id, id))
            return &names[i];
    return NULL;
}

/* Writes addr as NAME+0xOFF relative to the newest region that contains it (end inclusive),
 * else the newest within 1 MiB of it, else as a layout-independent token. */
static const char *norm(uintptr_t a, char *buf, size_t n)
{
    if (a == 0) {
        snprintf(buf, n, "0");
        return buf;
    }
    const name *best = NULL;
    for (int i = nnames - 1; i >= 0 && !best; i--)
        if (names[i].span && a >= names[i].value && a - names[i].value <= names[i].span)
            best = &names[i];
    for (int i = nnames - 1; i >= 0 && !best; i--)
        if (names[i].span && a + (1u << 20) >= names[i].value &&
            a - names[i].value <= names[i].span + (1u << 20))
            best = &names[i];
    if (!best) {
        if (a >= ((uintptr_t)1 << 47))
            snprintf(buf, n, "0x%" PRIxPTR, a);
        else
            snprintf(buf, n, "FOREIGN");
        return buf;
    }
    if (a >= best->value)
        snprintf(buf, n, "%s+0x%" PRIxPTR, best->id, a - best->value);
    else
        snprintf(buf, n, "%s-0x%" PRIxPTR, best->id, best->value - a);
    return buf;
}

/* ---- parsing ----------------------------------------------------------------------------------
 */

typedef struct sym {
    const char *s;
    uint32_t v;
} sym;

static const sym type_syms[] = {{"COMMIT", MEM_COMMIT},
                                {"RESERVE", MEM_RESERVE},
                                {"DECOMMIT", MEM_DECOMMIT},
                                {"RELEASE", MEM_RELEASE},
                                {"RESET", MEM_RESET},
                                {"TOP_DOWN", MEM_TOP_DOWN},
                                {"WRITE_WATCH", MEM_WRITE_WATCH},
                                {"PHYSICAL", MEM_PHYSICAL},
                                {"RESET_UNDO", MEM_RESET_UNDO},
                                {"LARGE_PAGES", MEM_LARGE_PAGES},
                                {NULL, 0}};
static const sym prot_syms[] = {{"NOACCESS", PAGE_NOACCESS},
                                {"READONLY", PAGE_READONLY},
                                {"READWRITE", PAGE_READWRITE},
                                {"WRITECOPY", PAGE_WRITECOPY},
                                {"EXECUTE", PAGE_EXECUTE},
                                {"EXECUTE_READ", PAGE_EXECUTE_READ},
                                {"EXECUTE_READWRITE", PAGE_EXECUTE_READWRITE},
                                {"EXECUTE_WRITECOPY", PAGE_EXECUTE_WRITECOPY},
                                {"GUARD", PAGE_GUARD},
                                {"NOCACHE", PAGE_NOCACHE},
                                {"WRITECOMBINE", PAGE_WRITECOMBINE},
                                {NULL, 0}};

static int bad; /* set by the parsers on a malformed token */

static uint64_t parse_num(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 0);
    if (end == s || *end)
        bad = 1;
    return v;
}

/* FLAG|FLAG|0x10 */
static uint32_t parse_flags(const char *s, const sym *tab)
{
    uint32_t v = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        const sym *m = tab;
        while (m->s && strcmp(m->s, t))
            m++;
        v |= m->s ? m->v : (uint32_t)parse_num(t);
    }
    return v;
}

/* 0 | 0xABS | NAME | NAME+0xOFF | NAME-0xOFF, optionally prefixed with '@'. Sets *skip when
 * NAME holds a failed result (0), so the op is skipped identically on both sides. */
static uintptr_t parse_addr(const char *s, int *skip)
{
    if (*s == '@')
        s++;
    if (isdigit((unsigned char)*s))
        return (uintptr_t)parse_num(s);
    char id[16];
    size_t n = strcspn(s, "+-");
    if (n >= sizeof id) {
        bad = 1;
        return 0;
    }
    memcpy(id, s, n);
    id[n] = 0;
    name *nm = find_name(id);
    if (!nm) {
        bad = 1;
        return 0;
    }
    if (!nm->value)
        *skip = 1;
    uintptr_t v = nm->value;
    if (s[n] == '+')
        v += (uintptr_t)parse_num(s + n + 1);
    else if (s[n] == '-')
        v -= (uintptr_t)parse_num(s + n + 1);
    return v;
}

/* ---- ops --------------------------------------------------------------------------------------
 */

static void print_err(int ok)
{
    if (ok)
        printf("\n");
    else
        printf(" err=%lu\n", (unsigned long)GetLastError());
}

/* Where a failed call's range lies (computed after the call, printed by both sides, so it is
 * compared too): F first page free, I inside one allocation, X leaves it, O wraps around,
 * E not a user address. The comparator's known-difference rules use it. */
static char range_ctx(uintptr_t a, uintptr_t size)
{
    MEMORY_BASIC_INFORMATION m;
    uintptr_t end = a + size;
    if (end < a)
        return 'O';
    if (!VirtualQuery((void *)a, &m, sizeof m))
        return 'E';
    if (m.State == MEM_FREE)
        return 'F';
    void *ab = m.AllocationBase;
    for (;;) {
        uintptr_t next = (uintptr_t)m.BaseAddress + m.RegionSize;
        if (next >= end)
            return 'I';
        if (!VirtualQuery((void *)next, &m, sizeof m) || m.State == MEM_FREE ||
            m.AllocationBase != ab)
            return 'X';
    }
}

static void print_result(int ok, uintptr_t a, uintptr_t size)
{
    DWORD e = GetLastError();
    if (!ok)
        printf(" err=%lu ctx=%c\n", (unsigned long)e, range_ctx(a, size));
    else
        printf("\n");
}

static void print_mbi(const MEMORY_BASIC_INFORMATION *m)
{
    char b1[64], b2[64];
    printf(" base=%s abase=%s aprot=0x%lx", norm((uintptr_t)m->BaseAddress, b1, sizeof b1),
           norm((uintptr_t)m->AllocationBase, b2, sizeof b2), (unsigned long)m->AllocationProtect);
    if (m->State == MEM_FREE)
        printf(" size=*");
    else
        printf(" size=0x%zx", (size_t)m->RegionSize);
    printf(" state=0x%lx prot=0x%lx type=0x%lx", (unsigned long)m->State, (unsigned long)m->Protect,
           (unsigned long)m->Type);
}

static void add_name(const char *id, uintptr_t value, uintptr_t span, int hole)
{
    if (nnames == MAX_NAMES) {
        fprintf(stderr, "interp: line %lu: too many names\n", lineno);
        exit(2);
    }
    name *nm = &names[nnames++];
    snprintf(nm->id, sizeof nm->id, "%s", id);
    nm->value = value;
    nm->span = span;
    nm->hole = hole;
}

static void op_alloc(const char *id, char **t, int skip, int app)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T size = (SIZE_T)parse_num(t[1]);
    DWORD type = parse_flags(t[2], type_syms), prot = parse_flags(t[3], prot_syms);
    if (bad || skip) {
        if (id)
            add_name(id, 0, 0, 0);
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    if (app && !alloc_app) {
        printf(" -> unsupported\n");
        if (id)
            add_name(id, 0, 0, 0);
        return;
    }
    SetLastError(0);
    void *p =
        app ? alloc_app((void *)a, size, type, prot) : VirtualAlloc((void *)a, size, type, prot);
    char b[64];
    printf(" -> %s", p ? "" : "0");
    uintptr_t span = 0;
    if (p) {
        MEMORY_BASIC_INFORMATION m;
        /* A new region names its allocation; an address inside an older one is an alias. */
        if (VirtualQuery(p, &m, sizeof m) && m.AllocationBase == p)
            span = size;
        if (id && span)
            printf("%s", id);
        else
            printf("%s", norm((uintptr_t)p, b, sizeof b));
    }
    if (a)
        print_result(p != NULL, a, size);
    else
        print_err(p != NULL);
    if (id)
        add_name(id, (uintptr_t)p, span, 0);
}

static void op_hole(const char *id, char **t)
{
    SIZE_T size = (SIZE_T)parse_num(t[0]);
    void *p = VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_NOACCESS);
    int ok = p && VirtualFree(p, 0, MEM_RELEASE);
    printf(" -> %s\n", ok ? "ok" : "failed");
    add_name(id, ok ? (uintptr_t)p : 0, ok ? size : 0, 1);
}

static void op_free(char **t, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T size = (SIZE_T)parse_num(t[1]);
    DWORD type = parse_flags(t[2], type_syms);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    SetLastError(0);
    BOOL r = VirtualFree((void *)a, size, type);
    printf(" -> %d", r ? 1 : 0);
    print_result(r, a, size);
}

static void op_protect(char **t, int nt, int skip, int app)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T size = (SIZE_T)parse_num(t[1]);
    DWORD prot = parse_flags(t[2], prot_syms), old = 0xdeadbeef;
    int noold = nt > 3 && !strcmp(t[3], "noold");
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    if (app && !protect_app) {
        printf(" -> unsupported\n");
        return;
    }
    SetLastError(0);
    ULONG old_app = 0xdeadbeef;
    BOOL r = app ? protect_app((void *)a, size, prot, noold ? NULL : &old_app)
                 : VirtualProtect((void *)a, size, prot, noold ? NULL : &old);
    if (app)
        old = old_app;
    printf(" -> %d", r ? 1 : 0);
    if (r && !noold)
        printf(" old=0x%lx", (unsigned long)old);
    print_result(r, a, size);
}

/* GetWriteWatch (up to 64 addresses, printed relative to names) / ResetWriteWatch */
static void op_ww(char **t, int nt, int skip, int resetonly)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T size = (SIZE_T)parse_num(t[1]);
    int reset = nt > 2 && !strcmp(t[2], "reset");
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    SetLastError(0);
    if (resetonly) {
        UINT r = ResetWriteWatch((void *)a, size);
        printf(" -> %u", r);
        print_err(r == 0);
        return;
    }
    PVOID addrs[64];
    ULONG_PTR count = 64;
    ULONG gran = 0;
    UINT r =
        GetWriteWatch(reset ? WRITE_WATCH_FLAG_RESET : 0, (void *)a, size, addrs, &count, &gran);
    if (r) {
        printf(" -> %u", r);
        print_err(0);
        return;
    }
    printf(" -> 0 count=%lu gran=0x%lx", (unsigned long)count, (unsigned long)gran);
    char b[64];
    for (ULONG_PTR i = 0; i < count && i < 64; i++)
        printf(" %s", norm((uintptr_t)addrs[i], b, sizeof b));
    printf("\n");
}

/* VirtualLock / VirtualUnlock */
static void op_lock(char **t, int skip, int unlock)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T size = (SIZE_T)parse_num(t[1]);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    SetLastError(0);
    BOOL r = unlock ? VirtualUnlock((void *)a, size) : VirtualLock((void *)a, size);
    printf(" -> %d", r ? 1 : 0);
    print_result(r, a, size);
}

static void op_query(char **t, int nt, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    SIZE_T len = nt > 1 ? (SIZE_T)parse_num(t[1]) : sizeof(MEMORY_BASIC_INFORMATION);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    MEMORY_BASIC_INFORMATION m[2];
    memset(m, 0x5a, sizeof m);
    if (len > sizeof m)
        len = sizeof m;
    SetLastError(0);
    SIZE_T r = VirtualQuery((void *)a, m, len);
    printf(" -> %zu", (size_t)r);
    if (r >= sizeof m[0])
        print_mbi(&m[0]);
    print_err(r != 0);
}

/* All regions of the allocation that contains the address, in order. */
static void op_scan(char **t, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    MEMORY_BASIC_INFORMATION m;
    if (!VirtualQuery((void *)a, &m, sizeof m) || m.State == MEM_FREE) {
        printf(" -> none\n");
        return;
    }
    void *ab = m.AllocationBase;
    printf("\n");
    for (uintptr_t p = (uintptr_t)ab; VirtualQuery((void *)p, &m, sizeof m); p += m.RegionSize) {
        if (m.AllocationBase != ab || m.State == MEM_FREE || !m.RegionSize)
            break;
        printf("  ");
        print_mbi(&m);
        printf("\n");
    }
}

static void op_write(char **t, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    unsigned v = (unsigned)parse_num(t[1]);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    char st = page_state((void *)a);
    probe_fault = 0;
    probe_write((unsigned char *)a, v);
    printf(" -> %s %c\n", probe_fault == 2 ? "guard" : probe_fault ? "fault" : "ok", st);
}

static void op_read(char **t, int nt, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    unsigned n = nt > 1 ? (unsigned)parse_num(t[1]) : 1;
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    printf(" ->");
    for (unsigned i = 0; i < n && i < 64; i++) {
        char st = page_state((unsigned char *)a + i);
        probe_fault = 0;
        unsigned v = probe_read((unsigned char *)a + i);
        if (probe_fault) {
            printf(" %s %c", probe_fault == 2 ? "guard" : "fault", st);
            break;
        }
        printf(" %02x", v);
    }
    printf("\n");
}

/* One character per page (see probe_page), then a checksum of the readable bytes. */
static void op_access(char **t, int skip)
{
    uintptr_t a = parse_addr(t[0], &skip);
    uintptr_t size = (uintptr_t)parse_num(t[1]);
    if (bad || skip) {
        if (!bad)
            printf(" -> skip\n");
        return;
    }
    a &= ~(uintptr_t)4095;
    uint32_t sum = 0;
    char st[64 * 256 + 1], acc[sizeof st];
    size_t np = 0;
    for (uintptr_t off = 0; off < size && np < sizeof st - 1; off += 4096, np++) {
        unsigned char *p = (unsigned char *)(a + off);
        st[np] = page_state(p);
        acc[np] = probe_page(p);
        if (acc[np] == 'w' || acc[np] == 'r')
            for (int i = 0; i < 4096; i += 64)
                sum = sum * 31 + p[i];
    }
    st[np] = acc[np] = 0;
    printf(" -> %s %s", acc, st);
    printf(" sum=%08lx\n", (unsigned long)sum);
}

static void reset(void)
{
    for (int i = nnames - 1; i >= 0; i--)
        if (names[i].span && !names[i].hole) {
            MEMORY_BASIC_INFORMATION m;
            if (VirtualQuery((void *)names[i].value, &m, sizeof m) && m.State != MEM_FREE &&
                m.AllocationBase == (void *)names[i].value)
                VirtualFree((void *)names[i].value, 0, MEM_RELEASE);
        }
    nnames = 0;
}

static void run_line(char *line)
{
    char *t[MAX_TOK];
    int nt = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w && nt < MAX_TOK;
         w = strtok_r(NULL, " \t\r\n", &save))
        t[nt++] = w;
    if (!nt || t[0][0] == '#')
        return;
    if (!strcmp(t[0], "---")) {
        reset();
        lineno = 0;
        printf("---\n");
        fflush(stdout);
        return;
    }
    const char *id = NULL;
    if (nt >= 3 && !strcmp(t[1], "=")) {
        id = t[0];
        t[0] = t[2];
        memmove(t + 1, t + 3, (size_t)(nt - 3) * sizeof *t);
        nt -= 2;
    }
    static const struct {
        const char *op;
        int args;
    } arity[] = {{"alloc", 4},   {"allocapp", 4},   {"hole", 1},    {"free", 3},
                 {"protect", 3}, {"protectapp", 3}, {"query", 1},   {"scan", 1},
                 {"write", 2},   {"read", 1},       {"access", 2},  {"lock", 2},
                 {"unlock", 2},  {"ww", 2},         {"resetww", 2}, {NULL, 0}};
    int k = 0;
    while (arity[k].op && strcmp(arity[k].op, t[0]))
        k++;
    bad = !arity[k].op || nt - 1 < arity[k].args ||
          (id && strcmp(t[0], "alloc") && strcmp(t[0], "allocapp") && strcmp(t[0], "hole"));
    printf("%lu %s", lineno, t[0]);
    if (bad) {
        printf(" -> syntax\n");
        return;
    }
    char **a = t + 1;
    int na = nt - 1, skip = 0;
    if (!strcmp(t[0], "alloc") || !strcmp(t[0], "allocapp"))
        op_alloc(id, a, skip, t[0][5] == 'a');
    else if (!strcmp(t[0], "hole"))
        op_hole(id, a);
    else if (!strcmp(t[0], "free"))
        op_free(a, skip);
    else if (!strcmp(t[0], "protect") || !strcmp(t[0], "protectapp"))
        op_protect(a, na, skip, t[0][7] == 'a');
    else if (!strcmp(t[0], "ww") || !strcmp(t[0], "resetww"))
        op_ww(a, na, skip, t[0][0] == 'r');
    else if (!strcmp(t[0], "lock") || !strcmp(t[0], "unlock"))
        op_lock(a, skip, t[0][0] == 'u');
    else if (!strcmp(t[0], "query"))
        op_query(a, na, skip);
    else if (!strcmp(t[0], "scan"))
        op_scan(a, skip);
    else if (!strcmp(t[0], "write"))
        op_write(a, skip);
    else if (!strcmp(t[0], "read"))
        op_read(a, na, skip);
    else
        op_access(a, skip);
    if (bad)
        printf(" -> syntax\n");
}

int main(int argc, char **argv)
{
    FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!in) {
        perror(argv[1]);
        return 2;
    }
#ifdef _WIN32
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    probe_init();
    app_init();
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        lineno++;
        run_line(line);
    }
    reset();
    fflush(stdout);
    return 0;
}
