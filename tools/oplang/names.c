/* Windows names for the numbers the API takes and returns, both ways. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oplang.h"

typedef struct sym {
    const char *name;
    uint32_t value;
} sym;

#ifdef _WIN32
/* Natively wvm_error_name knows them; Windows has no such call. */
static const sym errors[] = {{"ERROR_SUCCESS", ERROR_SUCCESS},
                             {"ERROR_INVALID_HANDLE", ERROR_INVALID_HANDLE},
                             {"ERROR_NOT_SUPPORTED", ERROR_NOT_SUPPORTED},
                             {"ERROR_NOT_ENOUGH_MEMORY", ERROR_NOT_ENOUGH_MEMORY},
                             {"ERROR_OUTOFMEMORY", ERROR_OUTOFMEMORY},
                             {"ERROR_BAD_LENGTH", ERROR_BAD_LENGTH},
                             {"ERROR_INVALID_PARAMETER", ERROR_INVALID_PARAMETER},
                             {"ERROR_NOT_LOCKED", ERROR_NOT_LOCKED},
                             {"ERROR_BUSY", ERROR_BUSY},
                             {"ERROR_INVALID_ADDRESS", ERROR_INVALID_ADDRESS},
                             {"ERROR_NOACCESS", ERROR_NOACCESS},
                             {"ERROR_PRIVILEGE_NOT_HELD", ERROR_PRIVILEGE_NOT_HELD},
                             {"ERROR_NO_SYSTEM_RESOURCES", ERROR_NO_SYSTEM_RESOURCES},
                             {"ERROR_WORKING_SET_QUOTA", ERROR_WORKING_SET_QUOTA},
                             {"ERROR_COMMITMENT_LIMIT", ERROR_COMMITMENT_LIMIT},
                             {"ERROR_FILE_NOT_FOUND", ERROR_FILE_NOT_FOUND},
                             {"ERROR_PATH_NOT_FOUND", ERROR_PATH_NOT_FOUND},
                             {"ERROR_ACCESS_DENIED", ERROR_ACCESS_DENIED},
                             {"ERROR_DISK_FULL", ERROR_DISK_FULL},
                             {"ERROR_INVALID_NAME", ERROR_INVALID_NAME},
                             {"ERROR_BAD_PATHNAME", ERROR_BAD_PATHNAME},
                             {"ERROR_ALREADY_EXISTS", ERROR_ALREADY_EXISTS},
                             {"ERROR_BAD_EXE_FORMAT", ERROR_BAD_EXE_FORMAT},
                             {"ERROR_FILENAME_EXCED_RANGE", ERROR_FILENAME_EXCED_RANGE},
                             {"ERROR_FILE_INVALID", ERROR_FILE_INVALID},
                             {"ERROR_MAPPED_ALIGNMENT", ERROR_MAPPED_ALIGNMENT},
                             {NULL, 0}};
#endif

static const sym mem[] = {{"COMMIT", MEM_COMMIT},
                          {"RESERVE", MEM_RESERVE},
                          {"DECOMMIT", MEM_DECOMMIT},
                          {"RELEASE", MEM_RELEASE},
                          {"RESET", MEM_RESET},
                          {"TOP_DOWN", MEM_TOP_DOWN},
                          {"WRITE_WATCH", MEM_WRITE_WATCH},
                          {"PHYSICAL", MEM_PHYSICAL},
                          {"RESET_UNDO", MEM_RESET_UNDO},
                          {"LARGE_PAGES", MEM_LARGE_PAGES},
                          {"RESERVE_PLACEHOLDER", MEM_RESERVE_PLACEHOLDER},
                          {"REPLACE_PLACEHOLDER", MEM_REPLACE_PLACEHOLDER},
                          {"PRESERVE_PLACEHOLDER", MEM_PRESERVE_PLACEHOLDER},
                          {"COALESCE_PLACEHOLDERS", MEM_COALESCE_PLACEHOLDERS},
                          {NULL, 0}};

/* IMAGE_NO_EXECUTE before IMAGE and NOCACHE, whose bits it holds */
static const sym sec[] = {{"COMMIT", SEC_COMMIT},
                          {"RESERVE", SEC_RESERVE},
                          {"IMAGE_NO_EXECUTE", SEC_IMAGE_NO_EXECUTE},
                          {"IMAGE", SEC_IMAGE},
                          {"NOCACHE", SEC_NOCACHE},
                          {"WRITECOMBINE", SEC_WRITECOMBINE},
                          {"LARGE_PAGES", SEC_LARGE_PAGES},
                          {"FILE", SEC_FILE},
                          {NULL, 0}};

/* ALL_ACCESS first: it holds the others' bits */
static const sym access[] = {{"ALL_ACCESS", FILE_MAP_ALL_ACCESS},
                             {"WRITE", FILE_MAP_WRITE},
                             {"READ", FILE_MAP_READ},
                             {"COPY", FILE_MAP_COPY},
                             {"EXECUTE", FILE_MAP_EXECUTE},
                             {"LARGE_PAGES", FILE_MAP_LARGE_PAGES},
                             {"TARGETS_INVALID", FILE_MAP_TARGETS_INVALID},
                             {NULL, 0}};

static const sym prot[] = {{"NOACCESS", PAGE_NOACCESS},
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
                           {"TARGETS_INVALID", PAGE_TARGETS_INVALID},
                           {NULL, 0}};

const char *opl_error_name(uint32_t err)
{
    /* VirtualLock's last error on an armed guard page: a status, not an ERROR_ */
    if (err == STATUS_GUARD_PAGE_VIOLATION)
        return "STATUS_GUARD_PAGE_VIOLATION";
#ifdef _WIN32
    for (const sym *s = errors; s->name; s++)
        if (s->value == err)
            return s->name;
    return NULL;
#else
    return wvm_error_name(err);
#endif
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
        snprintf(buf + n, cap - n, "%s0x%x", n ? "|" : "", (unsigned)v);
}

void opl_mem_flags(uint32_t v, char *buf, size_t cap)
{
    flags(mem, "MEM_", v, buf, cap);
}

void opl_prot_flags(uint32_t v, char *buf, size_t cap)
{
    flags(prot, "PAGE_", v, buf, cap);
}

void opl_sec_flags(uint32_t v, char *buf, size_t cap)
{
    flags(sec, "SEC_", v, buf, cap);
}

void opl_access_flags(uint32_t v, char *buf, size_t cap)
{
    flags(access, "FILE_MAP_", v, buf, cap);
}

const char *opl_state_name(uint32_t state)
{
    return state == MEM_COMMIT    ? "MEM_COMMIT"
           : state == MEM_RESERVE ? "MEM_RESERVE"
           : state == MEM_FREE    ? "MEM_FREE"
                                  : "?";
}

const char *opl_type_name(uint32_t type)
{
    return type == MEM_PRIVATE  ? "MEM_PRIVATE"
           : type == MEM_MAPPED ? "MEM_MAPPED"
           : type == MEM_IMAGE  ? "MEM_IMAGE"
                                : "0";
}

/* Decimal, or hexadecimal after 0x; nothing else (no sign, no octal, no overflow). */
int opl_parse_u64(const char *s, uint64_t *out)
{
    int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const char *d = s + (hex ? 2 : 0);
    if (!*d || (!hex && s[0] == '0' && s[1]))
        return -1;
    for (const char *q = d; *q; q++)
        if (!(hex ? strchr("0123456789abcdefABCDEF", *q) : strchr("0123456789", *q)))
            return -1;
    char *end;
    errno = 0;
    *out = strtoull(d, &end, hex ? 16 : 10);
    return errno || *end ? -1 : 0;
}

static int parse(const sym *tab, const char *prefix, const char *s, uint32_t *out, const char **bad,
                 size_t *badlen)
{
    uint32_t v = 0;
    size_t plen = strlen(prefix);
    for (const char *t = s;;) {
        size_t n = strcspn(t, "|");
        char w[64];
        const char *word = t;
        if (n && n < sizeof w) {
            memcpy(w, t, n);
            w[n] = 0;
            word = !strncmp(w, prefix, plen) ? w + plen : w;
            const sym *m = tab;
            while (m->name && strcmp(m->name, word))
                m++;
            uint64_t num;
            if (m->name)
                v |= m->value;
            else if (!opl_parse_u64(w, &num) && num <= UINT32_MAX)
                v |= (uint32_t)num;
            else
                n = 0;
        }
        if (!n || n >= sizeof w) {
            *bad = t;
            *badlen = strcspn(t, "|");
            return -1;
        }
        if (!t[n])
            break;
        t += n + 1;
    }
    *out = v;
    return 0;
}

int opl_parse_mem(const char *s, uint32_t *out, const char **bad, size_t *badlen)
{
    return parse(mem, "MEM_", s, out, bad, badlen);
}

int opl_parse_prot(const char *s, uint32_t *out, const char **bad, size_t *badlen)
{
    return parse(prot, "PAGE_", s, out, bad, badlen);
}

int opl_parse_sec(const char *s, uint32_t *out, const char **bad, size_t *badlen)
{
    return parse(sec, "SEC_", s, out, bad, badlen);
}

int opl_parse_access(const char *s, uint32_t *out, const char **bad, size_t *badlen)
{
    return parse(access, "FILE_MAP_", s, out, bad, badlen);
}

/* The names a flag word may be (for error messages). */
void opl__flag_words(int is_prot, char *buf, size_t cap)
{
    static const sym *const tabs[] = {mem, prot, sec, access};
    size_t n = 0;
    buf[0] = 0;
    for (const sym *s = tabs[is_prot]; s->name && n < cap; s++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", s->name);
}

void opl_json_str(FILE *out, const char *s)
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
