/* Names of sections (CreateFileMapping's lpName) as the object manager sees them, and the file
 * name that stands for each one in the per-user directory (prim/linux/section.h).
 *
 * A name is its final component in one of two namespaces, the session's ('L') or the global
 * one ('G'), reached as the object manager reaches them through the links in each directory
 * ("Local\", "Global\", "Session\N\", any number of them; case-sensitive, as Windows' named
 * objects are). Any other directory does not exist (ERROR_PATH_NOT_FOUND); a name starting with
 * a backslash is ERROR_BAD_PATHNAME, an empty component ERROR_INVALID_NAME, a final component
 * that is one of the links ERROR_INVALID_HANDLE (an object of another type). ANSI names are read as
 * UTF-8; a byte that is not valid UTF-8 becomes U+DC80 + byte, so distinct byte strings stay
 * distinct names. A name becomes a file name only through a 128-bit hash ("s" + 32 hex digits): no
 * character of it ever reaches a path, so
 * "/", "..", control characters and the like are ordinary name characters, as on Windows. */
#ifndef WVM_SECNAME_H
#define WVM_SECNAME_H
#include <stddef.h>
#include <stdint.h>

#define WVM_SECNAME_MAX   32767u /* UTF-16 code units: a UNICODE_STRING's limit */
#define WVM_SECNAME_MAX_A 259u   /* an ANSI name converted through a MAX_PATH buffer */
#define WVM_SECNAME_FILE  34u    /* "s" + 32 hex digits + NUL */

typedef struct wvm_secname {
    uint16_t *units; /* the final component, not terminated; NULL: unnamed */
    uint32_t len;
    uint32_t cap; /* code units allocated at units (core/meta.h frees are sized) */
    char ns; /* 'L' (Local, or no prefix) or 'G' (Global) */
    char file[WVM_SECNAME_FILE];
} wvm_secname;

/* Parses an ANSI / wide name (NULL or empty: unnamed, *out zeroed). 0, or the Windows error:
 * ERROR_FILENAME_EXCED_RANGE, ERROR_PATH_NOT_FOUND, ERROR_BAD_PATHNAME, ERROR_INVALID_NAME,
 * ERROR_INVALID_HANDLE, ERROR_ACCESS_DENIED ("Session\name"), ERROR_NOT_ENOUGH_MEMORY. */
uint32_t wvm__secname_a(const char *name, wvm_secname *out);
uint32_t wvm__secname_w(const uint16_t *name, wvm_secname *out);
void wvm__secname_free(wvm_secname *n);
/* Whether two parsed names are the same object name. */
int wvm__secname_equal(const wvm_secname *a, const uint16_t *units, uint32_t len, char ns);
#endif
