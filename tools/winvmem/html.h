/* `winvmem map --html`: a self-contained HTML page of an address space, VMMap-style: a bar
 * of the regions coloured by state and type, a bar of the committed and reserved bytes by type,
 * and the region table; the statistics when known. */
#ifndef WVM_CLI_HTML_H
#define WVM_CLI_HTML_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* One region as `winvmem map --json` writes it (the strings point into the JSON). */
typedef struct cli_region {
    uint64_t base, size, allocation_base;
    const char *state, *protect, *type, *allocation_protect;
    bool winvmem;
} cli_region;

/* Reads a map array; 0, or -1 with the reason in err. *out is malloc'ed. */
int cli_regions_from_json(const cli_json *map, cli_region **out, size_t *n, char *err,
                          size_t errcap);

void cli_html_begin(FILE *out, const char *title, const char *source);
/* One map: heading, summary, the two bars, the table. */
void cli_html_map(FILE *out, const char *heading, const cli_region *r, size_t n);
/* wvm_print_stats's JSON object as a table (nested objects flattened as a.b). */
void cli_html_stats(FILE *out, const cli_json *stats);
void cli_html_end(FILE *out);
#endif
