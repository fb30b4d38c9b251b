#include <pthread.h>

#include "mbi.h"

static void *other_thread(void *arg)
{
    (void)arg;
    SetLastError(42);
    return (void *)(uintptr_t)GetLastError();
}

Test(lasterror, per_thread)
{
    SetLastError(7);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &r);
    cr_expect_eq((uintptr_t)r, 42);
    cr_expect_eq(GetLastError(), 7);
}

Test(lasterror, error_names)
{
    cr_expect_str_eq(wvm_error_name(1455), "ERROR_COMMITMENT_LIMIT");
    cr_expect_str_eq(wvm_error_name(ERROR_INVALID_PARAMETER), "ERROR_INVALID_PARAMETER");
    cr_expect_str_eq(wvm_error_name(0), "ERROR_SUCCESS");
    cr_expect_null(wvm_error_name(1));
    cr_expect_null(wvm_error_name(0xdeadbeef));
}

/* Every WVM_ERROR_* that vm.h or sections.h defines has its name (read from the headers
 * themselves, so that a new error code without a name fails here). */
Test(lasterror, every_error_of_the_header_has_its_name)
{
    static const char *const headers[] = {WVM_VM_H, WVM_SECTIONS_H};
    unsigned n = 0;
    for (unsigned h = 0; h < 2; h++) {
        FILE *f = fopen(headers[h], "r");
        cr_assert_not_null(f, "%s", headers[h]);
        char line[256], name[64];
        unsigned code;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "#define WVM_%63s %uu", name, &code) != 2 ||
                strncmp(name, "ERROR_", 6))
                continue;
            n++;
            const char *got = wvm_error_name(code);
            cr_expect(got && !strcmp(got, name), "%u: %s, want %s", code, got ? got : "NULL", name);
        }
        fclose(f);
    }
    cr_expect_geq(n, 24, "only %u error codes found in the headers", n);
}
