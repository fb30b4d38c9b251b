/* The winvmem command-line tool: shared declarations. */
#ifndef WVM_CLI_H
#define WVM_CLI_H
#include <stdbool.h>

#include <winvmem.h>

#include "oplang.h"

int cli_info(bool json);
/* "winvmem 0.1.0": the library's version (and the headers' when they differ) */
int cli_version(void);
/* style: OPL_TEXT, OPL_JSON or OPL_TRANSCRIPT; html: draw run --json's maps as a page (html.h).
 * Returns the exit status. */
int cli_run(const char *path, opl_style_t style, bool keep_going, bool html);
/* map: table, JSON, or HTML of this process (from NULL) or of a saved JSON document */
int cli_map(bool json, bool all, bool html, const char *from);
/* HTML of the maps in a JSON document (text); what names it in messages. */
int cli_map_html_doc(const char *text, const char *what, const char *title, const char *source);
#endif
