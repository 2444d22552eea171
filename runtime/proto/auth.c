#include "proto/auth.h"

#include <sodium.h>
#include <string.h>

#include "base/base.h"

int auth_init(void)
{
    if (sodium_init() < 0)
        return lc_seterr(LOCUS_ESYS, "auth", "libsodium failed to initialise "
                         "(no entropy source?)");
    return 0;
}

void auth_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

void auth_mac(const uint8_t key[AUTH_KEY_LEN], const char *label,
              const void *a, size_t alen, const void *b, size_t blen,
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
