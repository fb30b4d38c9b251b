/* Helpers of the per-page protection tests at scale (test_readonly_pages.c,
 * test_noaccess_pages.c): kernel mapping counts, switches, a fresh read-write allocation. */
#ifndef WVM_TEST_PROT_PAGES_H
#define WVM_TEST_PROT_PAGES_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "veh_record.h"

static long map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    long n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Mappings that overlap [lo, hi). */
static long maps_over(const char *lo, const char *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
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

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    cr_assert_not_null(f);
    long n = 0;
    cr_assert_eq(fscanf(f, "%ld", &n), 1);
    fclose(f);
    return n;
}

static int env_off(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '0';
}

/* The mechanism bit is in use exactly when expected. */
static void check_mechanism(uint32_t bit, int expected, const char *name)
{
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    cr_assert_eq(wvm_stats_get(&st), 0);
    cr_assert_eq(!!(st.mechanisms_in_use & bit), expected, "%s in use: %d, expected %d", name,
                 !!(st.mechanisms_in_use & bit), expected);
}

static char *commit_rw(size_t pages)
{
    char *p =
        wvm_VirtualAlloc(NULL, pages * PAGE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    return p;
}

static int set_prot(char *p, size_t pages, uint32_t prot)
{
    uint32_t old;
    return wvm_VirtualProtect(p, pages * PAGE, prot, &old);
}
/* A kernel write into p (read(2) into it) fails. */
static void kernel_write_fails(char *p)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    cr_assert_eq(read(fds[0], p, 1), -1);
    close(fds[0]);
    close(fds[1]);
}

/* A write that must not fault. */
static void write_succeeds(char *at, char value)
{
    int before = last.count;
    *(volatile char *)at = value;
    cr_assert_eq(last.count, before, "write to %p faulted", (void *)at);
    cr_assert_eq(*at, value);
}

/* The suites' init: the recording handler, which makes a faulting page read-write. */
static void prot_pages_setup(void)
{
    cr_assert_not_null(wvm_AddVectoredExceptionHandler(1, record));
    fix_prot = WVM_PAGE_READWRITE;
    fix_commit = 0;
    /* a NOACCESS page with data first: the arena's stash (one kernel mapping, reserved with
     * the arena and made read-write at the first such page, core/stash.h) is ready before the
     * tests count mappings */
    char *p = commit_rw(1);
    p[0] = 1;
    cr_assert(set_prot(p, 1, WVM_PAGE_NOACCESS));
    cr_assert(set_prot(p, 1, WVM_PAGE_READWRITE));
    cr_assert_eq(p[0], 1);
    cr_assert(wvm_VirtualFree(p, 0, WVM_MEM_RELEASE));
}
#endif
