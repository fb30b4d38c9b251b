/* The process's kernel mapping count, for the scale tier (vm.max_map_count is the limit every
 * emulator meets). */
#ifndef WVM_TEST_MAPS_H
#define WVM_TEST_MAPS_H
#include <stdint.h>
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

/* Mappings that overlap [lo, hi). */
static inline long maps_over(const char *lo, const char *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f, "/proc/self/maps");
    long n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < (uintptr_t)hi && e > (uintptr_t)lo)
            n++;
    }
    fclose(f);
    return n;
}

/* vm.max_map_count: the most mappings a process may have. */
static inline long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    cr_assert_not_null(f, "/proc/sys/vm/max_map_count");
    long n = 0;
    cr_assert_eq(fscanf(f, "%ld", &n), 1);
    fclose(f);
    return n;
}
#endif
