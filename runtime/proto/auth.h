/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cluster key and peer authentication (private).
 *
 * Every peer proves it knows the 32-byte cluster key by an HMAC-SHA256 over
 * a fresh challenge from the scheduler, and the scheduler proves the same to
 * the peer over the peer's own nonce, before anything else is accepted.
 * libsodium does the cryptography (constant-time compare, a CSPRNG).
 */
#ifndef LC_AUTH_H
#define LC_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN 32
#define AUTH_NONCE_LEN 32
#define AUTH_MAC_LEN 32

int auth_init(void);
void auth_random(void *buf, size_t n);
/* out = HMAC-SHA256(key, label || 0 || a || b) */
void auth_mac(const uint8_t key[AUTH_KEY_LEN], const char *label, const void *a,
              size_t alen, const void *b, size_t blen,
              uint8_t out[AUTH_MAC_LEN]);
/* Constant time; 1 when equal. */
int auth_equal(const uint8_t a[AUTH_MAC_LEN], const uint8_t b[AUTH_MAC_LEN]);
/*
 * Message MACs (16 bytes): Poly1305 under a one-time key that ChaCha20
 * derives from key and the nonce (kind, counter), i.e. the IETF
 * ChaCha20-Poly1305 AEAD with the whole message as associated data and no
 * plaintext.  Chosen over keyed BLAKE2b and HMAC-SHA256 because it is the
 * cheapest per byte and per message (locus-bench --only mac).  A (key,
 * kind, counter) must never cover two different messages: counters are
 * sequence numbers, and a retransmission is the same bytes.
 */
#define AUTH_TAG_LEN 16
void auth_seal(const uint8_t key[AUTH_KEY_LEN], uint32_t kind, uint64_t ctr,
               const void *msg, size_t len, uint8_t tag[AUTH_TAG_LEN]);
/* 1 when tag is the MAC of msg. */
int auth_check(const uint8_t key[AUTH_KEY_LEN], uint32_t kind, uint64_t ctr,
               const void *msg, size_t len, const uint8_t tag[AUTH_TAG_LEN]);

/* Hex encode n bytes into out (2n+1 bytes). */
void auth_to_hex(const uint8_t *in, size_t n, char *out);
/* Decode exactly n bytes from hex; LOCUS_EINVAL if malformed. */
int auth_from_hex(const char *hex, uint8_t *out, size_t n);

#endif
