/* The free-extent treap, against a bitmap model. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>

#include "core/freespace.h"

#define G     0x10000u
#define SLOTS 512
#define BASE  ((uintptr_t)1 << 40)

static bool used[SLOTS];

static uintptr_t addr(int slot)
{
    return BASE + (uintptr_t)slot * G;
}

/* lowest run of n free slots in the model, or -1 */
static int model_low(int n)
{
    for (int i = 0, run = 0; i < SLOTS; i++) {
        run = used[i] ? 0 : run + 1;
        if (run == n)
            return i - n + 1;
    }
    return -1;
}

static int model_high(int n)
{
    for (int i = SLOTS - 1, run = 0; i >= 0; i--) {
        run = used[i] ? 0 : run + 1;
        if (run == n)
            return i;
    }
    return -1;
}

Test(freespace, random_operations_match_a_bitmap)
{
    cr_assert_eq(wvm__free_add(BASE, SLOTS * G), 0);
    unsigned seed = 1;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        int op = (seed >> 16) % 4, n = 1 + (seed >> 8) % 8, at = (seed >> 4) % SLOTS;
        uintptr_t got;
        if (op == 0 || op == 1) {
            int want = op == 0 ? model_low(n) : model_high(n);
            int err = op == 0 ? wvm__free_take_low(n * G, &got) : wvm__free_take_high(n * G, &got);
            if (want < 0) {
                cr_assert_eq(err, ENOMEM);
                continue;
            }
            cr_assert_eq(err, 0);
            cr_assert_eq(got, addr(want), "step %d op %d n %d", step, op, n);
            for (int i = 0; i < n; i++)
                used[want + i] = true;
        } else if (op == 2) {
            bool fits = at + n <= SLOTS;
            for (int i = 0; fits && i < n; i++)
                fits = !used[at + i];
            int err = at + n <= SLOTS ? wvm__free_take_at(addr(at), n * G) : ENOENT;
            cr_assert_eq(err, fits ? 0 : ENOENT, "step %d take_at %d+%d", step, at, n);
            for (int i = 0; fits && i < n; i++)
                used[at + i] = true;
        } else {
            int len = 0;
            while (at + len < SLOTS && used[at + len] && len < n)
                len++;
            if (!len)
                continue;
            cr_assert_eq(wvm__free_add(addr(at), len * G), 0);
            for (int i = 0; i < len; i++)
                used[at + i] = false;
        }
        size_t bytes, free_slots = 0;
        wvm__free_extents(&bytes);
        for (int i = 0; i < SLOTS; i++)
            free_slots += !used[i];
        cr_assert_eq(bytes, free_slots * G);
    }
}
