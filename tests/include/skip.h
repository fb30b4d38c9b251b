/* Skipping a test because this machine lacks something (a kernel feature, root, a hugetlb page)
 * means nothing was checked: wvm_cannot_run() FAILS the test, unless WINVMEM_ALLOW_SKIP=1 (a
 * developer's machine; never in CI), where it skips it with the same reason. tools/test.sh lists
 * every skip by name. A skip by design (a case that runs in another ctest variant, or only in
 * fault-injection builds) stays cr_skip_test. The reason must be a string literal. */
#ifndef WVM_TEST_SKIP_H
#define WVM_TEST_SKIP_H
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

static inline int wvm_skip_allowed(void)
{
    const char *v = getenv("WINVMEM_ALLOW_SKIP");
    return v && !strcmp(v, "1");
}

#define wvm_cannot_run(...)                                                                        \
    do {                                                                                           \
        if (wvm_skip_allowed())                                                                    \
            cr_skip_test(__VA_ARGS__);                                                             \
        cr_assert_fail("cannot run here (WINVMEM_ALLOW_SKIP=1 skips this): " __VA_ARGS__);         \
    } while (0)

#endif
