/* Windows names for the numbers the API takes and returns. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct sym {
    const char *name;
    uint32_t value;
} sym;

static const sym errors[] = {{"ERROR_SUCCESS", WVM_ERROR_SUCCESS},
                             {"ERROR_INVALID_HANDLE", WVM_ERROR_INVALID_HANDLE},
                             {"ERROR_NOT_SUPPORTED", WVM_ERROR_NOT_SUPPORTED},
                             {"ERROR_NOT_ENOUGH_MEMORY", WVM_ERROR_NOT_ENOUGH_MEMORY},
                             {"ERROR_OUTOFMEMORY", WVM_ERROR_OUTOFMEMORY},
                             {"ERROR_BAD_LENGTH", WVM_ERROR_BAD_LENGTH},
                             {"ERROR_INVALID_PARAMETER", WVM_ERROR_INVALID_PARAMETER},
                             {"ERROR_NOT_LOCKED", WVM_ERROR_NOT_LOCKED},
                             {"ERROR_INVALID_ADDRESS", WVM_ERROR_INVALID_ADDRESS},
                             {"ERROR_NOACCESS", WVM_ERROR_NOACCESS},
                             {"ERROR_PRIVILEGE_NOT_HELD", WVM_ERROR_PRIVILEGE_NOT_HELD},
                             {"ERROR_NO_SYSTEM_RESOURCES", WVM_ERROR_NO_SYSTEM_RESOURCES},
                             {"ERROR_WORKING_SET_QUOTA", WVM_ERROR_WORKING_SET_QUOTA},
                             {"ERROR_COMMITMENT_LIMIT", WVM_ERROR_COMMITMENT_LIMIT},
                             {"STATUS_GUARD_PAGE_VIOLATION", WVM_STATUS_GUARD_PAGE_VIOLATION},
                             {NULL, 0}};

static const sym mem[] = {{"COMMIT", WVM_MEM_COMMIT},
                          {"RESERVE", WVM_MEM_RESERVE},
                          {"DECOMMIT", WVM_MEM_DECOMMIT},
                          {"RELEASE", WVM_MEM_RELEASE},
                          {"RESET", WVM_MEM_RESET},
                          {"TOP_DOWN", WVM_MEM_TOP_DOWN},
                          {"WRITE_WATCH", WVM_MEM_WRITE_WATCH},
                          {"PHYSICAL", WVM_MEM_PHYSICAL},
                          {"RESET_UNDO", WVM_MEM_RESET_UNDO},
                          {"LARGE_PAGES", WVM_MEM_LARGE_PAGES},
                          {NULL, 0}};

static const sym prot[] = {{"NOACCESS", WVM_PAGE_NOACCESS},
                           {"READONLY", WVM_PAGE_READONLY},
                           {"READWRITE", WVM_PAGE_READWRITE},
                           {"WRITECOPY", WVM_PAGE_WRITECOPY},
                           {"EXECUTE", WVM_PAGE_EXECUTE},
                           {"EXECUTE_READ", WVM_PAGE_EXECUTE_READ},
                           {"EXECUTE_READWRITE", WVM_PAGE_EXECUTE_READWRITE},
                           {"EXECUTE_WRITECOPY", WVM_PAGE_EXECUTE_WRITECOPY},
                           {"GUARD", WVM_PAGE_GUARD},
                           {"NOCACHE", WVM_PAGE_NOCACHE},
                           {"WRITECOMBINE", WVM_PAGE_WRITECOMBINE},
                           {"TARGETS_INVALID", WVM_PAGE_TARGETS_INVALID},
                           {NULL, 0}};

const char *cli_error_name(uint32_t err)
{
    for (const sym *s = errors; s->name; s++)
        if (s->value == err)
            return s->name;
    return NULL;
}

static void flags(const sym *tab, const char *prefix, uint32_t v, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    if (!v) {
        snprintf(buf, cap, "0");
        return;
    }
    for (const sym *s = tab; s->name && n < cap; s++)
        if ((v & s->value) == s->value) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%s%s", n ? "|" : "", prefix, s->name);
            v &= ~s->value;
        }
    if (v && n < cap)
        snprintf(buf + n, cap - n, "%s0x%x", n ? "|" : "", v);
}

void cli_mem_flags(uint32_t v, char *buf, size_t cap)
{
    flags(mem, "MEM_", v, buf, cap);
}

void cli_prot_flags(uint32_t v, char *buf, size_t cap)
{
    flags(prot, "PAGE_", v, buf, cap);
}

const char *cli_state_name(uint32_t state)
{
    return state == WVM_MEM_COMMIT    ? "MEM_COMMIT"
           : state == WVM_MEM_RESERVE ? "MEM_RESERVE"
           : state == WVM_MEM_FREE    ? "MEM_FREE"
                                      : "?";
}

const char *cli_type_name(uint32_t type)
{
    return type == WVM_MEM_PRIVATE  ? "MEM_PRIVATE"
           : type == WVM_MEM_MAPPED ? "MEM_MAPPED"
           : type == WVM_MEM_IMAGE  ? "MEM_IMAGE"
                                    : "0";
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    *out = strtoull(s, &end, 0);
    return !*end;
}

static bool parse(const sym *tab, const char *prefix, const char *s, uint32_t *out)
{
    char buf[256];
    uint32_t v = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        if (!strncmp(t, prefix, strlen(prefix)))
            t += strlen(prefix);
        const sym *m = tab;
        while (m->name && strcmp(m->name, t))
            m++;
        uint64_t n;
        if (m->name)
            v |= m->value;
        else if (cli_parse_u64(t, &n) && n <= UINT32_MAX)
            v |= (uint32_t)n;
        else
            return false;
    }
    *out = v;
    return true;
}

bool cli_parse_mem(const char *s, uint32_t *out)
{
    return parse(mem, "MEM_", s, out);
}

bool cli_parse_prot(const char *s, uint32_t *out)
{
    return parse(prot, "PAGE_", s, out);
}

void cli_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\u%04x", *s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}
