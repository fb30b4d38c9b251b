/* wvm_print_map / wvm_print_range: the address space as Sysinternals VMMap shows it, as a
 * table or as JSON (for `winvmem run --json`). */
#include <stdio.h>

#include <winvmem/stats.h>

#include "api/api.h"
#include "core/ebr.h"
#include "core/query.h"

static const char *state_name(uint32_t s)
{
    return s == WVM_MEM_COMMIT ? "Commit" : s == WVM_MEM_RESERVE ? "Reserve" : "Free";
}

static const char *type_name(uint32_t t)
{
    switch (t) {
    case WVM_MEM_PRIVATE:
        return "Private";
    case WVM_MEM_MAPPED:
        return "Mapped";
    case WVM_MEM_IMAGE:
        return "Image";
    default:
        return "";
    }
}

void wvm__prot_name(uint32_t p, char *buf, size_t cap)
{
    static const char *const base[] = {"NOACCESS",          "READONLY",         "READWRITE",
                                       "WRITECOPY",         "EXECUTE",          "EXECUTE_READ",
                                       "EXECUTE_READWRITE", "EXECUTE_WRITECOPY"};
    if (!p) {
        snprintf(buf, cap, "-");
        return;
    }
    const char *b = "?";
    for (int i = 0; i < 8; i++)
        if ((p & 0xFF) == 1u << i)
            b = base[i];
    snprintf(buf, cap, "%s%s%s%s", b, p & WVM_PAGE_GUARD ? "+GUARD" : "",
             p & WVM_PAGE_NOCACHE ? "+NOCACHE" : "",
             p & WVM_PAGE_WRITECOMBINE ? "+WRITECOMBINE" : "");
}

void wvm__size_name(uint64_t n, char *buf, size_t cap)
{
    static const char *const big[] = {"G", "T", "P"};
    uint64_t k = (n + 1023) / 1024;
    if (k >= 100000000) { /* huge (mostly free) regions: 3 significant digits are enough */
        double v = (double)n / (1u << 30);
        int u = 0;
        while (v >= 1024 && u < 2) {
            v /= 1024;
            u++;
        }
        snprintf(buf, cap, "%.1f %s", v, big[u]);
        return;
    }
    /* VMMap writes kilobytes with thousands separators: "1,048,576 K" */
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)k), o = 0;
    char tmp[40];
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = 0;
    snprintf(buf, cap, "%s K", tmp);
}

static void header(FILE *out)
{
    fprintf(out, "%-12s %13s  %-7s  %-23s  %-7s  %-14s %s\n", "Address", "Size", "State",
            "Protection", "Type", "Alloc. base", "Alloc. protection");
}

/* What a region of winvmem's is beyond VirtualQuery's answer (a placeholder looks like any
 * reservation there). */
static const char *kind_name(uint32_t kind)
{
    return kind & WVM_TYPE_VIEW ? "view" : kind & WVM_TYPE_PLACEHOLDER ? "placeholder" : "private";
}

static void line(FILE *out, const wvm_MEMORY_BASIC_INFORMATION *m, bool ours, uint32_t kind)
{
    char prot[48], aprot[48] = "", size[32], base[24] = "";
    wvm__prot_name(m->State == WVM_MEM_COMMIT ? m->Protect : 0, prot, sizeof prot);
    wvm__size_name(m->RegionSize, size, sizeof size);
    if (m->State != WVM_MEM_FREE) {
        snprintf(base, sizeof base, "%012lx", (unsigned long)(uintptr_t)m->AllocationBase);
        wvm__prot_name(m->AllocationProtect, aprot, sizeof aprot);
    }
    const char *mark = !ours                         ? ""
                       : kind & WVM_TYPE_VIEW        ? "  [winvmem view]"
                       : kind & WVM_TYPE_PLACEHOLDER ? "  [winvmem placeholder]"
                                                     : "  [winvmem]";
    fprintf(out, "%012lx %13s  %-7s  %-23s  %-7s  %-14s %s%s\n",
            (unsigned long)(uintptr_t)m->BaseAddress, size, state_name(m->State), prot,
            type_name(m->Type), base, aprot, mark);
}

static void json_line(FILE *out, const wvm_MEMORY_BASIC_INFORMATION *m, bool ours, uint32_t kind,
                      bool first)
{
    char prot[48], aprot[48];
    wvm__prot_name(m->State == WVM_MEM_COMMIT ? m->Protect : 0, prot, sizeof prot);
    wvm__prot_name(m->State != WVM_MEM_FREE ? m->AllocationProtect : 0, aprot, sizeof aprot);
    fprintf(out,
            "%s\n  {\"base\": \"0x%lx\", \"size\": %zu, \"state\": \"%s\", \"protect\": \"%s\", "
            "\"type\": \"%s\", \"allocation_base\": \"0x%lx\", \"allocation_protect\": \"%s\", "
            "\"winvmem\": %s%s%s%s}",
            first ? "" : ",", (unsigned long)(uintptr_t)m->BaseAddress, m->RegionSize,
            state_name(m->State), prot, type_name(m->Type),
            (unsigned long)(uintptr_t)m->AllocationBase, aprot, ours ? "true" : "false",
            ours ? ", \"kind\": \"" : "", ours ? kind_name(kind) : "", ours ? "\"" : "");
}

/* Totals for the summary under the table, as VMMap shows one: committed bytes by type,
 * reserved bytes, and winvmem's share. */
typedef struct totals {
    uint64_t commit_private, commit_mapped, commit_image, reserved;
    uint64_t own_committed, own_reserved;
} totals;

typedef struct printer {
    FILE *out;
    unsigned flags;
    unsigned long lines;
    totals sum;
} printer;

static void count(totals *t, const wvm_MEMORY_BASIC_INFORMATION *m, bool ours)
{
    uint64_t n = m->RegionSize;
    if (m->State == WVM_MEM_RESERVE) {
        t->reserved += n;
        t->own_reserved += ours ? n : 0;
    } else if (m->State == WVM_MEM_COMMIT) {
        *(m->Type == WVM_MEM_IMAGE    ? &t->commit_image
          : m->Type == WVM_MEM_MAPPED ? &t->commit_mapped
                                      : &t->commit_private) += n;
        t->own_committed += ours ? n : 0;
    }
}

static void summary(FILE *out, const totals *t)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    wvm__size_name(t->commit_private + t->commit_mapped + t->commit_image, a, sizeof a);
    wvm__size_name(t->commit_private, b, sizeof b);
    wvm__size_name(t->commit_image, c, sizeof c);
    wvm__size_name(t->commit_mapped, d, sizeof d);
    wvm__size_name(t->reserved, e, sizeof e);
    fprintf(out, "Committed %s (private %s, image %s, mapped %s); reserved %s\n", a, b, c, d, e);
    wvm__size_name(t->own_committed, e, sizeof e);
    wvm__size_name(t->own_reserved, f, sizeof f);
    fprintf(out, "winvmem's allocations: committed %s, reserved %s\n", e, f);
}

static void emit(printer *p, const wvm_MEMORY_BASIC_INFORMATION *m, bool ours, uint32_t kind)
{
    count(&p->sum, m, ours);
    if (p->flags & WVM_PRINT_JSON)
        json_line(p->out, m, ours, kind, p->lines == 0);
    else
        line(p->out, m, ours, kind);
    p->lines++;
}

static void begin(printer *p)
{
    if (p->flags & WVM_PRINT_JSON)
        fputc('[', p->out);
    else
        header(p->out);
}

static void end(printer *p)
{
    if (p->flags & WVM_PRINT_JSON)
        fputs(p->lines ? "\n]\n" : "]\n", p->out);
    else
        summary(p->out, &p->sum);
}

/* Regions of [at, end) as VirtualQuery reports them. */
static void walk(printer *p, uintptr_t at, uintptr_t end, bool mark_ours)
{
    uintptr_t max = wvm__max_app_address();
    wvm_MEMORY_BASIC_INFORMATION m;
    while (at < end && at <= max && !wvm__query(at, &m)) {
        bool ours = false;
        uint32_t kind = 0;
        if (mark_ours && m.Type != WVM_MEM_IMAGE && m.State != WVM_MEM_FREE)
            kind = wvm__query_kind((uintptr_t)m.BaseAddress, &ours);
        emit(p, &m, ours, kind);
        at = (uintptr_t)m.BaseAddress + m.RegionSize;
    }
}

WVM_API void wvm_print_range(FILE *out, const void *from, const void *to)
{
    printer p = {.out = out};
    begin(&p);
    walk(&p, (uintptr_t)from, (uintptr_t)to, true);
    end(&p);
}

/* Only winvmem's allocations: jump from one allocation base to the next. */
static void walk_own(printer *p)
{
    uintptr_t limit = wvm__max_app_address() + 1, at = 0;
    for (;;) {
        wvm__ebr_enter();
        uintptr_t base = wvm__space_next(at, limit);
        const wvm_snap *s = base < limit ? wvm__space_lookup(base) : NULL;
        uintptr_t stop = s ? s->base + s->size : 0;
        wvm__ebr_exit();
        if (base >= limit)
            return;
        if (!s) { /* released meanwhile */
            at = base + WVM_GRAN;
            continue;
        }
        walk(p, base, stop, true);
        at = stop;
    }
}

WVM_API void wvm_print_map_ex(FILE *out, unsigned flags)
{
    printer p = {.out = out, .flags = flags};
    begin(&p);
    if (flags & WVM_PRINT_OWN)
        walk_own(&p);
    else
        walk(&p, 0, wvm__max_app_address() + 1, true);
    end(&p);
}

WVM_API void wvm_print_map(FILE *out)
{
    wvm_print_map_ex(out, 0);
}
