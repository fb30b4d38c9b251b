/* wvm_print_map / wvm_print_range: the address space as Sysinternals VMMap shows it. */
#include <stdio.h>

#include <winvmem/stats.h>

#include "api/api.h"
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

/* Writes the protection as the SDK names it, with modifiers: "READWRITE+GUARD". */
static void prot_name(uint32_t p, char *buf, size_t cap)
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

static void human(size_t n, char *buf, size_t cap)
{
    const char *unit[] = {"B", "K", "M", "G", "T"};
    int u = 0;
    while (n >= 1024 && !(n % 1024) && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(buf, cap, "%zu%s", n, unit[u]);
}

static void header(FILE *out)
{
    fprintf(out, "%-16s %-8s %-8s %-26s %-8s %s\n", "Address", "Size", "State", "Protection",
            "Type", "Allocation base");
}

static void line(FILE *out, const wvm_MEMORY_BASIC_INFORMATION *m, const char *mark)
{
    char prot[48], size[24], base[24] = "";
    prot_name(m->State == WVM_MEM_COMMIT ? m->Protect : 0, prot, sizeof prot);
    human(m->RegionSize, size, sizeof size);
    if (m->AllocationBase)
        snprintf(base, sizeof base, "%012lx", (unsigned long)(uintptr_t)m->AllocationBase);
    fprintf(out, "%016lx %-8s %-8s %-26s %-8s %s%s\n", (unsigned long)(uintptr_t)m->BaseAddress,
            size, state_name(m->State), prot, type_name(m->Type), base, mark);
}

WVM_API void wvm_print_range(FILE *out, const void *from, const void *to)
{
    header(out);
    uintptr_t at = (uintptr_t)from, end = (uintptr_t)to, max = wvm__max_app_address();
    wvm_MEMORY_BASIC_INFORMATION m;
    while (at < end && at <= max && !wvm__query(at, &m)) {
        line(out, &m, "");
        at = (uintptr_t)m.BaseAddress + m.RegionSize;
    }
}

WVM_API void wvm_print_map(FILE *out)
{
    header(out);
    uintptr_t at = 0, max = wvm__max_app_address();
    wvm_MEMORY_BASIC_INFORMATION m;
    while (at <= max && !wvm__query(at, &m)) {
        /* winvmem's own allocations are marked; others are shown as the kernel has them */
        bool ours = m.Type == WVM_MEM_PRIVATE && m.State != WVM_MEM_FREE &&
                    wvm__space_owns((uintptr_t)m.BaseAddress);
        line(out, &m, ours ? "  *" : "");
        at = (uintptr_t)m.BaseAddress + m.RegionSize;
    }
}
