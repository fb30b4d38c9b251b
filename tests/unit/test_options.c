#include <criterion/criterion.h>
#include <stdlib.h>

#include "prim/options.h"

static void env(void)
{
    setenv("WINVMEM_COMMIT_LIMIT", "3G", 1);
    setenv("WINVMEM_VERBOSE", "banana", 1);
}

Test(options, sizes_parse_and_bad_values_fall_back, .init = env)
{
    cr_expect_eq(wvm__option(WVM_OPT_COMMIT_LIMIT), (int64_t)3 << 30);
    cr_expect_eq(wvm__option(WVM_OPT_VERBOSE), 0);
    cr_expect_eq(wvm__option(WVM_OPT_GUARD_MARKERS), 1);
}
