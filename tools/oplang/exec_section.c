/* The op language's section, view and placeholder ops: CreateFileMappingW (pagefile-backed),
 * OpenFileMappingW, CloseHandle, MapViewOfFileEx, MapViewOfFile3, UnmapViewOfFile(2),
 * FlushViewOfFile, VirtualAlloc2. Handles are names of the context (printed as their NAME,
 * never as a number), closed by opl_ctx_end with what the context made. */
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "oplang_int.h"

/* ---- the Windows 10 exports, looked up at run time on Windows (Wine may lack them) ----- */
typedef PVOID(WINAPI *alloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER *,
                                 ULONG);
typedef PVOID(WINAPI *map3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG,
                               MEM_EXTENDED_PARAMETER *, ULONG);
typedef BOOL(WINAPI *unmap2_fn)(HANDLE, PVOID, ULONG);

#ifdef _WIN32
static alloc2_fn alloc2;
static map3_fn map3;
static unmap2_fn unmap2;

static BOOL CALLBACK find_exports(PINIT_ONCE once, PVOID arg, PVOID *ctx)
{
    HMODULE k = GetModuleHandleA("kernelbase.dll");
    if (k) {
        alloc2 = (alloc2_fn)(void (*)(void))GetProcAddress(k, "VirtualAlloc2");
        map3 = (map3_fn)(void (*)(void))GetProcAddress(k, "MapViewOfFile3");
        unmap2 = (unmap2_fn)(void (*)(void))GetProcAddress(k, "UnmapViewOfFile2");
    }
    return TRUE;
}

static void exports_init(void)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    InitOnceExecuteOnce(&once, find_exports, NULL, NULL);
}

static unsigned long process_id(void)
{
    return GetCurrentProcessId();
}
#else
static const alloc2_fn alloc2 = VirtualAlloc2;
static const map3_fn map3 = MapViewOfFile3;
static const unmap2_fn unmap2 = UnmapViewOfFile2;

static void exports_init(void) {}

static unsigned long process_id(void)
{
    return (unsigned long)getpid();
}
#endif

/* ---- handles of a context --------------------------------------------------------------- */

static void keep_handle(opl_ctx_t *c, HANDLE h)
{
    if (c->nhandles == c->handles_cap) {
        size_t cap = c->handles_cap ? c->handles_cap * 2 : 16;
        HANDLE *p = realloc(c->handles, cap * sizeof *p);
        if (!p)
            return;
        c->handles = p;
        c->handles_cap = cap;
    }
    c->handles[c->nhandles++] = h;
}

static void drop_handle(opl_ctx_t *c, HANDLE h)
{
    for (size_t i = c->nhandles; i-- > 0;)
        if (c->handles[i] == h) {
            c->handles[i] = c->handles[--c->nhandles];
            return;
        }
}

void opl__close_handles(opl_ctx_t *c)
{
    for (size_t i = c->nhandles; i-- > 0;)
        CloseHandle(c->handles[i]);
    c->nhandles = 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

uintptr_t opl__alloc_span(uintptr_t p)
{
    MEMORY_BASIC_INFORMATION m;
    uintptr_t q = p;
    while (VirtualQuery((void *)q, &m, sizeof m) && m.State != MEM_FREE &&
           (uintptr_t)m.AllocationBase == p && m.RegionSize)
        q = (uintptr_t)m.BaseAddress + m.RegionSize;
    return q - p;
}

/* The object name as the call sees it: OBJNAME with ".<pid>" appended, so that programs run
 * at the same time (parallel differential tests) never meet in the namespace. */
static void object_name(const opl_op_t *op, WCHAR *out, size_t cap)
{
    char buf[OPL_OBJNAME_MAX + 24];
    snprintf(buf, sizeof buf, "%s.%lu", op->objname, process_id());
    size_t i = 0;
    for (; buf[i] && i + 1 < cap; i++)
        out[i] = (WCHAR)(unsigned char)buf[i];
    out[i] = 0;
}

static const opl__name_t *handle_name(const opl_ctx_t *c, const opl_op_t *op, opl_result_t *r)
{
    const opl__name_t *n = opl__find_name(c, op->handle);
    r->status = !n ? OPL_BAD_NAME : OPL_DONE;
    return n;
}

/* A view or placeholder at p (0: failed): names it, tracks it, and places a failure. */
static void made(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r, void *p, int only)
{
    r->ret = (uintptr_t)p;
    r->failed = !p;
    uintptr_t span = 0;
    if (p) {
        MEMORY_BASIC_INFORMATION m;
        int fresh = only || (VirtualQuery(p, &m, sizeof m) && m.AllocationBase == p);
        span = fresh ? (only ? (uintptr_t)op->size : opl__alloc_span((uintptr_t)p)) : 0;
        opl__track(c, (uintptr_t)p);
    } else if (r->addr && !only) {
        r->range = opl__range_ctx(r->addr, (uintptr_t)op->size);
    }
    if (op->def[0])
        opl__add_name(c, op->def, (uintptr_t)p, span, 0);
}

/* ---- the ops ------------------------------------------------------------------------------ */

int opl__exec_section(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r)
{
    exports_init();
    int only = c->flags & OPL_CTX_CALL_ONLY;
    WCHAR name[OPL_OBJNAME_MAX + 24];
    HANDLE h = NULL;
    const opl__name_t *hn = NULL;
    void *p = NULL;
    BOOL ok = FALSE;
    if (op->kind == OPL_VIEW || op->kind == OPL_VIEW3 || op->kind == OPL_CLOSE) {
        if (!(hn = handle_name(c, op, r))) {
            if (op->def[0])
                opl__add_name(c, op->def, 0, 0, 0);
            return (int)r->status;
        }
        h = (HANDLE)hn->value;
    }
    if ((op->kind == OPL_VIEW3 && !map3) || (op->kind == OPL_ALLOC2 && !alloc2) ||
        (op->kind == OPL_UNMAP && (op->flags & OPL_F_TYPE) && !unmap2)) {
        r->status = OPL_UNSUPPORTED;
        if (op->def[0])
            opl__add_name(c, op->def, 0, 0, 0);
        return OPL_UNSUPPORTED;
    }
    switch (op->kind) {
    case OPL_SECTION:
    case OPL_OPEN:
        if (op->objname[0])
            object_name(op, name, sizeof name / sizeof name[0]);
        if (op->kind == OPL_SECTION)
            OPL_CALL(r, h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, op->prot | op->attrs,
                                               (DWORD)(op->size >> 32), (DWORD)op->size,
                                               op->objname[0] ? name : NULL));
        else
            OPL_CALL(r, h = OpenFileMappingW(op->access, FALSE, name));
        r->ret = (uintptr_t)h;
        r->failed = !h;
        if (h)
            keep_handle(c, h);
        if (op->def[0])
            opl__add_name(c, op->def, (uintptr_t)h, 0, 0);
        return OPL_DONE;
    case OPL_CLOSE:
        OPL_CALL(r, ok = CloseHandle(h));
        r->ret = ok ? 1 : 0;
        r->failed = !ok;
        if (ok)
            drop_handle(c, h);
        return OPL_DONE;
    case OPL_VIEW:
        OPL_CALL(r, p = MapViewOfFileEx(h, op->access, (DWORD)(op->offset >> 32), (DWORD)op->offset,
                                        (SIZE_T)op->size, (void *)r->addr));
        made(c, op, r, p, only);
        return OPL_DONE;
    case OPL_VIEW3:
        OPL_CALL(r, p = map3(h, GetCurrentProcess(), (void *)r->addr, op->offset, (SIZE_T)op->size,
                             op->type, op->prot, NULL, 0));
        made(c, op, r, p, only);
        return OPL_DONE;
    case OPL_ALLOC2: {
        MEM_ADDRESS_REQUIREMENTS req;
        MEM_EXTENDED_PARAMETER ext;
        memset(&req, 0, sizeof req);
        memset(&ext, 0, sizeof ext);
        if (op->flags & OPL_F_REQ) {
            uintptr_t lo = 0, hi = 0;
            const opl_addr_t *a[2] = {&op->low, &op->high};
            uintptr_t *v[2] = {&lo, &hi};
            for (int i = 0; i < 2; i++) {
                const opl__name_t *n = a[i]->name[0] ? opl__find_name(c, a[i]->name) : NULL;
                if (a[i]->name[0] && (!n || !n->value)) {
                    r->status = !n ? OPL_BAD_NAME : OPL_SKIP;
                    if (op->def[0])
                        opl__add_name(c, op->def, 0, 0, 0);
                    return (int)r->status;
                }
                uintptr_t base = n ? n->value : 0;
                *v[i] = a[i]->neg ? base - (uintptr_t)a[i]->off : base + (uintptr_t)a[i]->off;
            }
            req.LowestStartingAddress = (void *)lo;
            req.HighestEndingAddress = (void *)hi;
            req.Alignment = (SIZE_T)op->align;
            ext.Type = MemExtendedParameterAddressRequirements;
            ext.Pointer = &req;
        }
        int nx = op->flags & OPL_F_REQ ? 1 : 0;
        OPL_CALL(r, p = alloc2(NULL, (void *)r->addr, (SIZE_T)op->size, op->type, op->prot,
                               nx ? &ext : NULL, (ULONG)nx));
        made(c, op, r, p, only);
        if (p && !(op->type & MEM_RESERVE))
            opl__untrack(c, (uintptr_t)p); /* a commit inside an older allocation */
        return OPL_DONE;
    }
    case OPL_UNMAP:
        if (op->flags & OPL_F_TYPE)
            OPL_CALL(r, ok = unmap2(GetCurrentProcess(), (void *)r->addr, op->type));
        else
            OPL_CALL(r, ok = UnmapViewOfFile((void *)r->addr));
        if (ok && !(op->type & MEM_PRESERVE_PLACEHOLDER))
            opl__untrack(c, r->addr);
        break;
    case OPL_FLUSH:
        OPL_CALL(r, ok = FlushViewOfFile((void *)r->addr, (SIZE_T)op->size));
        break;
    default:
        r->status = OPL_BAD_NAME;
        return OPL_BAD_NAME;
    }
    r->ret = ok ? 1 : 0;
    r->failed = !ok;
    if (!ok && !only)
        r->range = opl__range_ctx(r->addr, (uintptr_t)op->size);
    return OPL_DONE;
}
