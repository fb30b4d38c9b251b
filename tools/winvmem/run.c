/* `winvmem run FILE`: executes an op-sequence script in the op language of the differential
 * tests (tools/oplang/README.md, tests/diff/interp.c) and shows each call's result with the
 * Windows names, then the map of the allocations the sequence made. Unlike the differential
 * interpreter it prints real addresses (with the NAME+offset form beside them) and error
 * names, because its reader is a person, not a diff. (`winvmem run --transcript` runs the
 * differential interpreter itself, linked into the tool.)
 *
 *   [NAME =] alloc ADDR SIZE TYPE PROT      VirtualAlloc            NAME = hole SIZE
 *   free ADDR SIZE TYPE                     VirtualFree             protect ADDR SIZE PROT [noold]
 *   query ADDR [LEN]   scan ADDR            VirtualQuery            read ADDR [N]
 *   write ADDR BYTE    access ADDR SIZE     touch memory            ---  (ends a sequence)
 *   allocapp / protectapp (the FromApp variants), lock / unlock ADDR SIZE (tests/diff/guard_reset_ops.md)
 * Extensions of this tool: `map` (prints the map now), `stats`, `watch ADDR SIZE [reset]`
 * (GetWriteWatch, up to 64 pages) and `resetwatch ADDR SIZE` (ResetWriteWatch). */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_NAMES 256
#define MAX_TOK   16

typedef struct name {
    char id[16];
    uintptr_t value, span; /* span > 0: a region made by this name (released at '---') */
    bool hole;
} name;

static name names[MAX_NAMES];
static int nnames;
static bool json, first_op, first_seq = true;
static unsigned long lineno;
static int failures; /* syntax errors */

static name *find_name(const char *id)
{
    for (int i = nnames - 1; i >= 0; i--)
        if (!strcmp(names[i].id, id))
            return &names[i];
    return NULL;
}

/* "0x7f..1000 (A+0x1000)" in text; the JSON form carries the number and the name apart. */
static const char *rel(uintptr_t a, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = nnames - 1; i >= 0; i--)
        if (names[i].span && a >= names[i].value && a - names[i].value <= names[i].span) {
            if (a == names[i].value)
                snprintf(buf, cap, "%s", names[i].id);
            else
                snprintf(buf, cap, "%s+0x%" PRIxPTR, names[i].id, a - names[i].value);
            break;
        }
    return buf;
}

/* ---- output: one record per op, as text or as a JSON object ---------------------------- */

static int nfields;

static void rec_begin(const char *op, const char *src)
{
    nfields = 0;
    if (json) {
        printf("%s\n    {\"line\": %lu, \"op\": \"%s\", \"source\": ", first_op ? "" : ",", lineno,
               op);
        cli_json_str(stdout, src);
        first_op = false;
    } else {
        printf("%4lu  %s\n      ->", lineno, src);
    }
}

static void field_str(const char *key, const char *v)
{
    if (json) {
        printf(", \"%s\": ", key);
        cli_json_str(stdout, v);
    } else {
        printf(nfields ? "  %s=%s" : " %s=%s", key, v);
    }
    nfields++;
}

static void field_num(const char *key, uint64_t v, bool hex)
{
    char b[32];
    if (json) {
        printf(", \"%s\": %" PRIu64, key, v);
        nfields++;
        return;
    }
    snprintf(b, sizeof b, hex ? "0x%" PRIx64 : "%" PRIu64, v);
    field_str(key, b);
}

static void field_addr(const char *key, uintptr_t a)
{
    char r[48], b[80];
    rel(a, r, sizeof r);
    if (json) {
        snprintf(b, sizeof b, "0x%" PRIxPTR, a);
        field_str(key, b);
        if (*r) {
            char k[40];
            snprintf(k, sizeof k, "%s_name", key);
            field_str(k, r);
        }
        return;
    }
    snprintf(b, sizeof b, *r ? "0x%" PRIxPTR "(%s)" : "0x%" PRIxPTR, a, r);
    field_str(key, b);
}

static void field_error(void)
{
    uint32_t e = wvm_GetLastError();
    const char *n = cli_error_name(e);
    char b[64];
    snprintf(b, sizeof b, "%s", n ? n : "");
    if (!n)
        snprintf(b, sizeof b, "%u", e);
    field_str("error", b);
    if (json)
        field_num("error_code", e, false);
}

static void rec_end(void)
{
    fputs(json ? "}" : "\n", stdout);
}

/* ---- arguments -------------------------------------------------------------------------- */

static bool arg_addr(const char *s, uintptr_t *out)
{
    uint64_t v;
    if (*s == '@')
        s++;
    if (isdigit((unsigned char)*s)) {
        if (!cli_parse_u64(s, &v))
            return false;
        *out = (uintptr_t)v;
        return true;
    }
    char id[16];
    size_t n = strcspn(s, "+-");
    if (n >= sizeof id)
        return false;
    memcpy(id, s, n);
    id[n] = 0;
    name *nm = find_name(id);
    if (!nm)
        return false;
    *out = nm->value;
    if (!s[n])
        return true;
    if (!cli_parse_u64(s + n + 1, &v))
        return false;
    *out = s[n] == '+' ? *out + v : *out - v;
    return true;
}

/* Whether an address argument names an allocation that failed: the op is skipped, as the
 * differential interpreter does. */
static bool failed_name(const char *s)
{
    if (*s == '@')
        s++;
    char id[16];
    size_t n = strcspn(s, "+-");
    if (isdigit((unsigned char)*s) || n >= sizeof id)
        return false;
    memcpy(id, s, n);
    id[n] = 0;
    name *nm = find_name(id);
    return nm && !nm->value;
}

static void add_name(const char *id, uintptr_t value, uintptr_t span, bool hole)
{
    if (nnames == MAX_NAMES) {
        fprintf(stderr, "winvmem run: line %lu: more than %d names\n", lineno, MAX_NAMES);
        exit(2);
    }
    name *nm = &names[nnames++];
    snprintf(nm->id, sizeof nm->id, "%s", id);
    nm->value = value;
    nm->span = span;
    nm->hole = hole;
}

static void mbi_fields(const wvm_MEMORY_BASIC_INFORMATION *m)
{
    char b[96];
    field_addr("base", (uintptr_t)m->BaseAddress);
    field_addr("allocation_base", (uintptr_t)m->AllocationBase);
    cli_prot_flags(m->AllocationProtect, b, sizeof b);
    field_str("allocation_protect", b);
    field_num("size", m->RegionSize, true);
    field_str("state", cli_state_name(m->State));
    cli_prot_flags(m->Protect, b, sizeof b);
    field_str("protect", b);
    field_str("type", cli_type_name(m->Type));
}

/* ---- ops ---------------------------------------------------------------------------------- */

typedef struct args {
    char **t;
    int n;
    const char *id;
} args;

static bool do_alloc(args *a, bool app)
{
    uintptr_t addr;
    uint64_t size;
    uint32_t type, prot;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size) ||
        !cli_parse_mem(a->t[2], &type) || !cli_parse_prot(a->t[3], &prot))
        return false;
    wvm_SetLastError(0);
    char *p = app ? wvm_VirtualAllocFromApp((void *)addr, size, type, prot)
                  : wvm_VirtualAlloc((void *)addr, size, type, prot);
    uintptr_t span = 0;
    wvm_MEMORY_BASIC_INFORMATION m;
    if (p && wvm_VirtualQuery(p, &m, sizeof m) && m.AllocationBase == p)
        span = size; /* a new allocation; an address inside an older one is an alias */
    if (a->id)
        add_name(a->id, (uintptr_t)p, span, false);
    if (p)
        field_addr("result", (uintptr_t)p);
    else {
        field_str("result", "NULL");
        field_error();
    }
    return true;
}

static bool op_hole(args *a)
{
    uint64_t size;
    if (!a->id || !cli_parse_u64(a->t[0], &size))
        return false;
    void *p = wvm_VirtualAlloc(NULL, size, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    bool ok = p && wvm_VirtualFree(p, 0, WVM_MEM_RELEASE);
    add_name(a->id, ok ? (uintptr_t)p : 0, ok ? size : 0, true);
    if (ok)
        field_addr("free_space", (uintptr_t)p);
    else
        field_str("result", "failed");
    return true;
}

static void bool_result(int r)
{
    field_str("result", r ? "TRUE" : "FALSE");
    if (!r)
        field_error();
}

static bool op_alloc(args *a)
{
    return do_alloc(a, false);
}

static bool op_allocapp(args *a)
{
    return do_alloc(a, true);
}

static bool op_free(args *a)
{
    uintptr_t addr;
    uint64_t size;
    uint32_t type;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size) ||
        !cli_parse_mem(a->t[2], &type))
        return false;
    wvm_SetLastError(0);
    bool_result(wvm_VirtualFree((void *)addr, size, type));
    return true;
}

static bool do_protect(args *a, bool app)
{
    uintptr_t addr;
    uint64_t size;
    uint32_t prot, old = 0;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size) ||
        !cli_parse_prot(a->t[2], &prot))
        return false;
    bool noold = a->n > 3 && !strcmp(a->t[3], "noold");
    wvm_SetLastError(0);
    int r = app ? wvm_VirtualProtectFromApp((void *)addr, size, prot, noold ? NULL : &old)
                : wvm_VirtualProtect((void *)addr, size, prot, noold ? NULL : &old);
    bool_result(r);
    if (r && !noold) {
        char b[96];
        cli_prot_flags(old, b, sizeof b);
        field_str("old", b);
    }
    return true;
}

static bool op_protect(args *a)
{
    return do_protect(a, false);
}

static bool op_protectapp(args *a)
{
    return do_protect(a, true);
}

/* lock / unlock ADDR SIZE: VirtualLock / VirtualUnlock */
static bool do_lock(args *a, bool lock)
{
    uintptr_t addr;
    uint64_t size;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size))
        return false;
    wvm_SetLastError(0);
    bool_result(lock ? wvm_VirtualLock((void *)addr, size) : wvm_VirtualUnlock((void *)addr, size));
    return true;
}

static bool op_lock(args *a)
{
    return do_lock(a, true);
}

static bool op_unlock(args *a)
{
    return do_lock(a, false);
}

static bool op_query(args *a)
{
    uintptr_t addr;
    uint64_t len = sizeof(wvm_MEMORY_BASIC_INFORMATION);
    if (!arg_addr(a->t[0], &addr) || (a->n > 1 && !cli_parse_u64(a->t[1], &len)))
        return false;
    wvm_MEMORY_BASIC_INFORMATION m[2];
    if (len > sizeof m)
        len = sizeof m;
    wvm_SetLastError(0);
    size_t r = wvm_VirtualQuery((void *)addr, m, len);
    field_num("result", r, false);
    if (r >= sizeof m[0])
        mbi_fields(&m[0]);
    else
        field_error();
    return true;
}

static bool op_scan(args *a)
{
    uintptr_t addr;
    if (!arg_addr(a->t[0], &addr))
        return false;
    wvm_MEMORY_BASIC_INFORMATION m;
    if (!wvm_VirtualQuery((void *)addr, &m, sizeof m) || m.State == WVM_MEM_FREE) {
        field_str("result", "not in an allocation");
        return true;
    }
    void *ab = m.AllocationBase;
    if (json)
        printf(", \"regions\": [");
    int i = 0;
    for (uintptr_t p = (uintptr_t)ab; wvm_VirtualQuery((void *)p, &m, sizeof m);
         p += m.RegionSize) {
        if (m.AllocationBase != ab || m.State == WVM_MEM_FREE || !m.RegionSize)
            break;
        printf(json ? "%s{\"i\": %d" : "%s\n        [%d]", json && i ? ", " : "", i);
        nfields = 1;
        mbi_fields(&m);
        if (json)
            putchar('}');
        i++;
    }
    if (json)
        putchar(']');
    return true;
}

static const char *access_word(char k)
{
    return k == 'g' ? "guard page violation" : "access violation";
}

static bool op_write(args *a)
{
    uintptr_t addr;
    uint64_t v;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &v))
        return false;
    char k = cli_probe_write((unsigned char *)addr, (unsigned char)v);
    field_str("result", k == 'w' ? "ok" : access_word(k));
    return true;
}

static bool op_read(args *a)
{
    uintptr_t addr;
    uint64_t n = 1;
    if (!arg_addr(a->t[0], &addr) || (a->n > 1 && !cli_parse_u64(a->t[1], &n)))
        return false;
    char bytes[64 * 3 + 1] = "";
    size_t o = 0;
    for (uint64_t i = 0; i < n && i < 64; i++) {
        unsigned char v;
        char k = cli_probe_read((unsigned char *)addr + i, &v);
        if (k != 'r') {
            field_str("bytes", bytes);
            field_str("fault", access_word(k));
            return true;
        }
        o += (size_t)snprintf(bytes + o, sizeof bytes - o, "%s%02x", o ? " " : "", v);
    }
    field_str("bytes", bytes);
    return true;
}

/* One character per page: w writable, r read-only, - no access, g guard page. */
static bool op_access(args *a)
{
    uintptr_t addr;
    uint64_t size;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size))
        return false;
    addr &= ~(uintptr_t)4095;
    char pages[1025];
    size_t n = 0;
    for (uint64_t off = 0; off < size && n < sizeof pages - 1; off += 4096) {
        unsigned char *p = (unsigned char *)(addr + off), v = 0;
        char k = cli_probe_read(p, &v);
        if (k == 'r')
            k = cli_probe_write(p, v) == 'w' ? 'w' : 'r';
        pages[n++] = k;
    }
    pages[n] = 0;
    field_str("pages", pages);
    return true;
}

static bool op_watch(args *a)
{
    uintptr_t addr;
    uint64_t size;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size))
        return false;
    bool reset = a->n > 2 && !strcmp(a->t[2], "reset");
    void *pages[64];
    uintptr_t count = 64;
    uint32_t gran = 0;
    wvm_SetLastError(0);
    uint32_t r = wvm_GetWriteWatch(reset ? WVM_WRITE_WATCH_FLAG_RESET : 0, (void *)addr, size,
                                   pages, &count, &gran);
    field_num("result", r, r != 0);
    if (r) {
        field_error();
        return true;
    }
    char list[64 * 24] = "", b[48];
    size_t o = 0;
    for (uintptr_t i = 0; i < count; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? " " : "",
                              *rel((uintptr_t)pages[i], b, sizeof b)
                                  ? b
                                  : (snprintf(b, sizeof b, "%p", pages[i]), b));
    field_num("count", count, false);
    field_str("written", list);
    return true;
}

static bool op_resetwatch(args *a)
{
    uintptr_t addr;
    uint64_t size;
    if (!arg_addr(a->t[0], &addr) || !cli_parse_u64(a->t[1], &size))
        return false;
    wvm_SetLastError(0);
    uint32_t r = wvm_ResetWriteWatch((void *)addr, size);
    field_num("result", r, r != 0);
    if (r)
        field_error();
    return true;
}

static void show_map(void)
{
    if (json) {
        printf(",\n   \"map\": ");
        wvm_print_map_ex(stdout, WVM_PRINT_JSON | WVM_PRINT_OWN);
    } else {
        printf("\nmap of winvmem's allocations:\n");
        wvm_print_map_ex(stdout, WVM_PRINT_OWN);
    }
}

/* ---- sequences ---------------------------------------------------------------------------- */

static void seq_begin(void)
{
    if (json)
        printf("%s\n  {\"ops\": [", first_seq ? "" : ",");
    first_seq = false;
    first_op = true;
}

/* Shows the map, then releases everything the sequence made. */
static void seq_end(void)
{
    if (json)
        printf("\n   ]");
    show_map();
    if (json)
        printf("  }");
    for (int i = nnames - 1; i >= 0; i--) {
        wvm_MEMORY_BASIC_INFORMATION m;
        if (names[i].span && !names[i].hole &&
            wvm_VirtualQuery((void *)names[i].value, &m, sizeof m) && m.State != WVM_MEM_FREE &&
            m.AllocationBase == (void *)names[i].value)
            wvm_VirtualFree((void *)names[i].value, 0, WVM_MEM_RELEASE);
    }
    nnames = 0;
}

static const struct {
    const char *op;
    int args;
    bool (*run)(args *a);
} ops[] = {{"alloc", 4, op_alloc},
           {"hole", 1, op_hole},
           {"free", 3, op_free},
           {"protect", 3, op_protect},
           {"query", 1, op_query},
           {"scan", 1, op_scan},
           {"write", 2, op_write},
           {"read", 1, op_read},
           {"access", 2, op_access},
           {"watch", 2, op_watch},
           {"allocapp", 4, op_allocapp},
           {"protectapp", 3, op_protectapp},
           {"lock", 2, op_lock},
           {"unlock", 2, op_unlock},
           {"resetwatch", 2, op_resetwatch},
           {NULL, 0, NULL}};

static void run_line(char *line, bool *open)
{
    char src[1024];
    snprintf(src, sizeof src, "%s", line);
    src[strcspn(src, "\r\n")] = 0;
    char *t[MAX_TOK];
    int nt = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w && nt < MAX_TOK;
         w = strtok_r(NULL, " \t\r\n", &save))
        t[nt++] = w;
    if (!nt || t[0][0] == '#')
        return;
    if (!strcmp(t[0], "---")) {
        if (*open)
            seq_end();
        *open = false;
        return;
    }
    if (!*open)
        seq_begin();
    *open = true;
    args a = {t + 1, nt - 1, NULL};
    if (nt >= 3 && !strcmp(t[1], "=")) {
        a.id = t[0];
        a.t = t + 3;
        a.n = nt - 3;
    }
    const char *op = a.t[-1];
    if (!strcmp(op, "map") || !strcmp(op, "stats")) {
        if (json) {
            rec_begin(op, src);
            printf(", \"%s\": ", op);
        } else {
            printf("%4lu  %s\n", lineno, src);
        }
        if (*op == 'm')
            wvm_print_map_ex(stdout, WVM_PRINT_OWN | (json ? WVM_PRINT_JSON : 0));
        else
            wvm_print_stats(stdout, json ? WVM_PRINT_JSON : 0);
        if (json)
            putchar('}');
        return;
    }
    int k = 0;
    while (ops[k].op && strcmp(ops[k].op, op))
        k++;
    rec_begin(op, src);
    if (ops[k].op && a.n && failed_name(a.t[0])) {
        field_str("result", "skip (the name's allocation failed)");
        rec_end();
        return;
    }
    if (!ops[k].op || a.n < ops[k].args || !ops[k].run(&a)) {
        field_str("result", "syntax error");
        failures++;
    }
    rec_end();
}

int cli_run(const char *path, bool as_json, bool keep_going)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        perror(path);
        return 2;
    }
    json = as_json;
    cli_probe_init();
    if (json)
        printf("{\"sequences\": [");
    char line[1024];
    bool open = false;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        run_line(line, &open);
        if (failures && !keep_going)
            break;
    }
    if (open)
        seq_end();
    if (json)
        printf("\n]}\n");
    if (in != stdin)
        fclose(in);
    if (failures)
        fprintf(stderr, "winvmem run: %s: %d line(s) with a syntax error\n", path, failures);
    return failures ? 1 : 0;
}
