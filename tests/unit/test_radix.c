#include <criterion/criterion.h>

#include "core/radix.h"
#include "core/slots.h"

#define G ((uintptr_t)0x10000)

Test(radix, set_get_clear_across_levels)
{
    struct wvm_alloc *a = wvm__slots_take(1), *b = wvm__slots_take(1);
    cr_assert(a && b);
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

/* A granule shared by pieces of a placeholder split at pages: page entries (a fourth level). */
Test(radix, pages_of_a_shared_granule)
{
    struct wvm_alloc *a = wvm__slots_take(1), *b = wvm__slots_take(1);
    cr_assert(a && b);
    const uintptr_t P = 0x1000;
    uintptr_t g = (uintptr_t)5 << 40; /* granules [g, g+2G) */
    cr_assert_eq(wvm__radix_set(g, g + 2 * G, a), 0);
    cr_assert_eq(wvm__radix_prepare(g + 3 * P, g + 2 * G, a), 0);
    cr_expect_eq(wvm__radix_get(g + 3 * P), a, "prepare changes no entry");
    cr_assert_eq(wvm__radix_set(g + 3 * P, g + 2 * G, b), 0);
    cr_expect_eq(wvm__radix_get(g + 3 * P - 1), a);
    cr_expect_eq(wvm__radix_get(g + 3 * P), b);
    cr_expect_eq(wvm__radix_get(g + G + 5), b);
    cr_expect_eq(wvm__radix_next_other(g, g + 2 * G, a), g + 3 * P);
    cr_expect_eq(wvm__radix_next_other(g + P + 7, g + 2 * G, a), g + 3 * P);
    cr_expect_eq(wvm__radix_next(g + 2 * P + 1, g + 2 * G), g + 2 * P + 1);
    wvm__radix_clear(g, g + 3 * P);
    cr_expect_null(wvm__radix_get(g));
    cr_expect_null(wvm__radix_get(g + 3 * P - 1));
    cr_expect_eq(wvm__radix_next(g, g + 2 * G), g + 3 * P);
    /* a whole granule written over page entries, then cleared: empty */
    cr_assert_eq(wvm__radix_set(g, g + G, a), 0);
    cr_expect_eq(wvm__radix_get(g + 15 * P), a);
    wvm__radix_clear(g, g + 2 * G);
    cr_expect_eq(wvm__radix_next(g, g + 2 * G), g + 2 * G);
}

/* Slots: 64-byte aligned, zero-filled, distinct, named by 32-bit offsets; offset 0 is never
 * handed out (a zero index entry means none). */
Test(radix, slots_are_named_by_32_bit_offsets)
{
    size_t before = wvm__slots_bytes();
    char *x = wvm__slots_take(1), *y = wvm__slots_take(20000); /* grows past 1 MiB */
    cr_assert(x && y);
    cr_expect_eq(wvm__slots_bytes() - before, 20001 * WVM_SLOT);
    cr_expect_geq(wvm__slots_held(), wvm__slots_bytes());
    cr_expect_eq((uintptr_t)x % WVM_SLOT, 0);
    cr_expect_neq(wvm__slot_of(x), 0);
    cr_expect_eq(wvm__slot_at(wvm__slot_of(y)), y);
    cr_expect(y >= x + WVM_SLOT || y + 20000 * WVM_SLOT <= x);
    for (size_t i = 0; i < 20000 * WVM_SLOT; i += 4096)
        cr_expect_eq(y[i], 0);
    y[20000 * WVM_SLOT - 1] = 1; /* the last byte is writable */
}
