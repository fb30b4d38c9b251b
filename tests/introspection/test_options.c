/* Environment options: valid values take effect, bad ones are reported once and ignored. */
#include <criterion/criterion.h>
#include <winvmem.h>

#include "child.h"

static wvm_MEMORYSTATUSEX status_now(void)
{
    wvm_MEMORYSTATUSEX m = {.dwLength = sizeof m};
    wvm_GlobalMemoryStatusEx(&m);
    return m;
}

static int limit_is_64m(void)
{
    if (status_now().ullTotalPageFile != 64u << 20)
        return 1;
    /* 65 MiB cannot be committed under a 64 MiB limit; the refusal is counted */
    void *p =
        wvm_VirtualAlloc(NULL, 65u << 20, WVM_MEM_COMMIT | WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    if (p || wvm_GetLastError() != WVM_ERROR_COMMITMENT_LIMIT)
        return 2;
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    return wvm_stats_get(&s) || s.commit_refusals != 1 || s.commit_limit != 64u << 20 ? 3 : 0;
}

Test(options, commit_limit_with_suffix)
{
    int st;
    const char *env[] = {"WINVMEM_COMMIT_LIMIT", "64M", NULL};
    char *err = run_child(env, limit_is_64m, &st);
    cr_expect_eq(st, 0, "child failed step %d; stderr: %s", st, err);
    cr_expect_eq(count_of(err, "ignoring"), 0, "%s", err);
    free(err);
}

static uint64_t default_limit;

static int limit_is_default_twice(void)
{
    /* several calls, several threads' worth of reads: the warning must still appear once */
    for (int i = 0; i < 3; i++)
        if (status_now().ullTotalPageFile != default_limit)
            return 1;
    void *p = wvm_VirtualAlloc(NULL, 1 << 16, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    return p && wvm_VirtualFree(p, 0, WVM_MEM_RELEASE) ? 0 : 2;
}

static int record_default(void)
{
    printf("%llu\n", (unsigned long long)status_now().ullTotalPageFile);
    return 0;
}

Test(options, bad_values_warned_once_and_ignored)
{
    int st;
    /* the default limit, as a process without options sees it */
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (!pid) {
        dup2(fd[1], 1);
        exit(record_default());
    }
    close(fd[1]);
    char num[32] = {0};
    cr_assert_gt(read(fd[0], num, sizeof num - 1), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child status %#x", st);
    default_limit = strtoull(num, NULL, 10);
    cr_assert_gt(default_limit, 0);

    const char *const bad[][2] = {{"WINVMEM_COMMIT_LIMIT", "12Q"},
                                  {"WINVMEM_COMMIT_LIMIT", "-5"},
                                  {"WINVMEM_COMMIT_LIMIT", "99999999999T"},
                                  {"WINVMEM_GUARD_MARKERS", "yes"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *env[] = {bad[i][0], bad[i][1], NULL};
        char *err = run_child(env, limit_is_default_twice, &st);
        cr_expect_eq(st, 0, "%s=%s: child failed step %d", bad[i][0], bad[i][1], st);
        char want[128];
        snprintf(want, sizeof want, "ignoring %s=%s", bad[i][0], bad[i][1]);
        cr_expect_eq(count_of(err, want), 1, "%s=%s: stderr was: %s", bad[i][0], bad[i][1], err);
        cr_expect_eq(count_of(err, "winvmem:"), 1, "only one line expected: %s", err);
        free(err);
    }
}

static int touch(void)
{
    for (int i = 0; i < 4; i++) {
        void *p = wvm_VirtualAlloc(NULL, 1 << 16, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
        if (!p || !wvm_VirtualFree(p, 0, WVM_MEM_RELEASE))
            return 1;
    }
    return 0;
}

Test(options, show_stats_prints_at_exit_only_when_asked)
{
    int st;
    const char *on[] = {"WINVMEM_SHOW_STATS", "1", NULL};
    char *err = run_child(on, touch, &st);
    cr_expect_eq(st, 0);
    cr_expect_eq(count_of(err, "winvmem statistics"), 1, "%s", err);
    cr_expect_eq(count_of(err, "allocations       0 live"), 1, "%s", err);
    free(err);
    err = run_child(NULL, touch, &st);
    cr_expect_eq(st, 0);
    cr_expect_eq(count_of(err, "winvmem"), 0, "%s", err); /* (sanitizers may add lines) */
    free(err);
}

Test(options, verbose_explains_mechanisms_once)
{
    int st;
    const char *env[] = {"WINVMEM_VERBOSE", "1", "WINVMEM_GUARD_MARKERS", "0", NULL};
    char *err = run_child(env, touch, &st);
    cr_expect_eq(st, 0);
    cr_expect_eq(count_of(err, "winvmem: guard-markers: "), 1, "%s", err);
    cr_expect_eq(count_of(err, "winvmem: procmap-query: "), 1, "%s", err);
    /* disabled by the option: either "available, not used" or missing on an old kernel */
    cr_expect(strstr(err, "guard-markers: available, not used: disabled by "
                          "WINVMEM_GUARD_MARKERS=0") ||
                  strstr(err, "guard-markers: missing: "),
              "%s", err);
    free(err);
    err = run_child(NULL, touch, &st);
    cr_expect_eq(count_of(err, "winvmem"), 0, "%s", err); /* (sanitizers may add lines) */
    free(err);
}

/* wvm_option_get: where each value comes from; a rejected value is never reported in force */
static int sources_as_set(void)
{
    wvm_option_info o, by[16];
    unsigned n = 0;
    while (n < 16 && !wvm_option_get(n, &o))
        by[n++] = o;
    if (n < 8 || wvm_option_get(n, &o) != -1 || wvm_option_get(0, NULL) != -1)
        return 1;
    int seen = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!strcmp(by[i].name, "WINVMEM_COMMIT_LIMIT")) {
            if (by[i].source != WVM_OPTION_REJECTED || strcmp(by[i].text, "12Q") ||
                by[i].value != by[i].default_value)
                return 2;
            seen |= 1;
        } else if (!strcmp(by[i].name, "WINVMEM_GUARD_MARKERS")) {
            if (by[i].source != WVM_OPTION_ENVIRONMENT || by[i].value != 0 ||
                strcmp(by[i].text, "0"))
                return 3;
            seen |= 2;
        } else if (!strcmp(by[i].name, "WINVMEM_DYNAMIC_CODE")) {
            if (by[i].source != WVM_OPTION_DEFAULT || by[i].text[0])
                return 4;
            wvm_set_dynamic_code_allowed(1);
            if (wvm_option_get(i, &o) || o.source != WVM_OPTION_SET_IN_PROCESS || o.value != 1)
                return 5;
            seen |= 4;
        }
    }
    return seen == 7 ? 0 : 6;
}

Test(options, option_get_reports_sources)
{
    int st;
    const char *env[] = {"WINVMEM_COMMIT_LIMIT", "12Q", "WINVMEM_GUARD_MARKERS", "0", NULL};
    char *err = run_child(env, sources_as_set, &st);
    cr_expect_eq(st, 0, "child failed step %d; stderr: %s", st, err);
    free(err);
}
