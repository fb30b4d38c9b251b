/* The process's kernel mapping count, for the scale tier (vm.max_map_count is the limit every
 * emulator meets). */
#ifndef WVM_TEST_MAPS_H
#define WVM_TEST_MAPS_H
#include <stdio.h>

#include <criterion/criterion.h>

/* Lines of /proc/self/maps: one per mapping. */
static inline long map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f, "/proc/self/maps");
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}
#endif
