/* The winvmem command-line tool: shared declarations. */
#ifndef WVM_CLI_H
#define WVM_CLI_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <winvmem.h>

int cli_info(bool json);
int cli_version(
    void); /* "winvmem 0.1.0": the library's version (and the headers' if they differ) */
int cli_run(const char *path, bool json, bool keep_going);

/* names.c: Windows names for numbers and back */
const char *cli_error_name(uint32_t err); /* "ERROR_INVALID_PARAMETER", or NULL */
/* "COMMIT|RESERVE" for a set of MEM_* flags; "PAGE_READWRITE|PAGE_GUARD" for a protection. */
void cli_mem_flags(uint32_t v, char *buf, size_t cap);
void cli_prot_flags(uint32_t v, char *buf, size_t cap);
const char *cli_state_name(uint32_t state);
const char *cli_type_name(uint32_t type);
/* Parses FLAG|FLAG|0x10 (names without the MEM_/PAGE_ prefix, as the op language writes
 * them; the prefixed spelling is accepted too). false on an unknown word. */
bool cli_parse_mem(const char *s, uint32_t *out);
bool cli_parse_prot(const char *s, uint32_t *out);
bool cli_parse_u64(const char *s, uint64_t *out);
/* JSON string escaping of s into out. */
void cli_json_str(FILE *out, const char *s);

/* probe.c: touches memory without dying; 'w' writable, 'r' read-only, '-' no access,
 * 'g' a guard page (reported through winvmem's vectored handlers when they exist). */
void cli_probe_init(void);
char cli_probe_read(const volatile unsigned char *p, unsigned char *value);
char cli_probe_write(volatile unsigned char *p, unsigned char value);
#endif
