/* Helpers for the write-watch tests: GetWriteWatch results as page indices, and an exact check. */
#ifndef WVM_TEST_WRITEWATCH_CHECK_H
#define WVM_TEST_WRITEWATCH_CHECK_H
#include <criterion/criterion.h>
#include <winvmem.h>

#define PG 4096u

/* Calls GetWriteWatch and checks it succeeds; returns the count, pages as indices from base. */
static inline uintptr_t ww_pages(uint32_t flags, char *base, char *from, size_t size, uintptr_t cap,
                                 long *idx)
{
    void *res[256];
    uintptr_t n = cap;
    uint32_t gran = 0;
    cr_assert_leq(cap, 256);
    uint32_t r = wvm_GetWriteWatch(flags, from, size, res, &n, &gran);
    cr_assert_eq(r, 0, "GetWriteWatch failed: %u", wvm_GetLastError());
    cr_assert_eq(gran, PG);
    cr_assert_leq(n, cap);
    for (uintptr_t i = 0; i < n; i++) {
        idx[i] = ((char *)res[i] - base) / (long)PG;
        cr_assert_eq((uintptr_t)res[i] % PG, 0, "page aligned");
        if (i)
            cr_assert_gt(idx[i], idx[i - 1], "ascending");
    }
    return n;
}

/* Expects exactly the pages listed (terminated by -1). */
#define EXPECT_PAGES(flags, base, from, size, ...)                                                 \
    do {                                                                                           \
        long want_[] = {__VA_ARGS__, -1}, got_[256];                                               \
        uintptr_t n_ = ww_pages(flags, base, from, size, 256, got_);                               \
        uintptr_t w_ = 0;                                                                          \
        while (want_[w_] >= 0)                                                                     \
            w_++;                                                                                  \
        cr_expect_eq(n_, w_, "count %lu, expected %lu", (unsigned long)n_, (unsigned long)w_);     \
        for (uintptr_t i_ = 0; i_ < n_ && i_ < w_; i_++)                                           \
            cr_expect_eq(got_[i_], want_[i_], "page #%lu: %ld, expected %ld", (unsigned long)i_,   \
                         got_[i_], want_[i_]);                                                     \
    } while (0)
#define NONE -1
#endif
