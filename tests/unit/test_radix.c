#include <criterion/criterion.h>

#include "core/radix.h"

#define G ((uintptr_t)0x10000)

Test(radix, set_get_clear_across_levels)
{
    struct wvm_alloc *a = (struct wvm_alloc *)0x1000, *b = (struct wvm_alloc *)0x2000;
    uintptr_t base = ((uintptr_t)1 << 34) - 3 * G; /* straddles a 16 GiB unit */
    uintptr_t big = base + ((uintptr_t)64 << 30);
    cr_assert_eq(wvm__radix_set(base, big, a), 0);
    cr_assert_eq(wvm__radix_set(big, big + G, b), 0);
    cr_expect_eq(wvm__radix_get(base), a);
    cr_expect_eq(wvm__radix_get(base + ((uintptr_t)33 << 30)), a);
    cr_expect_eq(wvm__radix_get(big - 1), a);
    cr_expect_eq(wvm__radix_get(big), b);
    cr_expect_null(wvm__radix_get(base - 1));
    cr_expect_null(wvm__radix_get(big + G));
    cr_expect_eq(wvm__radix_next(G, big), base);
    cr_expect_eq(wvm__radix_next(big + G, (uintptr_t)1 << 47), (uintptr_t)1 << 47);
    wvm__radix_clear(base, big);
    cr_expect_null(wvm__radix_get(base + G));
    cr_expect_eq(wvm__radix_next(base, (uintptr_t)1 << 47), big);
    cr_expect_null(wvm__radix_get((uintptr_t)1 << 50));
}
