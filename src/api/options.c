/* wvm_option_get: which WINVMEM_* options are in force, and where their values come from. */
#include <stdio.h>
#include <string.h>

#include <winvmem/stats.h>

#include "api/api.h"
#include "prim/options.h"

_Static_assert(WVM_OPTION_DEFAULT == WVM_OPT_SRC_DEFAULT &&
                   WVM_OPTION_ENVIRONMENT == WVM_OPT_SRC_ENVIRONMENT &&
                   WVM_OPTION_REJECTED == WVM_OPT_SRC_REJECTED &&
                   WVM_OPTION_SET_IN_PROCESS == WVM_OPT_SRC_SET,
               "option sources");
_Static_assert(sizeof(((wvm_option_info *)0)->text) == WVM_OPT_TEXT_MAX, "option text");

WVM_API int wvm_option_get(unsigned index, wvm_option_info *out)
{
    const wvm_option_desc *d;
    const char *text;
    if (!out || wvm__option_describe(index, &d, &out->value, &out->source, &text))
        return -1;
    out->name = d->env;
    out->help = d->help;
    out->default_value = d->default_value;
    snprintf(out->text, sizeof out->text, "%s", text);
    return 0;
}
