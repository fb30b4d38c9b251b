/* wvm_version, wvm_version_string and the WVM_VERSION_* macros of winvmem/version.h: the library
 * and the headers agree, and the number and the text say the same. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <winvmem/vm.h>

Test(version, library_matches_headers)
{
    cr_expect_eq(wvm_version(), (unsigned)WVM_VERSION);
    cr_expect_str_eq(wvm_version_string(), WVM_VERSION_STRING);
}

Test(version, number_and_text_agree)
{
    unsigned major, minor, patch;
    char end;
    cr_assert_eq(sscanf(wvm_version_string(), "%u.%u.%u%c", &major, &minor, &patch, &end), 3,
                 "'%s' is not MAJOR.MINOR.PATCH", wvm_version_string());
    cr_expect_eq(major, WVM_VERSION_MAJOR);
    cr_expect_eq(minor, WVM_VERSION_MINOR);
    cr_expect_eq(patch, WVM_VERSION_PATCH);
    cr_expect_lt(minor, 100u);
    cr_expect_lt(patch, 100u);
    cr_expect_eq(wvm_version(), major * 10000 + minor * 100 + patch);
}
