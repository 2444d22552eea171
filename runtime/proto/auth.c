/* SPDX-License-Identifier: BSD-3-Clause */
#include "proto/auth.h"

#include <sodium.h>
#include <string.h>

#include "base/base.h"

int auth_init(void)
{
    if (sodium_init() < 0)
        return lc_seterr(LOCUS_ESYS, "auth",
                         "libsodium failed to initialise "
                         "(no entropy source?)");
    return 0;
}

void auth_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

void auth_mac(const uint8_t key[AUTH_KEY_LEN], const char *label, const void *a,
              size_t alen, const void *b, size_t blen,
              uint8_t out[AUTH_MAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, AUTH_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
                                  strlen(label) + 1);
    if (alen)
        crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

static void nonce_of(uint32_t kind, uint64_t ctr, unsigned char n[12])
{
    for (int i = 0; i < 4; i++)
        n[i] = (unsigned char)(kind >> (8 * i));
    for (int i = 0; i < 8; i++)
        n[4 + i] = (unsigned char)(ctr >> (8 * i));
}

void auth_seal(const uint8_t key[AUTH_KEY_LEN], uint32_t kind, uint64_t ctr,
               const void *msg, size_t len, uint8_t tag[AUTH_TAG_LEN])
{
    unsigned char n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    unsigned long long tl = 0;
    unsigned char none[1] = {0}; /* no plaintext: everything is authenticated */
    nonce_of(kind, ctr, n);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(none, tag, &tl, none, 0,
                                                       msg, len, NULL, n, key);
}

int auth_check(const uint8_t key[AUTH_KEY_LEN], uint32_t kind, uint64_t ctr,
               const void *msg, size_t len, const uint8_t tag[AUTH_TAG_LEN])
{
    unsigned char n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    unsigned char none[1] = {0};
    nonce_of(kind, ctr, n);
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
               none, NULL, none, 0, tag, msg, len, n, key) == 0;
}

int auth_equal(const uint8_t a[AUTH_MAC_LEN], const uint8_t b[AUTH_MAC_LEN])
{
    return sodium_memcmp(a, b, AUTH_MAC_LEN) == 0;
}

void auth_to_hex(const uint8_t *in, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int auth_from_hex(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 2 * n ||
        sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, &end) != 0 ||
        got != n)
        return lc_seterr(LOCUS_EINVAL, "auth",
                         "expected %zu hex digits for a key", 2 * n);
    return 0;
}
