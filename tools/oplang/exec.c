/* The op language's executor: one op, one Windows call (plus, unless OPL_CTX_CALL_ONLY, the
 * VirtualQuery calls that place its result: the range context of a failure, page states next
 * to touches, whether an allocation is new), results as data. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oplang_int.h"

/* ---- the FromApp variants: Windows 10 kernelbase exports, looked up at run time so the
 * program still starts on a Wine without them (status OPL_UNSUPPORTED). */
typedef PVOID(WINAPI *alloc_app_fn)(PVOID, SIZE_T, ULONG, ULONG);
typedef BOOL(WINAPI *protect_app_fn)(PVOID, SIZE_T, ULONG, PULONG);
/* Windows 8.1's DiscardVirtualMemory, OfferVirtualMemory, ReclaimVirtualMemory (Wine 8 lacks
 * them): the same way. */
typedef DWORD(WINAPI *discard_fn)(PVOID, SIZE_T);
typedef DWORD(WINAPI *offer_fn)(PVOID, SIZE_T, OFFER_PRIORITY);
typedef DWORD(WINAPI *reclaim_fn)(void const *, SIZE_T);

#ifdef _WIN32
static alloc_app_fn alloc_app;
static protect_app_fn protect_app;
static discard_fn discard_vm;
static offer_fn offer_vm;
static reclaim_fn reclaim_vm;

static BOOL CALLBACK find_app(PINIT_ONCE once, PVOID arg, PVOID *ctx)
{
    HMODULE k = GetModuleHandleA("kernelbase.dll");
    if (k) {
        alloc_app = (alloc_app_fn)(void (*)(void))GetProcAddress(k, "VirtualAllocFromApp");
        protect_app = (protect_app_fn)(void (*)(void))GetProcAddress(k, "VirtualProtectFromApp");
        discard_vm = (discard_fn)(void (*)(void))GetProcAddress(k, "DiscardVirtualMemory");
        offer_vm = (offer_fn)(void (*)(void))GetProcAddress(k, "OfferVirtualMemory");
        reclaim_vm = (reclaim_fn)(void (*)(void))GetProcAddress(k, "ReclaimVirtualMemory");
    }
    return TRUE;
}

static void app_init(void)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    InitOnceExecuteOnce(&once, find_app, NULL, NULL);
}

uint64_t opl__now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (uint64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
}
#else
static const alloc_app_fn alloc_app = VirtualAllocFromApp;
static const protect_app_fn protect_app = VirtualProtectFromApp;
static const discard_fn discard_vm = DiscardVirtualMemory;
static const offer_fn offer_vm = OfferVirtualMemory;
static const reclaim_fn reclaim_vm = ReclaimVirtualMemory;

static void app_init(void) {}

uint64_t opl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* ---- contexts and names --------------------------------------------------------------- */

opl_ctx_t *opl_ctx_new(unsigned flags)
{
    opl_init();
    app_init();
    opl_ctx_t *c = calloc(1, sizeof *c);
    if (c)
        c->flags = flags;
    return c;
}

void opl_ctx_free(opl_ctx_t *c)
{
    if (!c)
        return;
    free(c->names);
    free(c->allocs);
    free(c->pages);
    free(c->regions);
    free(c->handles);
    free(c);
}

static opl__name_t *find_name(const opl_ctx_t *c, const char *id)
{
    for (size_t i = c->nnames; i-- > 0;)
        if (!strcmp(c->names[i].id, id))
            return &c->names[i];
    return NULL;
}

const opl__name_t *opl__find_name(const opl_ctx_t *c, const char *id)
{
    return find_name(c, id);
}

int opl__add_name(opl_ctx_t *c, const char *id, uintptr_t value, uintptr_t span, int hole)
{
    if (strlen(id) >= OPL_NAME_MAX)
        return -1;
    if (c->nnames == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        opl__name_t *p = realloc(c->names, cap * sizeof *p);
        if (!p)
            return -1;
        c->names = p;
        c->cap = cap;
    }
    opl__name_t *n = &c->names[c->nnames++];
    memcpy(n->id, id, strlen(id) + 1);
    n->value = value;
    n->span = span;
    n->hole = hole;
    return 0;
}

int opl_name_set(opl_ctx_t *c, const char *name, uintptr_t value, uintptr_t span)
{
    return opl__add_name(c, name, value, span, 0);
}

int opl_name_get(const opl_ctx_t *c, const char *name, uintptr_t *value, uintptr_t *span)
{
    const opl__name_t *n = find_name(c, name);
    if (!n)
        return -1;
    *value = n->value;
    if (span)
        *span = n->span;
    return 0;
}

/* Only what this context reserved and did not release itself: with several threads, an address
 * another context released may hold that context's next allocation. Views are unmapped,
 * placeholders and their pieces released, handles closed. */
void opl_ctx_end(opl_ctx_t *c)
{
    for (size_t i = c->nallocs; i-- > 0;) {
        uintptr_t a = c->allocs[i];
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery((void *)a, &m, sizeof m) && m.State != MEM_FREE &&
            m.AllocationBase == (void *)a) {
            if (m.Type == MEM_MAPPED)
                UnmapViewOfFile((void *)a);
            else
                VirtualFree((void *)a, 0, MEM_RELEASE);
        }
    }
    c->nallocs = 0;
    opl__close_handles(c);
    c->nnames = 0;
}

void opl__track(opl_ctx_t *c, uintptr_t a)
{
    if (c->nallocs == c->allocs_cap) {
        size_t cap = c->allocs_cap ? c->allocs_cap * 2 : 32;
        uintptr_t *p = realloc(c->allocs, cap * sizeof *p);
        if (!p)
            return;
        c->allocs = p;
        c->allocs_cap = cap;
    }
    c->allocs[c->nallocs++] = a;
}

void opl__untrack(opl_ctx_t *c, uintptr_t a)
{
    for (size_t i = c->nallocs; i-- > 0;)
        if (c->allocs[i] == a)
            c->allocs[i] = c->allocs[--c->nallocs];
}

/* ---- helpers -------------------------------------------------------------------------- */

/* Where a failed call's range lies (see opl_result_t.range). */
char opl__range_ctx(uintptr_t a, uintptr_t size)
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

/* The page's state: c committed, r reserved, f free, ? the query failed. */
static char page_state(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    if (!VirtualQuery(p, &m, sizeof m))
        return '?';
    return m.State == MEM_COMMIT ? 'c' : m.State == MEM_RESERVE ? 'r' : 'f';
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int push_region(opl_ctx_t *c, opl_result_t *r, const MEMORY_BASIC_INFORMATION *m)
{
    if (grow((void **)&c->regions, &c->regions_cap, r->nregions + 1, sizeof *c->regions))
        return -1;
    c->regions[r->nregions++] = *m;
    r->regions = c->regions;
    return 0;
}

/* Appends every region of the allocation holding a; 0 when a is in none. */
static int scan_alloc(opl_ctx_t *c, opl_result_t *r, uintptr_t a)
{
    MEMORY_BASIC_INFORMATION m;
    if (!VirtualQuery((void *)a, &m, sizeof m) || m.State == MEM_FREE)
        return 0;
    void *ab = m.AllocationBase;
    for (uintptr_t p = (uintptr_t)ab; VirtualQuery((void *)p, &m, sizeof m); p += m.RegionSize) {
        if (m.AllocationBase != ab || m.State == MEM_FREE || !m.RegionSize)
            break;
        if (push_region(c, r, &m))
            break;
    }
    return 1;
}

/* 'w' writable, 'r' read-only, '-' faults, 'g' guard page (the guard is consumed). */
static char probe_page(unsigned char *p)
{
    unsigned char v;
    char f = opl_probe_read(p, &v);
    if (f)
        return f == 'g' ? 'g' : '-';
    f = opl_probe_write(p, v);
    if (f)
        return f == 'g' ? 'g' : 'r';
    return 'w';
}

#define ACCESS_MAX_PAGES (64 * 256)

static void do_access(opl_ctx_t *c, opl_result_t *r, uintptr_t a, uint64_t size)
{
    a &= ~(uintptr_t)(OPL_PAGE - 1);
    size_t want =
        (size_t)(size < (uint64_t)ACCESS_MAX_PAGES * OPL_PAGE ? (size + OPL_PAGE - 1) / OPL_PAGE
                                                              : ACCESS_MAX_PAGES);
    if (grow((void **)&c->pages, &c->pages_cap, 2 * (want + 1), 1)) {
        r->status = OPL_UNSUPPORTED;
        return;
    }
    char *pages = c->pages, *states = c->pages + want + 1;
    uint32_t sum = 0;
    size_t np = 0;
    for (uint64_t off = 0; off < size && np < ACCESS_MAX_PAGES; off += OPL_PAGE, np++) {
        unsigned char *p = (unsigned char *)(a + off);
        states[np] = c->flags & OPL_CTX_CALL_ONLY ? '?' : page_state(p);
        pages[np] = probe_page(p);
        if (pages[np] == 'w' || pages[np] == 'r')
            for (int i = 0; i < (int)OPL_PAGE; i += 64) {
                unsigned char v = 0;
                if (opl_probe_read(p + i, &v))
                    break;
                sum = sum * 31 + v;
            }
    }
    pages[np] = states[np] = 0;
    r->pages = pages;
    r->states = states;
    r->sum = sum;
}

/* Copies n bytes of caller-placed memory through the probes; the first fault stops it and is
 * recorded (dst keeps what it had from there on). */
static void copy_out(opl_result_t *r, void *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        char f = opl_probe_read(s + i, &d[i]);
        if (f) {
            if (!r->out_fault)
                r->out_fault = f;
            return;
        }
    }
}

/* ---- ops ------------------------------------------------------------------------------ */

#define CALL OPL_CALL

static void do_alloc(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r, int only)
{
    uintptr_t a = r->addr;
    int app = op->kind == OPL_ALLOCAPP;
    if (app && !alloc_app) {
        r->status = OPL_UNSUPPORTED;
        return;
    }
    void *p;
    if (op->kind == OPL_ALLOCNUMA)
        CALL(r, p = VirtualAllocExNuma(GetCurrentProcess(), (void *)a, (SIZE_T)op->size, op->type,
                                       op->prot, op->arg));
    else
        CALL(r, p = app ? alloc_app((void *)a, (SIZE_T)op->size, op->type, op->prot)
                        : VirtualAlloc((void *)a, (SIZE_T)op->size, op->type, op->prot));
    r->ret = (uintptr_t)p;
    r->failed = !p;
    uintptr_t span = 0;
    if (p) {
        /* A new region names its allocation; an address inside an older one is an alias. */
        MEMORY_BASIC_INFORMATION m;
        span = (SIZE_T)op->size;
        if (!only && !(VirtualQuery(p, &m, sizeof m) && m.AllocationBase == p))
            span = 0;
        if (op->type & MEM_RESERVE) /* a new allocation at p */
            opl__track(c, (uintptr_t)p);
    } else if (a && !only) {
        r->range = opl__range_ctx(a, (uintptr_t)op->size);
    }
    if (op->def[0])
        opl__add_name(c, op->def, (uintptr_t)p, span, 0);
}

/* Free address space with a free 64 KiB granule on either side that no name covers: the
 * hole's first and last addresses are never where an earlier allocation happens to end or
 * begin, so they print as H+... on any layout (the transcript names an address at an
 * allocation's end after that allocation). */
#define OPL_HOLE_MARGIN 0x10000u
static void do_hole(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r)
{
    void *p;
    int ok;
    CALL(r,
         p = VirtualAlloc(NULL, (SIZE_T)op->size + 2 * OPL_HOLE_MARGIN, MEM_RESERVE, PAGE_NOACCESS);
         ok = p && VirtualFree(p, 0, MEM_RELEASE));
    r->ret = ok ? (uintptr_t)p + OPL_HOLE_MARGIN : 0;
    r->failed = !ok;
    opl__add_name(c, op->def, r->ret, ok ? (uintptr_t)op->size : 0, 1);
}

static void do_protect(const opl_op_t *op, opl_result_t *r)
{
    int app = op->kind == OPL_PROTECTAPP, noold = op->flags & OPL_F_NOOLD;
    if (app && !protect_app) {
        r->status = OPL_UNSUPPORTED;
        return;
    }
    DWORD old = 0xdeadbeef;
    ULONG old_app = 0xdeadbeef;
    BOOL ok;
    void *a = (void *)r->addr;
    PDWORD po = noold ? NULL : op->out.old_prot ? (PDWORD)op->out.old_prot : &old;
    PULONG pa = noold ? NULL : op->out.old_prot ? (PULONG)op->out.old_prot : &old_app;
    CALL(r, ok = app ? protect_app(a, (SIZE_T)op->size, op->prot, pa)
                     : VirtualProtect(a, (SIZE_T)op->size, op->prot, po));
    r->ret = ok ? 1 : 0;
    r->old_prot = app ? (uint32_t)old_app : (uint32_t)old;
    if (!noold && op->out.old_prot) {
        uint32_t v = 0xdeadbeef;
        copy_out(r, &v, op->out.old_prot, sizeof v);
        r->old_prot = v;
    }
}

static void do_watch(const opl_op_t *op, opl_result_t *r)
{
    PVOID addrs[OPL_WATCH_MAX];
    ULONG_PTR count = OPL_WATCH_MAX;
    ULONG gran = 0;
    UINT u;
    DWORD fl = op->flags & OPL_F_RESET ? WRITE_WATCH_FLAG_RESET : 0;
    const opl_out_t *o = &op->out;
    PVOID *pa = o->watch_addrs ? (PVOID *)o->watch_addrs : addrs;
    ULONG_PTR *pc = o->watch_count ? (ULONG_PTR *)o->watch_count : &count;
    ULONG *pg = o->watch_gran ? (ULONG *)o->watch_gran : &gran;
    CALL(r, u = GetWriteWatch(fl, (void *)r->addr, (SIZE_T)op->size, pa, pc, pg));
    r->ret = u;
    r->failed = u != 0;
    if (o->watch_count)
        copy_out(r, &count, o->watch_count, sizeof count);
    if (o->watch_gran)
        copy_out(r, &gran, o->watch_gran, sizeof gran);
    r->count = count;
    r->gran = gran;
    if (o->watch_addrs && !u)
        copy_out(r, addrs, o->watch_addrs,
                 (count < OPL_WATCH_MAX ? count : OPL_WATCH_MAX) * sizeof(PVOID));
    for (ULONG_PTR i = 0; !u && i < count && i < OPL_WATCH_MAX; i++)
        r->written[i] = (uintptr_t)addrs[i];
}

static void do_touch(const opl_op_t *op, opl_result_t *r, int only)
{
    unsigned char *p = (unsigned char *)r->addr;
    if (op->kind == OPL_WRITE) {
        r->state = only ? 0 : page_state(p);
        r->t_call = opl__now_ns();
        r->fault = opl_probe_write(p, (unsigned char)op->size);
        r->t_return = opl__now_ns();
        return;
    }
    r->t_call = opl__now_ns();
    for (unsigned i = 0; i < op->size && i < OPL_READ_MAX; i++) {
        r->state = only ? 0 : page_state(p + i);
        r->fault = opl_probe_read(p + i, &r->bytes[i]);
        if (r->fault)
            break;
        r->nbytes++;
    }
    r->t_return = opl__now_ns();
}

/* discard, offer, reclaim (an error code back, the last error left alone), prefetch (BOOL),
 * wsquery (BOOL, the page's block in r->ws) */
static int do_neighbour(const opl_op_t *op, opl_result_t *r)
{
    void *a = (void *)r->addr;
    SIZE_T size = (SIZE_T)op->size;
    DWORD code = 0;
    BOOL ok = TRUE;
    if ((op->kind == OPL_DISCARD && !discard_vm) || (op->kind == OPL_OFFER && !offer_vm) ||
        (op->kind == OPL_RECLAIM && !reclaim_vm))
        return r->status = OPL_UNSUPPORTED;
    switch (op->kind) {
    case OPL_DISCARD:
        CALL(r, code = discard_vm(a, size));
        break;
    case OPL_OFFER:
        CALL(r, code = offer_vm(a, size, (OFFER_PRIORITY)op->arg));
        break;
    case OPL_RECLAIM:
        CALL(r, code = reclaim_vm(a, size));
        break;
    case OPL_PREFETCH: {
        WIN32_MEMORY_RANGE_ENTRY e;
        e.VirtualAddress = a;
        e.NumberOfBytes = size;
        CALL(r, ok = PrefetchVirtualMemory(GetCurrentProcess(), 1, &e, 0));
        break;
    }
    default: { /* OPL_WSQUERY */
        PSAPI_WORKING_SET_EX_INFORMATION w;
        memset(&w, 0, sizeof w);
        w.VirtualAddress = a;
        CALL(r, ok = QueryWorkingSetEx(GetCurrentProcess(), &w, sizeof w));
        r->ws = w.VirtualAttributes.Flags;
        break;
    }
    }
    int coded = op->kind == OPL_DISCARD || op->kind == OPL_OFFER || op->kind == OPL_RECLAIM;
    r->ret = coded ? code : ok ? 1 : 0;
    /* Reclaim's ERROR_BUSY is a success (the contents were discarded) */
    r->failed = coded ? code != ERROR_SUCCESS && code != ERROR_BUSY : !ok;
    return OPL_DONE;
}

static void do_map(opl_ctx_t *c, opl_result_t *r)
{
    for (size_t i = 0; i < c->nnames; i++) {
        const opl__name_t *n = &c->names[i];
        MEMORY_BASIC_INFORMATION m;
        size_t j = 0; /* an address two names held (one released, then reused): once */
        while (j < i && !(c->names[j].span && !c->names[j].hole && c->names[j].value == n->value))
            j++;
        if (j < i)
            continue;
        if (n->span && !n->hole && VirtualQuery((void *)n->value, &m, sizeof m) &&
            m.State != MEM_FREE && m.AllocationBase == (void *)n->value)
            scan_alloc(c, r, n->value);
    }
}

static int resolve(const opl_ctx_t *c, const opl_addr_t *a, uintptr_t *out)
{
    if (!a->name[0]) {
        *out = (uintptr_t)a->off;
        return OPL_DONE;
    }
    const opl__name_t *n = find_name(c, a->name);
    if (!n)
        return OPL_BAD_NAME;
    if (!n->value)
        return OPL_SKIP;
    *out = a->neg ? n->value - (uintptr_t)a->off : n->value + (uintptr_t)a->off;
    return OPL_DONE;
}

static int takes_addr(opl_kind_t k)
{
    return k != OPL_HOLE && k != OPL_MAP && k != OPL_STATS && k != OPL_END && k != OPL_SECTION &&
           k != OPL_OPEN && k != OPL_CLOSE;
}

int opl_exec(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->kind = op->kind;
    int only = c->flags & OPL_CTX_CALL_ONLY;
    if (takes_addr(op->kind)) {
        r->status = resolve(c, &op->addr, &r->addr);
        if (r->status != OPL_DONE) {
            if (op->def[0]) /* the name exists, as a failure */
                opl__add_name(c, op->def, 0, 0, 0);
            return (int)r->status;
        }
    }
    void *a = (void *)r->addr;
    SIZE_T size = (SIZE_T)op->size;
    BOOL ok;
    switch (op->kind) {
    case OPL_ALLOC:
    case OPL_ALLOCAPP:
    case OPL_ALLOCNUMA:
        do_alloc(c, op, r, only);
        if (r->status == OPL_UNSUPPORTED && op->def[0])
            opl__add_name(c, op->def, 0, 0, 0);
        return (int)r->status;
    case OPL_HOLE:
        do_hole(c, op, r);
        return OPL_DONE;
    case OPL_FREE:
        CALL(r, ok = VirtualFree(a, size, op->type));
        r->ret = ok ? 1 : 0;
        if (ok && (op->type & MEM_PRESERVE_PLACEHOLDER)) { /* a placeholder split in pieces */
            opl__track(c, r->addr);
            opl__track(c, r->addr + size);
        } else if (ok && (op->type & MEM_RELEASE) && !(op->type & MEM_COALESCE_PLACEHOLDERS)) {
            opl__untrack(c, r->addr);
        }
        break;
    case OPL_PROTECT:
    case OPL_PROTECTAPP:
        do_protect(op, r);
        if (r->status == OPL_UNSUPPORTED)
            return OPL_UNSUPPORTED;
        break;
    case OPL_LOCK:
    case OPL_UNLOCK:
        CALL(r, ok = op->kind == OPL_LOCK ? VirtualLock(a, size) : VirtualUnlock(a, size));
        r->ret = ok ? 1 : 0;
        break;
    case OPL_QUERY: {
        MEMORY_BASIC_INFORMATION m[2];
        SIZE_T len = op->flags & OPL_F_LEN ? size : sizeof(MEMORY_BASIC_INFORMATION);
        memset(m, 0x5a, sizeof m);
        if (len > sizeof m && !op->out.mbi)
            len = sizeof m;
        SIZE_T n;
        CALL(r, n = VirtualQuery(a, op->out.mbi ? op->out.mbi : (void *)m, len));
        r->ret = n;
        r->failed = n == 0;
        if (op->out.mbi)
            copy_out(r, &m[0], op->out.mbi, sizeof m[0]);
        r->mbi = m[0];
        return OPL_DONE;
    }
    case OPL_WATCH:
        do_watch(op, r);
        return OPL_DONE;
    case OPL_RESETWATCH: {
        UINT u;
        CALL(r, u = ResetWriteWatch(a, size));
        r->ret = u;
        r->failed = u != 0;
        return OPL_DONE;
    }
    case OPL_SCAN:
        r->ret = (uint64_t)scan_alloc(c, r, r->addr);
        return OPL_DONE;
    case OPL_WRITE:
    case OPL_READ:
        do_touch(op, r, only);
        return OPL_DONE;
    case OPL_ACCESS:
        do_access(c, r, r->addr, op->size);
        return (int)r->status;
    case OPL_MAP:
        do_map(c, r);
        return OPL_DONE;
    case OPL_STATS:
#ifdef _WIN32
        r->status = OPL_UNSUPPORTED;
#endif
        return (int)r->status;
    case OPL_END:
        opl_ctx_end(c);
        return OPL_DONE;
    case OPL_SECTION:
    case OPL_OPEN:
    case OPL_CLOSE:
    case OPL_VIEW:
    case OPL_VIEW3:
    case OPL_UNMAP:
    case OPL_FLUSH:
    case OPL_ALLOC2:
        return opl__exec_section(c, op, r);
    case OPL_DISCARD:
    case OPL_OFFER:
    case OPL_RECLAIM:
    case OPL_PREFETCH:
    case OPL_WSQUERY:
        return do_neighbour(op, r);
    default:
        r->status = OPL_BAD_NAME;
        return OPL_BAD_NAME;
    }
    /* free, protect, lock, unlock: BOOL */
    r->failed = r->ret == 0;
    if (r->failed && !only)
        r->range = opl__range_ctx(r->addr, (uintptr_t)op->size);
    return OPL_DONE;
}
