/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the cluster key's cryptography (runtime/proto/auth.c), in
 * process: HMACs that separate their inputs, message MACs that any change
 * breaks, hex that refuses what is not hex.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "locus.h"
#include "proto/auth.h"

static void init(void)
{
    cr_assert_eq(auth_init(), 0);
}

TestSuite(unit_auth, .init = init, .timeout = 10);

static const uint8_t key[AUTH_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

Test(unit_auth, hmac_is_deterministic_and_separates_its_inputs)
{
    uint8_t a[AUTH_MAC_LEN], b[AUTH_MAC_LEN];
    auth_mac(key, "locus-peer", "ab", 2, "c", 1, a);
    auth_mac(key, "locus-peer", "ab", 2, "c", 1, b);
    cr_expect(auth_equal(a, b));
    auth_mac(key, "locus-sched", "ab", 2, "c", 1, b);
    cr_expect(!auth_equal(a, b), "the label counts");
    /* label || 0 || a || b: where a ends is not in the MAC, so every
       caller's a is of fixed length (nonces, ids); only b may vary (the
       CHALLENGE's job id).  Pinned, so that a change is a decision. */
    auth_mac(key, "locus-peer", "a", 1, "bc", 2, b);
    cr_expect(auth_equal(a, b), "a || b is a plain concatenation");
    uint8_t k2[AUTH_KEY_LEN];
    memcpy(k2, key, sizeof(k2));
    k2[31] ^= 1;
    auth_mac(k2, "locus-peer", "ab", 2, "c", 1, b);
    cr_expect(!auth_equal(a, b), "the key counts");
}

Test(unit_auth, message_mac_breaks_on_any_change)
{
    uint8_t msg[200], tag[AUTH_TAG_LEN];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7);
    auth_seal(key, 1, 42, msg, sizeof(msg), tag);
    cr_assert(auth_check(key, 1, 42, msg, sizeof(msg), tag));
    cr_expect(!auth_check(key, 2, 42, msg, sizeof(msg), tag), "kind");
    cr_expect(!auth_check(key, 1, 43, msg, sizeof(msg), tag), "counter");
    cr_expect(!auth_check(key, 1, 42, msg, sizeof(msg) - 1, tag), "length");
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] ^= 0x10;
        cr_assert(!auth_check(key, 1, 42, msg, sizeof(msg), tag), "byte %zu",
                  i);
        msg[i] ^= 0x10;
    }
    for (size_t i = 0; i < AUTH_TAG_LEN; i++) {
        tag[i] ^= 1;
        cr_assert(!auth_check(key, 1, 42, msg, sizeof(msg), tag));
        tag[i] ^= 1;
    }
}

Test(unit_auth, hex_round_trips_and_refuses_non_hex)
{
    uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff}, out[4];
    char hex[9];
    auth_to_hex(in, sizeof(in), hex);
    cr_expect_str_eq(hex, "00ab7fff");
    cr_assert_eq(auth_from_hex(hex, out, sizeof(out)), 0);
    cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
    cr_expect_eq(auth_from_hex("00AB7FFF", out, 4), 0, "upper case");
    cr_expect_eq(auth_from_hex("00ab7fzz", out, 4), LOCUS_EINVAL);
    cr_expect_eq(auth_from_hex("00ab7f", out, 4), LOCUS_EINVAL, "short");
    cr_expect_eq(auth_from_hex("00ab7fff00", out, 4), LOCUS_EINVAL, "long");
}

Test(unit_auth, random_bytes_differ)
{
    uint8_t a[32], b[32];
    auth_random(a, sizeof(a));
    auth_random(b, sizeof(b));
    cr_expect_neq(memcmp(a, b, sizeof(a)), 0);
}
