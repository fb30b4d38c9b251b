/* The hostile-argument tests' rows: a canary allocation (mixed states, known contents) and
 * the library's counters, which every row must leave exactly as they were. */
#ifndef WVM_TEST_HOSTILE_ROWS_H
#define WVM_TEST_HOSTILE_ROWS_H
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <winvmem/stats.h>
#include <winvmem/win32.h>

#define PG   0x1000u
#define ANY  0xFFFFFFFFu
#define WILD ((void *)0x1000)
#define MAXU ((uintptr_t)0x7FFFFFFEFFFF) /* lpMaximumApplicationAddress */

static char *canary; /* 16 pages: 0-3 RW with data, 4-5 READONLY, 6-15 reserved */

typedef struct snap {
    char text[2048];
    wvm_stats st;
} snap;

static void take(snap *s)
{
    size_t len = 0;
    MEMORY_BASIC_INFORMATION m;
    s->text[0] = 0;
    for (char *p = canary; VirtualQuery(p, &m, sizeof m) && m.AllocationBase == canary;
         p += m.RegionSize) {
        int n = snprintf(s->text + len, sizeof s->text - len, "[+%zx %zx %x %x %x %x]",
                         (size_t)(p - canary), m.RegionSize, (unsigned)m.State, (unsigned)m.Protect,
                         (unsigned)m.AllocationProtect, (unsigned)m.Type);
        if (n < 0 || (size_t)n >= sizeof s->text - len)
            break;
        len += (size_t)n;
    }
    for (int i = 0; i < 6; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, " %d", canary[i * PG + 7]);
    memset(&s->st, 0, sizeof s->st);
    s->st.version = WVM_STATS_VERSION;
    s->st.size = sizeof s->st;
    cr_assert_eq(wvm_stats_get(&s->st), 0);
}

static snap before;

static void setup(void)
{
    canary = VirtualAlloc(NULL, 16 * PG, MEM_RESERVE, PAGE_READWRITE);
    cr_assert(canary);
    cr_assert(VirtualAlloc(canary, 6 * PG, MEM_COMMIT, PAGE_READWRITE));
    for (int i = 0; i < 6; i++)
        canary[i * PG + 7] = (char)(i + 1);
    DWORD old;
    cr_assert(VirtualProtect(canary + 4 * PG, 2 * PG, PAGE_READONLY, &old));
    take(&before);
}

/* Checks a row: ok is the call's success, err its GetLastError. */
static void row(const char *what, int ok, DWORD err, int want_ok, DWORD want_err)
{
    cr_expect_eq(ok, want_ok, "%s: %s, expected %s (error %lu)", what, ok ? "succeeds" : "fails",
                 want_ok ? "success" : "failure", (unsigned long)err);
    if (!ok && !want_ok && want_err != ANY)
        cr_expect_eq(err, want_err, "%s: error %lu, expected %lu", what, (unsigned long)err,
                     (unsigned long)want_err);
    snap now;
    take(&now);
    cr_assert_str_eq(now.text, before.text, "%s changed the canary", what);
    if (!want_ok) {
        cr_expect_eq(now.st.reserved_bytes, before.st.reserved_bytes, "%s: reserved bytes", what);
        cr_expect_eq(now.st.committed_bytes, before.st.committed_bytes, "%s: committed", what);
        cr_expect_eq(now.st.live_allocations, before.st.live_allocations, "%s: allocations", what);
    }
}

#define ROW(what, call, want_ok, want_err)                                                         \
    do {                                                                                           \
        SetLastError(0xdead);                                                                      \
        int ok_ = (call);                                                                          \
        row(what, ok_, GetLastError(), want_ok, want_err);                                         \
    } while (0)

#endif
