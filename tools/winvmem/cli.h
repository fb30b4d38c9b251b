/* The winvmem command-line tool: shared declarations. */
#ifndef WVM_CLI_H
#define WVM_CLI_H
#include <stdbool.h>

#include <winvmem.h>

#include "oplang.h"

int cli_info(bool json);
/* style: OPL_TEXT, OPL_JSON or OPL_TRANSCRIPT; returns the exit status */
int cli_run(const char *path, opl_style_t style, bool keep_going);
#endif
