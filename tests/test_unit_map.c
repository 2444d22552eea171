/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the u64 -> pointer hash map (runtime/base/map.c), in process,
 * against a plain array as the reference.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

#include "base/map.h"

TestSuite(unit_map, .timeout = 10);

static void *val(uint64_t k)
{
    return (void *)(uintptr_t)(k * 2 + 1);
}

Test(unit_map, put_get_del_and_overwrite)
{
    lc_map m;
    lc_map_init(&m);
    cr_expect_null(lc_map_get(&m, 1), "empty map");
    cr_expect_null(lc_map_del(&m, 1));
    cr_assert_eq(lc_map_put(&m, 1, val(1)), 0);
    cr_assert_eq(lc_map_put(&m, 0, val(0)), 0, "key 0 is a key");
    cr_expect_eq(lc_map_get(&m, 1), val(1));
    cr_expect_eq(lc_map_get(&m, 0), val(0));
    cr_assert_eq(lc_map_put(&m, 1, val(7)), 0);
    cr_expect_eq(lc_map_get(&m, 1), val(7), "put replaces");
    cr_expect_eq(m.n, 2);
    cr_expect_eq(lc_map_del(&m, 1), val(7));
    cr_expect_null(lc_map_get(&m, 1));
    cr_expect_eq(m.n, 1);
    lc_map_free(&m);
}

/* Many keys, deletions in between (tombstones), growth and shrinking:
 * the map always agrees with a reference array. */
Test(unit_map, agrees_with_a_reference_through_growth_and_shrink)
{
    enum { N = 200000 };
    unsigned char *in = calloc(N, 1);
    cr_assert_not_null(in);
    lc_map m;
    lc_map_init(&m);
    srand(7);
    size_t live = 0;
    for (int i = 0; i < 4 * N; i++) {
        uint64_t k = (uint64_t)(rand() % N) * 0x9e3779b97f4a7c15ull % N;
        if (rand() % 3) {
            if (!in[k])
                live++;
            in[k] = 1;
            cr_assert_eq(lc_map_put(&m, k << 20, val(k)), 0);
        } else {
            void *v = lc_map_del(&m, k << 20);
            cr_assert_eq(v, in[k] ? val(k) : NULL, "del %llu",
                         (unsigned long long)k);
            if (in[k])
                live--;
            in[k] = 0;
        }
    }
    cr_assert_eq(m.n, live);
    size_t it = 0, seen = 0;
    uint64_t k;
    void *v;
    while (lc_map_next(&m, &it, &k, &v)) {
        cr_assert(in[k >> 20], "iterated a deleted key");
        cr_assert_eq(v, val(k >> 20));
        seen++;
    }
    cr_assert_eq(seen, live);
    /* empty most of it, shrink, and everything left is still there */
    for (uint64_t i = 0; i < N; i++)
        if (in[i] && i % 100) {
            cr_assert_eq(lc_map_del(&m, i << 20), val(i));
            in[i] = 0;
            live--;
        }
    lc_map_shrink(&m);
    cr_assert_eq(m.n, live);
    for (uint64_t i = 0; i < N; i++)
        cr_assert_eq(lc_map_get(&m, i << 20), in[i] ? val(i) : NULL);
    lc_map_free(&m);
    free(in);
}
