/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the task-key table (runtime/base/keytab.c), in process,
 * against a reference hash map (runtime/base/map.c, tested on its own).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

#include "base/keytab.h"
#include "base/map.h"

TestSuite(unit_keytab, .timeout = 20);

static void *val(uint64_t k)
{
    return (void *)(uintptr_t)(k * 2 + 1);
}

static uint64_t key(uint32_t owner, uint64_t seq)
{
    return (uint64_t)owner << 40 | seq;
}

Test(unit_keytab, put_get_del_and_overwrite)
{
    lc_keytab t;
    lc_kt_init(&t);
    cr_expect_null(lc_kt_get(&t, key(3, 1)), "empty table");
    cr_expect_null(lc_kt_del(&t, key(3, 1)));
    cr_assert_eq(lc_kt_put(&t, key(3, 1), val(1)), 0);
    cr_assert_eq(lc_kt_put(&t, 0, val(0)), 0, "key 0 is a key");
    cr_assert_eq(lc_kt_put(&t, 1ull << 63 | 5, val(5)), 0, "top bit set");
    cr_expect_eq(lc_kt_get(&t, key(3, 1)), val(1));
    cr_expect_eq(lc_kt_get(&t, 0), val(0));
    cr_expect_eq(lc_kt_get(&t, 1ull << 63 | 5), val(5));
    cr_expect_null(lc_kt_get(&t, key(4, 1)), "another owner's key");
    cr_assert_eq(lc_kt_put(&t, key(3, 1), val(7)), 0);
    cr_expect_eq(lc_kt_get(&t, key(3, 1)), val(7), "put replaces");
    cr_expect_eq(t.n, 3);
    cr_expect_eq(lc_kt_del(&t, key(3, 1)), val(7));
    cr_expect_null(lc_kt_get(&t, key(3, 1)));
    cr_expect_null(lc_kt_del(&t, key(3, 1)), "deleted twice");
    cr_expect_eq(t.n, 2);
    lc_kt_free(&t);
}

/* Several owners, each a window of live keys sliding forward (a
 * long-lived client), with keys out of order behind and ahead of the
 * window: the table agrees with the reference at every step, iteration
 * sees every key once, and memory follows the live keys, not the keys
 * ever made. */
Test(unit_keytab, agrees_with_a_reference_as_windows_slide)
{
    lc_keytab t;
    lc_map ref;
    lc_kt_init(&t);
    lc_map_init(&ref);
    srand(7);
    const uint32_t owners[] = {1, 2, 77, 0xffffff};
    uint64_t next[4] = {1, 1, 1, 1u << 20};
    for (int step = 0; step < 400000; step++) {
        int o = rand() % 4;
        int op = rand() % 10;
        if (op < 5) { /* a new key at the head of the window */
            uint64_t k = key(owners[o], next[o]++);
            cr_assert_eq(lc_kt_put(&t, k, val(k)), 0);
            lc_map_put(&ref, k, val(k));
        } else if (op < 9) { /* an old one goes, somewhere in the window */
            uint64_t back = (uint64_t)(rand() % 3000) + 1;
            if (back < next[o]) {
                uint64_t k = key(owners[o], next[o] - back);
                cr_assert_eq(lc_kt_del(&t, k), lc_map_del(&ref, k));
            }
        } else { /* a stray key far behind, or ahead */
            uint64_t seq = rand() % 2 ? next[o] + 5000 : next[o] / 2;
            uint64_t k = key(owners[o], seq);
            cr_assert_eq(lc_kt_get(&t, k), lc_map_get(&ref, k));
        }
        if (step % 50000 == 0)
            lc_kt_shrink(&t);
    }
    cr_assert_eq(t.n, ref.n);
    size_t seen = 0;
    uint64_t k;
    void *v;
    for (lc_kt_it it = {0}; lc_kt_next(&t, &it, &k, &v); seen++)
        cr_assert_eq(lc_map_get(&ref, k), v, "key %llx", (unsigned long long)k);
    cr_expect_eq(seen, ref.n);
    /* a key far behind the window once (a late record) */
    cr_assert_eq(lc_kt_put(&t, key(2, 3), val(3)), 0);
    lc_map_put(&ref, key(2, 3), val(3));
    cr_expect_eq(lc_kt_get(&t, key(2, 3)), val(3));
    lc_kt_del(&t, key(2, 3));
    lc_map_del(&ref, key(2, 3));
    /* everything out, deleting under the iterator */
    for (lc_kt_it it = {0}; lc_kt_next(&t, &it, &k, &v);) {
        cr_assert_eq(lc_kt_del(&t, k), v);
        lc_map_del(&ref, k);
    }
    cr_expect_eq(t.n, 0);
    cr_expect_eq(ref.n, 0);
    lc_kt_shrink(&t);
    cr_expect_eq(t.nowners, 0, "owners without keys are given back");
    lc_kt_free(&t);
    lc_map_free(&ref);
}

/* A million keys of one owner through a window of a thousand: the page
 * array stays the size of the window. */
Test(unit_keytab, memory_follows_the_live_keys)
{
    lc_keytab t;
    lc_kt_init(&t);
    for (uint64_t s = 1; s <= 1000000; s++) {
        cr_assert_eq(lc_kt_put(&t, key(9, s), val(s)), 0);
        if (s > 1000)
            cr_assert_eq(lc_kt_del(&t, key(9, s - 1000)), val(s - 1000));
    }
    cr_expect_eq(t.n, 1000);
    cr_expect_leq(t.owners[0].npages, 64 + 1000 / LC_KT_PAGE + 2,
                  "%zu page pointers for 1000 live keys", t.owners[0].npages);
    lc_kt_free(&t);
}

/* Keys anywhere in the 40 bits of sequence (a forged message's), and a
 * thousand owners: each key costs at most a hash slot, the page array
 * never passes LC_KT_MAX_SPAN, and every key is found again. */
Test(unit_keytab, stray_keys_and_many_owners_stay_cheap)
{
    lc_keytab t;
    lc_map ref;
    lc_kt_init(&t);
    lc_map_init(&ref);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t k = key((uint32_t)(i % 1000), x & ((1ull << 40) - 1));
        cr_assert_eq(lc_kt_put(&t, k, val(k)), 0);
        lc_map_put(&ref, k, val(k));
    }
    cr_expect_eq(t.n, ref.n);
    for (size_t i = 0; i < t.nowners; i++)
        cr_assert_leq(t.owners[i].npages, LC_KT_MAX_SPAN);
    size_t seen = 0;
    uint64_t k;
    void *v;
    for (lc_kt_it it = {0}; lc_kt_next(&t, &it, &k, &v); seen++)
        cr_assert_eq(lc_map_get(&ref, k), v);
    cr_expect_eq(seen, ref.n);
    for (size_t it = 0; lc_map_next(&ref, &it, &k, &v);)
        cr_assert_eq(lc_kt_get(&t, k), v);
    /* half of them go; the shrink moves owners, lookups still work */
    size_t n = 0;
    for (size_t it = 0; lc_map_next(&ref, &it, &k, &v);)
        if (n++ % 2 == 0)
            cr_assert_eq(lc_kt_del(&t, k), v);
    lc_kt_shrink(&t);
    n = 0;
    for (size_t it = 0; lc_map_next(&ref, &it, &k, &v);)
        cr_assert_eq(lc_kt_get(&t, k), n++ % 2 == 0 ? NULL : v);
    lc_kt_free(&t);
    lc_map_free(&ref);
}
