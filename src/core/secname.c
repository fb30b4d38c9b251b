/* Section names (secname.h). */
#include <string.h>

#include <winvmem/vm.h>

#include "core/meta.h"
#include "core/secname.h"

static uint64_t fmix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* Two independent 64-bit lanes over the code units: collisions are possible in principle and
 * detected (the file keeps the full name, section.c compares it). */
static void file_name(wvm_secname *n)
{
    uint64_t h1 = 0xcbf29ce484222325ull ^ (uint64_t)n->ns, h2 = 0x9e3779b97f4a7c15ull + n->len;
    for (uint32_t i = 0; i < n->len; i++) {
        h1 = (h1 ^ n->units[i]) * 0x100000001b3ull;
        h2 = (h2 + n->units[i] + 1) * 0xc2b2ae3d27d4eb4full;
        h2 ^= h2 >> 29;
    }
    h1 = fmix(h1 ^ fmix(h2));
    h2 = fmix(h2 + h1);
    static const char hex[] = "0123456789abcdef";
    n->file[0] = 's';
    for (int i = 0; i < 16; i++) {
        n->file[1 + i] = hex[(h1 >> (60 - 4 * i)) & 15];
        n->file[17 + i] = hex[(h2 >> (60 - 4 * i)) & 15];
    }
    n->file[33] = 0;
}

static int is_word(const uint16_t *s, uint32_t n, const char *w)
{
    uint32_t i = 0;
    for (; i < n && w[i]; i++)
        if (s[i] != (unsigned char)w[i])
            return 0;
    return i == n && !w[i];
}

/* The session this process's "Local" namespace stands for (as Wine, and an interactive
 * Windows session, have it). */
#define SESSION_ID 1u

static int is_number(const uint16_t *s, uint32_t n, uint32_t want)
{
    uint64_t v = 0;
    if (!n || n > 10 || (s[0] == '0' && n > 1))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v == want;
}

/* Walks the directories of the name as the object manager does, left to right, from the
 * session's named-object directory through the links every such directory holds: "Local" (the
 * directory it is in), "Global" (the global directory), "Session\N" (session N's directory:
 * this session's, 0 the global one; no other session exists here). Sets *ns and *skip (where
 * the final component starts); 0 or the Windows error. */
static uint32_t walk(const uint16_t *units, uint32_t n, char *ns, uint32_t *skip)
{
    if (units[0] == '\\') /* relative to a directory, a name cannot start with one */
        return WVM_ERROR_BAD_PATHNAME;
    uint32_t i = 0;
    *ns = 'L';
    for (;;) {
        uint32_t j = i;
        while (j < n && units[j] != '\\')
            j++;
        if (j == n)
            break;
        if (j == i)
            return WVM_ERROR_INVALID_NAME; /* an empty component */
        if (is_word(units + i, j - i, "Global")) {
            *ns = 'G';
        } else if (is_word(units + i, j - i, "Session")) {
            uint32_t k = j + 1;
            while (k < n && units[k] != '\\')
                k++;
            if (k == n) /* in \Sessions\BNOLINKS itself: a session's link (another type),
                         * or a new object there, which no user may make */
                return is_number(units + j + 1, k - j - 1, SESSION_ID) ||
                               is_number(units + j + 1, k - j - 1, 0)
                           ? WVM_ERROR_INVALID_HANDLE
                           : WVM_ERROR_ACCESS_DENIED;
            if (is_number(units + j + 1, k - j - 1, SESSION_ID))
                *ns = 'L';
            else if (is_number(units + j + 1, k - j - 1, 0))
                *ns = 'G';
            else
                return WVM_ERROR_PATH_NOT_FOUND;
            j = k;
        } else if (!is_word(units + i, j - i, "Local")) {
            return WVM_ERROR_PATH_NOT_FOUND; /* a directory that does not exist */
        }
        i = j + 1;
    }
    if (i == n)
        return WVM_ERROR_INVALID_NAME; /* an empty final component */
    /* the directory's own links are objects of another type */
    if (is_word(units + i, n - i, "Local") || is_word(units + i, n - i, "Global") ||
        is_word(units + i, n - i, "Session"))
        return WVM_ERROR_INVALID_HANDLE;
    *skip = i;
    return 0;
}

static uint16_t *units_alloc(size_t cap)
{
    return wvm__meta_alloc(cap * sizeof(uint16_t));
}

static void units_free(uint16_t *units, size_t cap)
{
    wvm__meta_free(units, cap * sizeof *units);
}

/* units[0..n) is the whole name as given, cap units allocated; takes ownership of units. */
static uint32_t finish(uint16_t *units, uint32_t n, uint32_t cap, wvm_secname *out)
{
    memset(out, 0, sizeof *out);
    if (!n) {
        units_free(units, cap);
        return 0;
    }
    char ns;
    uint32_t skip = 0, err = walk(units, n, &ns, &skip);
    if (err) {
        units_free(units, cap);
        return err;
    }
    memmove(units, units + skip, (n - skip) * sizeof *units);
    out->units = units;
    out->len = n - skip;
    out->cap = cap;
    out->ns = ns;
    file_name(out);
    return 0;
}

uint32_t wvm__secname_w(const uint16_t *name, wvm_secname *out)
{
    memset(out, 0, sizeof *out);
    if (!name)
        return 0;
    uint32_t n = 0;
    while (name[n]) {
        if (++n > WVM_SECNAME_MAX)
            return WVM_ERROR_FILENAME_EXCED_RANGE;
    }
    uint32_t cap = n ? n : 1;
    uint16_t *units = units_alloc(cap);
    if (!units)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    memcpy(units, name, n * sizeof *units);
    return finish(units, n, cap, out);
}

/* One UTF-8 sequence at s (at most left bytes) as a code point; *used receives its length.
 * Invalid: the first byte alone, as U+DC80 + byte. */
static uint32_t decode(const unsigned char *s, size_t left, size_t *used)
{
    unsigned char c = s[0];
    uint32_t cp, min;
    size_t len;
    if (c < 0x80) {
        *used = 1;
        return c;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        goto invalid;
    if (len > left)
        goto invalid;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto invalid;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
        goto invalid;
    *used = len;
    return cp;
invalid:
    *used = 1;
    return 0xDC80u + c;
}

uint32_t wvm__secname_a(const char *name, wvm_secname *out)
{
    memset(out, 0, sizeof *out);
    if (!name)
        return 0;
    size_t bytes = strnlen(name, 4 * WVM_SECNAME_MAX_A + 1);
    uint32_t cap = (uint32_t)(bytes ? bytes : 1) * 2;
    uint16_t *units = units_alloc(cap);
    if (!units)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    uint32_t n = 0;
    for (size_t i = 0; i < bytes;) {
        size_t used;
        uint32_t cp = decode((const unsigned char *)name + i, bytes - i, &used);
        i += used;
        if (cp >= 0x10000) {
            units[n++] = (uint16_t)(0xD800 + ((cp - 0x10000) >> 10));
            units[n++] = (uint16_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            units[n++] = (uint16_t)cp;
        }
        if (n > WVM_SECNAME_MAX_A) {
            units_free(units, cap);
            return WVM_ERROR_FILENAME_EXCED_RANGE;
        }
    }
    return finish(units, n, cap, out);
}

void wvm__secname_free(wvm_secname *n)
{
    units_free(n->units, n->cap);
    n->units = NULL;
    n->len = n->cap = 0;
}

int wvm__secname_equal(const wvm_secname *a, const uint16_t *units, uint32_t len, char ns)
{
    return a->ns == ns && a->len == len && !memcmp(a->units, units, len * sizeof *units);
}
